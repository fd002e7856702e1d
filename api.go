package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/realtime-go/realtime/adapter"
)

// This file is the server-side API: what the host application calls to act
// on the hub from Go. Every method reaches the whole cluster through the
// Broker, not only this node's connections.

// SendToRoom pushes event with data (encoded to JSON once) to every
// connection subscribed to a room. It does not store anything: use it for
// live updates, not for chat messages.
func (h *Hub) SendToRoom(ctx context.Context, roomID, event string, data any) error {
	return h.sendEvent(ctx, adapter.Room(roomID), event, data)
}

// SendToUser pushes event to every connection of a user.
func (h *Hub) SendToUser(ctx context.Context, userID, event string, data any) error {
	return h.sendEvent(ctx, adapter.User(userID), event, data)
}

// Broadcast pushes event to every connection of the cluster.
func (h *Hub) Broadcast(ctx context.Context, event string, data any) error {
	return h.sendEvent(ctx, adapter.Global(), event, data)
}

var eventNamePattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// maxEventName bounds the name of an event the host sends.
const maxEventName = 128

func (h *Hub) sendEvent(ctx context.Context, ch adapter.Channel, event string, data any) error {
	if h.closing.Load() {
		return ErrHubClosed
	}
	if len(event) > maxEventName || !eventNamePattern.MatchString(event) {
		return Errorf(CodeInvalid, "event name %q is not kebab-case of at most %d bytes", truncate(event, 64), maxEventName)
	}
	return h.publishEvent(ctx, ch, event, data)
}

// CreateRoom creates a room on behalf of owner, who becomes its admin. The
// room's limits and MaxRoomsPerUser apply as they do to clients. An owner
// with no ID (User{}) makes a room of the host: it has no members until
// users join or are added, and it does not expire when empty. A room with
// o.ID taken already is ErrConflict.
func (h *Hub) CreateRoom(ctx context.Context, owner User, o RoomOptions) (Room, error) {
	if h.closing.Load() {
		return Room{}, ErrHubClosed
	}
	if owner.ID != "" && owner.Username == "" {
		owner.Username = owner.ID
	}
	return h.createRoom(ctx, owner, o)
}

// EnsureRoom returns the room named o.ID, creating it as a room of the host
// (see CreateRoom) when it does not exist: "the room of order 42" needs no
// mapping. created reports whether this call created it. Concurrent calls,
// on any nodes sharing a Store, agree on one room: one creates it, the
// others return it. The other fields of o apply only to a room created.
func (h *Hub) EnsureRoom(ctx context.Context, o RoomOptions) (room Room, created bool, err error) {
	if !validRoomID(o.ID) {
		return Room{}, false, errRoomID
	}
	for range 3 { // a room deleted between the create and the read: again
		room, err = h.store.GetRoom(ctx, o.ID)
		if err == nil {
			return room, false, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Room{}, false, h.storeErr("get room", err)
		}
		room, err = h.CreateRoom(ctx, User{}, o)
		if err == nil {
			return room, true, nil
		}
		if !errors.Is(err, ErrConflict) {
			return Room{}, false, err
		}
	}
	return Room{}, false, err
}

// UpdateRoom applies the non-nil fields of u to a room, as an admin's
// update-room would: the room's subscribers receive room-updated.
func (h *Hub) UpdateRoom(ctx context.Context, roomID string, u RoomUpdate) (Room, error) {
	if h.closing.Load() {
		return Room{}, ErrHubClosed
	}
	if err := h.validateRoomFields(u.Name, u.Description, u.MaxUsers); err != nil {
		return Room{}, err
	}
	return h.updateRoom(ctx, roomID, u)
}

// UpdateMember changes a member's role or mutes or unmutes it, as an
// admin's update-member would: the room receives member-updated.
func (h *Hub) UpdateMember(ctx context.Context, roomID, userID string, u MemberUpdate) (Member, error) {
	if h.closing.Load() {
		return Member{}, ErrHubClosed
	}
	if u.Role != nil && !u.Role.valid() {
		return Member{}, Errorf(CodeInvalid, `role must be "admin" or "member"`)
	}
	return h.updateMember(ctx, roomID, userID, u)
}

