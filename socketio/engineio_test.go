package socketio_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/socketio"
)

type handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

func TestHandshake(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{PingInterval: 3 * time.Second, PingTimeout: 2 * time.Second, MaxPayload: 5000})

	code, h, body := httpDo(t, http.MethodGet, e.eioURL("polling"), "", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "text/plain; charset=UTF-8", h.Get("Content-Type"))
	require.True(t, strings.HasPrefix(body, "0"), body)
	var hs handshake
	require.NoError(t, json.Unmarshal([]byte(body[1:]), &hs))
	require.Len(t, hs.SID, 20)
	require.Equal(t, handshake{SID: hs.SID, Upgrades: []string{"websocket"}, PingInterval: 3000, PingTimeout: 2000, MaxPayload: 5000}, hs)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.eioURL("websocket"), nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	_, data, err := ws.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data[1:], &hs))
	require.Empty(t, hs.Upgrades, "a WebSocket session has nothing to upgrade to")
	require.NotEmpty(t, hs.SID)
}

// TestOptionsFromHub: what the bridge and the Hub both set is set once, on
// the Hub: zero Options take its heartbeat, ping timeout and frame limit.
func TestOptionsFromHub(t *testing.T) {
	e := newEnv(t, realtime.Config{HeartbeatInterval: 7 * time.Second, PingTimeout: 3 * time.Second, MaxFrameBytes: 4096}, socketio.Options{})
	code, _, body := httpDo(t, http.MethodGet, e.eioURL("polling"), "", nil)
	require.Equal(t, http.StatusOK, code)
	var hs handshake
	require.NoError(t, json.Unmarshal([]byte(body[1:]), &hs))
	require.Equal(t, handshake{SID: hs.SID, Upgrades: []string{"websocket"}, PingInterval: 7000, PingTimeout: 3000, MaxPayload: 4096}, hs)
}

func TestHandshakeErrors(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	base := e.base + "/socket.io/"
	for _, tc := range []struct {
		name, method, url string
		status            int
		body              string
	}{
		{"no EIO", "GET", base + "?transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO 3", "GET", base + "?EIO=3&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO abc", "GET", base + "?EIO=abc&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"no transport", "GET", base + "?EIO=4", 400, `{"code":0,"message":"Transport unknown"}`},
		{"bad transport", "GET", base + "?EIO=4&transport=abc", 400, `{"code":0,"message":"Transport unknown"}`},
		{"POST handshake", "POST", base + "?EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"PUT handshake", "PUT", base + "?EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"unknown sid GET", "GET", base + "?EIO=4&transport=polling&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"unknown sid POST", "POST", base + "?EIO=4&transport=polling&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"unknown sid websocket", "GET", base + "?EIO=4&transport=websocket&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"other path", "GET", e.base + "/socket.io/x?EIO=4&transport=polling", 404, "404 page not found\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := httpDo(t, tc.method, tc.url, "", nil)
			require.Equal(t, tc.status, code)
			require.Equal(t, tc.body, body)
			if tc.status == 400 {
				require.Equal(t, "application/json", h.Get("Content-Type"))
			}
		})
	}
	// Without the trailing slash, as clients with addTrailingSlash: false ask.
	code, _, _ := httpDo(t, "GET", e.base+"/socket.io?EIO=4&transport=polling", "", nil)
	require.Equal(t, http.StatusOK, code)
}

