package redisadapter

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/realtime-go/realtime"
)

// wireVersion is the first byte of every publication on the wire. A node
// skips, with a log line, a publication of a version it does not know.
const wireVersion = 1

const flagDroppable = 1 << 0

var errShort = errors.New("redisadapter: publication truncated")

// encode returns the wire form of p:
//
//	version  1 byte (wireVersion)
//	op       1 byte
//	flags    1 byte (bit 0: Droppable)
//	seq      uvarint
//	room     uvarint length, bytes
//	except   uvarint length, bytes
//	key      uvarint length, bytes
//	frame    the remaining bytes
//
// The frame goes last and unprefixed, so that it is copied once.
func encode(p realtime.Publication) []byte {
	n := 3 + 4*binary.MaxVarintLen64 + len(p.Room) + len(p.Except) + len(p.Key) + len(p.Frame)
	b := make([]byte, 0, n)
	var flags byte
	if p.Droppable {
		flags |= flagDroppable
	}
	b = append(b, wireVersion, byte(p.Op), flags)
	b = binary.AppendUvarint(b, p.Seq)
	for _, s := range []string{p.Room, p.Except, p.Key} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, p.Frame...)
}

// decode parses what encode returned. The Frame of the result is a slice of
// b, which the caller must not modify afterwards.
func decode(b []byte) (realtime.Publication, error) {
	var p realtime.Publication
	if len(b) < 3 {
		return p, errShort
	}
	if b[0] != wireVersion {
		return p, fmt.Errorf("redisadapter: publication of wire version %d, want %d", b[0], wireVersion)
	}
	switch op := realtime.Op(b[1]); op {
	case realtime.OpDeliver, realtime.OpLeaveRoom, realtime.OpCloseRoom:
		p.Op = op
	default:
		// OpResync is never published; others are from a newer node.
		return p, fmt.Errorf("redisadapter: publication with unknown op %d", b[1])
	}
	if b[2]&^flagDroppable != 0 {
		return p, fmt.Errorf("redisadapter: publication with unknown flags %#x", b[2])
	}
	p.Droppable = b[2]&flagDroppable != 0
	b = b[3:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return p, errShort
	}
	p.Seq, b = seq, b[n:]
	for _, s := range []*string{&p.Room, &p.Except, &p.Key} {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return p, errShort
		}
		*s = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) > 0 {
		p.Frame = b
	}
	return p, nil
}

// Names. Every key and channel name is the prefix, a tag of letters and
// digits that ends with ':' or is a fixed word, and then, where there is one,
// an id in lowercase hex. Hex has neither ':' nor the braces that choose a
// Redis Cluster slot, and the prefix (checked by New) has no braces, so no
// id can make a name that another id, or another kind, makes, nor choose its
// own slot.

func enc(id string) string { return hex.EncodeToString([]byte(id)) }

// channelName is the Redis channel of ch.
func (a *Adapter) channelName(ch realtime.Channel) string {
	var tag string
	switch ch.Kind {
	case realtime.ChannelRoom:
		tag = "r:"
	case realtime.ChannelUser:
		tag = "u:"
	case realtime.ChannelGlobal:
		tag = "g:"
	default:
		tag = strconv.Itoa(int(ch.Kind)) + ":"
	}
	return a.prefix + tag + enc(ch.ID)
}

// probeName is the private channel on which the node probes a link. In a
// cluster, anchor is a channel name of the link: the probe channel takes its
// slot through a hash tag, so that it lives on the same shard.
func (a *Adapter) probeName(anchor string) string {
	name := a.prefix + "n:" + enc(a.node)
	if anchor != "" {
		name += ":{" + anchor + "}"
	}
	return name
}

// Presence keys share the hash tag {p}, so that the scripts that read and
// claim them run on one Redis Cluster slot.

func (a *Adapter) presencePrefix() string     { return a.prefix + "{p}:" }
func (a *Adapter) nodesKey() string           { return a.presencePrefix() + "nodes" }
func (a *Adapter) userKey(user string) string { return a.presencePrefix() + "u:" + enc(user) }
func (a *Adapter) nodeKey(node string) string { return a.presencePrefix() + "n:" + enc(node) }
