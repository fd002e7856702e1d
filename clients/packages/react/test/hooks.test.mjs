// The hooks of @realtime-go/react (built in dist/) in jsdom with React
// Testing Library, against the real hub that clients/clients_test.go serves:
//
//   HUB_URL=ws://.../ws FILES_URL=http://.../files/ CONTROL_URL=http://.../control \
//     node --experimental-websocket --test test/
import { CONTROL, HUB, STEP, control, isOpen, open, sharedRoom, sleep, token, uniq, until, waitOpts, withClient } from './helpers.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { act, renderHook, waitFor } from '@testing-library/react';
import { createElement as h } from 'react';
import {
  RealtimeProvider, RoomProvider, useMessages, useNotifications, usePresence, useRealtime, useRoom, useThread, useTyping,
} from '../dist/index.js';

const wrap = (client, roomId) => ({ children }) => withClient(client, roomId ? h(RoomProvider, { roomId }, children) : children);
const contents = (list) => list.map((m) => m.content);

test('RealtimeProvider connects to a URL, reports its state and user, and closes on unmount', async () => {
  const user = uniq('paula');
  const { result, unmount } = renderHook(() => useRealtime(), {
    wrapper: ({ children }) => h(RealtimeProvider, { url: HUB, options: { getToken: () => token(user) } }, children),
  });
  await waitFor(() => assert.equal(result.current.state, 'open'), waitOpts);
  assert.equal(result.current.isConnected, true);
  assert.deepEqual(result.current.user, { id: user, username: user });
  const { rooms } = await result.current.emit('list-rooms');
  assert.ok(Array.isArray(rooms));
  const client = result.current.client;
  unmount();
  assert.equal(client.state, 'closed', 'the provider closes the client it opened');
});

test('useRoom joins, lists members and follows joins and leaves', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, []);
  const { result } = renderHook(() => useRoom(room.id), { wrapper: wrap(alice) });
  await waitFor(() => assert.equal(result.current.joined, true), waitOpts);
  assert.equal(result.current.room.name, room.name);
  await isOpen(alice);
  await waitFor(() => assert.deepEqual(result.current.members.map((m) => m.userId).sort(), [alice.user.id, bob.user.id].sort()), waitOpts);
  const carol = open(uniq('carol'));
  await isOpen(carol);
  await carol.join(room.id);
  await waitFor(() => assert.ok(result.current.members.some((m) => m.userId === carol.user.id)), waitOpts);
  await carol.leave(room.id);
  await waitFor(() => assert.ok(!result.current.members.some((m) => m.userId === carol.user.id)), waitOpts);
});

test('useMessages pages the history with before and receives the messages of another client', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  for (let i = 0; i < 120; i++) await bob.send({ roomId: room.id, content: `old ${i}` });
  const { result } = renderHook(() => useMessages(undefined, { pageSize: 50 }), { wrapper: wrap(alice, room.id) });
  await waitFor(() => assert.equal(result.current.messages.length, 50), waitOpts);
  assert.equal(result.current.hasMore, true);
  assert.equal(result.current.messages[0].content, 'old 70');
  assert.equal(result.current.messages[49].content, 'old 119');

  await act(() => result.current.loadOlder());
  assert.equal(result.current.messages.length, 100);
  await act(() => result.current.loadOlder());
  assert.equal(result.current.messages.length, 120);
  assert.equal(result.current.hasMore, false);
  assert.deepEqual(contents(result.current.messages), Array.from({ length: 120 }, (_, i) => `old ${i}`), 'oldest first, no gap, no duplicate');

  await bob.send({ roomId: room.id, content: 'live from bob' });
  await waitFor(() => assert.equal(result.current.messages.at(-1).content, 'live from bob'), waitOpts);
  assert.equal(result.current.messages.at(-1).sender.username, bob.user.username);
  assert.equal(result.current.messages.length, 121);
});

