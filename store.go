package realtime

import (
	"context"
	"time"
)

// Store keeps what must outlive a connection: rooms, their members and the
// messages sent to them. The hub is its only caller; implementations must be
// safe for concurrent use and return *Error values (ErrNotFound, ErrConflict,
// ErrRoomFull, ErrLimitExceeded, ...) where the protocol names an outcome.
// Any other error is reported to clients as "unavailable" for messages and
// "internal" otherwise, and logged.
//
// The in-memory implementation is the default (see NewMemoryStore);
// store/storetest is the conformance suite every implementation runs.
type Store interface {
	RoomStore
	MemberStore
	MessageStore
	FileStore
	PresenceStore
}

// RoomStore stores rooms.
type RoomStore interface {
	// CreateRoom stores room (its ID is set by the hub) together with creator
	// as its first member, atomically. It fails with ErrConflict when a room
	// with that ID exists, and with ErrLimitExceeded when the creator already
	// belongs to limits.MaxRoomsPerUser rooms. A creator with an empty
	// UserID is the host's (Hub.CreateRoom with no owner): the room starts
	// without members.
	CreateRoom(ctx context.Context, room Room, creator Member, limits Limits) (Room, error)
	// GetRoom returns the room with its current MemberCount, or ErrNotFound.
	GetRoom(ctx context.Context, id string) (Room, error)
	// UpdateRoom applies the non-nil fields of u, or returns ErrNotFound.
	UpdateRoom(ctx context.Context, id string, u RoomUpdate) (Room, error)
	// DeleteRoom removes the room, its members and its messages.
	DeleteRoom(ctx context.Context, id string) error
	// ListRooms returns the rooms userID belongs to followed by every public
	// room it does not belong to, each once, oldest first.
	ListRooms(ctx context.Context, userID string) ([]Room, error)
}

// MemberStore stores room memberships.
type MemberStore interface {
	// AddMember adds m to its room. It returns the existing membership and
	// created=false when the user already belongs to the room. A new member
	// is refused with ErrRoomFull when the room has reached its MaxUsers and
	// with ErrLimitExceeded when the user belongs to limits.MaxRoomsPerUser
	// rooms; both checks and the insert are one atomic step.
	AddMember(ctx context.Context, m Member, limits Limits) (member Member, created bool, err error)
	// GetMember returns a membership or ErrNotFound.
	GetMember(ctx context.Context, roomID, userID string) (Member, error)
	// UpdateMember applies the non-nil fields of u, or returns ErrNotFound.
	UpdateMember(ctx context.Context, roomID, userID string, u MemberUpdate) (Member, error)
	// RemoveMember removes a membership, or returns ErrNotFound; it returns
	// how many members the room still has.
	RemoveMember(ctx context.Context, roomID, userID string) (remaining int, err error)
	// ListMembers returns a room's members in the order they joined.
	ListMembers(ctx context.Context, roomID string) ([]Member, error)
	// MemberRooms returns the ids of the rooms userID belongs to, in any
	// order; none is an empty result, not an error.
	MemberRooms(ctx context.Context, userID string) ([]string, error)
}

// MemberPager is an optional capability of a MemberStore: one page of a
// room's members without reading them all. The hub answers join-room and
// list-members with it when the Store has it, so that a join costs the
// same in a room of 20,000 as in a room of 20; without it, the hub reads
// the whole list (ListMembers) for each. Both built-in stores have it.
type MemberPager interface {
	// ListMembersAfter returns, in join order as ListMembers, at most limit
	// members of the room that joined after the member after (from the
	// first when after is empty), and whether more follow. It returns
	// ErrNotFound when the room does not exist or after is not a member.
	ListMembersAfter(ctx context.Context, roomID, after string, limit int) (members []Member, more bool, err error)
}

