package redisadapter_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/adapter/redisadapter"
)

func TestClientOptionsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name, addr, password string
		db                   int
		env                  map[string]string
	}{
		{"defaults", "127.0.0.1:6379", "", 0, nil},
		{"seed variables", "[::1]:6380", "s3cret", 2, map[string]string{"REDIS_HOST": "::1", "REDIS_PORT": "6380", "REDIS_PASSWORD": "s3cret", "REDIS_DB": "2"}},
		{"URL over the rest", "127.0.0.1:6390", "pw", 3, map[string]string{"REDIS_URL": "redis://:pw@127.0.0.1:6390/3", "REDIS_HOST": "elsewhere", "REDIS_DB": "9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"} {
				t.Setenv(name, tc.env[name])
			}
			o, err := redisadapter.ClientOptionsFromEnv()
			require.NoError(t, err)
			require.Equal(t, tc.addr, o.Addr)
			require.Equal(t, tc.password, o.Password)
			require.Equal(t, tc.db, o.DB)
		})
	}
	for name, bad := range map[string]string{"REDIS_URL": "http://x", "REDIS_PORT": "redis", "REDIS_DB": "-1"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("REDIS_URL", "")
			t.Setenv(name, bad)
			_, err := redisadapter.ClientOptionsFromEnv()
			require.ErrorContains(t, err, name)
		})
	}
}
