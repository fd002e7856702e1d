import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { Member, Notification, Presence } from '@realtime-go/client';
import { useRealtimeContext } from './context.js';
import { MessageList } from './MessageList.js';
import { useMessages, useThread, type ChatMessage } from './messages.js';
import { useNotifications } from './notifications.js';
import { usePresence, useTyping, type Typist } from './presence.js';
import { RoomProvider, useRoomContext } from './room.js';

const statusText: Record<Presence['status'], string> = { online: 'online', away: 'away', busy: 'busy', offline: 'offline' };

export interface PresenceIndicatorProps {
  status: Presence['status'];
  /** Whose status, for the accessible name ("alice is online"). */
  name?: string;
  /** Show the status as text too (default false: a dot with an accessible name). */
  showText?: boolean;
}

/** A user's status: a coloured dot with an accessible name. */
export function PresenceIndicator({ status, name, showText = false }: PresenceIndicatorProps) {
  const text = statusText[status] ?? status;
  return (
    <span className={`rt-presence rt-presence--${status}`} data-status={status}>
      <span className="rt-presence-dot" role="img" aria-label={name ? `${name} is ${text}` : text} />
      {showText && <span className="rt-presence-text">{text}</span>}
    </span>
  );
}

export interface UserListProps {
  members: Member[];
  /** Status of a user (default: offline for all). */
  statusOf?: (userId: string) => Presence['status'];
  currentUserId?: string | undefined;
  /** The accessible name of the list (default "Members"). */
  label?: string;
  /** More members than listed: offers to load them. */
  moreMembers?: boolean;
  onLoadMore?: () => void;
}

/** The members of a room with their presence, online ones first. */
export function UserList({ members, statusOf = () => 'offline', currentUserId, label = 'Members', moreMembers, onLoadMore }: UserListProps) {
  const headingId = useId();
  const rank = (m: Member) => (statusOf(m.userId) === 'offline' ? 1 : 0);
  const sorted = [...members].sort((a, b) => rank(a) - rank(b) || a.username.localeCompare(b.username));
  const online = members.filter((m) => statusOf(m.userId) !== 'offline').length;
  return (
    <section className="rt-user-list" aria-labelledby={headingId}>
      <h3 id={headingId} className="rt-heading">{label} <span className="rt-count">({online} online of {members.length})</span></h3>
      <ul>
        {sorted.map((m) => (
          <li key={m.userId} data-user-id={m.userId} data-status={statusOf(m.userId)}>
            <PresenceIndicator status={statusOf(m.userId)} name={m.username} />
            <span className="rt-username">{m.username}</span>
            {m.userId === currentUserId && <span className="rt-you"> (you)</span>}
            {m.role === 'admin' && <span className="rt-role"> admin</span>}
          </li>
        ))}
      </ul>
      {moreMembers && onLoadMore && <button type="button" onClick={onLoadMore}>Show more members</button>}
    </section>
  );
}

/** "alice is typing…", in a polite live region. */
export function TypingIndicator({ typing }: { typing: Typist[] }) {
  const names = typing.map((t) => t.username);
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = `${names.length} people are typing…`;
  return <div className="rt-typing" role="status" aria-live="polite">{text}</div>;
}

export interface MessageInputProps {
  onSend: (content: string) => unknown;
  /** Called on each keystroke (useTyping's keystroke). */
  onTyping?: () => void;
  /** Called when the user stops: sent, emptied the field, left it. */
  onStopTyping?: () => void;
  /** Shares a file (useMessages's sendFile); without it there is no Attach button. */
  onFile?: (file: File) => Promise<unknown>;
  placeholder?: string;
  /** The field's accessible name (default "Message"). */
  label?: string;
  disabled?: boolean;
  maxLength?: number;
}

/** The message field: Enter sends, Shift+Enter starts a new line; a typing
 * indicator is sent while typing; Attach uploads a file. */
