package sqlstore

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

// A batch's transaction goes on while any caller in it still waits, and
// ends once every one has given up, whether a call queued one request or
// several, next to each other in the batch or not.
func TestBatchCtxEndsWhenEveryCallerHasGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Store{ctx: t.Context(), committers: []*committer{{}}}
		type call struct {
			ctx    context.Context
			cancel context.CancelFunc
			lead   *saveReq
		}
		calls := make([]*call, 4)
		for i := range calls {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			calls[i] = &call{ctx: ctx, cancel: cancel}
		}
		// Calls 0 and 2 queued three and two requests with SaveMessages,
		// calls 1 and 3 one each with SaveMessage; the batch took them
		// interleaved, 1 and 3 next to each other.
		var reqs []*saveReq
		for _, c := range []int{0, 0, 1, 3, 0, 2, 2} {
			r := s.newReq(calls[c].ctx, realtime.Message{ID: "m", RoomID: "r"}, calls[c].lead)
			if c == 0 || c == 2 {
				calls[c].lead = r.lead
			}
			reqs = append(reqs, r)
		}
		ctx, stop := s.batchCtx(reqs)
		defer stop()

		for _, c := range []int{0, 2, 1} {
			calls[c].cancel()
			synctest.Wait() // the watches of calls[c] have run
			require.NoError(t, ctx.Err(), "the batch ended while call 3 still waits")
		}
		calls[3].cancel()
		synctest.Wait()
		require.ErrorIs(t, ctx.Err(), context.Canceled, "the batch goes on after every caller gave up")
	})
}

// Stopping a batch's context ends it, while its caller still waits.
func TestBatchCtxStop(t *testing.T) {
	s := &Store{ctx: t.Context(), committers: []*committer{{}}}
	callerCtx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := s.newReq(callerCtx, realtime.Message{ID: "m", RoomID: "r"}, nil)
	ctx, stop := s.batchCtx([]*saveReq{r})
	require.NoError(t, ctx.Err())
	stop()
	require.ErrorIs(t, ctx.Err(), context.Canceled)
	require.NoError(t, callerCtx.Err())
}
