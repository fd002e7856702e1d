// End-to-end test of the chat example's browser UI: two users in headless
// Chromium talk through a running example server.
//
//   BASE_URL=http://127.0.0.1:8080 node --test chat.test.mjs
//
// Env: BASE_URL (required), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT (optional PNG path for alice's page at the end).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || '').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP = 10_000; // bound on every wait
const ROOM = `e2e-${Date.now().toString(36)}`;

let browser;
const pageErrors = [];

// Last resort: the run ends by itself even if the browser hangs on close.
setTimeout(() => {
  console.error('e2e: watchdog fired after 120 s');
  process.exit(2);
}, 120_000).unref();

before(async () => {
  assert.ok(BASE_URL, 'set BASE_URL, e.g. http://127.0.0.1:8080');
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
async function waitText(page, selector, want, exact = false) {
  await page.waitForFunction(({ selector, want, exact }) => {
    const text = document.querySelector(selector)?.textContent ?? '';
    return exact ? text === want : text.includes(want);
  }, { selector, want, exact }, { timeout: STEP }).catch(async (err) => {
    throw new Error(`${selector} is ${JSON.stringify(await page.textContent(selector))}, want ${JSON.stringify(want)}: ${err.message}`);
  });
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

test('two users chat in a room', { timeout: 90_000 }, async (t) => {
  const alice = await newUserPage();
  const bob = await newUserPage();
  let roomId, aliceId, bobId;
  // Steps share state: after one fails, the rest are skipped.
  let broken = false;
  const step = (name, fn) => t.test(name, { timeout: STEP * 4, skip: broken && 'an earlier step failed' }, async () => {
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

  assert.equal(broken, false, 'every step passed');
  if (process.env.SCREENSHOT) await alice.screenshot({ path: process.env.SCREENSHOT, timeout: STEP });
  assert.deepEqual(pageErrors.map(String), [], 'no uncaught errors in the pages');
});
