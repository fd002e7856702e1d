package realtime

import (
	"context"
	"sync"
	"time"
)

// Adapter connects the nodes of a cluster: it carries their events
// (Broker) and keeps their shared presence state (PresenceBackend). The
// default adapter serves one node; adapter/memadapter connects several hubs
// of one process, as separate nodes would be, and adapter/adaptertest is the
// conformance suite. Every method may be called from many goroutines.
type Adapter interface {
	Broker
	PresenceBackend
}

// Broker carries events between nodes. A hub publishes each event once, to
// a channel; the broker hands it to every node subscribed to that channel
// (the publishing node included), and each node writes it to its own
// connections.
type Broker interface {
	// Start is called once by New, before any other method, with the
	// function that delivers a publication to the local node. The adapter
	// calls deliver for every publication on a channel the node is
	// subscribed to, in the order they were published on that channel;
	// deliver does not block.
	Start(ctx context.Context, deliver func(Channel, Publication)) error
	// Publish sends p to every node subscribed to ch.
	Publish(ctx context.Context, ch Channel, p Publication) error
	// Subscribe makes the local node receive ch's publications; calls are
	// counted, so each Subscribe needs one Unsubscribe.
	Subscribe(ctx context.Context, ch Channel) error
	// Unsubscribe undoes one Subscribe.
	Unsubscribe(ctx context.Context, ch Channel) error
	// Close stops delivery and releases the adapter's resources. It does
	// not delete the node's presence records: like those of a node that
	// crashed, they expire when its heartbeats stop.
	Close() error
}

// PresenceBackend keeps, for the whole cluster, which nodes serve which
// users and with what status. A node's records live as long as the node
// calls Heartbeat within their ttl, so that the users of a node that dies
// without a word go offline by themselves.
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
	Node         string
	UserID       string
	Status       Status
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
)

// Channel is an address on the Adapter.
type Channel struct {
	Kind ChannelKind
	ID   string // room or user id; empty for ChannelGlobal
}

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
	}
	return "unknown:" + c.ID
}

// Op says what a node does with a Publication besides writing its Frame.
type Op uint8

// The publication operations.
const (
	// OpDeliver writes Frame to the channel's local connections.
	OpDeliver Op = iota
	// OpLeaveRoom, on a user channel, writes Frame (if any, such as
	// kicked) to the user's local connections and unsubscribes them from
	// Room.
	OpLeaveRoom
	// OpCloseRoom, on a room channel, writes Frame, then unsubscribes every
	// local connection from the room.
	OpCloseRoom
	// OpResync is never published: an adapter delivers it to its own node,
	// on any channel, after its link was down (a reconnect), because
	// publications may have been lost meanwhile. The hub then reloads from
	// the Store what its rooms missed.
	OpResync
)

// Publication is one event on its way to a channel's connections. Frame is
// the encoded server event, written to clients as it is: the hub encodes an
// event once, however many connections receive it. An adapter that crosses
// a process boundary must carry every field.
type Publication struct {
	Op    Op
	Frame []byte
	// Room is the room an OpLeaveRoom applies to.
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

// localAdapter is the default Adapter: one node, no network.
type localAdapter struct {
	deliver func(Channel, Publication)

	mu      sync.Mutex
	records map[string]PresenceRecord // by user id
}

func (a *localAdapter) Start(_ context.Context, deliver func(Channel, Publication)) error {
	a.deliver = deliver
	a.records = make(map[string]PresenceRecord)
	return nil
}

func (a *localAdapter) Publish(_ context.Context, ch Channel, p Publication) error {
	a.deliver(ch, p)
	return nil
}

func (a *localAdapter) Subscribe(context.Context, Channel) error   { return nil }
func (a *localAdapter) Unsubscribe(context.Context, Channel) error { return nil }
func (a *localAdapter) Close() error                               { return nil }

func (a *localAdapter) SetPresence(_ context.Context, r PresenceRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.records[r.UserID] = r
	return nil
}

func (a *localAdapter) DeletePresence(_ context.Context, _, userID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.records, userID)
	return nil
}

func (a *localAdapter) Presence(_ context.Context, userIDs []string) ([]PresenceRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []PresenceRecord
	for _, id := range userIDs {
		if r, ok := a.records[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Heartbeat has nothing to expire: the only node is the one calling.
func (a *localAdapter) Heartbeat(context.Context, string, time.Duration) ([]PresenceRecord, error) {
	return nil, nil
}
