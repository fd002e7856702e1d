package socketio

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

// TestAppendPacket checks the conversion of the Hub's frames into
// Socket.IO packets.
func TestAppendPacket(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame realtime.Frame
		want  string
	}{
		{"push", realtime.NewPushFrame("new-message", json.RawMessage(`{"id":"m_1","content":"hi"}`)), `42["new-message",{"id":"m_1","content":"hi"}]`},
		{"escaped name", realtime.NewPushFrame(`a"b\c`, nil), `42["a\"b\\c",{}]`},
		{"ack", realtime.NewReplyFrame(1, json.RawMessage(`{"rooms":[]}`)), `430[{"data":{"rooms":[]}}]`},
		{"ack 42", realtime.NewReplyFrame(43, nil), `4342[{"data":{}}]`},
		{"ack error", realtime.NewErrorFrame(8, realtime.Errorf(realtime.CodeNotFound, "room not found")), `437[{"error":{"code":"not_found","message":"room not found"}}]`},
		{"error with quotes", realtime.NewErrorFrame(1, realtime.Errorf(realtime.CodeInvalid, `field "x" é`)), `430[{"error":{"code":"invalid","message":"field \"x\" é"}}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := appendPacket([]byte("prefix"), tc.frame)
			require.Equal(t, "prefix"+tc.want, string(got))
		})
	}
}

func BenchmarkAppendPacket(b *testing.B) {
	f := realtime.NewPushFrame("new-message", json.RawMessage(`{"id":"m_01","seq":7,"roomId":"r_1","senderId":"u","sender":{"id":"u","username":"U"},"content":"hello there","type":"text","createdAt":"2026-01-01T00:00:00Z"}`))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPacket(buf[:0], f)
	}
}