test('an optimistic send shows at once and becomes the stored message, once, online and offline', async () => {
  const name = uniq('alice');
  const alice = open(name, { minBackoff: 400, maxBackoff: 400 });
  const bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  const { result } = renderHook(() => useMessages(room.id), { wrapper: wrap(alice, room.id) });
  await waitFor(() => assert.equal(result.current.loading, false), waitOpts);

  let sent;
  act(() => { sent = result.current.send('hello, optimistically'); });
  assert.equal(result.current.messages.at(-1).content, 'hello, optimistically');
  assert.equal(result.current.messages.at(-1).status, 'sending', 'shown before the ack');
  await act(() => sent);
  const bobSaw = until(bob, 'new-message', (m) => m.content === 'after');
  await bob.send({ roomId: room.id, content: 'after' });
  await bobSaw;
  await waitFor(() => assert.equal(result.current.messages.at(-1).content, 'after', JSON.stringify(result.current.messages)), waitOpts);
  const mine = result.current.messages.filter((m) => m.content === 'hello, optimistically');
  assert.equal(mine.length, 1, 'the ack and the push are one message');
  assert.equal(mine[0].status, 'sent');
  assert.match(mine[0].id, /.+/);

  // Offline: shown as sending, sent by the outbox after the reconnect, stored once.
  const dropped = until(alice, 'state', (s) => s === 'reconnecting');
  await control(`disconnect?user=${name}`);
  await dropped;
  act(() => { sent = result.current.send('written offline'); });
  assert.equal(result.current.messages.at(-1).status, 'sending');
  await act(() => sent);
  await waitFor(() => assert.equal(result.current.messages.at(-1).status, 'sent'), waitOpts);
  await sleep(300); // a late push of the same message would show here
  assert.equal(result.current.messages.filter((m) => m.content === 'written offline').length, 1);
  const { messages } = await bob.emit('get-history', { roomId: room.id });
  assert.deepEqual(contents(messages), ['hello, optimistically', 'after', 'written offline']);
  assert.deepEqual(contents(result.current.messages), contents(messages));
});

test('edits and deletes of another user are applied; own edits and deletes too', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  const first = await bob.send({ roomId: room.id, content: 'tpyo' });
  const second = await bob.send({ roomId: room.id, content: 'regrettable' });
  const { result } = renderHook(() => useMessages(room.id), { wrapper: wrap(alice, room.id) });
  await waitFor(() => assert.equal(result.current.messages.length, 2), waitOpts);

  await bob.emit('edit-message', { messageId: first.id, content: 'typo' });
  await waitFor(() => assert.equal(result.current.messages[0].content, 'typo'), waitOpts);
  assert.ok(result.current.messages[0].editedAt, 'marked edited');
  await bob.emit('delete-message', { messageId: second.id });
  await waitFor(() => assert.ok(result.current.messages[1].deletedAt), waitOpts);
  assert.equal(result.current.messages[1].content, '');

  await act(() => result.current.send('mine'));
  const mine = result.current.messages.at(-1);
  await act(() => result.current.edit(mine.id, 'mine, edited'));
  assert.equal(result.current.messages.at(-1).content, 'mine, edited');
  const bobSawDelete = until(bob, 'message-deleted', (d) => d.id === mine.id);
  await act(() => result.current.remove(mine.id));
  await bobSawDelete;
  assert.ok(result.current.messages.at(-1).deletedAt);
  assert.equal(result.current.messages.length, 3);
});

test('useThread lists the replies to a message and follows new ones', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  const parent = await bob.send({ roomId: room.id, content: 'a question' });
  await bob.send({ roomId: room.id, content: 'answer 1', replyToId: parent.id });
  await bob.send({ roomId: room.id, content: 'not in the thread' });
  const { result } = renderHook(() => useThread({ id: parent.id, roomId: room.id }), { wrapper: wrap(alice, room.id) });
  await waitFor(() => assert.deepEqual(contents(result.current.messages), ['answer 1']), waitOpts);
  await act(() => result.current.reply('answer 2'));
  await bob.send({ roomId: room.id, content: 'answer 3', replyToId: parent.id });
  await waitFor(() => assert.deepEqual(contents(result.current.messages), ['answer 1', 'answer 2', 'answer 3']), waitOpts);
  await sleep(200);
  assert.equal(result.current.messages.length, 3, 'the reply sent from here is there once');
});

