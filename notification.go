package realtime

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// Notification is a stored message to one user: a mention, a direct
// message that found the user away, an invitation, or anything the host
// sends with Hub.Notify. It stays until retention drops it, read or not.
type Notification struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	// Type is "mention", "direct-message", "room-invite", "system", or a
	// host-defined kebab-case name.
	Type  string `json:"type"`
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
	// Data is a JSON object for the client (where to go when clicked...).
	Data      json.RawMessage `json:"data,omitempty"`
	RoomID    string          `json:"roomId,omitempty"`
	MessageID string          `json:"messageId,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	ReadAt    *time.Time      `json:"readAt,omitempty"`
	// Key makes sending idempotent: a user gets at most one notification
	// per key (a retried Notify notifies once). Never sent to clients.
	Key string `json:"-"`
}

// The notification types of the hub.
const (
	NotifyMention       = "mention"
	NotifyDirectMessage = "direct-message"
	NotifyRoomInvite    = "room-invite"
	NotifySystem        = "system"
)

// NotificationQuery selects a page of one user's notifications, newest
// first.
type NotificationQuery struct {
	UserID string
	// Before, when set, is the id of one of the user's notifications: the
	// page starts with the one created before it.
	Before     string
	Limit      int
	UnreadOnly bool
}

// NotificationStore is the optional Store capability behind notifications
// (Hub.Notify and the notification events): a Store that implements it
// enables them. The memory store and store/sqlstore do; store/storetest
// has its conformance cases.
type NotificationStore interface {
	// SaveNotifications stores ns (ids, users and times set by the hub) in
	// one atomic step and returns those it stored, in the order given. A
	// notification whose user already has one with the same non-empty Key
	// is not stored and not returned. With keep > 0, each user of ns then
	// keeps only their keep newest notifications.
	SaveNotifications(ctx context.Context, ns []Notification, keep int) (stored []Notification, err error)
	// ListNotifications returns a page of q.UserID's notifications, newest
	// first (the order they were stored in, reversed), and whether more
	// follow. A q.Before that is not one of the user's is ErrNotFound.
	ListNotifications(ctx context.Context, q NotificationQuery) (page []Notification, hasMore bool, err error)
	// UnreadNotifications counts userID's unread notifications.
	UnreadNotifications(ctx context.Context, userID string) (int, error)
	// MarkNotificationsRead sets ReadAt to at on userID's notifications
	// named in ids, and, when upTo is set, on the notification upTo and
	// every one stored before it; those already read keep their ReadAt. An
	// id that is not one of the user's is ErrNotFound, and nothing is
	// marked. It returns the user's unread count after.
	MarkNotificationsRead(ctx context.Context, userID string, ids []string, upTo string, at time.Time) (unread int, err error)
	// PruneNotifications deletes the notifications created before t and
	// returns how many.
	PruneNotifications(ctx context.Context, before time.Time) (int, error)
}

// memNotes is the memory store's notifications. Its lock, notesMu, is
// its own: notifications share nothing with rooms and messages.
type memNotes struct {
	notesMu sync.Mutex
	byUser  map[string][]*Notification // in the order stored
	byID    map[string]*Notification
	keys    map[string]string // user "\x00" key -> id
}

func noteKey(user, key string) string { return user + "\x00" + key }

func (s *memoryStore) SaveNotifications(_ context.Context, ns []Notification, keep int) ([]Notification, error) {
	m := &s.notes
	m.notesMu.Lock()
	defer m.notesMu.Unlock()
	if m.byUser == nil {
		m.byUser, m.byID, m.keys = make(map[string][]*Notification), make(map[string]*Notification), make(map[string]string)
	}
	for _, n := range ns {
		if _, ok := m.byID[n.ID]; ok {
			return nil, ErrConflict
		}
	}
	var stored []Notification
	touched := make(map[string]bool)
	for _, n := range ns {
		if n.Key != "" {
			if _, dup := m.keys[noteKey(n.UserID, n.Key)]; dup {
				continue
			}
			m.keys[noteKey(n.UserID, n.Key)] = n.ID
		}
		n.Data = slices.Clone(n.Data)
		p := &n
		m.byUser[n.UserID] = append(m.byUser[n.UserID], p)
		m.byID[n.ID] = p
		touched[n.UserID] = true
		stored = append(stored, n)
	}
	if keep > 0 {
		for user := range touched {
			if list := m.byUser[user]; len(list) > keep {
				for _, old := range list[:len(list)-keep] {
					m.forgetLocked(old)
				}
				m.byUser[user] = slices.Clone(list[len(list)-keep:])
			}
		}
	}
	return stored, nil
}

// forgetLocked drops n from the indexes other than byUser.
func (m *memNotes) forgetLocked(n *Notification) {
	delete(m.byID, n.ID)
	if n.Key != "" && m.keys[noteKey(n.UserID, n.Key)] == n.ID {
		delete(m.keys, noteKey(n.UserID, n.Key))
	}
}

func (s *memoryStore) ListNotifications(_ context.Context, q NotificationQuery) ([]Notification, bool, error) {
	m := &s.notes
	m.notesMu.Lock()
	defer m.notesMu.Unlock()
	list := m.byUser[q.UserID]
	end := len(list)
	if q.Before != "" {
		i := slices.IndexFunc(list, func(n *Notification) bool { return n.ID == q.Before })
		if i < 0 {
			return nil, false, ErrNotFound
		}
		end = i
	}
	var page []Notification
	for i := end - 1; i >= 0; i-- {
		if q.UnreadOnly && list[i].ReadAt != nil {
			continue
		}
		if len(page) == q.Limit {
			return page, true, nil
		}
		page = append(page, copyNote(list[i]))
	}
	return page, false, nil
}

func copyNote(n *Notification) Notification {
	c := *n
	c.Data = slices.Clone(n.Data)
	if n.ReadAt != nil {
		t := *n.ReadAt
		c.ReadAt = &t
	}
	return c
}

func (s *memoryStore) UnreadNotifications(_ context.Context, userID string) (int, error) {
	m := &s.notes
	m.notesMu.Lock()
	defer m.notesMu.Unlock()
	return m.unreadLocked(userID), nil
}

func (m *memNotes) unreadLocked(userID string) int {
	n := 0
	for _, note := range m.byUser[userID] {
		if note.ReadAt == nil {
			n++
		}
	}
	return n
}

func (s *memoryStore) MarkNotificationsRead(_ context.Context, userID string, ids []string, upTo string, at time.Time) (int, error) {
	m := &s.notes
	m.notesMu.Lock()
	defer m.notesMu.Unlock()
	var marks []*Notification
	for _, id := range ids {
		n := m.byID[id]
		if n == nil || n.UserID != userID {
			return 0, ErrNotFound
		}
		marks = append(marks, n)
	}
	if upTo != "" {
		list := m.byUser[userID]
		i := slices.IndexFunc(list, func(n *Notification) bool { return n.ID == upTo })
		if i < 0 {
			return 0, ErrNotFound
		}
		marks = append(marks, list[:i+1]...)
	}
	for _, n := range marks {
		if n.ReadAt == nil {
			t := at
			n.ReadAt = &t
		}
	}
	return m.unreadLocked(userID), nil
}

func (s *memoryStore) PruneNotifications(_ context.Context, before time.Time) (int, error) {
	m := &s.notes
	m.notesMu.Lock()
	defer m.notesMu.Unlock()
	pruned := 0
	for user, list := range m.byUser {
		kept := list[:0]
		for _, n := range list {
			if n.CreatedAt.Before(before) {
				m.forgetLocked(n)
				pruned++
				continue
			}
			kept = append(kept, n)
		}
		clear(list[len(kept):])
		if len(kept) == 0 {
			delete(m.byUser, user)
		} else {
			m.byUser[user] = kept
		}
	}
	return pruned, nil
}
