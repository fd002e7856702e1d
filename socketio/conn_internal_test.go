package socketio

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/internal/wire"
)

// TestAppendPacket checks the conversion of the Hub's objects into
// Socket.IO packets, on the fast path and on the JSON fallback.
func TestAppendPacket(t *testing.T) {
	for _, tc := range []struct {
		name      string
		obj       string
		want      string
		connected bool
	}{
		{"push", `{"event":"new-message","data":{"id":"m_1","content":"hi"}}`, `42["new-message",{"id":"m_1","content":"hi"}]`, false},
		{"connected", string(wire.AppendPush(nil, "connected", []byte(`{"connectionId":"c_1"}`))), `42["connected",{"connectionId":"c_1"}]`, true},
		{"escaped name", string(wire.AppendPush(nil, `a"b\c`, []byte(`{}`))), `42["a\"b\\c",{}]`, false},
		{"ack", string(wire.AppendAck(nil, 1, []byte(`{"rooms":[]}`))), `430[{"data":{"rooms":[]}}]`, false},
		{"ack 42", string(wire.AppendAck(nil, 43, []byte(`{}`))), `4342[{"data":{}}]`, false},
		{"ack error", string(wire.AppendAckError(nil, 8, "not_found", "room not found")), `437[{"error":{"code":"not_found","message":"room not found"}}]`, false},
		{"fallback push", `{"data":{"a":1},"event":"x"}`, `42["x",{"a":1}]`, false},
		{"fallback ack", `{"data":{"a":1},"ack":2}`, `431[{"data":{"a":1}}]`, false},
		{"fallback error", `{"error":{"message":"m","code":"c"},"ack":3}`, `432[{"error":{"code":"c","message":"m"}}]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, connected := appendPacket([]byte("prefix"), []byte(tc.obj))
			require.True(t, ok)
			require.Equal(t, "prefix"+tc.want, string(got))
			require.Equal(t, tc.connected, connected)
		})
	}
	for _, bad := range []string{`[]`, `{"nothing":1}`, `{"ack":0,"data":{}}`, `{`} {
		_, ok, _ := appendPacket(nil, []byte(bad))
		require.False(t, ok, bad)
	}
}

func BenchmarkAppendPacket(b *testing.B) {
	obj := wire.AppendPush(nil, "new-message", []byte(`{"id":"m_01","seq":7,"roomId":"r_1","senderId":"u","sender":{"id":"u","username":"U"},"content":"hello there","type":"text","createdAt":"2026-01-01T00:00:00Z"}`))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _, _ = appendPacket(buf[:0], obj)
	}
}
