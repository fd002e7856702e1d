package realtime

import "sync"

// A lender lends arrays that would otherwise be kept by each connection
// (its send queue, its queue of messages to store): a connection takes one
// when it has something to queue and gives it back when its queue drains,
// so that an idle connection holds none and a new one takes an array that
// has grown already instead of growing its own. The pool holds boxes
// (*lent), which each borrower keeps while they are empty (its boxes), so
// that lending allocates nothing.
type lender[T any] struct {
	pool    sync.Pool
	initial int // the capacity of a new array
	max     int // the capacity past which an array is left to the collector
}

// lent is a lender's box of an array.
type lent[T any] struct{ a []T }

// boxes are a borrower's empty boxes; whoever guards the borrower's queue
// guards them.
type boxes[T any] struct {
	b [2]*lent[T]
	n int
}

// get returns an empty array, keeping its box in k.
func (l *lender[T]) get(k *boxes[T]) []T {
	b, ok := l.pool.Get().(*lent[T])
	if !ok {
		return make([]T, 0, l.initial)
	}
	a := b.a
	b.a = nil
	if k.n < len(k.b) {
		k.b[k.n] = b
		k.n++
	}
	return a
}

// append appends v to a, taking an array from the lender when a has none.
func (l *lender[T]) append(k *boxes[T], a []T, v T) []T {
	if a == nil {
		a = l.get(k)
	}
	return append(a, v)
}

// put lends a, whose elements must be cleared, in a box of k's.
func (l *lender[T]) put(k *boxes[T], a []T) {
	if cap(a) == 0 || cap(a) > l.max {
		return
	}
	var b *lent[T]
	if k.n > 0 {
		k.n--
		b, k.b[k.n] = k.b[k.n], nil
	} else {
		b = new(lent[T])
	}
	b.a = a[:0]
	l.pool.Put(b)
}
