import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { connect, type Client, type Options, type State, type UserRef } from '@realtime-go/client';

/** What RealtimeProvider shares with the hooks below it. */
export interface RealtimeContextValue {
  /** The client; null until the provider has opened it. */
  client: Client | null;
  /** Its connection state. */
  state: State;
  /** The user the hub authenticated; null before the first connection. */
  user: UserRef | null;
  /** The URL of the hub's file handler (ending in "/"), or null: no file sharing. */
  filesUrl: string | null;
  /** Unread notifications, as the last connected event counted them. */
  unreadAtConnect: number | null;
}

export const RealtimeContext = createContext<RealtimeContextValue | null>(null);

export interface RealtimeProviderProps {
  /** A client opened by the application; the provider does not close it. */
  client?: Client;
  /** Or the hub's WebSocket URL: the provider connects on mount and closes on unmount. */
  url?: string;
  /** Options of connect (token or getToken, backoff...), read when url changes. */
  options?: Options;
  /** The hub's file handler (for example "/files/"); omit when file sharing is off. */
  filesUrl?: string;
  children?: ReactNode;
}

/** Gives the hooks below it a client: the one passed, or one it connects to url. */
export function RealtimeProvider({ client: given, url, options, filesUrl, children }: RealtimeProviderProps) {
  const [owned, setOwned] = useState<Client | null>(null);
  const optionsRef = useRef(options);
  optionsRef.current = options;

  useEffect(() => {
    if (given || !url) return;
    const c = connect(url, optionsRef.current ?? {});
    setOwned(c);
    return () => {
      c.close();
      setOwned(null);
    };
  }, [given, url]);

  const client = given ?? owned;
  const [state, setState] = useState<State>(client?.state ?? 'connecting');
  const [user, setUser] = useState<UserRef | null>(client?.user ?? null);
  const [unread, setUnread] = useState<number | null>(null);

  useEffect(() => {
    if (!client) return;
    setState(client.state);
    setUser(client.user ?? null);
    const offState = client.on('state', setState);
    const offConnected = client.on('connected', (c) => {
      setUser(c.user);
      setUnread(c.unreadNotifications ?? null);
    });
    return () => {
      offState();
      offConnected();
    };
  }, [client]);

  const files = filesUrl == null ? null : filesUrl.endsWith('/') ? filesUrl : `${filesUrl}/`;
  const value = useMemo<RealtimeContextValue>(() => ({ client, state, user, filesUrl: files, unreadAtConnect: unread }),
    [client, state, user, files, unread]);
  return <RealtimeContext.Provider value={value}>{children}</RealtimeContext.Provider>;
}

/** The provider's value; throws outside a RealtimeProvider. */
export function useRealtimeContext(): RealtimeContextValue {
  const ctx = useContext(RealtimeContext);
  if (!ctx) throw new Error('@realtime-go/react: use this hook inside a <RealtimeProvider>');
  return ctx;
}
