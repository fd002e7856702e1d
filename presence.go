package realtime

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/realtime-go/realtime/adapter"
)

// Status is a user's availability.
type Status string

// The statuses. A user chooses online, away, busy or invisible; others see
// an invisible user, and one without connections, as offline.
const (
	StatusOnline    Status = "online"
	StatusAway      Status = "away"
	StatusBusy      Status = "busy"
	StatusInvisible Status = "invisible"
	StatusOffline   Status = "offline"
)

func (s Status) settable() bool {
	switch s {
	case StatusOnline, StatusAway, StatusBusy, StatusInvisible:
		return true
	}
	return false
}

// Presence is a user's availability as others see it.
type Presence struct {
	UserID       string `json:"userId"`
	Status       Status `json:"status"`
	CustomStatus string `json:"customStatus,omitempty"`
	// LastSeenAt is now for a user who is online, the last time one was
	// seen for one who is offline, and null when that is unknown.
	LastSeenAt *time.Time `json:"lastSeenAt"`
	RoomID     string     `json:"roomId,omitempty"`
}

// localUsers owns this node's users as presence sees them: statuses,
// connection counts and grace timers. Its lock, localUsers.mu, is a leaf;
// Presence records and announcements are made outside it, in the user's
// lane.
type localUsers struct {
	mu    sync.Mutex
	users map[string]*localUser
}

// localUser is what this node knows of one of its users. It outlives the
// user's last connection by PresenceGrace, so that a reconnect after a blip
// changes nothing for the others.
type localUser struct {
	conns    int
	status   Status
	custom   string
	statusAt time.Time
	grace    *graceTimer
}

func (h *Hub) record(userID string, lu *localUser) adapter.PresenceRecord {
	return adapter.PresenceRecord{Node: h.nodeID, UserID: userID, Status: string(lu.status), CustomStatus: lu.custom, StatusAt: lu.statusAt}
}

// merge returns the record that decides a user's status: the latest chosen
// status among the nodes that serve the user; ok is false when none does.
func merge(recs []adapter.PresenceRecord) (adapter.PresenceRecord, bool) {
	if len(recs) == 0 {
		return adapter.PresenceRecord{}, false
	}
	return slices.MaxFunc(recs, func(a, b adapter.PresenceRecord) int { return a.StatusAt.Compare(b.StatusAt) }), true
}

// seen returns how others see a user whose deciding record is r (ok false:
// no record). The caller sets UserID.
func seen(r adapter.PresenceRecord, ok bool) Presence {
	if !ok || Status(r.Status) == StatusInvisible {
		return Presence{Status: StatusOffline}
	}
	t := now()
	return seenAt(r, &t)
}

// seenAt is seen of a record that decides, with now at *at: the presences
// of one list share it.
func seenAt(r adapter.PresenceRecord, at *time.Time) Presence {
	if Status(r.Status) == StatusInvisible {
		return Presence{Status: StatusOffline}
	}
	return Presence{Status: Status(r.Status), CustomStatus: r.CustomStatus, LastSeenAt: at}
}

func samePresence(a, b Presence) bool {
	return a.Status == b.Status && a.CustomStatus == b.CustomStatus
}

// withRecord returns recs with node's record replaced by mine (nil: removed).
func withRecord(recs []adapter.PresenceRecord, node string, mine *adapter.PresenceRecord) []adapter.PresenceRecord {
	out := slices.DeleteFunc(slices.Clone(recs), func(r adapter.PresenceRecord) bool { return r.Node == node })
	if mine != nil {
		out = append(out, *mine)
	}
	return out
}

