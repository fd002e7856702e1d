package realtime_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

// TestConfigFromEnv: every variable a deployment sets reaches its field;
// a malformed one is an error that names it.
func TestConfigFromEnv(t *testing.T) {
	for name, v := range map[string]string{
		"WEBSOCKET_CORS_ORIGIN": "app.example.com, https://admin.example.com",
		"JWT_SECRET":            "a-secret-that-is-32-bytes-long!!",
		"MAX_MESSAGE_LENGTH":    "500", "MAX_MESSAGES_PER_MINUTE": "30",
		"MAX_ROOMS_PER_USER": "7", "MAX_USERS_PER_ROOM": "20000",
		"MAX_EVENTS_PER_SECOND": "80", "MAX_TOKEN_BYTES": "4096", "RESUME_LIMIT": "250",
		"ROOM_EXPIRY": "2h", "OFFLINE_TIMEOUT": "40s", "PRESENCE_GRACE": "3s",
		"HEARTBEAT_INTERVAL": "15s", "PING_TIMEOUT": "9s", "AUTH_TIMEOUT": "4s",
		"WRITE_TIMEOUT": "6s", "STORE_TIMEOUT": "8s", "PUBLISH_TIMEOUT": "2s", "TYPING_TIMEOUT": "5s",
		"METRICS_INTERVAL": "1m",
		"MAX_FILE_SIZE":    "5MB", "MAX_FRAME_BYTES": "128KB", "SEND_QUEUE_BYTES": "4MB",
	} {
		t.Setenv(name, v)
	}
	cfg, err := realtime.ConfigFromEnv()
	require.NoError(t, err)
	require.NotNil(t, cfg.Authenticator)
	cfg.Authenticator = nil
	require.Equal(t, realtime.Config{
		AllowedOrigins:   []string{"app.example.com", "https://admin.example.com"},
		MaxMessageLength: 500, MaxMessagesPerMinute: 30, MaxRoomsPerUser: 7, MaxUsersPerRoom: 20000,
		MaxEventsPerSecond: 80, MaxTokenBytes: 4096, ResumeLimit: 250,
		DefaultRoomExpiry: 2 * time.Hour, OfflineTimeout: 40 * time.Second, PresenceGrace: 3 * time.Second,
		HeartbeatInterval: 15 * time.Second, PingTimeout: 9 * time.Second, AuthTimeout: 4 * time.Second,
		WriteTimeout: 6 * time.Second, StoreTimeout: 8 * time.Second, PublishTimeout: 2 * time.Second,
		TypingTimeout: 5 * time.Second, StatsLogInterval: time.Minute,
		MaxFileSize: 5 << 20, MaxFrameBytes: 128 << 10, SendQueueBytes: 4 << 20,
	}, cfg)

	for name, bad := range map[string]string{
		"MAX_EVENTS_PER_SECOND": "many", "HEARTBEAT_INTERVAL": "15", "SEND_QUEUE_BYTES": "4 parsecs", "RESUME_LIMIT": "1e3",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, bad)
			_, err := realtime.ConfigFromEnv()
			require.ErrorContains(t, err, name)
		})
	}
}
