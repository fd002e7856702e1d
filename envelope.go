package realtime

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/realtime-go/realtime/adapter"
)

// op says what a node does with a publication besides writing its Frame.
type op uint8

// The publication operations.
const (
	// opDeliver writes Frame to the channel's local connections.
	opDeliver op = iota
	// opLeaveRoom, on a user channel, writes Frame (if any, such as
	// kicked) to the user's local connections and unsubscribes them from
	// Room.
	opLeaveRoom
	// opCloseRoom, on a room channel, writes Frame, then unsubscribes every
	// local connection from the room.
	opCloseRoom
	// opDisconnect, on a user channel, closes the user's local connections
	// with close code Seq and reason Frame (Hub.Disconnect).
	opDisconnect
	// opQuery, on the global channel, asks every node a question (Frame:
	// "connections"): each answers node Room with an opReply of id Key.
	opQuery
	// opReply, on a node channel, is one node's answer (Frame) to the
	// query Key.
	opReply
	// opLatest, on a room channel, is a state of the room (member-count)
	// of which only the latest counts: Frame replaces the one waiting
	// under Key for the node's next flush (PresenceCoalesce), which writes
	// it once to the room's local connections, however many came.
	opLatest
)

// publication is one event on its way to a channel's connections: what the
// hub puts in the Broker's opaque payload (see encodeEnvelope). Frame is the
// encoded server event, written to clients as it is: the hub encodes an
// event once, however many connections and nodes receive it.
type publication struct {
	Op    op
	Frame []byte
	// Room is the room an opLeaveRoom applies to.
	Room string
	// Seq is the room sequence number of a new-message, zero otherwise.
	Seq uint64
	// Except names a connection that must not receive Frame (the typist of a
	// typing event).
	Except string
	// Droppable marks a frame a congested connection may skip (typing)
	// instead of being closed for it.
	Droppable bool
	// Key, when set, makes the frame coalescing in large rooms: it waits on
	// each connection for the hub's next flush (PresenceCoalesce), and a
	// later frame with the same key replaces it meanwhile. Presence changes
	// and joins and leaves of one user share a key.
	Key string
}

// envelopeVersion is the first byte of every payload. A node skips, with a
// log line, a payload of a version it does not know.
const envelopeVersion = 1

const flagDroppable = 1 << 0

var errShortEnvelope = errors.New("realtime: publication truncated")

// encodeEnvelope returns the payload of p:
//
//	version  1 byte (envelopeVersion)
//	op       1 byte
//	flags    1 byte (bit 0: Droppable)
//	seq      uvarint
//	room     uvarint length, bytes
//	except   uvarint length, bytes
//	key      uvarint length, bytes
//	frame    the remaining bytes
//
// The frame goes last and unprefixed, so that it is copied once, and a
// receiving node's connections point into the payload itself.
func encodeEnvelope(p publication) []byte {
	n := 3 + 4*binary.MaxVarintLen64 + len(p.Room) + len(p.Except) + len(p.Key) + len(p.Frame)
	b := make([]byte, 0, n)
	var flags byte
	if p.Droppable {
		flags |= flagDroppable
	}
	b = append(b, envelopeVersion, byte(p.Op), flags)
	b = binary.AppendUvarint(b, p.Seq)
	for _, s := range []string{p.Room, p.Except, p.Key} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, p.Frame...)
}

// decodeEnvelope parses what encodeEnvelope returned. The Frame of the
// result is a slice of b, which nobody may modify afterwards.
func decodeEnvelope(b []byte) (publication, error) {
	var p publication
	if len(b) < 3 {
		return p, errShortEnvelope
	}
	if b[0] != envelopeVersion {
		return p, fmt.Errorf("realtime: publication of envelope version %d, want %d", b[0], envelopeVersion)
	}
	switch o := op(b[1]); o {
	case opDeliver, opLeaveRoom, opCloseRoom, opDisconnect, opQuery, opReply, opLatest:
		p.Op = o
	default:
		return p, fmt.Errorf("realtime: publication with unknown op %d", b[1])
	}
	if b[2]&^flagDroppable != 0 {
		return p, fmt.Errorf("realtime: publication with unknown flags %#x", b[2])
	}
	p.Droppable = b[2]&flagDroppable != 0
	b = b[3:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return p, errShortEnvelope
	}
	p.Seq, b = seq, b[n:]
	for _, s := range []*string{&p.Room, &p.Except, &p.Key} {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return p, errShortEnvelope
		}
		*s = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) > 0 {
		p.Frame = b
	}
	return p, nil
}

// handler is what the hub gives its Broker: it opens each payload and
// delivers it.
type handler struct{ h *Hub }

func (x handler) Deliver(ch adapter.Channel, payload []byte) {
	p, err := decodeEnvelope(payload)
	if err != nil {
		x.h.log.Warn("realtime: undecodable publication skipped", "channel", ch.String(), "err", err)
		return
	}
	x.h.deliver(ch, p)
}

func (x handler) Resync() {
	x.h.obs.Resynced()
	x.h.goTimer(x.h.resync)
}
