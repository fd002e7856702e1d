// Package adaptertest is the conformance suite of adapter.Adapter: every
// implementation runs it from its tests.
//
//	func TestAdapter(t *testing.T) {
//		adaptertest.Run(t, func(t *testing.T, n int) []adapter.Adapter {
//			bus := memadapter.NewBus()
//			nodes := make([]adapter.Adapter, n)
//			for i := range nodes {
//				nodes[i] = bus.Node()
//			}
//			return nodes
//		})
//	}
package adaptertest

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/adapter"
)

const (
	// wait bounds the wait for an asynchronous delivery.
	wait = 5 * time.Second
	tick = 2 * time.Millisecond
	// grace is how long an absence check waits, after a fence publication
	// has arrived, for a stray publication that would have been sent before
	// the fence but delivered after it.
	grace = 100 * time.Millisecond
)

// fenceID names the room channel every node of a test listens on, so that a
// test can tell when earlier publications have had their chance to arrive.
const fenceID = "adaptertest-fence"

// Run tests an Adapter implementation. newAdapters returns n new, unstarted
// adapters that are nodes of one cluster (for memadapter, n nodes of one bus;
// for a networked adapter, n clients of one server and prefix), isolated
// from the adapters of every other call. Run starts each of them with a
// recording Handler and closes it when its subtest ends; newAdapters
// may release what backs them with t.Cleanup, which runs after that.
//
// Deliveries are awaited by polling for a few seconds, so asynchronous
// adapters pass; a publication must be delivered to a node only when it was
// published after the node's Subscribe returned and before its Unsubscribe
// (of the last subscription) was called.
//
// The PresenceBackend subtests write records for node ids "node-0",
// "node-1", ... (node i of the subtest writes those of "node-i"), read them
// from every node, and let a node stop heartbeating with a ttl of 200ms:
// within a few seconds its records must leave Presence, and exactly one
// Heartbeat of the other nodes must return them.
func Run(t *testing.T, newAdapters func(t *testing.T, n int) []adapter.Adapter) {
	t.Run("PublishReachesSubscribedNodes", func(t *testing.T) {
		c := start(t, newAdapters, 3)
		ch := room("r1")
		c.subscribe(t, 0, ch)
		c.subscribe(t, 1, ch)

		c.publish(t, 0, ch, "from-0") // the publisher is subscribed
		c.publish(t, 2, ch, "from-2") // the publisher is not
		// Order across publishing nodes is not part of the contract.
		c.waitFramesAnyOrder(t, 0, ch, "from-0", "from-2")
		c.waitFramesAnyOrder(t, 1, ch, "from-0", "from-2")

		c.settle(t)
		require.ElementsMatch(t, []string{"from-0", "from-2"}, c.frames(0, ch), "node 0 got a publication twice")
		require.ElementsMatch(t, []string{"from-0", "from-2"}, c.frames(1, ch), "node 1 got a publication twice")
		require.Empty(t, c.frames(2, ch), "an unsubscribed node got publications")
	})

	t.Run("Unsubscribe", func(t *testing.T) {
		c := start(t, newAdapters, 2)
		ch := room("r1")
		c.subscribe(t, 0, ch)
		c.subscribe(t, 1, ch)
		c.publish(t, 0, ch, "before")
		c.waitFrames(t, 1, ch, "before")

		require.NoError(t, c.nodes[1].Unsubscribe(t.Context(), ch))
		c.publish(t, 0, ch, "after")
		c.publish(t, 1, ch, "after-from-1")
		c.waitFramesAnyOrder(t, 0, ch, "before", "after", "after-from-1")
		c.settle(t)
		require.Equal(t, []string{"before"}, c.frames(1, ch), "delivered after Unsubscribe")

		// Subscribing again resumes delivery.
		c.subscribe(t, 1, ch)
		c.publish(t, 0, ch, "again")
		c.waitFrames(t, 1, ch, "before", "again")
	})

	t.Run("ReferenceCounting", func(t *testing.T) {
		c := start(t, newAdapters, 2)
		ch := room("r1")
		c.subscribe(t, 1, ch)
		c.subscribe(t, 1, ch)
		require.NoError(t, c.nodes[1].Unsubscribe(t.Context(), ch))
		c.publish(t, 0, ch, "one-left")
		c.waitFrames(t, 1, ch, "one-left")

		require.NoError(t, c.nodes[1].Unsubscribe(t.Context(), ch))
		c.publish(t, 0, ch, "none-left")
		c.settle(t)
		require.Equal(t, []string{"one-left"}, c.frames(1, ch), "delivered after the last Unsubscribe")

		// Global channels are counted too.
		global := adapter.Global()
		c.subscribe(t, 1, global)
		c.subscribe(t, 1, global)
		require.NoError(t, c.nodes[1].Unsubscribe(t.Context(), global))
		c.publish(t, 0, global, "global-one-left")
		c.waitFrames(t, 1, global, "global-one-left")
		require.NoError(t, c.nodes[1].Unsubscribe(t.Context(), global))
		c.publish(t, 0, global, "global-none-left")
		c.settle(t)
		require.Equal(t, []string{"global-one-left"}, c.frames(1, global))
	})

	t.Run("OrderPerChannel", func(t *testing.T) {
		const n = 1000
		c := start(t, newAdapters, 2)
		a, b := room("a"), user("b")
		for i := range c.nodes {
			c.subscribe(t, i, a)
			c.subscribe(t, i, b)
		}
		var wantA, wantB []string
		for i := range n {
			// Interleave two channels: each keeps its own order.
			fa, fb := fmt.Sprintf("a-%04d", i), fmt.Sprintf("b-%04d", i)
			c.publish(t, 0, a, fa)
			c.publish(t, 0, b, fb)
			wantA, wantB = append(wantA, fa), append(wantB, fb)
		}
		for i := range c.nodes {
			c.waitCount(t, i, a, n)
			c.waitCount(t, i, b, n)
			require.Equal(t, wantA, c.frames(i, a), "node %d: order of %s", i, a)
			require.Equal(t, wantB, c.frames(i, b), "node %d: order of %s", i, b)
		}
	})

	t.Run("PayloadsAreBytes", func(t *testing.T) {
		c := start(t, newAdapters, 2)
		sent := []struct {
			ch adapter.Channel
			p  []byte
		}{
			{room("r1"), []byte(`{"event":"new-message","data":{"seq":42}}`)},
			// Payloads are bytes, not text: any byte must survive.
			{room("r1"), []byte{1, 0, 0, 0, '\n', '\r', 0x7f, 0x80, 0xfe, 0xff, '"', '\\'}},
			{room("r1"), []byte("é {x}\x00 \U0001F600")},
			{user("u1"), bytes.Repeat([]byte{0xff, 0}, 40000)},
			{user("u1"), []byte("kicked")},
		}
		for _, s := range sent {
			c.subscribe(t, 1, s.ch)
		}
		for _, s := range sent {
			require.NoError(t, c.nodes[0].Publish(t.Context(), s.ch, s.p))
		}
		c.waitCount(t, 1, room("r1"), 3)
		c.waitCount(t, 1, user("u1"), 2)
		got := map[adapter.Channel][][]byte{
			room("r1"): c.payloads(1, room("r1")),
			user("u1"): c.payloads(1, user("u1")),
		}
		for _, s := range sent {
			require.NotEmpty(t, got[s.ch])
			p := got[s.ch][0]
			got[s.ch] = got[s.ch][1:]
			require.True(t, bytes.Equal(s.p, p), "payload: want %q, got %q", s.p, p)
		}
	})

	t.Run("ChannelKindsAreDistinct", func(t *testing.T) {
		// Node i subscribes to channels[i] only, and publications to each
		// channel reach exactly that node.
		channels := []adapter.Channel{
			room("x"),
			user("x"),
			adapter.Global(),
			room("global"),
			user("global"),
			room("user:x"),
			user("room:x"),
			room(""),
			user(""),
			adapter.Node("x"),
			adapter.Node("room:x"),
		}
		c := start(t, newAdapters, len(channels))
		c.onePerNode(t, channels)
	})

	t.Run("ChannelIDsAreLiteral", func(t *testing.T) {
		// Ids are never patterns, keys or lines to a backend.
		ids := []string{
			"a", "a*", "*", "a?", "a[b]", "[ab]", "a\nb", "a\r\nb", "a b", " a",
			"{a}", "{a", "a}", "a:b", "a:", ":a", `a\`, "a\x00b", "a.b", "a/b",
			"é", "a%b", "$a", "a#b",
		}
		channels := make([]adapter.Channel, len(ids))
		for i, id := range ids {
			channels[i] = room(id)
		}
		c := start(t, newAdapters, len(channels))
		c.onePerNode(t, channels)
	})

	t.Run("GlobalChannel", func(t *testing.T) {
		c := start(t, newAdapters, 3)
		global := adapter.Global()
		c.subscribe(t, 0, global)
		c.subscribe(t, 1, global)
		c.publish(t, 2, global, "everyone")
		c.waitFrames(t, 0, global, "everyone")
		c.waitFrames(t, 1, global, "everyone")
		c.settle(t)
		require.Empty(t, c.frames(2, global), "an unsubscribed node got a global publication")
	})

	t.Run("ConcurrentUse", func(t *testing.T) {
		// Publish, Subscribe and Unsubscribe are called from many goroutines;
		// each goroutine's publications keep their order.
		const goroutines, each = 16, 50
		c := start(t, newAdapters, 2)
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := range goroutines {
			wg.Go(func() {
				errs <- c.churn(t, g, each)
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		c := start(t, newAdapters, 2)
		ch := room("r1")
		c.subscribe(t, 0, ch)
		c.subscribe(t, 1, ch)
		c.publish(t, 0, ch, "before")
		c.waitFrames(t, 1, ch, "before")

		require.NoError(t, c.nodes[1].Close())
		require.NotPanics(t, func() { _ = c.nodes[1].Close() }, "second Close")
		c.closed[1] = true
		require.Error(t, c.nodes[1].Publish(t.Context(), ch, []byte("from-closed")),
			"Publish after Close")

		c.publish(t, 0, ch, "after")
		c.waitFrames(t, 0, ch, "before", "after")
		c.settle(t)
		require.Equal(t, []string{"before"}, c.frames(1, ch), "delivered after Close")
		require.Equal(t, []string{"before", "after"}, c.frames(0, ch), "a closed node's Publish was delivered")
	})

	t.Run("Presence", func(t *testing.T) {
		// Each node writes its own records; every node reads all of them.
		c := start(t, newAdapters, 2)
		ctx := t.Context()
		for i := range c.nodes {
			expired, err := c.nodes[i].Heartbeat(ctx, nodeID(i), time.Minute)
			require.NoError(t, err)
			require.Empty(t, expired)
		}
		at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
		odd := "odd:{id}*\n"
		recs := []adapter.PresenceRecord{
			{Node: nodeID(0), UserID: "u1", Status: "online"},
			{Node: nodeID(1), UserID: "u1", Status: "away", StatusAt: at},
			{Node: nodeID(1), UserID: "u2", Status: "busy", CustomStatus: "in a meeting", StatusAt: at},
			{Node: nodeID(0), UserID: odd, Status: "invisible", CustomStatus: "é {x}"},
		}
		for _, r := range recs {
			require.NoError(t, c.nodes[nodeIndex(r.Node)].SetPresence(ctx, r))
		}
		for i := range c.nodes {
			got, err := c.nodes[i].Presence(ctx, []string{"u1", "u2", odd, "nobody"})
			require.NoError(t, err)
			requireRecords(t, recs, got, "node %d: Presence", i)
		}

		// A node's record of a user replaces its previous one.
		recs[0].Status, recs[0].StatusAt = "busy", at.Add(time.Second)
		require.NoError(t, c.nodes[0].SetPresence(ctx, recs[0]))
		got, err := c.nodes[1].Presence(ctx, []string{"u1"})
		require.NoError(t, err)
		requireRecords(t, recs[:2], got, "after a replacing SetPresence")

		// DeletePresence removes one node's record of one user.
		require.NoError(t, c.nodes[1].DeletePresence(ctx, nodeID(1), "u1"))
		got, err = c.nodes[0].Presence(ctx, []string{"u1", "u2"})
		require.NoError(t, err)
		requireRecords(t, []adapter.PresenceRecord{recs[0], recs[2]}, got, "after DeletePresence")
		require.NoError(t, c.nodes[1].DeletePresence(ctx, nodeID(1), "u1"), "deleting again")
		require.NoError(t, c.nodes[0].DeletePresence(ctx, nodeID(0), "nobody"), "deleting what never was")

		got, err = c.nodes[0].Presence(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, got, "Presence of no users")
	})

	t.Run("HeartbeatExpiry", func(t *testing.T) {
		// Nodes 0 and 1 live; node 2 heartbeats once with a short ttl and
		// stops, as a node that died without a word.
		const short = 200 * time.Millisecond
		c := start(t, newAdapters, 3)
		ctx := t.Context()
		for i, ttl := range []time.Duration{time.Minute, time.Minute, short} {
			_, err := c.nodes[i].Heartbeat(ctx, nodeID(i), ttl)
			require.NoError(t, err)
		}
		live := []adapter.PresenceRecord{
			{Node: nodeID(0), UserID: "a", Status: "online"},
			{Node: nodeID(1), UserID: "b", Status: "away"},
		}
		dead := []adapter.PresenceRecord{
			{Node: nodeID(2), UserID: "a", Status: "busy"},
			{Node: nodeID(2), UserID: "c", Status: "online", CustomStatus: "gone"},
		}
		for _, r := range slices.Concat(live, dead) {
			require.NoError(t, c.nodes[nodeIndex(r.Node)].SetPresence(ctx, r))
		}
		users := []string{"a", "b", "c"}

		// Once its ttl has passed, node 2's records are out of Presence,
		// before any Heartbeat claims them.
		require.Eventually(t, func() bool {
			got, err := c.nodes[0].Presence(ctx, users)
			require.NoError(t, err)
			return sameRecords(live, got)
		}, wait, 10*time.Millisecond, "node 2's records still in Presence after its ttl")

		// Nodes 0 and 1 heartbeat at once, several times: exactly one call
		// returns each of node 2's records.
		var (
			mu      sync.Mutex
			expired []adapter.PresenceRecord
			wg      sync.WaitGroup
		)
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				for range 3 {
					e, err := c.nodes[g%2].Heartbeat(ctx, nodeID(g%2), time.Minute)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					expired = append(expired, e...)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		requireRecords(t, dead, expired, "records returned by the Heartbeats of nodes 0 and 1")
		got, err := c.nodes[1].Presence(ctx, users)
		require.NoError(t, err)
		requireRecords(t, live, got, "records of the live nodes")

		// A node that keeps heartbeating within a short ttl keeps its
		// records; once it stops, another node's Heartbeat returns them.
		deadline := time.Now().Add(4 * short)
		for time.Now().Before(deadline) {
			e, err := c.nodes[0].Heartbeat(ctx, nodeID(0), short)
			require.NoError(t, err)
			require.Empty(t, e)
			got, err := c.nodes[1].Presence(ctx, []string{"a"})
			require.NoError(t, err)
			requireRecords(t, live[:1], got, "node 0 heartbeats within its ttl")
			time.Sleep(short / 4)
		}
		require.Eventually(t, func() bool {
			e, err := c.nodes[1].Heartbeat(ctx, nodeID(1), time.Minute)
			require.NoError(t, err)
			if len(e) == 0 {
				return false
			}
			requireRecords(t, live[:1], e, "records of node 0 once it stopped")
			return true
		}, wait, 10*time.Millisecond, "node 0's records not returned after it stopped")
		got, err = c.nodes[1].Presence(ctx, users)
		require.NoError(t, err)
		requireRecords(t, live[1:], got, "after node 0 expired")
	})
}

func room(id string) adapter.Channel { return adapter.Room(id) }

// nodeID is the presence node id the suite uses for node i.
func nodeID(i int) string { return fmt.Sprintf("node-%d", i) }

func nodeIndex(id string) int {
	var i int
	if _, err := fmt.Sscanf(id, "node-%d", &i); err != nil {
		panic("adaptertest: bad node id " + id)
	}
	return i
}

// presenceKey is a PresenceRecord in a comparable form: StatusAt as an
// instant, whatever its location or monotonic reading.
type presenceKey struct {
	Node, UserID, Custom string
	Status               string
	At                   int64
}

func keysOf(recs []adapter.PresenceRecord) []presenceKey {
	out := make([]presenceKey, 0, len(recs))
	for _, r := range recs {
		k := presenceKey{Node: r.Node, UserID: r.UserID, Custom: r.CustomStatus, Status: r.Status}
		if !r.StatusAt.IsZero() {
			k.At = r.StatusAt.UnixNano()
		}
		out = append(out, k)
	}
	return out
}

// requireRecords checks that got holds want, in any order, each once.
func requireRecords(t *testing.T, want, got []adapter.PresenceRecord, msgAndArgs ...any) {
	t.Helper()
	require.ElementsMatch(t, keysOf(want), keysOf(got), msgAndArgs...)
}

func sameRecords(want, got []adapter.PresenceRecord) bool {
	w, g := keysOf(want), keysOf(got)
	cmp := func(a, b presenceKey) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	}
	slices.SortFunc(w, cmp)
	slices.SortFunc(g, cmp)
	return slices.Equal(w, g)
}
func user(id string) adapter.Channel { return adapter.User(id) }

// cluster is the started adapters of one subtest with what each received.
type cluster struct {
	nodes  []adapter.Adapter
	recs   []*recorder
	closed []bool
	fences int
}

// start starts n new adapters, each subscribed to room(fenceID), and closes
// them when the test ends.
func start(t *testing.T, newAdapters func(t *testing.T, n int) []adapter.Adapter, n int) *cluster {
	t.Helper()
	nodes := newAdapters(t, n)
	require.Len(t, nodes, n, "newAdapters")
	c := &cluster{nodes: nodes, recs: make([]*recorder, n), closed: make([]bool, n)}
	for i, a := range nodes {
		c.recs[i] = &recorder{got: make(map[adapter.Channel][][]byte)}
		require.NoError(t, a.Start(t.Context(), c.recs[i]), "Start")
		t.Cleanup(func() {
			if !c.closed[i] {
				require.NoError(t, a.Close(), "node %d: Close", i)
			}
		})
		c.subscribe(t, i, room(fenceID))
	}
	return c
}

func (c *cluster) subscribe(t *testing.T, i int, ch adapter.Channel) {
	t.Helper()
	require.NoError(t, c.nodes[i].Subscribe(t.Context(), ch), "node %d: Subscribe(%s)", i, ch)
}

func (c *cluster) publish(t *testing.T, i int, ch adapter.Channel, frame string) {
	t.Helper()
	require.NoError(t, c.nodes[i].Publish(t.Context(), ch, []byte(frame)),
		"node %d: Publish(%s)", i, ch)
}

func (c *cluster) frames(i int, ch adapter.Channel) []string {
	var out []string
	for _, p := range c.payloads(i, ch) {
		out = append(out, string(p))
	}
	return out
}

func (c *cluster) payloads(i int, ch adapter.Channel) [][]byte {
	return c.recs[i].payloads(ch)
}

// waitFrames waits until node i has received exactly want on ch, in order.
func (c *cluster) waitFrames(t *testing.T, i int, ch adapter.Channel, want ...string) {
	t.Helper()
	c.waitCount(t, i, ch, len(want))
	require.Equal(t, want, c.frames(i, ch), "node %d: frames of %s", i, ch)
}

// waitFramesAnyOrder waits until node i has received exactly want on ch, in
// any order.
func (c *cluster) waitFramesAnyOrder(t *testing.T, i int, ch adapter.Channel, want ...string) {
	t.Helper()
	c.waitCount(t, i, ch, len(want))
	require.ElementsMatch(t, want, c.frames(i, ch), "node %d: frames of %s", i, ch)
}

// waitCount waits until node i has received at least n publications on ch.
func (c *cluster) waitCount(t *testing.T, i int, ch adapter.Channel, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got := len(c.payloads(i, ch))
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "publications missing",
				"node %d: want %d publications on %s within %v, got %d", i, n, ch, wait, got)
		}
		time.Sleep(tick)
	}
}

// settle returns once publications made before it had their chance to be
// delivered: a fence publication reached every open node, and a grace period
// has passed for adapters that do not order deliveries across channels.
func (c *cluster) settle(t *testing.T) {
	t.Helper()
	c.fences++
	frame := fmt.Sprintf("fence-%d", c.fences)
	from := slices.Index(c.closed, false)
	require.GreaterOrEqual(t, from, 0, "no open node")
	c.publish(t, from, room(fenceID), frame)
	for i := range c.nodes {
		if c.closed[i] {
			continue
		}
		require.Eventually(t, func() bool { return slices.Contains(c.frames(i, room(fenceID)), frame) }, wait, tick,
			"node %d: fence publication not delivered within %v", i, wait)
	}
	time.Sleep(grace)
}

// onePerNode subscribes node i to channels[i] only, publishes twice to every
// channel and checks that each node got exactly its channel's publications.
func (c *cluster) onePerNode(t *testing.T, channels []adapter.Channel) {
	t.Helper()
	for i, ch := range channels {
		c.subscribe(t, i, ch)
	}
	for round := range 2 {
		for i, ch := range channels {
			c.publish(t, (i+round)%len(c.nodes), ch, fmt.Sprintf("%d/%d", i, round))
		}
	}
	for i, ch := range channels {
		c.waitFramesAnyOrder(t, i, ch, fmt.Sprintf("%d/0", i), fmt.Sprintf("%d/1", i))
	}
	c.settle(t)
	for i, ch := range channels {
		got := c.recs[i].framesExcept(room(fenceID))
		require.Len(t, got, 1, "node %d, subscribed to %s only, got publications of %v", i, ch, slices.Collect(maps.Keys(got)))
		require.ElementsMatch(t, []string{fmt.Sprintf("%d/0", i), fmt.Sprintf("%d/1", i)}, got[ch],
			"node %d, subscribed to %s only", i, ch)
	}
}

// churn subscribes both nodes to a channel of its own, publishes each
// numbered frames on it, checks that they arrive in order, and unsubscribes.
// It runs on its own goroutine, so it reports rather than fails.
func (c *cluster) churn(t *testing.T, g, each int) error {
	ctx := t.Context()
	ch := room(fmt.Sprintf("churn-%d", g))
	for _, a := range c.nodes {
		if err := a.Subscribe(ctx, ch); err != nil {
			return fmt.Errorf("Subscribe(%s): %w", ch, err)
		}
	}
	var want []string
	for i := range each {
		f := fmt.Sprintf("%d-%03d", g, i)
		want = append(want, f)
		if err := c.nodes[g%len(c.nodes)].Publish(ctx, ch, []byte(f)); err != nil {
			return fmt.Errorf("Publish(%s): %w", ch, err)
		}
	}
	deadline := time.Now().Add(wait)
	for i := range c.nodes {
		for len(c.frames(i, ch)) < each && time.Now().Before(deadline) {
			time.Sleep(tick)
		}
		if got := c.frames(i, ch); !slices.Equal(got, want) {
			return fmt.Errorf("node %d, %s: want %d frames in order, got %q", i, ch, each, got)
		}
	}
	for _, a := range c.nodes {
		if err := a.Unsubscribe(ctx, ch); err != nil {
			return fmt.Errorf("Unsubscribe(%s): %w", ch, err)
		}
	}
	return nil
}

// recorder is the Handler of one node.
type recorder struct {
	mu  sync.Mutex
	got map[adapter.Channel][][]byte
}

// Deliver records p as it is: a payload the adapter modified after
// delivering it would show up as a wrong payload.
func (r *recorder) Deliver(ch adapter.Channel, p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[ch] = append(r.got[ch], p)
}

// Resync is not expected: nothing breaks a link in these tests.
func (r *recorder) Resync() {}

func (r *recorder) payloads(ch adapter.Channel) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[ch])
}

func (r *recorder) framesExcept(skip adapter.Channel) map[adapter.Channel][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[adapter.Channel][]string)
	for ch, ps := range r.got {
		if ch == skip {
			continue
		}
		for _, p := range ps {
			out[ch] = append(out[ch], string(p))
		}
	}
	return out
}
