// End-to-end test of the chat example's browser UI: two users in headless
// Chromium talk through a running example server.
//
//   BASE_URL=http://127.0.0.1:8080 CONTROL_URL=http://127.0.0.1:8081 node --test chat.test.mjs
//
// Env: BASE_URL (required), CONTROL_URL (required: POST /stop and POST
// /start there stop the server and start it again on the same address and
// store, as main_test.go does), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT (optional PNG path for alice's page at the end),
// PRESENCE_GRACE_MS (the server's presence grace, default 6000: how long a
// closed page may still show online), BIG_ROOM_ID and BIG_ROOM_MEMBERS (a
// stored room of more than 500 members and their count; without them that
// test is skipped).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || '').replace(/\/$/, '');
const CONTROL_URL = (process.env.CONTROL_URL || '').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP = 10_000; // bound on every wait
const GRACE = Number(process.env.PRESENCE_GRACE_MS) || 6000;
const ROOM = `e2e-${Date.now().toString(36)}`;
// The large room the Go test stored before starting the server, and how many
// members it has (its owner carol included).
const BIG_ROOM_ID = process.env.BIG_ROOM_ID || '';
const BIG_ROOM_MEMBERS = Number(process.env.BIG_ROOM_MEMBERS) || 0;

let browser;
const pageErrors = [];
const tmp = mkdtempSync(join(tmpdir(), 'chat-e2e-'));

// Last resort: the run ends by itself even if the browser hangs on close.
setTimeout(() => {
  console.error('e2e: watchdog fired after 120 s');
  process.exit(2);
}, 120_000).unref();

before(async () => {
  assert.ok(BASE_URL, 'set BASE_URL, e.g. http://127.0.0.1:8080');
  assert.ok(CONTROL_URL, 'set CONTROL_URL (see the top of this file)');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP * 3,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function newUserPage() {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  page.setDefaultTimeout(STEP);
  page.setDefaultNavigationTimeout(STEP);
  page.on('pageerror', (err) => pageErrors.push(err));
  return page;
}

async function signIn(page, name) {
  await page.goto(BASE_URL + '/');
  const cfg = await page.evaluate(() => fetch('/config.json').then((r) => r.json()));
  assert.equal(cfg.devTokens, true, 'the e2e test needs the server to run with dev tokens');
  await page.locator('#dev-label').waitFor({ state: 'visible' });
  await page.fill('#name', name);
  await page.click('#signin');
  await waitText(page, '#me', name, true);
  return page.getAttribute('#me', 'data-user-id');
}

async function joinFromList(page, roomId) {
  const item = page.locator(`#room-list li[data-room-id="${roomId}"]`);
  await item.waitFor();
  await item.locator('button.join').click();
  await page.locator(`#room-view[data-room-id="${roomId}"]`).waitFor();
}

// messagesWith waits until a .message whose .content is text is shown and
// returns every such message as {sender, content}.
async function messagesWith(page, text) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages .message .content')].some((c) => c.textContent === t),
    text, { timeout: STEP });
  return page.$$eval('#messages .message', (els, t) => els
    .map((e) => ({ id: e.dataset.messageId, sender: e.querySelector('.sender')?.textContent, content: e.querySelector('.content')?.textContent }))
    .filter((m) => m.content === t), text);
}

// waitText waits until selector's text contains (or, with exact, equals) want.
async function waitText(page, selector, want, exact = false, timeout = STEP) {
  await page.waitForFunction(({ selector, want, exact }) => {
    const text = document.querySelector(selector)?.textContent ?? '';
    return exact ? text === want : text.includes(want);
  }, { selector, want, exact }, { timeout }).catch(async (err) => {
    throw new Error(`${selector} is ${JSON.stringify(await page.textContent(selector))}, want ${JSON.stringify(want)}: ${err.message}`);
  });
}