// userConnected counts a new connection of u on this node and announces the
// user when others could not see it before.
func (h *Hub) userConnected(ctx context.Context, u User) {
	unlock := h.lanes.lock("user:" + u.ID)
	notify := func() {}
	defer func() {
		unlock()
		notify()
	}()
	h.here.mu.Lock()
	lu := h.here.users[u.ID]
	if lu == nil {
		lu = &localUser{status: StatusOnline}
		h.here.users[u.ID] = lu
	}
	lu.conns++
	regained := lu.grace != nil
	if regained {
		lu.grace.t.Stop()
		lu.grace = nil
	}
	rec := h.record(u.ID, lu)
	first := lu.conns == 1 && !regained
	h.here.mu.Unlock()
	if !first {
		return // others saw the user online all along
	}
	notify = h.changePresence(ctx, u.ID, &rec)
}

// changePresence stores this node's record of a user (nil: removes it) and
// announces the change if others see one. It runs under the user's lane and
// returns what tells the host application (OnPresence), to call once the
// lane is released: no lock is held while a hook runs.
func (h *Hub) changePresence(ctx context.Context, userID string, mine *adapter.PresenceRecord) (notify func()) {
	before, err := h.presence.Presence(ctx, []string{userID})
	if err != nil {
		h.log.Warn("realtime: presence lookup", "user", userID, "err", err)
	}
	if mine != nil {
		err = h.presence.SetPresence(ctx, *mine)
	} else {
		err = h.presence.DeletePresence(ctx, h.nodeID, userID)
	}
	if err != nil {
		h.log.Warn("realtime: presence update", "user", userID, "err", err)
	}
	return h.transition(ctx, userID, before, withRecord(before, h.nodeID, mine))
}

// transition announces how others see a user whose records went from
// before to after, if that changed, and remembers when a user who looks
// offline was last seen. It returns the OnPresence call to make after the
// caller released its lane.
func (h *Hub) transition(ctx context.Context, userID string, before, after []adapter.PresenceRecord) (notify func()) {
	old := seen(merge(before))
	p := seen(merge(after))
	p.UserID = userID
	if p.Status == StatusOffline {
		t := now()
		if err := h.store.SetLastSeen(ctx, userID, t); err != nil {
			h.log.Warn("realtime: save last seen", "user", userID, "err", err)
		}
		p.LastSeenAt = &t
	}
	if samePresence(old, p) {
		return func() {}
	}
	h.announce(ctx, p)
	return func() {
		if hook := h.cfg.OnPresence; hook != nil {
			h.guard("OnPresence", func() { hook(h.ctx, p) })
		}
	}
}

// userDisconnected uncounts a closed connection; when it was the user's last
// one here, the user leaves this node after PresenceGrace.
func (h *Hub) userDisconnected(u User) {
	h.here.mu.Lock()
	defer h.here.mu.Unlock()
	lu := h.here.users[u.ID]
	if lu == nil {
		return
	}
	if lu.conns--; lu.conns > 0 {
		return
	}
	g := &graceTimer{}
	g.t = time.AfterFunc(h.cfg.PresenceGrace, func() {
		h.goTimer(func() { h.graceOver(u.ID, g) })
	})
	lu.grace = g
}

// graceTimer is one grace period; its identity tells graceOver whether the
// period it ends is still the current one.
type graceTimer struct{ t *time.Timer }

// graceOver removes a user whose grace period g ended without a reconnect.
func (h *Hub) graceOver(userID string, g *graceTimer) {
	unlock := h.lanes.lock("user:" + userID)
	notify := func() {}
	defer func() {
		unlock()
		notify()
	}()
	h.here.mu.Lock()
	lu := h.here.users[userID]
	if lu == nil || lu.grace != g {
		h.here.mu.Unlock()
		return // the user came back, or left and came back again
	}
	delete(h.here.users, userID)
	h.here.mu.Unlock()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	notify = h.changePresence(ctx, userID, nil)
}

