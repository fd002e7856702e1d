package realtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
)

func TestEditAndDeleteMessage(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob, carol := env.dial("alice"), env.dial("bob"), env.dial("carol")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	carol.emit("join-room", map[string]any{"roomId": room.ID})
	sent := testenv.DecodeInto[msgAck](t, bob.emit("message", map[string]any{"roomId": room.ID, "content": "tpyo", "metadata": map[string]int{"n": 1}}))

	// Only the sender edits.
	carol.emitErr(realtime.CodeForbidden, "edit-message", map[string]any{"messageId": sent.ID, "content": "hijack"})
	alice.emitErr(realtime.CodeForbidden, "edit-message", map[string]any{"messageId": sent.ID, "content": "admin edit"})
	bob.emitErr(realtime.CodeNotFound, "edit-message", map[string]any{"messageId": "m_nope", "content": "x"})
	bob.emitErr(realtime.CodeInvalid, "edit-message", map[string]any{"messageId": sent.ID, "content": ""})
	edited := testenv.DecodeInto[struct{ Message realtime.Message }](t, bob.emit("edit-message", map[string]any{"messageId": sent.ID, "content": "typo"})).Message
	require.Equal(t, "typo", edited.Content)
	require.NotNil(t, edited.EditedAt)
	pushed := testenv.DecodeInto[realtime.Message](t, carol.next("message-edited"))
	require.Equal(t, sent.ID, pushed.ID)
	require.Equal(t, "typo", pushed.Content)

	// The sender or a room admin deletes; others may not.
	carol.emitErr(realtime.CodeForbidden, "delete-message", map[string]any{"messageId": sent.ID})
	alice.emit("delete-message", map[string]any{"messageId": sent.ID}) // alice is the room's admin
	del := testenv.DecodeInto[struct {
		ID, RoomID string
		DeletedAt  time.Time
	}](t, carol.next("message-deleted"))
	require.Equal(t, sent.ID, del.ID)
	require.Equal(t, room.ID, del.RoomID)
	require.False(t, del.DeletedAt.IsZero())
	bob.emitErr(realtime.CodeNotFound, "delete-message", map[string]any{"messageId": sent.ID})
	bob.emitErr(realtime.CodeNotFound, "edit-message", map[string]any{"messageId": sent.ID, "content": "again"})

	// History keeps its place, without content.
	h := testenv.DecodeInto[struct{ Messages []realtime.Message }](t, carol.emit("get-history", map[string]any{"roomId": room.ID}))
	require.Len(t, h.Messages, 1)
	require.Equal(t, sent.ID, h.Messages[0].ID)
	require.Empty(t, h.Messages[0].Content)
	require.Empty(t, h.Messages[0].Metadata)
	require.NotNil(t, h.Messages[0].DeletedAt)
}

func TestThread(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxMessagesPerMinute: -1})
	alice, bob, eve := env.dial("alice"), env.dial("bob"), env.dial("eve")
	room := alice.createRoom("r", map[string]any{"type": "private"})
	alice.emit("add-member", map[string]any{"roomId": room.ID, "userId": "bob"})
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	parent := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "question"}))
	var replies []string
	for i := range 5 {
		c := []*tclient{alice, bob}[i%2]
		replies = append(replies, testenv.DecodeInto[msgAck](t, c.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint("answer ", i), "replyToId": parent.ID})).ID)
		alice.emit("message", map[string]any{"roomId": room.ID, "content": "unrelated"})
	}
	type page struct {
		Messages []realtime.Message
		HasMore  bool
	}
	first := testenv.DecodeInto[page](t, bob.emit("get-thread", map[string]any{"messageId": parent.ID, "limit": 3}))
	require.True(t, first.HasMore)
	require.Len(t, first.Messages, 3)
	for i, m := range first.Messages {
		require.Equal(t, replies[i], m.ID)
		require.Equal(t, parent.ID, m.ReplyToID)
	}
	rest := testenv.DecodeInto[page](t, bob.emit("get-thread", map[string]any{"messageId": parent.ID, "after": first.Messages[2].ID}))
	require.False(t, rest.HasMore)
	require.Equal(t, []string{replies[3], replies[4]}, []string{rest.Messages[0].ID, rest.Messages[1].ID})

	eve.emitErr(realtime.CodeForbidden, "get-thread", map[string]any{"messageId": parent.ID})
	bob.emitErr(realtime.CodeNotFound, "get-thread", map[string]any{"messageId": "m_nope"})
	bob.emitErr(realtime.CodeInvalid, "get-thread", map[string]any{"messageId": parent.ID, "limit": 500})
	empty := testenv.DecodeInto[page](t, bob.emit("get-thread", map[string]any{"messageId": replies[0]}))
	require.NotNil(t, empty.Messages)
	require.Empty(t, empty.Messages)
}

// TestResumeAfterDisconnect: a member misses 100 messages while away; joining
// with since replays exactly those, in order, before any live message.
func TestResumeAfterDisconnect(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
	alice := env.dial("alice")
	room := alice.createRoom("r", nil)
	bob := env.raw("bob")
	bob.Write(`{"event":"join-room","data":{"roomId":"` + room.ID + `"},"ack":1}`)
	require.Equal(t, uint64(1), bob.Read().Ack)
	last := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "seen"}))
	require.Equal(t, "new-message", bob.Read().Event)
	bob.WS.CloseNow()

	for i := range 100 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})
	}
	// While bob resumes, alice keeps sending: live messages must come after
	// the replay, each once.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 100; i < 120; i++ {
			if _, err := alice.Emit(t.Context(), "message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	bob = env.raw("bob")
	bob.Write(`{"event":"join-room","data":{"roomId":"` + room.ID + `","since":"` + last.ID + `"},"ack":2}`)
	var got []realtime.Message
	var ack joinAck
	acked := false
	// Live messages may arrive before the ack, which follows the replay.
	for len(got) < 120 || !acked {
		f := bob.Read()
		switch {
		case f.Ack == 2:
			require.Nil(t, f.Error)
			ack, acked = testenv.DecodeInto[joinAck](t, f.Data), true
		case f.Event == "new-message":
			got = append(got, testenv.DecodeInto[realtime.Message](t, f.Data))
		}
	}
	<-done
	require.True(t, ack.Recovered)
	require.GreaterOrEqual(t, ack.Missed, 100)
	for i, m := range got {
		require.Equal(t, uint64(i+2), m.Seq, "message %d", i)
		require.Equal(t, fmt.Sprint(i), m.Content)
	}
}