test('usePresence sees another user come online and go offline', async () => {
  const alice = open(uniq('alice'));
  const carolName = uniq('carol');
  let carol = open(carolName);
  const room = await sharedRoom(alice, [carol]);
  carol.close();
  const { result } = renderHook(() => usePresence(), { wrapper: wrap(alice, room.id) });
  await waitFor(() => assert.equal(result.current.statusOf(alice.user.id), 'online'), waitOpts);
  await waitFor(() => assert.equal(result.current.statusOf(carolName), 'offline'), waitOpts);

  carol = open(carolName);
  await waitFor(() => assert.equal(result.current.statusOf(carolName), 'online'), waitOpts);
  await act(() => carol.emit('presence-update', { status: 'busy' }));
  await waitFor(() => assert.equal(result.current.statusOf(carolName), 'busy'), waitOpts);
  carol.close(); // offline after the hub's presence grace (100 ms here)
  await waitFor(() => assert.equal(result.current.statusOf(carolName), 'offline'), waitOpts);

  // Online for long, then joins the room: shown online.
  const dave = open(uniq('dave'));
  await isOpen(dave);
  await sleep(200);
  assert.equal(result.current.statusOf(dave.user.id), 'offline', 'not a member yet, not heard of');
  await dave.join(room.id);
  await waitFor(() => assert.equal(result.current.statusOf(dave.user.id), 'online'), waitOpts);
});

test('useTyping shows who types, sends this user\'s typing and its end', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  const { result } = renderHook(() => useTyping(undefined, { idleMs: 300 }), { wrapper: wrap(alice, room.id) });
  await waitFor(() => assert.ok(alice.listenerCount('user-typing') > 0), waitOpts);
  await bob.emit('typing', { roomId: room.id, isTyping: true });
  await waitFor(() => assert.deepEqual(result.current.typing, [{ userId: bob.user.id, username: bob.user.username }]), waitOpts);
  await bob.emit('typing', { roomId: room.id, isTyping: false });
  await waitFor(() => assert.deepEqual(result.current.typing, []), waitOpts);

  const started = until(bob, 'user-typing', (e) => e.userId === alice.user.id && e.isTyping);
  const stopped = until(bob, 'user-typing', (e) => e.userId === alice.user.id && !e.isTyping);
  await waitFor(() => assert.equal(alice.state, 'open'), waitOpts);
  const t0 = Date.now();
  act(() => { result.current.keystroke(); result.current.keystroke(); result.current.keystroke(); });
  await started;
  await stopped; // after idleMs without a keystroke
  assert.ok(Date.now() - t0 >= 250, 'stopped only after the quiet time');
});

test('useNotifications gets a mention, marks it read and follows the unread count', async () => {
  const aliceName = uniq('alice');
  const alice = open(aliceName), bob = open(uniq('bob'));
  const aliceElsewhere = open(aliceName); // another tab of alice's
  const room = await sharedRoom(bob, [alice]);
  const { result } = renderHook(() => useNotifications(), { wrapper: wrap(alice) });
  await waitFor(() => assert.equal(result.current.loading, false), waitOpts);
  assert.equal(result.current.supported, true);
  assert.equal(result.current.unread, 0);

  await bob.send({ roomId: room.id, content: `hey @${aliceName}, look` });
  await waitFor(() => assert.equal(result.current.unread, 1), waitOpts);
  const [n] = result.current.notifications;
  assert.equal(n.type, 'mention');
  assert.equal(n.roomId, room.id);
  assert.equal(n.readAt, undefined);

  await isOpen(aliceElsewhere);
  const told = until(aliceElsewhere, 'notifications-read');
  await act(() => result.current.markRead([n.id]));
  assert.equal(result.current.unread, 0);
  assert.ok(result.current.notifications[0].readAt, 'shown read');
  assert.equal((await told).unread, 0, 'the other tab is told');
  const stored = await aliceElsewhere.emit('get-notifications', {});
  assert.equal(stored.unread, 0);
  assert.ok(stored.notifications[0].readAt);

  // Marked read elsewhere: followed here.
  await bob.send({ roomId: room.id, content: `@${aliceName} again` });
  await waitFor(() => assert.equal(result.current.unread, 1), waitOpts);
  await aliceElsewhere.emit('mark-notifications-read', { upTo: result.current.notifications[0].id });
  await waitFor(() => assert.equal(result.current.unread, 0), waitOpts);
  assert.ok(result.current.notifications.every((x) => x.readAt));
});

