import { useCallback, useEffect, useRef, useState } from 'react';
import type { Notification, RealtimeError } from '@realtime-go/client';
import { useRealtimeContext } from './context.js';
import { useClientEvent } from './realtime.js';

/** What useNotifications returns. */
export interface NotificationsHandle {
  /** The user's notifications, newest first. */
  notifications: Notification[];
  /** How many are unread (all of them, not only those listed). */
  unread: number;
  hasMore: boolean;
  loading: boolean;
  /** false when the hub keeps no notifications. */
  supported: boolean;
  error: RealtimeError | null;
  loadMore: () => Promise<void>;
  markRead: (ids: string[]) => Promise<void>;
  /** Marks every notification read (upTo the newest). */
  markAllRead: () => Promise<void>;
}

export interface NotificationsOptions {
  /** Notifications per page (default 20, at most 100). */
  pageSize?: number;
}

type Page = { notifications: Notification[]; hasMore: boolean; unread: number };

/** A notification's time in ms. createdAt is RFC 3339 with its trailing
 * zeros trimmed ("…:05.1Z", "…:05.12Z"), so its text does not sort by time. */
const at = (n: Notification): number => Date.parse(n.createdAt);

/** list with add merged in by id, newest first (by time, then by id). */
export function mergeNotifications(list: Notification[], add: Notification[]): Notification[] {
  const byId = new Map(list.map((n) => [n.id, n]));
  for (const n of add) byId.set(n.id, n);
  return [...byId.values()].sort((a, b) => at(b) - at(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** list with the ids named, and every one at or before upTo, marked read at
 * the time given. */
export function markNotificationsRead(list: Notification[], ids: string[] | undefined, upTo: string | undefined, readAt: string): Notification[] {
  const cut = upTo ? list.find((n) => n.id === upTo) : undefined;
  return list.map((n) => {
    if (n.readAt) return n;
    const hit = ids?.includes(n.id) || (cut != null && (at(n) < at(cut) || n.id === cut.id));
    return hit ? { ...n, readAt } : n;
  });
}

/** The user's stored notifications (get-notifications, then notification
 * pushes), the unread count, and marking them read. Reloaded after every
 * reconnect: pushes may have been missed meanwhile. */
export function useNotifications({ pageSize = 20 }: NotificationsOptions = {}): NotificationsHandle {
  const { client, state, unreadAtConnect } = useRealtimeContext();
  const [notifications, setNotifications] = useState<Notification[]>([]);
  const [unread, setUnread] = useState(0);
  const [hasMore, setHasMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [supported, setSupported] = useState(true);
  const [error, setError] = useState<RealtimeError | null>(null);
  const listRef = useRef(notifications);
  listRef.current = notifications;
  const live = useRef(true);
  useEffect(() => { live.current = true; return () => { live.current = false; }; }, []);

  // Pushes heard while the first page is asked for: the page may predate them.
  const heard = useRef<Notification[] | null>(null);

  const load = useCallback(async (before?: string) => {
    if (!client) return;
    setLoading(true);
    if (!before) heard.current = [];
    try {
      const page = await client.emit<Page>('get-notifications', before ? { before, limit: pageSize } : { limit: pageSize });
      if (!live.current) return;
      const late = before ? [] : (heard.current ?? []).filter((n) => !page.notifications.some((p) => p.id === n.id));
      if (!before) heard.current = null;
      setNotifications((list) => mergeNotifications(before ? list : [], [...page.notifications, ...late]));
      setHasMore(page.hasMore);
      if (!before) setUnread(page.unread + late.filter((n) => !n.readAt).length);
      setError(null);
    } catch (err) {
      if (!live.current) return;
      const e = err as RealtimeError;
      if (e.code === 'invalid') setSupported(false);
      else setError(e);
    } finally {
      if (live.current) setLoading(false);
    }
  }, [client, pageSize]);

  useEffect(() => {
    if (state === 'open') void load();
  }, [state, load]);
  useEffect(() => { if (unreadAtConnect != null) setUnread(unreadAtConnect); }, [unreadAtConnect]);

  useClientEvent(client, 'notification', (n) => {
    heard.current?.push(n);
    if (listRef.current.some((x) => x.id === n.id)) return;
    setNotifications((list) => mergeNotifications(list, [n]));
    if (!n.readAt) setUnread((u) => u + 1);
  });
  useClientEvent(client, 'notifications-read', (r) => {
    setNotifications((list) => markNotificationsRead(list, r.ids, r.upTo, new Date().toISOString()));
    setUnread(r.unread);
  });

  const loadMore = useCallback(async () => {
    const last = listRef.current[listRef.current.length - 1];
    await load(last?.id);
  }, [load]);

  const mark = useCallback(async (data: { ids?: string[]; upTo?: string }) => {
    if (!client) return;
    const r = await client.emit<{ unread: number }>('mark-notifications-read', data);
    if (!live.current) return;
    setNotifications((list) => markNotificationsRead(list, data.ids, data.upTo, new Date().toISOString()));
    setUnread(r.unread);
  }, [client]);

  const markRead = useCallback((ids: string[]) => mark({ ids }), [mark]);
  const markAllRead = useCallback(async () => {
    const newest = listRef.current[0];
    if (newest) await mark({ upTo: newest.id });
  }, [mark]);

  return { notifications, unread, hasMore, loading, supported, error, loadMore, markRead, markAllRead };
}
