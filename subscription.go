package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/realtime-go/realtime/adapter"
)

// ErrSubscriberTooSlow ends a Subscription whose reader fell further behind
// than its buffer (SubscribeOptions.Buffer): the room never waits for it.
var ErrSubscriberTooSlow error = &Error{Code: CodeRateLimited, Message: "subscriber too slow: its buffer overflowed"}

// SubscribeOptions tunes a Subscription.
type SubscribeOptions struct {
	// SinceSeq, when set, first replays the room's messages stored after
	// that seq (at most Config.ResumeLimit), as a client's join-room with
	// since does; Subscription.Recovered says whether it could.
	SinceSeq uint64
	// Buffer is how many events may wait for the reader. Zero: 256.
	Buffer int
}

// RoomEvent is one event of a room, as a client in the room receives it.
type RoomEvent struct {
	// Event is the push's name: new-message, message-edited,
	// message-deleted, user-joined, user-left, presence-changed,
	// room-updated, member-updated, typing...
	Event string
	// Data is its JSON payload (PROTOCOL.md section 4), which the
	// subscriber owns.
	Data json.RawMessage
}

// Subscription is a stream of one room's events for Go code (Hub.Subscribe).
type Subscription struct {
	// Missed is how many messages the resume replayed; Recovered reports
	// whether it replayed everything after SinceSeq.
	Missed    int
	Recovered bool

	room   string
	events chan RoomEvent
	c      *conn

	mu     sync.Mutex
	err    error
	closed bool // events is closed
}

// Events returns the room's events, in order. It is closed when the
// subscription ends; Err then says why.
func (s *Subscription) Events() <-chan RoomEvent { return s.events }

// Err returns why the subscription ended, once Events is closed: the
// context's error, ErrSubscriberTooSlow, forbidden when the user left or
// was removed from the room, not_found when the room was deleted,
// ErrHubClosed, or a *CloseError when the hub closed it (Hub.Disconnect
// of its user); nil after Close.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == errSubClosed {
		return nil
	}
	return s.err
}

// Close ends the subscription. Events is closed once the hub has let go of
// it.
func (s *Subscription) Close() {
	s.fail(errSubClosed)
	s.c.closeWith(StatusNormal, "subscription closed")
}

// fail records why the subscription ends, unless a reason is known.
func (s *Subscription) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.err == nil {
		s.err = err
	}
}

// end closes events, once, with err as the reason unless one is known.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.err == nil {
		s.err = err
	}
	s.closed = true
	close(s.events)
}

var (
	errSubRemoved = &Error{Code: CodeForbidden, Message: "the user is no longer a member of the room"}
	errSubDeleted = &Error{Code: CodeNotFound, Message: "the room was deleted"}
	// errSubClosed marks a Close: Err is nil.
	errSubClosed = errors.New("subscription closed")
)

// Subscribe returns the events of a room, as a client of user in it would
// receive them, across the cluster. The user must be a member of the room
// (or a hub admin, "admin" role), and Config.AuthorizeJoin runs as for a
// join. The subscription is a connection of the user, without a socket: it
// makes the user online like one (not counted by MaxConnectionsPerUser; no
// OnConnect or OnDisconnect), and it ends when ctx does, when the user
// leaves or is removed from the room, when the room is deleted, when the
// reader falls more than SubscribeOptions.Buffer events behind, or when the
// hub closes; then no goroutine of it is left.
func (h *Hub) Subscribe(ctx context.Context, user User, roomID string, o SubscribeOptions) (*Subscription, error) {
	if err := subscriber(ctx, &user, &o); err != nil {
		return nil, err
	}
	room, member, err := h.membership(ctx, user, roomID)
	if err != nil {
		return nil, err
	}
	if member == nil && !user.HasRole("admin") {
		return nil, Errorf(CodeForbidden, "only members may subscribe to a room")
	}

	return h.openSubscription(ctx, user, room.ID, o, func(c *conn) error {
		if hook := h.cfg.AuthorizeJoin; hook != nil {
			if err := hook(ctx, JoinEvent{ConnectionID: c.id, User: user, Room: room, Member: member}); err != nil {
				return hookErr(err)
			}
		}
		return nil
	})
}

