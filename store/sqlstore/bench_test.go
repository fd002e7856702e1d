package sqlstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/store/sqlstore"
)

// BenchmarkSaveMessageConcurrent measures persisted messages per second:
// 100 senders each save one message after another into one room (as 100
// clients of one room would, each waiting for its ack), each with a
// clientMsgId. A SaveMessage returns after its transaction committed.
//
//	go test -run '^$' -bench SaveMessageConcurrent -benchtime 20000x ./store/sqlstore
func BenchmarkSaveMessageConcurrent(b *testing.B) {
	const senders = 100
	for _, d := range dialects {
		b.Run(d.String(), func(b *testing.B) {
			for _, tc := range []struct {
				name  string
				batch int
			}{{"group-commit", 0}, {"no-group-commit", 1}} {
				s := newStore(b, d, openDB(b, d, newDSN(b, d)), sqlstore.Options{BatchSize: tc.batch})
				room := createRoom(b, s, "alice")
				b.Run(tc.name, func(b *testing.B) { benchSave(b, s, room.ID, senders) })
			}
		})
	}
}

func benchSave(b *testing.B, s *sqlstore.Store, roomID string, senders int) {
	for g := range senders {
		if _, _, err := s.AddMember(context.Background(), member(roomID, fmt.Sprintf("user%03d", g)), realtime.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	runWorkers(b, senders, 1, "msgs/s", func(g, _ int) error {
		m := message(roomID, fmt.Sprintf("user%03d", g), "hello, this is a message of ordinary length")
		m.ClientMsgID = m.ID
		_, _, err := s.SaveMessage(context.Background(), m)
		return err
	})
}

// runWorkers has senders goroutines call save(g, n) until b.N things
// (messages, joins) are done, each call doing n of them (at most per), and
// reports them per second as unit.
func runWorkers(b *testing.B, senders, per int, unit string, save func(g, n int) error) {
	var (
		next   atomic.Int64
		failed atomic.Value
		wg     sync.WaitGroup
	)
	b.ResetTimer()
	for g := range senders {
		wg.Go(func() {
			for {
				end := next.Add(int64(per))
				n := min(int64(per), int64(b.N)-(end-int64(per)))
				if n <= 0 {
					return
				}
				if err := save(g, int(n)); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

// BenchmarkAddMemberOneRoom measures joins per second into one room: 32
// goroutines (a hub's pool of 32) each add new members, one after another,
// to a room that fills from one member to b.N. Joins of one room wait for
// each other on its lock, which they hold until they commit.
//
//	go test -run '^$' -bench AddMemberOneRoom -benchtime 5000x ./store/sqlstore
func BenchmarkAddMemberOneRoom(b *testing.B) {
	for _, d := range dialects {
		b.Run(d.String(), func(b *testing.B) {
			s := newStore(b, d, openDB(b, d, newDSN(b, d)), sqlstore.Options{})
			room := realtime.Room{ID: "room-" + randID(), Name: "Big", MaxUsers: 1 << 20, CreatedByID: "alice", CreatedAt: now()}
			_, err := s.CreateRoom(context.Background(), room, member(room.ID, "alice"), realtime.Limits{})
			require.NoError(b, err)
			var n atomic.Int64
			runWorkers(b, 32, 1, "joins/s", func(int, int) error {
				_, created, err := s.AddMember(context.Background(), member(room.ID, fmt.Sprint("u", n.Add(1))), realtime.Limits{})
				if err == nil && !created {
					err = fmt.Errorf("a new member was not created")
				}
				return err
			})
		})
	}
}

// BenchmarkHistoryPage measures the latency of one page of 50 messages of a
// room of 1,000,000 (REALTIME_BENCH_HISTORY overrides the size): the
// latest page, and the page before a message at a random place.
//
//	go test -run '^$' -bench HistoryPage -benchtime 2000x ./store/sqlstore
func BenchmarkHistoryPage(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("REALTIME_BENCH_HISTORY"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	for _, d := range dialects {
		b.Run(d.String(), func(b *testing.B) {
			dsn := newDSN(b, d)
			db := openDB(b, d, dsn)
			s := newStore(b, d, db, sqlstore.Options{})
			room := createRoom(b, s, "alice")
			start := time.Now()
			fill := `INSERT INTO messages (id, stream, seq, room_id, sender_id, sender_name, content, type, client_msg_id, created_at)
				SELECT 'm' || g, $1, g, $2, 'user' || (g % 100), 'User', 'message number ' || g || ' of the big room', 'text',
					'c' || g, `
			if d == sqlstore.Postgres {
				fill += `now() - interval '1 ms' * ($3::bigint - g) FROM generate_series(1, $3::bigint) g`
			} else {
				fill = `WITH RECURSIVE gs(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM gs WHERE g < $3) ` +
					fill + `1700000000000 + g FROM gs`
			}
			stream := realtime.RoomStream(room.ID)
			_, err := db.ExecContext(b.Context(), fill, stream, room.ID, n)
			require.NoError(b, err)
			_, err = db.ExecContext(b.Context(), `INSERT INTO streams (stream, last_seq) VALUES ($1, $2)`, stream, n)
			require.NoError(b, err)
			if d == sqlstore.Postgres {
				_, err = db.ExecContext(b.Context(), `ANALYZE messages`)
			} else {
				_, err = db.ExecContext(b.Context(), `ANALYZE`)
			}
			require.NoError(b, err)
			b.Logf("%s: %d messages inserted in %v", d, n, time.Since(start).Round(time.Millisecond))

			for _, tc := range []struct {
				name  string
				query func() realtime.HistoryQuery
			}{
				{"latest", func() realtime.HistoryQuery {
					return realtime.HistoryQuery{Stream: stream, Limit: 50}
				}},
				{"before-random", func() realtime.HistoryQuery {
					return realtime.HistoryQuery{Stream: stream, Before: fmt.Sprint("m", 51+rand.IntN(n-50)), Limit: 50}
				}},
			} {
				b.Run(tc.name, func(b *testing.B) {
					var lat []time.Duration
					for b.Loop() {
						q := tc.query()
						t0 := time.Now()
						page, _, err := s.History(b.Context(), q)
						lat = append(lat, time.Since(t0))
						if err != nil || len(page) != 50 {
							b.Fatalf("History: %d messages, %v", len(page), err)
						}
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				})
			}
		})
	}
}

// BenchmarkSaveMessagesGroups measures persisted messages per second as
// the hub's pipelined sends store them: 100 senders each save groups of 16
// messages with SaveMessages, one group after another, into one room or a
// room each, with 1 and with 4 committers. It is the store's share of the
// root package's BenchmarkPersistedMessages/100x16, without sockets.
//
//	go test -run '^$' -bench SaveMessagesGroups -benchtime 40000x ./store/sqlstore
func BenchmarkSaveMessagesGroups(b *testing.B) {
	const senders, group = 100, 16
	for _, d := range dialects {
		for _, committers := range []int{1, 4} {
			for _, shared := range []bool{true, false} {
				name := fmt.Sprintf("%s/committers=%d/own-rooms", d, committers)
				if shared {
					name = fmt.Sprintf("%s/committers=%d/one-room", d, committers)
				}
				b.Run(name, func(b *testing.B) {
					s := newStore(b, d, openDB(b, d, newDSN(b, d)), sqlstore.Options{Committers: committers})
					rooms := make([]string, senders)
					for g := range senders {
						sender := fmt.Sprintf("user%03d", g)
						if g == 0 || !shared {
							rooms[g] = createRoom(b, s, sender).ID
							continue
						}
						rooms[g] = rooms[0]
						_, _, err := s.AddMember(context.Background(), member(rooms[g], sender), realtime.Limits{})
						require.NoError(b, err)
					}
					runWorkers(b, senders, group, "msgs/s", func(g, n int) error {
						msgs := make([]realtime.Message, n)
						for i := range msgs {
							msgs[i] = message(rooms[g], fmt.Sprintf("user%03d", g), "persist me")
							msgs[i].ClientMsgID = msgs[i].ID
						}
						for _, r := range s.SaveMessages(context.Background(), msgs) {
							if r.Err != nil {
								return r.Err
							}
						}
						return nil
					})
				})
			}
		}
	}
}
