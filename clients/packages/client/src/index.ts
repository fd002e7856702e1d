// @realtime-go/client: a client of realtime hubs, protocol realtime.v2 or
// realtime.v1 (PROTOCOL.md of github.com/realtime-go/realtime): it offers
// both, and a message always has its senderId, for browsers and Node
// (>= 20; Node 20 needs --experimental-websocket, or pass a WebSocket).
// No runtime dependencies.

/** A user as the hub names it. */
export interface UserRef { id: string; username: string }

/** A message of a room, or a direct or global message. */
export interface Message {
  id: string; seq: number; roomId?: string; recipientId?: string; senderId: string; sender: UserRef;
  content: string; type: string; replyToId?: string; metadata?: Record<string, unknown>;
  createdAt: string; editedAt?: string; deletedAt?: string; clientMsgId?: string;
}

export interface Room {
  id: string; name: string; description?: string; type: 'public' | 'private'; maxUsers: number;
  isPrivate: boolean; createdById: string; createdAt: string; memberCount: number;
}

export interface Member { userId: string; username: string; role: 'admin' | 'member'; isMuted: boolean; joinedAt: string }

export interface Presence { userId: string; status: 'online' | 'away' | 'busy' | 'offline'; customStatus?: string; lastSeenAt?: string; roomId?: string }

/** The ack of join-room. */
export interface JoinReply {
  room: Room; members: Member[]; presence: Presence[];
  /** The ack lists the first 500 members; list-members pages on. */
  moreMembers?: boolean;
  missed: number; recovered: boolean;
}

export interface Notification {
  id: string; userId: string; type: string; title: string; body?: string; data?: Record<string, unknown>;
  roomId?: string; messageId?: string; createdAt: string; readAt?: string;
}

/** Sets a message's senderId from sender.id when the push left it out
 * (realtime.v2). */
function withSenderId(m: Message): Message {
  if (m.senderId === undefined) m.senderId = m.sender?.id ?? '';
  return m;
}

/** The pushes of the protocol (PROTOCOL.md section 4), and the client's own. */
export interface Events {
  connected: { connectionId: string; user: UserRef; heartbeatInterval: number; serverTime: string; unreadNotifications?: number };
  'new-message': Message;
  'message-edited': Message;
  'message-deleted': { id: string; roomId?: string; deletedAt: string };
  'message-sent': { id: string; timestamp: string; seq: number; clientMsgId?: string };
  'user-joined': { roomId: string; user: UserRef };
  'user-left': { roomId: string; user: UserRef };
  /** A large room's size changed; its members get no user-joined, user-left
   * or presence-changed of each other (PROTOCOL.md, Large rooms). */
  'member-count': { roomId: string; memberCount: number };
  'user-typing': { roomId: string; userId: string; username: string; isTyping: boolean };
  'presence-changed': Presence;
  'room-updated': { room: Room };
  'room-deleted': { roomId: string };
  'member-updated': { roomId: string; member: Member };
  kicked: { roomId: string; reason: string };
  notification: Notification;
  'notifications-read': { ids?: string[]; upTo?: string; unread: number };
  'token-expiring': { expiresAt: string };
  error: { code: string; message: string; event?: string; closeCode?: number };
  /** The client's connection state changed. */
  state: State;
  /** A room was joined again after a reconnect, with the join-room ack
   * (room, members, presence...); recovered false means messages may be
   * missing: reload its history. */
  resumed: JoinReply & { roomId: string };
  /** A followed room could not be joined again after a reconnect (deleted,
   * or no longer a member while offline): the client stopped following it. */
  'resume-failed': { roomId: string; error: RealtimeError };
  /** The connection closed; retryIn is the wait before the next attempt, or
   * null when the client gave up (a terminal close code, see state). */
  disconnected: { code: number; reason: string; retryIn: number | null };
}

