package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

type msgAck struct {
	ID          string
	Timestamp   time.Time
	Seq         uint64
	ClientMsgID string
}

func TestRoomMessage(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})

	// A forged senderId or sender in the payload is ignored.
	ack := testenv.DecodeInto[msgAck](t, bob.emit("message", map[string]any{
		"roomId": room.ID, "content": "hello", "senderId": "alice",
		"sender":   map[string]string{"id": "alice", "username": "Alice"},
		"metadata": map[string]any{"k": "v"}, "clientMsgId": "c1",
	}))
	require.Equal(t, uint64(1), ack.Seq)
	require.Equal(t, "c1", ack.ClientMsgID)
	for _, c := range []*tclient{alice, bob} { // the sender sees its own message too
		m := testenv.DecodeInto[realtime.Message](t, c.next("new-message"))
		require.Equal(t, ack.ID, m.ID)
		require.Equal(t, "bob", m.SenderID)
		require.Equal(t, realtime.UserRef{ID: "bob", Username: "Bob"}, m.Sender)
		require.Equal(t, realtime.TypeText, m.Type)
		require.Equal(t, room.ID, m.RoomID)
		require.JSONEq(t, `{"k":"v"}`, string(m.Metadata))
		require.Equal(t, "c1", m.ClientMsgID)
		require.True(t, ack.Timestamp.Equal(m.CreatedAt))
	}

	// A reply must name a message of the same room.
	reply := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "re", "replyToId": ack.ID}))
	require.Equal(t, uint64(2), reply.Seq)
	alice.emitErr(realtime.CodeNotFound, "message", map[string]any{"roomId": room.ID, "content": "re", "replyToId": "m_nope"})

	// Without ack, the sender gets message-sent.
	require.NoError(t, alice.Send(context.Background(), "message", map[string]any{"roomId": room.ID, "content": "fire and forget", "clientMsgId": "c9"}))
	sent := testenv.DecodeInto[msgAck](t, alice.next("message-sent"))
	require.Equal(t, uint64(3), sent.Seq)
	require.Equal(t, "c9", sent.ClientMsgID)
}

func TestMessageValidation(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxMessageLength: 10})
	alice := env.dial("alice")
	room := alice.createRoom("r", nil)
	for _, tc := range []struct {
		name string
		data map[string]any
		code realtime.Code
	}{
		{"too long", map[string]any{"roomId": room.ID, "content": "12345678901"}, realtime.CodeTooLarge},
		{"empty", map[string]any{"roomId": room.ID, "content": ""}, realtime.CodeInvalid},
		{"content not a string", map[string]any{"roomId": room.ID, "content": 42}, realtime.CodeInvalid},
		{"bad type", map[string]any{"roomId": room.ID, "content": "x", "type": "video"}, realtime.CodeInvalid},
		{"forged system message", map[string]any{"roomId": room.ID, "content": "trust me", "type": "system"}, realtime.CodeInvalid},
		{"room and recipient", map[string]any{"roomId": room.ID, "recipientId": "bob", "content": "x"}, realtime.CodeInvalid},
		{"metadata not an object", map[string]any{"roomId": room.ID, "content": "x", "metadata": []int{1}}, realtime.CodeInvalid},
		{"unknown room", map[string]any{"roomId": "r_missing", "content": "x"}, realtime.CodeNotFound},
		{"global without role", map[string]any{"content": "x"}, realtime.CodeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) { alice.emitErr(tc.code, "message", tc.data) })
	}
	// Ten characters is fine even when they take more bytes.
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "éééééééééé", "type": "text"})
	h := testenv.DecodeInto[struct{ Messages []realtime.Message }](t, alice.emit("get-history", map[string]any{"roomId": room.ID}))
	require.Len(t, h.Messages, 1, "no refused message was stored")
	require.Equal(t, uint64(1), h.Messages[0].Seq)
}

