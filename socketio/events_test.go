package socketio_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/socketio"
	"github.com/realtime-go/realtime/socketio/internal/sio"
)

type msgAck struct {
	ID  string
	Seq uint64
}

// TestAcks checks the ack mapping: ids from 0, one argument {data} or
// {error}, errors of events without ack as error events.
func TestAcks(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			c := e.sio("alice", transport)
			// Ack ids start at 0 (the helper counts from 0).
			require.JSONEq(t, `{"rooms":[]}`, string(c.emit("list-rooms", nil)))
			raw := c.emitRaw("join-room", map[string]string{"roomId": "nope"})
			var failed map[string]map[string]string
			require.NoError(t, json.Unmarshal(raw, &failed))
			require.Equal(t, "not_found", failed["error"]["code"])
			require.NotEmpty(t, failed["error"]["message"])
			c.emitErr(realtime.CodeInvalid, "no-such-event", map[string]any{})
			c.emitErr(realtime.CodeInvalid, "join-room", []int{1}) // data must be an object
			c.emitErr(realtime.CodeInvalid, "join-room", "r")

			// Without ack, a failure is an error event naming the event.
			c.emitNoAck("join-room", map[string]string{"roomId": "nope"})
			ev := testenv.DecodeInto[struct{ Code, Message, Event string }](t, c.next("error"))
			require.Equal(t, "not_found", ev.Code)
			require.Equal(t, "join-room", ev.Event)

			// Two data arguments: refused by the bridge, the same way.
			raw = c.emitRaw("list-rooms", json.RawMessage(`{},{}`))
			require.Contains(t, string(raw), `"code":"invalid"`)
			_ = raw
		})
	}
}

// TestBinaryRefused checks that events with binary attachments are
// answered with a clear error, the session staying open.
func TestBinaryRefused(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			c := e.sio("alice", transport)
			if transport == "websocket" {
				require.NoError(t, c.write(`451-7["message",{"_placeholder":true,"num":0}]`))
				require.NoError(t, c.ws.Write(context.Background(), 2, []byte{1, 2, 3}))
			} else {
				require.NoError(t, c.write("451-7[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"))
			}
			var ack sio.Packet
			require.Eventually(t, func() bool {
				select {
				case p := <-c.raw:
					if strings.HasPrefix(string(p.Data), "37[") {
						ack, _ = sio.Decode(p.Data)
						return true
					}
				default:
				}
				return false
			}, 5*time.Second, time.Millisecond)
			require.JSONEq(t, `[{"error":{"code":"invalid","message":"binary arguments are not supported: send JSON"}}]`, string(ack.Data))
			c.emit("list-rooms", nil)
		})
	}
}

