package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/realtime-go/realtime"
)

// defaultLimit is the page size of a query without Limit, as the hub's.
const defaultLimit = 50

const messageCols = `id, seq, room_id, recipient_id, sender_id, sender_name, content, type, reply_to_id,
	metadata, client_msg_id, created_at, edited_at, deleted_at`

// scanMessage reads the columns of messageCols. Sender is rebuilt from
// sender_id and sender_name.
func scanMessage(sc interface{ Scan(...any) error }) (realtime.Message, error) {
	var (
		m                                         realtime.Message
		seq                                       int64
		room, recipient, replyTo, md, clientMsgID sql.NullString
	)
	err := sc.Scan(&m.ID, &seq, &room, &recipient, &m.SenderID, &m.Sender.Username, &m.Content, &m.Type, &replyTo,
		&md, &clientMsgID, timeCol{&m.CreatedAt}, nullTimeCol{&m.EditedAt}, nullTimeCol{&m.DeletedAt})
	if err != nil {
		return realtime.Message{}, err
	}
	m.Seq = uint64(seq)
	m.Sender.ID = m.SenderID
	m.RoomID, m.RecipientID, m.ReplyToID, m.ClientMsgID = room.String, recipient.String, replyTo.String, clientMsgID.String
	if md.Valid {
		m.Metadata = json.RawMessage(md.String)
	}
	return m, nil
}

// normalize returns m as it reads back from the store.
func normalize(m realtime.Message) realtime.Message {
	m.Sender.ID = m.SenderID
	m.CreatedAt = ms(m.CreatedAt)
	if len(m.Metadata) == 0 {
		m.Metadata = nil
	}
	return m
}

