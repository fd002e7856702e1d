package bufpool

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPool(t *testing.T) {
	p := New(16, 64)
	b := p.Get()
	require.Empty(t, *b)
	require.GreaterOrEqual(t, cap(*b), 16)
	*b = append(*b, "hello"...)
	p.Put(b)
	again := p.Get()
	require.Empty(t, *again, "a buffer comes back empty, whoever held it")

	big := p.Get()
	*big = make([]byte, 0, 65)
	p.Put(big) // dropped: past the maximum
	for range 10 {
		require.LessOrEqual(t, cap(*p.Get()), 64)
	}
}
