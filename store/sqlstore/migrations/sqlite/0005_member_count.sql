-- rooms.member_count is the number of the room's members, kept by triggers
-- on room_members, so that a room's size is read from its row: counting the
-- members made every join of a room of n members read n index entries four
-- times, and filling a room cost O(n²). The triggers run for every insert,
-- delete and move of a member, whoever makes it (DELETE FROM room_members
-- without WHERE included: SQLite's truncate optimization is off for a table
-- with triggers).
ALTER TABLE rooms ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER room_members_join AFTER INSERT ON room_members
BEGIN
    UPDATE rooms SET member_count = member_count + 1 WHERE id = NEW.room_id;
END;

CREATE TRIGGER room_members_leave AFTER DELETE ON room_members
BEGIN
    UPDATE rooms SET member_count = member_count - 1 WHERE id = OLD.room_id;
END;

CREATE TRIGGER room_members_move AFTER UPDATE OF room_id ON room_members
WHEN NEW.room_id IS NOT OLD.room_id
BEGIN
    UPDATE rooms SET member_count = member_count - 1 WHERE id = OLD.room_id;
    UPDATE rooms SET member_count = member_count + 1 WHERE id = NEW.room_id;
END;

-- Migrate holds the write lock until this migration commits: no member
-- comes or goes between the triggers' creation and this count.
UPDATE rooms SET member_count = (SELECT count(*) FROM room_members m WHERE m.room_id = rooms.id)
WHERE EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = rooms.id);