func queryMessages(ctx context.Context, q querier, query string, args ...any) ([]realtime.Message, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []realtime.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// GetMessage implements realtime.MessageStore.
func (s *Store) GetMessage(ctx context.Context, id string) (realtime.Message, error) {
	m, err := scanMessage(s.db.QueryRowContext(ctx, `SELECT `+messageCols+` FROM messages WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return realtime.Message{}, realtime.ErrNotFound
	}
	return m, wrap("get message", err)
}

// EditMessage implements realtime.MessageStore.
func (s *Store) EditMessage(ctx context.Context, id, content string, editedAt time.Time) (realtime.Message, error) {
	return s.updateMessage(ctx, "edit message", `UPDATE messages SET content = $2, edited_at = $3
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+messageCols, id, content, s.arg(editedAt))
}

// DeleteMessage implements realtime.MessageStore.
func (s *Store) DeleteMessage(ctx context.Context, id string, deletedAt time.Time) (realtime.Message, error) {
	return s.updateMessage(ctx, "delete message", `UPDATE messages SET content = '', metadata = NULL, deleted_at = $2
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+messageCols, id, s.arg(deletedAt))
}

func (s *Store) updateMessage(ctx context.Context, op, query string, args ...any) (realtime.Message, error) {
	var m realtime.Message
	err := s.write(ctx, func(q querier) error {
		var err error
		m, err = scanMessage(q.QueryRowContext(ctx, query, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return realtime.ErrNotFound
		}
		return err
	})
	if err != nil {
		return realtime.Message{}, wrap(op, err)
	}
	return m, nil
}

// History implements realtime.MessageStore. A page is one indexed range
// read of (stream, seq); the cursor is looked up in the same statement and
// again, alone, only when the page is empty.
func (s *Store) History(ctx context.Context, q realtime.HistoryQuery) ([]realtime.Message, bool, error) {
	if q.Limit <= 0 {
		q.Limit = defaultLimit
	}
	// The cursor is found by id alone and its stream compared after: a
	// condition on stream could lead a plan cached while the table was
	// small to scan the (stream, seq) index instead of the primary key.
	const cursor = `(SELECT CASE WHEN c.stream = $1 THEN c.seq END FROM messages c WHERE c.id = $3)`
	var (
		query string
		args  = []any{q.Stream, q.Limit + 1}
		id    string
		desc  = true
	)
	switch {
	case q.Before != "":
		query = `SELECT ` + messageCols + ` FROM messages WHERE stream = $1 AND seq < ` + cursor + ` ORDER BY seq DESC LIMIT $2`
		id = q.Before
	case q.After != "":
		query = `SELECT ` + messageCols + ` FROM messages WHERE stream = $1 AND seq > ` + cursor + ` ORDER BY seq LIMIT $2`
		id, desc = q.After, false
	case q.AfterSeq > 0:
		query = `SELECT ` + messageCols + ` FROM messages WHERE stream = $1 AND seq > $3 ORDER BY seq LIMIT $2`
		args, desc = append(args, int64(q.AfterSeq)), false
	default:
		query = `SELECT ` + messageCols + ` FROM messages WHERE stream = $1 ORDER BY seq DESC LIMIT $2`
	}
	if id != "" {
		args = append(args, id)
	}
	msgs, err := queryMessages(ctx, s.db, query, args...)
	if err != nil {
		return nil, false, wrap("history", err)
	}
	if len(msgs) == 0 && id != "" {
		var stream string
		err := s.db.QueryRowContext(ctx, `SELECT stream FROM messages WHERE id = $1`, id).Scan(&stream)
		if errors.Is(err, sql.ErrNoRows) || err == nil && stream != q.Stream {
			return nil, false, realtime.ErrNotFound
		} else if err != nil {
			return nil, false, wrap("history", err)
		}
	}
	more := len(msgs) > q.Limit
	if more {
		msgs = msgs[:q.Limit]
	}
	if desc {
		slices.Reverse(msgs)
	}
	return msgs, more, nil
}

// Thread implements realtime.MessageStore. Replies are read from the
// parent's stream, where seq orders them.
func (s *Store) Thread(ctx context.Context, q realtime.ThreadQuery) ([]realtime.Message, bool, error) {
	if q.Limit <= 0 {
		q.Limit = defaultLimit
	}
	var stream string
	err := s.db.QueryRowContext(ctx, `SELECT stream FROM messages WHERE id = $1`, q.ParentID).Scan(&stream)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, realtime.ErrNotFound
	} else if err != nil {
		return nil, false, wrap("thread", err)
	}
	var after int64
	if q.After != "" {
		var parent sql.NullString
		err := s.db.QueryRowContext(ctx, `SELECT seq, reply_to_id FROM messages WHERE id = $1`, q.After).Scan(&after, &parent)
		if errors.Is(err, sql.ErrNoRows) || err == nil && parent.String != q.ParentID {
			return nil, false, realtime.ErrNotFound
		} else if err != nil {
			return nil, false, wrap("thread", err)
		}
	}
	msgs, err := queryMessages(ctx, s.db, `SELECT `+messageCols+` FROM messages
		WHERE reply_to_id = $1 AND stream = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
		q.ParentID, stream, after, q.Limit+1)
	if err != nil {
		return nil, false, wrap("thread", err)
	}
	more := len(msgs) > q.Limit
	if more {
		msgs = msgs[:q.Limit]
	}
	return msgs, more, nil
}

// SaveFile implements realtime.FileStore.
func (s *Store) SaveFile(ctx context.Context, f realtime.File) error {
	err := s.write(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, `INSERT INTO files (id, room_id, uploader_id, name, content_type, size, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			f.ID, f.RoomID, f.UploaderID, f.Name, f.ContentType, f.Size, s.arg(f.CreatedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return realtime.ErrConflict
		}
		return nil
	})
	return wrap("save file", err)
}

// GetFile implements realtime.FileStore.
func (s *Store) GetFile(ctx context.Context, id string) (realtime.File, error) {
	var f realtime.File
	err := s.db.QueryRowContext(ctx, `SELECT id, room_id, uploader_id, name, content_type, size, created_at
		FROM files WHERE id = $1`, id).Scan(&f.ID, &f.RoomID, &f.UploaderID, &f.Name, &f.ContentType, &f.Size, timeCol{&f.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return realtime.File{}, realtime.ErrNotFound
	}
	return f, wrap("get file", err)
}
