package realtime

import (
	"net"
	"net/http"
	"sync"
)

// connLimits bounds the connections this node serves: per user
// (Config.MaxConnectionsPerUser), per remote address
// (Config.MaxConnectionsPerAddress), and those upgraded but not yet
// authenticated (Config.MaxPendingConnections). It owns its counts and its
// lock, under which it does no I/O and takes no other lock.
//
// The counts are this node's: a cluster of n nodes lets a user open up to n
// times the limit (no Adapter counts connections across nodes yet).
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

// take counts s, all of it or, when a limit is reached, none of it.
func (l *connLimits) take(s slot) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case s.user != "" && l.maxUser > 0 && l.users[s.user] >= l.maxUser:
		return errUserConns
	case s.addr != "" && l.maxAddr > 0 && l.addrs[s.addr] >= l.maxAddr:
		return errAddrConns
	case s.pending && l.maxPending > 0 && l.pending >= l.maxPending:
		return errPendingConns
	}
	l.count(s, 1)
	return nil
}

// give returns what take counted for s.
func (l *connLimits) give(s slot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count(s, -1)
}

// promote turns the pending place of *s into one of user, unless user has
// reached its limit; either way *s is no longer pending.
func (l *connLimits) promote(s *slot, user string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.pending {
		s.pending = false
		l.pending--
	}
	if l.maxUser > 0 && l.users[user] >= l.maxUser {
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
	s := slot{addr: remoteHost(r)}
	if err := h.conns.take(s); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { h.conns.give(s) }) }, nil
}
