package main

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/wire"
)

// proto is what the bench needs of a server's protocol. The scenarios are
// written once against it; realtimeProto, centrifugeProto and melodyProto
// adapt them to each server.
type proto interface {
	// open connects as user and, unless room is "", subscribes to room. It
	// returns once the server has confirmed both.
	open(ctx context.Context, user, room string) (*wsConn, error)
	// makeRooms returns the ids of n rooms, to pass to open and
	// appendPublish, creating them where the server needs that.
	makeRooms(ctx context.Context, n int) ([]string, error)
	// appendPublish appends the frame that sends payload to the members of
	// room; seq numbers the request (1, 2, ...) for protocols that reply.
	appendPublish(dst []byte, room string, payload []byte, seq uint64) []byte
	// control returns how many error replies a frame carries and, when the
	// frame asks for an answer (a centrifuge ping), that answer.
	control(frame []byte) (errs int, answer []byte)
}

// newProto returns the protocol adapter of cfg.server.
func newProto(cfg config, client *http.Client) (proto, error) {
	tokens, err := newTokens(cfg.secret)
	if err != nil {
		return nil, err
	}
	switch cfg.server {
	case "realtime":
		if cfg.protocol != wire.Subprotocol && cfg.protocol != wire.SubprotocolV2 {
			return nil, fmt.Errorf("-protocol %q: want %s or %s", cfg.protocol, wire.SubprotocolV2, wire.Subprotocol)
		}
		return &realtimeProto{url: cfg.url, client: client, tokens: tokens, subprotocol: cfg.protocol, clientIDs: cfg.clientID}, nil
	case "centrifuge":
		return &centrifugeProto{url: cfg.url, client: client, tokens: tokens}, nil
	case "melody":
		return &melodyProto{url: cfg.url, client: client, tokens: tokens}, nil
	}
	return nil, fmt.Errorf("unknown server %q", cfg.server)
}

// tokens signs the HS256 tokens every server verifies: sub is the user id,
// as realtime.v1 expects and as the peer servers read it.
type tokens struct{ jwt *realtime.JWT }

func newTokens(secret string) (*tokens, error) {
	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(secret)})
	if err != nil {
		return nil, err
	}
	return &tokens{jwt: j}, nil
}

// sign returns a token for user, valid for an hour: longer than any run.
func (t *tokens) sign(user string) (string, error) {
	return t.jwt.Sign(realtime.User{ID: user, Username: user}, time.Hour)
}

// peerRooms returns room names for servers whose rooms need no creating.
func peerRooms(n int) []string {
	rooms := make([]string, n)
	for i := range rooms {
		rooms[i] = "r" + strconv.Itoa(i)
	}
	return rooms
}

// lines yields the newline-separated objects of a frame, as they are.
func lines(frame []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(frame) > 0 {
			line, rest, _ := bytes.Cut(frame, []byte{'\n'})
			if !yield(line) {
				return
			}
			frame = rest
		}
	}
}

// failedReply reports whether line is a reply that starts with idKey and
// a number, then an error: {"ack":N,"error":...} or {"id":N,"error":...}.
func failedReply(line []byte, idKey string) bool {
	rest, ok := bytes.CutPrefix(line, []byte(idKey))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, "0123456789")
	return bytes.HasPrefix(rest, []byte(`,"error":`))
}
