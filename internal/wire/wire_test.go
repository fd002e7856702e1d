package wire

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func TestDecodeClient(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ClientFrame
		wantErr error
	}{
		{"event only", `{"event":"list-rooms"}`, ClientFrame{Event: "list-rooms", Data: emptyObject}, nil},
		{"with data and ack", `{"event":"message","data":{"roomId":"r"},"ack":7}`, ClientFrame{Event: "message", Data: json.RawMessage(`{"roomId":"r"}`), Ack: 7}, nil},
		{"null data", `{"event":"x","data":null,"ack":1}`, ClientFrame{Event: "x", Data: emptyObject, Ack: 1}, nil},
		{"surrounding space", " \n{\"event\":\"x\"}\n", ClientFrame{Event: "x", Data: emptyObject}, nil},
		{"empty", ``, ClientFrame{}, ErrEmptyFrame},
		{"malformed", `{"event":`, ClientFrame{}, ErrBadJSON},
		{"array", `[1,2]`, ClientFrame{}, ErrNotObject},
		{"string", `"hello"`, ClientFrame{}, ErrNotObject},
		{"garbage", `hello`, ClientFrame{}, ErrBadJSON},
		{"invalid utf8", "{\"event\":\"x\xff\"}", ClientFrame{}, ErrBadUTF8},
		{"event number", `{"event":5,"ack":3}`, ClientFrame{Ack: 3}, ErrBadEvent},
		{"event missing", `{"data":{},"ack":3}`, ClientFrame{Ack: 3}, ErrBadEvent},
		{"data array keeps ack", `{"event":"x","data":[1],"ack":4}`, ClientFrame{Event: "x", Ack: 4}, ErrBadData},
		{"data string", `{"event":"x","data":"s"}`, ClientFrame{Event: "x"}, ErrBadData},
		{"ack zero", `{"event":"x","ack":0}`, ClientFrame{}, ErrBadAck},
		{"ack negative", `{"event":"x","ack":-1}`, ClientFrame{}, ErrBadAck},
		{"ack fraction", `{"event":"x","ack":1.5}`, ClientFrame{}, ErrBadAck},
		{"ack string", `{"event":"x","ack":"1"}`, ClientFrame{}, ErrBadAck},
		{"ack too big", `{"event":"x","ack":9007199254740992}`, ClientFrame{}, ErrBadAck},
		{"ack largest", `{"event":"x","ack":9007199254740991}`, ClientFrame{Event: "x", Data: emptyObject, Ack: MaxAck}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeClient([]byte(tt.in))
			require.ErrorIs(t, err, tt.wantErr)
			if tt.wantErr == nil {
				require.Equal(t, tt.want, got)
			} else {
				require.Equal(t, tt.want.Ack, got.Ack)
				require.Equal(t, tt.want.Event, got.Event)
			}
		})
	}
}

func TestAppendRoundTrip(t *testing.T) {
	var frame []byte
	frame = AppendPush(frame, "new-message", []byte(`{"id":"m1"}`))
	frame = append(frame, '\n')
	frame = AppendAck(frame, 9, nil)
	frame = append(frame, '\n')
	frame = AppendAckError(frame, 10, "forbidden", "not a \"member\"\n")

	var got []ServerFrame
	require.NoError(t, DecodeServer(frame, func(f ServerFrame) { got = append(got, f) }))
	require.Equal(t, []ServerFrame{
		{Event: "new-message", Data: json.RawMessage(`{"id":"m1"}`)},
		{Ack: 9, Data: json.RawMessage(`{}`)},
		{Ack: 10, Error: &ErrorBody{Code: "forbidden", Message: "not a \"member\"\n"}},
	}, got)

	c, err := DecodeClient(AppendClient(nil, "join-room", []byte(`{"roomId":"<r>"}`), 3))
	require.NoError(t, err)
	require.Equal(t, ClientFrame{Event: "join-room", Data: json.RawMessage(`{"roomId":"<r>"}`), Ack: 3}, c)
}

