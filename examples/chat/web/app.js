// Browser UI of the realtime chat example. The protocol (framing, acks,
// reconnect with resume, token refresh, the outbox, connection state) is
// @realtime-go/client's: realtime-client.js, generated from clients/ (npm run
// build:chat). This file is UI only: plain DOM, no build step. User data is
// only ever written with textContent.
import { connect } from './realtime-client.js';

const $ = (id) => document.getElementById(id);
const TYPING_IDLE = 2000; // ms without a keystroke before isTyping:false
const SHOWN = { online: 'online', away: 'away', busy: 'busy' }; // anything else shows as offline
// The pushes the UI follows (PROTOCOL.md section 4), and the client's own.
const EVENTS = ['connected', 'new-message', 'message-edited', 'message-deleted', 'user-typing', 'user-joined',
  'user-left', 'member-updated', 'presence-changed', 'room-updated', 'room-deleted', 'kicked', 'notification',
  'notifications-read', 'error', 'resumed', 'resume-failed', 'disconnected'];

const state = {
  devTokens: false, fileSharing: false, maxFileSize: 0, name: '', token: '', me: null,
  rt: null, // the @realtime-go/client Client while signed in
  roomId: null, members: new Map(),
  presence: new Map(), // userId → Presence
  presenceTouched: new Set(), // users whose presence a push set since get-presence was asked
  presenceSent: null, // the status last sent with presence-update
  msgs: new Map(), // id → Message of the current room, from the list, history and threads
  replyTo: null, // id of the message the main input replies to
  thread: null, // id of the message whose thread is open
  editing: null, // {id, where, form}: the inline editor
  typingSent: 0, typingTimer: 0, typers: new Map(),
  unread: 0, // the user's unread notifications
};

// ---- status line ----
function status(text, kind = 'info') { $('status').textContent = text; $('status').dataset.kind = kind; }
const showError = (err) => status(err.code ? `${err.code}: ${err.message}` : String(err.message || err), 'error');

// ---- connection ----
// start connects with the token fetched or pasted at sign-in. With dev
// tokens the client asks for a fresh one on each reconnect and when the
// hub warns that the current one expires.
function start() {
  const url = location.origin.replace(/^http/, 'ws') + '/ws';
  let fetched = true; // sign-in fetched the first connection's token
  const getToken = async () => {
    if (!fetched) await fetchDevToken();
    fetched = false;
    return state.token;
  };
  const rt = connect(url, state.devTokens ? { getToken } : { token: state.token });
  state.rt = rt;
  for (const event of EVENTS) rt.on(event, (d) => { if (state.rt === rt) onEvent(event, d); });
}

// request sends an event and resolves with its ack's data, or rejects with
// a RealtimeError carrying the hub's code.
const request = (event, data) => state.rt ? state.rt.emit(event, data)
  : Promise.reject({ code: 'unavailable', message: 'not connected' });

