import { useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { messageKey, fileUrl, type ChatMessage, type SharedFile } from './messages.js';

export interface MessageListProps {
  messages: ChatMessage[];
  /** The current user: their messages get Edit and Delete. */
  currentUserId?: string | undefined;
  /** Older messages exist: offers to load them (button, Home key, scrolling to the top). */
  hasMore?: boolean;
  loading?: boolean;
  onLoadOlder?: () => void;
  onEdit?: (messageId: string, content: string) => unknown;
  onDelete?: (messageId: string) => unknown;
  onRetry?: (message: ChatMessage) => unknown;
  /** Offers Reply on each message (opens its thread). */
  onReply?: (message: ChatMessage) => void;
  /** The hub's file handler and the token that downloads from it, for file and image messages. */
  filesUrl?: string | null;
  token?: string | undefined;
  /** The height assumed for a message not measured yet (px, default 64). */
  estimatedItemHeight?: number;
  /** Messages rendered beyond each end of the visible window (default 6). */
  overscan?: number;
  /** The accessible name of the list (default "Messages"). */
  label?: string;
  /** Renders a message's content in place of the default. */
  renderContent?: (message: ChatMessage) => ReactNode;
}

/** The index of the last offset <= y (offsets ascending, offsets[0] = 0). */
function indexAt(offsets: number[], y: number): number {
  let lo = 0, hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= y) lo = mid; else hi = mid - 1;
  }
  return lo;
}

const FALLBACK_VIEWPORT = 480; // where layout is unknown (no CSS yet, jsdom)
const NEAR = 32;

/** A virtualised list of messages: only those in view (and a few around)
 * are in the DOM, whatever the length of the history. It sticks to the
 * newest message while the reader is at the bottom, keeps the reader's place
 * when older messages load above, and announces new messages of others in a
 * polite ARIA live region. Keys: arrows and Page Up/Down scroll, Home goes to
 * the oldest (and loads older), End to the newest. */
