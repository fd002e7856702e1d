package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReferenceBehaviours runs the server as main does and checks what the
// official suite expects of it, in the suite's own words; the suite itself
// runs outside the repository (see the package doc).
func TestReferenceBehaviours(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})
	addr := (<-addrc).String()
	url := "ws://" + addr + "/socket.io/?EIO=4&transport=websocket"

	dial := func(t *testing.T) (*websocket.Conn, func() string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		ws, _, err := websocket.Dial(ctx, url, nil)
		require.NoError(t, err)
		t.Cleanup(func() { ws.CloseNow() })
		read := func() string {
			for {
				_, b, err := ws.Read(ctx)
				require.NoError(t, err)
				if string(b) != "2" { // pings
					return string(b)
				}
			}
		}
		require.Contains(t, read(), `"pingInterval":300,"pingTimeout":200,"maxPayload":1000000`)
		return ws, read
	}
	send := func(t *testing.T, ws *websocket.Conn, typ websocket.MessageType, s string) {
		require.NoError(t, ws.Write(context.Background(), typ, []byte(s)))
	}

	t.Run("auth echo", func(t *testing.T) {
		ws, read := dial(t)
		send(t, ws, websocket.MessageText, `40{"token":"123"}`)
		require.Regexp(t, `^40\{"sid":"[^"]+"\}$`, read())
		require.Equal(t, `42["auth",{"token":"123"}]`, read())
	})
	t.Run("custom namespace", func(t *testing.T) {
		ws, read := dial(t)
		send(t, ws, websocket.MessageText, "40/custom,")
		require.Regexp(t, `^40/custom,\{"sid":"[^"]+"\}$`, read())
		require.Equal(t, `42/custom,["auth",{}]`, read())
		send(t, ws, websocket.MessageText, "40/random")
		require.Equal(t, `44/random,{"message":"Invalid namespace"}`, read())
	})
	t.Run("echo and ack", func(t *testing.T) {
		ws, read := dial(t)
		send(t, ws, websocket.MessageText, "40")
		read()
		read()
		send(t, ws, websocket.MessageText, `42["message",1,"2",{"3":[true]}]`)
		require.Equal(t, `42["message-back",1,"2",{"3":[true]}]`, read())
		send(t, ws, websocket.MessageText, `42456["message-with-ack",1,"2",{"3":[false]}]`)
		require.Equal(t, `43456[1,"2",{"3":[false]}]`, read())
		send(t, ws, websocket.MessageText, `452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		send(t, ws, websocket.MessageBinary, "\x01\x02\x03")
		send(t, ws, websocket.MessageBinary, "\x04\x05\x06")
		require.Equal(t, `462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, read())
		require.Equal(t, "\x01\x02\x03", read())
		require.Equal(t, "\x04\x05\x06", read())
	})
	t.Run("bare engine.io echo", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/engine.io/?EIO=4&transport=websocket", nil)
		require.NoError(t, err)
		defer ws.CloseNow()
		read := func() (websocket.MessageType, string) {
			for {
				typ, b, err := ws.Read(ctx)
				require.NoError(t, err)
				if string(b) != "2" { // pings
					return typ, string(b)
				}
			}
		}
		_, open := read()
		require.Contains(t, open, `"pingInterval":300,"pingTimeout":200,"maxPayload":1000000`)
		send(t, ws, websocket.MessageText, "4héllo")
		typ, got := read()
		require.Equal(t, websocket.MessageText, typ)
		require.Equal(t, "4héllo", got)
		send(t, ws, websocket.MessageBinary, "\x00\x01\xff")
		typ, got = read()
		require.Equal(t, websocket.MessageBinary, typ)
		require.Equal(t, "\x00\x01\xff", got)
	})
}
