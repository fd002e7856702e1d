// Package storetest is the conformance suite of realtime.Store: every
// implementation runs it from its tests.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) realtime.Store {
//			return realtime.NewMemoryStore(realtime.MemoryOptions{})
//		})
//	}
package storetest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
)

// Run tests a Store implementation against the contract documented on
// realtime.Store. newStore returns a new, empty store for each subtest,
// and may release it with t.Cleanup. Each subtest makes at most a few
// hundred rooms and a thousand messages per stream, and reads back only
// the latest 100 messages of a stream, so stores that bound history
// (the memory store) pass with their defaults.
func Run(t *testing.T, newStore func(t *testing.T) realtime.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s realtime.Store)
	}{
		{"CreateRoom", testCreateRoom},
		{"CreateRoomDuplicateID", testCreateRoomDuplicateID},
		{"CreateRoomOfTheHost", testCreateRoomOfTheHost},
		{"CreateRoomMaxRoomsPerUser", testCreateRoomMaxRoomsPerUser},
		{"RoomNotFound", testRoomNotFound},
		{"UpdateRoom", testUpdateRoom},
		{"DeleteRoom", testDeleteRoom},
		{"ListRooms", testListRooms},
		{"AddMember", testAddMember},
		{"AddMemberRoomFull", testAddMemberRoomFull},
		{"AddMemberMaxRoomsPerUser", testAddMemberMaxRoomsPerUser},
		{"AddMemberConcurrentRoomFull", testAddMemberConcurrentRoomFull},
		{"AddMemberConcurrentMaxRoomsPerUser", testAddMemberConcurrentMaxRoomsPerUser},
		{"MemberNotFound", testMemberNotFound},
		{"UpdateMember", testUpdateMember},
		{"RemoveMember", testRemoveMember},
		{"MemberCountConcurrent", testMemberCountConcurrent},
		{"ListMembersJoinOrder", testListMembersJoinOrder},
		{"SaveMessageSeqPerStream", testSaveMessageSeqPerStream},
		{"SaveMessageClientMsgID", testSaveMessageClientMsgID},
		{"SaveMessageConcurrentSeq", testSaveMessageConcurrentSeq},
		{"SaveMessageConcurrentClientMsgID", testSaveMessageConcurrentClientMsgID},
		{"SaveMessageRoomNotFound", testSaveMessageRoomNotFound},
		{"SaveMessageSender", testSaveMessageSender},
		{"SaveMessageOfTheHost", testSaveMessageOfTheHost},
		{"GetMessage", testGetMessage},
		{"HistoryLatest", testHistoryLatest},
		{"HistoryBefore", testHistoryBefore},
		{"HistoryAfter", testHistoryAfter},
		{"HistoryAfterSeq", testHistoryAfterSeq},
		{"HistoryCursorNotFound", testHistoryCursorNotFound},
		{"HistoryEmpty", testHistoryEmpty},
		{"HistoryStreams", testHistoryStreams},
		{"SaveMessageDuplicateID", testSaveMessageDuplicateID},
		{"SaveMessageConcurrentFailures", testSaveMessageConcurrentFailures},
		{"ReadsDuringSaves", testReadsDuringSaves},
		{"EditMessage", testEditMessage},
		{"DeleteMessage", testDeleteMessage},
		{"Thread", testThread},
		{"ThreadNotFound", testThreadNotFound},
		{"Files", testFiles},
		{"MemberRooms", testMemberRooms},
		{"LastSeen", testLastSeen},
		{"SaveMessagesOrder", testSaveMessagesOrder},
		{"SaveMessagesDuplicates", testSaveMessagesDuplicates},
		{"SaveMessagesFailAlone", testSaveMessagesFailAlone},
		{"SaveMessagesConcurrent", testSaveMessagesConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// id returns a new unique id that starts with prefix.
func id(prefix string) string { return prefix + "-" + strings.ToLower(rand.Text()[:12]) }

// now is a timestamp as the hub makes them: UTC, whole milliseconds.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func ptr[T any](v T) *T { return &v }

// newRoom returns a public room for 100 users created by creatorID.
func newRoom(creatorID string) realtime.Room {
	return realtime.Room{
		ID:          id("room"),
		Name:        "General",
		Description: "Talk about anything",
		MaxUsers:    100,
		CreatedByID: creatorID,
		CreatedAt:   now(),
	}
}

func newMember(roomID, userID string, role realtime.Role) realtime.Member {
	return realtime.Member{
		RoomID:   roomID,
		UserID:   userID,
		Username: strings.ToUpper(userID[:1]) + userID[1:],
		Role:     role,
		JoinedAt: now(),
	}
}

// newMessage returns a text message from senderID, to a room when roomID
// is set.
func newMessage(roomID, senderID, content string) realtime.Message {
	return realtime.Message{
		ID:        id("msg"),
		RoomID:    roomID,
		SenderID:  senderID,
		Sender:    realtime.UserRef{ID: senderID, Username: strings.ToUpper(senderID[:1]) + senderID[1:]},
		Content:   content,
		Type:      realtime.TypeText,
		CreatedAt: now(),
	}
}

// dm returns a direct message.
func dm(from, to, content string) realtime.Message {
	m := newMessage("", from, content)
	m.RecipientID = to
	return m
}

// createRoom stores room with creatorID as its admin, without limits.
func createRoom(t *testing.T, s realtime.Store, room realtime.Room) realtime.Room {
	t.Helper()
	got, err := s.CreateRoom(t.Context(), room, newMember(room.ID, room.CreatedByID, realtime.RoleAdmin), realtime.Limits{})
	require.NoError(t, err, "CreateRoom")
	return got
}

// join adds userID to a room as a member, without limits.
func join(t *testing.T, s realtime.Store, roomID, userID string) realtime.Member {
	t.Helper()
	m, created, err := s.AddMember(t.Context(), newMember(roomID, userID, realtime.RoleMember), realtime.Limits{})
	require.NoError(t, err, "AddMember")
	require.True(t, created, "AddMember: created")
	return m
}

func save(t *testing.T, s realtime.Store, m realtime.Message) realtime.Message {
	t.Helper()
	saved, dup, err := s.SaveMessage(t.Context(), m)
	require.NoError(t, err, "SaveMessage")
	require.False(t, dup, "SaveMessage: duplicate")
	return saved
}

// saveN saves n messages from senderID to a room and returns them as saved.
func saveN(t *testing.T, s realtime.Store, roomID, senderID string, n int) []realtime.Message {
	t.Helper()
	out := make([]realtime.Message, n)
	for i := range out {
		out[i] = save(t, s, newMessage(roomID, senderID, fmt.Sprintf("message %d", i+1)))
	}
	return out
}

func requireCode(t *testing.T, want error, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.ErrorIs(t, err, want, msgAndArgs...)
}

func ids(ms []realtime.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func contents(ms []realtime.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Content
	}
	return out
}

func seqs(ms []realtime.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func roomIDs(rs []realtime.Room) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func userIDs(ms []realtime.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.UserID
	}
	return out
}

// requireMessage requires got to be want: every field equal, Metadata as
// JSON (a store may normalize its spacing and key order).
func requireMessage(t *testing.T, want, got realtime.Message, msgAndArgs ...any) {
	t.Helper()
	if len(want.Metadata) == 0 {
		require.Empty(t, got.Metadata, msgAndArgs...)
	} else {
		require.JSONEq(t, string(want.Metadata), string(got.Metadata), msgAndArgs...)
	}
	want.Metadata, got.Metadata = nil, nil
	require.Equal(t, want, got, msgAndArgs...)
}

func testCreateRoom(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := newRoom("alice")
	room.IsPrivate = true
	creator := newMember(room.ID, "alice", realtime.RoleAdmin)

	got, err := s.CreateRoom(ctx, room, creator, realtime.Limits{MaxRoomsPerUser: 5})
	require.NoError(t, err)
	want := room
	want.MemberCount = 1
	require.Equal(t, want, got)

	got, err = s.GetRoom(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, want, got, "GetRoom")

	m, err := s.GetMember(ctx, room.ID, "alice")
	require.NoError(t, err)
	require.Equal(t, creator, m, "GetMember of the creator")
	members, err := s.ListMembers(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, []realtime.Member{creator}, members)
}

func testCreateRoomDuplicateID(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	other := newRoom("bob")
	other.ID, other.Name = room.ID, "Other"

	_, err := s.CreateRoom(ctx, other, newMember(other.ID, "bob", realtime.RoleAdmin), realtime.Limits{})
	requireCode(t, realtime.ErrConflict, err)

	// The first room is untouched and bob joined nothing.
	got, err := s.GetRoom(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, room, got)
	_, err = s.GetMember(ctx, room.ID, "bob")
	requireCode(t, realtime.ErrNotFound, err, "GetMember of the refused creator")
	rooms, err := s.ListRooms(ctx, "bob")
	require.NoError(t, err)
	require.Equal(t, []string{room.ID}, roomIDs(rooms))
	bobs := newRoom("bob")
	_, err = s.CreateRoom(ctx, bobs, newMember(bobs.ID, "bob", realtime.RoleAdmin), realtime.Limits{MaxRoomsPerUser: 1})
	require.NoError(t, err, "the refused room counted against bob's MaxRoomsPerUser")
}

// testCreateRoomOfTheHost: a creator with an empty UserID makes a room of
// the host, without members, which users then join as any other.
func testCreateRoomOfTheHost(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := newRoom("")
	room.ID = "order-42"
	got, err := s.CreateRoom(ctx, room, realtime.Member{RoomID: room.ID, Role: realtime.RoleAdmin, JoinedAt: now()}, realtime.Limits{MaxRoomsPerUser: 1})
	require.NoError(t, err)
	require.Equal(t, room, got, "no members")
	got, err = s.GetRoom(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, room, got, "GetRoom")
	members, err := s.ListMembers(ctx, room.ID)
	require.NoError(t, err)
	require.Empty(t, members)
	_, err = s.GetMember(ctx, room.ID, "")
	requireCode(t, realtime.ErrNotFound, err, "the host is no member")

	_, err = s.CreateRoom(ctx, room, realtime.Member{RoomID: room.ID, Role: realtime.RoleAdmin, JoinedAt: now()}, realtime.Limits{})
	requireCode(t, realtime.ErrConflict, err, "the same id again")
	join(t, s, room.ID, "bob")
	got, err = s.GetRoom(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.MemberCount)
	rooms, err := s.ListRooms(ctx, "bob")
	require.NoError(t, err)
	require.Equal(t, []string{room.ID}, roomIDs(rooms))
}

func testCreateRoomMaxRoomsPerUser(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	limits := realtime.Limits{MaxRoomsPerUser: 2}
	create := func(creator string) (realtime.Room, error) {
		room := newRoom(creator)
		return s.CreateRoom(ctx, room, newMember(room.ID, creator, realtime.RoleAdmin), limits)
	}
	_, err := create("alice")
	require.NoError(t, err)
	// Memberships count, not only rooms created.
	bobs, err := create("bob")
	require.NoError(t, err)
	join(t, s, bobs.ID, "alice")

	_, err = create("alice")
	requireCode(t, realtime.ErrLimitExceeded, err)
	rooms, err := s.ListRooms(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, rooms, 2, "a refused room was stored")

	// Other users are not limited by alice's rooms.
	_, err = create("bob")
	require.NoError(t, err)
	// Zero means no cap.
	for range 3 {
		room := newRoom("alice")
		_, err := s.CreateRoom(ctx, room, newMember(room.ID, "alice", realtime.RoleAdmin), realtime.Limits{})
		require.NoError(t, err)
	}
}

func testRoomNotFound(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	createRoom(t, s, newRoom("alice"))
	missing := id("missing")

	_, err := s.GetRoom(ctx, missing)
	requireCode(t, realtime.ErrNotFound, err, "GetRoom")
	_, err = s.UpdateRoom(ctx, missing, realtime.RoomUpdate{Name: ptr("x")})
	requireCode(t, realtime.ErrNotFound, err, "UpdateRoom")
	_, err = s.UpdateRoom(ctx, missing, realtime.RoomUpdate{})
	requireCode(t, realtime.ErrNotFound, err, "UpdateRoom without changes")
	requireCode(t, realtime.ErrNotFound, s.DeleteRoom(ctx, missing), "DeleteRoom")
}

func testUpdateRoom(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	join(t, s, room.ID, "bob")
	want := room
	want.MemberCount = 2

	for _, step := range []struct {
		name   string
		u      realtime.RoomUpdate
		change func(*realtime.Room)
	}{
		{"nothing", realtime.RoomUpdate{}, func(*realtime.Room) {}},
		{"Name", realtime.RoomUpdate{Name: ptr("Renamed")}, func(r *realtime.Room) { r.Name = "Renamed" }},
		{"Description", realtime.RoomUpdate{Description: ptr("")}, func(r *realtime.Room) { r.Description = "" }},
		{"MaxUsers", realtime.RoomUpdate{MaxUsers: ptr(7)}, func(r *realtime.Room) { r.MaxUsers = 7 }},
		{"IsPrivate true", realtime.RoomUpdate{IsPrivate: ptr(true)}, func(r *realtime.Room) {
			r.IsPrivate = true
		}},
		{"IsPrivate false", realtime.RoomUpdate{IsPrivate: ptr(false)}, func(r *realtime.Room) {
			r.IsPrivate = false
		}},
		{"all", realtime.RoomUpdate{Name: ptr("All"), Description: ptr("every field"), MaxUsers: ptr(9), IsPrivate: ptr(true)},
			func(r *realtime.Room) {
				r.Name, r.Description, r.MaxUsers, r.IsPrivate = "All", "every field", 9, true
			}},
	} {
		step.change(&want)
		got, err := s.UpdateRoom(ctx, room.ID, step.u)
		require.NoError(t, err, step.name)
		require.Equal(t, want, got, "UpdateRoom: %s", step.name)
		got, err = s.GetRoom(ctx, room.ID)
		require.NoError(t, err, step.name)
		require.Equal(t, want, got, "GetRoom after %s", step.name)
	}
}

func testDeleteRoom(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	kept := createRoom(t, s, newRoom("carol"))
	join(t, s, room.ID, "bob")
	join(t, s, kept.ID, "bob")
	msgs := saveN(t, s, room.ID, "bob", 3)
	keptMsg := save(t, s, newMessage(kept.ID, "bob", "stays"))

	require.NoError(t, s.DeleteRoom(ctx, room.ID))

	_, err := s.GetRoom(ctx, room.ID)
	requireCode(t, realtime.ErrNotFound, err, "GetRoom")
	for _, u := range []string{"alice", "bob"} {
		_, err := s.GetMember(ctx, room.ID, u)
		requireCode(t, realtime.ErrNotFound, err, "GetMember %s", u)
		rooms, err := s.ListRooms(ctx, u)
		require.NoError(t, err)
		require.NotContains(t, roomIDs(rooms), room.ID, "ListRooms %s", u)
	}
	for _, m := range msgs {
		_, err := s.GetMessage(ctx, m.ID)
		requireCode(t, realtime.ErrNotFound, err, "GetMessage of a deleted room's message")
	}
	got, more, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 10})
	require.NoError(t, err)
	require.Empty(t, got, "History of a deleted room")
	require.False(t, more)
	requireCode(t, realtime.ErrNotFound, s.DeleteRoom(ctx, room.ID), "second DeleteRoom")

	// The other room keeps its members and messages.
	_, err = s.GetMember(ctx, kept.ID, "bob")
	require.NoError(t, err)
	got1, err := s.GetMessage(ctx, keptMsg.ID)
	require.NoError(t, err)
	requireMessage(t, keptMsg, got1)

	// Memberships of the deleted room no longer count against the limit.
	another := newRoom("alice")
	_, err = s.CreateRoom(ctx, another, newMember(another.ID, "alice", realtime.RoleAdmin), realtime.Limits{MaxRoomsPerUser: 1})
	require.NoError(t, err, "CreateRoom after DeleteRoom with MaxRoomsPerUser 1")
	_, _, err = s.AddMember(ctx, newMember(another.ID, "bob", realtime.RoleMember), realtime.Limits{MaxRoomsPerUser: 2})
	require.NoError(t, err, "AddMember after DeleteRoom with MaxRoomsPerUser 2")
}