export function MessageList({
  messages, currentUserId, hasMore = false, loading = false, onLoadOlder, onEdit, onDelete, onRetry, onReply,
  filesUrl = null, token, estimatedItemHeight = 64, overscan = 6, label = 'Messages', renderContent,
}: MessageListProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const elements = useRef(new Map<string, HTMLElement>());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(0);
  const [, remeasured] = useReducer((n: number) => n + 1, 0);
  const atBottom = useRef(true);
  const lastScrollTop = useRef(0);
  const [announcement, setAnnouncement] = useState('');

  const n = messages.length;
  const keys = messages.map(messageKey);
  const offsets = new Array<number>(n + 1);
  offsets[0] = 0;
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + (heights.current.get(keys[i]!) ?? estimatedItemHeight);
  const total = offsets[n]!;
  const vh = viewport || FALLBACK_VIEWPORT;
  const start = Math.max(0, Math.min(indexAt(offsets, scrollTop), n - 1) - overscan);
  const end = Math.min(n, indexAt(offsets, scrollTop + vh) + 1 + overscan);

  // The viewport's height, followed.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    setViewport(el.clientHeight);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Measure what was rendered; a change of height above the view moves the
  // scroll position by as much, so that what the reader sees stays put.
  // Older messages loaded above (the first message is now at k > 0) move it
  // by their height.
  const firstKey = useRef<string | undefined>(undefined);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const prevFirst = firstKey.current;
    firstKey.current = keys[0];
    const k = prevFirst !== undefined && prevFirst !== keys[0] ? Math.max(0, keys.indexOf(prevFirst)) : 0;
    const base = offsets[k]!; // where the old list starts in the new one
    let changed = false, shift = 0;
    for (const [key, item] of elements.current) {
      const h = item.offsetHeight;
      if (h <= 0) continue;
      const old = heights.current.get(key) ?? estimatedItemHeight;
      if (old === h && heights.current.has(key)) continue;
      heights.current.set(key, h);
      changed = true;
      const i = keys.indexOf(key);
      if (i >= k && offsets[i + 1]! - base <= el.scrollTop) shift += h - old;
    }
    if (k > 0 && !atBottom.current) {
      for (let i = 0; i < k; i++) shift += heights.current.get(keys[i]!) ?? estimatedItemHeight;
    }
    if (atBottom.current) el.scrollTop = el.scrollHeight;
    else if (shift !== 0) el.scrollTop += shift;
    if (changed) remeasured();
  });

  // New messages of others, announced: those that arrived live after the
  // last message shown so far (not the history, which loads in pages).
  const lastKey = useRef<string | null | undefined>(undefined); // undefined: before the first render; null: an empty list
  useEffect(() => {
    const prev = lastKey.current;
    lastKey.current = keys[n - 1] ?? null;
    if (prev === undefined || prev === lastKey.current) return;
    const from = prev === null ? -1 : keys.lastIndexOf(prev);
    if (prev !== null && from < 0) return;
    const fresh = messages.slice(from + 1).filter((m) => m.live && m.senderId !== currentUserId && !m.deletedAt);
    if (fresh.length === 0) return;
    setAnnouncement(fresh.map((m) => `${m.sender.username}: ${m.content}`).join('. '));
  });

  // follow reads the scroll position; scrolling up near the top loads older messages.
  const follow = useCallback((loadNearTop: boolean) => {
    const el = scroller.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR;
    const up = el.scrollTop < lastScrollTop.current;
    lastScrollTop.current = el.scrollTop;
    setScrollTop(el.scrollTop);
    if (loadNearTop && up && el.scrollTop < vh / 2 && hasMore && !loading) onLoadOlder?.();
  }, [hasMore, loading, onLoadOlder, vh]);
  const onScroll = useCallback(() => follow(true), [follow]);

  const onKeyDown = useCallback((e: KeyboardEvent<HTMLDivElement>) => {
    const el = scroller.current;
    if (!el || e.target !== el) return;
    const by: Record<string, number> = { ArrowDown: 40, ArrowUp: -40, PageDown: vh * 0.9, PageUp: -vh * 0.9 };
    if (e.key in by) el.scrollTop += by[e.key]!;
    else if (e.key === 'Home') {
      el.scrollTop = 0;
      if (hasMore && !loading) onLoadOlder?.();
    } else if (e.key === 'End') el.scrollTop = el.scrollHeight;
    else return;
    e.preventDefault();
    follow(false);
  }, [vh, hasMore, loading, onLoadOlder, follow]);

  const measure = (key: string) => (el: HTMLElement | null) => {
    if (el) elements.current.set(key, el);
    else elements.current.delete(key);
  };

  const items: ReactNode[] = [];
  for (let i = start; i < end; i++) {
    const m = messages[i]!;
    items.push(
      <MessageItem key={keys[i]} refFn={measure(keys[i]!)} message={m} index={i} setSize={hasMore ? -1 : n}
        mine={m.senderId === currentUserId} onEdit={onEdit} onDelete={onDelete} onRetry={onRetry} onReply={onReply}
        filesUrl={filesUrl} token={token} renderContent={renderContent} />,
    );
  }

  return (
    <div className="rt-message-list-wrap">
      {hasMore && (
        <button type="button" className="rt-load-older" onClick={() => onLoadOlder?.()} disabled={loading}>
          {loading ? 'Loading…' : 'Load older messages'}
        </button>
      )}
      <div ref={scroller} className="rt-message-list" role="feed" aria-label={label} aria-busy={loading}
        tabIndex={0} onScroll={onScroll} onKeyDown={onKeyDown} data-total={n}>
        <div aria-hidden="true" style={{ height: offsets[start] }} />
        {items}
        <div aria-hidden="true" style={{ height: total - offsets[end]! }} />
        {n === 0 && !loading && <p className="rt-empty">No messages yet.</p>}
      </div>
      <div className="rt-visually-hidden" aria-live="polite" aria-atomic="true" data-testid="rt-announcer">{announcement}</div>
    </div>
  );
}

