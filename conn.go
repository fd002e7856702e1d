package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtime-go/realtime/internal/wire"
)

// batchBytes is the size past which the WebSocket transport starts a new
// frame instead of appending more queued events to the current one.
const batchBytes = 32 << 10

// conn is one client connection. The goroutine of Hub.ServeHTTP reads and
// handles its frames in order. Any goroutine may fill the send queue without
// blocking; a writer goroutine, started when the queue fills and ending when
// it is empty, owns every write to the socket. An idle connection has only
// its reader.
type conn struct {
	// What send reads and writes on its common path (a frame queued
	// while a writer runs) comes first, in the first 64 bytes: a room of
	// thousands sends each message to every connection in turn, and with
	// these fields spread over the struct the room of 5,000 delivered a
	// third less (BENCHMARKS.md). TestConnLayout keeps it so.
	hub *Hub
	// sub is set when the connection is a Subscription's (Hub.Subscribe):
	// it receives its room's pushes only, and runs no connection hooks.
	sub *Subscription
	// qmu guards the send queue, the closing state, the writer's and the
	// pinger's lifecycle.
	qmu     sync.Mutex
	queued  atomic.Int64 // written under qmu; the writer peeks without it
	queue   frameQueue
	closing bool
	writing bool // a writer goroutine runs (or the connection is done writing)
	stopped bool // the connection is over: start no writer or ping
	// Guarded by qmu too.
	freeChunks  *frameChunk // written chunks, for the queue to fill again
	closeCode   StatusCode
	closeReason string
	pinger      *time.Timer // the next ping
	// stuck ends a write that takes too long; the writer's alone.
	stuck *time.Timer

	t   Transport
	id  string
	ctx context.Context // ends when the connection is done

	cancel context.CancelFunc // ends ctx

	// wake, over a parker, serves the connection again on a new goroutine
	// (parker.ReadOrPark); parkHooked is set once the end of ctx aborts
	// the transport, which then wakes a parked connection. The goroutine
	// reading the connection owns parkHooked.
	wake       func()
	parkHooked bool

	// umu guards user and authed, which auth refreshes may change while
	// other goroutines read them.
	umu    sync.Mutex
	user   User
	authed bool

	// held are coalescing frames by key, in arrival order, waiting for the
	// hub's next flush; guarded by qmu.
	held     map[string]int // key -> index in heldList
	heldList []Frame

	// rooms holds the rooms this connection is subscribed to; guarded by
	// fanout.mu.
	rooms map[string]struct{}

	// tmu guards the timers, which fire on their own goroutines.
	tmu       sync.Mutex
	typing    map[string]*time.Timer
	authTimer *time.Timer
	warnTimer *time.Timer
	expTimer  *time.Timer

	// transport names t for the Observer; remoteAddr and userAgent are
	// those of the request that opened it (empty for a Subscription).
	transport   string
	remoteAddr  string
	userAgent   string
	connectedAt time.Time

	// oneShot marks the connection of a Hub.Do call: it runs one event and
	// subscribes to nothing.
	oneShot bool

	// slot is the connection's place in the hub's limits; the goroutine
	// that connects it sets it, release gives it back.
	slot slot

	// sends are the messages read and waiting to be stored (sends.go).
	sends sendPipe

	// Only the read goroutine touches these.
	events  bucket
	strikes []time.Time

	wg sync.WaitGroup // the writer and in-flight pings
}

func newConn(h *Hub, t Transport) *conn {
	ctx, cancel := context.WithCancel(h.ctx)
	c := &conn{
		hub:    h,
		t:      t,
		id:     newID("c"),
		ctx:    ctx,
		cancel: cancel,
		rooms:  make(map[string]struct{}),
	}
	c.sends.changed.L = &c.sends.mu
	if _, ok := t.(parker); ok {
		c.wake = func() { go h.serve(c) }
	}
	c.transport, c.connectedAt = transportName(t), now()
	if n := h.cfg.MaxEventsPerSecond; n > 0 {
		c.events = newBucket(2*n, time.Second/time.Duration(n))
	}
	return c
}

