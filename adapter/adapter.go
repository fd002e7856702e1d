// Package adapter is the contract between a realtime hub and what connects
// it to the other nodes of a cluster, as database/sql/driver is for a
// database: host apps choose an implementation (memadapter, redisadapter)
// and pass it in realtime.Config; only implementers use this package
// directly. adaptertest is its conformance suite.
//
// Two parts can come from different places:
//
//   - a Broker carries each node's publications to the nodes subscribed to
//     their channel. Payloads are opaque bytes: the hub encodes what it needs
//     (the event, its room sequence, delivery hints) and the broker carries
//     them as they are;
//   - a PresenceBackend keeps which nodes serve which users.
//
// An Adapter is both, as a Redis client can be.
package adapter

import (
	"context"
	"time"
)

// Adapter is a Broker and a PresenceBackend in one value.
type Adapter interface {
	Broker
	PresenceBackend
}

// Broker carries publications between nodes. A hub publishes each event
// once, to a channel; the broker hands it to every node subscribed to that
// channel (the publishing node included), and each node writes it to its own
// connections. Every method may be called from many goroutines.
type Broker interface {
	// Start is called once, before any other method, with the Handler
	// that receives what the broker carries to this node.
	Start(ctx context.Context, h Handler) error
	// Publish sends payload to every node subscribed to ch. Nobody modifies
	// payload once it is published, so an in-process broker may hand the
	// same bytes to every node.
	Publish(ctx context.Context, ch Channel, payload []byte) error
	// Subscribe makes the local node receive ch's publications; calls are
	// counted, so each Subscribe needs one Unsubscribe.
	Subscribe(ctx context.Context, ch Channel) error
	// Unsubscribe undoes one Subscribe.
	Unsubscribe(ctx context.Context, ch Channel) error
	// Close stops delivery and releases the broker's resources.
	Close() error
}

// Handler receives what a Broker carries to its node.
type Handler interface {
	// Deliver hands over one publication of a channel the node is
	// subscribed to, in the order they were published on that channel. It
	// does not block. The hub keeps payload (its connections' queues point
	// into it), so the broker must not modify or reuse it afterwards.
	Deliver(ch Channel, payload []byte)
	// Resync says the broker's link was down (it reconnected): publications
	// may have been lost meanwhile, and the hub reloads from its Store what
	// its rooms missed. It does not block.
	Resync()
}

// Funcs is a Handler made of two functions; a nil function ignores its
// calls. Tests and wrapping brokers use it.
type Funcs struct {
	OnDeliver func(Channel, []byte)
	OnResync  func()
}

// Deliver calls f.OnDeliver, if set.
func (f Funcs) Deliver(ch Channel, payload []byte) {
	if f.OnDeliver != nil {
		f.OnDeliver(ch, payload)
	}
}

// Resync calls f.OnResync, if set.
func (f Funcs) Resync() {
	if f.OnResync != nil {
		f.OnResync()
	}
}

// PresenceBackend keeps, for the whole cluster, which nodes serve which
// users and with what status. A node's records live as long as the node
// calls Heartbeat within their ttl, so that the users of a node that dies
// without a word go offline by themselves. Closing what backs it is its
// creator's business: the hub never closes a PresenceBackend.
type PresenceBackend interface {
	// SetPresence stores r as what r.Node knows of r.UserID, replacing
	// the node's previous record of that user.
	SetPresence(ctx context.Context, r PresenceRecord) error
	// DeletePresence removes node's record of userID, if any.
	DeletePresence(ctx context.Context, node, userID string) error
	// Presence returns the live records of the users, from every node.
	Presence(ctx context.Context, userIDs []string) ([]PresenceRecord, error)
	// Heartbeat keeps node's records alive for ttl more. It drops the
	// records of nodes that have not heartbeaten within their ttl and
	// returns them, each to exactly one caller in the cluster, which
	// announces those users' departures.
	Heartbeat(ctx context.Context, node string, ttl time.Duration) (expired []PresenceRecord, err error)
}

// PresenceRecord is what one node knows of one user it serves.
type PresenceRecord struct {
	Node   string
	UserID string
	// Status is the user's chosen status ("online", "away", ...), carried
	// as it is.
	Status       string
	CustomStatus string
	// StatusAt is when the user chose Status; zero when it is the default.
	// Across nodes, the latest choice wins.
	StatusAt time.Time
}

// ChannelKind says what a Channel addresses.
type ChannelKind uint8

// The kinds of channel.
const (
	// ChannelRoom reaches the connections subscribed to one room.
	ChannelRoom ChannelKind = iota + 1
	// ChannelUser reaches every connection of one user.
	ChannelUser
	// ChannelGlobal reaches every connection.
	ChannelGlobal
	// ChannelNode reaches one node (its hub, not its connections): the
	// replies to a node's cluster-wide queries.
	ChannelNode
)

// Channel is an address on the Broker.
type Channel struct {
	Kind ChannelKind
	ID   string // room or user id; empty for ChannelGlobal
}

// Room returns the channel of room id.
func Room(id string) Channel { return Channel{Kind: ChannelRoom, ID: id} }

// User returns the channel of every connection of user id.
func User(id string) Channel { return Channel{Kind: ChannelUser, ID: id} }

// Global returns the channel of every connection.
func Global() Channel { return Channel{Kind: ChannelGlobal} }

// Node returns the channel of node id.
func Node(id string) Channel { return Channel{Kind: ChannelNode, ID: id} }

// String returns a stable, unambiguous text form of the channel, such as
// "room:<id>": the kind prefix comes first and the id is never parsed, so
// no id can address another kind's channel.
func (c Channel) String() string {
	switch c.Kind {
	case ChannelRoom:
		return "room:" + c.ID
	case ChannelUser:
		return "user:" + c.ID
	case ChannelGlobal:
		return "global"
	case ChannelNode:
		return "node:" + c.ID
	}
	return "unknown:" + c.ID
}
