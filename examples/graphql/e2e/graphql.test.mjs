// The GraphQL example with the npm graphql-ws client, beside a native
// WebSocket client and socket.io-client, all on one hub.
//
//   BASE_URL=http://127.0.0.1:8090 ALICE_TOKEN=... BOB_TOKEN=... CAROL_TOKEN=... SHORT_TOKEN=... node --test graphql.test.mjs
//
// SHORT_TOKEN is bob's, expiring within a few seconds. examples/graphql's
// TestGraphQLWSClient runs it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { io } from 'socket.io-client';

const BASE = (process.env.BASE_URL || '').replace(/\/$/, '');
const WS_BASE = BASE.replace(/^http/, 'ws');
const T = { alice: process.env.ALICE_TOKEN, bob: process.env.BOB_TOKEN, carol: process.env.CAROL_TOKEN };
const STEP = 10_000;

setTimeout(() => { console.error('graphql e2e: watchdog after 60 s'); process.exit(2); }, 60_000).unref();

const closers = [];
after(() => { for (const close of closers) close(); });

async function gql(user, query, variables = {}) {
  const res = await fetch(BASE + '/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + T[user] },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function client(token) {
  const c = createClient({ url: WS_BASE + '/graphql', webSocketImpl: WebSocket, connectionParams: { token }, retryAttempts: 0, lazy: false });
  closers.push(() => c.dispose());
  return c;
}

// stream subscribes and returns {next(): Promise<value>, done: Promise<error|undefined>}.
function stream(c, query, variables) {
  const queue = [], waiters = [];
  let settle;
  const done = new Promise((resolve) => { settle = resolve; });
  c.subscribe({ query, variables }, {
    next: (v) => { const w = waiters.shift(); if (w) w(v); else queue.push(v); },
    error: (err) => settle(err),
    complete: () => settle(undefined),
  });
  const next = () => new Promise((resolve, reject) => {
    if (queue.length) return resolve(queue.shift());
    waiters.push(resolve);
    setTimeout(() => reject(new Error('no value within 10 s')), STEP).unref();
  });
  return { next, done };
}

const withTimeout = (p, what) => Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(what)), STEP).unref())]);

const MESSAGE_ADDED = 'subscription($r: ID!) { messageAdded(roomId: $r) { seq content sender { id } } }';

test('a graphql-ws subscriber sees native and Socket.IO messages in seq order', async () => {
  const { createRoom: room } = await gql('alice', 'mutation { createRoom(name: "e2e") { id } }');
  await gql('bob', 'mutation($r: ID!) { joinRoom(roomId: $r) { id } }', { r: room.id });
  await gql('carol', 'mutation($r: ID!) { joinRoom(roomId: $r) { id } }', { r: room.id });
  const sub = stream(client(T.bob), MESSAGE_ADDED, { r: room.id });
  await new Promise((r) => setTimeout(r, 200)); // subscribed before the messages

  const native = new WebSocket(`${WS_BASE}/ws?token=${encodeURIComponent(T.alice)}`, 'realtime.v1');
  closers.push(() => native.close());
  await new Promise((resolve, reject) => { native.once('message', resolve); native.once('error', reject); }); // connected
  const acked = new Promise((resolve) => native.on('message', (b) => { if (String(b).includes('"ack":1')) resolve(); }));
  native.send(JSON.stringify({ event: 'message', data: { roomId: room.id, content: 'from "native" é' }, ack: 1 }));
  await withTimeout(acked, 'no ack from the native hub');

  const sio = io(BASE, { auth: { token: T.carol }, transports: ['websocket'], reconnection: false });
  closers.push(() => sio.close());
  const reply = await withTimeout(sio.emitWithAck('message', { roomId: room.id, content: 'from Socket.IO 😀' }), 'no Socket.IO ack');
  assert.ok(reply.data, JSON.stringify(reply));

  const first = (await sub.next()).data.messageAdded;
  const second = (await sub.next()).data.messageAdded;
  assert.deepEqual([first.seq, first.content, first.sender.id], [1, 'from "native" é', 'alice']);
  assert.deepEqual([second.seq, second.content, second.sender.id], [2, 'from Socket.IO 😀', 'carol']);

  // Removed from the room: the subscription ends with an error.
  const gone = new Promise((resolve) => native.on('message', (b) => { if (String(b).includes('"ack":2')) resolve(); }));
  native.send(JSON.stringify({ event: 'remove-member', data: { roomId: room.id, userId: 'bob' }, ack: 2 }));
  await withTimeout(gone, 'no ack for remove-member');
  const err = await withTimeout(sub.done, 'the subscription did not end');
  assert.ok(err, 'ended with an error');
  assert.match(JSON.stringify(err), /forbidden/);
});

test('a private room is refused at subscribe time', async () => {
  const { createRoom: room } = await gql('alice', 'mutation { createRoom(name: "secret", isPrivate: true) { id } }');
  const sub = stream(client(T.bob), MESSAGE_ADDED, { r: room.id });
  const err = await withTimeout(sub.done, 'no error');
  assert.ok(err);
  assert.match(JSON.stringify(err), /forbidden/);
});

test('an expiring token closes the socket', async () => {
  let closed;
  const done = new Promise((resolve) => { closed = resolve; });
  const c = createClient({
    url: WS_BASE + '/graphql', webSocketImpl: WebSocket, connectionParams: { token: process.env.SHORT_TOKEN },
    retryAttempts: 0, lazy: false, on: { closed: (event) => closed(event) },
  });
  closers.push(() => c.dispose());
  c.subscribe({ query: 'subscription { notificationReceived { id } }' }, { next() {}, error() {}, complete() {} });
  const event = await withTimeout(done, 'not closed');
  assert.equal(event.code, 4403);
});