func testListRooms(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	base := now().Add(-time.Hour)
	// Rooms are created oldest first, one second apart.
	mk := func(i int, creator string, private bool) realtime.Room {
		r := newRoom(creator)
		r.Name = fmt.Sprintf("r%d", i)
		r.CreatedAt = base.Add(time.Duration(i) * time.Second)
		if private {
			r.IsPrivate = true
		}
		return createRoom(t, s, r)
	}
	r1 := mk(1, "bob", false)
	r2 := mk(2, "bob", true)
	r3 := mk(3, "alice", false)
	r4 := mk(4, "alice", true)
	r5 := mk(5, "carol", false)
	r6 := mk(6, "carol", true)
	// alice joins in another order than the rooms' age.
	join(t, s, r5.ID, "alice")
	join(t, s, r2.ID, "alice")

	for _, tc := range []struct {
		user string
		want []realtime.Room
	}{
		// Own rooms (private ones too), then public rooms not joined.
		{"alice", []realtime.Room{r2, r3, r4, r5, r1}},
		{"bob", []realtime.Room{r1, r2, r3, r5}},
		{"carol", []realtime.Room{r5, r6, r1, r3}},
		{"dave", []realtime.Room{r1, r3, r5}},
	} {
		got, err := s.ListRooms(ctx, tc.user)
		require.NoError(t, err, tc.user)
		require.Equal(t, roomIDs(tc.want), roomIDs(got), "ListRooms(%s)", tc.user)
		for i, r := range got {
			want, err := s.GetRoom(ctx, r.ID)
			require.NoError(t, err)
			require.Equal(t, want, r, "ListRooms(%s)[%d]: fields and MemberCount", tc.user, i)
		}
	}
	got, err := s.ListRooms(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, 2, got[0].MemberCount, "MemberCount of r2")
}

func testAddMember(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	bob := newMember(room.ID, "bob", realtime.RoleMember)

	got, created, err := s.AddMember(ctx, bob, realtime.Limits{MaxRoomsPerUser: 5})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, bob, got)
	got, err = s.GetMember(ctx, room.ID, "bob")
	require.NoError(t, err)
	require.Equal(t, bob, got, "GetMember")
	r, err := s.GetRoom(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, 2, r.MemberCount)

	// Adding again returns the existing membership, not the new one.
	again := newMember(room.ID, "bob", realtime.RoleAdmin)
	again.Username, again.IsMuted, again.JoinedAt = "Robert", true, bob.JoinedAt.Add(time.Minute)
	got, created, err = s.AddMember(ctx, again, realtime.Limits{})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, bob, got)
	got, err = s.GetMember(ctx, room.ID, "bob")
	require.NoError(t, err)
	require.Equal(t, bob, got, "GetMember after the second AddMember")
	r, err = s.GetRoom(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, 2, r.MemberCount)

	// The creator is a member already.
	got, created, err = s.AddMember(ctx, newMember(room.ID, "alice", realtime.RoleMember), realtime.Limits{})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, realtime.RoleAdmin, got.Role)

	_, _, err = s.AddMember(ctx, newMember(id("missing"), "bob", realtime.RoleMember), realtime.Limits{})
	requireCode(t, realtime.ErrNotFound, err, "AddMember to a missing room")
}

func testAddMemberRoomFull(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	r := newRoom("alice")
	r.MaxUsers = 2
	room := createRoom(t, s, r)
	join(t, s, room.ID, "bob")

	_, _, err := s.AddMember(ctx, newMember(room.ID, "carol", realtime.RoleMember), realtime.Limits{})
	requireCode(t, realtime.ErrRoomFull, err)
	_, err = s.GetMember(ctx, room.ID, "carol")
	requireCode(t, realtime.ErrNotFound, err, "a refused member was stored")
	got, err := s.GetRoom(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, 2, got.MemberCount)

	// A member of a full room is still a member.
	_, created, err := s.AddMember(ctx, newMember(room.ID, "bob", realtime.RoleMember), realtime.Limits{})
	require.NoError(t, err, "AddMember of an existing member of a full room")
	require.False(t, created)

	// Room is made when someone leaves, or when MaxUsers grows.
	remaining, err := s.RemoveMember(ctx, room.ID, "bob")
	require.NoError(t, err)
	require.Equal(t, 1, remaining)
	join(t, s, room.ID, "carol")
	_, err = s.UpdateRoom(ctx, room.ID, realtime.RoomUpdate{MaxUsers: ptr(3)})
	require.NoError(t, err)
	join(t, s, room.ID, "dave")
	_, _, err = s.AddMember(ctx, newMember(room.ID, "erin", realtime.RoleMember), realtime.Limits{})
	requireCode(t, realtime.ErrRoomFull, err, "after MaxUsers 3")
}

func testAddMemberMaxRoomsPerUser(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	limits := realtime.Limits{MaxRoomsPerUser: 2}
	a := createRoom(t, s, newRoom("alice"))
	b := createRoom(t, s, newRoom("alice"))
	c := createRoom(t, s, newRoom("alice"))
	_, _, err := s.AddMember(ctx, newMember(a.ID, "bob", realtime.RoleMember), limits)
	require.NoError(t, err)
	_, _, err = s.AddMember(ctx, newMember(b.ID, "bob", realtime.RoleMember), limits)
	require.NoError(t, err)

	_, _, err = s.AddMember(ctx, newMember(c.ID, "bob", realtime.RoleMember), limits)
	requireCode(t, realtime.ErrLimitExceeded, err)
	_, err = s.GetMember(ctx, c.ID, "bob")
	requireCode(t, realtime.ErrNotFound, err, "a refused member was stored")

	// Joining a room again is not a new room.
	_, created, err := s.AddMember(ctx, newMember(a.ID, "bob", realtime.RoleMember), limits)
	require.NoError(t, err, "AddMember of an existing member at the limit")
	require.False(t, created)

	// Leaving a room makes room for another.
	_, err = s.RemoveMember(ctx, a.ID, "bob")
	require.NoError(t, err)
	_, created, err = s.AddMember(ctx, newMember(c.ID, "bob", realtime.RoleMember), limits)
	require.NoError(t, err)
	require.True(t, created)
}

