package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/realtime-go/realtime"
)

// roomCols are the columns scanRoom reads. member_count is kept by
// triggers on room_members (migrations postgres/0006 and sqlite/0005).
const roomCols = `r.id, r.name, r.description, r.type, r.max_users, r.is_private, r.created_by_id, r.created_at,
	r.member_count`

func scanRoom(sc interface{ Scan(...any) error }) (realtime.Room, error) {
	var r realtime.Room
	var typ string // kept in the schema; it follows is_private
	err := sc.Scan(&r.ID, &r.Name, &r.Description, &typ, &r.MaxUsers, &r.IsPrivate, &r.CreatedByID,
		timeCol{&r.CreatedAt}, &r.MemberCount)
	return r, err
}

const memberCols = `room_id, user_id, username, role, is_muted, joined_at`

func scanMember(sc interface{ Scan(...any) error }) (realtime.Member, error) {
	var m realtime.Member
	err := sc.Scan(&m.RoomID, &m.UserID, &m.Username, &m.Role, &m.IsMuted, timeCol{&m.JoinedAt})
	return m, err
}

func (s *Store) getRoom(ctx context.Context, q querier, id string) (realtime.Room, error) {
	r, err := scanRoom(q.QueryRowContext(ctx, `SELECT `+roomCols+` FROM rooms r WHERE r.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return realtime.Room{}, realtime.ErrNotFound
	}
	return r, err
}

// lockUser makes concurrent transactions that count userID's rooms wait for
// each other, on PostgreSQL (SQLite has one writer at a time anyway).
func (s *Store) lockUser(ctx context.Context, q querier, userID string) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+lockSpace+`, hashtext('user ' || $1))`, userID)
	return err
}

// checkRoomsPerUser fails with ErrLimitExceeded when userID belongs to
// limits.MaxRoomsPerUser rooms. The caller holds lockUser.
func (s *Store) checkRoomsPerUser(ctx context.Context, q querier, userID string, l realtime.Limits) error {
	if l.MaxRoomsPerUser <= 0 {
		return nil
	}
	if err := s.lockUser(ctx, q, userID); err != nil {
		return err
	}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM room_members WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return err
	}
	if n >= l.MaxRoomsPerUser {
		return errRoomsPerUser(l)
	}
	return nil
}

func errRoomsPerUser(l realtime.Limits) error {
	return realtime.Errorf(realtime.CodeLimitExceeded, "a user may belong to %d rooms", l.MaxRoomsPerUser)
}

func (s *Store) insertMember(ctx context.Context, q querier, m realtime.Member) error {
	_, err := q.ExecContext(ctx, `INSERT INTO room_members (`+memberCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		m.RoomID, m.UserID, m.Username, string(m.Role), m.IsMuted, s.arg(m.JoinedAt))
	return err
}

// CreateRoom implements realtime.RoomStore.
func (s *Store) CreateRoom(ctx context.Context, room realtime.Room, creator realtime.Member, l realtime.Limits) (realtime.Room, error) {
	room.CreatedAt = ms(room.CreatedAt)
	creator.RoomID, creator.JoinedAt = room.ID, ms(creator.JoinedAt)
	err := s.tx(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO rooms (id, name, description, type, max_users, is_private, created_by_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
			room.ID, room.Name, room.Description, roomType(room.IsPrivate), room.MaxUsers, room.IsPrivate, room.CreatedByID, s.arg(room.CreatedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return realtime.ErrConflict
		}
		if creator.UserID == "" { // a room of the host, without members
			return nil
		}
		if err := s.checkRoomsPerUser(ctx, q, creator.UserID, l); err != nil {
			return err
		}
		return s.insertMember(ctx, q, creator)
	})
	if err != nil {
		return realtime.Room{}, wrap("create room", err)
	}
	if creator.UserID != "" {
		room.MemberCount = 1
	}
	return room, nil
}

// GetRoom implements realtime.RoomStore.
func (s *Store) GetRoom(ctx context.Context, id string) (realtime.Room, error) {
	r, err := s.getRoom(ctx, s.db, id)
	return r, wrap("get room", err)
}

// UpdateRoom implements realtime.RoomStore.
func (s *Store) UpdateRoom(ctx context.Context, id string, u realtime.RoomUpdate) (realtime.Room, error) {
	var room realtime.Room
	err := s.tx(ctx, func(q querier) error {
		typ := any(nil)
		if u.IsPrivate != nil {
			typ = roomType(*u.IsPrivate)
		}
		res, err := q.ExecContext(ctx, `UPDATE rooms SET
			name = COALESCE($2, name), description = COALESCE($3, description),
			max_users = COALESCE($4, max_users), is_private = COALESCE($5, is_private),
			type = COALESCE($6, type)
			WHERE id = $1`,
			id, deref(u.Name), deref(u.Description), deref(u.MaxUsers), deref(u.IsPrivate), typ)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return realtime.ErrNotFound
		}
		room, err = s.getRoom(ctx, q, id)
		return err
	})
	if err != nil {
		return realtime.Room{}, wrap("update room", err)
	}
	return room, nil
}

// DeleteRoom implements realtime.RoomStore. It deletes the room row first:
// on PostgreSQL that waits for the message batches that hold it (FOR KEY
// SHARE) and makes later ones find no room.
func (s *Store) DeleteRoom(ctx context.Context, id string) error {
	stream := realtime.RoomStream(id)
	err := s.tx(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM rooms WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return realtime.ErrNotFound
		}
		for _, stmt := range []struct{ sql, arg string }{
			{`DELETE FROM room_members WHERE room_id = $1`, id},
			{`DELETE FROM messages WHERE stream = $1`, stream},
			{`DELETE FROM streams WHERE stream = $1`, stream},
		} {
			if _, err := q.ExecContext(ctx, stmt.sql, stmt.arg); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("delete room", err)
}

// ListRooms implements realtime.RoomStore.
func (s *Store) ListRooms(ctx context.Context, userID string) ([]realtime.Room, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+roomCols+` FROM rooms r
		LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = $1
		WHERE m.user_id IS NOT NULL OR NOT r.is_private
		ORDER BY m.user_id IS NULL, r.pos`, userID)
	if err != nil {
		return nil, wrap("list rooms", err)
	}
	defer rows.Close()
	var out []realtime.Room
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, wrap("list rooms", err)
		}
		out = append(out, r)
	}
	return out, wrap("list rooms", rows.Err())
}

// AddMember implements realtime.MemberStore. The room is locked while its
// size is read (rooms.member_count) and the new member inserted; on
// PostgreSQL that is one call of realtime_add_member (migrations 0005 and
// 0006), so that concurrent joins of a room wait for each other's commit and
// not for round trips too.
func (s *Store) AddMember(ctx context.Context, m realtime.Member, l realtime.Limits) (realtime.Member, bool, error) {
	m.JoinedAt = ms(m.JoinedAt)
	if s.dialect == Postgres {
		return s.addMemberPostgres(ctx, m, l)
	}
	var (
		existing realtime.Member
		created  bool
	)
	// SQLite: the transaction holds the database's write lock.
	err := s.tx(ctx, func(q querier) error {
		var maxUsers, count int
		err := q.QueryRowContext(ctx, `SELECT max_users, member_count FROM rooms WHERE id = $1`, m.RoomID).Scan(&maxUsers, &count)
		if errors.Is(err, sql.ErrNoRows) {
			return realtime.ErrNotFound
		} else if err != nil {
			return err
		}
		// A new member of a room with room, below the user's limit, is
		// one statement; anything else inserts nothing and is told apart
		// below.
		if count < maxUsers {
			res, err := q.ExecContext(ctx, insertMemberBelow, m.RoomID, m.UserID, m.Username, string(m.Role),
				m.IsMuted, s.arg(m.JoinedAt), l.MaxRoomsPerUser)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				created = true
				return nil
			}
		}
		existing, err = getMember(ctx, q, m.RoomID, m.UserID)
		if err == nil {
			return nil
		} else if !errors.Is(err, realtime.ErrNotFound) {
			return err
		}
		if count >= maxUsers {
			return errRoomFull(maxUsers)
		}
		return errRoomsPerUser(l)
	})
	switch {
	case err != nil:
		return realtime.Member{}, false, wrap("add member", err)
	case !created:
		return existing, false, nil
	}
	return m, true, nil
}

// insertMemberBelow inserts the member $1 to $6 (memberCols) if the user
// belongs to fewer than $7 rooms (no limit when $7 <= 0) and is not a member
// already; the caller has seen that the room has room. realtime_add_member
// makes the same insert on PostgreSQL.
const insertMemberBelow = `INSERT INTO room_members (` + memberCols + `)
	SELECT $1, $2, $3, $4, $5, $6
	WHERE $7 <= 0 OR (SELECT count(*) FROM room_members WHERE user_id = $2) < $7
	ON CONFLICT (room_id, user_id) DO NOTHING`

// addMemberPostgres is AddMember on PostgreSQL: one call, one commit.
func (s *Store) addMemberPostgres(ctx context.Context, m realtime.Member, l realtime.Limits) (realtime.Member, bool, error) {
	var (
		outcome        string
		maxUsers       sql.NullInt64
		username, role sql.NullString
		muted          sql.NullBool
		joined         *time.Time
	)
	err := s.db.QueryRowContext(ctx, `SELECT o_outcome, o_max, o_username, o_role, o_muted, o_joined
		FROM realtime_add_member($1, $2, $3, $4, $5, $6, $7)`,
		m.RoomID, m.UserID, m.Username, string(m.Role), m.IsMuted, s.arg(m.JoinedAt), max(l.MaxRoomsPerUser, 0)).
		Scan(&outcome, &maxUsers, &username, &role, &muted, nullTimeCol{&joined})
	switch {
	case err != nil:
	case outcome == "created":
		return m, true, nil
	case outcome == "member" && joined != nil:
		return realtime.Member{RoomID: m.RoomID, UserID: m.UserID, Username: username.String,
			Role: realtime.Role(role.String), IsMuted: muted.Bool, JoinedAt: *joined}, false, nil
	case outcome == "not_found":
		err = realtime.ErrNotFound
	case outcome == "full":
		err = errRoomFull(int(maxUsers.Int64))
	case outcome == "limit":
		err = errRoomsPerUser(l)
	default:
		err = fmt.Errorf("realtime_add_member: unexpected outcome %q", outcome)
	}
	return realtime.Member{}, false, wrap("add member", err)
}

func errRoomFull(maxUsers int) error {
	return realtime.Errorf(realtime.CodeRoomFull, "the room has %d members", maxUsers)
}

// GetMember implements realtime.MemberStore.
func (s *Store) GetMember(ctx context.Context, roomID, userID string) (realtime.Member, error) {
	m, err := getMember(ctx, s.db, roomID, userID)
	return m, wrap("get member", err)
}

// getMember reads the membership (roomID, userID) through q, or fails with
// realtime.ErrNotFound.
func getMember(ctx context.Context, q querier, roomID, userID string) (realtime.Member, error) {
	m, err := scanMember(q.QueryRowContext(ctx, `SELECT `+memberCols+` FROM room_members
		WHERE room_id = $1 AND user_id = $2`, roomID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return realtime.Member{}, realtime.ErrNotFound
	}
	return m, err
}

// UpdateMember implements realtime.MemberStore.
func (s *Store) UpdateMember(ctx context.Context, roomID, userID string, u realtime.MemberUpdate) (realtime.Member, error) {
	var role any
	if u.Role != nil {
		role = string(*u.Role)
	}
	var m realtime.Member
	err := s.write(ctx, func(q querier) error {
		var err error
		m, err = scanMember(q.QueryRowContext(ctx, `UPDATE room_members SET
			role = COALESCE($3, role), is_muted = COALESCE($4, is_muted)
			WHERE room_id = $1 AND user_id = $2
			RETURNING `+memberCols, roomID, userID, role, deref(u.IsMuted)))
		if errors.Is(err, sql.ErrNoRows) {
			return realtime.ErrNotFound
		}
		return err
	})
	if err != nil {
		return realtime.Member{}, wrap("update member", err)
	}
	return m, nil
}

// RemoveMember implements realtime.MemberStore. On PostgreSQL it is one
// statement, which locks the room's row before it deletes the member, as a
// join does (see migration postgres/0006).
func (s *Store) RemoveMember(ctx context.Context, roomID, userID string) (int, error) {
	var removed, remaining int
	var err error
	if s.dialect == Postgres {
		err = s.db.QueryRowContext(ctx, removeMemberPostgres, roomID, userID).Scan(&removed, &remaining)
	} else {
		err = s.tx(ctx, func(q querier) error {
			res, err := q.ExecContext(ctx, `DELETE FROM room_members WHERE room_id = $1 AND user_id = $2`, roomID, userID)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil || n == 0 {
				return err
			}
			removed = int(n)
			return q.QueryRowContext(ctx, `SELECT member_count FROM rooms WHERE id = $1`, roomID).Scan(&remaining)
		})
	}
	if err == nil && removed == 0 {
		err = realtime.ErrNotFound
	}
	if err != nil {
		return 0, wrap("remove member", err)
	}
	return remaining, nil
}

// removeMemberPostgres deletes the member ($1, $2) and returns how many it
// deleted (0 or 1) and the members left. The room's row is locked first
// (the CTE r, which the delete reads), then the member's; the trigger's
// decrement comes after the statement's snapshot, so the count left is
// taken from the locked row.
const removeMemberPostgres = `WITH r AS (SELECT id, member_count FROM rooms WHERE id = $1 FOR NO KEY UPDATE),
	d AS (DELETE FROM room_members m USING r WHERE m.room_id = r.id AND m.user_id = $2 RETURNING 1)
	SELECT (SELECT count(*) FROM d), COALESCE((SELECT member_count FROM r), 0) - (SELECT count(*) FROM d)`

// ListMembers implements realtime.MemberStore.
func (s *Store) ListMembers(ctx context.Context, roomID string) ([]realtime.Member, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+memberCols+` FROM room_members WHERE room_id = $1 ORDER BY pos`, roomID)
	if err != nil {
		return nil, wrap("list members", err)
	}
	defer rows.Close()
	var out []realtime.Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, wrap("list members", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list members", err)
	}
	if len(out) == 0 {
		// A room has its creator as member at least; no row means no room.
		if _, err := s.getRoom(ctx, s.db, roomID); err != nil {
			return nil, wrap("list members", err)
		}
	}
	return out, nil
}

var _ realtime.MemberPager = (*Store)(nil)

// ListMembersAfter implements realtime.MemberPager.
func (s *Store) ListMembersAfter(ctx context.Context, roomID, after string, limit int) ([]realtime.Member, bool, error) {
	limit = max(limit, 0)
	var rows *sql.Rows
	var err error
	if after == "" {
		rows, err = s.db.QueryContext(ctx, `SELECT `+memberCols+` FROM room_members WHERE room_id = $1 ORDER BY pos LIMIT $2`, roomID, limit+1)
	} else {
		rows, err = s.db.QueryContext(ctx, `SELECT `+memberCols+` FROM room_members
			WHERE room_id = $1 AND pos > (SELECT pos FROM room_members WHERE room_id = $1 AND user_id = $2)
			ORDER BY pos LIMIT $3`, roomID, after, limit+1)
	}
	if err != nil {
		return nil, false, wrap("list members", err)
	}
	defer rows.Close()
	out := []realtime.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, false, wrap("list members", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, false, wrap("list members", err)
	}
	if len(out) == 0 {
		// An empty page: the room may not exist, or after may be no member.
		if _, err := s.getRoom(ctx, s.db, roomID); err != nil {
			return nil, false, wrap("list members", err)
		}
		if after != "" {
			if _, err := s.GetMember(ctx, roomID, after); err != nil {
				return nil, false, err
			}
		}
	}
	more := len(out) > limit
	return out[:min(len(out), limit)], more, nil
}

// MemberRooms implements realtime.MemberStore.
func (s *Store) MemberRooms(ctx context.Context, userID string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT room_id FROM room_members WHERE user_id = $1`, userID)
	if err != nil {
		return nil, wrap("member rooms", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap("member rooms", err)
		}
		out = append(out, id)
	}
	return out, wrap("member rooms", rows.Err())
}

// roomType is the rooms.type column, which follows is_private: the schema
// keeps it for readers of the database.
func roomType(private bool) string {
	if private {
		return "private"
	}
	return "public"
}
