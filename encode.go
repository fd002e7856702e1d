package realtime

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/realtime-go/realtime/internal/wire"
)

// encodeMessagePush encodes a message push (new-message) as encodePush
// would, byte for byte, without reflection in the common case: a message
// without metadata, edit or deletion. The rest goes through encoding/json.
func encodeMessagePush(event string, m *Message) ([]byte, error) {
	if !pushByHand(m) {
		return encodePushCopy(event, *m)
	}
	// Sized exactly, so that the push, which every message allocates and
	// which stays queued until each member's writer has sent it, takes the
	// smallest size class it fits: sized at an estimate, a push of 345
	// bytes took 448.
	var tb [40]byte
	created := appendTime(tb[:0], m.CreatedAt)
	n := len(`{"event":`) + wire.QuotedLen(event) + len(`,"data":{"id":`) + wire.QuotedLen(m.ID) +
		len(`,"seq":`) + uintLen(m.Seq) + len(`,"senderId":`) + wire.QuotedLen(m.SenderID) +
		len(`,"sender":{"id":`) + wire.QuotedLen(m.Sender.ID) + len(`,"username":`) + wire.QuotedLen(m.Sender.Username) +
		len(`},"content":`) + wire.QuotedLen(m.Content) + len(`,"type":`) + wire.QuotedLen(string(m.Type)) +
		len(`,"createdAt":`) + len(created) + len("}}")
	if m.RoomID != "" {
		n += len(`,"roomId":`) + wire.QuotedLen(m.RoomID)
	}
	if m.RecipientID != "" {
		n += len(`,"recipientId":`) + wire.QuotedLen(m.RecipientID)
	}
	if m.ReplyToID != "" {
		n += len(`,"replyToId":`) + wire.QuotedLen(m.ReplyToID)
	}
	if m.ClientMsgID != "" {
		n += len(`,"clientMsgId":`) + wire.QuotedLen(m.ClientMsgID)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"event":`...)
	b = wire.AppendString(b, event)
	b = append(b, `,"data":{"id":`...)
	b = wire.AppendString(b, m.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, m.Seq, 10)
	if m.RoomID != "" {
		b = append(b, `,"roomId":`...)
		b = wire.AppendString(b, m.RoomID)
	}
	if m.RecipientID != "" {
		b = append(b, `,"recipientId":`...)
		b = wire.AppendString(b, m.RecipientID)
	}
	b = append(b, `,"senderId":`...)
	b = wire.AppendString(b, m.SenderID)
	b = append(b, `,"sender":{"id":`...)
	b = wire.AppendString(b, m.Sender.ID)
	b = append(b, `,"username":`...)
	b = wire.AppendString(b, m.Sender.Username)
	b = append(b, `},"content":`...)
	b = wire.AppendString(b, m.Content)
	b = append(b, `,"type":`...)
	b = wire.AppendString(b, string(m.Type))
	if m.ReplyToID != "" {
		b = append(b, `,"replyToId":`...)
		b = wire.AppendString(b, m.ReplyToID)
	}
	b = append(b, `,"createdAt":`...)
	b = append(b, created...)
	if m.ClientMsgID != "" {
		b = append(b, `,"clientMsgId":`...)
		b = wire.AppendString(b, m.ClientMsgID)
	}
	return append(b, "}}"...), nil
}

// pushByHand reports whether encodeMessagePush writes m's push itself,
// sized exactly, rather than through encoding/json.
func pushByHand(m *Message) bool {
	return m.Metadata == nil && m.EditedAt == nil && m.DeletedAt == nil && jsonTime(m.CreatedAt)
}

// uintLen returns how many digits v has in base 10.
func uintLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// encodePushCopy encodes a copy of m with encoding/json, which keeps the
// caller's message off the heap.
func encodePushCopy(event string, m Message) ([]byte, error) { return encodePush(event, &m) }

// ackFrame returns the reply {"ack":ack,"data":a}, as wire.AppendAck
// writes it with a encoded by encoding/json; ok is false when
// encoding/json must encode a. A message's ack is made as often as the
// message.
func (a messageAck) ackFrame(ack uint64) (frame Frame, ok bool) {
	if !jsonTime(a.Timestamp) {
		return Frame{}, false
	}
	// Sized exactly, as a push is.
	var tb [40]byte
	stamp := appendTime(tb[:0], a.Timestamp)
	n := len(`{"ack":`) + uintLen(ack) + len(`,"data":{"id":`) + wire.QuotedLen(a.ID) +
		len(`,"timestamp":`) + len(stamp) + len(`,"seq":`) + uintLen(a.Seq) + len("}}")
	if a.ClientMsgID != "" {
		n += len(`,"clientMsgId":`) + wire.QuotedLen(a.ClientMsgID)
	}
	b := wire.AppendAckHead(make([]byte, 0, n), ack)
	start := len(b)
	b = append(b, `{"id":`...)
	b = wire.AppendString(b, a.ID)
	b = append(b, `,"timestamp":`...)
	b = append(b, stamp...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, a.Seq, 10)
	if a.ClientMsgID != "" {
		b = append(b, `,"clientMsgId":`...)
		b = wire.AppendString(b, a.ClientMsgID)
	}
	b = append(b, "}}"...)
	return frameOf(b, FrameReply, 0, start), true
}

// jsonTime reports whether encoding/json can encode t: its year is 0 to
// 9999 and its zone within a day of UTC.
func jsonTime(t time.Time) bool {
	y := t.Year()
	_, offset := t.Zone()
	return y >= 0 && y <= 9999 && offset > -24*3600 && offset < 24*3600
}

// ackFramer is a reply that encodes itself as encoding/json would, byte
// for byte, in the common case: ackFrame returns ok false when
// encoding/json must encode it.
type ackFramer interface {
	ackFrame(ack uint64) (frame Frame, ok bool)
}

// ackFrame returns the reply {"ack":ack,"data":r}, which every join-room
// sends with up to joinMembersLimit members and their presence.
func (r joinReply) ackFrame(ack uint64) (frame Frame, ok bool) {
	if !jsonTime(r.Room.CreatedAt) {
		return Frame{}, false
	}
	size := 256 + len(r.Room.ID) + len(r.Room.Name) + len(r.Room.Description) + len(r.Room.CreatedByID)
	for _, m := range r.Members {
		if !jsonTime(m.JoinedAt) {
			return Frame{}, false
		}
		size += 110 + len(m.UserID) + len(m.Username) + len(m.Role)
	}
	for _, p := range r.Presence {
		if p.LastSeenAt != nil && !jsonTime(*p.LastSeenAt) {
			return Frame{}, false
		}
		size += 110 + len(p.UserID) + len(p.Status) + len(p.CustomStatus) + len(p.RoomID)
	}
	b := wire.AppendAckHead(make([]byte, 0, size), ack)
	start := len(b)
	b = append(b, `{"room":`...)
	b = r.Room.appendJSON(b)
	b = append(b, `,"members":`...)
	b = appendList(b, r.Members, (*Member).appendJSON)
	b = append(b, `,"presence":`...)
	b = appendList(b, r.Presence, (*Presence).appendJSON)
	if r.MoreMembers {
		b = append(b, `,"moreMembers":true`...)
	}
	b = append(b, `,"missed":`...)
	b = strconv.AppendInt(b, int64(r.Missed), 10)
	b = append(b, `,"recovered":`...)
	b = strconv.AppendBool(b, r.Recovered)
	b = append(b, "}}"...)
	return frameOf(b, FrameReply, 0, start), true
}

// appendTime appends t quoted, as encoding/json encodes a time that
// passes jsonTime.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendList appends list as encoding/json encodes a slice, each element
// with appendOne.
func appendList[T any](b []byte, list []T, appendOne func(*T, []byte) []byte) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOne(&list[i], b)
	}
	return append(b, ']')
}

// appendJSON appends r as Room.MarshalJSON encodes it; r.CreatedAt must
// pass jsonTime.
func (r *Room) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = wire.AppendString(b, r.ID)
	b = append(b, `,"name":`...)
	b = wire.AppendString(b, r.Name)
	if r.Description != "" {
		b = append(b, `,"description":`...)
		b = wire.AppendString(b, r.Description)
	}
	b = append(b, `,"maxUsers":`...)
	b = strconv.AppendInt(b, int64(r.MaxUsers), 10)
	b = append(b, `,"isPrivate":`...)
	b = strconv.AppendBool(b, r.IsPrivate)
	b = append(b, `,"createdById":`...)
	b = wire.AppendString(b, r.CreatedByID)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, r.CreatedAt)
	b = append(b, `,"memberCount":`...)
	b = strconv.AppendInt(b, int64(r.MemberCount), 10)
	b = append(b, `,"type":`...)
	b = wire.AppendString(b, roomType(r.IsPrivate))
	return append(b, '}')
}

// appendJSON appends m as encoding/json encodes it; m.JoinedAt must pass
// jsonTime.
func (m *Member) appendJSON(b []byte) []byte {
	b = append(b, `{"userId":`...)
	b = wire.AppendString(b, m.UserID)
	b = append(b, `,"username":`...)
	b = wire.AppendString(b, m.Username)
	b = append(b, `,"role":`...)
	b = wire.AppendString(b, string(m.Role))
	b = append(b, `,"isMuted":`...)
	b = strconv.AppendBool(b, m.IsMuted)
	b = append(b, `,"joinedAt":`...)
	b = appendTime(b, m.JoinedAt)
	return append(b, '}')
}

// appendJSON appends p as encoding/json encodes it; p.LastSeenAt, if set,
// must pass jsonTime.
func (p *Presence) appendJSON(b []byte) []byte {
	b = append(b, `{"userId":`...)
	b = wire.AppendString(b, p.UserID)
	b = append(b, `,"status":`...)
	b = wire.AppendString(b, string(p.Status))
	if p.CustomStatus != "" {
		b = append(b, `,"customStatus":`...)
		b = wire.AppendString(b, p.CustomStatus)
	}
	b = append(b, `,"lastSeenAt":`...)
	if p.LastSeenAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *p.LastSeenAt)
	}
	if p.RoomID != "" {
		b = append(b, `,"roomId":`...)
		b = wire.AppendString(b, p.RoomID)
	}
	return append(b, '}')
}

// encode returns d as encoding/json encodes it, by hand when its time
// allows.
func (d connectedData) encode() ([]byte, error) {
	if !jsonTime(d.ServerTime) {
		return json.Marshal(d)
	}
	b := make([]byte, 0, 150+len(d.ConnectionID)+len(d.User.ID)+len(d.User.Username))
	b = append(b, `{"connectionId":`...)
	b = wire.AppendString(b, d.ConnectionID)
	b = append(b, `,"user":{"id":`...)
	b = wire.AppendString(b, d.User.ID)
	b = append(b, `,"username":`...)
	b = wire.AppendString(b, d.User.Username)
	b = append(b, `},"heartbeatInterval":`...)
	b = strconv.AppendInt(b, d.HeartbeatInterval, 10)
	b = append(b, `,"serverTime":`...)
	b = appendTime(b, d.ServerTime)
	if d.UnreadNotifications != nil {
		b = append(b, `,"unreadNotifications":`...)
		b = strconv.AppendInt(b, int64(*d.UnreadNotifications), 10)
	}
	return append(b, '}'), nil
}
