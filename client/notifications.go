package client

import (
	"context"
	"encoding/json"

	"github.com/realtime-go/realtime"
)

// NotificationPage is a page of the user's notifications (Notifications).
type NotificationPage struct {
	Notifications []realtime.Notification `json:"notifications"`
	HasMore       bool                    `json:"hasMore"`
	// Unread counts all the user's unread notifications.
	Unread int `json:"unread"`
}

// NotificationOptions selects a page: the notifications older than Before
// (an id; empty: the newest), at most Limit (zero: 20), only unread ones.
type NotificationOptions struct {
	Before     string `json:"before,omitempty"`
	Limit      int    `json:"limit,omitempty"`
	UnreadOnly bool   `json:"unreadOnly,omitempty"`
}

// Notifications returns a page of the user's stored notifications, newest
// first (get-notifications). Live ones arrive as "notification" events, and
// "notifications-read" says another connection of the user marked some
// read.
func (c *Client) Notifications(ctx context.Context, o NotificationOptions) (NotificationPage, error) {
	var page NotificationPage
	ack, err := c.Emit(ctx, "get-notifications", o)
	if err == nil {
		err = json.Unmarshal(ack, &page)
	}
	return page, err
}

// MarkNotificationsRead marks the notifications ids, and, when upTo is
// set, that one and every older one, read; it returns the unread count
// after (mark-notifications-read).
func (c *Client) MarkNotificationsRead(ctx context.Context, ids []string, upTo string) (unread int, err error) {
	ack, err := c.Emit(ctx, "mark-notifications-read", map[string]any{"ids": ids, "upTo": upTo})
	if err != nil {
		return 0, err
	}
	var reply struct {
		Unread int `json:"unread"`
	}
	err = json.Unmarshal(ack, &reply)
	return reply.Unread, err
}
