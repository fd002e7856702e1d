package redisadapter_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/adapter/adaptertest"
	"github.com/realtime-go/realtime/adapter/redisadapter"
	"github.com/realtime-go/realtime/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	// probe is the ProbeInterval of the tests: short, so that they exercise
	// the probes and recover lost links fast.
	probe = 100 * time.Millisecond
	// probeTimeout is their ProbeTimeout: generous, so that a Redis slowed
	// by the race detector and parallel tests is not taken for a lost link,
	// which would lose publications the conformance suite waits for.
	probeTimeout = 2 * time.Second
	// restored bounds the wait for a link to come back.
	restored = 5 * time.Second
)

// testPrefix returns a key prefix of the test's own, whose keys are deleted
// when the test ends.
func testPrefix(t testing.TB) string {
	t.Helper()
	prefix := "rttest:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		rdb := newClient(t, "", "")
		ctx := context.Background()
		var keys []string
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		require.NoError(t, iter.Err())
		if len(keys) > 0 {
			require.NoError(t, rdb.Del(ctx, keys...).Err())
		}
	})
	return prefix
}

// newClient returns a client of the test Redis, through addr when it is
// not empty, named name, closed when the test ends.
func newClient(t testing.TB, addr, name string) *redis.Client {
	t.Helper()
	direct := testenv.RedisAddr(t)
	opts, err := redis.ParseURL(testenv.RedisURL())
	require.NoError(t, err)
	opts.Addr = direct
	if addr != "" {
		opts.Addr = addr
	}
	opts.ClientName = name
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func newAdapter(t testing.TB, rdb redis.UniversalClient, prefix string) *redisadapter.Adapter {
	t.Helper()
	a, err := redisadapter.New(rdb, redisadapter.Options{Prefix: prefix, ProbeInterval: probe, ProbeTimeout: probeTimeout, Logger: testLogger(t)})
	require.NoError(t, err)
	return a
}

// testLogger logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func TestAdapter(t *testing.T) {
	testenv.RedisAddr(t) // skips, once, without Redis
	adaptertest.Run(t, func(t *testing.T, n int) []adapter.Adapter {
		prefix := testPrefix(t)
		nodes := make([]adapter.Adapter, n)
		for i := range nodes {
			nodes[i] = newAdapter(t, newClient(t, "", ""), prefix)
		}
		return nodes
	})
}

func TestNew(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = rdb.Close() })
	for _, o := range []redisadapter.Options{
		{Prefix: "rt:{x}:"},
		{Prefix: "a}"},
		{ProbeInterval: -time.Second},
		{ProbeTimeout: -time.Second},
	} {
		_, err := redisadapter.New(rdb, o)
		require.Error(t, err, "%+v", o)
	}
	_, err := redisadapter.New(nil, redisadapter.Options{})
	require.Error(t, err)

	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:2"}})
	t.Cleanup(func() { _ = ring.Close() })
	_, err = redisadapter.New(ring, redisadapter.Options{})
	require.ErrorContains(t, err, "Ring")
}

// TestShardedSelection checks that a cluster client selects sharded pub/sub
// (SSUBSCRIBE, SPUBLISH) and any other client plain pub/sub. Sharded pub/sub
// itself needs a Redis Cluster, which the test environment does not have.
func TestShardedSelection(t *testing.T) {
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}) // never dialled
	t.Cleanup(func() { _ = cluster.Close() })
	a, err := redisadapter.New(cluster, redisadapter.Options{})
	require.NoError(t, err)
	require.True(t, a.Sharded())

	plain := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = plain.Close() })
	a, err = redisadapter.New(plain, redisadapter.Options{})
	require.NoError(t, err)
	require.False(t, a.Sharded())

	failover := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _ = failover.Close() })
	a, err = redisadapter.New(failover, redisadapter.Options{})
	require.NoError(t, err)
	require.False(t, a.Sharded())
}

// TestLifecycle checks the errors of the Broker lifecycle, as memadapter has
// them.
func TestLifecycle(t *testing.T) {
	ctx := t.Context()
	room := adapter.Room("r")
	a := newAdapter(t, newClient(t, "", ""), testPrefix(t))
	rec := newRecorder()

	require.Error(t, a.Subscribe(ctx, room), "Subscribe before Start")
	require.Error(t, a.Publish(ctx, room, nil), "Publish before Start")
	require.NoError(t, a.Start(ctx, rec))
	require.Error(t, a.Start(ctx, rec), "second Start")
	require.NoError(t, a.Unsubscribe(ctx, room), "Unsubscribe of a channel not subscribed")
	require.NoError(t, a.Subscribe(ctx, room))
	require.NoError(t, a.Close())
	require.NoError(t, a.Close())
	require.Error(t, a.Subscribe(ctx, room), "Subscribe after Close")
	require.Error(t, a.Publish(ctx, room, nil), "Publish after Close")
	require.NoError(t, a.Unsubscribe(ctx, room), "Unsubscribe after Close")

	// A closed adapter leaves the client open.
	b := newAdapter(t, newClient(t, "", ""), testPrefix(t))
	require.NoError(t, b.Close())
	require.Error(t, b.Start(ctx, rec), "Start after Close")

	// Start fails when Redis does not answer.
	down := redis.NewClient(&redis.Options{Addr: deadAddr(t), MaxRetries: -1})
	t.Cleanup(func() { _ = down.Close() })
	c := newAdapter(t, down, "")
	require.Error(t, c.Start(ctx, rec))
	require.NoError(t, c.Close())
}

