package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// handle runs one client event and returns its ack data. It runs on the
// connection's read goroutine, once the messages read before the event are
// stored (sends.go), so one connection's events are handled in the order
// they were sent. A connection's messages come here only through Hub.Do.
func (h *Hub) handle(c *conn, event string, data json.RawMessage) (any, error) {
	ctx := c.ctx
	h.countEvent(event)
	switch event {
	case "auth":
		return h.handleAuth(c, data)
	case "create-room":
		return h.handleCreateRoom(ctx, c, data)
	case "join-room":
		return h.handleJoinRoom(ctx, c, data)
	case "leave-room":
		return h.handleLeaveRoom(ctx, c, data)
	case "update-room":
		return h.handleUpdateRoom(ctx, c, data)
	case "delete-room":
		return h.handleDeleteRoom(ctx, c, data)
	case "add-member":
		return h.handleAddMember(ctx, c, data)
	case "update-member":
		return h.handleUpdateMember(ctx, c, data)
	case "remove-member":
		return h.handleRemoveMember(ctx, c, data)
	case "list-rooms":
		return h.handleListRooms(ctx, c)
	case "list-members":
		return h.handleListMembers(ctx, c, data)
	case "message":
		return h.handleMessage(ctx, c, data)
	case "typing":
		return h.handleTyping(ctx, c, data)
	case "get-history":
		return h.handleGetHistory(ctx, c, data)
	case "edit-message":
		return h.handleEditMessage(ctx, c, data)
	case "delete-message":
		return h.handleDeleteMessage(ctx, c, data)
	case "get-thread":
		return h.handleGetThread(ctx, c, data)
	case "presence-update":
		return h.handlePresenceUpdate(ctx, c, data)
	case "get-presence":
		return h.handleGetPresence(ctx, c, data)
	case "get-notifications":
		return h.handleGetNotifications(ctx, c, data)
	case "mark-notifications-read":
		return h.handleMarkNotificationsRead(ctx, c, data)
	}
	return nil, Errorf(CodeInvalid, "unknown event %q", truncate(event, 64))
}

// countEvent tells the Observer of a client event.
func (h *Hub) countEvent(event string) {
	if h.observed {
		h.obs.EventReceived(eventLabel(event))
	}
}

type authRequest struct {
	Token string `json:"token"`
}

type authReply struct {
	User      UserRef    `json:"user"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

func (h *Hub) handleAuth(c *conn, data json.RawMessage) (any, error) {
	var req authRequest
	if err := decode(data, &req); err != nil {
		return nil, err
	}
	if h.cfg.Authenticator == nil {
		return nil, Errorf(CodeInvalid, "this hub runs without authentication")
	}
	exp, err := h.authenticate(c, req.Token)
	if err != nil {
		return nil, err
	}
	reply := authReply{User: c.currentUser().ref()}
	if !exp.IsZero() {
		exp = exp.UTC()
		reply.ExpiresAt = &exp
	}
	return reply, nil
}

// decode unmarshals an event's data object into v. A field of the wrong JSON
// type is an invalid error that names the field.
func decode(data json.RawMessage, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Errorf(CodeInvalid, "field %s must be a JSON %s", te.Field, jsonKind(te.Type.Kind().String()))
		}
		return Errorf(CodeInvalid, "data is not a valid JSON object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int64", "uint64", "float64":
		return "number"
	case "slice":
		return "array"
	}
	return "object"
}

// required returns an invalid error when s is empty.
func required(field, s string) error {
	if s == "" {
		return Errorf(CodeInvalid, "field %s is required", field)
	}
	if len(s) > maxIDBytes {
		return Errorf(CodeInvalid, "field %s is too long", field)
	}
	return nil
}

// optional returns an invalid error when an optional id is too long.
func optional(field, s string) error {
	if len(s) > maxIDBytes {
		return Errorf(CodeInvalid, "field %s is too long", field)
	}
	return nil
}

// pageLimit returns the page size a client asked for: def when it gave
// none, an invalid error outside 1 to max.
func pageLimit(limit, def, max int) (int, error) {
	switch {
	case limit == 0:
		return def, nil
	case limit < 0 || limit > max:
		return 0, Errorf(CodeInvalid, "field limit must be between 1 and %d", max)
	}
	return limit, nil
}

// maxIDBytes caps every id a client sends.
const maxIDBytes = 256

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// storeErr passes protocol errors through; any other failure of a backend
// is logged and wrapped as unavailable, keeping its cause for Go callers
// (errors.Is works for both): a client sees only the unavailable code and
// message (toWire), never the cause's text (SQL, addresses).
func (h *Hub) storeErr(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if !errors.Is(err, context.Canceled) {
		h.log.Error("realtime: backend failed", "op", op, "err", err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}
