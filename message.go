package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/realtime-go/realtime/adapter"
	"github.com/realtime-go/realtime/internal/wire"
)

const (
	maxClientMsgIDBytes = 128
	maxMetadataBytes    = 16 << 10
	defaultHistoryLimit = 50
	maxHistoryLimit     = 200
)

type messageRequest struct {
	RoomID      string          `json:"roomId"`
	RecipientID string          `json:"recipientId"`
	Content     string          `json:"content"`
	Type        MessageType     `json:"type"`
	ReplyToID   string          `json:"replyToId"`
	Metadata    json.RawMessage `json:"metadata"`
	ClientMsgID string          `json:"clientMsgId"`
}

// decodePlain reads the most common requests, plain objects (see
// wire.Plain) without metadata, as encoding/json would but without
// reflection. It reports false, leaving r partly set, for anything else,
// which decode must read.
func (r *messageRequest) decodePlain(data []byte) bool {
	return wire.DecodeStrings(data, messageRequestKeys,
		[]*string{&r.RoomID, &r.RecipientID, &r.Content, (*string)(&r.Type), &r.ReplyToID, &r.ClientMsgID})
}

var messageRequestKeys = []string{"roomId", "recipientId", "content", "type", "replyToId", "clientMsgId"}

// messageAck is the ack data of a message, and the message-sent push.
type messageAck struct {
	ID          string    `json:"id"`
	Timestamp   time.Time `json:"timestamp"`
	Seq         uint64    `json:"seq"`
	ClientMsgID string    `json:"clientMsgId,omitempty"`
}

func (h *Hub) validateMessage(req *messageRequest) error {
	if req.RoomID != "" && req.RecipientID != "" {
		return Errorf(CodeInvalid, "give roomId or recipientId, not both")
	}
	if len(req.RoomID) > maxIDBytes || len(req.RecipientID) > maxIDBytes || len(req.ReplyToID) > maxIDBytes {
		return Errorf(CodeInvalid, "an id is too long")
	}
	if req.Content == "" {
		return Errorf(CodeInvalid, "field content is required")
	}
	if n := utf8.RuneCountInString(req.Content); n > h.cfg.MaxMessageLength {
		return Errorf(CodeTooLarge, "message is longer than %d characters", h.cfg.MaxMessageLength)
	}
	if req.Type == "" {
		req.Type = TypeText
	}
	switch {
	case req.Type == TypeSystem:
		// Members must be able to trust that a system message is the
		// server's.
		return Errorf(CodeInvalid, `type "system" is reserved to the server`)
	case !req.Type.valid():
		return Errorf(CodeInvalid, `field type must be "text", "image" or "file"`)
	}
	if len(req.ClientMsgID) > maxClientMsgIDBytes {
		return Errorf(CodeInvalid, "field clientMsgId is longer than %d bytes", maxClientMsgIDBytes)
	}
	if m := req.Metadata; len(m) > 0 && string(m) != "null" {
		if m[0] != '{' {
			return Errorf(CodeInvalid, "field metadata must be a JSON object")
		}
		if len(m) > maxMetadataBytes {
			return Errorf(CodeTooLarge, "metadata is larger than %d bytes", maxMetadataBytes)
		}
	} else {
		req.Metadata = nil
	}
	return nil
}

