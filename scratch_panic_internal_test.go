package realtime

import (
	"context"
	"testing"
)

// TestPanickingSaveLeavesNoResults: a Store that panics in the middle of a
// group leaves the results it had written in the lent scratch's array;
// storeAndPublishAll's deferred cleanup clears results only when the save
// returned, so the scratch goes back to saveScratches holding the earlier
// messages of the group (stale elements past len 0).
func TestPanickingSaveLeavesNoResults(t *testing.T) {
	st := &gatedStore{Store: NewMemoryStore(MemoryOptions{}), release: make(chan struct{})}
	h := quietHub(t, Config{Store: st, MaxMessagesPerMinute: -1})
	group := func(contents ...string) {
		defer func() { _ = recover() }()
		sends := make([]pendingSend, len(contents))
		for i, c := range contents {
			sends[i] = pendingSend{m: directMessage(c)}
		}
		h.storeAndPublishAll(context.Background(), sends, func(*pendingSend, *Message, error) {})
	}
	for range 20 {
		group("a", "b", "c", "d") // gives the scratch a results array of 4
		group("e", "f", "panic")  // writes two results into it, then panics
		var held []*saveScratch
		for range 8 {
			s := saveScratches.Get().(*saveScratch)
			held = append(held, s)
			for i, r := range s.results[:cap(s.results)] {
				if r.Message.ID != "" || r.Err != nil {
					t.Fatalf("a lent scratch holds a stale result at %d: %q", i, r.Message.Content)
				}
			}
		}
		for _, s := range held {
			saveScratches.Put(s)
		}
	}
}
