// Package redisadapter connects the hubs of a cluster through Redis
// (github.com/redis/go-redis/v9): events travel by Redis pub/sub, presence
// lives in Redis keys.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	defer rdb.Close()
//	a, err := redisadapter.New(rdb, redisadapter.Options{Prefix: "chat:"})
//	hub, err := realtime.New(realtime.Config{Broker: a, Store: sharedStore})
//
// # Traffic
//
// Each publication is one PUBLISH, however many nodes and connections
// receive it. A node subscribes to a room's channel only while it has local
// members there, to a user's channel while the user has connections on it,
// and to the global channel: Subscribe and Unsubscribe are counted and only
// the first and the last of a channel reach Redis. All subscriptions of a
// node share one connection (one per shard in Redis Cluster), read by one
// goroutine that calls the hub's Handler in the order Redis sends, which is
// the order of publication on each channel. As the Broker contract has it,
// the Handler must not block: in particular it must not call Subscribe, which waits for
// that goroutine to read Redis's confirmation.
//
// Given a *redis.ClusterClient, the adapter uses Redis 7 sharded pub/sub
// (SSUBSCRIBE, SPUBLISH): a publication travels only within the shard that
// owns its channel's slot. Any other client uses SUBSCRIBE and PUBLISH; a
// *redis.Ring is refused, because its shards do not share pub/sub.
//
// # Losing Redis
//
// go-redis reconnects by itself, but the adapter does not take its word that
// the subscriptions came back: every ProbeInterval it publishes a probe to a
// channel of its own and waits for it. When the probe does not come back
// within ProbeTimeout, or the connection fails, the adapter drops the
// connection, subscribes every counted channel again on a new one, and, once
// a probe comes back, calls the Handler's Resync, so that the hub reloads
// from its Store what its rooms missed meanwhile. What a hub stored is thus
// never lost; only what it does not store (typing, presence frames) may be.
//
// # Presence
//
// Records live in Redis hashes, one per user, with a field per node. Each
// node's liveness is a deadline in a sorted set that Heartbeat moves forward,
// by the Redis server's clock, so the nodes' clocks need not agree. Presence
// returns only the records of nodes whose deadline has not passed; the first
// Heartbeat after a node's deadline, on any node, removes that node's records
// and returns them, in one Lua script, so that exactly one node announces the
// departures. The keys expire as garbage collection once nobody refreshes
// them (ten times the heartbeat ttl, at least a minute).
//
// # Keys and names
//
// Every key and channel starts with Options.Prefix and ends with the room,
// user or node id in hex, so that no id, whatever it holds ('*', braces,
// newlines), reaches another's key or channel or picks a cluster slot. The
// presence keys share the hash tag {p}, so that their scripts run on one
// slot: in Redis Cluster, presence lives on one shard.
package redisadapter

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realtime-go/realtime/adapter"
)

// Options configures an Adapter. The zero value is ready to use.
type Options struct {
	// Prefix starts every Redis key and channel name of the adapter, so that
	// several applications, or tests, share one Redis. All nodes of a
	// cluster use the same. It must not contain '{' or '}', which would
	// choose Redis Cluster slots. Zero: "rt:".
	Prefix string
	// ProbeInterval is how often the node checks its subscriptions by
	// publishing a probe to itself. Zero: 5s.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe may take to come back before the
	// link counts as lost, is dropped and made again. Too short, a busy
	// Redis costs a needless resubscription and resync. A link that fails
	// outright is noticed at once, without waiting for a probe. Zero:
	// ProbeInterval.
	ProbeTimeout time.Duration
	// Logger receives what the adapter cannot return to a caller: lost and
	// restored links, publications it cannot decode. Nil: slog.Default().
	Logger *slog.Logger
}

const (
	defaultPrefix        = "rt:"
	defaultProbeInterval = 5 * time.Second
)

var (
	errNotStarted = errors.New("redisadapter: adapter not started")
	errStarted    = errors.New("redisadapter: adapter already started")
	errClosed     = errors.New("redisadapter: adapter closed")
)

type state uint8

const (
	stateNew state = iota
	stateStarted
	stateClosed
)

// Adapter is an adapter.Adapter over Redis: Broker and PresenceBackend.
// It is safe for concurrent use.
// It does not own the client it was given (close that after the Adapter),
// but owns its pub/sub connections and goroutines, which Close ends.
type Adapter struct {
	rdb        redis.UniversalClient
	cluster    *redis.ClusterClient // set: sharded pub/sub
	prefix     string
	probeEvery time.Duration
	probeWait  time.Duration
	log        *slog.Logger
	node       string // random id of this adapter, naming its probe channels

	setScript, presenceScript, heartbeatScript *redis.Script
	gc                                         atomic.Int64 // expiry of presence keys, ns

	// Set by Start.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // wakes the supervisor: a link broke or is new
	acks   chan struct{} // a probe came back

	mu      sync.RWMutex
	state   state
	handler adapter.Handler
	subs    map[string]*entry // counted subscriptions, by channel name
	links   map[string]*link  // by shard master address; "" without a cluster
	// resync: a link broke, so Resync is due once every link works.
	resync bool
	// regroup: in a cluster, links broke and channels may have moved to
	// other shards; the supervisor rebuilds every link.
	regroup bool
}

