package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// warmUpMessages are sent, and must reach every member, before a measured
// run: they prove every subscription is in place and warm the buffers.
const warmUpMessages = 10

// fanout measures one room: cfg.members readers and one sender, which is a
// member too (its own copies are read but not counted).
func (b *bench) fanout(ctx context.Context) (result, error) {
	cfg := b.cfg
	r := result{Scenario: "fanout/" + cfg.mode}
	switch cfg.mode {
	case "window":
		r.Params = fmt.Sprintf("members=%d window=%d duration=%v", cfg.members, cfg.window, cfg.duration)
	case "burst":
		r.Params = fmt.Sprintf("members=%d burst=%d", cfg.members, cfg.burst)
	case "paced":
		r.Params = fmt.Sprintf("members=%d rate=%g/s duration=%v", cfg.members, cfg.rate, cfg.duration)
	}

	setupStart := time.Now()
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setup)
	defer cancelSetup()
	rooms, err := b.p.makeRooms(setupCtx, 1)
	if err != nil {
		return r, fmt.Errorf("setup: %w", err)
	}
	room := rooms[0]
	_, err = b.openAll(setupCtx, cfg.members, func(i int) (string, string) { return "m" + strconv.Itoa(i), room })
	if err != nil {
		return r, fmt.Errorf("setup: %w", err)
	}
	sc, err := b.open(setupCtx, "sender", room, false, 0)
	if err != nil {
		return r, fmt.Errorf("setup: sender: %w", err)
	}

	s := &sender{c: sc, p: b.p, t: b.t, room: room, size: cfg.size, plain: cfg.plain}
	recipients := int64(cfg.members)
	if err := s.burst(setupCtx, warmUpMessages); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}
	if !b.t.waitDelivered(setupCtx, warmUpMessages*recipients, 10*time.Second, cfg.setup) {
		return r, b.warmUpFailed(warmUpMessages * recipients)
	}
	b.t.reset()
	s.sent = 0

	r.SetupSeconds = time.Since(setupStart).Seconds()
	cpu0 := b.cpu()
	start := b.t.now()
	switch cfg.mode {
	case "window":
		err = s.window(ctx, cfg.window, recipients, cfg.duration)
	case "burst":
		err = s.burst(ctx, cfg.burst)
	case "paced":
		err = s.paced(ctx, cfg.rate, cfg.duration)
	}
	if errors.Is(err, errStalled) {
		r.Note, err = err.Error(), nil
	}
	if err != nil {
		return r, fmt.Errorf("sending: %w", err)
	}
	r.addNote(b.drain(ctx, s.sent*recipients))
	b.measured(&r, start, s.sent, s.sent*recipients, cpu0)
	return r, nil
}

// warmUpFailed explains why the warm-up messages did not all arrive.
func (b *bench) warmUpFailed(want int64) error {
	n, codes := b.t.disconnects()
	return fmt.Errorf("warm-up: %d of %d deliveries, %d disconnects (by close code: %v), %d errors",
		b.t.delivered.Load(), want, n, codes, b.t.errors.Load())
}

// drain waits for the last deliveries of a run. It returns a note when the
// drain cap, not a quiet spell, ended the wait: what had not arrived then
// counts as lost though it may still have been on its way.
func (b *bench) drain(ctx context.Context, want int64) string {
	if b.t.waitDelivered(ctx, want, drainQuiet, drainCap) {
		return ""
	}
	if b.t.now()-time.Duration(b.t.last.Load()) < drainQuiet {
		return fmt.Sprintf("still delivering when the %v drain cap ended the run", drainCap)
	}
	return ""
}

// measured fills r with what the tally counted since start (payload time)
// and the server CPU used since cpu0.
func (b *bench) measured(r *result, start time.Duration, sent, expected int64, cpu0 cpuMark) {
	t := b.t
	delivered := t.delivered.Load()
	elapsed := time.Duration(t.last.Load()) - start
	if delivered == 0 || elapsed <= 0 {
		elapsed = t.now() - start
	}
	r.Seconds = elapsed.Seconds()
	r.Sent, r.Expected, r.Delivered = sent, expected, delivered
	r.PerSec = float64(delivered) / elapsed.Seconds()
	if expected > 0 && delivered < expected {
		r.Loss = float64(expected-delivered) / float64(expected)
	}
	cpu1 := b.cpu()
	r.CPUPerOpUs = cpuPer(cpu0.server, cpu1.server, delivered)
	r.BenchCPUPerOpUs = cpuPer(cpu0.bench, cpu1.bench, delivered)
	if cpu0.server >= 0 && cpu1.server == cpu0.server && delivered >= 10000 {
		r.addNote(fmt.Sprintf("the CPU time of -pid %d did not move: is it the server's process?", b.cfg.pid))
	}
	if delivered > 0 {
		r.WireBytesPerOp = float64(cpu1.wire-cpu0.wire) / float64(delivered)
	}
	if frames := t.frames.Load(); frames > 0 {
		r.BytesPerFrame = float64(t.bytes.Load()) / float64(frames)
		r.EventsPerFrame = float64(t.objects.Load()) / float64(frames)
	}
	r.Errors = t.errors.Load()
	r.setLatency(t.latency.snapshot())
	r.setDisconnects(t)
}