// currentUser returns the authenticated user.
func (c *conn) currentUser() User {
	c.umu.Lock()
	defer c.umu.Unlock()
	return c.user
}

// sendReply queues the reply to the client's own request. A reply may be
// larger than the queue's bound (the member list of a large room's join):
// it is refused, closing the connection with 4009, only when the queue is
// already over the bound before it.
func (c *conn) sendReply(frame Frame) {
	c.qmu.Lock()
	if c.closing || c.stopped {
		c.qmu.Unlock()
		return
	}
	if c.queued.Load() > c.hub.cfg.SendQueueBytes {
		c.qmu.Unlock()
		c.send(frame, false) // overflows: closes with 4009
		return
	}
	c.enqueueLocked(frame, frame.size())
	c.qmu.Unlock()
}

// send queues frame for writing. It never blocks. A frame that would overflow
// the queue closes the connection with 4009, unless it is droppable: a
// droppable frame (typing) is skipped instead, and is also skipped once the
// queue is half full so that it never competes with messages.
func (c *conn) send(frame Frame, droppable bool) {
	if c.sub != nil {
		c.sendSub(frame, droppable)
		return
	}
	limit := c.hub.cfg.SendQueueBytes
	c.qmu.Lock()
	if c.closing || c.stopped {
		c.qmu.Unlock()
		return
	}
	n := frame.size()
	queued := c.queued.Load()
	if droppable && queued+n > limit/2 {
		c.qmu.Unlock()
		return
	}
	if queued+n > limit {
		c.closing, c.closeCode, c.closeReason = true, StatusTooSlow, "send queue overflow"
		c.dropQueueLocked()
		c.wakeWriterLocked()
		c.qmu.Unlock()
		// After the lock: an Observer may call back into the hub, which
		// may send to this connection or close it.
		c.hub.obs.QueueOverflowed()
		return
	}
	c.enqueueLocked(frame, n)
	c.qmu.Unlock()
}

// enqueueLocked appends frame, of size n, to the send queue and wakes the
// writer. The caller holds c.qmu.
func (c *conn) enqueueLocked(frame Frame, n int64) {
	c.queue.push(frame, &c.freeChunks)
	c.queued.Add(n)
	c.wakeWriterLocked()
}

// sendSub hands frame to a Subscription at once. Its transport never
// blocks (an event that finds the buffer full ends the subscription), so a
// writer goroutine, a queue and a write deadline would only cost: a room
// of 1,000 subscribers would start 1,000 goroutines per event. Callers
// already take turns as they would for the queue (under the room's order),
// and the subscription's lock keeps the events in that order.
func (c *conn) sendSub(frame Frame, droppable bool) {
	c.qmu.Lock()
	closing := c.closing
	c.qmu.Unlock()
	if closing || c.ctx.Err() != nil {
		return
	}
	if err := c.sub.push(frame, droppable); err != nil {
		c.cancel()
	}
}

// wakeWriterLocked starts a writer unless one runs; c.qmu is held.
func (c *conn) wakeWriterLocked() {
	if c.writing || c.stopped {
		return
	}
	c.writing = true
	c.wg.Add(1)
	go c.writeLoop()
}

// hold keeps a coalescing frame under key until release, replacing the
// frame held under that key; it reports whether nothing was held before.
func (c *conn) hold(key string, frame Frame) bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closing || c.stopped {
		return false
	}
	if i, ok := c.held[key]; ok {
		c.heldList[i] = frame
		return false
	}
	if c.held == nil {
		c.held = make(map[string]int)
	}
	c.held[key] = len(c.heldList)
	c.heldList = append(c.heldList, frame)
	return len(c.heldList) == 1
}

// release queues the held frames.
func (c *conn) release() {
	c.qmu.Lock()
	frames := c.heldList
	c.held, c.heldList = nil, nil
	c.qmu.Unlock()
	for _, f := range frames {
		c.send(f, false)
	}
}

// closeWith closes the connection with code once what is already queued has
// been written. The first call wins.
func (c *conn) closeWith(code StatusCode, reason string) {
	c.qmu.Lock()
	if !c.closing {
		c.closing, c.closeCode, c.closeReason = true, code, reason
	}
	c.wakeWriterLocked()
	c.qmu.Unlock()
}