// ListMembers returns a page of a room's members in join order: those
// after the member after (empty: from the first), at most limit of them
// (zero: 100; at most 500). hasMore reports whether more follow.
func (h *Hub) ListMembers(ctx context.Context, roomID, after string, limit int) (members []Member, hasMore bool, err error) {
	limit, err = pageLimit(limit, defaultMembersPage, maxMembersPage)
	if err != nil {
		return nil, false, err
	}
	return h.membersAfter(ctx, roomID, after, limit)
}

// AddMember makes user a member of a room with role (RoleMember when empty),
// as an admin's add-member would. Adding an existing member returns its
// membership unchanged.
func (h *Hub) AddMember(ctx context.Context, roomID string, user UserRef, role Role) (Member, error) {
	if h.closing.Load() {
		return Member{}, ErrHubClosed
	}
	if role == "" {
		role = RoleMember
	}
	if !role.valid() || user.ID == "" {
		return Member{}, fmt.Errorf("realtime: AddMember: invalid role or user")
	}
	if user.Username == "" {
		user.Username = user.ID
	}
	m, created, err := h.addMember(ctx, roomID, user, role)
	if created {
		h.notifyInvite(m)
	}
	return m, err
}

// Kick removes a user from a room: its connections receive kicked with
// reason and stop receiving the room; the room receives user-left.
func (h *Hub) Kick(ctx context.Context, roomID, userID, reason string) error {
	if h.closing.Load() {
		return ErrHubClosed
	}
	m, err := h.store.GetMember(ctx, roomID, userID)
	if err != nil {
		return h.storeErr("get member", err)
	}
	if reason == "" {
		reason = "removed"
	}
	return h.removeMember(ctx, roomID, m.UserID, m.Username, reason)
}

// DeleteRoom deletes a room; its subscribers receive room-deleted.
func (h *Hub) DeleteRoom(ctx context.Context, roomID string) error {
	if h.closing.Load() {
		return ErrHubClosed
	}
	return h.deleteRoom(ctx, roomID)
}

// PostOptions is a message the host posts (Hub.PostMessage).
type PostOptions struct {
	// Where it goes: a room, a user (a direct message), or, with neither,
	// every connection (a global message).
	RoomID, RecipientID string
	Content             string
	// Type is the message's type. Zero: TypeSystem, which only the host
	// can post.
	Type MessageType
	// Metadata, when set, is a JSON object.
	Metadata  json.RawMessage
	ReplyToID string
	// Sender, when set, posts on behalf of that user, who must be allowed
	// to post there as a client would be (a room member who is not muted).
	// Nil: the message is the host's, with an empty SenderID, and
	// SenderName shown as its sender's username.
	Sender     *UserRef
	SenderName string
	// ClientMsgID makes the call idempotent: a retry with the same key
	// posts nothing more and returns the message first posted.
	ClientMsgID string
}

// PostMessage stores a message from the host and delivers it across the
// cluster as new-message, with its id and seq, in history and in resumes
// like any other. Content length, metadata and ids are checked as for
// clients; OnMessage does not run, nor do rate limits.
func (h *Hub) PostMessage(ctx context.Context, o PostOptions) (Message, error) {
	if h.closing.Load() {
		return Message{}, ErrHubClosed
	}
	req := messageRequest{RoomID: o.RoomID, RecipientID: o.RecipientID, Content: o.Content, Type: o.Type,
		ReplyToID: o.ReplyToID, Metadata: o.Metadata, ClientMsgID: o.ClientMsgID}
	if req.Type == "" {
		req.Type = TypeSystem
	}
	posted := req.Type == TypeSystem
	if posted {
		req.Type = TypeText // validated as any message, then restored
	}
	if err := h.validateMessage(&req); err != nil {
		return Message{}, err
	}
	if posted {
		req.Type = TypeSystem
	}
	m := Message{
		ID: newSortedID("m"), RoomID: req.RoomID, RecipientID: req.RecipientID,
		Sender: UserRef{Username: o.SenderName}, Content: req.Content, Type: req.Type,
		ReplyToID: req.ReplyToID, Metadata: req.Metadata, CreatedAt: now(), ClientMsgID: req.ClientMsgID,
	}
	if o.Sender != nil {
		if o.Sender.ID == "" {
			return Message{}, Errorf(CodeInvalid, "PostOptions.Sender has no ID")
		}
		m.SenderID, m.Sender = o.Sender.ID, *o.Sender
		if m.Sender.Username == "" {
			m.Sender.Username = m.Sender.ID
		}
	}
	return h.postMessage(ctx, m)
}

