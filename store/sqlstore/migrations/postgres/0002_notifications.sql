-- Notifications (realtime.NotificationStore). pos orders each user's
-- notifications as they were stored; key makes sending idempotent per user.

CREATE TABLE notifications (
    pos        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    user_id    text NOT NULL,
    type       text NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL DEFAULT '',
    data       json,
    room_id    text,
    message_id text,
    key        text,
    created_at timestamptz NOT NULL,
    read_at    timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, pos);
CREATE UNIQUE INDEX notifications_key ON notifications (user_id, key) WHERE key IS NOT NULL;
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_created ON notifications (created_at);
