package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/wire"
)

// countFrame is a member-count push whose data is n.
func countFrame(t *testing.T, n int) Frame {
	t.Helper()
	f, ok := pushFrame(fmt.Appendf(nil, `{"event":"member-count","data":%d}`, n))
	require.True(t, ok)
	return f
}

// TestLatestWaitsInBigRooms: a room state (member-count) goes to a room of
// at most budget connections at every flush, while a room with more waits
// one window per budget of connections before its next state, and then
// sends the latest one: a room of any size costs a node at most budget
// frames a window, and no last state is lost. In a bubble, whose clock
// the waits are measured on exactly.
func TestLatestWaitsInBigRooms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		size := map[string]int{"small": 10, "big": 100}
		var wrote []string
		co := &coalescer{
			every:  100 * time.Millisecond,
			budget: 10,
			run:    func(func()) {}, // the test flushes
			toRoom: func(room string, f Frame) int {
				wrote = append(wrote, room+" "+string(f.Data()))
				return size[room]
			},
		}
		took := func() []string {
			w := wrote
			wrote = nil
			return w
		}

		co.latest("small", "member-count", countFrame(t, 1))
		co.latest("big", "member-count", countFrame(t, 1))
		co.flush()
		require.ElementsMatch(t, []string{"small 1", "big 1"}, took())

		// The big room reached 100 connections: it waits 100ms × 99/10,
		// 990ms, keeping only its latest state; the small room does not.
		co.latest("small", "member-count", countFrame(t, 2))
		co.latest("big", "member-count", countFrame(t, 2))
		co.latest("big", "member-count", countFrame(t, 3))
		co.flush()
		require.Equal(t, []string{"small 2"}, took())
		time.Sleep(989 * time.Millisecond)
		co.flush()
		require.Empty(t, took(), "still waiting")

		time.Sleep(time.Millisecond)
		co.flush()
		require.Equal(t, []string{"big 3"}, took(), "the latest state, once the wait is over")
		require.Contains(t, co.quiet, "big", "and it waits again")
		require.Empty(t, co.rooms)
	})
}

// TestOneFlushAtATime: a state that comes while a flush is still writing
// an older one waits for that flush to end, so that members never end
// with the older state last.
func TestOneFlushAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var wrote []string
		writing, release := make(chan struct{}), make(chan struct{})
		co := &coalescer{
			every:  10 * time.Millisecond,
			budget: 10,
			run:    func(fn func()) { go fn() },
			toRoom: func(room string, f Frame) int {
				if string(f.Data()) == "1" {
					close(writing)
					<-release // a slow write: thousands of connections
				}
				mu.Lock()
				defer mu.Unlock()
				wrote = append(wrote, string(f.Data()))
				return 5
			},
		}
		co.latest("r", "member-count", countFrame(t, 1))
		<-writing
		co.latest("r", "member-count", countFrame(t, 2))
		time.Sleep(100 * time.Millisecond) // ten windows: a second flush would have begun
		mu.Lock()
		require.Empty(t, wrote, "no flush writes while another is writing")
		mu.Unlock()
		close(release)
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, []string{"1", "2"}, wrote, "the latest state is written last")
	})
}

// TestMemberCountEndsCurrent: the publications of concurrent joins may
// arrive in another order than their counts were taken (on one node, or
// from several); the member-count members get last is the room's count
// now, not the count of the publication that arrived last.
func TestMemberCountEndsCurrent(t *testing.T) {
	h := quietHub(t, Config{LargeRoom: 2, PresenceCoalesce: 20 * time.Millisecond, MaxEventsPerSecond: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, c := dialOnly(ctx, t, h, "wendy")
	room, err := h.CreateRoom(ctx, c.currentUser(), RoomOptions{Name: "big"})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, wire.AppendClient(nil, "join-room", []byte(`{"roomId":"`+room.ID+`"}`), 1)))
	for joined := false; !joined; { // the room's events reach the watcher from here
		_, data, err := ws.Read(ctx)
		require.NoError(t, err)
		joined = strings.Contains(string(data), `"ack":1`)
	}
	// nextCount returns the next member-count the watcher gets.
	nextCount := func() int {
		for {
			_, data, err := ws.Read(ctx)
			require.NoError(t, err)
			for line := range strings.SplitSeq(string(data), "\n") {
				var push struct {
					Event string
					Data  memberCount
				}
				if json.Unmarshal([]byte(line), &push) == nil && push.Event == "member-count" {
					require.Equal(t, room.ID, push.Data.RoomID)
					return push.Data.MemberCount
				}
			}
		}
	}
	for i := range 4 {
		_, err := h.AddMember(ctx, room.ID, UserRef{ID: fmt.Sprint("u", i)}, "")
		require.NoError(t, err)
	}
	for nextCount() != 5 {
	}
	// A join's publication that took its count (3) before the last joins
	// and arrives after them.
	h.publishMembership(ctx, room.ID, "user-joined", UserRef{ID: "u1"}, 3)
	require.Equal(t, 5, nextCount(), "the count now, not the late publication's")
}
