// Command melody-server is a minimal github.com/olahol/melody server for
// realtime-bench, written as melody's README writes a chat with rooms: the
// room is a query parameter of the upgrade, kept in the session's keys, and
// every text frame a session sends is broadcast as it is, with
// BroadcastFilter, to the sessions of its room (the sender's included). A
// client authenticates with a token query parameter (an HS256 JWT) and is
// greeted with {"hello":"<user>"} once registered. melody's defaults
// otherwise, including its 256-message per-session buffer, past which it
// drops messages.
//
//	go run ./cmd/melody-server -addr 127.0.0.1:8092
package main

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/olahol/melody"

	"github.com/realtime-go/realtime/bench/peers/internal/peer"
)

func main() { peer.Main("melody-server", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := peer.ParseFlags("melody-server", "127.0.0.1:8092", args, stderr)
	if err != nil {
		return err
	}
	m := melody.New()
	tokens := peer.NewVerifier(f.Secret)
	m.HandleConnect(func(s *melody.Session) {
		_ = s.Write([]byte(`{"hello":` + strconv.Quote(s.MustGet("user").(string)) + `}`))
	})
	m.HandleMessage(func(s *melody.Session, msg []byte) {
		room := s.MustGet("room")
		_ = m.BroadcastFilter(msg, func(q *melody.Session) bool {
			r, _ := q.Get("room")
			return r == room
		})
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := tokens.User(r.URL.Query().Get("token"))
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		keys := map[string]any{"user": user, "room": r.URL.Query().Get("room")}
		_ = m.HandleRequestWithKeys(w, r, keys)
	})
	return peer.Serve(ctx, "melody-server", f.Addr, "/ws", h, stdout, func(context.Context) error { return m.Close() })
}
