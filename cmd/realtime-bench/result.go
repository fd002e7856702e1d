package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// result is the outcome of one run: what the summary line prints and what
// -json writes for run.sh's table. A figure that could not be measured
// (no -pid, a server without /debug/mem) is -1.
type result struct {
	Server   string    `json:"server"`
	Scenario string    `json:"scenario"` // fanout/window, fanout/burst, fanout/paced, rooms, idle, connect
	Params   string    `json:"params"`   // the flags that shape the run, "members=1000 window=64"
	Label    string    `json:"label,omitempty"`
	When     time.Time `json:"when"`
	Note     string    `json:"note,omitempty"` // why a run ended early

	SetupSeconds float64 `json:"setupSeconds"` // connecting, joining and warming up

	Seconds   float64 `json:"seconds"`   // measured time: first send to last delivery
	Sent      int64   `json:"sent"`      // messages sent (connections attempted, for connect)
	Expected  int64   `json:"expected"`  // deliveries that should arrive
	Delivered int64   `json:"delivered"` // deliveries that did (connections made, for connect)
	PerSec    float64 `json:"perSec"`    // deliveries per second (connections, for connect)
	Loss      float64 `json:"loss"`      // share of Expected that never arrived

	Disconnects int            `json:"disconnects"` // connections the server closed or lost mid-run
	CloseCodes  map[string]int `json:"closeCodes,omitempty"`
	Errors      int64          `json:"errors"` // error replies and pushes

	P50Ms float64 `json:"p50Ms"` // latency: send to receipt (connect: dial to joined)
	P99Ms float64 `json:"p99Ms"`
	MaxMs float64 `json:"maxMs"`

	CPUPerOpUs      float64 `json:"cpuPerOpUs"`      // server CPU per delivery (per connection, for connect)
	BenchCPUPerOpUs float64 `json:"benchCpuPerOpUs"` // the bench's own CPU, likewise: it shares the machine
	BytesPerFrame   float64 `json:"bytesPerFrame"`
	WireBytesPerOp  float64 `json:"wireBytesPerOp"` // bytes read off the sockets per delivery, compressed or not
	EventsPerFrame  float64 `json:"eventsPerFrame"`

	Conns             int     `json:"conns,omitempty"`         // idle: connections held
	HeapPerConnKB     float64 `json:"heapPerConnKB,omitempty"` // idle: server heap + stacks per connection
	RSSPerConnKB      float64 `json:"rssPerConnKB,omitempty"`  // idle: server resident memory per connection
	GoroutinesPerConn float64 `json:"goroutinesPerConn,omitempty"`
}

// addNote adds a note to r's, if it is not empty.
func (r *result) addNote(note string) {
	switch {
	case note == "":
	case r.Note == "":
		r.Note = note
	default:
		r.Note += "; " + note
	}
}

// setLatency fills the percentiles from h.
func (r *result) setLatency(h *hist) {
	r.P50Ms = ms(h.quantile(0.50))
	r.P99Ms = ms(h.quantile(0.99))
	r.MaxMs = ms(h.max)
}

// setDisconnects fills the disconnect counts of t.
func (r *result) setDisconnects(t *tally) {
	n, codes := t.disconnects()
	r.Disconnects = n
	if n > 0 {
		r.CloseCodes = make(map[string]int, len(codes))
		for code, k := range codes {
			name := fmt.Sprint(code)
			if code < 0 {
				name = "none"
			}
			r.CloseCodes[name] = k
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// String is the run's summary line.
func (r result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s:", r.Server, r.Scenario, r.Params)
	switch r.Scenario {
	case "idle":
		fmt.Fprintf(&b, " %d connections, %s KB/conn heap+stacks, %s KB/conn RSS, %s goroutines/conn",
			r.Conns, known(r.HeapPerConnKB, "%.1f"), known(r.RSSPerConnKB, "%.1f"), known(r.GoroutinesPerConn, "%.2f"))
	case "connect":
		fmt.Fprintf(&b, " %.0f connections/s (connect+auth+join), %d of %d made, p50 %.2f ms, p99 %.2f ms, max %.2f ms, server CPU %s µs/connection (bench %s)",
			r.PerSec, r.Delivered, r.Sent, r.P50Ms, r.P99Ms, r.MaxMs, known(r.CPUPerOpUs, "%.1f"), known(r.BenchCPUPerOpUs, "%.1f"))
	default:
		fmt.Fprintf(&b, " %s delivered/s, loss %.2f%%, p50 %.2f ms, p99 %.2f ms, max %.2f ms, server CPU %s µs/delivery (bench %s), %.0f B/frame, %.1f events/frame, %.0f B/delivery on the wire",
			si(r.PerSec), 100*r.Loss, r.P50Ms, r.P99Ms, r.MaxMs, known(r.CPUPerOpUs, "%.2f"), known(r.BenchCPUPerOpUs, "%.2f"), r.BytesPerFrame, r.EventsPerFrame, r.WireBytesPerOp)
		fmt.Fprintf(&b, " (%.1f s after %.1f s of setup, %d sent, %d of %d delivered)", r.Seconds, r.SetupSeconds, r.Sent, r.Delivered, r.Expected)
	}
	fmt.Fprintf(&b, ", %d disconnects", r.Disconnects)
	if len(r.CloseCodes) > 0 {
		var codes []string
		for _, k := range slices.Sorted(maps.Keys(r.CloseCodes)) {
			codes = append(codes, fmt.Sprintf("%s×%d", k, r.CloseCodes[k]))
		}
		fmt.Fprintf(&b, " (close codes %s)", strings.Join(codes, " "))
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, ", %d errors", r.Errors)
	}
	if r.Note != "" {
		fmt.Fprintf(&b, " [%s]", r.Note)
	}
	return b.String()
}

// known formats v, or "?" when it is unknown (negative).
func known(v float64, format string) string {
	if v < 0 {
		return "?"
	}
	return fmt.Sprintf(format, v)
}

// si formats a rate with a k or M suffix: 950k, 1.20M.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
