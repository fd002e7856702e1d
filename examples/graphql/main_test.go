package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = testenv.Secret

// start runs the example with JWT_SECRET set and returns its base URL.
func start(t testing.TB) string {
	t.Helper()
	t.Setenv("JWT_SECRET", secret)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(a net.Addr) { addrs <- a }) }()
	select {
	case a := <-addrs:
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
		})
		return "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("the example did not start: %v", err)
	}
	return ""
}

func token(t testing.TB, user string, ttl time.Duration) string {
	t.Helper()
	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(secret)})
	require.NoError(t, err)
	tok, err := j.Sign(realtime.User{ID: user, Username: user}, ttl)
	require.NoError(t, err)
	return tok
}

// post runs a query or mutation over HTTP as user and returns its data,
// failing on errors.
func post(t testing.TB, base, tok, query string, vars map[string]any) json.RawMessage {
	t.Helper()
	data, errs := postRaw(t, base, tok, query, vars)
	require.Empty(t, errs, "%s", query)
	return data
}

func postRaw(t testing.TB, base, tok, query string, vars map[string]any) (json.RawMessage, []gqlError) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest("POST", base+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Data, out.Errors
}

type gqlError struct {
	Message    string
	Extensions struct{ Code string }
}

// wsClient is a raw graphql-transport-ws client.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

func dialWS(t *testing.T, base string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	return &wsClient{t: t, ws: ws}
}

// connect dials and initialises a connection with tok.
func connect(t *testing.T, base, tok string) *wsClient {
	c := dialWS(t, base)
	c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(fmt.Sprintf(`{"token":%q}`, tok))})
	require.Equal(t, "connection_ack", c.read().Type)
	return c
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	b, _ := json.Marshal(m)
	c.sendRaw(string(b))
}

func (c *wsClient) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageText, []byte(s)))
}

func (c *wsClient) read() wsMessage {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	require.NoError(c.t, err)
	var m wsMessage
	require.NoError(c.t, json.Unmarshal(b, &m))
	return m
}

func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	c.send(wsMessage{ID: id, Type: "subscribe", Payload: b})
}

// closeCode reads until the server closes and returns its code.
func (c *wsClient) closeCode() websocket.StatusCode {
	c.t.Helper()
	return testenv.CloseStatus(c.t, c.ws)
}

// nextMessage reads the next "next" payload's data.messageAdded.
func (c *wsClient) nextMessage(id string) realtime.Message {
	c.t.Helper()
	m := c.read()
	require.Equal(c.t, "next", m.Type, "%s", m.Payload)
	require.Equal(c.t, id, m.ID)
	var p struct {
		Data struct {
			MessageAdded struct {
				ID      string
				Seq     uint64
				Content string
				Sender  struct{ ID string }
			}
		}
	}
	require.NoError(c.t, json.Unmarshal(m.Payload, &p), "%s", m.Payload)
	a := p.Data.MessageAdded
	return realtime.Message{ID: a.ID, Seq: a.Seq, Content: a.Content, SenderID: a.Sender.ID}
}

const messageAdded = `subscription($room: ID!, $since: Int) { messageAdded(roomId: $room, since: $since) { id seq content sender { id username } } }`

