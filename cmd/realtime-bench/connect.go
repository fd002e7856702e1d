package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// connect measures how fast the server takes new clients: cfg.connects
// connections, cfg.parallel at a time, each dialling, authenticating and
// joining a room of cfg.members (rooms fill in turn), within cfg.duration.
// Connections stay open until the end, read but not counted.
func (b *bench) connect(ctx context.Context) (result, error) {
	cfg := b.cfg
	r := result{Scenario: "connect", Params: fmt.Sprintf("connects=%d parallel=%d members=%d", cfg.connects, cfg.parallel, cfg.members)}

	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setup)
	defer cancelSetup()
	rooms, err := b.p.makeRooms(setupCtx, (cfg.connects+cfg.members-1)/cfg.members)
	if err != nil {
		return r, fmt.Errorf("setup: %w", err)
	}
	runCtx, cancelRun := context.WithTimeout(ctx, cfg.duration)
	defer cancelRun()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		made     int64
		lat      hist
		failures int64
		firstErr error
		wg       sync.WaitGroup
	)
	cpu0 := b.cpu()
	start := time.Now()
	for range min(cfg.parallel, cfg.connects) {
		wg.Go(func() {
			for runCtx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= cfg.connects {
					return
				}
				t0 := time.Now()
				_, err := b.open(runCtx, "c"+strconv.Itoa(i), rooms[i/cfg.members], false, i)
				took := time.Since(t0)
				mu.Lock()
				if err != nil {
					if runCtx.Err() == nil {
						failures++
						if firstErr == nil {
							firstErr = err
						}
					}
				} else {
					made++
					lat.record(took)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.Seconds = elapsed.Seconds()
	r.Sent, r.Delivered = next.Load(), made
	r.Sent = min(r.Sent, int64(cfg.connects))
	r.PerSec = float64(made) / elapsed.Seconds()
	cpu1 := b.cpu()
	r.CPUPerOpUs = cpuPer(cpu0.server, cpu1.server, made)
	r.BenchCPUPerOpUs = cpuPer(cpu0.bench, cpu1.bench, made)
	r.setLatency(&lat)
	r.Errors = failures + b.t.errors.Load()
	r.setDisconnects(b.t)
	var notes []string
	if made < int64(cfg.connects) {
		notes = append(notes, fmt.Sprintf("%d of %d connections within %v", made, cfg.connects, cfg.duration))
	}
	if firstErr != nil {
		notes = append(notes, fmt.Sprintf("first failure: %v", firstErr))
	}
	r.Note = strings.Join(notes, "; ")
	return r, nil
}
