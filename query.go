package realtime

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/realtime-go/realtime/adapter"
)

// ConnectionInfo describes one connection of the cluster (Hub.Connections).
type ConnectionInfo struct {
	ID   string  `json:"id"`
	User UserRef `json:"user"`
	// Node is the id of the node that serves it (Hub.NodeID).
	Node string `json:"node"`
	// Transport is "websocket", "socketio", "subscription" or a custom
	// Transport's name.
	Transport string `json:"transport"`
	// RemoteAddr and UserAgent are those of the request that opened it.
	RemoteAddr  string    `json:"remoteAddr,omitempty"`
	UserAgent   string    `json:"userAgent,omitempty"`
	ConnectedAt time.Time `json:"connectedAt"`
	Rooms       []string  `json:"rooms"`
}

// queryWindow is how long Connections waits after the last node answered
// for another; queryLimit bounds the whole wait.
const (
	queryWindow = 250 * time.Millisecond
	queryLimit  = 2 * time.Second
)

// queries owns the cluster-wide queries this node waits for: the answers
// of each, by query id. Its lock, queries.mu, is a leaf.
type queries struct {
	mu      sync.Mutex
	waiting map[string]chan []byte
}

func (q *queries) open(id string) chan []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiting == nil {
		q.waiting = make(map[string]chan []byte)
	}
	ch := make(chan []byte, 64)
	q.waiting[id] = ch
	return ch
}

func (q *queries) close(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.waiting, id)
}

// answer hands one node's answer to the query id, if someone waits and has
// room for it; it never blocks.
func (q *queries) answer(id string, payload []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if ch := q.waiting[id]; ch != nil {
		select {
		case ch <- payload:
		default:
		}
	}
}

// NodeID returns the id of this hub in the cluster, as ConnectionInfo.Node
// and presence records name it.
func (h *Hub) NodeID() string { return h.nodeID }

// Connections returns the connections of every node of the cluster. Each
// node answers through the Broker; Connections returns once no further
// answer has come for a quarter of a second (at most two seconds, or when
// ctx ends), so a node that does not answer in time is missing from the
// list rather than holding it up.
func (h *Hub) Connections(ctx context.Context) ([]ConnectionInfo, error) {
	if h.closing.Load() {
		return nil, ErrHubClosed
	}
	id := newID("q")
	answers := h.queries.open(id)
	defer h.queries.close(id)
	if err := h.publish(ctx, adapter.Global(), publication{Op: opQuery, Room: h.nodeID, Key: id, Frame: []byte("connections")}); err != nil {
		return nil, err
	}
	limit := time.NewTimer(queryLimit)
	defer limit.Stop()
	quiet := time.NewTimer(queryWindow)
	defer quiet.Stop()
	seen := make(map[string]bool)
	out := []ConnectionInfo{}
	for {
		select {
		case payload := <-answers:
			var part struct {
				Node        string           `json:"node"`
				Connections []ConnectionInfo `json:"connections"`
			}
			if json.Unmarshal(payload, &part) != nil || seen[part.Node] {
				continue
			}
			seen[part.Node] = true
			out = append(out, part.Connections...)
			quiet.Reset(queryWindow)
		case <-quiet.C:
			return out, nil
		case <-limit.C:
			return out, nil
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

// answerQuery answers a cluster-wide query of node replyTo, off the
// Broker's goroutine.
func (h *Hub) answerQuery(replyTo, id, kind string) {
	if kind != "connections" {
		return
	}
	payload, err := json.Marshal(struct {
		Node        string           `json:"node"`
		Connections []ConnectionInfo `json:"connections"`
	}{h.nodeID, h.localConnections()})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.PublishTimeout)
	defer cancel()
	if err := h.publish(ctx, adapter.Node(replyTo), publication{Op: opReply, Key: id, Frame: payload}); err != nil {
		h.log.Warn("realtime: answer a cluster query", "err", err)
	}
}

// localConnections describes this node's connections.
func (h *Hub) localConnections() []ConnectionInfo {
	conns := h.fan.allConns()
	out := make([]ConnectionInfo, 0, len(conns))
	for _, c := range conns {
		out = append(out, ConnectionInfo{
			ID: c.id, User: c.currentUser().ref(), Node: h.nodeID, Transport: c.transport,
			RemoteAddr: c.remoteAddr, UserAgent: c.userAgent, ConnectedAt: c.connectedAt,
			Rooms: h.fan.roomsOf(c),
		})
	}
	// In the order they connected, as they were listed when the node kept
	// its connections in that order.
	slices.SortStableFunc(out, func(a, b ConnectionInfo) int { return a.ConnectedAt.Compare(b.ConnectedAt) })
	return out
}
