// Command centrifuge-server is a minimal github.com/centrifugal/centrifuge
// server for realtime-bench: a client connects with a token (an HS256 JWT
// whose sub is its user id), may subscribe to any channel and publish into
// any channel, and every publication goes to the channel's subscribers. No
// history, presence or join/leave messages: the library's defaults
// otherwise, including its 1 MB per-client queue.
//
//	go run ./cmd/centrifuge-server -addr 127.0.0.1:8091
package main

import (
	"context"
	"io"

	"github.com/centrifugal/centrifuge"

	"github.com/realtime-go/realtime/bench/peers/internal/peer"
)

func main() { peer.Main("centrifuge-server", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := peer.ParseFlags("centrifuge-server", "127.0.0.1:8091", args, stderr)
	if err != nil {
		return err
	}
	node, err := centrifuge.New(centrifuge.Config{})
	if err != nil {
		return err
	}
	tokens := peer.NewVerifier(f.Secret)
	node.OnConnecting(func(_ context.Context, e centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		user, err := tokens.User(e.Token)
		if err != nil {
			return centrifuge.ConnectReply{}, centrifuge.DisconnectInvalidToken
		}
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: user}}, nil
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(_ centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{}, nil)
		})
		c.OnPublish(func(_ centrifuge.PublishEvent, cb centrifuge.PublishCallback) {
			cb(centrifuge.PublishReply{}, nil)
		})
	})
	if err := node.Run(); err != nil {
		return err
	}
	ws := centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{})
	return peer.Serve(ctx, "centrifuge-server", f.Addr, "/connection/websocket", ws, stdout, node.Shutdown)
}
