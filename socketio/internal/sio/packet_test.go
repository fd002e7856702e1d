package sio

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func raws(ss ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(ss))
	for i, s := range ss {
		out[i] = json.RawMessage(s)
	}
	return out
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Packet
	}{
		{"0", Packet{Type: TypeConnect, Namespace: "/", ID: -1}},
		{`0{"token":"123"}`, Packet{Type: TypeConnect, Namespace: "/", ID: -1, Data: json.RawMessage(`{"token":"123"}`)}},
		{"0/admin,", Packet{Type: TypeConnect, Namespace: "/admin", ID: -1}},
		{"0/random", Packet{Type: TypeConnect, Namespace: "/random", ID: -1}}, // encodes as 0/random,
		{`0/admin,{"sid":"x"}`, Packet{Type: TypeConnect, Namespace: "/admin", ID: -1, Data: json.RawMessage(`{"sid":"x"}`)}},
		{"1", Packet{Type: TypeDisconnect, Namespace: "/", ID: -1}},
		{"1/admin,", Packet{Type: TypeDisconnect, Namespace: "/admin", ID: -1}},
		{`2["foo"]`, Packet{Type: TypeEvent, Namespace: "/", ID: -1, Data: json.RawMessage(`["foo"]`), Args: raws(`"foo"`)}},
		{`2/admin,["bar",1,{"a":[true]}]`, Packet{Type: TypeEvent, Namespace: "/admin", ID: -1, Data: json.RawMessage(`["bar",1,{"a":[true]}]`), Args: raws(`"bar"`, `1`, `{"a":[true]}`)}},
		{`212["foo"]`, Packet{Type: TypeEvent, Namespace: "/", ID: 12, Data: json.RawMessage(`["foo"]`), Args: raws(`"foo"`)}},
		{`20["foo"]`, Packet{Type: TypeEvent, Namespace: "/", ID: 0, Data: json.RawMessage(`["foo"]`), Args: raws(`"foo"`)}},
		{`3/admin,13["bar"]`, Packet{Type: TypeAck, Namespace: "/admin", ID: 13, Data: json.RawMessage(`["bar"]`), Args: raws(`"bar"`)}},
		{`30[]`, Packet{Type: TypeAck, Namespace: "/", ID: 0, Data: json.RawMessage(`[]`), Args: raws()}},
		{`4{"message":"Not authorized"}`, Packet{Type: TypeConnectError, Namespace: "/", ID: -1, Data: json.RawMessage(`{"message":"Not authorized"}`)}},
		{`51-["baz",{"_placeholder":true,"num":0}]`, Packet{Type: TypeBinaryEvent, Namespace: "/", ID: -1, Attachments: 1,
			Data: json.RawMessage(`["baz",{"_placeholder":true,"num":0}]`), Args: raws(`"baz"`, `{"_placeholder":true,"num":0}`)}},
		{`52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, Packet{Type: TypeBinaryEvent, Namespace: "/admin", ID: -1, Attachments: 2,
			Data: json.RawMessage(`["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), Args: raws(`"baz"`, `{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":1}`)}},
		{`61-15["bar",{"_placeholder":true,"num":0}]`, Packet{Type: TypeBinaryAck, Namespace: "/", ID: 15, Attachments: 1,
			Data: json.RawMessage(`["bar",{"_placeholder":true,"num":0}]`), Args: raws(`"bar"`, `{"_placeholder":true,"num":0}`)}},
		{`29007199254740991["x"]`, Packet{Type: TypeEvent, Namespace: "/", ID: MaxID, Data: json.RawMessage(`["x"]`), Args: raws(`"x"`)}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Decode([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			// Encoding gives the same text back, with the comma that ends
			// a namespace.
			want := tc.in
			if got.Namespace != "/" && !strings.Contains(want, ",") {
				want += ","
			}
			require.Equal(t, want, string(got.Append(nil)))
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err error
	}{
		{"", ErrEmpty},
		{"7", ErrType},
		{"abc", ErrType},
		{"0[]", ErrPayload},                // CONNECT payload must be an object
		{`0{"a":`, ErrPayload},             // invalid JSON
		{`012{}`, ErrID},                   // no ack id on CONNECT
		{`1{}`, ErrPayload},                // DISCONNECT has no payload
		{"2", ErrPayload},                  // an event needs a payload
		{"2{}", ErrPayload},                // ... that is an array
		{"2[]", ErrPayload},                // ... not empty
		{"2[1]", ErrPayload},               // ... starting with a string name
		{`2abc["a"]`, ErrPayload},          // junk where the id would be
		{`290071992547409920["a"]`, ErrID}, // id beyond 2^53-1
		{`212345678901234567["a"]`, ErrID}, // 17 digits
		{`3["a"]`, ErrID},                  // an ack needs an id
		{"31{}", ErrPayload},               // ... and an array
		{`5["a"]`, ErrAttachments},         // binary types need a count
		{`5-["a"]`, ErrAttachments},        // ... of digits
		{`5100-["a"]`, ErrAttachments},     // ... at most 64
		{`51["a"]`, ErrAttachments},        // ... ended by '-'
		{"0/\xff,", ErrNamespace},          // namespace must be UTF-8
		{`2["a"`, ErrPayload},              // truncated
		{`2["a"]x`, ErrPayload},            // trailing junk
		{"0/" + string(make([]byte, 300)), ErrNamespace},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Decode([]byte(tc.in))
			require.ErrorIs(t, err, tc.err)
		})
	}
}

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		p    Packet
		want string
	}{
		{Packet{Type: TypeConnect, Namespace: "/", ID: -1, Data: json.RawMessage(`{"sid":"a"}`)}, `0{"sid":"a"}`},
		{Packet{Type: TypeConnectError, Namespace: "/random", ID: -1, Data: json.RawMessage(`{"message":"Invalid namespace"}`)}, `4/random,{"message":"Invalid namespace"}`},
		{Packet{Type: TypeDisconnect, Namespace: "/custom", ID: -1}, `1/custom,`},
		{Packet{Type: TypeEvent, Namespace: "/", ID: -1, Args: raws(`"a"`, `{}`)}, `2["a",{}]`},
		{Packet{Type: TypeAck, Namespace: "/", ID: 0, Args: raws()}, `30[]`},
		{Packet{Type: TypeBinaryAck, Namespace: "/", ID: 789, Attachments: 2, Args: raws(`{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":1}`)},
			`62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
	} {
		require.Equal(t, tc.want, string(tc.p.Append(nil)))
	}
}

// FuzzDecode checks that any input decodes or fails cleanly, and that a
// decoded packet encodes to text that decodes to the same packet.
func FuzzDecode(f *testing.F) {
	// More seeds live in testdata/fuzz/FuzzDecode.
	for _, s := range []string{"0", `2["a"]`, `212["a",{}]`, `3/x,1[]`, `52-["a",{"_placeholder":true,"num":0}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		out := p.Append(nil)
		q, err := Decode(out)
		require.NoError(t, err, "%q encoded as %q", b, out)
		require.Equal(t, p.Type, q.Type)
		require.Equal(t, p.Namespace, q.Namespace)
		require.Equal(t, p.ID, q.ID)
		require.Equal(t, p.Attachments, q.Attachments)
		require.Equal(t, len(p.Args), len(q.Args))
	})
}
