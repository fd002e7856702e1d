package redisadapter

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

// publications covers every field of a Publication, at its limits.
func publications() []realtime.Publication {
	return []realtime.Publication{
		{},
		{Op: realtime.OpDeliver, Frame: []byte(`{"event":"new-message","data":{"seq":42}}`), Seq: 42},
		{Frame: []byte("typing"), Except: "conn-7", Droppable: true},
		{Op: realtime.OpLeaveRoom, Room: "r1"},
		{Op: realtime.OpLeaveRoom, Frame: []byte("kicked"), Room: "room:with\nodd {chars}*"},
		{Op: realtime.OpCloseRoom, Frame: []byte("closed")},
		{Frame: []byte{0, 1, '\n', '\r', 0x7f, 0x80, 0xfe, 0xff, '"', '\\'}, Seq: math.MaxUint64, Except: "conn-é", Droppable: true, Key: "presence:u\x00"},
		{Frame: bytes.Repeat([]byte("x"), 70000), Room: string(bytes.Repeat([]byte("r"), 300)), Key: "k"},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, p := range publications() {
		got, err := decode(encode(p))
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
}

// TestCodecCarriesEveryField: with every field of a Publication set, what
// is decoded equals what was encoded, so that a field added to Publication
// and not to the codec fails here.
func TestCodecCarriesEveryField(t *testing.T) {
	var p realtime.Publication
	testenv.Fill(t, &p)
	got, err := decode(encode(p))
	require.NoError(t, err)
	require.Equal(t, p, got)
}

func TestDecodeRejects(t *testing.T) {
	valid := encode(realtime.Publication{Room: "r", Except: "e", Key: "k", Frame: []byte("f")})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short header":   {wireVersion, 0},
		"version":        append([]byte{wireVersion + 1}, valid[1:]...),
		"OpResync":       append([]byte{wireVersion, byte(realtime.OpResync)}, valid[2:]...),
		"unknown op":     append([]byte{wireVersion, 200}, valid[2:]...),
		"unknown flag":   append([]byte{wireVersion, 0, 0x80}, valid[3:]...),
		"no seq":         {wireVersion, 0, 0},
		"overlong seq":   append([]byte{wireVersion, 0, 0}, bytes.Repeat([]byte{0xff}, 11)...),
		"room too long":  {wireVersion, 0, 0, 0, 5, 'a'},
		"huge length":    append([]byte{wireVersion, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"no key length":  {wireVersion, 0, 0, 0, 0, 0},
		"truncated room": valid[:5],
	} {
		_, err := decode(b)
		require.Error(t, err, name)
	}
}

// FuzzDecode feeds decode what a publisher, or anyone who can PUBLISH on
// the adapter's channels, might send. It must not panic, and what it
// accepts must survive a round trip. The seed corpus is in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, p := range publications() {
		f.Add(encode(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decode(b)
		if err != nil {
			return
		}
		again, err := decode(encode(p))
		require.NoError(t, err)
		require.Equal(t, p, again)
	})
}