// TestSubscriptionSeesEveryClient: a GraphQL subscriber receives, in seq
// order, messages from a native client, from a GraphQL mutation and from
// the host, resumes with since, and its queries and mutations act as the
// user.
func TestSubscriptionSeesEveryClient(t *testing.T) {
	base := start(t)
	alice, bob := token(t, "alice", time.Hour), token(t, "bob", time.Hour)
	var created struct{ CreateRoom struct{ ID string } }
	require.NoError(t, json.Unmarshal(post(t, base, alice, `mutation { createRoom(name: "gql") { id } }`, nil), &created))
	room := created.CreateRoom.ID
	post(t, base, bob, `mutation($r: ID!) { joinRoom(roomId: $r) { id memberCount } }`, map[string]any{"r": room})

	sub := connect(t, base, bob)
	sub.subscribe("1", messageAdded, map[string]any{"room": room})
	time.Sleep(50 * time.Millisecond) // the subscription is taken before the messages

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	native, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", client.DialOptions{Token: alice})
	require.NoError(t, err)
	defer native.Close()
	want := []string{}
	for i := range 6 {
		content := fmt.Sprintf(`%d "quoted" \ é 😀`, i)
		if i%2 == 0 {
			_, err := native.Emit(ctx, "message", map[string]any{"roomId": room, "content": content})
			require.NoError(t, err)
		} else {
			post(t, base, alice, `mutation($r: ID!, $c: String!, $k: String) { sendMessage(roomId: $r, content: $c, clientMsgId: $k) { id seq } }`,
				map[string]any{"r": room, "c": content, "k": fmt.Sprint("k", i)})
		}
		want = append(want, content)
	}
	for i, content := range want {
		m := sub.nextMessage("1")
		require.Equal(t, uint64(i+1), m.Seq)
		require.Equal(t, content, m.Content)
		require.Equal(t, "alice", m.SenderID)
	}

	// Resume: since replays what was stored after it.
	late := connect(t, base, bob)
	late.subscribe("r", messageAdded, map[string]any{"room": room, "since": 4})
	for _, seq := range []uint64{5, 6} {
		require.Equal(t, seq, late.nextMessage("r").Seq)
	}

	// Queries and mutations.
	var q struct {
		Me    struct{ ID string }
		Rooms []struct{ ID string }
		Room  struct {
			Room    struct{ MemberCount int }
			Members []struct{ UserID string }
		}
		History struct {
			Messages []struct{ Seq int }
			HasMore  bool
		}
	}
	require.NoError(t, json.Unmarshal(post(t, base, bob, `query($r: ID!) { me { id } rooms { id } room(id: $r) { room { memberCount } members { userId } }
		history(roomId: $r, limit: 4) { messages { seq } hasMore } }`, map[string]any{"r": room}), &q))
	require.Equal(t, "bob", q.Me.ID)
	require.Len(t, q.Room.Members, 2)
	require.Len(t, q.History.Messages, 4)
	require.True(t, q.History.HasMore)
	var first struct {
		History struct{ Messages []struct{ ID string } }
	}
	require.NoError(t, json.Unmarshal(post(t, base, alice, `query($r: ID!) { history(roomId: $r, limit: 1) { messages { id } } }`, map[string]any{"r": room}), &first))
	msgID := first.History.Messages[0].ID
	_, errs := postRaw(t, base, bob, `mutation($m: ID!) { editMessage(messageId: $m, content: "hijack") { id } }`, map[string]any{"m": msgID})
	require.Equal(t, "forbidden", errs[0].Extensions.Code, "bob edits alice's message")
	post(t, base, alice, `mutation($m: ID!) { editMessage(messageId: $m, content: "edited") { content } }`, map[string]any{"m": msgID})
	post(t, base, alice, `mutation($m: ID!) { deleteMessage(messageId: $m) }`, map[string]any{"m": msgID})
	_, errs = postRaw(t, base, "", `query { me { id } }`, nil)
	require.Equal(t, "unauthorized", errs[0].Extensions.Code)
}

