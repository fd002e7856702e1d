package realtime

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/testenv"
	"github.com/realtime-go/realtime/internal/wire"
)

// requireSameEncoding fails unless encodeMessagePush writes exactly what
// encodePush (encoding/json) writes for m.
func requireSameEncoding(t *testing.T, m Message) {
	t.Helper()
	want, wantErr := encodePush("new-message", m)
	got, err := encodeMessagePush("new-message", &m)
	if wantErr != nil {
		if err == nil {
			t.Fatalf("encoding/json fails (%v), encodeMessagePush wrote %s", wantErr, got)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encodeMessagePush differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	if pushByHand(&m) && cap(got) != len(got) {
		t.Fatalf("the push was sized %d for %d bytes: %s", cap(got), len(got), got)
	}
}

func TestEncodeMessagePushMatchesEncodingJSON(t *testing.T) {
	created := time.Date(2026, 11, 26, 9, 30, 1, 120_000_000, time.UTC)
	edited := created.Add(time.Minute)
	base := Message{
		ID: "m_abc", Seq: 7, RoomID: "r_1", SenderID: "u1", Sender: UserRef{ID: "u1", Username: "Ann"},
		Content: "hello", Type: TypeText, CreatedAt: created,
	}
	for name, edit := range map[string]func(m *Message){
		"plain":           func(*Message) {},
		"direct":          func(m *Message) { m.RoomID, m.RecipientID = "", "u2" },
		"global":          func(m *Message) { m.RoomID = "" },
		"reply and key":   func(m *Message) { m.ReplyToID, m.ClientMsgID = "m_parent", "c-1" },
		"unicode":         func(m *Message) { m.Content, m.Sender.Username = "héllo 👋 世界", "Zoë" },
		"html":            func(m *Message) { m.Content = `<script>alert("x") & 'y'</script>` },
		"escapes":         func(m *Message) { m.Content = "a\"b\\c\n\r\t\b\f\x00\x1f" },
		"line separators": func(m *Message) { m.Content = "a\u2028b\u2029c" },
		"invalid utf-8":   func(m *Message) { m.Content = "a\xffb\xc3" },
		"whole seconds":   func(m *Message) { m.CreatedAt = created.Truncate(time.Second) },
		"other zone":      func(m *Message) { m.CreatedAt = created.In(time.FixedZone("x", 3600)) },
		"odd zone":        func(m *Message) { m.CreatedAt = created.In(time.FixedZone("x", -(5*3600 + 30*60 + 7))) },
		"zone past a day": func(m *Message) { m.CreatedAt = created.In(time.FixedZone("x", 25*3600)) },
		"zero time":       func(m *Message) { m.CreatedAt = time.Time{} },
		"max seq":         func(m *Message) { m.Seq = 1<<64 - 1 },
		"file":            func(m *Message) { m.Type, m.Metadata = TypeFile, json.RawMessage(`{ "file": {"id": "f1"} }`) },
		"edited":          func(m *Message) { m.EditedAt = &edited },
		"deleted":         func(m *Message) { m.DeletedAt, m.Content = &edited, "" },
	} {
		t.Run(name, func(t *testing.T) {
			m := base
			edit(&m)
			requireSameEncoding(t, m)
		})
	}
}

// TestEncodersKnowEveryField guards the hand-written encoders: with every
// field set, they still write what encoding/json writes, so that a field
// added to Message or messageAck and not to its encoder fails here. The
// fields that send a message through encoding/json are left unset.
func TestEncodersKnowEveryField(t *testing.T) {
	var m Message
	testenv.Fill(t, &m, "Metadata", "EditedAt", "DeletedAt")
	m.Type = TypeText
	requireSameEncoding(t, m)

	var a messageAck
	testenv.Fill(t, &a)
	want, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := a.ackFrame(7)
	if want = wire.AppendAck(nil, 7, want); !ok || !bytes.Equal(got.Native(), want) {
		t.Fatalf("ackFrame = %s, %v; with encoding/json: %s", got.Native(), ok, want)
	}
}

func TestMessageAckMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 11, 26, 9, 30, 1, 120_000_000, time.UTC)
	for _, a := range []messageAck{
		{ID: "m_1", Timestamp: ts, Seq: 1},
		{ID: "m_2", Timestamp: ts.Truncate(time.Second), Seq: 1<<64 - 1, ClientMsgID: `c<"é">`},
		{ID: `m\3"q`, Timestamp: ts.In(time.FixedZone("x", -7200)), Seq: 0, ClientMsgID: "k"},
	} {
		want, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		want = wire.AppendAck(nil, 42, want)
		got, ok := a.ackFrame(42)
		if !ok || !bytes.Equal(got.Native(), want) {
			t.Fatalf("ackFrame = %s, %v; with encoding/json: %s", got.Native(), ok, want)
		}
		if n := got.Native(); cap(n) != len(n) {
			t.Fatalf("the ack was sized %d for %d bytes", cap(n), len(n))
		}
		require.Equal(t, FrameReply, got.Kind())
		require.Equal(t, uint64(42), got.Ack())
		require.JSONEq(t, string(want[len(`{"ack":42,"data":`):len(want)-1]), string(got.Data()))
	}
	for _, ts := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ts.In(time.FixedZone("x", 24*3600))} {
		if _, ok := (messageAck{Timestamp: ts}).ackFrame(1); ok {
			t.Fatalf("%v, which encoding/json refuses, was encoded", ts)
		}
	}
}

