// Interop of the Socket.IO bridge with the official socket.io-client.
//
// socketio/e2e_test.go runs this file with `node --test` against a Hub
// served by httptest, with:
//   SIO_URL      the server, through a proxy that can cut connections
//   CONTROL_URL  the Go test's control endpoints: /token, /native/emit,
//                /native/next (a native Go client in the same hub), /cut,
//                /restore
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const SIO_URL = process.env.SIO_URL;
const CONTROL_URL = process.env.CONTROL_URL;
if (!SIO_URL || !CONTROL_URL) {
  throw new Error("run by socketio/e2e_test.go: SIO_URL and CONTROL_URL must be set");
}

async function control(path, body) {
  const res = await fetch(CONTROL_URL + path, {
    method: body === undefined ? "GET" : "POST",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Every socket is closed at the end, failed tests' included, so that
// node exits.
const sockets = [];
after(() => sockets.forEach((s) => s.disconnect()));

const token = (user) => control(`/token?user=${user}`);
const native = (event, data) => control("/native/emit", { event, data });
const nativeNext = (event) => control(`/native/next?event=${event}`);

// nativeNextWhere skips the native client's events named event until one
// satisfies pred.
async function nativeNextWhere(event, pred) {
  for (;;) {
    const data = await nativeNext(event);
    if (pred(data)) return data;
  }
}

// connect opens a client and resolves once the hub's connected event came.
async function connect(user, opts = {}) {
  const socket = io(SIO_URL, {
    auth: { token: await token(user) },
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    ...opts,
  });
  sockets.push(socket);
  const connected = await new Promise((resolve, reject) => {
    socket.once("connected", resolve);
    socket.once("connect_error", reject);
  });
  assert.equal(connected.user.id, user);
  return socket;
}

// emit emits with an ack and returns its data, or throws its error.
async function emit(socket, event, data) {
  const reply = await socket.timeout(5000).emitWithAck(event, data);
  if (reply.error) {
    throw new Error(`${event}: ${reply.error.code}: ${reply.error.message}`);
  }
  return reply.data;
}

// next resolves with the data of the next event named name.
function next(socket, name) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within 5s`)), 5000);
    socket.once(name, (data) => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

async function roundTrip(socket, user) {
  const { room } = await emit(socket, "create-room", { name: `room of ${user}` });
  const joined = await emit(socket, "join-room", { roomId: room.id });
  assert.equal(joined.room.id, room.id);
  const received = next(socket, "new-message");
  const ack = await emit(socket, "message", { roomId: room.id, content: `hi from ${user}` });
  const msg = await received;
  assert.equal(msg.id, ack.id);
  assert.equal(msg.content, `hi from ${user}`);
  assert.equal(msg.sender.id, user);
  const failed = await socket.timeout(5000).emitWithAck("join-room", { roomId: "nope" });
  assert.equal(failed.error.code, "not_found");
}

test("websocket only", async () => {
  const socket = await connect("wendy", { transports: ["websocket"] });
  assert.equal(socket.io.engine.transport.name, "websocket");
  await roundTrip(socket, "wendy");
  socket.disconnect();
});

test("polling only", async () => {
  const socket = await connect("paula", { transports: ["polling"] });
  assert.equal(socket.io.engine.transport.name, "polling");
  await roundTrip(socket, "paula");
  socket.disconnect();
});

test("polling, then upgrade to websocket", async () => {
  const socket = io(SIO_URL, { auth: { token: await token("uma") } });
  sockets.push(socket);
  const upgraded = new Promise((resolve) => socket.io.on("open", () => socket.io.engine.once("upgrade", resolve)));
  await next(socket, "connected");
  const transport = await upgraded;
  assert.equal(transport.name, "websocket");
  await roundTrip(socket, "uma");
  socket.disconnect();
});

test("auth refused", async () => {
  const socket = io(SIO_URL, { auth: { token: "forged" }, reconnection: false });
  sockets.push(socket);
  const err = await new Promise((resolve) => socket.once("connect_error", resolve));
  assert.equal(err.message, "unauthorized");
  assert.equal(err.data.code, "unauthorized");
  assert.equal(err.data.closeCode, 4001);
  assert.equal(socket.connected, false);
  socket.disconnect();
});

test("native and socket.io clients in one room, both ways", async () => {
  const { room } = await native("create-room", { name: "mixed" });
  for (const transports of [["websocket"], ["polling"]]) {
    const user = `sio-${transports[0]}`;
    const socket = await connect(user, { transports });
    await emit(socket, "join-room", { roomId: room.id });
    assert.equal((await nativeNext("user-joined")).user.id, user);

    // Socket.IO to native.
    const own = next(socket, "new-message");
    const ack = await emit(socket, "message", { roomId: room.id, content: `from ${user}` });
    const got = await nativeNext("new-message");
    assert.equal(got.id, ack.id);
    assert.equal(got.content, `from ${user}`);
    assert.equal((await own).id, ack.id); // its own copy

    // Native to Socket.IO.
    const received = next(socket, "new-message");
    const sent = await native("message", { roomId: room.id, content: "from nora" });
    const msg = await received;
    assert.equal(msg.id, sent.id);
    assert.equal(msg.sender.id, "nora");
    assert.equal((await nativeNext("new-message")).id, sent.id); // nora's own copy

    // Typing both ways.
    // (An earlier client's typing may still stop, hence the filter.)
    await emit(socket, "typing", { roomId: room.id, isTyping: true });
    const typing = await nativeNextWhere("user-typing", (d) => d.userId === user);
    assert.equal(typing.isTyping, true);
    const sioTyping = next(socket, "user-typing");
    await native("typing", { roomId: room.id, isTyping: true });
    assert.equal((await sioTyping).userId, "nora");

    await emit(socket, "leave-room", { roomId: room.id });
    assert.equal((await nativeNext("user-left")).user.id, user);
    socket.disconnect();
  }
});

for (const transports of [["websocket"], ["polling"]]) {
  test(`server drops the transport, the client reconnects and resumes (${transports[0]})`, async () => {
    const { room } = await native("create-room", { name: `resume ${transports[0]}` });
    const socket = await connect("rita", { transports });
    await emit(socket, "join-room", { roomId: room.id });
    const first = next(socket, "new-message");
    await native("message", { roomId: room.id, content: "before" });
    let last = (await first).id;
    socket.on("new-message", (m) => (last = m.id));

    const dropped = next(socket, "disconnect");
    await control("/cut", {});
    assert.notEqual(await dropped, "io server disconnect"); // so the client reconnects
    for (const content of ["missed 1", "missed 2"]) {
      await native("message", { roomId: room.id, content });
    }
    const replayed = [];
    const rejoined = new Promise((resolve, reject) => {
      socket.once("connect", async () => {
        try {
          socket.off("new-message");
          socket.on("new-message", (m) => replayed.push(m.content));
          resolve(await emit(socket, "join-room", { roomId: room.id, since: last }));
        } catch (e) {
          reject(e);
        }
      });
    });
    await control("/restore", {});
    const ack = await rejoined;
    assert.equal(ack.missed, 2);
    assert.equal(ack.recovered, true);
    const live = next(socket, "new-message");
    await native("message", { roomId: room.id, content: "live" });
    await live;
    assert.deepEqual(replayed, ["missed 1", "missed 2", "live"]);
    socket.disconnect();
  });
}
