// Package chatapp is the chat server of the examples: a Hub with the browser
// UI, development tokens, file sharing, a SQL store, metrics, health and the
// admin API, configured from the environment. With REDIS_URL (or REDIS_HOST)
// and DATABASE_URL set, each process is a node of one cluster.
package chatapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	_ "modernc.org/sqlite"             // the "sqlite" driver

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/adapter/redisadapter"
	"github.com/realtime-go/realtime/admin"
	"github.com/realtime-go/realtime/examples/chat/web"
	"github.com/realtime-go/realtime/examples/internal/exampleserver"
	rtprom "github.com/realtime-go/realtime/metrics/prometheus"
	"github.com/realtime-go/realtime/socketio"
	"github.com/realtime-go/realtime/store/diskblob"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// Options configures Run beyond the environment.
type Options struct {
	// Name labels the logs of this server. Empty: "chat".
	Name string
	// Adapter connects this server to the other nodes of a cluster. Nil:
	// Redis when REDIS_URL or REDIS_HOST is set (prefix REDIS_PREFIX,
	// default "chat:"), else a single node. Run does not close an Adapter
	// it was given: the caller does, once Run has returned.
	Adapter adapter.Adapter
	// DevSecret signs and verifies development tokens when JWT_SECRET is
	// unset; nodes of one cluster share it. Nil: DEV_TOKEN_SECRET, else a
	// random secret (a single node only).
	DevSecret []byte
	// Ready, when set, is called with the listening address.
	Ready func(net.Addr)
	// Web is the browser app served at /. Nil: the chat example's own UI.
	Web fs.FS
}

// Main is the main function of a chat server command: serve runs on
// ":"+WEBSOCKET_PORT (default 8080) until an interrupt or SIGTERM; an error
// is printed after the command's name and exits with status 1.
func Main(name string, serve func(ctx context.Context, addr string) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := serve(ctx, ":"+envOr("WEBSOCKET_PORT", "8080"))
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Run serves the chat on addr until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, addr string, o Options) error {
	if o.Name == "" {
		o.Name = "chat"
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", o.Name)
	cfg, err := realtime.ConfigFromEnv()
	if err != nil {
		return err
	}
	cfg.Logger = log
	if o.Adapter == nil && (os.Getenv("REDIS_URL") != "" || os.Getenv("REDIS_HOST") != "") {
		a, closeRedis, err := openRedis(log)
		if err != nil {
			return err
		}
		defer closeRedis()
		o.Adapter = a
	}
	if o.Adapter != nil && os.Getenv("DATABASE_URL") == "" {
		return ErrNeedDatabase
	}
	if o.DevSecret == nil && os.Getenv("DEV_TOKEN_SECRET") != "" {
		o.DevSecret = []byte(os.Getenv("DEV_TOKEN_SECRET"))
	}
	if o.Adapter != nil && cfg.Authenticator == nil && o.DevSecret == nil {
		return ErrNeedSecret
	}
	cfg.Broker, cfg.Presence = o.Adapter, o.Adapter
	metrics := rtprom.New(rtprom.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Observer = metrics
	// The example shows every feature: file sharing is on unless
	// ENABLE_FILE_SHARING says false.
	fileSharing := true
	if v := os.Getenv("ENABLE_FILE_SHARING"); v != "" {
		if fileSharing, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("ENABLE_FILE_SHARING=%q is not true or false", v)
		}
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = 10 << 20 // the hub's default, told to the page
	}
	store, closeStore, err := openStore(ctx, log)
	if err != nil {
		return err
	}
	defer closeStore()
	cfg.Store = store
	blobs, err := diskblob.New(envOr("CHAT_FILES_DIR", "chat-files"))
	if err != nil {
		return err
	}

	// Without JWT_SECRET, sign development tokens with a random secret
	// that lives as long as the process.
	devJWT, err := exampleserver.DevAuth(&cfg, o.DevSecret, log)
	if err != nil {
		return err
	}

	hub, err := realtime.New(cfg)
	if err != nil {
		return err
	}
	// The Socket.IO bridge serves socket.io-client on the same hub.
	sio, err := socketio.New(hub, socketio.Options{}) // the hub's origins, pings and limits
	if err != nil {
		_ = hub.Close()
		return err
	}
	api, err := admin.New(hub, admin.Options{Authenticator: cfg.Authenticator, Logger: log})
	if err != nil {
		_ = sio.Close()
		_ = hub.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", hub)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /healthz", hub.LiveHandler())
	mux.Handle("GET /readyz", hub.ReadyHandler())
	adminAPI := http.StripPrefix("/admin", api)
	for _, method := range []string{"GET", "POST", "PATCH", "DELETE"} {
		mux.Handle(method+" /admin/", adminAPI)
	}
	mux.Handle("GET /socket.io/", sio)
	mux.Handle("POST /socket.io/", sio)
	if o.Web == nil {
		o.Web = web.Files
	}
	mux.Handle("GET /", http.FileServerFS(o.Web))
	if fileSharing {
		files := http.StripPrefix("/files", hub.FileHandler(blobs))
		mux.Handle("GET /files/", files)
		mux.Handle("POST /files/", files)
	}
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		exampleserver.WriteJSON(w, http.StatusOK, map[string]any{
			"devTokens":   devJWT != nil,
			"fileSharing": fileSharing,
			"maxFileSize": cfg.MaxFileSize,
		})
	})
	if devJWT != nil {
		mux.Handle("POST /dev/token", exampleserver.DevTokenHandler(devJWT))
	}

	return exampleserver.Serve(ctx, addr, mux, hub, sio, log, o.Ready)
}

