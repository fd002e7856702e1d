package realtime_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter/memadapter"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/internal/wire"
)

type presenceList struct{ Presence []realtime.Presence }

func TestPresenceUpdates(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})

	ack := testenv.DecodeInto[struct{ Presence realtime.Presence }](t, bob.emit("presence-update", map[string]any{"status": "away", "customStatus": "lunch"}))
	require.Equal(t, realtime.StatusAway, ack.Presence.Status)
	p := testenv.DecodeInto[realtime.Presence](t, alice.next("presence-changed"))
	require.Equal(t, realtime.Presence{UserID: "bob", Status: realtime.StatusAway, CustomStatus: "lunch", LastSeenAt: p.LastSeenAt, RoomID: room.ID}, p)

	list := testenv.DecodeInto[presenceList](t, alice.emit("get-presence", map[string]any{"roomId": room.ID})).Presence
	require.Len(t, list, 2)
	require.Equal(t, realtime.StatusOnline, list[0].Status)
	require.Equal(t, realtime.StatusAway, list[1].Status)

	// Invisible: the others see offline; the user sees its own choice.
	own := testenv.DecodeInto[struct{ Presence realtime.Presence }](t, bob.emit("presence-update", map[string]any{"status": "invisible"}))
	require.Equal(t, realtime.StatusInvisible, own.Presence.Status)
	p = testenv.DecodeInto[realtime.Presence](t, alice.next("presence-changed"))
	require.Equal(t, realtime.StatusOffline, p.Status)
	require.Empty(t, p.CustomStatus)
	list = testenv.DecodeInto[presenceList](t, alice.emit("get-presence", map[string]any{"userIds": []string{"bob"}})).Presence
	require.Equal(t, realtime.StatusOffline, list[0].Status)
	joined := testenv.DecodeInto[joinAck](t, alice.emit("join-room", map[string]any{"roomId": room.ID}))
	require.Len(t, joined.Presence, 1, "an invisible member is not listed online")

	bob.emit("presence-update", map[string]any{"status": "busy"})
	require.Equal(t, realtime.StatusBusy, testenv.DecodeInto[realtime.Presence](t, alice.next("presence-changed")).Status)
	// The host application asks too.
	hp, err := env.hub.Presence(context.Background(), "bob")
	require.NoError(t, err)
	require.Equal(t, realtime.StatusBusy, hp.Status)
}

func TestPresenceErrors(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob, eve := env.dial("alice"), env.dial("bob"), env.dial("eve")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	eve.createRoom("eve's", nil)

	for _, status := range []any{"offline", "sleeping", 3, ""} {
		bob.emitErr(realtime.CodeInvalid, "presence-update", map[string]any{"status": status})
	}
	bob.emitErr(realtime.CodeTooLarge, "presence-update", map[string]any{"status": "away", "customStatus": string(bytes.Repeat([]byte("x"), 200))})
	eve.emitErr(realtime.CodeForbidden, "get-presence", map[string]any{"userIds": []string{"bob"}})
	eve.emitErr(realtime.CodeForbidden, "get-presence", map[string]any{"userIds": []string{"eve", "alice"}})
	eve.emitErr(realtime.CodeForbidden, "get-presence", map[string]any{"roomId": room.ID})
	eve.emitErr(realtime.CodeInvalid, "get-presence", map[string]any{})
	eve.emitErr(realtime.CodeInvalid, "get-presence", map[string]any{"roomId": room.ID, "userIds": []string{"bob"}})
	// Nothing changed for the others.
	eve.none("presence-changed", 50*time.Millisecond)
	alice.none("presence-changed", 50*time.Millisecond)
	list := testenv.DecodeInto[presenceList](t, alice.emit("get-presence", map[string]any{"userIds": []string{"alice", "bob"}})).Presence
	require.Equal(t, realtime.StatusOnline, list[1].Status)
}

// TestPresenceMultiDevice: a user stays online while any connection lives,
// and goes offline once the grace after the last one ends.
func TestPresenceMultiDevice(t *testing.T) {
	const grace = 150 * time.Millisecond
	env := newTestHub(t, realtime.Config{PresenceGrace: grace})
	alice := env.dial("alice")
	room := alice.createRoom("r", nil)
	phone, laptop := env.dial("bob"), env.dial("bob")
	phone.emit("join-room", map[string]any{"roomId": room.ID})

	require.NoError(t, phone.Close())
	alice.none("presence-changed", 3*grace) // the laptop is still there
	require.NoError(t, laptop.Close())
	gone := testenv.DecodeInto[realtime.Presence](t, alice.next("presence-changed"))
	require.Equal(t, realtime.StatusOffline, gone.Status)
	require.NotNil(t, gone.LastSeenAt)
	list := testenv.DecodeInto[presenceList](t, alice.emit("get-presence", map[string]any{"userIds": []string{"bob"}})).Presence
	require.Equal(t, realtime.StatusOffline, list[0].Status)
	require.NotNil(t, list[0].LastSeenAt)
	require.WithinDuration(t, time.Now(), *list[0].LastSeenAt, 5*time.Second)

	back := env.dial("bob")
	require.Equal(t, realtime.StatusOnline, testenv.DecodeInto[realtime.Presence](t, alice.next("presence-changed")).Status)
	// A reconnect within the grace shows nothing to the others.
	back.Drop()
	alice.none("presence-changed", 3*grace)
}

