package realtime_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

func TestSmokeRoomChat(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("general", nil)
	require.Equal(t, "general", room.Name)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.next("user-joined")
	ack := decodeInto[struct {
		ID  string
		Seq uint64
	}](t, bob.emit("message", map[string]any{"roomId": room.ID, "content": "hi"}))
	require.Equal(t, uint64(1), ack.Seq)
	msg := decodeInto[realtime.Message](t, alice.next("new-message"))
	require.Equal(t, "hi", msg.Content)
	require.Equal(t, "bob", msg.SenderID)
	require.Equal(t, ack.ID, msg.ID)
}
