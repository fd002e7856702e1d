package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/realtime-go/realtime"
)

// batchOps are the steps of trySaveBatch, in a transaction, for one dialect.
type batchOps interface {
	// lockRooms returns which of the rooms of pairs exist, keeping them from
	// being deleted until the transaction ends, and which of pairs name a
	// member of the room who is not muted.
	lockRooms(ctx context.Context, pairs []roomUser) (rooms map[string]bool, senders map[roomUser]bool, err error)
	// find returns the stored messages that have the id or the clientKey
	// of one of reqs.
	find(ctx context.Context, reqs []*saveReq) ([]realtime.Message, error)
	// save adds counts[stream] to the last_seq of each of streams (sorted),
	// creating it from 0, and inserts msgs (normalized), msgs[i] with the
	// seq last_seq-back[i] of its stream, of[i]. It returns the new
	// last_seqs.
	save(ctx context.Context, msgs []realtime.Message, of []string, back []int64, streams []string, counts map[string]int64) (map[string]int64, error)
	close()
}

func (s *Store) batchOps(q querier) batchOps {
	if s.dialect == Postgres {
		return pgBatch{q}
	}
	return &sqliteBatch{s: s, q: q}
}

const insertCols = `id, stream, seq, room_id, recipient_id, sender_id, sender_name, content, type, reply_to_id,
	metadata, client_msg_id, created_at`

// pgBatch does each step in one statement, with arrays.
type pgBatch struct{ q querier }

// roomUser is a room message's room and sender.
type roomUser struct{ room, user string }

func (b pgBatch) lockRooms(ctx context.Context, pairs []roomUser) (map[string]bool, map[roomUser]bool, error) {
	rooms, senders := make(map[string]bool), make(map[roomUser]bool, len(pairs))
	if len(pairs) == 0 {
		return rooms, senders, nil
	}
	roomIDs, userIDs := make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		roomIDs[i], userIDs[i] = p.room, p.user
	}
	// One row per room that exists, or per (room, sender) pair allowed.
	rows, err := b.q.QueryContext(ctx, `SELECT r.id, m.user_id FROM rooms r
		LEFT JOIN unnest($1::text[], $2::text[]) AS k (room_id, user_id) ON k.room_id = r.id
		LEFT JOIN room_members m ON m.room_id = k.room_id AND m.user_id = k.user_id AND NOT m.is_muted
		WHERE r.id = ANY($1)
		FOR KEY SHARE OF r`, texts(roomIDs), texts(userIDs))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var room string
		var user sql.NullString
		if err := rows.Scan(&room, &user); err != nil {
			return nil, nil, err
		}
		rooms[room] = true
		if user.Valid {
			senders[roomUser{room, user.String}] = true
		}
	}
	return rooms, senders, rows.Err()
}

func (b pgBatch) find(ctx context.Context, reqs []*saveReq) ([]realtime.Message, error) {
	ids := make([]string, len(reqs))
	var streams, senders, clientIDs []string
	for i, r := range reqs {
		ids[i] = r.m.ID
		if r.m.ClientMsgID != "" {
			streams = append(streams, r.stream)
			senders = append(senders, r.m.SenderID)
			clientIDs = append(clientIDs, r.m.ClientMsgID)
		}
	}
	return queryMessages(ctx, b.q, `SELECT `+messageCols+` FROM messages WHERE id = ANY($1)
		UNION ALL
		SELECT `+prefixed("m.", messageCols)+` FROM messages m
		JOIN unnest($2::text[], $3::text[], $4::text[]) AS k (stream, sender_id, client_msg_id)
		ON m.stream = k.stream AND m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id`,
		ids, streams, senders, clientIDs)
}

