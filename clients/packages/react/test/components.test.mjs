// The components of @realtime-go/react in jsdom, used as a person would:
// by their labels and roles, with the keyboard, against the real hub that
// clients/clients_test.go serves.
import { isOpen, open, sharedRoom, sleep, uniq, until, waitOpts, withClient } from './helpers.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { userEvent } from '@testing-library/user-event';
import { createElement as h } from 'react';
import { ChatRoom, MessageList, NotificationCenter } from '../dist/index.js';

/** alice's ChatRoom of a room bob created, rendered and joined. */
async function chatRoom() {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  render(withClient(alice, h(ChatRoom, { roomId: room.id })));
  await screen.findByRole('heading', { name: room.name }, waitOpts);
  return { user: userEvent.setup(), alice, bob, room };
}

const article = (text) => screen.getAllByRole('article').find((a) => a.textContent.includes(text));

test('ChatRoom: labelled, operated with the keyboard, shows and announces the messages of others', async () => {
  const { user, alice, bob, room } = await chatRoom();
  const feed = screen.getByRole('feed', { name: 'Messages' });
  const field = screen.getByLabelText('Message');
  const announcer = screen.getByTestId('rt-announcer');
  assert.equal(announcer.getAttribute('aria-live'), 'polite');

  // The first message of an empty room is announced.
  await bob.send({ roomId: room.id, content: 'first from bob' });
  await waitFor(() => assert.equal(announcer.textContent, `${bob.user.username}: first from bob`), waitOpts);

  // Typing tells bob; Enter sends; the message is shown once, stored.
  const typing = until(bob, 'user-typing', (e) => e.userId === alice.user.id && e.isTyping);
  await user.click(field);
  await user.keyboard('hello from the keyboard');
  await typing;
  const stopped = until(bob, 'user-typing', (e) => e.userId === alice.user.id && !e.isTyping);
  await user.keyboard('{Enter}');
  await stopped;
  assert.equal(field.value, '', 'the field is emptied');
  await waitFor(() => assert.equal(article('hello from the keyboard')?.dataset.status, 'sent'), waitOpts);
  await sleep(200);
  assert.equal(within(feed).getAllByText('hello from the keyboard').length, 1);

  // Another user: typing shown, message shown and announced in the live region.
  await bob.emit('typing', { roomId: room.id, isTyping: true });
  await screen.findByText(`${bob.user.username} is typing…`, {}, waitOpts);
  await bob.send({ roomId: room.id, content: 'hi alice' });
  await waitFor(() => assert.ok(article('hi alice')), waitOpts);
  await waitFor(() => assert.equal(announcer.textContent, `${bob.user.username}: hi alice`), waitOpts);
  await waitFor(() => assert.equal(screen.queryByText(`${bob.user.username} is typing…`), null), waitOpts);

  // Members with their presence, by accessible name.
  const members = screen.getByRole('region', { name: /Members/ });
  await waitFor(() => within(members).getByRole('img', { name: `${bob.user.username} is online` }), waitOpts);
  within(members).getByRole('img', { name: `${alice.user.username} is online` });

  // Edit with the keyboard: Enter on Edit, type, Enter saves.
  const mine = article('hello from the keyboard');
  within(mine).getByRole('button', { name: 'Edit message' }).focus();
  await user.keyboard('{Enter}');
  const edit = screen.getByRole('textbox', { name: 'Edit message' });
  assert.equal(document.activeElement, edit, 'the edit field takes the focus');
  const edited = until(bob, 'message-edited');
  await user.clear(edit);
  await user.keyboard('hello, edited{Enter}');
  assert.equal((await edited).content, 'hello, edited');
  await waitFor(() => assert.ok(article('hello, edited')?.textContent.includes('(edited)')), waitOpts);

  // Escape cancels an edit.
  within(article('hello, edited')).getByRole('button', { name: 'Edit message' }).focus();
  await user.keyboard('{Enter}');
  await user.keyboard(' not this{Escape}');
  assert.equal(screen.queryByRole('textbox', { name: 'Edit message' }), null);
  assert.ok(article('hello, edited'));

  // Delete with the keyboard.
  const deleted = until(bob, 'message-deleted');
  within(article('hello, edited')).getByRole('button', { name: 'Delete message' }).focus();
  await user.keyboard('{Enter}');
  await deleted;
  await screen.findByText('This message was deleted.', {}, waitOpts);

  // Reply opens the thread; a reply is sent with replyToId.
  within(article('hi alice')).getByRole('button', { name: `Reply to ${bob.user.username}` }).click();
  const thread = await screen.findByRole('region', { name: /Thread/ }, waitOpts);
  const replied = until(bob, 'new-message', (m) => m.content === 'a threaded answer');
  await user.click(within(thread).getByLabelText('Reply'));
  await user.keyboard('a threaded answer{Enter}');
  const reply = await replied;
  assert.ok(reply.replyToId, 'sent as a reply');
  await waitFor(() => within(thread).getByText('a threaded answer'), waitOpts);
  await user.keyboard('{Escape}');
  await waitFor(() => assert.equal(screen.queryByRole('region', { name: /Thread/ }), null), waitOpts);
});

