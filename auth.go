package realtime

import (
	"context"
	"time"
)

// Authenticator turns a token into a User. It is called for the token of the
// upgrade request and for every auth event, including refreshes on a live
// connection, possibly from many goroutines at once.
//
// Authenticate returns the user and when the token expires (the zero time
// means never). A rejected token is an error; its text is logged, never sent
// to the client, which sees "unauthorized".
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (User, time.Time, error)
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
type AuthenticatorFunc func(ctx context.Context, token string) (User, time.Time, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, token string) (User, time.Time, error) {
	return f(ctx, token)
}

// verifyToken checks a token with the Authenticator and returns its user
// and expiry, or ErrUnauthorized; why a token was refused is logged, never
// returned.
func (h *Hub) verifyToken(ctx context.Context, token string) (User, time.Time, error) {
	u, exp, err := h.checkToken(ctx, token)
	if err != nil {
		h.obs.AuthFailed()
	}
	return u, exp, err
}

func (h *Hub) checkToken(ctx context.Context, token string) (User, time.Time, error) {
	if token == "" || len(token) > h.cfg.MaxTokenBytes {
		return User{}, time.Time{}, ErrUnauthorized
	}
	if j, ok := h.cfg.Authenticator.(*JWT); !ok || j.keyFunc != nil {
		// Only a JWT without KeyFunc never waits for anything.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	u, exp, err := h.cfg.Authenticator.Authenticate(ctx, token)
	if err != nil {
		h.log.Info("realtime: token refused", "err", err)
		return User{}, time.Time{}, ErrUnauthorized
	}
	if u.ID == "" {
		h.log.Error("realtime: Authenticator returned a user without an ID")
		return User{}, time.Time{}, ErrUnauthorized
	}
	if !exp.IsZero() && !time.Now().Before(exp) {
		return User{}, time.Time{}, ErrUnauthorized
	}
	if u.Username == "" {
		u.Username = u.ID
	}
	return u, exp, nil
}
