package realtime

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/wire"
)

// TestFrames: every kind of Frame says what it is and carries its native
// encoding; a push read back from its bytes (a publication) is the same.
func TestFrames(t *testing.T) {
	push := newPush("new-message", []byte(`{"content":"é \"q\" 👋"}`))
	require.Equal(t, FramePush, push.Kind())
	require.Equal(t, "new-message", push.Event())
	require.Equal(t, `{"content":"é \"q\" 👋"}`, string(push.Data()))
	require.Equal(t, `{"event":"new-message","data":{"content":"é \"q\" 👋"}}`, string(push.Native()))
	again, ok := pushFrame(push.Native())
	require.True(t, ok)
	require.Equal(t, push, again)

	empty := newPush("ping", nil)
	require.Equal(t, `{}`, string(empty.Data()))

	reply := newReply(7, []byte(`[1,2]`))
	require.Equal(t, FrameReply, reply.Kind())
	require.Equal(t, uint64(7), reply.Ack())
	require.Equal(t, `[1,2]`, string(reply.Data()))
	require.Empty(t, reply.Event())

	failed := newErrorReply(9, Errorf(CodeNotFound, "no room"))
	require.Equal(t, FrameError, failed.Kind())
	require.Nil(t, failed.Data())
	require.Equal(t, CodeNotFound, failed.Err().Code)
	require.Equal(t, `{"ack":9,"error":{"code":"not_found","message":"no room"}}`, string(failed.Native()))

	require.Equal(t, `x"new-message"`, string(push.AppendEvent([]byte("x"))))
	require.Equal(t, uint64(0), push.Ack())
	require.Nil(t, push.Err())

	escaped := newPush(`a"b\c`, []byte(`1`))
	require.Equal(t, `"a\"b\\c"`, string(escaped.AppendEvent(nil)))
	again, ok = pushFrame(escaped.Native())
	require.True(t, ok)
	require.Equal(t, `a"b\c`, again.Event())
	require.Equal(t, `1`, string(again.Data()))

	for _, bad := range []string{``, `{}`, `{"event":"x"}`, `{"event":"x","data":}`, `{"data":{},"event":"x"}`, `{"event":"x\`} {
		_, ok := pushFrame([]byte(bad))
		require.False(t, ok, bad)
	}
}

// FuzzPushFrame: what pushFrame accepts is read as encoding/json reads it.
func FuzzPushFrame(f *testing.F) {
	f.Add([]byte(`{"event":"new-message","data":{"id":"m_1"}}`))
	f.Add([]byte(`{"event":"a\"b","data":1}`))
	f.Add([]byte(`{"event":"x","data":}`))
	f.Add([]byte(`{"event":"&\b0","data":0}`))
	f.Add([]byte("{\"event\":\"0\xff\",\"data\":0}"))
	f.Add([]byte(`{"event":"","data": ""}`))
	f.Add([]byte(`{"event":"new-message","data":{"id":"m","seq":1,"roomId":"r","senderId":"u","sender":{"id":"u"}}}`))
	f.Add([]byte(`{"event":"message-edited","data":{"id":"m","seq":1,"senderId":"u","sender":{"id":"v"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, ok := pushFrame(b)
		if !ok {
			return
		}
		if !bytes.Equal(fr.Native(), b) {
			t.Fatalf("native %q, input %q", fr.Native(), b)
		}
		// realtime.v2's cut, found once for the frame, is wire's for a
		// message push and none for any other.
		v2 := b
		if e := fr.Event(); e == "new-message" || e == "message-edited" {
			v2 = wire.AppendCompact(nil, b)
		}
		if got := fr.appendCompact(nil); !bytes.Equal(got, v2) {
			t.Fatalf("realtime.v2 writes %q, want %q", got, v2)
		}
		var want wire.ServerFrame
		if json.Unmarshal(b, &want) != nil || !bytes.Equal(wire.AppendPush(nil, want.Event, want.Data), b) {
			return // not a push as the hub encodes it: a node never publishes it
		}
		if fr.Event() != want.Event || !bytes.Equal(bytes.TrimSpace(fr.Data()), want.Data) { // the same value
			t.Fatalf("event %q data %q; encoding/json reads event %q data %q", fr.Event(), fr.Data(), want.Event, want.Data)
		}
	})
}
