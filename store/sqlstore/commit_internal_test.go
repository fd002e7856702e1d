package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A batch's transaction goes on while any caller in it still waits, and
// ends once every one has given up, whether a call queued one request or
// several, next to each other in the batch or not.
func TestBatchCtxEndsWhenEveryCallerHasGivenUp(t *testing.T) {
	s := &Store{ctx: t.Context()}
	type call struct {
		ctx    context.Context
		cancel context.CancelFunc
		lead   *saveReq
	}
	calls := make([]*call, 3)
	for i := range calls {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		calls[i] = &call{ctx: ctx, cancel: cancel}
	}
	// Call 0 queued three requests, call 1 one, call 2 two; the batch took
	// them interleaved.
	var reqs []*saveReq
	for _, c := range []int{0, 0, 1, 0, 2, 2} {
		r := &saveReq{ctx: calls[c].ctx}
		if calls[c].lead == nil {
			calls[c].lead = r
		}
		r.lead = calls[c].lead
		reqs = append(reqs, r)
	}
	ctx, stop := s.batchCtx(reqs)
	defer stop()

	for _, c := range []int{0, 2} {
		calls[c].cancel()
		// A watch runs in a goroutine of its own: give it time to act.
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, ctx.Err(), "the batch ended while call 1 still waits")
	}
	calls[1].cancel()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the batch goes on after every caller gave up")
	}
}

// Stopping a batch's context ends it and releases its watches: callers
// that give up later change nothing.
func TestBatchCtxStop(t *testing.T) {
	s := &Store{ctx: t.Context()}
	callerCtx, cancel := context.WithCancel(t.Context())
	r := &saveReq{ctx: callerCtx}
	r.lead = r
	ctx, stop := s.batchCtx([]*saveReq{r})
	require.NoError(t, ctx.Err())
	stop()
	require.ErrorIs(t, ctx.Err(), context.Canceled)
	cancel()
}