// ---- server events ----
function onEvent(event, d) {
  switch (event) {
    case 'connected':
      Object.assign(state, { me: d.user, presenceSent: null });
      $('bell-box').hidden = d.unreadNotifications == null; // the server keeps none
      setUnread(d.unreadNotifications ?? 0);
      if (!$('notifications').hidden) loadNotifications();
      $('me').textContent = d.user.username;
      $('me').dataset.userId = d.user.id;
      showChat(true);
      status('connected');
      refreshRooms();
      // After a reconnect the client joins the room again by itself (see
      // resumed); restore a status other than the default.
      if ($('presence-status').value !== 'online' || $('custom-status').value.trim()) updatePresence();
      break;
    case 'new-message':
      if (d.roomId === state.roomId) {
        renderMessage(d, true);
        if (d.sender) setTyping(d.sender.id, d.sender.username, false);
      }
      break;
    case 'message-edited':
      if (d.roomId === state.roomId) renderMessage(d, false);
      break;
    case 'message-deleted': {
      const m = state.msgs.get(d.id);
      if (m) renderMessage({ ...m, content: '', deletedAt: d.deletedAt }, false);
      break;
    }
    case 'user-typing':
      if (d.roomId === state.roomId && d.userId !== state.me.id) setTyping(d.userId, d.username, d.isTyping);
      break;
    case 'user-joined':
      if (d.roomId === state.roomId && !state.members.has(d.user.id)) {
        state.members.set(d.user.id, { userId: d.user.id, username: d.user.username, role: 'member' });
        if (SHOWN[state.presence.get(d.user.id)?.status] == null) {
          state.presence.set(d.user.id, { userId: d.user.id, status: 'online' });
          loadPresence(d.roomId, [d.user.id]); // the newcomer may be away or busy
        }
        renderMembers();
      }
      break;
    case 'user-left':
      if (d.roomId === state.roomId && state.members.delete(d.user.id)) renderMembers();
      if (d.roomId === state.roomId) setTyping(d.user.id, d.user.username, false);
      break;
    case 'member-updated':
      if (d.roomId === state.roomId) {
        state.members.set(d.member.userId, d.member);
        renderMembers();
        if (d.member.userId === state.me.id) refreshMessages(); // admin actions may change
      }
      break;
    case 'presence-changed':
      if (d.roomId && d.roomId !== state.roomId) break; // the same change comes for our room too
      state.presenceTouched.add(d.userId);
      state.presence.set(d.userId, d);
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
    case 'notification':
      setUnread(state.unread + 1);
      if (!$('notifications').hidden) $('notification-list').prepend(notificationItem(d));
      $('no-notifications').hidden = true;
      break;
    case 'notifications-read': // another tab of ours read some
      setUnread(d.unread);
      if (!$('notifications').hidden) loadNotifications();
      break;
    case 'resumed': // joined again after a reconnect, with what was missed
      if (d.roomId === state.roomId) showJoined(d.roomId, d, !d.recovered).catch(showError);
      break;
    case 'resume-failed':
      if (d.roomId === state.roomId) {
        toLobby();
        showError(d.error);
      }
      refreshRooms();
      break;
    case 'disconnected':
      if (d.retryIn == null) {
        return signOut(d.code === 4001 ? 'signed out: unauthorized or token expired'
          : d.code === 4003 ? 'forbidden: you may not connect' : `disconnected (${d.code}${d.reason ? ': ' + d.reason : ''})`);
      }
      if (!state.me && d.code !== 4001) return signOut('could not connect'); // 4001: retried with a fresh token
      status(`disconnected (${d.code}); reconnecting in ${(d.retryIn / 1000).toFixed(1)} s…`, 'error');
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
  if (state.rt) return; // already connecting
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
    start();
  } catch (err) { showError(err); }
}

