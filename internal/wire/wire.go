// Package wire encodes and decodes the frames of protocol realtime.v1
// (PROTOCOL.md section 2). It is shared by the hub and the Go client so that
// both sides agree on the bytes.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// Subprotocol is the WebSocket subprotocol of the protocol's first
// version, which every client may ask for.
const Subprotocol = "realtime.v1"

// SubprotocolV2 is the protocol's second version: the same as the first
// except that message pushes carry no senderId (it is sender.id); see
// SenderIDCut.
const SubprotocolV2 = "realtime.v2"

// MaxAck is the largest ack number accepted: the largest integer a
// JavaScript number holds exactly.
const MaxAck = 1<<53 - 1

// Errors returned by the decoders. They describe the frame, never echo it.
var (
	ErrNotObject  = errors.New("frame is not a JSON object")
	ErrBadJSON    = errors.New("frame is not valid JSON")
	ErrBadUTF8    = errors.New("frame is not valid UTF-8")
	ErrBadEvent   = errors.New("event must be a non-empty string")
	ErrBadAck     = errors.New("ack must be a positive integer")
	ErrBadData    = errors.New("data must be a JSON object")
	ErrEmptyFrame = errors.New("empty frame")
)

// ClientFrame is one decoded client-to-server frame.
type ClientFrame struct {
	Event string
	// Data is the raw data object; "{}" when the frame had none or null.
	Data json.RawMessage
	// Ack is the ack number, or 0 when the client asked for none.
	Ack uint64
}

var emptyObject = json.RawMessage("{}")

type rawClientFrame struct {
	Event json.RawMessage `json:"event"`
	Data  json.RawMessage `json:"data"`
	Ack   json.RawMessage `json:"ack"`
}

// DecodeClient decodes a client frame. When the frame is an object whose ack
// is valid but something else is wrong, the returned frame still carries the
// Ack (and the Event, when it is a string) so the reply can name them. Data
// may share b's memory.
func DecodeClient(b []byte) (ClientFrame, error) {
	var f ClientFrame
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return f, ErrEmptyFrame
	}
	if !utf8.Valid(b) {
		return f, ErrBadUTF8
	}
	if b[0] != '{' {
		if json.Valid(b) {
			return f, ErrNotObject
		}
		return f, ErrBadJSON
	}
	if f, ok := decodePlainClient(b); ok {
		return f, nil
	}
	return decodeJSONClient(b)
}

// decodeJSONClient decodes with encoding/json an object frame that is
// valid UTF-8.
func decodeJSONClient(b []byte) (ClientFrame, error) {
	var f ClientFrame
	var raw rawClientFrame
	if err := json.Unmarshal(b, &raw); err != nil {
		return f, ErrBadJSON
	}
	if ack := raw.Ack; len(ack) > 0 && string(ack) != "null" {
		n, err := strconv.ParseUint(string(ack), 10, 64)
		if err != nil || n == 0 || n > MaxAck {
			return f, ErrBadAck
		}
		f.Ack = n
	}
	if len(raw.Event) > 0 && raw.Event[0] == '"' {
		_ = json.Unmarshal(raw.Event, &f.Event)
	}
	if f.Event == "" {
		return f, ErrBadEvent
	}
	switch d := raw.Data; {
	case len(d) == 0 || string(d) == "null":
		f.Data = emptyObject
	case d[0] == '{':
		f.Data = d
	default:
		return f, ErrBadData
	}
	return f, nil
}

