package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	assert.Zero(t, h.quantile(0.5), "empty")
	for i := 1; i <= 10000; i++ { // 1 µs .. 10 ms, uniform
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5 * time.Millisecond},
		{0.99, 9900 * time.Microsecond},
		{0.999, 9990 * time.Microsecond},
		{0.01, 100 * time.Microsecond},
	} {
		got := h.quantile(tc.q)
		assert.InEpsilon(t, float64(tc.want), float64(got), 0.03, "q=%v: got %v, want %v", tc.q, got, tc.want)
	}
	assert.Equal(t, 10*time.Millisecond, h.max)
	assert.Equal(t, h.max, h.quantile(1), "the top quantile is capped by the largest sample")

	var one hist
	one.record(1234 * time.Microsecond)
	assert.InEpsilon(t, float64(1234*time.Microsecond), float64(one.quantile(0.5)), 0.03)
	one.record(-time.Second)
	assert.Zero(t, one.quantile(0.01), "negative samples count as zero")
}

func TestHistBuckets(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 123456789, 1 << 40, 1<<63 - 1, 1 << 63} {
		i := bucketOf(v)
		require.Less(t, i, histBuckets, "v=%d", v)
		require.GreaterOrEqual(t, i, prev, "buckets grow with the value (v=%d)", v)
		prev = i
		lo, hi := bucketRange(i)
		require.True(t, lo <= v && (v < hi || hi == 0), "v=%d in bucket %d [%d, %d)", v, i, lo, hi)
		if v >= 64 {
			require.LessOrEqual(t, float64(hi-lo)/float64(lo), 1.0/32, "relative width of bucket %d", i)
		}
	}
}

func TestShardedHistMerges(t *testing.T) {
	var s shardedHist
	s.recordAll(0, []time.Duration{time.Millisecond})
	s.recordAll(33, []time.Duration{2 * time.Millisecond, 3 * time.Millisecond})
	h := s.snapshot()
	assert.EqualValues(t, 3, h.n)
	assert.Equal(t, 3*time.Millisecond, h.max)
	s.reset()
	assert.Zero(t, s.snapshot().n)
}

func TestMedian(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	assert.Zero(t, median(nil))
}

func TestPayloadMarkers(t *testing.T) {
	p := appendPayload(nil, 123456789, 100, true)
	require.Len(t, p, 100)
	require.True(t, bytes.HasPrefix(p, []byte("#T123456789#x")), "%s", p)
	for size := 12; size <= 300; size++ {
		p := appendPayload(nil, 123456789, size, false)
		require.Len(t, p, size)
		require.True(t, utf8.Valid(p), "%q", p)
		require.Equal(t, []time.Duration{123456789}, appendMarkers(nil, p))
	}
	p = appendPayload(nil, 1, 100, false)
	for _, want := range []string{`"`, `\`, "é", "😀"} {
		require.Contains(t, string(p), want, "realistic text by default")
	}

	// A realtime.v1 batch of three objects: two messages, one ack.
	frame := []byte(`{"event":"new-message","data":{"id":"m_1","content":"#T42#xxxx"}}` + "\n" +
		`{"ack":7,"data":{"id":"m_2"}}` + "\n" +
		`{"event":"new-message","data":{"content":"#T7000000000#xx"}}`)
	assert.Equal(t, []time.Duration{42, 7000000000}, appendMarkers(nil, frame))
	assert.Equal(t, 3, countObjects(frame))

	// Centrifuge and melody envelopes.
	assert.Equal(t, []time.Duration{5}, appendMarkers(nil, []byte(`{"push":{"channel":"r0","pub":{"data":{"text":"#T5#xx"}}}}`)))
	assert.Equal(t, 1, countObjects([]byte(`{"text":"#T5#xx"}`)))

	// Not markers: no digits, no closing '#', cut off.
	assert.Empty(t, appendMarkers(nil, []byte(`#T#x #Tabc# #T12x #T99`)))
	assert.Zero(t, countObjects([]byte(" \n")))
}

func TestParseProcFiles(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := []byte("4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 9 0 12345 1000000 500 18446744073709551615\n")
	d, err := parseStatCPU(stat)
	require.NoError(t, err)
	assert.Equal(t, 3800*time.Millisecond, d, "(250 + 130) ticks of 10 ms")

	_, err = parseStatCPU([]byte("4242 (x) S 1 2"))
	assert.Error(t, err)

	status := []byte("Name:\tserver\nVmPeak:\t  200 kB\nVmRSS:\t   51200 kB\nThreads:\t9\n")
	rss, err := parseStatusRSS(status)
	require.NoError(t, err)
	assert.EqualValues(t, 50<<20, rss)
	_, err = parseStatusRSS([]byte("Name:\tkthread\n"))
	assert.Error(t, err)
}

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"ws://127.0.0.1:8090/ws", true},
		{"ws://127.9.9.9:1/ws", true},
		{"ws://[::1]:8090/ws", true},
		{"ws://localhost:8090/ws", true},
		{"ws://10.0.0.1:8090/ws", false},
		{"ws://192.168.1.10/ws", false},
		{"ws://[2001:db8::1]:80/", false},
		{"ws://0.0.0.0:8090/ws", false},
		{"ws://example.com/ws", false},
		{"ws://127.0.0.1.example.com/ws", false},
		{"wss://127.0.0.1/ws", false},
		{"http://127.0.0.1/ws", false},
	} {
		err := checkLoopbackURL(tc.url)
		if tc.ok {
			assert.NoError(t, err, tc.url)
		} else {
			assert.Error(t, err, tc.url)
		}
	}
	_, err := parseFlags([]string{"-url", "ws://10.1.2.3:8090/ws"}, io.Discard)
	require.ErrorContains(t, err, "not a loopback address")
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "ws://127.0.0.1:8090/ws", c.url)
	assert.Equal(t, 1000, c.members, "fanout default")
	assert.Equal(t, 10*time.Second, c.duration)
	assert.Less(t, c.deadline(), 10*time.Minute, "every run ends")

	c, err = parseFlags([]string{"-server", "centrifuge", "-scenario", "rooms"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "ws://127.0.0.1:8091/connection/websocket", c.url)
	assert.Equal(t, 10, c.members, "rooms default")

	for _, args := range [][]string{
		{"-duration", "2m"},
		{"-members", "20000"},
		{"-conns", "20000"},
		{"-scenario", "rooms", "-rooms", "2000", "-members", "10"},
		{"-rate", "0"},
		{"-size", "8"},
		{"-mode", "flood"},
		{"-scenario", "storm"},
		{"-server", "socketio"},
		{"extra"},
	} {
		_, err := parseFlags(args, io.Discard)
		assert.Error(t, err, strings.Join(args, " "))
	}
}

