package realtime

import (
	"iter"
	"sync"
)

// frameQueue is a connection's send queue: its frames in order, in chunks
// of chunkFrames that frameChunks lends. A queue grows a chunk at a time,
// with nothing copied and nothing left behind. A queue in one array grew by
// doubling: in a burst each of thousands of queues went through arrays of
// 16, 32, 64 and 128 frames, each new, zeroed and copied into, the smaller
// ones left to the collector (BENCHMARKS.md, "The burst, again").
// The zero value is an empty queue.
//
// The chunks a writer has written go to the connection's list of free
// chunks (conn.freeChunks), which frames queued meanwhile fill first, and
// back to frameChunks when the connection is idle: a busy connection keeps
// what it uses, an idle one holds none.
type frameQueue struct {
	head, tail *frameChunk
	// n is how many frames tail holds; the chunks before it are full. It
	// is here, not in the chunk, so that queueing a frame touches the
	// connection and the frame's slot only.
	n int
}

// frameChunk is a link of a frameQueue, or of a list of free chunks.
type frameChunk struct {
	frames [chunkFrames]Frame
	next   *frameChunk
}

// chunkFrames is how many frames a chunk holds: with its link, 488 bytes,
// in the runtime's 512-byte size class. A connection of a big, quiet room,
// with one frame queued, holds one chunk, as it held an array of 16 frames
// before.
const chunkFrames = 15

// frameChunks lends the chunks of every connection's send queue.
var frameChunks = sync.Pool{New: func() any { return new(frameChunk) }}

// push appends f, taking a chunk from free, when it has one, before
// frameChunks.
func (q *frameQueue) push(f Frame, free **frameChunk) {
	if q.tail == nil || q.n == chunkFrames {
		c := *free
		if c != nil {
			*free, c.next = c.next, nil
		} else {
			c = frameChunks.Get().(*frameChunk)
		}
		if q.tail == nil {
			q.head = c
		} else {
			q.tail.next = c
		}
		q.tail, q.n = c, 0
	}
	q.tail.frames[q.n] = f
	q.n++
}

// empty reports whether q holds no frame.
func (q *frameQueue) empty() bool { return q.head == nil }

// chunk returns the frames c holds, c being one of q's chunks.
func (q *frameQueue) chunk(c *frameChunk) []Frame {
	if c == q.tail {
		return c.frames[:q.n]
	}
	return c.frames[:]
}

// chunks yields the frames of each of q's chunks, in order.
func (q *frameQueue) chunks() iter.Seq[[]Frame] {
	return func(yield func([]Frame) bool) {
		for c := q.head; c != nil; c = c.next {
			if !yield(q.chunk(c)) {
				return
			}
		}
	}
}

// appendTo appends q's frames, in order, to dst.
func (q *frameQueue) appendTo(dst []Frame) []Frame {
	for frames := range q.chunks() {
		dst = append(dst, frames...)
	}
	return dst
}

// clearFrames zeroes q's frames, so that its chunks keep no message alive;
// q keeps them.
func (q *frameQueue) clearFrames() {
	for frames := range q.chunks() {
		clear(frames)
	}
}

// moveTo empties q, adding its chunks to the list free.
func (q *frameQueue) moveTo(free **frameChunk) {
	if q.head == nil {
		return
	}
	q.tail.next = *free
	*free = q.head
	*q = frameQueue{}
}

// clear empties q, clearing its chunks, and adds them to free.
func (q *frameQueue) clear(free **frameChunk) {
	q.clearFrames()
	q.moveTo(free)
}

// releaseChunks gives the chunks of the list free back to frameChunks.
func releaseChunks(free **frameChunk) {
	for c := *free; c != nil; {
		next := c.next
		c.next = nil
		frameChunks.Put(c)
		c = next
	}
	*free = nil
}

// writeBatches lends writers the array a taken queue is gathered into for
// the transport, which takes its frames in one slice: only the writers
// running at a moment hold one, a few however many connections queue.
var writeBatches = sync.Pool{New: func() any { return new([]Frame) }}

// maxKeptBatch is the capacity past which a writer's array is left to the
// collector rather than lent again.
const maxKeptBatch = 4096
