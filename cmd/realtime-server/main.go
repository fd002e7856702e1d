// Command realtime-server serves one realtime Hub on a loopback port, for
// benchmarks: cmd/realtime-bench loads it from another process, and
// bench/peers/run.sh compares it with centrifuge and melody.
//
//	go run ./cmd/realtime-server -addr 127.0.0.1:8090 -store memory
//
// Tokens are HS256 JWTs signed with -secret (realtime-bench signs them with
// the same default). Limits that would throttle a load generator are off:
// no message or event rate limits, no cap on rooms per user, rooms of up to
// 100,000 members. The send queue, batching and every other behaviour are
// the library's defaults, unless -queue-bytes says otherwise.
//
// -store picks the Store: memory (the default, and what BENCHMARKS.md
// measures), sqlite (a fresh file, removed on exit, unless -sqlite names
// one) or postgres (-postgres or DATABASE_URL; add search_path=NAME to the
// URL to keep benchmark tables apart). -adapter picks the Broker and
// Presence: local (single node, the default) or redis (adapter/redisadapter
// on -redis, with the key prefix "rt-bench:").
//
// GET /debug/mem answers, after a GC, the heap and stacks in use and the
// number of goroutines, which realtime-bench reads in its idle scenario;
// with -pprof, /debug/pprof/ serves profiles.
// The server listens on loopback addresses only and stops on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/realtime-go/realtime"
)

// defaultSecret matches realtime-bench's default. Loopback benchmarks only.
const defaultSecret = "realtime-bench-secret-loopback-only-0123456789"

// options are the command's flags.
type options struct {
	addr       string
	store      string
	sqlitePath string
	postgres   string
	adapter    string
	redisURL   string
	secret     string
	queueBytes int64
	compress   bool
	pprof      bool
	verbose    bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "realtime-server:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("realtime-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8090", "listen address; loopback only")
	fs.StringVar(&o.store, "store", "memory", "store: memory, sqlite or postgres")
	fs.StringVar(&o.sqlitePath, "sqlite", "", "SQLite file for -store sqlite (default: a fresh temporary file, removed on exit)")
	fs.StringVar(&o.postgres, "postgres", os.Getenv("DATABASE_URL"), "PostgreSQL URL for -store postgres (default $DATABASE_URL)")
	fs.StringVar(&o.adapter, "adapter", "local", "adapter: local or redis")
	fs.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/0", "Redis URL for -adapter redis")
	fs.StringVar(&o.secret, "secret", defaultSecret, "HS256 secret that client tokens are verified with")
	fs.Int64Var(&o.queueBytes, "queue-bytes", 0, "Config.SendQueueBytes (0: the library's default, 1 MiB)")
	fs.BoolVar(&o.compress, "compression", false, "Config.Compression: permessage-deflate with clients that offer it")
	fs.BoolVar(&o.pprof, "pprof", false, "serve net/http/pprof under /debug/pprof/, to profile a run")
	fs.BoolVar(&o.verbose, "v", false, "log at info level (default: warnings and errors)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return o, fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return o, fmt.Errorf("-addr %s: listen on a loopback address (127.0.0.1, ::1, localhost)", o.addr)
	}
	return o, nil
}

// run serves the hub until ctx ends, then shuts it down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	store, closeStore, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer closeStore()
	ad, closeAdapter, err := openAdapter(ctx, o)
	if err != nil {
		return err
	}
	defer closeAdapter()
	auth, err := realtime.NewJWT(realtime.JWTConfig{Secret: []byte(o.secret)})
	if err != nil {
		return err
	}
	hub, err := realtime.New(realtime.Config{
		Authenticator:        auth,
		Store:                store,
		Broker:               ad,
		Presence:             ad,
		Logger:               log,
		MaxRoomsPerUser:      -1,
		MaxUsersPerRoom:      100000,
		MaxMessagesPerMinute: -1,
		MaxEventsPerSecond:   -1,
		SendQueueBytes:       o.queueBytes,
		Compression:          o.compress,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /ws", hub)
	mux.HandleFunc("GET /debug/mem", serveMem)
	if o.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = hub.Close()
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "realtime-server: serving ws://%s/ws (store %s, adapter %s, pid %d)\n", ln.Addr(), o.store, o.adapter, os.Getpid())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = hub.Shutdown(shutdownCtx)
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