func FuzzEncodeMessagePush(f *testing.F) {
	f.Add("m_1", "r_1", "", "u1", "Ann", "hello", "text", "", "", uint64(1), int64(1_790_000_000_123_000_000))
	f.Add("m_2", "", "u2", "u1", "Zoë", "<b>\"hi\"</b>\n\u2028\xff", "file", "m_1", "c", uint64(1<<63), int64(-1))
	f.Fuzz(func(t *testing.T, id, room, recipient, sender, username, content, typ, replyTo, clientID string, seq uint64, nanos int64) {
		requireSameEncoding(t, Message{
			ID: id, Seq: seq, RoomID: room, RecipientID: recipient, SenderID: sender,
			Sender: UserRef{ID: sender, Username: username}, Content: content, Type: MessageType(typ),
			ReplyToID: replyTo, ClientMsgID: clientID, CreatedAt: time.Unix(0, nanos).UTC(),
		})
	})
}

// FuzzDecodeMessageRequest checks that the fast path of a message request
// reads what encoding/json reads, whenever it reads anything.
// TestDecodeEscapedContent: content with the characters JSON escapes takes
// the fast path and reads as encoding/json reads it.
func TestDecodeEscapedContent(t *testing.T) {
	for _, s := range []string{
		`{"roomId":"r_1","content":"a \"quoted\" \\ back\/slash é 😀 \u00e9\ud83d\ude00","clientMsgId":"c\u00e9"}`,
		`{"content":"lone \ud83d and \ude00 and \ud83d\u0041, nul \u0000, tab\t"}`,
	} {
		var fast, ref messageRequest
		require.True(t, fast.decodePlain([]byte(s)), s)
		require.NoError(t, json.Unmarshal([]byte(s), &ref))
		require.Equal(t, ref, fast)
	}
	for _, s := range []string{`{"content":"bad \x"}`, `{"content":"cut \u12"}`, `{"content\u0041":"x"}`} {
		var r messageRequest
		require.False(t, r.decodePlain([]byte(s)), s)
	}
}

