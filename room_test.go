package realtime_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtime-go/realtime"
	"github.com/realtime-go/realtime/internal/testenv"
)

type joinAck struct {
	Room        realtime.Room
	Members     []realtime.Member
	Presence    []realtime.Presence
	MoreMembers bool
	Missed      int
	Recovered   bool
}

// TestLargeRoomMembersPaged: the join-room ack of a room of 5,002 lists its
// first 500 members with moreMembers (the first 100 when the room is past
// Config.LargeRoom), and list-members pages through every one, in join
// order, each once; its bad requests get their codes.
func TestLargeRoomMembersPaged(t *testing.T) {
	for _, tc := range []struct {
		name      string
		largeRoom int
		listed    int
	}{{"not large", -1, 500}, {"large", 0, 100}} {
		t.Run(tc.name, func(t *testing.T) { testMembersPaged(t, tc.largeRoom, tc.listed) })
	}
}

func testMembersPaged(t *testing.T, largeRoom, listed int) {
	ctx := context.Background()
	env := newTestHub(t, realtime.Config{MaxUsersPerRoom: 10000, LargeRoom: largeRoom})
	alice := env.dial("alice")
	small := alice.createRoom("small", nil)
	raw := alice.emit("join-room", map[string]any{"roomId": small.ID})
	require.NotContains(t, string(raw), "moreMembers", "a small room's ack does not mention more members")

	room := alice.createRoom("big", map[string]any{"maxUsers": 10000})
	want := []string{"alice"}
	for i := range 5000 {
		id := fmt.Sprintf("u%04d", i)
		_, err := env.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: id, Username: id}, "")
		require.NoError(t, err)
		want = append(want, id)
	}
	_, err := env.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: "bob", Username: "bob"}, "")
	require.NoError(t, err)
	want = append(want, "bob")

	bob := env.dial("bob")
	ack := testenv.DecodeInto[joinAck](t, bob.emit("join-room", map[string]any{"roomId": room.ID}))
	require.Equal(t, len(want), ack.Room.MemberCount)
	require.True(t, ack.MoreMembers)
	require.Len(t, ack.Members, listed)
	require.Equal(t, want[:listed], userIDs(ack.Members))
	require.Len(t, ack.Presence, 1, "presence covers the members listed: only alice is online among them")

	type page struct {
		Members  []realtime.Member
		Presence []realtime.Presence
		HasMore  bool
	}
	var got []string
	sawBob := false
	after := ""
	for {
		req := map[string]any{"roomId": room.ID, "limit": 500}
		if after != "" {
			req["after"] = after
		}
		p := testenv.DecodeInto[page](t, bob.emit("list-members", req))
		for _, m := range p.Members {
			got = append(got, m.UserID)
		}
		for _, pr := range p.Presence {
			sawBob = sawBob || pr.UserID == "bob"
		}
		if !p.HasMore {
			break
		}
		require.Len(t, p.Members, 500)
		after = p.Members[len(p.Members)-1].UserID
	}
	require.Equal(t, want, got, "every member once, in join order")
	require.True(t, sawBob, "the last page's presence shows bob online")

	first := testenv.DecodeInto[page](t, bob.emit("list-members", map[string]any{"roomId": room.ID}))
	require.Len(t, first.Members, 100, "the default page")
	require.Equal(t, want[:100], userIDs(first.Members))

	bob.emitErr(realtime.CodeInvalid, "list-members", map[string]any{"roomId": room.ID, "limit": 501})
	bob.emitErr(realtime.CodeInvalid, "list-members", map[string]any{"roomId": room.ID, "limit": -1})
	bob.emitErr(realtime.CodeInvalid, "list-members", map[string]any{})
	bob.emitErr(realtime.CodeNotFound, "list-members", map[string]any{"roomId": room.ID, "after": "nobody"})
	env.dial("carol").emitErr(realtime.CodeForbidden, "list-members", map[string]any{"roomId": room.ID})
	bob.emitErr(realtime.CodeNotFound, "list-members", map[string]any{"roomId": "r_missing"})
}

func userIDs(ms []realtime.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.UserID
	}
	return out
}

// wireRoom is the part of a room reply that realtime.Room does not hold:
// its "type", which follows isPrivate.
type wireRoom struct {
	Room struct {
		Type      string `json:"type"`
		IsPrivate bool   `json:"isPrivate"`
	} `json:"room"`
}

