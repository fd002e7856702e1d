package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/internal/wire"
)

// RoomOptions describes a room to create.
type RoomOptions struct {
	// ID names the room: 1 to 128 bytes of ASCII letters, digits and
	// "-_.:" (such as "order:42"), so that the host needs no mapping from
	// its own ids. Empty: a generated id ("r_" and 26 more characters).
	ID          string
	Name        string
	Description string
	Private     bool
	// MaxUsers caps the room's members. Zero: Config.MaxUsersPerRoom,
	// which is also its upper bound.
	MaxUsers int
}

const (
	maxRoomNameChars = 100
	maxRoomDescChars = 1000
	maxRoomIDBytes   = 128
)

// errRoomID refuses an id that validRoomID refuses.
var errRoomID error = Errorf(CodeInvalid, `a room id is 1 to %d bytes of letters, digits and "-_.:"`, maxRoomIDBytes)

// validRoomID reports whether id may name a room (RoomOptions.ID).
func validRoomID(id string) bool {
	if id == "" || len(id) > maxRoomIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func (h *Hub) validateRoomFields(name, desc *string, maxUsers *int) error {
	if name != nil {
		if *name == "" {
			return Errorf(CodeInvalid, "field name is required")
		}
		if utf8.RuneCountInString(*name) > maxRoomNameChars {
			return Errorf(CodeTooLarge, "room name is longer than %d characters", maxRoomNameChars)
		}
	}
	if desc != nil && utf8.RuneCountInString(*desc) > maxRoomDescChars {
		return Errorf(CodeTooLarge, "room description is longer than %d characters", maxRoomDescChars)
	}
	if maxUsers != nil && (*maxUsers < 1 || *maxUsers > h.cfg.MaxUsersPerRoom) {
		return Errorf(CodeInvalid, "field maxUsers must be between 1 and %d", h.cfg.MaxUsersPerRoom)
	}
	return nil
}

func (h *Hub) limits() Limits {
	return Limits{MaxRoomsPerUser: max(0, h.cfg.MaxRoomsPerUser)}
}

// createRoom stores a new room with creator as its admin; a creator with
// no ID makes a room of the host, without members.
func (h *Hub) createRoom(ctx context.Context, creator User, o RoomOptions) (Room, error) {
	if o.MaxUsers == 0 {
		o.MaxUsers = h.cfg.MaxUsersPerRoom
	}
	if err := h.validateRoomFields(&o.Name, &o.Description, &o.MaxUsers); err != nil {
		return Room{}, err
	}
	if o.ID == "" {
		o.ID = newID("r")
	} else if !validRoomID(o.ID) {
		return Room{}, errRoomID
	}
	t := now()
	room := Room{
		ID:          o.ID,
		Name:        o.Name,
		Description: o.Description,
		MaxUsers:    o.MaxUsers,
		IsPrivate:   o.Private,
		CreatedByID: creator.ID,
		CreatedAt:   t,
	}
	admin := Member{RoomID: room.ID, UserID: creator.ID, Username: creator.Username, Role: RoleAdmin, JoinedAt: t}
	room, err := h.store.CreateRoom(ctx, room, admin, h.limits())
	if errors.Is(err, ErrConflict) {
		return Room{}, Errorf(CodeConflict, "a room with this id exists")
	}
	if err != nil {
		return Room{}, h.storeErr("create room", err)
	}
	return room, nil
}

// addMember makes user a member of a room and tells the room. It returns
// created=false when the user already was one.
func (h *Hub) addMember(ctx context.Context, roomID string, user UserRef, role Role) (Member, bool, error) {
	m := Member{RoomID: roomID, UserID: user.ID, Username: user.Username, Role: role, JoinedAt: now()}
	m, created, err := h.store.AddMember(ctx, m, h.limits())
	if err != nil {
		return Member{}, false, h.storeErr("add member", err)
	}
	if created {
		h.cancelExpiry(roomID)
		count, _ := h.roomIsLarge(ctx, roomID)
		h.publishMembership(ctx, roomID, "user-joined", user, count)
	}
	return m, created, nil
}

// removeMember ends a membership: the user's connections stop receiving the
// room, and receive kicked when reason is not empty; the room is told.
func (h *Hub) removeMember(ctx context.Context, roomID, userID, username, reason string) error {
	remaining, err := h.store.RemoveMember(ctx, roomID, userID)
	if err != nil {
		return h.storeErr("remove member", err)
	}
	// This node's connections stop at once; other nodes on the publication.
	h.unsubscribeUser(userID, roomID)
	p := publication{Op: opLeaveRoom, Room: roomID}
	if reason != "" {
		p.Frame, _ = encodePush("kicked", kicked{RoomID: roomID, Reason: reason})
	}
	if err := h.publish(ctx, adapter.User(userID), p); err != nil {
		h.log.Warn("realtime: publish leave", "room", roomID, "err", err)
	}
	h.publishMembership(ctx, roomID, "user-left", UserRef{ID: userID, Username: username}, remaining)
	if remaining == 0 {
		h.scheduleExpiry(roomID)
	}
	return nil
}

// deleteRoom deletes a room and tells its subscribers.
func (h *Hub) deleteRoom(ctx context.Context, roomID string) error {
	if err := h.store.DeleteRoom(ctx, roomID); err != nil {
		return h.storeErr("delete room", err)
	}
	h.cancelExpiry(roomID)
	frame, _ := encodePush("room-deleted", map[string]string{"roomId": roomID})
	if err := h.publish(ctx, adapter.Room(roomID), publication{Op: opCloseRoom, Frame: frame}); err != nil {
		h.log.Warn("realtime: publish room-deleted", "room", roomID, "err", err)
	}
	return nil
}

// publishMembership tells a room that a user joined or left it, leaving
// count members (-1: unknown). A large room (Config.LargeRoom) is told its
// new member count instead, which each node writes to its members at most
// once per PresenceCoalesce. In a room that is not large, the events
// coalesce per user above a few members, like presence.
func (h *Hub) publishMembership(ctx context.Context, roomID, event string, user UserRef, count int) {
	var p publication
	var err error
	if h.isLarge(count) {
		p.Op, p.Key = opLatest, "member-count"
		p.Frame, err = encodeMemberCount(roomID, count)
	} else {
		p.Key = "member:" + user.ID
		p.Frame, err = encodePush(event, roomUser{RoomID: roomID, User: user})
	}
	if err != nil {
		return
	}
	if err := h.publish(ctx, adapter.Room(roomID), p); err != nil {
		h.log.Warn("realtime: publish", "event", event, "room", roomID, "err", err)
	}
}

// writeLatest writes a room's latest state, as the coalescer flushes it,
// to the room's local connections, and returns how many there are. A
// member-count is read again from the Store: publications of concurrent
// joins and leaves, on this node or others, may arrive in another order
// than their counts were taken, and the last to arrive must not leave
// members with an older count. The one published is written when the read
// fails.
func (h *Hub) writeLatest(roomID string, f Frame) int {
	if string(f.rawName()) == "member-count" {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.StoreTimeout)
		room, err := h.store.GetRoom(ctx, roomID)
		cancel()
		var b []byte
		if err == nil {
			b, err = encodeMemberCount(roomID, room.MemberCount)
		}
		if fresh, ok := pushFrame(b); err == nil && ok {
			f = fresh
		}
	}
	return h.toRoom(roomID, f)
}