func testAddMemberConcurrentRoomFull(t *testing.T, s realtime.Store) {
	const joiners = 50
	r := newRoom("creator")
	r.MaxUsers = 10
	room := createRoom(t, s, r)

	errs := make([]error, joiners)
	var wg sync.WaitGroup
	for i := range joiners {
		wg.Go(func() {
			_, _, errs[i] = s.AddMember(t.Context(), newMember(room.ID, fmt.Sprintf("user%02d", i), realtime.RoleMember), realtime.Limits{})
		})
	}
	wg.Wait()
	joined := 0
	for i, err := range errs {
		if err == nil {
			joined++
			continue
		}
		requireCode(t, realtime.ErrRoomFull, err, "joiner %d", i)
	}
	require.Equal(t, 9, joined, "new members of a room for 10 with its creator")
	members, err := s.ListMembers(t.Context(), room.ID)
	require.NoError(t, err)
	require.Len(t, members, 10)
	got, err := s.GetRoom(t.Context(), room.ID)
	require.NoError(t, err)
	require.Equal(t, 10, got.MemberCount)
}

func testAddMemberConcurrentMaxRoomsPerUser(t *testing.T, s realtime.Store) {
	const rooms, limit = 20, 5
	roomIDs := make([]string, rooms)
	for i := range roomIDs {
		roomIDs[i] = createRoom(t, s, newRoom("creator")).ID
	}
	errs := make([]error, rooms)
	var wg sync.WaitGroup
	for i, roomID := range roomIDs {
		wg.Go(func() {
			_, _, errs[i] = s.AddMember(t.Context(), newMember(roomID, "bob", realtime.RoleMember), realtime.Limits{MaxRoomsPerUser: limit})
		})
	}
	wg.Wait()
	joined := 0
	for i, err := range errs {
		if err == nil {
			joined++
			continue
		}
		requireCode(t, realtime.ErrLimitExceeded, err, "join %d", i)
	}
	require.Equal(t, limit, joined, "rooms joined at once with MaxRoomsPerUser %d", limit)
	got, err := s.ListRooms(t.Context(), "bob")
	require.NoError(t, err)
	member := 0
	for _, r := range got {
		if _, err := s.GetMember(t.Context(), r.ID, "bob"); err == nil {
			member++
		}
	}
	require.Equal(t, limit, member)
}

func testMemberNotFound(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	missing := id("missing")
	for _, tc := range []struct{ name, room, user string }{
		{"not a member", room.ID, "bob"},
		{"missing room", missing, "alice"},
	} {
		_, err := s.GetMember(ctx, tc.room, tc.user)
		requireCode(t, realtime.ErrNotFound, err, "GetMember: %s", tc.name)
		_, err = s.UpdateMember(ctx, tc.room, tc.user, realtime.MemberUpdate{IsMuted: ptr(true)})
		requireCode(t, realtime.ErrNotFound, err, "UpdateMember: %s", tc.name)
		_, err = s.UpdateMember(ctx, tc.room, tc.user, realtime.MemberUpdate{})
		requireCode(t, realtime.ErrNotFound, err, "UpdateMember without changes: %s", tc.name)
		_, err = s.RemoveMember(ctx, tc.room, tc.user)
		requireCode(t, realtime.ErrNotFound, err, "RemoveMember: %s", tc.name)
	}
}

func testUpdateMember(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	want := join(t, s, room.ID, "bob")
	carol := join(t, s, room.ID, "carol")

	for _, step := range []struct {
		name   string
		u      realtime.MemberUpdate
		change func(*realtime.Member)
	}{
		{"nothing", realtime.MemberUpdate{}, func(*realtime.Member) {}},
		{"Role", realtime.MemberUpdate{Role: ptr(realtime.RoleAdmin)}, func(m *realtime.Member) { m.Role = realtime.RoleAdmin }},
		{"IsMuted", realtime.MemberUpdate{IsMuted: ptr(true)}, func(m *realtime.Member) { m.IsMuted = true }},
		{"both", realtime.MemberUpdate{Role: ptr(realtime.RoleMember), IsMuted: ptr(false)}, func(m *realtime.Member) {
			m.Role, m.IsMuted = realtime.RoleMember, false
		}},
	} {
		step.change(&want)
		got, err := s.UpdateMember(ctx, room.ID, "bob", step.u)
		require.NoError(t, err, step.name)
		require.Equal(t, want, got, "UpdateMember: %s", step.name)
		got, err = s.GetMember(ctx, room.ID, "bob")
		require.NoError(t, err, step.name)
		require.Equal(t, want, got, "GetMember after %s", step.name)
	}
	got, err := s.GetMember(ctx, room.ID, "carol")
	require.NoError(t, err)
	require.Equal(t, carol, got, "another member changed")
}

func testRemoveMember(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	join(t, s, room.ID, "bob")
	join(t, s, room.ID, "carol")

	for i, user := range []string{"bob", "alice", "carol"} {
		remaining, err := s.RemoveMember(ctx, room.ID, user)
		require.NoError(t, err, user)
		require.Equal(t, 2-i, remaining, "RemoveMember(%s)", user)
		_, err = s.GetMember(ctx, room.ID, user)
		requireCode(t, realtime.ErrNotFound, err, "GetMember(%s) after RemoveMember", user)
		_, err = s.RemoveMember(ctx, room.ID, user)
		requireCode(t, realtime.ErrNotFound, err, "second RemoveMember(%s)", user)
		members, err := s.ListMembers(ctx, room.ID)
		require.NoError(t, err)
		require.NotContains(t, userIDs(members), user)
		require.Len(t, members, 2-i)
		rooms, err := s.ListRooms(ctx, user)
		require.NoError(t, err)
		require.Len(t, rooms, 1, "ListRooms(%s): the public room, once", user)
	}
	// A member who left may join again.
	join(t, s, room.ID, "bob")
}

// testMemberCountConcurrent joins and leaves one small room from many
// goroutines at once, two for each user (two devices, which join and leave
// as one another does), some refused (the room is full) and some removing
// users who are not members. The room's MemberCount must then match its
// members, and stay exact as they leave one by one and as the users join
// all at once again (RemoveMember's counts meanwhile within the room's
// size).
func testMemberCountConcurrent(t *testing.T, s realtime.Store) {
	const users, rounds, maxUsers = 12, 4, 6
	ctx := t.Context()
	r := newRoom("creator")
	r.MaxUsers = maxUsers
	room := createRoom(t, s, r)
	errs := make(chan error, 2*users*rounds*3+users)
	add := func(user string) error {
		_, _, err := s.AddMember(ctx, newMember(room.ID, user, realtime.RoleMember), realtime.Limits{})
		if err != nil && !errors.Is(err, realtime.ErrRoomFull) {
			errs <- fmt.Errorf("AddMember(%s): %w", user, err)
		}
		return err
	}
	requireExact := func(what string) []realtime.Member {
		t.Helper()
		members, err := s.ListMembers(ctx, room.ID)
		require.NoError(t, err)
		require.Contains(t, userIDs(members), "creator")
		require.LessOrEqual(t, len(members), maxUsers)
		got, err := s.GetRoom(ctx, room.ID)
		require.NoError(t, err)
		require.Equal(t, len(members), got.MemberCount, "GetRoom's MemberCount %s", what)
		listed, err := s.ListRooms(ctx, "creator")
		require.NoError(t, err)
		require.Len(t, listed, 1)
		require.Equal(t, len(members), listed[0].MemberCount, "ListRooms's MemberCount %s", what)
		return members
	}
	leaveOneByOne := func(members []realtime.Member) {
		t.Helper()
		n := len(members)
		for _, m := range members {
			if m.UserID == "creator" {
				continue
			}
			remaining, err := s.RemoveMember(ctx, room.ID, m.UserID)
			require.NoError(t, err)
			n--
			require.Equal(t, n, remaining, "RemoveMember(%s)", m.UserID)
		}
		require.Equal(t, 1, n)
		requireExact("after every member but the creator left")
	}

	var wg sync.WaitGroup
	for g := range 2 * users {
		user := fmt.Sprintf("user%02d", g/2)
		wg.Go(func() {
			for range rounds {
				_ = add(user)
				remaining, err := s.RemoveMember(ctx, room.ID, user)
				switch {
				case err == nil && (remaining < 1 || remaining >= maxUsers):
					errs <- fmt.Errorf("RemoveMember(%s) left %d members in a room for %d with its creator", user, remaining, maxUsers)
				case err != nil && !errors.Is(err, realtime.ErrNotFound):
					errs <- fmt.Errorf("RemoveMember(%s): %w", user, err)
				}
				// Someone who never joined leaves: nothing changes.
				if _, err := s.RemoveMember(ctx, room.ID, "ghost-"+user); !errors.Is(err, realtime.ErrNotFound) {
					errs <- fmt.Errorf("RemoveMember(ghost-%s) = %v, want ErrNotFound", user, err)
				}
			}
		})
	}
	wg.Wait()
	leaveOneByOne(requireExact("after joins and leaves at once"))

	// Every user joins at once: the room has room for five of them.
	var refused atomic.Int64
	for i := range users {
		wg.Go(func() {
			if errors.Is(add(fmt.Sprintf("user%02d", i)), realtime.ErrRoomFull) {
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, users-(maxUsers-1), refused.Load(), "joins refused, the room full")
	members := requireExact("after joins at once")
	require.Len(t, members, maxUsers)
	leaveOneByOne(members)
}

func testListMembersJoinOrder(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	// Joins within one millisecond have equal times: join order is the
	// order of the AddMember calls, not of times or ids.
	joinedAt := now()
	users := []string{"erin", "bob", "dave", "carol", "frank"}
	for _, u := range users {
		m := newMember(room.ID, u, realtime.RoleMember)
		m.JoinedAt = joinedAt
		_, _, err := s.AddMember(ctx, m, realtime.Limits{})
		require.NoError(t, err)
	}
	members, err := s.ListMembers(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, append([]string{"alice"}, users...), userIDs(members))

	_, err = s.RemoveMember(ctx, room.ID, "dave")
	require.NoError(t, err)
	join(t, s, room.ID, "dave")
	members, err = s.ListMembers(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"alice", "erin", "bob", "carol", "frank", "dave"}, userIDs(members))
}

func testSaveMessageSeqPerStream(t *testing.T, s realtime.Store) {
	a := createRoom(t, s, newRoom("alice"))
	b := createRoom(t, s, newRoom("alice"))
	steps := []struct {
		m    realtime.Message
		want uint64
	}{
		{newMessage(a.ID, "alice", "a1"), 1},
		{newMessage(b.ID, "alice", "b1"), 1},
		{newMessage(a.ID, "alice", "a2"), 2},
		{dm("alice", "bob", "ab1"), 1},
		{dm("bob", "alice", "ab2"), 2}, // the same conversation
		{dm("alice", "carol", "ac1"), 1},
		{newMessage("", "admin", "global1"), 1},
		{newMessage(a.ID, "alice", "a3"), 3},
		{dm("alice", "bob", "ab3"), 3},
		{newMessage("", "admin", "global2"), 2},
		{newMessage(b.ID, "alice", "b2"), 2},
	}
	for _, step := range steps {
		got := save(t, s, step.m)
		require.Equal(t, step.want, got.Seq, "Seq of %s in %s", step.m.Content, step.m.Stream())
		want := step.m
		want.Seq = step.want
		requireMessage(t, want, got, "SaveMessage returns the message as stored")
	}
}

func testSaveMessageClientMsgID(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	other := createRoom(t, s, newRoom("alice"))
	join(t, s, room.ID, "bob")

	m := newMessage(room.ID, "alice", "first")
	m.ClientMsgID = "c1"
	first := save(t, s, m)

	retry := newMessage(room.ID, "alice", "retried")
	retry.ClientMsgID = "c1"
	got, dup, err := s.SaveMessage(ctx, retry)
	require.NoError(t, err)
	require.True(t, dup, "same sender, stream and clientMsgId")
	requireMessage(t, first, got, "a duplicate returns the original")
	_, err = s.GetMessage(ctx, retry.ID)
	requireCode(t, realtime.ErrNotFound, err, "a duplicate was stored")

	for _, tc := range []struct {
		name string
		m    realtime.Message
		seq  uint64
	}{
		{"no seq was spent on the duplicate", newMessage(room.ID, "alice", "second"), 2},
		{"another sender", withClientID(newMessage(room.ID, "bob", "bob's"), "c1"), 3},
		{"another stream", withClientID(newMessage(other.ID, "alice", "elsewhere"), "c1"), 1},
		{"a direct message", withClientID(dm("alice", "bob", "dm"), "c1"), 1},
		{"the other side of the conversation", withClientID(dm("bob", "alice", "dm back"), "c1"), 2},
		{"no clientMsgId", newMessage(room.ID, "alice", "plain"), 4},
		{"no clientMsgId again", newMessage(room.ID, "alice", "plain"), 5},
	} {
		got, dup, err := s.SaveMessage(ctx, tc.m)
		require.NoError(t, err, tc.name)
		require.False(t, dup, tc.name)
		require.Equal(t, tc.seq, got.Seq, tc.name)
	}
	got, dup, err = s.SaveMessage(ctx, withClientID(dm("bob", "alice", "dm back again"), "c1"))
	require.NoError(t, err)
	require.True(t, dup, "a direct message retried")
	require.Equal(t, "dm back", got.Content)
}

func withClientID(m realtime.Message, clientMsgID string) realtime.Message {
	m.ClientMsgID = clientMsgID
	return m
}

func testSaveMessageConcurrentSeq(t *testing.T, s realtime.Store) {
	const goroutines, each = 20, 50
	room := createRoom(t, s, newRoom("alice"))
	for g := range goroutines {
		join(t, s, room.ID, fmt.Sprintf("user%02d", g))
	}
	got := make([][]uint64, goroutines)
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m, _, err := s.SaveMessage(t.Context(), newMessage(room.ID, fmt.Sprintf("user%02d", g), fmt.Sprint(i)))
				if err != nil {
					errs[g] = err
					return
				}
				got[g] = append(got[g], m.Seq)
			}
		})
	}
	wg.Wait()
	var all []uint64
	for g := range goroutines {
		require.NoError(t, errs[g], "goroutine %d", g)
		require.True(t, slices.IsSorted(got[g]), "goroutine %d: seqs out of order: %v", g, got[g])
		all = append(all, got[g]...)
	}
	slices.Sort(all)
	want := make([]uint64, goroutines*each)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	require.Equal(t, want, all, "seqs of %d messages saved at once", len(want))

	latest, more, err := s.History(t.Context(), realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 100})
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, want[len(want)-100:], seqs(latest))
}