// decodePlainClient decodes the frames clients send most, a plain object
// with a valid event, data and ack, with Plain; ok is false for anything
// else, which DecodeClient decodes with encoding/json.
func decodePlainClient(b []byte) (f ClientFrame, ok bool) {
	const hasEvent, hasData, hasAck = 1, 2, 4
	var seen uint8
	p := NewPlain(b)
	for key, val, ok := p.Next(); ok; key, val, ok = p.Next() {
		switch string(key) {
		case "event":
			if seen&hasEvent != 0 || val[0] != '"' || len(val) == 2 {
				return f, false
			}
			seen |= hasEvent
			f.Event = eventName(val[1 : len(val)-1])
		case "data":
			if seen&hasData != 0 || (val[0] != '{' && val[0] != 'n') {
				return f, false
			}
			seen |= hasData
			if val[0] == '{' {
				f.Data = val
			}
		case "ack":
			if seen&hasAck != 0 {
				return f, false
			}
			seen |= hasAck
			if val[0] != 'n' {
				n, err := strconv.ParseUint(string(val), 10, 64)
				if err != nil || n == 0 || n > MaxAck {
					return f, false
				}
				f.Ack = n
			}
		default:
			return f, false
		}
	}
	if p.Bad() || seen&hasEvent == 0 {
		return ClientFrame{}, false
	}
	if f.Data == nil {
		f.Data = emptyObject
	}
	return f, true
}

// eventName returns b as a string, without allocating for the events sent
// most.
func eventName(b []byte) string {
	switch string(b) {
	case "message":
		return "message"
	case "typing":
		return "typing"
	}
	return string(b)
}

// AppendClient appends a client frame for event with already-encoded data
// (nil means {}) and ack (0 for none).
func AppendClient(dst []byte, event string, data []byte, ack uint64) []byte {
	dst = append(dst, `{"event":`...)
	dst = AppendString(dst, event)
	dst = append(dst, `,"data":`...)
	dst = appendData(dst, data)
	if ack != 0 {
		dst = append(dst, `,"ack":`...)
		dst = strconv.AppendUint(dst, ack, 10)
	}
	return append(dst, '}')
}

// AppendPush appends a server push {"event":event,"data":data}.
func AppendPush(dst []byte, event string, data []byte) []byte {
	dst = append(dst, `{"event":`...)
	dst = AppendString(dst, event)
	dst = append(dst, `,"data":`...)
	dst = appendData(dst, data)
	return append(dst, '}')
}

// AppendAck appends a successful reply {"ack":n,"data":data}.
func AppendAck(dst []byte, ack uint64, data []byte) []byte {
	dst = AppendAckHead(dst, ack)
	dst = appendData(dst, data)
	return append(dst, '}')
}

// AppendAckHead appends the start of a successful reply, {"ack":n,"data":
// for a caller that appends the data itself, then '}'.
func AppendAckHead(dst []byte, ack uint64) []byte {
	dst = append(dst, `{"ack":`...)
	dst = strconv.AppendUint(dst, ack, 10)
	return append(dst, `,"data":`...)
}

// AppendAckError appends a failed reply {"ack":n,"error":{"code","message"}}.
func AppendAckError(dst []byte, ack uint64, code, message string) []byte {
	dst = append(dst, `{"ack":`...)
	dst = strconv.AppendUint(dst, ack, 10)
	dst = append(dst, `,"error":{"code":`...)
	dst = AppendString(dst, code)
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, message)
	return append(dst, `}}`...)
}

func appendData(dst, data []byte) []byte {
	if len(data) == 0 {
		return append(dst, '{', '}')
	}
	return append(dst, data...)
}

// AppendString appends s as a JSON string, byte for byte as encoding/json
// writes it: it escapes '"', '\\' and control characters, and also <, > and
// & (so frames are safe to embed in HTML), U+2028 and U+2029, and replaces
// each byte of invalid UTF-8 with U+FFFD. It allocates only to grow dst.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !asciiEscape[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// QuotedLen returns the length of what AppendString appends for s, so that
// an encoder can size its buffer once.
func QuotedLen(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiEscape[c] {
				switch c {
				case '"', '\\', '\b', '\f', '\n', '\r', '\t':
					n++
				default:
					n += 5
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 5 // \ufffd for one byte
		case r == '\u2028' || r == '\u2029':
			n += 3
		}
		i += size
	}
	return n
}

const hexDigits = "0123456789abcdef"

// asciiEscape marks the ASCII bytes that encoding/json escapes (with
// HTML escaping, its default): control characters, '"', '\\', '<', '>'
// and '&'.
var asciiEscape = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&'
	}
	return t
}()

