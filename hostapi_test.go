package realtime_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
)

// requireCode checks that err is a *realtime.Error with code.
func requireCode(t *testing.T, code realtime.Code, err error) {
	t.Helper()
	var e *realtime.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, e.Code, "%v", err)
}

// TestAppNamedRooms: the host names its rooms, owns them without being a
// member, and finds them again by name; clients name rooms only when the
// Config lets them.
func TestAppNamedRooms(t *testing.T) {
	ctx := t.Context()
	env := newTestHub(t, realtime.Config{DefaultRoomExpiry: 50 * time.Millisecond})

	room, err := env.hub.CreateRoom(ctx, realtime.User{}, realtime.RoomOptions{ID: "order:42", Name: "Order 42"})
	require.NoError(t, err)
	require.Equal(t, "order:42", room.ID)
	require.Zero(t, room.MemberCount, "the host is no member")
	require.Empty(t, room.CreatedByID)
	_, err = env.hub.CreateRoom(ctx, realtime.User{}, realtime.RoomOptions{ID: "order:42", Name: "again"})
	require.ErrorIs(t, err, realtime.ErrConflict)
	for _, bad := range []string{"has space", "é", "a/b", "{x}", strings.Repeat("x", 129)} {
		_, err := env.hub.CreateRoom(ctx, realtime.User{}, realtime.RoomOptions{ID: bad, Name: "bad"})
		requireCode(t, realtime.CodeInvalid, err)
		_, _, err = env.hub.EnsureRoom(ctx, realtime.RoomOptions{ID: bad, Name: "bad"})
		requireCode(t, realtime.CodeInvalid, err)
	}
	_, _, err = env.hub.EnsureRoom(ctx, realtime.RoomOptions{Name: "no id"})
	requireCode(t, realtime.CodeInvalid, err)

	// A client joins the host's room; the member list has the client only.
	bob := env.dial("bob")
	ack := testenv.DecodeInto[joinAck](t, bob.emit("join-room", map[string]any{"roomId": "order:42"}))
	require.Equal(t, []string{"bob"}, userIDs(ack.Members))
	bob.emit("leave-room", map[string]any{"roomId": "order:42"})
	// Empty again, the host's room does not expire.
	time.Sleep(200 * time.Millisecond) // four expiry periods
	got, created, err := env.hub.EnsureRoom(ctx, realtime.RoomOptions{ID: "order:42", Name: "ignored"})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, "Order 42", got.Name)

	// Clients' rooms get generated ids unless the Config says otherwise.
	bob.emitErr(realtime.CodeInvalid, "create-room", map[string]any{"name": "mine", "id": "bobs-room"})
	named := newTestHub(t, realtime.Config{ClientRoomIDs: true})
	carol := named.dial("carol")
	require.Equal(t, "carols-room", carol.createRoom("mine", map[string]any{"id": "carols-room"}).ID)
	carol.emitErr(realtime.CodeConflict, "create-room", map[string]any{"name": "again", "id": "carols-room"})
	carol.emitErr(realtime.CodeInvalid, "create-room", map[string]any{"name": "bad", "id": "no spaces"})
}

// TestEnsureRoomRace: nodes that share PostgreSQL and ask for the same
// room at once agree on one room, created once.
func TestEnsureRoomRace(t *testing.T) {
	rc := newRedisCluster(t)
	nodes := []*testEnv{rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, "")}
	const callers = 16
	var wg sync.WaitGroup
	created := make(chan bool, callers)
	for i := range callers {
		wg.Go(func() {
			room, c, err := nodes[i%2].hub.EnsureRoom(t.Context(), realtime.RoomOptions{ID: "order:7", Name: fmt.Sprint("caller ", i)})
			if err != nil {
				t.Errorf("EnsureRoom: %v", err)
				return
			}
			if room.ID != "order:7" {
				t.Errorf("EnsureRoom returned room %q", room.ID)
			}
			created <- c
		})
	}
	wg.Wait()
	close(created)
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	require.Equal(t, 1, n, "calls that created the room")
}

