-- Notifications (realtime.NotificationStore). pos orders each user's
-- notifications as they were stored; key makes sending idempotent per user.

CREATE TABLE notifications (
    pos        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    data       TEXT,
    room_id    TEXT,
    message_id TEXT,
    key        TEXT,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notifications_user ON notifications (user_id, pos);
CREATE UNIQUE INDEX notifications_key ON notifications (user_id, key) WHERE key IS NOT NULL;
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_created ON notifications (created_at);
