// @realtime-go/react: React bindings of @realtime-go/client (protocol
// realtime.v1, PROTOCOL.md of github.com/realtime-go/realtime): providers,
// hooks and accessible chat components, themed with the CSS variables of
// @realtime-go/react/styles.css.

export { RealtimeProvider, RealtimeContext, type RealtimeContextValue, type RealtimeProviderProps } from './context.js';
export { useRealtime, useClientEvent, type RealtimeHandle } from './realtime.js';
export { useRoom, RoomProvider, RoomContext, useRoomContext, type RoomHandle, type RoomOptions, type RoomProviderProps } from './room.js';
export {
  useMessages, useThread, uploadFile, fileUrl, messageKey, feedReducer,
  type ChatMessage, type SharedFile, type MessagesHandle, type MessagesOptions, type SendOptions, type ThreadHandle, type FeedState, type FeedAction,
} from './messages.js';
export { usePresence, useTyping, type PresenceHandle, type Status, type TypingHandle, type TypingOptions, type Typist } from './presence.js';
export { useNotifications, mergeNotifications, markNotificationsRead, type NotificationsHandle, type NotificationsOptions } from './notifications.js';
export { MessageList, type MessageListProps } from './MessageList.js';
export {
  ChatRoom, MessageInput, UserList, PresenceIndicator, NotificationCenter, TypingIndicator, ThreadPanel,
  type ChatRoomProps, type MessageInputProps, type UserListProps, type PresenceIndicatorProps, type NotificationCenterProps, type ThreadPanelProps,
} from './components.js';
