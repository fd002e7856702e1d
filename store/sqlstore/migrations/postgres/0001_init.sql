-- Rooms, members, messages with per-stream sequences, files and presence.
-- Times are timestamptz holding whole milliseconds; optional text columns
-- are NULL when empty.

CREATE TABLE rooms (
    id            text PRIMARY KEY,
    -- pos orders rooms by creation for ListRooms.
    pos           bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    type          text NOT NULL,
    max_users     integer NOT NULL,
    is_private    boolean NOT NULL,
    created_by_id text NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE room_members (
    room_id   text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   text NOT NULL,
    -- pos orders members by join for ListMembers.
    pos       bigint GENERATED ALWAYS AS IDENTITY,
    username  text NOT NULL,
    role      text NOT NULL,
    is_muted  boolean NOT NULL DEFAULT false,
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

-- streams holds the last seq given in each stream ("room:<id>", "dm:<a>:<b>",
-- "global"); SaveMessage bumps it in the transaction that inserts.
CREATE TABLE streams (
    stream   text PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- room_id has no foreign key: SaveMessage locks the room rows of its batch
-- (FOR KEY SHARE) and DeleteRoom deletes the room row first, which gives the
-- same guarantee without a check per inserted row.
CREATE TABLE messages (
    id            text PRIMARY KEY,
    stream        text NOT NULL,
    seq           bigint NOT NULL,
    room_id       text,
    recipient_id  text,
    sender_id     text NOT NULL,
    sender_name   text NOT NULL,
    content       text NOT NULL,
    type          text NOT NULL,
    reply_to_id   text,
    metadata      json,
    client_msg_id text,
    created_at    timestamptz NOT NULL,
    edited_at     timestamptz,
    deleted_at    timestamptz,
    CONSTRAINT messages_stream_seq UNIQUE (stream, seq)
);
CREATE UNIQUE INDEX messages_client_msg_id ON messages (stream, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE INDEX messages_sender ON messages (sender_id, created_at);
CREATE INDEX messages_reply_to ON messages (reply_to_id, seq) WHERE reply_to_id IS NOT NULL;

CREATE TABLE files (
    id           text PRIMARY KEY,
    room_id      text NOT NULL,
    uploader_id  text NOT NULL,
    name         text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX files_room ON files (room_id, created_at);

CREATE TABLE user_presence (
    user_id       text PRIMARY KEY,
    status        text NOT NULL DEFAULT 'offline',
    custom_status text NOT NULL DEFAULT '',
    last_seen_at  timestamptz
);
