package realtime_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter/memadapter"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// sqlStore opens a migrated sqlstore on dsn; the store and its pool close
// when the test ends.
func sqlStore(t *testing.T, d sqlstore.Dialect, dsn string) *sqlstore.Store {
	t.Helper()
	driver := "sqlite"
	if d == sqlstore.Postgres {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	t.Cleanup(func() { db.Close() })
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: d})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

// postgresThroughProxy returns the DSN of a fresh schema reached through a
// proxy, to cut the database away.
func postgresThroughProxy(t *testing.T) (string, *testenv.Proxy) {
	t.Helper()
	base := strings.Replace(testenv.PostgresURL(), "127.0.0.1:5432", "PROXY", 1)
	if !strings.Contains(base, "PROXY") {
		t.Skip("REALTIME_POSTGRES_URL does not point at 127.0.0.1:5432")
	}
	proxy := testenv.NewProxy(t, "127.0.0.1:5432")
	return testenv.PostgresSchema(t, strings.Replace(base, "PROXY", proxy.Addr(), 1)+"&connect_timeout=2"), proxy
}

// TestStoreFailureIsHonest: with PostgreSQL out of reach, a message is
// refused as unavailable and reaches nobody; typing and presence go on; once
// the database is back, sending works again at once.
func TestStoreFailureIsHonest(t *testing.T) {
	dsn, proxy := postgresThroughProxy(t)
	env := newTestHub(t, realtime.Config{Store: sqlStore(t, sqlstore.Postgres, dsn), MaxMessagesPerMinute: -1})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "before"})
	bob.next("new-message")

	proxy.Cut()
	alice.emitErr(realtime.CodeUnavailable, "message", map[string]any{"roomId": room.ID, "content": "lost?"})
	bob.none("new-message", 200*time.Millisecond)
	alice.emit("typing", map[string]any{"roomId": room.ID, "isTyping": true})
	require.True(t, testenv.DecodeInto[struct{ IsTyping bool }](t, bob.next("user-typing")).IsTyping)
	bob.emit("presence-update", map[string]any{"status": "away"})

	proxy.Restore()
	start := time.Now()
	require.Eventually(t, func() bool {
		_, err := alice.Emit(context.Background(), "message", map[string]any{"roomId": room.ID, "content": "after", "clientMsgId": "retry-1"})
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	t.Logf("recovered %v after the database returned", time.Since(start))
	m := testenv.DecodeInto[realtime.Message](t, bob.next("new-message"))
	require.Equal(t, "after", m.Content)
	require.Equal(t, uint64(2), m.Seq, "the refused message took no seq")
}

// TestStoreClosedIsUnavailable: a SQLite store whose database is gone
// answers unavailable and broadcasts nothing.
func TestStoreClosedIsUnavailable(t *testing.T) {
	db, err := sql.Open("sqlite", testenv.SQLiteDSN(filepath.Join(t.TempDir(), "x.db")))
	require.NoError(t, err)
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(context.Background()))
	env := newTestHub(t, realtime.Config{Store: s})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})

	require.NoError(t, db.Close())
	alice.emitErr(realtime.CodeUnavailable, "message", map[string]any{"roomId": room.ID, "content": "x"})
	bob.none("new-message", 100*time.Millisecond)
	alice.emit("typing", map[string]any{"roomId": room.ID, "isTyping": true})
	bob.next("user-typing")
}

// TestResumeAcrossRestart: bob saw a message, went away; 100 more were sent;
// the hub restarted on the same SQLite database. Joining with since replays
// exactly those 100, then live messages follow.
func TestResumeAcrossRestart(t *testing.T) {
	dsn := testenv.SQLiteDSN(filepath.Join(t.TempDir(), "chat.db"))
	first := newTestHub(t, realtime.Config{Store: sqlStore(t, sqlstore.SQLite, dsn), MaxMessagesPerMinute: -1})
	alice := first.dial("alice")
	room := alice.createRoom("r", nil)
	bob := first.dial("bob")
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	seen := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "seen"}))
	bob.next("new-message")
	require.NoError(t, bob.Close())
	for i := range 100 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})
	}
	require.NoError(t, first.hub.Shutdown(context.Background()))

	second := newTestHub(t, realtime.Config{Store: sqlStore(t, sqlstore.SQLite, dsn), MaxMessagesPerMinute: -1})
	alice = second.dial("alice")
	bob = second.dial("bob")
	ack := testenv.DecodeInto[joinAck](t, bob.emit("join-room", map[string]any{"roomId": room.ID, "since": seen.ID}))
	require.True(t, ack.Recovered)
	require.Equal(t, 100, ack.Missed)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "live"})
	for i := range 101 {
		m := testenv.DecodeInto[realtime.Message](t, bob.next("new-message"))
		require.Equal(t, uint64(i+2), m.Seq)
		if i < 100 {
			require.Equal(t, fmt.Sprint(i), m.Content)
		} else {
			require.Equal(t, "live", m.Content)
		}
	}
}

