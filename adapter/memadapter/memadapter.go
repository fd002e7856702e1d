// Package memadapter connects several hubs of one process as if they were
// the nodes of a cluster, for tests and demos of multi-node behaviour without
// a network:
//
//	bus := memadapter.NewBus()
//	a, err := realtime.New(realtime.Config{Adapter: bus.Node()})
//	b, err := realtime.New(realtime.Config{Adapter: bus.Node()})
//
// A publication is handed to the subscribed nodes synchronously, on the
// publisher's goroutine, with no lock of the bus held: deliver does not block
// by the Adapter contract, so a slow node cannot hold up the publisher or the
// other nodes. It follows that delivery is ordered per publishing goroutine:
// two goroutines publishing on one channel at once may reach a node in either
// order. The hub serializes its publications per stream, which is the order
// it promises to clients.
//
// Publications are passed on as they are, not copied: every receiving node
// gets the same Frame, which by the Publication contract nobody modifies once
// it is published.
package memadapter

import (
	"context"
	"errors"
	"sync"

	"github.com/realtime-go/realtime"
)

// Bus is the medium the nodes of one in-process cluster share. It is safe for
// concurrent use; its zero value is not, use NewBus.
type Bus struct {
	mu    sync.Mutex
	nodes map[*node]struct{} // started, not closed
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{nodes: make(map[*node]struct{})}
}

// Node returns a new node of the bus: the Adapter of one hub. Each hub needs
// its own node; a node receives what any node of the bus publishes on the
// channels it is subscribed to, its own publications included.
func (b *Bus) Node() realtime.Adapter {
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
	deliver func(realtime.Channel, realtime.Publication)
	subs    map[realtime.Channel]int // Subscribe calls not yet undone
	closed  bool
	// inflight counts deliveries to this node in progress, so that Close can
	// wait for them. Add is called under bus.mu while the node is open, Wait
	// after it is closed, so no Add races with Wait.
	inflight sync.WaitGroup
}

// Start registers deliver; it may be called once, before any other method.
func (n *node) Start(_ context.Context, deliver func(realtime.Channel, realtime.Publication)) error {
	b := n.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case n.closed:
		return errClosed
	case n.deliver != nil:
		return errStarted
	}
	n.deliver = deliver
	n.subs = make(map[realtime.Channel]int)
	b.nodes[n] = struct{}{}
	return nil
}

// Publish calls deliver of every node subscribed to ch, this one included,
// before it returns. It fails only when this node is closed or not started.
func (n *node) Publish(_ context.Context, ch realtime.Channel, p realtime.Publication) error {
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
		m.deliver(ch, p)
		m.inflight.Done()
	}
	return nil
}

// Subscribe counts one more subscription of this node to ch.
func (n *node) Subscribe(_ context.Context, ch realtime.Channel) error {
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
func (n *node) Unsubscribe(_ context.Context, ch realtime.Channel) error {
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
// under way; once it returns, deliver is not called again. Calling it again
// does nothing. It must not be called from deliver.
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
	case n.deliver == nil:
		return errNotStarted
	}
	return nil
}
