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

	mu    sync.Mutex
	conns map[*conn]struct{} // holding frames; nil: no flush scheduled
}

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
	if co.conns == nil {
		co.conns = make(map[*conn]struct{})
		time.AfterFunc(co.every, func() { co.run(co.flush) })
	}
	for _, c := range added {
		co.conns[c] = struct{}{}
	}
}

// flush queues the held frames of every connection, one batch each.
func (co *coalescer) flush() {
	co.mu.Lock()
	conns := co.conns
	co.conns = nil
	co.mu.Unlock()
	for c := range conns {
		c.release()
	}
}