// testReadsDuringSaves reads a room's history, its messages by id and a
// thread while messages are saved into it and into another room: every
// page is a run of consecutive seqs, and every saved message can be read
// back at once.
func testReadsDuringSaves(t *testing.T, s realtime.Store) {
	const writers, each = 4, 25
	rooms := []realtime.Room{createRoom(t, s, newRoom("alice")), createRoom(t, s, newRoom("alice"))}
	for _, room := range rooms {
		for w := range writers {
			join(t, s, room.ID, fmt.Sprintf("user%02d", w))
		}
	}
	parent := save(t, s, newMessage(rooms[0].ID, "alice", "parent"))
	stream := realtime.RoomStream(rooms[0].ID)
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers+1)
	stop := make(chan struct{})
	for _, room := range rooms {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					m := newMessage(room.ID, fmt.Sprintf("user%02d", w), fmt.Sprint(i))
					if i%5 == 0 {
						m.ReplyToID = parent.ID
					}
					saved, _, err := s.SaveMessage(t.Context(), m)
					if err == nil {
						_, err = s.GetMessage(t.Context(), saved.ID)
					}
					if err != nil {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
				}
			})
		}
	}
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, q := range []realtime.HistoryQuery{{Stream: stream, Limit: 20}, {Stream: stream, AfterSeq: 3, Limit: 20}} {
				page, _, err := s.History(t.Context(), q)
				if err == nil && len(page) > 0 && page[len(page)-1].Seq-page[0].Seq != uint64(len(page)-1) {
					err = fmt.Errorf("history %+v: seqs %v are not consecutive", q, seqs(page))
				}
				if err == nil {
					_, _, err = s.Thread(t.Context(), realtime.ThreadQuery{ParentID: parent.ID, Limit: 10})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	latest, _, err := s.History(t.Context(), realtime.HistoryQuery{Stream: stream, Limit: 2 * writers * each})
	require.NoError(t, err)
	require.Len(t, latest, 1+writers*each, "the parent and every reply and message")
	replies, _, err := s.Thread(t.Context(), realtime.ThreadQuery{ParentID: parent.ID, Limit: 2 * writers * each})
	require.NoError(t, err)
	require.Len(t, replies, writers*each/5)
}

func testSaveMessageConcurrentClientMsgID(t *testing.T, s realtime.Store) {
	const retries = 20
	room := createRoom(t, s, newRoom("alice"))
	type result struct {
		m   realtime.Message
		dup bool
		err error
	}
	results := make([]result, retries)
	var wg sync.WaitGroup
	for i := range retries {
		wg.Go(func() {
			m := withClientID(newMessage(room.ID, "alice", fmt.Sprint("try ", i)), "once")
			r := &results[i]
			r.m, r.dup, r.err = s.SaveMessage(t.Context(), m)
		})
	}
	wg.Wait()
	var stored realtime.Message
	for i, r := range results {
		require.NoError(t, r.err, "try %d", i)
		if !r.dup {
			require.Empty(t, stored.ID, "two tries were stored")
			stored = r.m
		}
	}
	require.NotEmpty(t, stored.ID, "no try was stored")
	require.Equal(t, uint64(1), stored.Seq)
	for i, r := range results {
		requireMessage(t, stored, r.m, "try %d", i)
	}
	next := save(t, s, newMessage(room.ID, "alice", "next"))
	require.Equal(t, uint64(2), next.Seq)
}

// testSaveMessageSender: a room message is stored only from a member who is
// not muted, checked by the store itself; a refused one takes no seq.
func testSaveMessageSender(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	join(t, s, room.ID, "bob")
	save(t, s, newMessage(room.ID, "bob", "hello"))

	refused := func(sender, why string) {
		t.Helper()
		m := newMessage(room.ID, sender, why)
		_, _, err := s.SaveMessage(ctx, m)
		requireCode(t, realtime.ErrForbidden, err, "a message from %s", why)
		_, err = s.GetMessage(ctx, m.ID)
		requireCode(t, realtime.ErrNotFound, err, "a message from %s was stored", why)
	}
	refused("mallory", "a user who never joined")

	_, err := s.UpdateMember(ctx, room.ID, "bob", realtime.MemberUpdate{IsMuted: ptr(true)})
	require.NoError(t, err)
	refused("bob", "a muted member")
	_, err = s.UpdateMember(ctx, room.ID, "bob", realtime.MemberUpdate{IsMuted: ptr(false)})
	require.NoError(t, err)
	require.Equal(t, uint64(2), save(t, s, newMessage(room.ID, "bob", "unmuted")).Seq, "refused messages spent no seq")

	_, err = s.RemoveMember(ctx, room.ID, "bob")
	require.NoError(t, err)
	refused("bob", "a member who left")

	// Membership is per room, and direct messages need none.
	other := createRoom(t, s, newRoom("carol"))
	m := newMessage(other.ID, "alice", "not here")
	_, _, err = s.SaveMessage(ctx, m)
	requireCode(t, realtime.ErrForbidden, err, "alice belongs to another room")
	save(t, s, dm("mallory", "alice", "hi"))
	require.Equal(t, uint64(3), save(t, s, newMessage(room.ID, "alice", "last")).Seq)
}

// testSaveMessageOfTheHost: a message with an empty SenderID is the host's:
// stored in a room it is no member of, numbered with the others, and
// idempotent on its ClientMsgID; its room must still exist.
func testSaveMessageOfTheHost(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	save(t, s, newMessage(room.ID, "alice", "first"))
	host := func(roomID string) realtime.Message {
		return realtime.Message{ID: id("msg"), RoomID: roomID, Sender: realtime.UserRef{Username: "Shop"},
			Content: "order shipped", Type: realtime.TypeSystem, CreatedAt: now(), ClientMsgID: "shipped-42"}
	}
	m := host(room.ID)
	saved := save(t, s, m)
	require.Equal(t, uint64(2), saved.Seq)
	got, err := s.GetMessage(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, saved, got)

	dup, isDup, err := s.SaveMessage(ctx, host(room.ID))
	require.NoError(t, err)
	require.True(t, isDup, "a retry of the host's message")
	require.Equal(t, saved.ID, dup.ID)

	_, _, err = s.SaveMessage(ctx, host(id("missing")))
	requireCode(t, realtime.ErrNotFound, err)
}

func testSaveMessageRoomNotFound(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	m := newMessage(id("missing"), "alice", "hello?")
	_, _, err := s.SaveMessage(ctx, m)
	requireCode(t, realtime.ErrNotFound, err)
	_, err = s.GetMessage(ctx, m.ID)
	requireCode(t, realtime.ErrNotFound, err, "a message to a missing room was stored")
}

func testGetMessage(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	parent := save(t, s, newMessage(room.ID, "alice", "look"))

	m := newMessage(room.ID, "alice", "Ünïcode ✓ and\nlines, \"quotes\", <tags> & 'apostrophes'")
	m.Type = realtime.TypeImage
	m.ReplyToID = parent.ID
	m.Metadata = json.RawMessage(`{"name": "cat.png", "size": 1048576, "dims": [640, 480], "alt": null, "nested": {"a": true}}`)
	m.ClientMsgID = "client-1"
	m.CreatedAt = time.Date(2024, 2, 29, 23, 59, 59, 999_000_000, time.UTC)
	want := save(t, s, m)
	got, err := s.GetMessage(ctx, m.ID)
	require.NoError(t, err)
	requireMessage(t, want, got)
	require.Equal(t, time.UTC, got.CreatedAt.Location())

	gotParent, err := s.GetMessage(ctx, parent.ID)
	require.NoError(t, err)
	requireMessage(t, parent, gotParent, "a message without optional fields")

	d := dm("bob", "alice", "psst")
	d.Type = realtime.TypeFile
	d.Metadata = json.RawMessage(`{"url":"https://example.com/f"}`)
	wantDM := save(t, s, d)
	gotDM, err := s.GetMessage(ctx, d.ID)
	require.NoError(t, err)
	requireMessage(t, wantDM, gotDM, "a direct message")

	g := newMessage("", "admin", "to everyone")
	g.Type = realtime.TypeSystem
	wantGlobal := save(t, s, g)
	gotGlobal, err := s.GetMessage(ctx, g.ID)
	require.NoError(t, err)
	requireMessage(t, wantGlobal, gotGlobal, "a global message")

	_, err = s.GetMessage(ctx, id("missing"))
	requireCode(t, realtime.ErrNotFound, err, "GetMessage of an unknown id")
}

// historyRoom returns a room with ten messages, seq 1 to 10.
func historyRoom(t *testing.T, s realtime.Store) (string, []realtime.Message) {
	t.Helper()
	room := createRoom(t, s, newRoom("alice"))
	return realtime.RoomStream(room.ID), saveN(t, s, room.ID, "alice", 10)
}

// historyCase is one History query and what it must return: messages by
// seq and hasMore.
type historyCase struct {
	name    string
	q       realtime.HistoryQuery
	want    []uint64
	hasMore bool
}

func runHistory(t *testing.T, s realtime.Store, msgs []realtime.Message, cases []historyCase) {
	t.Helper()
	for _, tc := range cases {
		got, more, err := s.History(t.Context(), tc.q)
		require.NoError(t, err, tc.name)
		if tc.want == nil {
			tc.want = []uint64{}
		}
		require.Equal(t, tc.want, seqs(got), "History %s: seqs", tc.name)
		require.Equal(t, tc.hasMore, more, "History %s: hasMore", tc.name)
		for _, m := range got {
			requireMessage(t, msgs[m.Seq-1], m, "History %s: message %d", tc.name, m.Seq)
		}
	}
}

func testHistoryLatest(t *testing.T, s realtime.Store) {
	stream, msgs := historyRoom(t, s)
	runHistory(t, s, msgs, []historyCase{
		{"Limit 3", realtime.HistoryQuery{Stream: stream, Limit: 3}, []uint64{8, 9, 10}, true},
		{"Limit 9", realtime.HistoryQuery{Stream: stream, Limit: 9}, []uint64{2, 3, 4, 5, 6, 7, 8, 9, 10}, true},
		{"Limit 10", realtime.HistoryQuery{Stream: stream, Limit: 10}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, false},
		{"Limit 50", realtime.HistoryQuery{Stream: stream, Limit: 50}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, false},
	})
}

func testHistoryBefore(t *testing.T, s realtime.Store) {
	stream, msgs := historyRoom(t, s)
	before := func(seq uint64, limit int) realtime.HistoryQuery {
		return realtime.HistoryQuery{Stream: stream, Before: msgs[seq-1].ID, Limit: limit}
	}
	runHistory(t, s, msgs, []historyCase{
		{"before 6, Limit 2", before(6, 2), []uint64{4, 5}, true},
		{"before 4, Limit 2", before(4, 2), []uint64{2, 3}, true},
		{"before 3, Limit 2", before(3, 2), []uint64{1, 2}, false},
		{"before 3, Limit 5", before(3, 5), []uint64{1, 2}, false},
		{"before 1", before(1, 5), nil, false},
		{"before 10, Limit 9", before(10, 9), []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}, false},
		{"before 10, Limit 8", before(10, 8), []uint64{2, 3, 4, 5, 6, 7, 8, 9}, true},
	})
}

