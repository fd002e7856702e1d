package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/realtime-go/realtime/internal/wire"
)

// centrifugeProto speaks centrifuge's JSON protocol (v2) over WebSocket:
// connect with a token, subscribe to a channel per room, publish into it.
// Publications go straight to the channel's subscribers; nothing is stored.
type centrifugeProto struct {
	url    string
	client *http.Client
	tokens *tokens
}

func (p *centrifugeProto) open(ctx context.Context, user, room string) (*wsConn, error) {
	tok, err := p.tokens.sign(user)
	if err != nil {
		return nil, err
	}
	c, err := dialWS(ctx, p.client, p.url, nil)
	if err != nil {
		return nil, err
	}
	connect, _ := json.Marshal(map[string]any{"id": 1, "connect": map[string]string{"token": tok, "name": "realtime-bench"}})
	if err := p.command(ctx, c, "connect", connect, 1); err != nil {
		c.close()
		return nil, err
	}
	if room != "" {
		sub, _ := json.Marshal(map[string]any{"id": 2, "subscribe": map[string]string{"channel": room}})
		if err := p.command(ctx, c, "subscribe", sub, 2); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// command sends a command and waits for the reply with its id.
func (p *centrifugeProto) command(ctx context.Context, c *wsConn, what string, cmd []byte, id uint32) error {
	if err := c.write(ctx, cmd); err != nil {
		return err
	}
	var reply struct {
		ID    uint32          `json:"id"`
		Error json.RawMessage `json:"error"`
	}
	line, err := c.awaitLine(ctx, p, func(l []byte) bool {
		reply.ID, reply.Error = 0, nil
		return json.Unmarshal(l, &reply) == nil && reply.ID == id
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(reply.Error) > 0 {
		return refused(what, line)
	}
	return nil
}

func (p *centrifugeProto) makeRooms(_ context.Context, n int) ([]string, error) {
	return peerRooms(n), nil
}

func (p *centrifugeProto) appendPublish(dst []byte, room string, payload []byte, seq uint64) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendUint(dst, uint64(uint32(seq%(1<<31)+2)), 10) // 1 and 2 were connect and subscribe
	dst = append(dst, `,"publish":{"channel":`...)
	dst = wire.AppendString(dst, room)
	dst = append(dst, `,"data":{"text":`...)
	dst = wire.AppendString(dst, string(payload))
	return append(dst, `}}}`...)
}

// control counts error replies and answers the server's ping, an empty
// object, with an empty object (protocol v2).
func (p *centrifugeProto) control(frame []byte) (int, []byte) {
	var answer []byte
	errs := 0
	for line := range lines(frame) {
		line = bytes.TrimSpace(line)
		switch {
		case string(line) == "{}":
			answer = []byte("{}")
		case bytes.HasPrefix(line, []byte(`{"error":`)) || failedReply(line, `{"id":`):
			errs++
		}
	}
	return errs, answer
}

// melodyProto speaks to the minimal melody server of bench/peers, which
// has no protocol of its own: the room and token are query parameters of
// the upgrade, the server greets a registered session with {"hello":...},
// and every text frame a session sends is broadcast as it is to the
// sessions of its room (the sender's included).
type melodyProto struct {
	url    string
	client *http.Client
	tokens *tokens
}

func (p *melodyProto) open(ctx context.Context, user, room string) (*wsConn, error) {
	tok, err := p.tokens.sign(user)
	if err != nil {
		return nil, err
	}
	u := p.url + "?" + url.Values{"room": {room}, "token": {tok}}.Encode()
	c, err := dialWS(ctx, p.client, u, nil)
	if err != nil {
		return nil, err
	}
	if _, err := c.awaitLine(ctx, p, func(l []byte) bool { return bytes.HasPrefix(l, []byte(`{"hello"`)) }); err != nil {
		c.close()
		return nil, fmt.Errorf("hello: %w", err)
	}
	return c, nil
}

func (p *melodyProto) makeRooms(_ context.Context, n int) ([]string, error) {
	return peerRooms(n), nil
}

func (p *melodyProto) appendPublish(dst []byte, _ string, payload []byte, _ uint64) []byte {
	dst = append(dst, `{"text":`...)
	dst = wire.AppendString(dst, string(payload))
	return append(dst, '}')
}

func (p *melodyProto) control([]byte) (int, []byte) { return 0, nil }
