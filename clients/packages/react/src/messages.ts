import { useCallback, useEffect, useReducer, useRef } from 'react';
import { RealtimeError, type Client, type Events, type Message, type UserRef } from '@realtime-go/client';
import { useRealtimeContext } from './context.js';
import { randomId, useClientEvent } from './realtime.js';
import { useRoomContext, useRoomId } from './room.js';

/** A message as the hooks show it: stored ('sent'), or sent from here and
 * not yet acknowledged ('sending') or refused ('failed'). */
export interface ChatMessage extends Message {
  status: 'sending' | 'sent' | 'failed';
  /** Arrived live (a push), not with a page of history. */
  live?: boolean;
  /** Why a 'failed' message was refused. */
  error?: RealtimeError;
}

/** A file as the hub's file handler stores it (files.go). */
export interface SharedFile {
  id: string; roomId: string; uploaderId: string; name: string; contentType: string; size: number; createdAt: string;
}

/** A stable key for a message: the same before and after its ack. */
export function messageKey(m: Message): string {
  return m.clientMsgId ? `${m.senderId}:${m.clientMsgId}` : m.id;
}

export interface FeedState {
  messages: ChatMessage[];
  hasMore: boolean;
  loading: boolean;
  error: RealtimeError | null;
}

export type FeedAction =
  | { type: 'loading' }
  | { type: 'error'; error: RealtimeError }
  | { type: 'page'; messages: Message[]; hasMore: boolean; replace: boolean }
  | { type: 'upsert'; message: Message; live?: boolean }
  | { type: 'pending'; message: ChatMessage }
  | { type: 'ack'; senderId: string; ack: Events['message-sent'] }
  | { type: 'failed'; key: string; error: RealtimeError }
  | { type: 'deleted'; id: string; deletedAt: string };

const sent = (m: Message): ChatMessage => ({ ...m, status: 'sent' });

/** Orders stored messages by seq; messages not yet stored come last, in the
 * order they were sent. */
function before(a: ChatMessage, b: ChatMessage): boolean {
  if (a.status === 'sent' && b.status !== 'sent') return true;
  if (a.status !== 'sent' && b.status === 'sent') return false;
  if (a.status === 'sent') return a.seq < b.seq;
  return false;
}

/** Puts m into list (sorted), replacing the message of the same id or key. */
function place(list: ChatMessage[], m: ChatMessage): ChatMessage[] {
  const key = messageKey(m);
  const next = list.filter((x) => (m.id === '' || x.id !== m.id) && messageKey(x) !== key);
  let i = next.length;
  while (i > 0 && before(m, next[i - 1]!)) i--;
  next.splice(i, 0, m);
  return next;
}

/** The reducer of a list of messages (a room's, or a thread's). */
export function feedReducer(state: FeedState, a: FeedAction): FeedState {
  switch (a.type) {
    case 'loading':
      return { ...state, loading: true, error: null };
    case 'error':
      return { ...state, loading: false, error: a.error };
    case 'page': {
      // A page is the truth about its messages; what is not stored yet stays.
      // Messages heard live stay (a page asked for before they came does
      // not have them), and stay marked live.
      const live = new Set(state.messages.filter((m) => m.live).map((m) => m.id));
      let list = a.replace ? state.messages.filter((m) => m.status !== 'sent' || m.live) : state.messages;
      for (const m of a.messages) list = place(list, live.has(m.id) ? { ...sent(m), live: true } : sent(m));
      const hasMore = a.replace || a.messages.length > 0 ? a.hasMore : state.hasMore;
      return { messages: list, hasMore, loading: false, error: null };
    }
    case 'upsert':
      return { ...state, messages: place(state.messages, a.live ? { ...sent(a.message), live: true } : sent(a.message)) };
    case 'pending':
      return { ...state, messages: place(state.messages, a.message) };
    case 'ack': {
      const key = `${a.senderId}:${a.ack.clientMsgId}`;
      const mine = state.messages.find((m) => messageKey(m) === key);
      // The push came first: it is the message; or the message is gone.
      if (!mine || mine.status === 'sent') return state;
      const stored: ChatMessage = { ...mine, id: a.ack.id, seq: a.ack.seq, createdAt: a.ack.timestamp, status: 'sent' };
      return { ...state, messages: place(state.messages, stored) };
    }
    case 'failed':
      return { ...state, messages: state.messages.map((m) => messageKey(m) === a.key && m.status !== 'sent' ? { ...m, status: 'failed', error: a.error } : m) };
    case 'deleted':
      return { ...state, messages: state.messages.map((m) => m.id === a.id ? { ...m, content: '', deletedAt: a.deletedAt } : m) };
  }
}

