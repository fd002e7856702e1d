package gqlws

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestCorkedConnKeepsOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	server, client := net.Pipe()
	c := newCorkedConn(server)
	var want bytes.Buffer
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	for i := range 1000 {
		p := fmt.Appendf(nil, `{"id":"%d","type":"next","payload":"\"é😀\""}`, i)
		want.Write(p)
		n, err := c.Write(p)
		require.NoError(t, err)
		require.Equal(t, len(p), n)
	}
	require.NoError(t, c.Close(), "what waits is sent, then the connection closes")
	select {
	case b := <-got:
		require.Equal(t, want.String(), string(b))
	case <-time.After(10 * time.Second):
		t.Fatal("the reader did not get everything")
	}
	_, err := c.Write([]byte("late"))
	require.ErrorIs(t, err, net.ErrClosed)
}

func TestCorkedConnStalledReader(t *testing.T) {
	defer goleak.VerifyNone(t)
	server, client := net.Pipe() // nobody reads client
	defer client.Close()
	c := newCorkedConn(server)
	blocked := make(chan error, 1)
	go func() {
		p := make([]byte, 4096)
		for {
			if _, err := c.Write(p); err != nil {
				blocked <- err
				return
			}
		}
	}()
	// The writer fills corkLimit and waits; Close gives up on the reader
	// after its deadline and releases the writer.
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-blocked:
		t.Fatalf("the writer did not wait for the stalled reader: %v", err)
	default:
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	select {
	case err := <-blocked:
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("a writer waiting on a stalled reader was not released by Close")
	}
	select {
	case err := <-closed:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}