// deadAddr returns an address where nothing listens.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestNames checks that the ids the issue names, and others a glob, a
// cluster hash tag or the line protocol would read, become distinct names
// in hex that select no cluster slot of their own: published to, they
// reach only their own channel (also in adaptertest), and their presence
// lives in keys of their own.
func TestNames(t *testing.T) {
	ctx := t.Context()
	ids := []string{"a", "a*", "{a}", "a\nb", "a}", "{", "*", "a\r\n*", ""}
	prefix := testPrefix(t)
	rdb := newClient(t, "", "")
	a := newAdapter(t, rdb, prefix)
	rec := newRecorder()
	require.NoError(t, a.Start(ctx, rec))
	t.Cleanup(func() { require.NoError(t, a.Close()) })

	for _, id := range ids {
		require.NoError(t, a.Subscribe(ctx, adapter.Room(id)))
		require.NoError(t, a.SetPresence(ctx, adapter.PresenceRecord{Node: "n" + id, UserID: id, Status: "online"}))
	}
	// The subscribed channels, as Redis lists them.
	chans, err := rdb.PubSubChannels(ctx, prefix+"*").Result()
	require.NoError(t, err)
	var rooms []string
	for _, c := range chans {
		rest := strings.TrimPrefix(c, prefix)
		require.NotContains(t, rest, "{")
		require.NotContains(t, rest, "*")
		require.NotContains(t, rest, "\n")
		if tail, ok := strings.CutPrefix(rest, "r:"); ok {
			rooms = append(rooms, tail)
			require.Regexp(t, `^[0-9a-f]*$`, tail)
		}
	}
	require.Len(t, rooms, len(ids), "one channel per room id: %q", chans)

	for _, id := range ids {
		require.NoError(t, a.Publish(ctx, adapter.Room(id), []byte(id)))
	}
	for _, id := range ids {
		ch := adapter.Room(id)
		require.Eventually(t, func() bool { return len(rec.frames(ch)) == 1 }, restored, time.Millisecond, "room %q", id)
		require.Equal(t, []string{id}, rec.frames(ch))
	}

	for _, id := range ids {
		recs, err := a.Presence(ctx, []string{id})
		require.NoError(t, err)
		require.Len(t, recs, 1, "presence of %q", id)
		require.Equal(t, "n"+id, recs[0].Node)
		require.Equal(t, id, recs[0].UserID)
	}
	// Every key is the prefix, a tag and hex; presence keys share the slot
	// of {p} and expire.
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 2*len(ids)+1, "a hash per user, a set per node, the node set: %q", keys)
	for _, k := range keys {
		require.Regexp(t, `^\{p\}:(u:[0-9a-f]*|n:[0-9a-f]*|nodes)$`, strings.TrimPrefix(k, prefix))
		ttl, err := rdb.PTTL(ctx, k).Result()
		require.NoError(t, err)
		require.Positive(t, ttl, "key %q without expiry", k)
	}
}

