package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/sqlstore"
)

type notesReply struct {
	Notifications []realtime.Notification `json:"notifications"`
	HasMore       bool                    `json:"hasMore"`
	Unread        int                     `json:"unread"`
}

// connectedUnread opens a connection for user and returns the unread
// count its connected event carries.
func connectedUnread(t *testing.T, env *testEnv, user string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, env.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + env.token(user)}}})
	require.NoError(t, err)
	defer ws.CloseNow()
	_, frame, err := ws.Read(ctx)
	require.NoError(t, err)
	var f struct {
		Event string
		Data  struct{ UnreadNotifications *int }
	}
	require.NoError(t, json.Unmarshal(frame, &f))
	require.Equal(t, "connected", f.Event)
	require.NotNil(t, f.Data.UnreadNotifications)
	return *f.Data.UnreadNotifications
}

// TestNotify: the host notifies users; those online get it on every
// connection, those offline on their next connect; a retried call notifies
// once; users list and mark only their own, and their other connections
// follow. On the memory store, SQLite and PostgreSQL.
func TestNotify(t *testing.T) {
	for name, store := range map[string]func(t *testing.T) realtime.Store{
		"memory": func(*testing.T) realtime.Store { return realtime.NewMemoryStore(realtime.MemoryOptions{}) },
		"sqlite": func(t *testing.T) realtime.Store {
			return sqlStore(t, sqlstore.SQLite, testenv.SQLiteDSN(filepath.Join(t.TempDir(), "n.db")))
		},
		"postgres": func(t *testing.T) realtime.Store {
			return sqlStore(t, sqlstore.Postgres, testenv.PostgresSchema(t, ""))
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			env := newTestHub(t, realtime.Config{Store: store(t)})
			bob1, bob2 := env.dial("bob"), env.dial("bob")
			n := realtime.Notification{Type: "order-shipped", Title: `Order "42" shipped`, Body: `\o/ é 📦`,
				Data: json.RawMessage(`{"orderId":42}`), Key: "order-42-shipped"}
			stored, err := env.hub.Notify(ctx, []string{"bob", "carol", "bob"}, n)
			require.NoError(t, err)
			require.Len(t, stored, 2, "each user once")
			for _, c := range []*tclient{bob1, bob2} {
				got := testenv.DecodeInto[realtime.Notification](t, c.next("notification"))
				require.Equal(t, "order-shipped", got.Type)
				require.Equal(t, `Order "42" shipped`, got.Title)
				require.JSONEq(t, `{"orderId":42}`, string(got.Data))
				require.Equal(t, "bob", got.UserID)
			}
			again, err := env.hub.Notify(ctx, []string{"bob", "carol"}, n)
			require.NoError(t, err)
			require.Empty(t, again, "a retried call")
			bob1.none("notification", 100*time.Millisecond)

			// Carol was away: she finds it when she comes.
			carol := env.raw("carol")
			carol.Write(`{"event":"get-notifications","data":{},"ack":1}`)
			var list notesReply
			for f := carol.Read(); ; f = carol.Read() {
				if f.Ack == 1 {
					list = testenv.DecodeInto[notesReply](t, f.Data)
					break
				}
			}
			require.Equal(t, 1, list.Unread)
			require.Len(t, list.Notifications, 1)
			carolsID := list.Notifications[0].ID

			// Marking: only one's own; the other tab follows.
			bobsID := stored[0].ID
			if stored[0].UserID != "bob" {
				bobsID = stored[1].ID
			}
			carol2 := env.dial("carol")
			carol2.emitErr(realtime.CodeNotFound, "mark-notifications-read", map[string]any{"ids": []string{bobsID}})
			carol2.emitErr(realtime.CodeNotFound, "mark-notifications-read", map[string]any{"upTo": bobsID})
			carol2.emitErr(realtime.CodeInvalid, "mark-notifications-read", map[string]any{})
			require.Equal(t, 1, testenv.DecodeInto[notesReply](t, bob1.emit("get-notifications", nil)).Unread, "bob's is untouched")
			ack := testenv.DecodeInto[struct{ Unread int }](t, carol2.emit("mark-notifications-read", map[string]any{"ids": []string{carolsID}}))
			require.Zero(t, ack.Unread)
			var read struct {
				IDs    []string `json:"ids"`
				Unread int      `json:"unread"`
			}
			for f := carol.Read(); ; f = carol.Read() {
				if f.Event == "notifications-read" {
					require.NoError(t, json.Unmarshal(f.Data, &read))
					break
				}
			}
			require.Equal(t, []string{carolsID}, read.IDs)
			require.Zero(t, read.Unread)
			carol2.none("notifications-read", 100*time.Millisecond)

			// Bad input.
			bob1.emitErr(realtime.CodeInvalid, "get-notifications", map[string]any{"limit": -1})
			bob1.emitErr(realtime.CodeNotFound, "get-notifications", map[string]any{"before": carolsID})
			for what, bad := range map[string]realtime.Notification{
				"no type":    {Title: "x"},
				"bad type":   {Type: "Not Kebab", Title: "x"},
				"no title":   {Type: "system"},
				"long title": {Type: "system", Title: strings.Repeat("é", 201)},
				"long body":  {Type: "system", Title: "x", Body: strings.Repeat("x", 2001)},
				"array data": {Type: "system", Title: "x", Data: json.RawMessage(`[1]`)},
				"bad data":   {Type: "system", Title: "x", Data: json.RawMessage(`{`)},
				"huge data":  {Type: "system", Title: "x", Data: json.RawMessage(`{"x":"` + strings.Repeat("x", 9000) + `"}`)},
			} {
				_, err := env.hub.Notify(ctx, []string{"bob"}, bad)
				require.Error(t, err, what)
			}
		})
	}
}