export function MessageInput({ onSend, onTyping, onStopTyping, onFile, placeholder, label = 'Message', disabled = false, maxLength = 2000 }: MessageInputProps) {
  const id = useId();
  const [text, setText] = useState('');
  const [status, setStatus] = useState('');
  const fileRef = useRef<HTMLInputElement>(null);

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    const content = text.trim();
    if (!content || disabled) return;
    setText('');
    onStopTyping?.();
    Promise.resolve(onSend(content)).catch(() => {}); // a failed send shows in the list, with Retry
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) submit(e);
  };

  const pick = async (file: File | undefined) => {
    if (!file || !onFile) return;
    setStatus(`Uploading ${file.name}…`);
    try {
      await onFile(file);
      setStatus(`Shared ${file.name}.`);
    } catch (err) {
      setStatus(`Could not share ${file.name}: ${(err as Error).message}`);
    } finally {
      if (fileRef.current) fileRef.current.value = '';
    }
  };

  return (
    <form className="rt-message-input" onSubmit={submit}>
      <label htmlFor={id} className="rt-visually-hidden">{label}</label>
      <textarea id={id} value={text} placeholder={placeholder} rows={1} maxLength={maxLength} disabled={disabled}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value) onTyping?.(); else onStopTyping?.();
        }}
        onKeyDown={onKeyDown} onBlur={() => onStopTyping?.()} />
      {onFile && (
        <>
          <input ref={fileRef} type="file" className="rt-visually-hidden" aria-label="Attach a file" tabIndex={-1}
            onChange={(e) => void pick(e.target.files?.[0])} disabled={disabled} />
          <button type="button" className="rt-attach" onClick={() => fileRef.current?.click()} disabled={disabled}>Attach</button>
        </>
      )}
      <button type="submit" className="rt-send" disabled={disabled || !text.trim()}>Send</button>
      <div className="rt-upload-status" role="status">{status}</div>
    </form>
  );
}

export interface NotificationCenterProps {
  /** Called when the user opens a notification (for example to go to its room). */
  onOpen?: (n: Notification) => void;
  pageSize?: number;
}

/** A button with the unread count that opens the list of notifications;
 * each can be marked read, or all at once. Escape closes the list. */
