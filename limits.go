package realtime

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimits bounds the connections this node serves: per user
// (Config.MaxConnectionsPerUser), per remote address
// (Config.MaxConnectionsPerAddress), and those upgraded but not yet
// authenticated (Config.MaxPendingConnections). It owns its counts and its
// lock, under which it does no I/O and takes no other lock.
//
// The counts are this node's: a cluster of n nodes lets a user open up to n
// times the limit (no Broker counts connections across nodes yet).
type connLimits struct {
	maxUser, maxAddr, maxPending int // <= 0: no limit

	mu      sync.Mutex
	users   map[string]int
	addrs   map[string]int
	pending int
}

// slot is one connection's place in connLimits: its user once known, its
// address when the transport counts addresses through the hub, and whether
// it waits for its auth event.
type slot struct {
	user, addr string
	pending    bool
}

func newConnLimits(cfg Config) *connLimits {
	return &connLimits{
		maxUser: cfg.MaxConnectionsPerUser, maxAddr: cfg.MaxConnectionsPerAddress, maxPending: cfg.MaxPendingConnections,
		users: make(map[string]int), addrs: make(map[string]int),
	}
}

// The refusals of connLimits; rate_limited, answered 429 before an upgrade
// and with close code 4008 after one.
var (
	errUserConns    = Errorf(CodeRateLimited, "too many connections for this user")
	errAddrConns    = Errorf(CodeRateLimited, "too many connections from this address")
	errPendingConns = Errorf(CodeRateLimited, "too many connections waiting to authenticate")
)

// take counts s, all of it or, when a limit is reached, none of it, and
// returns what it counted: only what has a limit is counted.
func (l *connLimits) take(s slot) (slot, *Error) {
	if l.maxUser <= 0 {
		s.user = ""
	}
	if l.maxAddr <= 0 {
		s.addr = ""
	}
	if l.maxPending <= 0 {
		s.pending = false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case s.user != "" && l.users[s.user] >= l.maxUser:
		return slot{}, errUserConns
	case s.addr != "" && l.addrs[s.addr] >= l.maxAddr:
		return slot{}, errAddrConns
	case s.pending && l.pending >= l.maxPending:
		return slot{}, errPendingConns
	}
	l.count(s, 1)
	return s, nil
}

// give returns what take counted for s.
func (l *connLimits) give(s slot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count(s, -1)
}

// promote turns the pending place of *s into one of user, unless user has
// reached its limit; either way *s is no longer pending.
func (l *connLimits) promote(s *slot, user string) *Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.pending {
		s.pending = false
		l.pending--
	}
	if l.maxUser <= 0 {
		return nil
	}
	if l.users[user] >= l.maxUser {
		return errUserConns
	}
	s.user = user
	l.users[user]++
	return nil
}

func (l *connLimits) count(s slot, n int) {
	if s.user != "" {
		bump(l.users, s.user, n)
	}
	if s.addr != "" {
		bump(l.addrs, s.addr, n)
	}
	if s.pending {
		l.pending += n
	}
}

func bump(m map[string]int, k string, n int) {
	if m[k] += n; m[k] <= 0 {
		delete(m, k)
	}
}

// admitted is what admitRequest found before a transport started: the
// user of the token, or why the token was refused, and the place the
// connection took in the limits.
type admitted struct {
	user User
	exp  time.Time
	err  error
	slot slot
}

// admitRequest takes the place of a connection opened with token (""
// when it will send an auth event) in the limits, before the transport
// starts it: a token is verified now, so that its user is counted. addr
// is the remote address to count, "" when the transport counted it
// (AdmitAddress). A refused token is not an error here: connect closes the
// connection with 4001 as the protocol says.
func (h *Hub) admitRequest(ctx context.Context, token, addr string) (*admitted, *Error) {
	pre := &admitted{slot: slot{addr: addr}}
	switch {
	case h.cfg.Authenticator == nil:
	case token == "":
		pre.slot.pending = true
	default:
		pre.user, pre.exp, pre.err = h.verifyToken(ctx, token)
		if pre.err == nil {
			pre.slot.user = pre.user.ID
		}
	}
	var err *Error
	if pre.slot, err = h.conns.take(pre.slot); err != nil {
		h.obs.RateLimited("connections")
		return nil, err
	}
	return pre, nil
}

// remoteHost is the address a request came from, without its port. Behind
// a reverse proxy it is the proxy's: the hub trusts no forwarding header.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// AdmitAddress counts a connection that r is about to open against
// Config.MaxConnectionsPerAddress, before a transport other than the
// native one (the Socket.IO bridge) upgrades it: an error (rate_limited)
// means answering 429 instead. Call release, once, when that connection or
// session ends, or never starts. The per-user and pending limits apply when
// the transport hands the connection to ServeTransport.
func (h *Hub) AdmitAddress(r *http.Request) (release func(), err error) {
	s, refused := h.conns.take(slot{addr: remoteHost(r)})
	if refused != nil {
		return nil, refused
	}
	var once sync.Once
	return func() { once.Do(func() { h.conns.give(s) }) }, nil
}

// budgets owns the users' message budgets (Config.MaxMessagesPerMinute):
// one bucket per user, shared by the user's connections on this node. Its
// lock, budgets.mu, guards the map; each budget has its own lock for its
// bucket. Under either nothing else is taken.
type budgets struct {
	mu    sync.RWMutex
	users map[string]*userBudget
}

// userBudget is one user's message budget.
type userBudget struct {
	mu     sync.Mutex
	bucket bucket
	conns  int
}

// acquire counts a connection of user, creating its budget with fresh().
func (b *budgets) acquire(user string, fresh func() bucket) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ub := b.users[user]; ub != nil {
		ub.conns++
		return
	}
	if b.users == nil {
		b.users = make(map[string]*userBudget)
	}
	b.users[user] = &userBudget{bucket: fresh(), conns: 1}
}

// release uncounts a connection of user. The budget stays while spent, so
// that reconnecting does not refill it; prune drops it once full again.
func (b *budgets) release(user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ub := b.users[user]; ub != nil {
		ub.conns--
	}
}

// prune drops the budgets of users without connections that have
// refilled by t.
func (b *budgets) prune(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, ub := range b.users {
		ub.mu.Lock()
		if ub.conns == 0 && ub.bucket.full(t) {
			delete(b.users, id)
		}
		ub.mu.Unlock()
	}
}

// allow spends one of user's messages, for connection c; a user without a
// budget is not limited.
func (b *budgets) allow(c *conn, user string) bool {
	b.mu.RLock()
	ub := b.users[user]
	b.mu.RUnlock()
	if ub == nil {
		return true
	}
	ub.mu.Lock()
	defer ub.mu.Unlock()
	return c.allow(&ub.bucket)
}
