package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/realtime-go/realtime/adapter"
)

// NotificationOptions configures stored notifications (Config.Notifications).
// They work when the Store is a NotificationStore (the memory store and
// store/sqlstore are); with another Store, Notify and the notification
// events are refused.
type NotificationOptions struct {
	// Off names the automatic notifications not to send: "mention" (a
	// room message that mentions @username of a member), "direct-message"
	// (a direct message to a user with no live connection), "room-invite"
	// (being added to a private room). Hub.Notify is not affected.
	Off []string
	// Filter, when set, sees each automatic notification before it is
	// stored: it may change its title, body or data, or return false to
	// drop it.
	Filter func(ctx context.Context, n *Notification) bool
	// KeepPerUser is how many notifications a user keeps, the newest.
	// Zero: 1000. Negative: no limit.
	KeepPerUser int
	// MaxAge drops notifications older than this (checked with the
	// presence heartbeat). Zero: 90 days. Negative: never.
	MaxAge time.Duration
}

// Limits of a notification.
const (
	maxNoteTitleChars = 200
	maxNoteBodyChars  = 2000
	maxNoteDataBytes  = 8 << 10
	maxNoteKeyBytes   = 128
	maxNoteTypeBytes  = 64
	defaultNotesPage  = 20
	maxNotesPage      = 100
	defaultKeepNotes  = 1000
	defaultNoteMaxAge = 90 * 24 * time.Hour
)

// errNoNotifications answers notification requests when the Store keeps
// none.
var errNoNotifications = &Error{Code: CodeInvalid, Message: "this server keeps no notifications"}

// notes returns the Store's notification capability, or nil.
func (h *Hub) notes() NotificationStore {
	ns, _ := h.storeRaw.(NotificationStore)
	return ns
}

// Notify stores n for each of userIDs and pushes it, as notification, to
// every connection of each user on every node, in the order stored; users
// who are offline find it on their next connect (the unread count in
// connected, the list with get-notifications). The hub sets ID, UserID and
// CreatedAt; n.Key makes the call idempotent: a user who has a
// notification with that key gets none, so a retried call notifies once. It
// returns the notifications stored.
func (h *Hub) Notify(ctx context.Context, userIDs []string, n Notification) ([]Notification, error) {
	if h.closing.Load() {
		return nil, ErrHubClosed
	}
	if h.notes() == nil {
		return nil, errNoNotifications
	}
	if err := validNotification(&n); err != nil {
		return nil, err
	}
	return h.notify(ctx, userIDs, n)
}

// validNotification checks what the host may set.
func validNotification(n *Notification) error {
	switch {
	case n.Type == "" || len(n.Type) > maxNoteTypeBytes || !eventNamePattern.MatchString(n.Type):
		return Errorf(CodeInvalid, "a notification's type is kebab-case of at most %d bytes", maxNoteTypeBytes)
	case n.Title == "":
		return Errorf(CodeInvalid, "a notification needs a title")
	case utf8.RuneCountInString(n.Title) > maxNoteTitleChars:
		return Errorf(CodeTooLarge, "a notification's title is longer than %d characters", maxNoteTitleChars)
	case utf8.RuneCountInString(n.Body) > maxNoteBodyChars:
		return Errorf(CodeTooLarge, "a notification's body is longer than %d characters", maxNoteBodyChars)
	case len(n.Data) > maxNoteDataBytes:
		return Errorf(CodeTooLarge, "a notification's data is larger than %d bytes", maxNoteDataBytes)
	case len(n.Data) > 0 && (!json.Valid(n.Data) || bytes.TrimSpace(n.Data)[0] != '{'):
		return Errorf(CodeInvalid, "a notification's data is a JSON object")
	case len(n.Key) > maxNoteKeyBytes || len(n.RoomID) > maxIDBytes || len(n.MessageID) > maxIDBytes:
		return Errorf(CodeInvalid, "a notification's key or ids are too long")
	}
	return nil
}

// notify stores n for the users and pushes what was stored. Publishes take
// turns on one stream, so that a user's notifications are pushed in the
// order their calls started.
func (h *Hub) notify(ctx context.Context, userIDs []string, n Notification) ([]Notification, error) {
	seen := make(map[string]bool, len(userIDs))
	ns := make([]Notification, 0, len(userIDs))
	t := now()
	for _, u := range userIDs {
		if u == "" || seen[u] {
			continue
		}
		seen[u] = true
		c := n
		c.ID, c.UserID, c.CreatedAt, c.ReadAt = newSortedID("n"), u, t, nil
		ns = append(ns, c)
	}
	if len(ns) == 0 {
		return nil, nil
	}
	keep := h.cfg.Notifications.KeepPerUser
	if keep == 0 {
		keep = defaultKeepNotes
	}
	cs := h.turns.stripe(notifyStream)
	turn := cs.take(notifyStream)
	defer cs.end(notifyStream, turn)
	stored, err := h.notes().SaveNotifications(ctx, ns, max(keep, 0))
	cs.await(ctx, notifyStream, turn)
	if err != nil {
		return nil, h.storeErr("save notifications", err)
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.PublishTimeout)
	defer cancel()
	for i := range stored {
		frame, err := encodePush("notification", &stored[i])
		if err != nil {
			return nil, err
		}
		// Droppable: a connection far behind skips the push rather than
		// being closed for it; the stored list and count stay right.
		if err := h.publish(pctx, adapter.User(stored[i].UserID), publication{Frame: frame, Droppable: true}); err != nil {
			h.log.Warn("realtime: notification stored but not pushed", "id", stored[i].ID, "err", err)
		}
	}
	return stored, nil
}

