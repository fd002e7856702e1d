package realtime

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/realtime-go/realtime/internal/wire"
)

// FrameKind says what a Frame is.
type FrameKind uint8

// The kinds of Frame.
const (
	// FramePush is an event the server sends: Event and Data.
	FramePush FrameKind = iota + 1
	// FrameReply is the successful reply to a client's event that asked
	// for one: Ack and Data.
	FrameReply
	// FrameError is the failed reply to a client's event: Ack and Err.
	FrameError
)

// Frame is one server object for a client, as the Hub hands it to a
// Transport: a push or a reply (PROTOCOL.md section 2). It is its native
// encoding, built once however many connections receive it, and where
// its parts lie in it, so that a transport of another protocol finds them
// without parsing. It is small enough to be copied into every recipient's
// queue. A Frame and what its methods return are shared and must not be
// modified.
type Frame struct {
	native []byte
	// meta packs the kind (bits 0-1), whether the frame accepts the
	// connection (bit 2), where a push's name ends in native (bits 3-18),
	// where a message push's senderId begins when realtime.v2 leaves it
	// out (bits 19-31, 0 when it keeps everything) and where the data
	// begins (bits 32-63).
	meta uint64
}

const (
	metaAccept  = 1 << 2
	metaNameBit = 3
	maxNameEnd  = 1<<16 - 1
	metaCutBit  = 19
	maxCut      = 1<<13 - 1
	metaDataBit = 32
)

// withSenderIDCut notes in f where realtime.v2 cuts a message push
// (wire.SenderIDCut): found once for the frame, not for every recipient.
func (f Frame) withSenderIDCut() Frame {
	// The name as the hub encodes it: no copy, nor a decode of a name
	// the host chose.
	switch string(f.rawName()) {
	case "new-message", "message-edited":
	default:
		return f
	}
	if start, _, ok := wire.SenderIDCut(f.native); ok && start <= maxCut {
		f.meta |= uint64(start) << metaCutBit
	}
	return f
}

// cut is where withSenderIDCut found the senderId to leave out; 0: none.
func (f Frame) cut() int { return int(f.meta >> metaCutBit & maxCut) }

// appendCompact appends f's native encoding as realtime.v2 sends it.
func (f Frame) appendCompact(dst []byte) []byte {
	start := f.cut()
	if start == 0 {
		return append(dst, f.native...)
	}
	end, _ := wire.SenderIDEnd(f.native, start)
	dst = append(dst, f.native[:start]...)
	return append(dst, f.native[end:]...)
}

func (f Frame) nameEnd() int    { return int(f.meta >> metaNameBit & maxNameEnd) }
func (f Frame) rawName() []byte { return f.native[len(pushHead):f.nameEnd()] } // a push's, as encoded
func (f Frame) dataStart() int  { return int(f.meta >> metaDataBit) }

// Kind says whether f is a push, a reply or a failed reply.
func (f Frame) Kind() FrameKind { return FrameKind(f.meta & 3) }

// Event is the name of a push; "" for a reply. The names of the protocol's
// events cost no allocation.
func (f Frame) Event() string {
	if f.Kind() != FramePush {
		return ""
	}
	raw := f.rawName()
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return eventName(raw)
	}
	name, _ := unquote(f.native[len(pushHead)-1 : f.nameEnd()+1])
	return name
}

// AppendEvent appends the name of a push as a JSON string, as the native
// encoding has it, without allocating: what a JSON-based transport writes.
func (f Frame) AppendEvent(dst []byte) []byte {
	if f.Kind() != FramePush {
		return append(dst, `""`...)
	}
	return append(dst, f.native[len(pushHead)-1:f.nameEnd()+1]...)
}

// Ack is the number of the client event a reply answers; 0 for a push.
func (f Frame) Ack() uint64 {
	if f.Kind() == FramePush {
		return 0
	}
	var n uint64
	for _, d := range f.native[len(`{"ack":`):] {
		if d < '0' || d > '9' {
			break
		}
		n = n*10 + uint64(d-'0')
	}
	return n
}

// Data is the JSON value of a push or a successful reply; nil for a
// failed reply.
func (f Frame) Data() json.RawMessage {
	if f.Kind() == FrameError {
		return nil
	}
	return f.native[f.dataStart() : len(f.native)-1]
}

// Err is the error of a failed reply; nil otherwise.
func (f Frame) Err() *Error {
	if f.Kind() != FrameError {
		return nil
	}
	var r struct{ Error *Error }
	_ = json.Unmarshal(f.native, &r)
	return r.Error
}

// Native is f in the native protocol's encoding: one JSON object, as
// Hub.ServeHTTP writes it, newline-batched.
func (f Frame) Native() []byte { return f.native }