func testHistoryAfter(t *testing.T, s realtime.Store) {
	stream, msgs := historyRoom(t, s)
	after := func(seq uint64, limit int) realtime.HistoryQuery {
		return realtime.HistoryQuery{Stream: stream, After: msgs[seq-1].ID, Limit: limit}
	}
	runHistory(t, s, msgs, []historyCase{
		{"after 5, Limit 2", after(5, 2), []uint64{6, 7}, true},
		{"after 7, Limit 2", after(7, 2), []uint64{8, 9}, true},
		{"after 8, Limit 2", after(8, 2), []uint64{9, 10}, false},
		{"after 8, Limit 5", after(8, 5), []uint64{9, 10}, false},
		{"after 10", after(10, 5), nil, false},
		{"after 1, Limit 9", after(1, 9), []uint64{2, 3, 4, 5, 6, 7, 8, 9, 10}, false},
		{"after 1, Limit 8", after(1, 8), []uint64{2, 3, 4, 5, 6, 7, 8, 9}, true},
	})
}

func testHistoryAfterSeq(t *testing.T, s realtime.Store) {
	stream, msgs := historyRoom(t, s)
	afterSeq := func(seq uint64, limit int) realtime.HistoryQuery {
		return realtime.HistoryQuery{Stream: stream, AfterSeq: seq, Limit: limit}
	}
	runHistory(t, s, msgs, []historyCase{
		{"after seq 5, Limit 2", afterSeq(5, 2), []uint64{6, 7}, true},
		{"after seq 8, Limit 2", afterSeq(8, 2), []uint64{9, 10}, false},
		{"after seq 8, Limit 5", afterSeq(8, 5), []uint64{9, 10}, false},
		{"after seq 1, Limit 9", afterSeq(1, 9), []uint64{2, 3, 4, 5, 6, 7, 8, 9, 10}, false},
		{"after seq 1, Limit 3", afterSeq(1, 3), []uint64{2, 3, 4}, true},
		{"after the last seq", afterSeq(10, 5), nil, false},
		{"after a seq not given yet", afterSeq(50, 5), nil, false},
		{"seq 0 is no cursor: the latest", afterSeq(0, 3), []uint64{8, 9, 10}, true},
	})
	got, more, err := s.History(t.Context(), realtime.HistoryQuery{Stream: "dm:nobody:none", AfterSeq: 3, Limit: 5})
	require.NoError(t, err)
	require.Empty(t, got)
	require.False(t, more)
}

func testHistoryCursorNotFound(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	stream, _ := historyRoom(t, s)
	other := createRoom(t, s, newRoom("alice"))
	foreign := save(t, s, newMessage(other.ID, "alice", "elsewhere"))
	direct := save(t, s, dm("alice", "bob", "direct"))

	for _, cursor := range []struct{ name, id string }{
		{"another room's message", foreign.ID},
		{"a direct message", direct.ID},
		{"an unknown id", id("missing")},
	} {
		_, _, err := s.History(ctx, realtime.HistoryQuery{Stream: stream, Before: cursor.id, Limit: 5})
		requireCode(t, realtime.ErrNotFound, err, "Before: %s", cursor.name)
		_, _, err = s.History(ctx, realtime.HistoryQuery{Stream: stream, After: cursor.id, Limit: 5})
		requireCode(t, realtime.ErrNotFound, err, "After: %s", cursor.name)
	}
}

func testHistoryEmpty(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	for _, stream := range []string{realtime.RoomStream(room.ID), realtime.RoomStream(id("missing")), "dm:alice:bob", "global"} {
		got, more, err := s.History(ctx, realtime.HistoryQuery{Stream: stream, Limit: 10})
		require.NoError(t, err, stream)
		require.Empty(t, got, stream)
		require.False(t, more, stream)
	}
}

func testHistoryStreams(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	a := createRoom(t, s, newRoom("alice"))
	b := createRoom(t, s, newRoom("alice"))
	var inA, inB, dmAB, dmAC, global []realtime.Message
	for i := range 3 {
		inA = append(inA, save(t, s, newMessage(a.ID, "alice", fmt.Sprint("a", i))))
		inB = append(inB, save(t, s, newMessage(b.ID, "alice", fmt.Sprint("b", i))))
		dmAB = append(dmAB, save(t, s, dm("alice", "bob", fmt.Sprint("ab", i))))
		dmAB = append(dmAB, save(t, s, dm("bob", "alice", fmt.Sprint("ba", i))))
		dmAC = append(dmAC, save(t, s, dm("carol", "alice", fmt.Sprint("ca", i))))
		global = append(global, save(t, s, newMessage("", "admin", fmt.Sprint("g", i))))
	}
	for _, tc := range []struct {
		stream string
		want   []realtime.Message
	}{
		{realtime.RoomStream(a.ID), inA},
		{realtime.RoomStream(b.ID), inB},
		{"dm:alice:bob", dmAB},
		{"dm:alice:carol", dmAC},
		{"global", global},
	} {
		got, more, err := s.History(ctx, realtime.HistoryQuery{Stream: tc.stream, Limit: 20})
		require.NoError(t, err, tc.stream)
		require.False(t, more, tc.stream)
		require.Equal(t, ids(tc.want), ids(got), "History(%s)", tc.stream)
		for i := range got {
			require.Equal(t, uint64(i+1), got[i].Seq, "History(%s)", tc.stream)
		}
	}
	// A cursor of the same stream works from either side of a conversation.
	got, more, err := s.History(ctx, realtime.HistoryQuery{Stream: "dm:alice:bob", Before: dmAB[3].ID, Limit: 2})
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, ids(dmAB[1:3]), ids(got))
}

func testSaveMessageDuplicateID(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	first := save(t, s, newMessage(room.ID, "alice", "first"))
	join(t, s, room.ID, "bob")

	again := newMessage(room.ID, "bob", "same id")
	again.ID = first.ID
	_, _, err := s.SaveMessage(ctx, again)
	requireCode(t, realtime.ErrConflict, err)
	got, err := s.GetMessage(ctx, first.ID)
	require.NoError(t, err)
	requireMessage(t, first, got, "the first message is untouched")
	next := save(t, s, newMessage(room.ID, "alice", "next"))
	require.Equal(t, uint64(2), next.Seq, "no seq was spent on the conflict")
}

