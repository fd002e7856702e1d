package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/sqlstore"
	"github.com/realtime-go/realtime/store/storetest"
)

func TestStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		storetest.Run(t, func(t *testing.T) realtime.Store { return newTestStore(t, d) })
		storetest.RunNotifications(t, func(t *testing.T) realtime.Store { return newTestStore(t, d) })
		storetest.RunMemberPages(t, func(t *testing.T) realtime.Store { return newTestStore(t, d) })
	})
}

// TestStoreNoGroupCommit runs the message part of the suite with a
// transaction per message.
func TestStoreNoGroupCommit(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		storetest.Run(t, func(t *testing.T) realtime.Store {
			return newStore(t, d, openDB(t, d, newDSN(t, d)), sqlstore.Options{BatchSize: 1})
		})
	})
}

// TestQueryExecModes runs the suite on PostgreSQL in the query modes of
// pgx that do not ask the server for parameter types, as behind PgBouncer
// in transaction mode: the store's array arguments must encode without
// them.
func TestQueryExecModes(t *testing.T) {
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) realtime.Store {
				dsn := newDSN(t, sqlstore.Postgres) + "&default_query_exec_mode=" + mode
				return newStore(t, sqlstore.Postgres, openDB(t, sqlstore.Postgres, dsn), sqlstore.Options{})
			})
		})
	}
}

func TestNew(t *testing.T) {
	_, err := sqlstore.New(nil, sqlstore.Options{})
	require.ErrorContains(t, err, "nil *sql.DB")
	db, err := sql.Open("sqlite", testenv.SQLiteDSN(filepath.Join(t.TempDir(), "x.db")))
	require.NoError(t, err)
	defer db.Close()
	_, err = sqlstore.New(db, sqlstore.Options{Dialect: 7})
	require.ErrorContains(t, err, "Options.Dialect")
	_, err = sqlstore.New(db, sqlstore.Options{BatchSize: -1})
	require.ErrorContains(t, err, "Options.BatchSize")
}

func TestMigrate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		ctx := t.Context()
		db := openDB(t, d, newDSN(t, d))
		s := newStore(t, d, db, sqlstore.Options{})
		room := createRoom(t, s, "alice")
		var before []int64
		rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
		require.NoError(t, err)
		for rows.Next() {
			var v int64
			require.NoError(t, rows.Scan(&v))
			before = append(before, v)
		}
		require.NoError(t, rows.Err())
		require.NotEmpty(t, before)

		// Again, and from another Store: nothing changes.
		require.NoError(t, s.Migrate(ctx))
		require.NoError(t, newStore(t, d, db, sqlstore.Options{}).Migrate(ctx))
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n))
		require.Equal(t, len(before), n)
		_, err = s.GetRoom(ctx, room.ID)
		require.NoError(t, err, "Migrate lost data")
	})
}

// TestMigrateConcurrent migrates one new database from several pools (as
// several processes starting at once would) at the same time.
func TestMigrateConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		dsn := newDSN(t, d)
		const n = 4
		stores := make([]*sqlstore.Store, n)
		for i := range stores {
			s, err := sqlstore.New(openDB(t, d, dsn), sqlstore.Options{Dialect: d})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "Migrate %d", i)
		}
		createRoom(t, stores[0], "alice")
	})
}

