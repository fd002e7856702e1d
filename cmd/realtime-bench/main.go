// Command realtime-bench is a load generator for realtime servers. It runs
// in its own process, apart from the server it loads, speaks realtime.v1
// (and, to compare, the protocols of the minimal centrifuge and melody
// servers of bench/peers) over github.com/coder/websocket, and prints one
// summary line per run.
//
// Scenarios:
//
//	fanout -mode window   one room of -members, -window messages in flight, for -duration
//	fanout -mode burst    one room of -members, -burst messages sent at once
//	fanout -mode paced    one room of -members, -rate messages a second, for -duration
//	rooms                 -rooms rooms of -members, every member sends -count messages
//	idle                  -conns connections that do nothing: memory and goroutines each
//	connect               -connects connections (connect + auth + join), -parallel at once
//
// Each message carries its send time, so the readers measure latency. With
// -pid, the server's CPU time is read from /proc/<pid>/stat and reported per
// delivery. Every run is bounded in count and time by capped flags, and
// targets loopback addresses only: any other is refused.
//
// Against realtime-server (cmd/realtime-server), messages are room messages
// sent with an ack: the server validates, stores and sequences each before
// fanning it out. The peers only relay. See BENCHMARKS.md.
//
//	go run ./cmd/realtime-server &
//	go run ./cmd/realtime-bench -scenario fanout -mode window -members 1000 -pid $!
//
// With -json FILE a run also appends its result to FILE as one JSON line;
// -table FILE prints the markdown table of the medians of such lines
// (bench/peers/run.sh does both).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/coder/websocket"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "realtime-bench:", err)
		os.Exit(1)
	}
}

// run parses args, runs one scenario and writes its result to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.compress {
		compression = websocket.CompressionNoContextTakeover
	}
	if cfg.table != "" {
		return printTable(cfg.table, stdout)
	}
	if cfg.pid != 0 {
		if _, err := processCPU(cfg.pid); err != nil {
			return fmt.Errorf("-pid %d: %w", cfg.pid, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.deadline())
	defer cancel()
	addr, err := hostPort(cfg.url)
	if err != nil {
		return err
	}
	if err := waitListening(ctx, addr, cfg.wait); err != nil {
		return err
	}
	client := newLoopbackClient()
	defer client.CloseIdleConnections()
	p, err := newProto(cfg, client)
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, p: p, client: client, t: newTally(time.Now())}
	res, err := b.run(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", cfg.server, res.Scenario, err)
	}
	res.Server, res.Label, res.When = cfg.server, cfg.label, time.Now().UTC().Truncate(time.Second)
	if cfg.name != "" {
		res.Server = cfg.name
	}
	if _, err := fmt.Fprintln(stdout, res); err != nil {
		return err
	}
	if cfg.jsonOut != "" {
		return appendJSON(cfg.jsonOut, res)
	}
	return nil
}

// appendJSON appends res to file as one JSON line.
func appendJSON(file string, res result) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if err := appendResult(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// appendResult writes res as one JSON line, the format -table reads.
func appendResult(w io.Writer, res result) error {
	return json.NewEncoder(w).Encode(res)
}