// take removes and returns everything queued, and the closing state; ok is
// false, and the writer must end, when there is nothing to do.
func (c *conn) take() (batch frameQueue, closing, ok bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.queue.empty() && !c.closing {
		c.writing = false
		releaseChunks(&c.freeChunks)
		return frameQueue{}, false, false
	}
	batch, c.queue = c.queue, frameQueue{}
	c.queued.Store(0)
	return batch, c.closing, true
}

// maxYields bounds the turns a writer gives the goroutines still adding
// to its queue before it takes it (writeLoop).
const maxYields = 3

// waitBelow is the queued bytes past which a writer takes its queue
// without waiting: a frame's worth (batchBytes), or a quarter of
// Config.SendQueueBytes when that is smaller, so that waiting never brings
// a queue near the half past which typing and presence frames are dropped,
// nor near the limit that closes the connection.
func (c *conn) waitBelow() int64 {
	return min(batchBytes, c.hub.cfg.SendQueueBytes/4)
}

// writeLoop writes what is queued, several events per WebSocket frame,
// until the queue is empty or the connection closes.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	defer c.survive("writer") // writing stays set: no writer starts again
	growWriterStack()
	for {
		// Whoever is queueing for this connection right now (the other
		// members' messages of a busy room) goes first, so that one frame
		// carries it all. On an idle hub this returns at once.
		runtime.Gosched()
		// While they keep adding, let them go on, a few turns more, as
		// long as each turn adds something and the batch is below
		// waitBelow: a writer that took its queue as soon as it ran wrote
		// a room of 5,000 some 20 events at a time, and the hub and its
		// readers paid for twice the writes (BENCHMARKS.md, "A writer
		// waits while its queue grows"). On an idle hub nothing is added
		// meanwhile: one more yield.
		limit := c.waitBelow()
		for range maxYields {
			n := c.queued.Load()
			if n >= limit {
				break
			}
			runtime.Gosched()
			if c.queued.Load() == n {
				break
			}
		}
		if c.ctx.Err() != nil {
			return // writing stays set: no writer starts again
		}
		batch, closing, ok := c.take()
		if !ok {
			return
		}
		var err error
		if !batch.empty() {
			if c.stuck == nil {
				// One timer for every write: far cheaper than a context
				// with a deadline per write.
				c.stuck = time.AfterFunc(time.Hour, c.writeTimedOut)
			}
			c.stuck.Reset(c.hub.cfg.WriteTimeout)
			err = c.write(&batch)
			c.stuck.Stop()
			batch.clearFrames() // outside the lock: publishers wait less
			c.qmu.Lock()
			c.keepChunksLocked(&batch)
			c.qmu.Unlock()
		}
		if err != nil {
			c.cancel()
			return
		}
		if closing {
			c.qmu.Lock()
			code, reason := c.closeCode, c.closeReason
			c.qmu.Unlock()
			// Close waits (boundedly) for the peer's answer; the read
			// goroutine sees the close and finishes the connection.
			_ = c.t.Close(code, reason)
			c.cancel()
			return
		}
	}
}

// write hands batch to the transport. The native WebSocket is bounded by
// the stuck timer alone; other transports also get WriteTimeout as the
// deadline of ctx, as Transport documents, since their Abort may not
// interrupt a write.
func (c *conn) write(batch *frameQueue) error {
	var err error
	if t, native := c.t.(*wsTransport); native {
		err = t.writeQueue(batch)
	} else {
		// Other transports take the frames in one slice, gathered into
		// an array that only the writers running at a moment hold.
		b := writeBatches.Get().(*[]Frame)
		frames := batch.appendTo((*b)[:0])
		ctx, cancel := context.WithTimeout(c.ctx, c.hub.cfg.WriteTimeout)
		err = c.t.Write(ctx, frames)
		cancel()
		clear(frames)
		if *b = frames[:0]; cap(frames) <= maxKeptBatch {
			writeBatches.Put(b)
		}
	}
	if err == nil && c.hub.observed {
		n, bytes := 0, 0
		for frames := range batch.chunks() {
			n += len(frames)
			for i := range frames {
				bytes += len(frames[i].native)
			}
		}
		c.hub.obs.FramesSent(n, bytes)
	}
	return err
}

