// Tests of @realtime-go/client (built in dist/) against a real hub, which
// clients/clients_test.go runs and controls:
//
//   HUB_URL=ws://.../ws CONTROL_URL=http://.../control node --experimental-websocket --test test/
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, RealtimeError } from '../dist/index.js';

const HUB = process.env.HUB_URL;
const CONTROL = process.env.CONTROL_URL;
const STEP = 10_000;

setTimeout(() => { console.error('client tests: watchdog after 90 s'); process.exit(2); }, 90_000).unref();

const clients = [];
after(() => { for (const c of clients) c.close(); });

const token = async (user, ttl = '1h') => (await fetch(`${CONTROL}/token?user=${user}&ttl=${ttl}`)).text();
const control = (path) => fetch(`${CONTROL}/${path}`, { method: 'POST' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function open(user, options = {}) {
  const c = connect(HUB, { getToken: () => token(user), minBackoff: 50, maxBackoff: 200, ...options });
  clients.push(c);
  return c;
}

function until(c, event, pred = () => true) {
  return new Promise((resolve, reject) => {
    const off = c.on(event, (d) => { if (pred(d)) { off(); clearTimeout(timer); resolve(d); } });
    const timer = setTimeout(() => { off(); reject(new Error(`no ${event} within ${STEP} ms`)); }, STEP);
  });
}

const isOpen = (c) => c.state === 'open' ? Promise.resolve() : until(c, 'state', (s) => s === 'open');

// collect records the contents of a room's new messages.
function collect(c, roomId) {
  const got = [];
  c.on('new-message', (m) => { if (m.roomId === roomId) got.push(m.content); });
  return got;
}

async function waitFor(fn, what) {
  const end = Date.now() + STEP;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

test('acks, errors with their code, typed pushes and batched frames', async () => {
  const alice = open('alice');
  await isOpen(alice);
  const { rooms } = await alice.emit('list-rooms');
  assert.ok(Array.isArray(rooms));
  await assert.rejects(alice.emit('join-room', { roomId: 'r_missing' }), (err) => err instanceof RealtimeError && err.code === 'not_found' && err.event === 'join-room');
  await assert.rejects(alice.emit('bogus-event'), (err) => err.code === 'invalid');

  const { room } = await alice.emit('create-room', { name: 'batched' });
  const bob = open('bob');
  await isOpen(bob);
  await bob.join(room.id);
  const got = collect(bob, room.id);
  // Many sends at once: the hub batches frames, the client splits them.
  const sent = [];
  for (let i = 0; i < 200; i++) sent.push(`m${i} "quoted" \\ é 😀`);
  await Promise.all(sent.map((content) => alice.send({ roomId: room.id, content })));
  await waitFor(() => got.length === sent.length, 'every message');
  assert.deepEqual(got, sent);
});

test('realtime.v2 is chosen, and messages still have their senderId', async () => {
  const alice = open('alice-v2');
  const bob = open('bob-v2');
  await isOpen(alice); await isOpen(bob);
  assert.equal(bob.protocol, 'realtime.v2');
  const { room } = await alice.emit('create-room', { name: 'v2' });
  await bob.join(room.id);
  const pushed = until(bob, 'new-message', (m) => m.roomId === room.id);
  const { id } = await alice.send({ roomId: room.id, content: 'hi "v2"' });
  const m = await pushed;
  assert.equal(m.senderId, 'alice-v2');
  assert.equal(m.sender.id, 'alice-v2');
  const edited = until(bob, 'message-edited', (e) => e.id === id);
  await alice.emit('edit-message', { messageId: id, content: 'edited' });
  assert.equal((await edited).senderId, 'alice-v2');
});

test('reconnect after a server restart resumes every joined room, without duplicates', async () => {
  const alice = open('alice2');
  const bob = open('bob2');
  await isOpen(alice); await isOpen(bob);
  const { room } = await alice.emit('create-room', { name: 'restart' });
  await alice.join(room.id);
  await bob.join(room.id);
  const got = collect(bob, room.id);
  for (const content of ['one', 'two', 'three']) await alice.send({ roomId: room.id, content });
  await waitFor(() => got.length === 3, 'the first three');

  const resumed = until(bob, 'resumed', (r) => r.roomId === room.id);
  const dropped = until(bob, 'state', (s) => s === 'reconnecting');
  const disconnected = until(bob, 'disconnected');
  await control('restart');
  await dropped;
  const d = await disconnected;
  assert.equal(typeof d.code, 'number');
  assert.ok(d.retryIn > 0 && d.retryIn <= 200, `retryIn ${d.retryIn} within the backoff bounds`);
  for (const content of ['four', 'five']) await alice.send({ roomId: room.id, content }); // waits in the outbox, then sent
  const r = await resumed;
  assert.equal(r.recovered, true);
  // The resume carries the join-room ack: the UI refreshes its member list from it.
  assert.equal(r.room.id, room.id);
  assert.deepEqual(r.members.map((m) => m.userId).sort(), ['alice2', 'bob2'].sort());
  assert.ok(Array.isArray(r.presence));
  await waitFor(() => got.length >= 5, 'the last two');
  await sleep(200);
  assert.deepEqual(got, ['one', 'two', 'three', 'four', 'five']);
  const { messages } = await alice.emit('get-history', { roomId: room.id });
  assert.equal(messages.length, 5, 'the outbox stored each message once');
});

test('a resume that cannot recover says so', async () => {
  const alice = open('alice3');
  const bob = open('bob3', { minBackoff: 1500, maxBackoff: 1500 });
  await isOpen(alice); await isOpen(bob);
  const { room } = await alice.emit('create-room', { name: 'gap' });
  await bob.join(room.id);
  const seen = until(bob, 'new-message');
  await alice.send({ roomId: room.id, content: 'seen' });
  await seen;
  const dropped = until(bob, 'state', (s) => s === 'reconnecting');
  const resumed = until(bob, 'resumed', (x) => x.roomId === room.id);
  await control('disconnect?user=bob3'); // 4009: bob reconnects after his backoff
  await dropped;
  for (let i = 0; i < 8; i++) await alice.send({ roomId: room.id, content: `missed ${i}` }); // more than the hub's ResumeLimit (5)
  const r = await resumed;
  assert.equal(r.recovered, false, 'reload the history');
});

test('a room deleted while offline is reported, not followed any more', async () => {
  const alice = open('alice5');
  const bob = open('bob5', { minBackoff: 1500, maxBackoff: 1500 });
  await isOpen(alice); await isOpen(bob);
  const { room: gone } = await alice.emit('create-room', { name: 'deleted offline' });
  const { room: kept } = await alice.emit('create-room', { name: 'kept' });
  await bob.join(gone.id);
  await bob.join(kept.id);
  const dropped = until(bob, 'state', (s) => s === 'reconnecting');
  const failed = until(bob, 'resume-failed');
  const resumed = until(bob, 'resumed', (r) => r.roomId === kept.id);
  await control('disconnect?user=bob5');
  await dropped;
  await alice.emit('delete-room', { roomId: gone.id });
  const f = await failed;
  assert.equal(f.roomId, gone.id);
  assert.ok(f.error instanceof RealtimeError && f.error.code === 'not_found', `error ${f.error?.code}`);
  await resumed; // the other room resumes
  // Not followed any more: the next reconnect does not try it again.
  const again = until(bob, 'resumed', (r) => r.roomId === kept.id);
  let tried = false;
  bob.on('resume-failed', () => { tried = true; });
  await control('disconnect?user=bob5');
  await again;
  assert.equal(tried, false);
});

test('the outbox sends what was sent offline once, with its clientMsgId', async () => {
  const alice = open('alice4', { minBackoff: 300, maxBackoff: 300 });
  await isOpen(alice);
  const { room } = await alice.emit('create-room', { name: 'outbox' });
  await alice.join(room.id);
  const dropped = until(alice, 'state', (s) => s === 'reconnecting');
  await control('disconnect?user=alice4');
  await dropped;
  const ack = await alice.send({ roomId: room.id, content: 'written offline', clientMsgId: 'fixed-id-1' });
  assert.equal(ack.clientMsgId, 'fixed-id-1');
  const again = await alice.send({ roomId: room.id, content: 'written offline', clientMsgId: 'fixed-id-1' });
  assert.equal(again.id, ack.id, 'the same clientMsgId is the same message');
  const { messages } = await alice.emit('get-history', { roomId: room.id });
  assert.equal(messages.filter((m) => m.content === 'written offline').length, 1);
});

test('a token about to expire is refreshed through getToken', async () => {
  let calls = 0;
  const c = connect(HUB, { getToken: () => { calls++; return token('carol', '3s'); }, minBackoff: 50, maxBackoff: 200 });
  clients.push(c);
  const warned = until(c, 'token-expiring'); // 2 s before expiry
  await isOpen(c);
  await warned;
  await waitFor(() => calls >= 2, 'a fresh token');
  await sleep(2000); // past the first token's expiry
  assert.equal(c.state, 'open');
  await c.emit('list-rooms');
});

test('terminal close codes stop the client', async () => {
  const dave = open('dave');
  await isOpen(dave);
  const states = [];
  dave.on('state', (s) => states.push(s));
  const closed = until(dave, 'state', (s) => s === 'closed');
  const disconnected = until(dave, 'disconnected');
  await control('disconnect?user=dave&final=1'); // 4003
  await closed;
  assert.deepEqual(await disconnected, { code: 4003, reason: 'test', retryIn: null }, 'the UI learns why');
  await sleep(500);
  assert.deepEqual(states, ['closed'], 'no reconnect');
  await assert.rejects(dave.emit('list-rooms'), (err) => err.code === 'unavailable');
  await assert.rejects(dave.send({ roomId: 'r', content: 'x' }), (err) => err.code === 'unavailable');
});

test('the connected user and the token in use are readable', async () => {
  const erin = open('erin');
  assert.equal(erin.user, undefined, 'nobody before the hub says so');
  await isOpen(erin);
  assert.deepEqual(erin.user, { id: 'erin', username: 'erin' });
  const res = await fetch(`${CONTROL}/whoami`, { headers: { Authorization: `Bearer ${erin.token}` } });
  assert.equal(await res.text(), 'erin', 'the token authenticates HTTP requests beside the hub');
});

test('listenerCount counts what on and once added and their unsubscribes removed', async () => {
  const c = open('frank');
  const base = c.listenerCount();
  const offA = c.on('new-message', () => {});
  const offB = c.on('state', () => {});
  c.once('connected', () => {});
  assert.equal(c.listenerCount('new-message'), 1);
  assert.equal(c.listenerCount(), base + 3);
  await isOpen(c); // the once listener has fired and gone
  assert.equal(c.listenerCount(), base + 2);
  offA(); offB();
  assert.equal(c.listenerCount(), base);
});
