package realtime

import (
	"testing"
	"unsafe"
)

// TestConnLayout: every field conn.send reads or writes is in the first 64
// bytes of a conn. In a room of 5,000 members, with them spread over the
// struct, the hub delivered a third less (BENCHMARKS.md, "What send
// touches, together").
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
