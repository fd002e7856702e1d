package socketio

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestParkSeesEnd: an end (the client leaving, Close, Abort) that comes
// while ReadOrPark parks is never lost: ReadOrPark either returns it or
// parks with a wake that the end calls. Lost, the connection would stay
// open for good and Close and Shutdown would wait for it forever. The two
// race here many times; before the fix the race detector's scheduling lost
// one within a few thousand rounds.
func TestParkSeesEnd(t *testing.T) {
	for i := range 50_000 {
		c := &conn{in: make(chan []byte, 8), done: make(chan struct{}), served: func() {}}
		var woke atomic.Bool
		var parked bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, parked, _ = c.ReadOrPark(func() { woke.Store(true) })
		}()
		go func() {
			defer wg.Done()
			<-start
			c.end(errors.New("gone"))
		}()
		close(start)
		wg.Wait()
		if parked && !woke.Load() {
			t.Fatalf("round %d: parked after the end, and never woken", i)
		}
	}
}
