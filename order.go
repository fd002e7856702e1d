package realtime

import (
	"cmp"
	"context"
	"errors"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"time"
)

// Message order is kept here, in two steps, one per side of the Broker.
//
// Sending (send turns). The Store numbers each stream's messages (Seq 1,
// 2, 3...). Sends to one stream are stored concurrently, so that the Store
// can commit them together, but each takes a turn when it starts and
// publishes only once the turns before it have ended: a node publishes a
// stream's messages in the order the Store numbered them. This is the
// only order direct and global messages have.
//
// Delivering (roomSeq). A node hears a room's messages from the adapter,
// which may lose some (a pub/sub link that blinked) or, with several
// publishing nodes, hand them over out of order. roomSeq restores the
// room's seq order on this node: a message that comes early is held until
// the ones before it arrive or are read back from the Store, and a message
// heard twice is dropped. A join and a resume set where a connection's
// sequence starts (baseline, readMissed) without holding the room's lock
// across the Store.

// roomSeq is the sequencing state of one room on this node; it lives in
// the room's localRoom (fanout.go), whose connections it delivers to.
type roomSeq struct {
	conns      *connSet // the room's local connections
	mu         sync.Mutex
	known      bool          // last is set: from the Store, or the first arrival
	last       uint64        // seq of the last message delivered here
	held       []publication // early arrivals, while repairing or baselining
	repairing  bool
	repairs    uint64 // repairs started: the number of the latest
	baselining bool   // the first subscriber reads the baseline: hold arrivals
	// floors holds, for connections that resumed, the last seq their
	// replay sent them: live messages up to it are not sent to them again.
	floors map[*conn]uint64
}

// deliverInOrder writes a room's new-message publication to the room's
// local connections in seq order; it never blocks.
func (h *Hub) deliverInOrder(room string, p publication) {
	lr := h.fan.room(room)
	if lr == nil {
		return // nobody here: keep no state that would go stale
	}
	rs := &lr.seq
	rs.mu.Lock()
	defer rs.mu.Unlock()
	switch {
	case rs.baselining:
		rs.held = append(rs.held, p) // delivered once the baseline is set
		return
	case !rs.known:
		rs.known = true // no baseline could be read: start here
	case p.Seq <= rs.last:
		return // heard before
	case p.Seq == rs.last+1 && len(rs.held) > 0:
		// The message the held ones wait for, most often published just
		// after them by a concurrent send: deliver them all now rather
		// than when the repair looks again.
		rs.last = p.Seq
		h.sendRoom(room, rs, p.Seq, p.Frame)
		rs.drain(h, room, 0)
		return
	case rs.repairing || p.Seq != rs.last+1:
		rs.held = append(rs.held, p)
		if !rs.repairing {
			rs.startRepair(h, room)
		}
		return
	}
	rs.last = p.Seq
	h.sendRoom(room, rs, p.Seq, p.Frame)
}

// sendRoom writes message seq to the room's local connections, except those
// that got it by replay. The caller holds rs.mu.
func (h *Hub) sendRoom(room string, rs *roomSeq, seq uint64, native []byte) {
	frame, ok := pushFrame(native)
	if !ok {
		h.log.Warn("realtime: a message publication that is not a push was dropped", "room", room, "seq", seq)
		return
	}
	conns := rs.conns.load()
	sent := len(conns)
	for _, c := range conns {
		if len(rs.floors) > 0 {
			if floor, ok := rs.floors[c]; ok {
				if seq <= floor {
					sent--
					continue
				}
				delete(rs.floors, c)
			}
		}
		c.send(frame, false)
	}
	h.obs.MessagesDelivered(sent)
}

// baselineRead is where a room's sequence stood when this node started
// serving it: the latest stored seq. Messages numbered after it are the ones
// its connections are owed live, whichever node's publication comes first.
type baselineRead struct {
	seq uint64
	ok  bool
}

// readBaseline reads a room's baseline from the Store. The caller holds no
// sequencing lock: arrivals are held meanwhile (roomSeq.baselining).
func (h *Hub) readBaseline(ctx context.Context, room string) baselineRead {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	defer cancel()
	msgs, _, err := h.store.History(ctx, HistoryQuery{Stream: RoomStream(room), Limit: 1})
	if err != nil {
		h.log.Warn("realtime: room sequence baseline", "room", room, "err", err)
		return baselineRead{}
	}
	if len(msgs) == 0 {
		return baselineRead{ok: true}
	}
	return baselineRead{seq: msgs[0].Seq, ok: true}
}