export type State = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** An error reply of the hub, or a local failure (timeout, closed). */
export class RealtimeError extends Error {
  readonly code: string;
  readonly event: string | undefined;
  constructor(code: string, message: string, event?: string) {
    super(message);
    this.name = 'RealtimeError';
    this.code = code;
    this.event = event;
  }
}

export interface Options {
  /** The token, sent on the connection URL. */
  token?: string;
  /** Returns a token: before each connection and when the hub warns the
   * current one expires (token-expiring). */
  getToken?: () => string | Promise<string>;
  /** How long an emit waits for its ack. Default 10000 ms. */
  ackTimeout?: number;
  /** Reconnect backoff bounds; each wait is jittered. Defaults 500 and 15000 ms. */
  minBackoff?: number;
  maxBackoff?: number;
  /** The WebSocket constructor. Default: the global one. */
  WebSocket?: new (url: string, protocols?: string | string[]) => WebSocket;
}

/** Close codes after which the client does not reconnect (PROTOCOL.md section 5). */
export const FINAL_CLOSE_CODES: readonly number[] = [1000, 1008, 4001, 4003, 4008];

type Pending = { resolve: (data: unknown) => void; reject: (err: RealtimeError) => void; timer: ReturnType<typeof setTimeout>; event: string };
type Outgoing = { event: string; data: Record<string, unknown>; resolve: (data: unknown) => void; reject: (err: RealtimeError) => void };
type Listener = (data: never) => void;

/** Opens a client; it connects at once and reconnects by itself. */
export function connect(url: string, options: Options = {}): Client {
  return new Client(url, options);
}

export class Client {
  #url: string;
  #opts: Options;
  #ws: WebSocket | null = null;
  #state: State = 'connecting';
  #listeners = new Map<string, Set<Listener>>();
  #pending = new Map<number, Pending>();
  #nextAck = 1;
  #attempt = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #token: string | undefined;
  #closed = false;
  /** Joined rooms, with the last message seen in each (for since). */
  #rooms = new Map<string, { lastId?: string; lastSeq: number }>();
  /** Sends made while offline, or cut by a lost connection: sent again, with
   * the same clientMsgId, once connected. */
  #outbox: Outgoing[] = [];
  #flushing = false;
  #user: UserRef | undefined;

  constructor(url: string, options: Options) {
    this.#url = url;
    this.#opts = options;
    this.#token = options.token;
    void this.#open();
  }

  /** The connection state. */
  get state(): State { return this.#state; }

  /** The user the hub authenticated (from the last connected event);
   * undefined before the first connection. */
  get user(): UserRef | undefined { return this.#user; }

  /** The token in use: the last one getToken returned, or options.token.
   * HTTP endpoints beside the hub (file uploads) take it as a bearer token. */
  get token(): string | undefined { return this.#token; }

  /** The protocol version the hub chose for the open connection
   * ('realtime.v2' or 'realtime.v1'); '' when none is open. */
  get protocol(): string { return this.#ws?.readyState === 1 ? this.#ws.protocol || 'realtime.v1' : ''; }

  /** Listens to a push; returns what stops listening. */
  on<K extends keyof Events>(event: K, fn: (data: Events[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as Listener);
    return () => this.off(event, fn);
  }

  off<K extends keyof Events>(event: K, fn: (data: Events[K]) => void): void {
    this.#listeners.get(event)?.delete(fn as Listener);
  }

  /** How many listeners event has, or all events together. */
  listenerCount(event?: keyof Events): number {
    if (event) return this.#listeners.get(event)?.size ?? 0;
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  /** Listens to the next push of event only. */
  once<K extends keyof Events>(event: K, fn: (data: Events[K]) => void): () => void {
    const off = this.on(event, (data) => { off(); fn(data); });
    return off;
  }

  /** Sends a client event and resolves with its ack's data, or rejects with
   * a RealtimeError carrying the hub's code (or "timeout", "unavailable"). */
  emit<T = unknown>(event: string, data: Record<string, unknown> = {}, timeout = this.#opts.ackTimeout ?? 10_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const ws = this.#ws;
      if (!ws || ws.readyState !== 1 || this.#state !== 'open') {
        reject(new RealtimeError('unavailable', 'not connected', event));
        return;
      }
      const ack = this.#nextAck++;
      const timer = setTimeout(() => {
        this.#pending.delete(ack);
        reject(new RealtimeError('timeout', `no reply to ${event} within ${timeout} ms`, event));
      }, timeout);
      this.#pending.set(ack, { resolve: resolve as (d: unknown) => void, reject, timer, event });
      ws.send(JSON.stringify({ event, data, ack }));
    });
  }

  /** Sends a message (event "message") with a clientMsgId, so that it is
   * stored once however often it is sent: while offline it waits in the
   * outbox, and a send cut by a lost connection is sent again. */
  send(message: { roomId?: string; recipientId?: string; content: string; type?: string; replyToId?: string; metadata?: Record<string, unknown>; clientMsgId?: string }): Promise<Events['message-sent']> {
    const data: Record<string, unknown> = { ...message, clientMsgId: message.clientMsgId ?? randomId() };
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new RealtimeError('unavailable', 'the client is closed', 'message'));
        return;
      }
      this.#outbox.push({ event: 'message', data, resolve: resolve as (d: unknown) => void, reject });
      void this.#flush();
    });
  }