// handleMessage runs a message event to the end, for Hub.Do; a
// connection's messages are pipelined instead (sends.go).
func (h *Hub) handleMessage(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	s, err := h.prepareMessage(ctx, c, 0, data)
	if err != nil {
		return nil, err
	}
	saved, err := h.storeAndPublish(ctx, s.m)
	a, err := h.messageSent(ctx, c, &s, &saved, err)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// pendingSend is a message event checked and ready to be stored: the
// message, its sender and the ack the client asked for.
type pendingSend struct {
	m   Message
	u   User
	ack uint64
	// err refuses an event instead (named event), answered in its turn.
	event string
	err   error
}

// prepareMessage reads and checks a message event of c: validity, budget,
// the sender's rights where something must run before the save (hook,
// reply, attachment) and the OnMessage hook. What it returns needs only
// to be stored and published.
func (h *Hub) prepareMessage(ctx context.Context, c *conn, ack uint64, data json.RawMessage) (pendingSend, error) {
	var req messageRequest
	if !req.decodePlain(data) {
		var full messageRequest // kept apart: decoding moves it to the heap
		if err := decode(data, &full); err != nil {
			return pendingSend{}, err
		}
		req = full
	}
	if err := h.validateMessage(&req); err != nil {
		return pendingSend{}, err
	}
	u := c.currentUser()
	if !h.budgets.allow(c, u.ID) {
		h.obs.RateLimited("messages")
		return pendingSend{}, Errorf(CodeRateLimited, "more than %d messages a minute", h.cfg.MaxMessagesPerMinute)
	}
	m := Message{
		ID:          newSortedID("m"),
		RoomID:      req.RoomID,
		RecipientID: req.RecipientID,
		SenderID:    u.ID, // never from the payload
		Sender:      u.ref(),
		Content:     req.Content,
		Type:        req.Type,
		ReplyToID:   req.ReplyToID,
		Metadata:    req.Metadata,
		CreatedAt:   now(),
		ClientMsgID: req.ClientMsgID,
	}
	m, err := h.checkSend(ctx, u, m)
	if err != nil {
		return pendingSend{}, err
	}
	return pendingSend{m: m, u: u, ack: ack}, nil
}

// messageSent turns the outcome of storing and publishing s into the
// event's reply, and ends c's typing in the message's room.
func (h *Hub) messageSent(ctx context.Context, c *conn, s *pendingSend, saved *Message, err error) (messageAck, error) {
	if errors.Is(err, ErrForbidden) && s.m.RoomID != "" {
		return messageAck{}, h.senderRefused(ctx, s.u, s.m.RoomID)
	}
	if err != nil {
		return messageAck{}, err
	}
	if s.m.RoomID != "" && h.stopTyping(c, s.m.RoomID) {
		h.publishTyping(ctx, c, s.u, s.m.RoomID, false)
	}
	return messageAck{ID: saved.ID, Timestamp: saved.CreatedAt, Seq: saved.Seq, ClientMsgID: saved.ClientMsgID}, nil
}

// checkSend authorizes a message from u and runs the OnMessage hook on it,
// before it is stored.
func (h *Hub) checkSend(ctx context.Context, u User, m Message) (Message, error) {
	switch {
	case m.RoomID != "":
		// The Store checks that the sender is a member who is not muted,
		// in the step that saves (MessageStore.SaveMessage). Look first
		// anyway when something before the save must not run for a
		// non-member: the OnMessage hook, or a lookup of the message
		// replied to or of the file attached.
		if h.cfg.OnMessage != nil || m.ReplyToID != "" || m.Type == TypeFile || m.Type == TypeImage {
			if err := h.requireSender(ctx, u, m.RoomID); err != nil {
				return Message{}, err
			}
		}
	case m.RecipientID == "" && !u.HasRole("broadcast"):
		return Message{}, Errorf(CodeForbidden, "global messages need the broadcast role")
	}
	if err := h.checkReply(ctx, m); err != nil {
		return Message{}, err
	}
	m, err := h.filter(ctx, m)
	if err != nil {
		return Message{}, err
	}
	if err := h.checkAttachment(ctx, m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// postMessage stores and publishes a message of the host (Hub.PostMessage).
func (h *Hub) postMessage(ctx context.Context, m Message) (Message, error) {
	if err := h.checkReply(ctx, m); err != nil {
		return Message{}, err
	}
	if err := h.checkAttachment(ctx, m); err != nil {
		return Message{}, err
	}
	saved, err := h.storeAndPublish(ctx, m)
	if errors.Is(err, ErrForbidden) {
		return Message{}, Errorf(CodeForbidden, "%s may not post in this room", m.SenderID)
	}
	return saved, err
}

// checkReply checks that the message m replies to, if any, is of m's
// conversation.
func (h *Hub) checkReply(ctx context.Context, m Message) error {
	if m.ReplyToID == "" {
		return nil
	}
	parent, err := h.store.GetMessage(ctx, m.ReplyToID)
	if errors.Is(err, ErrNotFound) || (err == nil && parent.Stream() != m.Stream()) {
		return Errorf(CodeNotFound, "replyToId names no message of this conversation")
	}
	if err != nil {
		return h.storeErr("get message", err)
	}
	return nil
}

// storeAndPublish saves m and publishes it; the message is returned only
// once it is stored and handed to the Broker. The Store's refusal of a
// room's sender is returned as ErrForbidden, for the caller to explain.
func (h *Hub) storeAndPublish(ctx context.Context, m Message) (Message, error) {
	// Sends to one stream are stored concurrently (so that the store can
	// commit them together) but published in the order they were started,
	// which is the order the store numbers them in: each waits for the one
	// before it. An inversion is put right by the nodes' sequencing.
	key := streamOf(&m)
	cs := h.turns.stripe(key)
	turn := cs.take(key)
	defer cs.end(key, turn)
	var r SaveResult
	r.Message, r.Duplicate, r.Err = h.store.SaveMessage(ctx, m)
	cs.await(ctx, key, turn)
	saved, err := h.publishSaved(ctx, m.RoomID, &r)
	if err != nil {
		return Message{}, err
	}
	return *saved, nil
}

// publishSaved publishes a message the Store saved (r) for a room (roomID)
// or a conversation, and returns it (in r), or the error that stopped it.
// The caller holds the message's send turn. Pointers, not copies: the
// frames of a connection's send path stay small enough for its stack.
func (h *Hub) publishSaved(ctx context.Context, roomID string, r *SaveResult) (*Message, error) {
	saved, dup, err := &r.Message, r.Duplicate, r.Err
	if errors.Is(err, ErrForbidden) && roomID != "" {
		return nil, ErrForbidden
	}
	if err != nil {
		return nil, h.storeErr("save message", err)
	}
	if !dup {
		h.obs.MessageStored(messageKind(saved))
	}
	if dup && saved.RoomID == "" {
		// A retry; its first try published it (rooms publish again below:
		// nodes drop a seq they delivered, and this heals a first try whose
		// publish failed).
		return saved, nil
	}
	frame, err := encodeMessagePush("new-message", saved)
	if err != nil {
		return nil, err
	}
	// Publish even if the sender's connection goes away meanwhile: the
	// message is stored, its room must hear of it.
	pctx := ctx
	if !h.brokerLocal {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), h.cfg.PublishTimeout)
		defer cancel()
	}
	if err := h.publishAll(pctx, saved.channels(), publication{Frame: frame, Seq: saved.Seq}); err != nil {
		// Stored, not published: a room's nodes fetch it from the Store
		// when they hear of a later message or their link comes back; the
		// sender, told unavailable, may retry with its clientMsgId, which
		// finds it stored (PROTOCOL.md section 6).
		h.log.Warn("realtime: message stored but not published", "id", saved.ID, "room", saved.RoomID, "seq", saved.Seq, "err", err)
		return nil, fmt.Errorf("message %s is stored: %w", saved.ID, err) // err is ErrUnavailable (publish)
	}
	if !dup {
		h.notifyMentions(saved)
		h.notifyAwayRecipient(saved)
	}
	return saved, nil
}

// requireSender checks that u may post to a room: a member who is not muted.
func (h *Hub) requireSender(ctx context.Context, u User, roomID string) error {
	member, err := h.store.GetMember(ctx, roomID, u.ID)
	if errors.Is(err, ErrNotFound) {
		if _, rerr := h.store.GetRoom(ctx, roomID); rerr != nil {
			return h.storeErr("get room", rerr)
		}
		return Errorf(CodeForbidden, "only members may post in this room")
	}
	if err != nil {
		return h.storeErr("get member", err)
	}
	if member.IsMuted {
		return Errorf(CodeForbidden, "you are muted in this room")
	}
	return nil
}

// senderRefused explains why the store refused u's message to a room.
func (h *Hub) senderRefused(ctx context.Context, u User, roomID string) error {
	if err := h.requireSender(ctx, u, roomID); err != nil {
		return err
	}
	// A member again by now: the refusal stands, as it was when saved.
	return Errorf(CodeForbidden, "only members may post in this room")
}

// filter runs the OnMessage hook, which may rewrite a message's content,
// type and metadata, but not who sent it, where it goes or what it answers.
func (h *Hub) filter(ctx context.Context, m Message) (Message, error) {
	hook := h.cfg.OnMessage
	if hook == nil {
		return m, nil
	}
	out := m
	if err := hook(ctx, &out); err != nil {
		return Message{}, hookErr(err)
	}
	m.Content, m.Type, m.Metadata = out.Content, out.Type, out.Metadata
	if m.Content == "" || !m.Type.valid() {
		return Message{}, Errorf(CodeInvalid, "the message was emptied by a filter")
	}
	return m, nil
}

// checkAttachment checks that a file or image message naming an uploaded
// file in metadata.file.id shares a file of its own room: a file shared in
// one room cannot be passed off in another.
func (h *Hub) checkAttachment(ctx context.Context, m Message) error {
	if (m.Type != TypeFile && m.Type != TypeImage) || len(m.Metadata) == 0 {
		return nil
	}
	var meta struct {
		File *struct {
			ID string `json:"id"`
		} `json:"file"`
	}
	if json.Unmarshal(m.Metadata, &meta) != nil || meta.File == nil {
		return nil
	}
	f, err := h.store.GetFile(ctx, meta.File.ID)
	if errors.Is(err, ErrNotFound) || (err == nil && (m.RoomID == "" || f.RoomID != m.RoomID)) {
		return Errorf(CodeInvalid, "metadata.file names no file shared in this room")
	}
	if err != nil {
		return h.storeErr("get file", err)
	}
	return nil
}

type typingRequest struct {
	RoomID   string `json:"roomId"`
	IsTyping bool   `json:"isTyping"`
}

type typingPush struct {
	RoomID   string `json:"roomId"`
	UserID   string `json:"userId"`
	Username string `json:"username"`
	IsTyping bool   `json:"isTyping"`
}

func (h *Hub) handleTyping(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req typingRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if err := required("roomId", req.RoomID); err != nil {
		return nil, err
	}
	if !h.subscribed(c, req.RoomID) {
		return nil, Errorf(CodeForbidden, "join the room first")
	}
	u := c.currentUser()
	if !req.IsTyping {
		if h.stopTyping(c, req.RoomID) {
			h.publishTyping(ctx, c, u, req.RoomID, false)
		}
		return struct{}{}, nil
	}
	if h.startTyping(c, u, req.RoomID) {
		h.publishTyping(ctx, c, u, req.RoomID, true)
	}
	return struct{}{}, nil
}

// startTyping (re)arms the connection's typing timer for room; it reports
// whether the connection was not typing there yet.
func (h *Hub) startTyping(c *conn, u User, room string) bool {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if t := c.typing[room]; t != nil && t.Reset(h.cfg.TypingTimeout) {
		return false
	}
	if c.typing == nil {
		c.typing = make(map[string]*time.Timer)
	}
	c.typing[room] = time.AfterFunc(h.cfg.TypingTimeout, func() {
		if h.stopTyping(c, room) {
			h.goTimer(func() { h.publishTyping(h.ctx, c, u, room, false) })
		}
	})
	return true
}

// stopTyping disarms the typing timer of room; it reports whether the
// connection was typing there.
func (h *Hub) stopTyping(c *conn, room string) bool {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	t := c.typing[room]
	if t == nil {
		return false
	}
	t.Stop()
	delete(c.typing, room)
	return true
}

// publishTyping tells the room's other connections that u is (not) typing.
// Typing is never stored and is the first thing a congested connection
// skips.
func (h *Hub) publishTyping(ctx context.Context, c *conn, u User, room string, typing bool) {
	frame, _ := encodePush("user-typing", typingPush{RoomID: room, UserID: u.ID, Username: u.Username, IsTyping: typing})
	p := publication{Frame: frame, Except: c.id, Droppable: true}
	if err := h.publish(ctx, adapter.Room(room), p); err != nil {
		h.log.Debug("realtime: publish typing", "room", room, "err", err)
	}
}

type historyRequest struct {
	RoomID string `json:"roomId"`
	Before string `json:"before"`
	After  string `json:"after"`
	Limit  int    `json:"limit"`
}

type historyReply struct {
	Messages []Message `json:"messages"`
	HasMore  bool      `json:"hasMore"`
}

func (h *Hub) handleGetHistory(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req historyRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if err := required("roomId", req.RoomID); err != nil {
		return nil, err
	}
	if req.Before != "" && req.After != "" {
		return nil, Errorf(CodeInvalid, "give before or after, not both")
	}
	if err := errors.Join(optional("before", req.Before), optional("after", req.After)); err != nil {
		return nil, Errorf(CodeInvalid, "a cursor is too long")
	}
	limit, err := pageLimit(req.Limit, defaultHistoryLimit, maxHistoryLimit)
	if err != nil {
		return nil, err
	}
	req.Limit = limit
	if err := h.requireMember(ctx, c.currentUser(), req.RoomID); err != nil {
		return nil, err
	}
	msgs, more, err := h.store.History(ctx, HistoryQuery{
		Stream: RoomStream(req.RoomID), Before: req.Before, After: req.After, Limit: req.Limit,
	})
	if err != nil {
		return nil, h.storeErr("history", err)
	}
	return historyReply{Messages: nonNil(msgs), HasMore: more}, nil
}

// requireMember checks that u may read a room: a member, or a hub admin.
func (h *Hub) requireMember(ctx context.Context, u User, roomID string) error {
	if !u.HasRole("admin") {
		_, err := h.store.GetMember(ctx, roomID, u.ID)
		if err == nil {
			return nil // the room exists: it has this member
		}
		if !errors.Is(err, ErrNotFound) {
			return h.storeErr("get member", err)
		}
	}
	// An admin, or no such member: is there such a room?
	if _, err := h.store.GetRoom(ctx, roomID); err != nil {
		return h.storeErr("get room", err)
	}
	if u.HasRole("admin") {
		return nil
	}
	return Errorf(CodeForbidden, "only members may read this room")
}

// channels returns where the events of a stored message go: its room, both
// users of a direct conversation, or everyone.
func (m Message) channels() []adapter.Channel {
	switch {
	case m.RoomID != "":
		return []adapter.Channel{{Kind: adapter.ChannelRoom, ID: m.RoomID}}
	case m.RecipientID != "":
		chs := []adapter.Channel{{Kind: adapter.ChannelUser, ID: m.RecipientID}}
		if m.SenderID != m.RecipientID {
			chs = append(chs, adapter.User(m.SenderID))
		}
		return chs
	}
	return []adapter.Channel{{Kind: adapter.ChannelGlobal}}
}

// requireReader checks that u may read the conversation of m.
func (h *Hub) requireReader(ctx context.Context, u User, m Message) error {
	switch {
	case m.RoomID != "":
		return h.requireMember(ctx, u, m.RoomID)
	case m.RecipientID != "" && u.ID != m.SenderID && u.ID != m.RecipientID && !u.HasRole("admin"):
		return Errorf(CodeForbidden, "this conversation is not yours")
	}
	return nil
}

// publishAll publishes one frame to each channel.
func (h *Hub) publishAll(ctx context.Context, chs []adapter.Channel, p publication) error {
	for _, ch := range chs {
		if err := h.publish(ctx, ch, p); err != nil {
			return err
		}
	}
	return nil
}

type messageRef struct {
	MessageID string `json:"messageId"`
	Content   string `json:"content"`
	After     string `json:"after"`
	Limit     int    `json:"limit"`
}

func (h *Hub) getMessage(ctx context.Context, id string) (Message, error) {
	if err := required("messageId", id); err != nil {
		return Message{}, err
	}
	m, err := h.store.GetMessage(ctx, id)
	if err != nil {
		return Message{}, h.storeErr("get message", err)
	}
	return m, nil
}

type messageReply struct {
	Message Message `json:"message"`
}

func (h *Hub) handleEditMessage(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req messageRef
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if req.Content == "" {
		return nil, Errorf(CodeInvalid, "field content is required")
	}
	if utf8.RuneCountInString(req.Content) > h.cfg.MaxMessageLength {
		return nil, Errorf(CodeTooLarge, "message is longer than %d characters", h.cfg.MaxMessageLength)
	}
	m, err := h.getMessage(ctx, req.MessageID)
	if err != nil {
		return nil, err
	}
	u := c.currentUser()
	if m.SenderID != u.ID {
		return nil, Errorf(CodeForbidden, "only the sender may edit a message")
	}
	if m.DeletedAt != nil {
		return nil, Errorf(CodeNotFound, "the message was deleted")
	}
	if m.RoomID != "" {
		if err := h.requireSender(ctx, u, m.RoomID); err != nil {
			return nil, err
		}
	}
	if !h.budgets.allow(c, u.ID) {
		h.obs.RateLimited("messages")
		return nil, Errorf(CodeRateLimited, "more than %d messages a minute", h.cfg.MaxMessagesPerMinute)
	}
	m.Content = req.Content
	if m, err = h.filter(ctx, m); err != nil {
		return nil, err
	}
	edited, err := h.store.EditMessage(ctx, m.ID, m.Content, now())
	if err != nil {
		return nil, h.storeErr("edit message", err)
	}
	frame, err := encodePush("message-edited", edited)
	if err != nil {
		return nil, err
	}
	if err := h.publishAll(ctx, edited.channels(), publication{Frame: frame}); err != nil {
		h.log.Warn("realtime: publish message-edited", "err", err)
	}
	return messageReply{Message: edited}, nil
}

type messageDeleted struct {
	ID        string    `json:"id"`
	RoomID    string    `json:"roomId,omitempty"`
	DeletedAt time.Time `json:"deletedAt"`
}

func (h *Hub) handleDeleteMessage(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req messageRef
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	m, err := h.getMessage(ctx, req.MessageID)
	if err != nil {
		return nil, err
	}
	u := c.currentUser()
	if m.SenderID != u.ID {
		// Room admins moderate their room; nobody else deletes for others.
		if m.RoomID == "" {
			return nil, Errorf(CodeForbidden, "only the sender may delete this message")
		}
		if _, err := h.requireAdmin(ctx, u, m.RoomID); err != nil {
			return nil, Errorf(CodeForbidden, "only the sender or a room admin may delete a message")
		}
	}
	deleted, err := h.store.DeleteMessage(ctx, m.ID, now())
	if err != nil {
		return nil, h.storeErr("delete message", err)
	}
	frame, err := encodePush("message-deleted", messageDeleted{ID: deleted.ID, RoomID: deleted.RoomID, DeletedAt: *deleted.DeletedAt})
	if err != nil {
		return nil, err
	}
	if err := h.publishAll(ctx, deleted.channels(), publication{Frame: frame}); err != nil {
		h.log.Warn("realtime: publish message-deleted", "err", err)
	}
	return struct{}{}, nil
}

func (h *Hub) handleGetThread(ctx context.Context, c *conn, data json.RawMessage) (any, error) {
	var req messageRef
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, defaultHistoryLimit, maxHistoryLimit)
	if err != nil {
		return nil, err
	}
	req.Limit = limit
	if err := optional("after", req.After); err != nil {
		return nil, err
	}
	parent, err := h.getMessage(ctx, req.MessageID)
	if err != nil {
		return nil, err
	}
	if err := h.requireReader(ctx, c.currentUser(), parent); err != nil {
		return nil, err
	}
	replies, more, err := h.store.Thread(ctx, ThreadQuery{ParentID: parent.ID, After: req.After, Limit: req.Limit})
	if err != nil {
		return nil, h.storeErr("thread", err)
	}
	return historyReply{Messages: nonNil(replies), HasMore: more}, nil
}
