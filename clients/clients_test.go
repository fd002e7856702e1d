// Package clients_test runs the tests of the npm packages in clients/
// against a real hub: it type-checks and builds them (tsc, strict) and runs
// node --test with a hub it can restart and control.
package clients_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// restartable is a hub that the test can restart on the same address with
// the same store: its connections see the server go away and come back.
type restartable struct {
	t     *testing.T
	store realtime.Store
	jwt   *realtime.JWT
	mu    sync.Mutex
	hub   *realtime.Hub
}

func (s *restartable) start() {
	hub, err := realtime.New(realtime.Config{
		Authenticator: s.jwt, Store: s.store, ResumeLimit: 5, TokenExpiryWarning: 2 * time.Second,
		MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1, PresenceGrace: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(s.t, err)
	s.mu.Lock()
	old := s.hub
	s.hub = hub
	s.mu.Unlock()
	if old != nil {
		require.NoError(s.t, old.Close())
	}
}

func (s *restartable) current() *realtime.Hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hub
}

// TestClientPackage type-checks and builds @realtime-go/client and runs
// its tests against a real hub.
func TestClientPackage(t *testing.T) {
	tsc := filepath.Join("node_modules", ".bin", "tsc")
	tests := testenv.NodeTests{Dir: filepath.Join("packages", "client"), Need: []string{filepath.Join("..", "..", tsc)},
		Flags: []string{"--experimental-websocket"}, Files: []string{"test/"}}
	tests.Check(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tsc, "-p", "packages/client/tsconfig.json").CombinedOutput()
	require.NoError(t, err, "tsc (strict) failed:\n%s", out)

	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testenv.Secret)})
	require.NoError(t, err)
	s := &restartable{t: t, store: realtime.NewMemoryStore(realtime.MemoryOptions{}), jwt: j}
	s.start()
	t.Cleanup(func() { require.NoError(t, s.current().Close()) })
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { s.current().ServeHTTP(w, r) })
	mux.HandleFunc("GET /control/token", func(w http.ResponseWriter, r *http.Request) {
		ttl := time.Hour
		if v := r.URL.Query().Get("ttl"); v != "" {
			ttl, _ = time.ParseDuration(v)
		}
		user := r.URL.Query().Get("user")
		tok, err := j.Sign(realtime.User{ID: user, Username: user}, ttl)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = io.WriteString(w, tok)
	})
	mux.HandleFunc("POST /control/restart", func(w http.ResponseWriter, r *http.Request) { s.start() })
	mux.HandleFunc("POST /control/disconnect", func(w http.ResponseWriter, r *http.Request) {
		code := realtime.StatusTooSlow
		if r.URL.Query().Get("final") != "" {
			code = realtime.StatusForbidden
		}
		if err := s.current().Disconnect(r.Context(), r.URL.Query().Get("user"), code, "test"); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests.Env = []string{"HUB_URL=ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", "CONTROL_URL=" + srv.URL + "/control"}
	tests.Run(t)
}

// TestChatModuleIsCurrent builds @realtime-go/client afresh, as `npm run
// build:chat` does, and fails when the copy the chat example embeds
// (examples/chat/web/realtime-client.js) differs from it.
func TestChatModuleIsCurrent(t *testing.T) {
	tsc := filepath.Join("node_modules", ".bin", "tsc")
	testenv.NodeTests{Dir: ".", Need: []string{tsc}}.Check(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	out, err := exec.CommandContext(ctx, tsc, "-p", "packages/client/tsconfig.json", "--outDir", dir).CombinedOutput()
	require.NoError(t, err, "tsc (strict) failed:\n%s", out)
	fresh := filepath.Join(dir, "realtime-client.js")
	out, err = exec.CommandContext(ctx, "node", "scripts/build-chat.mjs", filepath.Join(dir, "index.js"), fresh).CombinedOutput()
	require.NoError(t, err, "scripts/build-chat.mjs failed:\n%s", out)
	want, err := os.ReadFile(fresh)
	require.NoError(t, err)
	committed := filepath.Join("..", "examples", "chat", "web", "realtime-client.js")
	got, err := os.ReadFile(committed)
	require.NoError(t, err)
	if string(got) != string(want) {
		t.Fatalf("%s differs from a fresh build of packages/client: run `npm run build:chat` in clients/ and commit the result", committed)
	}
}
