package realtime

import "net/http"

// ConnectEvent describes a connection that has just authenticated.
type ConnectEvent struct {
	ConnectionID string
	User         User
	// Request is the upgrade request; its body is gone and it must not be
	// kept after the hook returns.
	Request *http.Request
}

// DisconnectEvent describes a connection that has closed.
type DisconnectEvent struct {
	ConnectionID string
	User         User
	// Code is the close code the hub sent, or the one the client sent
	// when the client closed first; 1006 when the link just dropped.
	Code   StatusCode
	Reason string
}

// JoinEvent describes a connection asking to join a room.
type JoinEvent struct {
	ConnectionID string
	User         User
	Room         Room
	// Member is the user's membership when it already exists; nil when the
	// join would make the user a member of a public room.
	Member *Member
}
