package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/examples/internal/chatapp"
	"github.com/realtime-go/realtime/internal/testenv"
)

// clusterEnv makes the example a node of a test cluster: Redis, a fresh
// PostgreSQL schema, a key prefix and a development secret of its own.
func clusterEnv(t *testing.T) {
	testenv.RedisAddr(t)
	t.Setenv("REDIS_URL", testenv.RedisURL())
	t.Setenv("REDIS_PREFIX", "test-chat-"+strings.ToLower(rand.Text()[:8])+":")
	t.Setenv("DATABASE_URL", testenv.PostgresSchema(t, ""))
	t.Setenv("DEV_TOKEN_SECRET", "a development secret the nodes share")
	t.Setenv("CHAT_FILES_DIR", t.TempDir())
}

// TestTwoNodes: two processes' worth of the example, configured only by the
// environment, are one chat: a user on each node, one room, messages both
// ways; each serves metrics, health and the admin API.
func TestTwoNodes(t *testing.T) {
	clusterEnv(t)
	node1, stop1 := startChatWith(t)
	defer stop1()
	node2, stop2 := startChatWith(t)
	defer stop2()

	alice, bob := chatUser(t, node1, "alice"), chatUser(t, node2, "bob") // a token of node 1 works on node 2 too
	var created struct{ Room realtime.Room }
	require.NoError(t, json.Unmarshal(emit(t, alice, "create-room", map[string]string{"name": "across"}), &created))
	emit(t, bob, "join-room", map[string]string{"roomId": created.Room.ID})
	emit(t, alice, "message", map[string]string{"roomId": created.Room.ID, "content": "from node 1"})
	emit(t, bob, "message", map[string]string{"roomId": created.Room.ID, "content": "from node 2"})
	for _, c := range []*client.Client{alice, bob} {
		var got []string
		timeout := time.After(10 * time.Second)
		for len(got) < 2 {
			select {
			case ev := <-c.Events():
				if ev.Name == "new-message" {
					var m realtime.Message
					require.NoError(t, json.Unmarshal(ev.Data, &m))
					got = append(got, m.Content)
				}
			case <-timeout:
				t.Fatalf("got %v", got)
			}
		}
		require.Equal(t, []string{"from node 1", "from node 2"}, got)
	}

	for _, node := range []string{node1, node2} {
		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/admin/connections": 401} {
			resp, err := http.Get(node + path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, want, resp.StatusCode, "%s%s: %s", node, path, body)
			if path == "/metrics" {
				require.Contains(t, string(body), `realtime_connects_total{transport="websocket"} 1`)
				require.Contains(t, string(body), `realtime_messages_stored_total{kind="room"} 1`)
			}
		}
	}
}

// TestNodeNeedsASharedDatabaseAndSecret: a node of a cluster refuses to run
// on SQLite, or without a secret every node shares.
func TestNodeNeedsASharedDatabaseAndSecret(t *testing.T) {
	clusterEnv(t)
	t.Setenv("JWT_SECRET", "")
	t.Setenv("DATABASE_URL", "")
	ctx := context.Background()
	require.ErrorIs(t, run(ctx, "127.0.0.1:0", nil), chatapp.ErrNeedDatabase)
	t.Setenv("DATABASE_URL", testenv.PostgresSchema(t, ""))
	t.Setenv("DEV_TOKEN_SECRET", "")
	require.ErrorIs(t, run(ctx, "127.0.0.1:0", nil), chatapp.ErrNeedSecret)
}
