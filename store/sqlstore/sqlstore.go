// Package sqlstore is a realtime.Store on database/sql, for SQLite and
// PostgreSQL: the shared, persistent Store a cluster of hubs needs.
//
// The caller opens the database with the driver of its choice and hands the
// *sql.DB to New; this package imports no driver. Migrate creates or upgrades
// the schema; call it once at startup, before serving:
//
//	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL")) // github.com/jackc/pgx/v5/stdlib
//	...
//	s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres})
//	...
//	if err := s.Migrate(ctx); err != nil { ... }
//	defer s.Close() // after the hub has shut down
//	hub, err := realtime.New(realtime.Config{Store: s})
//
// # PostgreSQL
//
// Use github.com/jackc/pgx/v5/stdlib (driver name "pgx"), and give the pool
// as many idle connections as open ones (db.SetMaxIdleConns equal to
// db.SetMaxOpenConns): database/sql keeps only 2 idle by default, and a
// busy hub would then open and close server connections all the time,
// which cost it five times its throughput in our benchmark. The tables live in
// the first schema of the connection's search_path; to use another schema
// than public, add search_path=NAME to the URL. Several hubs (several
// *sql.DB, in one process or many) may share one database: sequence numbers,
// idempotency keys and member limits stay exact across them.
//
// # SQLite
//
// Use modernc.org/sqlite (driver name "sqlite", pure Go) with a file, and
// these pragmas on every connection, which its DSN sets:
//
//	file:chat.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)
//
// WAL lets reads run while a write commits; busy_timeout makes a writer wait
// for another process's write instead of failing at once; foreign_keys
// enforces the schema's references. _pragma=synchronous(NORMAL) may be added
// for faster commits at the price of the last transactions on power loss
// (never corruption). The store serializes its own writes (BEGIN IMMEDIATE,
// one writer at a time per Store), so the pool need not be limited to one
// connection; reads use the pool in parallel. An in-memory database
// (":memory:") is one database per connection: it works only with
// db.SetMaxOpenConns(1).
//
// # Schema
//
// Migrate creates the tables rooms, room_members (in join order),
// messages (unique by id, by stream and seq, and by stream, sender and
// clientMsgId), streams (the last seq of each stream), files,
// user_presence and schema_migrations (the versions applied), and on
// PostgreSQL the function realtime_add_member, which adds a member in one
// call (AddMember). Triggers on room_members keep rooms.member_count, each
// room's number of members, so that reading a room's size costs the same at
// 20,000 members as at 2; on PostgreSQL a join and a leave of a room lock
// its row, then the member's. Times are timestamptz on PostgreSQL and
// milliseconds since the Unix epoch on SQLite, always whole milliseconds,
// read back in UTC. Message metadata is kept as given (json on PostgreSQL,
// TEXT on SQLite). A message's Sender is stored as its username beside
// SenderID, and read back as {SenderID, username}.
//
// # Group commit
//
// SaveMessage calls that arrive together are saved by a goroutine of the
// Store in one transaction (at most Options.BatchSize messages), and each
// call returns once that transaction has committed. The Store has
// Options.Committers such goroutines, each saving the messages of its share
// of the streams, side by side. A stream's sequence numbers are given in
// the order its messages reached the store; a message that fails (its room
// is missing, its id is taken) fails alone. SaveMessages
// (realtime.BatchSaver) queues a whole group of messages in its order, so
// that one caller, the hub storing a connection's pipelined sends, has
// those of each stream committed together and numbered in that order.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/realtime-go/realtime"
)

// Dialect is the SQL dialect of a database.
type Dialect int

