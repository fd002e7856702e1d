package realtime

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtime-go/realtime/adapter"
)

// Hub serves realtime connections and owns their rooms. Mount it on any
// http.Handler path; it upgrades every request to a WebSocket speaking
// protocol realtime.v1. All methods are safe for concurrent use.
//
// # Components
//
// The Hub wires components, each owning its state and its lock, and serves
// the protocol with them: a handler decodes, checks, and calls them.
//
//   - fan (fanout.go): who receives what on this node: connections, users,
//     served rooms with their sequencing; fanout.mu.
//   - roomSeq (order.go, one per served room): delivery in seq order, gap
//     repair, resume floors; roomSeq.mu.
//   - turns (order.go): each stream's send turns, so that a node publishes
//     in Store order; chainStripe.mu per stripe.
//   - sends (sends.go, one per connection): the connection's messages
//     waiting to be stored together; sendPipe.mu.
//   - lanes (hub.go): per room subscription changes, per user presence
//     changes, in order; one mutex per name, lanes.mu for the names.
//   - here (presence.go): this node's users, their statuses and grace
//     timers; localUsers.mu.
//   - coal (coalesce.go): frames held for the next coalesced flush;
//     coalescer.mu.
//   - budgets (limits.go): the users' message budgets; budgets.mu, then
//     userBudget.mu.
//   - conns (limits.go): connection caps before and at authentication;
//     connLimits.mu.
//   - expiry (room.go): timers that delete rooms left empty; expiries.mu.
//   - queries (query.go): cluster-wide queries awaiting answers;
//     queries.mu.
//   - the lifecycle (this file): admitting connections against closing,
//     background work that Close waits for; connsMu, bgMu.
//
// # Locks
//
// A goroutine that holds one of these locks takes only locks further down
// the list, and never the same kind twice (one lane, one room's roomSeq):
//
//  1. closeMu: Shutdown and Close, one at a time.
//  2. a lane (lane.mu): held across Broker and Store calls; never taken on
//     the Broker's delivery path (work that needs one moves to a goroutine of
//     its own, goTimer).
//  3. roomSeq.mu: one room's sequencing. Never held across a Store or
//     Broker call, so that delivery never waits for either.
//  4. fanout.mu: the connection sets (delivery reads them without it).
//  5. budgets.mu, then userBudget.mu: the message budgets.
//  6. conn.qmu: one connection's send queue (conn.go).
//
// Leaves, under which nothing else is taken: lanes.mu, queries.mu, connsMu, bgMu,
// localUsers.mu, coalescer.mu, chainStripe.mu, connLimits.mu,
// expiries.mu, sendPipe.mu, conn.umu and conn.tmu.
type Hub struct {
	cfg   Config
	log   *slog.Logger
	store Store
	// storeRaw is the Config's Store, without the Observer's timing.
	storeRaw Store
	// saver and pager are the Store's BatchSaver and MemberPager, under
	// the Observer's timing; nil when the Store has none.
	saver BatchSaver
	pager MemberPager
	// largeRooms reports whether a room can be large: LargeRoom is below
	// MaxUsersPerRoom, the cap of every room's MaxUsers.
	largeRooms bool
	// broker carries publications between nodes; presence keeps the
	// cluster's presence records (Config.Broker, Config.Presence).
	broker   adapter.Broker
	presence adapter.PresenceBackend
	// brokerLocal: the broker is this process's own; the hub delivers its
	// publications itself, within publish, with no envelope and no
	// deadline.
	brokerLocal bool
	nodeID      string
	obs         Observer
	// observed: Config.Observer is set; measurements that cost something
	// to take (labels, byte counts) are taken only then.
	observed bool

	fan     *fanout
	turns   sendTurns
	lanes   lanes
	here    localUsers
	coal    coalescer
	budgets budgets
	conns   *connLimits
	expiry  expiries
	queries queries

	// The lifecycle.
	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	closing atomic.Bool
	// connsMu orders admitting a connection into connsWG against closing:
	// no Add can follow the Wait of Shutdown or Close.
	connsMu sync.Mutex
	closeMu sync.Mutex // serializes Shutdown and Close
	closed  bool
	connsWG sync.WaitGroup

	// bgMu guards bgDone and the start of background work, so that no work
	// starts once Close waits for bg.
	bgMu   sync.Mutex
	bgDone bool
	bg     sync.WaitGroup
}

