package realtime

import (
	"slices"
	"sync"
	"sync/atomic"
)

// fanout owns who receives what on this node: every registered
// connection, each user's connections, each served room's connections with
// the room's sequencing state (roomSeq, order.go), and each connection's
// own list of rooms (conn.rooms).
//
// Lock: fanout.mu guards the maps and conn.rooms. It is never held during
// I/O or hook calls; under it a caller may queue a frame for a connection
// (conn.qmu), and nothing else. The users' and rooms' sets are
// copy-on-write, so that delivery reads a room's connections without any
// lock; every connection is in all, a map, so that a connect or disconnect
// costs the same however many connections there are (a copy-on-write set
// of them all copied every one of them each time).
type fanout struct {
	mu    sync.RWMutex
	all   map[*conn]struct{}
	users map[string]*connSet
	rooms map[string]*localRoom
}

// localRoom is a room this node serves: it lives from the first local
// subscription to the last unsubscription, and what this node knew of the
// room goes with it.
type localRoom struct {
	conns connSet
	seq   roomSeq
}

func newFanout() *fanout {
	return &fanout{all: make(map[*conn]struct{}), users: make(map[string]*connSet), rooms: make(map[string]*localRoom)}
}

// add registers c as a connection of user, unless closing is set, and runs
// first while c is not yet reachable by any push: what first queues for c
// comes before everything else. It reports whether c was added. closing is
// read under the lock, so that a closer that sets it and then lists the
// connections finds every connection added.
func (f *fanout) add(c *conn, user string, closing *atomic.Bool, first func()) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if closing.Load() {
		return false
	}
	f.all[c] = struct{}{}
	set := f.users[user]
	if set == nil {
		set = &connSet{}
		f.users[user] = set
	}
	set.add(c)
	first()
	return true
}

// remove unregisters c, a connection of user, and returns the rooms it is
// still subscribed to.
func (f *fanout) remove(c *conn, user string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.all, c)
	if set := f.users[user]; set != nil {
		set.remove(c)
		if set.len() == 0 {
			delete(f.users, user)
		}
	}
	rooms := make([]string, 0, len(c.rooms))
	for room := range c.rooms {
		rooms = append(rooms, room)
	}
	return rooms
}

// open is the first step of subscribing c to room: it returns the room,
// created if this node did not serve it (first; its arrivals wait for a
// baseline, see deliverInOrder). ok is false when c is subscribed already or
// closing. c receives nothing until enter.
func (f *fanout) open(c *conn, room string) (lr *localRoom, first, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, in := c.rooms[room]; in || c.ctx.Err() != nil {
		return nil, false, false
	}
	lr = f.rooms[room]
	if lr == nil {
		lr = &localRoom{}
		lr.seq.conns = &lr.conns
		// What this node knew of the room is stale: arrivals wait for the
		// baseline (see deliverInOrder).
		lr.seq.baselining = true
		f.rooms[room] = lr
		first = true
	}
	return lr, first, true
}

// abandon undoes the open that created lr, if nobody entered it since.
func (f *fanout) abandon(room string, lr *localRoom) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if lr.conns.len() == 0 && f.rooms[room] == lr {
		delete(f.rooms, room)
	}
}

// enter makes c receive the pushes of lr, which open returned for room.
func (f *fanout) enter(c *conn, room string, lr *localRoom) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.rooms[room] = struct{}{}
	lr.conns.add(c)
}

// leave stops c receiving the pushes of room. It returns the room, and
// whether c was its last local connection (the room is then no longer
// served); ok is false when c was not subscribed.
func (f *fanout) leave(c *conn, room string) (lr *localRoom, last, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, in := c.rooms[room]; !in {
		return nil, false, false
	}
	delete(c.rooms, room)
	lr = f.rooms[room]
	lr.conns.remove(c)
	if last = lr.conns.len() == 0; last {
		delete(f.rooms, room)
	}
	return lr, last, true
}

// room returns the served room, or nil.
func (f *fanout) room(id string) *localRoom {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.rooms[id]
}

// roomConns returns the local connections of a room.
func (f *fanout) roomConns(id string) []*conn {
	if lr := f.room(id); lr != nil {
		return lr.conns.load()
	}
	return nil
}

// userConns returns the local connections of a user.
func (f *fanout) userConns(id string) []*conn {
	f.mu.RLock()
	set := f.users[id]
	f.mu.RUnlock()
	if set == nil {
		return nil
	}
	return set.load()
}

// allConns returns every registered connection.
func (f *fanout) allConns() []*conn {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*conn, 0, len(f.all))
	for c := range f.all {
		out = append(out, c)
	}
	return out
}

// served returns the rooms this node serves, each with its id.
func (f *fanout) served() map[string]*localRoom {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]*localRoom, len(f.rooms))
	for id, lr := range f.rooms {
		out[id] = lr
	}
	return out
}

// roomsOf returns the rooms c is subscribed to.
func (f *fanout) roomsOf(c *conn) []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// subscribed reports whether c receives the pushes of room.
func (f *fanout) subscribed(c *conn, room string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, ok := c.rooms[room]
	return ok
}

// stats counts what the node serves.
func (f *fanout) stats() Stats {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return Stats{Connections: len(f.all), Users: len(f.users), Rooms: len(f.rooms)}
}

// connSet is a copy-on-write set of connections: readers load it without a
// lock, writers hold fanout.mu.
type connSet struct {
	p atomic.Pointer[[]*conn]
}

func (s *connSet) load() []*conn {
	if p := s.p.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *connSet) len() int { return len(s.load()) }

func (s *connSet) add(c *conn) {
	old := s.load()
	next := make([]*conn, len(old), len(old)+1)
	copy(next, old)
	next = append(next, c)
	s.p.Store(&next)
}

func (s *connSet) remove(c *conn) {
	old := s.load()
	i := slices.Index(old, c)
	if i < 0 {
		return
	}
	next := slices.Concat(old[:i], old[i+1:])
	s.p.Store(&next)
}
