package realtime

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// MemoryOptions configures NewMemoryStore.
type MemoryOptions struct {
	// HistorySize is how many messages the store keeps per stream (room,
	// direct conversation); older ones are forgotten. Zero: 1000.
	HistorySize int
}

// NewMemoryStore returns a Store that keeps everything in this process: the
// default of a zero Config. It suits tests, demos and single-node hubs that
// may forget on restart; a cluster needs a shared Store such as sqlstore.
func NewMemoryStore(o MemoryOptions) Store {
	if o.HistorySize <= 0 {
		o.HistorySize = 1000
	}
	return &memoryStore{
		opts:     o,
		seed:     maphash.MakeSeed(),
		rooms:    make(map[string]*memRoom),
		userRoom: make(map[string]map[string]struct{}),
		files:    make(map[string]File),
		lastSeen: make(map[string]time.Time),
	}
}

type memoryStore struct {
	opts MemoryOptions

	// mu guards rooms and members, and what the fields below hold. Saving
	// a message shares it: a save changes only its stream, under the
	// stream's own lock, and ids, the index of messages by id, whose
	// stripes have locks of their own. Everything that changes a room or a
	// stored message takes mu alone.
	mu       sync.RWMutex
	rooms    map[string]*memRoom
	order    []string // room ids, oldest first
	userRoom map[string]map[string]struct{}
	streams  sync.Map     // streamKey → *memStream
	ids      [64]idStripe // striped by a hash of the id, with seed
	seed     maphash.Seed
	files    map[string]File
	lastSeen map[string]time.Time
	notes    memNotes
}

type memRoom struct {
	room    Room
	members []Member       // in join order
	pos     map[string]int // user id → index in members
}

// member returns the index of userID in r.members, or -1.
func (r *memRoom) member(userID string) int {
	if i, ok := r.pos[userID]; ok {
		return i
	}
	return -1
}

// idStripe is one stripe of the index of messages by id. It is keyed by
// the id's hash (idHash) rather than by the id: a map of strings compared
// each key it probed through the key's pointer, a cache miss more in a map
// of a hundred thousand messages, where the index was an eighth of the
// hub's CPU (BENCHMARKS.md, "The burst, again"). Messages whose ids
// share a hash are chained (memMessage.sameHash).
type idStripe struct {
	mu sync.Mutex
	m  map[uint64]*memMessage
}

type memStream struct {
	// mu guards the fields below while mu of the store is shared.
	mu   sync.Mutex
	seq  uint64
	msgs []*memMessage // retained history, oldest first
	// byClient maps sender + clientMsgId to a message id.
	byClient map[string]string
}

type memMessage struct {
	m      Message
	stream *memStream
	// sameHash is the next message indexed under the same hash of its id
	// (idStripe), guarded by the stripe's lock.
	sameHash *memMessage
}

func (s *memoryStore) roomLocked(id string) (*memRoom, error) {
	r := s.rooms[id]
	if r == nil {
		return nil, ErrNotFound
	}
	return r, nil
}

func (r *memRoom) view() Room {
	room := r.room
	room.MemberCount = len(r.members)
	return room
}

func (s *memoryStore) CreateRoom(_ context.Context, room Room, creator Member, l Limits) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rooms[room.ID]; ok {
		return Room{}, ErrConflict
	}
	r := &memRoom{room: room, pos: map[string]int{}}
	if creator.UserID != "" { // empty: a room of the host, without members
		if l.MaxRoomsPerUser > 0 && len(s.userRoom[creator.UserID]) >= l.MaxRoomsPerUser {
			return Room{}, Errorf(CodeLimitExceeded, "a user may belong to %d rooms", l.MaxRoomsPerUser)
		}
		creator.RoomID = room.ID
		r.members, r.pos[creator.UserID] = []Member{creator}, 0
		s.addUserRoom(creator.UserID, room.ID)
	}
	s.rooms[room.ID] = r
	s.order = append(s.order, room.ID)
	return r.view(), nil
}

func (s *memoryStore) addUserRoom(user, room string) {
	set := s.userRoom[user]
	if set == nil {
		set = make(map[string]struct{})
		s.userRoom[user] = set
	}
	set[room] = struct{}{}
}

func (s *memoryStore) GetRoom(_ context.Context, id string) (Room, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.roomLocked(id)
	if err != nil {
		return Room{}, err
	}
	return r.view(), nil
}

func (s *memoryStore) UpdateRoom(_ context.Context, id string, u RoomUpdate) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.roomLocked(id)
	if err != nil {
		return Room{}, err
	}
	if u.Name != nil {
		r.room.Name = *u.Name
	}
	if u.Description != nil {
		r.room.Description = *u.Description
	}
	if u.MaxUsers != nil {
		r.room.MaxUsers = *u.MaxUsers
	}
	if u.IsPrivate != nil {
		r.room.IsPrivate = *u.IsPrivate
	}
	return r.view(), nil
}

