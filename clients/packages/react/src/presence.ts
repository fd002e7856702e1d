import { useCallback, useEffect, useRef, useState } from 'react';
import type { Client, Presence } from '@realtime-go/client';
import { useRealtimeContext } from './context.js';
import { useClientEvent } from './realtime.js';
import { useRoomContext, useRoomId } from './room.js';

export type Status = Presence['status'];

/** What usePresence returns. */
export interface PresenceHandle {
  /** Presence by user id, of the users heard of. */
  presence: Record<string, Presence>;
  /** A user's status; 'offline' when unknown. */
  statusOf: (userId: string) => Status;
  /** Sets this user's status ('invisible' shows it offline to others). */
  setStatus: (status: Status | 'invisible', customStatus?: string) => Promise<void>;
}

function byUser(list: Presence[]): Record<string, Presence> {
  const out: Record<string, Presence> = {};
  for (const p of list) out[p.userId] = p;
  return out;
}

/** The presence of a room's members (get-presence, then presence-changed),
 * or of the users named. Inside a RoomProvider the room id may be left out. */
export function usePresence(target?: string | { userIds: string[] }): PresenceHandle {
  const roomCtx = useRoomContext();
  const roomId = typeof target === 'string' ? target : target ? undefined : roomCtx?.roomId;
  const userIds = typeof target === 'object' ? target.userIds : undefined;
  const { client, state } = useRealtimeContext();
  const [presence, setPresence] = useState<Record<string, Presence>>({});
  const idsKey = userIds?.join('\n') ?? '';
  const viaRoom = roomId != null && roomCtx?.roomId === roomId;
  const ready = state === 'open' && (!viaRoom || roomCtx.joined);

  // Fetched when ready, again after every reconnect (what changed meanwhile was not pushed).
  useEffect(() => {
    if (!client || !ready || (!roomId && !idsKey)) return;
    let live = true;
    client.emit<{ presence: Presence[] }>('get-presence', roomId ? { roomId } : { userIds: idsKey.split('\n') })
      .then((r) => { if (live) setPresence((p) => ({ ...p, ...byUser(r.presence) })); }, () => {});
    return () => { live = false; };
  }, [client, ready, roomId, idsKey]);

  // A user who joins the room may have been online for long: ask.
  useClientEvent(client, 'user-joined', (e) => {
    if (e.roomId !== roomId || !client) return;
    client.emit<{ presence: Presence[] }>('get-presence', { userIds: [e.user.id] })
      .then((r) => setPresence((p) => ({ ...p, ...byUser(r.presence) })), () => {});
  });
  useClientEvent(client, 'presence-changed', (p) => {
    if (userIds && !userIds.includes(p.userId)) return;
    setPresence((all) => ({ ...all, [p.userId]: p }));
  });

  const statusOf = useCallback((userId: string): Status => presence[userId]?.status ?? 'offline', [presence]);
  const setStatus = useCallback(async (status: Status | 'invisible', customStatus?: string) => {
    if (!client) return;
    await client.emit('presence-update', customStatus != null ? { status, customStatus } : { status });
  }, [client]);
  return { presence, statusOf, setStatus };
}

/** A user typing in a room. */
export interface Typist { userId: string; username: string }

/** What useTyping returns. */
export interface TypingHandle {
  /** The other users typing in the room now. */
  typing: Typist[];
  /** Call on each keystroke: says "typing" (once) and "stopped" after idleMs without one. */
  keystroke: () => void;
  /** Says the user stopped typing (sent a message, left the field). */
  stop: () => void;
}

export interface TypingOptions {
  /** Quiet time after which the user has stopped typing (default 2500 ms). */
  idleMs?: number;
  /** How long another user shows as typing without news (default 6000 ms;
   * the hub says stopped by itself after its typing timeout). */
  staleMs?: number;
}

function sendTyping(client: Client | null, roomId: string, isTyping: boolean) {
  client?.emit('typing', { roomId, isTyping }).catch(() => {});
}

/** Who else types in a room, and this user's typing state. Inside a RoomProvider the room id may be left out. */
export function useTyping(roomId?: string, { idleMs = 2500, staleMs = 6000 }: TypingOptions = {}): TypingHandle {
  const id = useRoomId(roomId, 'useTyping');
  const { client, user } = useRealtimeContext();
  const [typing, setTyping] = useState<Typist[]>([]);
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());
  const mine = useRef<{ on: boolean; timer?: ReturnType<typeof setTimeout> }>({ on: false });

  const drop = useCallback((userId: string) => {
    clearTimeout(timers.current.get(userId));
    timers.current.delete(userId);
    setTyping((list) => list.filter((t) => t.userId !== userId));
  }, []);

  useClientEvent(client, 'user-typing', (e) => {
    if (e.roomId !== id || e.userId === user?.id) return;
    if (!e.isTyping) return drop(e.userId);
    clearTimeout(timers.current.get(e.userId));
    timers.current.set(e.userId, setTimeout(() => drop(e.userId), staleMs));
    setTyping((list) => list.some((t) => t.userId === e.userId) ? list : [...list, { userId: e.userId, username: e.username }]);
  });
  // A user who sent a message has stopped typing.
  useClientEvent(client, 'new-message', (m) => { if (m.roomId === id && m.senderId !== user?.id) drop(m.senderId); });

  const stop = useCallback(() => {
    const s = mine.current;
    clearTimeout(s.timer);
    if (s.on) sendTyping(client, id, false);
    s.on = false;
  }, [client, id]);

  const keystroke = useCallback(() => {
    const s = mine.current;
    if (!s.on) sendTyping(client, id, true);
    s.on = true;
    clearTimeout(s.timer);
    s.timer = setTimeout(stop, idleMs);
  }, [client, id, idleMs, stop]);

  // Unmount or another room: no timer left, and the others told.
  useEffect(() => {
    const all = timers.current;
    return () => {
      stop();
      for (const t of all.values()) clearTimeout(t);
      all.clear();
      setTyping([]);
    };
  }, [stop]);

  return { typing, keystroke, stop };
}
