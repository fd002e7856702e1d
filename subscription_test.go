package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

// nextEvent returns the subscription's next event.
func nextEvent(t *testing.T, s *realtime.Subscription) realtime.RoomEvent {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		require.True(t, ok, "the subscription ended: %v", s.Err())
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return realtime.RoomEvent{}
}

// nextOf skips to the next event named name.
func nextOf(t *testing.T, s *realtime.Subscription, name string) json.RawMessage {
	t.Helper()
	for {
		if ev := nextEvent(t, s); ev.Event == name {
			return ev.Data
		}
	}
}

// ended waits for the subscription to end and returns its Err.
func ended(t *testing.T, s *realtime.Subscription) error {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-s.Events():
			if !ok {
				return s.Err()
			}
		case <-deadline:
			t.Fatal("the subscription did not end within 10s")
		}
	}
}

// TestSubscribe: Go code subscribed on one node receives the room's events
// from clients and from the host on another node, in seq order, resumes
// from a seq, and hears nothing of the user's other traffic.
func TestSubscribe(t *testing.T) {
	ctx := t.Context()
	rc := newRedisCluster(t)
	a, b := rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, "")
	alice := a.dial("alice")
	room := alice.createRoom("watched", nil)
	_, err := a.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: "bob"}, realtime.RoleMember)
	require.NoError(t, err)
	alice.next("user-joined")
	for i := range 3 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint("before ", i)})
	}

	sub, err := b.hub.Subscribe(ctx, realtime.User{ID: "bob", Username: "Bob"}, room.ID, realtime.SubscribeOptions{SinceSeq: 1})
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	require.True(t, sub.Recovered)
	require.Equal(t, 2, sub.Missed)
	for _, want := range []uint64{2, 3} {
		require.Equal(t, want, testenv.DecodeInto[realtime.Message](t, nextOf(t, sub, "new-message")).Seq)
	}

	// Live: clients' and the host's messages, in seq order, and the room's
	// other events; bob's own pushes and broadcasts are not the room's.
	require.NoError(t, b.hub.SendToUser(ctx, "bob", "private-note", map[string]string{"x": "y"}))
	require.NoError(t, a.hub.Broadcast(ctx, "for-everyone", nil))
	_, err = a.hub.PostMessage(ctx, realtime.PostOptions{RecipientID: "bob", Content: "a direct message"})
	require.NoError(t, err)
	for i := range 10 {
		if i%3 == 0 {
			_, err := b.hub.PostMessage(ctx, realtime.PostOptions{RoomID: room.ID, Content: fmt.Sprint("host ", i)})
			require.NoError(t, err)
		} else {
			alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(`live "`, i, `" é 😀`)})
		}
	}
	var last uint64 = 3
	for range 10 {
		ev := nextEvent(t, sub)
		require.Equal(t, "new-message", ev.Event, "only the room's events, got %s %s", ev.Event, ev.Data)
		m := testenv.DecodeInto[realtime.Message](t, ev.Data)
		require.Equal(t, room.ID, m.RoomID)
		require.Equal(t, last+1, m.Seq)
		last = m.Seq
	}
	mine := testenv.DecodeInto[realtime.Message](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "typo"}))
	require.Equal(t, mine.ID, testenv.DecodeInto[realtime.Message](t, nextOf(t, sub, "new-message")).ID)
	alice.emit("edit-message", map[string]any{"messageId": mine.ID, "content": "fixed"})
	require.Equal(t, "fixed", testenv.DecodeInto[realtime.Message](t, nextOf(t, sub, "message-edited")).Content)
	alice.emit("delete-message", map[string]any{"messageId": mine.ID})
	require.Equal(t, mine.ID, testenv.DecodeInto[realtime.Message](t, nextOf(t, sub, "message-deleted")).ID)
	alice.emit("presence-update", map[string]any{"status": "busy"})
	require.Equal(t, realtime.StatusBusy, testenv.DecodeInto[realtime.Presence](t, nextOf(t, sub, "presence-changed")).Status)
	_, err = a.hub.UpdateRoom(ctx, room.ID, realtime.RoomUpdate{Name: ptr("renamed")})
	require.NoError(t, err)
	require.Equal(t, "renamed", testenv.DecodeInto[struct{ Room realtime.Room }](t, nextOf(t, sub, "room-updated")).Room.Name)
	a.dial("carol").emit("join-room", map[string]any{"roomId": room.ID})
	require.Equal(t, "carol", testenv.DecodeInto[struct{ User realtime.UserRef }](t, nextOf(t, sub, "user-joined")).User.ID)

	// The subscription makes bob online, like a connection.
	pres := testenv.DecodeInto[struct{ Presence []realtime.Presence }](t, alice.emit("get-presence", map[string]any{"userIds": []string{"bob"}}))
	require.Equal(t, realtime.StatusOnline, pres.Presence[0].Status)

	// Removal ends it, cluster-wide, with forbidden.
	require.NoError(t, a.hub.Kick(ctx, room.ID, "bob", "bye"))
	var e *realtime.Error
	require.ErrorAs(t, ended(t, sub), &e)
	require.Equal(t, realtime.CodeForbidden, e.Code)
	require.Eventually(t, func() bool { return b.hub.UserConnections("bob") == 0 }, 10*time.Second, 5*time.Millisecond)
}