// TestMixedRoom puts a native client and Socket.IO clients on both
// transports in one room: each sees the others' messages, typing and
// presence.
func TestMixedRoom(t *testing.T) {
	e := newEnv(t, realtime.Config{PresenceGrace: 10 * time.Millisecond}, socketio.Options{})
	nat := e.native("nora")
	room := testenv.DecodeInto[struct{ Room realtime.Room }](t, nat.emit("create-room", map[string]any{"name": "mixed"})).Room
	ws := e.sio("wendy", "websocket")
	pl := e.sio("paul", "polling")
	for _, c := range []*sclient{ws, pl} {
		c.emit("join-room", map[string]string{"roomId": room.ID})
		joined := testenv.DecodeInto[struct {
			RoomID string
			User   realtime.UserRef
		}](t, nat.next("user-joined"))
		require.Equal(t, room.ID, joined.RoomID)
	}
	require.Equal(t, "paul", testenv.DecodeInto[struct{ User realtime.UserRef }](t, ws.next("user-joined")).User.ID)

	// Messages every way, each seen by all three, in seq order.
	senders := []struct {
		name string
		send func(content string) msgAck
	}{
		{"nora", func(s string) msgAck {
			return testenv.DecodeInto[msgAck](t, nat.emit("message", map[string]any{"roomId": room.ID, "content": s}))
		}},
		{"wendy", func(s string) msgAck {
			return testenv.DecodeInto[msgAck](t, ws.emit("message", map[string]any{"roomId": room.ID, "content": s}))
		}},
		{"paul", func(s string) msgAck {
			return testenv.DecodeInto[msgAck](t, pl.emit("message", map[string]any{"roomId": room.ID, "content": s}))
		}},
	}
	for i, s := range senders {
		ack := s.send("hello from " + s.name)
		require.Equal(t, uint64(i+1), ack.Seq)
		for _, next := range []func(string) json.RawMessage{nat.next, ws.next, pl.next} {
			m := testenv.DecodeInto[realtime.Message](t, next("new-message"))
			require.Equal(t, ack.ID, m.ID)
			require.Equal(t, s.name, m.SenderID)
			require.Equal(t, "hello from "+s.name, m.Content)
		}
	}

	// Typing both ways.
	ws.emit("typing", map[string]any{"roomId": room.ID, "isTyping": true})
	ty := testenv.DecodeInto[struct {
		UserID   string
		IsTyping bool
	}](t, nat.next("user-typing"))
	require.Equal(t, "wendy", ty.UserID)
	require.True(t, ty.IsTyping)
	require.Equal(t, "wendy", testenv.DecodeInto[struct{ UserID string }](t, pl.next("user-typing")).UserID)
	nat.emit("typing", map[string]any{"roomId": room.ID, "isTyping": true})
	require.Equal(t, "nora", testenv.DecodeInto[struct{ UserID string }](t, pl.next("user-typing")).UserID)

	// Presence: a Socket.IO client's status change reaches the native one.
	pl.emit("presence-update", map[string]string{"status": "busy"})
	for {
		p := testenv.DecodeInto[realtime.Presence](t, nat.next("presence-changed"))
		if p.UserID == "paul" && p.Status == "busy" {
			break
		}
	}
	// And a Socket.IO client leaving is seen as a native one would be.
	ws.emit("leave-room", map[string]string{"roomId": room.ID})
	require.Equal(t, "wendy", testenv.DecodeInto[struct{ User realtime.UserRef }](t, nat.next("user-left")).User.ID)
}

// TestResume checks join-room with since for a Socket.IO client that
// reconnects: the messages it missed are replayed, in order, before live
// ones.
func TestResume(t *testing.T) {
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			// The client drops without a word: the session ends by ping
			// timeout, and the Hub connection with it.
			e := newEnv(t, realtime.Config{}, socketio.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
			nat := e.native("nora")
			room := testenv.DecodeInto[struct{ Room realtime.Room }](t, nat.emit("create-room", map[string]any{"name": "r"})).Room
			c := e.sio("sam", transport)
			c.emit("join-room", map[string]string{"roomId": room.ID})
			nat.emit("message", map[string]any{"roomId": room.ID, "content": "seen"})
			last := testenv.DecodeInto[realtime.Message](t, c.next("new-message")).ID
			c.close()
			eventually(t, func() bool { return e.hub.UserConnections("sam") == 0 }, "sam gone")

			for i := range 3 {
				nat.emit("message", map[string]any{"roomId": room.ID, "content": "missed " + string(rune('1'+i))})
			}
			c = e.sio("sam", transport)
			ack := testenv.DecodeInto[struct {
				Missed    int
				Recovered bool
			}](t, c.emit("join-room", map[string]string{"roomId": room.ID, "since": last}))
			require.Equal(t, 3, ack.Missed)
			require.True(t, ack.Recovered)
			for i := range 3 {
				require.Equal(t, "missed "+string(rune('1'+i)), testenv.DecodeInto[realtime.Message](t, c.next("new-message")).Content)
			}
			nat.emit("message", map[string]any{"roomId": room.ID, "content": "live"})
			require.Equal(t, "live", testenv.DecodeInto[realtime.Message](t, c.next("new-message")).Content)
		})
	}
}

