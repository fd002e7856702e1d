package realtime

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/realtime-go/realtime/adapter"
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
		if i%256 == 255 { // the writers' part: take the queue, hand back the slice
			b.StopTimer()
			for _, c := range conns {
				batch, _, _ := c.take()
				clear(batch)
				c.spare = batch[:0]
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
}

// newFanoutHub returns a hub with a room "r" of n subscribed connections that
// have no socket: their queues fill and nothing writes them (stopped: no
// writer starts).
func newFanoutHub(tb testing.TB, n int) (*Hub, []*conn) {
	h, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), SendQueueBytes: 64 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	conns := make([]*conn, n)
	for i := range conns {
		c := &conn{hub: h, id: "c" + strconv.Itoa(i), ctx: context.Background(), stopped: true, rooms: map[string]struct{}{}}
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
				batch, _, _ := c.take()
				c.spare = batch[:0]
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