// notifyStream is the turn stream of every notification push.
var notifyStream = streamKey{other: "\x00notifications"}

// autoOn reports whether automatic notifications of kind are sent: the
// Store keeps notifications and NotificationOptions.Off does not name it.
func (h *Hub) autoOn(kind string) bool {
	return h.notes() != nil && !slices.Contains(h.cfg.Notifications.Off, kind)
}

// inBackground runs fn off the caller's path, with a context bounded by
// StoreTimeout, on a goroutine that Close waits for.
func (h *Hub) inBackground(fn func(ctx context.Context)) {
	h.goTimer(func() {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.StoreTimeout)
		defer cancel()
		fn(ctx)
	})
}

// autoNotify stores and pushes an automatic notification to the users,
// after the Filter hook: a user whose notification the hook changed gets
// that one, and a failure is logged.
func (h *Hub) autoNotify(ctx context.Context, userIDs []string, n Notification) {
	if f := h.cfg.Notifications.Filter; f != nil {
		var same []string
		for _, u := range userIDs {
			c := n
			c.UserID = u
			switch {
			case !f(ctx, &c):
			case c.Title == n.Title && c.Body == n.Body && bytes.Equal(c.Data, n.Data):
				same = append(same, u)
			default:
				h.notifyLogged(ctx, []string{u}, c)
			}
		}
		userIDs = same
	}
	h.notifyLogged(ctx, userIDs, n)
}

func (h *Hub) notifyLogged(ctx context.Context, userIDs []string, n Notification) {
	if _, err := h.notify(ctx, userIDs, n); err != nil {
		h.log.Warn("realtime: automatic notification", "type", n.Type, "err", err)
	}
}

// mentions returns the names mentioned as @name in content, each once. A
// message without '@' costs one byte scan.
func mentions(content string) []string {
	if strings.IndexByte(content, '@') < 0 {
		return nil
	}
	var out []string
	for i := 0; i < len(content); i++ {
		if content[i] != '@' || (i > 0 && isNameByte(content, i-1)) {
			continue
		}
		j := i + 1
		for j < len(content) {
			r, size := utf8.DecodeRuneInString(content[j:])
			if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '-') {
				break
			}
			j += size
		}
		name := strings.TrimRight(content[i+1:j], ".-") // "@bob." ends a sentence
		if name != "" && len(name) <= 64 && !containsFold(out, name) {
			out = append(out, name)
		}
		i = j - 1
	}
	return out
}

// isNameByte reports whether the rune ending at byte i is part of a name:
// "me@example.com" mentions nobody.
func isNameByte(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i+1])
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '-'
}

func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// notifyMentions notifies the members of m's room that m mentions by
// username, except its sender, once per message.
func (h *Hub) notifyMentions(m *Message) {
	if m.RoomID == "" {
		return
	}
	if names := mentions(m.Content); len(names) > 0 && h.autoOn(NotifyMention) {
		h.notifyMentioned(*m, names)
	}
}

// notifyMentioned notifies, in the background, the members of m's room
// that names mention. It is apart from notifyMentions so that the copy of m
// its goroutine keeps is made only for a message that mentions someone.
func (h *Hub) notifyMentioned(m Message, names []string) {
	h.inBackground(func(ctx context.Context) {
		members, err := h.store.ListMembers(ctx, m.RoomID)
		if err != nil {
			h.log.Warn("realtime: mentions", "room", m.RoomID, "err", err)
			return
		}
		var to []string
		for _, mem := range members {
			if mem.UserID != m.SenderID && (containsFold(names, mem.Username) || containsFold(names, mem.UserID)) {
				to = append(to, mem.UserID)
			}
		}
		data, _ := json.Marshal(map[string]any{"roomId": m.RoomID, "messageId": m.ID, "seq": m.Seq})
		h.autoNotify(ctx, to, Notification{Type: NotifyMention, Key: "mention:" + m.ID,
			Title: fmt.Sprintf("%s mentioned you", m.Sender.Username), Body: truncateRunes(m.Content, 200),
			Data: data, RoomID: m.RoomID, MessageID: m.ID})
	})
}

// notifyAwayRecipient notifies the recipient of a direct message who has
// no live connection anywhere.
func (h *Hub) notifyAwayRecipient(m *Message) {
	if m.RecipientID == "" || m.RecipientID == m.SenderID || !h.autoOn(NotifyDirectMessage) {
		return
	}
	h.notifyIfAway(*m)
}

