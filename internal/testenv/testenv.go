// Package testenv gives tests the outside services they need: a fresh
// PostgreSQL schema, a Redis address, and a TCP proxy that cuts and restores
// a link on demand. A service that does not answer skips the test with a
// reason, or fails it when REALTIME_REQUIRE_SERVICES=1 (as in CI).
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"github.com/stretchr/testify/require"
)

// Unavailable skips the test, or fails it when services are required.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("REALTIME_REQUIRE_SERVICES") == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// PostgresURL is REALTIME_POSTGRES_URL, or the local test database.
func PostgresURL() string {
	if u := os.Getenv("REALTIME_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// PostgresSchema creates an empty schema in the test database, dropped when
// the test ends, and returns base (a URL of that database; "" for
// PostgresURL) with search_path set to it, so that tests run in parallel.
func PostgresSchema(t testing.TB, base string) string {
	t.Helper()
	admin := PostgresURL()
	if base == "" {
		base = admin
	}
	db, err := sql.Open("pgx", admin)
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		Unavailable(t, "PostgreSQL does not answer at REALTIME_POSTGRES_URL: %v", err)
	}
	schema := "rt_" + strings.ToLower(rand.Text()[:12])
	_, err = db.ExecContext(ctx, `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		require.NoError(t, err)
		defer db.Close()
		_, err = db.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		require.NoError(t, err)
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "search_path=" + schema
	return u.String()
}

// SQLiteDSN is the DSN of a SQLite file with the pragmas sqlstore documents.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
}

// Secret signs the JWTs of the tests of every package.
const Secret = "test-secret-that-is-32-bytes-long!!"

// DecodeInto unmarshals JSON into a fresh T, failing the test if it cannot.
func DecodeInto[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	return v
}
