package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/wire"
)

// slowishStore makes every save take a little, so that pipes run.
type slowishStore struct{ Store }

func (s slowishStore) SaveMessage(ctx context.Context, m Message) (Message, bool, error) {
	time.Sleep(100 * time.Microsecond)
	return s.Store.SaveMessage(ctx, m)
}

type batchStore struct {
	slowishStore
}

func (s batchStore) SaveMessages(ctx context.Context, msgs []Message) []SaveResult {
	time.Sleep(100 * time.Microsecond)
	return saveEach(ctx, s.Store, msgs, nil)
}

// TestLentQueuesStress: with the send queues, the queues of messages to
// store and the scratch slices lent between connections, 24 clients each
// get 300 notes of their own and send 150 messages without waiting, beside
// 6 clients that never read, on the memory store, a slow store and a slow
// BatchSaver: every client gets its own notes, in order, its acks in order
// with seq equal to the ack, and the history holds every message once.
func TestLentQueuesStress(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   func() Store
	}{
		{"memory", func() Store { return NewMemoryStore(MemoryOptions{}) }},
		{"slow", func() Store { return slowishStore{NewMemoryStore(MemoryOptions{})} }},
		{"batch", func() Store { return batchStore{slowishStore{NewMemoryStore(MemoryOptions{})}} }},
	} {
		t.Run(tc.name, func(t *testing.T) { lentStress(t, tc.st()) })
	}
}

func lentStress(t *testing.T, st Store) {
	h, err := New(Config{Store: st, MaxEventsPerSecond: -1, MaxMessagesPerMinute: -1, SendQueueBytes: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const users, pushes, sends = 24, 300, 150
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	// dial connects a client named name and returns its user id.
	dial := func(name string) (*websocket.Conn, string, error) {
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/?username="+name, nil)
		if err != nil {
			return nil, "", err
		}
		ws.SetReadLimit(-1)
		_, hello, err := ws.Read(ctx) // connected
		if err != nil {
			ws.CloseNow()
			return nil, "", err
		}
		var hi struct {
			Data struct {
				User struct {
					ID string `json:"id"`
				} `json:"user"`
			} `json:"data"`
		}
		if json.Unmarshal(hello, &hi) != nil || hi.Data.User.ID == "" {
			ws.CloseNow()
			return nil, "", fmt.Errorf("no user id in %s", hello)
		}
		return ws, hi.Data.User.ID, nil
	}
	// Clients that never read, sent 800 KB of notes each: more than their
	// 64 KiB queue, so that their writers stall and their queues fill beside
	// the others.
	for s := 0; s < 6; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, uid, err := dial(fmt.Sprintf("slow%d", s))
			if err != nil {
				fail(err)
				return
			}
			defer ws.CloseNow()
			big := strings.Repeat("x", 2000)
			for i := 0; i < 400; i++ {
				_ = h.SendToUser(ctx, uid, "note", map[string]any{"u": uid, "i": i, "pad": big})
			}
		}()
	}
	for u := 0; u < users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("user%d", u)
			ws, uid, err := dial(id)
			if err != nil {
				fail(err)
				return
			}
			defer ws.CloseNow()
			room, err := h.CreateRoom(ctx, User{ID: uid}, RoomOptions{Name: "r" + id})
			if err != nil {
				fail(err)
				return
			}
			go func() {
				for i := 0; i < pushes; i++ {
					if err := h.SendToUser(ctx, uid, "note", map[string]any{"u": id, "i": i}); err != nil {
						fail(err)
						return
					}
				}
			}()
			go func() {
				for i := 0; i < sends; i++ {
					f := wire.AppendClient(nil, "message", []byte(fmt.Sprintf(`{"roomId":%q,"content":"%s-%d"}`, room.ID, id, i)), uint64(i+1))
					if err := ws.Write(ctx, websocket.MessageText, f); err != nil {
						return
					}
				}
			}()
			nextNote, nextAck, nextMsg := 0, uint64(1), 0
			for nextNote < pushes || nextAck <= sends {
				_, data, err := ws.Read(ctx)
				if err != nil {
					fail(fmt.Errorf("%s: read: %v (note %d ack %d msg %d)", id, err, nextNote, nextAck, nextMsg))
					return
				}
				for _, line := range strings.Split(string(data), "\n") {
					var ev struct {
						Event string          `json:"event"`
						Data  json.RawMessage `json:"data"`
						Ack   uint64          `json:"ack"`
						Error json.RawMessage `json:"error"`
					}
					if err := json.Unmarshal([]byte(line), &ev); err != nil {
						fail(fmt.Errorf("%s: %v: %q", id, err, line))
						return
					}
					switch {
					case ev.Ack != 0:
						var a struct {
							Seq uint64 `json:"seq"`
						}
						_ = json.Unmarshal(ev.Data, &a)
						if nextAck == 1 && id == "user0" {
							t.Logf("ack: %s", line)
						}
						if ev.Ack != nextAck || len(ev.Error) > 0 || a.Seq != nextAck {
							fail(fmt.Errorf("%s: ack %d, want %d: %s", id, ev.Ack, nextAck, line))
							return
						}
						nextAck++
					case ev.Event == "note":
						var n struct {
							U string
							I int
						}
						_ = json.Unmarshal(ev.Data, &n)
						if n.U != id || n.I != nextNote {
							fail(fmt.Errorf("%s: note %+v, want i=%d", id, n, nextNote))
							return
						}
						nextNote++
					case ev.Event == "message":
						var m struct {
							Content  string `json:"content"`
							SenderID string `json:"senderId"`
						}
						_ = json.Unmarshal(ev.Data, &m)
						if want := fmt.Sprintf("%s-%d", id, nextMsg); m.Content != want {
							fail(fmt.Errorf("%s: message %q, want %q", id, m.Content, want))
							return
						}
						nextMsg++
					}
				}
			}
			hist, _, err := st.History(ctx, HistoryQuery{Stream: RoomStream(room.ID), Limit: 1000})
			if err != nil {
				fail(err)
				return
			}
			if len(hist) != sends {
				fail(fmt.Errorf("%s: %d stored", id, len(hist)))
				return
			}
			for _, m := range hist {
				if want := fmt.Sprintf("%s-%d", id, m.Seq-1); m.Content != want || m.SenderID != uid {
					fail(fmt.Errorf("%s: stored %q (seq %d) from %s", id, m.Content, m.Seq, m.SenderID))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
