package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realtime-go/realtime/adapter"
)

// entry is one counted subscription. Its fields other than ch and ready are
// guarded by Adapter.mu.
type entry struct {
	ch    adapter.Channel
	count int
	link  *link // nil while a cluster regroup is due
	// ready is closed once Redis has confirmed the subscription, or once
	// waiting for that is pointless (the link broke, the entry is gone).
	ready chan struct{}
	done  bool
}

func (e *entry) markReady() {
	if !e.done {
		e.done = true
		close(e.ready)
	}
}

// link is one pub/sub connection with the subscriptions it carries: the
// only one without a cluster, one per shard with. Its fields other than key
// and wmu are guarded by Adapter.mu.
type link struct {
	key string // master address of the shard; "" without a cluster
	// wmu orders the writes to ps. It is taken while Adapter.mu is held,
	// which is then released for the write, so that the SUBSCRIBE and
	// UNSUBSCRIBE commands of a channel reach Redis in the order of its
	// counts, and no lock that delivery needs is held during I/O.
	wmu sync.Mutex

	probe string        // channel name of the link's probes
	ps    *redis.PubSub // nil while down
	// ready: ps is connected and anyone may write to it. Until then only
	// connect writes.
	ready bool
	// lost: the link broke since it was created. Subscribers do not wait
	// for a lost link: the Resync after it is back covers them.
	lost bool
	// pending holds, per channel, the entries waiting for a subscribe
	// confirmation, in the order of the commands; unsubs counts the
	// unsubscribe confirmations to come. An unsubscribe that nobody asked
	// for means Redis dropped the subscription (a slot moved).
	pending map[string][]*entry
	unsubs  map[string]int
	probeOK chan struct{} // closed when the probe channel is subscribed
	acked   uint64        // last probe that came back on ps
}

var errProbeLost = errors.New("redisadapter: probe did not come back")

