// Package prometheus exports a hub's measurements as Prometheus metrics
// (github.com/prometheus/client_golang):
//
//	obs := prometheus.New(prometheus.Options{})
//	reg := promclient.NewRegistry()
//	reg.MustRegister(obs)
//	hub, err := realtime.New(realtime.Config{Observer: obs})
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Metrics
//
// Every name starts with the namespace (Options.Namespace, "realtime" by
// default). Labels are bounded: no room or user ids.
//
//	realtime_connections{transport}                  gauge: connections now
//	realtime_connects_total{transport}               connections registered
//	realtime_disconnects_total{transport,code}       connections ended, by close code
//	realtime_auth_failures_total                     tokens refused
//	realtime_events_received_total{event}            client events, by name ("unknown" otherwise)
//	realtime_rate_limited_total{limit}               refusals: events, messages, connections
//	realtime_messages_stored_total{kind}             new messages: room, direct, global
//	realtime_messages_delivered_total                room messages handed to connections
//	realtime_frames_sent_total                       frames written to transports
//	realtime_sent_bytes_total                        their bytes (native encoding)
//	realtime_send_queue_overflows_total              connections closed with 4009
//	realtime_resumes_total{recovered}                resumes, "true" or "false"
//	realtime_broker_publish_errors_total             publications the Broker refused
//	realtime_broker_resyncs_total                    Broker links restored
//	realtime_gap_repairs_total                       gaps filled from the Store
//	realtime_store_duration_seconds{op}              Store calls, by method (histogram)
//	realtime_store_errors_total{op}                  Store calls that failed
//
// Close codes outside the protocol's (PROTOCOL.md section 5) count as
// "other", transports other than websocket, socketio and subscription as
// "custom".
package prometheus

import (
	"strconv"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/realtime-go/realtime"
)

// Options configures the metrics.
type Options struct {
	// Namespace prefixes every metric name. Empty: "realtime".
	Namespace string
	// StoreBuckets are the histogram buckets of Store call durations, in
	// seconds. Nil: 0.5 ms to 2.5 s.
	StoreBuckets []float64
}

// Observer is a realtime.Observer and a prometheus.Collector: register it,
// and pass it as Config.Observer. It is safe for concurrent use.
type Observer struct {
	connections   *prom.GaugeVec
	connects      *prom.CounterVec
	disconnects   *prom.CounterVec
	authFailures  prom.Counter
	events        *prom.CounterVec
	rateLimited   *prom.CounterVec
	stored        *prom.CounterVec
	delivered     prom.Counter
	frames        prom.Counter
	bytes         prom.Counter
	overflows     prom.Counter
	resumes       *prom.CounterVec
	publishErrors prom.Counter
	resyncs       prom.Counter
	gapRepairs    prom.Counter
	storeDuration *prom.HistogramVec
	storeErrors   *prom.CounterVec
	eventCounters map[string]prom.Counter // by protocol event, and "unknown"
	collectors    []prom.Collector
}

var _ realtime.Observer = (*Observer)(nil)

