package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/internal/wire"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// TestPipelinedSends: one connection sends 1,000 messages without waiting
// for their acks (one of them a retry of the one before, by clientMsgId),
// then edits a message, sends one more, leaves the room and sends again.
// Every ack comes in the order sent, with increasing seqs (the retry's is
// its original's); the member receives every message once, in order, then
// the edit, the last message and the leave; history holds each message
// once; and the message sent after leaving is refused. On the memory,
// SQLite and PostgreSQL stores.
func TestPipelinedSends(t *testing.T) {
	forEachStore(t, func(t *testing.T, store realtime.Store) {
		env := newTestHub(t, realtime.Config{Store: store, MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
		checkPipelinedSends(t, env, env, store, 1000)
	})
}

// forEachStore runs fn as a subtest on a fresh memory, SQLite and
// PostgreSQL store.
func forEachStore(t *testing.T, fn func(t *testing.T, store realtime.Store)) {
	stores := map[string]func(t *testing.T) realtime.Store{
		"memory": func(*testing.T) realtime.Store {
			return realtime.NewMemoryStore(realtime.MemoryOptions{HistorySize: 2000})
		},
		"sqlite": func(t *testing.T) realtime.Store {
			return sqlStore(t, sqlstore.SQLite, testenv.SQLiteDSN(filepath.Join(t.TempDir(), "rt.db")))
		},
		"postgres": func(t *testing.T) realtime.Store {
			return sqlStore(t, sqlstore.Postgres, testenv.PostgresSchema(t, ""))
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
}

// TestPipelinedSendsRetried: a connection pipelines 300 messages and drops
// without reading an ack; a new connection sends them all again with the
// same clientMsgIds. Its acks come in order with increasing seqs (those
// stored before keep theirs), and history holds each message once, in the
// order sent.
func TestPipelinedSendsRetried(t *testing.T) {
	forEachStore(t, func(t *testing.T, store realtime.Store) {
		const n = 300
		env := newTestHub(t, realtime.Config{Store: store, MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
		room, err := env.hub.CreateRoom(context.Background(), realtime.User{ID: "alice"}, realtime.RoomOptions{Name: "retry"})
		require.NoError(t, err)
		send := func(r *testenv.Raw) {
			for i := 1; i <= n; i++ {
				r.Write(fmt.Sprintf(`{"event":"message","data":{"roomId":%q,"content":"m%d","clientMsgId":"c%d"},"ack":%d}`, room.ID, i, i, i))
			}
		}
		first := env.raw("alice")
		send(first)
		first.WS.CloseNow()

		again := env.raw("alice")
		send(again)
		var last uint64
		for i := uint64(1); i <= n; i++ {
			f := nextReply(t, again)
			require.Equal(t, i, f.Ack, "acks out of order")
			require.Nil(t, f.Error, "ack %d", i)
			m := testenv.DecodeInto[realtime.Message](t, f.Data)
			require.Greater(t, m.Seq, last, "ack %d", i)
			last = m.Seq
		}
		hist, more, err := store.History(context.Background(), realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 2 * n})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, n, len(hist), "each message once")
		for i, m := range hist {
			require.Equal(t, fmt.Sprint("m", i+1), m.Content)
			require.Equal(t, uint64(i+1), m.Seq)
		}
	})
}

// TestPipelinedSendsManyConnections: 12 connections pipeline 60 messages
// each, round by round, alternating between a room they share and a room
// of their own, so that the SQL stores' committers save them side by side.
// Each connection's acks come in the order sent, with increasing seqs in
// each room; each room's history holds every acked message once, with the
// seq of its ack, gap-free, and each sender's in the order sent.
func TestPipelinedSendsManyConnections(t *testing.T) {
	forEachStore(t, func(t *testing.T, store realtime.Store) {
		const conns, n = 12, 60
		ctx := context.Background()
		env := newTestHub(t, realtime.Config{Store: store, MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
		shared, err := env.hub.CreateRoom(ctx, realtime.User{ID: "u0"}, realtime.RoomOptions{Name: "shared"})
		require.NoError(t, err)
		own := make([]string, conns)
		raws := make([]*testenv.Raw, conns)
		for c := range conns {
			u := realtime.User{ID: fmt.Sprint("u", c)}
			if c > 0 {
				_, err = env.hub.AddMember(ctx, shared.ID, realtime.UserRef{ID: u.ID}, "")
				require.NoError(t, err)
			}
			room, err := env.hub.CreateRoom(ctx, u, realtime.RoomOptions{Name: u.ID})
			require.NoError(t, err)
			own[c] = room.ID
			raws[c] = env.raw(u.ID)
		}
		roomOf := func(c, i int) string { // send i of connection c
			if i%2 == 0 {
				return shared.ID
			}
			return own[c]
		}
		for i := range n { // round by round: the connections' hubs store side by side
			for c, r := range raws {
				data := fmt.Sprintf(`{"roomId":%q,"content":"u%d m%d","clientMsgId":"u%d-%d"}`, roomOf(c, i), c, i, c, i)
				r.Write(string(wire.AppendClient(nil, "message", []byte(data), uint64(i+1))))
			}
		}
		type sent struct {
			room    string
			content string
			seq     uint64
		}
		acked := map[string]sent{} // by message id
		for c, r := range raws {
			last := map[string]uint64{}
			for i := range n {
				f := nextReply(t, r)
				require.Equal(t, uint64(i+1), f.Ack, "acks of u%d out of order", c)
				require.Nil(t, f.Error, "ack %d of u%d", i+1, c)
				a := testenv.DecodeInto[struct {
					ID          string
					Seq         uint64
					ClientMsgID string
				}](t, f.Data)
				require.Equal(t, fmt.Sprintf("u%d-%d", c, i), a.ClientMsgID)
				room := roomOf(c, i)
				require.Greater(t, a.Seq, last[room], "seqs of u%d in room %s", c, room)
				last[room] = a.Seq
				acked[a.ID] = sent{room, fmt.Sprintf("u%d m%d", c, i), a.Seq}
			}
		}
		require.Len(t, acked, conns*n, "a message id per send")
		for _, room := range append([]string{shared.ID}, own...) {
			hist, more, err := store.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room), Limit: conns * n})
			require.NoError(t, err)
			require.False(t, more)
			want := n / 2
			if room == shared.ID {
				want = conns * n / 2
			}
			require.Len(t, hist, want, "room %s holds each message once", room)
			next := map[string]int{} // sender → index of its next send to the room
			for i, m := range hist {
				require.Equal(t, uint64(i+1), m.Seq, "seqs of room %s have no gap", room)
				require.Equal(t, sent{room, m.Content, m.Seq}, acked[m.ID], "history has what was acked")
				var c, k int
				_, err := fmt.Sscanf(m.Content, "u%d m%d", &c, &k)
				require.NoError(t, err)
				require.GreaterOrEqual(t, k, next[m.SenderID], "u%d's messages in the order sent", c)
				next[m.SenderID] = k + 1
			}
		}
	})
}

// TestPipelinedSendsAcrossNodes: as TestPipelinedSends, the sender on one
// node and the member on another, over Redis and one PostgreSQL.
func TestPipelinedSendsAcrossNodes(t *testing.T) {
	rc := newRedisCluster(t)
	store := rc.store()
	a, b := rc.node(realtime.Config{Store: store}, ""), rc.node(realtime.Config{}, "")
	checkPipelinedSends(t, a, b, store, 1000)
}

// checkPipelinedSends runs the scenario of TestPipelinedSends: alice
// pipelines n sends on a raw connection to from, bob is a member on to.
func checkPipelinedSends(t *testing.T, from, to *testEnv, store realtime.Store, n int) {
	ctx := context.Background()
	room, err := from.hub.CreateRoom(ctx, realtime.User{ID: "alice"}, realtime.RoomOptions{Name: "pipe"})
	require.NoError(t, err)
	_, err = from.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: "bob"}, "")
	require.NoError(t, err)
	bob := to.dial("bob")
	bob.emit("join-room", map[string]any{"roomId": room.ID})

	alice := from.raw("alice")
	write := func(ack uint64, event string, data any) {
		b, err := json.Marshal(data)
		require.NoError(t, err)
		alice.Write(string(wire.AppendClient(nil, event, b, ack)))
	}
	// The message to edit later, acked before the pipeline starts.
	write(1, "message", map[string]any{"roomId": room.ID, "content": "first"})
	first := testenv.DecodeInto[realtime.Message](t, nextAck(t, alice, 1))

	// Sends 2..n+1; send dup (n/2+1) retries the one before it.
	dup := uint64(n/2 + 1)
	for i := uint64(2); i <= uint64(n)+1; i++ {
		cid := fmt.Sprint("c", i)
		if i == dup {
			cid = fmt.Sprint("c", i-1)
		}
		write(i, "message", map[string]any{"roomId": room.ID, "content": fmt.Sprint("m", i), "clientMsgId": cid})
	}
	edit, last, leave, refused := uint64(n)+2, uint64(n)+3, uint64(n)+4, uint64(n)+5
	write(edit, "edit-message", map[string]any{"messageId": first.ID, "content": "edited"})
	write(last, "message", map[string]any{"roomId": room.ID, "content": "last"})
	write(leave, "leave-room", map[string]any{"roomId": room.ID})
	write(refused, "message", map[string]any{"roomId": room.ID, "content": "too late"})

	// Acks come in the order sent.
	type ack struct {
		ID  string
		Seq uint64
	}
	acks := map[uint64]ack{}
	for i := uint64(2); i <= refused; i++ {
		f := nextReply(t, alice)
		require.Equal(t, i, f.Ack, "acks out of order")
		switch i {
		case edit, leave:
			require.Nil(t, f.Error, "ack %d", i)
		case refused:
			require.NotNil(t, f.Error, "a message sent after leaving")
			require.Equal(t, string(realtime.CodeForbidden), f.Error.Code)
		default:
			require.Nil(t, f.Error, "ack %d", i)
			acks[i] = testenv.DecodeInto[ack](t, f.Data)
		}
	}
	want := []uint64{1} // the seqs the room holds, in order
	for i := uint64(2); i <= uint64(n)+1; i++ {
		if i == dup {
			require.Equal(t, acks[i-1], acks[i], "the retry's ack is its original's")
			continue
		}
		require.Equal(t, want[len(want)-1]+1, acks[i].Seq, "seq of send %d", i)
		want = append(want, acks[i].Seq)
	}
	require.Equal(t, want[len(want)-1]+1, acks[last].Seq)

	// Bob receives every message once, in order, then the edit, the last
	// message and the leave.
	seen := []uint64{testenv.DecodeInto[realtime.Message](t, nextInRoom(t, bob, "new-message")).Seq}
	require.Equal(t, first.Seq, seen[0])
	for range n - 1 {
		m := testenv.DecodeInto[realtime.Message](t, nextInRoom(t, bob, "new-message"))
		require.Equal(t, seen[len(seen)-1]+1, m.Seq, "delivered out of order or twice")
		seen = append(seen, m.Seq)
	}
	require.Equal(t, want, seen)
	edited := testenv.DecodeInto[realtime.Message](t, nextInRoom(t, bob, "message-edited"))
	require.Equal(t, first.ID, edited.ID, "the edit comes after the messages sent before it")
	require.Equal(t, acks[last].Seq, testenv.DecodeInto[realtime.Message](t, nextInRoom(t, bob, "new-message")).Seq)
	left := testenv.DecodeInto[struct{ User realtime.UserRef }](t, nextInRoom(t, bob, "user-left"))
	require.Equal(t, "alice", left.User.ID)

	// History holds each message once, in order.
	hist, more, err := store.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: n + 10})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, n+1, len(hist), "first, n-1 distinct sends, last")
	require.Equal(t, "edited", hist[0].Content)
	for i, m := range hist {
		require.Equal(t, uint64(i+1), m.Seq)
	}
	require.Equal(t, "last", hist[n].Content)
	_, err = store.GetMember(ctx, room.ID, "alice")
	require.ErrorIs(t, err, realtime.ErrNotFound, "alice left")
}

