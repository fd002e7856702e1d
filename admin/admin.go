// Package admin serves a hub's admin HTTP API: JSON over HTTP for the
// people who run the service. Mount it under a prefix of the host's mux:
//
//	mux.Handle("/admin/", http.StripPrefix("/admin", admin.New(hub, admin.Options{Authenticator: auth})))
//
// # Authentication
//
// Every request carries "Authorization: Bearer <token>", verified by
// Options.Authenticator (the hub's JWT, say); the user must have the
// hub-wide "admin" role. Options.Authorize replaces both steps for hosts
// with their own scheme. Cookies are never read, so another site cannot make
// a browser send an authenticated request (no CSRF). Missing or bad
// credentials get 401, a user who is not an admin 403.
//
// # Routes
//
//	GET    /rooms?user=ID                  the rooms of user ID and every public room (without user: the public rooms)
//	GET    /rooms/{id}                     a room
//	GET    /rooms/{id}/members?after=&limit=   a page of members, and the members online now
//	PATCH  /rooms/{id}/members/{userId}    {"role"?, "isMuted"?}: change or mute a member
//	POST   /rooms/{id}/kick                {"userId", "reason"?}: remove a member
//	POST   /rooms/{id}/messages            {"content", "type"?, "senderName"?, "clientMsgId"?}: post a stored message (type "system" by default)
//	DELETE /rooms/{id}                     delete a room
//	POST   /users/{id}/disconnect          {"code"?, "reason"?}: close every connection of a user, on every node (code 1000 by default; 4003 bans)
//	POST   /broadcast                      {"event", "data"?}: push an event to every connection
//	GET    /connections                    every connection of the cluster
//	GET    /stats                          this node's counts and the cluster's
//
// Replies are JSON. Errors are {"error": {"code", "message"}} with the
// protocol's codes and their HTTP statuses (realtime.Code.HTTPStatus):
// invalid input 400, unknown ids 404, conflict 409, unavailable 503. Bodies
// are at most 64 KiB and must not carry unknown fields. Every action that changes something is logged with who did it;
// tokens never are.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/realtime-go/realtime"
)

// Options configures the API.
type Options struct {
	// Authenticator verifies the bearer token of each request; the user
	// must have the "admin" role.
	Authenticator realtime.Authenticator
	// Authorize, when set, replaces Authenticator: it returns the admin
	// making the request, or an error (a *realtime.Error with
	// CodeForbidden for 403; anything else is 401).
	Authorize func(r *http.Request) (realtime.User, error)
	// Logger receives one line per action. Nil: slog.Default().
	Logger *slog.Logger
}

// maxBody bounds a request body.
const maxBody = 64 << 10

// API is the admin http.Handler.
type API struct {
	hub *realtime.Hub
	o   Options
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the admin API of hub. It needs Options.Authenticator or
// Options.Authorize.
func New(hub *realtime.Hub, o Options) (*API, error) {
	if o.Authenticator == nil && o.Authorize == nil {
		return nil, errors.New("admin: Options needs an Authenticator or Authorize")
	}
	a := &API{hub: hub, o: o, log: o.Logger, mux: http.NewServeMux()}
	if a.log == nil {
		a.log = slog.Default()
	}
	for pattern, fn := range map[string]func(w http.ResponseWriter, r *http.Request, admin realtime.User) error{
		"GET /rooms":                         a.listRooms,
		"GET /rooms/{id}":                    a.getRoom,
		"GET /rooms/{id}/members":            a.listMembers,
		"PATCH /rooms/{id}/members/{userId}": a.updateMember,
		"POST /rooms/{id}/kick":              a.kick,
		"POST /rooms/{id}/messages":          a.postMessage,
		"DELETE /rooms/{id}":                 a.deleteRoom,
		"POST /users/{id}/disconnect":        a.disconnect,
		"POST /broadcast":                    a.broadcast,
		"GET /connections":                   a.connections,
		"GET /stats":                         a.stats,
	} {
		a.mux.Handle(pattern, a.guard(fn))
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &realtime.Error{Code: realtime.CodeNotFound, Message: "no such route"})
	})
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// guard authenticates the admin, then runs fn and writes its error.
func (a *API) guard(fn func(w http.ResponseWriter, r *http.Request, admin realtime.User) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admin, err := a.authorize(r)
		if err != nil {
			writeError(w, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := fn(w, r, admin); err != nil {
			writeError(w, err)
		}
	})
}

var errUnauthorized = &realtime.Error{Code: realtime.CodeUnauthorized, Message: "a bearer token of an admin is required"}

func (a *API) authorize(r *http.Request) (realtime.User, error) {
	if a.o.Authorize != nil {
		u, err := a.o.Authorize(r)
		var e *realtime.Error
		if errors.As(err, &e) && e.Code == realtime.CodeForbidden {
			return realtime.User{}, e
		}
		if err != nil {
			return realtime.User{}, errUnauthorized
		}
		return u, nil
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return realtime.User{}, errUnauthorized
	}
	u, _, err := a.o.Authenticator.Authenticate(r.Context(), token)
	if err != nil || u.ID == "" {
		return realtime.User{}, errUnauthorized
	}
	if !u.HasRole("admin") {
		return realtime.User{}, &realtime.Error{Code: realtime.CodeForbidden, Message: "the admin role is required"}
	}
	return u, nil
}