// Disconnect closes every connection of a user, on every node, with code
// and reason: a logout, or a ban. Code is 1000 or an application code
// (3000 to 4999); StatusForbidden (4003) and StatusUnauthorized (4001) tell
// clients not to reconnect (PROTOCOL.md section 5). To keep a banned user
// out, also refuse its new connections in Config.OnConnect (a *CloseError
// with StatusForbidden). Connections on this node are closed before
// Disconnect returns; other nodes close theirs when the publication
// reaches them.
func (h *Hub) Disconnect(ctx context.Context, userID string, code StatusCode, reason string) error {
	if h.closing.Load() {
		return ErrHubClosed
	}
	if userID == "" {
		return Errorf(CodeInvalid, "Disconnect: no user")
	}
	if code != StatusNormal && (code < 3000 || code > 4999) {
		return Errorf(CodeInvalid, "Disconnect: close code %d is not 1000 or 3000-4999", code)
	}
	if len(reason) > maxCloseReason {
		return Errorf(CodeInvalid, "Disconnect: reason is longer than %d bytes", maxCloseReason)
	}
	return h.publish(ctx, adapter.User(userID), publication{Op: opDisconnect, Seq: uint64(code), Frame: []byte(reason)})
}

// maxCloseReason is the longest close reason a WebSocket close frame holds.
const maxCloseReason = 123

// Room returns a room, with its member count, or ErrNotFound.
func (h *Hub) Room(ctx context.Context, roomID string) (Room, error) {
	room, err := h.store.GetRoom(ctx, roomID)
	if err != nil {
		return Room{}, h.storeErr("get room", err)
	}
	return room, nil
}

// RoomPresence returns the members of a room who are online now, on any
// node, with their status (invisible members are left out).
func (h *Hub) RoomPresence(ctx context.Context, roomID string) ([]Presence, error) {
	if _, err := h.store.GetRoom(ctx, roomID); err != nil {
		return nil, h.storeErr("get room", err)
	}
	members, err := h.store.ListMembers(ctx, roomID)
	if err != nil {
		return nil, h.storeErr("list members", err)
	}
	return h.onlinePresence(ctx, roomID, members), nil
}

// Rooms returns the rooms userID belongs to and every public room; with an
// empty userID, the public rooms.
func (h *Hub) Rooms(ctx context.Context, userID string) ([]Room, error) {
	rooms, err := h.store.ListRooms(ctx, userID)
	if err != nil {
		return nil, h.storeErr("list rooms", err)
	}
	return rooms, nil
}

// Config returns the hub's configuration with its defaults filled in.
// Transports built on the hub, such as the Socket.IO bridge, take their
// defaults from it, so that each setting is made once.
func (h *Hub) Config() Config {
	c := h.cfg
	c.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	return c
}

// Stats counts what this node serves now.
type Stats struct {
	Connections int `json:"connections"` // authenticated connections
	Users       int `json:"users"`       // distinct users among them
	Rooms       int `json:"rooms"`       // rooms with at least one subscribed connection
}

// Stats returns this node's counts.
func (h *Hub) Stats() Stats { return h.fan.stats() }

// UserConnections returns how many connections userID has on this node.
func (h *Hub) UserConnections(userID string) int {
	return len(h.fan.userConns(userID))
}