func TestTransportsOption(t *testing.T) {
	polling := newEnv(t, realtime.Config{}, socketio.Options{Transports: []string{"polling"}})
	_, _, body := httpDo(t, "GET", polling.eioURL("polling"), "", nil)
	var hs handshake
	require.NoError(t, json.Unmarshal([]byte(body[1:]), &hs))
	require.Empty(t, hs.Upgrades)
	code, _, body := httpDo(t, "GET", polling.base+"/socket.io/?EIO=4&transport=websocket", "", nil)
	require.Equal(t, 400, code)
	require.Equal(t, `{"code":0,"message":"Transport unknown"}`, body)

	ws := newEnv(t, realtime.Config{}, socketio.Options{Transports: []string{"websocket"}})
	code, _, _ = httpDo(t, "GET", ws.eioURL("polling"), "", nil)
	require.Equal(t, 400, code)
	c := ws.sio("alice", "websocket")
	c.emit("list-rooms", nil)

	_, err := socketio.New(ws.hub, socketio.Options{Transports: []string{"flash"}})
	require.ErrorContains(t, err, "Options.Transports")
	_, err = socketio.New(ws.hub, socketio.Options{AllowedOrigins: []string{"*"}})
	require.ErrorContains(t, err, "Options.AllowedOrigins")
	_, err = socketio.New(ws.hub, socketio.Options{PingTimeout: -1})
	require.ErrorContains(t, err, "Options.PingTimeout")
	_, err = socketio.New(ws.hub, socketio.Options{MaxPayload: 10})
	require.ErrorContains(t, err, "Options.MaxPayload")
	_, err = socketio.New(ws.hub, socketio.Options{Path: "socket.io"})
	require.ErrorContains(t, err, "Options.Path")
}

// TestPollingBatches checks that a POST may carry several packets and that
// a GET returns what is pending, joined by \x1e.
func TestPollingBatches(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	c := e.open(dialOpts{transport: "polling", manual: true})
	require.NoError(t, c.write(`40{"token":"`+e.token("alice")+`"}`))
	var got []string
	for len(got) < 2 {
		got = append(got, strings.Split(c.get(200), "\x1e")...)
	}
	require.True(t, strings.HasPrefix(got[0], `40{"sid":"`), got[0])
	require.True(t, strings.HasPrefix(got[1], `42["connected",{"connectionId":"c_`), got[1])

	// Two events with acks in one body; their acks in one response.
	code, _, resp := httpDo(t, "POST", c.url("polling"), `420["list-rooms"]`+"\x1e"+`421["create-room",{"name":"r"}]`, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "ok", resp)
	got = nil
	for len(got) < 2 {
		got = append(got, strings.Split(c.get(200), "\x1e")...)
	}
	require.True(t, strings.HasPrefix(got[0], `430[{"data":{"rooms":[`), got[0])
	require.True(t, strings.HasPrefix(got[1], `431[{"data":{"room":{"id":`), got[1])
}

func TestUpgrade(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	c := e.open(dialOpts{transport: "polling", manual: true})

	// Something pending on the polling side before the upgrade.
	require.NoError(t, c.write(`40{"token":"`+e.token("alice")+`"}`))

	// A GET waiting while the probe arrives is released with a noop.
	polled := make(chan string, 1)
	go func() {
		_, _, b := httpDo(t, "GET", c.url("polling"), "", nil)
		polled <- b
	}()
	first := <-polled
	require.True(t, strings.HasPrefix(first, "40"), first) // the CONNECT answer
	if !strings.Contains(first, `42["connected"`) {
		_, _, b := httpDo(t, "GET", c.url("polling"), "", nil)
		require.True(t, strings.HasPrefix(b, `42["connected"`), b)
	}
	go func() {
		_, _, b := httpDo(t, "GET", c.url("polling"), "", nil)
		polled <- b
	}()
	time.Sleep(50 * time.Millisecond) // let the GET wait
	c.dialWS(c.sid)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte("2probe")))
	_, data, err := c.ws.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "3probe", string(data))
	select {
	case b := <-polled:
		require.Equal(t, "6", b)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting GET was not released by the probe")
	}
	require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte("5")))
	c.wg.Add(1)
	go c.readWS()

	// The session now runs on the WebSocket.
	c.emit("list-rooms", nil)
	code, _, body := httpDo(t, "GET", c.url("polling"), "", nil)
	require.Equal(t, 400, code, body)
	code, _, _ = httpDo(t, "POST", c.url("polling"), "3", nil)
	require.Equal(t, 400, code)

	// A second WebSocket for the same session is closed.
	ws2, _, err := websocket.Dial(ctx, c.url("websocket"), nil)
	require.NoError(t, err)
	_, _, err = ws2.Read(ctx)
	require.Error(t, err)
	c.emit("list-rooms", nil)
}

