package client

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEncodeEventAddsClientMsgID: a message without a clientMsgId (absent,
// null or empty) gets a fresh one and keeps every other member as it was;
// one with a clientMsgId, another event, or what is not an object is sent
// as it is.
func TestEncodeEventAddsClientMsgID(t *testing.T) {
	type msg struct {
		RoomID  string `json:"roomId"`
		Content string `json:"content"`
	}
	for _, data := range []any{
		msg{"r_1", `a "q" \ é 😀 <b>`},
		map[string]any{"roomId": "r_1", "metadata": map[string]any{"a": []any{1.5, "x"}}},
		json.RawMessage(` { "roomId" : "r_1" } `),
		json.RawMessage(`{}`),
		json.RawMessage(`{ }`),
		json.RawMessage(`{"roomId":"r_1","clientMsgId":null}`),
		json.RawMessage(`{"roomId":"r_1","clientMsgId":""}`),
		json.RawMessage(`{"clientMsgId":"kept","clientMsgId":null}`),
		json.RawMessage(`{"roomId":"r_1","n":-1.5e3}`),
	} {
		body, err := encodeEvent("message", data)
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.Unmarshal(body, &got), "%s", body)
		id, _ := got["clientMsgId"].(string)
		require.True(t, strings.HasPrefix(id, "c_"), "%s", body)
		delete(got, "clientMsgId")
		want := map[string]any{}
		in, _ := json.Marshal(data)
		require.NoError(t, json.Unmarshal(in, &want))
		delete(want, "clientMsgId")
		require.Equal(t, want, got, "other members kept")

		again, _ := encodeEvent("message", data)
		require.NotEqual(t, string(body), string(again), "a fresh id each time")
	}
	for _, tc := range []struct {
		event string
		data  any
	}{
		{"message", json.RawMessage(`{"roomId":"r_1","clientMsgId":"mine"}`)},
		{"message", json.RawMessage(`[1]`)},
		{"message", json.RawMessage(`"x"`)},
		{"join-room", json.RawMessage(`{"roomId":"r_1"}`)},
	} {
		body, err := encodeEvent(tc.event, tc.data)
		require.NoError(t, err)
		require.Equal(t, string(tc.data.(json.RawMessage)), string(body))
	}
}
