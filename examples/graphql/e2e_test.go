package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/testenv"
)

// TestGraphQLWSClient runs e2e/graphql.test.mjs: the npm graphql-ws client
// subscribes while a native WebSocket client and socket.io-client send. It
// needs node and `npm ci` in e2e/; .ci/run provides them.
func TestGraphQLWSClient(t *testing.T) {
	node, nodeErr := exec.LookPath("node")
	_, modsErr := os.Stat(filepath.Join("e2e", "node_modules", "graphql-ws"))
	if missing := errors.Join(nodeErr, modsErr); missing != nil {
		testenv.Unavailable(t, "graphql-ws test prerequisites missing (run npm ci in examples/graphql/e2e): %v", missing)
	}
	base := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "graphql.test.mjs")
	cmd.Dir = "e2e"
	cmd.Env = append(os.Environ(), "BASE_URL="+base,
		"ALICE_TOKEN="+token(t, "alice", time.Hour), "BOB_TOKEN="+token(t, "bob", time.Hour),
		"CAROL_TOKEN="+token(t, "carol", time.Hour), "SHORT_TOKEN="+token(t, "bob", 3*time.Second))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "graphql-ws test failed:\n%s", out)
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "not ok ") {
			t.Log(strings.TrimSpace(line))
		}
	}
	require.Contains(t, string(out), "# fail 0")
	require.Contains(t, string(out), "# skipped 0")
}
