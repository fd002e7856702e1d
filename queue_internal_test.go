package realtime

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// TestIdleConnectionHoldsNoQueue: once its writer has sent everything, a
// connection holds no send queue: the arrays go back to frameQueues, for
// the next connection that sends, instead of staying with an idle one.
func TestIdleConnectionHoldsNoQueue(t *testing.T) {
	h := quietHub(t, Config{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/?username=quinn", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(-1)
	_, data, err := ws.Read(ctx) // connected
	require.NoError(t, err)
	require.Contains(t, string(data), `"connected"`)
	conns := h.fan.allConns()
	require.Len(t, conns, 1)
	c := conns[0]

	const pushes = 200 // several batches, which grow the queue
	for i := range pushes {
		require.NoError(t, h.SendToUser(ctx, c.currentUser().ID, "note", map[string]int{"i": i}))
	}
	for got := 0; got < pushes; {
		_, data, err := ws.Read(ctx)
		require.NoError(t, err)
		got += strings.Count(string(data), `"note"`)
	}
	require.Eventually(t, func() bool {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		return !c.writing && c.queue == nil && c.spare == nil
	}, 5*time.Second, 5*time.Millisecond, "the idle connection still holds its queue")
}
