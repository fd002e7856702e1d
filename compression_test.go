package realtime_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/wire"
)

// countingClient is an HTTP client whose connections count the bytes they
// read: what a client receives on the wire.
func countingClient(read *atomic.Int64) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, read}, nil
	}}}
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestCompression: with Config.Compression, a client that offers
// permessage-deflate gets it: a message of realistic repeated content
// arrives intact in a fraction of its bytes; a client that does not offer
// it, or a hub without it, talks uncompressed; a compressed frame that
// inflates past MaxFrameBytes closes the connection with 1009.
func TestCompression(t *testing.T) {
	content := strings.Repeat(`{"text":"a \"quoted\" word, a back\\slash, é and 😀"} `, 150) // 9 KB
	for _, tc := range []struct {
		name            string
		hub, client     bool
		wantCompression bool
	}{
		{"on", true, true, true},
		{"client does not offer it", true, false, false},
		{"hub off", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestHub(t, realtime.Config{Compression: tc.hub, MaxMessageLength: 20000})
			sender := env.dial("alice")
			room := sender.createRoom("deflate", nil)
			var read atomic.Int64
			bob := env.dialWith(client.DialOptions{Token: env.token("bob"), Compression: tc.client, HTTPClient: countingClient(&read)})
			bob.emit("join-room", map[string]any{"roomId": room.ID})
			before := read.Load()
			sender.emit("message", map[string]any{"roomId": room.ID, "content": content})
			var got realtime.Message
			require.NoError(t, json.Unmarshal(bob.next("new-message"), &got))
			require.Equal(t, content, got.Content)
			received := read.Load() - before
			if tc.wantCompression {
				require.Less(t, received, int64(len(content)/4), "compressed on the wire")
			} else {
				require.Greater(t, received, int64(len(content)), "sent as it is")
			}
		})
	}

	t.Run("inflating past MaxFrameBytes", func(t *testing.T) {
		env := newTestHub(t, realtime.Config{Compression: true, MaxFrameBytes: 64 << 10})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, env.url, &websocket.DialOptions{
			HTTPHeader:      http.Header{"Authorization": {"Bearer " + env.token("mallory")}},
			Subprotocols:    []string{wire.Subprotocol},
			CompressionMode: websocket.CompressionNoContextTakeover,
		})
		require.NoError(t, err)
		defer ws.CloseNow()
		require.Contains(t, resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		// 1 MiB of one byte: a few KB on the wire.
		bomb := wire.AppendClient(nil, "typing", []byte(`{"roomId":"`+strings.Repeat("a", 1<<20)+`"}`), 1)
		require.NoError(t, ws.Write(ctx, websocket.MessageText, bomb))
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				require.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)
				break
			}
		}
	})
}
