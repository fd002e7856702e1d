// Package bufpool lends byte buffers, so that a connection holds one only
// while it reads or writes a frame: idle connections hold none, and busy
// ones do not grow a new one for every frame.
package bufpool

import "sync"

// Pool lends buffers of at least an initial capacity and takes back those
// no larger than a maximum; a bigger one (a frame that carried one very
// large object) is left to the collector.
type Pool struct {
	pool sync.Pool
	max  int
}

// New returns a Pool of buffers that start with capacity initial and are
// kept while their capacity is at most max.
func New(initial, max int) *Pool {
	p := &Pool{max: max}
	p.pool.New = func() any { b := make([]byte, 0, initial); return &b }
	return p
}

// Get returns an empty buffer. Whoever grows it stores the grown slice
// back through the pointer before Put.
func (p *Pool) Get() *[]byte {
	b := p.pool.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// Put takes b back, unless it has grown past the Pool's maximum.
func (p *Pool) Put(b *[]byte) {
	if cap(*b) <= p.max {
		p.pool.Put(b)
	}
}