// setBaseline ends the baselining of rs with what readBaseline found. When
// the Store could not say, the earliest held arrival is where the room
// starts, as any first arrival would be. The caller holds rs.mu.
func (rs *roomSeq) setBaseline(h *Hub, room string, b baselineRead) {
	rs.baselining = false
	switch {
	case b.ok:
		rs.known, rs.last = true, b.seq
	case len(rs.held) > 0:
		first := slices.MinFunc(rs.held, func(a, b publication) int { return cmp.Compare(a.Seq, b.Seq) })
		rs.known, rs.last = true, first.Seq-1
	}
}

// deliverHeld delivers what arrived while the baseline was read, and has
// the Store fill the gap before any that cannot be delivered yet. The
// caller holds rs.mu.
func (rs *roomSeq) deliverHeld(h *Hub, room string) {
	if len(rs.held) == 0 || rs.drain(h, room, 0) || rs.repairing {
		return
	}
	rs.startRepair(h, room)
}

// missedMessages are the messages a resuming connection missed, read from
// the Store and encoded, while no sequencing lock is held.
type missedMessages struct {
	frames []Frame
	size   int64
	last   uint64 // seq of the last message read, or of since when none
	failed bool   // the replay is not complete: send none of it
}

// ok reports whether m holds a complete replay.
func (m *missedMessages) ok() bool { return m != nil && !m.failed }

// resumePoint is where a join's resume starts: after the message id, or
// after seq (Hub.Subscribe); the zero value resumes nothing.
type resumePoint struct {
	id  string
	seq uint64
}

// readMissed reads the messages of room stored after the message since.
// It fails (ok is false) when since is unknown or forgotten, or of another
// stream, or when more than ResumeLimit messages or more than half the send
// queue were missed.
func (h *Hub) readMissed(ctx context.Context, room, since string) *missedMessages {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	defer cancel()
	from, err := h.store.GetMessage(ctx, since)
	if err != nil || from.RoomID != room {
		if err != nil && !errors.Is(err, ErrNotFound) {
			h.log.Warn("realtime: resume history", "room", room, "err", err)
		}
		return &missedMessages{failed: true}
	}
	m := &missedMessages{last: from.Seq}
	m.readMore(ctx, h, room)
	return m
}

// readMore reads what was stored after m.last.
func (m *missedMessages) readMore(ctx context.Context, h *Hub, room string) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StoreTimeout)
	defer cancel()
	left := h.cfg.ResumeLimit - len(m.frames)
	msgs, more, err := h.store.History(ctx, HistoryQuery{Stream: RoomStream(room), AfterSeq: m.last, Limit: max(left, 1)})
	if err != nil {
		h.log.Warn("realtime: resume history", "room", room, "err", err)
		m.failed = true
		return
	}
	if more || len(msgs) > left {
		m.failed = true
		return
	}
	for i := range msgs {
		b, err := encodeMessagePush("new-message", &msgs[i])
		f, ok := pushFrame(b)
		if err != nil || !ok {
			m.failed = true
			return
		}
		if m.size += f.size(); m.size > h.cfg.SendQueueBytes/2 {
			m.failed = true
			return
		}
		m.frames = append(m.frames, f)
		m.last = msgs[i].Seq
	}
}

// repairMark is where a repair stands: the highest seq held, and this
// node's send turns of the room when it was held.
type repairMark struct {
	upTo  uint64
	turns turnsMark
}

// startRepair starts a repair of rs, which supersedes any still running.
// The caller holds rs.mu.
func (rs *roomSeq) startRepair(h *Hub, room string) {
	rs.repairing = true
	rs.repairs++
	run := rs.repairs
	key := streamKey{room: room}
	m := repairMark{upTo: rs.heldLast(), turns: h.turns.stripe(key).mark(key)}
	h.goTimer(func() { h.repair(room, rs, run, m) })
}