// notifyIfAway notifies, in the background, m's recipient if no connection
// of theirs is live; its goroutine keeps a copy of m, made only for direct
// messages.
func (h *Hub) notifyIfAway(m Message) {
	h.inBackground(func(ctx context.Context) {
		if p, err := h.Presence(ctx, m.RecipientID); err != nil || p.Status != StatusOffline {
			return // online (invisible counts as online here): it got the message
		}
		data, _ := json.Marshal(map[string]any{"senderId": m.SenderID, "messageId": m.ID})
		h.autoNotify(ctx, []string{m.RecipientID}, Notification{Type: NotifyDirectMessage, Key: "dm:" + m.ID,
			Title: fmt.Sprintf("Message from %s", m.Sender.Username), Body: truncateRunes(m.Content, 200),
			Data: data, MessageID: m.ID})
	})
}

// notifyInvite notifies a user whom someone else added to a private room.
func (h *Hub) notifyInvite(m Member) {
	if !h.autoOn(NotifyRoomInvite) {
		return
	}
	h.inBackground(func(ctx context.Context) {
		room, err := h.store.GetRoom(ctx, m.RoomID)
		if err != nil || !room.IsPrivate {
			return
		}
		data, _ := json.Marshal(map[string]any{"roomId": room.ID})
		h.autoNotify(ctx, []string{m.UserID}, Notification{Type: NotifyRoomInvite,
			Key:   fmt.Sprintf("invite:%s:%d", room.ID, m.JoinedAt.UnixMilli()),
			Title: fmt.Sprintf("You were added to %s", room.Name), Data: data, RoomID: room.ID})
	})
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// pruneNotifications drops notifications past MaxAge; the heartbeat calls it.
func (h *Hub) pruneNotifications(ctx context.Context) {
	ns := h.notes()
	age := h.cfg.Notifications.MaxAge
	if ns == nil || age < 0 {
		return
	}
	if age == 0 {
		age = defaultNoteMaxAge
	}
	if _, err := ns.PruneNotifications(ctx, time.Now().Add(-age)); err != nil {
		h.log.Warn("realtime: prune notifications", "err", err)
	}
}

type getNotificationsRequest struct {
	Before     string `json:"before"`
	Limit      int    `json:"limit"`
	UnreadOnly bool   `json:"unreadOnly"`
}

type notificationsReply struct {
	Notifications []Notification `json:"notifications"`
	HasMore       bool           `json:"hasMore"`
	Unread        int            `json:"unread"`
}

func (h *Hub) handleGetNotifications(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	ns := h.notes()
	if ns == nil {
		return nil, errNoNotifications
	}
	var req getNotificationsRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if err := optional("before", req.Before); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, defaultNotesPage, maxNotesPage)
	if err != nil {
		return nil, err
	}
	u := c.currentUser()
	page, more, err := ns.ListNotifications(ctx, NotificationQuery{UserID: u.ID, Before: req.Before, Limit: limit, UnreadOnly: req.UnreadOnly})
	if err != nil {
		return nil, h.storeErr("list notifications", err)
	}
	unread, err := ns.UnreadNotifications(ctx, u.ID)
	if err != nil {
		return nil, h.storeErr("count notifications", err)
	}
	return notificationsReply{Notifications: nonNil(page), HasMore: more, Unread: unread}, nil
}

type markReadRequest struct {
	IDs  []string `json:"ids"`
	UpTo string   `json:"upTo"`
}

type notificationsRead struct {
	IDs    []string `json:"ids,omitempty"`
	UpTo   string   `json:"upTo,omitempty"`
	Unread int      `json:"unread"`
}

// maxMarkIDs bounds the ids of one mark-notifications-read.
const maxMarkIDs = 500

func (h *Hub) handleMarkNotificationsRead(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	ns := h.notes()
	if ns == nil {
		return nil, errNoNotifications
	}
	var req markReadRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if len(req.IDs) == 0 && req.UpTo == "" {
		return nil, Errorf(CodeInvalid, "give ids or upTo")
	}
	if len(req.IDs) > maxMarkIDs {
		return nil, Errorf(CodeTooLarge, "at most %d ids", maxMarkIDs)
	}
	for _, id := range append(req.IDs, req.UpTo) {
		if len(id) > maxIDBytes {
			return nil, Errorf(CodeInvalid, "an id is too long")
		}
	}
	u := c.currentUser()
	unread, err := ns.MarkNotificationsRead(ctx, u.ID, req.IDs, req.UpTo, now())
	if err != nil {
		return nil, h.storeErr("mark notifications read", err)
	}
	read := notificationsRead{IDs: req.IDs, UpTo: req.UpTo, Unread: unread}
	// The user's other connections, on every node, follow (a second
	// tab's badge).
	if frame, err := encodePush("notifications-read", read); err == nil {
		if err := h.publish(ctx, adapter.User(u.ID), publication{Frame: frame, Except: c.id}); err != nil {
			h.log.Warn("realtime: publish notifications-read", "err", err)
		}
	}
	return struct {
		Unread int `json:"unread"`
	}{unread}, nil
}
