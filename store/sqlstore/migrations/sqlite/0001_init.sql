-- Rooms, members, messages with per-stream sequences, files and presence.
-- Times are INTEGER milliseconds since the Unix epoch, UTC; booleans are
-- 0 or 1; optional text columns are NULL when empty.

CREATE TABLE rooms (
    -- pos orders rooms by creation for ListRooms.
    pos           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    type          TEXT NOT NULL,
    max_users     INTEGER NOT NULL,
    is_private    INTEGER NOT NULL,
    created_by_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE room_members (
    -- pos orders members by join for ListMembers.
    pos       INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id   TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    username  TEXT NOT NULL,
    role      TEXT NOT NULL,
    is_muted  INTEGER NOT NULL DEFAULT 0,
    joined_at INTEGER NOT NULL,
    UNIQUE (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id);

-- streams holds the last seq given in each stream ("room:<id>", "dm:<a>:<b>",
-- "global"); SaveMessage bumps it in the transaction that inserts.
CREATE TABLE streams (
    stream   TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE messages (
    id            TEXT PRIMARY KEY,
    stream        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    room_id       TEXT,
    recipient_id  TEXT,
    sender_id     TEXT NOT NULL,
    sender_name   TEXT NOT NULL,
    content       TEXT NOT NULL,
    type          TEXT NOT NULL,
    reply_to_id   TEXT,
    metadata      TEXT,
    client_msg_id TEXT,
    created_at    INTEGER NOT NULL,
    edited_at     INTEGER,
    deleted_at    INTEGER,
    UNIQUE (stream, seq)
);
CREATE UNIQUE INDEX messages_client_msg_id ON messages (stream, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
CREATE INDEX messages_sender ON messages (sender_id, created_at);
CREATE INDEX messages_reply_to ON messages (reply_to_id, seq) WHERE reply_to_id IS NOT NULL;

CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    room_id      TEXT NOT NULL,
    uploader_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX files_room ON files (room_id, created_at);

CREATE TABLE user_presence (
    user_id       TEXT PRIMARY KEY,
    status        TEXT NOT NULL DEFAULT 'offline',
    custom_status TEXT NOT NULL DEFAULT '',
    last_seen_at  INTEGER
);