// SubscribeUser returns what the user's connections receive besides their
// rooms' events: notification and notifications-read, direct messages
// (new-message with a recipientId), kicked, and the host's SendToUser
// pushes, from every node. It ends as Subscribe's does (ctx, Close, too
// slow, Disconnect of the user, the hub's end); SinceSeq does not apply.
func (h *Hub) SubscribeUser(ctx context.Context, user User, o SubscribeOptions) (*Subscription, error) {
	if err := subscriber(ctx, &user, &o); err != nil {
		return nil, err
	}
	o.SinceSeq = 0
	return h.openSubscription(ctx, user, "", o, nil)
}

// subscriber checks a subscription's user and fills its defaults.
func subscriber(ctx context.Context, user *User, o *SubscribeOptions) error {
	if user.ID == "" {
		return Errorf(CodeInvalid, "a subscription needs a user with an ID")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if user.Username == "" {
		user.Username = user.ID
	}
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	return nil
}

// openSubscription registers a socketless connection for user that hears
// room (or, with room empty, the user's own channel), after authorize.
func (h *Hub) openSubscription(ctx context.Context, user User, room string, o SubscribeOptions, authorize func(*conn) error) (*Subscription, error) {
	if !h.admit() {
		return nil, ErrHubClosed
	}
	s := &Subscription{room: room, events: make(chan RoomEvent, o.Buffer)}
	t := &subTransport{s: s, done: make(chan struct{})}
	c := newConn(h, t)
	c.sub = s
	s.c = c
	h.setUser(c, user, time.Time{})
	if authorize != nil {
		if err := authorize(c); err != nil {
			h.release(c, false, DisconnectEvent{})
			h.connsWG.Done()
			return nil, err
		}
	}
	if err := h.register(c); err != nil {
		h.release(c, false, DisconnectEvent{})
		h.connsWG.Done()
		return nil, ErrHubClosed
	}
	if room != "" {
		var err error
		s.Missed, s.Recovered, err = h.subscribe(ctx, c, room, resumePoint{seq: o.SinceSeq})
		if err != nil {
			h.release(c, true, DisconnectEvent{})
			h.connsWG.Done()
			return nil, err
		}
	}
	stop := context.AfterFunc(ctx, func() {
		s.fail(ctx.Err())
		c.closeWith(StatusNormal, "subscription ended")
	})
	go func() {
		defer h.connsWG.Done()
		defer stop()
		h.run(c)
		s.end(ErrHubClosed) // the reason, unless one is known
	}()
	return s, nil
}

// hears reports whether the subscription takes pushes of channels of kind:
// a room's, its room channel; a user's, its user channel.
func (s *Subscription) hears(kind adapter.ChannelKind) bool {
	if s.room == "" {
		return kind == adapter.ChannelUser
	}
	return kind == adapter.ChannelRoom
}

// subTransport carries a Subscription's frames to its channel: the pushes
// of its room, without blocking. Write never waits for the reader: an
// event that finds the buffer full ends the subscription.
type subTransport struct {
	s    *Subscription
	once sync.Once
	done chan struct{} // closed by Close or Abort: Read returns
}

func (t *subTransport) Read(ctx context.Context) ([]byte, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.done:
		return nil, errSubClosed
	}
}

func (t *subTransport) Write(_ context.Context, frames []Frame) error {
	for _, f := range frames {
		if err := t.s.push(f, false); err != nil {
			return err
		}
	}
	return nil
}

// push hands one frame to the reader, without waiting: a push that finds
// the buffer full ends the subscription, unless it is droppable (typing),
// which is skipped. Other frames (connected) are not the reader's.
func (s *Subscription) push(f Frame, droppable bool) error {
	if f.Kind() != FramePush || f.Accepts() {
		return nil // connected; a subscription makes no requests
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errSubClosed
	}
	select {
	case s.events <- RoomEvent{Event: f.Event(), Data: append(json.RawMessage(nil), f.Data()...)}:
		return nil
	default:
		if droppable {
			return nil
		}
		if s.err == nil {
			s.err = ErrSubscriberTooSlow
		}
		return ErrSubscriberTooSlow
	}
}

func (t *subTransport) Ping(context.Context) error { return nil }

func (t *subTransport) Close(code StatusCode, reason string) error {
	var err error
	switch code {
	case StatusNormal, StatusGoingAway:
		// Close, the context, an unsubscription or the hub's end: the
		// reason is known, or is ErrHubClosed (see Subscribe).
	default:
		err = &CloseError{Code: code, Reason: reason}
	}
	t.s.fail(err)
	t.Abort()
	return nil
}

func (t *subTransport) Abort() { t.once.Do(func() { close(t.done) }) }