interface ItemProps {
  message: ChatMessage;
  index: number;
  setSize: number;
  mine: boolean;
  refFn: (el: HTMLElement | null) => void;
  onEdit: MessageListProps['onEdit'];
  onDelete: MessageListProps['onDelete'];
  onRetry: MessageListProps['onRetry'];
  onReply: MessageListProps['onReply'];
  filesUrl: string | null;
  token: string | undefined;
  renderContent: MessageListProps['renderContent'];
}

function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function MessageItem({ message: m, index, setSize, mine, refFn, onEdit, onDelete, onRetry, onReply, filesUrl, token, renderContent }: ItemProps) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(m.content);
  const labelId = `rt-msg-${index}-${m.id || m.clientMsgId}`;
  const stored = m.status === 'sent' && !m.deletedAt;

  const save = async () => {
    const content = draft.trim();
    if (content && content !== m.content) await onEdit?.(m.id, content);
    setEditing(false);
  };

  let body: ReactNode;
  if (m.deletedAt) body = <p className="rt-content rt-deleted">This message was deleted.</p>;
  else if (editing) {
    body = (
      <textarea className="rt-edit" aria-label="Edit message" value={draft} autoFocus
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); void save(); }
          if (e.key === 'Escape') { e.preventDefault(); setEditing(false); setDraft(m.content); }
        }} />
    );
  } else if (renderContent) body = renderContent(m);
  else body = <MessageContent message={m} filesUrl={filesUrl} token={token} />;

  return (
    <article ref={refFn} className={`rt-message${mine ? ' rt-message--mine' : ''} rt-message--${m.status}`}
      aria-posinset={index + 1} aria-setsize={setSize} aria-labelledby={labelId} tabIndex={-1}
      data-message-id={m.id || undefined} data-status={m.status}>
      <header className="rt-message-head">
        <span className="rt-sender" id={labelId}>{m.sender.username || 'system'}</span>
        <time className="rt-time" dateTime={m.createdAt}>{formatTime(m.createdAt)}</time>
        {m.editedAt && !m.deletedAt && <span className="rt-edited">(edited)</span>}
        {m.replyToId && <span className="rt-reply-mark">reply</span>}
      </header>
      {body}
      {m.status === 'sending' && <span className="rt-status">Sending…</span>}
      {m.status === 'failed' && (
        <span className="rt-status rt-status--failed">
          Not sent{m.error ? ` (${m.error.code})` : ''}.{' '}
          {onRetry && <button type="button" onClick={() => void onRetry(m)}>Retry</button>}
        </span>
      )}
      {stored && !editing && (onReply || (mine && (onEdit || onDelete))) && (
        <div className="rt-actions">
          {onReply && <button type="button" onClick={() => onReply(m)} aria-label={`Reply to ${m.sender.username}`}>Reply</button>}
          {mine && onEdit && m.type === 'text' && <button type="button" onClick={() => { setDraft(m.content); setEditing(true); }} aria-label="Edit message">Edit</button>}
          {mine && onDelete && <button type="button" onClick={() => void onDelete(m.id)} aria-label="Delete message">Delete</button>}
        </div>
      )}
    </article>
  );
}

function MessageContent({ message: m, filesUrl, token }: { message: ChatMessage; filesUrl: string | null; token: string | undefined }) {
  const file = (m.metadata as { file?: SharedFile } | undefined)?.file;
  if ((m.type === 'file' || m.type === 'image') && file) {
    const href = fileUrl(filesUrl, file, token);
    if (m.type === 'image' && href) {
      return <a className="rt-content rt-file" href={href} target="_blank" rel="noreferrer"><img src={href} alt={file.name} className="rt-image" /></a>;
    }
    return href
      ? <p className="rt-content rt-file"><a href={href} download={file.name}>{file.name}</a> <span className="rt-size">({formatSize(file.size)})</span></p>
      : <p className="rt-content rt-file">{file.name}</p>;
  }
  return <p className="rt-content">{m.content}</p>;
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MB`;
}
