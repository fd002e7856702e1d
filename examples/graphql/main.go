// Command graphql serves the chat of a realtime hub over GraphQL, beside
// the hub's own WebSocket and Socket.IO, on one port:
//
//	cd examples/graphql && go run .
//
// Then open http://localhost:8090 to try queries, mutations and
// subscriptions in the browser. /graphql takes queries and mutations by
// HTTP POST and everything over WebSocket with graphql-transport-ws (the
// graphql-ws npm client's protocol); the token goes in the Authorization
// header or in connection_init's payload ({"token": "..."}); it is the
// hub's token, valid on /ws and /socket.io/ too. Without JWT_SECRET, POST
// /dev/token signs a development token for any name.
//
// Its own Go module keeps gqlgen out of the library's dependencies; `go
// generate ./...` regenerates graph/ from graph/schema.graphqls.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/examples/graphql/gqlws"
	"github.com/realtime-go/realtime/examples/graphql/graph"
	"github.com/realtime-go/realtime/examples/internal/exampleserver"
	"github.com/realtime-go/realtime/internal/httpx"
	"github.com/realtime-go/realtime/socketio"
)

//go:embed index.html
var page []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8090"
	}
	if err := run(ctx, ":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "graphql:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends; ready, when set, gets the listening address.
func run(ctx context.Context, addr string, ready func(net.Addr)) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("app", "graphql")
	cfg, err := realtime.ConfigFromEnv()
	if err != nil {
		return err
	}
	cfg.Logger = log
	devJWT, err := exampleserver.DevAuth(&cfg, nil, log)
	if err != nil {
		return err
	}
	hub, err := realtime.New(cfg)
	if err != nil {
		return err
	}
	sio, err := socketio.New(hub, socketio.Options{})
	if err != nil {
		_ = hub.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", hub)
	mux.Handle("/socket.io/", sio)
	mux.Handle("/graphql", newGraphQL(hub, cfg))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	if devJWT != nil {
		mux.Handle("POST /dev/token", exampleserver.DevTokenHandler(devJWT))
	}
	return exampleserver.Serve(ctx, addr, mux, hub, sio, log, ready)
}

// newGraphQL is the GraphQL endpoint: POST with the Authorization header,
// and graphql-transport-ws with the token in connection_init or the
// header; origins are the hub's.
func newGraphQL(hub *realtime.Hub, cfg realtime.Config) http.Handler {
	srv := handler.New(graph.NewSharedSchema(graph.Config{Resolvers: &graph.Resolver{Hub: hub}}))
	// authenticate verifies a token as the hub does, for both transports.
	authenticate := func(ctx context.Context, token string) (context.Context, time.Time, error) {
		u, exp, err := cfg.Authenticator.Authenticate(ctx, token)
		if err != nil || u.ID == "" {
			return nil, time.Time{}, errors.New("unauthorized")
		}
		return graph.WithUser(ctx, u), exp, nil
	}
	srv.AddTransport(gqlws.Transport{
		OriginAllowed: func(r *http.Request) bool { return httpx.OriginAllowed(r, cfg.AllowedOrigins) },
		Init: func(ctx context.Context, payload map[string]any, r *http.Request) (context.Context, time.Time, error) {
			token, _ := payload["token"].(string)
			if token == "" {
				token = httpx.Token(r)
			}
			return authenticate(ctx, token)
		},
	})
	srv.AddTransport(transport.POST{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if !httpx.OriginAllowed(r, cfg.AllowedOrigins) {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			ctx, _, err := authenticate(r.Context(), httpx.Token(r))
			if err != nil {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"message":"authentication required","extensions":{"code":"unauthorized"}}]}`))
				return
			}
			r = r.WithContext(ctx)
		}
		srv.ServeHTTP(w, r)
	})
}