// control stops (what = 'stop') or starts the server.
async function control(what) {
  const res = await fetch(`${CONTROL_URL}/${what}`, { method: 'POST', signal: AbortSignal.timeout(STEP * 2) });
  assert.equal(res.status, 200, `${what}: ${await res.text()}`);
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

// messageItem is the li of the message of #messages whose content is text.
const messageItem = (page, text, list = '#messages') => page.locator(`${list} li.message`)
  .filter({ has: page.locator('.content', { hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });

// png returns a small valid PNG image: a w×h gradient, 8-bit RGB.
function png(w = 96, h = 64) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit depth, RGB, deflate, no filter, no interlace
  const rows = [];
  for (let y = 0; y < h; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < w; x++) rows.push(Math.round(255 * x / w), Math.round(255 * y / h), 200);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('two users chat in a room', { timeout: 100_000 }, async (t) => {
  const alice = await newUserPage();
  const bob = await newUserPage();
  let roomId, aliceId, bobId;
  // Steps share state: after one fails, the rest are skipped.
  let broken = false;
  const step = (name, fn, timeout = STEP * 4) => t.test(name, { timeout, skip: broken && 'an earlier step failed' }, async () => {
    broken = true;
    await fn();
    broken = false;
  });

  await step('alice signs in and creates a room', async () => {
    aliceId = await signIn(alice, 'alice');
    assert.ok(aliceId, '#me carries data-user-id');
    await alice.fill('#room-name', ROOM);
    await alice.click('#create-room');
    await alice.locator('#room-view[data-room-id]').waitFor();
    roomId = await alice.getAttribute('#room-view', 'data-room-id');
    await alice.locator(`#members li[data-user-id="${aliceId}"]`).waitFor();
  });

  await step('bob signs in and joins from the room list', async () => {
    bobId = await signIn(bob, 'bob');
    assert.notEqual(bobId, aliceId);
    await joinFromList(bob, roomId);
  });

  await step('both see each other in the member list', async () => {
    for (const page of [alice, bob]) {
      for (const id of [aliceId, bobId]) await page.locator(`#members li[data-user-id="${id}"]`).waitFor();
    }
  });

  await step('alice says hello, bob sees it exactly once', async () => {
    await alice.fill('#message-input', 'hello bob');
    await alice.click('#send');
    await messagesWith(bob, 'hello bob');
    await settle(); // a duplicate would arrive right after the original
    assert.deepEqual((await messagesWith(bob, 'hello bob')).map((m) => m.sender), ['alice']);
    assert.equal((await messagesWith(alice, 'hello bob')).length, 1, 'alice sees her own message once');
  });

  await step('alice sees bob typing', async () => {
    await bob.locator('#message-input').pressSequentially('hi al', { delay: 40 });
    await waitText(alice, '#typing', 'bob is typing');
    assert.equal(await bob.textContent('#typing'), '', 'bob does not see himself typing');
  });

  await step('bob replies, alice sees it and the indicator clears', async () => {
    await bob.locator('#message-input').pressSequentially('ice', { delay: 40 });
    await bob.click('#send');
    const got = await messagesWith(alice, 'hi alice');
    assert.deepEqual(got.map((m) => m.sender), ['bob']);
    await waitText(alice, '#typing', '', true);
    await settle();
    assert.equal((await messagesWith(bob, 'hi alice')).length, 1, 'bob sees his own reply once');
  });

  await step('bob reloads, signs in again and reads the history', async () => {
    await bob.reload();
    assert.equal(await bob.isVisible('#chat-view'), false, 'a reload returns to sign-in');
    await signIn(bob, 'bob');
    await joinFromList(bob, roomId);
    const hello = await messagesWith(bob, 'hello bob');
    const reply = await messagesWith(bob, 'hi alice');
    assert.deepEqual([hello.length, reply.length], [1, 1], 'each history message shown once');
    const order = await bob.$$eval('#messages .message .content', (els) => els.map((e) => e.textContent));
    assert.ok(order.indexOf('hello bob') < order.indexOf('hi alice'), `history oldest first: ${order}`);
    assert.deepEqual([hello[0].sender, reply[0].sender], ['alice', 'bob']);
  });

  await step('bob replies to alice; alice opens the thread and follows it', async () => {
    await messageItem(bob, 'hello bob').locator('button.reply').click();
    await waitText(bob, '#reply-preview', 'alice: hello bob');
    await bob.fill('#message-input', 'nice to see you');
    await bob.click('#send');
    await bob.locator('#reply-bar').waitFor({ state: 'hidden' });
    // The reply quotes its parent in the room's list.
    const reply = messageItem(alice, 'nice to see you');
    await reply.waitFor();
    assert.equal(await reply.locator('.quote').textContent(), 'alice: hello bob');
    await messageItem(alice, 'hello bob').locator('button.thread').click();
    await alice.locator('#thread').waitFor();
    await waitText(alice, '#thread-parent .content', 'hello bob', true);
    await messageItem(alice, 'nice to see you', '#thread-messages').waitFor();
    // A new reply comes into the open thread live.
    await messageItem(bob, 'hello bob').locator('button.reply').click();
    await bob.fill('#message-input', 'how are you?');
    await bob.click('#send');
    await messageItem(alice, 'how are you?', '#thread-messages').waitFor();
    // Alice answers in the thread; bob sees a reply to her message.
    await alice.fill('#thread-input', 'fine, thanks');
    await alice.click('#thread-send');
    await messageItem(bob, 'fine, thanks').locator('.quote', { hasText: 'alice: hello bob' }).waitFor();
    assert.deepEqual(await alice.$$eval('#thread-messages li.message .content', (els) => els.map((e) => e.textContent)),
      ['nice to see you', 'how are you?', 'fine, thanks'], 'the thread lists the replies once, oldest first');
    await waitText(bob, '#messages li.message:first-child .replies', '3 replies', true);
  });

  await step('alice edits her message, bob sees the new text marked edited', async () => {
    await messageItem(alice, 'hello bob').locator('button.edit').click();
    await alice.fill('#edit-input', 'hello bob, edited');
    await alice.click('#edit-save');
    const edited = messageItem(bob, 'hello bob, edited');
    await edited.waitFor();
    assert.equal(await edited.locator('.edited').textContent(), '(edited)');
    await messageItem(alice, 'hello bob, edited').locator('.edited').waitFor();
    assert.equal(await alice.locator('#edit-input').count(), 0, 'the editor closes');
    // The thread's parent follows the edit.
    await waitText(alice, '#thread-parent .content', 'hello bob, edited', true);
    assert.equal(await bob.locator('#messages button.edit').count(), 3, 'bob may edit his own three messages, no others');
  });

  await step('bob deletes his message, alice sees it marked deleted', async () => {
    const [{ id }] = await messagesWith(alice, 'hi alice');
    const del = messageItem(bob, 'hi alice').locator('button.delete');
    await del.click();
    await del.click(); // the second click confirms
    const gone = alice.locator(`#messages li.message.deleted[data-message-id="${id}"]`);
    await gone.waitFor();
    assert.equal(await gone.locator('.content').textContent(), 'message deleted');
    assert.equal(await gone.locator('button.edit, button.delete, button.reply').count(), 0, 'a deleted message has no actions');
    await bob.locator(`#messages li.message.deleted[data-message-id="${id}"]`).waitFor();
    // alice is the room's admin: she may delete bob's messages too.
    assert.ok(await messageItem(alice, 'how are you?').locator('button.delete').count() === 1, 'the admin may delete others\' messages');
    assert.equal(await messageItem(bob, 'fine, thanks').locator('button.delete').count(), 0, 'bob may not delete alice\'s');
  });

  await step('alice shares an image, bob sees it load', async () => {
    const cfg = await alice.evaluate(() => fetch('/config.json').then((r) => r.json()));
    assert.equal(cfg.fileSharing, true, 'the e2e test needs the server to run with file sharing (ENABLE_FILE_SHARING=true)');
    // Over the limit: refused by the page when config.json names the limit,
    // else by the server (413); either way #status says too_large.
    const limit = cfg.maxFileSize || 10 << 20; // the library's default
    if (limit <= 64 << 20) {
      const big = join(tmp, 'too-big.bin');
      writeFileSync(big, Buffer.alloc(limit + 1));
      await alice.setInputFiles('#file-input', big);
      await alice.click('#upload');
      await waitText(alice, '#status', 'too_large');
    }
    const file = join(tmp, 'gradient.png');
    writeFileSync(file, png());
    await alice.setInputFiles('#file-input', file);
    await alice.click('#upload');
    await waitText(alice, '#status', 'shared gradient.png');
    for (const page of [bob, alice]) {
      const img = page.locator('#messages li.message img.attachment[alt="gradient.png"]');
      await img.waitFor();
      await page.waitForFunction((e) => e.complete && e.naturalWidth > 0, await img.elementHandle(), { timeout: STEP });
      assert.equal(await img.evaluate((e) => e.naturalWidth), 96);
    }
  });

  await step('bob sets his status to away, alice sees it', async () => {
    await bob.selectOption('#presence-status', 'away');
    await alice.locator(`#members li[data-user-id="${bobId}"][data-presence="away"]`).waitFor();
    await bob.fill('#custom-status', 'at lunch');
    await bob.press('#custom-status', 'Enter');
    await waitText(alice, `#members li[data-user-id="${bobId}"] .presence-note`, 'away · at lunch', true);
    await bob.locator(`#members li[data-user-id="${bobId}"][data-presence="away"]`).waitFor();
    assert.equal(await alice.getAttribute(`#members li[data-user-id="${aliceId}"]`, 'data-presence'), 'online');
  });

  await step('the server restarts: both pages reconnect and resume the room, a message written offline goes out once', async () => {
    await control('stop');
    for (const page of [alice, bob]) await waitText(page, '#status', 'reconnecting');
    await alice.fill('#message-input', 'written offline');
    await alice.click('#send');
    await waitText(alice, '#status', 'offline: the message goes out once reconnected', true);
    assert.equal(await alice.inputValue('#message-input'), '', 'the message left the input');
    await control('start');
    // The pages retry with backoff (0.5 s doubling, jittered): the wait after
    // the start is about as long as the server was down.
    for (const page of [alice, bob]) await waitText(page, '#status', `joined ${ROOM}`, true, STEP * 2);
    await messagesWith(bob, 'written offline');
    await bob.fill('#message-input', 'back again');
    await bob.click('#send');
    await messagesWith(alice, 'back again');
    await settle();
    for (const page of [alice, bob]) {
      for (const text of ['written offline', 'back again', 'hello bob, edited', 'fine, thanks']) {
        assert.equal((await messagesWith(page, text)).length, 1, `${text} shown once after the restart`);
      }
    }
    // bob's page says again that he is away: the new server did not know.
    await waitText(alice, `#members li[data-user-id="${bobId}"] .presence-note`, 'away · at lunch', true);
  });

  await step('bob closes his page, alice sees him offline after the grace', async () => {
    await bob.close();
    const entry = alice.locator(`#members li[data-user-id="${bobId}"][data-presence="offline"]`);
    await entry.waitFor({ timeout: GRACE + STEP });
    await waitText(alice, `#members li[data-user-id="${bobId}"] .presence-note`, 'last seen ');
  }, GRACE + STEP * 2);

  await step('alice mentions bob while his page is closed; his two tabs follow his reading', async () => {
    await alice.fill('#message-input', `@bob look at this, "quoted" é`);
    await alice.click('#send');
    await messagesWith(alice, `@bob look at this, "quoted" é`);
    const tab1 = await newUserPage();
    const tab2 = await newUserPage();
    for (const tab of [tab1, tab2]) {
      assert.equal(await signIn(tab, 'bob'), bobId);
      await waitText(tab, '#unread', '1', true);
    }
    await tab1.click('#bell');
    const item = tab1.locator('#notification-list li[data-testid="notification"]').first();
    await waitText(tab1, '#notification-list li .title', 'alice mentioned you', true);
    await item.click();
    await tab1.locator(`#room-view[data-room-id="${roomId}"]`).waitFor();
    await waitText(tab1, '#unread', '0', true);
    await waitText(tab2, '#unread', '0', true);
    await tab1.close();
    await tab2.close();
  });

  assert.equal(broken, false, 'every step passed');
  if (process.env.SCREENSHOT) await alice.screenshot({ path: process.env.SCREENSHOT, timeout: STEP });
  assert.deepEqual(pageErrors.map(String), [], 'no uncaught errors in the pages');
});

test('a room of more than 500 members lists every member', { timeout: 60_000, skip: !BIG_ROOM_ID && 'set BIG_ROOM_ID' }, async () => {
  // The server started with BIG_ROOM_ID already stored: carol's room with
  // members m0, m1, ... in that order (main_test.go seeds it). dave's
  // join-room ack lists the first 500; the page pages through the rest.
  const dave = await newUserPage();
  await signIn(dave, 'dave');
  await joinFromList(dave, BIG_ROOM_ID);
  const want = BIG_ROOM_MEMBERS + 1; // and dave
  await dave.waitForFunction((n) => document.querySelectorAll('#members li').length === n, want, { timeout: STEP });
  for (const id of ['u-carol', 'u-m0', `u-m${BIG_ROOM_MEMBERS - 2}`, 'u-dave']) {
    await dave.locator(`#members li[data-user-id="${id}"]`).waitFor();
  }
  // Every member exactly once (the page lists them by name).
  const ids = await dave.evaluate(() => [...document.querySelectorAll('#members li')].map((li) => li.dataset.userId));
  const expected = ['u-carol', 'u-dave', ...Array.from({ length: BIG_ROOM_MEMBERS - 1 }, (_, i) => `u-m${i}`)];
  assert.deepEqual([...ids].sort(), expected.sort());
  assert.deepEqual(pageErrors, []);
});