// announce tells the user's rooms how others now see the user. Each connection receives a user's changes coalesced: only
// the latest within PresenceCoalesce.
func (h *Hub) announce(ctx context.Context, p Presence) {
	rooms, err := h.store.MemberRooms(ctx, p.UserID)
	if err != nil {
		h.log.Warn("realtime: rooms of user", "user", p.UserID, "err", err)
		return
	}
	for _, room := range rooms {
		if _, large := h.roomIsLarge(ctx, room); large {
			continue // its members page through presence with list-members
		}
		p.RoomID = room
		frame, err := encodePush("presence-changed", p)
		if err != nil {
			return
		}
		if err := h.publish(ctx, adapter.Room(room), publication{Frame: frame, Key: "presence:" + p.UserID}); err != nil {
			h.log.Warn("realtime: publish presence", "room", room, "err", err)
		}
	}
}

// heartbeat keeps this node's presence records alive and announces the
// users of nodes that died. It runs until Close.
func (h *Hub) heartbeat() {
	interval := h.cfg.OfflineTimeout / 4
	ttl := h.cfg.OfflineTimeout / 2
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastPrune time.Time
	for {
		ctx, cancel := context.WithTimeout(h.ctx, interval)
		expired, err := h.presence.Heartbeat(ctx, h.nodeID, ttl)
		if err != nil && h.ctx.Err() == nil {
			h.log.Warn("realtime: presence heartbeat", "err", err)
		}
		h.budgets.prune(time.Now())
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			h.pruneNotifications(ctx)
		}
		byUser := make(map[string][]adapter.PresenceRecord)
		for _, r := range expired {
			byUser[r.UserID] = append(byUser[r.UserID], r)
		}
		for _, id := range slices.Sorted(maps.Keys(byUser)) {
			unlock := h.lanes.lock("user:" + id)
			notify := func() {}
			if current, err := h.presence.Presence(ctx, []string{id}); err == nil {
				notify = h.transition(ctx, id, append(current, byUser[id]...), current)
			}
			unlock()
			notify()
		}
		cancel()
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// presenceOf returns how others see users, with last-seen times for those
// offline.
func (h *Hub) presenceOf(ctx context.Context, userIDs []string) ([]Presence, error) {
	recs, err := h.presence.Presence(ctx, userIDs)
	if err != nil {
		return nil, h.storeErr("presence", err)
	}
	byUser := make(map[string][]adapter.PresenceRecord)
	for _, r := range recs {
		byUser[r.UserID] = append(byUser[r.UserID], r)
	}
	out := make([]Presence, 0, len(userIDs))
	var offline []string
	for _, id := range userIDs {
		p := seen(merge(byUser[id]))
		p.UserID = id
		if p.Status == StatusOffline {
			offline = append(offline, id)
		}
		out = append(out, p)
	}
	if len(offline) > 0 {
		last, err := h.store.LastSeen(ctx, offline)
		if err != nil {
			return nil, h.storeErr("last seen", err)
		}
		for i := range out {
			if t, ok := last[out[i].UserID]; ok && out[i].Status == StatusOffline {
				out[i].LastSeenAt = &t
			}
		}
	}
	return out, nil
}

type presenceRequest struct {
	Status       Status `json:"status"`
	CustomStatus string `json:"customStatus"`
}

type presenceReply struct {
	Presence Presence `json:"presence"`
}

const maxCustomStatusChars = 128

func (h *Hub) handlePresenceUpdate(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req presenceRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if !req.Status.settable() {
		return nil, Errorf(CodeInvalid, `field status must be "online", "away", "busy" or "invisible"`)
	}
	if len([]rune(req.CustomStatus)) > maxCustomStatusChars {
		return nil, Errorf(CodeTooLarge, "customStatus is longer than %d characters", maxCustomStatusChars)
	}
	u := c.currentUser()
	unlock := h.lanes.lock("user:" + u.ID)
	h.here.mu.Lock()
	lu := h.here.users[u.ID]
	if lu == nil {
		h.here.mu.Unlock()
		unlock()
		return nil, ErrUnavailable
	}
	lu.status, lu.custom, lu.statusAt = req.Status, req.CustomStatus, time.Now()
	rec := h.record(u.ID, lu)
	h.here.mu.Unlock()
	notify := h.changePresence(ctx, u.ID, &rec)
	unlock()
	notify()
	t := now()
	// The caller sees its own choice, invisible included.
	return presenceReply{Presence: Presence{UserID: u.ID, Status: req.Status, CustomStatus: req.CustomStatus, LastSeenAt: &t}}, nil
}

type getPresenceRequest struct {
	RoomID  string   `json:"roomId"`
	UserIDs []string `json:"userIds"`
}

type presenceList struct {
	Presence []Presence `json:"presence"`
}

const maxPresenceUsers = 200

func (h *Hub) handleGetPresence(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req getPresenceRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	u := c.currentUser()
	var ids []string
	switch {
	case req.RoomID != "" && req.UserIDs != nil:
		return nil, Errorf(CodeInvalid, "give roomId or userIds, not both")
	case req.RoomID != "":
		if err := h.requireMember(ctx, u, req.RoomID); err != nil {
			return nil, err
		}
		members, err := h.store.ListMembers(ctx, req.RoomID)
		if err != nil {
			return nil, h.storeErr("list members", err)
		}
		for _, m := range members {
			ids = append(ids, m.UserID)
		}
	case len(req.UserIDs) > maxPresenceUsers:
		return nil, Errorf(CodeInvalid, "at most %d userIds", maxPresenceUsers)
	case len(req.UserIDs) > 0:
		if err := h.requireSharedRoom(ctx, u, req.UserIDs); err != nil {
			return nil, err
		}
		ids = req.UserIDs
	default:
		return nil, Errorf(CodeInvalid, "give roomId or userIds")
	}
	list, err := h.presenceOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].RoomID = req.RoomID
	}
	return presenceList{Presence: list}, nil
}

