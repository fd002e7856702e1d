package realtime

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIndexSharedHash: ids whose hashes are equal (which the index's
// 64-bit hash makes rare, not impossible) are told apart by the id, each
// found, refused again and forgotten on its own, whichever the chain
// holds first.
func TestIndexSharedHash(t *testing.T) {
	s := NewMemoryStore(MemoryOptions{}).(*memoryStore)
	const h = 42
	msg := func(id string) *memMessage { return &memMessage{m: Message{ID: id}} }
	a, b, c := msg("m_a"), msg("m_b"), msg("m_c")
	for _, mm := range []*memMessage{a, b, c} {
		require.True(t, s.indexAt(h, mm), mm.m.ID)
	}
	require.False(t, s.indexAt(h, msg("m_b")), "a taken id sharing the hash")
	for _, mm := range []*memMessage{a, b, c} {
		require.Same(t, mm, s.messageAt(h, mm.m.ID))
	}
	require.Nil(t, s.messageAt(h, "m_d"), "an id not stored, of the same hash")
	require.Nil(t, s.messageAt(h+1, "m_a"), "another hash")

	s.forgetAt(h, "m_b") // in the middle of the chain
	require.Nil(t, s.messageAt(h, "m_b"))
	require.Same(t, a, s.messageAt(h, "m_a"))
	require.Same(t, c, s.messageAt(h, "m_c"))
	s.forgetAt(h, "m_c") // the first
	require.Nil(t, s.messageAt(h, "m_c"))
	require.Same(t, a, s.messageAt(h, "m_a"))
	s.forgetAt(h, "m_zz") // not there: nothing changes
	require.Same(t, a, s.messageAt(h, "m_a"))
	s.forgetAt(h, "m_a") // the last
	require.Nil(t, s.messageAt(h, "m_a"))
	is := s.idStripe(h)
	require.NotContains(t, is.m, uint64(h), "an empty chain leaves no key")
	require.True(t, s.indexAt(h, msg("m_b")), "a forgotten id may be stored again")
}
