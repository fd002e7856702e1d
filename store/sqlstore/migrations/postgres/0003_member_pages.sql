-- Pages of a room's members in join order (realtime.MemberPager): a join
-- reads one page, not the whole room.
CREATE INDEX room_members_pos ON room_members (room_id, pos);
