package realtime

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// User is an authenticated identity, as the Authenticator found it.
type User struct {
	ID       string
	Username string
	// Roles come from the token: "broadcast" permits global sends, "admin"
	// administers every room of the hub.
	Roles []string
}

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

func (u User) ref() UserRef { return UserRef{ID: u.ID, Username: u.Username} }

// UserRef is the public view of a user inside events: {id, username}.
type UserRef struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}

// Role is a member's role in a room.
type Role string

// The roles of a room member.
const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

func (r Role) valid() bool { return r == RoleAdmin || r == RoleMember }

// Room is a named group of members that receive each other's messages.
type Room struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	MaxUsers    int       `json:"maxUsers"`
	IsPrivate   bool      `json:"isPrivate"`
	CreatedByID string    `json:"createdById"`
	CreatedAt   time.Time `json:"createdAt"`
	MemberCount int       `json:"memberCount"`
}

// roomType is a room's "type" on the wire, beside isPrivate: "private" or
// "public".
func roomType(private bool) string {
	if private {
		return "private"
	}
	return "public"
}

// MarshalJSON writes the room with its wire "type" ("public" or
// "private"), which follows IsPrivate.
func (r Room) MarshalJSON() ([]byte, error) {
	type plain Room
	return json.Marshal(struct {
		plain
		Type string `json:"type"`
	}{plain(r), roomType(r.IsPrivate)})
}

// Member is one user's membership of a room.
type Member struct {
	RoomID   string    `json:"-"`
	UserID   string    `json:"userId"`
	Username string    `json:"username"`
	Role     Role      `json:"role"`
	IsMuted  bool      `json:"isMuted"`
	JoinedAt time.Time `json:"joinedAt"`
}

// MessageType is the kind of a message's content.
type MessageType string

// The message types.
const (
	TypeText   MessageType = "text"
	TypeImage  MessageType = "image"
	TypeFile   MessageType = "file"
	TypeSystem MessageType = "system"
)

func (t MessageType) valid() bool {
	switch t {
	case TypeText, TypeImage, TypeFile, TypeSystem:
		return true
	}
	return false
}

// Message is a stored message. Exactly one of RoomID and RecipientID is set,
// or neither for a global broadcast.
type Message struct {
	ID          string          `json:"id"`
	Seq         uint64          `json:"seq"`
	RoomID      string          `json:"roomId,omitempty"`
	RecipientID string          `json:"recipientId,omitempty"`
	SenderID    string          `json:"senderId"`
	Sender      UserRef         `json:"sender"`
	Content     string          `json:"content"`
	Type        MessageType     `json:"type"`
	ReplyToID   string          `json:"replyToId,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	EditedAt    *time.Time      `json:"editedAt,omitempty"`
	DeletedAt   *time.Time      `json:"deletedAt,omitempty"`
	ClientMsgID string          `json:"clientMsgId,omitempty"`
}

// UnmarshalJSON decodes a message as encoding/json would, and takes
// SenderID from sender.id when senderId is absent, as in the message
// pushes of protocol realtime.v2 (PROTOCOL.md).
func (m *Message) UnmarshalJSON(b []byte) error {
	type plain Message // without this method
	if err := json.Unmarshal(b, (*plain)(m)); err != nil {
		return err
	}
	if m.SenderID == "" {
		m.SenderID = m.Sender.ID
	}
	return nil
}

// streamKey names a message stream (Message.Stream) without building its
// string for every message: a room by its id, any other stream by that
// string. The memory store keys its streams by it, and the hub its send
// turns.
type streamKey struct{ room, other string }

// streamOf returns the key of m's stream.
func streamOf(m *Message) streamKey {
	if m.RoomID != "" {
		return streamKey{room: m.RoomID}
	}
	return streamKey{other: m.Stream()}
}

// parseStream returns the key of the stream that Message.Stream names s.
func parseStream(s string) streamKey {
	if id, ok := strings.CutPrefix(s, "room:"); ok {
		return streamKey{room: id}
	}
	return streamKey{other: s}
}

// hashString is the string the key hashes by: the room id or the stream
// name, which may coincide only to share a stripe.
func (k streamKey) hashString() string {
	if k.room != "" {
		return k.room
	}
	return k.other
}

// Stream names the sequence a message belongs to: "room:<id>" for a room,
// "dm:<a>:<b>" (the two user ids in byte order) for direct messages and
// "global" for broadcasts. Seq increases strictly within a stream.
func (m Message) Stream() string {
	switch {
	case m.RoomID != "":
		return RoomStream(m.RoomID)
	case m.RecipientID != "":
		a, b := m.SenderID, m.RecipientID
		if b < a {
			a, b = b, a
		}
		return "dm:" + a + ":" + b
	}
	return "global"
}

// RoomStream is the Stream of a room's messages.
func RoomStream(roomID string) string { return "room:" + roomID }
