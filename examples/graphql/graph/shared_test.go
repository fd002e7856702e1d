package graph

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime/examples/graphql/graph/model"
)

func TestSharedEventsDecodeOnce(t *testing.T) {
	var c sharedEvents
	data := []byte(`{"id":"m1","seq":1,"content":"\"hi\" é 😀","sender":{"id":"a","username":"a"}}`)
	e1, v1 := get[model.Message](&c, data)
	e2, v2 := get[model.Message](&c, append([]byte(nil), data...))
	require.Same(t, e1, e2, "the same bytes are the same event")
	require.Same(t, v1, v2, "decoded once")
	require.Equal(t, `"hi" é 😀`, v1.Content)

	// The same bytes read as another type: a copy of its own, not shared.
	e3, p := get[model.Presence](&c, data)
	require.Nil(t, e3)
	require.NotNil(t, p)

	// Undecodable data: no value.
	_, bad := get[model.Message](&c, []byte(`{"seq":"x"}`))
	require.Nil(t, bad)

	// The oldest events make way for new ones.
	for i := range sharedEventsKept {
		get[model.Message](&c, fmt.Appendf(nil, `{"seq":%d}`, i+2))
	}
	e4, v4 := get[model.Message](&c, data)
	require.NotSame(t, e1, e4, "evicted, then decoded again")
	require.Equal(t, v1.Content, v4.Content)
	require.Len(t, c.events, sharedEventsKept)
}

func TestSharedEventRendersOncePerOperation(t *testing.T) {
	var e sharedEvent
	renders := 0
	render := func(out string, ok bool) func() ([]byte, bool) {
		return func() ([]byte, bool) { renders++; return []byte(out), ok }
	}
	require.Equal(t, "A", string(e.render("a", render("A", true))))
	require.Equal(t, "A", string(e.render("a", render("other", true))))
	require.Equal(t, 1, renders)
	require.Equal(t, "B", string(e.render("b", render("B", true))), "another operation")
	require.Equal(t, 2, renders)
	// A rendering with errors is not kept: the next subscriber renders its own.
	require.Equal(t, "E", string(e.render("c", render("E", false))))
	require.Equal(t, "C", string(e.render("c", render("C", true))))
	require.Equal(t, 4, renders)
}
