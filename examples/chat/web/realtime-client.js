// @realtime-go/client for the chat example, generated from clients/packages/client
// by `npm run build:chat` in clients/: do not edit (go test ./clients/ checks it).
// @realtime-go/client: a client of realtime hubs, protocol realtime.v2 or
// realtime.v1 (PROTOCOL.md of github.com/realtime-go/realtime): it offers
// both, and a message always has its senderId, for browsers and Node
// (>= 20; Node 20 needs --experimental-websocket, or pass a WebSocket).
// No runtime dependencies.
/** Sets a message's senderId from sender.id when the push left it out
 * (realtime.v2). */
function withSenderId(m) {
    if (m.senderId === undefined)
        m.senderId = m.sender?.id ?? '';
    return m;
}
/** An error reply of the hub, or a local failure (timeout, closed). */
export class RealtimeError extends Error {
    code;
    event;
    constructor(code, message, event) {
        super(message);
        this.name = 'RealtimeError';
        this.code = code;
        this.event = event;
    }
}
/** Close codes after which the client does not reconnect (PROTOCOL.md section 5). */
export const FINAL_CLOSE_CODES = [1000, 1008, 4001, 4003, 4008];
/** Opens a client; it connects at once and reconnects by itself. */
export function connect(url, options = {}) {
    return new Client(url, options);
}
export class Client {
    #url;
    #opts;
    #ws = null;
    #state = 'connecting';
    #listeners = new Map();
    #pending = new Map();
    #nextAck = 1;
    #attempt = 0;
    #retry;
    #token;
    #closed = false;
    /** Joined rooms, with the last message seen in each (for since). */
    #rooms = new Map();
    /** Sends made while offline, or cut by a lost connection: sent again, with
     * the same clientMsgId, once connected. */
    #outbox = [];
    #flushing = false;
    #user;
    constructor(url, options) {
        this.#url = url;
        this.#opts = options;
        this.#token = options.token;
        void this.#open();
    }
    /** The connection state. */
    get state() { return this.#state; }
    /** The user the hub authenticated (from the last connected event);
     * undefined before the first connection. */
    get user() { return this.#user; }
    /** The token in use: the last one getToken returned, or options.token.
     * HTTP endpoints beside the hub (file uploads) take it as a bearer token. */
    get token() { return this.#token; }
    /** The protocol version the hub chose for the open connection
     * ('realtime.v2' or 'realtime.v1'); '' when none is open. */
    get protocol() { return this.#ws?.readyState === 1 ? this.#ws.protocol || 'realtime.v1' : ''; }
    /** Listens to a push; returns what stops listening. */
    on(event, fn) {
        let set = this.#listeners.get(event);
        if (!set)
            this.#listeners.set(event, (set = new Set()));
        set.add(fn);
        return () => this.off(event, fn);
    }
    off(event, fn) {
        this.#listeners.get(event)?.delete(fn);
    }
    /** How many listeners event has, or all events together. */
    listenerCount(event) {
        if (event)
            return this.#listeners.get(event)?.size ?? 0;
        let n = 0;
        for (const set of this.#listeners.values())
            n += set.size;
        return n;
    }
    /** Listens to the next push of event only. */
    once(event, fn) {
        const off = this.on(event, (data) => { off(); fn(data); });
        return off;
    }
    /** Sends a client event and resolves with its ack's data, or rejects with
     * a RealtimeError carrying the hub's code (or "timeout", "unavailable"). */
    emit(event, data = {}, timeout = this.#opts.ackTimeout ?? 10_000) {
        return new Promise((resolve, reject) => {
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
            this.#pending.set(ack, { resolve: resolve, reject, timer, event });
            ws.send(JSON.stringify({ event, data, ack }));
        });
    }
    /** Sends a message (event "message") with a clientMsgId, so that it is
     * stored once however often it is sent: while offline it waits in the
     * outbox, and a send cut by a lost connection is sent again. */
    send(message) {
        const data = { ...message, clientMsgId: message.clientMsgId ?? randomId() };
        return new Promise((resolve, reject) => {
            if (this.#closed) {
                reject(new RealtimeError('unavailable', 'the client is closed', 'message'));
                return;
            }
            this.#outbox.push({ event: 'message', data, resolve: resolve, reject });
            void this.#flush();
        });
    }
    /** Joins a room and follows it: after a reconnect the client joins it
     * again with since, so that nothing is missed or delivered twice. */
    async join(roomId) {
        const reply = await this.emit('join-room', { roomId });
        if (!this.#rooms.has(roomId))
            this.#rooms.set(roomId, { lastSeq: 0 });
        return reply;
    }
    /** Leaves a room and stops following it. */
    async leave(roomId) {
        this.#rooms.delete(roomId);
        await this.emit('leave-room', { roomId });
    }
    /** Closes the connection for good. */
    close() {
        this.#closed = true;
        clearTimeout(this.#retry);
        this.#ws?.close(1000);
        this.#setState('closed');
        this.#failAll('closed');
    }
    #emitLocal(event, data) {
        for (const fn of this.#listeners.get(event) ?? [])
            fn(data);
    }
    #setState(state) {
        if (this.#state === state)
            return;
        this.#state = state;
        this.#emitLocal('state', state);
    }
    async #open() {
        if (this.#closed)
            return;
        try {
            if (this.#opts.getToken)
                this.#token = await this.#opts.getToken();
        }
        catch {
            if (!this.#closed)
                this.#schedule();
            return;
        }
        if (this.#closed)
            return; // closed while the token was on its way
        const Ctor = this.#opts.WebSocket ?? globalThis.WebSocket;
        if (!Ctor)
            throw new Error('@realtime-go/client: no WebSocket (Node 20 needs --experimental-websocket, or pass options.WebSocket)');
        const sep = this.#url.includes('?') ? '&' : '?';
        const url = this.#token ? `${this.#url}${sep}token=${encodeURIComponent(this.#token)}` : this.#url;
        // realtime.v2 sends a message's sender id once, as sender.id; #onPush
        // fills senderId in, so both read the same to the application.
        const ws = new Ctor(url, ['realtime.v2', 'realtime.v1']);
        this.#ws = ws;
        ws.onmessage = (e) => {
            // A frame may batch several JSON objects, one per line.
            for (const line of String(e.data).split('\n')) {
                if (!line.trim())
                    continue;
                let frame;
                try {
                    frame = JSON.parse(line);
                }
                catch {
                    continue;
                }
                if (frame.ack != null)
                    this.#settle(frame.ack, frame);
                else if (frame.event)
                    this.#onPush(frame.event, frame.data ?? {});
            }
        };
        ws.onclose = (e) => {
            if (this.#ws !== ws)
                return;
            this.#ws = null;
            this.#failPending();
            if (this.#closed)
                return;
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
    #schedule() {
        this.#setState('reconnecting');
        const min = this.#opts.minBackoff ?? 500, max = this.#opts.maxBackoff ?? 15_000;
        const delay = Math.min(max, min * 2 ** this.#attempt++) * (0.5 + Math.random() / 2);
        this.#retry = setTimeout(() => void this.#open(), delay);
        return delay;
    }
    #settle(ack, frame) {
        const p = this.#pending.get(ack);
        if (!p)
            return;
        this.#pending.delete(ack);
        clearTimeout(p.timer);
        if (frame.error)
            p.reject(new RealtimeError(frame.error.code, frame.error.message, p.event));
        else
            p.resolve(frame.data ?? {});
    }
    /** Rejects the emits in flight: their connection is gone. */
    #failPending() {
        for (const p of this.#pending.values()) {
            clearTimeout(p.timer);
            p.reject(new RealtimeError('unavailable', 'connection closed', p.event));
        }
        this.#pending.clear();
    }
    #failAll(why) {
        this.#failPending();
        for (const o of this.#outbox.splice(0))
            o.reject(new RealtimeError('unavailable', why, o.event));
    }
    #onPush(event, data) {
        switch (event) {
            case 'connected':
                this.#user = data.user;
                this.#attempt = 0;
                this.#setState('open');
                this.#emitLocal('connected', data);
                void this.#resume();
                return;
            case 'message-edited':
                withSenderId(data);
                break;
            case 'new-message': {
                const m = withSenderId(data);
                const room = m.roomId ? this.#rooms.get(m.roomId) : undefined;
                if (room) {
                    if (m.seq <= room.lastSeq)
                        return; // heard before (a resume overlaps)
                    room.lastSeq = m.seq;
                    room.lastId = m.id;
                }
                break;
            }
            case 'kicked':
            case 'room-deleted':
                this.#rooms.delete(data.roomId);
                break;
            case 'token-expiring':
                void this.#refresh();
                break;
        }
        this.#emitLocal(event, data);
    }
    /** After (re)connecting: joins the followed rooms again with since, then
     * sends what waits in the outbox. */
    async #resume() {
        for (const [roomId, room] of [...this.#rooms]) {
            try {
                const reply = await this.emit('join-room', room.lastId ? { roomId, since: room.lastId } : { roomId });
                this.#emitLocal('resumed', { ...reply, roomId, recovered: room.lastId ? reply.recovered : false });
            }
            catch (err) {
                if (err instanceof RealtimeError && err.code !== 'unavailable' && err.code !== 'timeout' && this.#rooms.delete(roomId)) {
                    this.#emitLocal('resume-failed', { roomId, error: err });
                }
            }
        }
        await this.#flush();
    }
    async #flush() {
        if (this.#flushing)
            return;
        this.#flushing = true;
        try {
            while (this.#outbox.length > 0 && this.#state === 'open') {
                const o = this.#outbox[0];
                try {
                    const reply = await this.emit(o.event, o.data);
                    this.#outbox.shift();
                    o.resolve(reply);
                }
                catch (err) {
                    const e = err;
                    if (e.code === 'unavailable' || e.code === 'timeout')
                        break; // sent again after the reconnect
                    this.#outbox.shift();
                    o.reject(e);
                }
            }
        }
        finally {
            this.#flushing = false;
        }
    }
    async #refresh() {
        if (!this.#opts.getToken)
            return;
        try {
            this.#token = await this.#opts.getToken();
            await this.emit('auth', { token: this.#token });
        }
        catch { /* the hub closes with 4001 when the old token expires */ }
    }
}
function randomId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
