package redisadapter

import (
	"encoding/hex"
	"strconv"

	"github.com/realtime-go/realtime/adapter"
)

// Names. Every key and channel name is the prefix, a tag of letters and
// digits that ends with ':' or is a fixed word, and then, where there is one,
// an id in lowercase hex. Hex has neither ':' nor the braces that choose a
// Redis Cluster slot, and the prefix (checked by New) has no braces, so no
// id can make a name that another id, or another kind, makes, nor choose its
// own slot.

func enc(id string) string { return hex.EncodeToString([]byte(id)) }

// channelName is the Redis channel of ch.
func (a *Adapter) channelName(ch adapter.Channel) string {
	var tag string
	switch ch.Kind {
	case adapter.ChannelRoom:
		tag = "r:"
	case adapter.ChannelUser:
		tag = "u:"
	case adapter.ChannelGlobal:
		tag = "g:"
	case adapter.ChannelNode:
		tag = "o:"
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
