// Package chatapp is the chat server of the examples: a Hub with the browser
// UI, development tokens, file sharing, a SQL store, metrics, health and the
// admin API, configured from the environment. With REDIS_URL (or REDIS_HOST)
// and DATABASE_URL set, each process is a node of one cluster.
package chatapp

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

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
	var devJWT *realtime.JWT
	if cfg.Authenticator == nil {
		secret := o.DevSecret
		if secret == nil {
			secret = make([]byte, 32)
			_, _ = rand.Read(secret)
		}
		if devJWT, err = realtime.NewJWT(realtime.JWTConfig{Secret: secret}); err != nil {
			return err
		}
		cfg.Authenticator = devJWT
		log.Warn("chat: JWT_SECRET is not set: serving development tokens at POST /dev/token to anyone")
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
	mux.Handle("GET /", http.FileServerFS(web.Files))
	if fileSharing {
		files := http.StripPrefix("/files", hub.FileHandler(blobs))
		mux.Handle("GET /files/", files)
		mux.Handle("POST /files/", files)
	}
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"devTokens":   devJWT != nil,
			"fileSharing": fileSharing,
			"maxFileSize": cfg.MaxFileSize,
		})
	})
	if devJWT != nil {
		mux.Handle("POST /dev/token", devTokenHandler(devJWT))
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = sio.Close()
		_ = hub.Close()
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("chat: serving", "addr", ln.Addr().String())
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		_ = sio.Close()
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The bridge and the hub first, so that their connections are closed
	// properly rather than reset. A long-polling client that does not poll
	// again cannot be told: give those a moment, then drop them.
	sioCtx, cancelSio := context.WithTimeout(shutdownCtx, time.Second)
	_ = sio.Shutdown(sioCtx)
	cancelSio()
	_ = sio.Close()
	err = hub.Shutdown(shutdownCtx)
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
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

var devName = regexp.MustCompile(`^[\p{L}\p{N} _.-]{1,32}$`)

// devTokenHandler signs a 12-hour token for the name in the request. The
// user id is derived from the name, so the same name is the same user.
func devTokenHandler(j *realtime.JWT) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send {\"name\": \"...\"}"})
			return
		}
		name := strings.TrimSpace(req.Name)
		if !devName.MatchString(name) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "a name is 1 to 32 letters, digits, spaces, _ . or -"})
			return
		}
		u := realtime.User{ID: "u-" + strings.ToLower(strings.ReplaceAll(name, " ", "-")), Username: name}
		token, err := j.Sign(u, 12*time.Hour)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot sign"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": token, "user": realtime.UserRef{ID: u.ID, Username: u.Username}})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
