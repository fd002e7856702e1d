package wsraw

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

func TestAppendFrame(t *testing.T) {
	for _, tc := range []struct {
		n      int
		binary bool
		header []byte
	}{
		{0, false, []byte{0x81, 0}},
		{125, false, []byte{0x81, 125}},
		{126, true, []byte{0x82, 126, 0, 126}},
		{65535, false, []byte{0x81, 126, 0xff, 0xff}},
		{65536, false, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		data := make([]byte, tc.n)
		for i := range data {
			data[i] = byte(i)
		}
		got := AppendFrame([]byte("x"), tc.binary, data)
		require.Equal(t, append(append([]byte("x"), tc.header...), data...), got, "%d bytes", tc.n)
		if !tc.binary {
			// Frame writes the same header in the reserved bytes.
			buf := append(make([]byte, MaxHeader), data...)
			require.Equal(t, got[1:], Frame(buf), "Frame of %d bytes", tc.n)
		}
	}
}

// TestHijackerKeepsEarlyBytes: a client that sends its first frame in the
// same packet as the upgrade request has it read, although the request's
// reader, which buffered it, is replaced; data messages written with
// WriteFrames and the library's control frames reach the client whole.
func TestHijackerKeepsEarlyBytes(t *testing.T) {
	for _, hold := range []bool{false, true} {
		t.Run(map[bool]string{false: "101 at once", true: "101 held"}[hold], func(t *testing.T) { testHijacker(t, hold) })
	}
}

// testHijacker is TestHijackerKeepsEarlyBytes with Hijacker.Hold as hold:
// the 101 response comes first either way.
func testHijacker(t *testing.T, hold bool) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &Hijacker{ResponseWriter: w, Hold: hold}
		ws, err := websocket.Accept(hw, r, nil)
		if err != nil {
			got <- err.Error()
			return
		}
		defer ws.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, data, err := ws.Read(ctx)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(data)
		big := strings.Repeat("y", 70000)
		buf := append(make([]byte, MaxHeader), big...)
		if err := hw.Conn.WriteFrames(time.Time{}, Frame(buf)); err != nil {
			t.Error(err)
		}
		ws.Close(websocket.StatusNormalClosure, "bye")
	}))
	defer srv.Close()

	nc, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	payload := []byte("early frame")
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
	for i, c := range payload {
		frame = append(frame, c^mask[i%4])
	}
	_, err = nc.Write(append([]byte(req), frame...)) // one write: one packet
	require.NoError(t, err)
	select {
	case early := <-got:
		require.Equal(t, "early frame", early)
	case <-time.After(10 * time.Second):
		t.Fatal("the frame sent with the request was not read")
	}

	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	head := make([]byte, 10)
	_, err = io.ReadFull(br, head)
	require.NoError(t, err)
	require.Equal(t, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70}, head, "a text frame of 70,000 bytes")
	body := make([]byte, 70000)
	_, err = io.ReadFull(br, body)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("y", 70000), string(body))
	close := make([]byte, 2)
	_, err = io.ReadFull(br, close)
	require.NoError(t, err)
	require.Equal(t, byte(0x88), close[0], "then the library's close frame")
}

// TestNoDataAfterClose: once the library has written a close frame, the
// connection takes no data frame.
func TestNoDataAfterClose(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _, _ = io.Copy(io.Discard, b) }()
	c := &Conn{Conn: a}
	require.NoError(t, c.WriteFrames(time.Time{}, AppendFrame(nil, false, []byte("before"))))
	_, err := c.Write([]byte{0x8a, 0}) // a pong: data may follow
	require.NoError(t, err)
	require.NoError(t, c.WriteFrames(time.Time{}, AppendFrame(nil, false, []byte("between"))))
	_, err = c.Write([]byte{0x88, 0x88, 'x'}) // text that starts as a close frame would
	require.NoError(t, err)
	require.NoError(t, c.WriteFrames(time.Time{}, AppendFrame(nil, false, []byte("still"))))
	_, err = c.Write([]byte{0x88, 2, 0x03, 0xe8}) // close 1000
	require.NoError(t, err)
	require.ErrorIs(t, c.WriteFrames(time.Time{}, AppendFrame(nil, false, []byte("after"))), net.ErrClosed)
}

type plainWriter struct{ http.ResponseWriter }

type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestCanHijack(t *testing.T) {
	rec := httptest.NewRecorder() // not a Hijacker
	require.False(t, CanHijack(rec))
	require.False(t, CanHijack(wrapper{plainWriter{rec}}))
	require.True(t, CanHijack(&Hijacker{ResponseWriter: rec}))
	require.True(t, CanHijack(wrapper{&Hijacker{ResponseWriter: rec}}))
}