  /** Joins a room and follows it: after a reconnect the client joins it
   * again with since, so that nothing is missed or delivered twice. */
  async join(roomId: string): Promise<JoinReply> {
    const reply = await this.emit<JoinReply>('join-room', { roomId });
    if (!this.#rooms.has(roomId)) this.#rooms.set(roomId, { lastSeq: 0 });
    return reply;
  }

  /** Leaves a room and stops following it. */
  async leave(roomId: string): Promise<void> {
    this.#rooms.delete(roomId);
    await this.emit('leave-room', { roomId });
  }

  /** Closes the connection for good. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#ws?.close(1000);
    this.#setState('closed');
    this.#failAll('closed');
  }

  #emitLocal<K extends keyof Events>(event: K, data: Events[K]): void {
    for (const fn of this.#listeners.get(event) ?? []) (fn as (d: Events[K]) => void)(data);
  }

  #setState(state: State): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#emitLocal('state', state);
  }

  async #open(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#opts.getToken) this.#token = await this.#opts.getToken();
    } catch {
      if (!this.#closed) this.#schedule();
      return;
    }
    if (this.#closed) return; // closed while the token was on its way
    const Ctor = this.#opts.WebSocket ?? (globalThis as { WebSocket?: Options['WebSocket'] }).WebSocket;
    if (!Ctor) throw new Error('@realtime-go/client: no WebSocket (Node 20 needs --experimental-websocket, or pass options.WebSocket)');
    const sep = this.#url.includes('?') ? '&' : '?';
    const url = this.#token ? `${this.#url}${sep}token=${encodeURIComponent(this.#token)}` : this.#url;
    // realtime.v2 sends a message's sender id once, as sender.id; #onPush
    // fills senderId in, so both read the same to the application.
    const ws = new Ctor(url, ['realtime.v2', 'realtime.v1']);
    this.#ws = ws;
    ws.onmessage = (e: MessageEvent) => {
      // A frame may batch several JSON objects, one per line.
      for (const line of String(e.data).split('\n')) {
        if (!line.trim()) continue;
        let frame: { event?: string; data?: unknown; ack?: number; error?: { code: string; message: string } };
        try { frame = JSON.parse(line); } catch { continue; }
        if (frame.ack != null) this.#settle(frame.ack, frame);
        else if (frame.event) this.#onPush(frame.event, frame.data ?? {});
      }
    };
    ws.onclose = (e: CloseEvent) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#failPending();
      if (this.#closed) return;
      if (FINAL_CLOSE_CODES.includes(e.code) && !(e.code === 4001 && this.#opts.getToken && this.#attempt === 0)) {
        this.#closed = true;
        this.#setState('closed');
        this.#failAll(`closed by the server (${e.code})`);
        this.#emitLocal('disconnected', { code: e.code, reason: e.reason, retryIn: null });
        return;
      }
      this.#emitLocal('disconnected', { code: e.code, reason: e.reason, retryIn: this.#schedule() });
    };
  }

  /** Plans the next connection attempt and returns its delay in ms. */
  #schedule(): number {
    this.#setState('reconnecting');
    const min = this.#opts.minBackoff ?? 500, max = this.#opts.maxBackoff ?? 15_000;
    const delay = Math.min(max, min * 2 ** this.#attempt++) * (0.5 + Math.random() / 2);
    this.#retry = setTimeout(() => void this.#open(), delay);
    return delay;
  }

  #settle(ack: number, frame: { data?: unknown; error?: { code: string; message: string } }): void {
    const p = this.#pending.get(ack);
    if (!p) return;
    this.#pending.delete(ack);
    clearTimeout(p.timer);
    if (frame.error) p.reject(new RealtimeError(frame.error.code, frame.error.message, p.event));
    else p.resolve(frame.data ?? {});
  }