func TestDecodeServerRejects(t *testing.T) {
	require.ErrorIs(t, DecodeServer([]byte(`[1]`), func(ServerFrame) {}), ErrNotObject)
	require.ErrorIs(t, DecodeServer([]byte("{\"event\":\"a\"}\n{bad"), func(ServerFrame) {}), ErrBadJSON)
}

// FuzzDecodeClient checks that no input panics the decoder and that what it
// accepts is well formed: data is an object and ack is in range.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"event":"message","data":{"roomId":"r","content":"hi"},"ack":1}`,
		`{"event":"x","data":[1],"ack":4}`, `[]`, `{`, "{\"event\":\"\xff\"}",
		`{"event":"a","ack":9007199254740991}`, `{"event":"a","data":null}`,
		`{"event":"join\u002droom","data":{}}`, `{"event":"a\"b"}`,
		` { "event" : "é" , "ack" : 0 } `, `{"data":{"a":[1,{"b":"}"}]},"event":"x","ack":12}`,
		`{"event":"x","EVENT":"y"}`, `{"event":"x","data":{"a":"\u00e9\"}"}}`, "{\"event\":\"x\xff\"}",
		`{"event":"x","ack":1.0}`, `{"event":"x","ack":01}`, `{"event":"x","data":{]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The fast path must read exactly what encoding/json reads.
		if plain, ok := decodePlainClient(b); ok {
			ref, err := decodeJSONClient(b)
			if err != nil || ref.Event != plain.Event || ref.Ack != plain.Ack || string(ref.Data) != string(plain.Data) {
				t.Fatalf("fast path read %q as %+v; encoding/json: %+v, %v", b, plain, ref, err)
			}
		}
		fr, err := DecodeClient(b)
		if err != nil {
			return
		}
		if fr.Event == "" || fr.Ack > MaxAck || len(fr.Data) == 0 || fr.Data[0] != '{' {
			t.Fatalf("accepted a malformed frame: %+v", fr)
		}
		if !json.Valid(fr.Data) {
			t.Fatalf("data is not valid JSON: %q", fr.Data)
		}
		var ref struct{ Event string }
		if json.Unmarshal(b, &ref) == nil && ref.Event != fr.Event {
			t.Fatalf("event %q, encoding/json reads %q", fr.Event, ref.Event)
		}
	})
}

// FuzzDecodeServer checks that the client-side decoder never panics on
// whatever a server (or a man in the middle) sends.
func FuzzDecodeServer(f *testing.F) {
	f.Add([]byte("{\"event\":\"a\",\"data\":{}}\n{\"ack\":1,\"data\":{}}"))
	f.Add([]byte(`{"ack":2,"error":{"code":"invalid","message":"x"}}`))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = DecodeServer(b, func(ServerFrame) {})
	})
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "new-message", "rate_limited", "a\"b", "<script>", "line\nbreak", "é"} {
		var got string
		require.NoError(t, json.Unmarshal(AppendString(nil, s), &got))
		require.Equal(t, s, got)
	}
	require.Equal(t, `"\u003cb\u003e"`, string(AppendString(nil, "<b>")))
}

// FuzzAppendString checks that AppendString writes what encoding/json
// writes for any string, and QuotedLen its length.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "join-room", "a b.c", `<a href="x">&`, "é\u2028\xff", "\x00\x1f\\", "\b\f\x7f\u2029", "\xed\xa0\x80 \xf0\x9f", `a "q" \ é 😀`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
		if n := QuotedLen(s); n != len(want) {
			t.Fatalf("QuotedLen(%q) = %d, AppendString writes %d bytes", s, n, len(want))
		}
	})
}

func TestAppendFrame(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 4096, 70000} {
		want := strings.Repeat("x", n)
		got, err := AppendFrame(make([]byte, 0, 8), iotest.OneByteReader(strings.NewReader(want)))
		require.NoError(t, err)
		require.Equal(t, want, string(got))
		got, err = AppendFrame([]byte("ab")[:0], strings.NewReader(want))
		require.NoError(t, err)
		require.Equal(t, want, string(got))
	}
	_, err := AppendFrame(nil, iotest.ErrReader(io.ErrUnexpectedEOF))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// FuzzAppendCompact checks AppendCompact on message pushes made of any
// strings, encoded in the order of the hub's Message: the result is the
// same JSON without data.senderId when it equals data.sender.id, and the
// frame unchanged otherwise. Any other bytes are appended unchanged or
// lose only such a member, and never panic.
func FuzzAppendCompact(f *testing.F) {
	f.Add("m_1", "r_1", "", "u_1", "u_1", "ann", `a "q" \ é 😀`, uint64(7))
	f.Add("m_1", "", "u_2", "u_1", "u_1", "a,\"senderId\":\"x\"", `,"senderId":"u_1","sender":{"id":"u_1"`, uint64(1))
	f.Add("m_1", "r", "", "u_1", "u_12", "ann", "x", uint64(2))
	f.Add("m_1", "r", "", `u\"1`, `u\"1`, "", "", uint64(0))
	type ref struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	type msg struct {
		ID          string `json:"id"`
		Seq         uint64 `json:"seq"`
		RoomID      string `json:"roomId,omitempty"`
		RecipientID string `json:"recipientId,omitempty"`
		SenderID    string `json:"senderId"`
		Sender      ref    `json:"sender"`
		Content     string `json:"content"`
	}
	f.Fuzz(func(t *testing.T, id, room, recipient, senderID, refID, username, content string, seq uint64) {
		data, err := json.Marshal(msg{id, seq, room, recipient, senderID, ref{refID, username}, content})
		require.NoError(t, err)
		frame := AppendPush(nil, "new-message", data)
		got := AppendCompact([]byte("x"), frame)
		require.Equal(t, "x", string(got[:1]), "appends to dst")
		got = got[1:]
		var want, have map[string]any
		require.NoError(t, json.Unmarshal(frame, &want))
		require.NoError(t, json.Unmarshal(got, &have), "%s", got)
		if string(AppendString(nil, senderID)) == string(AppendString(nil, refID)) {
			delete(want["data"].(map[string]any), "senderId")
			require.Less(t, len(got), len(frame))
		} else {
			require.Equal(t, string(frame), string(got))
		}
		require.Equal(t, want, have)
		_ = AppendCompact(nil, []byte(content)) // any bytes: no panic
	})
}

// TestAppendCompactOnlyTopLevel: a push the host shaped itself under a
// message's name keeps a senderId that is not the data's own, nested or
// after other members.
func TestAppendCompactOnlyTopLevel(t *testing.T) {
	for _, data := range []string{
		`{"quote":{"id":"q","senderId":"x","sender":{"id":"x"}},"senderId":"y","sender":{"id":"z"}}`,
		`{"id":"m","seq":1,"quote":{"senderId":"x","sender":{"id":"x"}}}`,
		`{"id":"m","seq":1,"other":"a","senderId":"x","sender":{"id":"x"}}`,
		`{"id":"m","seq":"1","senderId":"x","sender":{"id":"x"}}`,
	} {
		frame := AppendPush(nil, "new-message", []byte(data))
		require.Equal(t, string(frame), string(AppendCompact(nil, frame)), data)
	}
	frame := AppendPush(nil, "new-message", []byte(`{"id":"m","seq":1,"recipientId":"u2","senderId":"x","sender":{"id":"x","username":"X"}}`))
	require.Equal(t, `{"event":"new-message","data":{"id":"m","seq":1,"recipientId":"u2","sender":{"id":"x","username":"X"}}}`, string(AppendCompact(nil, frame)))
}
