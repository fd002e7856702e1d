package socketio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/socketio"
)

// TestSocketIOClient runs the official socket.io-client, from npm, in
// Node against a Hub served here: e2e/interop.test.mjs drives it, with a
// native Go client in the same hub reached through control endpoints.
// It needs node and `npm ci` in socketio/e2e; without them it skips,
// unless REALTIME_REQUIRE_SERVICES=1.
func TestSocketIOClient(t *testing.T) {
	interop := testenv.NodeTests{Dir: "e2e", Need: []string{"node_modules/socket.io-client/package.json"},
		Files: []string{"interop.test.mjs"}, Timeout: 90 * time.Second}
	interop.Check(t)

	e := newEnv(t, realtime.Config{}, socketio.Options{PingInterval: 300 * time.Millisecond, PingTimeout: 300 * time.Millisecond})
	proxy := testenv.NewProxy(t, strings.TrimPrefix(e.base, "http://"))
	nat := e.nativeEvents("nora")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := e.jwt.Sign(realtime.User{ID: r.URL.Query().Get("user"), Username: r.URL.Query().Get("user")}, time.Hour)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(tok)
	})
	mux.HandleFunc("POST /native/emit", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Event string
			Data  json.RawMessage
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		ack, err := nat.Emit(ctx, req.Event, req.Data)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		_, _ = w.Write(ack)
	})
	mux.HandleFunc("GET /native/next", func(w http.ResponseWriter, r *http.Request) {
		data, err := nat.nextWithin(r.URL.Query().Get("event"), 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusGatewayTimeout)
			return
		}
		_, _ = w.Write(data)
	})
	mux.HandleFunc("POST /cut", func(w http.ResponseWriter, r *http.Request) { proxy.Cut() })
	mux.HandleFunc("POST /restore", func(w http.ResponseWriter, r *http.Request) { proxy.Restore() })
	ctl := httptest.NewServer(mux)
	t.Cleanup(ctl.Close)

	interop.Env = []string{"SIO_URL=http://" + proxy.Addr(), "CONTROL_URL=" + ctl.URL}
	interop.Run(t)
}

// nevents is a native client whose events the control endpoints read, in
// order, by name.
type nevents struct {
	*client.Client
	mu     sync.Mutex
	queued []client.Event
	wake   chan struct{}
}

func (e *env) nativeEvents(id string) *nevents {
	e.t.Helper()
	n := &nevents{wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/ws", client.DialOptions{
		Token: e.token(id),
		OnEvent: func(ev client.Event) {
			n.mu.Lock()
			n.queued = append(n.queued, ev)
			n.mu.Unlock()
			select {
			case n.wake <- struct{}{}:
			default:
			}
		},
	})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = c.Close() })
	n.Client = c
	return n
}

// nextWithin removes and returns the first queued event named name,
// waiting for it up to d.
func (n *nevents) nextWithin(name string, d time.Duration) (json.RawMessage, error) {
	deadline := time.After(d)
	for {
		n.mu.Lock()
		for i, ev := range n.queued {
			if ev.Name == name {
				n.queued = append(n.queued[:i:i], n.queued[i+1:]...)
				n.mu.Unlock()
				return ev.Data, nil
			}
		}
		n.mu.Unlock()
		select {
		case <-n.wake:
		case <-deadline:
			return nil, fmt.Errorf("native: no %s within %s", name, d)
		}
	}
}