// testSaveMessageConcurrentFailures saves messages at once of which some
// must fail (missing room, taken id) or are duplicates: the others are
// stored with seqs 1..N regardless.
func testSaveMessageConcurrentFailures(t *testing.T, s realtime.Store) {
	const goroutines, each = 10, 20
	room := createRoom(t, s, newRoom("alice"))
	join(t, s, room.ID, "mute")
	_, err := s.UpdateMember(t.Context(), room.ID, "mute", realtime.MemberUpdate{IsMuted: ptr(true)})
	require.NoError(t, err)
	taken := save(t, s, newMessage(room.ID, "alice", "taken"))
	once := save(t, s, withClientID(newMessage(room.ID, "alice", "once"), "once"))

	type result struct {
		kind string
		m    realtime.Message
		dup  bool
		err  error
	}
	results := make([][]result, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				var r result
				m := newMessage(room.ID, "alice", fmt.Sprint(g, "/", i))
				switch i % 6 {
				case 0:
					r.kind, m.RoomID = "missing room", id("missing")
				case 1:
					r.kind, m.ID = "taken id", taken.ID
				case 2:
					r.kind, m.ClientMsgID = "duplicate", "once"
				case 3:
					r.kind, m.SenderID = "not a member", "stranger"
				case 4:
					r.kind, m.SenderID = "muted", "mute"
				default:
					r.kind = "ok"
				}
				r.m, r.dup, r.err = s.SaveMessage(t.Context(), m)
				results[g] = append(results[g], r)
			}
		})
	}
	wg.Wait()
	var stored []uint64
	for g, rs := range results {
		for i, r := range rs {
			switch r.kind {
			case "missing room":
				requireCode(t, realtime.ErrNotFound, r.err, "goroutine %d, message %d", g, i)
			case "taken id":
				requireCode(t, realtime.ErrConflict, r.err, "goroutine %d, message %d", g, i)
			case "not a member", "muted":
				requireCode(t, realtime.ErrForbidden, r.err, "goroutine %d, message %d (%s)", g, i, r.kind)
			case "duplicate":
				require.NoError(t, r.err, "goroutine %d, message %d", g, i)
				require.True(t, r.dup, "goroutine %d, message %d", g, i)
				requireMessage(t, once, r.m, "goroutine %d, message %d", g, i)
			default:
				require.NoError(t, r.err, "goroutine %d, message %d", g, i)
				require.False(t, r.dup, "goroutine %d, message %d", g, i)
				stored = append(stored, r.m.Seq)
			}
		}
	}
	slices.Sort(stored)
	want := make([]uint64, len(stored))
	for i := range want {
		want[i] = uint64(i + 3)
	}
	require.Equal(t, want, stored, "seqs after the first two")
	latest, _, err := s.History(t.Context(), realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 100})
	require.NoError(t, err)
	require.Equal(t, append([]uint64{1, 2}, want...), seqs(latest))
}

func testEditMessage(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	m := newMessage(room.ID, "alice", "frist")
	m.Metadata = json.RawMessage(`{"mentions":["bob"]}`)
	m.ClientMsgID = "c1"
	orig := save(t, s, m)
	other := save(t, s, newMessage(room.ID, "alice", "other"))

	editedAt := now().Add(time.Second)
	got, err := s.EditMessage(ctx, orig.ID, "first", editedAt)
	require.NoError(t, err)
	want := orig
	want.Content, want.EditedAt = "first", &editedAt
	requireMessage(t, want, got, "EditMessage returns the edited message")
	got, err = s.GetMessage(ctx, orig.ID)
	require.NoError(t, err)
	requireMessage(t, want, got, "GetMessage after EditMessage")

	// A message may be edited again; the last edit counts.
	editedAt2 := editedAt.Add(time.Minute)
	got, err = s.EditMessage(ctx, orig.ID, "first!", editedAt2)
	require.NoError(t, err)
	want.Content, want.EditedAt = "first!", &editedAt2
	requireMessage(t, want, got, "second EditMessage")
	page, _, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 10})
	require.NoError(t, err)
	require.Len(t, page, 2)
	requireMessage(t, want, page[0], "History after EditMessage")
	requireMessage(t, other, page[1], "another message changed")

	_, err = s.EditMessage(ctx, id("missing"), "x", now())
	requireCode(t, realtime.ErrNotFound, err, "EditMessage of an unknown id")
	_, err = s.DeleteMessage(ctx, other.ID, now())
	require.NoError(t, err)
	_, err = s.EditMessage(ctx, other.ID, "back from the dead", now())
	requireCode(t, realtime.ErrNotFound, err, "EditMessage of a deleted message")
	got, err = s.GetMessage(ctx, other.ID)
	require.NoError(t, err)
	require.Empty(t, got.Content, "a deleted message was edited")
	require.Nil(t, got.EditedAt)
}

func testDeleteMessage(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	msgs := saveN(t, s, room.ID, "alice", 2)
	m := newMessage(room.ID, "alice", "oops")
	m.Type = realtime.TypeImage
	m.Metadata = json.RawMessage(`{"url":"https://example.com/secret.png"}`)
	m.ClientMsgID = "c1"
	m.ReplyToID = msgs[0].ID
	victim := save(t, s, m)
	msgs = append(msgs, victim, save(t, s, newMessage(room.ID, "alice", "after")))

	deletedAt := now().Add(time.Second)
	got, err := s.DeleteMessage(ctx, victim.ID, deletedAt)
	require.NoError(t, err)
	want := victim
	want.Content, want.Metadata, want.DeletedAt = "", nil, &deletedAt
	requireMessage(t, want, got, "DeleteMessage returns the deleted message")
	require.Empty(t, got.Metadata)
	got, err = s.GetMessage(ctx, victim.ID)
	require.NoError(t, err)
	requireMessage(t, want, got, "GetMessage of a deleted message")
	require.Empty(t, got.Metadata)

	// It keeps its place in history.
	page, more, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 10})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []uint64{1, 2, 3, 4}, seqs(page))
	requireMessage(t, want, page[2], "History: the deleted message")
	for _, i := range []int{0, 1, 3} {
		requireMessage(t, msgs[i], page[i], "History: message %d", i+1)
	}
	// It is a cursor still.
	page, _, err = s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Before: victim.ID, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2}, seqs(page))

	_, err = s.DeleteMessage(ctx, victim.ID, now())
	requireCode(t, realtime.ErrNotFound, err, "second DeleteMessage")
	got, err = s.GetMessage(ctx, victim.ID)
	require.NoError(t, err)
	require.Equal(t, deletedAt, *got.DeletedAt, "a second DeleteMessage changed DeletedAt")
	_, err = s.DeleteMessage(ctx, id("missing"), now())
	requireCode(t, realtime.ErrNotFound, err, "DeleteMessage of an unknown id")

	// Its clientMsgId still finds it, and seqs go on.
	dup, isDup, err := s.SaveMessage(ctx, withClientID(newMessage(room.ID, "alice", "retry"), "c1"))
	require.NoError(t, err)
	require.True(t, isDup)
	require.Equal(t, victim.ID, dup.ID)
	next := save(t, s, newMessage(room.ID, "alice", "next"))
	require.Equal(t, uint64(5), next.Seq)
}

// threadRoom returns a parent message and its six replies, between which
// other messages and replies to another message were saved.
func threadRoom(t *testing.T, s realtime.Store) (parent realtime.Message, replies []realtime.Message, other realtime.Message) {
	t.Helper()
	room := createRoom(t, s, newRoom("alice"))
	join(t, s, room.ID, "bob")
	join(t, s, room.ID, "carol")
	parent = save(t, s, newMessage(room.ID, "alice", "parent"))
	other = save(t, s, newMessage(room.ID, "bob", "other parent"))
	for i := range 6 {
		r := newMessage(room.ID, []string{"bob", "carol"}[i%2], fmt.Sprint("reply ", i+1))
		r.ReplyToID = parent.ID
		replies = append(replies, save(t, s, r))
		save(t, s, newMessage(room.ID, "alice", fmt.Sprint("chatter ", i+1)))
		o := newMessage(room.ID, "carol", fmt.Sprint("other reply ", i+1))
		o.ReplyToID = other.ID
		save(t, s, o)
	}
	return parent, replies, other
}

func testThread(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	parent, replies, _ := threadRoom(t, s)
	thread := func(after string, limit int) realtime.ThreadQuery {
		return realtime.ThreadQuery{ParentID: parent.ID, After: after, Limit: limit}
	}
	for _, tc := range []struct {
		name    string
		q       realtime.ThreadQuery
		want    []realtime.Message
		hasMore bool
	}{
		{"all", thread("", 10), replies, false},
		{"exactly all", thread("", 6), replies, false},
		{"first page", thread("", 2), replies[:2], true},
		{"second page", thread(replies[1].ID, 2), replies[2:4], true},
		{"last page", thread(replies[3].ID, 2), replies[4:], false},
		{"after the last", thread(replies[5].ID, 2), nil, false},
		{"after the first, the rest", thread(replies[0].ID, 5), replies[1:], false},
	} {
		got, more, err := s.Thread(ctx, tc.q)
		require.NoError(t, err, tc.name)
		require.Equal(t, ids(tc.want), ids(got), "Thread %s", tc.name)
		require.Equal(t, tc.hasMore, more, "Thread %s: hasMore", tc.name)
		for i := range got {
			requireMessage(t, tc.want[i], got[i], "Thread %s: reply %d", tc.name, i)
		}
	}

	// A deleted reply keeps its place; a deleted parent keeps its thread.
	_, err := s.DeleteMessage(ctx, replies[1].ID, now())
	require.NoError(t, err)
	_, err = s.DeleteMessage(ctx, parent.ID, now())
	require.NoError(t, err)
	got, more, err := s.Thread(ctx, thread("", 3))
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, ids(replies[:3]), ids(got))
	require.NotNil(t, got[1].DeletedAt)

	// A message without replies has an empty thread.
	got, more, err = s.Thread(ctx, realtime.ThreadQuery{ParentID: replies[0].ID, Limit: 5})
	require.NoError(t, err)
	require.Empty(t, got)
	require.False(t, more)
}

func testThreadNotFound(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	parent, replies, other := threadRoom(t, s)
	otherReplies, _, err := s.Thread(ctx, realtime.ThreadQuery{ParentID: other.ID, Limit: 1})
	require.NoError(t, err)
	require.Len(t, otherReplies, 1)

	for _, tc := range []struct {
		name string
		q    realtime.ThreadQuery
	}{
		{"an unknown parent", realtime.ThreadQuery{ParentID: id("missing"), Limit: 5}},
		{"an unknown cursor", realtime.ThreadQuery{ParentID: parent.ID, After: id("missing"), Limit: 5}},
		{"a reply of another parent as cursor", realtime.ThreadQuery{ParentID: parent.ID, After: otherReplies[0].ID, Limit: 5}},
		{"the parent as cursor", realtime.ThreadQuery{ParentID: parent.ID, After: parent.ID, Limit: 5}},
		{"a cursor of another thread's parent", realtime.ThreadQuery{ParentID: other.ID, After: replies[0].ID, Limit: 5}},
	} {
		_, _, err := s.Thread(ctx, tc.q)
		requireCode(t, realtime.ErrNotFound, err, "Thread with %s", tc.name)
	}
}

