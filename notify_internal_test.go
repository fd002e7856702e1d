package realtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMentions(t *testing.T) {
	for content, want := range map[string][]string{
		"no mention here":             nil,
		"@bob":                        {"bob"},
		"hi @bob.":                    {"bob"},
		"@bob, @Carol and @bob again": {"bob", "Carol"},
		"mail me@example.com":         nil,
		"@élodie: ça va?":             {"élodie"},
		"(@ann) [@b_2] @c.d-e!":       {"ann", "b_2", "c.d-e"},
		"@ alone, @@x, trailing @":    {"x"},
		"@BOB @bob":                   {"BOB"},
		`"quoted @bob" \ 😀 @zoé`:      {"bob", "zoé"},
		"@" + string(make([]byte, 0)): nil,
		"@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": nil,
	} {
		require.Equal(t, want, mentions(content), content)
	}
}