/** Loading: the first page is due. */
const initialFeed: FeedState = { messages: [], hasMore: false, loading: true, error: null };

export interface SendOptions {
  type?: string;
  replyToId?: string;
  metadata?: Record<string, unknown>;
}

/** What useMessages returns. */
export interface MessagesHandle extends FeedState {
  roomId: string;
  /** Loads the page of messages before the oldest listed. */
  loadOlder: () => Promise<void>;
  /** Sends a message, shown at once as 'sending' and reconciled with its ack
   * and its push (one message, whichever comes first). */
  send: (content: string, options?: SendOptions) => Promise<void>;
  /** Sends a failed message again, with its clientMsgId (stored once). */
  retry: (message: ChatMessage) => Promise<void>;
  edit: (messageId: string, content: string) => Promise<void>;
  remove: (messageId: string) => Promise<void>;
  /** Uploads a file to the hub's file handler and shares it in the room. */
  sendFile: (file: File) => Promise<void>;
}

export interface MessagesOptions {
  /** Messages per history page (default 50, at most 200). */
  pageSize?: number;
}

/** Follows one feed of messages: applies pushes that match, and acks of
 * messages sent from here. */
function useFeedEvents(client: Client | null, me: UserRef | null, dispatch: (a: FeedAction) => void, matches: (m: Message) => boolean, has: (id: string) => boolean) {
  useClientEvent(client, 'new-message', (m) => { if (matches(m)) dispatch({ type: 'upsert', message: m, live: true }); });
  useClientEvent(client, 'message-edited', (m) => { if (matches(m)) dispatch({ type: 'upsert', message: m }); });
  useClientEvent(client, 'message-deleted', (d) => { if (has(d.id)) dispatch({ type: 'deleted', id: d.id, deletedAt: d.deletedAt }); });
  useClientEvent(client, 'message-sent', (ack) => { if (me && ack.clientMsgId) dispatch({ type: 'ack', senderId: me.id, ack }); });
}

/** The messages of a room: its history, paged backwards, and live ones;
 * optimistic sends; edits and deletes applied. Inside a RoomProvider the
 * room id may be left out. */
