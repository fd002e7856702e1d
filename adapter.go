package realtime

import "context"

// Adapter carries events between the nodes of a cluster. A hub publishes each
// event once, to a channel; the adapter hands it to every node subscribed to
// that channel (the publishing node included), and each node writes it to
// its own connections. The default adapter delivers within one process only;
// adapter/memadapter connects several hubs of one process, as separate nodes
// would be, and adapter/adaptertest is the conformance suite.
//
// Publish, Subscribe and Unsubscribe may be called from many goroutines.
type Adapter interface {
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
	// Close stops delivery and releases the adapter's resources.
	Close() error
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
	// OpLeaveRoom, on a user channel, unsubscribes the user's local
	// connections from Room, then writes Frame (if any) to them.
	OpLeaveRoom
	// OpCloseRoom, on a room channel, writes Frame, then unsubscribes every
	// local connection from the room.
	OpCloseRoom
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
}

// localAdapter is the default Adapter: one node, no network.
type localAdapter struct {
	deliver func(Channel, Publication)
}

func (a *localAdapter) Start(_ context.Context, deliver func(Channel, Publication)) error {
	a.deliver = deliver
	return nil
}

func (a *localAdapter) Publish(_ context.Context, ch Channel, p Publication) error {
	a.deliver(ch, p)
	return nil
}

func (a *localAdapter) Subscribe(context.Context, Channel) error   { return nil }
func (a *localAdapter) Unsubscribe(context.Context, Channel) error { return nil }
func (a *localAdapter) Close() error                               { return nil }
