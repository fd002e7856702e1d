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

// lateSave is a Store whose message late waits for release before it is
// numbered.
type lateSave struct {
	Store
	late    string
	release chan struct{}
}

func (s *lateSave) SaveMessage(ctx context.Context, m Message) (Message, bool, error) {
	if m.Content == s.late {
		<-s.release
	}
	return s.Store.SaveMessage(ctx, m)
}

// holdAdapter is an in-process broker that holds the room publication of
// seq hold until release closes (a publisher that stalls), and loses that
// of seq drop (a link that blinked).
type holdAdapter struct {
	localBroker
	localPresence
	hold, drop uint64
	release    chan struct{}
}

func (a *holdAdapter) Publish(ctx context.Context, ch adapter.Channel, payload []byte) error {
	if p, err := decodeEnvelope(payload); err == nil && ch.Kind == adapter.ChannelRoom && p.Seq > 0 {
		switch p.Seq {
		case a.hold:
			<-a.release
		case a.drop:
			return nil
		}
	}
	return a.localBroker.Publish(ctx, ch, payload)
}

// forgetful is a lateSave whose history has none of a room's messages,
// or, with hang set, never answers.
type forgetful struct {
	lateSave
	hang bool
}

func (s *forgetful) History(ctx context.Context, q HistoryQuery) ([]Message, bool, error) {
	if q.AfterSeq == 0 {
		return s.Store.History(ctx, q) // a baseline, not a repair
	}
	if s.hang {
		<-ctx.Done()
		return nil, false, ctx.Err()
	}
	return nil, false, nil
}

// TestLostMessageIsSkippedInTime: a message the broker lost and the
// Store cannot give back is skipped, and the ones after it delivered,
// after a few tries, or at the latest after StoreTimeout when the Store
// does not answer; a send that took its turn after the gap was seen is
// not waited for, as it cannot fill it.
func TestLostMessageIsSkippedInTime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hang   bool
		within time.Duration
	}{
		{"store answers", false, time.Second},
		{"store hangs", true, defaultStoreTimeout + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &forgetful{lateSave: lateSave{Store: NewMemoryStore(MemoryOptions{}), late: "stuck", release: make(chan struct{})}, hang: tc.hang}
				h := quietHub(t, Config{Broker: &holdAdapter{drop: 2}, Store: st})
				room, next := watchRoom(t, h)
				post := func(content string) {
					_, err := h.PostMessage(context.Background(), PostOptions{RoomID: room, Content: content})
					require.NoError(t, err)
				}
				post("one")
				require.Equal(t, "one", next())
				post("two") // lost
				start := time.Now()
				post("three") // held for the gap
				var wg sync.WaitGroup
				wg.Go(func() { post("stuck") }) // a turn taken after the gap was seen
				synctest.Wait()
				require.Equal(t, "three", next())
				require.LessOrEqual(t, time.Since(start), tc.within)
				close(st.release)
				wg.Wait()
				require.Equal(t, "stuck", next())
			})
		})
	}
}

// watchRoom creates a room and subscribes its owner to it; next returns
// the content of the next message the subscription receives, or fails the
// test after a minute (in a synctest bubble, of its fake time).
func watchRoom(t *testing.T, h *Hub) (roomID string, next func() string) {
	t.Helper()
	owner := User{ID: "olga", Username: "olga"}
	room, err := h.CreateRoom(context.Background(), owner, RoomOptions{Name: "watched"})
	require.NoError(t, err)
	sub, err := h.Subscribe(context.Background(), owner, room.ID, SubscribeOptions{})
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	return room.ID, func() string {
		timeout := time.After(time.Minute)
		for {
			select {
			case ev, ok := <-sub.Events():
				require.True(t, ok, "the subscription ended")
				if ev.Event == "new-message" {
					var m Message
					require.NoError(t, json.Unmarshal(ev.Data, &m))
					return m.Content
				}
			case <-timeout:
				t.Fatal("no message within a minute")
			}
		}
	}
}

// TestTurnOrderIsNotSeqOrder: sends take their turns before the Store
// numbers them, so the message of an earlier turn may be numbered after
// later ones and be published first, long before them. The room's
// subscribers still get every message, in seq order, even when the Store
// has dropped the earlier ones from its history meanwhile: the repair of
// the gap waits for this node's sends that had their turn.
func TestTurnOrderIsNotSeqOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &lateSave{Store: NewMemoryStore(MemoryOptions{HistorySize: 3}), late: "first", release: make(chan struct{})}
		ad := &holdAdapter{hold: 1, release: make(chan struct{})}
		h := quietHub(t, Config{Broker: ad, Store: st})
		room, next := watchRoom(t, h)
		var wg sync.WaitGroup
		post := func(content string) {
			wg.Go(func() {
				_, err := h.PostMessage(context.Background(), PostOptions{RoomID: room, Content: content})
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
		for range want {
			got = append(got, next())
		}
		require.Equal(t, want, got)
	})
}

// TestTurnsMark: a mark waits for the turns taken before it, not for those
// taken after it; a mark from a run of turns that ended (every turn ended,
// and the counters started again) waits for nothing of the next run.
func TestTurnsMark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cs chainStripe
		key := streamKey{room: "r"}
		passed := func(m turnsMark) bool {
			done := make(chan struct{})
			go func() {
				cs.awaitMark(t.Context(), key, m)
				close(done)
			}()
			synctest.Wait()
			select {
			case <-done:
				return true
			default:
				return false
			}
		}
		require.True(t, passed(cs.mark(key)), "no turns: nothing to wait for")

		first, second := cs.take(key), cs.take(key)
		m := cs.mark(key)
		later := cs.take(key)
		require.False(t, passed(m), "two turns before the mark are in flight")
		cs.end(key, second) // out of order: the first still holds it back
		require.False(t, passed(m))
		cs.end(key, first)
		require.True(t, passed(m), "the turns before the mark ended; a later one is in flight")

		cs.end(key, later) // the run ends
		again := cs.take(key)
		require.Zero(t, again, "a new run counts from zero")
		stale := turnsMark{run: m.run, taken: 5}
		require.True(t, passed(stale), "a mark of an ended run waits for nothing")
		require.False(t, passed(cs.mark(key)), "the new run's turn is in flight")
		cs.end(key, again)
	})
}
