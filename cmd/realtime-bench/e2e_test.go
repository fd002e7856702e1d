package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

// newBenchHub serves a hub configured as realtime-server configures it, on
// store (nil: the default) and a loopback port, and returns its WebSocket
// URL.
func newBenchHub(t *testing.T, store realtime.Store) string {
	t.Helper()
	auth, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(defaultSecret)})
	require.NoError(t, err)
	hub, err := realtime.New(realtime.Config{
		Authenticator: auth, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: store,
		MaxRoomsPerUser: -1, MaxUsersPerRoom: 100000, MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(hub) // listens on 127.0.0.1
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

// With -client-msg-id every message reaches the store with a clientMsgId
// of its own; without, with none.
func TestClientMsgIDs(t *testing.T) {
	for _, on := range []bool{false, true} {
		store := realtime.NewMemoryStore(realtime.MemoryOptions{})
		url := newBenchHub(t, store)
		args := []string{"-url", url, "-scenario", "rooms", "-rooms", "1", "-members", "3", "-count", "5"}
		if on {
			args = append(args, "-client-msg-id")
		}
		var out strings.Builder
		require.NoError(t, run(t.Context(), args, &out, io.Discard))
		require.Contains(t, out.String(), "15 sent, 45 of 45 delivered")
		rooms, err := store.ListRooms(t.Context(), "u0")
		require.NoError(t, err)
		require.Len(t, rooms, 1)
		msgs, _, err := store.History(t.Context(), realtime.HistoryQuery{Stream: realtime.RoomStream(rooms[0].ID), Limit: 100})
		require.NoError(t, err)
		require.Len(t, msgs, 16, "the warm-up and 15 sent")
		seen := make(map[string]bool)
		for _, m := range msgs {
			if !on {
				require.Empty(t, m.ClientMsgID)
				continue
			}
			require.NotEmpty(t, m.ClientMsgID)
			require.False(t, seen[m.SenderID+" "+m.ClientMsgID], "%s sent %s twice", m.SenderID, m.ClientMsgID)
			seen[m.SenderID+" "+m.ClientMsgID] = true
		}
	}
}

// TestScenariosAgainstHub runs every scenario, small, against a real hub
// over loopback: the realtime.v1 adapter and the bookkeeping agree.
func TestScenariosAgainstHub(t *testing.T) {
	url := newBenchHub(t, nil)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"window", []string{"-scenario", "fanout", "-mode", "window", "-members", "5", "-window", "4", "-duration", "300ms"}, []string{"loss 0.00%", "0 disconnects"}},
		{"burst", []string{"-scenario", "fanout", "-mode", "burst", "-members", "5", "-burst", "50"}, []string{"loss 0.00%", "50 sent, 250 of 250 delivered"}},
		{"paced", []string{"-scenario", "fanout", "-mode", "paced", "-members", "3", "-rate", "50", "-duration", "200ms"}, []string{"loss 0.00%"}},
		{"rooms", []string{"-scenario", "rooms", "-rooms", "3", "-members", "3", "-count", "4"}, []string{"36 sent, 108 of 108 delivered"}},
		{"connect", []string{"-scenario", "connect", "-connects", "12", "-members", "4", "-parallel", "3"}, []string{"12 of 12 made"}},
		{"idle", []string{"-scenario", "idle", "-conns", "5"}, []string{"5 connections", "? KB/conn heap+stacks", "0 disconnects"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var out strings.Builder
			err := run(ctx, append([]string{"-url", url}, tc.args...), &out, io.Discard)
			require.NoError(t, err)
			for _, w := range tc.want {
				assert.Contains(t, out.String(), w)
			}
			assert.NotContains(t, out.String(), "errors")
		})
	}
}
