// Command cluster runs two nodes of the chat example, on :8081 and :8082,
// joined by Redis and sharing one PostgreSQL database, so that a browser on
// each port chats in the same rooms:
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test go run ./examples/cluster
//
// Redis is read from REDIS_URL, or REDIS_HOST, REDIS_PORT, REDIS_PASSWORD and REDIS_DB
// (default 127.0.0.1:6379, database 0). A SQLite file cannot be shared
// safely by several nodes, so without DATABASE_URL the command explains
// that and exits.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/realtime-go/realtime/adapter/redisadapter"
	"github.com/realtime-go/realtime/examples/internal/chatapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, []string{":8081", ":8082"}, nil); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// errNeedDatabase explains why the cluster needs PostgreSQL.
var errNeedDatabase = errors.New("set DATABASE_URL to a PostgreSQL database: " +
	"the nodes of a cluster must share one store, and a SQLite file cannot be shared safely " +
	"(for example DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)")

// run serves one chat node on each address until ctx ends; ready, when set,
// is called with each node's index and listening address.
func run(ctx context.Context, addrs []string, ready func(int, net.Addr)) error {
	if os.Getenv("DATABASE_URL") == "" {
		return errNeedDatabase
	}
	opts, err := redisadapter.ClientOptionsFromEnv()
	if err != nil {
		return err
	}
	prefix := os.Getenv("REDIS_PREFIX")
	if prefix == "" {
		prefix = "chat:"
	}
	// Development tokens must be valid on every node.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		// A client per node, as separate processes would have.
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		adapter, err := redisadapter.New(rdb, redisadapter.Options{Prefix: prefix})
		if err != nil {
			return err
		}
		defer adapter.Close() // after the node's hub has shut down
		wg.Go(func() {
			o := chatapp.Options{Name: fmt.Sprint("node-", i+1), Adapter: adapter, DevSecret: secret}
			if ready != nil {
				o.Ready = func(a net.Addr) { ready(i, a) }
			}
			errs[i] = chatapp.Run(ctx, addr, o)
			cancel() // one node failing stops the other
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
