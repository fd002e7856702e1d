package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
)

func TestNeedsDatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	require.ErrorIs(t, run(context.Background(), []string{"127.0.0.1:0"}, nil), errNeedDatabase)
}

// TestTwoNodesChat: a user on each node, one room, messages both ways.
func TestTwoNodesChat(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		testenv.Unavailable(t, "Redis does not answer on 127.0.0.1:6379: %v", err)
	}
	t.Setenv("DATABASE_URL", testenv.PostgresSchema(t, ""))
	t.Setenv("REDIS_PREFIX", "test-cluster-"+strings.ToLower(rand.Text()[:8])+":")
	t.Setenv("CHAT_FILES_DIR", t.TempDir())
	t.Setenv("JWT_SECRET", "")

	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 2)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"127.0.0.1:0", "127.0.0.1:0"}, func(_ int, a net.Addr) { addrs <- a.String() })
	}()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	node1, node2 := "http://"+<-addrs, "http://"+<-addrs

	alice := dial(t, node1, "alice")
	bob := dial(t, node2, "bob")
	ack := emit(t, alice, "create-room", map[string]string{"name": "across"})
	var created struct{ Room realtime.Room }
	require.NoError(t, json.Unmarshal(ack, &created))
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
}

func dial(t *testing.T, base, name string) *client.Client {
	t.Helper()
	resp, err := http.Post(base+"/dev/token", "application/json", bytes.NewBufferString(`{"name":"`+name+`"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", client.DialOptions{Token: body.Token})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func emit(t *testing.T, c *client.Client, event string, data any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := c.Emit(ctx, event, data)
	require.NoError(t, err, event)
	return ack
}
