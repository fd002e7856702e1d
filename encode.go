package realtime

import (
	"strconv"
	"time"

	"github.com/realtime-go/realtime/internal/wire"
)

// encodeMessagePush encodes a message push (new-message) as encodePush
// would, byte for byte, without reflection in the common case: a message
// without metadata, edit or deletion. The rest goes through encoding/json.
func encodeMessagePush(event string, m *Message) ([]byte, error) {
	if m.Metadata != nil || m.EditedAt != nil || m.DeletedAt != nil || !jsonTime(m.CreatedAt) {
		return encodePushCopy(event, *m)
	}
	// Sized once: the names, punctuation and time take at most 250 bytes,
	// and the content is often escaped (quotes, <, emoji are common).
	b := make([]byte, 0, 250+len(event)+len(m.ID)+len(m.RoomID)+len(m.RecipientID)+2*len(m.SenderID)+
		len(m.Sender.Username)+wire.QuotedLen(m.Content)+len(m.Type)+len(m.ReplyToID)+len(m.ClientMsgID))
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
	b = append(b, `,"createdAt":"`...)
	b = m.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if m.ClientMsgID != "" {
		b = append(b, `,"clientMsgId":`...)
		b = wire.AppendString(b, m.ClientMsgID)
	}
	return append(b, "}}"...), nil
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
	b := wire.AppendAckHead(make([]byte, 0, 140+len(a.ID)+len(a.ClientMsgID)), ack)
	start := len(b)
	b = append(b, `{"id":`...)
	b = wire.AppendString(b, a.ID)
	b = append(b, `,"timestamp":"`...)
	b = a.Timestamp.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","seq":`...)
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
