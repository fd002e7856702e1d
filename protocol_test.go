package realtime_test

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

// TestBadInputKeepsConnection: every malformed frame gets an invalid error,
// the connection stays usable and a bystander in the room keeps receiving.
func TestBadInputKeepsConnection(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxEventsPerSecond: -1})
	alice, bystander := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bystander.emit("join-room", map[string]any{"roomId": room.ID})
	r := env.raw("mallory")

	for _, tc := range []struct {
		name, frame string
		ack         uint64 // the reply carries it when the frame had a valid one
		event       string // the error push names it when it was readable
	}{
		{"malformed JSON", `{"event":"message",`, 0, ""},
		{"JSON array", `[{"event":"list-rooms"}]`, 0, ""},
		{"JSON string", `"list-rooms"`, 0, ""},
		{"invalid UTF-8", "{\"event\":\"message\",\"data\":{\"content\":\"\xff\xfe\"}}", 0, ""},
		{"unknown event", `{"event":"launch-missiles","ack":1}`, 1, ""},
		{"unknown event without ack", `{"event":"launch-missiles"}`, 0, "launch-missiles"},
		{"event not a string", `{"event":7,"ack":2}`, 2, ""},
		{"data not an object", `{"event":"join-room","data":"r","ack":3}`, 3, ""},
		{"field of wrong type", `{"event":"join-room","data":{"roomId":12},"ack":4}`, 4, ""},
		{"wrong type without ack", `{"event":"message","data":{"roomId":["x"],"content":"x"}}`, 0, "message"},
		{"bad ack", `{"event":"list-rooms","ack":-5}`, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.Write(tc.frame)
			f := r.Read()
			if tc.ack != 0 {
				require.Equal(t, tc.ack, f.Ack)
				require.NotNil(t, f.Error)
				require.Equal(t, "invalid", f.Error.Code)
				return
			}
			require.Equal(t, "error", f.Event, "%s", f.Data)
			e := testenv.DecodeInto[struct{ Code, Message, Event string }](t, f.Data)
			require.Equal(t, "invalid", e.Code)
			require.NotEmpty(t, e.Message)
			require.Equal(t, tc.event, e.Event)
		})
	}
	// Every frame above was answered once, and the connection still works.
	r.Write(`{"event":"list-rooms","ack":99}`)
	f := r.Read()
	require.Equal(t, uint64(99), f.Ack)
	require.Nil(t, f.Error)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "still here"})
	require.Equal(t, "still here", testenv.DecodeInto[realtime.Message](t, bystander.next("new-message")).Content)
}

func TestEveryAckAnsweredOnce(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxEventsPerSecond: -1})
	r := env.raw("alice")
	for i := 1; i <= 20; i++ {
		r.Write(`{"event":"list-rooms","ack":` + strconv.Itoa(i) + `}`)
		r.Write(`{"event":"nope","ack":` + strconv.Itoa(100+i) + `}`)
	}
	seen := map[uint64]int{}
	for range 40 {
		seen[r.Read().Ack]++
	}
	require.Len(t, seen, 40)
	for ack, n := range seen {
		require.Equal(t, 1, n, "ack %d", ack)
	}
}

// TestHugeFrameClosed1009: a 10 MB frame closes the connection with 1009,
// and the server does not buffer it.
func TestHugeFrameClosed1009(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	r := env.raw("mallory")
	bystander := env.dial("bob")

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	huge := append([]byte(`{"event":"message","data":{"content":"`), bytes.Repeat([]byte("a"), 10<<20)...)
	huge = append(huge, `"}}`...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.WS.Write(ctx, websocket.MessageText, huge) // may fail once the server closes
	require.Equal(t, websocket.StatusMessageTooBig, closeStatus(t, r.WS))

	huge = nil
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// The test itself held the 10 MB frame; the server must not have kept a
	// copy of it.
	require.Less(t, int64(after.HeapInuse)-int64(before.HeapInuse), int64(4<<20))
	bystander.emit("list-rooms", nil)
}

func TestUnauthenticatedEventsRefused(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, env.url, nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	r := testenv.NewRaw(t, ws)
	r.Write(`{"event":"list-rooms","ack":1}`)
	f := r.Read()
	require.Equal(t, uint64(1), f.Ack)
	require.Equal(t, "unauthorized", f.Error.Code)
	r.Write(`{"event":"auth","data":{"token":"forged"},"ack":2}`)
	require.Equal(t, "unauthorized", r.Read().Error.Code)

	// Then it authenticates with an auth event.
	r.Write(`{"event":"auth","data":{"token":"` + env.token("alice") + `"},"ack":3}`)
	f = r.Read()
	require.Equal(t, uint64(3), f.Ack)
	require.Equal(t, "alice", testenv.DecodeInto[struct{ User realtime.UserRef }](t, f.Data).User.ID)
	require.Equal(t, "connected", r.Read().Event)
	r.Write(`{"event":"list-rooms","ack":4}`)
	require.Nil(t, r.Read().Error)
}