// TestPostMessage: the host posts stored messages from another node: as
// the system, on behalf of a member, idempotently; a non-member is
// refused.
func TestPostMessage(t *testing.T) {
	ctx := t.Context()
	rc := newRedisCluster(t)
	a, b := rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, "")
	alice := a.dial("alice")
	room := alice.createRoom("orders", nil)
	first := testenv.DecodeInto[realtime.Message](t, alice.emit("message", map[string]any{"roomId": room.ID, "content": "hi"}))
	alice.next("new-message")

	posted, err := b.hub.PostMessage(ctx, realtime.PostOptions{RoomID: room.ID, Content: `order "42" shipped \o/ 📦`, SenderName: "Shop", ClientMsgID: "shipped-42"})
	require.NoError(t, err)
	require.Equal(t, first.Seq+1, posted.Seq)
	got := testenv.DecodeInto[realtime.Message](t, alice.next("new-message"))
	require.Equal(t, posted.ID, got.ID)
	require.Equal(t, realtime.TypeSystem, got.Type)
	require.Empty(t, got.SenderID)
	require.Equal(t, "Shop", got.Sender.Username)
	require.Equal(t, `order "42" shipped \o/ 📦`, got.Content)

	// A retry posts nothing more.
	again, err := b.hub.PostMessage(ctx, realtime.PostOptions{RoomID: room.ID, Content: `order "42" shipped \o/ 📦`, SenderName: "Shop", ClientMsgID: "shipped-42"})
	require.NoError(t, err)
	require.Equal(t, posted.ID, again.ID)

	// On behalf of a member, as any type; a non-member is refused.
	mine, err := b.hub.PostMessage(ctx, realtime.PostOptions{RoomID: room.ID, Content: "from the app", Type: realtime.TypeText, Sender: &realtime.UserRef{ID: "alice", Username: "Alice"}})
	require.NoError(t, err)
	got = testenv.DecodeInto[realtime.Message](t, alice.next("new-message"))
	require.Equal(t, mine.ID, got.ID)
	require.Equal(t, "alice", got.SenderID)
	_, err = b.hub.PostMessage(ctx, realtime.PostOptions{RoomID: room.ID, Content: "let me in", Sender: &realtime.UserRef{ID: "mallory"}})
	requireCode(t, realtime.CodeForbidden, err)
	_, err = b.hub.PostMessage(ctx, realtime.PostOptions{RoomID: "r_missing", Content: "nobody"})
	requireCode(t, realtime.CodeNotFound, err)
	for name, o := range map[string]realtime.PostOptions{
		"no content":   {RoomID: room.ID},
		"bad type":     {RoomID: room.ID, Content: "x", Type: "video"},
		"both targets": {RoomID: room.ID, RecipientID: "alice", Content: "x"},
		"metadata":     {RoomID: room.ID, Content: "x", Metadata: []byte(`[1]`)},
	} {
		_, err := b.hub.PostMessage(ctx, o)
		require.Error(t, err, name)
	}

	// History has it, once; a direct message from the host reaches the user.
	hist := testenv.DecodeInto[struct{ Messages []realtime.Message }](t, alice.emit("get-history", map[string]any{"roomId": room.ID}))
	require.Len(t, hist.Messages, 3)
	require.Equal(t, posted.ID, hist.Messages[1].ID)
	dm, err := b.hub.PostMessage(ctx, realtime.PostOptions{RecipientID: "alice", Content: "your invoice"})
	require.NoError(t, err)
	require.Equal(t, dm.ID, testenv.DecodeInto[realtime.Message](t, alice.next("new-message")).ID)
	alice.none("new-message", 100*time.Millisecond)
}

