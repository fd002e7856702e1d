package realtime

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
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

// lateSave is the memory store, except that the message "first" waits for
// release before the store numbers it.
type lateSave struct {
	Store
	release chan struct{}
}

func (s *lateSave) SaveMessage(ctx context.Context, m Message) (Message, bool, error) {
	if m.Content == "first" {
		<-s.release
	}
	return s.Store.SaveMessage(ctx, m)
}

// holdAdapter is an in-process broker that holds the room publication of
// seq hold until release closes: a publisher that stalls.
type holdAdapter struct {
	localBroker
	localPresence
	hold    uint64
	release chan struct{}
}

func (a *holdAdapter) Publish(ctx context.Context, ch adapter.Channel, payload []byte) error {
	if p, err := decodeEnvelope(payload); err == nil && ch.Kind == adapter.ChannelRoom && p.Seq == a.hold {
		<-a.release
	}
	return a.localBroker.Publish(ctx, ch, payload)
}

// TestTurnOrderIsNotSeqOrder: sends take their turns before the Store
// numbers them, so the message of an earlier turn may be numbered after
// later ones and be published first, long before them. The room's
// subscribers still get every message, in seq order, even when the Store
// has dropped the earlier ones from its history meanwhile: the repair of
// the gap waits for this node's sends that had their turn.
func TestTurnOrderIsNotSeqOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &lateSave{Store: NewMemoryStore(MemoryOptions{HistorySize: 3}), release: make(chan struct{})}
		ad := &holdAdapter{hold: 1, release: make(chan struct{})}
		h := quietHub(t, Config{Broker: ad, Store: st})
		ctx := context.Background()
		owner := User{ID: "olga", Username: "olga"}
		room, err := h.CreateRoom(ctx, owner, RoomOptions{Name: "turns"})
		require.NoError(t, err)
		sub, err := h.Subscribe(ctx, owner, room.ID, SubscribeOptions{})
		require.NoError(t, err)
		defer sub.Close()

		var wg sync.WaitGroup
		post := func(content string) {
			wg.Go(func() {
				_, err := h.PostMessage(ctx, PostOptions{RoomID: room.ID, Content: content})
				assert.NoError(t, err)
			})
			synctest.Wait()
		}
		post("first") // the first turn, numbered last (7)
		want := []string{"second", "m3", "m4", "m5", "m6", "m7"}
		for _, content := range want {
			post(content) // seqs 1 to 6; the store keeps 4 to 6 only
		}
		close(st.release)
		// 7 is published and held by the subscriber's node for the gap
		// before it; 1's publication stalls behind a slow broker, for far
		// longer than a repair used to wait before it skipped the gap (some
		// 200 ms) but within the repair's bound (StoreTimeout, 10 s).
		time.Sleep(5 * time.Second)
		close(ad.release)
		wg.Wait()

		want = append(want, "first")
		var got []string
		for len(got) < len(want) {
			select {
			case ev := <-sub.Events():
				if ev.Event == "new-message" {
					var m Message
					require.NoError(t, json.Unmarshal(ev.Data, &m))
					got = append(got, m.Content)
				}
			case <-time.After(time.Minute):
				require.Equal(t, want, got, "messages missing")
			}
		}
		require.Equal(t, want, got)
	})
}