// TestTwoHubs has two pools (two hubs) on one database, each with writers
// into one room: seqs are 1..N, a clientMsgId retried on both hubs is
// stored once, and a room's MaxUsers holds across both.
func TestTwoHubs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		dsn := newDSN(t, d)
		hubs := []*sqlstore.Store{
			newStore(t, d, openDB(t, d, dsn), sqlstore.Options{}),
			newStore(t, d, openDB(t, d, dsn), sqlstore.Options{}),
		}
		room := createRoom(t, hubs[0], "alice")
		const writers, each = 10, 30
		for w := range writers {
			_, _, err := hubs[w%2].AddMember(t.Context(), member(room.ID, fmt.Sprintf("user%02d", w)), realtime.Limits{})
			require.NoError(t, err)
		}
		type result struct {
			seq uint64
			dup bool
			err error
		}
		results := make([][]result, len(hubs)*writers)
		var wg sync.WaitGroup
		for h, s := range hubs {
			for w := range writers {
				g := h*writers + w
				wg.Go(func() {
					for i := range each {
						m := message(room.ID, fmt.Sprintf("user%02d", w), fmt.Sprint(h, "/", w, "/", i))
						// The writers of the same number on both hubs
						// send their even messages with the same
						// clientMsgId: one of each pair is a duplicate.
						if i%2 == 0 {
							m.ClientMsgID = fmt.Sprint("c", i)
						}
						saved, dup, err := s.SaveMessage(t.Context(), m)
						results[g] = append(results[g], result{saved.Seq, dup, err})
					}
				})
			}
		}
		wg.Wait()
		var seqs []uint64
		dups := 0
		for g, rs := range results {
			for i, r := range rs {
				require.NoError(t, r.err, "writer %d, message %d", g, i)
				if r.dup {
					dups++
					continue
				}
				seqs = append(seqs, r.seq)
			}
		}
		require.Equal(t, writers*((each+1)/2), dups)
		slices.Sort(seqs)
		want := make([]uint64, len(seqs))
		for i := range want {
			want[i] = uint64(i + 1)
		}
		require.Equal(t, want, seqs)
		page, _, err := hubs[1].History(t.Context(), realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 200})
		require.NoError(t, err)
		require.Len(t, page, 200)
		require.Equal(t, want[len(want)-200:], msgSeqs(page))

		// 40 users join a room for 10 through both hubs at once.
		full := realtime.Room{ID: "full", Name: "Full", MaxUsers: 10, CreatedByID: "alice", CreatedAt: now()}
		_, err = hubs[0].CreateRoom(t.Context(), full, member("full", "alice"), realtime.Limits{})
		require.NoError(t, err)
		errs := make([]error, 40)
		for i := range errs {
			wg.Go(func() {
				_, _, errs[i] = hubs[i%2].AddMember(t.Context(), member("full", fmt.Sprint("u", i)), realtime.Limits{})
			})
		}
		wg.Wait()
		joined := 0
		for _, err := range errs {
			if err == nil {
				joined++
			} else {
				require.ErrorIs(t, err, realtime.ErrRoomFull)
			}
		}
		require.Equal(t, 9, joined)
	})
}

// TestReopen closes a SQLite store and its database and opens the file
// again, as a restarted server does: everything is there, and seqs go on.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "chat.db")
	db, err := sql.Open("sqlite", testenv.SQLiteDSN(path))
	require.NoError(t, err)
	s, err := sqlstore.New(db, sqlstore.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	room := createRoom(t, s, "alice")
	_, _, err = s.AddMember(ctx, member(room.ID, "bob"), realtime.Limits{})
	require.NoError(t, err)
	var saved []realtime.Message
	for i := range 5 {
		m := message(room.ID, "bob", fmt.Sprint("hello ", i))
		m.Metadata = json.RawMessage(`{"i":` + fmt.Sprint(i) + `}`)
		got, _, err := s.SaveMessage(ctx, m)
		require.NoError(t, err)
		saved = append(saved, got)
	}
	f := realtime.File{ID: "f1", RoomID: room.ID, UploaderID: "bob", Name: "a.txt", ContentType: "text/plain", Size: 3, CreatedAt: now()}
	require.NoError(t, s.SaveFile(ctx, f))
	require.NoError(t, s.Close())
	require.NoError(t, db.Close())

	db, err = sql.Open("sqlite", testenv.SQLiteDSN(path))
	require.NoError(t, err)
	defer db.Close()
	s, err = sqlstore.New(db, sqlstore.Options{})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(ctx))

	got, err := s.GetRoom(ctx, room.ID)
	require.NoError(t, err)
	room.MemberCount = 2
	require.Equal(t, room, got)
	members, err := s.ListMembers(ctx, room.ID)
	require.NoError(t, err)
	require.Len(t, members, 2)
	page, more, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 10})
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, page, len(saved))
	for i := range saved {
		require.JSONEq(t, string(saved[i].Metadata), string(page[i].Metadata))
		saved[i].Metadata, page[i].Metadata = nil, nil
	}
	require.Equal(t, saved, page)
	gotFile, err := s.GetFile(ctx, f.ID)
	require.NoError(t, err)
	require.Equal(t, f, gotFile)
	next, _, err := s.SaveMessage(ctx, message(room.ID, "bob", "after restart"))
	require.NoError(t, err)
	require.Equal(t, uint64(6), next.Seq)
}

