package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/realtime-go/realtime/adapter"
)

// Config configures a Hub. The zero Config is a working single-node hub:
// in-memory store, in-process adapter, cross-origin upgrades refused, and
// anonymous development mode (see Authenticator). Every field's comment says
// what its zero value means. New applies the defaults to a copy.
type Config struct {
	// AllowedOrigins lists the origins, as host patterns ("example.com",
	// "*.example.com") or "scheme://host" patterns, that may open a
	// connection from a browser page of another origin. Empty: same-origin
	// only. Requests without an Origin header (non-browser clients) pass.
	AllowedOrigins []string

	// Authenticator verifies tokens (see NewJWT). Nil means development
	// mode: every connection gets an anonymous user id and New logs a
	// warning. Never run a public hub that way.
	Authenticator Authenticator
	// AuthTimeout is how long a connection without a token in its request
	// may take to send its auth event before it is closed with 4001.
	// Zero: 10s.
	AuthTimeout time.Duration
	// TokenExpiryWarning is how long before a token's expiry the
	// connection is sent token-expiring. Zero: 1m.
	TokenExpiryWarning time.Duration
	// MaxTokenBytes caps the length of a token. Zero: 8192.
	MaxTokenBytes int

	// Store keeps rooms, members and messages. Nil: NewMemoryStore with
	// default options (single node only). The hub does not close it.
	Store Store
	// Broker carries events between the hubs of a cluster
	// (adapter/redisadapter, adapter/memadapter). Nil: this hub is the only
	// node. The hub starts it and does not close it: close it after the
	// hub's Shutdown or Close.
	Broker adapter.Broker
	// Presence keeps the cluster's presence records. Nil: the Broker, when
	// it is also an adapter.PresenceBackend (as redisadapter's is); else,
	// with no Broker, this node's own. A Broker without Presence is an
	// error: each node would see only its own users online.
	Presence adapter.PresenceBackend
	// Notifications configures stored notifications: the automatic ones,
	// a hook on them, and retention.
	Notifications NotificationOptions
	// Observer receives the hub's measurements (metrics/prometheus is one).
	// Nil: none, at no cost.
	Observer Observer
	// StatsLogInterval, when positive, logs the node's counts (Stats) at
	// Info level that often: the seed's monitoring.metricsInterval.
	StatsLogInterval time.Duration
	// Logger receives the hub's structured logs. Nil: slog.Default().
	Logger *slog.Logger

	// ClientRoomIDs lets clients name the rooms they create (create-room's
	// "id", checked as RoomOptions.ID). False: clients' rooms get generated
	// ids, and an "id" is invalid.
	ClientRoomIDs bool
	// MaxRoomsPerUser caps the rooms one user may belong to; more is
	// refused with limit_exceeded. Zero: 100. Negative: no cap.
	MaxRoomsPerUser int
	// MaxUsersPerRoom is the default and the upper bound of a room's
	// maxUsers; a full room refuses joins with room_full. Zero: 1000.
	MaxUsersPerRoom int
	// DefaultRoomExpiry is how long a room may stay without members before
	// it is deleted. Zero: 24h. Negative: empty rooms are kept.
	DefaultRoomExpiry time.Duration

	// MaxMessageLength caps a message's content, in characters; longer is
	// refused with too_large. Zero: 2000.
	MaxMessageLength int
	// MaxMessagesPerMinute is each user's message budget, shared by all of
	// its connections; more is refused with rate_limited. Zero: 60.
	// Negative: no limit.
	MaxMessagesPerMinute int
	// MaxEventsPerSecond is each connection's budget of events of any kind,
	// with bursts of twice as many; more is refused with rate_limited.
	// A connection that keeps exceeding its budgets is closed with 4008.
	// Zero: 50. Negative: no limit.
	MaxEventsPerSecond int

	// MaxConnectionsPerUser caps the connections one user holds on this
	// node; another is refused with 429 before the upgrade when its token
	// came with the request, else closed with 4008 when it authenticates.
	// The count is per node (a cluster of n nodes allows n times as many).
	// Zero: 100; negative: no limit.
	MaxConnectionsPerUser int
	// MaxConnectionsPerAddress caps the connections from one remote address
	// (the request's RemoteAddr: behind a reverse proxy, the proxy's, so
	// leave it off there); another is refused with 429 before the upgrade.
	// Zero: no limit.
	MaxConnectionsPerAddress int
	// MaxPendingConnections caps the connections upgraded without a token
	// that have not yet sent their auth event (they are closed after
	// AuthTimeout); another is refused with 429 before the upgrade. Zero:
	// 1000; negative: no limit.
	MaxPendingConnections int

	// MaxFrameBytes caps one client frame; a larger one closes the
	// connection with 1009. Zero: 64 KiB.
	MaxFrameBytes int64
	// Compression negotiates permessage-deflate (RFC 7692) with native
	// WebSocket clients that offer it, without context takeover: no
	// compression window is kept between messages, so an idle connection
	// costs no more. Messages of CompressionThreshold bytes or more are
	// compressed, each for each connection: it trades CPU for bytes on the
	// wire (BENCHMARKS.md has both). A client's compressed frame is limited
	// by MaxFrameBytes once decompressed. Off by default.
	Compression bool
	// CompressionThreshold is the smallest message compressed. Zero: 512.
	CompressionThreshold int
	// SendQueueBytes caps the bytes queued for one connection; a
	// connection whose queue overflows is closed with 4009, so that it never
	// slows the others. Zero: 1 MiB.
	SendQueueBytes int64
	// WriteTimeout bounds one write to a connection. Zero: 10s.
	WriteTimeout time.Duration
	// StoreTimeout bounds each read the hub makes of the Store outside a
	// client's request, and those of a join's resume and sequencing; and
	// how long a room waits, on a node that heard a later message first,
	// for a missing one (from the node's own sends, or read back from the
	// Store) before it delivers the later ones without it. Zero: 10s.
	StoreTimeout time.Duration
	// PublishTimeout bounds how long a stored message waits for a remote
	// Broker to take its publication (during an outage, say); the sender
	// then gets unavailable although the message is stored (PROTOCOL.md
	// section 6). Zero: 10s.
	PublishTimeout time.Duration
	// HeartbeatInterval is how often the hub pings each connection; a
	// connection that does not answer within PingTimeout is closed.
	// Zero: 25s.
	HeartbeatInterval time.Duration
	// PingTimeout: zero means 20s.
	PingTimeout time.Duration
	// OfflineTimeout bounds how long the users of a node that stopped
	// without a word (a crash, a lost network) still look online to the
	// rest of the cluster. Zero: 30s.
	OfflineTimeout time.Duration
	// PresenceGrace is how long a user whose last connection closed still
	// looks online, so that a quick reconnect shows no offline/online flap.
	// Zero: 5s.
	PresenceGrace time.Duration
	// LargeRoom is the member count above which a room is large: its
	// members are not sent each other's joins, leaves and presence changes
	// (which would cost the square of the room's size in frames as it
	// fills) but member-count, the room's size, at most once per
	// PresenceCoalesce, or once per PresenceCoalesce × (its members on
	// this node ÷ LargeRoom) when more, so that a room of any size costs a
	// node at most LargeRoom frames a window; they page through the
	// members and their presence with list-members. Zero: 1000 (the default MaxUsersPerRoom, so that
	// only rooms allowed to grow past it are large); negative: no room is.
	LargeRoom int
	// PresenceCoalesce is the window within which a connection receives
	// only the latest presence change of each user, batched into one frame.
	// Zero: 100ms.
	PresenceCoalesce time.Duration
	// ResumeLimit caps the messages a join-room with since replays; when
	// more were missed the hub replays none and answers recovered:false.
	// Zero: 1000.
	ResumeLimit int
	// TypingTimeout is how long a typing indicator lasts without being
	// renewed before the hub sends isTyping:false. Zero: 3s.
	TypingTimeout time.Duration

	// MaxFileSize caps one shared file, in bytes; a larger upload is
	// refused with too_large and nothing of it is kept. Zero: 10 MiB.
	MaxFileSize int64

	// OnConnect runs on the connection's goroutine after authentication,
	// before the connection is registered and sent connected. An error
	// refuses the connection: a *CloseError closes it with its code, any
	// other error with 4003.
	OnConnect func(ctx context.Context, e ConnectEvent) error
	// OnDisconnect runs once per connection that OnConnect accepted, after
	// it is closed and unregistered, with a context that ends when the hub
	// closes. It must not block for long.
	OnDisconnect func(ctx context.Context, e DisconnectEvent)
	// AuthorizeJoin runs before a connection joins a room, after the
	// hub's own checks (membership of private rooms) passed. An error
	// refuses the join: its code when it is an *Error, forbidden otherwise.
	AuthorizeJoin func(ctx context.Context, e JoinEvent) error
	// OnPresence runs when a user's presence as others see it changes: on
	// the node where the change happened (with several nodes, set it on
	// each), with a context that ends when the hub closes. It must not
	// block for long.
	OnPresence func(ctx context.Context, p Presence)
	// OnMessage runs before a message is stored, and before an edit of it
	// is stored (m then holds the stored message with its new Content), and
	// may change its Content, Type and Metadata; an edit keeps only the
	// Content. An error refuses the message or the edit: its code when it
	// is an *Error, forbidden otherwise.
	OnMessage func(ctx context.Context, m *Message) error
}