func FuzzDecodeMessageRequest(f *testing.F) {
	for _, s := range []string{
		`{"roomId":"r_1","content":"#T123#xxxx"}`,
		` {"recipientId":"u2","content":"hé","type":"text","clientMsgId":"c1","replyToId":null} `,
		`{"roomId":"a","roomId":"b","content":"last wins"}`,
		`{"content":"x","metadata":{"a":1}}`, `{"content":"a\nb"}`, `{"Content":"x"}`,
		`{"content":1}`, `{"content":"x",}`, `{"content":"x"} {}`, "{\"content\":\"\xff\"}",
		`{"roomId":"r\u0031","content":"a \"q\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 é 😀"}`,
		`{"content":"\ud83d x \uDE00 \ud83d\u0041 \u0000"}`, `{"content":"bad \x"}`, `{"content":"cut \u12"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast messageRequest
		if !fast.decodePlain(b) {
			return
		}
		var ref messageRequest
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("fast path read %q, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(fast, ref) {
			t.Fatalf("fast path read %q as %+v; encoding/json: %+v", b, fast, ref)
		}
	})
}

// BenchmarkDecodeMessageRequest reads a message request whose content has
// what users type (quotes, a backslash, é, emoji): the fast path, and
// encoding/json, which escaped content took before it.
//
//	go test -run '^$' -bench DecodeMessageRequest -benchmem .
func BenchmarkDecodeMessageRequest(b *testing.B) {
	data := []byte(`{"roomId":"r_k3j5abcdefghijklmnopqrstuv","content":"a \"message\" of about one hundred bytes \\ é 😀, as users send them, with quotes","clientMsgId":"c_0123456789"}`)
	b.Run("fast-path", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var r messageRequest
			if !r.decodePlain(data) {
				b.Fatal("slow path")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var r messageRequest
			if err := json.Unmarshal(data, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestEscapedContentAllocatesAsPlain guards the fast path for what users
// write: reading a message request and encoding its push allocate the
// same with quotes, a backslash, <, é and emoji in the content as with
// plain letters (one string per field read, one buffer per push).
func TestEscapedContentAllocatesAsPlain(t *testing.T) {
	const escaped = `a \"message\" with \\ back\/slash, <b> \u0026 é 😀 \ud83d\ude00 and a\nnew line`
	plain := strings.Repeat("x", len(escaped))
	request := func(content string) []byte {
		return []byte(`{"roomId":"r_k3j5abcdefghijklmnopqrstuv","content":"` + content + `","clientMsgId":"c_0123456789"}`)
	}
	decodeAllocs := func(b []byte) float64 {
		return testing.AllocsPerRun(200, func() {
			var r messageRequest
			if !r.decodePlain(b) {
				t.Fatal("slow path")
			}
		})
	}
	require.Equal(t, 3.0, decodeAllocs(request(plain)), "one string per field")
	require.Equal(t, 3.0, decodeAllocs(request(escaped)), "escaped content")

	var r messageRequest
	require.True(t, r.decodePlain(request(escaped)))
	encodeAllocs := func(content string) float64 {
		m := Message{ID: "m_1", Seq: 7, RoomID: "r_1", SenderID: "u_1", Sender: UserRef{ID: "u_1", Username: "ann"},
			Content: content, Type: TypeText, CreatedAt: time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.UTC), ClientMsgID: "c_1"}
		return testing.AllocsPerRun(200, func() {
			if _, err := encodeMessagePush("new-message", &m); err != nil {
				t.Fatal(err)
			}
		})
	}
	require.Equal(t, 1.0, encodeAllocs(plain), "one buffer per push")
	require.Equal(t, 1.0, encodeAllocs(r.Content), "escaped content")
	require.Equal(t, 1.0, encodeAllocs(strings.Repeat("<&>", 40)), "content that escapes to six times its length")
}

// requireSameJoinReply fails unless joinReply.ackFrame writes exactly what
// encoding/json writes for r.
func requireSameJoinReply(t *testing.T, r joinReply) {
	t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		if _, ok := r.ackFrame(3); ok {
			t.Fatalf("encoding/json fails (%v), ackFrame encoded it", err)
		}
		return
	}
	want := wire.AppendAck(nil, 3, data)
	got, ok := r.ackFrame(3)
	if !ok || !bytes.Equal(got.Native(), want) {
		t.Fatalf("ackFrame differs from encoding/json (%v):\n got %s\nwant %s", ok, got.Native(), want)
	}
	require.Equal(t, FrameReply, got.Kind())
	require.Equal(t, uint64(3), got.Ack())
}