// requireSharedRoom checks that every user shares a room with u.
func (h *Hub) requireSharedRoom(ctx context.Context, u User, userIDs []string) error {
	if u.HasRole("admin") {
		return nil
	}
	mine, err := h.store.MemberRooms(ctx, u.ID)
	if err != nil {
		return h.storeErr("member rooms", err)
	}
	for _, id := range userIDs {
		if id == u.ID {
			continue
		}
		if len(id) > maxIDBytes {
			return Errorf(CodeInvalid, "an id is too long")
		}
		theirs, err := h.store.MemberRooms(ctx, id)
		if err != nil {
			return h.storeErr("member rooms", err)
		}
		if !slices.ContainsFunc(theirs, func(r string) bool { return slices.Contains(mine, r) }) {
			return Errorf(CodeForbidden, "you share no room with %s", truncate(id, 64))
		}
	}
	return nil
}

// onlinePresence lists the members of a room that others see online.
func (h *Hub) onlinePresence(ctx context.Context, roomID string, members []Member) []Presence {
	if lp, ok := h.presence.(*localPresence); ok {
		return lp.online(roomID, members)
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	recs, err := h.presence.Presence(ctx, ids)
	if err != nil {
		h.log.Warn("realtime: presence lookup", "room", roomID, "err", err)
		return []Presence{}
	}
	// Each user's deciding record, as merge picks it (the first of the
	// latest), without a list of records per user.
	deciding := make(map[string]adapter.PresenceRecord, len(recs))
	for _, r := range recs {
		if d, ok := deciding[r.UserID]; !ok || r.StatusAt.Compare(d.StatusAt) > 0 {
			deciding[r.UserID] = r
		}
	}
	out := make([]Presence, 0, len(deciding))
	at := now()
	for _, id := range ids {
		r, ok := deciding[id]
		if !ok {
			continue
		}
		if p := seenAt(r, &at); p.Status != StatusOffline {
			p.UserID, p.RoomID = id, roomID
			out = append(out, p)
		}
	}
	return out
}

// Presence returns how other users see userID now, cluster-wide.
func (h *Hub) Presence(ctx context.Context, userID string) (Presence, error) {
	list, err := h.presenceOf(ctx, []string{userID})
	if err != nil {
		return Presence{}, err
	}
	return list[0], nil
}