// encodeMemberCount encodes the member-count push of a room of count
// members.
func encodeMemberCount(roomID string, count int) ([]byte, error) {
	return encodePush("member-count", memberCount{RoomID: roomID, MemberCount: count})
}

// memberCount is the data of member-count.
type memberCount struct {
	RoomID      string `json:"roomId"`
	MemberCount int    `json:"memberCount"`
}

// isLarge reports whether a room of count members is large
// (Config.LargeRoom); a count of -1 (unknown) is not.
func (h *Hub) isLarge(count int) bool {
	return h.largeRooms && count > h.cfg.LargeRoom
}

// roomIsLarge reads whether a room is large now. With LargeRoom at or
// above MaxUsersPerRoom (the defaults) no room can be, and nothing is
// read.
func (h *Hub) roomIsLarge(ctx context.Context, roomID string) (count int, large bool) {
	if !h.largeRooms {
		return -1, false
	}
	room, err := h.store.GetRoom(ctx, roomID)
	if err != nil {
		return -1, false
	}
	return room.MemberCount, h.isLarge(room.MemberCount)
}

// publishLogged publishes an event whose loss is not the caller's failure:
// the state change it reports is already stored.
func (h *Hub) publishLogged(ctx context.Context, ch adapter.Channel, event string, data any) {
	if err := h.publishEvent(ctx, ch, event, data); err != nil {
		h.log.Warn("realtime: publish", "event", event, "channel", ch.String(), "err", err)
	}
}

