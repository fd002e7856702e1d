package realtime

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestRegisterCostsTheSameAtAnyCount: registering and unregistering a
// connection allocates as much on a node of 10,000 connections as on one
// of 10 (the set of every connection was once copied on each).
func TestRegisterCostsTheSameAtAnyCount(t *testing.T) {
	bytesPerCycle := func(n int) uint64 {
		f := newFanout()
		var closing atomic.Bool
		for i := range n {
			f.add(&conn{id: "c" + strconv.Itoa(i)}, "u"+strconv.Itoa(i), &closing, func() {})
		}
		c := &conn{id: "new", rooms: map[string]struct{}{}}
		cycle := func() {
			f.add(c, "new", &closing, func() {})
			f.remove(c, "new")
		}
		cycle() // the maps at their working size
		const runs = 200
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			cycle()
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / runs
	}
	small, large := bytesPerCycle(10), bytesPerCycle(10000)
	if large > small+64 {
		t.Fatalf("a connection's register and unregister allocate %d bytes among 10 connections, %d among 10,000", small, large)
	}
}

// TestConnectPathAllocations guards the allocations of the steps of a
// connect and join that were made cheaper: verifying a JWT with Secret and
// encoding the join-room ack of a room of 10.
func TestConnectPathAllocations(t *testing.T) {
	j, err := NewJWT(JWTConfig{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	token, err := j.Sign(User{ID: "u1", Username: "Ann"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Its buffers come from a pool, which the race detector empties now
	// and then.
	if n := testing.AllocsPerRun(100, func() {
		if _, _, err := j.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
	}); n > 6 && !raceEnabled {
		t.Errorf("JWT.Authenticate: %v allocations, want at most 6", n)
	}

	at := now()
	r := joinReply{Room: Room{ID: "r_1", Name: "room", MaxUsers: 1000, CreatedByID: "u0", CreatedAt: at, MemberCount: 10}}
	for i := range 10 {
		id := "u" + strconv.Itoa(i)
		r.Members = append(r.Members, Member{UserID: id, Username: id, Role: RoleMember, JoinedAt: at})
		r.Presence = append(r.Presence, Presence{UserID: id, Status: StatusOnline, LastSeenAt: &at, RoomID: "r_1"})
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := r.ackFrame(1); !ok {
			t.Fatal("not encoded")
		}
	}); n > 1 {
		t.Errorf("join-room ack: %v allocations, want 1", n)
	}
}
