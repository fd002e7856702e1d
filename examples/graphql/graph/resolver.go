// Package graph is the GraphQL schema of the example (schema.graphqls) and
// its resolvers; generated.go and model/ are gqlgen's (go generate).
package graph

//go:generate go tool gqlgen generate

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/examples/graphql/gqlws"
)

// Resolver resolves every field through the hub's Go API, as the user of
// the request: the hub's own events (Hub.Do) for queries and mutations, its
// server-side subscribers for subscriptions. GraphQL clients thus get the
// same checks, and see the same messages in the same order, as native and
// Socket.IO clients.
type Resolver struct {
	Hub *realtime.Hub

	events sharedEvents // the latest events, decoded once for all subscribers
}

type userKey struct{}

// WithUser returns ctx carrying the authenticated user of a request.
func WithUser(ctx context.Context, u realtime.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// errUnauthenticated answers fields of a request without a user.
var errUnauthenticated = &gqlerror.Error{Message: "authentication required", Extensions: map[string]any{"code": "unauthorized"}}

func userOf(ctx context.Context) (realtime.User, error) {
	u, ok := ctx.Value(userKey{}).(realtime.User)
	if !ok {
		return realtime.User{}, errUnauthenticated
	}
	return u, nil
}

// gqlErr turns the hub's error into a GraphQL error with its code.
func gqlErr(err error) error {
	var e *realtime.Error
	if errors.As(err, &e) {
		return &gqlerror.Error{Message: e.Message, Extensions: map[string]any{"code": string(e.Code)}}
	}
	return err
}

// do runs a client event of the protocol as the request's user and decodes
// its reply into T.
func do[T any](ctx context.Context, r *Resolver, event string, data any) (T, error) {
	var out T
	u, err := userOf(ctx)
	if err != nil {
		return out, err
	}
	raw, err := r.Hub.Do(ctx, u, event, data)
	if err != nil {
		return out, gqlErr(err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, err
	}
	return out, nil
}

// pump turns the events named event of sub into a stream of values decoded
// from their JSON, each with its shared event (see sharedEvent) in its
// context. An event already rendered for this operation, by another
// subscriber, is written at once over graphql-transport-ws
// (gqlws.Stream), without the executor. When sub ends with an error
// (removal from the room, too slow...), the operation ends with it.
func pump[T any](ctx context.Context, r *Resolver, sub *realtime.Subscription, event string) <-chan graphql.Event[*T] {
	out := make(chan graphql.Event[*T], 16)
	stream, key := gqlws.StreamOf(ctx), operationKeyOf(ctx)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			select {
			case ev, ok := <-sub.Events():
				if !ok {
					if err := sub.Err(); err != nil && ctx.Err() == nil {
						gqlws.Fail(ctx, gqlErr(err))
					}
					return
				}
				if ev.Event != event {
					continue
				}
				shared, v := get[T](&r.events, ev.Data)
				if v == nil {
					continue
				}
				if stream != nil && shared != nil && key != "" {
					if data, ok := shared.rendered(key); ok {
						if stream.WriteData(ctx, data) != nil {
							return
						}
						continue
					}
				}
				if stream != nil {
					stream.Queue()
				}
				select {
				case out <- graphql.Event[*T]{Context: withSharedEvent(ctx, shared), Value: v}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// merge forwards every stream's events to one, until all are closed or
// ctx ends.
func merge[T any](ctx context.Context, chans []<-chan graphql.Event[*T]) <-chan graphql.Event[*T] {
	out := make(chan graphql.Event[*T], 16)
	done := make(chan struct{}, len(chans))
	for _, ch := range chans {
		go func() {
			defer func() { done <- struct{}{} }()
			for v := range ch {
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		for range chans {
			<-done
		}
		close(out)
	}()
	return out
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// convert re-decodes v, a value of the hub, as the model type T: their
// JSON field names are the protocol's.
func convert[T any](v any) *T {
	out := new(T)
	b, err := json.Marshal(v)
	if err == nil {
		_ = json.Unmarshal(b, out)
	}
	return out
}
