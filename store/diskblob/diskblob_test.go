package diskblob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/store/diskblob"
)

func newStore(t *testing.T) (*diskblob.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := diskblob.New(dir)
	require.NoError(t, err)
	return s, dir
}

// names lists the directory's entries, temporary files included.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := []string{}
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func read(t *testing.T, s *diskblob.Store, id string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), id)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

func TestRoundTrip(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000)

	require.NoError(t, s.Put(ctx, "f_abcdefghijklmnop", bytes.NewReader(data)))
	require.Equal(t, data, read(t, s, "f_abcdefghijklmnop"))
	require.Equal(t, []string{"f_abcdefghijklmnop"}, names(t, dir))

	require.NoError(t, s.Put(ctx, "f_abcdefghijklmnop", strings.NewReader("replaced")))
	require.Equal(t, "replaced", string(read(t, s, "f_abcdefghijklmnop")))

	require.NoError(t, s.Put(ctx, "empty", strings.NewReader("")))
	require.Empty(t, read(t, s, "empty"))

	require.NoError(t, s.Delete(ctx, "f_abcdefghijklmnop"))
	_, err := s.Open(ctx, "f_abcdefghijklmnop")
	require.ErrorIs(t, err, realtime.ErrNotFound)
	require.NoError(t, s.Delete(ctx, "f_abcdefghijklmnop"), "deleting a missing blob")
	require.Equal(t, []string{"empty"}, names(t, dir))
}

func TestInvalidIDs(t *testing.T) {
	s, dir := newStore(t)
	ctx := context.Background()
	// A file beside the directory that a traversal would reach.
	outside := filepath.Join(filepath.Dir(dir), "secret")
	require.NoError(t, os.WriteFile(outside, []byte("secret"), 0o600))

	for _, id := range []string{
		"", ".", "..", "../secret", "..%2fsecret", "f_../../x", "a/b", `a\b`, "/etc/passwd",
		".tmp-123", "F_ABC", "f_abc.png", "f_abc\x00", "-x", "_x", " x", strings.Repeat("a", 129),
	} {
		t.Run(id, func(t *testing.T) {
			require.Error(t, s.Put(ctx, id, strings.NewReader("x")))
			_, err := s.Open(ctx, id)
			require.Error(t, err)
			require.NotErrorIs(t, err, realtime.ErrNotFound)
			require.Error(t, s.Delete(ctx, id))
		})
	}
	require.Empty(t, names(t, dir))
	b, err := os.ReadFile(outside)
	require.NoError(t, err)
	require.Equal(t, "secret", string(b))
}

// failingReader yields some bytes, then fails.
type failingReader struct{ n int }

var errBroken = errors.New("broken upload")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errBroken
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

func TestFailedPutLeavesNothing(t *testing.T) {
	s, dir := newStore(t)
	err := s.Put(context.Background(), "f_broken", &failingReader{n: 100 << 10})
	require.ErrorIs(t, err, errBroken)
	require.Empty(t, names(t, dir))
	_, err = s.Open(context.Background(), "f_broken")
	require.ErrorIs(t, err, realtime.ErrNotFound)
}

func TestCanceledPutLeavesNothing(t *testing.T) {
	s, dir := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The reader ends the context after its first bytes.
	r := io.MultiReader(strings.NewReader("first"), readerFunc(func([]byte) (int, error) {
		cancel()
		return 0, nil
	}), strings.NewReader("rest"))
	err := s.Put(ctx, "f_canceled", r)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, names(t, dir))

	require.ErrorIs(t, s.Put(ctx, "f_canceled", strings.NewReader("x")), context.Canceled)
	require.Empty(t, names(t, dir))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestNewRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".tmp-stale")
	fresh := filepath.Join(dir, ".tmp-fresh")
	for _, name := range []string{stale, fresh} {
		require.NoError(t, os.WriteFile(name, []byte("partial"), 0o600))
	}
	old := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))

	_, err := diskblob.New(dir)
	require.NoError(t, err)
	require.Equal(t, []string{".tmp-fresh"}, names(t, dir), "a recent temporary file may be a Put in progress")
}

func TestNewRefusesEmptyDir(t *testing.T) {
	_, err := diskblob.New("")
	require.Error(t, err)
}
