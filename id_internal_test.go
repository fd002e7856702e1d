package realtime

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// The encoding of sorted ids must sort as the bytes it encodes, for every
// pair of inputs, also where they differ only in the last bits.
func TestSortedIDEncodingKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a, b [13]byte
	for i := range 100_000 {
		for j := range a {
			a[j] = byte(rng.Uint32())
		}
		b = a
		// Differ from a in one random byte, and often in one bit only.
		k := rng.IntN(len(b))
		if i%2 == 0 {
			b[k] ^= 1 << rng.IntN(8)
		} else {
			b[k] = byte(rng.Uint32())
		}
		want := bytes.Compare(a[:], b[:])
		got := strings.Compare(sortedIDEncoding.EncodeToString(a[:]), sortedIDEncoding.EncodeToString(b[:]))
		require.Equal(t, want, got, "%x against %x", a, b)
	}
}

// Message and notification ids carry the time they were made, to the
// millisecond, so a later id sorts after an earlier one; ids of the same
// millisecond differ.
func TestNewSortedID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		shape := regexp.MustCompile(`^m_[2-7a-z]{21}$`)
		decode := func(id string) int64 {
			b, err := sortedIDEncoding.DecodeString(strings.TrimPrefix(id, "m_"))
			require.NoError(t, err)
			var ms [8]byte
			copy(ms[2:], b[:6])
			return int64(binary.BigEndian.Uint64(ms[:]))
		}
		prev := ""
		for _, step := range []time.Duration{0, time.Millisecond, time.Second, 1000 * time.Hour, 100 * 365 * 24 * time.Hour} {
			time.Sleep(step)
			id := newSortedID("m")
			require.Regexp(t, shape, id)
			require.Equal(t, time.Now().UnixMilli(), decode(id))
			require.Less(t, prev, id, "an id made %v later sorts before", step)
			prev = id
		}
		seen := make(map[string]bool)
		for range 10_000 {
			id := newSortedID("m")
			require.False(t, seen[id], "%s made twice", id)
			seen[id] = true
		}
		require.Regexp(t, `^n_[2-7a-z]{21}$`, newSortedID("n"))
	})
}