// New returns an adapter that uses rdb, which must stay open until the
// adapter is closed. It fails on an invalid option or a *redis.Ring.
func New(rdb redis.UniversalClient, o Options) (*Adapter, error) {
	if rdb == nil {
		return nil, errors.New("redisadapter: nil client")
	}
	if _, ok := rdb.(*redis.Ring); ok {
		return nil, errors.New("redisadapter: *redis.Ring is not supported: its shards do not share pub/sub")
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("redisadapter: Options.Prefix %q contains a brace", o.Prefix)
	}
	switch {
	case o.ProbeInterval < 0:
		return nil, fmt.Errorf("redisadapter: Options.ProbeInterval is negative: %v", o.ProbeInterval)
	case o.ProbeInterval == 0:
		o.ProbeInterval = defaultProbeInterval
	}
	switch {
	case o.ProbeTimeout < 0:
		return nil, fmt.Errorf("redisadapter: Options.ProbeTimeout is negative: %v", o.ProbeTimeout)
	case o.ProbeTimeout == 0:
		o.ProbeTimeout = o.ProbeInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	a := &Adapter{
		rdb:             rdb,
		prefix:          o.Prefix,
		probeEvery:      o.ProbeInterval,
		probeWait:       o.ProbeTimeout,
		log:             o.Logger,
		node:            rand.Text(),
		setScript:       redis.NewScript(setPresenceLua),
		presenceScript:  redis.NewScript(presenceLua),
		heartbeatScript: redis.NewScript(heartbeatLua),
		kick:            make(chan struct{}, 1),
		acks:            make(chan struct{}, 1),
		subs:            make(map[string]*entry),
		links:           make(map[string]*link),
	}
	a.cluster, _ = rdb.(*redis.ClusterClient)
	a.gc.Store(int64(defaultGC))
	return a, nil
}

// Sharded reports whether the adapter uses Redis 7 sharded pub/sub, which
// it does when given a *redis.ClusterClient.
func (a *Adapter) Sharded() bool { return a.cluster != nil }

// Start checks that Redis answers and starts the adapter's goroutines. It
// may be called once.
func (a *Adapter) Start(ctx context.Context, h adapter.Handler) error {
	if h == nil {
		return errors.New("redisadapter: nil handler")
	}
	if err := a.startable(); err != nil {
		return err
	}
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisadapter: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.startableLocked(); err != nil {
		return err
	}
	a.state = stateStarted
	a.handler = h
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if a.cluster == nil {
		a.links[""] = &link{probe: a.probeName("")}
	}
	a.wg.Add(1)
	go a.supervise()
	return nil
}

func (a *Adapter) startable() error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.startableLocked()
}

func (a *Adapter) startableLocked() error {
	switch a.state {
	case stateStarted:
		return errStarted
	case stateClosed:
		return errClosed
	}
	return nil
}

// usableLocked reports why the adapter may not publish or subscribe, if it
// may not. The caller holds a.mu.
func (a *Adapter) usableLocked() error {
	switch a.state {
	case stateNew:
		return errNotStarted
	case stateClosed:
		return errClosed
	}
	return nil
}

// Publish sends payload to the nodes subscribed to ch with one PUBLISH
// (SPUBLISH in a cluster).
func (a *Adapter) Publish(ctx context.Context, ch adapter.Channel, payload []byte) error {
	a.mu.RLock()
	err := a.usableLocked()
	a.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := a.publish(ctx, a.channelName(ch), payload); err != nil {
		return fmt.Errorf("redisadapter: publish: %w", err)
	}
	return nil
}

func (a *Adapter) publish(ctx context.Context, name string, payload []byte) error {
	if a.cluster != nil {
		return a.cluster.SPublish(ctx, name, payload).Err()
	}
	return a.rdb.Publish(ctx, name, payload).Err()
}

