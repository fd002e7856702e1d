package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
)

// startChat runs the example on a free loopback port and returns its base
// URL; the server shuts down when the test ends.
func startChat(t *testing.T) string {
	t.Helper()
	t.Setenv("JWT_SECRET", "")
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(a net.Addr) { addrs <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("chat did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return "http://" + addr.String()
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
	node, nodeErr := exec.LookPath("node")
	_, chromeErr := os.Stat(chromium)
	_, modsErr := os.Stat(filepath.Join("e2e", "node_modules", "playwright-core"))
	if missing := errors.Join(nodeErr, chromeErr, modsErr); missing != nil {
		if os.Getenv("REALTIME_REQUIRE_SERVICES") == "1" {
			t.Fatalf("browser test prerequisites missing: %v", missing)
		}
		t.Skipf("browser test prerequisites missing (install chromium, run npm ci in examples/chat/e2e): %v", missing)
	}
	base := startChat(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "chat.test.mjs")
	cmd.Dir = "e2e"
	cmd.Env = append(os.Environ(), "BASE_URL="+base, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "browser test failed:\n%s", out)
	require.Contains(t, string(out), "# fail 0")
}
