package realtime

import (
	"context"
	"runtime/debug"
	"slices"
	"sync"
	"time"
)

// A connection's messages are stored in groups (pipelined persistence).
//
// The read goroutine checks each message event as it comes (prepareMessage:
// validity, budget, hooks, the lookups a reply or a file needs) and queues
// it on the connection's sendPipe instead of waiting for the Store. A
// goroutine of the pipe's, started when something is queued and ending
// when nothing is, takes everything queued and stores it with one Store
// call (BatchSaver.SaveMessages, which a SQL Store commits with the other
// connections' in one transaction), then publishes and answers each
// message in the order the client sent it. The Store numbers a
// connection's messages to a stream in that order too, so its acks carry
// increasing seqs.
//
// A Store that saves faster than a hand-over to another goroutine costs
// (the memory store) is not worth a pipe: while the last save of the
// connection took less than inlineSave and nothing is queued, the read
// goroutine stores and answers a message itself.
//
// Any other event of the connection waits until the pipe is empty before
// it runs (conn.handleFrame): a leave-room, an edit or a join applies after
// the messages sent before it, as when each event waited for the last.

// maxPipelined is how many of a connection's messages may wait to be
// stored; the read goroutine stops reading while that many wait.
const maxPipelined = 256

// inlineSave is the longest save after which the read goroutine still
// stores the connection's next message itself.
const inlineSave = 50 * time.Microsecond

// maxRefillWait bounds how long the pipe waits for a pipelining client to
// refill its window before it stores what is queued (see refill).
const maxRefillWait = 2 * time.Millisecond

// sendPipe is one connection's queue of messages waiting to be stored; its
// mu is a leaf.
type sendPipe struct {
	mu      sync.Mutex
	queue   []pendingSend
	running bool      // a goroutine stores what is queued
	slow    bool      // the last save took longer than inlineSave
	waiters int       // goroutines waiting on changed
	changed sync.Cond // signalled when the queue is taken or the pipe is idle
	// want and filled: the pipe's goroutine waits (refill) until want
	// messages are queued, when filled is closed.
	want   int
	filled chan struct{}
	// one is the batch of a message stored alone, by whoever stores (the
	// read goroutine while the pipe is idle, else the pipe's goroutine;
	// never both), kept so that such a message costs no slice of its own.
	one   [1]pendingSend
	boxes boxes[pendingSend] // for pendingArrays; guarded by mu
}

// pendingArrays lends pipes the arrays of their queue while they run (a
// lender): an idle pipe holds none, where a connection that had pipelined
// kept two arrays of up to 32 sends of some 400 bytes.
var pendingArrays = lender[pendingSend]{initial: 8, max: maxKeptPipe}

// saveScratch holds storeAndPublishAll's slices between calls. They are
// lent (saveScratches), not kept per connection: a connection that once
// sent a group does not keep its slices while idle, and a new one does not
// grow its own.
type saveScratch struct {
	msgs    []Message
	keys    []streamKey
	turns   []uint64
	results []SaveResult
}

var saveScratches = sync.Pool{New: func() any { return new(saveScratch) }}

// intoSaver is a BatchSaver that can write its results into a slice of
// the caller's: the memory store, which would otherwise allocate one for
// every group.
type intoSaver interface {
	saveMessagesInto(ctx context.Context, msgs []Message, res []SaveResult) []SaveResult
}

// maxKeptPipe bounds the capacity of the arrays lent for groups of
// messages (pendingArrays, saveScratches): one that a long burst grew is
// left to the collector.
const maxKeptPipe = 32

// refuse answers an event with err once the messages before it are
// answered, without waiting for them.
func (c *conn) refuse(ack uint64, event string, err error) {
	p := &c.sends
	p.mu.Lock()
	idle := !p.running
	p.mu.Unlock()
	if idle { // only the read goroutine starts the pipe: it stays idle
		c.answer(ack, event, nil, err)
		return
	}
	c.pipeSend(pendingSend{ack: ack, event: event, err: err})
}

