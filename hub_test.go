package realtime_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/adapter/memadapter"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/sqlstore"
)

func TestSmokeRoomChat(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("general", nil)
	require.Equal(t, "general", room.Name)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.next("user-joined")
	ack := testenv.DecodeInto[struct {
		ID  string
		Seq uint64
	}](t, bob.emit("message", map[string]any{"roomId": room.ID, "content": "hi"}))
	require.Equal(t, uint64(1), ack.Seq)
	msg := testenv.DecodeInto[realtime.Message](t, alice.next("new-message"))
	require.Equal(t, "hi", msg.Content)
	require.Equal(t, "bob", msg.SenderID)
	require.Equal(t, ack.ID, msg.ID)
}

func TestShutdown(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice := env.dialWith(client.DialOptions{Token: env.token("alice"), NoReconnect: true})
	r := env.raw("bob")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// bob reads while the hub shuts down, as a live client does: the close
	// handshake completes at once instead of waiting out its timeout.
	bobClosed := make(chan websocket.StatusCode, 1)
	go func() { bobClosed <- websocket.CloseStatus(testenv.ReadUntilError(ctx, r.WS)) }()
	require.NoError(t, env.hub.Shutdown(ctx))
	require.Equal(t, websocket.StatusGoingAway, <-bobClosed)
	<-alice.Done()
	var ce *client.CloseError
	require.ErrorAs(t, alice.Err(), &ce)
	require.Equal(t, realtime.StatusGoingAway, ce.Code)

	// New upgrades are refused with 503.
	_, resp, err := websocket.Dial(ctx, env.url, nil)
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	// Idempotent, in any order.
	require.NoError(t, env.hub.Shutdown(ctx))
	require.NoError(t, env.hub.Close())
	require.ErrorIs(t, env.hub.SendToRoom(ctx, "r", "x", nil), realtime.ErrHubClosed)
}

func TestCloseDropsConnections(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	c := env.dialWith(client.DialOptions{Token: env.token("alice"), NoReconnect: true})
	require.NoError(t, env.hub.Close())
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection outlived Close")
	}
	require.NoError(t, env.hub.Close())
	require.NoError(t, env.hub.Shutdown(context.Background()))
}

func TestServerAPI(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	ctx := context.Background()
	alice, bob, bob2 := env.dial("alice"), env.dial("bob"), env.dial("bob")

	room, err := env.hub.CreateRoom(ctx, realtime.User{ID: "alice", Username: "Alice"}, realtime.RoomOptions{Name: "ops", Private: true})
	require.NoError(t, err)
	require.True(t, room.IsPrivate)
	m, err := env.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: "bob", Username: "Bob"}, "")
	require.NoError(t, err)
	require.Equal(t, realtime.RoleMember, m.Role)
	alice.emit("join-room", map[string]any{"roomId": room.ID})
	bob.emit("join-room", map[string]any{"roomId": room.ID})

	require.NoError(t, env.hub.SendToRoom(ctx, room.ID, "deploy-started", map[string]string{"version": "1.2"}))
	for _, c := range []*tclient{alice, bob} {
		require.JSONEq(t, `{"version":"1.2"}`, string(c.next("deploy-started")))
	}
	bob2.none("deploy-started", 100*time.Millisecond) // not subscribed to the room

	require.NoError(t, env.hub.SendToUser(ctx, "bob", "notification", map[string]string{"title": "hi"}))
	bob.next("notification")
	bob2.next("notification")
	alice.none("notification", 100*time.Millisecond)

	require.NoError(t, env.hub.Broadcast(ctx, "maintenance", map[string]int{"inMinutes": 5}))
	for _, c := range []*tclient{alice, bob, bob2} {
		c.next("maintenance")
	}
	require.Error(t, env.hub.Broadcast(ctx, "Bad Name", nil))
	require.Error(t, env.hub.Broadcast(ctx, strings.Repeat("a", 129), nil), "a name over 128 bytes")

	require.Equal(t, realtime.Stats{Connections: 3, Users: 2, Rooms: 1}, env.hub.Stats())
	require.Equal(t, 2, env.hub.UserConnections("bob"))

	require.NoError(t, env.hub.Kick(ctx, room.ID, "bob", "spam"))
	require.Equal(t, "spam", testenv.DecodeInto[struct{ Reason string }](t, bob.next("kicked")).Reason)
	bob2.next("kicked")
	require.ErrorIs(t, env.hub.Kick(ctx, room.ID, "bob", ""), realtime.ErrNotFound)
	bob.emitErr(realtime.CodeForbidden, "join-room", map[string]any{"roomId": room.ID})

	rooms, err := env.hub.Rooms(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, rooms, 1)
	require.NoError(t, env.hub.DeleteRoom(ctx, room.ID))
	alice.next("room-deleted")
}

