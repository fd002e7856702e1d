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
	"github.com/realtime-go/realtime/internal/httpx"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/diskblob"
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

// buildClient type-checks and builds @realtime-go/client (the react
// package's types come from its dist/).
func buildClient(t *testing.T) {
	t.Helper()
	tsc(t, "packages/client/tsconfig.json")
}

var tscBin = filepath.Join("node_modules", ".bin", "tsc")

// tsc runs the TypeScript compiler (strict) on a project.
func tsc(t *testing.T, project string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tscBin, "-p", project).CombinedOutput()
	require.NoError(t, err, "tsc -p %s (strict) failed:\n%s", project, out)
}

// TestClientPackage type-checks and builds @realtime-go/client and runs
// its tests against a real hub.
func TestClientPackage(t *testing.T) {
	tests := testenv.NodeTests{Dir: filepath.Join("packages", "client"), Need: []string{filepath.Join("..", "..", tscBin)},
		Flags: []string{"--experimental-websocket"}, Files: []string{"test/"}}
	tests.Check(t)
	buildClient(t)
	tests.Env = serveHub(t)
	tests.Run(t)
}

// TestReactPackage type-checks and builds @realtime-go/react and runs its
// tests (React Testing Library in jsdom) against a real hub.
func TestReactPackage(t *testing.T) {
	tests := testenv.NodeTests{Dir: filepath.Join("packages", "react"),
		Need:  []string{filepath.Join("..", "..", tscBin), filepath.Join("..", "..", "node_modules", "jsdom"), filepath.Join("..", "..", "node_modules", "@testing-library", "react")},
		Flags: []string{"--experimental-websocket"}, Files: []string{"test/hooks.test.mjs", "test/components.test.mjs"}, Timeout: 3 * time.Minute}
	tests.Check(t)
	buildClient(t)
	tsc(t, "packages/react/tsconfig.json")
	tests.Env = serveHub(t)
	tests.Run(t)
}

// serveHub serves a restartable hub at /ws, its file handler at /files/
// and the tests' controls at /control/ until the test ends, and returns
// the environment that tells the node tests where: HUB_URL, FILES_URL,
// CONTROL_URL.
func serveHub(t *testing.T) []string {
	t.Helper()
	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testenv.Secret)})
	require.NoError(t, err)
	blobs, err := diskblob.New(t.TempDir())
	require.NoError(t, err)
	s := &restartable{t: t, store: realtime.NewMemoryStore(realtime.MemoryOptions{}), jwt: j}
	s.start()
	t.Cleanup(func() { require.NoError(t, s.current().Close()) })
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { s.current().ServeHTTP(w, r) })
	mux.HandleFunc("/files/", func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/files", s.current().FileHandler(blobs)).ServeHTTP(w, r)
	})
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
	mux.HandleFunc("GET /control/whoami", func(w http.ResponseWriter, r *http.Request) {
		u, _, err := j.Authenticate(r.Context(), httpx.Token(r))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, u.ID)
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
	t.Cleanup(srv.Close)
	return []string{"HUB_URL=ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", "FILES_URL=" + srv.URL + "/files/", "CONTROL_URL=" + srv.URL + "/control"}
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