// pipeSend queues s to be stored (or, with s.err, answered), waiting while
// maxPipelined messages do, or stores it at once when the pipe is idle and
// saves are fast. Only the read goroutine calls it.
func (c *conn) pipeSend(s pendingSend) {
	p := &c.sends
	p.mu.Lock()
	if !p.running && !p.slow && s.err == nil { // idle: nothing is queued
		p.mu.Unlock()
		p.one[0] = s
		c.storeBatch(p.one[:])
		p.one[0] = pendingSend{}
		return
	}
	defer p.mu.Unlock()
	for len(p.queue) >= maxPipelined {
		p.wait()
	}
	p.queue = pendingArrays.append(&p.boxes, p.queue, s)
	if p.want > 0 && len(p.queue) >= p.want {
		p.fill()
	}
	if !p.running {
		p.running = true
		c.wg.Add(1)
		go c.storeQueued()
	}
}

// awaitSends returns once every message queued on c is stored, published
// and answered.
func (c *conn) awaitSends() {
	p := &c.sends
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.want > 0 {
		p.fill() // nothing more comes while the reader waits
	}
	for p.running {
		p.wait()
	}
}

// fill ends the wait of refill; p.mu is held.
func (p *sendPipe) fill() {
	close(p.filled)
	p.want, p.filled = 0, nil
}

// refill waits, up to d or the end of ctx, until want messages are
// queued. A client that keeps many messages in flight sends the next ones
// as the acks of the last group reach it: storing the first of them alone
// at once would split every later group in two (one transaction for a
// few, one for the rest), halving what each commit carries.
func (p *sendPipe) refill(ctx context.Context, want int, d time.Duration) {
	p.mu.Lock()
	if len(p.queue) >= want {
		p.mu.Unlock()
		return
	}
	p.want, p.filled = want, make(chan struct{})
	filled := p.filled
	p.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-filled:
		return
	case <-t.C:
	case <-ctx.Done():
	}
	p.mu.Lock()
	if p.filled == filled {
		p.fill()
	}
	p.mu.Unlock()
}

// wait waits for a change of the pipe; p.mu is held.
func (p *sendPipe) wait() {
	p.waiters++
	p.changed.Wait()
	p.waiters--
}

// take returns what is queued, or nothing and ends the pipe's goroutine.
// done is the group the goroutine has just stored: its array becomes the
// queue's, or, when the goroutine ends, goes back to pendingArrays with the
// queue's.
func (p *sendPipe) take(done []pendingSend) []pendingSend {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(done)
	if p.waiters > 0 {
		p.changed.Broadcast()
	}
	if len(p.queue) == 0 {
		p.running = false
		pendingArrays.put(&p.boxes, done)
		pendingArrays.put(&p.boxes, p.queue)
		p.queue = nil
		return nil
	}
	batch := p.queue
	p.queue = done[:0] // nil: pipeSend takes one from pendingArrays
	return batch
}

// storeQueued stores, publishes and answers what is queued on c until
// nothing is. A panic (in a hook the publication runs) ends the connection
// with 1011, as one in the read goroutine does.
func (c *conn) storeQueued() {
	growStack()
	h := c.hub
	defer c.wg.Done()
	var batch []pendingSend
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("realtime: panic while storing a connection's messages", "conn", c.id, "panic", p, "stack", string(debug.Stack()))
			c.closeWith(StatusInternal, "internal error")
			for batch = c.sends.take(batch); len(batch) > 0; batch = c.sends.take(batch) {
			}
		}
	}()
	for batch = c.sends.take(nil); len(batch) > 0; batch = c.sends.take(batch) {
		start := time.Now()
		c.storeBatch(batch)
		// A group of several: the client pipelines. Give it a moment, a
		// fraction of what the group took, to send the next group whole.
		if wait := min(time.Since(start)/4, maxRefillWait); len(batch) > 1 && wait > inlineSave {
			c.sends.refill(c.ctx, len(batch), wait)
		}
	}
}

