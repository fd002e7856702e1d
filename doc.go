// Package realtime adds realtime rooms (chat, live updates, presence,
// notifications) to a Go service.
//
// A Hub is an http.Handler: mount it on the service's own mux and it upgrades
// each request to a WebSocket speaking protocol realtime.v1 or realtime.v2 (PROTOCOL.md in
// the repository is the wire contract). Clients authenticate, create and join
// rooms, and send messages to a room, to one user on all of their
// connections, or to everyone; the host application acts on the same rooms
// through the Hub's methods and hooks on Config.
//
//	hub, err := realtime.New(realtime.Config{
//		Authenticator: jwtAuth, // realtime.NewJWT(...)
//	})
//	...
//	mux.Handle("GET /ws", hub)
//	...
//	defer hub.Shutdown(ctx)
//
// # Host API
//
// Rooms the host names and owns: CreateRoom with RoomOptions.ID, and
// EnsureRoom ("the room of order 42" needs no mapping); UpdateRoom,
// AddMember, UpdateMember, ListMembers, Kick and DeleteRoom, each with the
// events clients see. Stored messages of its own: PostMessage. Live pushes:
// SendToRoom, SendToUser, Broadcast. Disconnect closes a user's connections
// on every node. Subscribe streams a room's events to Go code (a GraphQL
// resolver, a Server-Sent Events bridge), authorized as the user's client
// would be; SubscribeUser streams a user's own pushes, and Do runs a client
// event for a user without a socket (the resolvers of another API). Notify
// stores notifications for users and pushes them on every
// node (with automatic ones for mentions, direct messages to users away and
// invitations; Config.Notifications). Health reports whether the Store and
// the Broker answer, and Config.Observer receives measurements
// (metrics/prometheus).
//
// # Lifecycle
//
// New validates the Config (an invalid field is an error naming it) and
// starts the Broker. Each connection has one goroutine that reads and
// handles its events in order and one that writes; both end when the
// connection closes. While a connection's messages wait for a slow Store
// (SQL), a third stores them in groups, publishes and acks them in the order
// sent, and ends when none wait; the connection's other events take effect
// after the messages sent before them. Shutdown refuses new upgrades with 503, closes every
// connection with 1001 after writing what was queued for it; Close does the
// same at once, without waiting for anything but the hub's own goroutines.
// Both may be called more than once. A hub closes only what it created: the
// Broker, Presence and Store of the Config are the caller's, to close after
// Shutdown or Close returns.
//
// # Guarantees
//
//   - Within a room, every subscribed connection receives messages in seq
//     order, without gaps or duplicates, while it lives and keeps up.
//   - A message is acknowledged only after the Store saved it and the
//     Broker accepted it.
//   - A connection whose send queue (Config.SendQueueBytes) overflows is
//     closed with 4009; it never slows the other members of its rooms.
//     Typing indicators are dropped before that point.
//   - Each event is encoded once, however many connections receive it, and
//     connections batch what is queued into one WebSocket frame.
//   - The sender of a message is the authenticated user, never a payload
//     field, and the Store checks that it is a member who is not muted in
//     the step that saves the message.
//   - A write that takes longer than Config.WriteTimeout ends its
//     connection. A hook that panics ends only the connection it was
//     serving, with 1011; the panic is logged and the hub goes on.
//   - An idle connection costs one goroutine; its writer, and the
//     goroutine that stores its messages, run only while they have work.
//
// # Security defaults
//
// Cross-origin upgrades are refused unless Config.AllowedOrigins names the
// origin. Tokens (Authorization header, token query parameter or a first
// auth event within AuthTimeout) are verified by the Authenticator; NewJWT
// accepts only the methods its key allows, requires exp and caps token size.
// Tokens never appear in logs or error messages. Frames are capped
// (MaxFrameBytes, close 1009), events and messages are rate limited per
// connection and per user (rate_limited, then close 4008 for sustained
// abuse). A Config without Authenticator runs in development mode with
// anonymous users and logs a warning.
//
// # Presence
//
// A user is online while any of its connections lives, on any node, and
// for PresenceGrace after the last one closed, so that a reconnect shows no
// flap. Statuses are online, away, busy and invisible (seen as offline by
// others); presence-changed goes to the rooms the user belongs to, and
// get-presence answers for users who share a room with the caller. Each
// node keeps its users' records in the PresenceBackend and heartbeats them: when a
// node dies, another announces its users offline within OfflineTimeout.
//
// # Backends
//
// The Store (rooms, members, messages, files, last seen) defaults to an
// in-memory store, NewMemoryStore; store/sqlstore keeps everything in SQLite
// or PostgreSQL, and store/storetest is the conformance suite of Store
// implementations. A Broker (Config.Broker) carries events between the hubs
// of a cluster and a PresenceBackend (Config.Presence) keeps their presence
// records; package adapter holds both contracts, redisadapter implements
// them over Redis, memadapter connects several hubs of one process, and
// adaptertest is their conformance suite. The default serves one node. Each
// node restores the seq order of what the Broker hands it and fills gaps
// from the Store.
//
// # Transports
//
// ServeHTTP serves the native WebSocket; ServeTransport serves a connection
// over any Transport with the same events and rules. A Transport reads
// client frames and writes typed server Frames (a push, a reply, a failed
// reply), each with its native encoding built once for every recipient:
// the native transport batches those, the Socket.IO bridge builds its
// packets from the parts, and a transport of another protocol needs no
// JSON parsing (transport_test.go has one over Go channels). FileHandler
// serves file uploads and downloads for rooms.
//
// # Examples
//
// examples/chat is a runnable chat server with a browser UI
// (go run ./examples/chat); package client is the Go client.
package realtime
