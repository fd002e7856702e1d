package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver

	"github.com/redis/go-redis/v9"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/adapter/redisadapter"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// poolSize is the most connections the server keeps to its database.
const poolSize = 32

// openStore returns the Store -store names and a function that closes it
// (and removes a temporary SQLite file). Memory is nil: the hub's default.
func openStore(ctx context.Context, o options) (realtime.Store, func(), error) {
	var driver, dsn string
	var dialect sqlstore.Dialect
	cleanup := func() {}
	switch o.store {
	case "memory":
		return nil, cleanup, nil
	case "sqlite":
		path := o.sqlitePath
		if path == "" {
			dir, err := os.MkdirTemp("", "realtime-server-")
			if err != nil {
				return nil, nil, err
			}
			path = filepath.Join(dir, "bench.db")
			cleanup = func() { os.RemoveAll(dir) }
		}
		driver, dialect = "sqlite", sqlstore.SQLite
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)"
	case "postgres":
		if o.postgres == "" {
			return nil, nil, errors.New("-store postgres needs -postgres URL or DATABASE_URL")
		}
		driver, dsn, dialect = "pgx", o.postgres, sqlstore.Postgres
	default:
		return nil, nil, fmt.Errorf("-store %q: want memory, sqlite or postgres", o.store)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	// As sqlstore's documentation asks: as many idle connections as open
	// ones, or database/sql keeps 2 and opens and closes server
	// connections all the time.
	db.SetMaxOpenConns(poolSize)
	db.SetMaxIdleConns(poolSize)
	store, err := sqlstore.New(db, sqlstore.Options{Dialect: dialect})
	if err == nil {
		err = store.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		cleanup()
		return nil, nil, fmt.Errorf("open %s store: %w", o.store, err)
	}
	return store, func() {
		store.Close()
		db.Close()
		cleanup()
	}, nil
}

// openAdapter returns the Adapter -adapter names and a function that
// closes it and its client, to call once the hub has shut down; local is nil, the
// hub's in-process default.
func openAdapter(ctx context.Context, o options) (adapter.Adapter, func(), error) {
	switch o.adapter {
	case "local":
		return nil, func() {}, nil
	case "redis":
		ro, err := redis.ParseURL(o.redisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("-redis: %w", err)
		}
		rdb := redis.NewClient(ro)
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, nil, fmt.Errorf("-adapter redis: %s: %w", ro.Addr, err)
		}
		a, err := redisadapter.New(rdb, redisadapter.Options{Prefix: "rt-bench:"})
		if err != nil {
			rdb.Close()
			return nil, nil, err
		}
		return a, func() { a.Close(); rdb.Close() }, nil
	}
	return nil, nil, fmt.Errorf("-adapter %q: want local or redis", o.adapter)
}