// storeBatch stores, publishes and answers batch, and notes whether the
// save was slow.
func (c *conn) storeBatch(batch []pendingSend) {
	h := c.hub
	d := h.storeAndPublishAll(c.ctx, batch, func(s *pendingSend, saved *Message, err error) {
		if s.err != nil {
			c.answer(s.ack, s.event, nil, s.err)
			return
		}
		a, err := h.messageSent(c.ctx, c, s, saved, err)
		c.answerMessage(s.ack, a, err)
	})
	c.sends.mu.Lock()
	c.sends.slow = d > inlineSave
	c.sends.mu.Unlock()
}

// storeAndPublishAll does for each of sends what storeAndPublish does for
// one message, saving them all with one Store call, and hands each outcome
// to sent, in order. A send refused already (s.err) is only handed on. It
// returns how long the Store took. Its slices are lent (saveScratches).
func (h *Hub) storeAndPublishAll(ctx context.Context, sends []pendingSend, sent func(s *pendingSend, saved *Message, err error)) (saving time.Duration) {
	scratch := saveScratches.Get().(*saveScratch)
	msgs, keys, turns := scratch.msgs[:0], scratch.keys[:0], scratch.turns[:0]
	var results []SaveResult
	returned, ours := false, false // the save returned; into the lent array
	defer func() {
		clear(msgs)
		clear(keys)
		switch {
		case returned && ours:
			clear(results)
			scratch.results = results[:0]
		case !returned:
			// The save panicked, maybe after writing into the lent
			// array (TestPanickingSaveLeavesNoResults).
			clear(scratch.results[:cap(scratch.results)])
		}
		// A BatchSaver's own results slice is never lent: it is its own.
		if cap(msgs) <= maxKeptPipe && cap(scratch.results) <= maxKeptPipe {
			scratch.msgs, scratch.keys, scratch.turns = msgs[:0], keys[:0], turns[:0]
			saveScratches.Put(scratch)
		}
	}()
	// Grown once for the group, not doubled on the way to it: a fresh
	// process's scratches start empty.
	msgs = slices.Grow(msgs, len(sends))
	keys = slices.Grow(keys, len(sends))
	turns = slices.Grow(turns, len(sends))
	for i := range sends {
		if sends[i].err == nil {
			msgs = append(msgs, sends[i].m)
			key := streamOf(&sends[i].m)
			keys = append(keys, key)
			turns = append(turns, h.turns.stripe(key).take(key))
		}
	}
	ended := 0
	defer func() { // also on a panic: the stream's later sends wait for these turns
		for j := ended; j < len(turns); j++ {
			h.turns.stripe(keys[j]).end(keys[j], turns[j])
		}
	}()
	if len(msgs) > 0 {
		start := time.Now()
		results, ours = h.saveMessages(ctx, msgs, scratch.results[:0])
		saving = time.Since(start)
	}
	returned = true
	for i := range sends {
		s := &sends[i]
		if s.err != nil {
			sent(s, nil, s.err)
			continue
		}
		j := ended
		cs := h.turns.stripe(keys[j])
		cs.await(ctx, keys[j], turns[j])
		saved, err := h.publishSaved(ctx, s.m.RoomID, &results[j])
		cs.end(keys[j], turns[j])
		ended++
		sent(s, saved, err)
	}
	return saving
}

// saveMessages saves msgs with one Store call when the Store is a
// BatchSaver, else with one call each, in order. The results are written
// into into's array (ours) unless a BatchSaver returned a slice of its own.
func (h *Hub) saveMessages(ctx context.Context, msgs []Message, into []SaveResult) (results []SaveResult, ours bool) {
	if s, ok := h.saver.(intoSaver); ok {
		return s.saveMessagesInto(ctx, msgs, into), true
	}
	if h.saver != nil {
		return h.saver.SaveMessages(ctx, msgs), false
	}
	return saveEach(ctx, h.store, msgs, into), true
}
