package eio

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodePacket(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Packet
		err  error
	}{
		{in: "0{}", want: Packet{Type: TypeOpen, Data: []byte("{}")}},
		{in: "1", want: Packet{Type: TypeClose, Data: []byte{}}},
		{in: "2probe", want: Packet{Type: TypePing, Data: []byte("probe")}},
		{in: "3", want: Packet{Type: TypePong, Data: []byte{}}},
		{in: "4hello é", want: Packet{Type: TypeMessage, Data: []byte("hello é")}},
		{in: "5", want: Packet{Type: TypeUpgrade, Data: []byte{}}},
		{in: "6", want: Packet{Type: TypeNoop, Data: []byte{}}},
		{in: "", err: ErrEmptyPacket},
		{in: "7", err: ErrPacketType},
		{in: "abc", err: ErrPacketType},
		{in: "b", err: ErrPacketType}, // base64 is for long-polling payloads only
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := DecodePacket([]byte(tc.in))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestDecodePayload(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []Packet
		err  error
	}{
		{name: "one", in: "4hello", want: []Packet{{Type: TypeMessage, Data: []byte("hello")}}},
		{name: "batch", in: "4a\x1e2\x1e4b", want: []Packet{
			{Type: TypeMessage, Data: []byte("a")}, {Type: TypePing, Data: []byte{}}, {Type: TypeMessage, Data: []byte("b")},
		}},
		{name: "binary", in: "4hello\x1ebAQIDBA==", want: []Packet{
			{Type: TypeMessage, Data: []byte("hello")}, {Type: TypeMessage, Data: []byte{1, 2, 3, 4}, Binary: true},
		}},
		{name: "empty binary", in: "b", want: []Packet{{Type: TypeMessage, Data: []byte{}, Binary: true}}},
		{name: "empty", in: "", err: ErrEmptyPacket},
		{name: "empty part", in: "4a\x1e\x1e4b", err: ErrEmptyPacket},
		{name: "trailing separator", in: "4a\x1e", err: ErrEmptyPacket},
		{name: "bad type", in: "4a\x1ex", err: ErrPacketType},
		{name: "bad base64", in: "b!!!", err: ErrBase64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []Packet
			err := DecodePayload([]byte(tc.in), func(p Packet) error {
				got = append(got, p)
				return nil
			})
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestAppendPolling(t *testing.T) {
	require.Equal(t, "4hi", string(appendPolling(nil, Frame{Data: []byte("4hi")})))
	require.Equal(t, "bAQIDBA==", string(appendPolling(nil, Frame{Data: []byte{1, 2, 3, 4}, Binary: true})))
	require.Equal(t, Frame{Data: []byte("2probe")}, Text(TypePing, "probe"))
}

// FuzzDecodePayload checks that any body decodes or fails cleanly, and
// that what decodes encodes back to the same body.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello", "4a\x1e2\x1e4b", "bAQIDBA==", "1", "2probe", "4\x1e", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var out []byte
		err := DecodePayload(body, func(p Packet) error {
			if len(out) > 0 {
				out = append(out, separator)
			}
			if p.Binary {
				out = appendPolling(out, Frame{Data: p.Data, Binary: true})
			} else {
				out = append(append(out, p.Type), p.Data...)
			}
			return nil
		})
		if err != nil {
			return
		}
		// Base64 may be written differently (padding); compare decodings.
		var again []Packet
		require.NoError(t, DecodePayload(out, func(p Packet) error { again = append(again, p); return nil }))
		var first []Packet
		require.NoError(t, DecodePayload(body, func(p Packet) error { first = append(first, p); return nil }))
		require.Equal(t, first, again)
	})
}
