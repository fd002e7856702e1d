package realtime

import (
	"context"
	"errors"
	"time"
)

// Observer receives the hub's measurements (Config.Observer), for metrics:
// package metrics/prometheus turns them into Prometheus collectors. Its
// methods run on the hub's hot paths, from many goroutines: they must be
// cheap, safe for concurrent use and never block. Every label they carry is
// bounded: transport names, close codes, the protocol's event names
// ("unknown" for any other), limits, message kinds and Store operations;
// never a room or a user.
//
// Embed NopObserver to implement only some methods.
type Observer interface {
	// ConnectionOpened: a connection was registered (after
	// authentication and OnConnect). transport is "websocket", "socketio",
	// "subscription" (Hub.Subscribe), or what a custom Transport's Name
	// method returns ("custom" without one).
	ConnectionOpened(transport string)
	// ConnectionClosed: a registered connection ended with code (the one
	// the hub sent, else the peer's, else 1006).
	ConnectionClosed(transport string, code StatusCode)
	// AuthFailed: a token was refused.
	AuthFailed()
	// EventReceived: a client event, by name.
	EventReceived(event string)
	// RateLimited: something was refused for a limit: "events" (per
	// connection), "messages" (per user), "connections" (before the
	// upgrade or at authentication).
	RateLimited(limit string)
	// MessageStored: a new message was stored: kind is "room", "direct" or
	// "global".
	MessageStored(kind string)
	// MessagesDelivered: n connections of this node were handed a room's
	// new message.
	MessagesDelivered(n int)
	// FramesSent: a transport wrote frames, of bytes bytes in their native
	// encoding.
	FramesSent(frames, bytes int)
	// QueueOverflowed: a connection's send queue overflowed; it is closed
	// with 4009.
	QueueOverflowed()
	// Resumed: a join with since (or a Subscribe with SinceSeq) replayed
	// what was missed (recovered), or could not.
	Resumed(recovered bool)
	// PublishFailed: the Broker refused a publication.
	PublishFailed()
	// Resynced: the Broker's link came back; the node rechecks its rooms.
	Resynced()
	// GapRepaired: a room's missing messages were read back from the Store.
	GapRepaired()
	// StoreCall: one Store call, by method name ("SaveMessage"), its
	// duration, and whether it failed (not counting the outcomes the
	// protocol names, such as not_found).
	StoreCall(op string, d time.Duration, failed bool)
}

// NopObserver ignores every measurement.
type NopObserver struct{}

func (NopObserver) ConnectionOpened(string)               {}
func (NopObserver) ConnectionClosed(string, StatusCode)   {}
func (NopObserver) AuthFailed()                           {}
func (NopObserver) EventReceived(string)                  {}
func (NopObserver) RateLimited(string)                    {}
func (NopObserver) MessageStored(string)                  {}
func (NopObserver) MessagesDelivered(int)                 {}
func (NopObserver) FramesSent(int, int)                   {}
func (NopObserver) QueueOverflowed()                      {}
func (NopObserver) Resumed(bool)                          {}
func (NopObserver) PublishFailed()                        {}
func (NopObserver) Resynced()                             {}
func (NopObserver) GapRepaired()                          {}
func (NopObserver) StoreCall(string, time.Duration, bool) {}

// Events lists the client events of the protocol, the values
// Observer.EventReceived may carry besides "unknown".
func Events() []string {
	out := make([]string, 0, len(clientEvents))
	for _, e := range clientEvents {
		out = append(out, e)
	}
	return out
}

// clientEvents are the protocol's client events (PROTOCOL.md section 3).
var clientEvents = [...]string{
	"auth", "create-room", "join-room", "leave-room", "update-room", "delete-room",
	"add-member", "update-member", "remove-member", "list-rooms", "list-members",
	"message", "typing", "get-history", "edit-message", "delete-message",
	"get-thread", "presence-update", "get-presence", "get-notifications", "mark-notifications-read",
}

// knownEvents is the set of clientEvents.
var knownEvents = func() map[string]bool {
	m := make(map[string]bool, len(clientEvents))
	for _, e := range clientEvents {
		m[e] = true
	}
	return m
}()

// eventLabel is event if the protocol has it, else "unknown".
func eventLabel(event string) string {
	if knownEvents[event] {
		return event
	}
	return "unknown"
}

// transportName names t for metrics.
func transportName(t Transport) string {
	switch t := t.(type) {
	case *wsTransport:
		return "websocket"
	case *subTransport:
		return "subscription"
	case interface{ Name() string }:
		return t.Name()
	}
	return "custom"
}

// messageKind is the Observer's kind of m.
func messageKind(m *Message) string {
	switch {
	case m.RoomID != "":
		return "room"
	case m.RecipientID != "":
		return "direct"
	}
	return "global"
}

// observedStore times every Store call for the Observer.
type observedStore struct {
	s   Store
	obs Observer
}

// time reports one call that started at t and ended with *err; methods
// defer it.
func (o observedStore) time(op string, t time.Time, err *error) {
	o.obs.StoreCall(op, time.Since(t), *err != nil && !isProtocolOutcome(*err))
}