// TestGoClientNotifications: the Go client lists and marks notifications.
func TestGoClientNotifications(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	bob := env.dial("bob")
	for i := range 3 {
		_, err := env.hub.Notify(t.Context(), []string{"bob"}, realtime.Notification{Type: "system", Title: fmt.Sprint("n", i)})
		require.NoError(t, err)
	}
	page, err := bob.Notifications(t.Context(), client.NotificationOptions{Limit: 2})
	require.NoError(t, err)
	require.True(t, page.HasMore)
	require.Equal(t, 3, page.Unread)
	require.Equal(t, []string{"n2", "n1"}, []string{page.Notifications[0].Title, page.Notifications[1].Title})
	unread, err := bob.MarkNotificationsRead(t.Context(), nil, page.Notifications[1].ID)
	require.NoError(t, err)
	require.Equal(t, 1, unread)
	_, err = bob.MarkNotificationsRead(t.Context(), []string{"n_forged"}, "")
	var e *realtime.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, realtime.CodeNotFound, e.Code)
}

// TestNotifyAcrossNodes: a notification sent on node A reaches the user's
// connections on A and B, each once.
func TestNotifyAcrossNodes(t *testing.T) {
	rc := newRedisCluster(t)
	a, b := rc.node(realtime.Config{}, ""), rc.node(realtime.Config{}, "")
	onA, onB := a.dial("bob"), b.dial("bob")
	_, err := a.hub.Notify(t.Context(), []string{"bob"}, realtime.Notification{Type: "system", Title: "hello"})
	require.NoError(t, err)
	for _, c := range []*tclient{onA, onB} {
		require.Equal(t, "hello", testenv.DecodeInto[realtime.Notification](t, c.next("notification")).Title)
		c.none("notification", 100*time.Millisecond)
	}
	require.Equal(t, 1, testenv.DecodeInto[notesReply](t, onB.emit("get-notifications", nil)).Unread)
}

