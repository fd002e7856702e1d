package realtime

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
)

// TestJoinedChecksMembership: the ack of a join-room lists the room's
// members and fails when the joiner is no longer one, whether the joiner is
// on the page of members read or past it; a hub admin needs no membership.
func TestJoinedChecksMembership(t *testing.T) {
	h, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxUsersPerRoom: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx := t.Context()
	owner := User{ID: "owner", Username: "Owner"}
	room, err := h.CreateRoom(ctx, owner, RoomOptions{Name: "big"})
	if err != nil {
		t.Fatal(err)
	}
	// The owner and joinMembersLimit more: the last is past the first page.
	var last User
	for i := range joinMembersLimit {
		last = User{ID: fmt.Sprint("u", i), Username: fmt.Sprint("U", i)}
		if _, err := h.AddMember(ctx, room.ID, last.ref(), RoleMember); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name string
		u    User
	}{
		{"on the page", owner},
		{"past the page", last},
		{"an admin who is no member", User{ID: "root", Username: "Root", Roles: []string{"admin"}}},
	} {
		reply, err := h.joined(ctx, tc.u, room.ID)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(reply.Members) != joinMembersLimit || !reply.MoreMembers || reply.Room.MemberCount != joinMembersLimit+1 {
			t.Fatalf("%s: %d members, more %v, count %d; want the first %d of %d", tc.name,
				len(reply.Members), reply.MoreMembers, reply.Room.MemberCount, joinMembersLimit, joinMembersLimit+1)
		}
	}

	// Removed while joining: on the page, and past it.
	for _, u := range []User{{ID: "u0", Username: "U0"}, last} {
		if err := h.removeMember(ctx, room.ID, u.ID, u.Username, ""); err != nil {
			t.Fatal(err)
		}
		_, err := h.joined(ctx, u, room.ID)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeForbidden || e.Message != "no longer a member of this room" {
			t.Fatalf("%s removed: joined says %v; want forbidden, no longer a member", u.ID, err)
		}
	}

	// The room deleted while joining.
	if err := h.DeleteRoom(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	_, err = h.joined(ctx, owner, room.ID)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeNotFound {
		t.Fatalf("room deleted: joined says %v; want not_found", err)
	}
}