// scheduleExpiry deletes a room that stays without members for
// DefaultRoomExpiry.
func (h *Hub) scheduleExpiry(roomID string) {
	if d := h.cfg.DefaultRoomExpiry; d >= 0 {
		h.expiry.set(roomID, d, func() { h.goTimer(func() { h.expireRoom(roomID) }) })
	}
}

func (h *Hub) cancelExpiry(roomID string) { h.expiry.cancel(roomID) }

func (h *Hub) expireRoom(roomID string) {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	room, err := h.store.GetRoom(ctx, roomID)
	if err != nil || room.MemberCount > 0 || room.CreatedByID == "" {
		return // in use, or the host's: the host deletes its own rooms
	}
	if err := h.deleteRoom(ctx, roomID); err != nil && !errors.Is(err, ErrNotFound) {
		h.log.Warn("realtime: expire room", "room", roomID, "err", err)
		return
	}
	h.log.Info("realtime: deleted empty room", "room", roomID)
}

// requireAdmin returns the room when u administers it: a room admin or a
// hub-wide admin.
func (h *Hub) requireAdmin(ctx context.Context, u User, roomID string) (Room, error) {
	room, err := h.store.GetRoom(ctx, roomID)
	if err != nil {
		return Room{}, h.storeErr("get room", err)
	}
	if u.HasRole("admin") {
		return room, nil
	}
	m, err := h.store.GetMember(ctx, roomID, u.ID)
	if errors.Is(err, ErrNotFound) || (err == nil && m.Role != RoleAdmin) {
		return Room{}, Errorf(CodeForbidden, "only a room admin may do this")
	}
	if err != nil {
		return Room{}, h.storeErr("get member", err)
	}
	return room, nil
}

type roomUser struct {
	RoomID string  `json:"roomId"`
	User   UserRef `json:"user"`
}

type kicked struct {
	RoomID string `json:"roomId"`
	Reason string `json:"reason"`
}

type roomReply struct {
	Room Room `json:"room"`
}

type createRoomRequest struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Type        string `json:"type"`
	MaxUsers    int    `json:"maxUsers"`
	IsPrivate   bool   `json:"isPrivate"`
}

func (h *Hub) handleCreateRoom(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req createRoomRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if req.Type != "" && req.Type != roomType(false) && req.Type != roomType(true) {
		return nil, Errorf(CodeInvalid, `field type must be "public" or "private"`)
	}
	if req.MaxUsers < 0 {
		return nil, Errorf(CodeInvalid, "field maxUsers must be positive")
	}
	if req.ID != "" && !h.cfg.ClientRoomIDs {
		return nil, Errorf(CodeInvalid, "rooms get their ids from the server")
	}
	room, err := h.createRoom(ctx, c.currentUser(), RoomOptions{
		ID:          req.ID,
		Name:        req.Name,
		Description: req.Description,
		Private:     req.Type == roomType(true) || req.IsPrivate,
		MaxUsers:    req.MaxUsers,
	})
	if err != nil {
		return nil, err
	}
	if _, _, err := h.subscribe(ctx, c, room.ID, resumePoint{}); err != nil {
		return nil, err
	}
	return roomReply{Room: room}, nil
}

type roomRequest struct {
	RoomID string `json:"roomId"`
}

type joinRequest struct {
	RoomID string `json:"roomId"`
	Since  string `json:"since"`
}

// decodePlain reads a plain join-room request (see wire.Plain) as
// encoding/json would, without reflection. It reports false, leaving r
// partly set, for anything else, which decode must read.
func (r *joinRequest) decodePlain(data []byte) bool {
	return wire.DecodeStrings(data, joinRequestKeys, []*string{&r.RoomID, &r.Since})
}

var joinRequestKeys = []string{"roomId", "since"}

type joinReply struct {
	Room        Room       `json:"room"`
	Members     []Member   `json:"members"`
	Presence    []Presence `json:"presence"`
	MoreMembers bool       `json:"moreMembers,omitempty"`
	Missed      int        `json:"missed"`
	Recovered   bool       `json:"recovered"`
}

// joinMembersLimit is the most members a join-room ack lists, oldest
// first (PROTOCOL.md section 8): a join stays small in a room of any size,
// and list-members pages through the rest.
const joinMembersLimit = 500

