package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// idleSettle is how long idle connections sit before the server's memory
// is read, so that handshake garbage is collected and timers are armed.
const idleSettle = 3 * time.Second

// idle opens cfg.conns authenticated connections that join nothing and
// send nothing, and reports what each costs the server: heap and stacks
// and goroutines (from /debug/mem, after a GC), and resident memory (from
// /proc, with -pid).
func (b *bench) idle(ctx context.Context) (result, error) {
	cfg := b.cfg
	r := result{Scenario: "idle", Params: fmt.Sprintf("conns=%d", cfg.conns), Conns: cfg.conns}
	r.HeapPerConnKB, r.RSSPerConnKB, r.GoroutinesPerConn, r.CPUPerOpUs = -1, -1, -1, -1

	mem0, memErr := b.debugMem(ctx)
	rss0, rssErr := b.rss()
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setup)
	defer cancelSetup()
	start := time.Now()
	_, err := b.openAll(setupCtx, cfg.conns, func(i int) (string, string) { return "i" + strconv.Itoa(i), "" })
	if err != nil {
		return r, fmt.Errorf("setup: %w", err)
	}
	r.Seconds = time.Since(start).Seconds()

	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(idleSettle):
	}
	n := float64(cfg.conns)
	if mem1, err := b.debugMem(ctx); err == nil && memErr == nil {
		r.HeapPerConnKB = (float64(mem1.HeapInuse+mem1.StackInuse) - float64(mem0.HeapInuse+mem0.StackInuse)) / n / 1024
		r.GoroutinesPerConn = float64(mem1.Goroutines-mem0.Goroutines) / n
	}
	if rss1, err := b.rss(); err == nil && rssErr == nil {
		r.RSSPerConnKB = float64(rss1-rss0) / n / 1024
	}
	r.Errors = b.t.errors.Load()
	r.setDisconnects(b.t)
	return r, nil
}

// rss returns the server's resident memory; it needs -pid.
func (b *bench) rss() (int64, error) {
	if b.cfg.pid == 0 {
		return 0, fmt.Errorf("no -pid")
	}
	return serverRSS(b.cfg.pid)
}