// TestDisconnect: the host closes every connection of a user on every
// node; the Go client does not come back after 4003; others stay.
func TestDisconnect(t *testing.T) {
	ctx := t.Context()
	rc := newRedisCluster(t)
	a, b := rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, "")
	onA, onB := a.raw("bob"), b.raw("bob")
	alice := a.dial("alice")
	c := b.dialWith(client.DialOptions{Token: b.token("bob"), MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})

	requireCode(t, realtime.CodeInvalid, a.hub.Disconnect(ctx, "bob", 2000, "not a close code"))
	requireCode(t, realtime.CodeInvalid, a.hub.Disconnect(ctx, "bob", realtime.StatusForbidden, strings.Repeat("x", 124)))
	start := time.Now()
	require.NoError(t, a.hub.Disconnect(ctx, "bob", realtime.StatusForbidden, "banned"))
	for _, r := range []*testenv.Raw{onA, onB} {
		require.Equal(t, websocket.StatusCode(realtime.StatusForbidden), closeStatus(t, r.WS))
	}
	t.Logf("both nodes closed bob's connections after %v", time.Since(start))
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the Go client is still running after 4003")
	}
	var ce *client.CloseError
	require.ErrorAs(t, c.Err(), &ce)
	require.Equal(t, realtime.StatusForbidden, ce.Code)
	require.Eventually(t, func() bool { return a.hub.UserConnections("bob")+b.hub.UserConnections("bob") == 0 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, a.hub.UserConnections("alice"))
	alice.emit("list-rooms", nil)
}

// TestHostRoomAPI: UpdateRoom, UpdateMember and ListMembers do what an
// admin's events do, and members hear of the changes.
func TestHostRoomAPI(t *testing.T) {
	ctx := t.Context()
	env := newTestHub(t, realtime.Config{})
	room, err := env.hub.CreateRoom(ctx, realtime.User{}, realtime.RoomOptions{ID: "team", Name: "Team"})
	require.NoError(t, err)
	var clients []*tclient
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
		c := env.dial(u)
		c.emit("join-room", map[string]any{"roomId": room.ID})
		clients = append(clients, c)
	}

	updated, err := env.hub.UpdateRoom(ctx, room.ID, realtime.RoomUpdate{Name: ptr("Squad")})
	require.NoError(t, err)
	require.Equal(t, "Squad", updated.Name)
	require.Equal(t, "Squad", testenv.DecodeInto[struct{ Room realtime.Room }](t, clients[0].next("room-updated")).Room.Name)
	_, err = env.hub.UpdateRoom(ctx, room.ID, realtime.RoomUpdate{Name: ptr("")})
	requireCode(t, realtime.CodeInvalid, err)
	_, err = env.hub.UpdateRoom(ctx, "missing", realtime.RoomUpdate{Name: ptr("x")})
	require.ErrorIs(t, err, realtime.ErrNotFound)

	m, err := env.hub.UpdateMember(ctx, room.ID, "u2", realtime.MemberUpdate{IsMuted: ptr(true)})
	require.NoError(t, err)
	require.True(t, m.IsMuted)
	require.True(t, testenv.DecodeInto[struct{ Member realtime.Member }](t, clients[0].next("member-updated")).Member.IsMuted)
	clients[1].emitErr(realtime.CodeForbidden, "message", map[string]any{"roomId": room.ID, "content": "muted"})
	_, err = env.hub.UpdateMember(ctx, room.ID, "u2", realtime.MemberUpdate{Role: ptr(realtime.Role("owner"))})
	requireCode(t, realtime.CodeInvalid, err)
	_, err = env.hub.UpdateMember(ctx, room.ID, "nobody", realtime.MemberUpdate{IsMuted: ptr(true)})
	require.ErrorIs(t, err, realtime.ErrNotFound)

	var all []string
	after := ""
	for {
		page, more, err := env.hub.ListMembers(ctx, room.ID, after, 2)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 2)
		all = append(all, userIDs(page)...)
		if !more {
			break
		}
		after = page[len(page)-1].UserID
	}
	require.Equal(t, []string{"u1", "u2", "u3", "u4", "u5"}, all)
	_, _, err = env.hub.ListMembers(ctx, room.ID, "nobody", 2)
	requireCode(t, realtime.CodeNotFound, err)
	_, _, err = env.hub.ListMembers(ctx, "missing", "", 0)
	require.ErrorIs(t, err, realtime.ErrNotFound)
}

