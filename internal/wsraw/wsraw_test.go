package wsraw

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendFrame(t *testing.T) {
	for _, tc := range []struct {
		n      int
		binary bool
		header []byte
	}{
		{0, false, []byte{0x81, 0}},
		{125, false, []byte{0x81, 125}},
		{126, true, []byte{0x82, 126, 0, 126}},
		{65535, false, []byte{0x81, 126, 0xff, 0xff}},
		{65536, false, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		data := make([]byte, tc.n)
		for i := range data {
			data[i] = byte(i)
		}
		got := AppendFrame([]byte("x"), tc.binary, data)
		require.Equal(t, append(append([]byte("x"), tc.header...), data...), got, "%d bytes", tc.n)
		if !tc.binary {
			// Frame writes the same header in the reserved bytes.
			buf := append(make([]byte, MaxHeader), data...)
			require.Equal(t, got[1:], Frame(buf), "Frame of %d bytes", tc.n)
		}
	}
}