// repair fills the gaps before the held messages, then delivers them. A
// message that neither this node's sends nor the Store bring after a few
// tries, or within StoreTimeout, is given up on, so that the room does not
// stall. It returns as soon as another repair (run) supersedes it: only
// the latest may skip a gap.
//
// The Store numbers a room's messages as it saves them, which is not
// always the order this node's sends took their turns in: under load, a
// message whose turn came later may be numbered first and published long
// before an earlier one. A message missing before a held one was saved
// before that one was published, so by a send that had its turn by the
// time it was held (m): the repair waits for those sends to publish
// before it asks the Store, which may have dropped their messages from a
// short history already, and before it skips a gap.
func (h *Hub) repair(room string, rs *roomSeq, run uint64, m repairMark) {
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.StoreTimeout)
	defer cancel()
	// step delivers what it can with rs.mu held, skipping what is missing
	// before held messages up to seq forceTo, and reports whether the
	// repair is over: nothing is held any more, or it was superseded.
	step := func(forceTo uint64, fill func()) bool {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if rs.repairs != run {
			return true
		}
		if fill != nil {
			fill()
		}
		return rs.drain(h, room, forceTo)
	}
	// A message that is merely late (published out of order by concurrent
	// sends) usually arrives within moments: give it that first. A resync
	// holds nothing, and goes to the Store.
	if m.upTo > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		if step(0, nil) {
			return
		}
	}
	key := streamKey{room: room}
	cs := h.turns.stripe(key)
	for attempt := 1; ctx.Err() == nil; attempt++ {
		rs.mu.Lock()
		upTo := rs.heldLast()
		rs.mu.Unlock()
		if upTo > m.upTo { // held since: their gaps may be of later turns
			m = repairMark{upTo: upTo, turns: cs.mark(key)}
		}
		if upTo > 0 {
			cs.awaitMark(ctx, key, m.turns)
			if step(0, nil) {
				return
			}
			if ctx.Err() != nil {
				break
			}
		}
		rs.mu.Lock()
		from := rs.last
		rs.mu.Unlock()
		msgs, _, err := h.store.History(ctx, HistoryQuery{Stream: RoomStream(room), AfterSeq: from, Limit: h.cfg.ResumeLimit})
		if err != nil && ctx.Err() == nil {
			h.log.Warn("realtime: repair a gap", "room", room, "err", err)
		}
		forceTo := uint64(0)
		if attempt >= 3 {
			forceTo = m.upTo
		}
		filled := false
		done := step(forceTo, func() {
			for i := range msgs {
				if msgs[i].Seq != rs.last+1 {
					continue
				}
				filled = true
				if frame, err := encodeMessagePush("new-message", &msgs[i]); err == nil {
					h.sendRoom(room, rs, msgs[i].Seq, frame)
				}
				rs.last = msgs[i].Seq
			}
		})
		if filled {
			h.obs.GapRepaired()
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(min(attempt, 3)) * 50 * time.Millisecond):
		}
	}
	if h.ctx.Err() == nil { // out of time: deliver what is held (not when closing)
		step(math.MaxUint64, nil)
	}
}

// heldLast returns the highest seq held, or 0. The caller holds rs.mu.
func (rs *roomSeq) heldLast() uint64 {
	var last uint64
	for _, p := range rs.held {
		last = max(last, p.Seq)
	}
	return last
}

// drain delivers the held messages that follow rs.last, dropping those
// heard before; it skips over what is still missing before those up to
// seq forceTo. It reports whether nothing is held any more, and ends the
// repair then.
func (rs *roomSeq) drain(h *Hub, room string, forceTo uint64) bool {
	slices.SortFunc(rs.held, func(a, b publication) int { return cmp.Compare(a.Seq, b.Seq) })
	kept := rs.held[:0]
	for _, p := range rs.held {
		switch {
		case p.Seq <= rs.last:
		case p.Seq == rs.last+1 || p.Seq <= forceTo:
			if p.Seq != rs.last+1 {
				h.log.Warn("realtime: messages lost before this one", "room", room, "from", rs.last+1, "to", p.Seq-1)
			}
			rs.last = p.Seq
			h.sendRoom(room, rs, p.Seq, p.Frame)
		default:
			kept = append(kept, p)
		}
	}
	clear(rs.held[len(kept):])
	rs.held = kept
	if len(rs.held) == 0 {
		rs.repairing = false
		return true
	}
	return false
}