// Pages of list-members: defaultMembersPage members unless the client asks
// for up to maxMembersPage.
const (
	defaultMembersPage = 100
	maxMembersPage     = 500
)

// membership returns a room and u's membership of it, nil when u is no
// member: what a join and a subscription decide on.
func (h *Hub) membership(ctx context.Context, u User, roomID string) (Room, *Member, error) {
	room, err := h.store.GetRoom(ctx, roomID)
	if err != nil {
		return Room{}, nil, h.storeErr("get room", err)
	}
	m, err := h.store.GetMember(ctx, room.ID, u.ID)
	switch {
	case err == nil:
		return room, &m, nil
	case errors.Is(err, ErrNotFound):
		return room, nil, nil
	}
	return Room{}, nil, h.storeErr("get member", err)
}

func (h *Hub) handleJoinRoom(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req joinRequest
	if !req.decodePlain(data) {
		var full joinRequest // kept apart: decoding moves it to the heap
		if err := decode(data, &full); err != nil {
			return nil, err
		}
		req = full
	}
	if err := required("roomId", req.RoomID); err != nil {
		return nil, err
	}
	if err := optional("since", req.Since); err != nil {
		return nil, err
	}
	u := c.currentUser()
	room, member, err := h.membership(ctx, u, req.RoomID)
	if err != nil {
		return nil, err
	}
	if member == nil && room.IsPrivate && !u.HasRole("admin") {
		return nil, Errorf(CodeForbidden, "this room is private")
	}
	if hook := h.cfg.AuthorizeJoin; hook != nil {
		if err := hook(ctx, JoinEvent{ConnectionID: c.id, User: u, Room: room, Member: member}); err != nil {
			return nil, hookErr(err)
		}
	}
	if member == nil {
		if _, _, err := h.addMember(ctx, room.ID, u.ref(), RoleMember); err != nil {
			return nil, err
		}
	}
	missed, recovered, err := h.subscribe(ctx, c, room.ID, resumePoint{id: req.Since})
	if err != nil {
		return nil, err
	}
	reply, err := h.joined(ctx, u, room.ID)
	if err != nil {
		// Removed meanwhile, or the room went away: no subscription stays.
		h.unsubscribe(ctx, c, room.ID)
		return nil, err
	}
	reply.Missed, reply.Recovered = missed, recovered
	return reply, nil
}

// joined reads the room and its members after a subscription, so that the
// member list includes every join the connection will not hear about as an
// event, and checks that u is still a member: a remove-member or delete-room
// that raced with the join wins. A user on the page read is a member; one
// past it, or a hub admin, is asked about.
func (h *Hub) joined(ctx context.Context, u User, roomID string) (joinReply, error) {
	room, err := h.store.GetRoom(ctx, roomID)
	if err != nil {
		return joinReply{}, h.storeErr("get room", err)
	}
	limit := joinMembersLimit
	if h.isLarge(room.MemberCount) {
		// Each join of a large room would otherwise encode 500 members
		// and look up their presence: the first page is enough.
		limit = defaultMembersPage
	}
	members, more, err := h.membersAfter(ctx, roomID, "", limit)
	if err != nil {
		return joinReply{}, err
	}
	if !slices.ContainsFunc(members, func(m Member) bool { return m.UserID == u.ID }) {
		if err := h.requireMember(ctx, u, roomID); err != nil {
			if e := (*Error)(nil); errors.As(err, &e) && e.Code == CodeForbidden {
				err = Errorf(CodeForbidden, "no longer a member of this room")
			}
			return joinReply{}, err
		}
	}
	return joinReply{Room: room, Members: nonNil(members), Presence: h.onlinePresence(ctx, roomID, members), MoreMembers: more}, nil
}

// membersAfter returns a page of a room's members in join order: at most
// limit after the member after (empty: from the first), and whether more
// follow. A Store that is a MemberPager reads just the page.
func (h *Hub) membersAfter(ctx context.Context, roomID, after string, limit int) ([]Member, bool, error) {
	if h.pager != nil {
		members, more, err := h.pager.ListMembersAfter(ctx, roomID, after, limit)
		if errors.Is(err, ErrNotFound) && after != "" {
			if _, err := h.store.GetRoom(ctx, roomID); err != nil {
				return nil, false, h.storeErr("get room", err)
			}
			return nil, false, errAfterNoMember
		}
		if err != nil {
			return nil, false, h.storeErr("list members", err)
		}
		return members, more, nil
	}
	all, err := h.store.ListMembers(ctx, roomID)
	if err != nil {
		return nil, false, h.storeErr("list members", err)
	}
	return pageMembers(all, after, limit)
}