export function NotificationCenter({ onOpen, pageSize }: NotificationCenterProps) {
  const n = useNotifications(pageSize != null ? { pageSize } : {});
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const button = useRef<HTMLButtonElement>(null);
  // Escape closes the list wherever the focus is (a marked item's button goes away).
  useEffect(() => {
    if (!open) return;
    const onKey = (e: globalThis.KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      setOpen(false);
      button.current?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [open]);
  if (!n.supported) return null;
  return (
    <div className="rt-notifications">
      <button ref={button} type="button" className="rt-notifications-toggle" aria-expanded={open} aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}>
        Notifications{n.unread > 0 && <span className="rt-badge" aria-label={`${n.unread} unread`}> {n.unread}</span>}
      </button>
      {open && (
        <section id={panelId} className="rt-notifications-panel" aria-label="Notifications">
          <div className="rt-notifications-head">
            <span aria-live="polite">{n.unread} unread</span>
            <button type="button" onClick={() => void n.markAllRead()} disabled={n.unread === 0}>Mark all as read</button>
          </div>
          {n.notifications.length === 0 ? <p className="rt-empty">No notifications.</p> : (
            <ul>
              {n.notifications.map((x) => (
                <li key={x.id} className={x.readAt ? 'rt-read' : 'rt-unread'} data-notification-id={x.id}>
                  <button type="button" className="rt-notification-open" onClick={() => { if (!x.readAt) void n.markRead([x.id]); onOpen?.(x); }}>
                    <strong>{x.title}</strong>{x.body && <span className="rt-notification-body"> {x.body}</span>}
                  </button>
                  <time dateTime={x.createdAt}>{new Date(x.createdAt).toLocaleString()}</time>
                  {!x.readAt && (
                    <button type="button" aria-label={`Mark "${x.title}" as read`} onClick={(e) => {
                      // This button goes: the focus goes to the notification.
                      e.currentTarget.closest('li')?.querySelector('button')?.focus();
                      void n.markRead([x.id]);
                    }}>Mark read</button>
                  )}
                </li>
              ))}
            </ul>
          )}
          {n.hasMore && <button type="button" onClick={() => void n.loadMore()} disabled={n.loading}>Older notifications</button>}
        </section>
      )}
    </div>
  );
}

export interface ThreadPanelProps {
  parent: ChatMessage;
  onClose: () => void;
  currentUserId?: string | undefined;
}

/** The replies to a message, and a field to reply. */
export function ThreadPanel({ parent, onClose, currentUserId }: ThreadPanelProps) {
  const t = useThread(parent);
  const { filesUrl, client } = useRealtimeContext();
  const headingId = useId();
  return (
    <section className="rt-thread" aria-labelledby={headingId} onKeyDown={(e) => { if (e.key === 'Escape') onClose(); }}>
      <header className="rt-thread-head">
        <h3 id={headingId} className="rt-heading">Thread: {parent.sender.username}: {parent.content}</h3>
        <button type="button" onClick={onClose} aria-label="Close thread">Close</button>
      </header>
      <MessageList messages={t.messages} currentUserId={currentUserId} hasMore={false} loading={t.loading} label="Replies"
        filesUrl={filesUrl} token={client?.token} />
      {t.hasMore && <button type="button" onClick={() => void t.loadMore()}>More replies</button>}
      <MessageInput onSend={t.reply} label="Reply" placeholder="Reply…" />
    </section>
  );
}

export interface ChatRoomProps {
  roomId: string;
  /** Show the member list (default true). */
  showMembers?: boolean;
  /** Offers a Leave button that leaves the room, then calls this. */
  onLeave?: () => void;
}

/** A whole room: header, virtualised messages, typing indicator, input with
 * file sharing, threads, and members with presence. */
export function ChatRoom(props: ChatRoomProps) {
  return (
    <RoomProvider roomId={props.roomId}>
      <ChatRoomView {...props} />
    </RoomProvider>
  );
}

function ChatRoomView({ showMembers = true, onLeave }: ChatRoomProps) {
  const room = useRoomContext()!;
  const { user, client, filesUrl, state } = useRealtimeContext();
  const msgs = useMessages();
  const typing = useTyping();
  const presence = usePresence();
  const [thread, setThread] = useState<ChatMessage | null>(null);
  const headingId = useId();

  useEffect(() => { setThread(null); }, [room.roomId]);

  if (room.error && !room.joined) {
    return <div className="rt-chat-room rt-error" role="alert">Cannot open this room: {room.error.message}</div>;
  }
  if (!room.room) return <div className="rt-chat-room rt-loading" role="status">Loading room…</div>;
  return (
    <section className="rt-chat-room" aria-labelledby={headingId} data-room-id={room.roomId}>
      <header className="rt-chat-head">
        <h2 id={headingId}>{room.room.name}</h2>
        <span className="rt-count">{room.members.length} member{room.members.length === 1 ? '' : 's'}</span>
        {state !== 'open' && <span className="rt-connection" role="status">{state === 'closed' ? 'Disconnected' : 'Reconnecting…'}</span>}
        {onLeave && <button type="button" onClick={() => { void room.leave().then(onLeave); }}>Leave room</button>}
      </header>
      <div className="rt-chat-body">
        <div className="rt-chat-main">
          <MessageList messages={msgs.messages} currentUserId={user?.id} hasMore={msgs.hasMore} loading={msgs.loading}
            onLoadOlder={() => void msgs.loadOlder()} onEdit={msgs.edit} onDelete={msgs.remove} onRetry={msgs.retry}
            onReply={setThread} filesUrl={filesUrl} token={client?.token} />
          <TypingIndicator typing={typing.typing} />
          <MessageInput onSend={(c) => msgs.send(c)} onTyping={typing.keystroke} onStopTyping={typing.stop}
            {...(filesUrl ? { onFile: msgs.sendFile } : {})} placeholder={`Message #${room.room.name}`} />
        </div>
        {thread && <ThreadPanel parent={thread} onClose={() => setThread(null)} currentUserId={user?.id} />}
        {showMembers && (
          <UserList members={room.members} statusOf={presence.statusOf} currentUserId={user?.id}
            moreMembers={room.moreMembers} onLoadMore={() => void room.loadMoreMembers()} />
        )}
      </div>
    </section>
  );
}