func TestCreateAndJoinRoom(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob := env.dial("alice"), env.dial("bob")

	raw := alice.emit("create-room", map[string]any{"name": "general", "description": "all hands", "maxUsers": 10})
	// The wire keeps "type" beside isPrivate.
	require.Equal(t, "public", testenv.DecodeInto[wireRoom](t, raw).Room.Type)
	room := testenv.DecodeInto[struct{ Room realtime.Room }](t, raw).Room
	require.NotEmpty(t, room.ID)
	require.Equal(t, "all hands", room.Description)
	require.Equal(t, 10, room.MaxUsers)
	require.Equal(t, "alice", room.CreatedByID)
	require.Equal(t, 1, room.MemberCount)

	ack := testenv.DecodeInto[joinAck](t, bob.emit("join-room", map[string]any{"roomId": room.ID}))
	require.Equal(t, 2, ack.Room.MemberCount)
	require.Len(t, ack.Members, 2)
	require.Equal(t, "alice", ack.Members[0].UserID)
	require.Equal(t, realtime.RoleAdmin, ack.Members[0].Role)
	require.Equal(t, "bob", ack.Members[1].UserID)
	require.Equal(t, realtime.RoleMember, ack.Members[1].Role)
	require.Len(t, ack.Presence, 2, "both members are online")
	require.False(t, ack.Recovered)

	joined := testenv.DecodeInto[struct {
		RoomID string
		User   realtime.UserRef
	}](t, alice.next("user-joined"))
	require.Equal(t, room.ID, joined.RoomID)
	require.Equal(t, realtime.UserRef{ID: "bob", Username: "Bob"}, joined.User)

	// Joining again is harmless and announces nothing.
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	alice.none("user-joined", 100*time.Millisecond)

	rooms := testenv.DecodeInto[struct{ Rooms []realtime.Room }](t, bob.emit("list-rooms", nil)).Rooms
	require.Len(t, rooms, 1)
	require.Equal(t, 2, rooms[0].MemberCount)
}

func TestCreateRoomErrors(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxUsersPerRoom: 20})
	c := env.dial("alice")
	long := make([]byte, 101)
	for i := range long {
		long[i] = 'x'
	}
	for _, tc := range []struct {
		name string
		data any
		code realtime.Code
	}{
		{"no name", map[string]any{}, realtime.CodeInvalid},
		{"name of wrong type", map[string]any{"name": 5}, realtime.CodeInvalid},
		{"name too long", map[string]any{"name": string(long)}, realtime.CodeTooLarge},
		{"bad type", map[string]any{"name": "r", "type": "secret"}, realtime.CodeInvalid},
		{"maxUsers above the hub's", map[string]any{"name": "r", "maxUsers": 21}, realtime.CodeInvalid},
		{"negative maxUsers", map[string]any{"name": "r", "maxUsers": -1}, realtime.CodeInvalid},
		{"data not an object", []int{1}, realtime.CodeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.emitErr(tc.code, "create-room", tc.data)
		})
	}
	rooms := testenv.DecodeInto[struct{ Rooms []realtime.Room }](t, c.emit("list-rooms", nil)).Rooms
	require.Empty(t, rooms, "no failed create left a room behind")
}

func TestPrivateRoom(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob, root := env.dial("alice"), env.dial("bob"), env.dial("root", "admin")
	room := alice.createRoom("secret", map[string]any{"type": "private"})
	require.True(t, room.IsPrivate)

	// Outsiders can neither see, join, read nor write it.
	require.Empty(t, testenv.DecodeInto[struct{ Rooms []realtime.Room }](t, bob.emit("list-rooms", nil)).Rooms)
	bob.emitErr(realtime.CodeForbidden, "join-room", map[string]any{"roomId": room.ID})
	bob.emitErr(realtime.CodeForbidden, "get-history", map[string]any{"roomId": room.ID})
	bob.emitErr(realtime.CodeForbidden, "message", map[string]any{"roomId": room.ID, "content": "let me in"})
	bob.emitErr(realtime.CodeForbidden, "typing", map[string]any{"roomId": room.ID, "isTyping": true})

	// An admin adds bob; then he may join.
	member := testenv.DecodeInto[struct{ Member realtime.Member }](t, alice.emit("add-member", map[string]any{"roomId": room.ID, "userId": "bob"})).Member
	require.Equal(t, realtime.RoleMember, member.Role)
	ack := testenv.DecodeInto[joinAck](t, bob.emit("join-room", map[string]any{"roomId": room.ID}))
	require.Equal(t, 2, ack.Room.MemberCount)
	require.Len(t, testenv.DecodeInto[struct{ Rooms []realtime.Room }](t, bob.emit("list-rooms", nil)).Rooms, 1)

	// A hub-wide admin may enter any room.
	root.emit("join-room", map[string]any{"roomId": room.ID})
}