func TestDirectAndGlobalMessages(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob, bob2, carol := env.dial("alice"), env.dial("bob"), env.dial("bob"), env.dial("carol")
	news := env.dial("news", "broadcast")

	ack := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"recipientId": "bob", "content": "psst"}))
	require.Equal(t, uint64(1), ack.Seq)
	for _, c := range []*tclient{alice, bob, bob2} { // every connection of both users
		m := testenv.DecodeInto[realtime.Message](t, c.next("new-message"))
		require.Equal(t, "psst", m.Content)
		require.Equal(t, "bob", m.RecipientID)
		require.Equal(t, "alice", m.SenderID)
	}
	// The pair's sequence is shared by both directions.
	require.Equal(t, uint64(2), testenv.DecodeInto[msgAck](t, bob.emit("message", map[string]any{"recipientId": "alice", "content": "hi"})).Seq)
	carol.none("new-message", 100*time.Millisecond)

	news.emit("message", map[string]any{"content": "breaking"})
	for _, c := range []*tclient{alice, bob, bob2, carol, news} {
		for {
			m := testenv.DecodeInto[realtime.Message](t, c.next("new-message"))
			if m.Content == "breaking" {
				require.Empty(t, m.RoomID)
				require.Empty(t, m.RecipientID)
				break
			}
		}
	}
}

func TestIdempotentSend(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	first := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "once", "clientMsgId": "k1"}))
	retry := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "once", "clientMsgId": "k1"}))
	require.Equal(t, first.ID, retry.ID)
	require.Equal(t, first.Seq, retry.Seq)
	bob.next("new-message")
	bob.none("new-message", 150*time.Millisecond)
}

func TestTyping(t *testing.T) {
	env := newTestHub(t, realtime.Config{TypingTimeout: 100 * time.Millisecond})
	alice, bob, carol := env.dial("alice"), env.dial("bob"), env.dial("carol")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	other := carol.createRoom("elsewhere", nil)

	type typing struct {
		RoomID, UserID, Username string
		IsTyping                 bool
	}
	alice.emit("typing", map[string]any{"roomId": room.ID, "isTyping": true})
	require.Equal(t, typing{room.ID, "alice", "Alice", true}, testenv.DecodeInto[typing](t, bob.next("user-typing")))
	// Nobody stopped it: the hub does, after the timeout.
	require.Equal(t, typing{room.ID, "alice", "Alice", false}, testenv.DecodeInto[typing](t, bob.next("user-typing")))
	alice.none("user-typing", 50*time.Millisecond) // never echoed to the typist
	carol.none("user-typing", 10*time.Millisecond) // nor outside the room

	// Sending a message ends typing.
	alice.emit("typing", map[string]any{"roomId": room.ID, "isTyping": true})
	require.True(t, testenv.DecodeInto[typing](t, bob.next("user-typing")).IsTyping)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "done"})
	require.False(t, testenv.DecodeInto[typing](t, bob.next("user-typing")).IsTyping)

	alice.emitErr(realtime.CodeForbidden, "typing", map[string]any{"roomId": other.ID, "isTyping": true})
	alice.emitErr(realtime.CodeInvalid, "typing", map[string]any{"roomId": room.ID, "isTyping": "yes"})
	h := testenv.DecodeInto[struct{ Messages []realtime.Message }](t, bob.emit("get-history", map[string]any{"roomId": room.ID}))
	require.Len(t, h.Messages, 1, "typing is never stored")
}

func TestHistory(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxMessagesPerMinute: -1})
	alice := env.dial("alice")
	room := alice.createRoom("r", nil)
	var ids []string
	for i := range 12 {
		ids = append(ids, testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})).ID)
	}
	type history struct {
		Messages []realtime.Message
		HasMore  bool
	}
	contents := func(h history) (out []string) {
		for _, m := range h.Messages {
			out = append(out, m.Content)
		}
		return out
	}
	latest := testenv.DecodeInto[history](t, alice.emit("get-history", map[string]any{"roomId": room.ID, "limit": 5}))
	require.Equal(t, []string{"7", "8", "9", "10", "11"}, contents(latest))
	require.True(t, latest.HasMore)
	before := testenv.DecodeInto[history](t, alice.emit("get-history", map[string]any{"roomId": room.ID, "before": ids[7], "limit": 5}))
	require.Equal(t, []string{"2", "3", "4", "5", "6"}, contents(before))
	require.True(t, before.HasMore)
	first := testenv.DecodeInto[history](t, alice.emit("get-history", map[string]any{"roomId": room.ID, "before": ids[2], "limit": 5}))
	require.Equal(t, []string{"0", "1"}, contents(first))
	require.False(t, first.HasMore)
	after := testenv.DecodeInto[history](t, alice.emit("get-history", map[string]any{"roomId": room.ID, "after": ids[8]}))
	require.Equal(t, []string{"9", "10", "11"}, contents(after))
	require.False(t, after.HasMore)

	alice.emitErr(realtime.CodeInvalid, "get-history", map[string]any{"roomId": room.ID, "limit": 201})
	alice.emitErr(realtime.CodeInvalid, "get-history", map[string]any{"roomId": room.ID, "before": ids[1], "after": ids[2]})
	alice.emitErr(realtime.CodeNotFound, "get-history", map[string]any{"roomId": room.ID, "before": "m_unknown"})
	alice.emitErr(realtime.CodeNotFound, "get-history", map[string]any{"roomId": "r_unknown"})
	other := alice.createRoom("other", nil)
	alice.emitErr(realtime.CodeNotFound, "get-history", map[string]any{"roomId": other.ID, "before": ids[3]})
	empty := testenv.DecodeInto[history](t, alice.emit("get-history", map[string]any{"roomId": other.ID}))
	require.NotNil(t, empty.Messages)
	require.Empty(t, empty.Messages)
}

