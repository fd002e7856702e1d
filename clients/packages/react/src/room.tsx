import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { RealtimeError, type Member, type Presence, type Room } from '@realtime-go/client';
import { useRealtimeContext } from './context.js';
import { useClientEvent } from './realtime.js';

/** What useRoom returns. */
export interface RoomHandle {
  roomId: string;
  /** The room, once joined. */
  room: Room | null;
  /** Its members (the first 500 to have joined, then more with loadMoreMembers). */
  members: Member[];
  /** Whether the hub has more members than listed. */
  moreMembers: boolean;
  /** The online members when the room was joined (usePresence follows changes). */
  presence: Presence[];
  /** This connection receives the room's pushes. */
  joined: boolean;
  /** Why the room could not be joined, or was left (kicked, deleted). */
  error: RealtimeError | null;
  join: () => Promise<void>;
  /** Leaves the room: ends the membership, as PROTOCOL.md says. */
  leave: () => Promise<void>;
  loadMoreMembers: () => Promise<void>;
}

export interface RoomOptions {
  /** Join on mount (default true). */
  autoJoin?: boolean;
  /** Leave the room (end the membership) on unmount (default false: the
   * user stays a member and the client keeps following the room). */
  leaveOnUnmount?: boolean;
}

type JoinReply = { room: Room; members: Member[]; presence: Presence[]; moreMembers?: boolean };
type MembersPage = { members: Member[]; presence: Presence[]; hasMore: boolean };

function upsertMember(list: Member[], m: Member): Member[] {
  const i = list.findIndex((x) => x.userId === m.userId);
  if (i < 0) return [...list, m];
  const next = list.slice();
  next[i] = m;
  return next;
}

/** Joins a room (on mount unless autoJoin is false) and follows its info and members. */
export function useRoom(roomId: string, { autoJoin = true, leaveOnUnmount = false }: RoomOptions = {}): RoomHandle {
  const { client } = useRealtimeContext();
  const [room, setRoom] = useState<Room | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [moreMembers, setMoreMembers] = useState(false);
  const [presence, setPresence] = useState<Presence[]>([]);
  const [joined, setJoined] = useState(false);
  const [error, setError] = useState<RealtimeError | null>(null);
  const live = useRef(true);

  const apply = useCallback((r: JoinReply) => {
    if (!live.current) return;
    setRoom(r.room);
    setMembers(r.members);
    setMoreMembers(r.moreMembers === true);
    setPresence(r.presence);
    setJoined(true);
    setError(null);
  }, []);

  const join = useCallback(async () => {
    if (!client) throw new RealtimeError('unavailable', 'no client yet', 'join-room');
    try {
      apply(await client.join(roomId));
    } catch (err) {
      if (live.current) setError(err as RealtimeError);
      throw err;
    }
  }, [client, roomId, apply]);

  const leave = useCallback(async () => {
    if (!client) return;
    await client.leave(roomId);
    if (live.current) setJoined(false);
  }, [client, roomId]);

  // Join once connected; a join cut by a lost connection is tried again on
  // the next connection (a joined room is resumed by the client itself).
  useEffect(() => {
    live.current = true;
    setRoom(null);
    setMembers([]);
    setPresence([]);
    setJoined(false);
    setError(null);
    if (!client || !autoJoin) return () => { live.current = false; };
    let done = false;
    const attempt = () => {
      client.join(roomId).then((r) => { done = true; apply(r); }, (err: RealtimeError) => {
        if (err.code !== 'unavailable') { done = true; if (live.current) setError(err); }
      });
    };
    if (client.state === 'open') attempt();
    const off = client.on('state', (s) => { if (s === 'open' && !done) attempt(); });
    return () => {
      live.current = false;
      off();
      if (leaveOnUnmount) client.leave(roomId).catch(() => {});
    };
  }, [client, roomId, autoJoin, leaveOnUnmount, apply]);

  const refreshMembers = useCallback(async () => {
    if (!client) return;
    const page = await client.emit<MembersPage>('list-members', { roomId });
    if (!live.current) return;
    setMembers(page.members);
    setMoreMembers(page.hasMore);
    setPresence(page.presence);
  }, [client, roomId]);

  const loadMoreMembers = useCallback(async () => {
    if (!client) return;
    const last = members[members.length - 1];
    const page = await client.emit<MembersPage>('list-members', last ? { roomId, after: last.userId } : { roomId });
    if (!live.current) return;
    setMembers((list) => page.members.reduce(upsertMember, list));
    setMoreMembers(page.hasMore);
    setPresence((p) => [...p, ...page.presence]);
  }, [client, roomId, members]);

  useClientEvent(client, 'resumed', (r) => { if (r.roomId === roomId) refreshMembers().catch(() => {}); });
  useClientEvent(client, 'user-joined', (e) => {
    if (e.roomId !== roomId) return;
    setMembers((list) => list.some((m) => m.userId === e.user.id) ? list
      : [...list, { userId: e.user.id, username: e.user.username, role: 'member', isMuted: false, joinedAt: new Date().toISOString() }]);
  });
  useClientEvent(client, 'user-left', (e) => {
    if (e.roomId === roomId) setMembers((list) => list.filter((m) => m.userId !== e.user.id));
  });
  useClientEvent(client, 'member-updated', (e) => { if (e.roomId === roomId) setMembers((list) => upsertMember(list, e.member)); });
  useClientEvent(client, 'room-updated', (e) => { if (e.room.id === roomId) setRoom(e.room); });
  useClientEvent(client, 'room-deleted', (e) => {
    if (e.roomId !== roomId) return;
    setJoined(false);
    setError(new RealtimeError('not_found', 'the room was deleted', 'room-deleted'));
  });
  useClientEvent(client, 'kicked', (e) => {
    if (e.roomId !== roomId) return;
    setJoined(false);
    setError(new RealtimeError('forbidden', e.reason || 'removed from the room', 'kicked'));
  });

  return { roomId, room, members, moreMembers, presence, joined, error, join, leave, loadMoreMembers };
}

export const RoomContext = createContext<RoomHandle | null>(null);

export interface RoomProviderProps extends RoomOptions {
  roomId: string;
  children?: ReactNode;
}

/** Joins roomId and gives it to the hooks below it (useMessages, usePresence,
 * useTyping without a room id). */
export function RoomProvider({ roomId, children, ...options }: RoomProviderProps) {
  const handle = useRoom(roomId, options);
  const value = useMemo(() => handle, Object.values(handle)); // eslint-disable-line react-hooks/exhaustive-deps
  return <RoomContext.Provider value={value}>{children}</RoomContext.Provider>;
}

/** The room of the nearest RoomProvider, or null. */
export function useRoomContext(): RoomHandle | null {
  return useContext(RoomContext);
}

/** The room id a hook works on: its argument, else the nearest RoomProvider's. */
export function useRoomId(roomId: string | undefined, hook: string): string {
  const ctx = useContext(RoomContext);
  const id = roomId ?? ctx?.roomId;
  if (!id) throw new Error(`@realtime-go/react: ${hook} needs a room id or a <RoomProvider>`);
  return id;
}