func TestHooks(t *testing.T) {
	var mu sync.Mutex
	var connected, disconnected []string
	env := newTestHub(t, realtime.Config{
		OnConnect: func(ctx context.Context, e realtime.ConnectEvent) error {
			mu.Lock()
			defer mu.Unlock()
			connected = append(connected, e.User.ID)
			switch e.User.ID {
			case "banned":
				return &realtime.CloseError{Code: realtime.StatusForbidden, Reason: "banned"}
			case "broken":
				return errors.New("some internal failure")
			}
			return nil
		},
		OnDisconnect: func(_ context.Context, e realtime.DisconnectEvent) {
			mu.Lock()
			defer mu.Unlock()
			disconnected = append(disconnected, e.User.ID+":"+strconv.Itoa(int(e.Code)))
		},
		AuthorizeJoin: func(ctx context.Context, e realtime.JoinEvent) error {
			if e.Room.Name == "vip" && e.User.ID != "alice" {
				return realtime.Errorf(realtime.CodeForbidden, "vip only")
			}
			return nil
		},
		OnMessage: func(ctx context.Context, m *realtime.Message) error {
			if strings.Contains(m.Content, "spam") {
				return realtime.Errorf(realtime.CodeInvalid, "no spam")
			}
			m.Content = strings.ReplaceAll(m.Content, "darn", "****")
			m.SenderID = "forged-by-hook" // identity cannot be rewritten
			return nil
		},
	})
	for _, id := range []string{"banned", "broken"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.Dial(ctx, env.url, client.DialOptions{Token: env.token(id), NoReconnect: true})
		cancel()
		var ce *client.CloseError
		require.ErrorAs(t, err, &ce, id)
		require.Equal(t, realtime.StatusForbidden, ce.Code)
	}

	alice, bob := env.dial("alice"), env.dial("bob")
	vip := alice.createRoom("vip", nil)
	bob.emitErr(realtime.CodeForbidden, "join-room", map[string]any{"roomId": vip.ID})
	lobby := alice.createRoom("lobby", nil)
	bob.emit("join-room", map[string]any{"roomId": lobby.ID})
	bob.emitErr(realtime.CodeInvalid, "message", map[string]any{"roomId": lobby.ID, "content": "buy spam"})
	bob.emit("message", map[string]any{"roomId": lobby.ID, "content": "oh darn"})
	m := testenv.DecodeInto[realtime.Message](t, alice.next("new-message"))
	require.Equal(t, "oh ****", m.Content)
	require.Equal(t, "bob", m.SenderID)

	require.NoError(t, bob.Close())
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(disconnected, "bob:1000")
	}, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Subset(t, connected, []string{"banned", "broken", "alice", "bob"})
	require.NotContains(t, strings.Join(disconnected, ","), "banned", "refused connections were never connected")
}