// survive, deferred by a goroutine of the connection's own (its writer,
// its pinger), turns a panic of a Transport or an Observer into the end of
// this connection, logged, rather than of the process, as a panicking hook
// is on the reading side.
func (c *conn) survive(goroutine string) {
	if p := recover(); p != nil {
		c.hub.log.Error("realtime: panic in a connection's "+goroutine, "conn", c.id, "panic", p, "stack", string(debug.Stack()))
		c.abort()
	}
}

// abort ends the connection at once, without a close frame: its context,
// and its transport, whose Write may be what is stuck.
func (c *conn) abort() {
	c.cancel()
	c.t.Abort()
}

// writeTimedOut ends the connection: one write has taken WriteTimeout.
func (c *conn) writeTimedOut() {
	c.hub.log.Debug("realtime: write timed out", "conn", c.id)
	c.abort()
}

// startPings pings the peer every HeartbeatInterval from now on.
func (c *conn) startPings() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if !c.stopped {
		c.pinger = time.AfterFunc(c.hub.cfg.HeartbeatInterval, c.ping)
	}
}

// ping checks that the peer still answers, on the timer's goroutine, then
// plans the next ping.
func (c *conn) ping() {
	c.qmu.Lock()
	if c.stopped {
		c.qmu.Unlock()
		return
	}
	c.wg.Add(1)
	c.qmu.Unlock()
	defer c.wg.Done()
	defer c.survive("pinger")
	ctx, cancel := context.WithTimeout(c.ctx, c.hub.cfg.PingTimeout)
	err := c.t.Ping(ctx)
	cancel()
	if err != nil {
		if c.ctx.Err() == nil {
			c.hub.log.Debug("realtime: peer stopped answering pings", "conn", c.id)
			c.cancel()
		}
		return
	}
	c.qmu.Lock()
	if !c.stopped {
		c.pinger.Reset(c.hub.cfg.HeartbeatInterval)
	}
	c.qmu.Unlock()
}

// stop starts no more writers or pings; those running finish (c.wg). No
// frame is written from then on: what is queued or held is dropped, its
// chunks go back to frameChunks, and send, sendReply and hold queue
// nothing, where the rooms' messages kept coming in until the connection
// was unregistered, which waits for a stuck writer up to WriteTimeout.
func (c *conn) stop() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	c.stopped = true
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.dropQueueLocked()
	c.held, c.heldList = nil, nil
}

// dropQueueLocked drops what is queued, which will not be written, and
// gives its chunks and the free ones back to frameChunks; c.qmu is held. A
// writer's batch is its own (take moved it out), so it is not touched.
func (c *conn) dropQueueLocked() {
	c.queue.clear(&c.freeChunks)
	releaseChunks(&c.freeChunks)
	c.queued.Store(0)
}

// keepChunksLocked moves the chunks of a writer's written batch, its
// frames cleared, to the connection's free ones, or gives them back to
// frameChunks once the connection is stopped; c.qmu is held.
func (c *conn) keepChunksLocked(batch *frameQueue) {
	batch.moveTo(&c.freeChunks)
	if c.stopped {
		releaseChunks(&c.freeChunks)
	}
}

// readLoop reads and handles frames until the connection ends, or until
// stop (when not nil) reports true after a frame; it returns the error that
// ended the connection, nil when stop did. Over a parker, without stop, it
// returns errParked when the connection parked.
func (c *conn) readLoop(stop func() bool) error {
	p, _ := c.t.(parker)
	grown := false
	for {
		var data []byte
		var err error
		if p != nil && stop == nil {
			if !c.parkHooked {
				c.parkHooked = true
				context.AfterFunc(c.ctx, c.t.Abort)
			}
			var parked bool
			if data, parked, err = p.ReadOrPark(c.wake); parked {
				return errParked
			}
		} else {
			data, err = c.t.Read(c.ctx)
		}
		if errors.Is(err, ErrUnsupportedFrame) {
			if c.allow(&c.events) {
				c.reply(0, "", nil, Errorf(CodeInvalid, "binary frames are not supported"))
			}
			continue
		}
		if err != nil {
			return err
		}
		if !grown && p == nil {
			grown = true
			growStack()
		}
		c.handleFrame(data)
		if stop != nil && stop() {
			return nil
		}
	}
}

