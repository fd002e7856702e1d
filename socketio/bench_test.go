package socketio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/internal/wire"
	"github.com/realtime-go/realtime/socketio"
)

// BenchmarkFanout1000 sends b.N events to a room of 1,000 native members
// and b.N events to a room of 1,000 Socket.IO members on the WebSocket
// transport, in one hub, in alternating rounds, and waits each time until
// every member has read every event. It reports deliveries per second of
// each and their ratio, socketio/native. Readers run in this process and
// share its CPU with the hub, and a Socket.IO reader reads one WebSocket
// message per event where a native one reads batches: compare the two,
// not either with another machine.
//
//	go test -run '^$' -bench Fanout1000 -benchtime 2000x ./socketio
func BenchmarkFanout1000(b *testing.B) {
	const members = 1000
	hub, base := benchHub(b, realtime.Config{MaxUsersPerRoom: members + 1, SendQueueBytes: 4 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type side struct {
		name      string
		room      realtime.Room
		delivered atomic.Int64
		joined    atomic.Int64 // join acks received
	}
	native, sio := side{name: "native"}, side{name: "socketio"}
	var wg sync.WaitGroup
	var err error
	for _, s := range []*side{&native, &sio} {
		if s.room, err = hub.CreateRoom(ctx, realtime.User{ID: "owner"}, realtime.RoomOptions{Name: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	join := wire.AppendClient(nil, "join-room", []byte(`{"roomId":"`+native.room.ID+`"}`), 1)
	for i := range members {
		ws := benchDial(b, ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws?username=n"+fmt.Sprint(i))
		if err := ws.Write(ctx, websocket.MessageText, join); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			countFrames(ctx, ws, []byte(`{"event":"tick"`), &native.delivered, []byte(`{"ack":1,`), &native.joined)
		})

		sws := benchSocketIO(b, ctx, base, "s"+fmt.Sprint(i))
		if err := sws.Write(ctx, websocket.MessageText, []byte(`420["join-room",{"roomId":"`+sio.room.ID+`"}]`)); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { countFrames(ctx, sws, []byte(`42["tick"`), &sio.delivered, []byte(`430[`), &sio.joined) })
	}
	// A join is acked once the member is subscribed.
	for deadline := time.Now().Add(time.Minute); native.joined.Load() < members || sio.joined.Load() < members; {
		if time.Now().After(deadline) {
			b.Fatalf("joined: %d native, %d socketio", native.joined.Load(), sio.joined.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	payload := map[string]string{"text": strings.Repeat("x", 80)}

	// run sends n events to a side's room and waits for every delivery.
	run := func(s *side, n int) time.Duration {
		s.delivered.Store(0)
		deadline := time.Now().Add(time.Minute) // bounded whatever happens
		start := time.Now()
		const window = 64 // events in flight before waiting for deliveries
		for i := range n {
			if err := hub.SendToRoom(ctx, s.room.ID, "tick", payload); err != nil {
				b.Fatal(err)
			}
			for int64(i+1-window)*members > s.delivered.Load() {
				if time.Now().After(deadline) {
					b.Fatalf("%s: only %d of %d deliveries", s.name, s.delivered.Load(), (i+1-window)*members)
				}
				runtime.Gosched()
			}
		}
		for s.delivered.Load() < int64(n)*members {
			if time.Now().After(deadline) {
				b.Fatalf("%s: only %d of %d deliveries", s.name, s.delivered.Load(), n*members)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(start)
	}
	// Rounds alternate between the two, so that neither inherits more of
	// the other's garbage or of the machine's moods.
	const rounds = 10
	var nat, sock time.Duration
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r < b.N%rounds {
			n++
		}
		if n == 0 {
			continue
		}
		runtime.GC()
		nat += run(&native, n)
		runtime.GC()
		sock += run(&sio, n)
	}
	b.StopTimer()
	n := float64(b.N * members)
	b.ReportMetric(n/nat.Seconds(), "native-deliveries/s")
	b.ReportMetric(n/sock.Seconds(), "socketio-deliveries/s")
	b.ReportMetric(nat.Seconds()/sock.Seconds(), "socketio/native")
	cancel()
	wg.Wait()
}

// BenchmarkPollingRoundTrips sends b.N messages, one at a time and each
// with an ack, from a long-polling Socket.IO client to a room that another
// long-polling client reads, and reports the HTTP requests per message:
// the sender's POST, and the GETs that bring the ack and the messages.
//
//	go test -run '^$' -bench PollingRoundTrips -benchtime 200x ./socketio
func BenchmarkPollingRoundTrips(b *testing.B) {
	e := newEnv(b, realtime.Config{MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1}, socketio.Options{})
	sender, reader := e.sio("sender", "polling"), e.sio("reader", "polling")
	room := testenv.DecodeInto[struct{ Room realtime.Room }](b, sender.emit("create-room", map[string]any{"name": "r"})).Room
	reader.emit("join-room", map[string]string{"roomId": room.ID})
	time.Sleep(100 * time.Millisecond) // let both GET loops settle
	gets, posts := e.gets.Load(), e.posts.Load()
	b.ResetTimer()
	for i := range b.N {
		sender.emit("message", map[string]any{"roomId": room.ID, "content": fmt.Sprint(i)})
		reader.next("new-message")
		sender.next("new-message")
	}
	b.StopTimer()
	g, p := float64(e.gets.Load()-gets), float64(e.posts.Load()-posts)
	b.ReportMetric((g+p)/float64(b.N), "requests/msg")
	b.ReportMetric(p/float64(b.N), "posts/msg")
	b.ReportMetric(g/float64(b.N), "gets/msg")
}

// childEnv makes the test binary serve a hub and the bridge instead of
// running tests, so that a benchmark measures the server's memory apart
// from its clients.
const childEnv = "REALTIME_SOCKETIO_CHILD"

// runChild serves a development-mode hub on /ws and the bridge on
// /socket.io/ as a child (see testenv.ServeChild).
func runChild() int {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := realtime.New(realtime.Config{Logger: quiet})
	if err != nil {
		return 1
	}
	srv, err := socketio.New(hub, socketio.Options{Logger: quiet})
	if err != nil {
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	mux.Handle("/socket.io/", srv)
	return testenv.ServeChild(mux, func() int { return hub.Stats().Connections })
}

// BenchmarkIdleConnections opens 1,000 idle connections of each kind to a
// hub in a child process (native WebSocket, Socket.IO on WebSocket,
// Socket.IO on long-polling with its GET waiting) and reports the server's
// memory and goroutines per connection. One measurement is the result,
// whatever b.N:
//
//	go test -run '^$' -bench IdleConnections -benchtime 1x ./socketio
func BenchmarkIdleConnections(b *testing.B) {
	const n = 1000
	addr, mem := testenv.StartChild(b, childEnv)
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	measure := func(kind string, open func(i int) func()) {
		time.Sleep(200 * time.Millisecond)
		before := mem()
		closers := make([]func(), 0, n)
		for i := range n {
			closers = append(closers, open(i))
		}
		time.Sleep(300 * time.Millisecond)
		after := mem()
		if after.Conns-before.Conns != n {
			b.Fatalf("%s: the hub counts %d connections", kind, after.Conns-before.Conns)
		}
		b.ReportMetric(float64(after.Heap+after.Stack-before.Heap-before.Stack)/n, kind+"-bytes/conn")
		b.ReportMetric(float64(after.Goroutines-before.Goroutines)/n, kind+"-goroutines/conn")
		for _, c := range closers {
			c()
		}
		for mem().Conns != 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	measure("native", func(i int) func() {
		ws := benchDial(b, ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws")
		if _, _, err := ws.Read(ctx); err != nil { // connected
			b.Fatal(err)
		}
		return func() { ws.CloseNow() }
	})
	measure("socketio-ws", func(i int) func() {
		ws := benchSocketIO(b, ctx, base, "")
		return func() { ws.CloseNow() }
	})
	measure("socketio-polling", func(i int) func() {
		return benchPolling(b, ctx, base)
	})
}

// benchPolling opens a long-polling Socket.IO connection that keeps one GET
// waiting, as an idle client does; the returned function closes it.
func benchPolling(b *testing.B, ctx context.Context, base string) func() {
	get := func(sid string) string {
		resp, err := http.Get(base + "/socket.io/?EIO=4&transport=polling&sid=" + sid)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	hs := get("")
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(hs[1:]), &open); err != nil {
		b.Fatal(hs)
	}
	resp, err := http.Post(base+"/socket.io/?EIO=4&transport=polling&sid="+open.SID, "text/plain", strings.NewReader("40"))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	for got := ""; !strings.Contains(got, `"connected"`); {
		got += get(open.SID)
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { // the waiting GET
		defer close(done)
		req, _ := http.NewRequestWithContext(pctx, "GET", base+"/socket.io/?EIO=4&transport=polling&sid="+open.SID, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	return func() {
		stop()
		<-done
		resp, err := http.Post(base+"/socket.io/?EIO=4&transport=polling&sid="+open.SID, "text/plain", strings.NewReader("1"))
		if err == nil {
			resp.Body.Close()
		}
	}
}

// benchHub serves a development-mode hub and the bridge on loopback for a
// benchmark; it returns the http:// base URL.
func benchHub(b *testing.B, cfg realtime.Config) (*realtime.Hub, string) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Logger = quiet
	hub, err := realtime.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := socketio.New(hub, socketio.Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	mux.Handle("/socket.io/", srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	b.Cleanup(func() {
		_ = srv.Close()
		_ = hs.Close()
		_ = hub.Close()
	})
	return hub, "http://" + ln.Addr().String()
}

func benchDial(b *testing.B, ctx context.Context, url string) *websocket.Conn {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	ws.SetReadLimit(-1)
	return ws
}

// benchSocketIO connects a Socket.IO client on the WebSocket transport to
// a development-mode hub and reads up to its connected event.
func benchSocketIO(b *testing.B, ctx context.Context, base, username string) *websocket.Conn {
	ws := benchDial(b, ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket&username="+username)
	if _, _, err := ws.Read(ctx); err != nil { // open
		b.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		b.Fatal(err)
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if bytes.HasPrefix(data, []byte(`42["connected"`)) {
			return ws
		}
	}
}

// countFrames counts, until ctx ends, the events that start with prefix
// (several per frame with the native protocol's batching), and in acks
// those that start with ack. It answers Engine.IO pings. It reads without
// a deadline, which costs the WebSocket library less per frame, and
// closes ws when ctx ends.
func countFrames(ctx context.Context, ws *websocket.Conn, prefix []byte, n *atomic.Int64, ack []byte, acks *atomic.Int64) {
	stop := context.AfterFunc(ctx, func() { ws.CloseNow() })
	defer stop()
	buf := make([]byte, 0, 4096)
	for {
		_, r, err := ws.Reader(context.Background())
		if err != nil {
			return
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			m, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+m]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		if len(buf) == 1 && buf[0] == '2' {
			_ = ws.Write(ctx, websocket.MessageText, []byte("3"))
			continue
		}
		n.Add(int64(bytes.Count(buf, prefix)))
		acks.Add(int64(bytes.Count(buf, ack)))
	}
}

// memberCount returns a room's members by asking the hub.
func memberCount(ctx context.Context, hub *realtime.Hub, roomID string) int {
	rooms, _ := hub.Rooms(ctx, "")
	for _, r := range rooms {
		if r.ID == roomID {
			return r.MemberCount
		}
	}
	return 0
}
