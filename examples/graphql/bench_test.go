package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/realtime-go/realtime/client"
)

// BenchmarkFanout1000 sends b.N messages to a room of 1,000 members who
// read it either as native WebSocket clients or as GraphQL subscribers
// (messageAdded over graphql-transport-ws), one connection per member, 64
// messages in flight, in one run: the ratio of the two deliveries/s is
// what GraphQL costs.
//
//	cd examples/graphql && go test -run '^$' -bench Fanout1000 -benchtime 2000x -count 3 .
func BenchmarkFanout1000(b *testing.B) {
	const members = 1000
	b.Setenv("MAX_MESSAGES_PER_MINUTE", "-1")
	b.Setenv("MAX_EVENTS_PER_SECOND", "-1")
	b.Setenv("MAX_USERS_PER_ROOM", "2000")
	// Members coming online and going offline are announced to the room:
	// each kind waits for its predecessor's announcements to be over.
	b.Setenv("PRESENCE_GRACE", "200ms")
	base := start(b)
	owner := token(b, "owner", time.Hour)
	var created struct{ CreateRoom struct{ ID string } }
	if err := json.Unmarshal(post(b, base, owner, `mutation { createRoom(name: "bench") { id } }`, nil), &created); err != nil {
		b.Fatal(err)
	}
	room := created.CreateRoom.ID
	tokens := make([]string, members)
	for i := range tokens {
		tokens[i] = token(b, fmt.Sprint("m", i), time.Hour)
		post(b, base, tokens[i], `mutation($r: ID!) { joinRoom(roomId: $r) { id } }`, map[string]any{"r": room})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sender, err := client.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", client.DialOptions{Token: owner})
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()

	for _, kind := range []string{"native", "graphql"} {
		b.Run(kind, func(b *testing.B) {
			ctx, cancel := context.WithCancel(ctx)
			var delivered atomic.Int64
			var wg sync.WaitGroup
			var conns []*websocket.Conn
			marker := []byte(`"event":"new-message"`)
			for i := range members {
				var ws *websocket.Conn
				var err error
				if kind == "native" {
					ws, _, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws?token="+tokens[i], nil)
					if err == nil {
						err = ws.Write(ctx, websocket.MessageText, []byte(`{"event":"join-room","data":{"roomId":"`+room+`"}}`))
					}
				} else {
					marker = []byte(`"type":"next"`)
					ws, _, err = websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
						&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
					if err == nil {
						err = ws.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{"token":"`+tokens[i]+`"}}`))
					}
					if err == nil {
						err = ws.Write(ctx, websocket.MessageText, []byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription { messageAdded(roomId: \"`+room+`\") { seq content sender { id } } }"}}`))
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				ws.SetReadLimit(-1)
				conns = append(conns, ws)
				wg.Go(func() {
					// Until the connection is closed: a context per read
					// would cost each of the 1,000 readers a timer and a
					// lock on the context they share, for every message.
					for {
						_, data, err := ws.Read(context.Background())
						if err != nil {
							return
						}
						delivered.Add(int64(bytes.Count(data, marker)))
					}
				})
			}
			time.Sleep(2 * time.Second) // every member subscribed, and announced online
			delivered.Store(0)
			content := `a "message" of about one hundred bytes \ é 😀, as users send them, with quotes and emoji`
			b.ResetTimer()
			start := time.Now()
			deadline := start.Add(2 * time.Minute)
			for i := range b.N {
				if err := sender.Send(ctx, "message", map[string]any{"roomId": room, "content": content}); err != nil {
					b.Fatal(err)
				}
				for int64(i+1-64)*members > delivered.Load() {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d deliveries", delivered.Load(), (i+1-64)*members)
					}
					time.Sleep(50 * time.Microsecond)
				}
			}
			for delivered.Load() < int64(b.N)*members {
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d deliveries", delivered.Load(), b.N*members)
				}
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*members)/elapsed.Seconds(), "deliveries/s")
			cancel()
			for _, ws := range conns {
				ws.CloseNow()
			}
			wg.Wait()
			time.Sleep(2 * time.Second) // the members announced offline
		})
	}
}
