package realtime_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

// errDiskFull is a backend's own failure, with text a client must not see.
var errDiskFull = errors.New("pq: could not extend file \"base/16384/2619\": No space left on device")

// brokenStore fails every room and member write and every room listing
// with errDiskFull.
type brokenStore struct{ realtime.Store }

func (brokenStore) CreateRoom(context.Context, realtime.Room, realtime.Member, realtime.Limits) (realtime.Room, error) {
	return realtime.Room{}, errDiskFull
}

func (brokenStore) ListRooms(context.Context, string) ([]realtime.Room, error) {
	return nil, errDiskFull
}

func (brokenStore) GetMember(context.Context, string, string) (realtime.Member, error) {
	return realtime.Member{}, errDiskFull
}

// TestBackendErrorsKeepTheirCause: a Go caller of the server-side API sees
// both that the backend is unavailable and why; a client sees only
// unavailable.
func TestBackendErrorsKeepTheirCause(t *testing.T) {
	env := newTestHub(t, realtime.Config{Store: brokenStore{realtime.NewMemoryStore(realtime.MemoryOptions{})}})
	ctx := context.Background()
	_, err := env.hub.CreateRoom(ctx, realtime.User{ID: "ops"}, realtime.RoomOptions{Name: "r"})
	require.ErrorIs(t, err, realtime.ErrUnavailable)
	require.ErrorIs(t, err, errDiskFull)
	_, err = env.hub.Rooms(ctx, "ops")
	require.ErrorIs(t, err, realtime.ErrUnavailable)
	require.ErrorIs(t, err, errDiskFull)
	err = env.hub.Kick(ctx, "r_1", "bob", "")
	require.ErrorIs(t, err, realtime.ErrUnavailable)
	require.ErrorIs(t, err, errDiskFull)

	alice := env.dial("alice")
	_, err = alice.Emit(ctx, "create-room", map[string]any{"name": "r"})
	var e *realtime.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, realtime.CodeUnavailable, e.Code)
	require.NotContains(t, e.Message, "space", "the cause stays on the server")
}

// TestSentinelsCannotBeChanged: the sentinel errors are declared as error,
// so that ErrNotFound.Message = "..." does not compile: no stray assignment
// changes what every not_found reply says. errors.Is still matches any
// error of the sentinel's code.
func TestSentinelsCannotBeChanged(t *testing.T) {
	for _, p := range []*error{&realtime.ErrUnauthorized, &realtime.ErrForbidden, &realtime.ErrNotFound,
		&realtime.ErrInvalid, &realtime.ErrTooLarge, &realtime.ErrRateLimited, &realtime.ErrRoomFull,
		&realtime.ErrLimitExceeded, &realtime.ErrConflict, &realtime.ErrUnavailable, &realtime.ErrInternal} {
		require.Equal(t, reflect.Interface, reflect.TypeOf(p).Elem().Kind())
	}
	require.ErrorIs(t, realtime.Errorf(realtime.CodeNotFound, "no room r1"), realtime.ErrNotFound)
	require.NotErrorIs(t, realtime.Errorf(realtime.CodeNotFound, "no room r1"), realtime.ErrForbidden)
}