// isAuthed reports whether the connection has authenticated.
func (c *conn) isAuthed() bool {
	c.umu.Lock()
	defer c.umu.Unlock()
	return c.authed
}

// handleFrame decodes and answers one client frame. Its answer comes after
// those of the frames before it.
func (c *conn) handleFrame(data []byte) {
	f, err := wire.DecodeClient(data)
	if err != nil {
		c.refuse(f.Ack, f.Event, Errorf(CodeInvalid, "%s", err.Error()))
		return
	}
	if !c.allow(&c.events) {
		c.hub.obs.RateLimited("events")
		c.refuse(f.Ack, f.Event, ErrRateLimited)
		return
	}
	if f.Event != "auth" && !c.isAuthed() {
		c.refuse(f.Ack, f.Event, ErrUnauthorized)
		return
	}
	if f.Event == "message" {
		// Stored with the messages read before and after it (sends.go).
		c.hub.countEvent(f.Event)
		s, err := c.hub.prepareMessage(c.ctx, c, f.Ack, f.Data)
		if err != nil {
			c.refuse(f.Ack, f.Event, err)
			return
		}
		c.pipeSend(s)
		return
	}
	c.awaitSends() // every other event applies after the messages before it
	result, err := c.hub.handle(c, f.Event, f.Data)
	c.answer(f.Ack, f.Event, result, err)
}

// answer answers a client event: its ack (or for a message sent without
// one, message-sent), its error, or the close a hook asked for.
func (c *conn) answer(ack uint64, event string, result any, err error) {
	if ce, ok := asCloseError(err); ok {
		c.closeWith(ce.Code, ce.Reason)
		return
	}
	if err == nil && event == "message" && ack == 0 {
		// The protocol's confirmation for a message sent without ack.
		c.push("message-sent", result)
		return
	}
	c.reply(ack, event, result, err)
}

// answerMessage answers a message event with its ack, as answer would,
// without boxing a in an interface on the common path.
func (c *conn) answerMessage(ack uint64, a messageAck, err error) {
	if err == nil && ack != 0 {
		if frame, ok := a.ackFrame(ack); ok {
			c.sendReply(frame)
			return
		}
	}
	if err != nil {
		c.answer(ack, "message", nil, err)
		return
	}
	c.answer(ack, "message", a, nil)
}

// asCloseError returns the *CloseError in err's chain; err == nil costs
// nothing (the target of errors.As lives on the heap).
func asCloseError(err error) (*CloseError, bool) {
	if err == nil {
		return nil, false
	}
	var ce *CloseError
	ok := errors.As(err, &ce)
	return ce, ok
}

// allow takes a token from b and counts refusals: a connection refused more
// than abuseStrikes times within a minute is closed with 4008.
func (c *conn) allow(b *bucket) bool {
	if b.allow(time.Now()) {
		return true
	}
	const abuseStrikes = 100
	now := time.Now()
	c.strikes = append(c.strikes, now)
	for len(c.strikes) > 0 && now.Sub(c.strikes[0]) > time.Minute {
		c.strikes = c.strikes[1:]
	}
	if len(c.strikes) > abuseStrikes {
		c.closeWith(StatusRateLimited, "rate limit abuse")
	}
	return false
}

