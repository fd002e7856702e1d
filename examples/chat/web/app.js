// Browser client for the realtime chat example, speaking protocol realtime.v1
// (see PROTOCOL.md). Plain DOM, no build step. User data is only ever written
// with textContent.
'use strict';

const $ = (id) => document.getElementById(id);
const ACK_TIMEOUT = 10000; // ms to wait for a reply
const TYPING_IDLE = 2000; // ms without a keystroke before isTyping:false

const state = {
  devTokens: false, name: '', token: '', me: null,
  ws: null, nextAck: 1, pending: new Map(), attempt: 0, retryTimer: 0,
  roomId: null, members: new Map(), presence: new Map(), lastSeen: null,
  typingSent: 0, typingTimer: 0, typers: new Map(),
};

// ---- status line ----
function status(text, kind = 'info') { $('status').textContent = text; $('status').dataset.kind = kind; }
const showError = (err) => status(err.code ? `${err.code}: ${err.message}` : String(err.message || err), 'error');
const isOpen = () => state.ws && state.ws.readyState === WebSocket.OPEN;

// ---- connection ----
function connect() {
  clearTimeout(state.retryTimer);
  const url = location.origin.replace(/^http/, 'ws') + '/ws?token=' + encodeURIComponent(state.token);
  const ws = new WebSocket(url, 'realtime.v1');
  state.ws = ws;
  ws.onmessage = (e) => {
    // A server frame may batch several JSON objects separated by newlines.
    for (const line of String(e.data).split('\n')) {
      if (!line.trim()) continue;
      let frame;
      try { frame = JSON.parse(line); } catch { status('bad frame from server', 'error'); continue; }
      if (frame.ack == null) onEvent(frame.event, frame.data || {});
      else if (state.pending.has(frame.ack)) settle(state.pending.get(frame.ack), frame);
    }
  };
  ws.onclose = (e) => {
    if (state.ws !== ws) return;
    state.ws = null;
    for (const p of state.pending.values()) settle(p, { error: { code: 'unavailable', message: 'connection closed' } });
    if (e.code === 4001) return signOut('signed out: unauthorized or token expired');
    if (e.code === 4003) return signOut('forbidden: you may not connect');
    if (!state.me) return signOut('could not connect');
    const delay = Math.min(15000, 500 * 2 ** state.attempt++) * (0.5 + Math.random() / 2);
    status(`disconnected (${e.code}); reconnecting in ${(delay / 1000).toFixed(1)} s…`, 'error');
    state.retryTimer = setTimeout(connect, delay);
  };
}

// settle completes a pending request with a reply {data} or {error}.
function settle(p, reply) {
  state.pending.delete(p.ack);
  clearTimeout(p.timer);
  if (reply.error) p.reject(reply.error); else p.resolve(reply.data || {});
}

// request sends an event with an ack and resolves with the reply's data, or
// rejects with the reply's {code, message}.
function request(event, data) {
  return new Promise((resolve, reject) => {
    if (!isOpen()) return reject({ code: 'unavailable', message: 'not connected' });
    const p = { ack: state.nextAck++, resolve, reject };
    p.timer = setTimeout(() => settle(p, { error: { code: 'unavailable', message: `no reply to ${event}` } }), ACK_TIMEOUT);
    state.pending.set(p.ack, p);
    state.ws.send(JSON.stringify({ event, data, ack: p.ack }));
  });
}

// emit sends an event without an ack; failures come back as `error` pushes.
const emit = (event, data) => isOpen() && state.ws.send(JSON.stringify({ event, data }));

// ---- server events ----
function onEvent(event, d) {
  switch (event) {
    case 'connected':
      Object.assign(state, { me: d.user, attempt: 0 });
      $('me').textContent = d.user.username;
      $('me').dataset.userId = d.user.id;
      showChat(true);
      status('connected');
      refreshRooms();
      if (state.roomId) joinRoom(state.roomId, state.lastSeen && state.lastSeen.id);
      break;
    case 'new-message':
    case 'message-edited':
      if (d.roomId === state.roomId) {
        renderMessage(d);
        if (d.sender) setTyping(d.sender.id, d.sender.username, false);
      }
      break;
    case 'message-deleted': {
      const li = findMessage(d.id);
      if (li) renderMessage({ ...li.message, content: '', deletedAt: d.deletedAt });
      break;
    }
    case 'user-typing':
      if (d.roomId === state.roomId && d.userId !== state.me.id) setTyping(d.userId, d.username, d.isTyping);
      break;
    case 'user-joined':
      if (d.roomId === state.roomId && !state.members.has(d.user.id)) {
        state.members.set(d.user.id, { userId: d.user.id, username: d.user.username, role: 'member' });
        if (!state.presence.has(d.user.id)) state.presence.set(d.user.id, 'online');
        renderMembers();
      }
      break;
    case 'user-left':
      if (d.roomId === state.roomId && state.members.delete(d.user.id)) renderMembers();
      if (d.roomId === state.roomId) setTyping(d.user.id, d.user.username, false);
      break;
    case 'member-updated':
      if (d.roomId === state.roomId) { state.members.set(d.member.userId, d.member); renderMembers(); }
      break;
    case 'presence-changed':
      state.presence.set(d.userId, d.status);
      renderMembers();
      break;
    case 'room-updated':
      if (d.room.id === state.roomId) $('room-title').textContent = d.room.name;
      refreshRooms();
      break;
    case 'room-deleted':
    case 'kicked':
      if (d.roomId === state.roomId) {
        toLobby();
        status(event === 'kicked' ? `removed from the room${d.reason ? ': ' + d.reason : ''}` : 'the room was deleted', 'error');
      }
      refreshRooms();
      break;
    case 'token-expiring':
      if (state.devTokens) fetchDevToken().then(() => request('auth', { token: state.token })).catch(showError);
      break;
    case 'error': showError(d); break;
  }
}