func TestTable(t *testing.T) {
	var lines bytes.Buffer
	for _, r := range []result{
		{Server: "realtime", Scenario: "fanout/window", Params: "members=1000", Label: "rep=1", PerSec: 900e3, CPUPerOpUs: 1.0, BenchCPUPerOpUs: 0.5, WireBytesPerOp: 320},
		{Server: "realtime", Scenario: "fanout/window", Params: "members=1000", Label: "rep=2", PerSec: 1100e3, CPUPerOpUs: 0.8, BenchCPUPerOpUs: 0.7, WireBytesPerOp: 322},
		{Server: "realtime", Scenario: "fanout/window", Params: "members=1000", Label: "rep=3", PerSec: 1000e3, CPUPerOpUs: 0.9, BenchCPUPerOpUs: 0.6, WireBytesPerOp: 321},
		{Server: "centrifuge", Scenario: "fanout/window", Params: "members=1000", Label: "rep=1", PerSec: 500e3, CPUPerOpUs: 1.4, BenchCPUPerOpUs: -1},
		{Server: "centrifuge", Scenario: "fanout/window", Params: "members=1000", Label: "rep=2", PerSec: 400e3, CPUPerOpUs: 1.8, BenchCPUPerOpUs: -1},
		{Server: "centrifuge", Scenario: "fanout/paced", Params: "rate=20/s", P50Ms: 8.3, P99Ms: 13.7},
	} {
		require.NoError(t, appendResult(&lines, r))
	}
	lines.WriteString("a log line, skipped\n")
	results, err := readResults(&lines)
	require.NoError(t, err)
	require.Len(t, results, 6)

	var out strings.Builder
	writeTable(&out, results)
	table := out.String()
	assert.Contains(t, table, "| scenario | figure | realtime | centrifuge | realtime ÷ centrifuge |")
	assert.Contains(t, table, "| 1.00M/s (900k–1.10M) · 0.90 µs, bench 0.60 µs · 321 B | 450k/s (400k–500k) · 1.60 µs, bench ? µs (n=2) | 2.22x (1.80–2.75) · CPU 0.56x |",
		"medians with their spread, the count where a server has fewer runs, the ratios of the runs side by side and of CPU")
	assert.Contains(t, table, "| – | 8.3 / 13.7 ms (n=1) |")

	// With an earlier build of ours: a column, and the ratio to it.
	results = append(results, result{Server: "realtime@abc123", Scenario: "fanout/window", Params: "members=1000", Label: "rep=1", PerSec: 800e3, CPUPerOpUs: 1.2})
	out.Reset()
	writeTable(&out, results)
	assert.Contains(t, out.String(), "| realtime ÷ centrifuge | realtime ÷ realtime@abc123 |")
	assert.Contains(t, out.String(), "| 800k/s · 1.20 µs, bench 0.00 µs (n=1) | 2.22x (1.80–2.75) · CPU 0.56x | 1.25x · CPU 0.75x |")

	// A result written before the bench measured its own CPU.
	results, err = readResults(strings.NewReader(`{"server":"realtime","scenario":"rooms","params":"rooms=200","perSec":400000,"cpuPerOpUs":2}` + "\n"))
	require.NoError(t, err)
	out.Reset()
	writeTable(&out, results)
	assert.Contains(t, out.String(), "| 400k/s · 2.00 µs, bench ? µs |")
}

func TestControlCountsErrors(t *testing.T) {
	rt := &realtimeProto{}
	frame := []byte(`{"event":"new-message","data":{"content":"{\"ack\":1,\"error\":{}}"}}` + "\n" +
		`{"ack":12,"error":{"code":"forbidden","message":"x"}}` + "\n" +
		`{"ack":13,"data":{"id":"m_1"}}` + "\n" + `{"event":"error","data":{"code":"invalid"}}`)
	errs, answer := rt.control(frame)
	assert.Equal(t, 2, errs)
	assert.Nil(t, answer)

	cf := &centrifugeProto{}
	errs, answer = cf.control([]byte(`{"id":3,"error":{"code":102}}` + "\n" + `{}` + "\n" +
		`{"push":{"channel":"r","pub":{"data":{"error":{}}}}}` + "\n" + `{"error":{"code":1}}` + "\n" + `{"id":4,"publish":{}}`))
	assert.Equal(t, 2, errs)
	assert.Equal(t, "{}", string(answer))
}
