package realtime

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/adapter"
)

// These tests run the hub's timers in a synctest bubble, on connections
// without sockets: time passes only when every goroutine is blocked, so the
// timeouts are exact and no test waits on the wall clock.

func quietHub(t *testing.T, cfg Config) *Hub {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

// fakeConn is an authenticated connection without a socket; what the hub
// sends it stays in its queue (writing: a writer is said to run, so none
// starts; a stopped connection would queue nothing).
func fakeConn(h *Hub, u User) *conn {
	ctx, cancel := context.WithCancel(h.ctx)
	return &conn{hub: h, id: newID("c"), ctx: ctx, cancel: cancel, writing: true,
		rooms: map[string]struct{}{}, user: u, authed: true}
}

// queued returns the events queued for c, and empties its queue.
func queued(c *conn) []string {
	batch := takeQueued(c)
	var out []string
	for _, f := range batch {
		out = append(out, string(f.Native()))
	}
	return out
}

// takeQueued empties the queue of a connection made with writing set (as
// fakeConn's), as its writer's take would, but leaves writing set, even when
// the queue is empty: no writer may start on a connection without a socket.
func takeQueued(c *conn) []Frame {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	batch := c.queue.appendTo(nil)
	emptyQueueLocked(c)
	return batch
}

// dropQueued empties such a connection's queue as takeQueued does, without
// allocating.
func dropQueued(c *conn) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	emptyQueueLocked(c)
}

// emptyQueueLocked empties c's queue as a busy writer does: its chunks go to
// c's free list, for the next frames. c.qmu is held.
func emptyQueueLocked(c *conn) {
	c.queue.clear(&c.freeChunks)
	c.queued.Store(0)
}

type presenceLog struct {
	mu  sync.Mutex
	got []string
}

func (l *presenceLog) add(_ context.Context, p Presence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, p.UserID+":"+string(p.Status))
}

func (l *presenceLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = nil
	return got
}

func TestPresenceGraceTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log presenceLog
		h := quietHub(t, Config{PresenceGrace: 5 * time.Second, OnPresence: log.add})
		bob := User{ID: "bob", Username: "bob"}

		c := fakeConn(h, bob)
		require.NoError(t, h.register(c))
		require.Equal(t, []string{"bob:online"}, log.take())

		h.unregister(c, nil)
		time.Sleep(5*time.Second - time.Millisecond)
		synctest.Wait()
		require.Empty(t, log.take(), "still within the grace")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		require.Equal(t, []string{"bob:offline"}, log.take())
		last, err := h.store.LastSeen(context.Background(), []string{"bob"})
		require.NoError(t, err)
		require.Equal(t, time.Now().UTC().Truncate(time.Millisecond), last["bob"])

		// Back, then a blip shorter than the grace: nothing to announce.
		c = fakeConn(h, bob)
		require.NoError(t, h.register(c))
		require.Equal(t, []string{"bob:online"}, log.take())
		h.unregister(c, nil)
		time.Sleep(4 * time.Second)
		c = fakeConn(h, bob)
		require.NoError(t, h.register(c))
		time.Sleep(time.Minute)
		synctest.Wait()
		require.Empty(t, log.take())
		h.unregister(c, nil)
	})
}

// TestOfflineTimeoutOfDeadNode: a node that stops heartbeating has its users
// announced offline by a surviving node within OfflineTimeout. The real
// multi-node behaviour is tested over memadapter in the external tests; here
// only the clock matters.
func TestOfflineTimeoutOfDeadNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log presenceLog
		shared := &sharedAdapter{records: map[string]map[string]adapter.PresenceRecord{}, beats: map[string]time.Time{}}
		a := quietHub(t, Config{Presence: shared.node(), Store: NewMemoryStore(MemoryOptions{}), OfflineTimeout: 20 * time.Second, OnPresence: log.add})
		b, err := New(Config{Presence: shared.node(), Store: a.store, OfflineTimeout: 20 * time.Second, Logger: a.log})
		require.NoError(t, err)

		require.NoError(t, b.register(fakeConn(b, User{ID: "carol"})))
		synctest.Wait()
		start := time.Now()
		require.NoError(t, b.Close()) // its records stay, unrefreshed
		for {
			time.Sleep(time.Second)
			synctest.Wait()
			if got := log.take(); len(got) > 0 {
				require.Equal(t, []string{"carol:offline"}, got)
				break
			}
			require.Less(t, time.Since(start), 20*time.Second, "carol still online past OfflineTimeout")
		}
	})
}

// sharedAdapter is a minimal cluster that lives inside a bubble:
// publications stay on their node, presence records are shared.
type sharedAdapter struct {
	mu      sync.Mutex
	records map[string]map[string]adapter.PresenceRecord // user -> node -> record
	beats   map[string]time.Time                         // node -> deadline
}

type sharedNode struct {
	s *sharedAdapter
}