// ---- sign-in ----
async function fetchDevToken() {
  const body = JSON.stringify({ name: state.name });
  const res = await fetch('/dev/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  if (!res.ok) throw new Error(`dev token: HTTP ${res.status}`);
  state.token = (await res.json()).token;
}

async function signIn(e) {
  e.preventDefault();
  if (state.ws) return; // already connecting
  try {
    if (state.devTokens) {
      state.name = $('name').value.trim();
      if (!state.name) return;
      await fetchDevToken();
    } else {
      state.token = $('token').value.trim();
      if (!state.token) return;
    }
    status('connecting…');
    connect();
  } catch (err) { showError(err); }
}

function signOut(reason) {
  const ws = state.ws;
  Object.assign(state, { ws: null, me: null, token: '', attempt: 0 });
  if (ws) ws.close(1000);
  clearTimeout(state.retryTimer);
  toLobby();
  showChat(false);
  $('me').textContent = '';
  status(reason, 'error');
}

// ---- rooms ----
async function refreshRooms() {
  try {
    const { rooms } = await request('list-rooms', {});
    $('room-list').replaceChildren(...rooms.map((room) => {
      const li = el('li');
      li.dataset.roomId = room.id;
      li.classList.toggle('current', room.id === state.roomId);
      const join = Object.assign(el('button', 'join', 'Join'), { type: 'button', onclick: () => joinRoom(room.id) });
      join.dataset.testid = 'join';
      li.append(el('span', 'room-name', room.name), el('span', 'room-meta', `${room.type} · ${room.memberCount}`), join);
      return li;
    }));
  } catch (err) { showError(err); }
}

async function createRoom(e) {
  e.preventDefault();
  const name = $('room-name').value.trim();
  if (!name) return;
  try {
    const { room } = await request('create-room', { name, type: $('room-type').value });
    $('room-name').value = '';
    await joinRoom(room.id);
    refreshRooms();
  } catch (err) { showError(err); }
}

// joinRoom subscribes to a room; since (a message id) asks the server to
// replay what this client missed while disconnected.
async function joinRoom(roomId, since) {
  if (state.roomId && state.roomId !== roomId) await leaveRoom();
  const fresh = state.roomId !== roomId;
  state.roomId = roomId;
  if (fresh) { resetRoom(); showRoom(true); }
  try {
    const ack = await request('join-room', since ? { roomId, since } : { roomId });
    if (state.roomId !== roomId) return; // left or switched meanwhile
    $('room-title').textContent = ack.room.name;
    $('room-view').dataset.roomId = roomId;
    state.members = new Map(ack.members.map((m) => [m.userId, m]));
    const presence = Array.isArray(ack.presence) ? ack.presence : Object.values(ack.presence || {});
    state.presence = new Map(presence.map((p) => [p.userId, p.status]));
    renderMembers();
    markCurrent();
    // Without a complete replay, (re)load the latest history; renderMessage dedupes.
    if (!since || !ack.recovered) {
      const { messages } = await request('get-history', { roomId, limit: 50 });
      if (state.roomId === roomId) messages.forEach(renderMessage);
    }
    status(`joined ${ack.room.name}`);
  } catch (err) {
    if (fresh && state.roomId === roomId) toLobby();
    showError(err);
  }
}

async function leaveRoom() {
  const roomId = state.roomId;
  stopTyping();
  toLobby();
  try { await request('leave-room', { roomId }); } catch (err) { showError(err); }
  refreshRooms();
}

function resetRoom() {
  $('messages').replaceChildren();
  $('members').replaceChildren();
  state.members.clear();
  state.typers.forEach((t) => clearTimeout(t.timer));
  state.typers.clear();
  state.lastSeen = null;
  renderTyping();
}

function showChat(on) { $('chat-view').hidden = !on; $('signin-view').hidden = on; }

function showRoom(on) {
  $('room-view').hidden = $('member-panel').hidden = !on;
  $('no-room').hidden = on;
}

function toLobby() {
  state.roomId = null;
  resetRoom();
  showRoom(false);
  delete $('room-view').dataset.roomId;
  markCurrent();
}

function markCurrent() {
  for (const li of $('room-list').children) li.classList.toggle('current', li.dataset.roomId === state.roomId);
}

// ---- messages ----
const findMessage = (id) => $('messages').querySelector(`[data-message-id="${CSS.escape(id)}"]`);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = text;
  return node;
}

