package redisadapter_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/adapter/redisadapter"
)

// BenchmarkPublishDeliver publishes from one node to a room that three
// other nodes are subscribed to, one message at a time, and reports:
//
//   - cmds/msg: Redis commands per message, server-wide (INFO
//     commandstats), which includes the nodes' probes;
//   - pub-cmds/msg: commands the publishing node's client sent per message
//     (a go-redis hook);
//   - p50-µs, p99-µs: from the call to Publish to the last of the three
//     deliveries.
//
// Run it with:
//
//	go test -run '^$' -bench PublishDeliver -benchtime 5000x ./adapter/redisadapter/
func BenchmarkPublishDeliver(b *testing.B) {
	ctx := b.Context()
	prefix := testPrefix(b)
	admin := newClient(b, "", "")
	room := adapter.Room("bench")
	frame := []byte(`{"event":"new-message","data":{"roomId":"bench","seq":1,"content":"hello, world"}}`)

	pubClient := newClient(b, "", "")
	var pubCmds atomic.Int64
	pubClient.AddHook(countHook{&pubCmds})
	pub, err := redisadapter.New(pubClient, redisadapter.Options{Prefix: prefix})
	require.NoError(b, err)
	require.NoError(b, pub.Start(ctx, adapter.Funcs{}))
	b.Cleanup(func() { _ = pub.Close() })

	const subscribers = 3
	got := make(chan time.Time, subscribers)
	for range subscribers {
		a, err := redisadapter.New(newClient(b, "", ""), redisadapter.Options{Prefix: prefix})
		require.NoError(b, err)
		require.NoError(b, a.Start(ctx, adapter.Funcs{OnDeliver: func(adapter.Channel, []byte) {
			got <- time.Now()
		}}))
		b.Cleanup(func() { _ = a.Close() })
		require.NoError(b, a.Subscribe(ctx, room))
	}

	lat := make([]time.Duration, 0, b.N)
	before := commandCalls(b, admin)
	pubCmds.Store(0)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := pub.Publish(ctx, room, frame); err != nil {
			b.Fatal(err)
		}
		var last time.Time
		for range subscribers {
			last = <-got
		}
		lat = append(lat, last.Sub(start))
	}
	b.StopTimer()
	// One INFO per reading, which the second reading counts once.
	calls := commandCalls(b, admin) - before - 1
	b.ReportMetric(float64(calls)/float64(b.N), "cmds/msg")
	b.ReportMetric(float64(pubCmds.Load())/float64(b.N), "pub-cmds/msg")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkPublishParallel measures how many publications per second
// reach a subscribed node when many goroutines publish at once.
//
//	go test -run '^$' -bench PublishParallel ./adapter/redisadapter/
func BenchmarkPublishParallel(b *testing.B) {
	ctx := b.Context()
	prefix := testPrefix(b)
	room := adapter.Room("bench")
	pub, err := redisadapter.New(newClient(b, "", ""), redisadapter.Options{Prefix: prefix})
	require.NoError(b, err)
	require.NoError(b, pub.Start(ctx, adapter.Funcs{}))
	b.Cleanup(func() { _ = pub.Close() })
	var delivered atomic.Int64
	sub, err := redisadapter.New(newClient(b, "", ""), redisadapter.Options{Prefix: prefix})
	require.NoError(b, err)
	require.NoError(b, sub.Start(ctx, adapter.Funcs{OnDeliver: func(adapter.Channel, []byte) { delivered.Add(1) }}))
	b.Cleanup(func() { _ = sub.Close() })
	require.NoError(b, sub.Subscribe(ctx, room))
	frame := []byte(`{"event":"new-message","data":{"roomId":"bench","seq":1,"content":"hello, world"}}`)

	b.SetParallelism(8) // publications in flight per CPU
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := pub.Publish(ctx, room, frame); err != nil {
				b.Error(err)
				return
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for delivered.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	require.Equal(b, int64(b.N), delivered.Load(), "publications lost")
}

// commandCalls returns the number of commands the server has run, from
// INFO commandstats.
func commandCalls(b *testing.B, rdb *redis.Client) int64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(b, err)
	var total int64
	for line := range strings.Lines(info) {
		_, stats, ok := strings.Cut(line, ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(stats, ",")
		calls, err := strconv.ParseInt(n, 10, 64)
		require.NoError(b, err)
		total += calls
	}
	return total
}

// countHook counts the commands a client sends.
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