func TestMessageRateLimit(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxMessagesPerMinute: 5})
	alice := env.dial("alice")
	alice2 := env.dial("alice") // the budget is the user's, across connections
	room := alice.createRoom("r", nil)
	alice2.emit("join-room", map[string]any{"roomId": room.ID})
	for i := range 5 {
		c := []*tclient{alice, alice2}[i%2]
		c.emit("message", map[string]any{"roomId": room.ID, "content": "x"})
	}
	alice.emitErr(realtime.CodeRateLimited, "message", map[string]any{"roomId": room.ID, "content": "x"})
	alice2.emitErr(realtime.CodeRateLimited, "message", map[string]any{"roomId": room.ID, "content": "x"})
	// Other events are still served.
	alice.emit("list-rooms", nil)
}

func TestFloodClosesWith4008(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxEventsPerSecond: 5})
	r := env.raw("mallory")
	bystander := env.dial("bob")
	// Far more events than the budget: each refused one is a strike, and
	// sustained abuse ends the connection.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		for i := 0; i < 1000 && ctx.Err() == nil; i++ {
			if r.WS.Write(ctx, websocket.MessageText, []byte(`{"event":"list-rooms","ack":1}`)) != nil {
				return
			}
		}
	}()
	require.Equal(t, websocket.StatusCode(realtime.StatusRateLimited), closeStatus(t, r.WS))
	bystander.emit("list-rooms", nil)
}

// TestFanoutEveryMessageOnceInOrder: 40 clients each send 80 messages into
// one room; every member receives all 3,200 exactly once, in seq order.
func TestFanoutEveryMessageOnceInOrder(t *testing.T) {
	const clients, perClient = 40, 80
	env := newTestHub(t, realtime.Config{MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
	owner := env.dial("u0")
	room := owner.createRoom("busy", nil)
	members := []*tclient{owner}
	for i := 1; i < clients; i++ {
		c := env.dial(fmt.Sprintf("u%d", i))
		c.emit("join-room", map[string]any{"roomId": room.ID})
		members = append(members, c)
	}

	var wg sync.WaitGroup
	received := make([][]realtime.Message, clients)
	for i, c := range members {
		wg.Go(func() {
			timeout := time.After(2 * time.Minute)
			for len(received[i]) < clients*perClient {
				select {
				case ev := <-c.Events():
					if ev.Name == "new-message" {
						var m realtime.Message
						if json.Unmarshal(ev.Data, &m) == nil {
							received[i] = append(received[i], m)
						}
					}
				case <-timeout:
					return
				}
			}
		})
	}
	var senders sync.WaitGroup
	for i, c := range members {
		senders.Go(func() {
			for j := range perClient {
				_, err := c.Emit(context.Background(), "message", map[string]any{"roomId": room.ID, "content": fmt.Sprintf("%d/%d", i, j)})
				if err != nil {
					t.Errorf("send %d/%d: %v", i, j, err)
					return
				}
			}
		})
	}
	senders.Wait()
	wg.Wait()
	for i, msgs := range received {
		require.Len(t, msgs, clients*perClient, "member %d", i)
		lastFrom := make(map[string]int)
		for k, m := range msgs {
			require.Equal(t, uint64(k+1), m.Seq, "member %d: message %d out of order or duplicated", i, k)
			var from, n int
			_, err := fmt.Sscanf(m.Content, "%d/%d", &from, &n)
			require.NoError(t, err)
			key := fmt.Sprint(from)
			if prev, ok := lastFrom[key]; ok {
				require.Equal(t, prev+1, n, "member %d: sender %d's messages out of order", i, from)
			}
			lastFrom[key] = n
		}
	}
}

// TestSlowConsumerClosed: a member that stops reading is closed with 4009
// while the others receive every message.
func TestSlowConsumerClosed(t *testing.T) {
	var mu sync.Mutex
	codes := map[string]realtime.StatusCode{}
	// The queue holds 4 MiB: far less than the 24 MB flood past what the
	// kernel buffers for the stalled member (its receive buffer is
	// testenv.RawReadBuffer, its send buffer at most 4 MB), and room enough
	// for bob, who reads, to fall 500 messages behind on a loaded machine
	// without being closed himself (at 256 KiB he once was). The write
	// stalled since the flood began must not time out before the test
	// reads the close: the flood took 50 s under -race on a loaded
	// machine, so WriteTimeout is far longer than that.
	env := newTestHub(t, realtime.Config{
		MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1, MaxMessageLength: 8000,
		SendQueueBytes: 4 << 20, WriteTimeout: 5 * time.Minute,
		OnDisconnect: func(_ context.Context, e realtime.DisconnectEvent) {
			mu.Lock()
			codes[e.User.ID] = e.Code
			mu.Unlock()
		},
	})
	slow := floodPastReader(t, env, "slow")
	mu.Lock()
	require.NotContains(t, codes, "bob", "the member who reads stayed connected")
	mu.Unlock()
	// When it reads again, it finds what the kernel had buffered, then the
	// 4009 close.
	require.Equal(t, websocket.StatusCode(realtime.StatusTooSlow), closeStatus(t, slow.WS))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return codes["slow"] == realtime.StatusTooSlow
	}, 10*time.Second, 20*time.Millisecond)
}