// Accepts reports whether f is the connected push, which tells the client
// its connection was accepted. It comes before any other push of the
// connection; a transport whose handshake waits for the Hub's verdict (a
// Socket.IO CONNECT) answers the handshake before writing it.
func (f Frame) Accepts() bool { return f.meta&metaAccept != 0 }

// size is what f counts for in a send queue.
func (f Frame) size() int64 { return int64(len(f.native)) }

func frameOf(native []byte, kind FrameKind, nameEnd, dataStart int) Frame {
	return Frame{native: native, meta: uint64(kind) | uint64(nameEnd)<<metaNameBit | uint64(dataStart)<<metaDataBit}
}

// pushHead is how every push the Hub encodes begins.
var pushHead = []byte(`{"event":"`)

// pushFrame returns the Frame of a push encoded as wire.AppendPush encodes
// it, {"event":"name","data":...}; ok is false for what cannot be one (a
// publication from a node that encodes otherwise, or a name of 64 KiB or
// more). It finds the name and the data without a JSON decoder and
// without allocating, trusting the nodes to encode as the hub does (it
// does not validate the data): once per publication, not per recipient.
func pushFrame(native []byte) (f Frame, ok bool) {
	rest, ok := bytes.CutPrefix(native, pushHead)
	if !ok {
		return Frame{}, false
	}
	end := -1
	for i := 0; i < len(rest); i++ {
		if rest[i] == '\\' {
			i++
			continue
		}
		if rest[i] == '"' {
			end = i
			break
		}
	}
	nameEnd := len(pushHead) + end
	if end < 0 || nameEnd > maxNameEnd {
		return Frame{}, false
	}
	if raw := rest[:end]; bytes.IndexByte(raw, '\\') >= 0 {
		if _, ok := unquote(native[len(pushHead)-1 : nameEnd+1]); !ok {
			return Frame{}, false
		}
	}
	rest, ok = bytes.CutPrefix(rest[end+1:], []byte(`,"data":`))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return Frame{}, false
	}
	return frameOf(native, FramePush, nameEnd, len(native)-len(rest)).withSenderIDCut(), true
}

// NewPushFrame returns the Frame of a push of event with data, a JSON
// value ({} when empty), as the Hub makes it: for the tests of a
// Transport.
func NewPushFrame(event string, data json.RawMessage) Frame { return newPush(event, data) }

// NewReplyFrame returns the Frame of the successful reply to event number
// ack with data, a JSON value ({} when empty).
func NewReplyFrame(ack uint64, data json.RawMessage) Frame { return newReply(ack, data) }

// NewErrorFrame returns the Frame of the failed reply to event number ack.
func NewErrorFrame(ack uint64, e *Error) Frame { return newErrorReply(ack, e) }

// newPush encodes a push of data, already JSON. The event's name must be
// shorter than 64 KiB (the Hub's names are; see Hub.SendToRoom).
func newPush(event string, data []byte) Frame {
	b := wire.AppendPush(make([]byte, 0, len(data)+len(event)+24), event, data)
	start := dataStart(b, data)
	nameEnd := start - len(`,"data":`) - 1 // the name's closing quote
	if nameEnd > maxNameEnd {
		panic("realtime: an event name of 64 KiB or more")
	}
	return frameOf(b, FramePush, nameEnd, start).withSenderIDCut()
}

// newReply encodes the successful reply to event ack with data, already
// JSON.
func newReply(ack uint64, data []byte) Frame {
	b := wire.AppendAck(nil, ack, data)
	return frameOf(b, FrameReply, 0, dataStart(b, data))
}

// dataStart returns where data begins in b, a push or reply that wire
// encoded with it, which ends with data and '}'; wire writes empty data as
// {}.
func dataStart(b, data []byte) int {
	n := len(data)
	if n == 0 {
		n = len("{}")
	}
	return len(b) - 1 - n
}

// newErrorReply encodes the failed reply to event ack.
func newErrorReply(ack uint64, e *Error) Frame {
	return frameOf(wire.AppendAckError(nil, ack, string(e.Code), e.Message), FrameError, 0, 0)
}

// unquote decodes a JSON string.
func unquote(quoted []byte) (string, bool) {
	var s string
	return s, json.Unmarshal(quoted, &s) == nil
}

// eventName returns the name of a push, without allocating for the
// events of the protocol (PROTOCOL.md section 3).
func eventName(b []byte) string {
	switch string(b) {
	case "new-message":
		return "new-message"
	case "user-typing":
		return "user-typing"
	case "presence-changed":
		return "presence-changed"
	case "user-joined":
		return "user-joined"
	case "user-left":
		return "user-left"
	case "message-edited":
		return "message-edited"
	case "message-deleted":
		return "message-deleted"
	case "room-updated":
		return "room-updated"
	case "room-deleted":
		return "room-deleted"
	case "member-updated":
		return "member-updated"
	case "kicked":
		return "kicked"
	case "connected":
		return "connected"
	case "error":
		return "error"
	}
	return string(b)
}
