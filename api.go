package realtime

import (
	"context"
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
		return fmt.Errorf("realtime: event name %q is not kebab-case of at most %d bytes", truncate(event, 64), maxEventName)
	}
	return h.publishEvent(ctx, ch, event, data)
}

// CreateRoom creates a room on behalf of owner, who becomes its admin. The
// room's limits and MaxRoomsPerUser apply as they do to clients.
func (h *Hub) CreateRoom(ctx context.Context, owner User, o RoomOptions) (Room, error) {
	if h.closing.Load() {
		return Room{}, ErrHubClosed
	}
	if owner.ID == "" {
		return Room{}, fmt.Errorf("realtime: CreateRoom: owner has no ID")
	}
	if owner.Username == "" {
		owner.Username = owner.ID
	}
	return h.createRoom(ctx, owner, o)
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
	m, _, err := h.addMember(ctx, roomID, user, role)
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
	Connections int // authenticated connections
	Users       int // distinct users among them
	Rooms       int // rooms with at least one subscribed connection
}

// Stats returns this node's counts.
func (h *Hub) Stats() Stats { return h.fan.stats() }

// UserConnections returns how many connections userID has on this node.
func (h *Hub) UserConnections(userID string) int {
	return len(h.fan.userConns(userID))
}
