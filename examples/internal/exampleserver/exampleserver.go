// Package exampleserver is what the example servers share: development
// tokens, and serving a hub and its Socket.IO bridge until the context ends,
// then shutting them down in order.
package exampleserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/socketio"
)

// DevAuth gives cfg an Authenticator when the environment gave none: a JWT
// signed with secret (nil: a random one), returned so that the caller serves
// DevTokenHandler. With an Authenticator already set it returns nil.
func DevAuth(cfg *realtime.Config, secret []byte, log *slog.Logger) (*realtime.JWT, error) {
	if cfg.Authenticator != nil {
		return nil, nil
	}
	if secret == nil {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	j, err := realtime.NewJWT(realtime.JWTConfig{Secret: secret})
	if err != nil {
		return nil, err
	}
	cfg.Authenticator = j
	log.Warn("JWT_SECRET is not set: serving development tokens at POST /dev/token to anyone")
	return j, nil
}

var devName = regexp.MustCompile(`^[\p{L}\p{N} _.-]{1,32}$`)

// DevTokenHandler answers POST {"name": "..."} with a token of j for that
// name, to anyone: development only.
func DevTokenHandler(j *realtime.JWT) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "send {\"name\": \"...\"}"})
			return
		}
		name := strings.TrimSpace(req.Name)
		if !devName.MatchString(name) {
			WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "a name is 1 to 32 letters, digits, spaces, _ . or -"})
			return
		}
		u := realtime.User{ID: "u-" + strings.ToLower(strings.ReplaceAll(name, " ", "-")), Username: name}
		token, err := j.Sign(u, 12*time.Hour)
		if err != nil {
			WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot sign"})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"token": token, "user": realtime.UserRef{ID: u.ID, Username: u.Username}})
	})
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves h on addr until ctx ends (ready, when set, gets the address),
// then shuts down: the Socket.IO bridge and the hub first, so that their
// connections are closed properly rather than reset, then the HTTP server.
// It closes sio and hub whatever happens.
func Serve(ctx context.Context, addr string, h http.Handler, hub *realtime.Hub, sio *socketio.Server, log *slog.Logger, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = sio.Close()
		_ = hub.Close()
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		_ = sio.Close()
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A long-polling client that does not poll again cannot be told: give
	// those a moment, then drop them.
	sioCtx, cancelSio := context.WithTimeout(shutdownCtx, time.Second)
	_ = sio.Shutdown(sioCtx)
	cancelSio()
	_ = sio.Close()
	err = hub.Shutdown(shutdownCtx)
	// Connections hijacked by other handlers (GraphQL subscriptions) are not
	// waited for by srv.Shutdown; the hub's end has ended theirs.
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
