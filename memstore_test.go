package realtime_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/store/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) realtime.Store {
		return realtime.NewMemoryStore(realtime.MemoryOptions{})
	})
	storetest.RunMemberPages(t, func(*testing.T) realtime.Store { return realtime.NewMemoryStore(realtime.MemoryOptions{}) })
	storetest.RunNotifications(t, func(*testing.T) realtime.Store {
		return realtime.NewMemoryStore(realtime.MemoryOptions{})
	})
}

// TestMemoryStoreHistorySize checks that the memory store keeps the latest
// HistorySize messages of a stream and forgets older ones.
func TestMemoryStoreHistorySize(t *testing.T) {
	ctx := t.Context()
	s := realtime.NewMemoryStore(realtime.MemoryOptions{HistorySize: 5})
	room := realtime.Room{ID: "r", Name: "r", MaxUsers: 10, CreatedByID: "alice", CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	_, err := s.CreateRoom(ctx, room, realtime.Member{RoomID: "r", UserID: "alice", Username: "Alice", Role: realtime.RoleAdmin}, realtime.Limits{})
	require.NoError(t, err)
	var saved []realtime.Message
	for i := range 8 {
		m, dup, err := s.SaveMessage(ctx, realtime.Message{
			ID: fmt.Sprint("m", i+1), RoomID: "r", SenderID: "alice", Content: fmt.Sprint(i + 1),
			Type: realtime.TypeText, CreatedAt: time.Now().UTC().Truncate(time.Millisecond), ClientMsgID: fmt.Sprint("c", i+1),
		})
		require.NoError(t, err)
		require.False(t, dup)
		saved = append(saved, m)
	}

	got, more, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream("r"), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, saved[3:], got)
	require.False(t, more, "forgotten messages are not more")
	_, err = s.GetMessage(ctx, saved[0].ID)
	require.ErrorIs(t, err, realtime.ErrNotFound, "GetMessage of a forgotten message")
	_, _, err = s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream("r"), Before: saved[0].ID, Limit: 10})
	require.ErrorIs(t, err, realtime.ErrNotFound, "a forgotten cursor")

	got, more, err = s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream("r"), Before: saved[4].ID, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, saved[3:4], got, "before the second oldest kept")
	require.False(t, more)
	got, more, err = s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream("r"), After: saved[3].ID, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, saved[4:6], got, "after the oldest kept")
	require.True(t, more)

	// Seqs go on after what was forgotten.
	m, _, err := s.SaveMessage(ctx, realtime.Message{ID: "m9", RoomID: "r", SenderID: "alice", Content: "9", Type: realtime.TypeText})
	require.NoError(t, err)
	require.Equal(t, uint64(9), m.Seq)
}

// TestMemoryStoreForgetsWhileRead saves into a room that keeps 8 messages
// from several goroutines while another reads its history: every page is a
// run of consecutive seqs no longer than 8, and the 8 kept at the end are
// the latest.
func TestMemoryStoreForgetsWhileRead(t *testing.T) {
	ctx := t.Context()
	s := realtime.NewMemoryStore(realtime.MemoryOptions{HistorySize: 8})
	room := realtime.Room{ID: "r", Name: "r", MaxUsers: 10, CreatedByID: "alice", CreatedAt: time.Now().UTC()}
	_, err := s.CreateRoom(ctx, room, realtime.Member{RoomID: "r", UserID: "alice", Username: "Alice", Role: realtime.RoleAdmin}, realtime.Limits{})
	require.NoError(t, err)
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, _, err := s.SaveMessage(ctx, realtime.Message{ID: fmt.Sprintf("m%d-%d", w, i), RoomID: "r", SenderID: "alice", Content: "x", Type: realtime.TypeText})
				assert.NoError(t, err)
			}
		})
	}
	done := make(chan struct{})
	var reads sync.WaitGroup
	reads.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			page, _, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream("r"), Limit: 20})
			if !assert.NoError(t, err) {
				return
			}
			if len(page) > 0 {
				assert.LessOrEqual(t, len(page), 8)
				assert.Equal(t, uint64(len(page)-1), page[len(page)-1].Seq-page[0].Seq, "consecutive seqs")
			}
		}
	})
	wg.Wait()
	close(done)
	reads.Wait()
	page, _, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream("r"), Limit: 20})
	require.NoError(t, err)
	require.Len(t, page, 8)
	require.Equal(t, uint64(writers*each), page[7].Seq)
	require.Equal(t, uint64(writers*each-7), page[0].Seq)
}