// TestKillSubscriptionConnection kills the adapters' pub/sub connections on
// the server while a node publishes: each adapter subscribes again, delivers
// OpResync, and receives what is published after.
func TestKillSubscriptionConnection(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	name := "rttest-kill-" + rand.Text()[:8]
	room := adapter.Room("r")
	admin := newClient(t, "", "")

	nodes := make([]*redisadapter.Adapter, 2)
	recs := make([]*recorder, 2)
	for i := range nodes {
		nodes[i] = newAdapter(t, newClient(t, "", name), prefix)
		recs[i] = newRecorder()
		require.NoError(t, nodes[i].Start(ctx, recs[i]))
		t.Cleanup(func() { require.NoError(t, nodes[i].Close()) })
		require.NoError(t, nodes[i].Subscribe(ctx, room))
	}

	// Publish all along, from a goroutine of the test.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// A failure shows below as publications missing.
			_ = nodes[0].Publish(ctx, room, fmt.Appendf(nil, "m%d", i))
			time.Sleep(time.Millisecond)
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
	require.Eventually(t, func() bool { return len(recs[1].frames(room)) > 10 }, restored, time.Millisecond)

	// The pub/sub connections of this test only: CLIENT KILL TYPE pubsub
	// would also cut the other tests running on this server.
	killed := killPubSub(t, admin, name)
	require.Equal(t, 2, killed, "one pub/sub connection per adapter")

	for i := range nodes {
		require.Eventually(t, func() bool { return recs[i].resyncs() > 0 }, restored, time.Millisecond,
			"node %d: no OpResync after its connection was killed", i)
	}
	// Subscribed again: later publications arrive.
	for i := range nodes {
		before := len(recs[i].frames(room))
		require.Eventually(t, func() bool { return len(recs[i].frames(room)) > before+10 }, restored, time.Millisecond,
			"node %d: no publication after the resync", i)
	}
	require.Eventually(t, func() bool {
		n, err := admin.PubSubNumSub(ctx, channelOf(prefix, "r:", "r")).Result()
		require.NoError(t, err)
		return n[channelOf(prefix, "r:", "r")] == 2
	}, restored, time.Millisecond)
}

// killPubSub kills the connections named name that are in pub/sub mode and
// returns how many.
func killPubSub(t *testing.T, admin *redis.Client, name string) int {
	t.Helper()
	list, err := admin.ClientList(t.Context()).Result()
	require.NoError(t, err)
	killed := 0
	for line := range strings.Lines(list) {
		f := map[string]string{}
		for kv := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if f["name"] != name || !strings.Contains(f["flags"], "P") {
			continue
		}
		require.NoError(t, admin.Do(t.Context(), "CLIENT", "KILL", "ID", f["id"]).Err())
		killed++
	}
	return killed
}

func channelOf(prefix, tag, id string) string {
	return prefix + tag + fmt.Sprintf("%x", id)
}

// TestCutLink cuts the link of one node to Redis: once the link is back,
// the probe passes, the node has its subscriptions again, including one made
// while the link was down, and gets OpResync.
func TestCutLink(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	proxy := testenv.NewProxy(t, testenv.RedisAddr(t))
	room := adapter.Room("r")
	late := adapter.User("late")

	cut := newAdapter(t, newClient(t, proxy.Addr(), ""), prefix)
	cutRec := newRecorder()
	require.NoError(t, cut.Start(ctx, cutRec))
	t.Cleanup(func() { require.NoError(t, cut.Close()) })
	pub := newAdapter(t, newClient(t, "", ""), prefix)
	require.NoError(t, pub.Start(ctx, newRecorder()))
	t.Cleanup(func() { require.NoError(t, pub.Close()) })

	require.NoError(t, cut.Subscribe(ctx, room))
	require.NoError(t, pub.Publish(ctx, room, []byte("before")))
	require.Eventually(t, func() bool { return len(cutRec.frames(room)) == 1 }, restored, time.Millisecond)

	proxy.Cut()
	require.NoError(t, pub.Publish(ctx, room, []byte("lost")))
	// Subscribing while the link is down does not wait for it.
	sctx, cancel := context.WithTimeout(ctx, restored)
	defer cancel()
	require.Eventually(t, func() bool { return cut.Subscribe(sctx, late) == nil }, restored, 10*time.Millisecond)
	time.Sleep(3 * probe) // a few failed attempts to reconnect
	require.Zero(t, cutRec.resyncs(), "Resync while the link is down")
	proxy.Restore()

	require.Eventually(t, func() bool { return cutRec.resyncs() == 1 }, restored, time.Millisecond, "no Resync")
	require.NoError(t, pub.Publish(ctx, room, []byte("after")))
	require.NoError(t, pub.Publish(ctx, late, []byte("late")))
	require.Eventually(t, func() bool { return slices.Contains(cutRec.frames(room), "after") }, restored, time.Millisecond)
	require.Eventually(t, func() bool { return len(cutRec.frames(late)) == 1 }, restored, time.Millisecond)
	require.NotContains(t, cutRec.frames(room), "lost")
	require.Equal(t, 1, cutRec.resyncs())
}

