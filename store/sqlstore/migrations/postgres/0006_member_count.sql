-- rooms.member_count is the number of the room's members, kept by a trigger
-- on room_members, so that a room's size is read from its row. Counting the
-- members made every join of a room of n members read n index entries four
-- times (AddMember's check and the hub's three GetRooms), and filling a
-- room cost O(n²).
--
-- The trigger runs after every insert, delete and move of a member, by
-- whoever makes it (this store, an older one during a rolling upgrade, an
-- operator's SQL, from any search_path), and updates the room's row. TRUNCATE
-- fires no row trigger: empty room_members with DELETE. A join holds the
-- room's row locked already (realtime_add_member); RemoveMember locks it
-- before it deletes. So a join and a leave of one room take their locks in
-- the same order: a join that must wait to insert a member whose removal is
-- not committed would otherwise wait for a leave that waits for the room, a
-- deadlock that PostgreSQL ends by failing one of them. An older store's
-- RemoveMember deletes first: while such hubs still run beside this
-- migration, a leave and a join of the same user and room at the same
-- moment may fail that way (the counts stay exact).
--
-- This migration holds rooms locked (ALTER TABLE: no reads either) until
-- it commits, which takes one pass over room_members.
ALTER TABLE rooms ADD COLUMN member_count integer NOT NULL DEFAULT 0;

CREATE FUNCTION realtime_count_members() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE rooms SET member_count = member_count - 1 WHERE id = OLD.room_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE rooms SET member_count = member_count + 1 WHERE id = NEW.room_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER room_members_count
    AFTER INSERT OR DELETE ON room_members
    FOR EACH ROW EXECUTE FUNCTION realtime_count_members();
CREATE TRIGGER room_members_move
    AFTER UPDATE OF room_id ON room_members
    FOR EACH ROW WHEN (NEW.room_id IS DISTINCT FROM OLD.room_id)
    EXECUTE FUNCTION realtime_count_members();

-- Creating the triggers locked room_members against writes until this
-- migration commits: no member comes or goes between then and this count.
UPDATE rooms r SET member_count = c.n
    FROM (SELECT room_id, count(*) AS n FROM room_members GROUP BY room_id) c
    WHERE c.room_id = r.id;

-- realtime_add_member (migration 0005) as before, with the room's size read
-- from its locked row: no member of the room comes or goes while the lock
-- is held, since the trigger must update that row.
CREATE OR REPLACE FUNCTION realtime_add_member(
    p_room text, p_user text, p_username text, p_role text, p_muted boolean,
    p_joined timestamptz, p_max_rooms integer,
    OUT o_outcome text, OUT o_max integer, OUT o_username text, OUT o_role text,
    OUT o_muted boolean, OUT o_joined timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_count integer;
BEGIN
    SELECT r.max_users, r.member_count INTO o_max, v_count FROM rooms r WHERE r.id = p_room FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        o_outcome := 'not_found';
        RETURN;
    END IF;
    IF p_max_rooms > 0 THEN
        PERFORM pg_advisory_xact_lock(74657, hashtext('user ' || p_user));
    END IF;
    -- Insert the member if the room has room and the user is below the
    -- limit; if nothing is inserted, say why. The user may leave another
    -- room (which takes no lock of this user) between the insert and the
    -- reads after it: then try again. It ends: while the locks are held the
    -- user joins no other room, so the user's count only falls.
    LOOP
        INSERT INTO room_members (room_id, user_id, username, role, is_muted, joined_at)
        SELECT p_room, p_user, p_username, p_role, p_muted, p_joined
        WHERE v_count < o_max
          AND (p_max_rooms <= 0 OR (SELECT count(*) FROM room_members m WHERE m.user_id = p_user) < p_max_rooms)
        ON CONFLICT (room_id, user_id) DO NOTHING;
        IF FOUND THEN
            o_outcome := 'created';
            RETURN;
        END IF;
        SELECT m.username, m.role, m.is_muted, m.joined_at INTO o_username, o_role, o_muted, o_joined
        FROM room_members m WHERE m.room_id = p_room AND m.user_id = p_user;
        IF FOUND THEN
            o_outcome := 'member';
            RETURN;
        END IF;
        IF v_count >= o_max THEN
            o_outcome := 'full';
            RETURN;
        END IF;
        IF p_max_rooms > 0 AND (SELECT count(*) FROM room_members m WHERE m.user_id = p_user) >= p_max_rooms THEN
            o_outcome := 'limit';
            RETURN;
        END IF;
    END LOOP;
END
$$;