function signOut(reason) {
  const rt = state.rt;
  Object.assign(state, { rt: null, me: null, token: '' });
  rt?.close();
  toLobby();
  showChat(false);
  $('bell-box').hidden = $('notifications').hidden = true;
  $('me').textContent = '';
  $('presence-status').value = 'online';
  $('custom-status').value = '';
  delete $('me').dataset.presence;
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
      const join = button('Join', 'join', () => joinRoom(room.id));
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

// joinRoom joins a room and shows it; the client follows it from then on
// (after a reconnect it joins again by itself, see resumed).
async function joinRoom(roomId) {
  if (state.roomId && state.roomId !== roomId) await leaveRoom();
  const fresh = state.roomId !== roomId;
  state.roomId = roomId;
  if (fresh) { resetRoom(); showRoom(true); }
  try {
    const ack = await state.rt.join(roomId);
    if (state.roomId === roomId) await showJoined(roomId, ack, true);
  } catch (err) {
    if (fresh && state.roomId === roomId) toLobby();
    showError(err);
  }
}

// showJoined shows the room of a join-room ack: its members (paging through
// a large room's), their presence and, with history, its latest messages.
async function showJoined(roomId, ack, history) {
  $('room-title').textContent = ack.room.name;
  $('room-view').dataset.roomId = roomId;
  state.members = new Map(ack.members.map((m) => [m.userId, m]));
  // The ack lists who is online; everyone else is offline until
  // get-presence tells when they were last seen.
  state.presence = new Map((ack.presence || []).map((p) => [p.userId, p]));
  // A large room's ack lists only its first members: page through the rest.
  let more = ack.moreMembers, after = ack.members.at(-1)?.userId;
  while (more && state.roomId === roomId) {
    const page = await request('list-members', { roomId, after, limit: 500 });
    page.members.forEach((m) => state.members.set(m.userId, m));
    page.presence.forEach((p) => state.presence.set(p.userId, p));
    more = page.hasMore && page.members.length > 0;
    after = page.members.at(-1)?.userId;
  }
  if (state.roomId !== roomId) return; // left or switched meanwhile
  renderMembers();
  markCurrent();
  loadPresence(roomId);
  // Without a complete replay, (re)load the latest history; renderMessage dedupes.
  if (history) {
    const { messages } = await request('get-history', { roomId, limit: 50 });
    if (state.roomId === roomId) messages.forEach((m) => renderMessage(m, true));
  }
  refreshMessages(); // our role decides the delete actions
  if (state.thread) openThread(state.thread); // fetch replies we may have missed
  status(`joined ${ack.room.name}`);
}

async function leaveRoom() {
  const roomId = state.roomId;
  stopTyping();
  toLobby();
  try { await state.rt.leave(roomId); } catch (err) { showError(err); }
  refreshRooms();
}

function resetRoom() {
  closeThread();
  $('messages').replaceChildren();
  $('members').replaceChildren();
  state.members.clear();
  state.presence.clear();
  state.msgs.clear();
  state.editing = null;
  setReplyTo(null);
  state.typers.forEach((t) => clearTimeout(t.timer));
  state.typers.clear();
  renderTyping();
}

function showChat(on) { $('chat-view').hidden = $('presence-form').hidden = !on; $('signin-view').hidden = on; }

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

// ---- notifications ----
function setUnread(n) {
  state.unread = n;
  $('unread').textContent = String(n);
  $('unread').dataset.count = String(n);
  $('bell').setAttribute('aria-label', `Notifications, ${n} unread`);
}

function toggleNotifications() {
  const open = $('notifications').hidden;
  $('notifications').hidden = !open;
  $('bell').setAttribute('aria-expanded', String(open));
  if (open) loadNotifications();
}

async function loadNotifications() {
  try {
    const page = await request('get-notifications', { limit: 20 });
    setUnread(page.unread);
    $('notification-list').replaceChildren(...page.notifications.map(notificationItem));
    $('no-notifications').hidden = page.notifications.length > 0;
  } catch (err) { showError(err); }
}

// notificationItem renders one notification; opening it marks it read and
// goes to its room, at its message.
function notificationItem(n) {
  const li = el('li', n.readAt ? '' : 'unread');
  li.dataset.testid = 'notification';
  li.dataset.notificationId = n.id;
  li.tabIndex = 0;
  li.append(el('span', 'title', n.title));
  if (n.body) li.append(el('span', 'body', n.body));
  li.append(el('span', 'when', when(n.createdAt)));
  const open = async () => {
    try {
      if (!n.readAt) {
        const { unread } = await request('mark-notifications-read', { ids: [n.id] });
        n.readAt = new Date().toISOString();
        li.classList.remove('unread');
        setUnread(unread);
      }
      if (n.roomId) {
        $('notifications').hidden = true;
        $('bell').setAttribute('aria-expanded', 'false');
        await joinRoom(n.roomId);
        if (n.messageId) document.querySelector(`#messages li[data-message-id="${CSS.escape(n.messageId)}"]`)?.scrollIntoView({ block: 'center' });
      }
    } catch (err) { showError(err); }
  };
  li.onclick = open;
  li.onkeydown = (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } };
  return li;
}

async function readAll() {
  const first = $('notification-list').firstElementChild;
  if (!first) return;
  try {
    const { unread } = await request('mark-notifications-read', { upTo: first.dataset.notificationId });
    setUnread(unread);
    loadNotifications();
  } catch (err) { showError(err); }
}

// ---- DOM helpers ----
function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = text;
  return node;
}

function button(text, cls, onclick) {
  return Object.assign(el('button', cls, text), { type: 'button', onclick });
}

// when formats a time: the hour today, the date and hour before.
function when(iso) {
  const t = new Date(iso);
  if (isNaN(t)) return '';
  const hm = { hour: '2-digit', minute: '2-digit' };
  return t.toDateString() === new Date().toDateString() ? t.toLocaleTimeString([], hm)
    : t.toLocaleString([], { month: 'short', day: 'numeric', ...hm });
}

