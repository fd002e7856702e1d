package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// roomsScenario measures many small rooms at once: cfg.rooms rooms of
// cfg.members, every member sends cfg.count messages as fast as it can, and
// every member (the sender included) receives each message of its room.
func (b *bench) roomsScenario(ctx context.Context) (result, error) {
	cfg := b.cfg
	r := result{Scenario: "rooms", Params: fmt.Sprintf("rooms=%d members=%d count=%d", cfg.rooms, cfg.members, cfg.count)}

	setupStart := time.Now()
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setup)
	defer cancelSetup()
	rooms, err := b.p.makeRooms(setupCtx, cfg.rooms)
	if err != nil {
		return r, fmt.Errorf("setup: %w", err)
	}
	conns, err := b.openAll(setupCtx, cfg.rooms*cfg.members, func(i int) (string, string) {
		return "u" + strconv.Itoa(i), rooms[i/cfg.members]
	})
	if err != nil {
		return r, fmt.Errorf("setup: %w", err)
	}

	senders := make([]*sender, len(conns))
	for i, c := range conns {
		senders[i] = &sender{c: c, p: b.p, t: b.t, room: rooms[i/cfg.members], size: cfg.size, plain: cfg.plain}
	}
	// Warm up: the first member of each room sends one message, which every
	// member must receive.
	for i := 0; i < len(senders); i += cfg.members {
		stop := senders[i].abortWith(setupCtx)
		err := senders[i].send(setupCtx)
		stop()
		if err != nil {
			return r, fmt.Errorf("warm-up: %w", err)
		}
	}
	want := int64(cfg.rooms) * int64(cfg.members)
	if !b.t.waitDelivered(setupCtx, want, 10*time.Second, cfg.setup) {
		return r, b.warmUpFailed(want)
	}
	b.t.reset()

	r.SetupSeconds = time.Since(setupStart).Seconds()
	cpu0 := b.cpu()
	start := b.t.now()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for _, s := range senders {
		s.sent = 0
		wg.Go(func() {
			if err := s.burst(ctx, cfg.count); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return r, fmt.Errorf("sending: %w", err)
	default:
	}
	var sent int64
	for _, s := range senders {
		sent += s.sent
	}
	expected := sent * int64(cfg.members)
	r.addNote(b.drain(ctx, expected))
	b.measured(&r, start, sent, expected, cpu0)
	return r, nil
}