// TestPresenceAcrossNodes: with two hubs on one bus, a user connected to
// both is online while either lives; when a hub stops without a word, its
// users go offline within OfflineTimeout.
func TestPresenceAcrossNodes(t *testing.T) {
	// Records live OfflineTimeout/2: 1 s is long enough that a node whose
	// heartbeat is late on a loaded machine does not look dead (at 200 ms,
	// alice once went offline while her node lived).
	const offline = 2 * time.Second
	bus := memadapter.NewBus()
	store := realtime.NewMemoryStore(realtime.MemoryOptions{})
	cfg := realtime.Config{Store: store, OfflineTimeout: offline, PresenceGrace: 50 * time.Millisecond}
	cfgA, cfgB := cfg, cfg
	cfgA.Broker, cfgB.Broker = bus.Node(), bus.Node()
	a, b := newTestHub(t, cfgA), newTestHub(t, cfgB)

	alice := a.dial("alice")
	room := alice.createRoom("r", nil)
	bobOnA, bobOnB := a.dial("bob"), b.dial("bob")
	carolOnB := b.dial("carol")
	carolOnB.emit("join-room", map[string]any{"roomId": room.ID})
	bobOnB.emit("join-room", map[string]any{"roomId": room.ID})
	alice.next("user-joined")

	// Status set on node B is what alice on node A sees.
	bobOnB.emit("presence-update", map[string]any{"status": "busy"})
	require.Equal(t, realtime.StatusBusy, testenv.DecodeInto[realtime.Presence](t, alice.next("presence-changed")).Status)

	require.NoError(t, bobOnA.Close())
	alice.none("presence-changed", 200*time.Millisecond) // still on B

	// Node B dies: no goodbye, its records just stop being refreshed.
	start := time.Now()
	require.NoError(t, b.hub.Close())
	seen := map[string]realtime.Status{}
	for len(seen) < 2 {
		p := testenv.DecodeInto[realtime.Presence](t, alice.next("presence-changed"))
		seen[p.UserID] = p.Status
	}
	require.Equal(t, map[string]realtime.Status{"bob": realtime.StatusOffline, "carol": realtime.StatusOffline}, seen)
	require.Less(t, time.Since(start), offline+3*time.Second, "offline within about OfflineTimeout")
}

// TestPresenceStormIsCoalesced: when many members of a room come online at
// once and join it, each member receives their changes in a few batched
// frames, not one each (rooms of up to 16 subscribers hear each at once).
func TestPresenceStormIsCoalesced(t *testing.T) {
	const members = 150
	env := newTestHub(t, realtime.Config{MaxUsersPerRoom: members + 1, PresenceCoalesce: 100 * time.Millisecond})
	ctx := context.Background()
	room, err := env.hub.CreateRoom(ctx, realtime.User{ID: "owner"}, realtime.RoomOptions{Name: "storm"})
	require.NoError(t, err)
	for i := range members {
		_, err := env.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: fmt.Sprint("m", i)}, "")
		require.NoError(t, err)
	}
	watcher := env.raw("m0")
	watcher.Write(`{"event":"join-room","data":{"roomId":"` + room.ID + `"},"ack":1}`)
	require.Equal(t, uint64(1), watcher.Read().Ack)

	for i := 1; i < members; i++ {
		m := env.raw(fmt.Sprint("m", i))
		m.Write(`{"event":"join-room","data":{"roomId":"` + room.ID + `"}}`)
	}
	frames, changes := 0, 0
	online := map[string]bool{}
	for len(online) < members-1 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, frame, err := watcher.WS.Read(ctx)
		cancel()
		require.NoError(t, err)
		frames++
		require.NoError(t, wire.DecodeServer(frame, func(f wire.ServerFrame) {
			if f.Event == "presence-changed" {
				changes++
				p := testenv.DecodeInto[realtime.Presence](t, f.Data)
				online[p.UserID] = p.Status == realtime.StatusOnline
			}
		}))
	}
	t.Logf("%d presence changes in %d frames", changes, frames)
	require.Equal(t, members-1, changes, "each member announced once")
	require.Less(t, frames, changes/3, "changes are batched into frames")
}