  /** Rejects the emits in flight: their connection is gone. */
  #failPending(): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RealtimeError('unavailable', 'connection closed', p.event));
    }
    this.#pending.clear();
  }

  #failAll(why: string): void {
    this.#failPending();
    for (const o of this.#outbox.splice(0)) o.reject(new RealtimeError('unavailable', why, o.event));
  }

  #onPush(event: string, data: unknown): void {
    switch (event) {
      case 'connected':
        this.#user = (data as Events['connected']).user;
        this.#attempt = 0;
        this.#setState('open');
        this.#emitLocal('connected', data as Events['connected']);
        void this.#resume();
        return;
      case 'message-edited':
        withSenderId(data as Message);
        break;
      case 'new-message': {
        const m = withSenderId(data as Message);
        const room = m.roomId ? this.#rooms.get(m.roomId) : undefined;
        if (room) {
          if (m.seq <= room.lastSeq) return; // heard before (a resume overlaps)
          room.lastSeq = m.seq;
          room.lastId = m.id;
        }
        break;
      }
      case 'kicked':
      case 'room-deleted':
        this.#rooms.delete((data as { roomId: string }).roomId);
        break;
      case 'token-expiring':
        void this.#refresh();
        break;
    }
    this.#emitLocal(event as keyof Events, data as never);
  }

  /** After (re)connecting: joins the followed rooms again with since, then
   * sends what waits in the outbox. */
  async #resume(): Promise<void> {
    for (const [roomId, room] of [...this.#rooms]) {
      try {
        const reply = await this.emit<JoinReply>('join-room', room.lastId ? { roomId, since: room.lastId } : { roomId });
        this.#emitLocal('resumed', { ...reply, roomId, recovered: room.lastId ? reply.recovered : false });
      } catch (err) {
        if (err instanceof RealtimeError && err.code !== 'unavailable' && err.code !== 'timeout' && this.#rooms.delete(roomId)) {
          this.#emitLocal('resume-failed', { roomId, error: err });
        }
      }
    }
    await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#outbox.length > 0 && this.#state === 'open') {
        const o = this.#outbox[0]!;
        try {
          const reply = await this.emit(o.event, o.data);
          this.#outbox.shift();
          o.resolve(reply);
        } catch (err) {
          const e = err as RealtimeError;
          if (e.code === 'unavailable' || e.code === 'timeout') break; // sent again after the reconnect
          this.#outbox.shift();
          o.reject(e);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #refresh(): Promise<void> {
    if (!this.#opts.getToken) return;
    try {
      this.#token = await this.#opts.getToken();
      await this.emit('auth', { token: this.#token });
    } catch { /* the hub closes with 4001 when the old token expires */ }
  }
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