// isProtocolOutcome reports whether err is an outcome the protocol names
// (an *Error), not a failure of the Store.
func isProtocolOutcome(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

func (o observedStore) CreateRoom(ctx context.Context, room Room, creator Member, l Limits) (r Room, err error) {
	defer o.time("CreateRoom", time.Now(), &err)
	return o.s.CreateRoom(ctx, room, creator, l)
}

func (o observedStore) GetRoom(ctx context.Context, id string) (r Room, err error) {
	defer o.time("GetRoom", time.Now(), &err)
	return o.s.GetRoom(ctx, id)
}

func (o observedStore) UpdateRoom(ctx context.Context, id string, u RoomUpdate) (r Room, err error) {
	defer o.time("UpdateRoom", time.Now(), &err)
	return o.s.UpdateRoom(ctx, id, u)
}

func (o observedStore) DeleteRoom(ctx context.Context, id string) (err error) {
	defer o.time("DeleteRoom", time.Now(), &err)
	return o.s.DeleteRoom(ctx, id)
}

func (o observedStore) ListRooms(ctx context.Context, userID string) (r []Room, err error) {
	defer o.time("ListRooms", time.Now(), &err)
	return o.s.ListRooms(ctx, userID)
}

func (o observedStore) AddMember(ctx context.Context, m Member, l Limits) (r Member, ok bool, err error) {
	defer o.time("AddMember", time.Now(), &err)
	return o.s.AddMember(ctx, m, l)
}

func (o observedStore) GetMember(ctx context.Context, roomID, userID string) (r Member, err error) {
	defer o.time("GetMember", time.Now(), &err)
	return o.s.GetMember(ctx, roomID, userID)
}

func (o observedStore) UpdateMember(ctx context.Context, roomID, userID string, u MemberUpdate) (r Member, err error) {
	defer o.time("UpdateMember", time.Now(), &err)
	return o.s.UpdateMember(ctx, roomID, userID, u)
}

func (o observedStore) RemoveMember(ctx context.Context, roomID, userID string) (r int, err error) {
	defer o.time("RemoveMember", time.Now(), &err)
	return o.s.RemoveMember(ctx, roomID, userID)
}

func (o observedStore) ListMembers(ctx context.Context, roomID string) (r []Member, err error) {
	defer o.time("ListMembers", time.Now(), &err)
	return o.s.ListMembers(ctx, roomID)
}

func (o observedStore) MemberRooms(ctx context.Context, userID string) (r []string, err error) {
	defer o.time("MemberRooms", time.Now(), &err)
	return o.s.MemberRooms(ctx, userID)
}

func (o observedStore) SaveMessage(ctx context.Context, m Message) (r Message, ok bool, err error) {
	defer o.time("SaveMessage", time.Now(), &err)
	return o.s.SaveMessage(ctx, m)
}

func (o observedStore) GetMessage(ctx context.Context, id string) (r Message, err error) {
	defer o.time("GetMessage", time.Now(), &err)
	return o.s.GetMessage(ctx, id)
}

func (o observedStore) EditMessage(ctx context.Context, id, content string, at time.Time) (r Message, err error) {
	defer o.time("EditMessage", time.Now(), &err)
	return o.s.EditMessage(ctx, id, content, at)
}

func (o observedStore) DeleteMessage(ctx context.Context, id string, at time.Time) (r Message, err error) {
	defer o.time("DeleteMessage", time.Now(), &err)
	return o.s.DeleteMessage(ctx, id, at)
}

// observedSaver times the BatchSaver of the Store for the Observer, as
// one call "SaveMessages" that failed when a message failed other than
// with an outcome the protocol names.
// observedPager times the MemberPager of the Store for the Observer.
type observedPager struct {
	s   MemberPager
	obs Observer
}

func (o observedPager) ListMembersAfter(ctx context.Context, roomID, after string, limit int) (m []Member, more bool, err error) {
	defer observedStore{obs: o.obs}.time("ListMembersAfter", time.Now(), &err)
	return o.s.ListMembersAfter(ctx, roomID, after, limit)
}

type observedSaver struct {
	s   BatchSaver
	obs Observer
}

func (o observedSaver) SaveMessages(ctx context.Context, msgs []Message) []SaveResult {
	t := time.Now()
	res := o.s.SaveMessages(ctx, msgs)
	failed := false
	for i := range res {
		failed = failed || (res[i].Err != nil && !isProtocolOutcome(res[i].Err))
	}
	o.obs.StoreCall("SaveMessages", time.Since(t), failed)
	return res
}

func (o observedStore) History(ctx context.Context, q HistoryQuery) (r []Message, ok bool, err error) {
	defer o.time("History", time.Now(), &err)
	return o.s.History(ctx, q)
}

func (o observedStore) Thread(ctx context.Context, q ThreadQuery) (r []Message, ok bool, err error) {
	defer o.time("Thread", time.Now(), &err)
	return o.s.Thread(ctx, q)
}

func (o observedStore) SaveFile(ctx context.Context, f File) (err error) {
	defer o.time("SaveFile", time.Now(), &err)
	return o.s.SaveFile(ctx, f)
}

func (o observedStore) GetFile(ctx context.Context, id string) (r File, err error) {
	defer o.time("GetFile", time.Now(), &err)
	return o.s.GetFile(ctx, id)
}

func (o observedStore) SetLastSeen(ctx context.Context, userID string, at time.Time) (err error) {
	defer o.time("SetLastSeen", time.Now(), &err)
	return o.s.SetLastSeen(ctx, userID, at)
}

func (o observedStore) LastSeen(ctx context.Context, userIDs []string) (r map[string]time.Time, err error) {
	defer o.time("LastSeen", time.Now(), &err)
	return o.s.LastSeen(ctx, userIDs)
}

// logStats logs the node's counts every StatsLogInterval until Close.
func (h *Hub) logStats() {
	t := time.NewTicker(h.cfg.StatsLogInterval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			s := h.Stats()
			h.log.Info("realtime: stats", "node", h.nodeID, "connections", s.Connections, "users", s.Users, "rooms", s.Rooms)
		}
	}
}