// TestPanickingHook: a hook that panics ends at most the connection it was
// serving, with 1011, is logged, and the hub goes on: OnMessage and
// OnConnect panics close their connection; OnDisconnect and OnPresence
// panics close nothing.
func TestPanickingHook(t *testing.T) {
	disconnected := make(chan realtime.DisconnectEvent, 4)
	env := newTestHub(t, realtime.Config{
		PresenceGrace: time.Millisecond,
		OnConnect: func(ctx context.Context, e realtime.ConnectEvent) error {
			if e.User.ID == "crasher" {
				panic("connect hook bug")
			}
			return nil
		},
		OnMessage: func(ctx context.Context, m *realtime.Message) error {
			if m.Content == "boom" {
				panic("message hook bug")
			}
			return nil
		},
		OnDisconnect: func(_ context.Context, e realtime.DisconnectEvent) {
			disconnected <- e
			panic("disconnect hook bug")
		},
		OnPresence: func(_ context.Context, p realtime.Presence) {
			if p.UserID == "mallory" {
				panic("presence hook bug")
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, env.url, client.DialOptions{Token: env.token("crasher"), NoReconnect: true})
	var ce *client.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, realtime.StatusInternal, ce.Code)

	alice := env.dial("alice")
	room := alice.createRoom("r", nil)
	mallory := env.raw("mallory")
	mallory.Write(`{"event":"join-room","data":{"roomId":"` + room.ID + `"},"ack":1}`)
	require.Equal(t, uint64(1), mallory.Read().Ack)
	mallory.Write(`{"event":"message","data":{"roomId":"` + room.ID + `","content":"boom"},"ack":2}`)
	require.Equal(t, websocket.StatusCode(realtime.StatusInternal), closeStatus(t, mallory.WS))
	select {
	case e := <-disconnected:
		require.Equal(t, "mallory", e.User.ID)
		require.Equal(t, realtime.StatusInternal, e.Code)
	case <-time.After(5 * time.Second):
		t.Fatal("OnDisconnect did not run")
	}
	require.Eventually(t, func() bool { return env.hub.UserConnections("mallory") == 0 }, 5*time.Second, 10*time.Millisecond)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "still here"})
	require.Equal(t, "still here", testenv.DecodeInto[realtime.Message](t, alice.next("new-message")).Content)
	require.Equal(t, 1, env.hub.Stats().Connections)
}

func TestClientReconnectsAndRejoins(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob := env.dial("alice"), env.dial("bob")
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})

	bob.Drop() // as a network failure would
	bob.next("connected")
	// Rejoined by the client itself: messages flow again.
	require.Eventually(t, func() bool {
		return env.hub.Stats().Connections == 2 && env.hub.UserConnections("bob") == 1
	}, 5*time.Second, 10*time.Millisecond)
	var got realtime.Message
	require.Eventually(t, func() bool {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": "are you back?"})
		select {
		case ev := <-bob.Events():
			if ev.Name == "new-message" {
				got = testenv.DecodeInto[realtime.Message](t, ev.Data)
				return true
			}
		case <-time.After(200 * time.Millisecond):
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, "are you back?", got.Content)
}

func TestZeroConfigHub(t *testing.T) {
	hub, err := realtime.New(realtime.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer hub.Close()
	url := serve(t, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, client.DialOptions{})
	require.NoError(t, err)
	defer c.Close()
	ack, err := c.Emit(ctx, "create-room", map[string]string{"name": "r"})
	require.NoError(t, err)
	id := testenv.DecodeInto[struct{ Room realtime.Room }](t, ack).Room.ID
	_, err = c.Emit(ctx, "message", map[string]string{"roomId": id, "content": "works"})
	require.NoError(t, err)
}

func TestInvalidConfig(t *testing.T) {
	for name, cfg := range map[string]realtime.Config{
		"MaxFrameBytes":  {MaxFrameBytes: 10},
		"SendQueueBytes": {MaxFrameBytes: 1 << 20, SendQueueBytes: 1 << 10},
		"AuthTimeout":    {AuthTimeout: -time.Second},
	} {
		_, err := realtime.New(cfg)
		require.ErrorContains(t, err, name)
	}
}

// TestSilentPeerClosed: a peer that completes the handshake and then never
// answers a ping is closed after PingTimeout.
func TestSilentPeerClosed(t *testing.T) {
	gone := make(chan realtime.DisconnectEvent, 1)
	env := newTestHub(t, realtime.Config{
		HeartbeatInterval: 50 * time.Millisecond,
		PingTimeout:       100 * time.Millisecond,
		OnDisconnect:      func(_ context.Context, e realtime.DisconnectEvent) { gone <- e },
	})
	// A hand-made upgrade over plain TCP: nothing on this side answers pings.
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "ws://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n", env.token("ghost"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)

	select {
	case e := <-gone:
		require.Equal(t, "ghost", e.User.ID)
	case <-time.After(10 * time.Second):
		t.Fatal("a peer that never answered pings is still connected")
	}
	require.Equal(t, 0, env.hub.UserConnections("ghost"))
}

// TestHubsShareRoomsThroughAdapter: two hubs, one store and one memadapter
// bus, serve one room as two nodes would.
func TestHubsShareRoomsThroughAdapter(t *testing.T) {
	bus := memadapter.NewBus()
	store := realtime.NewMemoryStore(realtime.MemoryOptions{})
	a := newTestHub(t, realtime.Config{Broker: bus.Node(), Store: store})
	b := newTestHub(t, realtime.Config{Broker: bus.Node(), Store: store})

	alice, bob := a.dial("alice"), b.dial("bob")
	bobOnA := a.dial("bob")
	room := alice.createRoom("shared", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.next("user-joined")

	for i := range 20 {
		sender := []*tclient{alice, bob}[i%2]
		sender.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})
	}
	for _, c := range []*tclient{alice, bob} {
		for i := range 20 {
			m := testenv.DecodeInto[realtime.Message](t, c.next("new-message"))
			require.Equal(t, uint64(i+1), m.Seq)
		}
	}
	// Direct messages reach the user's connections on both nodes.
	alice.emit("message", map[string]any{"recipientId": "bob", "content": "dm"})
	require.Equal(t, "dm", testenv.DecodeInto[realtime.Message](t, bob.next("new-message")).Content)
	require.Equal(t, "dm", testenv.DecodeInto[realtime.Message](t, bobOnA.next("new-message")).Content)
	// A kick on node A unsubscribes bob on node B.
	require.NoError(t, a.hub.Kick(context.Background(), room.ID, "bob", "bye"))
	bob.next("kicked")
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "after"})
	alice.next("new-message")
	bob.none("new-message", 150*time.Millisecond)
}

