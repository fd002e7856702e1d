// Package sio serves the Socket.IO protocol, version 5, over the
// Engine.IO sessions of package eio: namespaces, CONNECT with its auth
// payload, CONNECT_ERROR, DISCONNECT, events and acks, with binary
// attachments. It is the layer beneath the Hub bridge of package socketio
// and beneath the conformance server, and holds no chat logic.
package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Type is a Socket.IO packet type.
type Type byte

// The packet types of Socket.IO v5.
const (
	TypeConnect Type = iota
	TypeDisconnect
	TypeEvent
	TypeAck
	TypeConnectError
	TypeBinaryEvent
	TypeBinaryAck
)

// MaxID is the largest ack id accepted: the largest integer a JavaScript
// number holds exactly.
const MaxID = 1<<53 - 1

// Bounds of a decoded packet.
const (
	maxAttachments   = 64
	maxNamespaceSize = 256
)

// Errors of Decode. They describe the packet, never echo it.
var (
	ErrEmpty       = errors.New("sio: empty packet")
	ErrType        = errors.New("sio: unknown packet type")
	ErrAttachments = errors.New("sio: invalid attachment count")
	ErrNamespace   = errors.New("sio: invalid namespace")
	ErrID          = errors.New("sio: invalid ack id")
	ErrPayload     = errors.New("sio: invalid payload")
)

// Packet is one Socket.IO packet, without its binary attachments.
type Packet struct {
	Type Type
	// Namespace is "/" when the packet names none.
	Namespace string
	// ID is the ack id, or -1 when there is none.
	ID int64
	// Data is the JSON payload, nil when there is none.
	Data json.RawMessage
	// Args are the elements of an array payload (events and acks); for an
	// event, Args[0] is its name, a JSON string.
	Args []json.RawMessage
	// Attachments is the number of binary attachments that follow a
	// TypeBinaryEvent or TypeBinaryAck.
	Attachments int
}

// Decode decodes the text of a packet, as an Engine.IO message packet
// carries it:
//
//	<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
// It checks what each type requires: CONNECT an optional object, an event
// a non-empty array starting with a string, an ack an array and an id,
// DISCONNECT nothing. Data aliases b.
func Decode(b []byte) (Packet, error) {
	p := Packet{Namespace: "/", ID: -1}
	if len(b) == 0 {
		return p, ErrEmpty
	}
	if b[0] < '0' || b[0] > '6' {
		return p, ErrType
	}
	p.Type = Type(b[0] - '0')
	i := 1
	if p.Type == TypeBinaryEvent || p.Type == TypeBinaryAck {
		j := i
		for j < len(b) && j-i < 3 && isDigit(b[j]) {
			j++
		}
		if j == i || j >= len(b) || b[j] != '-' {
			return p, ErrAttachments
		}
		n, _ := strconv.Atoi(string(b[i:j]))
		if n > maxAttachments {
			return p, ErrAttachments
		}
		p.Attachments = n
		i = j + 1
	}
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		end, next := len(b), len(b)
		if j >= 0 {
			end, next = i+j, i+j+1
		}
		nsp := b[i:end]
		if len(nsp) > maxNamespaceSize || !utf8.Valid(nsp) {
			return p, ErrNamespace
		}
		p.Namespace = string(nsp)
		i = next
	}
	if i < len(b) && isDigit(b[i]) {
		j := i
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		id, err := strconv.ParseInt(string(b[i:j]), 10, 64)
		if j-i > 16 || err != nil || id > MaxID {
			return p, ErrID
		}
		p.ID = id
		i = j
	}
	if i < len(b) {
		p.Data = b[i:]
	}
	return p, p.check()
}

// check validates the id and payload a packet's type calls for, and
// splits array payloads into Args.
func (p *Packet) check() error {
	switch p.Type {
	case TypeConnect, TypeConnectError:
		if p.ID >= 0 {
			return ErrID
		}
		if p.Data != nil && !isObject(p.Data) {
			return ErrPayload
		}
	case TypeDisconnect:
		if p.ID >= 0 {
			return ErrID
		}
		if p.Data != nil {
			return ErrPayload
		}
	case TypeEvent, TypeBinaryEvent, TypeAck, TypeBinaryAck:
		if p.Data == nil || firstByte(p.Data) != '[' || json.Unmarshal(p.Data, &p.Args) != nil {
			return ErrPayload
		}
		if p.Type == TypeAck || p.Type == TypeBinaryAck {
			if p.ID < 0 {
				return ErrID
			}
			return nil
		}
		if len(p.Args) == 0 || firstByte(p.Args[0]) != '"' {
			return ErrPayload
		}
	}
	return nil
}

// Name returns the name of an event packet.
func (p *Packet) Name() string {
	var name string
	if len(p.Args) > 0 {
		_ = json.Unmarshal(p.Args[0], &name)
	}
	return name
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func isObject(b []byte) bool { return firstByte(b) == '{' && json.Valid(b) }

// Append appends the encoding of p. Data is written as is; Args are used
// only when Data is nil.
func (p Packet) Append(dst []byte) []byte {
	dst = AppendHeader(dst, p.Type, p.Namespace, p.ID, p.Attachments)
	switch {
	case p.Data != nil:
		dst = append(dst, p.Data...)
	case p.Args != nil:
		dst = AppendArgs(dst, p.Args)
	}
	return dst
}

// AppendHeader appends what precedes a packet's payload: its type, the
// attachment count of binary types, the namespace unless it is "/" and
// the ack id when id >= 0.
func AppendHeader(dst []byte, t Type, nsp string, id int64, attachments int) []byte {
	dst = append(dst, '0'+byte(t))
	if t == TypeBinaryEvent || t == TypeBinaryAck {
		dst = strconv.AppendInt(dst, int64(attachments), 10)
		dst = append(dst, '-')
	}
	if nsp != "" && nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if id >= 0 {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return dst
}

// AppendArgs appends a JSON array of already-encoded elements.
func AppendArgs(dst []byte, args []json.RawMessage) []byte {
	dst = append(dst, '[')
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
	}
	return append(dst, ']')
}
