package realtime_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/adapter/memadapter"
	"github.com/realtime-go/realtime/internal/testenv"
)

// lossyAdapter loses the room publications its drop function picks, as a
// pub/sub link that blinks would, and lets the test announce a resync. The
// payloads are the hub's own: drop looks for a message's content in them.
type lossyAdapter struct {
	adapter.Adapter
	drop func(payload []byte) bool
	mu   sync.Mutex
	h    adapter.Handler
}

func (a *lossyAdapter) Start(ctx context.Context, h adapter.Handler) error {
	a.mu.Lock()
	a.h = h
	a.mu.Unlock()
	return a.Adapter.Start(ctx, adapter.Funcs{
		OnDeliver: func(ch adapter.Channel, p []byte) {
			if ch.Kind == adapter.ChannelRoom && a.drop(p) {
				return
			}
			h.Deliver(ch, p)
		},
		OnResync: h.Resync,
	})
}

func (a *lossyAdapter) resync() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.h.Resync()
}

// TestGapsAreRepairedFromStore: node B loses some of a room's messages on
// the way; its members still get every one, once, in seq order.
func TestGapsAreRepairedFromStore(t *testing.T) {
	bus := memadapter.NewBus()
	store := realtime.NewMemoryStore(realtime.MemoryOptions{})
	lossy := &lossyAdapter{Adapter: bus.Node(), drop: func(p []byte) bool {
		for _, lost := range []string{"3", "4", "9", "12"} {
			if bytes.Contains(p, []byte(`"content":"`+lost+`"`)) {
				return true
			}
		}
		return false
	}}
	a := newTestHub(t, realtime.Config{Store: store, Broker: bus.Node(), MaxMessagesPerMinute: -1})
	b := newTestHub(t, realtime.Config{Store: store, Broker: lossy, MaxMessagesPerMinute: -1})

	alice := a.dial("alice")
	room := alice.createRoom("r", nil)
	bob := b.dial("bob")
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	for i := 1; i <= 11; i++ {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})
	}
	for i := 1; i <= 11; i++ {
		m := testenv.DecodeInto[realtime.Message](t, bob.next("new-message"))
		require.Equal(t, uint64(i), m.Seq)
		require.Equal(t, fmt.Sprint(i), m.Content)
	}
	// The last message is lost and nothing follows it: the adapter's
	// resync after its link came back is what repairs it.
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "12"})
	bob.none("new-message", 100*time.Millisecond)
	lossy.resync()
	m := testenv.DecodeInto[realtime.Message](t, bob.next("new-message"))
	require.Equal(t, uint64(12), m.Seq)
	bob.none("new-message", 100*time.Millisecond)
}