func testFiles(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	f := realtime.File{
		ID:          id("file"),
		RoomID:      id("room"),
		UploaderID:  "alice",
		Name:        "Ünïcode cat.png",
		ContentType: "image/png",
		Size:        10 << 20,
		CreatedAt:   now(),
	}
	require.NoError(t, s.SaveFile(ctx, f))
	got, err := s.GetFile(ctx, f.ID)
	require.NoError(t, err)
	require.Equal(t, f, got)
	require.Equal(t, time.UTC, got.CreatedAt.Location())

	same := f
	same.Name, same.Size = "other.txt", 1
	requireCode(t, realtime.ErrConflict, s.SaveFile(ctx, same), "SaveFile of a taken id")
	got, err = s.GetFile(ctx, f.ID)
	require.NoError(t, err)
	require.Equal(t, f, got, "the first file is untouched")

	_, err = s.GetFile(ctx, id("missing"))
	requireCode(t, realtime.ErrNotFound, err, "GetFile of an unknown id")
}

func testMemberRooms(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	a := createRoom(t, s, newRoom("alice"))
	b := createRoom(t, s, newRoom("bob"))
	c := createRoom(t, s, newRoom("carol"))
	join(t, s, b.ID, "alice")
	join(t, s, c.ID, "alice")
	_, err := s.RemoveMember(ctx, c.ID, "alice")
	require.NoError(t, err)

	got, err := s.MemberRooms(ctx, "alice")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{a.ID, b.ID}, got)
	got, err = s.MemberRooms(ctx, "bob")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{b.ID}, got)
	got, err = s.MemberRooms(ctx, "nobody")
	require.NoError(t, err, "a user of no room")
	require.Empty(t, got)

	require.NoError(t, s.DeleteRoom(ctx, a.ID))
	got, err = s.MemberRooms(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, []string{b.ID}, got, "after DeleteRoom")
}

func testLastSeen(t *testing.T, s realtime.Store) {
	ctx := t.Context()
	got, err := s.LastSeen(ctx, []string{"alice", "bob"})
	require.NoError(t, err)
	require.Empty(t, got, "nobody was seen yet")

	t1 := now().Add(-time.Hour)
	t2 := now()
	require.NoError(t, s.SetLastSeen(ctx, "alice", t1))
	require.NoError(t, s.SetLastSeen(ctx, "bob", t1))
	require.NoError(t, s.SetLastSeen(ctx, "alice", t2))
	got, err = s.LastSeen(ctx, []string{"alice", "bob", "carol"})
	require.NoError(t, err)
	require.Equal(t, map[string]time.Time{"alice": t2, "bob": t1}, got, "the latest SetLastSeen counts; carol is absent")
	require.Equal(t, time.UTC, got["alice"].Location())

	got, err = s.LastSeen(ctx, []string{"bob"})
	require.NoError(t, err)
	require.Equal(t, map[string]time.Time{"bob": t1}, got)
	got, err = s.LastSeen(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

// RunMemberPages tests the realtime.MemberPager capability of a Store;
// newStore returns a new, empty store, which must implement it.
func RunMemberPages(t *testing.T, newStore func(t *testing.T) realtime.Store) {
	t.Run("MemberPages", func(t *testing.T) { testMemberPages(t, newStore(t)) })
}

func testMemberPages(t *testing.T, s realtime.Store) {
	p, ok := s.(realtime.MemberPager)
	require.True(t, ok, "the store is no MemberPager")
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	joinedAt := now()
	want := []string{"alice"}
	for i := range 12 {
		u := fmt.Sprintf("u%02d", 11-i) // ids out of join order
		m := newMember(room.ID, u, realtime.RoleMember)
		m.JoinedAt = joinedAt
		_, _, err := s.AddMember(ctx, m, realtime.Limits{})
		require.NoError(t, err)
		want = append(want, u)
	}
	_, err := s.RemoveMember(ctx, room.ID, "u05")
	require.NoError(t, err)
	want = slices.DeleteFunc(want, func(u string) bool { return u == "u05" })

	// Pages of 5 from the first, each after the last of the one before,
	// give every member once, in join order, as ListMembers does.
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "paging does not end")
		page, more, err := p.ListMembersAfter(ctx, room.ID, after, 5)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 5)
		got = append(got, userIDs(page)...)
		if !more {
			break
		}
		require.Len(t, page, 5, "a page with more after it is full")
		after = page[len(page)-1].UserID
	}
	require.Equal(t, want, got)
	all, err := s.ListMembers(ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, want, userIDs(all))

	// The last member: an empty page, nothing more.
	page, more, err := p.ListMembersAfter(ctx, room.ID, want[len(want)-1], 5)
	require.NoError(t, err)
	require.Empty(t, page)
	require.False(t, more)
	// An exact fit has nothing more.
	page, more, err = p.ListMembersAfter(ctx, room.ID, "", len(want))
	require.NoError(t, err)
	require.Len(t, page, len(want))
	require.False(t, more)
	// A member who left, an unknown user, an unknown room: not found.
	_, _, err = p.ListMembersAfter(ctx, room.ID, "u05", 5)
	requireCode(t, realtime.ErrNotFound, err, "after a member who left")
	_, _, err = p.ListMembersAfter(ctx, room.ID, "mallory", 5)
	requireCode(t, realtime.ErrNotFound, err, "after no member")
	_, _, err = p.ListMembersAfter(ctx, "no-such-room", "", 5)
	requireCode(t, realtime.ErrNotFound, err, "an unknown room")
}

// RunNotifications tests the realtime.NotificationStore capability of a
// Store; newStore returns a new, empty store for each subtest, which must
// implement it.
func RunNotifications(t *testing.T, newStore func(t *testing.T) realtime.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s realtime.NotificationStore)
	}{
		{"SaveAndList", testNotificationsSaveAndList},
		{"Keys", testNotificationsKeys},
		{"Paging", testNotificationsPaging},
		{"MarkRead", testNotificationsMarkRead},
		{"Retention", testNotificationsRetention},
		{"ManyUsers", testNotificationsManyUsers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, ok := newStore(t).(realtime.NotificationStore)
			require.True(t, ok, "the store is no NotificationStore")
			tc.fn(t, ns)
		})
	}
}

// note returns a notification for user, as the hub makes them.
func note(user, title string) realtime.Notification {
	return realtime.Notification{ID: id("n"), UserID: user, Type: realtime.NotifyMention, Title: title,
		Body: `"quoted" \ é 😀`, Data: json.RawMessage(`{"roomId":"r1","n":1}`), RoomID: "r1", MessageID: id("msg"), CreatedAt: now()}
}

func saveNotes(t *testing.T, s realtime.NotificationStore, ns ...realtime.Notification) []realtime.Notification {
	t.Helper()
	stored, err := s.SaveNotifications(t.Context(), ns, 0)
	require.NoError(t, err)
	return stored
}

func noteIDs(ns []realtime.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func testNotificationsSaveAndList(t *testing.T, s realtime.NotificationStore) {
	ctx := t.Context()
	a1, b1, a2 := note("alice", "one"), note("bob", "for bob"), note("alice", "two")
	a2.Data, a2.RoomID, a2.MessageID, a2.Body = nil, "", "", ""
	require.Equal(t, []realtime.Notification{a1, b1, a2}, saveNotes(t, s, a1, b1, a2))

	page, more, err := s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Limit: 10})
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, page, 2)
	require.Equal(t, a2, page[0], "newest first, every field")
	require.Equal(t, a1.ID, page[1].ID)
	require.JSONEq(t, string(a1.Data), string(page[1].Data))
	page[1].Data = a1.Data
	require.Equal(t, a1, page[1])
	n, err := s.UnreadNotifications(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = s.UnreadNotifications(ctx, "nobody")
	require.NoError(t, err)
	require.Zero(t, n)
	page, _, err = s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "nobody", Limit: 10})
	require.NoError(t, err)
	require.Empty(t, page)
}

func testNotificationsKeys(t *testing.T, s realtime.NotificationStore) {
	ctx := t.Context()
	first := note("alice", "once")
	first.Key = "order-42-shipped"
	require.Len(t, saveNotes(t, s, first), 1)
	again, other := note("alice", "twice?"), note("bob", "bob's")
	again.Key, other.Key = first.Key, first.Key
	stored := saveNotes(t, s, again, other)
	require.Equal(t, []string{other.ID}, noteIDs(stored), "a key is per user")
	page, _, err := s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{first.ID}, noteIDs(page))
}

func testNotificationsPaging(t *testing.T, s realtime.NotificationStore) {
	ctx := t.Context()
	var all []realtime.Notification
	for i := range 7 {
		all = append(all, note("alice", fmt.Sprint("n", i)))
	}
	saveNotes(t, s, all...)
	_, err := s.MarkNotificationsRead(ctx, "alice", []string{all[5].ID, all[2].ID}, "", now())
	require.NoError(t, err)

	var got []string
	before := ""
	for {
		page, more, err := s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Before: before, Limit: 3})
		require.NoError(t, err)
		got = append(got, noteIDs(page)...)
		if !more {
			break
		}
		before = page[len(page)-1].ID
	}
	want := noteIDs(all)
	slices.Reverse(want)
	require.Equal(t, want, got)

	page, more, err := s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Limit: 10, UnreadOnly: true})
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []string{all[6].ID, all[4].ID, all[3].ID, all[1].ID, all[0].ID}, noteIDs(page))
	page, _, err = s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Before: all[4].ID, Limit: 10, UnreadOnly: true})
	require.NoError(t, err)
	require.Equal(t, []string{all[3].ID, all[1].ID, all[0].ID}, noteIDs(page))

	bobs := saveNotes(t, s, note("bob", "b"))
	_, _, err = s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Before: bobs[0].ID, Limit: 3})
	requireCode(t, realtime.ErrNotFound, err, "a cursor of another user")
	_, _, err = s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Before: "n-missing", Limit: 3})
	requireCode(t, realtime.ErrNotFound, err)
}