func (b pgBatch) save(ctx context.Context, msgs []realtime.Message, of []string, back []int64, streams []string, counts map[string]int64) (map[string]int64, error) {
	n := make([]int64, len(streams))
	for i, st := range streams {
		n[i] = counts[st]
	}
	// The columns point into msgs.
	var (
		l                                      = len(msgs)
		ids, rooms, recipients, senders, names = make(textArray, l), make(textArray, l), make(textArray, l), make(textArray, l), make(textArray, l)
		contents, types, replies, clientIDs    = make(textArray, l), make(textArray, l), make(textArray, l), make(textArray, l)
		metadata                               = make([]*string, l)
		created                                = make(timeArray, l)
	)
	for i := range msgs {
		m := &msgs[i]
		ids[i], rooms[i], recipients[i] = (*textRef)(&m.ID), (*textRef)(&m.RoomID), (*textRef)(&m.RecipientID)
		senders[i], names[i], contents[i] = (*textRef)(&m.SenderID), (*textRef)(&m.Sender.Username), (*textRef)(&m.Content)
		types[i], replies[i], clientIDs[i] = (*textRef)(&m.Type), (*textRef)(&m.ReplyToID), (*textRef)(&m.ClientMsgID)
		if m.Metadata != nil {
			md := string(m.Metadata)
			metadata[i] = &md
		}
		created[i] = (*timeRef)(&m.CreatedAt)
	}
	// One statement: the bump, then the insert that reads its result.
	rows, err := b.q.QueryContext(ctx, `WITH bumped AS (
			INSERT INTO streams AS s (stream, last_seq)
			SELECT * FROM unnest($1::text[], $2::bigint[])
			ON CONFLICT (stream) DO UPDATE SET last_seq = s.last_seq + excluded.last_seq
			RETURNING stream, last_seq
		), inserted AS (
			INSERT INTO messages (`+insertCols+`)
			SELECT t.id, t.stream, b.last_seq - t.back, NULLIF(t.room_id, ''), NULLIF(t.recipient_id, ''), t.sender_id,
				t.sender_name, t.content, t.type, NULLIF(t.reply_to_id, ''), t.metadata::json, NULLIF(t.client_msg_id, ''),
				t.created_at
			FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],
				$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::timestamptz[])
				AS t (id, stream, back, room_id, recipient_id, sender_id, sender_name, content, type, reply_to_id,
					metadata, client_msg_id, created_at)
			JOIN bumped b ON b.stream = t.stream
		)
		SELECT stream, last_seq FROM bumped`,
		texts(streams), n, ids, texts(of), back, rooms, recipients, senders, names, contents, types, replies, metadata,
		clientIDs, created)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	last := make(map[string]int64, len(streams))
	for rows.Next() {
		var st string
		var seq int64
		if err := rows.Scan(&st, &seq); err != nil {
			return nil, err
		}
		last[st] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(last) != len(streams) {
		return nil, fmt.Errorf("bumped %d of %d streams", len(last), len(streams))
	}
	return last, nil
}

func (pgBatch) close() {}

// textArray and timeArray are text[] and timestamptz[] arguments that
// pgx encodes through pointers to their elements (textRef, timeRef, which
// it encodes as text and timestamptz), without boxing each element in an
// interface as it does for a []string or []time.Time: an allocation per
// element of every array. They point into the values they were made from.
// Where pgx does not learn the parameters' types from the server (the
// exec and simple protocol query modes, as behind PgBouncer), it encodes
// them through Value, as the plain slices; TestQueryExecModes runs the
// store in each mode.
type (
	textArray []*textRef
	timeArray []*timeRef
	textRef   string
	timeRef   time.Time
)

// texts returns s as a textArray.
func texts(s []string) textArray {
	out := make(textArray, len(s))
	for i := range s {
		out[i] = (*textRef)(&s[i])
	}
	return out
}

// TextValue implements pgtype.TextValuer.
func (t *textRef) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: string(*t), Valid: true}, nil
}

// TimestamptzValue implements pgtype.TimestamptzValuer.
func (t *timeRef) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: time.Time(*t), Valid: true}, nil
}

// Dimensions, Index and IndexType implement pgtype.ArrayGetter, which pgx
// prefers to Value where it knows the parameter's type.
func (a textArray) Dimensions() []pgtype.ArrayDimension { return dimensions(len(a)) }
func (a textArray) Index(i int) any                     { return a[i] }
func (a textArray) IndexType() any                      { return new(textRef) }
func (a timeArray) Dimensions() []pgtype.ArrayDimension { return dimensions(len(a)) }
func (a timeArray) Index(i int) any                     { return a[i] }
func (a timeArray) IndexType() any                      { return new(timeRef) }

// dimensions returns the dimensions of a flat array of n elements.
func dimensions(n int) []pgtype.ArrayDimension {
	return []pgtype.ArrayDimension{{Length: int32(n), LowerBound: 1}}
}

// Value implements driver.Valuer: a []string.
func (a textArray) Value() (driver.Value, error) {
	out := make([]string, len(a))
	for i, t := range a {
		out[i] = string(*t)
	}
	return out, nil
}