func TestRoomAdministration(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob, carol := env.dial("alice"), env.dial("bob"), env.dial("carol")
	room := alice.createRoom("team", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	carol.emit("join-room", map[string]any{"roomId": room.ID})

	// Members are not admins: every admin event is refused and changes nothing.
	bob.emitErr(realtime.CodeForbidden, "update-room", map[string]any{"roomId": room.ID, "name": "mine"})
	bob.emitErr(realtime.CodeForbidden, "delete-room", map[string]any{"roomId": room.ID})
	bob.emitErr(realtime.CodeForbidden, "update-member", map[string]any{"roomId": room.ID, "userId": "carol", "isMuted": true})
	bob.emitErr(realtime.CodeForbidden, "remove-member", map[string]any{"roomId": room.ID, "userId": "carol"})
	bob.emitErr(realtime.CodeForbidden, "add-member", map[string]any{"roomId": room.ID, "userId": "dave"})
	got := testenv.DecodeInto[joinAck](t, carol.emit("join-room", map[string]any{"roomId": room.ID}))
	require.Equal(t, "team", got.Room.Name)
	require.Equal(t, 3, got.Room.MemberCount)

	// update-room reaches every subscriber.
	raw := alice.emit("update-room", map[string]any{"roomId": room.ID, "name": "squad", "isPrivate": true})
	updated := testenv.DecodeInto[struct{ Room realtime.Room }](t, raw).Room
	require.Equal(t, "squad", updated.Name)
	require.True(t, updated.IsPrivate)
	require.Equal(t, "private", testenv.DecodeInto[wireRoom](t, raw).Room.Type)
	require.Equal(t, "squad", testenv.DecodeInto[struct{ Room realtime.Room }](t, bob.next("room-updated")).Room.Name)
	alice.emitErr(realtime.CodeInvalid, "update-room", map[string]any{"roomId": room.ID, "maxUsers": 0})
	alice.emitErr(realtime.CodeInvalid, "update-room", map[string]any{"roomId": room.ID, "name": ""})
	alice.emitErr(realtime.CodeNotFound, "update-room", map[string]any{"roomId": "r_missing", "name": "x"})

	// Mute: the member is told, and cannot send until unmuted.
	m := testenv.DecodeInto[struct{ Member realtime.Member }](t, alice.emit("update-member", map[string]any{"roomId": room.ID, "userId": "bob", "isMuted": true})).Member
	require.True(t, m.IsMuted)
	pushed := testenv.DecodeInto[struct {
		RoomID string
		Member realtime.Member
	}](t, carol.next("member-updated"))
	require.Equal(t, "bob", pushed.Member.UserID)
	require.True(t, pushed.Member.IsMuted)
	bob.emitErr(realtime.CodeForbidden, "message", map[string]any{"roomId": room.ID, "content": "can you hear me"})
	alice.emit("update-member", map[string]any{"roomId": room.ID, "userId": "bob", "isMuted": false})
	bob.emit("message", map[string]any{"roomId": room.ID, "content": "back"})

	// Promotion to admin grants admin events.
	alice.emitErr(realtime.CodeInvalid, "update-member", map[string]any{"roomId": room.ID, "userId": "bob", "role": "owner"})
	alice.emit("update-member", map[string]any{"roomId": room.ID, "userId": "bob", "role": "admin"})
	bob.emit("update-room", map[string]any{"roomId": room.ID, "description": "bob was here"})
	alice.emitErr(realtime.CodeNotFound, "update-member", map[string]any{"roomId": room.ID, "userId": "nobody", "isMuted": true})

	// add-member of an existing member is a conflict.
	alice.emitErr(realtime.CodeConflict, "add-member", map[string]any{"roomId": room.ID, "userId": "carol"})

	// remove-member: the removed user is kicked and stops receiving the room.
	alice.emit("remove-member", map[string]any{"roomId": room.ID, "userId": "carol"})
	k := testenv.DecodeInto[struct{ RoomID, Reason string }](t, carol.next("kicked"))
	require.Equal(t, room.ID, k.RoomID)
	require.NotEmpty(t, k.Reason)
	left := testenv.DecodeInto[struct {
		RoomID string
		User   realtime.UserRef
	}](t, bob.next("user-left"))
	require.Equal(t, "carol", left.User.ID)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "after the kick"})
	bob.next("new-message")
	carol.none("new-message", 200*time.Millisecond)
	carol.emitErr(realtime.CodeForbidden, "get-history", map[string]any{"roomId": room.ID})
	alice.emitErr(realtime.CodeNotFound, "remove-member", map[string]any{"roomId": room.ID, "userId": "carol"})

	// delete-room: subscribers are told, the room is gone.
	alice.emit("delete-room", map[string]any{"roomId": room.ID})
	require.Equal(t, room.ID, testenv.DecodeInto[struct{ RoomID string }](t, bob.next("room-deleted")).RoomID)
	bob.emitErr(realtime.CodeNotFound, "join-room", map[string]any{"roomId": room.ID})
	alice.emitErr(realtime.CodeNotFound, "delete-room", map[string]any{"roomId": room.ID})
}

