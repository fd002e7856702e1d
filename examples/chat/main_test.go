package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// startChat runs the example on a free loopback port, storing in a fresh
// SQLite file, and returns its base URL; it stops when the test ends.
func startChat(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("CHAT_DB", filepath.Join(dir, "chat.db"))
	t.Setenv("CHAT_FILES_DIR", filepath.Join(dir, "files"))
	t.Setenv("DATABASE_URL", "")
	base, stop := startChatWith(t)
	t.Cleanup(stop)
	return base
}

// startChatWith runs the example with the environment as the test set it
// and returns its base URL and a function that shuts it down.
func startChatWith(t *testing.T) (string, func()) {
	t.Helper()
	t.Setenv("JWT_SECRET", "")
	base, stop, err := startChatAt(t, "127.0.0.1:0")
	require.NoError(t, err)
	return base, stop
}

// startChatAt runs the example on addr and returns its base URL and a
// function that shuts it down. It may be called from any goroutine: a
// failure to shut down is reported with t.Errorf.
func startChatAt(t *testing.T, addr string) (string, func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr, func(a net.Addr) { addrs <- a }) }()
	select {
	case a := <-addrs:
		return "http://" + a.String(), func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("chat at %s: %v", a, err)
			}
		}, nil
	case err := <-done:
		cancel()
		return "", nil, fmt.Errorf("chat did not start on %s: %w", addr, err)
	}
}

// restarter serves POST /stop and POST /start, which stop the example
// serving at base and start it again on the same address with the same
// store: its browser pages see the server go away and come back.
func restarter(t *testing.T, base string, stop func()) *httptest.Server {
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if stop != nil {
			stop()
			stop = nil
		}
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if stop != nil {
			return
		}
		var err error
		if _, stop, err = startChatAt(t, strings.TrimPrefix(base, "http://")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		defer mu.Unlock()
		if stop != nil {
			stop()
		}
	})
	return srv
}