// TestTwoHubsOnePostgres: two hubs, each with its own pool on one
// PostgreSQL schema and joined by a memadapter bus, take concurrent sends
// into one room: seqs are 1..N with no gap and no duplicate, and every
// member sees all of them once.
func TestTwoHubsOnePostgres(t *testing.T) {
	dsn := testenv.PostgresSchema(t, "")
	bus := memadapter.NewBus()
	a := newTestHub(t, realtime.Config{Store: sqlStore(t, sqlstore.Postgres, dsn), Broker: bus.Node(), MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
	b := newTestHub(t, realtime.Config{Store: sqlStore(t, sqlstore.Postgres, dsn), Broker: bus.Node(), MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
	owner := a.dial("owner")
	room := owner.createRoom("busy", nil)
	const senders, each = 8, 25
	var clients []*tclient
	for i := range senders {
		env := []*testEnv{a, b}[i%2]
		c := env.dial(fmt.Sprint("u", i))
		c.emit("join-room", map[string]any{"roomId": room.ID})
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for j := range each {
				if _, err := c.Emit(context.Background(), "message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i, "/", j)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	seqs := map[uint64]bool{}
	var before string
	for {
		req := map[string]any{"roomId": room.ID, "limit": 200}
		if before != "" {
			req["before"] = before
		}
		h := testenv.DecodeInto[struct {
			Messages []realtime.Message
			HasMore  bool
		}](t, owner.emit("get-history", req))
		for _, m := range h.Messages {
			require.False(t, seqs[m.Seq], "duplicate seq %d", m.Seq)
			seqs[m.Seq] = true
		}
		if !h.HasMore {
			break
		}
		before = h.Messages[0].ID
	}
	require.Len(t, seqs, senders*each)
	for s := uint64(1); s <= senders*each; s++ {
		require.True(t, seqs[s], "seq %d missing", s)
	}
	// Every member, on either node, received every message once.
	for _, c := range append(clients, owner) {
		got := map[uint64]bool{}
		for len(got) < senders*each {
			m := testenv.DecodeInto[realtime.Message](t, c.next("new-message"))
			require.False(t, got[m.Seq], "delivered twice")
			got[m.Seq] = true
		}
	}
}

// TestPostgresBackendsTerminated: after pg_terminate_backend kills the
// hub's database connections, messages flow again within a second, each
// delivered once.
func TestPostgresBackendsTerminated(t *testing.T) {
	app := "rt_kill_" + strings.ToLower(fmt.Sprint(time.Now().UnixNano()))
	dsn := testenv.PostgresSchema(t, "") + "&application_name=" + app
	env := newTestHub(t, realtime.Config{Store: sqlStore(t, sqlstore.Postgres, dsn), MaxMessagesPerMinute: -1})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "before"})
	bob.next("new-message")

	admin, err := sql.Open("pgx", testenv.PostgresURL())
	require.NoError(t, err)
	defer admin.Close()
	var killed int
	require.NoError(t, admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed))
	require.Positive(t, killed)

	start := time.Now()
	require.Eventually(t, func() bool {
		_, err := alice.Emit(context.Background(), "message", map[string]any{"roomId": room.ID, "content": "after", "clientMsgId": "k"})
		return err == nil
	}, time.Second, 10*time.Millisecond)
	t.Logf("recovered after %v", time.Since(start))
	m := testenv.DecodeInto[realtime.Message](t, bob.next("new-message"))
	require.Equal(t, "after", m.Content)
	require.Equal(t, uint64(2), m.Seq)
	bob.none("new-message", 100*time.Millisecond)
}
