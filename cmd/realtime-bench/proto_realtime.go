package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/realtime-go/realtime/internal/wire"
)

// realtimeProto speaks realtime.v2 or realtime.v1 (PROTOCOL.md, -protocol): a bearer token on the
// upgrade, join-room to subscribe, and message events with ack to send.
// Messages are room messages: the server validates, stores (in whatever
// Store it runs) and sequences each one before fanning it out, which the
// peers, whose publications are not persisted, do not do.
type realtimeProto struct {
	url         string
	client      *http.Client
	tokens      *tokens
	subprotocol string
	clientIDs   bool // a random clientMsgId in every message (-client-msg-id)
}

func (p *realtimeProto) open(ctx context.Context, user, room string) (*wsConn, error) {
	tok, err := p.tokens.sign(user)
	if err != nil {
		return nil, err
	}
	c, err := dialWS(ctx, p.client, p.url, http.Header{"Authorization": {"Bearer " + tok}}, p.subprotocol)
	if err != nil {
		return nil, err
	}
	if _, err := c.awaitLine(ctx, p, func(l []byte) bool { return bytes.HasPrefix(l, []byte(`{"event":"connected"`)) }); err != nil {
		c.close()
		return nil, err
	}
	if room != "" {
		if _, err := p.request(ctx, c, "join-room", roomData(room), 1); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// makeRooms creates public rooms as an owner that then leaves them, so that
// the owner neither receives their traffic nor counts as a member.
func (p *realtimeProto) makeRooms(ctx context.Context, n int) ([]string, error) {
	c, err := p.open(ctx, "bench-owner", "")
	if err != nil {
		return nil, err
	}
	defer c.close()
	ids := make([]string, n)
	for i := range ids {
		data, _ := json.Marshal(map[string]string{"name": "bench-" + strconv.Itoa(i), "type": "public"})
		line, err := p.request(ctx, c, "create-room", data, uint64(2*i+1))
		if err != nil {
			return nil, err
		}
		var ack struct {
			Data struct {
				Room struct {
					ID string `json:"id"`
				} `json:"room"`
			} `json:"data"`
		}
		if err := json.Unmarshal(line, &ack); err != nil || ack.Data.Room.ID == "" {
			return nil, fmt.Errorf("create-room: unexpected ack %.200s", line)
		}
		ids[i] = ack.Data.Room.ID
		if _, err := p.request(ctx, c, "leave-room", roomData(ids[i]), uint64(2*i+2)); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// request sends event with an ack number and returns the server's
// successful reply, valid until the next read on c. It does not decode the
// reply: a join-room ack lists every member of the room.
func (p *realtimeProto) request(ctx context.Context, c *wsConn, event string, data []byte, ack uint64) ([]byte, error) {
	if err := c.write(ctx, wire.AppendClient(nil, event, data, ack)); err != nil {
		return nil, err
	}
	prefix := strconv.AppendUint([]byte(`{"ack":`), ack, 10)
	line, err := c.awaitLine(ctx, p, func(l []byte) bool {
		rest, ok := bytes.CutPrefix(l, prefix)
		return ok && len(rest) > 0 && rest[0] == ','
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", event, err)
	}
	if bytes.HasPrefix(line[len(prefix):], []byte(`,"error"`)) {
		return nil, refused(event, line)
	}
	return line, nil
}

func (p *realtimeProto) appendPublish(dst []byte, room string, payload []byte, seq uint64) []byte {
	data := make([]byte, 0, len(room)+len(payload)+32)
	data = append(data, `{"roomId":`...)
	data = wire.AppendString(data, room)
	data = append(data, `,"content":`...)
	data = wire.AppendString(data, string(payload))
	if p.clientIDs {
		data = append(data, `,"clientMsgId":"b_`...)
		data = strconv.AppendUint(data, rand.Uint64(), 36)
		data = append(data, '"')
	}
	data = append(data, '}')
	return wire.AppendClient(dst, "message", data, seq)
}

// control counts failed acks and error pushes, looking at the start of
// each object only. The server pings at the WebSocket level, which the
// WebSocket library answers by itself.
func (p *realtimeProto) control(frame []byte) (int, []byte) {
	errs := 0
	for line := range lines(frame) {
		if bytes.HasPrefix(line, []byte(`{"event":"error"`)) || failedReply(line, `{"ack":`) {
			errs++
		}
	}
	return errs, nil
}

// roomData returns the data {"roomId": room}.
func roomData(room string) []byte {
	return append(wire.AppendString([]byte(`{"roomId":`), room), '}')
}
