package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// tally counts what the readers of one run receive. Readers add to it once
// per frame; the sender and the drain wait on progress.
type tally struct {
	epoch time.Time // payload times are durations since epoch

	delivered atomic.Int64 // bench messages received by counting readers
	frames    atomic.Int64 // frames received by counting readers
	objects   atomic.Int64 // JSON objects in those frames
	bytes     atomic.Int64 // bytes of those frames
	errors    atomic.Int64 // error replies and pushes, on any connection
	last      atomic.Int64 // when the latest delivery arrived, since epoch

	latency  shardedHist
	progress chan struct{} // poked after each counted frame; capacity 1

	mu    sync.Mutex
	codes map[int]int // close code -> connections that ended with it
}

func newTally(epoch time.Time) *tally {
	return &tally{epoch: epoch, progress: make(chan struct{}, 1), codes: make(map[int]int)}
}

// now returns the time since epoch, as carried in payloads.
func (t *tally) now() time.Duration { return time.Since(t.epoch) }

// read receives c's frames until ctx ends or the connection does. Frames of
// a counting reader add to the tally; others are only checked for errors.
// key spreads the readers over the latency histogram's shards.
func (t *tally) read(ctx context.Context, c *wsConn, p proto, counting bool, key int) {
	var sent []time.Duration
	var lat []time.Duration
	// One hook ends the reads when ctx does, rather than one that
	// coder/websocket would set up for every frame.
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	for {
		frame, err := c.read(context.Background())
		if err != nil {
			if ctx.Err() == nil {
				t.mu.Lock()
				t.codes[closeCode(err)]++
				t.mu.Unlock()
			}
			return
		}
		errs, answer := p.control(frame)
		if answer != nil {
			_ = c.write(ctx, answer)
		}
		if errs > 0 {
			t.errors.Add(int64(errs))
		}
		if !counting {
			continue
		}
		now := t.now()
		sent = appendMarkers(sent[:0], frame)
		lat = lat[:0]
		for _, ts := range sent {
			lat = append(lat, now-ts)
		}
		if len(lat) > 0 {
			t.latency.recordAll(key, lat)
			t.delivered.Add(int64(len(lat)))
			t.last.Store(int64(now))
		}
		t.frames.Add(1)
		t.objects.Add(int64(countObjects(frame)))
		t.bytes.Add(int64(len(frame)))
		select {
		case t.progress <- struct{}{}:
		default:
		}
	}
}

// reset forgets what was counted: the warm-up before a measurement.
func (t *tally) reset() {
	t.delivered.Store(0)
	t.frames.Store(0)
	t.objects.Store(0)
	t.bytes.Store(0)
	t.errors.Store(0)
	t.last.Store(0)
	t.latency.reset()
}

// disconnects returns how many connections ended while being read, by
// close code (-1: without one).
func (t *tally) disconnects() (int, map[int]int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	codes := make(map[int]int, len(t.codes))
	for code, k := range t.codes {
		n += k
		codes[code] = k
	}
	return n, codes
}

// waitDelivered waits until at least want messages were delivered. It
// gives up (false) when none arrived for quiet, when limit has passed, or when
// ctx ends.
func (t *tally) waitDelivered(ctx context.Context, want int64, quiet, limit time.Duration) bool {
	seen := t.delivered.Load()
	if seen >= want {
		return true
	}
	deadline := time.Now().Add(limit)
	lastMove := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.progress:
		case <-tick.C:
		}
		n := t.delivered.Load()
		if n >= want {
			return true
		}
		now := time.Now()
		if n != seen {
			seen, lastMove = n, now
		}
		if now.Sub(lastMove) > quiet || now.After(deadline) {
			return false
		}
	}
}
