package sqlstore

import (
	"context"
	"encoding/json"
	"time"
)

// SetLastSeen implements realtime.PresenceStore.
func (s *Store) SetLastSeen(ctx context.Context, userID string, t time.Time) error {
	err := s.write(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO user_presence (user_id, last_seen_at) VALUES ($1, $2)
			ON CONFLICT (user_id) DO UPDATE SET last_seen_at = excluded.last_seen_at`, userID, s.arg(t))
		return err
	})
	return wrap("set last seen", err)
}

// LastSeen implements realtime.PresenceStore.
func (s *Store) LastSeen(ctx context.Context, userIDs []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	query := `SELECT user_id, last_seen_at FROM user_presence WHERE user_id = ANY($1) AND last_seen_at IS NOT NULL`
	var arg any = userIDs
	if s.dialect == SQLite {
		query = `SELECT user_id, last_seen_at FROM user_presence
			WHERE user_id IN (SELECT value FROM json_each($1)) AND last_seen_at IS NOT NULL`
		b, err := json.Marshal(userIDs)
		if err != nil {
			return nil, err
		}
		arg = string(b)
	}
	rows, err := s.db.QueryContext(ctx, query, arg)
	if err != nil {
		return nil, wrap("last seen", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			t  time.Time
		)
		if err := rows.Scan(&id, timeCol{&t}); err != nil {
			return nil, wrap("last seen", err)
		}
		out[id] = t
	}
	return out, wrap("last seen", rows.Err())
}