// Subscribe counts one more subscription of the node to ch. The first one
// subscribes in Redis and returns once Redis has confirmed it, so that every
// publication made after Subscribe returns reaches the node. While the link
// to Redis is down it returns at once: the channel is subscribed when the
// link is back, and the Resync that follows covers the gap. When ctx ends
// first, it returns ctx's error and the call is not counted.
func (a *Adapter) Subscribe(ctx context.Context, ch adapter.Channel) error {
	name := a.channelName(ch)
	key := ""
	if a.cluster != nil {
		var err error
		if key, err = a.masterOf(ctx, name); err != nil {
			return fmt.Errorf("redisadapter: subscribe: %w", err)
		}
	}
	a.mu.Lock()
	if err := a.usableLocked(); err != nil {
		a.mu.Unlock()
		return err
	}
	if e := a.subs[name]; e != nil {
		e.count++
		a.mu.Unlock()
		return a.await(ctx, name, e)
	}
	e := &entry{ch: ch, count: 1, ready: make(chan struct{})}
	a.subs[name] = e
	var (
		l     *link
		ps    *redis.PubSub
		fresh bool
	)
	if a.regroup {
		// The regroup to come links it; the Resync after it covers it.
		e.markReady()
	} else {
		if l = a.links[key]; l == nil {
			l = &link{key: key}
			a.links[key] = l
			fresh = true
		}
		e.link = l
		switch {
		case l.ready:
			l.pending[name] = append(l.pending[name], e)
			ps = l.ps
		case l.ps == nil && l.lost:
			e.markReady()
		}
		// Otherwise the link is connecting, or new, and connect subscribes e.
	}
	if ps != nil {
		l.wmu.Lock() // before a.mu is released: writes keep the order of the counts
	}
	a.mu.Unlock()
	if ps != nil {
		err := a.write(ps, false, name)
		l.wmu.Unlock()
		if err != nil {
			a.breakLink(l, ps, err)
		}
	}
	if fresh {
		signal(a.kick)
	}
	return a.await(ctx, name, e)
}

// await waits for e's subscription, or undoes the caller's count of it.
func (a *Adapter) await(ctx context.Context, name string, e *entry) error {
	select {
	case <-e.ready:
	case <-ctx.Done():
		a.release(name, e)
		return ctx.Err()
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.usableLocked()
}

// Unsubscribe undoes one Subscribe to ch; the last one unsubscribes in
// Redis, and the node delivers nothing of ch from then on, even what Redis
// sends before it confirms. Undoing more than was done, or unsubscribing
// after Close, does nothing.
func (a *Adapter) Unsubscribe(_ context.Context, ch adapter.Channel) error {
	a.release(a.channelName(ch), nil)
	return nil
}

// release undoes one count of the subscription to name, if it is still e
// (any, for a nil e).
func (a *Adapter) release(name string, want *entry) {
	a.mu.Lock()
	e := a.subs[name]
	if e == nil || (want != nil && e != want) {
		a.mu.Unlock()
		return
	}
	if e.count--; e.count > 0 {
		a.mu.Unlock()
		return
	}
	delete(a.subs, name)
	e.markReady()
	l := e.link
	if l == nil || !l.ready {
		// Down: nothing to undo in Redis. Connecting: connect drops it.
		a.mu.Unlock()
		return
	}
	l.unsubs[name]++
	ps := l.ps
	l.wmu.Lock()
	a.mu.Unlock()
	err := a.write(ps, true, name)
	l.wmu.Unlock()
	if err != nil {
		a.breakLink(l, ps, err)
	}
}

// Close stops delivery, closes the adapter's pub/sub connections and waits
// for its goroutines: once it returns, deliver is not called again. It
// leaves the client given to New open, and the node's presence records in
// place (they expire when its heartbeats stop). Calling it again does
// nothing. It must not be called from deliver.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.state == stateClosed {
		a.mu.Unlock()
		return nil
	}
	started := a.state == stateStarted
	a.state = stateClosed
	var open []*redis.PubSub
	for _, l := range a.links {
		if l.ps != nil {
			open = append(open, l.ps)
			l.ps, l.ready = nil, false
		}
	}
	for _, e := range a.subs {
		e.markReady()
	}
	clear(a.subs)
	a.mu.Unlock()
	if !started {
		return nil
	}
	a.cancel()
	for _, ps := range open {
		_ = ps.Close()
	}
	a.wg.Wait()
	return nil
}

// signal wakes the receiver of c without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

var _ adapter.Adapter = (*Adapter)(nil)

// Ping reports whether Redis answers and every pub/sub link is up: a node
// whose links are down may be missing publications (realtime.Pinger, for
// Hub.Health).
func (a *Adapter) Ping(ctx context.Context) error {
	a.mu.RLock()
	err := a.usableLocked()
	if err == nil {
		for _, l := range a.links {
			if l.ps == nil || !l.ready {
				err = errors.New("redisadapter: pub/sub link down")
				break
			}
		}
	}
	a.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisadapter: %w", err)
	}
	return nil
}