// TestJoinReplyMatchesEncodingJSON guards the encoder of the join-room
// ack: with every field of the room, its members and their presence set,
// and in the cases that leave fields out, it writes what encoding/json
// writes.
func TestJoinReplyMatchesEncodingJSON(t *testing.T) {
	var full joinReply
	testenv.Fill(t, &full.Room)
	var m Member
	testenv.Fill(t, &m)
	var p Presence
	testenv.Fill(t, &p)
	full.Members, full.Presence = []Member{m, m}, []Presence{p, p}
	full.MoreMembers, full.Missed, full.Recovered = true, 7, true
	requireSameJoinReply(t, full)

	at := time.Date(2026, 11, 26, 9, 30, 1, 120_000_000, time.UTC)
	for name, edit := range map[string]func(r *joinReply){
		"nothing else":  func(r *joinReply) { r.Members, r.Presence, r.MoreMembers, r.Recovered = nil, nil, false, false },
		"empty lists":   func(r *joinReply) { r.Members, r.Presence = []Member{}, []Presence{} },
		"public room":   func(r *joinReply) { r.Room.IsPrivate, r.Room.Description = false, "" },
		"never seen":    func(r *joinReply) { r.Presence = []Presence{{UserID: "u", Status: StatusOffline}} },
		"no room id":    func(r *joinReply) { r.Presence = []Presence{{UserID: "u", Status: StatusAway, LastSeenAt: &at}} },
		"escapes":       func(r *joinReply) { r.Room.Name, r.Members[0].Username = "<a href=\"x\">&\u2028\xff", "Zoë \"z\"\n" },
		"other zone":    func(r *joinReply) { r.Members[1].JoinedAt = at.In(time.FixedZone("x", -(5*3600 + 30*60))) },
		"negative":      func(r *joinReply) { r.Room.MaxUsers, r.Room.MemberCount, r.Missed = -1, -2, -3 },
		"year 10000":    func(r *joinReply) { r.Room.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"zone past day": func(r *joinReply) { r.Members[0].JoinedAt = at.In(time.FixedZone("x", 25*3600)) },
		"bad last seen": func(r *joinReply) { late := at.AddDate(9000, 0, 0); r.Presence[1].LastSeenAt = &late },
	} {
		t.Run(name, func(t *testing.T) {
			r := full
			r.Members, r.Presence = slices.Clone(full.Members), slices.Clone(full.Presence)
			edit(&r)
			requireSameJoinReply(t, r)
		})
	}
}

// FuzzDecodeJoinRequest checks that the fast path of a join-room request
// reads what encoding/json reads, whenever it reads anything.
func FuzzDecodeJoinRequest(f *testing.F) {
	for _, s := range []string{
		`{"roomId":"r_1"}`, ` {"roomId":"r_1","since":"m_9"} `, `{"roomId":"a","roomId":"b"}`,
		`{"roomId":null}`, `{"RoomId":"x"}`, `{"roomId":1}`, `{"roomId":"x",}`, `{"roomId":"x"} {}`,
		`{"roomId":"r\u0031 \ud83d"}`, "{\"roomId\":\"\xff\"}", `{"roomId":"x","extra":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast joinRequest
		if !fast.decodePlain(b) {
			return
		}
		var ref joinRequest
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("fast path read %q, which encoding/json refuses: %v", b, err)
		}
		if fast != ref {
			t.Fatalf("fast path read %q as %+v; encoding/json: %+v", b, fast, ref)
		}
	})
}

// TestConnectedMatchesEncodingJSON: the connected push's data, encoded by
// hand, is what encoding/json writes, with every field set and without
// the unread count.
func TestConnectedMatchesEncodingJSON(t *testing.T) {
	var full connectedData
	testenv.Fill(t, &full)
	at := time.Date(2026, 11, 26, 9, 30, 1, 120_000_000, time.UTC)
	for _, d := range []connectedData{
		full,
		{ConnectionID: "c_1", User: UserRef{ID: "u\"1", Username: "Zoë <b>"}, HeartbeatInterval: 25000, ServerTime: at},
		{ConnectionID: "c_2", ServerTime: at.In(time.FixedZone("x", 3600)), HeartbeatInterval: -1},
		{ConnectionID: "c_3", ServerTime: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		want, wantErr := json.Marshal(d)
		got, err := d.encode()
		require.Equal(t, wantErr == nil, err == nil, "%v / %v", wantErr, err)
		require.Equal(t, string(want), string(got))
	}
}
