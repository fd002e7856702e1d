package realtime

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/adapter"
)

// orderAdapter is an in-process broker, recording the seq of every
// publication in the order Publish is called; with hang set, Publish
// blocks until its context ends, as a networked broker whose link hangs.
type orderAdapter struct {
	localBroker
	localPresence
	hang bool
	mu   sync.Mutex
	seqs []uint64
}

func (a *orderAdapter) Publish(ctx context.Context, ch adapter.Channel, payload []byte) error {
	p, err := decodeEnvelope(payload)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.seqs = append(a.seqs, p.Seq)
	a.mu.Unlock()
	if a.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return a.localBroker.Publish(ctx, ch, payload)
}

// gatedStore is the memory store, except that a message whose content is
// "slow" is held after it is saved until release closes, and one whose
// content is "panic" panics: a custom Store with a bug.
type gatedStore struct {
	Store
	release chan struct{}
}

func (s *gatedStore) SaveMessage(ctx context.Context, m Message) (Message, bool, error) {
	switch m.Content {
	case "slow":
		saved, dup, err := s.Store.SaveMessage(ctx, m)
		<-s.release
		return saved, dup, err
	case "panic":
		panic("store bug")
	}
	return s.Store.SaveMessage(ctx, m)
}

func directMessage(content string) Message {
	return Message{ID: newID("m"), RecipientID: "bob", SenderID: "alice", Content: content, Type: TypeText, CreatedAt: now()}
}

// TestSendOrderSurvivesAPanickingSave: a send that panics in the Store ends
// its turn, but the sends after it still publish after the ones before it.
func TestSendOrderSurvivesAPanickingSave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ad := &orderAdapter{}
		st := &gatedStore{Store: NewMemoryStore(MemoryOptions{}), release: make(chan struct{})}
		h := quietHub(t, Config{Broker: ad, Store: st, MaxMessagesPerMinute: -1})
		var wg sync.WaitGroup
		send := func(content string) {
			wg.Go(func() {
				defer func() { _ = recover() }()
				_, _ = h.storeAndPublish(context.Background(), directMessage(content))
			})
			synctest.Wait()
		}
		send("slow")  // seq 1, held in the store
		send("next")  // seq 2, waits for the first
		send("panic") // ends its turn without a seq
		close(st.release)
		wg.Wait()
		// A direct message goes to both users' channels.
		require.Equal(t, []uint64{1, 1, 2, 2}, ad.seqs)
	})
}

// TestSendsStopWaitingWhenCancelled: sends queued behind a publish that
// hangs give up waiting once their context ends, rather than each waiting
// out the one before it.
func TestSendsStopWaitingWhenCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ad := &orderAdapter{hang: true}
		h := quietHub(t, Config{Broker: ad, MaxMessagesPerMinute: -1})
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { _, _ = h.storeAndPublish(ctx, directMessage("x")) })
			synctest.Wait()
		}
		start := time.Now()
		cancel()
		wg.Wait()
		// Each publish gives the adapter 10 s (its own deadline, not the
		// sender's); after the cancel every queued send publishes at once,
		// so all are done within one such deadline, not four.
		require.LessOrEqual(t, time.Since(start), 10*time.Second)
	})
}
