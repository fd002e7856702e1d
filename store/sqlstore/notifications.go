package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/realtime-go/realtime"
)

var _ realtime.NotificationStore = (*Store)(nil)

// noteRowsPerInsert bounds the rows of one INSERT: 11 parameters each stay
// well under both dialects' limits.
const noteRowsPerInsert = 500

const noteCols = `id, user_id, type, title, body, data, room_id, message_id, key, created_at, read_at`

func scanNote(sc interface{ Scan(...any) error }) (realtime.Notification, error) {
	var (
		n                        realtime.Notification
		data, room, message, key sql.NullString
	)
	err := sc.Scan(&n.ID, &n.UserID, &n.Type, &n.Title, &n.Body, &data, &room, &message, &key,
		timeCol{&n.CreatedAt}, nullTimeCol{&n.ReadAt})
	if err != nil {
		return n, err
	}
	n.RoomID, n.MessageID, n.Key = room.String, message.String, key.String
	if data.Valid {
		n.Data = json.RawMessage(data.String)
	}
	return n, nil
}

// SaveNotifications implements realtime.NotificationStore.
func (s *Store) SaveNotifications(ctx context.Context, ns []realtime.Notification, keep int) ([]realtime.Notification, error) {
	var stored []realtime.Notification
	err := s.tx(ctx, func(q querier) error {
		stored = stored[:0]
		inserted := make(map[string]bool, len(ns))
		for start := 0; start < len(ns); start += noteRowsPerInsert {
			chunk := ns[start:min(start+noteRowsPerInsert, len(ns))]
			var b strings.Builder
			b.WriteString(`INSERT INTO notifications (` + noteCols + `) VALUES `)
			args := make([]any, 0, 11*len(chunk))
			for i, n := range chunk {
				if i > 0 {
					b.WriteByte(',')
				}
				p := len(args)
				fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,NULL)", p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10)
				var data any
				if len(n.Data) > 0 {
					data = string(n.Data)
				}
				args = append(args, n.ID, n.UserID, n.Type, n.Title, n.Body, data, null(n.RoomID), null(n.MessageID), null(n.Key), s.arg(n.CreatedAt))
			}
			// A key a user has already is skipped, not an error.
			b.WriteString(` ON CONFLICT DO NOTHING RETURNING id`)
			rows, err := q.QueryContext(ctx, b.String(), args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				inserted[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		var users []string
		seen := make(map[string]bool)
		for _, n := range ns {
			if !inserted[n.ID] && n.Key == "" {
				// Skipped without a key: its id was stored already (a
				// hub's id is never reused). Say so rather than drop it.
				return realtime.ErrConflict
			}
			if inserted[n.ID] {
				n.CreatedAt = ms(n.CreatedAt)
				if len(n.Data) == 0 {
					n.Data = nil
				}
				stored = append(stored, n)
				if !seen[n.UserID] {
					seen[n.UserID] = true
					users = append(users, n.UserID)
				}
			}
		}
		if keep <= 0 || len(users) == 0 {
			return nil
		}
		in, arg, err := s.inList(users)
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, `DELETE FROM notifications WHERE pos IN (
			SELECT pos FROM (SELECT pos, row_number() OVER (PARTITION BY user_id ORDER BY pos DESC) AS rn
				FROM notifications WHERE user_id `+in+`) ranked
			WHERE rn > $2)`, arg, keep)
		return err
	})
	if err != nil {
		return nil, wrap("save notifications", err)
	}
	return stored, nil
}

// inList returns "IN (...)" for a list of strings and its one argument:
// an array on PostgreSQL, a JSON array on SQLite. It is parameter $1.
func (s *Store) inList(vals []string) (string, any, error) {
	if s.dialect == SQLite {
		b, err := json.Marshal(vals)
		return `IN (SELECT value FROM json_each($1))`, string(b), err
	}
	return `= ANY($1)`, vals, nil
}

// notePos returns the pos of userID's notification id, or ErrNotFound.
func notePos(ctx context.Context, q querier, userID, id string) (int64, error) {
	var pos int64
	err := q.QueryRowContext(ctx, `SELECT pos FROM notifications WHERE id = $1 AND user_id = $2`, id, userID).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, realtime.ErrNotFound
	}
	return pos, err
}

// ListNotifications implements realtime.NotificationStore.
func (s *Store) ListNotifications(ctx context.Context, q realtime.NotificationQuery) ([]realtime.Notification, bool, error) {
	before := int64(1<<63 - 1)
	if q.Before != "" {
		pos, err := notePos(ctx, s.db, q.UserID, q.Before)
		if err != nil {
			return nil, false, wrap("list notifications", err)
		}
		before = pos
	}
	query := `SELECT ` + noteCols + ` FROM notifications WHERE user_id = $1 AND pos < $2`
	if q.UnreadOnly {
		query += ` AND read_at IS NULL`
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY pos DESC LIMIT $3`, q.UserID, before, q.Limit+1)
	if err != nil {
		return nil, false, wrap("list notifications", err)
	}
	defer rows.Close()
	var page []realtime.Notification
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, false, wrap("list notifications", err)
		}
		page = append(page, n)
	}
	if err := rows.Err(); err != nil {
		return nil, false, wrap("list notifications", err)
	}
	more := len(page) > q.Limit
	if more {
		page = page[:q.Limit]
	}
	return page, more, nil
}

// UnreadNotifications implements realtime.NotificationStore.
func (s *Store) UnreadNotifications(ctx context.Context, userID string) (int, error) {
	return unreadNotes(ctx, s.db, userID)
}

func unreadNotes(ctx context.Context, q querier, userID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL`, userID).Scan(&n)
	return n, wrap("count unread notifications", err)
}

// MarkNotificationsRead implements realtime.NotificationStore.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID string, ids []string, upTo string, at time.Time) (int, error) {
	var unread int
	err := s.tx(ctx, func(q querier) error {
		if len(ids) > 0 {
			in, arg, err := s.inList(ids)
			if err != nil {
				return err
			}
			var found int
			if err := q.QueryRowContext(ctx, `SELECT count(DISTINCT id) FROM notifications WHERE id `+in+` AND user_id = $2`, arg, userID).Scan(&found); err != nil {
				return err
			}
			if found != distinct(ids) {
				return realtime.ErrNotFound
			}
			if _, err := q.ExecContext(ctx, `UPDATE notifications SET read_at = $3 WHERE id `+in+` AND user_id = $2 AND read_at IS NULL`,
				arg, userID, s.arg(at)); err != nil {
				return err
			}
		}
		if upTo != "" {
			pos, err := notePos(ctx, q, userID, upTo)
			if err != nil {
				return err
			}
			if _, err := q.ExecContext(ctx, `UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND pos <= $2 AND read_at IS NULL`,
				userID, pos, s.arg(at)); err != nil {
				return err
			}
		}
		var err error
		unread, err = unreadNotes(ctx, q, userID)
		return err
	})
	return unread, wrap("mark notifications read", err)
}

func distinct(ids []string) int {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}

// PruneNotifications implements realtime.NotificationStore.
func (s *Store) PruneNotifications(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `DELETE FROM notifications WHERE created_at < $1`, s.arg(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), wrap("prune notifications", err)
}