test('MessageInput shares a file through the hub\'s file handler', async () => {
  const { user, alice, bob, room } = await chatRoom();
  assert.ok(screen.getByRole('button', { name: 'Attach' }));
  const shared = until(bob, 'new-message', (m) => m.type === 'file');
  const body = `notes of ${Date.now()}\n`;
  await user.upload(screen.getByLabelText('Attach a file'), new File([body], 'notes.txt', { type: 'text/plain' }));
  const m = await shared;
  assert.equal(m.metadata.file.name, 'notes.txt');
  assert.equal(m.metadata.file.roomId, room.id);
  await screen.findByText('Shared notes.txt.', {}, waitOpts);
  const link = await screen.findByRole('link', { name: 'notes.txt' }, waitOpts);
  const res = await fetch(link.getAttribute('href'));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), body, 'the link downloads the file');
});

test('NotificationCenter: opened with the keyboard, a mention marked read, Escape closes', async () => {
  const user = userEvent.setup();
  const aliceName = uniq('alice');
  const alice = open(aliceName), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  render(withClient(alice, h(NotificationCenter)));
  const toggle = await screen.findByRole('button', { name: 'Notifications' }, waitOpts);
  assert.equal(toggle.getAttribute('aria-expanded'), 'false');

  await bob.send({ roomId: room.id, content: `@${aliceName} see this` });
  await waitFor(() => assert.equal(toggle.textContent, 'Notifications 1'), waitOpts);
  assert.ok(screen.getByLabelText('1 unread'));

  toggle.focus();
  await user.keyboard('{Enter}');
  assert.equal(toggle.getAttribute('aria-expanded'), 'true');
  const panel = screen.getByRole('region', { name: 'Notifications' });
  const item = within(panel).getAllByRole('listitem')[0];
  const markBtn = within(item).getByRole('button', { name: /^Mark ".*" as read$/ });
  markBtn.focus();
  await user.keyboard('{Enter}');
  await waitFor(() => assert.equal(toggle.textContent, 'Notifications'), waitOpts);
  assert.equal(within(panel).getByText('0 unread').textContent, '0 unread');
  assert.equal((await alice.emit('get-notifications', {})).unread, 0, 'stored as read');

  assert.equal(within(panel).getByRole('button', { name: 'Mark all as read' }).disabled, true, 'nothing left unread');
  assert.equal(document.activeElement, within(item).getByRole('button', { name: /see this/ }), 'the focus stays in the list');
  await user.keyboard('{Escape}');
  assert.equal(screen.queryByRole('region', { name: 'Notifications' }), null);
  assert.equal(document.activeElement, toggle, 'the focus goes back to the button');
});

