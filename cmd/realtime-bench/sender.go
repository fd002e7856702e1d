package main

import (
	"context"
	"time"
)

// stallQuiet is how long a window run waits for a delivery before it
// declares the server stalled.
const stallQuiet = 5 * time.Second

// sender publishes timestamped messages into one room over one connection.
type sender struct {
	c     *wsConn
	p     proto
	t     *tally
	room  string
	size  int
	plain bool

	sent    int64
	payload []byte
	frame   []byte
}

// send publishes one message stamped with the current time. A sending
// loop calls it under abortWith.
func (s *sender) send(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.payload = appendPayload(s.payload[:0], s.t.now(), s.size, s.plain)
	s.frame = s.p.appendPublish(s.frame[:0], s.room, s.payload, uint64(s.sent+1))
	if err := s.c.write(context.Background(), s.frame); err != nil {
		return err
	}
	s.sent++
	return nil
}

// abortWith drops the connection when ctx ends, which ends a write that
// is stuck: one hook for a sending loop, rather than the one coder/websocket
// would set up for every frame written with ctx. Call the result when the
// loop ends.
func (s *sender) abortWith(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, s.c.close)
}

// window sends for d, keeping at most n messages that have not yet reached
// all recipients: message k goes once (k-n)*recipients deliveries were
// counted. It returns errStalled when deliveries stop for stallQuiet.
func (s *sender) window(ctx context.Context, n int, recipients int64, d time.Duration) error {
	defer s.abortWith(ctx)()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		need := (s.sent + 1 - int64(n)) * recipients
		if !s.t.waitDelivered(ctx, need, stallQuiet, time.Until(end)) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().Before(end) {
				return errStalled
			}
			return nil
		}
		if err := s.send(ctx); err != nil {
			return err
		}
	}
	return nil
}

// burst sends n messages back to back.
func (s *sender) burst(ctx context.Context, n int) error {
	defer s.abortWith(ctx)()
	for range n {
		if err := s.send(ctx); err != nil {
			return err
		}
	}
	return nil
}

// paced sends rate messages a second for d.
func (s *sender) paced(ctx context.Context, rate float64, d time.Duration) error {
	defer s.abortWith(ctx)()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	end := time.After(d)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end:
			return nil
		case <-tick.C:
			if err := s.send(ctx); err != nil {
				return err
			}
		}
	}
}
