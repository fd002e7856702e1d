package sqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// TestCommitters: 12 senders save groups of messages with SaveMessages at
// the same time, each group spread over two shared rooms, a room of the
// sender's own and a DM with a partner (two senders per DM), each group
// after the first retrying a message of the group before (same id and
// clientMsgId), with 1 and with 3 committers. Every message is stored
// once, each retry answered as a duplicate with its original's seq, and
// each stream's seqs have no gap and follow each sender's order, with the
// seq its save returned.
func TestCommitters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		for _, committers := range []int{1, 3} {
			t.Run(fmt.Sprint("committers=", committers), func(t *testing.T) {
				testCommitters(t, newStore(t, d, openDB(t, d, newDSN(t, d)), sqlstore.Options{Dialect: d, Committers: committers}))
			})
		}
	})
}

func testCommitters(t *testing.T, s *sqlstore.Store) {
	const senders, groups, group = 12, 8, 9
	ctx := t.Context()
	sharedA, sharedB := createRoom(t, s, "user0"), createRoom(t, s, "user0")
	own := make([]string, senders)
	for g := range senders {
		sender := fmt.Sprint("user", g)
		for _, room := range []string{sharedA.ID, sharedB.ID} {
			if g > 0 {
				_, _, err := s.AddMember(ctx, member(room, sender), realtime.Limits{})
				require.NoError(t, err)
			}
		}
		own[g] = createRoom(t, s, sender).ID
	}
	// streamOf returns the room or DM partner of message k of sender g.
	streamOf := func(g, k int) (room, to string) {
		switch k % 4 {
		case 0:
			return sharedA.ID, ""
		case 1:
			return sharedB.ID, ""
		case 2:
			return own[g], ""
		}
		return "", fmt.Sprint("user", g^1)
	}

	sent := make([][]realtime.Message, senders)     // sender → its messages, in order
	saved := make([][]realtime.SaveResult, senders) // sender → their results
	retried := make([]map[int]int, senders)         // sender → index of a retry → index of its original
	var wg sync.WaitGroup
	for g := range senders {
		retried[g] = map[int]int{}
		wg.Go(func() {
			sender := fmt.Sprint("user", g)
			for n := range groups {
				var msgs []realtime.Message
				for k := range group {
					room, to := streamOf(g, n*group+k)
					m := message(room, sender, fmt.Sprint(n*group+k))
					m.RecipientID = to
					m.ClientMsgID = m.ID
					msgs = append(msgs, m)
				}
				if n > 0 {
					orig := (n-1)*group + n%group
					retried[g][len(sent[g])+group/2] = orig
					msgs[group/2] = sent[g][orig]
				}
				sent[g] = append(sent[g], msgs...)
				saved[g] = append(saved[g], s.SaveMessages(ctx, msgs)...)
			}
		})
	}
	wg.Wait()

	byID := map[string]realtime.Message{} // what each save returned
	streams := map[string]bool{}
	for g := range senders {
		last := map[string]uint64{}
		for i, r := range saved[g] {
			require.NoError(t, r.Err, "message %d of user%d", i, g)
			m := sent[g][i]
			if orig, ok := retried[g][i]; ok {
				require.True(t, r.Duplicate, "retry %d of user%d", i, g)
				require.Equal(t, saved[g][orig].Message.Seq, r.Message.Seq, "a retry has its original's seq")
				continue
			}
			require.False(t, r.Duplicate, "message %d of user%d", i, g)
			require.Equal(t, m.ID, r.Message.ID)
			st := m.Stream()
			require.Greater(t, r.Message.Seq, last[st], "user%d's seqs in %s follow its order", g, st)
			last[st] = r.Message.Seq
			byID[m.ID] = r.Message
			streams[st] = true
		}
	}
	stored := 0
	for st := range streams {
		page, more, err := s.History(ctx, realtime.HistoryQuery{Stream: st, Limit: senders * groups * group})
		require.NoError(t, err)
		require.False(t, more)
		for i, m := range page {
			require.Equal(t, uint64(i+1), m.Seq, "seqs of %s have no gap", st)
			want, ok := byID[m.ID]
			require.True(t, ok, "%s holds a message its save did not return", st)
			require.Equal(t, want.Seq, m.Seq, "%s holds the seq its save returned", st)
		}
		stored += len(page)
	}
	require.Equal(t, len(byID), stored, "every message stored once")
}

// TestCloseWhileSaving closes a Store of 3 committers while 20 senders
// keep saving: every call returns, those that did not commit with
// ErrClosed or the error of their aborted transaction, and the
// committers end (goleak checks it).
func TestCloseWhileSaving(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d sqlstore.Dialect) {
		s, err := sqlstore.New(openDB(t, d, newDSN(t, d)), sqlstore.Options{Dialect: d, Committers: 3})
		require.NoError(t, err)
		require.NoError(t, s.Migrate(t.Context()))
		rooms := []string{createRoom(t, s, "alice").ID, createRoom(t, s, "alice").ID, createRoom(t, s, "alice").ID}
		var wg sync.WaitGroup
		closed := make([]error, 20)
		started := make(chan struct{}, 20)
		for g := range closed {
			wg.Go(func() {
				for i := 0; ; i++ {
					msgs := []realtime.Message{
						message(rooms[i%3], "alice", "a"), message(rooms[(i+1)%3], "alice", "b"),
					}
					for _, r := range s.SaveMessages(context.Background(), msgs) {
						if r.Err != nil {
							closed[g] = r.Err
							return
						}
					}
					if i == 0 {
						started <- struct{}{}
					}
				}
			})
		}
		for range closed {
			<-started
		}
		require.NoError(t, s.Close())
		wg.Wait()
		for _, err := range closed {
			require.Error(t, err)
		}
		_, _, err = s.SaveMessage(t.Context(), message(rooms[0], "alice", "late"))
		require.ErrorIs(t, err, sqlstore.ErrClosed)
	})
}