// TestAutomaticNotifications: mentions of members, direct messages to users
// away, and invitations to private rooms notify, once, never the sender;
// Config switches and vetoes them.
func TestAutomaticNotifications(t *testing.T) {
	store := realtime.NewMemoryStore(realtime.MemoryOptions{})
	// unread reads the Store: connecting as the user would make them online.
	unread := func(s realtime.Store, user string) int {
		n, err := s.(realtime.NotificationStore).UnreadNotifications(t.Context(), user)
		require.NoError(t, err)
		return n
	}
	env := newTestHub(t, realtime.Config{Store: store, MaxMessagesPerMinute: -1})
	alice, bob, carol := env.dial("alice"), env.dial("bob"), env.dial("carol")
	room := alice.createRoom("team", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	carol.emit("join-room", map[string]any{"roomId": room.ID})
	sent := testenv.DecodeInto[realtime.Message](t, alice.emit("message", map[string]any{"roomId": room.ID,
		"content": "hi @bob and @Carol, mail me@example.com, @bob again, @alice and @dave"}))
	for _, c := range []*tclient{bob, carol} {
		n := testenv.DecodeInto[realtime.Notification](t, c.next("notification"))
		require.Equal(t, realtime.NotifyMention, n.Type)
		require.Equal(t, sent.ID, n.MessageID)
		require.Equal(t, room.ID, n.RoomID)
		c.none("notification", 100*time.Millisecond)
	}
	alice.none("notification", 50*time.Millisecond)
	require.Zero(t, unread(store, "alice"), "never the sender")
	require.Zero(t, unread(store, "dave"), "dave is no member")

	// A direct message to someone away notifies; to someone here, not.
	alice.emit("message", map[string]any{"recipientId": "bob", "content": "you're here"})
	bob.next("new-message")
	bob.none("notification", 100*time.Millisecond)
	dm := testenv.DecodeInto[realtime.Message](t, alice.emit("message", map[string]any{"recipientId": "dave", "content": "while you were out"}))
	require.Eventually(t, func() bool { return unread(store, "dave") == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, connectedUnread(t, env, "dave"), "in connected")
	dave := env.dial("dave")
	list := testenv.DecodeInto[notesReply](t, dave.emit("get-notifications", nil))
	require.Equal(t, realtime.NotifyDirectMessage, list.Notifications[0].Type)
	require.Equal(t, dm.ID, list.Notifications[0].MessageID)

	// Added to a private room by someone else: an invitation; to a public
	// room, or joining oneself: none.
	secret := alice.createRoom("secret", map[string]any{"type": "private"})
	alice.emit("add-member", map[string]any{"roomId": secret.ID, "userId": "bob"})
	require.Equal(t, realtime.NotifyRoomInvite, testenv.DecodeInto[realtime.Notification](t, bob.next("notification")).Type)
	open := alice.createRoom("open", nil)
	alice.emit("add-member", map[string]any{"roomId": open.ID, "userId": "bob"})
	bob.none("notification", 100*time.Millisecond)

	// Switched off, and vetoed.
	quietStore := realtime.NewMemoryStore(realtime.MemoryOptions{})
	filtered := make(chan string, 10)
	quiet := newTestHub(t, realtime.Config{Store: quietStore, Notifications: realtime.NotificationOptions{
		Off: []string{"mention"},
		Filter: func(_ context.Context, n *realtime.Notification) bool {
			filtered <- n.UserID
			return !strings.Contains(n.Body, "secret")
		},
	}})
	qa, qb := quiet.dial("alice"), quiet.dial("bob")
	qroom := qa.createRoom("r", nil)
	qb.emit("join-room", map[string]any{"roomId": qroom.ID})
	qa.emit("message", map[string]any{"roomId": qroom.ID, "content": "@bob look"})
	qa.emit("message", map[string]any{"recipientId": "carol", "content": "a secret for carol"})
	qa.emit("message", map[string]any{"recipientId": "dave", "content": "plain for dave"})
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case u := <-filtered:
			seen[u] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("the filter saw only %v", seen)
		}
	}
	require.Equal(t, map[string]bool{"carol": true, "dave": true}, seen, "no mention reached the filter")
	require.Eventually(t, func() bool { return unread(quietStore, "dave") == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Zero(t, unread(quietStore, "carol"), "vetoed by the filter")
	require.Zero(t, unread(quietStore, "bob"), "mentions are off")
	qb.none("notification", 100*time.Millisecond)
}

// TestWithoutNotificationStore: a Store without the capability refuses
// notification requests with a clear error.
func TestWithoutNotificationStore(t *testing.T) {
	type plainStore struct{ realtime.Store }
	env := newTestHub(t, realtime.Config{Store: plainStore{realtime.NewMemoryStore(realtime.MemoryOptions{})}})
	c := env.dial("bob")
	c.emitErr(realtime.CodeInvalid, "get-notifications", nil)
	c.emitErr(realtime.CodeInvalid, "mark-notifications-read", map[string]any{"upTo": "n_1"})
	_, err := env.hub.Notify(t.Context(), []string{"bob"}, realtime.Notification{Type: "system", Title: "x"})
	requireCode(t, realtime.CodeInvalid, err)
	// Mentions and direct messages go on, without notifications.
	room := c.createRoom("r", nil)
	c.emit("message", map[string]any{"roomId": room.ID, "content": "@bob"})
}

// TestNotificationBurst: 10,000 notifications to one user keep its
// connection open and answering, and the Store keeps exactly what
// retention says.
func TestNotificationBurst(t *testing.T) {
	env := newTestHub(t, realtime.Config{Notifications: realtime.NotificationOptions{KeepPerUser: 300}})
	bob := env.dial("bob")
	for i := range 10000 {
		_, err := env.hub.Notify(t.Context(), []string{"bob"}, realtime.Notification{Type: "system", Title: fmt.Sprint("n", i)})
		require.NoError(t, err)
	}
	list := testenv.DecodeInto[notesReply](t, bob.emit("get-notifications", map[string]any{"limit": 100}))
	require.Equal(t, 300, list.Unread)
	require.Equal(t, "n9999", list.Notifications[0].Title)
	require.Equal(t, 1, env.hub.UserConnections("bob"))
}

// TestClientsCannotNotify: only the server creates notifications.
func TestClientsCannotNotify(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	c := env.dial("mallory")
	for _, event := range []string{"notify", "create-notification", "notification"} {
		c.emitErr(realtime.CodeInvalid, event, map[string]any{"userId": "bob", "type": "system", "title": "free money"})
	}
	c.emitErr(realtime.CodeTooLarge, "mark-notifications-read", map[string]any{"ids": make([]string, 501)})
	require.Zero(t, connectedUnread(t, env, "bob"))
}