// TestBrokerAndPresenceApart: the Broker and the PresenceBackend come from
// different places (here two buses, one carrying events, the other only
// keeping presence), and presence is still shared. A Broker that keeps no
// presence needs a Presence, or New says so.
func TestBrokerAndPresenceApart(t *testing.T) {
	events, presence := memadapter.NewBus(), memadapter.NewBus()
	store := realtime.NewMemoryStore(realtime.MemoryOptions{})
	type brokerOnly struct{ adapter.Broker }
	_, err := realtime.New(realtime.Config{Broker: brokerOnly{events.Node()}})
	require.ErrorContains(t, err, "Presence")

	a := newTestHub(t, realtime.Config{Broker: brokerOnly{events.Node()}, Presence: presence.Node(), Store: store})
	b := newTestHub(t, realtime.Config{Broker: brokerOnly{events.Node()}, Presence: presence.Node(), Store: store})
	alice, bob := a.dial("alice"), b.dial("bob")
	room := alice.createRoom("apart", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.next("user-joined")
	got := testenv.DecodeInto[struct{ Presence []realtime.Presence }](t, alice.emit("get-presence", map[string]any{"userIds": []string{"bob"}}))
	require.Len(t, got.Presence, 1)
	require.Equal(t, realtime.StatusOnline, got.Presence[0].Status, "bob, on the other node, is online")
	bob.emit("message", map[string]any{"roomId": room.ID, "content": "across"})
	require.Equal(t, "across", testenv.DecodeInto[realtime.Message](t, alice.next("new-message")).Content)
}

// TestUndecodablePublicationsSkipped: payloads a hub cannot open (a rogue
// or newer node, or anyone who can publish on the broker) are logged and
// skipped; the room's next message still arrives, once.
func TestUndecodablePublicationsSkipped(t *testing.T) {
	bus := memadapter.NewBus()
	env := newTestHub(t, realtime.Config{Broker: bus.Node()})
	alice := env.dial("alice")
	room := alice.createRoom("r", nil)

	rogue := bus.Node()
	require.NoError(t, rogue.Start(t.Context(), adapter.Funcs{}))
	t.Cleanup(func() { require.NoError(t, rogue.Close()) })
	for _, junk := range []string{"", "x", "\x02\x00\x00", "\x01\x09\x00", "\x01\x00\x00\x05\x7f", "\x01\x00\x00\x00\x00\x00\x00not a push"} {
		require.NoError(t, rogue.Publish(t.Context(), adapter.Room(room.ID), []byte(junk)))
	}
	alice.none("new-message", 50*time.Millisecond)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "still here"})
	m := testenv.DecodeInto[realtime.Message](t, alice.next("new-message"))
	require.Equal(t, "still here", m.Content)
	alice.none("new-message", 100*time.Millisecond)
}