// ErrNeedDatabase: the nodes of a cluster share their rooms and messages,
// which a SQLite file cannot do.
var ErrNeedDatabase = errors.New("chat: nodes of a cluster (REDIS_URL or REDIS_HOST) need DATABASE_URL, a PostgreSQL database they share")

// ErrNeedSecret: the nodes of a cluster must verify each other's tokens.
var ErrNeedSecret = errors.New("chat: nodes of a cluster need JWT_SECRET, or DEV_TOKEN_SECRET for development tokens, the same on every node")

// openRedis connects to the Redis of the environment and returns its
// adapter, and what closes both.
func openRedis(log *slog.Logger) (*redisadapter.Adapter, func(), error) {
	opts, err := redisadapter.ClientOptionsFromEnv()
	if err != nil {
		return nil, nil, err
	}
	rdb := redis.NewClient(opts)
	a, err := redisadapter.New(rdb, redisadapter.Options{Prefix: envOr("REDIS_PREFIX", "chat:"), Logger: log})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	log.Info("chat: a node of the cluster on Redis", "redis", opts.Addr)
	return a, func() {
		a.Close()
		rdb.Close()
	}, nil
}

// openStore opens the SQL store: PostgreSQL when DATABASE_URL is set, else
// SQLite in CHAT_DB, and brings its schema up to date.
func openStore(ctx context.Context, log *slog.Logger) (realtime.Store, func(), error) {
	driver, dsn, dialect := "sqlite", "", sqlstore.SQLite
	if url := os.Getenv("DATABASE_URL"); url != "" {
		driver, dsn, dialect = "pgx", url, sqlstore.Postgres
		log.Info("chat: storing in PostgreSQL")
	} else {
		path := envOr("CHAT_DB", "chat.db")
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)"
		log.Info("chat: storing in SQLite", "file", path)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, nil, err
	}
	// database/sql keeps 2 idle connections by default: under load it would
	// open and close PostgreSQL connections all the time.
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	store, err := sqlstore.New(db, sqlstore.Options{Dialect: dialect})
	if err == nil {
		err = store.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	return store, func() {
		store.Close()
		db.Close()
	}, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
