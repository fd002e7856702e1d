package admin_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter/redisadapter"
	"github.com/realtime-go/realtime/admin"
	"github.com/realtime-go/realtime/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a hub on /ws and its admin API on /admin/, over loopback HTTP.
type env struct {
	t    *testing.T
	hub  *realtime.Hub
	jwt  *realtime.JWT
	base string // http://127.0.0.1:port
	logs *testenv.LogBuffer
}

func newEnv(t *testing.T) *env {
	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testenv.Secret)})
	require.NoError(t, err)
	hub, err := realtime.New(realtime.Config{Authenticator: j, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	logs := &testenv.LogBuffer{}
	api, err := admin.New(hub, admin.Options{Authenticator: j, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	mux.Handle("/admin/", http.StripPrefix("/admin", api))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		require.NoError(t, hub.Close())
		srv.Close()
	})
	return &env{t: t, hub: hub, jwt: j, base: srv.URL, logs: logs}
}

func (e *env) token(id string, roles ...string) string {
	tok, err := e.jwt.Sign(realtime.User{ID: id, Roles: roles}, time.Hour)
	require.NoError(e.t, err)
	return tok
}

// call makes a request as the holder of token ("" for none) and returns
// the status and the decoded JSON body.
func (e *env) call(token, method, path, body string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+"/admin"+path, strings.NewReader(body))
	require.NoError(e.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	require.Equal(e.t, "application/json", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// errCode is the error code of a reply.
func errCode(reply map[string]any) string {
	e, _ := reply["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// until reads r until an event named name and returns its data.
func until(r *testenv.Raw, name string) json.RawMessage {
	for {
		if f := r.Read(); f.Event == name {
			return f.Data
		}
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	code, reply := e.call("", "GET", "/rooms", "")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, "unauthorized", errCode(reply))
	code, _ = e.call("forged.token.here", "GET", "/rooms", "")
	require.Equal(t, http.StatusUnauthorized, code)
	code, reply = e.call(e.token("bob"), "GET", "/rooms", "")
	require.Equal(t, http.StatusForbidden, code, "a user who is not an admin")
	require.Equal(t, "forbidden", errCode(reply))

	// A cookie is no credential: a cross-site form cannot act.
	req, err := http.NewRequest("POST", e.base+"/admin/broadcast", strings.NewReader(`{"event":"x"}`))
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "Authorization", Value: "Bearer " + e.token("root", "admin")})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	_, err = admin.New(e.hub, admin.Options{})
	require.Error(t, err, "no way to authenticate")
}

// TestActions: every route works over real sockets, says what it did to
// the clients it concerns, and logs who did it without the token.
func TestActions(t *testing.T) {
	e := newEnv(t)
	root := e.token("root", "admin")
	wsURL := "ws" + strings.TrimPrefix(e.base, "http") + "/ws"
	dial := func(id string) *testenv.Raw {
		return testenv.DialRaw(t, wsURL, http.Header{"Authorization": {"Bearer " + e.token(id)}})
	}
	alice, bob := dial("alice"), dial("bob")
	alice.Write(`{"event":"create-room","data":{"name":"general"},"ack":1}`)
	var room realtime.Room
	for f := alice.Read(); ; f = alice.Read() {
		if f.Ack == 1 {
			room = testenv.DecodeInto[struct{ Room realtime.Room }](t, f.Data).Room
			break
		}
	}
	bob.Write(`{"event":"join-room","data":{"roomId":"` + room.ID + `"},"ack":1}`)
	until(alice, "user-joined")

	code, reply := e.call(root, "GET", "/rooms", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, reply["rooms"], 1)
	code, reply = e.call(root, "GET", "/rooms/"+room.ID, "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "general", reply["room"].(map[string]any)["name"])
	code, reply = e.call(root, "GET", "/rooms/"+room.ID+"/members?limit=1", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, reply["members"], 1)
	require.Equal(t, true, reply["hasMore"])
	require.Len(t, reply["online"], 2)
	code, reply = e.call(root, "GET", "/connections", "")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, reply["connections"], 2)
	code, reply = e.call(root, "GET", "/stats", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"nodes": 1.0, "connections": 2.0, "users": 2.0}, reply["cluster"])

	// Mute: the room hears of it, and bob can no longer post.
	code, _ = e.call(root, "PATCH", "/rooms/"+room.ID+"/members/bob", `{"isMuted":true}`)
	require.Equal(t, http.StatusOK, code)
	require.True(t, testenv.DecodeInto[struct{ Member realtime.Member }](t, until(alice, "member-updated")).Member.IsMuted)
	bob.Write(`{"event":"message","data":{"roomId":"` + room.ID + `","content":"hi"},"ack":2}`)
	for f := bob.Read(); ; f = bob.Read() {
		if f.Ack == 2 {
			require.Equal(t, "forbidden", f.Error.Code)
			break
		}
	}

	// A system message, stored and delivered.
	code, reply = e.call(root, "POST", "/rooms/"+room.ID+"/messages", `{"content":"maintenance at 22:00 \"UTC\" é","senderName":"Ops"}`)
	require.Equal(t, http.StatusCreated, code)
	m := testenv.DecodeInto[realtime.Message](t, until(alice, "new-message"))
	require.Equal(t, realtime.TypeSystem, m.Type)
	require.Equal(t, `maintenance at 22:00 "UTC" é`, m.Content)
	require.Equal(t, reply["message"].(map[string]any)["id"], m.ID)

	code, _ = e.call(root, "POST", "/broadcast", `{"event":"notice","data":{"x":1}}`)
	require.Equal(t, http.StatusAccepted, code)
	require.JSONEq(t, `{"x":1}`, string(until(bob, "notice")))

	code, _ = e.call(root, "POST", "/rooms/"+room.ID+"/kick", `{"userId":"bob","reason":"spam"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "spam", testenv.DecodeInto[struct{ Reason string }](t, until(bob, "kicked")).Reason)

	code, _ = e.call(root, "POST", "/users/bob/disconnect", `{"code":4003,"reason":"banned"}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, websocket.StatusCode(realtime.StatusForbidden), testenv.CloseStatus(t, bob.WS))

	code, _ = e.call(root, "DELETE", "/rooms/"+room.ID, "")
	require.Equal(t, http.StatusOK, code)
	until(alice, "room-deleted")

	logs := e.logs.String()
	for _, want := range []string{`msg="admin: update member" admin=root`, `msg="admin: post message"`, `msg="admin: broadcast"`,
		`msg="admin: kick"`, `msg="admin: disconnect user" admin=root user=bob code=4003`, `msg="admin: delete room"`} {
		require.Contains(t, logs, want)
	}
	require.NotContains(t, logs, root, "a token in the logs")
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	root := e.token("root", "admin")
	room, err := e.hub.CreateRoom(context.Background(), realtime.User{}, realtime.RoomOptions{ID: "r1", Name: "r"})
	require.NoError(t, err)
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/rooms/missing", "", 404, "not_found"},
		{"GET", "/rooms/missing/members", "", 404, "not_found"},
		{"GET", "/rooms/" + room.ID + "/members?limit=x", "", 400, "invalid"},
		{"GET", "/rooms/" + room.ID + "/members?after=nobody", "", 404, "not_found"},
		{"PATCH", "/rooms/" + room.ID + "/members/nobody", `{"isMuted":true}`, 404, "not_found"},
		{"PATCH", "/rooms/" + room.ID + "/members/nobody", `{"role":"owner"}`, 400, "invalid"},
		{"POST", "/rooms/" + room.ID + "/kick", `{}`, 400, "invalid"},
		{"POST", "/rooms/" + room.ID + "/kick", `{"userId":"nobody"}`, 404, "not_found"},
		{"POST", "/rooms/" + room.ID + "/kick", `{"userId":`, 400, "invalid"},
		{"POST", "/rooms/" + room.ID + "/kick", `{"userId":"a","extra":1}`, 400, "invalid"},
		{"POST", "/rooms/" + room.ID + "/kick", `{"userId":"a"} {}`, 400, "invalid"},
		{"POST", "/rooms/" + room.ID + "/messages", `{"content":""}`, 400, "invalid"},
		{"POST", "/rooms/missing/messages", `{"content":"x"}`, 404, "not_found"},
		{"POST", "/rooms/" + room.ID + "/messages", `{"content":"` + strings.Repeat("x", 70000) + `"}`, 413, "too_large"},
		{"POST", "/users/bob/disconnect", `{"code":2000}`, 400, "invalid"},
		{"POST", "/broadcast", `{"event":"Not Kebab"}`, 400, "invalid"},
		{"DELETE", "/rooms/missing", "", 404, "not_found"},
		{"GET", "/nowhere", "", 404, "not_found"},
	} {
		code, reply := e.call(root, c.method, c.path, c.body)
		require.Equal(t, c.status, code, "%s %s %s", c.method, c.path, c.body)
		require.Equal(t, c.code, errCode(reply), "%s %s", c.method, c.path)
	}
}

// TestConnectionsAcrossNodes: the admin API of node A lists the
// connections of node B, joined through Redis.
func TestConnectionsAcrossNodes(t *testing.T) {
	testenv.RedisAddr(t)
	opts, err := redis.ParseURL(testenv.RedisURL())
	require.NoError(t, err)
	prefix := "rt-admin-" + strings.ToLower(rand.Text()[:8]) + ":"
	store := realtime.NewMemoryStore(realtime.MemoryOptions{})
	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testenv.Secret)})
	require.NoError(t, err)
	var hubs []*realtime.Hub
	for range 2 {
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		a, err := redisadapter.New(rdb, redisadapter.Options{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		t.Cleanup(func() { a.Close() })
		hub, err := realtime.New(realtime.Config{Authenticator: j, Broker: a, Store: store, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		t.Cleanup(func() { hub.Close() })
		hubs = append(hubs, hub)
	}
	srvB := httptest.NewServer(hubs[1])
	defer srvB.Close()
	tok, err := j.Sign(realtime.User{ID: "bob"}, time.Hour)
	require.NoError(t, err)
	testenv.DialRaw(t, "ws"+strings.TrimPrefix(srvB.URL, "http"), http.Header{"Authorization": {"Bearer " + tok}})

	api, err := admin.New(hubs[0], admin.Options{Authenticator: j})
	require.NoError(t, err)
	rootTok, err := j.Sign(realtime.User{ID: "root", Roles: []string{"admin"}}, time.Hour)
	require.NoError(t, err)
	req := httptest.NewRequest("GET", "/connections", nil)
	req.Header.Set("Authorization", "Bearer "+rootTok)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	got := testenv.DecodeInto[struct{ Connections []realtime.ConnectionInfo }](t, rec.Body.Bytes())
	require.Len(t, got.Connections, 1)
	require.Equal(t, "bob", got.Connections[0].User.ID)
	require.Equal(t, hubs[1].NodeID(), got.Connections[0].Node)
}