// TestHubClosesOnlyWhatItCreated: Shutdown and Close leave the Config's
// Broker, Presence and Store open, for the caller to close after them.
func TestHubClosesOnlyWhatItCreated(t *testing.T) {
	for _, stop := range []string{"Shutdown", "Close"} {
		t.Run(stop, func(t *testing.T) {
			ctx := context.Background()
			node := memadapter.NewBus().Node()
			store := sqlStore(t, sqlstore.SQLite, testenv.SQLiteDSN(filepath.Join(t.TempDir(), "rt.db")))
			env := newTestHub(t, realtime.Config{Broker: node, Store: store})
			env.dial("alice")
			if stop == "Shutdown" {
				require.NoError(t, env.hub.Shutdown(ctx))
			} else {
				require.NoError(t, env.hub.Close())
			}

			global := adapter.Global()
			require.NoError(t, node.Subscribe(ctx, global), "the adapter was closed")
			require.NoError(t, node.Unsubscribe(ctx, global))
			room, err := store.CreateRoom(ctx, realtime.Room{ID: "r1", Name: "after", MaxUsers: 10, CreatedAt: time.Now()},
				realtime.Member{RoomID: "r1", UserID: "alice", Username: "Alice", Role: realtime.RoleAdmin, JoinedAt: time.Now()}, realtime.Limits{})
			require.NoError(t, err, "the store was closed")
			_, _, err = store.SaveMessage(ctx, realtime.Message{ID: "m1", RoomID: room.ID, SenderID: "alice", Content: "still open", Type: realtime.TypeText, CreatedAt: time.Now()})
			require.NoError(t, err, "the store was closed")

			// Closing them is the caller's, and works.
			require.NoError(t, node.Close())
			require.Error(t, node.Subscribe(ctx, global))
			require.NoError(t, store.Close())
			_, _, err = store.SaveMessage(ctx, realtime.Message{ID: "m2", RoomID: room.ID, SenderID: "alice", Content: "closed", Type: realtime.TypeText, CreatedAt: time.Now()})
			require.ErrorIs(t, err, sqlstore.ErrClosed)
		})
	}
}

// TestClientStopsAfterFinalClose: a client that loses its connection
// reconnects, and stops for good when the hub closes the new one with a
// code that asks it not to come back (1000 here: the session was ended on
// purpose), instead of dialing again and again.
func TestClientStopsAfterFinalClose(t *testing.T) {
	var connects atomic.Int64
	env := newTestHub(t, realtime.Config{OnConnect: func(ctx context.Context, e realtime.ConnectEvent) error {
		if connects.Add(1) > 1 {
			return &realtime.CloseError{Code: realtime.StatusNormal, Reason: "signed out"}
		}
		return nil
	}})
	ready := make(chan struct{}, 1)
	bob := env.dialWith(client.DialOptions{Token: env.token("bob"), MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnConnect: func(realtime.UserRef) { ready <- struct{}{} }})
	<-ready // the client has its session: Drop cuts it
	bob.Drop()
	select {
	case <-bob.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the client is still reconnecting after %d connects", connects.Load())
	}
	var ce *client.CloseError
	require.ErrorAs(t, bob.Err(), &ce)
	require.Equal(t, realtime.StatusNormal, ce.Code)
	require.Equal(t, int64(2), connects.Load(), "one reconnect, then none")
}
