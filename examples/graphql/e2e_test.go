package main

import (
	"testing"
	"time"

	"github.com/realtime-go/realtime/internal/testenv"
)

// TestGraphQLWSClient runs e2e/graphql.test.mjs: the npm graphql-ws client
// subscribes while a native WebSocket client and socket.io-client send. It
// needs node and `npm ci` in e2e/; .ci/run provides them.
func TestGraphQLWSClient(t *testing.T) {
	run := testenv.NodeTests{Dir: "e2e", Need: []string{"node_modules/graphql-ws"}, Files: []string{"graphql.test.mjs"}, Timeout: 90 * time.Second}
	run.Check(t)
	base := start(t)
	run.Env = []string{"BASE_URL=" + base,
		"ALICE_TOKEN=" + token(t, "alice", time.Hour), "BOB_TOKEN=" + token(t, "bob", time.Hour),
		"CAROL_TOKEN=" + token(t, "carol", time.Hour), "SHORT_TOKEN=" + token(t, "bob", 3*time.Second)}
	run.Run(t)
}
