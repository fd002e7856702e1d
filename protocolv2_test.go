package realtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/wire"
)

// bothVersions returns a hub where alice has created a room that bob, on
// realtime.v1, and carol, on realtime.v2, have joined.
func bothVersions(t *testing.T) (env *testEnv, alice *tclient, room realtime.Room, v1, v2 *tclient) {
	env = newTestHub(t, realtime.Config{})
	alice = env.dial("alice")
	room = alice.createRoom("both", nil)
	v1 = env.dial("bob")
	v2 = env.dialWith(client.DialOptions{Token: env.token("carol"), Protocol: client.ProtocolV2})
	for _, c := range []*tclient{v1, v2} {
		c.emit("join-room", map[string]any{"roomId": room.ID})
	}
	return env, alice, room, v1, v2
}

// TestProtocolV2: a client that asks for realtime.v2 gets it, and its
// message pushes (new-message, message-edited) carry the sender's id once,
// as sender.id, while a realtime.v1 client in the same room still gets
// senderId; everything else is the same bytes. Decoding a v2 push into a
// realtime.Message sets SenderID.
func TestProtocolV2(t *testing.T) {
	env, alice, room, v1, v2 := bothVersions(t)

	content := `a "quoted" word, a back\slash, <b>, é and 😀, and ,"senderId":"alice" inside`
	ack := alice.emit("message", map[string]any{"roomId": room.ID, "content": content, "clientMsgId": "c1"})
	var sent struct{ ID string }
	require.NoError(t, json.Unmarshal(ack, &sent))
	alice.emit("edit-message", map[string]any{"messageId": sent.ID, "content": "edited"})

	for _, event := range []string{"new-message", "message-edited"} {
		old, compact := v1.next(event), v2.next(event)
		var oldFields, compactFields map[string]any
		require.NoError(t, json.Unmarshal(old, &oldFields))
		require.NoError(t, json.Unmarshal(compact, &compactFields))
		require.Equal(t, "alice", oldFields["senderId"], event)
		require.NotContains(t, compactFields, "senderId", "%s over realtime.v2: %s", event, compact)
		require.Equal(t, "alice", compactFields["sender"].(map[string]any)["id"], event)
		delete(oldFields, "senderId")
		require.Equal(t, oldFields, compactFields, "%s: nothing else differs", event)
		require.Len(t, compact, len(old)-len(`,"senderId":"alice"`), event)

		var m realtime.Message
		require.NoError(t, json.Unmarshal(compact, &m))
		require.Equal(t, "alice", m.SenderID, "decoded into a Message")
		require.Equal(t, sent.ID, m.ID)
		if event == "new-message" {
			require.Equal(t, content, m.Content)
		}
	}

	// Messages the host posts: on alice's behalf, with metadata (encoded
	// by encoding/json), and its own, whose sender has no id.
	ctx := context.Background()
	_, err := env.hub.PostMessage(ctx, realtime.PostOptions{RoomID: room.ID, Sender: &realtime.UserRef{ID: "alice"},
		Type: realtime.TypeText, Content: "on her behalf", Metadata: json.RawMessage(`{"senderId":"x"}`)})
	require.NoError(t, err)
	require.NotContains(t, string(v2.next("new-message")), `,"senderId"`)
	require.Contains(t, string(v1.next("new-message")), `,"senderId":"alice"`)
	_, err = env.hub.PostMessage(ctx, realtime.PostOptions{RoomID: room.ID, SenderName: "Server", Content: "from the host"})
	require.NoError(t, err)
	var m realtime.Message
	require.NoError(t, json.Unmarshal(v2.next("new-message"), &m))
	require.Equal(t, "", m.SenderID)
	require.Equal(t, "Server", m.Sender.Username)
	require.Contains(t, string(v1.next("new-message")), `"senderId":""`)
}

// TestProtocolV2HostEvents: a push the host names new-message itself
// (SendToRoom takes any name) reaches realtime.v2 clients as it reaches
// realtime.v1 ones unless its data is laid out as a Message: a nested
// senderId is never cut.
func TestProtocolV2HostEvents(t *testing.T) {
	env, _, room, v1, v2 := bothVersions(t)
	data := json.RawMessage(`{"quote":{"id":"q","senderId":"x","sender":{"id":"x"}},"senderId":"y","sender":{"id":"z"}}`)
	require.NoError(t, env.hub.SendToRoom(context.Background(), room.ID, "new-message", data))
	require.Equal(t, string(v1.next("new-message")), string(v2.next("new-message")))
}

// TestProtocolNegotiation: the hub picks realtime.v2 only when the client
// offers it, prefers it when both are offered, and serves a client that
// offers no subprotocol as realtime.v1; a client asking for an unknown
// version gets an error from Dial.
func TestProtocolNegotiation(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	for _, tc := range []struct {
		offer []string
		want  string
	}{
		{[]string{wire.Subprotocol}, wire.Subprotocol},
		{[]string{wire.SubprotocolV2}, wire.SubprotocolV2},
		{[]string{wire.Subprotocol, wire.SubprotocolV2}, wire.SubprotocolV2},
		{nil, ""},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ws, _, err := websocket.Dial(ctx, env.url, &websocket.DialOptions{
			HTTPHeader:   http.Header{"Authorization": {"Bearer " + env.token("dave")}},
			Subprotocols: tc.offer,
		})
		require.NoError(t, err)
		require.Equal(t, tc.want, ws.Subprotocol(), "offered %v", tc.offer)
		_, frame, err := ws.Read(ctx)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(frame), `{"event":"connected"`), "%s", frame)
		ws.Close(websocket.StatusNormalClosure, "")
		cancel()
	}
	_, err := client.Dial(context.Background(), env.url, client.DialOptions{Token: env.token("dave"), Protocol: "realtime.v9"})
	require.ErrorContains(t, err, "unknown protocol")
}