// TestSubscribeRefusedAndEnded: who may subscribe, and every way a
// subscription ends says why.
func TestSubscribeRefusedAndEnded(t *testing.T) {
	ctx := t.Context()
	env := newTestHub(t, realtime.Config{})
	alice := env.dial("alice")
	room := alice.createRoom("r", map[string]any{"type": "private"})
	bob := realtime.User{ID: "bob"}

	_, err := env.hub.Subscribe(ctx, bob, room.ID, realtime.SubscribeOptions{})
	requireCode(t, realtime.CodeForbidden, err)
	_, err = env.hub.Subscribe(ctx, bob, "missing", realtime.SubscribeOptions{})
	require.ErrorIs(t, err, realtime.ErrNotFound)
	_, err = env.hub.Subscribe(ctx, realtime.User{}, room.ID, realtime.SubscribeOptions{})
	requireCode(t, realtime.CodeInvalid, err)
	admin, err := env.hub.Subscribe(ctx, realtime.User{ID: "root", Roles: []string{"admin"}}, room.ID, realtime.SubscribeOptions{})
	require.NoError(t, err, "a hub admin may watch any room")
	admin.Close()
	require.NoError(t, ended(t, admin), "Close is no error")

	_, err = env.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: "bob"}, realtime.RoleMember)
	require.NoError(t, err)
	subCtx, cancel := context.WithCancel(ctx)
	byCtx, err := env.hub.Subscribe(subCtx, bob, room.ID, realtime.SubscribeOptions{})
	require.NoError(t, err)
	cancel()
	require.ErrorIs(t, ended(t, byCtx), context.Canceled)

	byDisconnect, err := env.hub.Subscribe(ctx, bob, room.ID, realtime.SubscribeOptions{})
	require.NoError(t, err)
	require.NoError(t, env.hub.Disconnect(ctx, "bob", realtime.StatusForbidden, "banned"))
	var ce *realtime.CloseError
	require.ErrorAs(t, ended(t, byDisconnect), &ce)
	require.Equal(t, realtime.StatusForbidden, ce.Code)

	byDelete, err := env.hub.Subscribe(ctx, bob, room.ID, realtime.SubscribeOptions{})
	require.NoError(t, err)
	require.NoError(t, env.hub.DeleteRoom(ctx, room.ID))
	var e *realtime.Error
	require.ErrorAs(t, ended(t, byDelete), &e)
	require.Equal(t, realtime.CodeNotFound, e.Code)

	other := alice.createRoom("other", nil)
	_, err = env.hub.AddMember(ctx, other.ID, realtime.UserRef{ID: "bob"}, realtime.RoleMember)
	require.NoError(t, err)
	byClose, err := env.hub.Subscribe(ctx, bob, other.ID, realtime.SubscribeOptions{})
	require.NoError(t, err)
	require.NoError(t, env.hub.Close())
	require.ErrorIs(t, ended(t, byClose), realtime.ErrHubClosed)
}

// TestSubscriberTooSlow: a subscription that is not read is ended when its
// buffer overflows; the room's members get every message all the same.
func TestSubscriberTooSlow(t *testing.T) {
	ctx := t.Context()
	env := newTestHub(t, realtime.Config{MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("busy", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	stuck, err := env.hub.Subscribe(ctx, realtime.User{ID: "bob"}, room.ID, realtime.SubscribeOptions{Buffer: 4})
	require.NoError(t, err)
	for i := range 50 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})
	}
	for i := range 50 {
		require.Equal(t, uint64(i+1), testenv.DecodeInto[realtime.Message](t, bob.next("new-message")).Seq)
	}
	require.ErrorIs(t, ended(t, stuck), realtime.ErrSubscriberTooSlow)
}
