package realtime

import (
	"context"
	"encoding/json"
	"time"
)

// Do runs one client event of the protocol (PROTOCOL.md section 3) as user
// would send it over a connection, with the same checks, hooks and effects,
// and returns its reply's data, or the *Error a client would get. It lets
// other APIs built on the hub (a GraphQL resolver, an HTTP endpoint) act
// for a user without a socket.
//
// The pushes an event causes reach the user's live connections as usual;
// Do receives none (Subscribe streams a room's). join-room makes the user a
// member as a client's does, without subscribing anything. auth, typing and
// presence-update belong to a live connection: Do refuses them. Message
// budgets apply while the user has connections on this node; the per
// connection event budget does not.
func (h *Hub) Do(ctx context.Context, user User, event string, data any) (json.RawMessage, error) {
	if h.closing.Load() {
		return nil, ErrHubClosed
	}
	if user.ID == "" {
		return nil, Errorf(CodeInvalid, "Do: the user has no ID")
	}
	switch event {
	case "auth", "typing", "presence-update":
		return nil, Errorf(CodeInvalid, "%s needs a connection", event)
	}
	if user.Username == "" {
		user.Username = user.ID
	}
	var raw json.RawMessage
	switch d := data.(type) {
	case nil:
		raw = json.RawMessage("{}")
	case json.RawMessage:
		raw = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return nil, Errorf(CodeInvalid, "the data does not encode to JSON: %v", err)
		}
		raw = b
	}
	c := newConn(h, doTransport{})
	c.oneShot = true
	c.ctx, c.cancel = context.WithCancel(ctx)
	stop := context.AfterFunc(h.ctx, c.cancel)
	defer stop()
	h.setUser(c, user, time.Time{})
	defer h.release(c, false, DisconnectEvent{})
	reply, err := h.handle(c, event, raw) // counts the event
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(reply)
	if err != nil {
		return nil, errInternal
	}
	return b, nil
}

// doTransport is the transport of Do's connection, which has no peer:
// what is written to it goes nowhere.
type doTransport struct{}

func (doTransport) Read(ctx context.Context) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() }
func (doTransport) Write(context.Context, []Frame) error     { return nil }
func (doTransport) Ping(context.Context) error               { return nil }
func (doTransport) Close(StatusCode, string) error           { return nil }
func (doTransport) Abort()                                   {}