// resync checks every room this node serves against the Store, after the
// adapter reported that publications may have been lost.
func (h *Hub) resync() {
	for room, lr := range h.fan.served() {
		rs := &lr.seq
		rs.mu.Lock()
		if !rs.repairing && rs.known {
			rs.startRepair(h, room)
		}
		rs.mu.Unlock()
	}
}

// chainStripe is one stripe of sendTurns: for each stream with sends in
// flight, the turns taken and which have ended. Waiting for a turn costs no
// allocation; a send that finds its turn come waits not at all.
type chainStripe struct {
	mu      sync.Mutex
	ended   sync.Cond // signalled when a turn ends and someone waits
	waiting int
	turns   map[streamKey]turns
	runs    uint64 // runs of turns begun: the last one's number
}

// turns are a stream's, in the current run (from the first turn taken
// while none was in flight): every turn before next has ended, and so have
// those in early, which ended out of order (a send that gave up waiting,
// or panicked) and wait for the ones before them.
type turns struct {
	run         uint64
	taken, next uint64
	early       []uint64
}

// take takes the next turn of stream.
func (cs *chainStripe) take(stream streamKey) uint64 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.turns == nil {
		cs.turns = make(map[streamKey]turns)
		cs.ended.L = &cs.mu
	}
	t, ok := cs.turns[stream]
	if !ok {
		cs.runs++
		t.run = cs.runs
	}
	turn := t.taken
	t.taken++
	cs.turns[stream] = t
	return turn
}

// await returns once every turn of stream before turn has ended, or ctx
// has.
func (cs *chainStripe) await(ctx context.Context, stream streamKey, turn uint64) {
	cs.wait(ctx, func() bool { return cs.turns[stream].next >= turn })
}

// turnsMark is where a stream's turns stood (chainStripe.mark).
type turnsMark struct {
	run, taken uint64
}

// mark returns where stream's turns stand now, for awaitMark.
func (cs *chainStripe) mark(stream streamKey) turnsMark {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	t := cs.turns[stream]
	return turnsMark{run: t.run, taken: t.taken}
}

// awaitMark returns once every turn of stream taken before m has ended, or
// ctx has.
func (cs *chainStripe) awaitMark(ctx context.Context, stream streamKey, m turnsMark) {
	cs.wait(ctx, func() bool {
		t, ok := cs.turns[stream]
		return !ok || t.run != m.run || t.next >= m.taken
	})
}

// wait returns once passed, called with cs.mu held, reports true, or ctx
// has ended.
func (cs *chainStripe) wait(ctx context.Context, passed func() bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if passed() {
		return
	}
	stop := context.AfterFunc(ctx, func() {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		cs.ended.Broadcast()
	})
	defer stop()
	for !passed() && ctx.Err() == nil {
		cs.waiting++
		cs.ended.Wait()
		cs.waiting--
	}
}

// end ends turn of stream.
func (cs *chainStripe) end(stream streamKey, turn uint64) {
	cs.mu.Lock()
	t := cs.turns[stream]
	if turn == t.next {
		t.next++
	} else {
		t.early = append(t.early, turn)
	}
	for i := slices.Index(t.early, t.next); i >= 0; i = slices.Index(t.early, t.next) {
		t.early = slices.Delete(t.early, i, i+1)
		t.next++
	}
	if t.next == t.taken {
		delete(cs.turns, stream)
	} else {
		cs.turns[stream] = t
	}
	wake := cs.waiting > 0
	cs.mu.Unlock()
	if wake {
		cs.ended.Broadcast()
	}
}

// sendTurns owns the send turns of every stream with sends in flight,
// striped so that sends to different streams do not wait for one lock.
// Each stripe's lock, chainStripe.mu, is a leaf.
type sendTurns struct {
	seed    maphash.Seed
	stripes [64]chainStripe
}

// stripe returns the stripe that holds stream's turns.
func (t *sendTurns) stripe(stream streamKey) *chainStripe {
	return &t.stripes[maphash.String(t.seed, stream.hashString())%uint64(len(t.stripes))]
}
