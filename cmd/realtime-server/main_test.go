package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlagsListenOnLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8090", true},
		{"[::1]:0", true},
		{"localhost:8090", true},
		{":8090", false},
		{"0.0.0.0:8090", false},
		{"10.0.0.5:8090", false},
		{"example.com:8090", false},
	} {
		_, err := parseFlags([]string{"-addr", tc.addr}, io.Discard)
		if tc.ok {
			assert.NoError(t, err, tc.addr)
		} else {
			assert.Error(t, err, tc.addr)
		}
	}
}

func TestBackends(t *testing.T) {
	_, _, err := openAdapter(t.Context(), options{adapter: "redis", redisURL: "mysql://127.0.0.1"})
	assert.ErrorContains(t, err, "-redis")
	_, _, err = openAdapter(t.Context(), options{adapter: "nats"})
	assert.Error(t, err)

	_, _, err = openStore(t.Context(), options{store: "postgres"})
	assert.ErrorContains(t, err, "needs -postgres")

	path := filepath.Join(t.TempDir(), "bench.db")
	store, closeStore, err := openStore(t.Context(), options{store: "sqlite", sqlitePath: path})
	require.NoError(t, err)
	assert.NotNil(t, store)
	closeStore()
	_, err = os.Stat(path)
	assert.NoError(t, err, "a named SQLite file is kept")
}
