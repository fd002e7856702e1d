package realtime

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/wire"
)

// TestIdleConnectionHoldsNoQueue: once its writer has sent everything, a
// connection holds no send queue, and once its messages are stored, no
// queue of messages to store: the chunks go back to frameChunks and the
// arrays to pendingArrays, for the next connection that sends, instead of
// staying with an idle one.
func TestIdleConnectionHoldsNoQueue(t *testing.T) {
	st := &twoGates{gatedStore: gatedStore{Store: NewMemoryStore(MemoryOptions{}), release: make(chan struct{})},
		entered: make(chan struct{}), release2: make(chan struct{})}
	defer st.open() // before the hub closes, whatever failed
	h := quietHub(t, Config{Store: st, MaxEventsPerSecond: -1, MaxMessagesPerMinute: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, c := dialOnly(ctx, t, h, "quinn")

	const pushes = 200 // several batches, which grow the queue
	for i := range pushes {
		require.NoError(t, h.SendToUser(ctx, c.currentUser().ID, "note", map[string]int{"i": i}))
	}
	for got := 0; got < pushes; {
		_, data, err := ws.Read(ctx)
		require.NoError(t, err)
		got += strings.Count(string(data), `"note"`)
	}
	require.Eventually(t, func() bool {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		return !c.writing && c.queue.empty() && c.freeChunks == nil
	}, 5*time.Second, 5*time.Millisecond, "the idle connection still holds its queue")

	// Messages sent without waiting for their acks. The slow first save
	// (on the read goroutine) sets the pipe going; the second slow one
	// holds the pipe's goroutine while the rest wait in its queue.
	room, err := h.CreateRoom(ctx, c.currentUser(), RoomOptions{Name: "pipe"})
	require.NoError(t, err)
	send := func(content string, ack uint64) {
		frame := wire.AppendClient(nil, "message", []byte(`{"roomId":"`+room.ID+`","content":"`+content+`"}`), ack)
		require.NoError(t, ws.Write(ctx, websocket.MessageText, frame))
	}
	send("slow", 1000)
	time.Sleep(time.Millisecond)
	close(st.release)
	send("slow2", 1001)
	<-st.entered
	const sends = 20 // a group the old pipe kept (it dropped arrays past 32)
	for i := range sends {
		send("m"+strconv.Itoa(i), uint64(i+1))
	}
	require.Eventually(t, func() bool {
		c.sends.mu.Lock()
		defer c.sends.mu.Unlock()
		return c.sends.running && len(c.sends.queue) == sends
	}, 5*time.Second, time.Millisecond, "the sends wait in the pipe's queue")
	st.open()
	for acks := 0; acks < sends+2; {
		_, data, err := ws.Read(ctx)
		require.NoError(t, err)
		acks += strings.Count(string(data), `"ack":`)
	}
	require.Eventually(t, func() bool {
		c.sends.mu.Lock()
		defer c.sends.mu.Unlock()
		return !c.sends.running && c.sends.queue == nil
	}, 5*time.Second, 5*time.Millisecond, "the idle connection still holds its queue of messages to store")
}

// dialOnly serves h, connects its only client, as user name, reads its
// connected and returns its socket and the hub's side of it.
func dialOnly(ctx context.Context, t *testing.T, h *Hub, name string) (*websocket.Conn, *conn) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/?username="+name, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(-1)
	_, data, err := ws.Read(ctx)
	require.NoError(t, err)
	require.Contains(t, string(data), `"connected"`)
	conns := h.fan.allConns()
	require.Len(t, conns, 1)
	return ws, conns[0]
}

// twoGates is a gatedStore whose message "slow2" closes entered, then
// waits for release2.
type twoGates struct {
	gatedStore
	entered, release2 chan struct{}
	once              sync.Once
}

// open releases both gates, once.
func (s *twoGates) open() {
	s.once.Do(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		close(s.release2)
	})
}

