package realtime_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
)

// testSecret signs the tokens of the tests.
const testSecret = testenv.Secret

// testEnv is a hub served over a real loopback HTTP server.
type testEnv struct {
	t   *testing.T
	hub *realtime.Hub
	url string // ws:// URL of the hub
	jwt *realtime.JWT
	// broker is cfg.Broker, if any; the test closes it after the hub.
	broker adapter.Broker
}

// newTestHub starts a hub with cfg over httptest. Unless cfg has an
// Authenticator, tokens signed with testSecret authenticate.
func newTestHub(t *testing.T, cfg realtime.Config) *testEnv {
	t.Helper()
	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testSecret)})
	require.NoError(t, err)
	if cfg.Authenticator == nil {
		cfg.Authenticator = j
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if a := cfg.Broker; a != nil {
		t.Cleanup(func() { require.NoError(t, a.Close()) }) // after the hub's
	}
	hub, err := realtime.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, hub.Close()) })
	env := &testEnv{t: t, hub: hub, jwt: j, broker: cfg.Broker}
	env.url = serve(t, hub)
	return env
}

// serve serves hub on a loopback httptest server until the test ends and
// returns its ws:// URL.
func serve(t *testing.T, hub *realtime.Hub) string {
	t.Helper()
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// token returns a token for a user id that expires in an hour.
func (e *testEnv) token(id string, roles ...string) string {
	e.t.Helper()
	tok, err := e.jwt.Sign(realtime.User{ID: id, Username: strings.ToUpper(id[:1]) + id[1:], Roles: roles}, time.Hour)
	require.NoError(e.t, err)
	return tok
}

// dial connects a client for user id; it is closed when the test ends.
func (e *testEnv) dial(id string, roles ...string) *tclient {
	e.t.Helper()
	return e.dialWith(client.DialOptions{Token: e.token(id, roles...)})
}

func (e *testEnv) dialWith(opts client.DialOptions) *tclient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.url, opts)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = c.Close() })
	tc := &tclient{t: e.t, Client: c}
	tc.next("connected")
	return tc
}

// tclient wraps a client with test assertions.
type tclient struct {
	t *testing.T
	*client.Client
}

// emit sends an event and requires a successful ack.
func (c *tclient) emit(event string, data any) json.RawMessage {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Emit(ctx, event, data)
	require.NoError(c.t, err, "%s", event)
	return ack
}

// emitErr sends an event and requires an error ack with code.
func (c *tclient) emitErr(code realtime.Code, event string, data any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Emit(ctx, event, data)
	var e *realtime.Error
	require.ErrorAs(c.t, err, &e, "%s", event)
	require.Equal(c.t, code, e.Code, "%s: %s", event, e.Message)
}

// next returns the data of the next push named name, skipping others.
func (c *tclient) next(name string) json.RawMessage {
	c.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			require.True(c.t, ok, "client closed while waiting for %s", name)
			if ev.Name == name {
				return ev.Data
			}
		case <-timeout:
			c.t.Fatalf("no %s event within 5s", name)
		}
	}
}

// none requires that no push named name arrives within d.
func (c *tclient) none(name string, d time.Duration) {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				return
			}
			require.NotEqual(c.t, name, ev.Name, "unexpected %s: %s", name, ev.Data)
		case <-timeout:
			return
		}
	}
}

// createRoom creates a room through c and returns it.
func (c *tclient) createRoom(name string, extra map[string]any) realtime.Room {
	c.t.Helper()
	data := map[string]any{"name": name}
	for k, v := range extra {
		data[k] = v
	}
	return testenv.DecodeInto[struct{ Room realtime.Room }](c.t, c.emit("create-room", data)).Room
}

// raw opens a bare connection for user id and consumes its connected event.
func (e *testEnv) raw(id string) *testenv.Raw {
	e.t.Helper()
	return testenv.DialRaw(e.t, e.url, http.Header{"Authorization": {"Bearer " + e.token(id)}})
}

// closeStatus reads until the connection closes and returns its close code.
func closeStatus(t *testing.T, ws *websocket.Conn) websocket.StatusCode {
	t.Helper()
	return testenv.CloseStatus(t, ws)
}
