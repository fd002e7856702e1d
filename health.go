package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Pinger is implemented by a Store, Broker or PresenceBackend that can say
// whether what backs it answers (sqlstore.Store, redisadapter.Adapter).
// Health uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// HealthReport is what Health found.
type HealthReport struct {
	// Status is "ok", or "unavailable" when a part fails.
	Status string `json:"status"`
	// Failing names each failing part ("hub", "store", "broker",
	// "presence") with why.
	Failing map[string]string `json:"failing,omitempty"`
}

// OK reports whether every part answered.
func (r HealthReport) OK() bool { return r.Status == "ok" }

// healthTimeout bounds each part's check.
const healthTimeout = time.Second

// Health checks, each within a second, that the hub is not shutting down
// and that the Store, the Broker and the PresenceBackend answer: through
// their Ping (Pinger) when they have one, else the Store by reading a room
// that does not exist. A node whose database or Redis is gone reports
// unavailable, so that a load balancer stops sending it upgrades.
func (h *Hub) Health(ctx context.Context) HealthReport {
	failing := make(map[string]string)
	if h.closing.Load() {
		failing["hub"] = "shutting down"
	}
	check := func(part string, fn func(context.Context) error) {
		ctx, cancel := context.WithTimeout(ctx, healthTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			failing[part] = err.Error()
		}
	}
	check("store", func(ctx context.Context) error {
		if p, ok := h.storeRaw.(Pinger); ok {
			return p.Ping(ctx)
		}
		_, err := h.storeRaw.GetRoom(ctx, "\x00health")
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	})
	if p, ok := h.broker.(Pinger); ok {
		check("broker", p.Ping)
	}
	if p, ok := h.presence.(Pinger); ok && !sameValue(h.presence, h.broker) {
		check("presence", p.Ping)
	}
	if len(failing) > 0 {
		return HealthReport{Status: "unavailable", Failing: failing}
	}
	return HealthReport{Status: "ok"}
}

// LiveHandler answers liveness probes (such as /healthz): 200
// {"status":"ok"} while the hub runs, 503 once it is shutting down.
func (h *Hub) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep := HealthReport{Status: "ok"}
		if h.closing.Load() {
			rep = HealthReport{Status: "unavailable", Failing: map[string]string{"hub": "shutting down"}}
		}
		writeHealth(w, rep)
	})
}

// ReadyHandler answers readiness probes (such as /readyz) with Health:
// 200 when every part answers, else 503 with the failing parts, as JSON.
func (h *Hub) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeHealth(w, h.Health(r.Context()))
	})
}

func writeHealth(w http.ResponseWriter, rep HealthReport) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.OK() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// sameValue reports whether a and b are one value (an Adapter that is both
// Broker and Presence, pinged once). Values that cannot be compared (==
// panics on them) are taken as different.
func sameValue(a, b any) (same bool) {
	defer func() { _ = recover() }()
	return a == b
}
