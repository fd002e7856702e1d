package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A room's event reaches every subscriber of the room, and most of them
// subscribe with the same operation: 1,000 members running one page's
// messageAdded query would decode the same JSON and execute the same
// selection 1,000 times. Here each event is decoded once (sharedEvents),
// and rendered once per distinct operation (NewSharedSchema): subscribers
// get the same bytes.
//
// Sharing a rendering is sound because the result of a subscription field
// depends only on the operation (its document, operation name and
// variables) and the event: no field below a subscription reads the
// request's user or other per-subscriber state. Who receives an event
// stays per subscriber: each one has its own hub Subscription, checked
// and ended for its own user.

// sharedEvent is one event of the hub as all its subscribers see it.
type sharedEvent struct {
	once  sync.Once
	value any // the decoded value, or nil when decoding failed

	mu      sync.Mutex
	renders map[string][]byte // by operation key
}

// render returns the event's rendering for the operation key, made by
// produce the first time; produce's ok false (a rendering with errors)
// keeps it from being shared.
func (e *sharedEvent) render(key string, produce func() ([]byte, bool)) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.renders[key]; ok {
		return b
	}
	b, ok := produce()
	if ok {
		if e.renders == nil {
			e.renders = make(map[string][]byte)
		}
		e.renders[key] = b
	}
	return b
}

// rendered returns the event's rendering for the operation key, if made.
func (e *sharedEvent) rendered(key string) ([]byte, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.renders[key]
	return b, ok
}

// sharedEvents holds the hub's latest events by their content: the name
// and JSON data a subscriber receives identify an event, as two events
// with the same bytes render the same.
type sharedEvents struct {
	mu     sync.Mutex
	events map[string]*sharedEvent
	order  []string // keys, oldest first from next, for eviction
	next   int
}

// sharedEventsKept is how many events the cache holds: a subscriber more
// events behind decodes its own copy.
const sharedEventsKept = 4096

// get returns the shared event of data, decoded into a new T once.
func get[T any](c *sharedEvents, data []byte) (*sharedEvent, *T) {
	c.mu.Lock()
	e, ok := c.events[string(data)]
	if !ok {
		if c.events == nil {
			c.events = make(map[string]*sharedEvent, sharedEventsKept)
			c.order = make([]string, sharedEventsKept)
		}
		e = new(sharedEvent)
		key := string(data)
		if old := c.order[c.next]; old != "" {
			delete(c.events, old)
		}
		c.order[c.next] = key
		c.next = (c.next + 1) % sharedEventsKept
		c.events[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		v := new(T)
		if json.Unmarshal(data, v) == nil {
			e.value = v
		}
	})
	v, ok := e.value.(*T)
	if !ok && e.value != nil {
		// Decoded as another type by another subscription: decode a copy.
		v = new(T)
		if json.Unmarshal(data, v) != nil {
			v = nil
		}
		return nil, v
	}
	return e, v
}

type sharedEventKey struct{}

// withSharedEvent returns the context of one event for one subscriber.
func withSharedEvent(ctx context.Context, e *sharedEvent) context.Context {
	if e == nil {
		return ctx
	}
	return context.WithValue(ctx, sharedEventKey{}, e)
}

// NewSharedSchema is NewExecutableSchema whose subscriptions render each
// event once per distinct operation, whatever the number of subscribers
// (see sharedEvent). Queries and mutations are executed as usual.
func NewSharedSchema(cfg Config) graphql.ExecutableSchema {
	return sharedSchema{NewExecutableSchema(cfg).(*executableSchema)}
}

type sharedSchema struct{ *executableSchema }

var _ graphql.ExecutableSchemaWithEventContext = sharedSchema{}

// ExecWithEventContext runs a subscription: for each event, the rendering
// of the subscriber's operation is taken from the event when another
// subscriber made it, and made (and kept) otherwise. gqlgen's marshaler is
// lazy: a rendering that is taken executes none of the selection.
func (s sharedSchema) ExecWithEventContext(ctx context.Context) graphql.ResponseHandlerWithContext {
	opCtx := graphql.GetOperationContext(ctx)
	if opCtx.Operation.Operation != ast.Subscription {
		return s.executableSchema.ExecWithEventContext(ctx)
	}
	ec := newExecutionContext(opCtx, s.executableSchema, make(chan graphql.DeferredResult))
	key := operationKey(opCtx)
	next := ec._Subscription(context.WithValue(ctx, operationKeyKey{}, key), opCtx.Operation.SelectionSet)
	var buf bytes.Buffer
	return func(ctx context.Context) (context.Context, *graphql.Response) {
		eventCtx, data := next(ctx)
		if data == nil {
			return ctx, nil
		}
		e, _ := eventCtx.Value(sharedEventKey{}).(*sharedEvent)
		if e == nil || key == "" {
			buf.Reset()
			data.MarshalGQL(&buf)
			return eventCtx, &graphql.Response{Data: buf.Bytes()}
		}
		return eventCtx, &graphql.Response{Data: e.render(key, func() ([]byte, bool) {
			errs := len(graphql.GetErrors(ctx))
			buf.Reset()
			data.MarshalGQL(&buf)
			return bytes.Clone(buf.Bytes()), len(graphql.GetErrors(ctx)) == errs
		})}
	}
}

type operationKeyKey struct{}

// operationKeyOf is the operationKey of ctx's subscription, which
// ExecWithEventContext gives its resolver, or "".
func operationKeyOf(ctx context.Context) string {
	key, _ := ctx.Value(operationKeyKey{}).(string)
	return key
}

// operationKey identifies what an operation renders of an event: its
// document, operation name and variables; "" when the variables cannot
// be encoded (the operation renders its own events).
func operationKey(op *graphql.OperationContext) string {
	vars, err := json.Marshal(op.Variables) // map keys sorted
	if err != nil {
		return ""
	}
	return op.RawQuery + "\x00" + op.OperationName + "\x00" + string(vars)
}
