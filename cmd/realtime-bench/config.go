package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// config is one run, as the flags describe it. parseFlags fills in the
// defaults and enforces the caps, so that every run is bounded in count and
// time whatever it is asked.
type config struct {
	server   string // realtime, centrifuge or melody: the protocol spoken
	url      string // the server's WebSocket URL, on loopback
	pid      int    // the server's process id, for CPU and memory; 0: unknown
	scenario string // fanout, rooms, idle or connect
	mode     string // fanout only: window, burst or paced
	compress bool   // offer permessage-deflate
	protocol string // the realtime server's subprotocol version
	name     string // the server's name in results

	members  int     // recipients per room (fanout, rooms, connect)
	rooms    int     // rooms (rooms scenario)
	count    int     // messages per sender (rooms scenario)
	window   int     // messages in flight (fanout window)
	burst    int     // messages sent at once (fanout burst)
	rate     float64 // messages per second (fanout paced)
	conns    int     // idle connections
	connects int     // connections to open (connect scenario)
	parallel int     // connections opened at once
	size     int     // bytes of each message's payload
	plain    bool    // pad payloads with 'x' instead of realistic text
	clientID bool    // give every realtime message a clientMsgId

	duration time.Duration // measured time of window, paced and connect runs
	setup    time.Duration // cap on connecting and joining before a run
	wait     time.Duration // how long to wait for the server to listen
	secret   string        // HS256 secret the servers verify tokens with
	label    string        // free text added to the result

	jsonOut string // file to append the result to, as one JSON line
	table   string // print the median table of a JSON-lines file instead of running
}

// Hard caps: no flag value goes beyond them.
const (
	maxDuration = time.Minute
	maxSetup    = 5 * time.Minute
	maxWait     = time.Minute
	maxConns    = 15000 // idle connections; each costs the server a descriptor too
	maxMembers  = 10000 // recipients in one fan-out run, or rooms x members
	maxConnects = 100000
	maxParallel = 256
	maxMessages = 100000 // burst, count x senders
	maxRate     = 10000
	maxWindow   = 10000
	minSize     = 32
	maxSize     = 4096
	// drainQuiet ends the wait for the last deliveries when none came for
	// this long; drainCap ends it anyway.
	drainQuiet = 2 * time.Second
	drainCap   = 30 * time.Second
)

// DefaultSecret is the development secret that realtime-server and the peer
// servers verify tokens with unless told otherwise. Loopback benchmarks only.
const defaultSecret = "realtime-bench-secret-loopback-only-0123456789"

// defaultURL is where run.sh starts each server; "" for an unknown one.
func defaultURL(server string) string {
	switch server {
	case "realtime":
		return "ws://127.0.0.1:8090/ws"
	case "centrifuge":
		return "ws://127.0.0.1:8091/connection/websocket"
	case "melody":
		return "ws://127.0.0.1:8092/ws"
	}
	return ""
}

// parseFlags parses args into a config with defaults applied, or returns an
// error naming the first flag out of bounds.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("realtime-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.server, "server", "realtime", "protocol of the server: realtime, centrifuge or melody")
	fs.StringVar(&c.name, "name", "", "the server's name in results and tables (default: -server); run.sh names an earlier build of realtime-server realtime@<commit>")
	fs.StringVar(&c.url, "url", "", "the server's WebSocket URL; loopback only (default: per -server, as run.sh starts them)")
	fs.IntVar(&c.pid, "pid", 0, "the server's process id, to read its CPU time and memory from /proc")
	fs.StringVar(&c.scenario, "scenario", "fanout", "fanout, rooms, idle or connect")
	fs.StringVar(&c.mode, "mode", "window", "fanout mode: window (N in flight), burst (N at once) or paced (N per second)")
	fs.IntVar(&c.members, "members", 0, "recipients per room (default: 1000 for fanout, 10 for rooms and connect)")
	fs.IntVar(&c.rooms, "rooms", 200, "rooms, for the rooms scenario")
	fs.IntVar(&c.count, "count", 20, "messages each member sends, for the rooms scenario")
	fs.IntVar(&c.window, "window", 64, "messages in flight, for fanout window")
	fs.IntVar(&c.burst, "burst", 2000, "messages sent at once, for fanout burst")
	fs.Float64Var(&c.rate, "rate", 20, "messages per second, for fanout paced")
	fs.IntVar(&c.conns, "conns", 10000, "connections, for the idle scenario")
	fs.IntVar(&c.connects, "connects", 2000, "connections to open, for the connect scenario")
	fs.IntVar(&c.parallel, "parallel", 32, "connections opened at once")
	fs.IntVar(&c.size, "size", 100, "payload bytes per message")
	fs.BoolVar(&c.compress, "compression", false, "offer permessage-deflate (without context takeover) on every connection; the server decides")
	fs.StringVar(&c.protocol, "protocol", "realtime.v2", "subprotocol to ask a realtime server for: realtime.v2 (message pushes without senderId, as @realtime-go/client asks) or realtime.v1")
	fs.BoolVar(&c.clientID, "client-msg-id", false, "give every message to a realtime server a random clientMsgId, as the Go and TypeScript clients do (the server then also keeps it in a unique index of its store)")
	fs.BoolVar(&c.plain, "plain", false, "pad payloads with plain 'x' characters, which JSON never escapes, instead of realistic text (quotes, a backslash, é, emoji)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time of window, paced and connect runs")
	fs.DurationVar(&c.setup, "setup-timeout", 3*time.Minute, "cap on connecting and joining before a run")
	fs.DurationVar(&c.wait, "wait", 15*time.Second, "how long to wait for the server to accept connections")
	fs.StringVar(&c.secret, "secret", defaultSecret, "HS256 secret for the tokens the bench signs")
	fs.StringVar(&c.label, "label", "", "free text added to the result")
	fs.StringVar(&c.jsonOut, "json", "", "also append the result as one JSON line to this file")
	fs.StringVar(&c.table, "table", "", "print the markdown table of medians of a file of -json results, and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.table != "" {
		return c, nil
	}
	if c.url == "" {
		c.url = defaultURL(c.server)
	}
	if c.members == 0 {
		c.members = 10
		if c.scenario == "fanout" {
			c.members = 1000
		}
	}
	return c, c.validate()
}