const synthetic = (n) => Array.from({ length: n }, (_, i) => ({
  id: `m${i}`, seq: i + 1, roomId: 'r', senderId: 'u', sender: { id: 'u', username: 'u' }, content: `message ${i}`,
  type: 'text', createdAt: new Date(0).toISOString(), status: 'sent',
}));

test('MessageList renders only the visible window of a long history', async () => {
  const user = userEvent.setup();
  let older = 0;
  const props = { messages: synthetic(5000), hasMore: true, onLoadOlder: () => { older++; }, estimatedItemHeight: 50 };
  render(h(MessageList, props));
  const feed = screen.getByRole('feed', { name: 'Messages' });
  const first = screen.getAllByRole('article');
  assert.ok(first.length > 5 && first.length < 40, `${first.length} of 5000 rendered`);
  assert.equal(first[0].getAttribute('aria-setsize'), '-1', 'more exist');

  // Scrolled to the middle: that window only, with spacers for the rest.
  Object.defineProperty(feed, 'scrollTop', { configurable: true, writable: true, value: 2500 * 50 });
  fireEvent.scroll(feed);
  const middle = screen.getAllByRole('article');
  assert.ok(middle.length < 40);
  const pos = middle.map((a) => Number(a.getAttribute('aria-posinset')));
  assert.ok(pos.includes(2501), `the message at 125000 px is rendered (${pos[0]}..${pos.at(-1)})`);
  assert.equal(feed.firstChild.style.height, `${(pos[0] - 1) * 50}px`, 'the top spacer stands for the messages above');

  // Home (from the list's focus) loads older messages; so does the button.
  feed.focus();
  await user.keyboard('{Home}');
  assert.equal(older, 1);
  await user.click(screen.getByRole('button', { name: 'Load older messages' }));
  assert.equal(older, 2);
});

test('ChatRoom pages a long history in a virtualised list', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  await Promise.all(Array.from({ length: 130 }, (_, i) => bob.send({ roomId: room.id, content: `line ${i}` })));
  render(withClient(alice, h(ChatRoom, { roomId: room.id })));
  const feed = await screen.findByRole('feed', { name: 'Messages' }, waitOpts);
  await waitFor(() => assert.equal(feed.dataset.total, '50'), waitOpts);
  assert.equal(screen.getByTestId('rt-announcer').textContent, '', 'the history is not announced');
  const more = screen.getByRole('button', { name: 'Load older messages' });
  await act(async () => { more.click(); });
  await waitFor(() => assert.equal(feed.dataset.total, '100'), waitOpts);
  await act(async () => { screen.getByRole('button', { name: 'Load older messages' }).click(); });
  await waitFor(() => assert.equal(feed.dataset.total, '130'), waitOpts);
  assert.equal(screen.queryByRole('button', { name: 'Load older messages' }), null, 'nothing older');
  assert.ok(screen.getAllByRole('article').length < 40, 'a window of the 130 is rendered');
  assert.equal(screen.getByTestId('rt-announcer').textContent, '', 'older pages are not announced');
  await bob.send({ roomId: room.id, content: 'live line' });
  await waitFor(() => assert.equal(screen.getByTestId('rt-announcer').textContent, `${bob.user.username}: live line`), waitOpts);
});

test('the components leave no listener on the client after unmount', async () => {
  const alice = open(uniq('alice')), bob = open(uniq('bob'));
  const room = await sharedRoom(bob, [alice]);
  await isOpen(alice);
  const before = alice.listenerCount();
  const { unmount } = render(withClient(alice, h('div', null, h(NotificationCenter), h(ChatRoom, { roomId: room.id }))));
  await screen.findByRole('heading', { name: room.name }, waitOpts);
  assert.ok(alice.listenerCount() > before + 10);
  unmount();
  assert.equal(alice.listenerCount(), before, 'every listener removed');
});