// TestHubCloses checks how the Hub's closes reach Socket.IO clients.
func TestHubCloses(t *testing.T) {
	t.Run("hub shutdown closes the transport", func(t *testing.T) {
		e := newEnv(t, realtime.Config{}, socketio.Options{})
		ws, pl := e.sio("alice", "websocket"), e.sio("bob", "polling")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.hub.Shutdown(ctx))
		// 1001: no DISCONNECT, the session closes, clients reconnect.
		ws.waitClosed(5 * time.Second)
		pl.waitClosed(5 * time.Second)
		select {
		case p := <-ws.control:
			t.Fatalf("unexpected %s", p.Append(nil))
		default:
		}
	})
	t.Run("server shutdown", func(t *testing.T) {
		e := newEnv(t, realtime.Config{}, socketio.Options{})
		ws, pl := e.sio("alice", "websocket"), e.sio("bob", "polling")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.srv.Shutdown(ctx))
		ws.waitClosed(5 * time.Second)
		pl.waitClosed(5 * time.Second)
		require.Equal(t, 0, e.hub.Stats().Connections)
		code, _, _ := httpDo(t, "GET", e.eioURL("polling"), "", nil)
		require.Equal(t, 503, code)
		require.NoError(t, e.srv.Shutdown(ctx), "again")
	})
	t.Run("kick is an event", func(t *testing.T) {
		e := newEnv(t, realtime.Config{}, socketio.Options{})
		nat := e.native("nora")
		room := testenv.DecodeInto[struct{ Room realtime.Room }](t, nat.emit("create-room", map[string]any{"name": "r"})).Room
		c := e.sio("sam", "polling")
		c.emit("join-room", map[string]string{"roomId": room.ID})
		nat.emit("remove-member", map[string]string{"roomId": room.ID, "userId": "sam"})
		require.Equal(t, room.ID, testenv.DecodeInto[struct{ RoomID string }](t, c.next("kicked")).RoomID)
		c.emit("list-rooms", nil)
	})
	t.Run("client disconnect", func(t *testing.T) {
		var ended = make(chan realtime.DisconnectEvent, 1)
		e := newEnv(t, realtime.Config{OnDisconnect: func(_ context.Context, ev realtime.DisconnectEvent) { ended <- ev }}, socketio.Options{})
		c := e.sio("alice", "websocket")
		c.send(sio.Packet{Type: sio.TypeDisconnect, Namespace: "/", ID: -1})
		select {
		case ev := <-ended:
			require.Equal(t, realtime.StatusNormal, ev.Code)
		case <-time.After(5 * time.Second):
			t.Fatal("no OnDisconnect")
		}
	})
}

// TestNotificationsOverSocketIO: a Socket.IO client gets notification
// pushes, lists and marks its notifications, as native clients do.
func TestNotificationsOverSocketIO(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			user := "bob-" + transport
			c := e.sio(user, transport)
			_, err := e.hub.Notify(t.Context(), []string{user}, realtime.Notification{Type: "system", Title: `"hi" é`})
			require.NoError(t, err)
			n := testenv.DecodeInto[realtime.Notification](t, c.next("notification"))
			require.Equal(t, `"hi" é`, n.Title)
			page := testenv.DecodeInto[struct {
				Notifications []realtime.Notification
				Unread        int
			}](t, c.emit("get-notifications", nil))
			require.Equal(t, 1, page.Unread)
			require.Equal(t, n.ID, page.Notifications[0].ID)
			require.Zero(t, testenv.DecodeInto[struct{ Unread int }](t, c.emit("mark-notifications-read", map[string]any{"ids": []string{n.ID}})).Unread)
			c.emitErr(realtime.CodeNotFound, "mark-notifications-read", map[string]any{"ids": []string{"n_forged"}})
		})
	}
}
