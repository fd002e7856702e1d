package realtime_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter/redisadapter"
	"github.com/realtime-go/realtime/client"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/internal/wire"
	rtprom "github.com/realtime-go/realtime/metrics/prometheus"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// BenchmarkSocketFanout1000 sends b.N events to a room of 1,000 members over
// real loopback WebSockets and waits until every member has read every one.
// Readers run in this process, so they share the CPU with the hub: the
// figure is a floor, not the hub's ceiling.
func BenchmarkSocketFanout1000(b *testing.B) {
	hub, err := realtime.New(realtime.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxUsersPerRoom: 1001})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	fanoutBench(b, []*realtime.Hub{hub}, []string{serveBench(b, hub)}, nil, nil)
}

// BenchmarkCrossNodeFanout1000 runs the same fan-out with the publisher's
// hub and half the members on node A and the other half on node B, joined
// by Redis, next to a single node in the same run: the ratio of the two
// deliveries/s is the cost of crossing nodes.
func BenchmarkCrossNodeFanout1000(b *testing.B) {
	opts, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		b.Fatal(err)
	}
	testenv.RedisAddr(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.Run("one-node", func(b *testing.B) {
		hub, err := realtime.New(realtime.Config{Logger: quiet, MaxUsersPerRoom: 1001})
		if err != nil {
			b.Fatal(err)
		}
		defer hub.Close()
		fanoutBench(b, []*realtime.Hub{hub}, []string{serveBench(b, hub)}, nil, nil)
	})
	b.Run("two-nodes-redis", func(b *testing.B) {
		store := realtime.NewMemoryStore(realtime.MemoryOptions{})
		prefix := "rt-bench-" + strings.ToLower(rand.Text()[:8]) + ":"
		var hubs []*realtime.Hub
		var urls []string
		for range 2 {
			rdb := redis.NewClient(opts)
			defer rdb.Close()
			a, err := redisadapter.New(rdb, redisadapter.Options{Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close() // after the hub's Close
			hub, err := realtime.New(realtime.Config{Logger: quiet, MaxUsersPerRoom: 1001, Store: store, Broker: a})
			if err != nil {
				b.Fatal(err)
			}
			defer hub.Close()
			hubs = append(hubs, hub)
			urls = append(urls, serveBench(b, hub))
		}
		// Redis commands per message: counted by the server from the end
		// of the setup to the last send (deliveries issue none).
		stats := redis.NewClient(opts)
		defer stats.Close()
		var before, after int64
		sent := 0
		fanoutBench(b, hubs, urls,
			func(ctx context.Context, _ *realtime.Hub, _ string) { before = redisCalls(ctx, b, stats) },
			func(ctx context.Context, hub *realtime.Hub, roomID string) error {
				err := sendTick(ctx, hub, roomID)
				if sent++; sent == b.N {
					after = redisCalls(ctx, b, stats)
				}
				return err
			})
		b.ReportMetric(float64(after-before)/float64(b.N), "redis-cmds/msg")
	})
}

// redisCalls is the number of commands the Redis server has run.
func redisCalls(ctx context.Context, b *testing.B, rdb *redis.Client) int64 {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for line := range strings.SplitSeq(info, "\n") {
		if _, rest, ok := strings.Cut(line, "calls="); ok {
			v, _, _ := strings.Cut(rest, ",")
			c, _ := strconv.ParseInt(v, 10, 64)
			n += c
		}
	}
	return n
}

// BenchmarkStuckSubscriber runs the fan-out to 1,000 members without and
// with a server-side subscriber (Hub.Subscribe) of the room that never
// reads, in one run: the ratio of the two deliveries/s is what a stuck
// subscriber costs the room (it is ended once its buffer overflows).
//
//	go test -run '^$' -bench StuckSubscriber -benchtime 3000x -count 3 .
func BenchmarkStuckSubscriber(b *testing.B) {
	for _, stuck := range []bool{false, true} {
		b.Run(map[bool]string{false: "without", true: "with-stuck-subscriber"}[stuck], func(b *testing.B) {
			hub, err := realtime.New(realtime.Config{Logger: slog.New(slog.DiscardHandler), MaxUsersPerRoom: 1001})
			if err != nil {
				b.Fatal(err)
			}
			defer hub.Close()
			var subscribe func(ctx context.Context, hub *realtime.Hub, roomID string)
			if stuck {
				subscribe = func(ctx context.Context, hub *realtime.Hub, roomID string) {
					if _, err := hub.Subscribe(ctx, realtime.User{ID: "owner"}, roomID, realtime.SubscribeOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			fanoutBench(b, []*realtime.Hub{hub}, []string{serveBench(b, hub)}, subscribe, nil)
		})
	}
}

// BenchmarkObserverCost runs the fan-out of stored messages (PostMessage)
// to 1,000 members without an Observer and with the Prometheus one, in one
// run: the ratio of the two deliveries/s is what metrics cost.
//
//	go test -run '^$' -bench ObserverCost -benchtime 3000x -count 3 .
func BenchmarkObserverCost(b *testing.B) {
	for _, name := range []string{"off", "prometheus"} {
		b.Run(name, func(b *testing.B) {
			cfg := realtime.Config{Logger: slog.New(slog.DiscardHandler), MaxUsersPerRoom: 1001}
			if name == "prometheus" {
				obs := rtprom.New(rtprom.Options{})
				promclient.NewRegistry().MustRegister(obs)
				cfg.Observer = obs
			}
			hub, err := realtime.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer hub.Close()
			fanoutBench(b, []*realtime.Hub{hub}, []string{serveBench(b, hub)}, nil, postMessage)
		})
	}
}

// postMessage stores a message of about 100 bytes, with characters JSON
// escapes, in a room.
func postMessage(ctx context.Context, hub *realtime.Hub, roomID string) error {
	_, err := hub.PostMessage(ctx, realtime.PostOptions{RoomID: roomID, Content: `a "message" of about one hundred bytes \ é 😀, as users send them, with quotes and emoji`})
	return err
}

// sendTick pushes a live event of about 100 bytes to a room.
func sendTick(ctx context.Context, hub *realtime.Hub, roomID string) error {
	return hub.SendToRoom(ctx, roomID, "tick", map[string]string{"text": strings.Repeat("x", 80)})
}

// fanoutBench connects 1,000 members spread over the hubs' urls to one room
// and sends b.N events from the first hub with send (nil: sendTick), 64 in
// flight. ready, when set, runs once the members have joined.
func fanoutBench(b *testing.B, hubs []*realtime.Hub, urls []string, ready func(ctx context.Context, hub *realtime.Hub, roomID string),
	send func(ctx context.Context, hub *realtime.Hub, roomID string) error) {
	if send == nil {
		send = sendTick
	}
	const members = 1000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := hubs[0]
	room, err := hub.CreateRoom(ctx, realtime.User{ID: "owner"}, realtime.RoomOptions{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}

	var delivered atomic.Int64
	var wg sync.WaitGroup
	for i := range members {
		ws, _, err := websocket.Dial(ctx, urls[i%len(urls)]+"?username=m"+fmt.Sprint(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		ws.SetReadLimit(-1)
		if err := ws.Write(ctx, websocket.MessageText, wire.AppendClient(nil, "join-room", []byte(`{"roomId":"`+room.ID+`"}`), 1)); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer ws.CloseNow()
			for {
				_, r, err := ws.Reader(ctx)
				if err != nil {
					return
				}
				_, _ = io.Copy(counter{&delivered}, r)
			}
		})
	}
	for roomMembers(ctx, hub, room.ID) < members+1 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the last joins subscribe after they are stored
	if ready != nil {
		ready(ctx, hub, room.ID)
	}
	delivered.Store(0)

	deadline := time.Now().Add(time.Minute) // bounded whatever happens
	b.ResetTimer()
	start := time.Now()
	const window = 64 // events in flight before waiting for deliveries
	for i := range b.N {
		if err := send(ctx, hub, room.ID); err != nil {
			b.Fatal(err)
		}
		for int64(i+1-window)*members > delivered.Load() {
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d deliveries", delivered.Load(), (i+1-window)*members)
			}
			runtime.Gosched()
		}
	}
	for delivered.Load() < int64(b.N)*members {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d deliveries", delivered.Load(), b.N*members)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*members)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N*members), "ns/delivery")
	cancel()
	wg.Wait()
}

// roomMembers counts a room's members (stored memberships, not subscriptions:
// callers wait a moment more for the last joins to subscribe).
func roomMembers(ctx context.Context, hub *realtime.Hub, roomID string) int {
	rooms, _ := hub.Rooms(ctx, "")
	for _, r := range rooms {
		if r.ID == roomID {
			return r.MemberCount
		}
	}
	return 0
}

// counter counts the events in the frames it is written: one per line.
type counter struct{ n *atomic.Int64 }

func (c counter) Write(p []byte) (int, error) {
	c.n.Add(int64(bytes.Count(p, []byte(`{"event"`))))
	return len(p), nil
}

func serveBench(b *testing.B, hub *realtime.Hub) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: hub}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "ws://" + ln.Addr().String()
}

// childHubEnv makes the test binary serve a hub instead of running tests, so
// that a benchmark can measure the hub's memory apart from its clients.
const childHubEnv = "REALTIME_TEST_CHILD_HUB"

// runChildHub serves a development-mode hub on /ws as a child (see
// testenv.ServeChild).
func runChildHub() int {
	hub, err := realtime.New(realtime.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	return testenv.ServeChild(mux, func() int { return hub.Stats().Connections })
}

// BenchmarkIdleConnections opens 2,000 authenticated, idle connections to a
// hub in a child process and reports the hub's memory and goroutines per
// connection. One measurement is the result, whatever b.N: run it with
// -benchtime 1x.
func BenchmarkIdleConnections(b *testing.B) {
	const n = 2000
	addr, mem := testenv.StartChild(b, childHubEnv)
	before := mem()
	ctx := context.Background()
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
		if err != nil {
			b.Fatalf("conn %d: %v", i, err)
		}
		if _, _, err := ws.Read(ctx); err != nil { // connected
			b.Fatal(err)
		}
		conns = append(conns, ws)
	}
	time.Sleep(200 * time.Millisecond)
	after := mem()
	if after.Conns != n {
		b.Fatalf("hub counts %d connections", after.Conns)
	}
	b.ReportMetric(float64(after.Heap+after.Stack-before.Heap-before.Stack)/n, "server-bytes/conn")
	b.ReportMetric(float64(after.Goroutines-before.Goroutines)/n, "goroutines/conn")
	for _, ws := range conns {
		ws.CloseNow()
	}
}

// BenchmarkPresenceStorm5000: 5,000 members of one room come online within
// a few seconds, each joining the room, so that every member hears of every
// other. It reports, for one member that watches from the start, the
// presence frames and bytes received per member that came online. One
// measurement whatever b.N: run it with -benchtime 1x.
func BenchmarkPresenceStorm5000(b *testing.B) {
	const members = 5000
	auth, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testSecret)})
	if err != nil {
		b.Fatal(err)
	}
	hub, err := realtime.New(realtime.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Authenticator: auth,
		MaxUsersPerRoom: members + 1, SendQueueBytes: 8 << 20,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	url := serveBench(b, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	room, err := hub.CreateRoom(ctx, realtime.User{ID: "watcher"}, realtime.RoomOptions{Name: "storm"})
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, members)
	for i := range members {
		id := fmt.Sprint("m", i)
		if _, err := hub.AddMember(ctx, room.ID, realtime.UserRef{ID: id}, ""); err != nil {
			b.Fatal(err)
		}
		if tokens[i], err = auth.Sign(realtime.User{ID: id}, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	dial := func(token string) *websocket.Conn {
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		if err != nil {
			b.Fatal(err)
		}
		ws.SetReadLimit(-1)
		if err := ws.Write(ctx, websocket.MessageText, wire.AppendClient(nil, "join-room", []byte(`{"roomId":"`+room.ID+`"}`), 1)); err != nil {
			b.Fatal(err)
		}
		return ws
	}
	watcherToken, _ := auth.Sign(realtime.User{ID: "watcher"}, time.Hour)
	watcher := dial(watcherToken)
	defer watcher.CloseNow()
	var frames, bytesIn, changes atomic.Int64
	go func() {
		for {
			_, data, err := watcher.Read(ctx)
			if err != nil {
				return
			}
			if n := bytes.Count(data, []byte(`"event":"presence-changed"`)); n > 0 {
				frames.Add(1)
				bytesIn.Add(int64(len(data)))
				changes.Add(int64(n))
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)

	conns := make([]*websocket.Conn, 0, members)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := range members {
		ws := dial(tokens[i])
		conns = append(conns, ws)
		go func() { // every member reads everything
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
	}
	connected := time.Since(start)
	for changes.Load() < members && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if ctx.Err() != nil {
		b.Fatalf("the watcher heard of %d of %d members", changes.Load(), members)
	}
	b.StopTimer()
	b.ReportMetric(connected.Seconds(), "s-to-connect-all")
	b.ReportMetric(float64(frames.Load())/members, "frames/member")
	b.ReportMetric(float64(bytesIn.Load())/members, "bytes/member")
}

// BenchmarkPersistedMessages sends messages with acks over real loopback
// sockets, every ack coming after the message is stored, and reports
// msgs/s: from one connection that keeps 64 sends in flight ("1x64", one
// room), and from 100 connections that wait for each ack ("100x1") or keep
// 16 in flight ("100x16"), into one room or a room each. The senders are members without a subscription,
// so the figure is the store's, not fan-out's. Stores: memory, SQLite (a
// file), PostgreSQL.
//
//	go test -run '^$' -bench PersistedMessages -benchtime 20000x .
func BenchmarkPersistedMessages(b *testing.B) {
	shapes := []struct {
		name             string
		senders, flights int
		shared           bool
	}{
		{"1x64", 1, 64, true},
		{"100x1/one-room", 100, 1, true},
		{"100x1/own-rooms", 100, 1, false},
		{"100x16/one-room", 100, 16, true},
		{"100x16/own-rooms", 100, 16, false},
	}
	for _, st := range []string{"memory", "sqlite", "postgres"} {
		for _, sh := range shapes {
			b.Run(st+"/"+sh.name, func(b *testing.B) {
				persistBench(b, benchStore(b, st), sh.senders, sh.flights, sh.shared)
			})
		}
	}
}

// benchStore opens a fresh store of kind memory, sqlite or postgres, closed
// when b ends.
func benchStore(b *testing.B, kind string) realtime.Store {
	if kind == "memory" {
		return realtime.NewMemoryStore(realtime.MemoryOptions{})
	}
	d, driver, dsn := sqlstore.SQLite, "sqlite", testenv.SQLiteDSN(filepath.Join(b.TempDir(), "bench.db"))
	if kind == "postgres" {
		d, driver, dsn = sqlstore.Postgres, "pgx", testenv.PostgresSchema(b, "")
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40) // the default of 2 reconnects constantly
	store, err := sqlstore.New(db, sqlstore.Options{Dialect: d})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if err := store.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return store
}

// persistBench has senders connections send b.N messages in all, each
// keeping flights of them in flight, into one room (shared) or a room each.
func persistBench(b *testing.B, store realtime.Store, senders, flights int, shared bool) {
	auth, _ := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testSecret)})
	hub, err := realtime.New(realtime.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Authenticator: auth, Store: store,
		MaxMessagesPerMinute: -1, MaxEventsPerSecond: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	url := serveBench(b, hub)
	ctx := context.Background()
	clients := make([]*client.Client, senders)
	rooms := make([]string, senders)
	var room realtime.Room
	for i := range senders {
		u := realtime.User{ID: fmt.Sprint("s", i)}
		if i == 0 || !shared {
			room, err = hub.CreateRoom(ctx, u, realtime.RoomOptions{Name: u.ID})
		} else {
			_, err = hub.AddMember(ctx, room.ID, realtime.UserRef{ID: u.ID}, "")
		}
		if err != nil {
			b.Fatal(err)
		}
		token, _ := auth.Sign(u, time.Hour)
		c, err := client.Dial(ctx, url, client.DialOptions{Token: token, OnEvent: func(client.Event) {}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		clients[i], rooms[i] = c, room.ID
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i, c := range clients {
		for range flights {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if _, err := c.Emit(ctx, "message", map[string]string{"roomId": rooms[i], "content": "persist me"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkNotify10000 sends one notification to 10,000 users with one
// Notify, stored on PostgreSQL, 1,000 of them online over loopback
// WebSockets (one connection each). It reports notifications stored per
// second and the p99 latency from the call to a live connection's push.
//
//	go test -run '^$' -bench Notify10000 -benchtime 5x .
func BenchmarkNotify10000(b *testing.B) {
	const users, online = 10000, 1000
	db, err := sql.Open("pgx", testenv.PostgresSchema(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	store, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	hub, err := realtime.New(realtime.Config{Logger: slog.New(slog.DiscardHandler), Store: store})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	url := serveBench(b, hub)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprint("u", i)
	}
	var (
		mu      sync.Mutex
		arrived []time.Time
		wg      sync.WaitGroup
	)
	for i := range online {
		ws, _, err := websocket.Dial(ctx, url+"?username=u"+fmt.Sprint(i), nil)
		if err != nil {
			b.Fatal(err)
		}
		ws.SetReadLimit(-1)
		wg.Go(func() {
			defer ws.CloseNow()
			for {
				_, data, err := ws.Read(ctx)
				if err != nil {
					return
				}
				if bytes.Contains(data, []byte(`"event":"notification"`)) {
					mu.Lock()
					arrived = append(arrived, time.Now())
					mu.Unlock()
				}
			}
		})
	}
	for hub.Stats().Connections < online {
		time.Sleep(10 * time.Millisecond)
	}
	// Development mode names the users anon_...: notify those online by
	// their ids, and the rest by made-up ones.
	conns, err := hub.Connections(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for i, c := range conns {
		ids[i] = c.User.ID
	}
	var lat []time.Duration
	var stored time.Duration
	b.ResetTimer()
	for i := range b.N {
		mu.Lock()
		arrived = arrived[:0]
		mu.Unlock()
		start := time.Now()
		got, err := hub.Notify(ctx, ids, realtime.Notification{Type: "system", Title: `Maintenance "tonight" é 😀`, Key: fmt.Sprint("k", i)})
		if err != nil || len(got) != users {
			b.Fatalf("Notify: %d stored, %v", len(got), err)
		}
		stored += time.Since(start)
		deadline := time.Now().Add(time.Minute)
		for {
			mu.Lock()
			n := len(arrived)
			mu.Unlock()
			if n == online {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d pushes", n, online)
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		for _, t := range arrived {
			lat = append(lat, t.Sub(start))
		}
		mu.Unlock()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*users)/stored.Seconds(), "notifications/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	cancel()
	wg.Wait()
}

// BenchmarkRoomFill: members (each a user of its own, each on its own
// connection) join one public room, 64 joins at a time, while every
// member that joined reads everything it is sent. It reports the seconds
// from the first dial to the last ack ("s-to-fill": each member dials,
// then joins), and what a member that watches from the start received per
// member that joined: frames, and bytes of membership and presence events.
// The "joins" runs dial every member first and report the seconds from the
// first join to the last ack ("s-to-join"): a room that fills with users
// already connected, such as a live event's. One measurement whatever
// b.N: run it with -benchtime 1x. The room is large (Config.LargeRoom)
// past 1,000 members by default, or past 100 ("large-from-100"). A
// process here may hold 20,000 files, fewer than the sockets of 20,000
// members and their hub: "20000" connects 5,000 members who join and adds
// 15,000 more as the host does (Hub.AddMember), while the first 5,000
// read.
//
//	go test -run '^$' -bench 'RoomFill' -benchtime 1x .
func BenchmarkRoomFill(b *testing.B) {
	for _, largeRoom := range []int{0, 100} {
		for _, members := range []int{2000, 5000, 20000} {
			name := fmt.Sprint(members)
			if largeRoom != 0 {
				name += fmt.Sprintf("/large-from-%d", largeRoom)
			}
			b.Run(name, func(b *testing.B) { benchRoomFill(b, members, min(members, 5000), largeRoom, false) })
		}
		name := "5000/joins"
		if largeRoom != 0 {
			name = fmt.Sprintf("5000/large-from-%d/joins", largeRoom)
		}
		b.Run(name, func(b *testing.B) {
			benchRoomFill(b, 5000, 5000, largeRoom, true)
		})
	}
}

func benchRoomFill(b *testing.B, members, connected, largeRoom int, dialFirst bool) {
	auth, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testSecret)})
	if err != nil {
		b.Fatal(err)
	}
	hub, err := realtime.New(realtime.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Authenticator: auth,
		MaxUsersPerRoom: members + 1, MaxEventsPerSecond: -1, LargeRoom: largeRoom,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	url := serveBench(b, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	room, err := hub.CreateRoom(ctx, realtime.User{ID: "watcher"}, realtime.RoomOptions{Name: "fill"})
	if err != nil {
		b.Fatal(err)
	}
	joinFrame := wire.AppendClient(nil, "join-room", []byte(`{"roomId":"`+room.ID+`"}`), 1)
	// dial connects as user and reads connected; join joins the room and
	// returns once the ack came, then everything the connection receives
	// is read and counted. Each connection has contexts of its own: 5,000
	// readers sharing one would contend for it, and measure that.
	var frames, eventBytes atomic.Int64
	dial := func(user string) *websocket.Conn {
		token, err := auth.Sign(realtime.User{ID: user}, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		if err != nil {
			b.Fatal(err)
		}
		ws.SetReadLimit(-1)
		if _, data, err := ws.Read(ctx); err != nil || !bytes.Contains(data, []byte(`"connected"`)) {
			b.Fatalf("read %s, %v; want connected", data, err)
		}
		return ws
	}
	join := func(ws *websocket.Conn, count bool) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := ws.Write(ctx, websocket.MessageText, joinFrame); err != nil {
			b.Fatal(err)
		}
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if bytes.Contains(data, []byte(`"ack":1`)) {
				break
			}
		}
		go func() { // until the connection is closed
			for {
				_, data, err := ws.Read(context.Background())
				if err != nil {
					return
				}
				if count {
					frames.Add(1)
					eventBytes.Add(int64(len(data)))
				}
			}
		}()
	}
	watcher := dial("watcher")
	defer watcher.CloseNow()
	join(watcher, true)

	conns := make([]*websocket.Conn, connected)
	defer func() {
		for _, ws := range conns {
			if ws != nil {
				ws.CloseNow()
			}
		}
	}()
	// in64 runs fn(i) for i in [0, n), 64 at a time.
	in64 := func(n int, fn func(i int) error) {
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for range 64 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					if err := fn(i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	if dialFirst {
		in64(connected, func(i int) error { conns[i] = dial(fmt.Sprint("m", i)); return nil })
	}
	b.ResetTimer()
	start := time.Now()
	in64(members, func(i int) error {
		if i >= connected {
			_, err := hub.AddMember(ctx, room.ID, realtime.UserRef{ID: fmt.Sprint("m", i)}, "")
			return err
		}
		if !dialFirst {
			conns[i] = dial(fmt.Sprint("m", i))
		}
		join(conns[i], false)
		return nil
	})
	filled := time.Since(start)
	b.StopTimer()
	time.Sleep(time.Second) // what is coalesced reaches the watcher
	got, err := hub.Room(ctx, room.ID)
	if err != nil || got.MemberCount != members+1 {
		b.Fatalf("the room has %d members (%v), want %d", got.MemberCount, err, members+1)
	}
	if dialFirst {
		b.ReportMetric(filled.Seconds(), "s-to-join")
	} else {
		b.ReportMetric(filled.Seconds(), "s-to-fill")
	}
	b.ReportMetric(float64(frames.Load())/float64(members), "frames/member")
	b.ReportMetric(float64(eventBytes.Load())/float64(members), "bytes/member")
}

// BenchmarkConnectJoin is what a new client costs: dial with a JWT on the
// upgrade, read connected, join a public room of 10 and read the ack (the
// room's members and presence), the rooms filling in turn as in
// realtime-bench's connect scenario. Connections stay open, each read by a
// goroutine of its own, so that the user-joined pushes of later joins are
// written and read too. Client and hub share the process: allocs/op and
// B/op count both.
//
//	go test -run '^$' -bench ConnectJoin -benchmem .
func BenchmarkConnectJoin(b *testing.B) {
	const members = 10
	auth, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testSecret)})
	if err != nil {
		b.Fatal(err)
	}
	hub, err := realtime.New(realtime.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Authenticator: auth,
		MaxRoomsPerUser: -1, MaxEventsPerSecond: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	url := serveBench(b, hub)
	ctx := context.Background()
	rooms := make([][]byte, (b.N+members-1)/members)
	tokens := make([]string, b.N)
	for i := range rooms {
		room, err := hub.CreateRoom(ctx, realtime.User{}, realtime.RoomOptions{Name: "r" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		rooms[i] = wire.AppendClient(nil, "join-room", []byte(`{"roomId":"`+room.ID+`"}`), 1)
	}
	for i := range tokens {
		if tokens[i], err = auth.Sign(realtime.User{ID: "u" + strconv.Itoa(i)}, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	conns := make([]*websocket.Conn, 0, b.N)
	defer func() {
		for _, ws := range conns {
			ws.CloseNow()
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
			HTTPHeader:   http.Header{"Authorization": {"Bearer " + tokens[i]}},
			Subprotocols: []string{wire.Subprotocol},
		})
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, ws)
		ws.SetReadLimit(-1)
		if _, _, err := ws.Read(ctx); err != nil { // connected
			b.Fatal(err)
		}
		if err := ws.Write(ctx, websocket.MessageText, rooms[i/members]); err != nil {
			b.Fatal(err)
		}
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if bytes.HasPrefix(data, []byte(`{"ack":1,"data"`)) {
				break
			}
		}
		go func() { // until the connection is closed
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return
				}
			}
		}()
	}
}
