package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/realtime-go/realtime/adapter"
)

// localBroker is the default Broker: one node, no network. The hub
// delivers its own publications without it (see Hub.publish); it serves
// whoever else calls it.
type localBroker struct{ h adapter.Handler }

func (b *localBroker) Start(_ context.Context, h adapter.Handler) error {
	b.h = h
	return nil
}

func (b *localBroker) Publish(_ context.Context, ch adapter.Channel, payload []byte) error {
	b.h.Deliver(ch, payload)
	return nil
}

func (b *localBroker) Subscribe(context.Context, adapter.Channel) error   { return nil }
func (b *localBroker) Unsubscribe(context.Context, adapter.Channel) error { return nil }
func (b *localBroker) Close() error                                       { return nil }

// localPresence is the default PresenceBackend: the records of one node.
type localPresence struct {
	mu      sync.Mutex
	records map[string]adapter.PresenceRecord // by user id
}

func (a *localPresence) SetPresence(_ context.Context, r adapter.PresenceRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.records == nil {
		a.records = make(map[string]adapter.PresenceRecord)
	}
	a.records[r.UserID] = r
	return nil
}

func (a *localPresence) DeletePresence(_ context.Context, _, userID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.records, userID)
	return nil
}

func (a *localPresence) Presence(_ context.Context, userIDs []string) ([]adapter.PresenceRecord, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []adapter.PresenceRecord
	for _, id := range userIDs {
		if r, ok := a.records[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// online is Hub.onlinePresence on one node: a user has one record here, so
// none need merging, and a join's ack (up to 500 members in a room below
// LargeRoom) costs no list of records and no map of them.
func (a *localPresence) online(roomID string, members []Member) []Presence {
	at := now()
	var out []Presence
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, m := range members {
		r, ok := a.records[m.UserID]
		if !ok {
			continue
		}
		if p := seenAt(r, &at); p.Status != StatusOffline {
			p.UserID, p.RoomID = m.UserID, roomID
			out = append(out, p)
		}
	}
	if out == nil {
		return []Presence{}
	}
	return out
}

// Heartbeat has nothing to expire: the only node is the one calling.
func (a *localPresence) Heartbeat(context.Context, string, time.Duration) ([]adapter.PresenceRecord, error) {
	return nil, nil
}