const (
	defaultAuthTimeout          = 10 * time.Second
	defaultTokenExpiryWarning   = time.Minute
	defaultMaxTokenBytes        = 8192
	defaultConnsPerUser         = 100
	defaultPendingConns         = 1000
	defaultMaxRoomsPerUser      = 100
	defaultMaxUsersPerRoom      = 1000
	defaultLargeRoom            = 1000
	defaultCompressionThreshold = 512
	defaultRoomExpiry           = 24 * time.Hour
	defaultMaxMessageLength     = 2000
	defaultMessagesPerMinute    = 60
	defaultEventsPerSecond      = 50
	defaultMaxFrameBytes        = 64 << 10
	defaultSendQueueBytes       = 1 << 20
	defaultWriteTimeout         = 10 * time.Second
	defaultStoreTimeout         = 10 * time.Second
	defaultPublishTimeout       = 10 * time.Second
	defaultHeartbeatInterval    = 25 * time.Second
	defaultPingTimeout          = 20 * time.Second
	defaultTypingTimeout        = 3 * time.Second
	defaultResumeLimit          = 1000
	defaultOfflineTimeout       = 30 * time.Second
	defaultPresenceGrace        = 5 * time.Second
	defaultPresenceCoalesce     = 100 * time.Millisecond
)