// TestUpgradeFlushesPending checks that what was queued for polling while
// the client upgraded arrives first on the WebSocket.
func TestUpgradeFlushesPending(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	alice := e.sio("alice", "polling")
	room := testenv.DecodeInto[struct{ Room realtime.Room }](t, alice.emit("create-room", map[string]any{"name": "r"})).Room
	bob := e.open(dialOpts{transport: "polling", manual: true})
	require.NoError(t, bob.write(`40{"token":"`+e.token("bob")+`"}`))
	for got := ""; !strings.Contains(got, `42["connected"`); {
		got += bob.get(200)
	}
	require.NoError(t, bob.write(`420["join-room",{"roomId":"`+room.ID+`"}]`))
	for got := ""; !strings.Contains(got, `430[{"data":`); { // joined: subscribed
		got += bob.get(200)
	}
	// Bob does not poll: alice's messages wait in his session.
	for i := range 3 {
		alice.emit("message", map[string]any{"roomId": room.ID, "content": "m" + string(rune('0'+i))})
	}
	bob.upgrade()
	for i := range 3 {
		m := testenv.DecodeInto[realtime.Message](t, bob.next("new-message"))
		require.Equal(t, "m"+string(rune('0'+i)), m.Content)
	}
}

func TestPingPong(t *testing.T) {
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			// Pings every 50 ms; a pong may take a second, for a loaded
			// machine under -race (100 ms failed there).
			e := newEnv(t, realtime.Config{}, socketio.Options{PingInterval: 50 * time.Millisecond, PingTimeout: time.Second})
			c := e.sio("alice", transport) // answers pings
			pings := 0
			deadline := time.After(5 * time.Second)
			for pings < 4 {
				select {
				case p := <-c.raw:
					if p.Type == '2' {
						pings++
					}
				case <-deadline:
					t.Fatalf("%d pings in 5s", pings)
				}
			}
			c.emit("list-rooms", nil)
			require.Equal(t, 1, e.hub.Stats().Connections)
		})
	}
}

func TestPingTimeout(t *testing.T) {
	opts := socketio.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}
	t.Run("polling", func(t *testing.T) {
		e := newEnv(t, realtime.Config{}, opts)
		c := e.open(dialOpts{transport: "polling"})
		c.close() // nobody polls, nobody answers
		c.ctx, c.cancel = context.WithCancel(context.Background())
		time.Sleep(150 * time.Millisecond)
		code, _, body := httpDo(t, "GET", c.url("polling"), "", nil)
		require.Equal(t, 400, code)
		require.Equal(t, `{"code":1,"message":"Session ID unknown"}`, body)
	})
	t.Run("websocket", func(t *testing.T) {
		e := newEnv(t, realtime.Config{}, opts)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, e.eioURL("websocket"), nil)
		require.NoError(t, err)
		defer ws.CloseNow()
		_, _, _ = ws.Read(ctx) // handshake
		require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(`40{"token":"`+e.token("alice")+`"}`)))
		eventually(t, func() bool { return e.hub.Stats().Connections == 1 }, "hub connection")
		for { // read, never answer
			if _, _, err := ws.Read(ctx); err != nil {
				break
			}
		}
		require.NoError(t, ctx.Err(), "closed by the server, not by the test's deadline")
		eventually(t, func() bool { return e.hub.Stats().Connections == 0 }, "hub connection ends with the session")
	})
}

func TestMaxPayload(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{MaxPayload: 1000})
	t.Run("polling", func(t *testing.T) {
		c := e.sio("alice", "polling")
		code, _, body := httpDo(t, "POST", c.url("polling"), "4"+strings.Repeat("x", 1000), nil)
		require.Equal(t, http.StatusRequestEntityTooLarge, code, body)
		c.waitClosed(5 * time.Second)
		code, _, _ = httpDo(t, "GET", c.url("polling"), "", nil)
		require.Equal(t, 400, code)
	})
	t.Run("websocket", func(t *testing.T) {
		c := e.sio("bob", "websocket")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, c.ws.Write(ctx, websocket.MessageText, []byte(`42["message",{"content":"`+strings.Repeat("x", 1000)+`"}]`)))
		c.waitClosed(5 * time.Second)
	})
	t.Run("just under", func(t *testing.T) {
		c := e.sio("carol", "polling")
		c.emitErr(realtime.CodeInvalid, "message", map[string]any{"roomId": "r", "recipientId": "x", "content": strings.Repeat("x", 800)})
	})
}