var errAfterNoMember = Errorf(CodeNotFound, "after names no member of this room")

// clip returns the first n of s, and whether s had more.
func clip[T any](s []T, n int) ([]T, bool) {
	if len(s) > n {
		return s[:n], true
	}
	return s, false
}

// pageMembers returns the members after the member after (empty: from the
// first), at most limit of them, and whether more follow.
func pageMembers(members []Member, after string, limit int) ([]Member, bool, error) {
	if after != "" {
		i := slices.IndexFunc(members, func(m Member) bool { return m.UserID == after })
		if i < 0 {
			return nil, false, errAfterNoMember
		}
		members = members[i+1:]
	}
	page, more := clip(members, limit)
	return page, more, nil
}

type listMembersRequest struct {
	RoomID string `json:"roomId"`
	After  string `json:"after"`
	Limit  int    `json:"limit"`
}

type listMembersReply struct {
	Members  []Member   `json:"members"`
	Presence []Presence `json:"presence"`
	HasMore  bool       `json:"hasMore"`
}

// handleListMembers pages through a room's members in the order they
// joined, for members of the room and hub admins.
func (h *Hub) handleListMembers(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req listMembersRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if err := required("roomId", req.RoomID); err != nil {
		return nil, err
	}
	if err := optional("after", req.After); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, defaultMembersPage, maxMembersPage)
	if err != nil {
		return nil, err
	}
	if err := h.requireMember(ctx, c.currentUser(), req.RoomID); err != nil {
		return nil, err
	}
	members, more, err := h.membersAfter(ctx, req.RoomID, req.After, limit)
	if err != nil {
		return nil, err
	}
	return listMembersReply{Members: nonNil(members), Presence: h.onlinePresence(ctx, req.RoomID, members), HasMore: more}, nil
}

