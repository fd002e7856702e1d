package sqlstore_test

import (
	"crypto/rand"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite"

	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/store/sqlstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dialects are the backends every test that is not about one runs on.
var dialects = []sqlstore.Dialect{sqlstore.SQLite, sqlstore.Postgres}

// newDSN returns the DSN of a new, empty database of dialect d that is
// removed at the end of the test: a file in t.TempDir() for SQLite, a new
// schema of the test database for PostgreSQL, which skips the test when
// the server does not answer (fails it when REALTIME_REQUIRE_SERVICES=1).
func newDSN(t testing.TB, d sqlstore.Dialect) string {
	t.Helper()
	if d == sqlstore.SQLite {
		return testenv.SQLiteDSN(filepath.Join(t.TempDir(), "test.db"))
	}
	return testenv.PostgresSchema(t, "")
}

// openDB opens a pool on dsn, closed at the end of the test.
func openDB(t testing.TB, d sqlstore.Dialect, dsn string) *sql.DB {
	t.Helper()
	driver := "sqlite"
	if d == sqlstore.Postgres {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	// Tests and benchmarks run side by side on one server of 100
	// connections.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// newStore returns a migrated Store on db, closed at the end of the test
// (before db).
func newStore(t testing.TB, d sqlstore.Dialect, db *sql.DB, o sqlstore.Options) *sqlstore.Store {
	t.Helper()
	o.Dialect = d
	s, err := sqlstore.New(db, o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Migrate(t.Context()))
	return s
}

// newTestStore returns a migrated Store on a new, empty database.
func newTestStore(t testing.TB, d sqlstore.Dialect) *sqlstore.Store {
	t.Helper()
	return newStore(t, d, openDB(t, d, newDSN(t, d)), sqlstore.Options{})
}

func randID() string { return strings.ToLower(rand.Text()[:16]) }

func forEachDialect(t *testing.T, fn func(t *testing.T, d sqlstore.Dialect)) {
	for _, d := range dialects {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}