func (s *memoryStore) DeleteRoom(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.roomLocked(id)
	if err != nil {
		return err
	}
	for _, m := range r.members {
		delete(s.userRoom[m.UserID], id)
		if len(s.userRoom[m.UserID]) == 0 {
			delete(s.userRoom, m.UserID)
		}
	}
	delete(s.rooms, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	if st := s.stream(streamKey{room: id}); st != nil {
		for _, mm := range st.msgs {
			s.forget(mm.m.ID)
		}
		s.streams.Delete(streamKey{room: id})
	}
	return nil
}

func (s *memoryStore) ListRooms(_ context.Context, userID string) ([]Room, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	mine := s.userRoom[userID]
	var own, public []Room
	for _, id := range s.order {
		r := s.rooms[id]
		if _, ok := mine[id]; ok {
			own = append(own, r.view())
		} else if !r.room.IsPrivate {
			public = append(public, r.view())
		}
	}
	return append(own, public...), nil
}

func (s *memoryStore) AddMember(_ context.Context, m Member, l Limits) (Member, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.roomLocked(m.RoomID)
	if err != nil {
		return Member{}, false, err
	}
	if i := r.member(m.UserID); i >= 0 {
		return r.members[i], false, nil
	}
	if len(r.members) >= r.room.MaxUsers {
		return Member{}, false, Errorf(CodeRoomFull, "the room has %d members", r.room.MaxUsers)
	}
	if l.MaxRoomsPerUser > 0 && len(s.userRoom[m.UserID]) >= l.MaxRoomsPerUser {
		return Member{}, false, Errorf(CodeLimitExceeded, "a user may belong to %d rooms", l.MaxRoomsPerUser)
	}
	r.pos[m.UserID] = len(r.members)
	r.members = append(r.members, m)
	s.addUserRoom(m.UserID, m.RoomID)
	return m, true, nil
}

func (s *memoryStore) GetMember(_ context.Context, roomID, userID string) (Member, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.roomLocked(roomID)
	if err != nil {
		return Member{}, err
	}
	if i := r.member(userID); i >= 0 {
		return r.members[i], nil
	}
	return Member{}, ErrNotFound
}

func (s *memoryStore) UpdateMember(_ context.Context, roomID, userID string, u MemberUpdate) (Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.roomLocked(roomID)
	if err != nil {
		return Member{}, err
	}
	i := r.member(userID)
	if i < 0 {
		return Member{}, ErrNotFound
	}
	if u.Role != nil {
		r.members[i].Role = *u.Role
	}
	if u.IsMuted != nil {
		r.members[i].IsMuted = *u.IsMuted
	}
	return r.members[i], nil
}

func (s *memoryStore) RemoveMember(_ context.Context, roomID, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.roomLocked(roomID)
	if err != nil {
		return 0, err
	}
	i := r.member(userID)
	if i < 0 {
		return 0, ErrNotFound
	}
	r.members = slices.Delete(r.members, i, i+1)
	delete(r.pos, userID)
	for j := i; j < len(r.members); j++ {
		r.pos[r.members[j].UserID] = j
	}
	delete(s.userRoom[userID], roomID)
	if len(s.userRoom[userID]) == 0 {
		delete(s.userRoom, userID)
	}
	return len(r.members), nil
}

func (s *memoryStore) ListMembers(_ context.Context, roomID string) ([]Member, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.roomLocked(roomID)
	if err != nil {
		return nil, err
	}
	return slices.Clone(r.members), nil
}

var _ MemberPager = (*memoryStore)(nil)

func (s *memoryStore) ListMembersAfter(_ context.Context, roomID, after string, limit int) ([]Member, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, err := s.roomLocked(roomID)
	if err != nil {
		return nil, false, err
	}
	from := 0
	if after != "" {
		i := r.member(after)
		if i < 0 {
			return nil, false, ErrNotFound
		}
		from = i + 1
	}
	page, more := clip(r.members[from:], max(limit, 0))
	return slices.Clone(page), more, nil
}

func (s *memoryStore) SaveMessage(_ context.Context, m Message) (Message, bool, error) {
	key := streamOf(&m)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m.RoomID != "" {
		r, err := s.roomLocked(m.RoomID)
		if err != nil {
			return Message{}, false, err
		}
		if m.SenderID != "" { // empty: the host's (Hub.PostMessage)
			if i := r.member(m.SenderID); i < 0 || r.members[i].IsMuted {
				return Message{}, false, ErrForbidden
			}
		}
	}
	st := s.stream(key)
	if st == nil {
		v, _ := s.streams.LoadOrStore(key, &memStream{byClient: make(map[string]string)})
		st = v.(*memStream)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var ck string // only a message with a clientMsgId has one
	if m.ClientMsgID != "" {
		ck = clientKey(&m)
		if id, ok := st.byClient[ck]; ok {
			if prev := s.message(id); prev != nil {
				return prev.m, true, nil
			}
		}
	}
	m.Seq = st.seq + 1
	mm := &memMessage{m: m, stream: st}
	if !s.index(mm) {
		return Message{}, false, ErrConflict
	}
	st.seq++
	st.msgs = append(st.msgs, mm)
	if ck != "" {
		st.byClient[ck] = m.ID
	}
	if over := len(st.msgs) - s.opts.HistorySize; over > 0 {
		for _, old := range st.msgs[:over] {
			s.forget(old.m.ID)
			if old.m.ClientMsgID != "" {
				delete(st.byClient, clientKey(&old.m))
			}
		}
		// Drop the oldest by slicing past them, not by moving the rest:
		// append copies what is left once it needs a new array.
		clear(st.msgs[:over])
		st.msgs = st.msgs[over:]
	}
	return m, false, nil
}

// SaveMessages implements BatchSaver. In memory a message costs no commit:
// each is saved in turn.
func (s *memoryStore) SaveMessages(ctx context.Context, msgs []Message) []SaveResult {
	return saveEach(ctx, s, msgs, nil)
}

// saveMessagesInto is SaveMessages appending to res (intoSaver).
func (s *memoryStore) saveMessagesInto(ctx context.Context, msgs []Message, res []SaveResult) []SaveResult {
	return saveEach(ctx, s, msgs, res)
}

// saveEach saves msgs one SaveMessage call at a time, in order, appending
// the results to res: the BatchSaver of a Store that has no better way.
func saveEach(ctx context.Context, s MessageStore, msgs []Message, res []SaveResult) []SaveResult {
	res = slices.Grow(res[:0], len(msgs))[:len(msgs)]
	for i, m := range msgs {
		res[i].Message, res[i].Duplicate, res[i].Err = s.SaveMessage(ctx, m)
	}
	return res
}

// clientKey is the key of m in memStream.byClient: its sender and
// clientMsgId.
func clientKey(m *Message) string { return m.SenderID + "\x00" + m.ClientMsgID }

// stream returns the stream stored under key, or nil.
func (s *memoryStore) stream(key streamKey) *memStream {
	if v, ok := s.streams.Load(key); ok {
		return v.(*memStream)
	}
	return nil
}

// idHash returns the hash id is indexed under (idStripe).
func (s *memoryStore) idHash(id string) uint64 { return maphash.String(s.seed, id) }

// idStripe returns the stripe of the index that holds the hash h.
func (s *memoryStore) idStripe(h uint64) *idStripe { return &s.ids[h%uint64(len(s.ids))] }

// sameID returns the message of the chain from mm (memMessage.sameHash)
// whose id is id, or nil.
func sameID(mm *memMessage, id string) *memMessage {
	for ; mm != nil; mm = mm.sameHash {
		if mm.m.ID == id {
			return mm
		}
	}
	return nil
}

// message returns the message stored under id, or nil.
func (s *memoryStore) message(id string) *memMessage {
	return s.messageAt(s.idHash(id), id)
}

func (s *memoryStore) messageAt(h uint64, id string) *memMessage {
	is := s.idStripe(h)
	is.mu.Lock()
	defer is.mu.Unlock()
	return sameID(is.m[h], id)
}

// index adds mm under its id, unless the id is taken.
func (s *memoryStore) index(mm *memMessage) bool {
	return s.indexAt(s.idHash(mm.m.ID), mm)
}

func (s *memoryStore) indexAt(h uint64, mm *memMessage) bool {
	is := s.idStripe(h)
	is.mu.Lock()
	defer is.mu.Unlock()
	first := is.m[h]
	if sameID(first, mm.m.ID) != nil {
		return false
	}
	if is.m == nil {
		is.m = make(map[uint64]*memMessage)
	}
	mm.sameHash = first
	is.m[h] = mm
	return true
}

// forget removes the message stored under id from the index.
func (s *memoryStore) forget(id string) {
	s.forgetAt(s.idHash(id), id)
}

func (s *memoryStore) forgetAt(h uint64, id string) {
	is := s.idStripe(h)
	is.mu.Lock()
	defer is.mu.Unlock()
	var prev *memMessage
	for mm := is.m[h]; mm != nil; prev, mm = mm, mm.sameHash {
		if mm.m.ID != id {
			continue
		}
		switch {
		case prev != nil:
			prev.sameHash = mm.sameHash
		case mm.sameHash != nil:
			is.m[h] = mm.sameHash
		default:
			delete(is.m, h)
		}
		mm.sameHash = nil
		return
	}
}

func (s *memoryStore) GetMessage(_ context.Context, id string) (Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	mm := s.message(id)
	if mm == nil {
		return Message{}, ErrNotFound
	}
	return mm.m, nil
}

func (s *memoryStore) History(_ context.Context, q HistoryQuery) ([]Message, bool, error) {
	if q.Limit <= 0 {
		q.Limit = defaultHistoryLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var msgs []*memMessage
	if st := s.stream(parseStream(q.Stream)); st != nil {
		st.mu.Lock()
		defer st.mu.Unlock()
		msgs = st.msgs
	}
	// cursor finds a message of this stream by id.
	cursor := func(id string) (int, error) {
		mm := s.message(id)
		if mm == nil || mm.m.Stream() != q.Stream {
			return 0, ErrNotFound
		}
		// Seqs of retained messages are consecutive: index by arithmetic.
		return int(mm.m.Seq - msgs[0].m.Seq), nil
	}
	lo, hi := max(0, len(msgs)-q.Limit), len(msgs)
	more := lo > 0
	switch {
	case q.Before != "":
		i, err := cursor(q.Before)
		if err != nil {
			return nil, false, err
		}
		lo, hi = max(0, i-q.Limit), i
		more = lo > 0
	case q.After != "":
		i, err := cursor(q.After)
		if err != nil {
			return nil, false, err
		}
		lo, hi = i+1, min(len(msgs), i+1+q.Limit)
		more = hi < len(msgs)
	case q.AfterSeq > 0:
		// Retained seqs are consecutive from msgs[0].
		lo = 0
		if len(msgs) > 0 && q.AfterSeq >= msgs[0].m.Seq {
			lo = int(min(uint64(len(msgs)), q.AfterSeq-msgs[0].m.Seq+1))
		}
		hi = min(len(msgs), lo+q.Limit)
		more = hi < len(msgs)
	}
	out := make([]Message, 0, hi-lo)
	for _, mm := range msgs[lo:hi] {
		out = append(out, mm.m)
	}
	return out, more, nil
}

func (s *memoryStore) EditMessage(_ context.Context, id, content string, editedAt time.Time) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := s.message(id)
	if mm == nil || mm.m.DeletedAt != nil {
		return Message{}, ErrNotFound
	}
	mm.m.Content = content
	mm.m.EditedAt = &editedAt
	return mm.m, nil
}

func (s *memoryStore) DeleteMessage(_ context.Context, id string, deletedAt time.Time) (Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mm := s.message(id)
	if mm == nil || mm.m.DeletedAt != nil {
		return Message{}, ErrNotFound
	}
	mm.m.Content, mm.m.Metadata = "", nil
	mm.m.DeletedAt = &deletedAt
	return mm.m, nil
}

func (s *memoryStore) Thread(_ context.Context, q ThreadQuery) ([]Message, bool, error) {
	if q.Limit <= 0 {
		q.Limit = defaultHistoryLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	parent := s.message(q.ParentID)
	if parent == nil {
		return nil, false, ErrNotFound
	}
	var after uint64
	if q.After != "" {
		c := s.message(q.After)
		if c == nil || c.m.ReplyToID != q.ParentID {
			return nil, false, ErrNotFound
		}
		after = c.m.Seq
	}
	out := []Message{}
	parent.stream.mu.Lock()
	defer parent.stream.mu.Unlock()
	for _, mm := range parent.stream.msgs {
		if mm.m.ReplyToID != q.ParentID || mm.m.Seq <= after {
			continue
		}
		if len(out) == q.Limit {
			return out, true, nil
		}
		out = append(out, mm.m)
	}
	return out, false, nil
}

func (s *memoryStore) SaveFile(_ context.Context, f File) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[f.ID]; ok {
		return ErrConflict
	}
	s.files[f.ID] = f
	return nil
}

func (s *memoryStore) GetFile(_ context.Context, id string) (File, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.files[id]
	if !ok {
		return File{}, ErrNotFound
	}
	return f, nil
}

func (s *memoryStore) MemberRooms(_ context.Context, userID string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.userRoom[userID]))
	for id := range s.userRoom[userID] {
		ids = append(ids, id)
	}
	return ids, nil
}

func (s *memoryStore) SetLastSeen(_ context.Context, userID string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeen[userID] = t
	return nil
}

func (s *memoryStore) LastSeen(_ context.Context, userIDs []string) (map[string]time.Time, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]time.Time, len(userIDs))
	for _, id := range userIDs {
		if t, ok := s.lastSeen[id]; ok {
			out[id] = t
		}
	}
	return out, nil
}