// TestPipelinedSendsKeepBudgets: a connection that pipelines more messages
// than its budget gets its acks in order, the ones over the budget refused
// as rate limited. On the SQL stores the saves are slow enough that the
// refusals are queued behind stored messages in the connection's pipe; on
// the memory store they are answered at once.
func TestPipelinedSendsKeepBudgets(t *testing.T) {
	forEachStore(t, testPipelinedSendsKeepBudgets)
}

func testPipelinedSendsKeepBudgets(t *testing.T, store realtime.Store) {
	env := newTestHub(t, realtime.Config{Store: store, MaxMessagesPerMinute: 5, MaxEventsPerSecond: -1})
	room, err := env.hub.CreateRoom(context.Background(), realtime.User{ID: "alice"}, realtime.RoomOptions{Name: "budget"})
	require.NoError(t, err)
	alice := env.raw("alice")
	for i := 1; i <= 10; i++ {
		alice.Write(fmt.Sprintf(`{"event":"message","data":{"roomId":%q,"content":"m%d"},"ack":%d}`, room.ID, i, i))
	}
	var seq uint64
	for i := uint64(1); i <= 10; i++ {
		f := nextReply(t, alice)
		require.Equal(t, i, f.Ack)
		if i > 5 {
			require.NotNil(t, f.Error, "ack %d", i)
			require.Equal(t, string(realtime.CodeRateLimited), f.Error.Code)
			continue
		}
		require.Nil(t, f.Error, "ack %d", i)
		m := testenv.DecodeInto[realtime.Message](t, f.Data)
		require.Equal(t, seq+1, m.Seq)
		seq = m.Seq
	}
}

// nextReply returns the next reply on r, skipping pushes.
func nextReply(t *testing.T, r *testenv.Raw) wire.ServerFrame {
	t.Helper()
	for {
		if f := r.Read(); f.Ack != 0 {
			return f
		}
	}
}

// nextAck returns the data of the successful reply ack on r.
func nextAck(t *testing.T, r *testenv.Raw, ack uint64) json.RawMessage {
	t.Helper()
	f := nextReply(t, r)
	require.Equal(t, ack, f.Ack)
	require.Nil(t, f.Error)
	return f.Data
}

// nextInRoom returns the data of c's next push among new-message,
// message-edited and user-left, requiring that it is want; other pushes are
// skipped.
func nextInRoom(t *testing.T, c *tclient, want string) json.RawMessage {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			require.True(t, ok, "client closed while waiting for %s", want)
			switch ev.Name {
			case "new-message", "message-edited", "user-left":
				require.Equal(t, want, ev.Name, "%s", ev.Data)
				return ev.Data
			}
		case <-timeout:
			t.Fatalf("no %s event within 10s", want)
		}
	}
}
