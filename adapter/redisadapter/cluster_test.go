package redisadapter_test

import (
	"context"
	"crypto/rand"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/adapter/adaptertest"
	"github.com/realtime-go/realtime/adapter/redisadapter"
	"github.com/realtime-go/realtime/internal/testenv"
)

// The tests of sharded pub/sub need a Redis 7 Cluster: they run when
// REALTIME_REDIS_CLUSTER_ADDRS names its nodes (comma-separated host:port),
// as .ci/run sets after starting three local masters, and skip otherwise
// (fail with REALTIME_REQUIRE_SERVICES=1). For example:
//
//	REALTIME_REDIS_CLUSTER_ADDRS=127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003 \
//		go test -race -run Cluster ./adapter/redisadapter/

// newClusterClient returns a client of the test cluster named name, closed
// when the test ends.
func newClusterClient(t testing.TB, name string) *redis.ClusterClient {
	t.Helper()
	addrs := os.Getenv("REALTIME_REDIS_CLUSTER_ADDRS")
	if addrs == "" {
		testenv.Unavailable(t, "REALTIME_REDIS_CLUSTER_ADDRS is not set: no Redis Cluster for sharded pub/sub (.ci/run starts one)")
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(addrs, ","), ClientName: name})
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "Redis Cluster does not answer at REALTIME_REDIS_CLUSTER_ADDRS: %v", err)
	}
	return c
}

// clusterPrefix returns a key prefix of the test's own, whose keys are
// deleted from every master when the test ends.
func clusterPrefix(t testing.TB) string {
	t.Helper()
	prefix := "rttest:" + rand.Text()[:12] + ":"
	t.Cleanup(func() {
		c := newClusterClient(t, "")
		ctx := context.Background()
		require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			iter := m.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				if err := m.Del(ctx, iter.Val()).Err(); err != nil {
					return err
				}
			}
			return iter.Err()
		}))
	})
	return prefix
}

func TestClusterAdapter(t *testing.T) {
	newClusterClient(t, "") // skips without a cluster
	adaptertest.Run(t, func(t *testing.T, n int) []adapter.Adapter {
		prefix := clusterPrefix(t)
		nodes := make([]adapter.Adapter, n)
		for i := range nodes {
			a, err := redisadapter.New(newClusterClient(t, ""), redisadapter.Options{Prefix: prefix, ProbeInterval: probe, ProbeTimeout: probeTimeout, Logger: testLogger(t)})
			require.NoError(t, err)
			require.True(t, a.Sharded())
			nodes[i] = a
		}
		return nodes
	})
}

// TestClusterKillSubscriptionConnections kills the pub/sub connections of
// two nodes on every shard while one publishes to rooms spread over the
// shards: each node connects again to every shard and gets OpResync, and
// publications reach it again.
func TestClusterKillSubscriptionConnections(t *testing.T) {
	ctx := t.Context()
	name := "rttest-ckill-" + rand.Text()[:8]
	admin := newClusterClient(t, "")
	prefix := clusterPrefix(t)
	rooms := make([]adapter.Channel, 16)
	for i := range rooms {
		rooms[i] = adapter.Room(string(rune('a' + i)))
	}
	nodes := make([]*redisadapter.Adapter, 2)
	recs := make([]*recorder, 2)
	for i := range nodes {
		a, err := redisadapter.New(newClusterClient(t, name), redisadapter.Options{Prefix: prefix, ProbeInterval: probe, ProbeTimeout: probeTimeout, Logger: testLogger(t)})
		require.NoError(t, err)
		nodes[i], recs[i] = a, newRecorder()
		require.NoError(t, a.Start(ctx, recs[i]))
		t.Cleanup(func() { require.NoError(t, a.Close()) })
		for _, r := range rooms {
			require.NoError(t, a.Subscribe(ctx, r))
		}
	}
	publishAll := func(tag string) {
		for _, r := range rooms {
			require.NoError(t, nodes[0].Publish(ctx, r, []byte(tag+r.ID)))
		}
	}
	waitAll := func(tag string) {
		for i := range nodes {
			for _, r := range rooms {
				require.Eventually(t, func() bool { return slices.Contains(recs[i].frames(r), tag+r.ID) }, restored, time.Millisecond,
					"node %d, room %s: publication %q", i, r.ID, tag+r.ID)
			}
		}
	}
	publishAll("before-")
	waitAll("before-")

	var (
		mu      sync.Mutex
		masters []*redis.Client
	)
	require.NoError(t, admin.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters = append(masters, m)
		return nil
	}))
	killed := 0
	for _, m := range masters {
		killed += killPubSub(t, m, name)
	}
	require.Greater(t, killed, 2, "pub/sub connections on more than one shard")
	for i := range nodes {
		require.Eventually(t, func() bool { return recs[i].resyncs() > 0 }, restored, time.Millisecond, "node %d: no Resync", i)
	}
	publishAll("after-")
	waitAll("after-")
}