func (c config) validate() error {
	if defaultURL(c.server) == "" {
		return fmt.Errorf("-server %q: want realtime, centrifuge or melody", c.server)
	}
	if err := checkLoopbackURL(c.url); err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	switch c.scenario {
	case "fanout":
		if c.mode != "window" && c.mode != "burst" && c.mode != "paced" {
			return fmt.Errorf("-mode %q: want window, burst or paced", c.mode)
		}
	case "rooms", "idle", "connect":
	default:
		return fmt.Errorf("-scenario %q: want fanout, rooms, idle or connect", c.scenario)
	}
	checks := []bound{
		{name: "-members", v: int64(c.members), lo: 1, hi: maxMembers},
		{name: "-rooms", v: int64(c.rooms), lo: 1, hi: maxMembers},
		{name: "-count", v: int64(c.count), lo: 1, hi: maxMessages},
		{name: "-window", v: int64(c.window), lo: 1, hi: maxWindow},
		{name: "-burst", v: int64(c.burst), lo: 1, hi: maxMessages},
		{name: "-conns", v: int64(c.conns), lo: 1, hi: maxConns},
		{name: "-connects", v: int64(c.connects), lo: 1, hi: maxConnects},
		{name: "-parallel", v: int64(c.parallel), lo: 1, hi: maxParallel},
		{name: "-size", v: int64(c.size), lo: minSize, hi: maxSize},
		{name: "-pid", v: int64(c.pid), lo: 0, hi: 1 << 22},
		durationBound("-duration", c.duration, 100*time.Millisecond, maxDuration),
		durationBound("-setup-timeout", c.setup, time.Second, maxSetup),
		durationBound("-wait", c.wait, 0, maxWait),
	}
	if c.scenario == "rooms" {
		senders := int64(c.rooms) * int64(c.members)
		checks = append(checks,
			bound{name: "-rooms x -members", v: senders, lo: 1, hi: maxMembers},
			bound{name: "-rooms x -members x -count", v: senders * int64(c.count), lo: 1, hi: 10 * maxMessages})
	}
	for _, b := range checks {
		if b.v < b.lo || b.v > b.hi {
			return b.err()
		}
	}
	if !(c.rate > 0 && c.rate <= maxRate) {
		return fmt.Errorf("-rate = %g: must be within (0, %d]", c.rate, maxRate)
	}
	if c.secret == "" {
		return errors.New("-secret is empty")
	}
	return nil
}

// bound is a flag's value and its limits.
type bound struct {
	name      string
	v, lo, hi int64
	duration  bool // the numbers are time.Durations
}

func durationBound(name string, v, lo, hi time.Duration) bound {
	return bound{name: name, v: int64(v), lo: int64(lo), hi: int64(hi), duration: true}
}

func (b bound) err() error {
	if b.duration {
		return fmt.Errorf("%s = %v: must be within [%v, %v]", b.name, time.Duration(b.v), time.Duration(b.lo), time.Duration(b.hi))
	}
	return fmt.Errorf("%s = %d: must be within [%d, %d]", b.name, b.v, b.lo, b.hi)
}

// deadline is the most a run may take from start to result: waiting for the
// server, setting up, the measured part and the drain.
func (c config) deadline() time.Duration {
	return c.wait + c.setup + c.duration + drainCap + 30*time.Second
}
