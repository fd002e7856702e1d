package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Plain reads the members of a JSON object in one pass, without
// reflection, for decoders that take a fast path through the frames
// clients send most and leave everything else to encoding/json.
//
// It reads only plain objects: keys without escape sequences; values that
// are strings (with escape sequences only when made by NewPlainEscapes,
// and inside nested objects, which it only checks; Unquote reads them),
// null, unsigned integers without exponent or fraction, or objects and arrays (returned raw, and checked
// with json.Valid unless they are plain objects too). Anything else stops
// it with Plain.Bad set, and the caller must decode the whole input with
// encoding/json instead, which also produces the right error. What it
// reads, encoding/json reads the same way.
//
//	p := wire.NewPlain(b)
//	for key, val, ok := p.Next(); ok; key, val, ok = p.Next() { ... }
//	if p.Bad() { ...encoding/json... }
type Plain struct {
	b     []byte
	i     int
	state plainState
	// depth counts the objects around this one; a nested object ends at
	// its closing brace, whatever follows.
	depth int
	// esc lets the member values be strings with escape sequences.
	esc bool
}

// maxPlainDepth bounds the nesting Plain follows itself; deeper values
// go to json.Valid.
const maxPlainDepth = 8

type plainState uint8

const (
	plainStart plainState = iota
	plainInside
	plainEnd
	plainBad
)

// NewPlain returns a reader of the object b.
func NewPlain(b []byte) Plain { return Plain{b: b} }

// NewPlainEscapes returns a reader of the object b whose string values may
// have escape sequences: read them with Unquote.
func NewPlainEscapes(b []byte) Plain { return Plain{b: b, esc: true} }

// Bad reports whether the input was not a plain object: the caller must
// decode it with encoding/json.
func (p *Plain) Bad() bool { return p.state == plainBad }

// Next returns the next member: its key, without quotes, and its raw
// value. ok is false at the end of the object, or when Bad.
func (p *Plain) Next() (key, val []byte, ok bool) {
	switch p.state {
	case plainStart:
		p.space()
		if !p.take('{') {
			return p.bad()
		}
		p.space()
		if p.take('}') {
			return p.end()
		}
		p.state = plainInside
	case plainInside:
		p.space()
		if p.take('}') {
			return p.end()
		}
		if !p.take(',') {
			return p.bad()
		}
		p.space()
	default:
		return nil, nil, false
	}
	key, ok = p.str(false)
	if !ok {
		return p.bad()
	}
	key = key[1 : len(key)-1]
	p.space()
	if !p.take(':') {
		return p.bad()
	}
	p.space()
	if val, ok = p.value(); !ok {
		return p.bad()
	}
	return key, val, true
}

func (p *Plain) bad() ([]byte, []byte, bool) {
	p.state = plainBad
	return nil, nil, false
}

// end finishes the object: only white space may follow it.
func (p *Plain) end() ([]byte, []byte, bool) {
	if p.depth == 0 {
		p.space()
		if p.i != len(p.b) {
			return p.bad()
		}
	}
	p.state = plainEnd
	return nil, nil, false
}

