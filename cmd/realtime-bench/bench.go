package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// bench is one run: its configuration, the server's protocol, the tally
// its readers fill and the connections it opened.
type bench struct {
	cfg    config
	p      proto
	client *http.Client
	t      *tally

	readCtx context.Context // ends when the run does, stopping the readers
	readers sync.WaitGroup

	mu    sync.Mutex
	conns []*wsConn // every connection opened, closed at the end of run
}

// run runs the configured scenario, then stops its readers and closes its
// connections.
func (b *bench) run(ctx context.Context) (result, error) {
	readCtx, stop := context.WithCancel(ctx)
	b.readCtx = readCtx
	defer func() {
		stop()
		b.readers.Wait()
		b.mu.Lock()
		closeAll(b.conns)
		b.mu.Unlock()
	}()
	switch b.cfg.scenario {
	case "fanout":
		return b.fanout(ctx)
	case "rooms":
		return b.roomsScenario(ctx)
	case "idle":
		return b.idle(ctx)
	case "connect":
		return b.connect(ctx)
	}
	return result{}, fmt.Errorf("unknown scenario %q", b.cfg.scenario)
}

// open opens one connection and reads it from then on, until the run ends:
// a server must never find a bench client too slow because the bench was
// still setting up. A counting reader adds what it receives to the tally.
func (b *bench) open(ctx context.Context, user, room string, counting bool, key int) (*wsConn, error) {
	c, err := b.p.open(ctx, user, room)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.mu.Unlock()
	b.readers.Go(func() { b.t.read(b.readCtx, c, b.p, counting, key) })
	return c, nil
}

// openAll opens n counting connections, cfg.parallel at a time; at(i)
// names the user and room of the i-th.
func (b *bench) openAll(ctx context.Context, n int, at func(i int) (user, room string)) ([]*wsConn, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	conns := make([]*wsConn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(b.cfg.parallel, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				user, room := at(i)
				c, err := b.open(ctx, user, room, true, i)
				if err != nil {
					cancel(fmt.Errorf("connection %d of %d: %w", i+1, n, err))
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return conns, nil
}

func closeAll(conns []*wsConn) {
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
}

// cpuMark is a point of a run: the CPU time the server (-1 without -pid)
// and the bench itself had used, and the bytes the bench's connections
// had read off their sockets.
type cpuMark struct {
	server, bench time.Duration
	wire          int64
}

func (b *bench) cpu() cpuMark {
	m := cpuMark{server: -1, bench: -1, wire: wireRead.Load()}
	if b.cfg.pid != 0 {
		if d, err := processCPU(b.cfg.pid); err == nil {
			m.server = d
		}
	}
	if d, err := processCPU(os.Getpid()); err == nil {
		m.bench = d
	}
	return m
}

// cpuPer returns the CPU used between two readings per operation, in
// microseconds, or -1 when unknown.
func cpuPer(before, after time.Duration, ops int64) float64 {
	if before < 0 || after < 0 || ops <= 0 {
		return -1
	}
	return float64(after-before) / float64(time.Microsecond) / float64(ops)
}

// serverMem is what a server's /debug/mem reports.
type serverMem struct {
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Goroutines int    `json:"goroutines"`
}

// debugMem fetches the server's /debug/mem (served by realtime-server and
// the peer servers on their WebSocket port), after the server ran a GC.
func (b *bench) debugMem(ctx context.Context) (serverMem, error) {
	u, err := url.Parse(b.cfg.url)
	if err != nil {
		return serverMem{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.Host+"/debug/mem", nil)
	if err != nil {
		return serverMem{}, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return serverMem{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverMem{}, fmt.Errorf("/debug/mem: %s", resp.Status)
	}
	var m serverMem
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// hostPort returns the host:port a ws:// URL dials.
func hostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// errStalled ends a window run in which deliveries stopped.
var errStalled = errors.New("stalled: no delivery for 5 s")
