// Command chat is the realtime chat example: a browser UI and a Hub on one
// port.
//
//	go run ./examples/chat
//
// Then open http://localhost:8080 in two browser windows. Configuration
// comes from the environment (see realtime.ConfigFromEnv), plus
// WEBSOCKET_PORT (default 8080). Without JWT_SECRET the server runs a
// development token endpoint that signs a token for any name you type: fine
// on your laptop, never on a public server.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/realtime-go/realtime"
)

//go:embed web
var webFiles embed.FS

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	port := os.Getenv("WEBSOCKET_PORT")
	if port == "" {
		port = "8080"
	}
	if err := run(ctx, ":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// run serves the example on addr until ctx ends, then shuts down gracefully.
// ready, when set, is called with the listening address.
func run(ctx context.Context, addr string, ready func(net.Addr)) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := realtime.ConfigFromEnv()
	if err != nil {
		return err
	}
	cfg.Logger = log

	// Without JWT_SECRET, sign development tokens with a random secret
	// that lives as long as the process.
	var devJWT *realtime.JWT
	if cfg.Authenticator == nil {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		if devJWT, err = realtime.NewJWT(realtime.JWTConfig{Secret: secret}); err != nil {
			return err
		}
		cfg.Authenticator = devJWT
		log.Warn("chat: JWT_SECRET is not set: serving development tokens at POST /dev/token to anyone")
	}

	hub, err := realtime.New(cfg)
	if err != nil {
		return err
	}
	static, _ := fs.Sub(webFiles, "web")
	mux := http.NewServeMux()
	mux.Handle("GET /ws", hub)
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"devTokens": devJWT != nil})
	})
	if devJWT != nil {
		mux.Handle("POST /dev/token", devTokenHandler(devJWT))
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = hub.Close()
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("chat: serving", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The hub first, so that its connections get 1001 rather than a reset.
	err = hub.Shutdown(shutdownCtx)
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

var devName = regexp.MustCompile(`^[\p{L}\p{N} _.-]{1,32}$`)

// devTokenHandler signs a 12-hour token for the name in the request. The
// user id is derived from the name, so the same name is the same user.
func devTokenHandler(j *realtime.JWT) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send {\"name\": \"...\"}"})
			return
		}
		name := strings.TrimSpace(req.Name)
		if !devName.MatchString(name) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "a name is 1 to 32 letters, digits, spaces, _ . or -"})
			return
		}
		u := realtime.User{ID: "u-" + strings.ToLower(strings.ReplaceAll(name, " ", "-")), Username: name}
		token, err := j.Sign(u, 12*time.Hour)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot sign"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": token, "user": realtime.UserRef{ID: u.ID, Username: u.Username}})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
