package realtime

import (
	"sync"
	"time"
)

// coalesceAbove is the number of recipients above which keyed frames are
// coalesced: a small room hears of each change at once, a large one in
// batches, so that a storm of changes costs each member a few frames.
const coalesceAbove = 16

// coalescer owns the connections that hold coalesced frames until the next
// flush (Config.PresenceCoalesce): presence changes, joins and leaves in
// large rooms. The frames wait on each connection (conn.hold); a later
// frame with the same key replaces an earlier one. Its lock, coalescer.mu,
// is a leaf.
type coalescer struct {
	every time.Duration
	run   func(func()) // runs a flush in the background (Hub.goTimer)
	// toRoom writes a frame to a room's local connections (Hub.toRoom)
	// and returns how many it wrote to.
	toRoom func(room string, f Frame) int
	// budget is how many connections a room's state may be written to in
	// one window (Config.LargeRoom): a room with more waits as many windows
	// as it has budgets of connections before its next state goes, so that
	// a room of any size costs a node at most budget frames a window.
	// 0: no room waits.
	budget int

	mu        sync.Mutex
	scheduled bool
	conns     map[*conn]struct{}   // holding frames
	rooms     map[roomKey]Frame    // the latest state of rooms (opLatest)
	quiet     map[string]time.Time // rooms whose next state waits until then
}

// roomKey names one state of one room.
type roomKey struct{ room, key string }

// hold holds frame on each connection under key until the next flush,
// replacing what an earlier frame with that key left there.
func (co *coalescer) hold(conns []*conn, key string, frame Frame) {
	var added []*conn
	for _, c := range conns {
		if c.hold(key, frame) {
			added = append(added, c)
		}
	}
	if len(added) == 0 {
		return
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	co.schedule()
	if co.conns == nil {
		co.conns = make(map[*conn]struct{})
	}
	for _, c := range added {
		co.conns[c] = struct{}{}
	}
}

// latest keeps frame as the state key of room until the next flush, which
// writes it to the room's local connections then: one frame per flush for
// each connection, however many states came.
func (co *coalescer) latest(room, key string, frame Frame) {
	co.mu.Lock()
	defer co.mu.Unlock()
	co.schedule()
	co.keep(roomKey{room, key}, frame)
}

// keep keeps frame as the state k for the next flush. The caller holds
// co.mu.
func (co *coalescer) keep(k roomKey, frame Frame) {
	if co.rooms == nil {
		co.rooms = make(map[roomKey]Frame)
	}
	co.rooms[k] = frame
}

// schedule makes sure a flush comes. The caller holds co.mu.
func (co *coalescer) schedule() {
	if !co.scheduled {
		co.scheduled = true
		time.AfterFunc(co.every, func() { co.run(co.flush) })
	}
}

// flush queues the held frames of every connection, one batch each, and
// writes the latest states of rooms that are not waiting. One flush runs
// at a time: scheduled stays set until it ends, so that a later flush
// cannot write a room's newer state before this one writes an older one.
func (co *coalescer) flush() {
	now := time.Now()
	co.mu.Lock()
	conns, rooms := co.conns, co.rooms
	co.conns, co.rooms = nil, nil
	for room, until := range co.quiet {
		if !now.Before(until) {
			delete(co.quiet, room)
		}
	}
	for k, f := range rooms {
		if _, wait := co.quiet[k.room]; wait { // for a later flush
			delete(rooms, k)
			co.keep(k, f)
		}
	}
	co.mu.Unlock()
	defer func() { // also on a panic: later changes still flush
		co.mu.Lock()
		defer co.mu.Unlock()
		co.scheduled = false
		if len(co.conns) > 0 || len(co.rooms) > 0 {
			co.schedule()
		}
	}()
	for c := range conns {
		c.release()
	}
	for k, f := range rooms {
		n := co.toRoom(k.room, f)
		if co.budget > 0 && n > co.budget {
			co.mu.Lock()
			if co.quiet == nil {
				co.quiet = make(map[string]time.Time)
			}
			co.quiet[k.room] = now.Add(co.every * time.Duration(n-1) / time.Duration(co.budget))
			co.mu.Unlock()
		}
	}
}
