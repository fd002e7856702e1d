// Package peer holds what the comparison servers of bench/peers share with
// realtime-server: a loopback-only listener, HS256 token checks, the
// /debug/mem report realtime-bench reads, and a graceful stop on a signal.
package peer

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Main runs a peer server: run, with the command's arguments, until it
// returns or an interrupt or SIGTERM ends its context; an error (but -h's)
// is printed after name and exits 1.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// DefaultSecret matches realtime-bench's default. Loopback benchmarks only.
const DefaultSecret = "realtime-bench-secret-loopback-only-0123456789"

// Flags are the flags every peer server takes.
type Flags struct {
	Addr   string
	Secret string
}

// ParseFlags parses the flags of a peer server whose default listen address
// is addr, and checks that the address is a loopback one.
func ParseFlags(name, addr string, args []string, stderr io.Writer) (Flags, error) {
	var f Flags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.Addr, "addr", addr, "listen address; loopback only")
	fs.StringVar(&f.Secret, "secret", DefaultSecret, "HS256 secret that client tokens are verified with")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(f.Addr)
	if err != nil {
		return f, fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return f, fmt.Errorf("-addr %s: listen on a loopback address (127.0.0.1, ::1, localhost)", f.Addr)
	}
	return f, nil
}

// Verifier checks the HS256 tokens realtime-bench signs.
type Verifier struct{ secret []byte }

// NewVerifier returns a Verifier for secret.
func NewVerifier(secret string) *Verifier { return &Verifier{secret: []byte(secret)} }

// User returns the subject of a valid, unexpired token.
func (v *Verifier) User(token string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return v.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		return "", err
	}
	if claims.Subject == "" {
		return "", errors.New("token has no sub")
	}
	return claims.Subject, nil
}

// memReport is the answer of GET /debug/mem, the same as realtime-server's.
type memReport struct {
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Goroutines int    `json:"goroutines"`
}

// ServeMem collects garbage, then reports the heap and stacks in use and
// the number of goroutines.
func ServeMem(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(memReport{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine()})
}

// Serve serves h on addr until ctx ends, announcing the WebSocket URL at
// path on stdout, then shuts the HTTP server down. stop, when not nil, runs
// first on the way out (a node's own shutdown).
func Serve(ctx context.Context, name, addr, path string, h http.Handler, stdout io.Writer, stop func(context.Context) error) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+path, h)
	mux.HandleFunc("GET /debug/mem", ServeMem)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "%s: serving ws://%s%s (pid %d)\n", name, ln.Addr(), path, os.Getpid())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if stop != nil {
		errs = append(errs, stop(shutdownCtx))
	}
	// Hijacked WebSockets are not the server's to wait for: Close drops them.
	errs = append(errs, srv.Close())
	return errors.Join(errs...)
}
