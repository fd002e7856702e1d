package prometheus_test

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/metrics/prometheus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape GETs url and returns its samples, "name{labels}" to value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// TestScrapeMatchesTheRun: after a scripted run over real sockets, the
// counters at /metrics are exactly what the run did.
func TestScrapeMatchesTheRun(t *testing.T) {
	obs := prometheus.New(prometheus.Options{})
	reg := promclient.NewRegistry()
	reg.MustRegister(obs)
	auth, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(testenv.Secret)})
	require.NoError(t, err)
	hub, err := realtime.New(realtime.Config{Authenticator: auth, Observer: obs, MaxMessagesPerMinute: 3,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer hub.Close()
	mux := http.NewServeMux()
	mux.Handle("/ws", hub)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	dial := func(id string) *testenv.Raw {
		tok, err := auth.Sign(realtime.User{ID: id}, time.Hour)
		require.NoError(t, err)
		return testenv.DialRaw(t, wsURL, http.Header{"Authorization": {"Bearer " + tok}})
	}
	// reply reads r until the reply to ack.
	reply := func(r *testenv.Raw, ack uint64) []byte {
		for {
			f := r.Read()
			if f.Ack == ack {
				if f.Error != nil {
					return []byte(f.Error.Code)
				}
				return f.Data
			}
		}
	}

	// The run.
	alice, bob := dial("alice"), dial("bob")
	resp, err := http.Get(srv.URL + "/ws?token=forged")
	require.NoError(t, err) // refused before the upgrade: one auth failure
	resp.Body.Close()
	alice.Write(`{"event":"create-room","data":{"name":"r"},"ack":1}`)
	room := testenv.DecodeInto[struct{ Room realtime.Room }](t, reply(alice, 1)).Room
	alice.Write(`{"event":"message","data":{"roomId":"` + room.ID + `","content":"one \"quoted\" é"},"ack":2}`)
	first := testenv.DecodeInto[struct{ ID string }](t, reply(alice, 2))
	bob.Write(`{"event":"join-room","data":{"roomId":"` + room.ID + `","since":"` + first.ID + `"},"ack":1}`)
	reply(bob, 1) // a resume that recovered (nothing missed)
	for i := range 3 {
		ack := uint64(3 + i)
		alice.Write(`{"event":"message","data":{"roomId":"` + room.ID + `","content":"more"},"ack":` + strconv.FormatUint(ack, 10) + `}`)
		got := string(reply(alice, ack))
		if i < 2 {
			require.NotEqual(t, "rate_limited", got)
		} else {
			require.Equal(t, "rate_limited", got, "the 4th message of the minute")
		}
	}
	bob.Write(`{"event":"message","data":{"recipientId":"alice","content":"dm"},"ack":2}`)
	reply(bob, 2)
	bob.Write(`{"event":"bogus","data":{},"ack":3}`)
	require.Equal(t, "invalid", string(reply(bob, 3)))
	require.NoError(t, bob.WS.Close(1000, "bye"))
	require.Eventually(t, func() bool { return hub.Stats().Connections == 1 }, 10*time.Second, time.Millisecond)

	got := scrape(t, srv.URL+"/metrics")
	for k, want := range map[string]float64{
		`realtime_connects_total{transport="websocket"}`:                1 + 1,
		`realtime_connections{transport="websocket"}`:                   1,
		`realtime_disconnects_total{code="1000",transport="websocket"}`: 1,
		`realtime_auth_failures_total`:                                  1,
		`realtime_events_received_total{event="create-room"}`:           1,
		`realtime_events_received_total{event="join-room"}`:             1,
		`realtime_events_received_total{event="message"}`:               5,
		`realtime_events_received_total{event="unknown"}`:               1,
		`realtime_events_received_total{event="typing"}`:                0,
		`realtime_messages_stored_total{kind="room"}`:                   3,
		`realtime_messages_stored_total{kind="direct"}`:                 1,
		`realtime_rate_limited_total{limit="messages"}`:                 1,
		`realtime_resumes_total{recovered="true"}`:                      1,
		// The first message reached alice; the next two alice and bob.
		`realtime_messages_delivered_total`: 1 + 2*2,
		// A connection's messages are stored with SaveMessages; each of
		// these waited for the ack of the one before: one call each.
		`realtime_store_duration_seconds_count{op="SaveMessages"}`: 4,
		`realtime_send_queue_overflows_total`:                      0,
		`realtime_broker_publish_errors_total`:                     0,
	} {
		require.Equal(t, want, got[k], k)
	}
	require.Positive(t, got[`realtime_frames_sent_total`])
	require.Greater(t, got[`realtime_sent_bytes_total`], got[`realtime_frames_sent_total`]*20, "bytes of the frames")
	for k := range got {
		require.NotContains(t, k, room.ID, "a room id in a label")
		require.NotContains(t, k, "alice", "a user id in a label")
	}
}