test('after a server restart the messages resume: nothing missed, nothing twice', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  await bob.send({ roomId: room.id, content: 'before' });
  const { result } = renderHook(() => useMessages(room.id), { wrapper: wrap(alice, room.id) });
  await waitFor(() => assert.deepEqual(contents(result.current.messages), ['before']), waitOpts);
  const resumed = until(alice, 'resumed', (r) => r.roomId === room.id);
  const dropped = until(alice, 'state', (s) => s === 'reconnecting');
  await control('restart');
  await dropped;
  await bob.send({ roomId: room.id, content: 'during' }); // bob's outbox sends it once reconnected
  await resumed;
  await act(() => result.current.send('after'));
  await waitFor(() => assert.deepEqual(contents(result.current.messages), ['before', 'during', 'after']), { timeout: STEP * 2, interval: 20 });
  await sleep(300);
  assert.deepEqual(contents(result.current.messages), ['before', 'during', 'after']);
});

test('the hooks leave no listener on the client after unmount', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  const before = alice.listenerCount();
  const { result, unmount } = renderHook(() => ({
    m: useMessages(), r: useRealtime(), p: usePresence(), t: useTyping(), n: useNotifications(), th: useThread({ id: 'x', roomId: room.id }),
  }), { wrapper: wrap(alice, room.id) });
  await waitFor(() => assert.equal(result.current.m.loading, false), waitOpts);
  assert.ok(alice.listenerCount() > before + 10, `the hooks listen (${alice.listenerCount()})`);
  act(() => result.current.t.keystroke()); // a typing timer running
  unmount();
  assert.equal(alice.listenerCount(), before, 'every listener removed');
  void CONTROL;
});

test('a history page asked for before a live message came keeps that message', async () => {
  const { feedReducer } = await import('../dist/index.js');
  const msg = (id, seq) => ({ id, seq, roomId: 'r', senderId: 'u', sender: { id: 'u', username: 'u' }, content: id, type: 'text', createdAt: '' });
  let s = { messages: [], hasMore: false, loading: true, error: null };
  s = feedReducer(s, { type: 'upsert', message: msg('live', 3), live: true });
  s = feedReducer(s, { type: 'page', messages: [msg('a', 1), msg('b', 2)], hasMore: false, replace: true });
  assert.deepEqual(s.messages.map((m) => [m.id, m.live === true]), [['a', false], ['b', false], ['live', true]]);
  s = feedReducer(s, { type: 'page', messages: [msg('b', 2), msg('live', 3)], hasMore: true, replace: true });
  assert.deepEqual(s.messages.map((m) => [m.id, m.live === true]), [['b', false], ['live', true]], 'once, still known as live');
});

test('notifications sort by time, not by the text of a timestamp whose trailing zeros are trimmed', async () => {
  const { mergeNotifications, markNotificationsRead } = await import('../dist/index.js');
  const note = (id, createdAt) => ({ id, userId: 'u', type: 'mention', title: id, createdAt });
  // .1Z is 100 ms, .12Z 120 ms, 05Z whole: as text ".1Z" > ".12Z" and "05Z" > "05.5Z".
  const list = mergeNotifications([note('whole', '2026-12-06T14:45:05Z')], [note('n100', '2026-12-06T14:45:05.1Z'), note('n120', '2026-12-06T14:45:05.12Z')]);
  assert.deepEqual(list.map((n) => n.id), ['n120', 'n100', 'whole']);
  const marked = markNotificationsRead(list, undefined, 'n100', '2026-12-06T14:46:00Z');
  assert.deepEqual(marked.map((n) => [n.id, n.readAt != null]), [['n120', false], ['n100', true], ['whole', true]]);
});
