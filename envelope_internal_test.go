package realtime

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/testenv"
)

// publications covers every field of a publication, at its limits.
func publications() []publication {
	return []publication{
		{},
		{Op: opDeliver, Frame: []byte(`{"event":"new-message","data":{"seq":42}}`), Seq: 42},
		{Frame: []byte("typing"), Except: "conn-7", Droppable: true},
		{Op: opLeaveRoom, Room: "r1"},
		{Op: opLeaveRoom, Frame: []byte("kicked"), Room: "room:with\nodd {chars}*"},
		{Op: opCloseRoom, Frame: []byte("closed")},
		{Op: opDisconnect, Frame: []byte("banned"), Seq: 4003},
		{Op: opQuery, Room: "n_requester", Key: "q_1", Frame: []byte("connections")},
		{Op: opReply, Key: "q_1", Frame: []byte(`{"node":"n_1","connections":[]}`)},
		{Op: opLatest, Key: "member-count", Frame: []byte(`{"event":"member-count","data":{"roomId":"r","memberCount":1001}}`)},
		{Frame: []byte{0, 1, '\n', '\r', 0x7f, 0x80, 0xfe, 0xff, '"', '\\'}, Seq: math.MaxUint64, Except: "conn-é", Droppable: true, Key: "presence:u\x00"},
		{Frame: bytes.Repeat([]byte("x"), 70000), Room: string(bytes.Repeat([]byte("r"), 300)), Key: "k"},
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, p := range publications() {
		got, err := decodeEnvelope(encodeEnvelope(p))
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
}

// TestEnvelopeCarriesEveryField: with every field of a publication set, what
// is decoded equals what was encoded, so that a field added to publication
// and not to the envelope fails here.
func TestEnvelopeCarriesEveryField(t *testing.T) {
	var p publication
	testenv.Fill(t, &p)
	got, err := decodeEnvelope(encodeEnvelope(p))
	require.NoError(t, err)
	require.Equal(t, p, got)
}

func TestDecodeRejects(t *testing.T) {
	valid := encodeEnvelope(publication{Room: "r", Except: "e", Key: "k", Frame: []byte("f")})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short header":   {envelopeVersion, 0},
		"version":        append([]byte{envelopeVersion + 1}, valid[1:]...),
		"op 7":           append([]byte{envelopeVersion, 7}, valid[2:]...),
		"unknown op":     append([]byte{envelopeVersion, 200}, valid[2:]...),
		"unknown flag":   append([]byte{envelopeVersion, 0, 0x80}, valid[3:]...),
		"no seq":         {envelopeVersion, 0, 0},
		"overlong seq":   append([]byte{envelopeVersion, 0, 0}, bytes.Repeat([]byte{0xff}, 11)...),
		"room too long":  {envelopeVersion, 0, 0, 0, 5, 'a'},
		"huge length":    append([]byte{envelopeVersion, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"no key length":  {envelopeVersion, 0, 0, 0, 0, 0},
		"truncated room": valid[:5],
	} {
		_, err := decodeEnvelope(b)
		require.Error(t, err, name)
	}
}

// FuzzEnvelope feeds decode what a publisher, or anyone who can PUBLISH on
// the adapter's channels, might send. It must not panic, and what it
// accepts must survive a round trip. The seed corpus is in
// testdata/fuzz/FuzzEnvelope.
func FuzzEnvelope(f *testing.F) {
	for _, p := range publications() {
		f.Add(encodeEnvelope(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		again, err := decodeEnvelope(encodeEnvelope(p))
		require.NoError(t, err)
		require.Equal(t, p, again)
	})
}
