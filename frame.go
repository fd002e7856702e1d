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
// Transport: a push or a reply (PROTOCOL.md section 2). It carries its
// native encoding, built once however many connections receive it, and the
// parts a transport of another protocol needs, without parsing. A Frame
// and what its methods return are shared and must not be modified.
type Frame struct {
	native []byte
	event  string
	err    *Error
	ack    uint64
	data   [2]int32 // where Data lies in native
	kind   FrameKind
	accept bool
}

// Kind says whether f is a push, a reply or a failed reply.
func (f Frame) Kind() FrameKind { return f.kind }

// Event is the name of a push; "" for a reply.
func (f Frame) Event() string { return f.event }

// Ack is the number of the client event a reply answers; 0 for a push.
func (f Frame) Ack() uint64 { return f.ack }

// Data is the JSON object of a push or a successful reply; nil for a
// failed reply.
func (f Frame) Data() json.RawMessage {
	if f.kind == FrameError {
		return nil
	}
	return f.native[f.data[0]:f.data[1]]
}

// Err is the error of a failed reply; nil otherwise.
func (f Frame) Err() *Error { return f.err }

// Native is f in the native protocol's encoding: one JSON object, as
// Hub.ServeHTTP writes it, newline-batched.
func (f Frame) Native() []byte { return f.native }

// Accepts reports whether f is the connected push, which tells the client
// its connection was accepted. It comes before any other push of the
// connection; a transport whose handshake waits for the Hub's verdict (a
// Socket.IO CONNECT) answers the handshake before writing it.
func (f Frame) Accepts() bool { return f.accept }

// size is what f counts for in a send queue.
func (f Frame) size() int64 { return int64(len(f.native)) }

// pushHead is how every push the Hub encodes begins.
var pushHead = []byte(`{"event":"`)

// pushFrame returns the Frame of a push encoded as wire.AppendPush encodes
// it, {"event":"name","data":{...}}; ok is false for anything else (a
// publication from a node that encodes otherwise). It reads the name and
// the bounds of the data without a JSON decoder: once per publication, not
// per recipient.
func pushFrame(native []byte) (f Frame, ok bool) {
	rest, ok := bytes.CutPrefix(native, pushHead)
	if !ok {
		return Frame{}, false
	}
	end, escaped := -1, false
	for i := 0; i < len(rest); i++ {
		if rest[i] == '\\' {
			escaped = true
			i++
			continue
		}
		if rest[i] == '"' {
			end = i
			break
		}
	}
	if end < 0 {
		return Frame{}, false
	}
	event := eventName(rest[:end])
	if escaped || !utf8.Valid(rest[:end]) {
		if event, ok = unquote(native[len(pushHead)-1 : len(pushHead)+end+1]); !ok {
			return Frame{}, false
		}
	}
	rest, ok = bytes.CutPrefix(rest[end+1:], []byte(`,"data":`))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return Frame{}, false
	}
	start := len(native) - len(rest)
	return Frame{native: native, event: event, kind: FramePush, data: [2]int32{int32(start), int32(len(native) - 1)}}, true
}

// NewPushFrame returns the Frame of a push of event with data, a JSON
// object ({} when empty), as the Hub makes it: for the tests of a
// Transport.
func NewPushFrame(event string, data json.RawMessage) Frame { return newPush(event, data) }

// NewReplyFrame returns the Frame of the successful reply to event number
// ack with data, a JSON object.
func NewReplyFrame(ack uint64, data json.RawMessage) Frame { return newReply(ack, data) }

// NewErrorFrame returns the Frame of the failed reply to event number ack.
func NewErrorFrame(ack uint64, e *Error) Frame { return newErrorReply(ack, e) }

// newPush encodes a push of data, already JSON.
func newPush(event string, data []byte) Frame {
	b := wire.AppendPush(make([]byte, 0, len(data)+len(event)+24), event, data)
	return Frame{native: b, event: event, kind: FramePush, data: dataBounds(b, data)}
}

// newReply encodes the successful reply to event ack with data, already
// JSON.
func newReply(ack uint64, data []byte) Frame {
	b := wire.AppendAck(nil, ack, data)
	return Frame{native: b, ack: ack, kind: FrameReply, data: dataBounds(b, data)}
}

// newErrorReply encodes the failed reply to event ack.
func newErrorReply(ack uint64, e *Error) Frame {
	return Frame{native: wire.AppendAckError(nil, ack, string(e.Code), e.Message), ack: ack, err: e, kind: FrameError}
}

// dataBounds returns where data lies in b, which ends with it and '}': wire
// writes empty data as {}.
func dataBounds(b, data []byte) [2]int32 {
	n := len(data)
	if n == 0 {
		n = 2
	}
	return [2]int32{int32(len(b) - 1 - n), int32(len(b) - 1)}
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
	}
	return string(b)
}

// unquote decodes a JSON string.
func unquote(quoted []byte) (string, bool) {
	var s string
	return s, json.Unmarshal(quoted, &s) == nil
}
