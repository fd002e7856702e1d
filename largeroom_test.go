package realtime_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

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
	cfg := realtime.Config{LargeRoom: 5, PresenceCoalesce: 200 * time.Millisecond, PresenceGrace: 50 * time.Millisecond}
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

	// Members 6 to 9 join together, on both nodes: the room is large from
	// the sixth; each watcher gets one member-count with the final count
	// and no user-joined or presence-changed of the newcomers.
	var late []*tclient
	for i := 5; i <= 9; i++ {
		env := a
		if i%2 == 0 {
			env = b
		}
		c := env.dial(fmt.Sprint("u", i))
		joinRoom(c, room.ID)
		late = append(late, c)
	}
	for _, w := range []*tclient{owner, watcherB} {
		timeout := time.After(5 * time.Second)
		for count := 0; count != 10; { // 9 members and the owner
			select {
			case ev := <-w.Events():
				var d struct {
					RoomID      string
					MemberCount int
					UserID      string
					User        struct{ ID string }
				}
				require.NoError(t, json.Unmarshal(ev.Data, &d))
				switch ev.Name {
				case "member-count":
					require.Equal(t, room.ID, d.RoomID)
					require.Greater(t, d.MemberCount, 5, "member-count only once the room is large")
					count = d.MemberCount
				case "user-joined": // of the room before it was large
					require.Contains(t, []string{"u1", "u2", "u3", "u4"}, d.User.ID, "a join to a large room: %s", ev.Data)
				case "presence-changed":
					require.Contains(t, []string{"u1", "u2", "u3", "u4"}, d.UserID, "presence of a newcomer to a large room: %s", ev.Data)
				}
			case <-timeout:
				t.Fatal("no member-count with 10 members within 5s")
			}
		}
	}
	// Leaves too: one member-count, no user-left.
	late[0].emit("leave-room", map[string]any{"roomId": room.ID})
	var got struct{ MemberCount int }
	require.NoError(t, json.Unmarshal(watcherB.next("member-count"), &got))
	require.Equal(t, 9, got.MemberCount)
	// Presence: a member of the large room going away is not announced
	// there...
	late[1].Close()
	owner.none("presence-changed", 500*time.Millisecond)

	// ...but list-members pages through every member, with presence.
	var page struct {
		Members  []realtime.Member
		Presence []realtime.Presence
		HasMore  bool
	}
	var ids []string
	after := ""
	for {
		page.Members, page.HasMore = nil, false
		require.NoError(t, json.Unmarshal(watcherB.emit("list-members", map[string]any{"roomId": room.ID, "after": after, "limit": 4}), &page))
		for _, m := range page.Members {
			ids = append(ids, m.UserID)
		}
		if !page.HasMore {
			break
		}
		after = page.Members[len(page.Members)-1].UserID
	}
	require.Equal(t, []string{"owner", "u1", "u2", "u3", "u4", "u6", "u7", "u8", "u9"}, ids)

	// The small room keeps per-user events.
	newcomer := a.dial("u20")
	joinRoom(newcomer, small.ID)
	var joined struct{ User struct{ ID string } }
	require.NoError(t, json.Unmarshal(watcherB.next("user-joined"), &joined))
	require.Equal(t, "u20", joined.User.ID)
}