function bytes(n) {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`;
}

const senderName = (m) => (m.sender ? m.sender.username : m.senderId);

// excerpt is the first words of a message, for quotes.
function excerpt(m) {
  if (m.deletedAt) return 'message deleted';
  const text = (m.type === 'image' || m.type === 'file' ? '📎 ' : '') + m.content.replace(/\s+/g, ' ').trim();
  const words = text.split(' ').slice(0, 8).join(' ');
  return words.length > 60 ? words.slice(0, 60) + '…' : words + (words.length < text.length ? '…' : '');
}

const isAdmin = () => state.members.get(state.me.id)?.role === 'admin';
const replyCount = (id) => [...state.msgs.values()].filter((m) => m.replyToId === id && !m.deletedAt).length;
const fileURL = (id) => `/files/${encodeURIComponent(id)}?token=${encodeURIComponent(state.token)}`;

// ---- messages ----
// A message may be shown in three places: the room's list ('main'), the
// thread panel's list of replies ('thread') and the thread panel's parent
// ('parent'). renderMessage records m and updates every place that shows
// it; toMain adds it to the room's list if it is not there yet (live and
// history messages; not replies loaded for a thread, which may be older
// than the history shown).
function renderMessage(m, toMain) {
  state.msgs.set(m.id, m);
  if (toMain || findIn($('messages'), m.id)) place($('messages'), m, 'main');
  if (state.thread && m.replyToId === state.thread) place($('thread-messages'), m, 'thread');
  if (state.thread === m.id) fill($('thread-parent'), m, 'parent');
  // Replies quote m; m's parent counts its replies.
  for (const li of document.querySelectorAll(`.message[data-reply-to="${CSS.escape(m.id)}"]`)) refill(li);
  if (m.replyToId) for (const li of document.querySelectorAll(`.message[data-message-id="${CSS.escape(m.replyToId)}"]`)) refill(li);
}

const findIn = (list, id) => list.querySelector(`:scope > [data-message-id="${CSS.escape(id)}"]`);

// place shows m in list once (keyed by id), in seq order.
function place(list, m, where) {
  let li = findIn(list, m.id);
  if (!li) {
    li = el('li', 'message');
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const after = [...list.children].find((c) => Number(c.dataset.seq) > m.seq);
    list.insertBefore(li, after || null);
    fill(li, m, where);
    if (stick || m.senderId === state.me.id) list.scrollTop = list.scrollHeight;
    return;
  }
  fill(li, m, where);
}

function refill(node) {
  const m = state.msgs.get(node.dataset.messageId);
  if (m) fill(node, m, node.dataset.where);
}

// refreshMessages redraws every message, e.g. when our role changed.
function refreshMessages() {
  document.querySelectorAll('.message[data-message-id]').forEach(refill);
}

// fill draws message m into node.
function fill(node, m, where) {
  node.dataset.messageId = m.id;
  node.dataset.seq = m.seq;
  node.dataset.where = where;
  if (m.replyToId) node.dataset.replyTo = m.replyToId; else delete node.dataset.replyTo;
  node.classList.add('message');
  node.classList.toggle('mine', m.senderId === state.me.id);
  node.classList.toggle('deleted', !!m.deletedAt);
  const parts = [];
  if (m.replyToId && where === 'main') parts.push(quote(m.replyToId));
  const meta = el('div', 'meta');
  meta.append(el('span', 'sender', senderName(m)), el('time', 'time', when(m.createdAt)));
  if (m.editedAt && !m.deletedAt) meta.append(el('span', 'edited', '(edited)'));
  parts.push(meta);
  const ed = state.editing;
  parts.push(ed && ed.id === m.id && ed.where === where && !m.deletedAt ? ed.form : body(m));
  const n = where === 'main' ? replyCount(m.id) : 0;
  if (n) parts.push(button(`${n} ${n === 1 ? 'reply' : 'replies'}`, 'replies', () => openThread(m.id)));
  parts.push(actions(m, where));
  node.replaceChildren(...parts);
}

// quote is the reference a reply shows to its parent; it opens the thread.
function quote(parentId) {
  const p = state.msgs.get(parentId);
  const q = button(p ? `${senderName(p)}: ${excerpt(p)}` : 'reply to an earlier message', 'quote', () => openThread(parentId));
  q.title = 'Open the thread';
  return q;
}

function body(m) {
  const content = el('div', 'content');
  const file = m.metadata && m.metadata.file;
  if (m.deletedAt) {
    content.textContent = 'message deleted';
  } else if ((m.type === 'image' || m.type === 'file') && file && typeof file.id === 'string') {
    const link = el('a', m.type === 'file' ? 'attachment' : 'image-link');
    link.href = fileURL(file.id);
    // The token in the URL may have been refreshed since the message was drawn.
    link.onclick = () => { link.href = fileURL(file.id); };
    if (m.type === 'image') {
      link.target = '_blank';
      link.rel = 'noopener';
      const img = el('img', 'attachment');
      img.alt = img.title = m.content;
      img.src = fileURL(file.id);
      img.onload = () => keepAtBottom(img);
      link.append(img);
      content.append(link);
    } else {
      link.download = m.content;
      link.textContent = `📎 ${m.content}`;
      content.append(link);
      if (typeof file.size === 'number') content.append(el('span', 'size', bytes(file.size)));
    }
  } else {
    content.textContent = m.content;
  }
  return content;
}

// keepAtBottom scrolls a list back to its end when an image that just loaded
// pushed the end out of view.
function keepAtBottom(img) {
  const list = img.closest('ol');
  if (list && list.scrollHeight - list.scrollTop - list.clientHeight < img.height + 60) list.scrollTop = list.scrollHeight;
}

function actions(m, where) {
  const box = el('div', 'actions');
  const mine = m.senderId === state.me.id;
  if (!m.deletedAt && where === 'main') box.append(button('reply', 'reply', () => setReplyTo(m.id)));
  if (where === 'main' && !m.deletedAt) box.append(button('thread', 'thread', () => openThread(m.id)));
  if (!m.deletedAt && mine && m.type !== 'image' && m.type !== 'file') box.append(button('edit', 'edit', () => startEdit(m.id, where)));
  if (!m.deletedAt && (mine || isAdmin())) box.append(deleteButton(m.id));
  return box;
}

// deleteButton asks for a second click within 3 s before deleting.
function deleteButton(id) {
  const b = button('delete', 'delete', () => {
    if (b.dataset.armed) return deleteMessage(id);
    b.dataset.armed = 'true';
    b.textContent = 'delete?';
    b.title = 'Click again to delete';
    setTimeout(() => { delete b.dataset.armed; b.textContent = 'delete'; }, 3000);
  });
  return b;
}

async function deleteMessage(id) {
  try {
    await request('delete-message', { messageId: id });
    const m = state.msgs.get(id);
    if (m && !m.deletedAt) renderMessage({ ...m, content: '', deletedAt: new Date().toISOString() }, false);
  } catch (err) { showError(err); }
}

// ---- editing ----
function startEdit(id, where) {
  const m = state.msgs.get(id);
  if (!m) return;
  cancelEdit();
  const form = el('form', 'editor');
  const input = Object.assign(el('input'), { id: 'edit-input', value: m.content, maxLength: 4000, autocomplete: 'off' });
  input.setAttribute('aria-label', 'Edit message');
  const save = Object.assign(el('button', null, 'Save'), { id: 'edit-save', type: 'submit' });
  const cancel = button('Cancel', 'cancel', cancelEdit);
  cancel.id = 'edit-cancel';
  form.append(input, save, cancel);
  form.onsubmit = (e) => { e.preventDefault(); saveEdit(); };
  input.onkeydown = (e) => { if (e.key === 'Escape') cancelEdit(); };
  state.editing = { id, where, form };
  refreshMessages();
  input.focus();
}

function cancelEdit() {
  if (!state.editing) return;
  state.editing = null;
  refreshMessages();
}

async function saveEdit() {
  const { id, form } = state.editing;
  const content = form.querySelector('input').value.trim();
  if (content === state.msgs.get(id)?.content) return cancelEdit();
  if (!content) return status('a message cannot be empty: delete it instead', 'error');
  try {
    const { message } = await request('edit-message', { messageId: id, content });
    if (state.editing?.id === id) cancelEdit();
    renderMessage(message, false);
  } catch (err) { showError(err); }
}

// ---- sending ----
// send sends a message to a room and shows it at once: our own new-message
// may come before or after the ack, renderMessage dedupes by id. Offline,
// the client keeps it and sends it once reconnected.
async function send(roomId, fields) {
  if (state.rt.state !== 'open') status('offline: the message goes out once reconnected', 'error');
  const ack = await state.rt.send({ roomId, ...fields });
  if (state.roomId === roomId && !state.msgs.has(ack.id)) {
    renderMessage({ type: 'text', ...fields, id: ack.id, seq: ack.seq, roomId, senderId: state.me.id,
      sender: state.me, createdAt: ack.timestamp, clientMsgId: ack.clientMsgId }, true);
  }
}

// sendFrom sends the text of input, keeping it there if sending fails.
async function sendFrom(input, fields) {
  const content = input.value.trim();
  if (!content || !state.roomId) return false;
  input.value = '';
  try {
    await send(state.roomId, { content, ...fields });
    return true;
  } catch (err) {
    if (!input.value) input.value = content;
    showError(err);
    return false;
  }
}

async function sendMessage(e) {
  e.preventDefault();
  stopTyping();
  const replyToId = state.replyTo;
  if (await sendFrom($('message-input'), replyToId ? { replyToId } : {}) && state.replyTo === replyToId) setReplyTo(null);
}

function setReplyTo(id) {
  const m = id && state.msgs.get(id);
  state.replyTo = m ? id : null;
  $('reply-bar').hidden = !m;
  $('reply-preview').textContent = m ? `Replying to ${senderName(m)}: ${excerpt(m)}` : '';
  if (m) $('message-input').focus();
}

// ---- threads ----
async function openThread(id) {
  if (state.thread !== id) {
    closeThread();
    state.thread = id;
    $('thread').hidden = false;
    $('thread').dataset.messageId = id;
    $('chat-view').classList.add('thread-open');
    const parent = state.msgs.get(id);
    if (parent) fill($('thread-parent'), parent, 'parent');
    else $('thread-parent').textContent = 'The original message is not loaded.';
    for (const m of state.msgs.values()) if (m.replyToId === id) place($('thread-messages'), m, 'thread');
  }
  try {
    // Replies come oldest first, a page at a time.
    let after;
    for (let page = 0; page < 10; page++) {
      const { messages, hasMore } = await request('get-thread', after ? { messageId: id, after, limit: 200 } : { messageId: id, limit: 200 });
      if (state.thread !== id) return;
      messages.forEach((m) => renderMessage(m, false));
      if (!hasMore || !messages.length) break;
      after = messages[messages.length - 1].id;
    }
  } catch (err) { showError(err); }
}

function closeThread() {
  if (state.editing && state.editing.where !== 'main') state.editing = null;
  state.thread = null;
  $('thread').hidden = true;
  delete $('thread').dataset.messageId;
  $('chat-view').classList.remove('thread-open');
  $('thread-parent').replaceWith(Object.assign(el('div'), { id: 'thread-parent' }));
  $('thread-messages').replaceChildren();
}

async function sendThreadReply(e) {
  e.preventDefault();
  if (state.thread) await sendFrom($('thread-input'), { replyToId: state.thread });
}

// ---- files ----
async function upload(e) {
  e.preventDefault();
  const input = $('file-input');
  const file = input.files[0];
  const roomId = state.roomId;
  if (!file || !roomId) return;
  if (state.maxFileSize && file.size > state.maxFileSize) {
    return showError({ code: 'too_large', message: `${file.name} is ${bytes(file.size)}; the limit is ${bytes(state.maxFileSize)}` });
  }
  const form = new FormData();
  form.append('roomId', roomId); // the server wants roomId before file
  form.append('file', file);
  $('upload').disabled = true;
  status(`uploading ${file.name}…`);
  try {
    const res = await fetch('/files/', { method: 'POST', headers: { Authorization: 'Bearer ' + state.token }, body: form });
    const reply = await res.json().catch(() => ({}));
    if (!res.ok) throw reply.error || { code: `HTTP ${res.status}`, message: 'upload failed' };
    const type = String(reply.contentType).startsWith('image/') ? 'image' : 'file';
    await send(roomId, { type, content: reply.name, metadata: { file: reply } });
    input.value = '';
    status(`shared ${reply.name}`);
  } catch (err) {
    showError(err);
  } finally {
    $('upload').disabled = !input.files.length;
  }
}

// ---- typing ----
function onInput() {
  if (!state.roomId) return;
  // Repeat isTyping:true now and then: the server times typing out after 3 s.
  if (Date.now() - state.typingSent > 1500) {
    state.typingSent = Date.now();
    typing(true);
  }
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(stopTyping, TYPING_IDLE);
}

function stopTyping() {
  clearTimeout(state.typingTimer);
  if (state.typingSent && state.roomId) typing(false);
  state.typingSent = 0;
}

// typing tells the room; offline, or without a timely reply, it is simply
// not said (the hub times typing out by itself).
function typing(isTyping) {
  request('typing', { roomId: state.roomId, isTyping }).catch((err) => {
    if (err.code !== 'unavailable' && err.code !== 'timeout') showError(err);
  });
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

// ---- presence ----
async function updatePresence() {
  const status = $('presence-status').value;
  const customStatus = $('custom-status').value.trim();
  const key = `${status}\n${customStatus}`;
  if (key === state.presenceSent) return;
  state.presenceSent = key;
  try {
    const { presence } = await request('presence-update', { status, customStatus });
    $('me').dataset.presence = status;
    state.presence.set(presence.userId, presence);
    renderMembers();
  } catch (err) {
    state.presenceSent = null;
    showError(err);
  }
}

// loadPresence asks for the presence of a room's members (or of some of
// them), with last-seen times for those offline. A push that arrived since
// the question wins over the answer.
async function loadPresence(roomId, userIds) {
  state.presenceTouched.clear();
  try {
    const { presence } = await request('get-presence', userIds ? { userIds } : { roomId });
    if (state.roomId !== roomId) return;
    for (const p of presence) if (!state.presenceTouched.has(p.userId)) state.presence.set(p.userId, p);
    renderMembers();
  } catch (err) { showError(err); }
}

// ---- members ----
function renderMembers() {
  const members = [...state.members.values()].sort((a, b) => String(a.username).localeCompare(b.username));
  $('members').replaceChildren(...members.map((m) => {
    const p = state.presence.get(m.userId);
    const shown = SHOWN[p?.status] || 'offline';
    const li = el('li');
    li.dataset.userId = m.userId;
    li.dataset.presence = shown;
    li.title = shown;
    li.append(el('span', 'name', m.username + (m.userId === state.me.id ? ' (you)' : '')));
    if (m.role === 'admin') li.append(el('span', 'badge', 'admin'));
    if (m.isMuted) li.append(el('span', 'badge', 'muted'));
    let note = '';
    if (m.userId === state.me.id && $('presence-status').value === 'invisible') note = 'invisible: others see you offline';
    else if (shown === 'offline') note = p?.lastSeenAt ? `last seen ${when(p.lastSeenAt)}` : '';
    else note = [shown === 'online' ? '' : shown, p.customStatus].filter(Boolean).join(' · ');
    if (note) li.append(el('span', 'presence-note', note));
    return li;
  }));
}

// ---- start ----
async function init() {
  try {
    const cfg = await (await fetch('/config.json')).json();
    state.devTokens = !!cfg.devTokens;
    state.fileSharing = !!cfg.fileSharing;
    state.maxFileSize = Number(cfg.maxFileSize) || 0;
  } catch { /* no config: paste a token, no file sharing */ }
  $('dev-label').hidden = $('name-field').hidden = !state.devTokens;
  $('token-field').hidden = state.devTokens;
  $('upload-form').hidden = !state.fileSharing;
  (state.devTokens ? $('name') : $('token')).focus();
  $('signin-form').onsubmit = signIn;
  $('create-form').onsubmit = createRoom;
  $('send-form').onsubmit = sendMessage;
  $('message-input').oninput = onInput;
  $('message-input').onkeydown = (e) => { if (e.key === 'Escape') setReplyTo(null); };
  $('reply-cancel').onclick = () => setReplyTo(null);
  $('thread-form').onsubmit = sendThreadReply;
  $('thread-close').onclick = closeThread;
  $('upload-form').onsubmit = upload;
  $('file-input').onchange = () => { $('upload').disabled = !$('file-input').files.length; };
  $('presence-form').onsubmit = (e) => { e.preventDefault(); updatePresence(); };
  $('presence-status').onchange = updatePresence;
  $('custom-status').onchange = updatePresence;
  $('leave').onclick = leaveRoom;
  $('refresh-rooms').onclick = refreshRooms;
  $('bell').onclick = toggleNotifications;
  $('read-all').onclick = readAll;
  toLobby();
}

init();
