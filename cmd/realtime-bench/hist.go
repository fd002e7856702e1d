package main

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// hist is a log-linear histogram of durations: exact below 64 ns, then 32
// buckets per power of two, so that a quantile is within about 3% of the
// true value. It holds any number of samples in 16 KiB. The zero value is
// empty and ready.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits // buckets per power of two
	histBuckets = 64 * histSub
)

// bucketOf returns the bucket of v (v >= 0).
func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	return (shift+1)*histSub + int(v>>uint(shift)) - histSub
}

// bucketRange returns the smallest value of bucket i and the first value of
// the next one.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i) + 1
	}
	shift := uint(i/histSub - 1)
	m := uint64(i%histSub + histSub)
	return m << shift, (m + 1) << shift
}

// record adds one sample; negative durations count as zero.
func (h *hist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

// merge adds every sample of o to h.
func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1) of the samples: the middle of
// the bucket holding the sample of rank ceil(q*n), capped by the largest
// sample. It is 0 without samples.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			lo, hi := bucketRange(i)
			return min(time.Duration(lo+(hi-lo)/2), h.max)
		}
	}
	return h.max
}

// shardedHist spreads the samples of many goroutines over a few locked
// histograms, so that readers seldom wait for one another.
type shardedHist struct {
	shards [32]struct {
		mu sync.Mutex
		h  hist
		_  [64]byte // keeps neighbouring locks off one cache line
	}
}

// recordAll adds samples to the shard of key.
func (s *shardedHist) recordAll(key int, samples []time.Duration) {
	sh := &s.shards[key%len(s.shards)]
	sh.mu.Lock()
	for _, d := range samples {
		sh.h.record(d)
	}
	sh.mu.Unlock()
}

// snapshot returns the merge of every shard.
func (s *shardedHist) snapshot() *hist {
	var all hist
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		all.merge(&sh.h)
		sh.mu.Unlock()
	}
	return &all
}

// reset empties every shard.
func (s *shardedHist) reset() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.h = hist{}
		sh.mu.Unlock()
	}
}
