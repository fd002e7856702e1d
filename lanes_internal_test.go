package realtime

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLanesAreOnePerName: while one room's lane is held (a join waiting for
// a slow Store), every other room's and user's lane can be taken; a lane
// serializes its own name's holders; and nothing is kept once released.
// Striped lanes failed this: a stalled resume held up the users whose lane
// shared its stripe (TestResumeDoesNotStallDelivery, 1 run in 3 under
// -race).
func TestLanesAreOnePerName(t *testing.T) {
	var l lanes
	unlockA := l.lock("room:a")
	for i := range 1000 {
		l.lock(fmt.Sprint("user:", i))()
		l.lock(fmt.Sprint("room:", i))()
	}

	var wg sync.WaitGroup
	got := make(chan int, 2)
	for i := range 2 {
		wg.Go(func() {
			unlock := l.lock("room:a")
			got <- i
			unlock()
		})
	}
	waiting := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.m["room:a"].refs
	}
	require.Eventually(t, func() bool { return waiting() == 3 }, 10*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // time to get in, if the lane let them
	require.Empty(t, got, "a held lane let another holder in")
	unlockA()
	wg.Wait()
	require.Len(t, got, 2)
	require.Empty(t, l.m, "released lanes are kept")
}