// renderMessage shows m once (keyed by id), in seq order; a second call with
// the same id updates it in place (edits, deletes, the echo of our own send).
function renderMessage(m) {
  const list = $('messages');
  let li = findMessage(m.id);
  if (!li) {
    li = el('li', 'message');
    li.dataset.messageId = m.id;
    li.dataset.seq = m.seq;
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const after = [...list.children].find((c) => Number(c.dataset.seq) > m.seq);
    list.insertBefore(li, after || null);
    if (stick || m.senderId === state.me.id) list.scrollTop = list.scrollHeight;
    if (!state.lastSeen || m.seq >= state.lastSeen.seq) state.lastSeen = { id: m.id, seq: m.seq };
  }
  li.message = m;
  li.classList.toggle('mine', m.senderId === state.me.id);
  li.classList.toggle('deleted', !!m.deletedAt);
  const time = new Date(m.createdAt);
  li.replaceChildren(
    el('span', 'sender', m.sender ? m.sender.username : m.senderId),
    el('time', 'time', isNaN(time) ? '' : time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })),
    el('div', 'content', m.deletedAt ? '(deleted)' : m.content + (m.editedAt ? ' (edited)' : '')),
  );
}

async function sendMessage(e) {
  e.preventDefault();
  const input = $('message-input');
  const content = input.value.trim();
  if (!content || !state.roomId) return;
  const roomId = state.roomId;
  const clientMsgId = crypto.randomUUID();
  stopTyping();
  input.value = '';
  try {
    const ack = await request('message', { roomId, content, clientMsgId });
    // Our own new-message may come before or after this ack: show the
    // message now, renderMessage dedupes by id.
    if (state.roomId === roomId) renderMessage({ id: ack.id, seq: ack.seq, roomId, senderId: state.me.id,
      sender: state.me, content, type: 'text', createdAt: ack.timestamp, clientMsgId });
  } catch (err) {
    if (!input.value) input.value = content;
    showError(err);
  }
}

// ---- typing ----
function onInput() {
  if (!state.roomId) return;
  // Repeat isTyping:true now and then: the server times typing out after 3 s.
  if (Date.now() - state.typingSent > 1500) {
    state.typingSent = Date.now();
    emit('typing', { roomId: state.roomId, isTyping: true });
  }
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(stopTyping, TYPING_IDLE);
}

function stopTyping() {
  clearTimeout(state.typingTimer);
  if (state.typingSent && state.roomId) emit('typing', { roomId: state.roomId, isTyping: false });
  state.typingSent = 0;
}

function setTyping(userId, username, isTyping) {
  clearTimeout(state.typers.get(userId)?.timer);
  state.typers.delete(userId);
  // Forget a typer we stop hearing from, in case isTyping:false is lost.
  if (isTyping) state.typers.set(userId, { username, timer: setTimeout(() => setTyping(userId, username, false), 6000) });
  renderTyping();
}

function renderTyping() {
  const names = [...state.typers.values()].map((t) => t.username);
  $('typing').textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…`
    : names.length <= 3 ? `${names.join(', ')} are typing…` : 'several people are typing…';
}

// ---- members ----
function renderMembers() {
  const members = [...state.members.values()].sort((a, b) => String(a.username).localeCompare(b.username));
  $('members').replaceChildren(...members.map((m) => {
    const li = el('li');
    li.dataset.userId = m.userId;
    li.dataset.presence = state.presence.get(m.userId) || 'unknown';
    li.append(el('span', 'name', m.username + (m.userId === state.me.id ? ' (you)' : '')));
    if (m.role === 'admin') li.append(el('span', 'badge', 'admin'));
    if (m.isMuted) li.append(el('span', 'badge', 'muted'));
    return li;
  }));
}

// ---- start ----
async function init() {
  try {
    state.devTokens = !!(await (await fetch('/config.json')).json()).devTokens;
  } catch { /* no config: paste a token */ }
  $('dev-label').hidden = $('name-field').hidden = !state.devTokens;
  $('token-field').hidden = state.devTokens;
  (state.devTokens ? $('name') : $('token')).focus();
  $('signin-form').onsubmit = signIn;
  $('create-form').onsubmit = createRoom;
  $('send-form').onsubmit = sendMessage;
  $('message-input').oninput = onInput;
  $('leave').onclick = leaveRoom;
  $('refresh-rooms').onclick = refreshRooms;
  toLobby();
}

init();
