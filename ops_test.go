package realtime_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// probe GETs a health handler and returns its status and report.
func probe(t *testing.T, h http.Handler) (int, realtime.HealthReport) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var rep realtime.HealthReport
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rep))
	return rec.Code, rep
}

func TestHealth(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	code, rep := probe(t, env.hub.ReadyHandler())
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, realtime.HealthReport{Status: "ok"}, rep)
	code, _ = probe(t, env.hub.LiveHandler())
	require.Equal(t, http.StatusOK, code)

	require.NoError(t, env.hub.Shutdown(t.Context()))
	for _, h := range []http.Handler{env.hub.LiveHandler(), env.hub.ReadyHandler()} {
		code, rep = probe(t, h)
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Contains(t, rep.Failing, "hub")
	}
}

// TestHealthFollowsRedisAndPostgres: a node whose Redis or PostgreSQL is
// cut (through a proxy) reports unready, naming the part, and ready again
// once it is back.
func TestHealthFollowsRedisAndPostgres(t *testing.T) {
	dsn, pgProxy := postgresThroughProxy(t)
	redisProxy := testenv.NewProxy(t, testenv.RedisAddr(t))
	rc := newRedisCluster(t)
	env := rc.node(realtime.Config{Store: sqlStore(t, sqlstore.Postgres, dsn)}, redisProxy.Addr())
	ready := env.hub.ReadyHandler()

	// waitFor polls readiness until it is want, and returns how long that
	// took and the last report.
	waitFor := func(want int) (time.Duration, realtime.HealthReport) {
		t.Helper()
		start := time.Now()
		var rep realtime.HealthReport
		require.Eventually(t, func() bool {
			var code int
			code, rep = probe(t, ready)
			return code == want
		}, 20*time.Second, 20*time.Millisecond, "readiness never became %d", want)
		return time.Since(start), rep
	}
	waitFor(http.StatusOK)

	for _, cut := range []struct {
		part  string
		proxy *testenv.Proxy
	}{{"broker", redisProxy}, {"store", pgProxy}} {
		cut.proxy.Cut()
		took, rep := waitFor(http.StatusServiceUnavailable)
		require.Contains(t, rep.Failing, cut.part)
		t.Logf("%s cut: unready after %v (%v)", cut.part, took, rep.Failing)
		cut.proxy.Restore()
		took, _ = waitFor(http.StatusOK)
		t.Logf("%s restored: ready after %v", cut.part, took)
	}
}

// TestStatsLog: with StatsLogInterval, the node logs its counts.
func TestStatsLog(t *testing.T) {
	buf := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(buf, nil))
	env := newTestHub(t, realtime.Config{StatsLogInterval: 10 * time.Millisecond, Logger: log})
	env.dial("alice")
	require.Eventually(t, func() bool {
		return strings.Contains(buf.String(), `msg="realtime: stats"`) && strings.Contains(buf.String(), "connections=1 users=1 rooms=0")
	}, 10*time.Second, 5*time.Millisecond)
}
