package sqlstore

import (
	"context"
	"errors"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/realtime-go/realtime"
)

// saveReq is a message of a SaveMessage or SaveMessages call, waiting for
// its batch.
type saveReq struct {
	ctx    context.Context
	m      realtime.Message
	stream string       // m.Stream(), made once
	c      *committer   // the committer of stream
	res    chan saveRes // buffered: the committer never waits for the caller
	// lead is the first request of the call that queued this one (itself,
	// for SaveMessage): requests with the same lead share ctx.
	lead *saveReq
}

// A committer saves the messages of its share of the streams (see
// committerOf), in the order they were queued, a batch at a time: one
// goroutine, commitLoop, drains its queue. The Store's committers work at
// the same time on their own streams, so that no two of them bump the same
// stream's last_seq.
type committer struct {
	queue   chan *saveReq
	stopped chan struct{} // closed when commitLoop has returned
}

// committerOf returns the committer of stream.
func (s *Store) committerOf(stream string) *committer {
	if len(s.committers) == 1 {
		return s.committers[0]
	}
	return s.committers[maphash.String(s.seed, stream)%uint64(len(s.committers))]
}

// newReq returns the request to save m, for its committer; lead is the
// first request of the same call, nil for the first.
func (s *Store) newReq(ctx context.Context, m realtime.Message, lead *saveReq) *saveReq {
	stream := m.Stream()
	r := &saveReq{ctx: ctx, m: m, stream: stream, c: s.committerOf(stream), res: make(chan saveRes, 1), lead: lead}
	if lead == nil {
		r.lead = r
	}
	return r
}

type saveRes struct {
	m   realtime.Message
	dup bool
	err error
}

// SaveMessage implements realtime.MessageStore. The message is saved by the
// committer of its stream together with the calls that arrived at the
// same time, in one transaction; SaveMessage returns once it has committed.
// If ctx ends first, SaveMessage returns ctx's error and the message may
// still be saved.
func (s *Store) SaveMessage(ctx context.Context, m realtime.Message) (realtime.Message, bool, error) {
	r := s.newReq(ctx, m, nil)
	select {
	case r.c.queue <- r:
	case <-s.closing:
		return realtime.Message{}, false, ErrClosed
	case <-ctx.Done():
		return realtime.Message{}, false, ctx.Err()
	}
	res := s.await(ctx, r)
	return res.m, res.dup, res.err
}

// await returns the committer's reply to r, queued with ctx.
func (s *Store) await(ctx context.Context, r *saveReq) saveRes {
	select {
	case res := <-r.res:
		return res
	case <-ctx.Done():
		return saveRes{err: ctx.Err()}
	case <-r.c.stopped:
		// The committer replies before it stops, so a reply is there
		// unless r came after its last look at the queue.
		select {
		case res := <-r.res:
			return res
		default:
			return saveRes{err: ErrClosed}
		}
	}
}

// SaveMessages implements realtime.BatchSaver: the messages are queued
// for their streams' committers in their order, so that each stream's are
// numbered in that order, and saved in as few transactions as the batch size allows, with the
// calls that arrived at the same time. It returns once each has committed
// or failed; if ctx ends first, those not answered yet fail with its error
// and may still be saved.
func (s *Store) SaveMessages(ctx context.Context, msgs []realtime.Message) []realtime.SaveResult {
	out := make([]realtime.SaveResult, len(msgs))
	reqs := make([]*saveReq, 0, len(msgs))
	var failed error
	var lead *saveReq // the call's first request, once queued
	for _, m := range msgs {
		r := s.newReq(ctx, m, lead)
		select {
		case r.c.queue <- r:
			reqs = append(reqs, r)
			if lead == nil {
				lead = r
			}
			continue
		case <-s.closing:
			failed = ErrClosed
		case <-ctx.Done():
			failed = ctx.Err()
		}
		break
	}
	for i := range out {
		if i >= len(reqs) {
			out[i].Err = failed
			continue
		}
		res := s.await(ctx, reqs[i])
		out[i] = realtime.SaveResult{Message: res.m, Duplicate: res.dup, Err: res.err}
	}
	return out
}