// TestMalformed sends packets that must close the session, on both
// transports.
func TestMalformed(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	for _, pkt := range []string{
		"x",                  // unknown Engine.IO type
		"0",                  // open from a client
		"2",                  // ping from a client
		"5",                  // upgrade outside an upgrade
		"4abc",               // unknown Socket.IO type
		"42{}",               // event payload not an array
		`42abc["message"]`,   // bad ack id
		"42[]",               // no event name
		`43["x"]`,            // ack without id
		`44{"message":"x"}`,  // CONNECT_ERROR from a client
		`451-["message",{}]`, // binary event, then text instead of its attachment
	} {
		for _, transport := range []string{"polling", "websocket"} {
			t.Run(transport+" "+pkt, func(t *testing.T) {
				c := e.sio("alice", transport)
				if transport == "polling" {
					code, _, _ := httpDo(t, "POST", c.url("polling"), pkt+"\x1e"+`42["list-rooms"]`, nil)
					require.Equal(t, 400, code)
				} else {
					require.NoError(t, c.write(pkt))
					if pkt == `451-["message",{}]` {
						require.NoError(t, c.write(`42["list-rooms"]`))
					}
				}
				c.waitClosed(5 * time.Second)
				eventually(t, func() bool { return e.hub.Stats().Connections == 0 }, "hub connection ends")
			})
		}
	}
	t.Run("malformed polling body", func(t *testing.T) {
		c := e.sio("alice", "polling")
		code, _, _ := httpDo(t, "POST", c.url("polling"), "4a\x1e\x1e4b", nil)
		require.Equal(t, 400, code)
		c.waitClosed(5 * time.Second)
	})
}

func TestOverlappingPolls(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	c := e.open(dialOpts{transport: "polling", manual: true})
	type result struct {
		code int
		body string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			code, _, body := httpDo(t, "GET", c.url("polling"), "", nil)
			results <- result{code, body}
		}()
	}
	// Whichever came first waited and gets the close packet; the other
	// one gets 400.
	a, b := <-results, <-results
	if a.code != 200 {
		a, b = b, a
	}
	require.Equal(t, result{200, "1"}, a)
	require.Equal(t, 400, b.code)
	code, _, _ := httpDo(t, "GET", c.url("polling"), "", nil)
	require.Equal(t, 400, code)
}

func TestClientClose(t *testing.T) {
	e := newEnv(t, realtime.Config{}, socketio.Options{})
	t.Run("polling", func(t *testing.T) {
		c := e.open(dialOpts{transport: "polling"})
		c.close()
		c.ctx, c.cancel = context.WithCancel(context.Background())
		polled := make(chan string, 1)
		go func() {
			_, _, b := httpDo(t, "GET", c.url("polling"), "", nil)
			polled <- b
		}()
		time.Sleep(50 * time.Millisecond)
		code, _, _ := httpDo(t, "POST", c.url("polling"), "1", nil)
		require.Equal(t, 200, code)
		require.Equal(t, "6", <-polled)
		code, _, _ = httpDo(t, "GET", c.url("polling"), "", nil)
		require.Equal(t, 400, code)
	})
	t.Run("websocket", func(t *testing.T) {
		c := e.sio("alice", "websocket")
		require.NoError(t, c.write("1"))
		c.waitClosed(5 * time.Second)
		eventually(t, func() bool { return e.hub.Stats().Connections == 0 }, "hub connection ends")
	})
}

