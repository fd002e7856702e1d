package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/client"
)

// A hub mounted on the application's own mux, and a Go client that creates a
// room and sends to it.
func Example() {
	auth, _ := realtime.NewJWT(realtime.JWTConfig{Secret: []byte("a-secret-of-at-least-32-bytes!!!")})
	hub, err := realtime.New(realtime.Config{
		Authenticator: auth,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer hub.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /ws", hub)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	token, _ := auth.Sign(realtime.User{ID: "u1", Username: "ada"}, time.Hour)
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", client.DialOptions{Token: token})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	ack, _ := c.Emit(ctx, "create-room", map[string]string{"name": "general"})
	var created struct{ Room realtime.Room }
	_ = json.Unmarshal(ack, &created)
	_, _ = c.Emit(ctx, "message", map[string]string{"roomId": created.Room.ID, "content": "hello"})
	for ev := range c.Events() {
		if ev.Name == "new-message" {
			var m realtime.Message
			_ = json.Unmarshal(ev.Data, &m)
			fmt.Printf("%s #%d: %s\n", m.Sender.Username, m.Seq, m.Content)
			break
		}
	}
	// Output: ada #1: hello
}

// The host application pushes its own events to a room's subscribers.
func ExampleHub_SendToRoom() {
	hub, _ := realtime.New(realtime.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer hub.Close()
	room, _ := hub.CreateRoom(context.Background(), realtime.User{ID: "system"}, realtime.RoomOptions{Name: "deploys"})
	err := hub.SendToRoom(context.Background(), room.ID, "deploy-finished", map[string]string{"version": "1.4.2"})
	fmt.Println(err)
	// Output: <nil>
}