// New returns an Observer with its metrics at zero.
func New(o Options) *Observer {
	ns := o.Namespace
	if ns == "" {
		ns = "realtime"
	}
	buckets := o.StoreBuckets
	if buckets == nil {
		buckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	}
	counter := func(name, help string) prom.Counter {
		return prom.NewCounter(prom.CounterOpts{Namespace: ns, Name: name, Help: help})
	}
	counterVec := func(name, help string, labels ...string) *prom.CounterVec {
		return prom.NewCounterVec(prom.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	m := &Observer{
		connections:   prom.NewGaugeVec(prom.GaugeOpts{Namespace: ns, Name: "connections", Help: "Connections served now."}, []string{"transport"}),
		connects:      counterVec("connects_total", "Connections registered (authenticated and accepted).", "transport"),
		disconnects:   counterVec("disconnects_total", "Registered connections that ended, by close code.", "transport", "code"),
		authFailures:  counter("auth_failures_total", "Tokens refused."),
		events:        counterVec("events_received_total", "Client events received, by name.", "event"),
		rateLimited:   counterVec("rate_limited_total", "Refusals for a limit: events, messages, connections.", "limit"),
		stored:        counterVec("messages_stored_total", "New messages stored, by kind: room, direct, global.", "kind"),
		delivered:     counter("messages_delivered_total", "Room messages handed to this node's connections."),
		frames:        counter("frames_sent_total", "Frames written to transports."),
		bytes:         counter("sent_bytes_total", "Bytes of the frames written, in their native encoding."),
		overflows:     counter("send_queue_overflows_total", "Connections closed because their send queue overflowed (4009)."),
		resumes:       counterVec("resumes_total", "Resumes, by whether they recovered everything missed.", "recovered"),
		publishErrors: counter("broker_publish_errors_total", "Publications the Broker refused."),
		resyncs:       counter("broker_resyncs_total", "Broker links restored, after which rooms are checked against the Store."),
		gapRepairs:    counter("gap_repairs_total", "Gaps in a room's messages filled from the Store."),
		storeDuration: prom.NewHistogramVec(prom.HistogramOpts{Namespace: ns, Name: "store_duration_seconds",
			Help: "Store calls, by method.", Buckets: buckets}, []string{"op"}),
		storeErrors: counterVec("store_errors_total", "Store calls that failed, by method.", "op"),
	}
	// Resolve the labelled children the hot paths use once, so that an
	// observation is an atomic add, not a label lookup.
	m.eventCounters = make(map[string]prom.Counter)
	for _, e := range append(realtime.Events(), "unknown") {
		m.eventCounters[e] = m.events.WithLabelValues(e)
	}
	m.collectors = []prom.Collector{m.connections, m.connects, m.disconnects, m.authFailures, m.events, m.rateLimited,
		m.stored, m.delivered, m.frames, m.bytes, m.overflows, m.resumes, m.publishErrors, m.resyncs, m.gapRepairs,
		m.storeDuration, m.storeErrors}
	return m
}

// Describe implements prometheus.Collector.
func (m *Observer) Describe(ch chan<- *prom.Desc) {
	for _, c := range m.collectors {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Observer) Collect(ch chan<- prom.Metric) {
	for _, c := range m.collectors {
		c.Collect(ch)
	}
}

// transport bounds a transport label.
func transport(t string) string {
	switch t {
	case "websocket", "socketio", "subscription":
		return t
	}
	return "custom"
}

// code bounds a close-code label to the protocol's codes.
func code(c realtime.StatusCode) string {
	switch c {
	case 1000, 1001, 1006, 1008, 1009, 1011, 4001, 4003, 4008, 4009, 4010:
		return strconv.Itoa(int(c))
	}
	return "other"
}

func (m *Observer) ConnectionOpened(t string) {
	t = transport(t)
	m.connections.WithLabelValues(t).Inc()
	m.connects.WithLabelValues(t).Inc()
}

func (m *Observer) ConnectionClosed(t string, c realtime.StatusCode) {
	t = transport(t)
	m.connections.WithLabelValues(t).Dec()
	m.disconnects.WithLabelValues(t, code(c)).Inc()
}

func (m *Observer) AuthFailed() { m.authFailures.Inc() }

func (m *Observer) EventReceived(event string) {
	if c, ok := m.eventCounters[event]; ok {
		c.Inc()
		return
	}
	m.eventCounters["unknown"].Inc()
}

func (m *Observer) RateLimited(limit string) {
	switch limit {
	case "events", "messages", "connections":
	default:
		limit = "other"
	}
	m.rateLimited.WithLabelValues(limit).Inc()
}

func (m *Observer) MessageStored(kind string) {
	switch kind {
	case "room", "direct", "global":
	default:
		kind = "other"
	}
	m.stored.WithLabelValues(kind).Inc()
}

func (m *Observer) MessagesDelivered(n int) { m.delivered.Add(float64(n)) }

func (m *Observer) FramesSent(frames, bytes int) {
	m.frames.Add(float64(frames))
	m.bytes.Add(float64(bytes))
}

func (m *Observer) QueueOverflowed() { m.overflows.Inc() }

func (m *Observer) Resumed(recovered bool) {
	m.resumes.WithLabelValues(strconv.FormatBool(recovered)).Inc()
}

func (m *Observer) PublishFailed() { m.publishErrors.Inc() }
func (m *Observer) Resynced()      { m.resyncs.Inc() }
func (m *Observer) GapRepaired()   { m.gapRepairs.Inc() }

func (m *Observer) StoreCall(op string, d time.Duration, failed bool) {
	m.storeDuration.WithLabelValues(op).Observe(d.Seconds())
	if failed {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}