// TestSQLiteMemory uses an in-memory database on one connection: the store
// never needs a second connection to make progress.
func TestSQLiteMemory(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	require.NoError(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	s := newStore(t, sqlstore.SQLite, db, sqlstore.Options{})
	room := createRoom(t, s, "alice")
	errs := make([]error, 20)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = s.SaveMessage(t.Context(), message(room.ID, "alice", fmt.Sprint(i)))
			if errs[i] == nil {
				_, _, errs[i] = s.History(t.Context(), realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID)})
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	page, _, err := s.History(t.Context(), realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID)})
	require.NoError(t, err)
	require.Len(t, page, 20)
}

// TestBadMessageFailsAlone saves, among good messages at once, one whose
// metadata PostgreSQL refuses: it fails alone.
func TestBadMessageFailsAlone(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s := newTestStore(t, d)
		room := createRoom(t, s, "alice")
		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m := message(room.ID, "alice", fmt.Sprint(i))
				if i == n/2 {
					m.Metadata = json.RawMessage(`{"not json`)
				}
				_, _, errs[i] = s.SaveMessage(t.Context(), m)
			})
		}
		wg.Wait()
		good := 0
		for i, err := range errs {
			if i == n/2 {
				if d == sqlstore.Postgres {
					require.Error(t, err)
					require.NotErrorIs(t, err, realtime.ErrNotFound)
				}
				continue
			}
			require.NoError(t, err, "message %d", i)
			good++
		}
		page, _, err := s.History(t.Context(), realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 100})
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(page), good)
		for i, m := range page {
			require.Equal(t, uint64(i+1), m.Seq, "seqs have no gap")
		}
	})
}

func TestClose(t *testing.T) {
	d := sqlstore.SQLite
	db := openDB(t, d, newDSN(t, d))
	s, err := sqlstore.New(db, sqlstore.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(t.Context()))
	room := createRoom(t, s, "alice")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "second Close")
	_, _, err = s.SaveMessage(t.Context(), message(room.ID, "alice", "late"))
	require.ErrorIs(t, err, sqlstore.ErrClosed)
	// The rest of the store reads and writes through the caller's pool.
	_, err = s.GetRoom(t.Context(), room.ID)
	require.NoError(t, err)
}

// TestDatabaseGone closes the database under the store: its methods fail
// with errors that are not realtime errors, which the hub reports as
// unavailable, and SaveMessage does not hang.
func TestDatabaseGone(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		db, err := sql.Open(map[sqlstore.Dialect]string{sqlstore.SQLite: "sqlite", sqlstore.Postgres: "pgx"}[d], newDSN(t, d))
		require.NoError(t, err)
		s := newStore(t, d, db, sqlstore.Options{})
		room := createRoom(t, s, "alice")
		require.NoError(t, db.Close())

		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Go(func() { _, _, errs[i] = s.SaveMessage(t.Context(), message(room.ID, "alice", "lost")) })
		}
		wg.Wait()
		for _, err := range errs {
			require.Error(t, err)
			var re *realtime.Error
			require.NotErrorAs(t, err, &re)
			require.ErrorContains(t, err, "sqlstore: save message")
		}
		_, err = s.GetRoom(t.Context(), room.ID)
		require.Error(t, err)
		require.NotErrorAs(t, err, new(*realtime.Error))
	})
}

// TestCanceled checks that a SaveMessage whose context is done returns.
func TestCanceled(t *testing.T) {
	s := newTestStore(t, sqlstore.SQLite)
	room := createRoom(t, s, "alice")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := s.SaveMessage(ctx, message(room.ID, "alice", "never"))
	require.ErrorIs(t, err, context.Canceled)
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func createRoom(t testing.TB, s realtime.Store, creator string) realtime.Room {
	t.Helper()
	room := realtime.Room{
		ID: "room-" + randID(), Name: "General", MaxUsers: 1000, CreatedByID: creator, CreatedAt: now(),
	}
	got, err := s.CreateRoom(context.Background(), room, member(room.ID, creator), realtime.Limits{})
	require.NoError(t, err)
	return got
}

func member(roomID, userID string) realtime.Member {
	return realtime.Member{RoomID: roomID, UserID: userID, Username: userID, Role: realtime.RoleMember, JoinedAt: now()}
}

func message(roomID, senderID, content string) realtime.Message {
	return realtime.Message{
		ID: "msg-" + randID(), RoomID: roomID, SenderID: senderID,
		Sender:  realtime.UserRef{ID: senderID, Username: senderID},
		Content: content, Type: realtime.TypeText, CreatedAt: now(),
	}
}

func msgSeqs(ms []realtime.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}
