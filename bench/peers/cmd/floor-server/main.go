// Command floor-server is a floor under the connect scenario: a plain server
// on net/http and github.com/coder/websocket that does nothing a hub does,
// so that a run shows what accepting, upgrading and answering a client
// costs, beside what realtime-server and the peers cost.
//
// It checks the bearer token of the upgrade as the peers do (an HS256 JWT,
// through golang-jwt's parser), greets the client with a connected event,
// and answers every request with an ack that names a room: no rooms, no
// members, no presence, no announcements, nothing kept. It is plain, not
// tuned: the library writes the 101 response and the greeting apart and
// reads through net/http's buffers, where realtime-server verifies HMAC
// tokens on a fast path, sends the 101 with connected in one write and
// reads through a small buffer; so its idle connection costs more than
// realtime-server's. Its answers are enough for realtime-bench's connect
// and idle scenarios only.
//
//	go run ./cmd/floor-server -addr 127.0.0.1:8094
package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/realtime-go/realtime/bench/peers/internal/peer"
)

func main() { peer.Main("floor-server", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := peer.ParseFlags("floor-server", "127.0.0.1:8094", args, stderr)
	if err != nil {
		return err
	}
	tokens := peer.NewVerifier(f.Secret)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if _, err := tokens.User(token); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"realtime.v2", "realtime.v1"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		serve(r.Context(), c)
	})
	return peer.Serve(ctx, "floor-server", f.Addr, "/ws", h, stdout, nil)
}

// serve greets c, then answers each request, until the connection ends.
func serve(ctx context.Context, c *websocket.Conn) {
	if c.Write(ctx, websocket.MessageText, []byte(`{"event":"connected","data":{}}`)) != nil {
		return
	}
	var out []byte
	for {
		_, frame, err := c.Read(ctx)
		if err != nil {
			return
		}
		n, ok := ackNumber(frame)
		if !ok {
			continue
		}
		// realtime-bench reads a room's id from a create-room ack and
		// only the ack number from the others.
		out = append(out[:0], `{"ack":`...)
		out = append(out, n...)
		out = append(out, `,"data":{"room":{"id":"r`...)
		out = append(out, n...)
		out = append(out, `"}}}`...)
		if c.Write(ctx, websocket.MessageText, out) != nil {
			return
		}
	}
}

// ackNumber returns the digits of a request's "ack" member, found by
// scanning rather than decoding: realtime-bench writes it unspaced and
// last, after the data.
func ackNumber(frame []byte) ([]byte, bool) {
	i := bytes.LastIndex(frame, []byte(`"ack":`))
	if i < 0 {
		return nil, false
	}
	rest := frame[i+len(`"ack":`):]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	return rest[:end], end > 0
}