func devToken(t *testing.T, base, name string) string {
	t.Helper()
	resp, err := http.Post(base+"/dev/token", "application/json", bytes.NewBufferString(`{"name":"`+name+`"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body.Token
}

func TestChatBetweenTwoGoClients(t *testing.T) {
	base := startChat(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + base[len("http"):] + "/ws"
	alice, err := client.Dial(ctx, wsURL, client.DialOptions{Token: devToken(t, base, "alice")})
	require.NoError(t, err)
	defer alice.Close()
	bob, err := client.Dial(ctx, wsURL, client.DialOptions{Token: devToken(t, base, "bob")})
	require.NoError(t, err)
	defer bob.Close()

	ack, err := alice.Emit(ctx, "create-room", map[string]string{"name": "lobby"})
	require.NoError(t, err)
	var created struct{ Room realtime.Room }
	require.NoError(t, json.Unmarshal(ack, &created))
	_, err = bob.Emit(ctx, "join-room", map[string]string{"roomId": created.Room.ID})
	require.NoError(t, err)
	_, err = alice.Emit(ctx, "message", map[string]string{"roomId": created.Room.ID, "content": "hello bob"})
	require.NoError(t, err)

	for ev := range bob.Events() {
		if ev.Name != "new-message" {
			continue
		}
		var m realtime.Message
		require.NoError(t, json.Unmarshal(ev.Data, &m))
		require.Equal(t, "hello bob", m.Content)
		require.Equal(t, "u-alice", m.SenderID)
		require.Equal(t, "alice", m.Sender.Username)
		return
	}
	t.Fatal("bob's events ended before the message")
}

func TestDevTokenRefusesBadNames(t *testing.T) {
	base := startChat(t)
	for _, body := range []string{`{"name":""}`, `{"name":"<script>"}`, `{"name":5}`, `not json`} {
		resp, err := http.Post(base+"/dev/token", "application/json", bytes.NewBufferString(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	}
}

// TestBrowserChat drives the web UI in headless Chromium (e2e/chat.test.mjs).
// It needs node, Chromium and `npm ci` in e2e/; .ci/run provides them and
// sets REALTIME_REQUIRE_SERVICES=1, under which their absence fails.
func TestBrowserChat(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	browser := testenv.NodeTests{Dir: "e2e", Need: []string{"node_modules/playwright-core", chromium}, Files: []string{"chat.test.mjs"},
		Timeout: 5 * time.Minute}
	browser.Check(t)
	t.Setenv("PRESENCE_GRACE", "1s")
	dir := t.TempDir()
	t.Setenv("CHAT_DB", filepath.Join(dir, "chat.db"))
	t.Setenv("CHAT_FILES_DIR", filepath.Join(dir, "files"))
	t.Setenv("DATABASE_URL", "")
	seeded := time.Now()
	bigRoom := seedBigRoom(t, filepath.Join(dir, "chat.db"), bigRoomMembers)
	t.Logf("stored a room of %d members in %v", bigRoomMembers+1, time.Since(seeded).Round(time.Millisecond))
	base, stop := startChatWith(t)
	control := restarter(t, base, stop)
	browser.Env = []string{"BASE_URL=" + base, "CHROMIUM=" + chromium, "PRESENCE_GRACE_MS=1000", "CONTROL_URL=" + control.URL,
		"BIG_ROOM_ID=" + bigRoom, "BIG_ROOM_MEMBERS=" + strconv.Itoa(bigRoomMembers+1)}
	browser.Run(t)
}

// bigRoomMembers is how many members besides its owner the browser test's
// large room has: more than one join-room ack or list-members page lists.
const bigRoomMembers = 600

// seedBigRoom stores, in the example's SQLite file at path and before the
// server starts, a public room owned by carol with n more members m0..m(n-1)
// who joined in that order, and returns its id. The browser test reads the
// member list of this room; how members join over the protocol is tested
// elsewhere, and seeding the Store keeps this test's duration independent of
// the per-join cost (each join-room ack lists up to 500 members, so joining n
// members one by one costs O(n^2)).
func seedBigRoom(t *testing.T, path string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// synchronous(OFF): this connection's commits skip fsync; the file is a
	// test's, written before the server opens it.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)")
	require.NoError(t, err)
	defer db.Close()
	store, err := sqlstore.New(db, sqlstore.Options{})
	require.NoError(t, err)
	defer store.Close()
	require.NoError(t, store.Migrate(ctx))

	t0 := time.Now().Add(-time.Hour).UTC()
	room := realtime.Room{ID: "r-big-room", Name: "a big room", MaxUsers: 1000, CreatedByID: "u-carol", CreatedAt: t0}
	owner := realtime.Member{RoomID: room.ID, UserID: "u-carol", Username: "carol", Role: realtime.RoleAdmin, JoinedAt: t0}
	_, err = store.CreateRoom(ctx, room, owner, realtime.Limits{})
	require.NoError(t, err)
	for i := range n {
		name := "m" + strconv.Itoa(i)
		m := realtime.Member{RoomID: room.ID, UserID: "u-" + name, Username: name, Role: realtime.RoleMember, JoinedAt: t0.Add(time.Duration(i+1) * time.Millisecond)}
		_, created, err := store.AddMember(ctx, m, realtime.Limits{})
		require.NoError(t, err)
		require.True(t, created)
	}
	return room.ID
}

// chatUser dials the example as name and returns the client.
func chatUser(t *testing.T, base, name string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+base[len("http"):]+"/ws", client.DialOptions{Token: devToken(t, base, name), NoReconnect: true})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func emit(t *testing.T, c *client.Client, event string, data any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := c.Emit(ctx, event, data)
	require.NoError(t, err, event)
	return ack
}

// TestHistorySurvivesRestart: the example stores in SQLite by default, so a
// restarted server still has its rooms and messages.
func TestHistorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CHAT_DB", filepath.Join(dir, "chat.db"))
	t.Setenv("CHAT_FILES_DIR", filepath.Join(dir, "files"))
	t.Setenv("DATABASE_URL", "")

	base, stop := startChatWith(t)
	alice := chatUser(t, base, "alice")
	var created struct{ Room realtime.Room }
	require.NoError(t, json.Unmarshal(emit(t, alice, "create-room", map[string]string{"name": "kept"}), &created))
	emit(t, alice, "message", map[string]string{"roomId": created.Room.ID, "content": "remember me"})
	alice.Close()
	stop()

	base, stop = startChatWith(t)
	defer stop()
	bob := chatUser(t, base, "bob")
	emit(t, bob, "join-room", map[string]string{"roomId": created.Room.ID})
	var h struct{ Messages []realtime.Message }
	require.NoError(t, json.Unmarshal(emit(t, bob, "get-history", map[string]string{"roomId": created.Room.ID}), &h))
	require.Len(t, h.Messages, 1)
	require.Equal(t, "remember me", h.Messages[0].Content)
	require.Equal(t, uint64(1), h.Messages[0].Seq)
}

// TestChatOnPostgres: with DATABASE_URL set, the example stores in
// PostgreSQL.
func TestChatOnPostgres(t *testing.T) {
	t.Setenv("DATABASE_URL", testenv.PostgresSchema(t, ""))
	t.Setenv("CHAT_FILES_DIR", t.TempDir())
	base, stop := startChatWith(t)
	defer stop()
	alice := chatUser(t, base, "alice")
	var created struct{ Room realtime.Room }
	require.NoError(t, json.Unmarshal(emit(t, alice, "create-room", map[string]string{"name": "pg"}), &created))
	emit(t, alice, "message", map[string]string{"roomId": created.Room.ID, "content": "stored in postgres"})

	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	require.NoError(t, err)
	defer db.Close()
	var content string
	require.NoError(t, db.QueryRow(`SELECT content FROM messages WHERE seq = 1`).Scan(&content))
	require.Equal(t, "stored in postgres", content)
}

// TestSocketIOMounted: the example serves the Socket.IO bridge at
// /socket.io/, answering an Engine.IO v4 handshake.
func TestSocketIOMounted(t *testing.T) {
	base := startChat(t)
	resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling&token=" + devToken(t, base, "sio"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	require.True(t, strings.HasPrefix(body.String(), `0{"sid":`), body.String())
}
