import { useCallback, useEffect, useRef } from 'react';
import { RealtimeError, type Client, type Events, type State, type UserRef } from '@realtime-go/client';
import { useRealtimeContext } from './context.js';

/** What useRealtime returns: the seed's useSocket. */
export interface RealtimeHandle {
  client: Client | null;
  state: State;
  /** state === 'open'. */
  isConnected: boolean;
  user: UserRef | null;
  /** Sends an event and resolves with its ack's data (rejects with a RealtimeError). */
  emit: <T = unknown>(event: string, data?: Record<string, unknown>) => Promise<T>;
  /** Listens to a push; returns what stops listening. */
  on: <K extends keyof Events>(event: K, fn: (data: Events[K]) => void) => () => void;
}

/** The client of the nearest RealtimeProvider and its connection state. */
export function useRealtime(): RealtimeHandle {
  const { client, state, user } = useRealtimeContext();
  const emit = useCallback(<T,>(event: string, data: Record<string, unknown> = {}): Promise<T> =>
    client ? client.emit<T>(event, data) : Promise.reject(new RealtimeError('unavailable', 'no client yet', event)), [client]);
  const on = useCallback(<K extends keyof Events>(event: K, fn: (data: Events[K]) => void): (() => void) =>
    client ? client.on(event, fn) : () => {}, [client]);
  return { client, state, isConnected: state === 'open', user, emit, on };
}

/** Listens to event on client while the component is mounted, calling the
 * latest handler; the listener goes when the component unmounts or the
 * client changes. */
export function useClientEvent<K extends keyof Events>(client: Client | null, event: K, handler: (data: Events[K]) => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    if (!client) return;
    return client.on(event, (data) => ref.current(data));
  }, [client, event]);
}

/** A random id for clientMsgId. */
export function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
