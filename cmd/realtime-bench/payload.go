package main

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// Every message the bench sends carries its send time in its text, as a
// marker "#T<nanoseconds>#" followed by padding up to the payload size:
// text as users write it (quotes, a backslash, é, emoji, which JSON
// escapes or servers must validate), or with -plain 'x's. The marker needs
// no JSON escaping, so a reader finds it in whatever envelope a
// server wraps the text in (a realtime.v1 new-message, a centrifuge
// publication, melody's raw broadcast) without decoding anything. Times are
// nanoseconds since the bench started (a monotonic clock): sender and readers
// share the process, so latencies need no clock synchronisation.

const markerPrefix = "#T"

// realisticText pads payloads: what users send, with characters JSON
// escapes (quotes, a backslash) and non-ASCII (é, an emoji).
const realisticText = ` a "message" as users write it: it's \ here, café & naïve 😀 ok`

// appendPayload appends a payload of size bytes carrying send time ts,
// padded with realistic text, or with 'x' when plain. A multi-byte
// character never straddles the end: the last bytes may be 'x'.
func appendPayload(dst []byte, ts time.Duration, size int, plain bool) []byte {
	start := len(dst)
	dst = append(dst, markerPrefix...)
	dst = strconv.AppendInt(dst, int64(ts), 10)
	dst = append(dst, '#')
	for i := 0; !plain && len(dst)-start < size; {
		r, n := utf8.DecodeRuneInString(realisticText[i:])
		if len(dst)-start+n > size {
			break
		}
		dst = utf8.AppendRune(dst, r)
		i = (i + n) % len(realisticText)
	}
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// appendMarkers appends the send time of every marker in frame to dst.
func appendMarkers(dst []time.Duration, frame []byte) []time.Duration {
	for {
		i := bytes.Index(frame, []byte(markerPrefix))
		if i < 0 {
			return dst
		}
		frame = frame[i+len(markerPrefix):]
		var v int64
		n := 0
		for n < len(frame) && frame[n] >= '0' && frame[n] <= '9' && n < 19 {
			v = v*10 + int64(frame[n]-'0')
			n++
		}
		if n > 0 && n < len(frame) && frame[n] == '#' {
			dst = append(dst, time.Duration(v))
		}
		frame = frame[n:]
	}
}

// countObjects returns how many JSON objects a frame carries: servers that
// batch separate them with newlines (realtime.v1, centrifuge), melody sends
// one per frame.
func countObjects(frame []byte) int {
	frame = bytes.TrimSpace(frame)
	if len(frame) == 0 {
		return 0
	}
	return bytes.Count(frame, []byte{'\n'}) + 1
}