// decode reads a JSON body into v: one object, no unknown fields.
func decode(r *http.Request, v any) error {
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &realtime.Error{Code: realtime.CodeTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", maxBody)}
		}
		return &realtime.Error{Code: realtime.CodeInvalid, Message: "the body is not the JSON object expected: " + err.Error()}
	}
	if d.More() {
		return &realtime.Error{Code: realtime.CodeInvalid, Message: "the body has more than one JSON value"}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err: its protocol code and the matching HTTP status.
func writeError(w http.ResponseWriter, err error) {
	var e *realtime.Error
	switch {
	case errors.Is(err, realtime.ErrHubClosed):
		e = &realtime.Error{Code: realtime.CodeUnavailable, Message: "the hub is shutting down"}
	case !errors.As(err, &e):
		e = &realtime.Error{Code: realtime.CodeInternal, Message: "internal error"}
	}
	status := e.Code.HTTPStatus()
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}})
}

// action logs what an admin did.
func (a *API) action(ctx context.Context, admin realtime.User, what string, args ...any) {
	a.log.InfoContext(ctx, "admin: "+what, append([]any{"admin", admin.ID}, args...)...)
}

func (a *API) listRooms(w http.ResponseWriter, r *http.Request, _ realtime.User) error {
	rooms, err := a.hub.Rooms(r.Context(), r.URL.Query().Get("user"))
	if err != nil {
		return err
	}
	if rooms == nil {
		rooms = []realtime.Room{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rooms})
	return nil
}

func (a *API) getRoom(w http.ResponseWriter, r *http.Request, _ realtime.User) error {
	room, err := a.hub.Room(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"room": room})
	return nil
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request, _ realtime.User) error {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &realtime.Error{Code: realtime.CodeInvalid, Message: "limit must be a number"}
		}
		limit = n
	}
	id := r.PathValue("id")
	members, more, err := a.hub.ListMembers(r.Context(), id, q.Get("after"), limit)
	if err != nil {
		return err
	}
	online, err := a.hub.RoomPresence(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"members": members, "hasMore": more, "online": online})
	return nil
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request, admin realtime.User) error {
	var req struct {
		Role    *realtime.Role `json:"role"`
		IsMuted *bool          `json:"isMuted"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	room, user := r.PathValue("id"), r.PathValue("userId")
	m, err := a.hub.UpdateMember(r.Context(), room, user, realtime.MemberUpdate{Role: req.Role, IsMuted: req.IsMuted})
	if err != nil {
		return err
	}
	a.action(r.Context(), admin, "update member", "room", room, "user", user, "role", m.Role, "muted", m.IsMuted)
	writeJSON(w, http.StatusOK, map[string]any{"member": m})
	return nil
}

func (a *API) kick(w http.ResponseWriter, r *http.Request, admin realtime.User) error {
	var req struct {
		UserID string `json:"userId"`
		Reason string `json:"reason"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.UserID == "" {
		return &realtime.Error{Code: realtime.CodeInvalid, Message: "userId is required"}
	}
	room := r.PathValue("id")
	if err := a.hub.Kick(r.Context(), room, req.UserID, req.Reason); err != nil {
		return err
	}
	a.action(r.Context(), admin, "kick", "room", room, "user", req.UserID, "reason", req.Reason)
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (a *API) postMessage(w http.ResponseWriter, r *http.Request, admin realtime.User) error {
	var req struct {
		Content     string               `json:"content"`
		Type        realtime.MessageType `json:"type"`
		SenderName  string               `json:"senderName"`
		ClientMsgID string               `json:"clientMsgId"`
		Metadata    json.RawMessage      `json:"metadata"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	room := r.PathValue("id")
	m, err := a.hub.PostMessage(r.Context(), realtime.PostOptions{RoomID: room, Content: req.Content, Type: req.Type,
		SenderName: req.SenderName, ClientMsgID: req.ClientMsgID, Metadata: req.Metadata})
	if err != nil {
		return err
	}
	a.action(r.Context(), admin, "post message", "room", room, "message", m.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"message": m})
	return nil
}

func (a *API) deleteRoom(w http.ResponseWriter, r *http.Request, admin realtime.User) error {
	room := r.PathValue("id")
	if err := a.hub.DeleteRoom(r.Context(), room); err != nil {
		return err
	}
	a.action(r.Context(), admin, "delete room", "room", room)
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (a *API) disconnect(w http.ResponseWriter, r *http.Request, admin realtime.User) error {
	var req struct {
		Code   realtime.StatusCode `json:"code"`
		Reason string              `json:"reason"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Code == 0 {
		req.Code = realtime.StatusNormal
	}
	user := r.PathValue("id")
	if err := a.hub.Disconnect(r.Context(), user, req.Code, req.Reason); err != nil {
		return err
	}
	a.action(r.Context(), admin, "disconnect user", "user", user, "code", int(req.Code), "reason", req.Reason)
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

func (a *API) broadcast(w http.ResponseWriter, r *http.Request, admin realtime.User) error {
	var req struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Data == nil {
		req.Data = json.RawMessage("null")
	}
	if err := a.hub.Broadcast(r.Context(), req.Event, req.Data); err != nil {
		return err
	}
	a.action(r.Context(), admin, "broadcast", "event", req.Event)
	writeJSON(w, http.StatusAccepted, map[string]any{})
	return nil
}

func (a *API) connections(w http.ResponseWriter, r *http.Request, _ realtime.User) error {
	conns, err := a.hub.Connections(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": conns})
	return nil
}

func (a *API) stats(w http.ResponseWriter, r *http.Request, _ realtime.User) error {
	conns, err := a.hub.Connections(r.Context())
	if err != nil {
		return err
	}
	nodes, users := map[string]bool{}, map[string]bool{}
	for _, c := range conns {
		nodes[c.Node], users[c.User.ID] = true, true
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"node":    map[string]any{"id": a.hub.NodeID(), "stats": a.hub.Stats()},
		"cluster": map[string]int{"nodes": len(nodes), "connections": len(conns), "users": len(users)},
	})
	return nil
}