export function useMessages(roomId?: string, { pageSize = 50 }: MessagesOptions = {}): MessagesHandle {
  const id = useRoomId(roomId, 'useMessages');
  const { client, user, filesUrl, state: connection } = useRealtimeContext();
  const roomCtx = useRoomContext();
  const [state, dispatch] = useReducer(feedReducer, initialFeed);
  const stateRef = useRef(state);
  stateRef.current = state;
  const live = useRef(true);
  useEffect(() => { live.current = true; return () => { live.current = false; }; }, []);
  const safe = useCallback((a: FeedAction) => { if (live.current) dispatch(a); }, []);

  const loadLatest = useCallback(async () => {
    if (!client) return;
    safe({ type: 'loading' });
    try {
      const page = await client.emit<{ messages: Message[]; hasMore: boolean }>('get-history', { roomId: id, limit: pageSize });
      safe({ type: 'page', messages: page.messages, hasMore: page.hasMore, replace: true });
    } catch (err) {
      safe({ type: 'error', error: err as RealtimeError });
    }
  }, [client, id, pageSize, safe]);

  // The history loads once the room is joined: by the RoomProvider of this
  // room, or, without one, once connected.
  const viaRoom = roomCtx?.roomId === id;
  const ready = viaRoom ? roomCtx.joined : client != null && connection === 'open';
  const loadedFor = useRef<string | null>(null);
  useEffect(() => {
    if (!ready || loadedFor.current === id) return;
    loadedFor.current = id;
    void loadLatest();
  }, [ready, id, loadLatest]);
  useEffect(() => () => { loadedFor.current = null; }, [id, client]);

  // A resume that could not replay everything: the history is the truth.
  useClientEvent(client, 'resumed', (r) => { if (r.roomId === id && !r.recovered) void loadLatest(); });
  useFeedEvents(client, user, dispatch, (m) => m.roomId === id, (mid) => stateRef.current.messages.some((m) => m.id === mid));

  const loadOlder = useCallback(async () => {
    if (!client) return;
    const oldest = stateRef.current.messages.find((m) => m.status === 'sent');
    if (!oldest) return loadLatest();
    safe({ type: 'loading' });
    try {
      const page = await client.emit<{ messages: Message[]; hasMore: boolean }>('get-history', { roomId: id, before: oldest.id, limit: pageSize });
      safe({ type: 'page', messages: page.messages, hasMore: page.hasMore, replace: false });
    } catch (err) {
      safe({ type: 'error', error: err as RealtimeError });
    }
  }, [client, id, pageSize, loadLatest, safe]);

  const deliver = useCallback(async (m: ChatMessage) => {
    if (!client) throw new RealtimeError('unavailable', 'no client yet', 'message');
    safe({ type: 'pending', message: { ...m, status: 'sending' } });
    try {
      const ack = await client.send({
        roomId: id, content: m.content, type: m.type, clientMsgId: m.clientMsgId!,
        ...(m.replyToId ? { replyToId: m.replyToId } : {}), ...(m.metadata ? { metadata: m.metadata } : {}),
      });
      safe({ type: 'ack', senderId: m.senderId, ack: { ...ack, clientMsgId: m.clientMsgId! } });
    } catch (err) {
      safe({ type: 'failed', key: messageKey(m), error: err as RealtimeError });
      throw err;
    }
  }, [client, id, safe]);

  const send = useCallback((content: string, o: SendOptions = {}) => {
    const me = user ?? client?.user ?? { id: '', username: '' };
    const m: ChatMessage = {
      id: '', seq: 0, roomId: id, senderId: me.id, sender: me, content, type: o.type ?? 'text',
      createdAt: new Date().toISOString(), clientMsgId: randomId(), status: 'sending',
      ...(o.replyToId ? { replyToId: o.replyToId } : {}), ...(o.metadata ? { metadata: o.metadata } : {}),
    };
    return deliver(m);
  }, [client, user, id, deliver]);

  const retry = useCallback((m: ChatMessage) => deliver(m), [deliver]);

  const edit = useCallback(async (messageId: string, content: string) => {
    if (!client) return;
    const r = await client.emit<{ message: Message }>('edit-message', { messageId, content });
    safe({ type: 'upsert', message: r.message });
  }, [client, safe]);

  const remove = useCallback(async (messageId: string) => {
    if (!client) return;
    await client.emit('delete-message', { messageId });
    safe({ type: 'deleted', id: messageId, deletedAt: new Date().toISOString() });
  }, [client, safe]);

  const sendFile = useCallback(async (file: File) => {
    const shared = await uploadFile(client, filesUrl, id, file);
    await send(shared.name, { type: shared.contentType.startsWith('image/') ? 'image' : 'file', metadata: { file: shared } });
  }, [client, filesUrl, id, send]);

  return { ...state, roomId: id, loadOlder, send, retry, edit, remove, sendFile };
}

/** Uploads file to the hub's file handler for roomId (POST multipart:
 * roomId then file, with the client's token as a bearer token). */
