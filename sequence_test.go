package realtime_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter/memadapter"
	"github.com/realtime-go/realtime/internal/testenv"
)

// lossyAdapter loses the room publications its drop function picks, as a
// pub/sub link that blinks would, and lets the test announce a resync.
type lossyAdapter struct {
	realtime.Adapter
	drop    func(realtime.Publication) bool
	mu      sync.Mutex
	deliver func(realtime.Channel, realtime.Publication)
}

func (a *lossyAdapter) Start(ctx context.Context, deliver func(realtime.Channel, realtime.Publication)) error {
	a.mu.Lock()
	a.deliver = deliver
	a.mu.Unlock()
	return a.Adapter.Start(ctx, func(ch realtime.Channel, p realtime.Publication) {
		if ch.Kind == realtime.ChannelRoom && a.drop(p) {
			return
		}
		deliver(ch, p)
	})
}

func (a *lossyAdapter) resync() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deliver(realtime.Channel{Kind: realtime.ChannelGlobal}, realtime.Publication{Op: realtime.OpResync})
}

// TestGapsAreRepairedFromStore: node B loses some of a room's messages on
// the way; its members still get every one, once, in seq order.
func TestGapsAreRepairedFromStore(t *testing.T) {
	bus := memadapter.NewBus()
	store := realtime.NewMemoryStore(realtime.MemoryOptions{})
	lost := map[uint64]bool{3: true, 4: true, 9: true, 12: true}
	lossy := &lossyAdapter{Adapter: bus.Node(), drop: func(p realtime.Publication) bool { return lost[p.Seq] }}
	a := newTestHub(t, realtime.Config{Store: store, Adapter: bus.Node(), MaxMessagesPerMinute: -1})
	b := newTestHub(t, realtime.Config{Store: store, Adapter: lossy, MaxMessagesPerMinute: -1})

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
