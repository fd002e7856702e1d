package realtime

import (
	"testing"
	"unsafe"
)

// TestConnLayout: every field conn.send reads or writes on its common path
// (a frame queued while a writer runs) is in the first 64 bytes of a conn.
// In a room of 5,000 members, with them spread over the struct, the hub
// delivered a third less (BENCHMARKS.md, "What send touches, together").
func TestConnLayout(t *testing.T) {
	var c conn
	for _, f := range []struct {
		name      string
		off, size uintptr
	}{
		{"hub", unsafe.Offsetof(c.hub), unsafe.Sizeof(c.hub)},
		{"sub", unsafe.Offsetof(c.sub), unsafe.Sizeof(c.sub)},
		{"qmu", unsafe.Offsetof(c.qmu), unsafe.Sizeof(c.qmu)},
		{"queued", unsafe.Offsetof(c.queued), unsafe.Sizeof(c.queued)},
		{"queue", unsafe.Offsetof(c.queue), unsafe.Sizeof(c.queue)},
		{"closing", unsafe.Offsetof(c.closing), unsafe.Sizeof(c.closing)},
		{"writing", unsafe.Offsetof(c.writing), unsafe.Sizeof(c.writing)},
		{"stopped", unsafe.Offsetof(c.stopped), unsafe.Sizeof(c.stopped)},
	} {
		if f.off+f.size > 64 {
			t.Errorf("conn.%s is at bytes %d to %d; want it in the first 64", f.name, f.off, f.off+f.size)
		}
	}
}

// TestWaitBelow: the queued bytes at which a writer stops waiting for more
// (conn.waitBelow, which writeLoop reads) are a frame's worth, or less on a
// hub whose send queues are small, and never past the half of
// SendQueueBytes beyond which droppable frames are dropped.
func TestWaitBelow(t *testing.T) {
	for _, tc := range []struct{ limit, want int64 }{
		{1 << 20, batchBytes},
		{4 * batchBytes, batchBytes},
		{16 << 10, 4 << 10},
		{256, 64},
	} {
		c := &conn{hub: &Hub{cfg: Config{SendQueueBytes: tc.limit}}}
		if got := c.waitBelow(); got != tc.want || got > tc.limit/2 {
			t.Errorf("SendQueueBytes %d: the writer waits below %d bytes; want %d", tc.limit, got, tc.want)
		}
	}
}