// TestSubscriptionAuthorization: a room the user cannot read is refused at
// subscribe time; removal from the room ends the subscription with an
// error; notificationReceived carries only the user's own.
func TestSubscriptionAuthorization(t *testing.T) {
	base := start(t)
	alice, bob, carol := token(t, "alice", time.Hour), token(t, "bob", time.Hour), token(t, "carol", time.Hour)
	var created struct{ CreateRoom struct{ ID string } }
	require.NoError(t, json.Unmarshal(post(t, base, alice, `mutation { createRoom(name: "secret", isPrivate: true) { id } }`, nil), &created))
	room := created.CreateRoom.ID

	c := connect(t, base, bob)
	c.subscribe("1", messageAdded, map[string]any{"room": room})
	m := c.read()
	require.Equal(t, "error", m.Type, "%s", m.Payload)
	require.Contains(t, string(m.Payload), "forbidden")

	// Bob is added, subscribes, and is removed: the subscription ends with
	// an error.
	native, err := client.Dial(t.Context(), "ws"+strings.TrimPrefix(base, "http")+"/ws", client.DialOptions{Token: alice})
	require.NoError(t, err)
	defer native.Close()
	_, err = native.Emit(t.Context(), "add-member", map[string]any{"roomId": room, "userId": "bob"})
	require.NoError(t, err)
	c.subscribe("2", messageAdded, map[string]any{"room": room})
	time.Sleep(50 * time.Millisecond)
	_, err = native.Emit(t.Context(), "message", map[string]any{"roomId": room, "content": "before"})
	require.NoError(t, err)
	require.Equal(t, "before", c.nextMessage("2").Content)
	start := time.Now()
	_, err = native.Emit(t.Context(), "remove-member", map[string]any{"roomId": room, "userId": "bob"})
	require.NoError(t, err)
	for {
		m := c.read()
		if m.Type == "error" {
			require.Equal(t, "2", m.ID)
			require.Contains(t, string(m.Payload), "forbidden")
			break
		}
	}
	t.Logf("removal ended the subscription after %v", time.Since(start))

	// Notifications: each user's own.
	nb := connect(t, base, bob)
	nb.subscribe("n", `subscription { notificationReceived { type title } }`, nil)
	nc := connect(t, base, carol)
	nc.subscribe("n", `subscription { notificationReceived { type title } }`, nil)
	time.Sleep(50 * time.Millisecond)
	_, err = native.Emit(t.Context(), "add-member", map[string]any{"roomId": room, "userId": "carol"})
	require.NoError(t, err)
	got := nc.read()
	require.Equal(t, "next", got.Type)
	require.Contains(t, string(got.Payload), "room-invite")
	var notes struct{ Notifications struct{ Unread int } }
	require.NoError(t, json.Unmarshal(post(t, base, carol, `query { notifications { unread } }`, nil), &notes))
	require.Equal(t, 1, notes.Notifications.Unread)
	nb.send(wsMessage{Type: "ping"})
	require.Equal(t, "pong", nb.read().Type, "bob got nothing of carol's")
}

