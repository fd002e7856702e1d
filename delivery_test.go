package realtime_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter/memadapter"
	"github.com/realtime-go/realtime/internal/testenv"
)

// stallingStore is a Store whose History of one stream waits, once armed,
// until the test releases it: a slow database, on demand.
type stallingStore struct {
	realtime.Store
	stream  atomic.Pointer[string]
	stalled chan struct{} // receives once per History call that waits
	release chan struct{}
	once    sync.Once
}

func newStallingStore(t *testing.T, s realtime.Store) *stallingStore {
	st := &stallingStore{Store: s, stalled: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(st.unstall)
	return st
}

func (s *stallingStore) stall(stream string) { s.stream.Store(&stream) }
func (s *stallingStore) unstall()            { s.once.Do(func() { close(s.release) }) }

func (s *stallingStore) History(ctx context.Context, q realtime.HistoryQuery) ([]realtime.Message, bool, error) {
	if p := s.stream.Load(); p != nil && *p == q.Stream {
		s.stalled <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	return s.Store.History(ctx, q)
}

// TestResumeDoesNotStallDelivery: while a connection resumes in room A and
// the Store takes its time to read A's history, messages go on reaching
// their members, in A's other members' room B and in A itself; once the
// read returns, the resumed connection gets what it missed, each message
// once. One sender writes to A then to B, so a hub that held A's
// sequencing across the read would keep B's message back too: on the
// sender's goroutine through memadapter, on the pub/sub reader through
// Redis.
func TestResumeDoesNotStallDelivery(t *testing.T) {
	t.Run("memadapter", func(t *testing.T) {
		bus := memadapter.NewBus()
		store := newStallingStore(t, realtime.NewMemoryStore(realtime.MemoryOptions{}))
		env := newTestHub(t, realtime.Config{Broker: bus.Node(), Store: store})
		resumeWhileStalled(t, env, store)
	})
	t.Run("redisadapter", func(t *testing.T) {
		rc := newRedisCluster(t)
		store := newStallingStore(t, rc.store())
		env := rc.node(realtime.Config{Store: store}, "")
		resumeWhileStalled(t, env, store)
	})
}

func resumeWhileStalled(t *testing.T, env *testEnv, store *stallingStore) {
	sender := env.dial("sender")
	roomA := sender.createRoom("a", nil)
	roomB := sender.createRoom("b", nil)
	member := env.dial("member")
	member.emit("join-room", map[string]any{"roomId": roomB.ID})
	first := env.dial("resumer")
	first.emit("join-room", map[string]any{"roomId": roomA.ID})
	seen := testenv.DecodeInto[realtime.Message](t, first.emit("message", map[string]any{"roomId": roomA.ID, "content": "seen"}))
	first.Close()

	// The resumer comes back and asks for what it missed; A's history read
	// stalls.
	store.stall(realtime.RoomStream(roomA.ID))
	back := env.raw("resumer")
	back.Write(`{"event":"join-room","data":{"roomId":"` + roomA.ID + `","since":"` + seen.ID + `"},"ack":1}`)
	select {
	case <-store.stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the resume never read A's history")
	}

	// Meanwhile the sender writes to A, then to B, without waiting.
	raw := env.raw("sender")
	raw.Write(`{"event":"message","data":{"roomId":"` + roomA.ID + `","content":"while you were away"},"ack":1}`)
	raw.Write(`{"event":"message","data":{"roomId":"` + roomB.ID + `","content":"to b"},"ack":2}`)
	got := testenv.DecodeInto[realtime.Message](t, member.next("new-message"))
	require.Equal(t, "to b", got.Content)
	select {
	case <-store.stalled:
		t.Fatal("History was read twice")
	default:
	}

	// The read returns: the resumer gets the missed message once, then
	// its ack, and nothing twice.
	store.unstall()
	var missed []string
	for {
		f := back.Read()
		if f.Ack == 1 {
			require.Nil(t, f.Error)
			reply := testenv.DecodeInto[struct {
				Missed    int  `json:"missed"`
				Recovered bool `json:"recovered"`
			}](t, f.Data)
			require.True(t, reply.Recovered)
			require.Equal(t, 1, reply.Missed)
			break
		}
		if f.Event == "new-message" {
			missed = append(missed, testenv.DecodeInto[realtime.Message](t, f.Data).Content)
		}
	}
	require.Equal(t, []string{"while you were away"}, missed)
	raw.Write(`{"event":"message","data":{"roomId":"` + roomA.ID + `","content":"live"},"ack":3}`)
	for {
		f := back.Read()
		if f.Event == "new-message" {
			require.Equal(t, "live", testenv.DecodeInto[realtime.Message](t, f.Data).Content, "a message came twice")
			break
		}
	}
}

// TestStoredButNotPublished: a message stored while its node's Redis link
// is cut is refused as unavailable; retried with its clientMsgId once the
// link is back, it is acked as the same message, and every member receives
// it once, in order (PROTOCOL.md section 6).
func TestStoredButNotPublished(t *testing.T) {
	rc := newRedisCluster(t)
	proxy := testenv.NewProxy(t, testenv.RedisAddr(t))
	a := rc.node(realtime.Config{PublishTimeout: 300 * time.Millisecond}, proxy.Addr())
	b := rc.node(realtime.Config{}, "")
	alice, bob := a.dial("alice"), b.dial("bob")
	room := alice.createRoom("blink", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.next("user-joined")

	proxy.Cut()
	send := map[string]any{"roomId": room.ID, "content": "once", "clientMsgId": "k1"}
	alice.emitErr(realtime.CodeUnavailable, "message", send)
	proxy.Restore()
	var retried msgAck
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ack, err := alice.Emit(ctx, "message", send)
		if err == nil {
			retried = testenv.DecodeInto[msgAck](t, ack)
		}
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "the retry is acked once Redis is back")
	require.Equal(t, uint64(1), retried.Seq, "the retry found the stored message")
	require.Equal(t, "k1", retried.ClientMsgID)

	alice.emit("message", map[string]any{"roomId": room.ID, "content": "after"})
	for _, c := range []*tclient{alice, bob} {
		require.Equal(t, "once", testenv.DecodeInto[realtime.Message](t, c.next("new-message")).Content)
		require.Equal(t, "after", testenv.DecodeInto[realtime.Message](t, c.next("new-message")).Content)
	}
}

// TestClientGivesMessagesAnIdempotencyKey: the Go client sets a
// clientMsgId on every message that has none, and keeps one it was given.
func TestClientGivesMessagesAnIdempotencyKey(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice := env.dial("alice")
	room := alice.createRoom("r", nil)
	ack := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "hi"}))
	require.True(t, strings.HasPrefix(ack.ClientMsgID, "c_"), "clientMsgId %q", ack.ClientMsgID)
	other := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "hi"}))
	require.NotEqual(t, ack.ClientMsgID, other.ClientMsgID)
	mine := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "hi", "clientMsgId": "mine"}))
	require.Equal(t, "mine", mine.ClientMsgID)
	// Without an ack too: the message-sent push echoes the key.
	require.NoError(t, alice.Send(context.Background(), "message", map[string]any{"roomId": room.ID, "content": "no ack"}))
	sent := testenv.DecodeInto[msgAck](t, alice.next("message-sent"))
	require.True(t, strings.HasPrefix(sent.ClientMsgID, "c_"), "clientMsgId %q", sent.ClientMsgID)
}