// commitLoop is c's goroutine: it takes what is queued, up to s.batch
// requests, saves it in one transaction, and starts again.
func (s *Store) commitLoop(c *committer) {
	defer close(c.stopped)
	batch := make([]*saveReq, 0, s.batch)
	for {
		// Closing comes first, also when the queue is ready.
		select {
		case <-s.closing:
			s.failQueued(c)
			return
		default:
		}
		select {
		case <-s.closing:
			s.failQueued(c)
			return
		case r := <-c.queue:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < s.batch {
			select {
			case r := <-c.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commit(batch)
		clear(batch)
	}
}

// failQueued replies ErrClosed to the requests in c's queue.
func (s *Store) failQueued(c *committer) {
	for {
		select {
		case r := <-c.queue:
			r.res <- saveRes{err: ErrClosed}
		default:
			return
		}
	}
}

// commit saves a batch and replies to each of its requests.
func (s *Store) commit(batch []*saveReq) {
	live := make([]*saveReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.res <- saveRes{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	res, err := s.saveBatch(live)
	if err != nil && len(live) > 1 && refused(err) && s.ctx.Err() == nil {
		// A value in the batch broke the transaction: save each message
		// alone, so that only the culprit fails.
		for _, r := range live {
			one, err := s.saveBatch([]*saveReq{r})
			if err != nil {
				one = []saveRes{{err: wrap("save message", err)}}
			}
			r.res <- one[0]
		}
		return
	}
	for i, r := range live {
		if err != nil {
			r.res <- saveRes{err: wrap("save message", err)}
			continue
		}
		r.res <- res[i]
	}
}

// maxAttempts bounds the tries of a batch that lost a race (see retryable).
const maxAttempts = 10

// saveBatch saves reqs in one transaction. The first try takes no time to
// look for stored ids and clientMsgIds: they are rare, and the unique
// indexes refuse them. A try that a unique index refused, or that lost a
// race to another writer of the database, is made again, looking first.
func (s *Store) saveBatch(reqs []*saveReq) ([]saveRes, error) {
	ctx, cancel := s.batchCtx(reqs)
	defer cancel()
	for attempt := 1; ; attempt++ {
		res, err := s.trySaveBatch(ctx, reqs, attempt > 1)
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return res, err
		}
	}
}

// batchCtx returns the context of a transaction for reqs: done when the
// Store closes, or when every caller in reqs has given up waiting. It
// watches each run of requests that one call queued with one context once.
func (s *Store) batchCtx(reqs []*saveReq) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(s.ctx)
	var leads []*saveReq
	for i, r := range reqs {
		if i == 0 || r.lead != reqs[i-1].lead {
			leads = append(leads, r)
		}
	}
	left := int64(len(leads))
	stops := make([]func() bool, len(leads))
	for i, r := range leads {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if atomic.AddInt64(&left, -1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// retryable reports whether a batch failed on a unique index (an id or
// clientMsgId stored before, or by another Store at the same time), or
// lost a race to another transaction on PostgreSQL (a deadlock, say).
func retryable(err error) bool {
	switch sqlState(err) {
	case "23505", "40001", "40P01":
		return true
	}
	switch sqliteCode(err) & 0xffff {
	case 1555, 2067: // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
		return true
	}
	return false
}

// refused reports whether the database refused a statement for the values
// it was given (not for being unreachable, busy or out of resources): then
// one message of a batch may be the cause.
func refused(err error) bool {
	if state := sqlState(err); len(state) == 5 {
		switch state[:2] {
		case "22", "23", "54": // data exception, integrity constraint, program limit exceeded
			return true
		}
		return false
	}
	switch sqliteCode(err) & 0xff {
	case 18, 19, 20, 25: // SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE
		return true
	}
	return false
}

// sqliteCode returns the extended result code of a SQLite error
// (modernc.org/sqlite's *Error has the method), or 0.
func sqliteCode(err error) int {
	var e interface{ Code() int }
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// batchTx is tx for trySaveBatch. On PostgreSQL it plans each statement
// for its arguments (plan_cache_mode): a plan cached while the messages
// table was small scans it whole, and stays cached until the table is next
// analyzed, which for a new, fast-growing table can take minutes.
func (s *Store) batchTx(ctx context.Context, fn func(q querier) error) error {
	if s.dialect == Postgres {
		return s.connTx(ctx, "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan", fn)
	}
	return s.tx(ctx, fn)
}

// clientKey identifies a message of stream for idempotency: stream,
// sender and clientMsgId; "" when it has no clientMsgId.
func clientKey(stream string, m *realtime.Message) string {
	if m.ClientMsgID == "" {
		return ""
	}
	return stream + "\x00" + m.SenderID + "\x00" + m.ClientMsgID
}

// trySaveBatch saves reqs in one transaction. A message that cannot be
// stored fails alone: a missing room is ErrNotFound, and, when look is
// set, a stored id ErrConflict and a stored clientMsgId a duplicate; a
// clientMsgId met earlier in the batch is always a duplicate. The other
// messages are numbered in the order of reqs within their streams, and each
// stream's last_seq is bumped once by its count of new messages.
func (s *Store) trySaveBatch(ctx context.Context, reqs []*saveReq, look bool) ([]saveRes, error) {
	res := make([]saveRes, len(reqs))
	dupOf := make(map[int]int) // index in reqs → index of its original in reqs
	err := s.batchTx(ctx, func(q querier) error {
		clear(res)
		clear(dupOf)
		ops := s.batchOps(q)
		defer ops.close()

		var pairs []roomUser
		for _, r := range reqs {
			if r.m.RoomID != "" {
				pairs = append(pairs, roomUser{r.m.RoomID, r.m.SenderID})
			}
		}
		rooms, senders, err := ops.lockRooms(ctx, uniqPairs(pairs))
		if err != nil {
			return err
		}
		var stored []realtime.Message
		if look {
			if stored, err = ops.find(ctx, reqs); err != nil {
				return err
			}
		}
		byID := make(map[string]bool, len(reqs))
		byKey := make(map[string]realtime.Message, len(stored))
		for _, m := range stored {
			byID[m.ID] = true
			if k := clientKey(m.Stream(), &m); k != "" {
				byKey[k] = m
			}
		}

		var (
			fresh  []int                // indexes of the messages to insert
			counts = map[string]int64{} // new messages per stream
			keys   = map[string]int{}   // clientKey → index in reqs, of fresh ones
		)
		for i, r := range reqs {
			m := r.m
			if m.RoomID != "" && !rooms[m.RoomID] {
				res[i].err = realtime.ErrNotFound
				continue
			}
			// An empty sender is the host's (Hub.PostMessage): no member check.
			if m.RoomID != "" && m.SenderID != "" && !senders[roomUser{m.RoomID, m.SenderID}] {
				res[i].err = realtime.ErrForbidden
				continue
			}
			k := clientKey(r.stream, &m)
			if prev, ok := byKey[k]; ok && k != "" {
				res[i] = saveRes{m: prev, dup: true}
				continue
			}
			if j, ok := keys[k]; ok && k != "" {
				dupOf[i] = j
				continue
			}
			if byID[m.ID] {
				res[i].err = realtime.ErrConflict
				continue
			}
			byID[m.ID] = true
			if k != "" {
				keys[k] = i
			}
			fresh = append(fresh, i)
			counts[r.stream]++
		}
		if len(fresh) == 0 {
			return nil
		}

		// The k-th of the n new messages of a stream gets the seq
		// last_seq-(n-k), last_seq being the stream's after the bump.
		msgs := make([]realtime.Message, len(fresh))
		of := make([]string, len(fresh)) // msgs[n]'s stream
		back := make([]int64, len(fresh))
		left := maps.Clone(counts)
		for n, i := range fresh {
			st := reqs[i].stream
			left[st]--
			msgs[n], of[n], back[n] = normalize(reqs[i].m), st, left[st]
		}
		// Streams are bumped in sorted order so that two batches that
		// share streams lock them in the same order.
		streams := slices.Sorted(maps.Keys(counts))
		last, err := ops.save(ctx, msgs, of, back, streams, counts)
		if err != nil {
			return err
		}
		for n, i := range fresh {
			msgs[n].Seq = uint64(last[of[n]] - back[n])
			res[i] = saveRes{m: msgs[n]}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, j := range dupOf {
		res[i] = saveRes{m: res[j].m, dup: true}
	}
	return res, nil
}

// uniqPairs sorts pairs and drops repeats.
func uniqPairs(pairs []roomUser) []roomUser {
	slices.SortFunc(pairs, func(a, b roomUser) int {
		if c := strings.Compare(a.room, b.room); c != 0 {
			return c
		}
		return strings.Compare(a.user, b.user)
	})
	return slices.Compact(pairs)
}
