package realtime_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter/redisadapter"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// redisCluster builds hubs that share one PostgreSQL schema and one Redis
// key prefix, as the nodes of a cluster would; each node has its own Redis
// client, dialed through addr (a Proxy's, to cut links).
type redisCluster struct {
	t      *testing.T
	dsn    string
	prefix string
	opts   *redis.Options
}

func newRedisCluster(t *testing.T) *redisCluster {
	t.Helper()
	testenv.RedisAddr(t)
	opts, err := redis.ParseURL(testenv.RedisURL())
	require.NoError(t, err)
	return &redisCluster{
		t: t, dsn: testenv.PostgresSchema(t, ""), opts: opts,
		prefix: "rt-test-" + strings.ToLower(rand.Text()[:10]) + ":",
	}
}

// store opens the cluster's shared PostgreSQL store.
func (rc *redisCluster) store() *sqlstore.Store {
	return sqlStore(rc.t, sqlstore.Postgres, rc.dsn)
}

// node starts a hub; addr, when set, replaces the Redis address; a nil
// cfg.Store is the cluster's shared store.
func (rc *redisCluster) node(cfg realtime.Config, addr string) *testEnv {
	rc.t.Helper()
	opts := *rc.opts
	if addr != "" {
		opts.Addr = addr
	}
	opts.MaxRetries = 1
	rdb := redis.NewClient(&opts)
	rc.t.Cleanup(func() { rdb.Close() })
	a, err := redisadapter.New(rdb, redisadapter.Options{Prefix: rc.prefix, ProbeInterval: 200 * time.Millisecond, ProbeTimeout: time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(rc.t, err)
	cfg.Broker = a
	if cfg.Store == nil {
		cfg.Store = rc.store()
	}
	cfg.MaxMessagesPerMinute, cfg.MaxEventsPerSecond = -1, -1
	return newTestHub(rc.t, cfg)
}

// TestThreeNodesOnRedis: members spread over three nodes receive every
// message once, in order; direct messages reach every connection of the
// user on every node; room limits hold under concurrent joins from all
// nodes.
func TestThreeNodesOnRedis(t *testing.T) {
	rc := newRedisCluster(t)
	nodes := []*testEnv{rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, "")}
	owner := nodes[0].dial("owner")
	room := owner.createRoom("spread", map[string]any{"maxUsers": 10})
	var members []*tclient
	for i := range 6 {
		c := nodes[i%3].dial(fmt.Sprint("m", i))
		c.emit("join-room", map[string]any{"roomId": room.ID})
		members = append(members, c)
	}
	const n = 30
	var wg sync.WaitGroup
	for i, c := range members[:3] {
		wg.Go(func() {
			for j := range n {
				if _, err := c.Emit(context.Background(), "message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i, "/", j)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for k, c := range append(members, owner) {
		for s := 1; s <= 3*n; s++ {
			m := testenv.DecodeInto[realtime.Message](t, c.next("new-message"))
			require.Equal(t, uint64(s), m.Seq, "member %d: in order, once", k)
		}
		c.none("new-message", 20*time.Millisecond)
	}

	// Typing crosses nodes too.
	members[0].emit("typing", map[string]any{"roomId": room.ID, "isTyping": true})
	for _, c := range members[1:3] {
		require.True(t, testenv.DecodeInto[struct{ IsTyping bool }](t, c.next("user-typing")).IsTyping)
	}

	// A user on every node.
	everywhere := []*tclient{nodes[0].dial("eve"), nodes[1].dial("eve"), nodes[2].dial("eve")}
	owner.emit("message", map[string]any{"recipientId": "eve", "content": "hello eve"})
	for _, c := range everywhere {
		require.Equal(t, "hello eve", testenv.DecodeInto[realtime.Message](t, c.next("new-message")).Content)
	}

	// 7 members so far, 10 allowed: 12 concurrent joins from three nodes
	// let exactly 3 in.
	var mu sync.Mutex
	codes := map[string]int{}
	var joins sync.WaitGroup
	for i := range 12 {
		c := nodes[i%3].dial(fmt.Sprint("late", i))
		joins.Go(func() {
			_, err := c.Emit(context.Background(), "join-room", map[string]any{"roomId": room.ID})
			mu.Lock()
			defer mu.Unlock()
			if e, ok := err.(*realtime.Error); ok {
				codes[string(e.Code)]++
			} else {
				require.NoError(t, err)
				codes["ok"]++
			}
		})
	}
	joins.Wait()
	require.Equal(t, map[string]int{"ok": 3, "room_full": 9}, codes)
}

// TestRedisLinkCutLosesNothing: while two nodes exchange messages, the
// Redis link of one is cut and restored: nothing panics, and every acked
// message reaches every member once, in order, live or by gap repair.
func TestRedisLinkCutLosesNothing(t *testing.T) {
	rc := newRedisCluster(t)
	proxy := testenv.NewProxy(t, testenv.RedisAddr(t))
	a := rc.node(realtime.Config{}, "")
	b := rc.node(realtime.Config{}, proxy.Addr())
	alice, bob := a.dial("alice"), b.dial("bob")
	room := alice.createRoom("blink", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})

	var acked sync.Map
	send := func(c *tclient, from string, count int) {
		for i := range count {
			ack, err := c.Emit(context.Background(), "message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(from, i)})
			if err == nil {
				acked.Store(testenv.DecodeInto[msgAck](t, ack).Seq, true)
			}
			time.Sleep(20 * time.Millisecond) // about 50 msg/s per sender
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { send(alice, "a", 60) })
	wg.Go(func() { send(bob, "b", 60) })
	time.Sleep(300 * time.Millisecond)
	proxy.Cut()
	time.Sleep(500 * time.Millisecond)
	proxy.Restore()
	wg.Wait()

	var last0 uint64
	acked.Range(func(k, _ any) bool { last0 = max(last0, k.(uint64)); return true })
	require.Positive(t, last0)
	for _, c := range []*tclient{alice, bob} {
		last := uint64(0)
		timeout := time.After(15 * time.Second)
		for last < last0 {
			select {
			case ev := <-c.Events():
				if ev.Name != "new-message" {
					continue
				}
				m := testenv.DecodeInto[realtime.Message](t, ev.Data)
				require.Equal(t, last+1, m.Seq, "in order, once")
				last = m.Seq
			case <-timeout:
				t.Fatalf("got up to seq %d of %d", last, last0)
			}
		}
	}
}

// TestNodeKilledOnRedis: a node that stops without a word has its users
// offline on the other nodes within OfflineTimeout, and its clients resume
// on another node with no gap.
func TestNodeKilledOnRedis(t *testing.T) {
	rc := newRedisCluster(t)
	// Records live OfflineTimeout/2: long enough for a late heartbeat on a
	// loaded machine (see TestPresenceAcrossNodes).
	cfg := realtime.Config{OfflineTimeout: 2 * time.Second, PresenceGrace: 50 * time.Millisecond}
	a := rc.node(cfg, "")
	b := rc.node(cfg, "")
	alice := a.dial("alice")
	room := alice.createRoom("r", nil)
	bob := b.dial("bob")
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.next("user-joined")
	last := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "seen"}))
	bob.next("new-message")

	start := time.Now()
	require.NoError(t, b.hub.Close()) // no leave, no DeletePresence
	require.NoError(t, b.broker.Close())
	gone := testenv.DecodeInto[realtime.Presence](t, alice.next("presence-changed"))
	require.Equal(t, "bob", gone.UserID)
	require.Equal(t, realtime.StatusOffline, gone.Status)
	t.Logf("offline after %v", time.Since(start))

	for i := range 5 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})
	}
	bob = a.dial("bob")
	ack := testenv.DecodeInto[joinAck](t, bob.emit("join-room", map[string]any{"roomId": room.ID, "since": last.ID}))
	require.True(t, ack.Recovered)
	require.Equal(t, 5, ack.Missed)
	for i := range 5 {
		m := testenv.DecodeInto[realtime.Message](t, bob.next("new-message"))
		require.Equal(t, fmt.Sprint(i), m.Content)
	}
}