func (p *Plain) take(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// space skips JSON white space.
func (p *Plain) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// str reads a string, quotes included; with esc, it may have valid escape
// sequences.
func (p *Plain) str(esc bool) ([]byte, bool) {
	start := p.i
	if !p.take('"') {
		return nil, false
	}
	ascii := true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			// encoding/json replaces invalid UTF-8; leave that to it.
			return p.b[start:p.i], ascii || utf8.Valid(p.b[start:p.i])
		case c == '\\':
			if !esc || p.i+1 >= len(p.b) {
				return nil, false
			}
			p.i++
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if p.i+4 >= len(p.b) || !isHex4(p.b[p.i+1:p.i+5]) {
					return nil, false
				}
				p.i += 4
			default:
				return nil, false
			}
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// DecodeStrings reads data, an object whose members are all strings (or
// null), as encoding/json reads it into string fields, without
// reflection: the value of keys[i] goes to *fields[i]. It reports false,
// having set some fields perhaps, for another key, a value that is not a
// string or null, and anything Plain does not read: the caller must
// decode data with encoding/json instead.
func DecodeStrings(data []byte, keys []string, fields []*string) bool {
	p := NewPlainEscapes(data)
	for key, val, ok := p.Next(); ok; key, val, ok = p.Next() {
		i := 0
		for i < len(keys) && keys[i] != string(key) {
			i++
		}
		if i == len(keys) {
			return false
		}
		switch val[0] {
		case '"':
			*fields[i] = Unquote(val)
		case 'n':
			// null leaves a string as it is, as in encoding/json.
		default:
			return false
		}
	}
	return !p.Bad()
}

// Unquote returns the text of a string value that Plain returned (quotes
// included), its escape sequences decoded as encoding/json decodes them:
// a lone UTF-16 surrogate becomes U+FFFD.
func Unquote(val []byte) string {
	s := val[1 : len(val)-1]
	i := bytes.IndexByte(s, '\\')
	if i < 0 {
		return string(s)
	}
	// One allocation: the text is never longer than its quoted form, and
	// the Builder's bytes become the string without a copy.
	var out strings.Builder
	out.Grow(len(s))
	out.Write(s[:i])
	for i < len(s) {
		if s[i] != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				out.Write(s[i:])
				break
			}
			out.Write(s[i : i+j])
			i += j
		}
		switch s[i+1] {
		case 'b':
			out.WriteByte('\b')
		case 'f':
			out.WriteByte('\f')
		case 'n':
			out.WriteByte('\n')
		case 'r':
			out.WriteByte('\r')
		case 't':
			out.WriteByte('\t')
		case 'u':
			r := rune(hex4(s[i+2 : i+6]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if pair := utf16.DecodeRune(r, rune(hex4(s[i+2:i+6]))); pair != utf8.RuneError {
						r = pair
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out.WriteRune(r)
			continue
		default: // '"', '\\', '/'
			out.WriteByte(s[i+1])
		}
		i += 2
	}
	return out.String()
}

func hex4(b []byte) uint16 {
	var v uint16
	for _, c := range b[:4] {
		v <<= 4
		switch {
		case c <= '9':
			v |= uint16(c - '0')
		case c <= 'F':
			v |= uint16(c - 'A' + 10)
		default:
			v |= uint16(c - 'a' + 10)
		}
	}
	return v
}

func (p *Plain) value() ([]byte, bool) {
	if p.i >= len(p.b) {
		return nil, false
	}
	start := p.i
	switch c := p.b[p.i]; {
	case c == '"':
		// Nested objects are only checked, and returned raw.
		return p.str(p.esc || p.depth > 0)
	case c == 'n':
		if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
			p.i += 4
			return p.b[start:p.i], true
		}
	case c >= '0' && c <= '9':
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if c == '0' && p.i-start > 1 {
			return nil, false // a leading zero: not JSON
		}
		if p.i < len(p.b) {
			switch p.b[p.i] {
			case '.', 'e', 'E':
				return nil, false
			}
		}
		return p.b[start:p.i], true
	case c == '{' || c == '[':
		if c == '{' && p.depth < maxPlainDepth {
			// Most often a plain object itself: reading it checks it.
			in := Plain{b: p.b[start:], depth: p.depth + 1}
			for _, _, ok := in.Next(); ok; _, _, ok = in.Next() {
			}
			if in.state == plainEnd {
				p.i = start + in.i
				return p.b[start:p.i], true
			}
		}
		if end, ok := nestedEnd(p.b, p.i); ok && json.Valid(p.b[start:end]) {
			p.i = end
			return p.b[start:end], true
		}
	}
	return nil, false
}

// nestedEnd returns the index just past the object or array that starts at
// b[i], matching brackets outside strings. It does not validate: the
// caller checks the value with json.Valid.
func nestedEnd(b []byte, i int) (int, bool) {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return 0, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}