// TestStalledLink freezes a node's connections without closing them, as a
// network that drops packets does: only the probe notices. The node
// connects again and gets OpResync.
func TestStalledLink(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	proxy := newStallProxy(t, testenv.RedisAddr(t))
	room := adapter.Room("r")

	opts, err := redis.ParseURL(testenv.RedisURL())
	require.NoError(t, err)
	opts.Addr = proxy.addr()
	// Commands give up on a frozen connection well within a probe
	// interval and go-redis retries them on a new one: the probe gets
	// published, and only its not coming back tells.
	opts.ReadTimeout, opts.WriteTimeout = 50*time.Millisecond, 50*time.Millisecond
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	stalled, err := redisadapter.New(rdb, redisadapter.Options{
		Prefix: prefix, ProbeInterval: probe, ProbeTimeout: 500 * time.Millisecond, Logger: testLogger(t),
	})
	require.NoError(t, err)
	rec := newRecorder()
	require.NoError(t, stalled.Start(ctx, rec))
	t.Cleanup(func() { require.NoError(t, stalled.Close()) })
	pub := newAdapter(t, newClient(t, "", ""), prefix)
	require.NoError(t, pub.Start(ctx, newRecorder()))
	t.Cleanup(func() { require.NoError(t, pub.Close()) })

	require.NoError(t, stalled.Subscribe(ctx, room))
	require.NoError(t, pub.Publish(ctx, room, []byte("before")))
	require.Eventually(t, func() bool { return len(rec.frames(room)) == 1 }, restored, time.Millisecond)

	proxy.stall()
	require.Eventually(t, func() bool { return rec.resyncs() > 0 }, restored, time.Millisecond, "no Resync")
	require.NoError(t, pub.Publish(ctx, room, []byte("after")))
	require.Eventually(t, func() bool { return slices.Contains(rec.frames(room), "after") }, restored, time.Millisecond)
}

// TestPayloadsAreOpaque checks that what anyone PUBLISHes on a node's
// channel reaches its Handler byte for byte: opening payloads (and skipping
// what it cannot open) is the hub's business.
func TestPayloadsAreOpaque(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	rdb := newClient(t, "", "")
	a := newAdapter(t, rdb, prefix)
	rec := newRecorder()
	require.NoError(t, a.Start(ctx, rec))
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	room := adapter.Room("r")
	require.NoError(t, a.Subscribe(ctx, room))

	junk := []string{"", "x", "\x02\x00\x00", "\x01\x09\x00", "\x01\x00\x00\x05\x7f", "\xff\xfe é"}
	for _, j := range junk {
		require.NoError(t, rdb.Publish(ctx, channelOf(prefix, "r:", "r"), j).Err())
	}
	require.NoError(t, a.Publish(ctx, room, []byte("ok")))
	want := append(junk, "ok")
	require.Eventually(t, func() bool { return len(rec.frames(room)) == len(want) }, restored, time.Millisecond)
	require.Equal(t, want, rec.frames(room))
}

// TestSubscribeCanceled checks that a Subscribe whose ctx ends before Redis
// confirms is not counted.
func TestSubscribeCanceled(t *testing.T) {
	ctx := t.Context()
	prefix := testPrefix(t)
	a := newAdapter(t, newClient(t, "", ""), prefix)
	rec := newRecorder()
	require.NoError(t, a.Start(ctx, rec))
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	room := adapter.Room("r")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	// Redis may confirm first; either way a failed call is not counted.
	if err := a.Subscribe(canceled, room); err == nil {
		require.NoError(t, a.Unsubscribe(ctx, room))
	}
	require.NoError(t, a.Subscribe(ctx, room))
	require.NoError(t, a.Unsubscribe(ctx, room))
	require.NoError(t, a.Publish(ctx, room, []byte("x")))
	fence := adapter.Room("fence")
	require.NoError(t, a.Subscribe(ctx, fence))
	require.NoError(t, a.Publish(ctx, fence, []byte("f")))
	require.Eventually(t, func() bool { return len(rec.frames(fence)) == 1 }, restored, time.Millisecond)
	require.Empty(t, rec.frames(room), "delivered after the last counted Unsubscribe")
}

// recorder is a Handler that keeps what it got.
type recorder struct {
	mu     sync.Mutex
	got    map[adapter.Channel][]string
	resync int
}

func newRecorder() *recorder { return &recorder{got: make(map[adapter.Channel][]string)} }

func (r *recorder) Deliver(ch adapter.Channel, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[ch] = append(r.got[ch], string(p))
}

func (r *recorder) Resync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resync++
}

func (r *recorder) frames(ch adapter.Channel) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[ch])
}

func (r *recorder) resyncs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resync
}

// stallProxy forwards TCP connections to a target; stall freezes the
// connections open at that moment: they stay open and carry nothing, while
// new connections pass.
type stallProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen []chan struct{} // per live connection, closed to freeze it
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallProxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		close(f)
	}
	p.frozen = nil
}

func (p *stallProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		frozen := make(chan struct{})
		p.mu.Lock()
		p.frozen = append(p.frozen, frozen)
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Go(func() { pipe(out, in, frozen) })
		p.wg.Go(func() { pipe(in, out, frozen) })
	}
}

// pipe copies src to dst until frozen, then reads src and drops what it
// reads, so that a close still ends both.
func pipe(dst, src net.Conn, frozen <-chan struct{}) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-frozen:
		default:
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