// SenderIDCut returns the bytes [start, end) of frame, a message push
// (new-message, message-edited), that realtime.v2 leaves out: the data's
// senderId member, when it equals sender.id, which carries the same id.
// It finds them only in a frame laid out as the hub encodes a Message,
// {"event":…,"data":{"id":…,"seq":…[,"roomId":…][,"recipientId":…],
// "senderId":…,"sender":{"id":…: never in a nested object, nor in data the
// host shaped otherwise. ok is false when there is nothing to cut.
func SenderIDCut(frame []byte) (start, end int, ok bool) {
	start, ok = senderIDAt(frame)
	if !ok {
		return 0, 0, false
	}
	end, ok = SenderIDEnd(frame, start)
	if !ok {
		return 0, 0, false
	}
	sender, ok := bytes.CutPrefix(frame[end:], []byte(`,"sender":{"id":`))
	if !ok || !bytes.HasPrefix(sender, frame[start+len(senderIDKey):end]) {
		return 0, 0, false
	}
	return start, end, true
}

// SenderIDEnd returns the end of the senderId member that begins at
// start: what SenderIDCut returns as end, found again from start alone.
func SenderIDEnd(frame []byte, start int) (int, bool) {
	return stringEnd(frame, start+len(senderIDKey))
}

const senderIDKey = `,"senderId":`

// AppendCompact appends frame as realtime.v2 sends it: without what
// SenderIDCut finds, or unchanged.
func AppendCompact(dst, frame []byte) []byte {
	start, end, ok := SenderIDCut(frame)
	if !ok {
		return append(dst, frame...)
	}
	dst = append(dst, frame[:start]...)
	return append(dst, frame[end:]...)
}

// senderIDAt returns where the top-level ,"senderId": of a message push
// begins, following the members the hub writes before it.
func senderIDAt(b []byte) (int, bool) {
	i, ok := skipPrefix(b, 0, `{"event":`)
	if ok {
		i, ok = stringEnd(b, i)
	}
	if ok {
		i, ok = skipPrefix(b, i, `,"data":{"id":`)
	}
	if ok {
		i, ok = stringEnd(b, i)
	}
	if ok {
		i, ok = skipPrefix(b, i, `,"seq":`)
	}
	if !ok {
		return 0, false
	}
	digits := i
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	if i == digits {
		return 0, false
	}
	for _, optional := range []string{`,"roomId":`, `,"recipientId":`} {
		if j, ok := skipPrefix(b, i, optional); ok {
			if i, ok = stringEnd(b, j); !ok {
				return 0, false
			}
		}
	}
	if _, ok := skipPrefix(b, i, senderIDKey); !ok {
		return 0, false
	}
	return i, true
}

// skipPrefix returns the index past p when b has p at i.
func skipPrefix(b []byte, i int, p string) (int, bool) {
	if len(b)-i < len(p) || string(b[i:i+len(p)]) != p {
		return 0, false
	}
	return i + len(p), true
}

// stringEnd returns the index just past the JSON string that begins at
// b[i], or false when there is none.
func stringEnd(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// ServerFrame is one decoded server-to-client object.
type ServerFrame struct {
	Event string          `json:"event,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Ack   uint64          `json:"ack,omitempty"`
	Error *ErrorBody      `json:"error,omitempty"`
}

// ErrorBody is the error object of a failed reply.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// DecodeServer decodes every object of a server frame, which may hold several
// separated by newlines, and calls fn for each in order. It stops at the
// first object that does not decode.
func DecodeServer(frame []byte, fn func(ServerFrame)) error {
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' {
			return ErrNotObject
		}
		var f ServerFrame
		if err := json.Unmarshal(line, &f); err != nil {
			return ErrBadJSON
		}
		fn(f)
	}
	return nil
}

// AppendFrame appends the rest of a frame that r reads to dst, as
// io.ReadAll does to a new slice, so that a reader can keep one buffer for
// every frame.
func AppendFrame(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