// write sends SUBSCRIBE (or UNSUBSCRIBE, with unsub) for names on ps; the
// first write to a new ps dials. It waits for no reply: confirmations come
// to the reader.
func (a *Adapter) write(ps *redis.PubSub, unsub bool, names ...string) error {
	ctx := a.ctx
	if a.cluster == nil {
		for chunk := range slices.Chunk(names, 512) {
			var err error
			if unsub {
				err = ps.Unsubscribe(ctx, chunk...)
			} else {
				err = ps.Subscribe(ctx, chunk...)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	// The channels of one sharded command must share a slot.
	for _, name := range names {
		var err error
		if unsub {
			err = ps.SUnsubscribe(ctx, name)
		} else {
			err = ps.SSubscribe(ctx, name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// newPubSub returns a PubSub that has not connected yet.
func (a *Adapter) newPubSub() *redis.PubSub {
	if a.cluster != nil {
		return a.cluster.SSubscribe(a.ctx)
	}
	return a.rdb.Subscribe(a.ctx)
}

// connect gives a down link a new connection that subscribes every channel
// counted on it, and starts its reader. Only the supervisor calls it.
func (a *Adapter) connect(l *link) error {
	probe := a.probeName("")
	if a.cluster != nil {
		var err error
		if probe, err = a.clusterProbe(l.key); err != nil {
			return err
		}
	}
	a.mu.Lock()
	if a.state != stateStarted || l.ps != nil {
		a.mu.Unlock()
		return nil
	}
	ps := a.newPubSub()
	snap := make(map[string]*entry)
	for name, e := range a.subs {
		if e.link == l {
			snap[name] = e
		}
	}
	l.probe, l.ps, l.ready = probe, ps, false
	l.pending = make(map[string][]*entry, len(snap)+1)
	l.unsubs = make(map[string]int)
	l.probeOK = make(chan struct{})
	l.acked = 0
	for name, e := range snap {
		l.pending[name] = []*entry{e}
	}
	l.pending[probe] = []*entry{{ready: l.probeOK}}
	a.mu.Unlock()

	// The probe channel goes last: Redis runs the commands of a connection
	// in order, so a probe that comes back proves that every subscription
	// before it is in place.
	names := append(slices.Sorted(maps.Keys(snap)), probe)
	if err := a.write(ps, false, names...); err != nil {
		a.breakLink(l, ps, err)
		return err
	}

	// Catch up with the counts that changed while this connected.
	a.mu.Lock()
	if l.ps != ps {
		// Closed meanwhile.
		a.mu.Unlock()
		_ = ps.Close()
		return errors.New("redisadapter: link lost while connecting")
	}
	var add, drop []string
	for name, e := range a.subs {
		if e.link == l && snap[name] != e {
			add = append(add, name)
			l.pending[name] = append(l.pending[name], e)
		}
	}
	for name := range snap {
		if e := a.subs[name]; e == nil || e.link != l {
			drop = append(drop, name)
			l.unsubs[name]++
		}
	}
	l.ready = true
	l.wmu.Lock()
	a.mu.Unlock()
	err := a.write(ps, false, add...)
	if err == nil {
		err = a.write(ps, true, drop...)
	}
	l.wmu.Unlock()
	if err != nil {
		a.breakLink(l, ps, err)
		return err
	}
	a.wg.Add(1)
	go a.read(l, ps)
	return nil
}

// read is the only reader of ps: it hands publications to the Handler in the
// order Redis sends them, until ps fails or is closed.
func (a *Adapter) read(l *link, ps *redis.PubSub) {
	defer a.wg.Done()
	for {
		msg, err := ps.Receive(a.ctx)
		if err != nil {
			a.breakLink(l, ps, err)
			return
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if err := a.confirm(l, ps, m); err != nil {
				a.breakLink(l, ps, err)
				return
			}
		case *redis.Message:
			a.receive(l, ps, m)
		}
	}
}

// confirm accounts for a subscribe or unsubscribe confirmation on ps.
func (a *Adapter) confirm(l *link, ps *redis.PubSub, m *redis.Subscription) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l.ps != ps {
		return nil
	}
	switch m.Kind {
	case "subscribe", "ssubscribe":
		if q := l.pending[m.Channel]; len(q) > 0 {
			q[0].markReady()
			if len(q) == 1 {
				delete(l.pending, m.Channel)
			} else {
				l.pending[m.Channel] = q[1:]
			}
		}
	case "unsubscribe", "sunsubscribe":
		if n := l.unsubs[m.Channel]; n > 0 {
			if n == 1 {
				delete(l.unsubs, m.Channel)
			} else {
				l.unsubs[m.Channel] = n - 1
			}
			return nil
		}
		return fmt.Errorf("redisadapter: redis dropped the subscription to %q", m.Channel)
	}
	return nil
}

// receive delivers a publication, or records a probe that came back.
func (a *Adapter) receive(l *link, ps *redis.PubSub, m *redis.Message) {
	a.mu.RLock()
	current, probe := l.ps == ps, m.Channel == l.probe
	e := a.subs[m.Channel]
	linked := e != nil && e.link == l
	handler := a.handler
	a.mu.RUnlock()
	switch {
	case !current:
		// A connection already replaced: what it still reads is covered by
		// the Resync to come.
		return
	case probe:
		if n, err := strconv.ParseUint(m.Payload, 10, 64); err == nil {
			a.mu.Lock()
			if l.ps == ps && n > l.acked {
				l.acked = n
			}
			a.mu.Unlock()
			signal(a.acks)
		}
		return
	case !linked:
		// Unsubscribed since, or (in a cluster) moved to another link.
		return
	}
	handler.Deliver(e.ch, []byte(m.Payload))
}

// breakLink takes ps, which failed, out of service: the supervisor connects
// l again and then delivers Resync. It does nothing when ps is no longer
// l's (an earlier failure, or Close).
func (a *Adapter) breakLink(l *link, ps *redis.PubSub, cause error) {
	a.mu.Lock()
	stale := l.ps != ps || a.state != stateStarted
	if !stale {
		a.downLocked(l)
		if a.cluster != nil {
			a.regroup = true
		}
	}
	a.mu.Unlock()
	_ = ps.Close()
	if stale {
		return
	}
	a.log.Warn("redisadapter: pub/sub link lost; subscribing again", "err", cause)
	signal(a.kick)
}

// downLocked marks l down and its subscribers as not waiting. The caller
// holds a.mu and closes l's PubSub.
func (a *Adapter) downLocked(l *link) {
	l.ps, l.ready, l.lost = nil, false, true
	l.pending, l.unsubs = nil, nil
	for _, e := range a.subs {
		if e.link == l {
			e.markReady()
		}
	}
	a.resync = true
}

// supervise connects links that are down, probes them every ProbeInterval
// and delivers Resync once they work again after a failure. It runs
// from Start to Close.
func (a *Adapter) supervise() {
	defer a.wg.Done()
	var (
		nonce   uint64
		backoff time.Duration
	)
	for {
		err := a.restore()
		ok := err == nil
		if ok {
			nonce++
			ok = a.probe(nonce)
		}
		if a.ctx.Err() != nil {
			return
		}
		if !ok {
			// Back off, so that a link that fails as soon as it is made
			// (a shard that keeps answering MOVED while the cluster state
			// settles, say) does not spin.
			backoff = min(max(2*backoff, 10*time.Millisecond), a.probeEvery)
			if err != nil {
				a.log.Warn("redisadapter: cannot subscribe; retrying", "err", err, "in", backoff)
			}
			select {
			case <-a.ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		a.resyncIfDue()
		select {
		case <-a.ctx.Done():
			return
		case <-a.kick:
		case <-time.After(a.probeEvery):
		}
	}
}

// restore regroups the links if a cluster needs it, then connects every
// link that is down.
func (a *Adapter) restore() error {
	if err := a.regroupLinks(); err != nil {
		return err
	}
	a.mu.RLock()
	var down []*link
	for _, l := range a.links {
		if l.ps == nil {
			down = append(down, l)
		}
	}
	a.mu.RUnlock()
	for _, l := range down {
		if err := a.connect(l); err != nil {
			return err
		}
	}
	return nil
}

// probe publishes nonce on every link's probe channel and reports whether
// each came back within ProbeTimeout. It breaks the links that failed.
func (a *Adapter) probe(nonce uint64) bool {
	ctx, cancel := context.WithTimeout(a.ctx, a.probeWait)
	defer cancel()
	a.mu.RLock()
	probed := make(map[*link]*redis.PubSub, len(a.links))
	for _, l := range a.links {
		probed[l] = l.ps
	}
	a.mu.RUnlock()
	for l, ps := range probed {
		if ps == nil {
			return false
		}
		a.mu.RLock()
		subscribed, name := l.probeOK, l.probe
		a.mu.RUnlock()
		select {
		case <-subscribed:
		case <-a.kick:
			return false // something broke or is new: restore first
		case <-ctx.Done():
			a.breakLink(l, ps, errProbeLost)
			return false
		}
		if err := a.publish(ctx, name, []byte(strconv.FormatUint(nonce, 10))); err != nil {
			a.breakLink(l, ps, fmt.Errorf("redisadapter: probe: %w", err))
			return false
		}
	}
	for {
		a.mu.RLock()
		var missing []*link
		down := false
		for l := range probed {
			if l.ps != probed[l] {
				down = true
			} else if l.acked < nonce {
				missing = append(missing, l)
			}
		}
		for _, l := range a.links {
			down = down || l.ps == nil
		}
		a.mu.RUnlock()
		switch {
		case down:
			return false
		case len(missing) == 0:
			return true
		}
		select {
		case <-a.acks:
		case <-a.kick:
		case <-ctx.Done():
			for _, l := range missing {
				a.breakLink(l, probed[l], errProbeLost)
			}
			return false
		}
	}
}

// resyncIfDue delivers Resync once every link works after a failure.
func (a *Adapter) resyncIfDue() {
	a.mu.Lock()
	due := a.resync && a.state == stateStarted && !a.regroup
	for _, l := range a.links {
		due = due && l.ps != nil
	}
	if due {
		a.resync = false
	}
	handler := a.handler
	a.mu.Unlock()
	if due {
		a.log.Info("redisadapter: pub/sub link restored; resyncing")
		handler.Resync()
	}
}

// masterOf returns the address of the master that owns name's slot.
func (a *Adapter) masterOf(ctx context.Context, name string) (string, error) {
	c, err := a.cluster.MasterForKey(ctx, name)
	if err != nil {
		return "", err
	}
	return c.Options().Addr, nil
}

// clusterProbe returns a probe channel name that lives on the shard of
// master: the node's probe channel with a hash tag that hashes there.
func (a *Adapter) clusterProbe(master string) (string, error) {
	ctx, cancel := context.WithTimeout(a.ctx, a.probeWait)
	defer cancel()
	// Masters own slot ranges of hundreds of slots at least, so a few
	// thousand tries find one unless master owns none any more.
	for i := range 4096 {
		anchor := strconv.Itoa(i)
		got, err := a.masterOf(ctx, anchor)
		if err != nil {
			return "", err
		}
		if got == master {
			return a.probeName(anchor), nil
		}
	}
	return "", fmt.Errorf("redisadapter: no slot of %s found for its probe", master)
}

// regroupLinks, in a cluster where a link broke, takes every link down and
// assigns every channel to the link of the master that now owns its slot.
func (a *Adapter) regroupLinks() error {
	a.mu.Lock()
	if !a.regroup {
		a.mu.Unlock()
		return nil
	}
	var open []*redis.PubSub
	for _, l := range a.links {
		if l.ps != nil {
			open = append(open, l.ps)
			a.downLocked(l)
		}
	}
	a.mu.Unlock()
	for _, ps := range open {
		_ = ps.Close()
	}
	a.cluster.ReloadState(a.ctx)

	keys := make(map[string]string)
	for {
		a.mu.RLock()
		var todo []string
		for name := range a.subs {
			if _, ok := keys[name]; !ok {
				todo = append(todo, name)
			}
		}
		a.mu.RUnlock()
		if len(todo) == 0 {
			break
		}
		for _, name := range todo {
			key, err := a.masterOf(a.ctx, name)
			if err != nil {
				return err
			}
			keys[name] = key
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	links := make(map[string]*link)
	for name, e := range a.subs {
		key, ok := keys[name]
		if !ok {
			// Subscribed since the loop above: the next regroup places it.
			return errors.New("redisadapter: subscriptions changed during regroup")
		}
		l := links[key]
		if l == nil {
			l = &link{key: key, lost: true}
			links[key] = l
		}
		e.link = l
	}
	a.links = links
	a.regroup = false
	a.resync = true
	return nil
}