// MessageStore stores messages.
type MessageStore interface {
	// SaveMessage stores m (ID and CreatedAt set by the hub) and assigns its
	// Seq: one more than the last Seq of m.Stream(), so that each stream's
	// sequence is 1, 2, 3... without gaps. When m.ClientMsgID is set and the
	// same sender already stored a message of the same stream with that
	// ClientMsgID, nothing is stored and the earlier message is returned with
	// duplicate=true.
	//
	// A room message is stored only if its room exists (ErrNotFound
	// otherwise) and m.SenderID is a member of it who is not muted
	// (ErrForbidden otherwise), checked in the same atomic step as the save,
	// and a refused message takes no Seq. The hub relies on this check: it
	// does not look a plain message's sender up before saving it. A message
	// with an empty SenderID is the host's (Hub.PostMessage): only its room
	// is checked.
	SaveMessage(ctx context.Context, m Message) (saved Message, duplicate bool, err error)
	// GetMessage returns a message by ID or ErrNotFound.
	GetMessage(ctx context.Context, id string) (Message, error)
	// EditMessage replaces the content of a message that is not deleted and
	// sets its EditedAt; ErrNotFound otherwise.
	EditMessage(ctx context.Context, id, content string, editedAt time.Time) (Message, error)
	// DeleteMessage soft-deletes a message: it keeps its place (id, seq) in
	// history with DeletedAt set, and its Content and Metadata are erased.
	// Deleting a deleted or unknown message is ErrNotFound.
	DeleteMessage(ctx context.Context, id string, deletedAt time.Time) (Message, error)
	// History returns messages of one stream, oldest first (see HistoryQuery).
	History(ctx context.Context, q HistoryQuery) (messages []Message, hasMore bool, err error)
	// Thread returns the replies to a message (those whose ReplyToID is
	// q.ParentID), oldest first, after the reply q.After when it is set, at
	// most q.Limit of them; hasMore reports whether more follow. An unknown
	// parent or cursor is ErrNotFound.
	Thread(ctx context.Context, q ThreadQuery) (replies []Message, hasMore bool, err error)
}

// BatchSaver is a MessageStore that saves several messages in one step
// (one transaction, one commit), an optional capability the hub finds by
// type assertion. With it, the hub stores a connection's pipelined
// messages, and the messages of all its connections that wait at the same
// time, with one call each instead of one per message.
type BatchSaver interface {
	// SaveMessages saves each of msgs as SaveMessage would, in their order:
	// results[i] is what SaveMessage would have returned for msgs[i]. The
	// messages of one stream are numbered in the order of msgs (another
	// caller's may come between them); a message whose sender already
	// sent its clientMsgId to the stream, stored before or earlier in
	// msgs, is a duplicate of that one. A message refused (ErrNotFound,
	// ErrForbidden, ErrConflict, a failed save) fails alone: the others
	// are saved. When ctx ends, the messages not saved yet fail with its
	// error and may still be saved, as with SaveMessage. msgs belongs to
	// the caller, who reuses it once SaveMessages returns: keep copies.
	SaveMessages(ctx context.Context, msgs []Message) (results []SaveResult)
}

// SaveResult is the outcome of one message of BatchSaver.SaveMessages:
// what MessageStore.SaveMessage returns.
type SaveResult struct {
	Message   Message
	Duplicate bool
	Err       error
}

// ThreadQuery selects a page of a thread.
type ThreadQuery struct {
	ParentID string
	After    string
	Limit    int
}

// PresenceStore remembers when users were last seen online.
type PresenceStore interface {
	// SetLastSeen records that userID was last seen at t.
	SetLastSeen(ctx context.Context, userID string, t time.Time) error
	// LastSeen returns the last-seen times of those users it knows;
	// unknown users are absent from the map.
	LastSeen(ctx context.Context, userIDs []string) (map[string]time.Time, error)
}

// FileStore keeps the metadata of shared files; their bytes live in a
// BlobStore.
type FileStore interface {
	// SaveFile stores the metadata of an uploaded file.
	SaveFile(ctx context.Context, f File) error
	// GetFile returns a file's metadata or ErrNotFound.
	GetFile(ctx context.Context, id string) (File, error)
}

// File is the metadata of a shared file, as a message of type file or image
// carries it in its metadata.
type File struct {
	ID          string    `json:"id"`
	RoomID      string    `json:"roomId"`
	UploaderID  string    `json:"uploaderId"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Limits are the caps a MemberStore enforces atomically when adding a member.
// Zero means no cap.
type Limits struct {
	MaxRoomsPerUser int
}

// HistoryQuery selects messages of one stream. Without a cursor it selects the
// latest Limit messages; with Before, the Limit messages just before that
// message; with After, the Limit messages just after it. A cursor that names
// no message of the stream is ErrNotFound. With AfterSeq instead, it selects
// the first Limit messages still kept whose Seq is greater than AfterSeq
// (how a node fills a gap in what it received). HasMore reports whether more
// messages exist in the direction asked.
type HistoryQuery struct {
	Stream   string
	Before   string
	After    string
	AfterSeq uint64
	Limit    int
}

// RoomUpdate lists the room fields to change; nil fields stay as they are.
type RoomUpdate struct {
	Name        *string
	Description *string
	MaxUsers    *int
	IsPrivate   *bool
}

// MemberUpdate lists the membership fields to change.
type MemberUpdate struct {
	Role    *Role
	IsMuted *bool
}

// now is the store-independent clock the hub stamps records with: UTC,
// truncated to milliseconds so that every Store round-trips it exactly.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