// reply answers an event: an ack reply when the client asked for one, an
// error push when it did not and the event failed, nothing otherwise.
func (c *conn) reply(ack uint64, event string, result any, err error) {
	if err != nil {
		e, known := toWire(err)
		if !known {
			c.hub.log.Error("realtime: event failed", "conn", c.id, "event", event, "err", err)
		}
		if ack != 0 {
			c.sendReply(newErrorReply(ack, e))
			return
		}
		c.push("error", errorPush{Code: e.Code, Message: e.Message, Event: event})
		return
	}
	if ack == 0 {
		return
	}
	if a, ok := result.(ackFramer); ok {
		if frame, ok := a.ackFrame(ack); ok {
			c.sendReply(frame)
			return
		}
	}
	data, merr := json.Marshal(result)
	if merr != nil {
		c.hub.log.Error("realtime: encode reply", "event", event, "err", merr)
		c.sendReply(newErrorReply(ack, errInternal))
		return
	}
	c.sendReply(newReply(ack, data))
}

// push sends one event to this connection only.
func (c *conn) push(event string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		c.hub.log.Error("realtime: encode push", "event", event, "err", err)
		return
	}
	c.send(newPush(event, b), false)
}

type errorPush struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Event   string `json:"event,omitempty"`
}

// encodePush encodes a server push once, for any number of recipients.
func encodePush(event string, data any) ([]byte, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return wire.AppendPush(make([]byte, 0, len(b)+len(event)+24), event, b), nil
}

// stopTimers stops every timer of the connection; it returns the rooms in
// which the connection was typing.
func (c *conn) stopTimers() (typingRooms []string) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	for _, t := range []*time.Timer{c.authTimer, c.warnTimer, c.expTimer} {
		if t != nil {
			t.Stop()
		}
	}
	for room, t := range c.typing {
		if t.Stop() {
			typingRooms = append(typingRooms, room)
		}
	}
	c.typing = nil
	return typingRooms
}

// bucket is a token bucket: capacity tokens, one more every interval.
type bucket struct {
	capacity int
	interval time.Duration
	tokens   int
	last     time.Time
}

func newBucket(capacity int, interval time.Duration) bucket {
	return bucket{capacity: capacity, interval: interval, tokens: capacity}
}

// full reports whether the bucket has refilled completely by now.
func (b *bucket) full(now time.Time) bool {
	return b.capacity == 0 || b.last.IsZero() || b.tokens+int(now.Sub(b.last)/b.interval) >= b.capacity
}

// allow takes one token if there is one. A zero bucket allows everything.
func (b *bucket) allow(now time.Time) bool {
	if b.capacity == 0 {
		return true
	}
	if b.last.IsZero() {
		b.last = now
	}
	if gained := int(now.Sub(b.last) / b.interval); gained > 0 {
		b.tokens = min(b.capacity, b.tokens+gained)
		b.last = b.last.Add(time.Duration(gained) * b.interval)
	}
	if b.tokens == 0 {
		return false
	}
	if b.tokens == b.capacity {
		b.last = now
	}
	b.tokens--
	return true
}

// growStack grows the calling goroutine's stack to what handling a request
// needs, while the stack is shallow. A goroutine starts with a small stack,
// and one that outgrows it has it copied to a larger one, every frame on it
// adjusted: a join-room, a few calls deep, outgrew the stack a reader
// started with, and the copy there cost more than one here (BENCHMARKS.md,
// Connections). A reader grows it before its first frame only: the
// collector shrinks the stack of a connection that idles, and a later frame
// grows it where it must. A parked connection's reader (Socket.IO), a new
// goroutine for each wake, does not.
//
//go:noinline
func growStack() {
	var pad [growStackBytes]byte
	keepStack(pad[:])
}

// growStackBytes is what growStack adds: with the few frames below it, more
// than the 4 KiB a goroutine may start with, so that the stack becomes 8
// KiB, which a join-room fits in.
const growStackBytes = 5 << 10

// growWriterStack grows a writer's stack, while it is shallow, to the 4 KiB
// a write takes down to its system call, where it grew from the 2 KiB a
// goroutine starts with on a busy hub, every frame of the write on it
// adjusted. Not to 8 KiB: in a burst every connection has a writer.
//
//go:noinline
func growWriterStack() {
	var pad [growWriterBytes]byte
	keepStack(pad[:])
}

// growWriterBytes is what growWriterStack adds: with the frames below it,
// more than 2 KiB and less than 4 KiB with the runtime's guard.
const growWriterBytes = 2 << 10

//go:noinline
func keepStack([]byte) {}