func testNotificationsMarkRead(t *testing.T, s realtime.NotificationStore) {
	ctx := t.Context()
	var all []realtime.Notification
	for i := range 5 {
		all = append(all, note("alice", fmt.Sprint("n", i)))
	}
	saveNotes(t, s, all...)
	bobs := saveNotes(t, s, note("bob", "b"))

	at := now()
	unread, err := s.MarkNotificationsRead(ctx, "alice", []string{all[4].ID}, "", at)
	require.NoError(t, err)
	require.Equal(t, 4, unread)
	// Another user's id, or an unknown one, marks nothing.
	_, err = s.MarkNotificationsRead(ctx, "alice", []string{all[0].ID, bobs[0].ID}, "", now())
	requireCode(t, realtime.ErrNotFound, err)
	_, err = s.MarkNotificationsRead(ctx, "alice", nil, bobs[0].ID, now())
	requireCode(t, realtime.ErrNotFound, err)
	n, err := s.UnreadNotifications(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, 4, n, "a refused mark changed something")
	n, err = s.UnreadNotifications(ctx, "bob")
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Up to one: it and every older one; what was read keeps its time.
	unread, err = s.MarkNotificationsRead(ctx, "alice", nil, all[2].ID, at.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, unread)
	page, _, err := s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Limit: 10})
	require.NoError(t, err)
	require.Nil(t, page[1].ReadAt, "n3 is after n2")
	require.True(t, page[0].ReadAt.Equal(at), "n4 keeps its first read time")
	for _, p := range page[2:] {
		require.True(t, p.ReadAt.Equal(at.Add(time.Second)))
	}
}

func testNotificationsRetention(t *testing.T, s realtime.NotificationStore) {
	ctx := t.Context()
	var all []realtime.Notification
	for i := range 6 {
		n := note("alice", fmt.Sprint("n", i))
		n.CreatedAt = now().Add(time.Duration(i-6) * time.Hour)
		n.Key = fmt.Sprint("k", i)
		all = append(all, n)
	}
	stored, err := s.SaveNotifications(ctx, all[:4], 0)
	require.NoError(t, err)
	require.Len(t, stored, 4)
	_, err = s.SaveNotifications(ctx, append(all[4:], note("bob", "untouched")), 3)
	require.NoError(t, err)
	page, _, err := s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{all[5].ID, all[4].ID, all[3].ID}, noteIDs(page), "the newest 3")

	pruned, err := s.PruneNotifications(ctx, all[5].CreatedAt)
	require.NoError(t, err)
	require.Equal(t, 2, pruned)
	page, _, err = s.ListNotifications(ctx, realtime.NotificationQuery{UserID: "alice", Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{all[5].ID}, noteIDs(page))
	n, err := s.UnreadNotifications(ctx, "bob")
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// testNotificationsManyUsers: one call for many users, as Hub.Notify makes.
func testNotificationsManyUsers(t *testing.T, s realtime.NotificationStore) {
	ctx := t.Context()
	const users = 1500
	ns := make([]realtime.Notification, users)
	for i := range ns {
		ns[i] = note(fmt.Sprint("user-", i), "announcement")
		ns[i].Key = "announce-1"
	}
	stored, err := s.SaveNotifications(ctx, ns, 100)
	require.NoError(t, err)
	require.Len(t, stored, users)
	for i := range ns {
		ns[i].ID = id("n") // a retry makes new ids, with the same key
	}
	stored, err = s.SaveNotifications(ctx, ns, 100)
	require.NoError(t, err)
	require.Empty(t, stored, "a retried call stores nothing")
	for _, u := range []string{"user-0", "user-777", "user-1499"} {
		n, err := s.UnreadNotifications(ctx, u)
		require.NoError(t, err)
		require.Equal(t, 1, n, u)
	}
}

// saver returns s as a realtime.BatchSaver; a store without the
// capability skips the subtest, saying so.
func saver(t *testing.T, s realtime.Store) realtime.BatchSaver {
	t.Helper()
	b, ok := s.(realtime.BatchSaver)
	if !ok {
		t.Skip("the store is not a realtime.BatchSaver")
	}
	return b
}

// saveAll saves msgs with one SaveMessages call and requires each to be
// new.
func saveAll(t *testing.T, b realtime.BatchSaver, msgs ...realtime.Message) []realtime.Message {
	t.Helper()
	res := b.SaveMessages(t.Context(), msgs)
	require.Len(t, res, len(msgs))
	out := make([]realtime.Message, len(res))
	for i, r := range res {
		require.NoError(t, r.Err, "message %d", i)
		require.False(t, r.Duplicate, "message %d", i)
		out[i] = r.Message
	}
	return out
}

func testSaveMessagesOrder(t *testing.T, s realtime.Store) {
	b := saver(t, s)
	ctx := t.Context()
	room, other := createRoom(t, s, newRoom("alice")), createRoom(t, s, newRoom("alice"))
	save(t, s, newMessage(room.ID, "alice", "before"))

	// Several streams in one call, interleaved.
	msgs := []realtime.Message{
		newMessage(room.ID, "alice", "r2"),
		newMessage(other.ID, "alice", "o1"),
		dm("alice", "bob", "d1"),
		newMessage(room.ID, "alice", "r3"),
		newMessage(other.ID, "alice", "o2"),
		newMessage(room.ID, "alice", "r4"),
	}
	saved := saveAll(t, b, msgs...)
	for i, want := range []uint64{2, 1, 1, 3, 2, 4} {
		require.Equal(t, want, saved[i].Seq, "seq of %s: numbered in the call's order, after those stored", msgs[i].Content)
		want := msgs[i]
		want.Seq = saved[i].Seq
		requireMessage(t, want, saved[i], "SaveMessages returns the message as stored")
		got, err := s.GetMessage(ctx, msgs[i].ID)
		require.NoError(t, err)
		requireMessage(t, want, got, "GetMessage")
	}
	hist, _, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"before", "r2", "r3", "r4"}, contents(hist))
	require.Equal(t, uint64(5), save(t, s, newMessage(room.ID, "alice", "after")).Seq, "SaveMessage goes on after the call")
	require.Empty(t, b.SaveMessages(ctx, nil), "nothing to save")
}

func testSaveMessagesDuplicates(t *testing.T, s realtime.Store) {
	b := saver(t, s)
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	join(t, s, room.ID, "bob")
	stored := save(t, s, withClientID(newMessage(room.ID, "alice", "stored"), "c1"))

	msgs := []realtime.Message{
		withClientID(newMessage(room.ID, "alice", "retry of stored"), "c1"), // duplicate of stored
		withClientID(newMessage(room.ID, "alice", "new"), "c2"),
		withClientID(newMessage(room.ID, "alice", "retry of new"), "c2"), // duplicate within the call
		withClientID(newMessage(room.ID, "bob", "bob's"), "c2"),          // another sender
		withClientID(dm("alice", "bob", "dm"), "c2"),                     // another stream
		newMessage(room.ID, "alice", "no clientMsgId"),
	}
	res := b.SaveMessages(ctx, msgs)
	require.Len(t, res, len(msgs))
	for i, r := range res {
		require.NoError(t, r.Err, "message %d", i)
	}
	require.True(t, res[0].Duplicate, "a retry of a stored message")
	requireMessage(t, stored, res[0].Message, "a duplicate returns the original")
	require.False(t, res[1].Duplicate)
	require.Equal(t, uint64(2), res[1].Message.Seq, "no seq was spent on the duplicate")
	require.True(t, res[2].Duplicate, "a retry within the call")
	requireMessage(t, res[1].Message, res[2].Message, "a duplicate within the call returns its original")
	require.False(t, res[3].Duplicate, "another sender")
	require.Equal(t, uint64(3), res[3].Message.Seq)
	require.False(t, res[4].Duplicate, "another stream")
	require.Equal(t, uint64(1), res[4].Message.Seq)
	require.False(t, res[5].Duplicate)
	require.Equal(t, uint64(4), res[5].Message.Seq)
	for _, i := range []int{0, 2} {
		_, err := s.GetMessage(ctx, msgs[i].ID)
		requireCode(t, realtime.ErrNotFound, err, "duplicate %d was stored", i)
	}
	hist, _, err := s.History(ctx, realtime.HistoryQuery{Stream: realtime.RoomStream(room.ID), Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{"stored", "new", "bob's", "no clientMsgId"}, contents(hist))
}

func testSaveMessagesFailAlone(t *testing.T, s realtime.Store) {
	b := saver(t, s)
	ctx := t.Context()
	room := createRoom(t, s, newRoom("alice"))
	taken := save(t, s, newMessage(room.ID, "alice", "taken"))
	reused := newMessage(room.ID, "alice", "reuses an id")
	reused.ID = taken.ID

	msgs := []realtime.Message{
		newMessage(room.ID, "alice", "ok 1"),
		newMessage("no-such-room", "alice", "nowhere"),
		newMessage(room.ID, "mallory", "not a member"),
		reused,
		newMessage(room.ID, "alice", "ok 2"),
	}
	res := b.SaveMessages(ctx, msgs)
	require.Len(t, res, len(msgs))
	requireCode(t, realtime.ErrNotFound, res[1].Err, "a missing room")
	requireCode(t, realtime.ErrForbidden, res[2].Err, "a sender who is not a member")
	requireCode(t, realtime.ErrConflict, res[3].Err, "an id stored before")
	for _, i := range []int{0, 4} {
		require.NoError(t, res[i].Err, "message %d fails with the others", i)
		require.False(t, res[i].Duplicate)
	}
	require.Equal(t, uint64(2), res[0].Message.Seq)
	require.Equal(t, uint64(3), res[4].Message.Seq, "refused messages spent no seq")
	for _, i := range []int{1, 2} {
		_, err := s.GetMessage(ctx, msgs[i].ID)
		requireCode(t, realtime.ErrNotFound, err, "refused message %d was stored", i)
	}
	got, err := s.GetMessage(ctx, taken.ID)
	require.NoError(t, err)
	require.Equal(t, "taken", got.Content, "the stored message is unchanged")
}

func testSaveMessagesConcurrent(t *testing.T, s realtime.Store) {
	b := saver(t, s)
	const callers, calls, each = 8, 5, 10
	room := createRoom(t, s, newRoom("alice"))
	var mu sync.Mutex
	seen := map[uint64]string{}
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for k := range calls {
				msgs := make([]realtime.Message, each)
				for i := range msgs {
					msgs[i] = newMessage(room.ID, "alice", fmt.Sprint(c, "/", k, "/", i))
				}
				res := b.SaveMessages(t.Context(), msgs)
				var last uint64
				for i, r := range res {
					if !assertNoError(t, r.Err) {
						return
					}
					if r.Message.Seq <= last {
						t.Errorf("caller %d: seq %d after %d within one call", c, r.Message.Seq, last)
					}
					last = r.Message.Seq
					mu.Lock()
					if prev, ok := seen[r.Message.Seq]; ok {
						t.Errorf("seq %d given to %s and %s", r.Message.Seq, prev, msgs[i].Content)
					}
					seen[r.Message.Seq] = msgs[i].Content
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, callers*calls*each)
	for seq := uint64(1); seq <= callers*calls*each; seq++ {
		require.Contains(t, seen, seq, "no gap in the sequence")
	}
}

// assertNoError reports err on t, from any goroutine, and whether there
// was none.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("SaveMessages: %v", err)
		return false
	}
	return true
}