export async function uploadFile(client: Client | null, filesUrl: string | null, roomId: string, file: File): Promise<SharedFile> {
  if (!filesUrl) throw new RealtimeError('invalid', 'file sharing is off: give RealtimeProvider a filesUrl', 'upload');
  const form = new FormData();
  form.append('roomId', roomId);
  form.append('file', file, file.name);
  const headers: Record<string, string> = {};
  if (client?.token) headers.Authorization = `Bearer ${client.token}`;
  const res = await fetch(filesUrl, { method: 'POST', body: form, headers });
  const body = await res.json().catch(() => ({})) as SharedFile & { error?: { code: string; message: string } };
  if (!res.ok) throw new RealtimeError(body.error?.code ?? 'internal', body.error?.message ?? `upload failed (${res.status})`, 'upload');
  return body;
}

/** The URL that downloads a shared file (authenticated with the token on the URL, as the hub accepts). */
export function fileUrl(filesUrl: string | null, file: SharedFile, token?: string): string | null {
  if (!filesUrl) return null;
  return `${filesUrl}${encodeURIComponent(file.id)}${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

/** What useThread returns. */
export interface ThreadHandle extends FeedState {
  /** Loads the replies after the last listed. */
  loadMore: () => Promise<void>;
  /** Replies to the thread's message. */
  reply: (content: string) => Promise<void>;
}

/** The replies to a message (get-thread, then live replies: messages whose
 * replyToId is the parent's id). */
export function useThread(parent: Pick<Message, 'id' | 'roomId'> | null, { pageSize = 50 }: MessagesOptions = {}): ThreadHandle {
  const { client, user } = useRealtimeContext();
  const [state, dispatch] = useReducer(feedReducer, initialFeed);
  const stateRef = useRef(state);
  stateRef.current = state;
  const parentId = parent?.id ?? null;
  const roomId = parent?.roomId ?? null;
  const current = useRef(parentId);
  current.current = parentId;

  const load = useCallback(async (after?: string) => {
    if (!client || !parentId) return;
    dispatch({ type: 'loading' });
    try {
      const page = await client.emit<{ messages: Message[]; hasMore: boolean }>('get-thread', after ? { messageId: parentId, after, limit: pageSize } : { messageId: parentId, limit: pageSize });
      if (current.current === parentId) dispatch({ type: 'page', messages: page.messages, hasMore: page.hasMore, replace: !after });
    } catch (err) {
      if (current.current === parentId) dispatch({ type: 'error', error: err as RealtimeError });
    }
  }, [client, parentId, pageSize]);

  useEffect(() => {
    dispatch({ type: 'page', messages: [], hasMore: false, replace: true });
    void load();
    return () => { current.current = null; };
  }, [load]);

  useFeedEvents(client, user, dispatch, (m) => parentId != null && m.replyToId === parentId, (mid) => stateRef.current.messages.some((m) => m.id === mid));

  const loadMore = useCallback(async () => {
    const list = stateRef.current.messages.filter((m) => m.status === 'sent');
    await load(list[list.length - 1]?.id);
  }, [load]);

  const reply = useCallback(async (content: string) => {
    if (!client || !parentId || !roomId) return;
    const me = user ?? client.user ?? { id: '', username: '' };
    const clientMsgId = randomId();
    const m: ChatMessage = { id: '', seq: 0, roomId, senderId: me.id, sender: me, content, type: 'text', replyToId: parentId, createdAt: new Date().toISOString(), clientMsgId, status: 'sending' };
    dispatch({ type: 'pending', message: m });
    try {
      const ack = await client.send({ roomId, content, replyToId: parentId, clientMsgId });
      dispatch({ type: 'ack', senderId: me.id, ack: { ...ack, clientMsgId } });
    } catch (err) {
      dispatch({ type: 'failed', key: messageKey(m), error: err as RealtimeError });
      throw err;
    }
  }, [client, user, parentId, roomId]);

  return { ...state, loadMore, reply };
}
