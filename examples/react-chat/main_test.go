package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtime-go/realtime/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server runs the example on one loopback address, and can restart it there
// (same SQLite file, same token secret): the browsers see the server go
// away and come back.
type server struct {
	t    *testing.T
	dist string
	mu   sync.Mutex
	addr string
	stop func()
}

func (s *server) start() {
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	go func() { done <- run(ctx, addr, s.dist, func(a net.Addr) { addrs <- a }) }()
	select {
	case a := <-addrs:
		s.mu.Lock()
		s.addr = a.String()
		s.stop = func() {
			cancel()
			require.NoError(s.t, <-done)
		}
		s.mu.Unlock()
	case err := <-done:
		cancel()
		s.t.Fatalf("react-chat did not start on %s: %v", addr, err)
	}
}

func (s *server) restart() {
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	stop()
	s.start()
}

func (s *server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
}

// TestFindDist: the server needs the built app and says how to build it.
func TestFindDist(t *testing.T) {
	_, err := findDist(t.TempDir())
	require.ErrorIs(t, err, errNoBuild)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html>"), 0o644))
	got, err := findDist(dir)
	require.NoError(t, err)
	require.Equal(t, dir, got)
}

// TestBrowserReactChat drives the built app (npm run build) in headless
// Chromium (e2e/react-chat.test.mjs): two users chat, typing, presence, a
// mention's notification, a file, and a server restart. It needs node,
// Chromium, `npm ci` and `npm run build` here; .ci/run provides them and
// sets REALTIME_REQUIRE_SERVICES=1, under which their absence fails.
// Screenshots go to SCREENSHOT_DIR (default: a new temporary directory,
// logged and kept).
func TestBrowserReactChat(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	browser := testenv.NodeTests{Dir: ".", Need: []string{"node_modules/playwright-core", "dist/index.html", chromium},
		Flags: []string{"--experimental-websocket"}, Files: []string{"e2e/react-chat.test.mjs"}, Timeout: 4 * time.Minute}
	browser.Check(t)
	shots := os.Getenv("SCREENSHOT_DIR")
	if shots == "" {
		var err error
		shots, err = os.MkdirTemp("", "react-chat-screenshots-")
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	t.Logf("screenshots in %s", shots)

	dir := t.TempDir()
	t.Setenv("CHAT_DB", filepath.Join(dir, "chat.db"))
	t.Setenv("CHAT_FILES_DIR", filepath.Join(dir, "files"))
	t.Setenv("DATABASE_URL", "")
	t.Setenv("JWT_SECRET", "")
	t.Setenv("DEV_TOKEN_SECRET", "react-chat e2e secret, the same after a restart")
	t.Setenv("PRESENCE_GRACE", "1s")
	t.Setenv("MAX_MESSAGES_PER_MINUTE", "-1") // a long history is sent at once
	t.Setenv("MAX_EVENTS_PER_SECOND", "-1")
	s := &server{t: t, dist: "dist"}
	s.start()
	t.Cleanup(s.close)
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/restart" {
			http.NotFound(w, r)
			return
		}
		s.restart()
	}))
	t.Cleanup(control.Close)

	browser.Env = []string{"BASE_URL=http://" + s.addr, "CONTROL_URL=" + control.URL, "CHROMIUM=" + chromium,
		"SCREENSHOT_DIR=" + shots, "PRESENCE_GRACE_MS=1000"}
	browser.Run(t)
}
