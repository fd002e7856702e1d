-- realtime_add_member adds a member in one call, so that the room's row
-- stays locked for one round trip and a commit rather than for one round
-- trip per statement: joins of one room wait for each other on that lock,
-- and a busy hub filled a room of 5,000 at a few hundred joins a second.
-- It does what AddMember did in a transaction of several statements: lock
-- the room (FOR NO KEY UPDATE, which message batches holding FOR KEY SHARE
-- do not wait for) and, under a limit of rooms per user, the user (the
-- advisory lock of lockUser); then insert the member if the room has room
-- and the user is below the limit. Each statement of a volatile function
-- reads with a new snapshot, so the counts taken after the locks see every
-- join committed before them.
--
-- o_outcome: 'created'; 'member' (already one; the o_ columns hold the
-- membership); 'not_found' (no such room); 'full' (o_max members); or
-- 'limit' (the user belongs to p_max_rooms rooms).
CREATE FUNCTION realtime_add_member(
    p_room text, p_user text, p_username text, p_role text, p_muted boolean,
    p_joined timestamptz, p_max_rooms integer,
    OUT o_outcome text, OUT o_max integer, OUT o_username text, OUT o_role text,
    OUT o_muted boolean, OUT o_joined timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.max_users INTO o_max FROM rooms r WHERE r.id = p_room FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        o_outcome := 'not_found';
        RETURN;
    END IF;
    IF p_max_rooms > 0 THEN
        PERFORM pg_advisory_xact_lock(74657, hashtext('user ' || p_user));
    END IF;
    -- Insert the member if the room has room and the user is below the
    -- limit; if nothing is inserted, say why. A member who leaves (which
    -- takes no lock of the room) may make room between the insert and the
    -- reads after it: then try again. It ends: while the locks are held no
    -- one else joins the room, nor, under a limit, another room as this
    -- user, so the counts only fall.
    LOOP
        INSERT INTO room_members (room_id, user_id, username, role, is_muted, joined_at)
        SELECT p_room, p_user, p_username, p_role, p_muted, p_joined
        WHERE (SELECT count(*) FROM room_members m WHERE m.room_id = p_room) < o_max
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
        IF (SELECT count(*) FROM room_members m WHERE m.room_id = p_room) >= o_max THEN
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