// TestCORS: the bridge allows the Hub's origins (Options.AllowedOrigins is
// nil), and every origin gets the same answer from the bridge as from the
// native WebSocket endpoint: one matcher for both.
func TestCORS(t *testing.T) {
	e := newEnv(t, realtime.Config{AllowedOrigins: []string{"app.example.com", "https://*.example.org"}}, socketio.Options{})
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://app.example.com", true},
		{"http://app.example.com", true},
		{"https://x.example.org", true},
		{"http://x.example.org", false}, // the pattern names its scheme
		{"https://evil.example", false},
		{"https://APP.EXAMPLE.COM", true},
		{"https://app.example.com.evil.example", false},
		{"null", false},
		{"file://", false},
	} {
		t.Run(tc.origin, func(t *testing.T) {
			h := http.Header{"Origin": {tc.origin}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/ws?token="+e.token("alice"),
				&websocket.DialOptions{HTTPHeader: h, Subprotocols: []string{"realtime.v1"}})
			if tc.ok {
				require.NoError(t, err, "the native endpoint refused an origin the bridge allows")
				ws.CloseNow()
			} else {
				require.Error(t, err)
				require.Equal(t, 403, resp.StatusCode, "the native endpoint")
			}

			code, rh, body := httpDo(t, "GET", e.eioURL("polling"), "", h)
			if !tc.ok {
				require.Equal(t, 403, code)
				require.Equal(t, `{"code":4,"message":"Forbidden"}`, body)
				require.Empty(t, rh.Get("Access-Control-Allow-Origin"))
				return
			}
			require.Equal(t, 200, code)
			require.Equal(t, tc.origin, rh.Get("Access-Control-Allow-Origin"))
			require.Equal(t, "true", rh.Get("Access-Control-Allow-Credentials"))

			h.Set("Access-Control-Request-Method", "POST")
			h.Set("Access-Control-Request-Headers", "authorization, content-type")
			code, rh, _ = httpDo(t, "OPTIONS", e.eioURL("polling"), "", h)
			require.Equal(t, 204, code)
			require.Equal(t, tc.origin, rh.Get("Access-Control-Allow-Origin"))
			require.Equal(t, "authorization, content-type", rh.Get("Access-Control-Allow-Headers"))
			require.Contains(t, rh.Get("Access-Control-Allow-Methods"), "POST")
		})
	}
	t.Run("same origin", func(t *testing.T) {
		code, _, _ := httpDo(t, "GET", e.eioURL("polling"), "", http.Header{"Origin": {e.base}})
		require.Equal(t, 200, code)
	})
	t.Run("websocket", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, e.eioURL("websocket"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		require.Error(t, err)
		require.Equal(t, 403, resp.StatusCode)
		c := e.dialSIO(dialOpts{header: http.Header{"Origin": {"https://app.example.com"}}, auth: json.RawMessage(`{"token":"` + e.token("alice") + `"}`)})
		c.next("connected")
	})
}

// TestStalledWriterEndsByWriteTimeout: a bridge Shutdown that begins while
// the hub is blocked writing to a Socket.IO client that stopped reading
// returns once the hub's WriteTimeout has cut that write off.
func TestStalledWriterEndsByWriteTimeout(t *testing.T) {
	e := newEnv(t, realtime.Config{WriteTimeout: 3 * time.Second, SendQueueBytes: 256 << 20},
		socketio.Options{PingInterval: time.Minute, PingTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.eioURL("websocket"), nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(-1)
	_, _, err = ws.Read(ctx) // OPEN
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageText, []byte(`40{"token":"`+e.token("stall")+`"}`)))
	for {
		_, p, err := ws.Read(ctx)
		require.NoError(t, err)
		if strings.Contains(string(p), "connected") {
			break
		}
	}
	// Stop reading, and send far more than the kernel buffers: the hub's
	// write blocks. Shut the bridge down meanwhile.
	big := strings.Repeat("x", 64<<10)
	for range 1000 {
		require.NoError(t, e.hub.SendToUser(context.Background(), "stall", "blob", big))
	}
	time.Sleep(500 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		done <- e.srv.Shutdown(sctx)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown still blocked after the write timeout")
	}
	require.Eventually(t, func() bool { return e.hub.Stats().Connections == 0 }, 5*time.Second, 20*time.Millisecond)
}