func ptr[T any](v T) *T { return &v }

// TestConnectionsAcrossNodes: the connections of every node, each with its
// record, from either node.
func TestConnectionsAcrossNodes(t *testing.T) {
	ctx := t.Context()
	rc := newRedisCluster(t)
	a, b := rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, "")
	alice := a.dial("alice")
	room := alice.createRoom("r", nil)
	ws, _, err := websocket.Dial(ctx, b.url, &websocket.DialOptions{HTTPHeader: http.Header{
		"Authorization": {"Bearer " + b.token("bob")}, "User-Agent": {"bob-agent/1.0"}}})
	require.NoError(t, err)
	defer ws.CloseNow()
	sub, err := b.hub.Subscribe(ctx, realtime.User{ID: "alice"}, room.ID, realtime.SubscribeOptions{})
	require.NoError(t, err)
	defer sub.Close()
	require.Eventually(t, func() bool { return b.hub.Stats().Connections == 2 }, 10*time.Second, time.Millisecond)

	for _, from := range []*testEnv{a, b} {
		conns, err := from.hub.Connections(ctx)
		require.NoError(t, err)
		require.Len(t, conns, 3)
		byUser := map[string][]realtime.ConnectionInfo{}
		for _, c := range conns {
			byUser[c.User.ID] = append(byUser[c.User.ID], c)
			require.NotEmpty(t, c.ID)
			require.WithinDuration(t, time.Now(), c.ConnectedAt, time.Minute)
		}
		require.Len(t, byUser["alice"], 2)
		require.Len(t, byUser["bob"], 1)
		bob := byUser["bob"][0]
		require.Equal(t, b.hub.NodeID(), bob.Node)
		require.Equal(t, "websocket", bob.Transport)
		require.Equal(t, "bob-agent/1.0", bob.UserAgent)
		require.Contains(t, bob.RemoteAddr, "127.0.0.1:")
		for _, c := range byUser["alice"] {
			switch c.Node {
			case a.hub.NodeID():
				require.Equal(t, "websocket", c.Transport)
				require.Equal(t, []string{room.ID}, c.Rooms)
			case b.hub.NodeID():
				require.Equal(t, "subscription", c.Transport)
				require.Equal(t, []string{room.ID}, c.Rooms)
			default:
				t.Fatalf("alice on an unknown node %q", c.Node)
			}
		}
	}
}

// TestBan: Disconnect with 4003 and an OnConnect that refuses the user keep
// a banned user out: its reconnects are refused with 4003, others connect.
func TestBan(t *testing.T) {
	var mu sync.Mutex
	banned := map[string]bool{}
	env := newTestHub(t, realtime.Config{OnConnect: func(_ context.Context, e realtime.ConnectEvent) error {
		mu.Lock()
		defer mu.Unlock()
		if banned[e.User.ID] {
			return &realtime.CloseError{Code: realtime.StatusForbidden, Reason: "banned"}
		}
		return nil
	}})
	mallory := env.raw("mallory")
	mu.Lock()
	banned["mallory"] = true
	mu.Unlock()
	require.NoError(t, env.hub.Disconnect(t.Context(), "mallory", realtime.StatusForbidden, "banned"))
	require.Equal(t, websocket.StatusCode(realtime.StatusForbidden), closeStatus(t, mallory.WS))

	ws, _, err := websocket.Dial(t.Context(), env.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + env.token("mallory")}}})
	require.NoError(t, err)
	require.Equal(t, websocket.StatusCode(realtime.StatusForbidden), closeStatus(t, ws), "a banned user's reconnect")
	env.dial("alice")
}