// TestClusterSlotMoves moves the slot of a subscribed room to another
// master, as resharding does: Redis ends the sharded subscriptions of that
// slot, the nodes subscribe again on the new owner and get OpResync, and
// publications reach them again. The slot goes back when the test ends.
func TestClusterSlotMoves(t *testing.T) {
	ctx := t.Context()
	admin := newClusterClient(t, "")
	prefix := clusterPrefix(t)
	room := adapter.Room("moving")
	name := channelOf(prefix, "r:", room.ID)

	slot, err := admin.ClusterKeySlot(ctx, name).Result()
	require.NoError(t, err)
	from, err := admin.MasterForKey(ctx, name)
	require.NoError(t, err)
	var (
		mu      sync.Mutex
		masters []*redis.Client
	)
	require.NoError(t, admin.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters = append(masters, m)
		return nil
	}))
	require.Greater(t, len(masters), 1, "a cluster of one master")
	var to *redis.Client
	for _, m := range masters {
		if m.Options().Addr != from.Options().Addr {
			to = m
			break
		}
	}
	move := func(src, dst *redis.Client) {
		t.Helper()
		ctx := context.Background()
		srcID, err := src.Do(ctx, "CLUSTER", "MYID").Text()
		require.NoError(t, err)
		dstID, err := dst.Do(ctx, "CLUSTER", "MYID").Text()
		require.NoError(t, err)
		require.NoError(t, dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
		require.NoError(t, src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
		// Channels are not keys: there is nothing to MIGRATE.
		for _, m := range append([]*redis.Client{dst, src}, masters...) {
			require.NoError(t, m.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
		}
	}

	nodes := make([]*redisadapter.Adapter, 2)
	recs := make([]*recorder, 2)
	for i := range nodes {
		a, err := redisadapter.New(newClusterClient(t, ""), redisadapter.Options{Prefix: prefix, ProbeInterval: probe, ProbeTimeout: probeTimeout, Logger: testLogger(t)})
		require.NoError(t, err)
		nodes[i], recs[i] = a, newRecorder()
		require.NoError(t, a.Start(ctx, recs[i]))
		t.Cleanup(func() { require.NoError(t, a.Close()) })
		require.NoError(t, a.Subscribe(ctx, room))
	}
	require.NoError(t, nodes[0].Publish(ctx, room, []byte("before")))
	for i := range nodes {
		require.Eventually(t, func() bool { return len(recs[i].frames(room)) == 1 }, restored, time.Millisecond)
	}

	move(from, to)
	t.Cleanup(func() { move(to, from) })
	for i := range nodes {
		require.Eventually(t, func() bool { return recs[i].resyncs() > 0 }, restored, time.Millisecond, "node %d: no Resync", i)
	}
	// The nodes may take a few tries while the cluster state settles:
	// publish until both have a publication from after the move.
	require.Eventually(t, func() bool {
		_ = nodes[0].Publish(ctx, room, []byte("after"))
		return slices.Contains(recs[0].frames(room), "after") && slices.Contains(recs[1].frames(room), "after")
	}, restored, 50*time.Millisecond, "no publication after the move")
	n, err := to.PubSubShardNumSub(ctx, name).Result()
	require.NoError(t, err)
	require.Equal(t, int64(2), n[name], "subscribers on the new owner")
}
