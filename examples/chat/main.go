// Command chat is the realtime chat example: a browser UI and a Hub on one
// port.
//
//	go run ./examples/chat
//
// Then open http://localhost:8080 in two browser windows. Configuration
// comes from the environment (see realtime.ConfigFromEnv), plus:
//
//	WEBSOCKET_PORT    listen port (default 8080)
//	DATABASE_URL      PostgreSQL URL; unset: SQLite in CHAT_DB (default chat.db)
//	CHAT_FILES_DIR    where shared files are kept (default chat-files)
//	REDIS_URL         (or REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, REDIS_DB) makes this
//	                  process a node of a cluster; it then needs DATABASE_URL
//	REDIS_PREFIX      the cluster's Redis key prefix (default "chat:")
//	DEV_TOKEN_SECRET  signs development tokens every node of a cluster accepts
//
// It serves the chat at /, the hub at /ws (and Socket.IO at /socket.io/),
// Prometheus metrics at /metrics, health at /healthz and /readyz, and the
// admin API at /admin/ (tokens with the admin role).
//
// History, rooms and shared files survive a restart. Without JWT_SECRET the
// server runs a development token endpoint that signs a token for any name
// you type: fine on your laptop, never on a public server.
package main

import (
	"context"
	"net"

	"github.com/realtime-go/realtime/examples/internal/chatapp"
)

func main() {
	chatapp.Main("chat", func(ctx context.Context, addr string) error { return run(ctx, addr, nil) })
}

// run serves the example on addr until ctx ends; ready, when set, is called
// with the listening address.
func run(ctx context.Context, addr string, ready func(net.Addr)) error {
	return chatapp.Run(ctx, addr, chatapp.Options{Ready: ready})
}