func TestLeaveRoom(t *testing.T) {
	env := newTestHub(t, realtime.Config{})
	alice, bob := env.dial("alice"), env.dial("bob")
	bob2 := env.dial("bob") // a second tab of bob's
	room := alice.createRoom("r", nil)
	bob.emit("join-room", map[string]any{"roomId": room.ID})
	bob2.emit("join-room", map[string]any{"roomId": room.ID})

	bob.emit("leave-room", map[string]any{"roomId": room.ID})
	require.Equal(t, "bob", testenv.DecodeInto[struct{ User realtime.UserRef }](t, alice.next("user-left")).User.ID)
	alice.emit("message", map[string]any{"roomId": room.ID, "content": "gone?"})
	bob.none("new-message", 150*time.Millisecond)
	bob2.none("new-message", 50*time.Millisecond)
	bob.emitErr(realtime.CodeNotFound, "leave-room", map[string]any{"roomId": room.ID})
	bob.emitErr(realtime.CodeInvalid, "leave-room", map[string]any{})
	require.Equal(t, 1, testenv.DecodeInto[joinAck](t, alice.emit("join-room", map[string]any{"roomId": room.ID})).Room.MemberCount)
}

func TestRoomLimits(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxRoomsPerUser: 2})
	alice, bob, carol := env.dial("alice"), env.dial("bob"), env.dial("carol")

	alice.createRoom("one", nil)
	alice.createRoom("two", nil)
	alice.emitErr(realtime.CodeLimitExceeded, "create-room", map[string]any{"name": "three"})

	small := bob.createRoom("small", map[string]any{"maxUsers": 2})
	alice.emitErr(realtime.CodeLimitExceeded, "join-room", map[string]any{"roomId": small.ID})
	carol.emit("join-room", map[string]any{"roomId": small.ID})
	env.dial("dave").emitErr(realtime.CodeRoomFull, "join-room", map[string]any{"roomId": small.ID})
	bob.emitErr(realtime.CodeRoomFull, "add-member", map[string]any{"roomId": small.ID, "userId": "erin"})
	require.Equal(t, 2, testenv.DecodeInto[joinAck](t, carol.emit("join-room", map[string]any{"roomId": small.ID})).Room.MemberCount)
}

func TestEmptyRoomExpires(t *testing.T) {
	const expiry = 200 * time.Millisecond
	env := newTestHub(t, realtime.Config{DefaultRoomExpiry: expiry})
	alice, bob := env.dial("alice"), env.dial("bob")
	gone := alice.createRoom("gone", nil)
	kept := alice.createRoom("kept", nil)
	alice.emit("leave-room", map[string]any{"roomId": gone.ID})
	// A room that someone joins before the expiry survives it.
	alice.emit("leave-room", map[string]any{"roomId": kept.ID})
	bob.emit("join-room", map[string]any{"roomId": kept.ID})

	publicRooms := func() []string {
		rooms, err := env.hub.Rooms(context.Background(), "")
		require.NoError(t, err)
		var ids []string
		for _, r := range rooms {
			ids = append(ids, r.ID)
		}
		return ids
	}
	require.Eventually(t, func() bool { return !slices.Contains(publicRooms(), gone.ID) }, 5*time.Second, 20*time.Millisecond)
	bob.emitErr(realtime.CodeNotFound, "join-room", map[string]any{"roomId": gone.ID})
	time.Sleep(2 * expiry) // well past the expiry the join cancelled
	require.Contains(t, publicRooms(), kept.ID)
}

// TestJoinAckLargerThanQueue: the join ack of a large room may exceed the
// send queue's bound; it is the client's own reply and does not close it.
func TestJoinAckLargerThanQueue(t *testing.T) {
	env := newTestHub(t, realtime.Config{MaxFrameBytes: 4 << 10, SendQueueBytes: 16 << 10, MaxUsersPerRoom: 1000})
	ctx := context.Background()
	room, err := env.hub.CreateRoom(ctx, realtime.User{ID: "owner"}, realtime.RoomOptions{Name: "big"})
	require.NoError(t, err)
	for i := range 400 {
		_, err := env.hub.AddMember(ctx, room.ID, realtime.UserRef{ID: fmt.Sprint("member-with-a-longish-id-", i)}, "")
		require.NoError(t, err)
	}
	c := env.dial("late")
	ack := testenv.DecodeInto[joinAck](t, c.emit("join-room", map[string]any{"roomId": room.ID}))
	require.Len(t, ack.Members, 402)
	c.emit("list-rooms", nil) // still connected
}