// withDefaults returns a copy of c with zero fields set to their defaults, or
// an error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setInt := func(n *int, def int) {
		if *n == 0 {
			*n = def
		}
	}
	if c.Presence == nil && c.Broker != nil {
		p, ok := c.Broker.(adapter.PresenceBackend)
		if !ok {
			return c, errors.New("realtime: Config.Broker is set but Config.Presence is not, and the Broker is no PresenceBackend")
		}
		c.Presence = p
	}
	setDur(&c.AuthTimeout, defaultAuthTimeout)
	setDur(&c.TokenExpiryWarning, defaultTokenExpiryWarning)
	setDur(&c.DefaultRoomExpiry, defaultRoomExpiry)
	setDur(&c.WriteTimeout, defaultWriteTimeout)
	setDur(&c.StoreTimeout, defaultStoreTimeout)
	setDur(&c.PublishTimeout, defaultPublishTimeout)
	setDur(&c.HeartbeatInterval, defaultHeartbeatInterval)
	setDur(&c.PingTimeout, defaultPingTimeout)
	setDur(&c.TypingTimeout, defaultTypingTimeout)
	setDur(&c.OfflineTimeout, defaultOfflineTimeout)
	setDur(&c.PresenceGrace, defaultPresenceGrace)
	setDur(&c.PresenceCoalesce, defaultPresenceCoalesce)
	setInt(&c.MaxTokenBytes, defaultMaxTokenBytes)
	setInt(&c.MaxRoomsPerUser, defaultMaxRoomsPerUser)
	setInt(&c.MaxUsersPerRoom, defaultMaxUsersPerRoom)
	setInt(&c.LargeRoom, defaultLargeRoom)
	setInt(&c.CompressionThreshold, defaultCompressionThreshold)
	setInt(&c.MaxMessageLength, defaultMaxMessageLength)
	setInt(&c.MaxMessagesPerMinute, defaultMessagesPerMinute)
	setInt(&c.MaxEventsPerSecond, defaultEventsPerSecond)
	setInt(&c.ResumeLimit, defaultResumeLimit)
	setInt(&c.MaxConnectionsPerUser, defaultConnsPerUser)
	setInt(&c.MaxPendingConnections, defaultPendingConns)
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = defaultMaxFrameBytes
	}
	if c.MaxFileSize == 0 {
		c.MaxFileSize = defaultMaxFileSize
	}
	if c.SendQueueBytes == 0 {
		c.SendQueueBytes = defaultSendQueueBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}

	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"AuthTimeout", c.AuthTimeout < 0},
		{"TokenExpiryWarning", c.TokenExpiryWarning < 0},
		{"WriteTimeout", c.WriteTimeout < 0},
		{"StoreTimeout", c.StoreTimeout < 0},
		{"PublishTimeout", c.PublishTimeout < 0},
		{"HeartbeatInterval", c.HeartbeatInterval < 0},
		{"PingTimeout", c.PingTimeout < 0},
		{"TypingTimeout", c.TypingTimeout < 0},
		{"OfflineTimeout", c.OfflineTimeout < 0},
		{"PresenceGrace", c.PresenceGrace < 0},
		{"PresenceCoalesce", c.PresenceCoalesce < 0},
		{"MaxTokenBytes", c.MaxTokenBytes < 0},
		{"MaxUsersPerRoom", c.MaxUsersPerRoom < 0},
		{"CompressionThreshold", c.CompressionThreshold < 0},
		{"MaxMessageLength", c.MaxMessageLength < 0},
		{"ResumeLimit", c.ResumeLimit < 0},
		{"MaxConnectionsPerAddress", c.MaxConnectionsPerAddress < 0},
		{"MaxFrameBytes", c.MaxFrameBytes < 256},
		{"SendQueueBytes", c.SendQueueBytes < c.MaxFrameBytes},
		{"MaxFileSize", c.MaxFileSize < 0},
	} {
		if f.bad {
			return c, fmt.Errorf("realtime: invalid Config.%s", f.name)
		}
	}
	for _, o := range c.AllowedOrigins {
		if o == "" || o == "*" {
			return c, fmt.Errorf("realtime: invalid Config.AllowedOrigins entry %q: name the origins to allow", o)
		}
	}
	return c, nil
}