// node returns a PresenceBackend of the cluster; each hub keeps its own
// (default) Broker.
func (s *sharedAdapter) node() adapter.PresenceBackend { return &sharedNode{s: s} }

func (n *sharedNode) SetPresence(_ context.Context, r adapter.PresenceRecord) error {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	if n.s.records[r.UserID] == nil {
		n.s.records[r.UserID] = map[string]adapter.PresenceRecord{}
	}
	n.s.records[r.UserID][r.Node] = r
	return nil
}

func (n *sharedNode) DeletePresence(_ context.Context, node, userID string) error {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	delete(n.s.records[userID], node)
	return nil
}

func (n *sharedNode) Presence(_ context.Context, ids []string) ([]adapter.PresenceRecord, error) {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	var out []adapter.PresenceRecord
	for _, id := range ids {
		for _, r := range n.s.records[id] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (n *sharedNode) Heartbeat(_ context.Context, node string, ttl time.Duration) ([]adapter.PresenceRecord, error) {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	n.s.beats[node] = time.Now().Add(ttl)
	var expired []adapter.PresenceRecord
	for other, deadline := range n.s.beats {
		if time.Now().After(deadline) {
			delete(n.s.beats, other)
			for _, byNode := range n.s.records {
				if r, ok := byNode[other]; ok {
					expired = append(expired, r)
					delete(byNode, other)
				}
			}
		}
	}
	return expired, nil
}

func TestTypingStopsByItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := quietHub(t, Config{TypingTimeout: 3 * time.Second})
		ctx := context.Background()
		alice, bob := fakeConn(h, User{ID: "alice", Username: "Alice"}), fakeConn(h, User{ID: "bob", Username: "Bob"})
		for _, c := range []*conn{alice, bob} {
			_, _, err := h.subscribe(ctx, c, "r", resumePoint{})
			require.NoError(t, err)
		}
		_, err := h.handleTyping(ctx, alice, json.RawMessage(`{"roomId":"r","isTyping":true}`))
		require.NoError(t, err)
		require.Len(t, queued(bob), 1)
		require.Empty(t, queued(alice), "the typist is not told")

		// Renewed before the timeout: no event, and the clock restarts.
		time.Sleep(2 * time.Second)
		_, err = h.handleTyping(ctx, alice, json.RawMessage(`{"roomId":"r","isTyping":true}`))
		require.NoError(t, err)
		require.Empty(t, queued(bob))
		time.Sleep(3*time.Second - time.Millisecond)
		synctest.Wait()
		require.Empty(t, queued(bob))
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got := queued(bob)
		require.Len(t, got, 1)
		require.Contains(t, got[0], `"isTyping":false`)
	})
}

func TestTokenExpiryTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := quietHub(t, Config{TokenExpiryWarning: time.Minute})
		c := fakeConn(h, User{})
		h.setUser(c, User{ID: "alice"}, time.Now().Add(10*time.Minute))

		time.Sleep(9*time.Minute - time.Millisecond)
		synctest.Wait()
		require.Empty(t, queued(c))
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got := queued(c)
		require.Len(t, got, 1)
		require.True(t, strings.HasPrefix(got[0], `{"event":"token-expiring"`))

		// A refresh pushes both timers out.
		h.setUser(c, User{ID: "alice"}, time.Now().Add(10*time.Minute))
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		c.qmu.Lock()
		require.False(t, c.closing)
		c.qmu.Unlock()
		time.Sleep(8 * time.Minute)
		synctest.Wait()
		c.qmu.Lock()
		defer c.qmu.Unlock()
		require.True(t, c.closing)
		require.Equal(t, StatusUnauthorized, c.closeCode)
		require.Contains(t, c.closeReason, "expired")
	})
}

// TestTypingIsDroppedNotFatal: a congested connection skips typing
// indicators instead of being closed for them (4009 is for messages).
func TestTypingIsDroppedNotFatal(t *testing.T) {
	h := quietHub(t, Config{MaxFrameBytes: 1 << 10, SendQueueBytes: 4 << 10})
	c := fakeConn(h, User{ID: "slow"})
	msg := newPush("new-message", []byte(`{"content":"`+strings.Repeat("x", 1460)+`"}`))
	c.send(msg, false)
	c.send(msg, false) // 3,000 of 4,096 bytes queued: past half
	for range 100 {
		c.send(newPush("user-typing", nil), true)
	}
	c.qmu.Lock()
	require.False(t, c.closing, "typing never closes a connection")
	require.Len(t, c.queue.appendTo(nil), 2, "typing was dropped")
	c.qmu.Unlock()
	c.send(msg, false) // a message that does not fit closes it
	c.qmu.Lock()
	defer c.qmu.Unlock()
	require.True(t, c.closing)
	require.Equal(t, StatusTooSlow, c.closeCode)
}
