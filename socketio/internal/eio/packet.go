package eio

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// The packet types of Engine.IO v4, as the digit that starts an encoded
// packet.
const (
	TypeOpen    byte = '0'
	TypeClose   byte = '1'
	TypePing    byte = '2'
	TypePong    byte = '3'
	TypeMessage byte = '4'
	TypeUpgrade byte = '5'
	TypeNoop    byte = '6'
)

// separator joins the packets of one long-polling payload.
const separator = '\x1e'

// Errors of the decoders. They describe the input, never echo it.
var (
	ErrEmptyPacket = errors.New("eio: empty packet")
	ErrPacketType  = errors.New("eio: unknown packet type")
	ErrBase64      = errors.New("eio: invalid base64 binary packet")
)

// Packet is one decoded Engine.IO packet.
type Packet struct {
	// Type is one of the Type constants.
	Type byte
	// Data is the payload after the type digit, or the bytes of a binary
	// message. It aliases the decoded input.
	Data []byte
	// Binary marks a binary message (Type is TypeMessage).
	Binary bool
}

// Frame is one packet ready to send, shaped like a WebSocket message: an
// encoded text packet, type digit first ("4hello"), or the bytes of a
// binary message.
type Frame struct {
	Data   []byte
	Binary bool
}

// DecodePacket decodes the text of one packet, as a WebSocket text message
// carries it.
func DecodePacket(text []byte) (Packet, error) {
	if len(text) == 0 {
		return Packet{}, ErrEmptyPacket
	}
	t := text[0]
	if t < TypeOpen || t > TypeNoop {
		return Packet{}, ErrPacketType
	}
	return Packet{Type: t, Data: text[1:]}, nil
}

// DecodePayload decodes a long-polling request body: packets separated by
// \x1e, binary messages as "b" and base64. It calls fn for each packet in
// order and stops at the first error, of the body or of fn. Decoded binary
// data is freshly allocated; text data aliases body.
func DecodePayload(body []byte, fn func(Packet) error) error {
	if len(body) == 0 {
		return ErrEmptyPacket
	}
	for len(body) > 0 {
		part := body
		if i := bytes.IndexByte(body, separator); i >= 0 {
			part, body = body[:i], body[i+1:]
			if len(body) == 0 {
				return ErrEmptyPacket // a trailing separator
			}
		} else {
			body = nil
		}
		var p Packet
		if len(part) > 0 && part[0] == 'b' {
			data := make([]byte, base64.StdEncoding.DecodedLen(len(part)-1))
			n, err := base64.StdEncoding.Decode(data, part[1:])
			if err != nil {
				return ErrBase64
			}
			p = Packet{Type: TypeMessage, Data: data[:n], Binary: true}
		} else {
			var err error
			if p, err = DecodePacket(part); err != nil {
				return err
			}
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// appendPolling appends f as a long-polling payload encodes it: text as is,
// binary as "b" and base64.
func appendPolling(dst []byte, f Frame) []byte {
	if !f.Binary {
		return append(dst, f.Data...)
	}
	dst = append(dst, 'b')
	return base64.StdEncoding.AppendEncode(dst, f.Data)
}

// Text returns the frame of a text packet of type t with data.
func Text(t byte, data string) Frame {
	b := make([]byte, 0, 1+len(data))
	b = append(b, t)
	return Frame{Data: append(b, data...)}
}
