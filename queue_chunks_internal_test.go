package realtime

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFrameQueueChunks: a queue keeps its frames in order across chunks,
// and a written queue's chunks, cleared, are filled again before any is
// taken from frameChunks.
func TestFrameQueueChunks(t *testing.T) {
	frame := func(i int) Frame { return Frame{native: []byte(strconv.Itoa(i))} }
	var q frameQueue
	var free *frameChunk
	require.True(t, q.empty())
	const n = 4*chunkFrames + 3
	for i := range n {
		q.push(frame(i), &free)
	}
	got := q.appendTo(nil)
	require.Len(t, got, n)
	for i, f := range got {
		require.Equal(t, strconv.Itoa(i), string(f.native), "frame %d", i)
	}

	chunks := func(l *frameChunk) (list []*frameChunk) {
		for ; l != nil; l = l.next {
			list = append(list, l)
		}
		return list
	}
	used := chunks(q.head)
	require.Len(t, used, 5)
	q.clear(&free)
	require.True(t, q.empty())
	require.Empty(t, q.appendTo(nil))
	kept := chunks(free)
	require.ElementsMatch(t, used, kept, "the written chunks are kept")
	for _, c := range kept {
		for _, f := range c.frames {
			require.Nil(t, f.native, "a kept chunk holds no frame")
		}
	}

	for i := range chunkFrames + 1 {
		q.push(frame(i), &free)
	}
	require.Len(t, chunks(free), 3, "two kept chunks filled again")
	require.Subset(t, kept, chunks(q.head), "from the free list")
	require.Len(t, q.appendTo(nil), chunkFrames+1)

	q.clear(&free)
	releaseChunks(&free)
	require.Nil(t, free)
}

// TestQueuedBurstArrivesInOrder: a burst queued while its writer is busy
// spans many chunks; the client reads every event once, in order, in
// WebSocket messages of at most batchBytes beside one event.
func TestQueuedBurstArrivesInOrder(t *testing.T) {
	h := quietHub(t, Config{MaxEventsPerSecond: -1, MaxMessagesPerMinute: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, c := dialOnly(ctx, t, h, "burst")
	// The whole burst waits in the queue for a busy writer.
	writerDone := pretendWriting(t, c)
	pad := strings.Repeat(`"é\\😀`, 40) // escaped in JSON: events of about 1 KB
	const pushes = 20 * chunkFrames
	for i := range pushes {
		require.NoError(t, h.SendToUser(ctx, c.currentUser().ID, "note", map[string]any{"i": i, "pad": pad}))
	}
	c.qmu.Lock()
	spanned := 0
	for range c.queue.chunks() {
		spanned++
	}
	c.qmu.Unlock()
	writerDone(true)
	require.Equal(t, 20, spanned, "the burst waited in 20 chunks")
	next := 0
	for next < pushes {
		_, data, err := ws.Read(ctx)
		require.NoError(t, err)
		lines := strings.Split(string(data), "\n")
		require.LessOrEqual(t, len(data)-len(lines[len(lines)-1]), batchBytes, "a message past batchBytes")
		for _, line := range lines {
			if !strings.Contains(line, `"note"`) {
				continue
			}
			require.Contains(t, line, `"i":`+strconv.Itoa(next)+`,`, "event %d out of order", next)
			next++
		}
	}
}