// ConfigFromEnv returns a Config read from the environment variables of the
// seed design, for examples and twelve-factor hosts:
//
//	WEBSOCKET_CORS_ORIGIN    comma-separated allowed origins
//	JWT_SECRET               HS256 secret; unset means development mode
//	MAX_MESSAGE_LENGTH       characters per message
//	MAX_MESSAGES_PER_MINUTE  messages per user per minute
//	MAX_ROOMS_PER_USER, MAX_USERS_PER_ROOM, LARGE_ROOM
//	MAX_EVENTS_PER_SECOND    events per connection per second
//	MAX_TOKEN_BYTES, RESUME_LIMIT
//	MAX_CONNECTIONS_PER_USER, MAX_CONNECTIONS_PER_ADDRESS, MAX_PENDING_CONNECTIONS
//	ROOM_EXPIRY, OFFLINE_TIMEOUT, PRESENCE_GRACE, HEARTBEAT_INTERVAL,
//	PING_TIMEOUT, AUTH_TIMEOUT, WRITE_TIMEOUT, STORE_TIMEOUT,
//	PUBLISH_TIMEOUT, TYPING_TIMEOUT, METRICS_INTERVAL (StatsLogInterval)  Go durations ("30s")
//	MAX_FILE_SIZE, MAX_FRAME_BYTES, SEND_QUEUE_BYTES  bytes, or with a unit: "10MB" (B, KB, MB, GB; 1 KB = 1024 bytes)
//	COMPRESSION              true or false; COMPRESSION_THRESHOLD bytes
//
// The seed's REDIS_* variables are read where an adapter is built:
// redisadapter.ClientOptionsFromEnv.
//
// An unset variable leaves the field at its zero value (the default); a
// malformed one is an error naming the variable. Store, Broker, Presence,
// Logger and hooks are left for the caller to set.
func ConfigFromEnv() (Config, error) {
	var c Config
	var errs []error
	if v := os.Getenv("WEBSOCKET_CORS_ORIGIN"); v != "" {
		for o := range strings.SplitSeq(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.AllowedOrigins = append(c.AllowedOrigins, o)
			}
		}
	}
	if v := os.Getenv("JWT_SECRET"); v != "" {
		j, err := NewJWT(JWTConfig{Secret: []byte(v)})
		if err != nil {
			errs = append(errs, fmt.Errorf("JWT_SECRET: %w", err))
		} else {
			c.Authenticator = j
		}
	}
	errs = fromEnv(errs, "an integer", strconv.Atoi, []envVar[int]{
		{"MAX_MESSAGE_LENGTH", &c.MaxMessageLength}, {"MAX_MESSAGES_PER_MINUTE", &c.MaxMessagesPerMinute},
		{"MAX_ROOMS_PER_USER", &c.MaxRoomsPerUser}, {"MAX_USERS_PER_ROOM", &c.MaxUsersPerRoom}, {"LARGE_ROOM", &c.LargeRoom},
		{"MAX_EVENTS_PER_SECOND", &c.MaxEventsPerSecond}, {"MAX_TOKEN_BYTES", &c.MaxTokenBytes},
		{"RESUME_LIMIT", &c.ResumeLimit}, {"MAX_CONNECTIONS_PER_USER", &c.MaxConnectionsPerUser},
		{"MAX_CONNECTIONS_PER_ADDRESS", &c.MaxConnectionsPerAddress}, {"MAX_PENDING_CONNECTIONS", &c.MaxPendingConnections},
		{"COMPRESSION_THRESHOLD", &c.CompressionThreshold},
	})
	errs = fromEnv(errs, "a boolean", strconv.ParseBool, []envVar[bool]{{"COMPRESSION", &c.Compression}})
	errs = fromEnv(errs, "a duration", time.ParseDuration, []envVar[time.Duration]{
		{"ROOM_EXPIRY", &c.DefaultRoomExpiry}, {"OFFLINE_TIMEOUT", &c.OfflineTimeout},
		{"PRESENCE_GRACE", &c.PresenceGrace}, {"HEARTBEAT_INTERVAL", &c.HeartbeatInterval},
		{"PING_TIMEOUT", &c.PingTimeout}, {"AUTH_TIMEOUT", &c.AuthTimeout},
		{"WRITE_TIMEOUT", &c.WriteTimeout}, {"STORE_TIMEOUT", &c.StoreTimeout},
		{"PUBLISH_TIMEOUT", &c.PublishTimeout}, {"TYPING_TIMEOUT", &c.TypingTimeout},
		{"METRICS_INTERVAL", &c.StatsLogInterval},
	})
	errs = fromEnv(errs, "a size", parseByteSize, []envVar[int64]{
		{"MAX_FILE_SIZE", &c.MaxFileSize}, {"MAX_FRAME_BYTES", &c.MaxFrameBytes}, {"SEND_QUEUE_BYTES", &c.SendQueueBytes},
	})
	return c, errors.Join(errs...)
}

// envVar is an environment variable and the Config field it sets.
type envVar[T any] struct {
	name string
	dst  *T
}

// fromEnv sets the field of each variable that is set, as parse reads it;
// a value parse refuses adds an error naming the variable to errs.
func fromEnv[T any](errs []error, what string, parse func(string) (T, error), vars []envVar[T]) []error {
	for _, v := range vars {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		x, err := parse(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("realtime: %s=%q is not %s: %w", v.name, s, what, err))
			continue
		}
		*v.dst = x
	}
	return errs
}
