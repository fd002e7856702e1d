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