// TestProtocolErrors: malformed and out-of-order messages get
// graphql-transport-ws's close codes; an expired token closes the socket.
func TestProtocolErrors(t *testing.T) {
	base := start(t)
	bob := token(t, "bob", time.Hour)
	for name, c := range map[string]struct {
		steps func(c *wsClient)
		code  websocket.StatusCode
	}{
		"bad JSON":     {func(c *wsClient) { c.sendRaw(`{"type":`) }, 4400},
		"unknown type": {func(c *wsClient) { c.sendRaw(`{"type":"hello"}`) }, 4400},
		"no id": {func(c *wsClient) {
			c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(fmt.Sprintf(`{"token":%q}`, bob))})
			c.read()
			c.sendRaw(`{"type":"subscribe","payload":{"query":"{ me { id } }"}}`)
		}, 4400},
		"subscribe too soon": {func(c *wsClient) { c.subscribe("1", `{ me { id } }`, nil) }, 4401},
		"bad token": {func(c *wsClient) {
			c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{"token":"forged"}`)})
		}, 4403},
		"two inits": {func(c *wsClient) {
			init := wsMessage{Type: "connection_init", Payload: json.RawMessage(fmt.Sprintf(`{"token":%q}`, bob))}
			c.send(init)
			c.read()
			c.send(init)
		}, 4429},
		"duplicate id": {func(c *wsClient) {
			c.send(wsMessage{Type: "connection_init", Payload: json.RawMessage(fmt.Sprintf(`{"token":%q}`, bob))})
			c.read()
			c.subscribe("1", `subscription { notificationReceived { id } }`, nil)
			c.subscribe("1", `subscription { notificationReceived { id } }`, nil)
		}, 4409},
		"no init": {func(*wsClient) {}, 4408},
	} {
		t.Run(name, func(t *testing.T) {
			ws := dialWS(t, base)
			c.steps(ws)
			require.Equal(t, c.code, ws.closeCode())
		})
	}

	short := connect(t, base, token(t, "bob", 2*time.Second))
	short.subscribe("1", `subscription { notificationReceived { id } }`, nil)
	require.Equal(t, websocket.StatusCode(4403), short.closeCode(), "the token expired")
}

// TestSubscribersShareRendering: what sharing must keep, over real
// connections. Subscribers of one operation get the same bytes for an
// event, whether their result came from the executor or straight from
// their resolver (gqlws.Stream); another selection gets its own shape, and
// other variables (dave's since: 0) their own rendering of the same
// content; every subscriber gets every message, in order, while 200 come
// close together. That a rendering is made once per operation is counted
// in graph's TestSharedEventRendersOncePerOperation.
func TestSubscribersShareRendering(t *testing.T) {
	t.Setenv("MAX_MESSAGES_PER_MINUTE", "-1")
	t.Setenv("MAX_EVENTS_PER_SECOND", "-1")
	base := start(t)
	alice := token(t, "alice", time.Hour)
	var created struct{ CreateRoom struct{ ID string } }
	require.NoError(t, json.Unmarshal(post(t, base, alice, `mutation { createRoom(name: "shared") { id } }`, nil), &created))
	room := created.CreateRoom.ID
	join := func(user string) string {
		tok := token(t, user, time.Hour)
		post(t, base, tok, `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`, map[string]any{"r": room})
		return tok
	}
	bob, carol, dave := join("bob"), join("carol"), join("dave")
	const other = `subscription($room: ID!) { m: messageAdded(roomId: $room) { type seq } }`
	bob1, bob2, carolSub, daveSub := connect(t, base, bob), connect(t, base, bob), connect(t, base, carol), connect(t, base, dave)
	bob1.subscribe("1", messageAdded, map[string]any{"room": room})
	bob2.subscribe("b", messageAdded, map[string]any{"room": room})
	carolSub.subscribe("1", other, map[string]any{"room": room})
	daveSub.subscribe("1", messageAdded, map[string]any{"room": room, "since": 0})
	time.Sleep(100 * time.Millisecond) // the subscriptions are taken before the messages

	// Sent without waiting for acks, so that events follow each other
	// closely: a subscriber's results come from the executor or, rendered
	// already, straight from its resolver, and must stay in order.
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sender, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", client.DialOptions{Token: alice})
	require.NoError(t, err)
	defer sender.Close()
	for i := range n {
		data := map[string]any{"roomId": room, "content": fmt.Sprintf(`%d "q" \ é 😀`, i)}
		if i == 0 { // connected: the others go without waiting
			_, err = sender.Emit(ctx, "message", data)
		} else {
			err = sender.Send(ctx, "message", data)
		}
		require.NoError(t, err)
	}
	payload := func(c *wsClient, id string) string {
		t.Helper()
		m := c.read()
		require.Equal(t, "next", m.Type, "%s", m.Payload)
		require.Equal(t, id, m.ID)
		return string(m.Payload)
	}
	for i := range n {
		a, b, d := payload(bob1, "1"), payload(bob2, "b"), payload(daveSub, "1")
		require.Equal(t, a, b, "one operation, the same bytes")
		require.Equal(t, a, d, "since 0 replays nothing: the same message")
		var got struct {
			Data struct {
				MessageAdded struct {
					Seq     int
					Content string
				}
			}
		}
		require.NoError(t, json.Unmarshal([]byte(a), &got))
		require.Equal(t, i+1, got.Data.MessageAdded.Seq)
		require.Equal(t, fmt.Sprintf(`%d "q" \ é 😀`, i), got.Data.MessageAdded.Content)
		require.JSONEq(t, fmt.Sprintf(`{"data":{"m":{"type":"text","seq":%d}}}`, i+1), payload(carolSub, "1"),
			"another selection is rendered for it")
	}
}
