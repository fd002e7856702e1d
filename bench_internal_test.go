package realtime

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/internal/wire"
)

// BenchmarkRoomFanout1000 measures the hub's fan-out path without sockets:
// one message encoded and published to a room of 1,000 subscribed
// connections, each getting it on its send queue. Reported per delivered
// message; allocations are per published message, so a result near the
// encoding's own allocations shows that recipients cost none.
func BenchmarkRoomFanout1000(b *testing.B) {
	const members = 1000
	h, conns := newFanoutHub(b, members)
	msg := Message{ID: "m_1", RoomID: "r", SenderID: "u1", Sender: UserRef{ID: "u1", Username: "ada"},
		Content: "a message of about one hundred bytes, as the benchmarks of the performance issue use", Type: TypeText, CreatedAt: now()}
	ctx := context.Background()
	ch := adapter.Room("r")

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		msg.Seq = uint64(i + 1)
		frame, err := encodePush("new-message", msg)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.publish(ctx, ch, publication{Frame: frame, Seq: msg.Seq}); err != nil {
			b.Fatal(err)
		}
		if i%256 == 255 { // the writers' part: empty the queue, keep its chunks
			b.StopTimer()
			for _, c := range conns {
				dropQueued(c)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
}

// newFanoutHub returns a hub with a room "r" of n subscribed connections that
// have no socket: their queues fill and nothing writes them (writing: a
// writer is said to run, so none starts).
func newFanoutHub(tb testing.TB, n int) (*Hub, []*conn) {
	h, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SendQueueBytes: 64 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	conns := make([]*conn, n)
	for i := range conns {
		c := &conn{hub: h, id: "c" + strconv.Itoa(i), ctx: context.Background(), writing: true, rooms: map[string]struct{}{}}
		conns[i] = c
		lr, _, _ := h.fan.open(c, "r")
		lr.seq.baselining = false
		h.fan.enter(c, "r", lr)
	}
	return h, conns
}

// TestFanoutAllocatesNothingPerRecipient: delivering one encoded frame to a
// room allocates the same whether it has 10 or 1,000 subscribers.
func TestFanoutAllocatesNothingPerRecipient(t *testing.T) {
	frame := []byte(`{"event":"new-message","data":{}}`)
	ch := adapter.Room("r")
	allocs := func(n int) float64 {
		h, conns := newFanoutHub(t, n)
		drain := func() {
			for _, c := range conns {
				dropQueued(c)
			}
		}
		// Warm the queues up to their working size first.
		for range 4 {
			h.deliver(ch, publication{Frame: frame})
		}
		drain()
		return testing.AllocsPerRun(100, func() {
			h.deliver(ch, publication{Frame: frame})
			h.deliver(ch, publication{Frame: frame})
			drain()
		})
	}
	if small, large := allocs(10), allocs(1000); large != small || large != 0 {
		t.Fatalf("allocations per delivery: %v with 10 subscribers, %v with 1000", small, large)
	}
}

// BenchmarkMentionCheck is what every room message pays to look for
// mentions: a message of about 100 bytes with quotes and emoji, without and
// with an @mention.
//
//	go test -run '^$' -bench MentionCheck -benchmem .
func BenchmarkMentionCheck(b *testing.B) {
	for name, content := range map[string]string{
		"without": `a "message" of about one hundred bytes \ é 😀, as users send them, with quotes and emoji, no mention`,
		"with":    `a "message" of about one hundred bytes \ é 😀, as users send them, for @bob and @carol.`,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = mentions(content)
			}
		})
	}
}

// TestMessagePathAllocations guards the path of a room message from the
// frame a connection reads to the frames queued for the room's members (on
// the memory store): its allocations do not grow with the room, content
// with what JSON escapes costs none more than plain text, and the whole
// path stays within nine (8 on 2026-12-06, 9 under -race: three strings read, the id, the
// stored copy, the push, the ack, the store's results).
func TestMessagePathAllocations(t *testing.T) {
	const escaped = `a \"message\" with \\ back\/slash, <b> \u0026 é 😀 \ud83d\ude00 and a\nnew line`
	plain := strings.Repeat("x", len(escaped))
	allocs := func(members int, content string) float64 {
		h, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SendQueueBytes: 64 << 20,
			MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1, MaxUsersPerRoom: members})
		require.NoError(t, err)
		t.Cleanup(func() { h.Close() })
		ctx := context.Background()
		owner := User{ID: "u0", Username: "ann"}
		room, err := h.CreateRoom(ctx, owner, RoomOptions{Name: "r"})
		require.NoError(t, err)
		conns := make([]*conn, members)
		for i := range conns {
			u := User{ID: "u" + strconv.Itoa(i)}
			if i > 0 {
				_, err := h.AddMember(ctx, room.ID, UserRef{ID: u.ID}, "")
				require.NoError(t, err)
			}
			c := &conn{hub: h, id: "c" + strconv.Itoa(i), ctx: ctx, writing: true, rooms: map[string]struct{}{}, user: u, authed: true}
			c.sends.changed.L = &c.sends.mu
			lr, _, _ := h.fan.open(c, room.ID)
			lr.seq.baselining = false
			h.fan.enter(c, room.ID, lr)
			conns[i] = c
		}
		frame := []byte(`{"event":"message","data":{"roomId":"` + room.ID + `","content":"` + content + `","clientMsgId":"c_0123456789"},"ack":7}`)
		drain := func() {
			for _, c := range conns {
				dropQueued(c)
			}
		}
		// What handleFrame and pipeSend do for a message while the pipe is
		// idle, without the switch to the pipe's goroutine that a slow
		// save (a GC pause, -race) makes.
		c := conns[0]
		send := func() {
			f, err := wire.DecodeClient(frame)
			require.NoError(t, err)
			s, err := h.prepareMessage(c.ctx, c, f.Ack, f.Data)
			require.NoError(t, err)
			c.sends.one[0] = s
			c.storeBatch(c.sends.one[:])
			c.sends.one[0] = pendingSend{}
			drain()
		}
		for range 50 { // warm the queues and the store's maps up
			send()
		}
		return testing.AllocsPerRun(2000, send)
	}
	small, large := allocs(10, plain), allocs(100, plain)
	withEscapes := allocs(10, escaped)
	t.Logf("allocations per message: %.1f in a room of 10, %.1f of 100, %.1f with escaped content", small, large, withEscapes)
	// The store's maps grow now and then: an average moves by one.
	require.InDelta(t, small, large, 1, "allocations grow with the room")
	require.InDelta(t, small, withEscapes, 1, "escaped content allocates more than plain text")
	bound := 8.0 // 7, and the store's maps now and then
	if raceEnabled {
		bound = 12 // the race detector's sync.Pool drops a quarter of what it is given
	}
	require.LessOrEqual(t, small, bound, "allocations per message")
}