func (s *twoGates) SaveMessage(ctx context.Context, m Message) (Message, bool, error) {
	if m.Content == "slow2" {
		saved, dup, err := s.Store.SaveMessage(ctx, m)
		close(s.entered)
		<-s.release2
		return saved, dup, err
	}
	return s.gatedStore.SaveMessage(ctx, m)
}

// TestOverflowObserverMayCallBack: the Observer hears of an overflow after
// the connection's lock is released, so that it may call back into the
// hub, here closing the same connection, without a deadlock.
func TestOverflowObserverMayCallBack(t *testing.T) {
	obs := &overflowCounter{}
	h := quietHub(t, Config{Observer: obs})
	f, ok := pushFrame([]byte(`{"event":"note","data":{}}`))
	require.True(t, ok)
	c := &conn{hub: h, writing: true} // a writer runs: none is started here
	obs.then = func() { c.closeWith(StatusPolicy, "observed") }
	c.queued.Store(h.cfg.SendQueueBytes)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.send(f, false)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("send deadlocked with an Observer that closes the connection")
	}
	require.EqualValues(t, 1, obs.overflows.Load())
	require.True(t, c.closing)
	require.Equal(t, StatusTooSlow, c.closeCode, "the overflow's close, which came first, wins")
}

// overflowCounter counts QueueOverflowed calls and runs then after each.
type overflowCounter struct {
	NopObserver
	overflows atomic.Int64
	then      func()
}

func (o *overflowCounter) QueueOverflowed() {
	o.overflows.Add(1)
	if o.then != nil {
		o.then()
	}
}

// pretendWriting makes c's writer look busy, once the one running is done,
// so that what is sent to c waits in its queue. done says the pretended
// writer is done (at cleanup, before the hub closes, if not called before),
// and with wake starts a real one for what waits.
func pretendWriting(t *testing.T, c *conn) (done func(wake bool)) {
	t.Helper()
	require.Eventually(t, func() bool {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		if c.writing {
			return false
		}
		c.writing = true
		return true
	}, 5*time.Second, time.Millisecond)
	pretending := true
	done = func(wake bool) {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		if !pretending {
			return
		}
		pretending, c.writing = false, false
		if wake {
			c.wakeWriterLocked()
		}
	}
	t.Cleanup(func() { done(false) })
	return done
}

// TestStoppedConnectionQueuesNothing: once release has stopped a
// connection, nothing will be written to it: what was queued is dropped
// and its array lent again, and what the hub sends to it until it is
// unregistered (which waits for a stuck writer) is not queued.
func TestStoppedConnectionQueuesNothing(t *testing.T) {
	h := quietHub(t, Config{MaxEventsPerSecond: -1, MaxMessagesPerMinute: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, c := dialOnly(ctx, t, h, "stella")
	user := c.currentUser().ID

	// A writer busy with an earlier batch: what is sent now waits.
	writerDone := pretendWriting(t, c)
	for i := range 3 {
		require.NoError(t, h.SendToUser(ctx, user, "note", map[string]int{"i": i}))
	}
	// state reads what the assertions look at, without holding c.qmu
	// while they may fail.
	state := func() (queue []Frame, held int, writing bool) {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		return c.queue.appendTo(nil), len(c.heldList), c.writing
	}
	queue, _, _ := state()
	require.Len(t, queue, 3, "frames wait for the busy writer")
	require.True(t, c.hold("typing", Frame{native: []byte(`{}`)}), "a held frame")

	c.stop()
	queue, held, _ := state()
	require.Nil(t, queue, "stop drops what is queued")
	require.Zero(t, c.queued.Load())
	require.Zero(t, held, "stop drops what is held")
	writerDone(false)

	require.NoError(t, h.SendToUser(ctx, user, "note", map[string]int{"i": 3}))
	c.sendReply(Frame{native: []byte(`{"ack":1}`)})
	require.False(t, c.hold("typing", Frame{native: []byte(`{}`)}))
	queue, held, writing := state()
	require.Nil(t, queue, "a stopped connection queues nothing")
	require.Zero(t, c.queued.Load())
	require.Zero(t, held)
	require.False(t, writing, "and starts no writer")
}
