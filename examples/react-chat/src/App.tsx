import { useCallback, useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import type { Room } from '@realtime-go/client';
import { ChatRoom, NotificationCenter, PresenceIndicator, RealtimeProvider, usePresence, useRealtime, type Status } from '@realtime-go/react';

interface Config { devTokens: boolean; fileSharing: boolean; maxFileSize: number }
interface Session { name: string; token: string }

/** A development token for name (POST /dev/token: the example server signs one for anyone). */
async function devToken(name: string): Promise<string> {
  const res = await fetch('/dev/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
  const body = await res.json() as { token?: string; error?: string };
  if (!res.ok || !body.token) throw new Error(body.error ?? `sign-in failed (${res.status})`);
  return body.token;
}

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

export function App() {
  const [config, setConfig] = useState<Config | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  useEffect(() => { fetch('/config.json').then((r) => r.json()).then(setConfig, () => setConfig({ devTokens: false, fileSharing: false, maxFileSize: 0 })); }, []);

  // The first connection uses the sign-in's token; later ones (a reconnect
  // after the server restarted, a refresh before expiry) ask for a fresh one.
  const options = useMemo(() => {
    if (!session) return undefined;
    let first: string | null = session.token;
    return { getToken: async () => { const t = first; first = null; return t ?? devToken(session.name); } };
  }, [session]);

  if (!config) return <p role="status">Loading…</p>;
  if (!session || !options) return <SignIn config={config} onSignedIn={setSession} />;
  return (
    <RealtimeProvider url={wsUrl} options={options} {...(config.fileSharing ? { filesUrl: '/files/' } : {})}>
      <Chat onSignOut={() => setSession(null)} />
    </RealtimeProvider>
  );
}

function SignIn({ config, onSignedIn }: { config: Config; onSignedIn: (s: Session) => void }) {
  const id = useId();
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  if (!config.devTokens) {
    return <main className="signin"><h1>realtime chat</h1><p>This server verifies JWTs (JWT_SECRET is set): sign in through your application.</p></main>;
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      onSignedIn({ name: name.trim(), token: await devToken(name.trim()) });
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <main className="signin">
      <h1>realtime chat</h1>
      <form onSubmit={submit}>
        <label htmlFor={id}>Your name</label>
        <input id={id} value={name} onChange={(e) => setName(e.target.value)} autoFocus required maxLength={32} />
        <button type="submit">Sign in</button>
        <p role="alert" className="error">{error}</p>
      </form>
      <p className="hint">Development sign-in: the server signs a token for any name.</p>
    </main>
  );
}

const roomFromHash = () => /^#\/rooms\/(.+)$/.exec(location.hash)?.[1] ?? null;

/** The room in the URL (#/rooms/<id>): a link to a room opens it. */
function useHashRoom(): [string | null, (id: string | null) => void] {
  const [roomId, setRoomId] = useState(() => { const h = roomFromHash(); return h && decodeURIComponent(h); });
  useEffect(() => {
    const on = () => { const h = roomFromHash(); setRoomId(h && decodeURIComponent(h)); };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const set = useCallback((id: string | null) => { location.hash = id ? `#/rooms/${encodeURIComponent(id)}` : ''; setRoomId(id); }, []);
  return [roomId, set];
}

function Chat({ onSignOut }: { onSignOut: () => void }) {
  const { state, user, emit, isConnected } = useRealtime();
  const [rooms, setRooms] = useState<Room[]>([]);
  const [roomId, setRoomId] = useHashRoom();
  const [newRoom, setNewRoom] = useState('');
  const [error, setError] = useState('');
  const newRoomId = useId();

  const refresh = useCallback(async () => {
    const r = await emit<{ rooms: Room[] }>('list-rooms');
    setRooms(r.rooms);
  }, [emit]);
  useEffect(() => { if (isConnected) refresh().catch(() => {}); }, [isConnected, refresh]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const { room } = await emit<{ room: Room }>('create-room', { name: newRoom.trim() });
      setNewRoom('');
      setError('');
      setRoomId(room.id);
      await refresh();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <div className="app">
      <header className="app-head">
        <h1>realtime chat</h1>
        <span className="me">Signed in as <strong data-testid="me" data-user-id={user?.id}>{user?.username ?? '…'}</strong></span>
        <span className={`conn conn--${state}`} role="status" data-state={state}>{state === 'open' ? 'Connected' : state === 'closed' ? 'Disconnected' : 'Reconnecting…'}</span>
        <MyStatus />
        <NotificationCenter onOpen={(n) => { if (n.roomId) setRoomId(n.roomId); }} />
        <button type="button" onClick={onSignOut}>Sign out</button>
      </header>
      <nav className="rooms" aria-label="Rooms">
        <h2>Rooms <button type="button" onClick={() => void refresh()} aria-label="Refresh the rooms">↻</button></h2>
        <ul>
          {rooms.map((r) => (
            <li key={r.id}>
              <button type="button" aria-current={r.id === roomId ? 'true' : undefined} onClick={() => setRoomId(r.id)} data-room-id={r.id}>
                {r.name} <span className="count">{r.memberCount}</span>
              </button>
            </li>
          ))}
        </ul>
        <form onSubmit={create}>
          <label htmlFor={newRoomId}>New room</label>
          <input id={newRoomId} value={newRoom} onChange={(e) => setNewRoom(e.target.value)} required maxLength={100} />
          <button type="submit" disabled={!isConnected}>Create</button>
          <p role="alert" className="error">{error}</p>
        </form>
      </nav>
      <main className="room">
        {roomId
          ? <ChatRoom key={roomId} roomId={roomId} onLeave={() => { setRoomId(null); void refresh(); }} />
          : <p className="hint">Pick a room, or create one.</p>}
      </main>
    </div>
  );
}

function MyStatus() {
  const id = useId();
  const { user } = useRealtime();
  const { statusOf, setStatus } = usePresence({ userIds: user ? [user.id] : [] });
  const [chosen, setChosen] = useState<Status | 'invisible'>('online');
  const status = user ? statusOf(user.id) : 'offline';
  return (
    <span className="my-status">
      <PresenceIndicator status={chosen === 'invisible' ? 'offline' : status} />
      <label htmlFor={id} className="rt-visually-hidden">Your status</label>
      <select id={id} value={chosen} onChange={(e) => { const s = e.target.value as Status | 'invisible'; setChosen(s); void setStatus(s); }}>
        <option value="online">Online</option>
        <option value="away">Away</option>
        <option value="busy">Busy</option>
        <option value="invisible">Invisible</option>
      </select>
    </span>
  );
}
