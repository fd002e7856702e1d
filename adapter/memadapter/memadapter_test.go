package memadapter_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/adapter/adaptertest"
	"github.com/realtime-go/realtime/adapter/memadapter"
	"github.com/realtime-go/realtime/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAdapter(t *testing.T) {
	adaptertest.Run(t, func(t *testing.T, n int) []adapter.Adapter {
		bus := memadapter.NewBus()
		nodes := make([]adapter.Adapter, n)
		for i := range nodes {
			nodes[i] = bus.Node()
		}
		return nodes
	})
}

// TestHubsShareABus runs two hubs as two nodes: what one publishes reaches
// the connections of the other.
func TestHubsShareABus(t *testing.T) {
	bus := memadapter.NewBus()
	store := realtime.NewMemoryStore(realtime.MemoryOptions{})
	newHub := func() (*realtime.Hub, string) {
		hub, err := realtime.New(realtime.Config{
			Broker: bus.Node(),
			Store:  store,
			Logger: slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		srv := httptest.NewServer(hub)
		t.Cleanup(func() {
			require.NoError(t, hub.Close())
			srv.Close()
		})
		return hub, "ws" + strings.TrimPrefix(srv.URL, "http")
	}
	a, _ := newHub()
	_, urlB := newHub()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, urlB, client.DialOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	require.NoError(t, a.Broadcast(ctx, "announcement", map[string]string{"text": "to all"}))
	require.JSONEq(t, `{"text":"to all"}`, string(next(t, c, "announcement")))
	require.NoError(t, a.SendToUser(ctx, c.User().ID, "notice", map[string]string{"text": "to you"}))
	require.JSONEq(t, `{"text":"to you"}`, string(next(t, c, "notice")))
}

// next returns the data of c's next event named name, skipping others.
func next(t *testing.T, c *client.Client, name string) json.RawMessage {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			require.True(t, ok, "client closed while waiting for %s", name)
			if ev.Name == name {
				return ev.Data
			}
		case <-timeout:
			require.FailNow(t, "event missing", "no %s event within 5s", name)
		}
	}
}

// room is the channel the lifecycle tests use.
func room() adapter.Channel { return adapter.Room("r") }

func TestLifecycleErrors(t *testing.T) {
	ctx := t.Context()
	deliver := adapter.Funcs{}
	a := memadapter.NewBus().Node()

	require.Error(t, a.Subscribe(ctx, room()), "Subscribe before Start")
	require.Error(t, a.Publish(ctx, room(), nil), "Publish before Start")
	require.NoError(t, a.Start(ctx, deliver))
	require.Error(t, a.Start(ctx, deliver), "second Start")
	require.NoError(t, a.Unsubscribe(ctx, room()), "Unsubscribe of a channel not subscribed")

	require.NoError(t, a.Subscribe(ctx, room()))
	require.NoError(t, a.Close())
	require.NoError(t, a.Close())
	require.Error(t, a.Subscribe(ctx, room()), "Subscribe after Close")
	require.Error(t, a.Publish(ctx, room(), nil), "Publish after Close")
	require.NoError(t, a.Unsubscribe(ctx, room()), "Unsubscribe after Close")
}

// TestCloseWaitsForDelivery checks that once Close returns, deliver is not
// running and is not called again.
func TestCloseWaitsForDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		bus := memadapter.NewBus()
		pub, sub := bus.Node(), bus.Node()
		require.NoError(t, pub.Start(ctx, adapter.Funcs{}))
		entered, release := make(chan struct{}), make(chan struct{})
		var mu sync.Mutex
		delivering := false
		require.NoError(t, sub.Start(ctx, adapter.Funcs{OnDeliver: func(adapter.Channel, []byte) {
			mu.Lock()
			delivering = true
			mu.Unlock()
			close(entered)
			<-release
			mu.Lock()
			delivering = false
			mu.Unlock()
		}}))
		require.NoError(t, sub.Subscribe(ctx, room()))

		published := make(chan error, 1)
		go func() { published <- pub.Publish(ctx, room(), []byte("x")) }()
		<-entered
		// closed reports, once Close returns, whether deliver was running.
		closed := make(chan bool, 1)
		go func() {
			_ = sub.Close()
			mu.Lock()
			defer mu.Unlock()
			closed <- delivering
		}()
		synctest.Wait()
		early := len(closed) > 0
		close(release)
		require.False(t, early, "Close returned before the delivery ended")
		require.False(t, <-closed, "Close returned during a delivery")
		require.NoError(t, <-published)
		require.NoError(t, pub.Publish(ctx, room(), []byte("y")))
		require.NoError(t, pub.Close())
	})
}

// TestSlowNodeDoesNotBlockOthers checks that a publication reaches every
// node even while another node's deliver is running.
func TestSlowNodeDoesNotBlockOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		bus := memadapter.NewBus()
		slow, fast := bus.Node(), bus.Node()
		entered, release := make(chan struct{}), make(chan struct{})
		require.NoError(t, slow.Start(ctx, adapter.Funcs{OnDeliver: func(adapter.Channel, []byte) {
			entered <- struct{}{}
			<-release
		}}))
		got := make(chan string, 2)
		require.NoError(t, fast.Start(ctx, adapter.Funcs{OnDeliver: func(_ adapter.Channel, p []byte) { got <- string(p) }}))
		other := adapter.Room("other")
		require.NoError(t, slow.Subscribe(ctx, room()))
		require.NoError(t, fast.Subscribe(ctx, other))

		published := make(chan error, 1)
		go func() { published <- fast.Publish(ctx, room(), []byte("to-slow")) }()
		<-entered
		// The slow node is still in deliver; the bus serves everyone else.
		require.NoError(t, slow.Publish(ctx, other, []byte("to-fast")))
		require.Equal(t, "to-fast", <-got)
		require.NoError(t, fast.Subscribe(ctx, room()))
		require.NoError(t, fast.Unsubscribe(ctx, room()))
		close(release)
		require.NoError(t, <-published)
		require.NoError(t, slow.Close())
		require.NoError(t, fast.Close())
	})
}
