// Package diskblob is a realtime.BlobStore that keeps each shared file in one
// file of a local directory. It suits a single node, or nodes that share the
// directory (a network volume).
package diskblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/realtime-go/realtime"
)

// idPattern admits the ids the hub generates ("f_" and lowercase base32) and
// nothing that could name another file: no dot, no separator, no upper case
// (which would collide on case-insensitive file systems).
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)

// tempPrefix starts the name of a blob being written. It cannot match
// idPattern, so an incomplete blob is never opened.
const tempPrefix = ".tmp-"

// staleAge is how old a temporary file must be for New to remove it as the
// remains of a crashed process rather than a Put in progress elsewhere.
const staleAge = time.Hour

var _ realtime.BlobStore = (*Store)(nil)

// Store keeps blobs in a directory. It is safe for concurrent use, also by
// several processes sharing the directory.
type Store struct {
	dir string
}

// New returns a Store that keeps its blobs in dir, creating it (mode 0700)
// if needed. It removes temporary files older than an hour, left by a
// process that crashed while writing.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("diskblob: empty directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("diskblob: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("diskblob: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAge {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return &Store{dir: dir}, nil
}

// path returns the file of a blob, or an error for an id outside idPattern,
// before anything touches the file system.
func (s *Store) path(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("diskblob: invalid id %q", truncate(id))
	}
	return filepath.Join(s.dir, id), nil
}

// Put writes r to a temporary file of the directory, syncs it and renames it
// to id, so that the blob appears complete or not at all. When r fails or
// ctx ends, the temporary file is removed and nothing is stored. A blob that
// exists under id is replaced.
func (s *Store) Put(ctx context.Context, id string, r io.Reader) (err error) {
	name, err := s.path(id)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("diskblob: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, r}); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("diskblob: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("diskblob: %w", err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("diskblob: %w", err)
	}
	syncDir(s.dir)
	return nil
}

// Open opens the blob stored under id. A missing blob is an error matching
// realtime.ErrNotFound.
func (s *Store) Open(_ context.Context, id string) (io.ReadCloser, error) {
	name, err := s.path(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("diskblob: %s: %w", id, realtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("diskblob: %w", err)
	}
	return f, nil
}

// Delete removes the blob stored under id; a missing blob is not an error.
func (s *Store) Delete(_ context.Context, id string) error {
	name, err := s.path(id)
	if err != nil {
		return err
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("diskblob: %w", err)
	}
	return nil
}

// syncDir makes a rename durable where the platform allows it; elsewhere
// (Windows) it does nothing.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// ctxReader fails with the context's error once it ends, so that a Put
// stops between two reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
