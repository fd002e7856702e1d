package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

// TestLargeRoom: in a room past Config.LargeRoom members, a member is not
// sent each other member's join, leave and presence change, but
// member-count, coalesced: one frame for a burst of joins, with the count
// after the last one, on both nodes of a cluster; list-members still pages
// through everyone with their presence. A room that is not large keeps its
// per-user events.
func TestLargeRoom(t *testing.T) {
	rc := newRedisCluster(t)
	cfg := realtime.Config{LargeRoom: 5, PresenceCoalesce: 500 * time.Millisecond, PresenceGrace: 50 * time.Millisecond}
	a, b := rc.node(cfg, ""), rc.node(cfg, "")
	owner := a.dial("owner")
	room := owner.createRoom("large", nil)
	small := owner.createRoom("small", nil)
	joinRoom := func(c *tclient, id string) {
		c.emit("join-room", map[string]any{"roomId": id})
	}
	// Members 1 to 4: the room is not large yet (5 members with the owner).
	watcherB := b.dial("u1")
	joinRoom(watcherB, room.ID)
	joinRoom(watcherB, small.ID)
	for i := 2; i <= 4; i++ {
		joinRoom(a.dial(fmt.Sprint("u", i)), room.ID)
		watcherB.next("user-joined")
	}

	// Members 5 to 9 are added together, on both nodes: the room is large
	// from the sixth member. Each watcher gets member-count, coalesced
	// (fewer frames than joins), ending at 10, and no user-joined of them.
	late := []string{"u5", "u6", "u7", "u8", "u9"}
	var wg sync.WaitGroup
	for i, id := range late {
		env := []*testEnv{a, b}[i%2]
		wg.Go(func() {
			_, err := env.hub.AddMember(context.Background(), room.ID, realtime.UserRef{ID: id, Username: id}, "")
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	isLate := func(id string) bool { return slices.Contains(late, id) }
	for _, w := range []*tclient{owner, watcherB} {
		frames := 0
		watch(t, w, func(name string, d roomEventData) bool {
			switch name {
			case "member-count":
				require.Equal(t, room.ID, d.RoomID)
				require.Greater(t, d.MemberCount, 5, "member-count only once the room is large")
				frames++
				return d.MemberCount == 10 // 9 members and the owner
			case "user-joined":
				require.False(t, isLate(d.User.ID), "a join to a large room: %+v", d)
			}
			return false
		})
		require.Less(t, frames, len(late), "member-count coalesces a burst of joins")
	}
	// The newcomers connect, which makes them online, and join: the large
	// room hears neither.
	var conns []*tclient
	for i, id := range late {
		c := []*testEnv{a, b}[i%2].dial(id)
		joinRoom(c, room.ID)
		conns = append(conns, c)
	}
	quiet := func(w *tclient, what string) {
		deadline := time.Now().Add(500 * time.Millisecond)
		watch(t, w, func(name string, d roomEventData) bool {
			require.False(t, name == "presence-changed" && isLate(d.UserID), "%s: presence of a member of a large room: %+v", what, d)
			require.NotContains(t, []string{"user-joined", "user-left"}, name, "%s: %+v", what, d)
			return time.Now().After(deadline)
		}, 500*time.Millisecond)
	}
	quiet(owner, "online")

	// A leave: member-count 9, no user-left.
	conns[0].emit("leave-room", map[string]any{"roomId": room.ID})
	watch(t, watcherB, func(name string, d roomEventData) bool {
		require.NotEqual(t, "user-left", name, "a leave of a large room: %+v", d)
		return name == "member-count" && d.MemberCount == 9
	})
	// A member going offline is not announced there.
	conns[1].Close()
	quiet(owner, "offline")

	// ...but list-members pages through every member, with presence.
	var page struct {
		Members  []realtime.Member
		Presence []realtime.Presence
		HasMore  bool
	}
	var ids, online []string
	after := ""
	for {
		page.Members, page.HasMore = nil, false
		require.NoError(t, json.Unmarshal(watcherB.emit("list-members", map[string]any{"roomId": room.ID, "after": after, "limit": 4}), &page))
		for _, m := range page.Members {
			ids = append(ids, m.UserID)
		}
		for _, p := range page.Presence {
			online = append(online, p.UserID)
		}
		if !page.HasMore {
			break
		}
		after = page.Members[len(page.Members)-1].UserID
	}
	require.Len(t, ids, 9, "every member once: %v", ids)
	require.Equal(t, []string{"owner", "u1", "u2", "u3", "u4"}, ids[:5], "in join order")
	require.ElementsMatch(t, []string{"u6", "u7", "u8", "u9"}, ids[5:], "the members added together")
	require.Subset(t, online, []string{"u7", "u8", "u9"}, "the pages' presence shows who is online")

	// The small room keeps per-user events.
	newcomer := a.dial("u20")
	joinRoom(newcomer, small.ID)
	var joined struct{ User struct{ ID string } }
	require.NoError(t, json.Unmarshal(watcherB.next("user-joined"), &joined))
	require.Equal(t, "u20", joined.User.ID)
}

// roomEventData holds the fields of the pushes TestLargeRoom reads.
type roomEventData struct {
	RoomID      string
	MemberCount int
	UserID      string
	User        struct{ ID string }
}

// watch hands c's pushes to done until it returns true; it fails after 5 s
// or, with a quiet period given, returns once no push came for that long.
func watch(t *testing.T, c *tclient, done func(name string, d roomEventData) bool, quiet ...time.Duration) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		var idle <-chan time.Time
		if len(quiet) > 0 {
			idle = time.After(quiet[0])
		}
		select {
		case ev := <-c.Events():
			var d roomEventData
			require.NoError(t, json.Unmarshal(ev.Data, &d))
			if done(ev.Name, d) {
				return
			}
		case <-idle:
			return
		case <-timeout:
			if len(quiet) > 0 {
				return
			}
			t.Fatal("what the test waits for did not come within 5 s")
		}
	}
}