// TestStuckWriteTimesOut: a member that stops reading while its send queue
// still has room is cut off once one write has waited WriteTimeout.
func TestStuckWriteTimesOut(t *testing.T) {
	gone := make(chan realtime.StatusCode, 1)
	env := newTestHub(t, realtime.Config{
		MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1, MaxMessageLength: 8000,
		SendQueueBytes: 64 << 20, WriteTimeout: 300 * time.Millisecond,
		OnDisconnect: func(_ context.Context, e realtime.DisconnectEvent) {
			if e.User.ID == "stuck" {
				gone <- e.Code
			}
		},
	})
	floodPastReader(t, env, "stuck")
	select {
	case code := <-gone:
		require.NotEqual(t, realtime.StatusTooSlow, code, "the queue never overflowed: the write timed out")
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck connection was not cut off")
	}
}

// floodPastReader joins user (a raw connection that then stops reading) and
// bob to a room, sends 24 MB into it, more than the kernel's socket buffers
// can hide, and requires that bob, who keeps reading, receives all of it.
func floodPastReader(t *testing.T, env *testEnv, user string) *testenv.Raw {
	t.Helper()
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	stalled := env.raw(user)
	stalled.Write(`{"event":"join-room","data":{"roomId":"` + room.ID + `"},"ack":1}`)
	require.Equal(t, uint64(1), stalled.Read().Ack)

	const n = 3000
	content := strings.Repeat("x", 8000)
	received := make(chan int)
	go func() {
		got := 0
		for got < n {
			select {
			case ev := <-bob.Events():
				if ev.Name == "new-message" {
					got++
				}
			case <-time.After(30 * time.Second):
				received <- got
				return
			}
		}
		received <- got
	}()
	for range n {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": content})
	}
	require.Equal(t, n, <-received, "the member who reads received every message")
	return stalled
}

// countingStore counts the GetMember calls of the hub.
type countingStore struct {
	realtime.Store
	getMember atomic.Int64
}

func (s *countingStore) GetMember(ctx context.Context, roomID, userID string) (realtime.Member, error) {
	s.getMember.Add(1)
	return s.Store.GetMember(ctx, roomID, userID)
}

// TestStoreChecksSenders: the hub leaves the sender check of a plain
// message to the Store (MessageStore.SaveMessage): no lookup before the
// save, and non-members are refused all the same.
func TestStoreChecksSenders(t *testing.T) {
	counting := &countingStore{Store: realtime.NewMemoryStore(realtime.MemoryOptions{})}
	env := newTestHub(t, realtime.Config{Store: counting})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	before := counting.getMember.Load()
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "hi"})
	require.Equal(t, int64(0), counting.getMember.Load()-before, "GetMember calls for one message")
	bob.emitErr(realtime.CodeForbidden, "message", map[string]any{"roomId": room.ID, "content": "let me in"})
}