// New returns a Hub for cfg, or an error naming the first invalid field.
func New(cfg Config) (*Hub, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Hub{
		cfg:      cfg,
		log:      cfg.Logger,
		store:    cfg.Store,
		broker:   cfg.Broker,
		presence: cfg.Presence,
		fan:      newFanout(),
		here:     localUsers{users: make(map[string]*localUser)},
		nodeID:   newID("n"),
		conns:    newConnLimits(cfg),
	}
	h.turns.seed = maphash.MakeSeed()
	h.coal.every, h.coal.run, h.coal.toRoom = cfg.PresenceCoalesce, h.goTimer, h.writeLatest
	h.coal.budget = max(cfg.LargeRoom, coalesceAbove)
	if h.store == nil {
		h.store = NewMemoryStore(MemoryOptions{})
	}
	h.storeRaw = h.store
	h.saver, _ = h.store.(BatchSaver)
	h.pager, _ = h.store.(MemberPager)
	h.largeRooms = cfg.LargeRoom >= 0 && cfg.LargeRoom < cfg.MaxUsersPerRoom
	h.obs = NopObserver{}
	if cfg.Observer != nil {
		h.obs, h.observed = cfg.Observer, true
		h.store = observedStore{s: h.store, obs: cfg.Observer}
		if h.saver != nil {
			h.saver = observedSaver{s: h.saver, obs: cfg.Observer}
		}
		if h.pager != nil {
			h.pager = observedPager{s: h.pager, obs: cfg.Observer}
		}
	}
	if h.broker == nil {
		h.broker = &localBroker{}
	}
	if h.presence == nil {
		h.presence = &localPresence{}
	}
	_, h.brokerLocal = h.broker.(*localBroker)
	if cfg.Authenticator == nil {
		h.log.Warn("realtime: no Authenticator configured: development mode, every connection gets an anonymous user; do not expose this hub")
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if err := h.broker.Start(h.ctx, handler{h}); err != nil {
		h.cancel()
		return nil, fmt.Errorf("realtime: start broker: %w", err)
	}
	if err := h.broker.Subscribe(h.ctx, adapter.Global()); err != nil {
		h.cancel()
		return nil, fmt.Errorf("realtime: subscribe global channel: %w", err)
	}
	if err := h.broker.Subscribe(h.ctx, adapter.Node(h.nodeID)); err != nil {
		h.cancel()
		return nil, fmt.Errorf("realtime: subscribe node channel: %w", err)
	}
	h.goTimer(h.heartbeat)
	if cfg.StatsLogInterval > 0 {
		h.goTimer(h.logStats)
	}
	return h, nil
}

// connect authenticates c, runs OnConnect and registers c, on the
// goroutine of the request that opened it: r is valid throughout. pre is
// what admitRequest found before the transport started. It reports whether
// c is registered; if not, c is over and released.
func (h *Hub) connect(c *conn, r *http.Request, token string, pre *admitted) bool {
	refuse := func(code StatusCode, reason string) bool {
		c.closeWith(code, reason)
		<-c.ctx.Done()
		h.release(c, false, DisconnectEvent{})
		return false
	}
	switch {
	case h.cfg.Authenticator == nil:
		h.setUser(c, anonymousUser(r), time.Time{})
	case token != "":
		if pre.err != nil {
			return refuse(StatusUnauthorized, "unauthorized")
		}
		h.setUser(c, pre.user, pre.exp)
	default:
		c.tmu.Lock()
		c.authTimer = time.AfterFunc(h.cfg.AuthTimeout, func() {
			c.closeWith(StatusUnauthorized, "authentication timeout")
		})
		c.tmu.Unlock()
		if !h.awaitAuth(c) {
			h.release(c, false, DisconnectEvent{})
			return false
		}
		if err := h.conns.promote(&c.slot, c.currentUser().ID); err != nil {
			h.obs.RateLimited("connections")
			return refuse(StatusRateLimited, errUserConns.Message)
		}
	}

	if hook := h.cfg.OnConnect; hook != nil {
		if err := hook(c.ctx, ConnectEvent{ConnectionID: c.id, User: c.currentUser(), Request: r}); err != nil {
			var ce *CloseError
			if errors.As(err, &ce) {
				c.closeWith(ce.Code, ce.Reason)
			} else {
				c.closeWith(StatusForbidden, "forbidden")
			}
			<-c.ctx.Done()
			h.release(c, false, DisconnectEvent{})
			return false
		}
	}
	if err := h.register(c); err != nil {
		c.closeWith(StatusGoingAway, "server shutting down")
		<-c.ctx.Done()
		h.release(c, false, DisconnectEvent{})
		return false
	}
	return true
}

// run reads and handles a registered connection's frames until it ends,
// then releases it; or, over a parker, until it has nothing to read, when
// it returns true and touches c no more: the transport's wake serves it
// again. A panic while handling a frame (in a hook, say) ends this
// connection with 1011 and is logged; the hub goes on.
func (h *Hub) run(c *conn) (parked bool) {
	u := c.currentUser()
	var err error
	defer func() {
		p := recover()
		if p == nil && parked {
			return
		}
		parked = false
		if p != nil {
			h.log.Error("realtime: panic while serving a connection", "conn", c.id, "panic", p, "stack", string(debug.Stack()))
			c.closeWith(StatusInternal, "internal error")
			<-c.ctx.Done() // the writer has sent the close
		}
		code, reason := c.closeStatus(err)
		// A custom Broker may panic while unsubscribing: log it, as
		// net/http did when it ran this goroutine.
		h.guard("releasing a connection", func() {
			h.release(c, true, DisconnectEvent{ConnectionID: c.id, User: u, Code: code, Reason: reason})
		})
	}()
	err = c.readLoop(nil)
	if err == errParked {
		return true
	}
	// The messages read before the end are stored and published, as the
	// one being handled when the connection ended would have been.
	c.awaitSends()
	return false
}

// guard runs a hook that no connection's frame is waiting for, logging a
// panic in it instead of letting it end the process.
func (h *Hub) guard(hook string, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("realtime: panic in "+hook, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// release ends c: it waits for its writer and pings, closes its socket and,
// when it was registered, unregisters it and runs OnDisconnect with ended.
func (h *Hub) release(c *conn, registered bool, ended DisconnectEvent) {
	c.cancel()
	c.stop()
	c.wg.Wait()
	c.t.Abort()
	h.conns.give(c.slot)
	typingRooms := c.stopTimers()
	if registered {
		code := ended.Code
		if code == 0 {
			code = 1006
		}
		h.obs.ConnectionClosed(c.transport, code)
		h.unregister(c, typingRooms)
		if hook := h.cfg.OnDisconnect; hook != nil && c.sub == nil {
			h.guard("OnDisconnect", func() { hook(h.ctx, ended) })
		}
	}
}

// awaitAuth reads frames until the connection authenticates (true) or ends.
func (h *Hub) awaitAuth(c *conn) bool {
	if c.readLoop(c.isAuthed) != nil {
		return false
	}
	c.tmu.Lock()
	c.authTimer.Stop()
	c.tmu.Unlock()
	return true
}

type connectedData struct {
	ConnectionID      string    `json:"connectionId"`
	User              UserRef   `json:"user"`
	HeartbeatInterval int64     `json:"heartbeatInterval"`
	ServerTime        time.Time `json:"serverTime"`
	// UnreadNotifications is set when the Store keeps notifications.
	UnreadNotifications *int `json:"unreadNotifications,omitempty"`
}

// closeStatus says how the connection ended: the code the hub sent, else the
// one the client sent, else 1006.
func (c *conn) closeStatus(readErr error) (StatusCode, string) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closing {
		return c.closeCode, c.closeReason
	}
	var ce *CloseError
	if errors.As(readErr, &ce) {
		return ce.Code, ce.Reason
	}
	return 1006, ""
}

var usernamePattern = regexp.MustCompile(`^[\p{L}\p{N}_.-]{1,32}$`)

// anonymousUser is the identity of a development-mode connection: a random
// id, and the username query parameter when it is a plain short name.
func anonymousUser(r *http.Request) User {
	id := newID("anon")
	name := r.URL.Query().Get("username")
	if !usernamePattern.MatchString(name) {
		name = "guest-" + id[len(id)-6:]
	}
	return User{ID: id, Username: name}
}

// authenticate verifies token and makes its user the connection's. A
// connection that is already authenticated may only refresh its token for
// the same user.
func (h *Hub) authenticate(c *conn, token string) (time.Time, error) {
	u, exp, err := h.verifyToken(c.ctx, token)
	if err != nil {
		return time.Time{}, err
	}
	c.umu.Lock()
	prev, authed := c.user, c.authed
	c.umu.Unlock()
	if authed && prev.ID != u.ID {
		return time.Time{}, Errorf(CodeForbidden, "a refresh token must be for the same user")
	}
	h.setUser(c, u, exp)
	return exp, nil
}

// setUser records the connection's user and arms the expiry timers.
func (h *Hub) setUser(c *conn, u User, exp time.Time) {
	c.umu.Lock()
	c.user, c.authed = u, true
	c.umu.Unlock()

	c.tmu.Lock()
	defer c.tmu.Unlock()
	for _, t := range []*time.Timer{c.warnTimer, c.expTimer} {
		if t != nil {
			t.Stop()
		}
	}
	c.warnTimer, c.expTimer = nil, nil
	if exp.IsZero() {
		return
	}
	left := time.Until(exp)
	c.warnTimer = time.AfterFunc(max(0, left-h.cfg.TokenExpiryWarning), func() {
		c.push("token-expiring", map[string]time.Time{"expiresAt": exp.UTC()})
	})
	c.expTimer = time.AfterFunc(left, func() {
		c.closeWith(StatusUnauthorized, "token expired")
	})
}

// register makes an authenticated connection reachable by its user id.
func (h *Hub) register(c *conn) error {
	u := c.currentUser()
	var unread *int
	if ns := h.notes(); ns != nil && c.sub == nil {
		ctx, cancel := c.ctx, context.CancelFunc(func() {})
		if _, local := ns.(*memoryStore); !local { // which never waits
			ctx, cancel = context.WithTimeout(c.ctx, h.cfg.StoreTimeout)
		}
		if n, err := ns.UnreadNotifications(ctx, u.ID); err == nil {
			unread = &n
		} else {
			h.log.Warn("realtime: count unread notifications", "err", err)
		}
		cancel()
	}
	data, err := connectedData{
		ConnectionID:        c.id,
		User:                u.ref(),
		HeartbeatInterval:   h.cfg.HeartbeatInterval.Milliseconds(),
		ServerTime:          now(),
		UnreadNotifications: unread,
	}.encode()
	if err != nil {
		return err
	}
	connected := newPush("connected", data)
	connected.meta |= metaAccept
	// Reachable across the cluster before it hears it is connected: the
	// user's channel first (a Subscribe per connection, counted by the
	// adapter and matched by the Unsubscribe of unregister).
	userCh := adapter.User(u.ID)
	if err := h.broker.Subscribe(c.ctx, userCh); err != nil {
		h.log.Warn("realtime: subscribe user channel", "err", err)
	}
	// connected is queued as the connection joins the sets: after it is in
	// them, so that a client that has it can be reached, and before any
	// push, which finds the connection only then.
	if !h.fan.add(c, u.ID, &h.closing, func() { c.send(connected, false) }) {
		_ = h.broker.Unsubscribe(context.WithoutCancel(c.ctx), userCh)
		return ErrHubClosed
	}
	h.budgets.acquire(u.ID, h.messageBucket)
	h.obs.ConnectionOpened(c.transport)
	h.userConnected(c.ctx, u)
	return nil
}

func (h *Hub) messageBucket() bucket {
	n := h.cfg.MaxMessagesPerMinute
	if n <= 0 {
		return bucket{}
	}
	return newBucket(n, time.Minute/time.Duration(n))
}

// unregister removes a closed connection from the user and room sets.
func (h *Hub) unregister(c *conn, typingRooms []string) {
	u := c.currentUser()
	rooms := h.fan.remove(c, u.ID)
	h.budgets.release(u.ID)

	h.userDisconnected(u)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, room := range typingRooms {
		h.publishTyping(ctx, c, u, room, false)
	}
	for _, room := range rooms {
		h.unsubscribe(ctx, c, room)
	}
	if err := h.broker.Unsubscribe(ctx, adapter.User(u.ID)); err != nil {
		h.log.Warn("realtime: unsubscribe user channel", "err", err)
	}
}

// subscribe makes c receive the pushes of room. With since, it first
// replays what c missed after that message (see readMissed). Store reads
// happen with no sequencing lock held, so that delivery, which takes the
// room's lock on the adapter's goroutine, never waits for the Store; what
// they found is merged under the lock: the replayed messages are queued for
// c, then c joins the room's live set, so that no live message comes before
// or between them, and live messages it already got by replay are skipped
// for it. Subscribing again is a no-op that replays nothing.
func (h *Hub) subscribe(ctx context.Context, c *conn, room string, since resumePoint) (missed int, recovered bool, err error) {
	if c.oneShot {
		return 0, false, nil // Hub.Do: a member, with no live subscription
	}
	defer h.lanes.lock(RoomStream(room))()
	lr, first, ok := h.fan.open(c, room)
	if !ok {
		if c.ctx.Err() != nil {
			return 0, false, ErrHubClosed
		}
		return 0, false, nil
	}
	rs := &lr.seq
	var base baselineRead
	if first {
		if err := h.broker.Subscribe(ctx, adapter.Room(room)); err != nil {
			h.fan.abandon(room, lr)
			return 0, false, h.storeErr("subscribe", err)
		}
		base = h.readBaseline(ctx, room)
	}

	var rp *missedMessages
	switch {
	case since.id != "":
		rp = h.readMissed(ctx, room, since.id)
	case since.seq > 0:
		rp = &missedMessages{last: since.seq}
		rp.readMore(ctx, h, room)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if first {
		rs.setBaseline(h, room, base)
	}
	// Messages delivered here while the replay was read, after what it
	// read, were sent to the room before c was in it: read those too.
	for tries := 0; rp.ok() && rp.last < rs.last; tries++ {
		if tries == 3 {
			rp = nil // the room moves faster than the Store answers
			break
		}
		rs.mu.Unlock()
		rp.readMore(ctx, h, room)
		rs.mu.Lock()
	}
	if rp != nil {
		h.obs.Resumed(rp.ok())
	}
	if rp.ok() {
		for _, f := range rp.frames {
			c.send(f, false)
		}
		if rp.last > rs.last {
			if rs.floors == nil {
				rs.floors = make(map[*conn]uint64)
			}
			rs.floors[c] = rp.last
		}
		missed, recovered = len(rp.frames), true
	}
	h.fan.enter(c, room, lr)
	if first {
		rs.deliverHeld(h, room) // what arrived while the baseline was read
	}
	return missed, recovered, nil
}

// unsubscribe stops c receiving the pushes of room.
func (h *Hub) unsubscribe(ctx context.Context, c *conn, room string) {
	defer h.lanes.lock(RoomStream(room))()
	lr, last, ok := h.fan.leave(c, room)
	if !ok {
		return
	}
	if c.sub != nil { // its only room: the subscription ends
		if h.closing.Load() {
			c.sub.fail(ErrHubClosed)
		}
		c.sub.fail(errSubRemoved) // unless the reason is known
		c.closeWith(StatusNormal, "unsubscribed")
	}
	lr.seq.mu.Lock()
	delete(lr.seq.floors, c)
	lr.seq.mu.Unlock()
	if last {
		if err := h.broker.Unsubscribe(ctx, adapter.Room(room)); err != nil {
			h.log.Warn("realtime: unsubscribe room channel", "room", room, "err", err)
		}
	}
}

// unsubscribeUser unsubscribes every local connection of user from room.
func (h *Hub) unsubscribeUser(userID, room string) []*conn {
	conns := h.fan.userConns(userID)
	for _, c := range conns {
		h.unsubscribe(h.ctx, c, room)
	}
	return conns
}

// subscribed reports whether c receives the pushes of room.
func (h *Hub) subscribed(c *conn, room string) bool { return h.fan.subscribed(c, room) }

// lanes serialize, per room, subscription changes, so that the Broker
// sees them in order, and per user ("user:<id>"), presence changes. Each
// name has a lane of its own, which lives while someone holds or awaits it:
// a lane held across a slow Store read holds up that room or user only.
type lanes struct {
	mu sync.Mutex
	m  map[string]*lane
}

type lane struct {
	mu   sync.Mutex
	refs int // holders and waiters; guarded by lanes.mu
}

// lock takes the lane of name and returns what releases it.
func (l *lanes) lock(name string) (unlock func()) {
	l.mu.Lock()
	ln := l.m[name]
	if ln == nil {
		if l.m == nil {
			l.m = make(map[string]*lane)
		}
		ln = &lane{}
		l.m[name] = ln
	}
	ln.refs++
	l.mu.Unlock()
	ln.mu.Lock()
	return func() {
		ln.mu.Unlock()
		l.mu.Lock()
		if ln.refs--; ln.refs == 0 {
			delete(l.m, name)
		}
		l.mu.Unlock()
	}
}

// deliver writes a publication to the local connections of its channel. The
// adapter calls it; it never blocks.
func (h *Hub) deliver(ch adapter.Channel, p publication) {
	switch {
	case ch.Kind == adapter.ChannelRoom && p.Seq > 0 && p.Op == opDeliver:
		h.deliverInOrder(ch.ID, p)
		return
	}
	var conns []*conn
	switch ch.Kind {
	case adapter.ChannelRoom:
		conns = h.fan.roomConns(ch.ID)
	case adapter.ChannelUser:
		conns = h.fan.userConns(ch.ID)
	case adapter.ChannelGlobal:
		conns = h.fan.allConns()
	}

	switch p.Op {
	case opQuery:
		h.goTimer(func() { h.answerQuery(p.Room, p.Key, string(p.Frame)) })
		return
	case opReply:
		h.queries.answer(p.Key, p.Frame)
		return
	case opLatest:
		if f, ok := pushFrame(p.Frame); ok && ch.Kind == adapter.ChannelRoom && len(conns) > 0 {
			h.coal.latest(ch.ID, p.Key, f)
		}
		return
	case opDisconnect:
		for _, c := range conns {
			c.closeWith(StatusCode(p.Seq), string(p.Frame))
		}
		return
	case opLeaveRoom:
		if ch.Kind == adapter.ChannelUser && p.Room != "" {
			for _, c := range conns {
				if c.sub != nil && c.sub.room == p.Room {
					c.sub.fail(errSubRemoved)
				}
			}
			// Unsubscribing takes the room's lane, which the publisher may
			// hold: do it off the adapter's goroutine.
			h.goTimer(func() { h.unsubscribeUser(ch.ID, p.Room) })
		}
	case opCloseRoom:
		if ch.Kind == adapter.ChannelRoom {
			for _, c := range conns {
				if c.sub != nil {
					c.sub.fail(errSubDeleted)
				}
			}
			h.goTimer(func() {
				for _, c := range conns {
					h.unsubscribe(h.ctx, c, ch.ID)
				}
			})
		}
	}
	if len(p.Frame) == 0 {
		return
	}
	f, ok := pushFrame(p.Frame)
	if !ok {
		h.log.Warn("realtime: a publication that is not a push was dropped", "channel", ch.String())
		return
	}
	if p.Key != "" && len(conns) > coalesceAbove {
		h.coal.hold(conns, p.Key+"\x00"+ch.String(), f)
		return
	}
	sendAll(conns, ch.Kind, f, p.Except, p.Droppable)
}

// sendAll writes f to conns of a channel of kind, but to the connection
// except; a subscription takes it only from the kind of channel it hears.
func sendAll(conns []*conn, kind adapter.ChannelKind, f Frame, except string, droppable bool) {
	for _, c := range conns {
		if except != "" && c.id == except {
			continue
		}
		if c.sub != nil && !c.sub.hears(kind) {
			continue // a subscription hears its room, or its user, only
		}
		c.send(f, droppable)
	}
}

// toRoom writes f to the room's local connections (subscriptions of the
// room included) and returns how many there are.
func (h *Hub) toRoom(room string, f Frame) int {
	conns := h.fan.roomConns(room)
	sendAll(conns, adapter.ChannelRoom, f, "", false)
	return len(conns)
}

// goTimer runs fn on a goroutine that Close waits for; after Close it does
// nothing.
func (h *Hub) goTimer(fn func()) {
	h.bgMu.Lock()
	defer h.bgMu.Unlock()
	if h.bgDone {
		return
	}
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		fn()
	}()
}

// publish sends an encoded event to a channel through the adapter.
func (h *Hub) publish(ctx context.Context, ch adapter.Channel, p publication) error {
	if h.brokerLocal {
		h.deliver(ch, p)
		return nil
	}
	if err := h.broker.Publish(ctx, ch, encodeEnvelope(p)); err != nil {
		h.obs.PublishFailed()
		return fmt.Errorf("%w: publish: %w", ErrUnavailable, err)
	}
	return nil
}

// publishEvent encodes data once and publishes it.
func (h *Hub) publishEvent(ctx context.Context, ch adapter.Channel, event string, data any) error {
	frame, err := encodePush(event, data)
	if err != nil {
		return err
	}
	return h.publish(ctx, ch, publication{Frame: frame})
}

// admit counts a new connection in connsWG, unless the hub is closing.
func (h *Hub) admit() bool {
	h.connsMu.Lock()
	defer h.connsMu.Unlock()
	if h.closing.Load() {
		return false
	}
	h.connsWG.Add(1)
	return true
}

// beginClosing refuses connections from now on.
func (h *Hub) beginClosing() {
	h.connsMu.Lock()
	h.closing.Store(true)
	h.connsMu.Unlock()
}

// Shutdown stops the hub gracefully: new upgrades get 503, and every
// connection is sent what is queued for it and closed with 1001. If ctx ends
// first, the remaining connections are dropped as by Close. The Config's
// Broker, Presence and Store are left open: close them after Shutdown
// returns.
// Calling it again, or after Close, returns nil.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.closeMu.Lock()
	defer h.closeMu.Unlock()
	if h.closed {
		return nil
	}
	h.beginClosing()
	for _, c := range h.fan.allConns() {
		c.closeWith(StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		h.connsWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	return errors.Join(err, h.closeLocked())
}

// Close stops the hub at once: connections are dropped without a close
// handshake. It waits for every goroutine of the hub to end, and leaves the
// Config's Broker, Presence and Store open, as Shutdown does. Calling it again
// returns nil.
func (h *Hub) Close() error {
	h.closeMu.Lock()
	defer h.closeMu.Unlock()
	if h.closed {
		return nil
	}
	h.beginClosing()
	return h.closeLocked()
}

func (h *Hub) closeLocked() error {
	h.closed = true
	h.cancel()
	h.connsWG.Wait()
	// A hub closes only what it created: the default broker, presence
	// and memory store, which hold nothing to release. A caller's Broker,
	// Presence and Store are
	// the caller's to close once Shutdown or Close has returned; until then
	// the hub leaves the channels it subscribed to.
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.StoreTimeout)
	defer cancel()
	var err error
	if uerr := h.broker.Unsubscribe(ctx, adapter.Global()); uerr != nil {
		err = fmt.Errorf("realtime: unsubscribe global channel: %w", uerr)
	}
	if uerr := h.broker.Unsubscribe(ctx, adapter.Node(h.nodeID)); uerr != nil && err == nil {
		err = fmt.Errorf("realtime: unsubscribe node channel: %w", uerr)
	}
	h.bgMu.Lock()
	h.bgDone = true
	h.bgMu.Unlock()
	h.expiry.stop()
	h.bg.Wait()
	return err
}

// newID returns a random id with a prefix, such as "m_k3j5...".
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return encodeID(prefix, idEncoding, b[:])
}

// encodeID returns prefix, "_" and b in enc.
func encodeID(prefix string, enc *base32.Encoding, b []byte) string {
	var out [32]byte
	id := append(append(out[:0], prefix...), '_')
	return string(enc.AppendEncode(id, b))
}

// newSortedID returns an id with a prefix whose text sorts in the order
// the ids were made, to the millisecond: the Unix time in milliseconds (48
// bits), then 56 random bits, in sortedIDEncoding. Stored rows keyed by
// such ids go in at the end of their index rather than at random places in
// it, which a database with millions of messages does much faster. Two ids
// can only collide within one millisecond: at a million ids a second, about
// once in four years (a store refuses the second with ErrConflict).
func newSortedID(prefix string) string {
	var b [13]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return encodeID(prefix, sortedIDEncoding, b[:])
}

// sortedIDEncoding is base32 without padding in an alphabet whose
// characters are in ascending order, so that encoded ids sort as their
// bytes do; the same characters as idEncoding.
var sortedIDEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// idEncoding is lower-case base32 without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