// The supported dialects.
const (
	// SQLite is SQLite 3.35 or later, as modernc.org/sqlite provides it.
	SQLite Dialect = iota
	// Postgres is PostgreSQL 13 or later, through github.com/jackc/pgx/v5/stdlib.
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// Options configures New.
type Options struct {
	// Dialect is the dialect of the database. Zero: SQLite.
	Dialect Dialect
	// BatchSize is the most messages SaveMessage commits in one transaction.
	// Zero: 256. One turns group commit off (a transaction per message).
	BatchSize int
	// Committers is how many goroutines of the Store save messages, each
	// the messages of its share of the streams (rooms and DM pairs, by a
	// hash of the stream), a batch at a time: on PostgreSQL their
	// transactions run side by side, and a stream's messages are still
	// numbered in the order they were queued. Each committer holds a
	// connection of the pool while it saves. One stream's messages are
	// saved by one committer, so a single busy room gains nothing from
	// more. On SQLite the transactions still take turns, but the work
	// around them overlaps. Zero: 4. One: a single committer, as before
	// this option existed.
	Committers int
}

// ErrClosed is returned by SaveMessage after Close.
var ErrClosed = errors.New("sqlstore: store closed")

// Store is a realtime.Store in a SQL database. It is safe for concurrent use.
// Its methods return realtime.ErrNotFound, ErrConflict, ErrRoomFull and
// ErrLimitExceeded as realtime.Store documents; any other error is a
// database error, wrapped.
type Store struct {
	db      *sql.DB
	dialect Dialect
	batch   int

	// wlock serializes this Store's SQLite write transactions, which
	// would otherwise wait for each other in SQLite's busy handler.
	wlock chan struct{}

	committers []*committer
	seed       maphash.Seed    // of committerOf
	ctx        context.Context // canceled by Close: ends the committers' work
	cancel     context.CancelFunc
	closing    chan struct{} // closed by Close
	once       sync.Once
}

var (
	_ realtime.Store      = (*Store)(nil)
	_ realtime.BatchSaver = (*Store)(nil)
)

// New returns a Store on db, which the caller keeps and closes after the
// Store. It starts the goroutines that commit messages (see Group commit in
// the package documentation), which Close ends. New does not touch the
// database: call Migrate before using the Store.
func New(db *sql.DB, o Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if o.Dialect != SQLite && o.Dialect != Postgres {
		return nil, fmt.Errorf("sqlstore: Options.Dialect: unknown %v", o.Dialect)
	}
	switch {
	case o.BatchSize < 0:
		return nil, fmt.Errorf("sqlstore: Options.BatchSize: %d is negative", o.BatchSize)
	case o.BatchSize == 0:
		o.BatchSize = 256
	}
	switch {
	case o.Committers < 0:
		return nil, fmt.Errorf("sqlstore: Options.Committers: %d is negative", o.Committers)
	case o.Committers == 0:
		o.Committers = 4
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		db:         db,
		dialect:    o.Dialect,
		batch:      o.BatchSize,
		wlock:      make(chan struct{}, 1),
		committers: make([]*committer, o.Committers),
		seed:       maphash.MakeSeed(),
		ctx:        ctx,
		cancel:     cancel,
		closing:    make(chan struct{}),
	}
	for i := range s.committers {
		c := &committer{queue: make(chan *saveReq, o.BatchSize), stopped: make(chan struct{})}
		s.committers[i] = c
		go s.commitLoop(c)
	}
	return s, nil
}

// Ping reports whether the database answers (realtime.Pinger, for
// Hub.Health).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close stops the Store's committer goroutines and waits for them to return.
// SaveMessage calls still waiting fail with ErrClosed or the error of their
// aborted transaction, so close the Store after the hub has shut down. Close
// does not close the *sql.DB given to New. It is idempotent.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.closing)
		s.cancel()
	})
	for _, c := range s.committers {
		<-c.stopped
	}
	return nil
}

// querier is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// tx runs fn in a write transaction and commits it when fn returns nil.
//
// On PostgreSQL it is a READ COMMITTED transaction; fn locks rows itself. On
// SQLite it holds the Store's write lock and begins with BEGIN IMMEDIATE, so
// that fn is the only writer of the database file from start to end, also
// against other processes, and its reads see the latest commit.
func (s *Store) tx(ctx context.Context, fn func(q querier) error) error {
	if s.dialect == SQLite {
		return s.sqliteTx(ctx, fn)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// write runs fn, which makes one statement, as tx does on SQLite and
// directly on the pool on PostgreSQL, where one statement is atomic.
func (s *Store) write(ctx context.Context, fn func(q querier) error) error {
	if s.dialect == SQLite {
		return s.sqliteTx(ctx, fn)
	}
	return fn(s.db)
}

func (s *Store) sqliteTx(ctx context.Context, fn func(q querier) error) error {
	select {
	case s.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wlock }()
	// database/sql's BeginTx would send a plain (deferred) BEGIN, whose
	// first write can fail with SQLITE_BUSY without waiting when another
	// process wrote in between; BEGIN IMMEDIATE takes the write lock first.
	return s.connTx(ctx, "BEGIN IMMEDIATE", fn)
}

// connTx runs fn in a transaction that begin starts on one connection of
// the pool, for transactions that database/sql cannot begin.
func (s *Store) connTx(ctx context.Context, begin string, fn func(q querier) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		// A BEGIN that failed half-way (PostgreSQL: the SET after it)
		// leaves a transaction open.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return err
	}
	// COMMIT and ROLLBACK run even when ctx is done. If one fails, the
	// connection's state is unknown: it is dropped (closing it rolls back).
	end := func(stmt string) error {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), stmt)
		if err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		return err
	}
	if err := fn(conn); err != nil {
		_ = end("ROLLBACK")
		return err
	}
	return end("COMMIT")
}

// sqlState returns the SQLSTATE of a PostgreSQL error (pgconn.PgError has
// the method), or "".
func sqlState(err error) string {
	var e interface{ SQLState() string }
	if errors.As(err, &e) {
		return e.SQLState()
	}
	return ""
}

// wrap prefixes a database error with the operation; realtime errors and
// nil pass unchanged.
func wrap(op string, err error) error {
	var re *realtime.Error
	if err == nil || errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// ms returns t as the store keeps it: UTC, whole milliseconds.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// arg converts a time to its column type: timestamptz on PostgreSQL,
// milliseconds since the epoch on SQLite.
func (s *Store) arg(t time.Time) any {
	if s.dialect == SQLite {
		return t.UnixMilli()
	}
	return ms(t)
}

// timeCol scans a time column of either dialect into t.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*c.t = time.UnixMilli(v).UTC()
	case time.Time:
		*c.t = ms(v)
	default:
		return fmt.Errorf("sqlstore: a time column holds %T", src)
	}
	return nil
}

// nullTimeCol scans a nullable time column into *p, nil for NULL.
type nullTimeCol struct{ p **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.p = nil
		return nil
	}
	t := new(time.Time)
	*c.p = t
	return timeCol{t}.Scan(src)
}

// null returns nil for the zero value, so an empty optional string is
// stored as NULL.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// deref returns *p, or nil for a nil p: the value of an optional update.
func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