func TestResumeCannotReplay(t *testing.T) {
	env := newTestHub(t, realtime.Config{
		MaxMessagesPerMinute: -1, ResumeLimit: 10,
		Store: realtime.NewMemoryStore(realtime.MemoryOptions{HistorySize: 50}),
	})
	alice, bob, eve := env.dial("alice"), env.dial("bob"), env.dial("eve")
	room := alice.createRoom("r", nil)
	secret := alice.createRoom("s", map[string]any{"type": "private"})
	first := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "first"}))
	for range 60 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": "x"})
	}
	recent := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "recent"}))
	for range 20 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": "y"})
	}
	for name, since := range map[string]string{
		"forgotten by the store": first.ID,
		"more than ResumeLimit":  recent.ID,
		"not a message":          "m_unknown",
	} {
		t.Run(name, func(t *testing.T) {
			c := env.dial("carol")
			ack := testenv.DecodeInto[joinAck](t, c.emit("join-room", map[string]any{"roomId": room.ID, "since": since}))
			require.False(t, ack.Recovered)
			require.Zero(t, ack.Missed)
			c.none("new-message", 100*time.Millisecond)
		})
	}
	// A message of another room is no cursor here.
	other := testenv.DecodeInto[msgAck](t, alice.emit("message", map[string]any{"roomId": secret.ID, "content": "s"}))
	ack := testenv.DecodeInto[joinAck](t, bob.emit("join-room", map[string]any{"roomId": room.ID, "since": other.ID}))
	require.False(t, ack.Recovered)
	// Resume re-checks authorization like any join.
	eve.emitErr(realtime.CodeForbidden, "join-room", map[string]any{"roomId": secret.ID, "since": other.ID})
	eve.none("new-message", 100*time.Millisecond)
}

// TestClientResumesByItself: the Go client rejoins with since after a drop,
// so that the application sees every message once, in order.
func TestClientResumesByItself(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1})
	alice := env.dial("alice")
	bob := env.dialWith(client.DialOptions{Token: env.token("bob"), MinBackoff: 300 * time.Millisecond})
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "before"})
	require.Equal(t, "before", testenv.DecodeInto[realtime.Message](t, bob.next("new-message")).Content)

	bob.Drop()
	require.Eventually(t, func() bool { return env.hub.UserConnections("bob") == 0 }, 5*time.Second, 5*time.Millisecond)
	for i := range 50 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})
	}
	go func() {
		// Live messages while bob resumes.
		for i := 50; i < 60; i++ {
			if _, err := alice.Emit(t.Context(), "message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var contents []string
	var rejoined *client.Rejoined
	timeout := time.After(10 * time.Second)
	for len(contents) < 60 || rejoined == nil {
		select {
		case ev := <-bob.Events():
			switch ev.Name {
			case "new-message":
				m := testenv.DecodeInto[realtime.Message](t, ev.Data)
				contents = append(contents, m.Content)
				require.Equal(t, uint64(len(contents)+1), m.Seq, "in order, once")
			case client.EventRejoined:
				r := testenv.DecodeInto[client.Rejoined](t, ev.Data)
				rejoined = &r
			}
		case <-timeout:
			t.Fatalf("got %d of 60 messages", len(contents))
		}
	}
	require.NotNil(t, rejoined)
	require.True(t, rejoined.Recovered)
	require.GreaterOrEqual(t, rejoined.Missed, 50)
	for i, c := range contents {
		require.Equal(t, fmt.Sprint(i), c)
	}
}

// TestEditFollowsSendRules: an edit is refused to a muted member or one who
// left, and goes through the OnMessage filter like a send.
func TestEditFollowsSendRules(t *testing.T) {
	env := newTestHub(t, realtime.Config{OnMessage: func(_ context.Context, m *realtime.Message) error {
		m.Content = strings.ReplaceAll(m.Content, "darn", "****")
		return nil
	}})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	sent := testenv.DecodeInto[msgAck](t, bob.emit("message", map[string]any{"roomId": room.ID, "content": "hi"}))

	edited := testenv.DecodeInto[struct{ Message realtime.Message }](t, bob.emit("edit-message", map[string]any{"messageId": sent.ID, "content": "darn"})).Message
	require.Equal(t, "****", edited.Content)

	alice.emit("update-member", map[string]any{"roomId": room.ID, "userId": "bob", "isMuted": true})
	bob.emitErr(realtime.CodeForbidden, "edit-message", map[string]any{"messageId": sent.ID, "content": "muted edit"})
	alice.emit("update-member", map[string]any{"roomId": room.ID, "userId": "bob", "isMuted": false})
	bob.emit("leave-room", map[string]any{"roomId": room.ID})
	bob.emitErr(realtime.CodeForbidden, "edit-message", map[string]any{"messageId": sent.ID, "content": "gone edit"})
	h := testenv.DecodeInto[struct{ Messages []realtime.Message }](t, alice.emit("get-history", map[string]any{"roomId": room.ID}))
	require.Equal(t, "****", h.Messages[0].Content)
}
