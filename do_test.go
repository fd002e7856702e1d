package realtime_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

// TestDo: the host acts for a user, with the checks and effects of the
// user's own events, and the user's connections see the effects.
func TestDo(t *testing.T) {
	ctx := t.Context()
	env := newTestHub(t, realtime.Config{})
	alice := env.dial("alice")
	bob := realtime.User{ID: "bob", Username: "Bob"}
	secret := alice.createRoom("secret", map[string]any{"type": "private"})
	open := alice.createRoom("open", nil)

	_, err := env.hub.Do(ctx, bob, "join-room", map[string]any{"roomId": secret.ID})
	requireCode(t, realtime.CodeForbidden, err)
	ack, err := env.hub.Do(ctx, bob, "join-room", map[string]any{"roomId": open.ID})
	require.NoError(t, err)
	require.Equal(t, 2, testenv.DecodeInto[joinAck](t, ack).Room.MemberCount)
	alice.next("user-joined")

	ack, err = env.hub.Do(ctx, bob, "message", map[string]any{"roomId": open.ID, "content": `from "GraphQL" é`, "clientMsgId": "c1"})
	require.NoError(t, err)
	sent := testenv.DecodeInto[realtime.Message](t, ack)
	got := testenv.DecodeInto[realtime.Message](t, alice.next("new-message"))
	require.Equal(t, sent.ID, got.ID)
	require.Equal(t, "bob", got.SenderID, "the sender is the user Do acts for")
	again, err := env.hub.Do(ctx, bob, "message", map[string]any{"roomId": open.ID, "content": `from "GraphQL" é`, "clientMsgId": "c1"})
	require.NoError(t, err)
	require.Equal(t, sent.ID, testenv.DecodeInto[realtime.Message](t, again).ID, "a retry")

	_, err = env.hub.Do(ctx, realtime.User{ID: "mallory"}, "edit-message", map[string]any{"messageId": sent.ID, "content": "hijack"})
	requireCode(t, realtime.CodeForbidden, err)
	hist, err := env.hub.Do(ctx, bob, "get-history", map[string]any{"roomId": open.ID})
	require.NoError(t, err)
	require.Len(t, testenv.DecodeInto[struct{ Messages []realtime.Message }](t, hist).Messages, 1)

	for _, event := range []string{"auth", "typing", "presence-update"} {
		_, err := env.hub.Do(ctx, bob, event, nil)
		requireCode(t, realtime.CodeInvalid, err)
	}
	_, err = env.hub.Do(ctx, bob, "nonsense", nil)
	requireCode(t, realtime.CodeInvalid, err)
	_, err = env.hub.Do(ctx, realtime.User{}, "list-rooms", nil)
	requireCode(t, realtime.CodeInvalid, err)
	require.Zero(t, env.hub.UserConnections("bob"), "Do leaves no connection")
	require.Equal(t, 2, env.hub.Stats().Rooms, "alice's two rooms: Do subscribes nothing")
}

// TestSubscribeUser: a user's own pushes, from any node, for Go code:
// notifications and direct messages, not the rooms' events.
func TestSubscribeUser(t *testing.T) {
	ctx := t.Context()
	rc := newRedisCluster(t)
	a, b := rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, "")
	sub, err := b.hub.SubscribeUser(ctx, realtime.User{ID: "bob"}, realtime.SubscribeOptions{})
	require.NoError(t, err)
	defer sub.Close()
	alice := a.dial("alice")
	room := alice.createRoom("r", nil)
	_, err = a.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: "bob"}, realtime.RoleMember)
	require.NoError(t, err)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "a room message"})
	alice.emit("message", map[string]any{"recipientId": "bob", "content": "just for bob"})
	_, err = a.hub.Notify(ctx, []string{"bob"}, realtime.Notification{Type: "system", Title: "hi"})
	require.NoError(t, err)
	require.NoError(t, a.hub.Broadcast(ctx, "for-everyone", nil))

	dm := testenv.DecodeInto[realtime.Message](t, nextEvent(t, sub).Data)
	require.Equal(t, "just for bob", dm.Content)
	ev := nextEvent(t, sub)
	require.Equal(t, "notification", ev.Event)
	select {
	case ev := <-sub.Events():
		t.Fatalf("unexpected %s %s", ev.Event, ev.Data)
	case <-time.After(100 * time.Millisecond):
	}
	sub.Close()
	require.NoError(t, ended(t, sub))
}