// hookErr turns a hook's refusal into the error the client sees.
func hookErr(err error) error {
	var e *Error
	var ce *CloseError
	if errors.As(err, &e) || errors.As(err, &ce) {
		return err
	}
	return ErrForbidden
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (h *Hub) handleLeaveRoom(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req roomRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if err := required("roomId", req.RoomID); err != nil {
		return nil, err
	}
	u := c.currentUser()
	if h.stopTyping(c, req.RoomID) {
		h.publishTyping(ctx, c, u, req.RoomID, false)
	}
	if err := h.removeMember(ctx, req.RoomID, u.ID, u.Username, ""); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type updateRoomRequest struct {
	RoomID      string  `json:"roomId"`
	Name        *string `json:"name"`
	Description *string `json:"description"`
	MaxUsers    *int    `json:"maxUsers"`
	IsPrivate   *bool   `json:"isPrivate"`
}

func (h *Hub) handleUpdateRoom(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req updateRoomRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if err := required("roomId", req.RoomID); err != nil {
		return nil, err
	}
	u := RoomUpdate{Name: req.Name, Description: req.Description, MaxUsers: req.MaxUsers, IsPrivate: req.IsPrivate}
	if err := h.validateRoomFields(u.Name, u.Description, u.MaxUsers); err != nil {
		return nil, err
	}
	if _, err := h.requireAdmin(ctx, c.currentUser(), req.RoomID); err != nil {
		return nil, err
	}
	room, err := h.updateRoom(ctx, req.RoomID, u)
	if err != nil {
		return nil, err
	}
	return roomReply{Room: room}, nil
}

// updateRoom applies u and tells the room's subscribers (room-updated).
func (h *Hub) updateRoom(ctx context.Context, roomID string, u RoomUpdate) (Room, error) {
	room, err := h.store.UpdateRoom(ctx, roomID, u)
	if err != nil {
		return Room{}, h.storeErr("update room", err)
	}
	h.publishLogged(ctx, adapter.Room(room.ID), "room-updated", roomReply{Room: room})
	return room, nil
}

func (h *Hub) handleDeleteRoom(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req roomRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if err := required("roomId", req.RoomID); err != nil {
		return nil, err
	}
	if _, err := h.requireAdmin(ctx, c.currentUser(), req.RoomID); err != nil {
		return nil, err
	}
	if err := h.deleteRoom(ctx, req.RoomID); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type memberRequest struct {
	RoomID  string `json:"roomId"`
	UserID  string `json:"userId"`
	Role    *Role  `json:"role"`
	IsMuted *bool  `json:"isMuted"`
}

type memberReply struct {
	RoomID string `json:"roomId,omitempty"`
	Member Member `json:"member"`
}

// decodeMemberRequest decodes and checks a member event and that the caller
// administers the room.
func (h *Hub) decodeMemberRequest(ctx context.Context, c *conn, data json.RawMessage) (memberRequest, error) {
	var req memberRequest
	if err := decode(data, &req); err != nil {
		return req, err
	}
	if err := required("roomId", req.RoomID); err != nil {
		return req, err
	}
	if err := required("userId", req.UserID); err != nil {
		return req, err
	}
	if req.Role != nil && !req.Role.valid() {
		return req, Errorf(CodeInvalid, `field role must be "admin" or "member"`)
	}
	_, err := h.requireAdmin(ctx, c.currentUser(), req.RoomID)
	return req, err
}

func (h *Hub) handleAddMember(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	req, err := h.decodeMemberRequest(ctx, c, data)
	if err != nil {
		return nil, err
	}
	role := RoleMember
	if req.Role != nil {
		role = *req.Role
	}
	m, created, err := h.addMember(ctx, req.RoomID, UserRef{ID: req.UserID, Username: req.UserID}, role)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, Errorf(CodeConflict, "the user is already a member")
	}
	h.notifyInvite(m)
	return memberReply{Member: m}, nil
}

func (h *Hub) handleUpdateMember(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	req, err := h.decodeMemberRequest(ctx, c, data)
	if err != nil {
		return nil, err
	}
	m, err := h.updateMember(ctx, req.RoomID, req.UserID, MemberUpdate{Role: req.Role, IsMuted: req.IsMuted})
	if err != nil {
		return nil, err
	}
	return memberReply{Member: m}, nil
}

// updateMember applies u and tells the room (member-updated).
func (h *Hub) updateMember(ctx context.Context, roomID, userID string, u MemberUpdate) (Member, error) {
	m, err := h.store.UpdateMember(ctx, roomID, userID, u)
	if err != nil {
		return Member{}, h.storeErr("update member", err)
	}
	h.publishLogged(ctx, adapter.Room(roomID), "member-updated", memberReply{RoomID: roomID, Member: m})
	return m, nil
}

func (h *Hub) handleRemoveMember(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	req, err := h.decodeMemberRequest(ctx, c, data)
	if err != nil {
		return nil, err
	}
	m, err := h.store.GetMember(ctx, req.RoomID, req.UserID)
	if err != nil {
		return nil, h.storeErr("get member", err)
	}
	if err := h.removeMember(ctx, req.RoomID, m.UserID, m.Username, "removed by an admin"); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type roomsReply struct {
	Rooms []Room `json:"rooms"`
}

func (h *Hub) handleListRooms(ctx context.Context, c *conn) (any, error) {
	rooms, err := h.store.ListRooms(ctx, c.currentUser().ID)
	if err != nil {
		return nil, h.storeErr("list rooms", err)
	}
	return roomsReply{Rooms: nonNil(rooms)}, nil
}

// expiries owns the timers that delete rooms left empty
// (Config.DefaultRoomExpiry), one per room. Its lock, expiries.mu, is a
// leaf.
type expiries struct {
	mu     sync.Mutex
	timers map[string]*time.Timer
	done   bool // stopped: set nothing more
}

// set (re)starts the timer of room id, which calls fire after d.
func (e *expiries) set(id string, d time.Duration, fire func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return
	}
	if t := e.timers[id]; t != nil {
		t.Stop()
	}
	if e.timers == nil {
		e.timers = make(map[string]*time.Timer)
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		e.mu.Lock()
		current := e.timers[id] == t
		if current {
			delete(e.timers, id)
		}
		e.mu.Unlock()
		if current {
			fire()
		}
	})
	e.timers[id] = t
}

// cancel stops the timer of room id, if any.
func (e *expiries) cancel(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.timers[id]; t != nil {
		t.Stop()
		delete(e.timers, id)
	}
}

// stop stops every timer, for good.
func (e *expiries) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = true
	for id, t := range e.timers {
		t.Stop()
		delete(e.timers, id)
	}
}
