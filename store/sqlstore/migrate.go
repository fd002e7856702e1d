package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrations embed.FS

// migration is one numbered schema change.
type migration struct {
	version int64
	name    string
	sql     string
}

// loadMigrations reads the migrations of a dialect, oldest first. Their
// files are named NNNN_what.sql; NNNN is the version.
func loadMigrations(d Dialect) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return int(a.version - b.version) })
	return out, nil
}

// Migrate brings the schema up to date: it applies, in order, each embedded
// migration that the table schema_migrations does not list yet, each with its
// row in that table in one transaction. It is idempotent, and safe to run
// from several processes at once: on PostgreSQL they wait for each other on
// an advisory lock of the schema, on SQLite on the database's write lock.
func (s *Store) Migrate(ctx context.Context) error {
	migs, err := loadMigrations(s.dialect)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err = s.migrate(ctx, migs)
		// Processes that open a new SQLite file at once race to switch it
		// to WAL, which SQLite refuses at once with SQLITE_BUSY, without
		// waiting out busy_timeout: the loser tries again.
		if err == nil || s.dialect != SQLite || sqliteCode(err)&0xff != sqliteBusy || attempt == maxMigrateAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}

// sqliteBusy is SQLite's primary result code SQLITE_BUSY.
const sqliteBusy = 5

// maxMigrateAttempts bounds Migrate's tries on a busy SQLite file: about
// two seconds of waiting in all.
const maxMigrateAttempts = 20

func (s *Store) migrate(ctx context.Context, migs []migration) error {
	err := s.tx(ctx, func(q querier) error {
		create := `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER NOT NULL)`
		if s.dialect == Postgres {
			// Lock before reading schema_migrations, so that a second
			// process waits and then sees what the first applied.
			lock := `SELECT pg_advisory_xact_lock(` + lockSpace + `, hashtext('migrate ' || current_schema()))`
			if _, err := q.ExecContext(ctx, lock); err != nil {
				return err
			}
			create = `CREATE TABLE IF NOT EXISTS schema_migrations (
				version    bigint PRIMARY KEY,
				applied_at timestamptz NOT NULL)`
		}
		if _, err := q.ExecContext(ctx, create); err != nil {
			return err
		}
		applied, err := appliedVersions(ctx, q)
		if err != nil {
			return err
		}
		for _, m := range migs {
			if applied[m.version] {
				continue
			}
			if _, err := q.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := q.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				m.version, s.arg(time.Now())); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("migrate", err)
}

func appliedVersions(ctx context.Context, q querier) (map[int64]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := make(map[int64]bool)
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rows.Err()
}

// lockSpace is the first key of the store's PostgreSQL advisory locks; the
// second is a hash of what is locked. realtime_add_member (migrations 0005 and
// 0006) takes lockUser's lock with this number written out.
const lockSpace = "74657"
