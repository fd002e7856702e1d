package redisadapter_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/adapter/redisadapter"
)

func TestClientOptionsFromEnv(t *testing.T) {
	for _, name := range []string{"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_DB"} {
		t.Setenv(name, "")
	}
	o, err := redisadapter.ClientOptionsFromEnv()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:6379", o.Addr)

	t.Setenv("REDIS_HOST", "::1")
	t.Setenv("REDIS_PORT", "6380")
	t.Setenv("REDIS_PASSWORD", "s3cret")
	t.Setenv("REDIS_DB", "2")
	o, err = redisadapter.ClientOptionsFromEnv()
	require.NoError(t, err)
	require.Equal(t, "[::1]:6380", o.Addr)
	require.Equal(t, "s3cret", o.Password)
	require.Equal(t, 2, o.DB)

	t.Setenv("REDIS_URL", "redis://:pw@127.0.0.1:6390/3")
	o, err = redisadapter.ClientOptionsFromEnv()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:6390", o.Addr)
	require.Equal(t, "pw", o.Password)
	require.Equal(t, 3, o.DB)

	for name, bad := range map[string]string{"REDIS_URL": "http://x", "REDIS_PORT": "redis", "REDIS_DB": "-1"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("REDIS_URL", "")
			t.Setenv(name, bad)
			_, err := redisadapter.ClientOptionsFromEnv()
			require.ErrorContains(t, err, name)
		})
	}
}
