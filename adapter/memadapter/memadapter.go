// Package memadapter connects several hubs of one process as if they were
// the nodes of a cluster, for tests and demos of multi-node behaviour without
// a network:
//
//	bus := memadapter.NewBus()
//	a, err := realtime.New(realtime.Config{Broker: bus.Node()})
//	b, err := realtime.New(realtime.Config{Broker: bus.Node()})
//
// A publication is handed to the subscribed nodes synchronously, on the
// publisher's goroutine, with no lock of the bus held: Deliver does not block
// by the Handler contract, so a slow node cannot hold up the publisher or the
// other nodes. It follows that delivery is ordered per publishing goroutine:
// two goroutines publishing on one channel at once may reach a node in either
// order. The hub serializes its publications per stream, which is the order
// it promises to clients.
//
// Payloads are passed on as they are, not copied: every receiving node gets
// the same bytes, which by the Broker contract nobody modifies once they are
// published.
package memadapter

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/realtime-go/realtime/adapter"
)

// Bus is the medium the nodes of one in-process cluster share. It is safe for
// concurrent use; its zero value is not, use NewBus.
type Bus struct {
	mu    sync.Mutex
	nodes map[*node]struct{} // started, not closed

	// Presence: the records of each user by node, and each node's last
	// heartbeat and ttl (zero ttl: it has not heartbeaten yet and does not
	// expire).
	records map[string]map[string]adapter.PresenceRecord
	beats   map[string]beat
}

type beat struct {
	at  time.Time
	ttl time.Duration
}

func (b beat) dead(now time.Time) bool { return b.ttl > 0 && now.Sub(b.at) > b.ttl }

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{
		nodes:   make(map[*node]struct{}),
		records: make(map[string]map[string]adapter.PresenceRecord),
		beats:   make(map[string]beat),
	}
}

// Node returns a new node of the bus: the Adapter of one hub. Each hub needs
// its own node; a node receives what any node of the bus publishes on the
// channels it is subscribed to, its own publications included.
func (b *Bus) Node() adapter.Adapter {
	return &node{bus: b}
}

var (
	errNotStarted = errors.New("memadapter: node not started")
	errStarted    = errors.New("memadapter: node already started")
	errClosed     = errors.New("memadapter: node closed")
)

// node is one hub's view of the bus. Its fields other than bus and inflight
// are guarded by bus.mu.
type node struct {
	bus     *Bus
	handler adapter.Handler
	subs    map[adapter.Channel]int // Subscribe calls not yet undone
	closed  bool
	// inflight counts deliveries to this node in progress, so that Close can
	// wait for them. Add is called under bus.mu while the node is open, Wait
	// after it is closed, so no Add races with Wait.
	inflight sync.WaitGroup
}

// Start registers h; it may be called once, before any other method.
func (n *node) Start(_ context.Context, h adapter.Handler) error {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case n.closed:
		return errClosed
	case n.handler != nil:
		return errStarted
	}
	n.handler = h
	n.subs = make(map[adapter.Channel]int)
	b.nodes[n] = struct{}{}
	return nil
}

// Publish hands payload to every node subscribed to ch, this one included,
// before it returns. It fails only when this node is closed or not started.
func (n *node) Publish(_ context.Context, ch adapter.Channel, payload []byte) error {
	b := n.bus
	b.mu.Lock()
	if err := n.usable(); err != nil {
		b.mu.Unlock()
		return err
	}
	var to []*node
	for m := range b.nodes {
		if m.subs[ch] > 0 {
			m.inflight.Add(1)
			to = append(to, m)
		}
	}
	b.mu.Unlock()
	for _, m := range to {
		m.handler.Deliver(ch, payload)
		m.inflight.Done()
	}
	return nil
}

// Subscribe counts one more subscription of this node to ch.
func (n *node) Subscribe(_ context.Context, ch adapter.Channel) error {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := n.usable(); err != nil {
		return err
	}
	n.subs[ch]++
	return nil
}

// Unsubscribe undoes one Subscribe to ch. Undoing more than was done, or
// unsubscribing after Close, does nothing.
func (n *node) Unsubscribe(_ context.Context, ch adapter.Channel) error {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	switch c := n.subs[ch]; {
	case c > 1:
		n.subs[ch] = c - 1
	case c == 1:
		delete(n.subs, ch)
	}
	return nil
}

// Close takes the node off the bus and waits for deliveries to it already
// under way; once it returns, Deliver is not called again. Calling it again
// does nothing. It must not be called from Deliver.
func (n *node) Close() error {
	b := n.bus
	b.mu.Lock()
	if n.closed {
		b.mu.Unlock()
		return nil
	}
	n.closed = true
	n.subs = nil
	delete(b.nodes, n)
	b.mu.Unlock()
	n.inflight.Wait()
	return nil
}

// usable reports why the node may not publish or subscribe, if it may not.
// The caller holds bus.mu.
func (n *node) usable() error {
	switch {
	case n.closed:
		return errClosed
	case n.handler == nil:
		return errNotStarted
	}
	return nil
}

// SetPresence records what r.Node knows of r.UserID.
func (n *node) SetPresence(_ context.Context, r adapter.PresenceRecord) error {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	byNode := b.records[r.UserID]
	if byNode == nil {
		byNode = make(map[string]adapter.PresenceRecord)
		b.records[r.UserID] = byNode
	}
	byNode[r.Node] = r
	if _, ok := b.beats[r.Node]; !ok {
		b.beats[r.Node] = beat{at: time.Now()}
	}
	return nil
}

// DeletePresence removes node's record of userID.
func (n *node) DeletePresence(_ context.Context, nodeID, userID string) error {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if byNode := b.records[userID]; byNode != nil {
		delete(byNode, nodeID)
		if len(byNode) == 0 {
			delete(b.records, userID)
		}
	}
	return nil
}

// Presence returns the records of live nodes for the users.
func (n *node) Presence(_ context.Context, userIDs []string) ([]adapter.PresenceRecord, error) {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	var out []adapter.PresenceRecord
	for _, id := range userIDs {
		for nodeID, r := range b.records[id] {
			if !b.beats[nodeID].dead(now) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Heartbeat keeps nodeID alive for ttl and hands the records of dead nodes
// to this caller, removing them from the bus.
func (n *node) Heartbeat(_ context.Context, nodeID string, ttl time.Duration) ([]adapter.PresenceRecord, error) {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.beats[nodeID] = beat{at: now, ttl: ttl}
	var expired []adapter.PresenceRecord
	for other, bt := range b.beats {
		if !bt.dead(now) {
			continue
		}
		delete(b.beats, other)
		for user, byNode := range b.records {
			if r, ok := byNode[other]; ok {
				expired = append(expired, r)
				delete(byNode, other)
				if len(byNode) == 0 {
					delete(b.records, user)
				}
			}
		}
	}
	return expired, nil
}