// Value implements driver.Valuer: a []time.Time.
func (a timeArray) Value() (driver.Value, error) {
	out := make([]time.Time, len(a))
	for i, t := range a {
		out[i] = time.Time(*t)
	}
	return out, nil
}

// prefixed qualifies each column of a messageCols-like list with p.
func prefixed(p, cols string) string {
	fields := strings.Split(cols, ",")
	for i, f := range fields {
		fields[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

// sqliteBatch does each step a statement per message or stream: SQLite runs
// in this process, where a statement costs microseconds, and BEGIN
// IMMEDIATE keeps every other writer out, so nothing needs locking.
type sqliteBatch struct {
	s     *Store
	q     querier
	stmts []*sql.Stmt
}

func (b *sqliteBatch) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := b.q.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	b.stmts = append(b.stmts, st)
	return st, nil
}

func (b *sqliteBatch) close() {
	for _, st := range b.stmts {
		_ = st.Close()
	}
}

func (b *sqliteBatch) lockRooms(ctx context.Context, pairs []roomUser) (map[string]bool, map[roomUser]bool, error) {
	rooms, senders := make(map[string]bool), make(map[roomUser]bool, len(pairs))
	if len(pairs) == 0 {
		return rooms, senders, nil
	}
	room, err := b.prepare(ctx, `SELECT count(*) FROM rooms WHERE id = $1`)
	if err != nil {
		return nil, nil, err
	}
	member, err := b.prepare(ctx, `SELECT count(*) FROM room_members WHERE room_id = $1 AND user_id = $2 AND NOT is_muted`)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pairs {
		found, seen := rooms[p.room]
		if !seen {
			var n int
			if err := room.QueryRowContext(ctx, p.room).Scan(&n); err != nil {
				return nil, nil, err
			}
			found = n > 0
			rooms[p.room] = found
		}
		if !found {
			continue
		}
		var n int
		if err := member.QueryRowContext(ctx, p.room, p.user).Scan(&n); err != nil {
			return nil, nil, err
		}
		senders[p] = n > 0
	}
	return rooms, senders, nil
}

func (b *sqliteBatch) find(ctx context.Context, reqs []*saveReq) ([]realtime.Message, error) {
	byID, err := b.prepare(ctx, `SELECT `+messageCols+` FROM messages WHERE id = $1`)
	if err != nil {
		return nil, err
	}
	byKey, err := b.prepare(ctx, `SELECT `+messageCols+` FROM messages
		WHERE stream = $1 AND sender_id = $2 AND client_msg_id = $3`)
	if err != nil {
		return nil, err
	}
	var out []realtime.Message
	add := func(rows *sql.Rows, err error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	}
	for _, r := range reqs {
		if err := add(byID.QueryContext(ctx, r.m.ID)); err != nil {
			return nil, err
		}
		if r.m.ClientMsgID != "" {
			if err := add(byKey.QueryContext(ctx, r.stream, r.m.SenderID, r.m.ClientMsgID)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (b *sqliteBatch) save(ctx context.Context, msgs []realtime.Message, of []string, back []int64, streams []string, counts map[string]int64) (map[string]int64, error) {
	bump, err := b.prepare(ctx, `INSERT INTO streams (stream, last_seq) VALUES ($1, $2)
		ON CONFLICT (stream) DO UPDATE SET last_seq = last_seq + excluded.last_seq
		RETURNING last_seq`)
	if err != nil {
		return nil, err
	}
	last := make(map[string]int64, len(streams))
	for _, stream := range streams {
		var seq int64
		if err := bump.QueryRowContext(ctx, stream, counts[stream]).Scan(&seq); err != nil {
			return nil, err
		}
		last[stream] = seq
	}
	insert, err := b.prepare(ctx, `INSERT INTO messages (`+insertCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`)
	if err != nil {
		return nil, err
	}
	for i, m := range msgs {
		var md any
		if m.Metadata != nil {
			md = string(m.Metadata)
		}
		if _, err := insert.ExecContext(ctx, m.ID, of[i], last[of[i]]-back[i], null(m.RoomID), null(m.RecipientID),
			m.SenderID, m.Sender.Username, m.Content, string(m.Type), null(m.ReplyToID), md, null(m.ClientMsgID),
			m.CreatedAt.UnixMilli()); err != nil {
			return nil, err
		}
	}
	return last, nil
}
