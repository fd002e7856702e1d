// End-to-end test of the React chat example (the built app in dist/): two
// users in headless Chromium, through a running example server.
//
//   BASE_URL=http://127.0.0.1:8080 CONTROL_URL=... node --test e2e/react-chat.test.mjs
//
// Env: BASE_URL (required); CONTROL_URL (POST /restart restarts the server
// on the same address; main_test.go serves it); CHROMIUM (default
// /usr/bin/chromium); SCREENSHOT_DIR (where the PNGs go; default a new
// temporary directory); PRESENCE_GRACE_MS (the server's presence grace,
// default 6000).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL || '').replace(/\/$/, '');
const CONTROL_URL = process.env.CONTROL_URL || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR || mkdtempSync(join(tmpdir(), 'react-chat-'));
const GRACE = Number(process.env.PRESENCE_GRACE_MS) || 6000;
const STEP = 10_000; // bound on every wait
const ROOM = `react e2e ${Date.now().toString(36)}`;
// A 48×32 PNG, one colour.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAADAAAAAgCAIAAADbtmxLAAAAMklEQVR42u3OMQ0AAAgDsDnAHyLwf+KCcDSpgKamX4mQkJCQkJCQkJCQkJCQkJCQ0KUFnSUKTE4qFtsAAAAASUVORK5CYII=', 'base64');

let browser;
const pageErrors = [];

setTimeout(() => { console.error('e2e: watchdog fired after 150 s'); process.exit(2); }, 150_000).unref();

before(async () => {
  assert.ok(BASE_URL, 'set BASE_URL, e.g. http://127.0.0.1:8080');
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, timeout: STEP * 3,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => { await browser?.close(); });

async function newUserPage() {
  const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  page.setDefaultTimeout(STEP);
  page.setDefaultNavigationTimeout(STEP);
  page.on('pageerror', (err) => pageErrors.push(err));
  return page;
}

async function signIn(page, name) {
  await page.goto(BASE_URL + '/');
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('me').filter({ hasText: name }).waitFor();
  await page.locator('[data-state="open"]').waitFor();
}

/** Sends n messages "bulk i" to roomId as user, over the protocol (Node's WebSocket). */
async function sendMany(user, roomId, n) {
  const res = await fetch(`${BASE_URL}/dev/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: user }) });
  const { token } = await res.json();
  const ws = new WebSocket(`${BASE_URL.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`, 'realtime.v1');
  const acks = new Map();
  ws.onmessage = (e) => {
    for (const line of String(e.data).split('\n')) {
      const f = line && JSON.parse(line);
      if (f?.ack) acks.get(f.ack)?.(f);
    }
  };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let next = 0;
  const emit = (event, data) => new Promise((resolve, reject) => {
    const ack = ++next;
    const timer = setTimeout(() => reject(new Error(`no ack to ${event}`)), STEP);
    acks.set(ack, (f) => { clearTimeout(timer); if (f.error) reject(new Error(f.error.message)); else resolve(f.data); });
    ws.send(JSON.stringify({ event, data, ack }));
  });
  try {
    await emit('join-room', { roomId });
    for (let i = 0; i < n; i++) await emit('message', { roomId, content: `bulk ${i}` });
  } finally {
    ws.close();
  }
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, name), timeout: STEP });
const feed = (page) => page.getByRole('feed', { name: 'Messages' });
const message = (page, text) => feed(page).getByRole('article').filter({ hasText: text });
const members = (page) => page.getByRole('region', { name: /Members/ });

/** The ids of the messages a page shows, in order. */
const shownIds = (page) => feed(page).locator('article[data-message-id]').evaluateAll((els) => els.map((e) => e.dataset.messageId));

test('two users chat with the React app', { timeout: 120_000 }, async (t) => {
  const alice = await newUserPage();
  const bob = await newUserPage();
  let broken = false; // steps share state: after one fails, the rest are skipped (and counted as failures)
  const step = (name, fn) => t.test(name, { timeout: STEP * 4, skip: broken && 'an earlier step failed' }, async () => {
    broken = true;
    await fn();
    broken = false;
  });

  await step('alice signs in and creates a room', async () => {
    await signIn(alice, 'alice');
    await alice.getByLabel('New room').fill(ROOM);
    await alice.getByRole('button', { name: 'Create' }).click();
    await alice.getByRole('heading', { name: ROOM }).waitFor();
    assert.match(alice.url(), /#\/rooms\/.+/, 'the URL names the room');
  });

  await step('bob signs in and opens the room from the list', async () => {
    await signIn(bob, 'bob');
    await bob.getByRole('button', { name: 'Refresh the rooms' }).click();
    await bob.getByRole('navigation', { name: 'Rooms' }).getByRole('button', { name: ROOM }).click();
    await bob.getByRole('heading', { name: ROOM }).waitFor();
  });

  await step('presence: each sees the other online', async () => {
    await members(alice).getByRole('img', { name: 'bob is online' }).waitFor();
    await members(bob).getByRole('img', { name: 'alice is online' }).waitFor();
  });

  await step('typing shows while bob types', async () => {
    await bob.getByLabel('Message', { exact: true }).pressSequentially('hello al');
    await alice.getByText('bob is typing…').waitFor();
  });

  await step('they chat; the message of the other is announced', async () => {
    await bob.getByLabel('Message', { exact: true }).pressSequentially('ice');
    await bob.keyboard.press('Enter');
    await message(alice, 'hello alice').waitFor();
    await alice.getByText('bob is typing…').waitFor({ state: 'detached' });
    await alice.waitForFunction(() => document.querySelector('[data-testid="rt-announcer"]')?.textContent === 'bob: hello alice', null, { timeout: STEP });
    await alice.getByLabel('Message', { exact: true }).fill('hi bob');
    await alice.keyboard.press('Enter');
    await message(bob, 'hi bob').waitFor();
    await feed(alice).locator('article[data-status="sent"]', { hasText: 'hi bob' }).waitFor();
    await shot(alice, '01-chat-alice.png');
    await shot(bob, '01-chat-bob.png');
  });

  await step('a mention notifies alice, who marks it read', async () => {
    await bob.getByLabel('Message', { exact: true }).fill('@alice have a look');
    await bob.keyboard.press('Enter');
    const toggle = alice.getByRole('button', { name: /^Notifications/ });
    await toggle.getByLabel('1 unread').waitFor();
    await toggle.click();
    const panel = alice.getByRole('region', { name: 'Notifications' });
    const item = panel.getByRole('listitem').first();
    await item.waitFor();
    await shot(alice, '02-notification.png');
    await item.getByRole('button', { name: /^Mark ".*" as read$/ }).click();
    await toggle.getByLabel('1 unread').waitFor({ state: 'detached' });
    await panel.getByText('0 unread').waitFor();
    await alice.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
  });

  await step('alice shares an image; bob sees it', async () => {
    await alice.getByLabel('Attach a file').setInputFiles({ name: 'pixel.png', mimeType: 'image/png', buffer: PNG });
    await alice.getByText('Shared pixel.png.').waitFor();
    const img = feed(bob).getByRole('img', { name: 'pixel.png' });
    await img.waitFor();
    await bob.waitForFunction((el) => el.complete && el.naturalWidth === 48, await img.elementHandle(), { timeout: STEP });
    const got = await img.evaluate(async (el) => { const r = await fetch(el.src); return { status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength }; });
    assert.deepEqual(got, { status: 200, type: 'image/png', size: PNG.length });
    await shot(bob, '03-file-bob.png');
  });

  await step('the server restarts: both reconnect, the history resumes, nothing twice', async () => {
    assert.ok(CONTROL_URL, 'CONTROL_URL restarts the server');
    const before = await shownIds(alice);
    assert.equal(before.length, 4);
    await alice.evaluate(() => {
      const el = document.querySelector('[data-state]');
      window.__states = [];
      new MutationObserver(() => window.__states.push(el.dataset.state)).observe(el, { attributes: true, attributeFilter: ['data-state'] });
    });
    const res = await fetch(`${CONTROL_URL}/restart`, { method: 'POST' });
    assert.equal(res.status, 200);
    await alice.waitForFunction(() => window.__states.includes('reconnecting') && window.__states.at(-1) === 'open', null, { timeout: STEP * 2 });
    await bob.locator('[data-state="open"]').waitFor({ timeout: STEP * 2 });
    await bob.getByLabel('Message', { exact: true }).fill('after the restart');
    await bob.keyboard.press('Enter');
    await message(alice, 'after the restart').waitFor();
    await alice.waitForTimeout(500); // a doubled message would show here
    const ids = await shownIds(alice);
    assert.deepEqual(ids.slice(0, 4), before, 'the history before the restart, unchanged');
    assert.equal(ids.length, 5);
    assert.equal(new Set(ids).size, 5, 'no message twice');
    assert.deepEqual(await shownIds(bob), ids, 'bob sees the same');
    await shot(alice, '04-after-restart.png');
  });

  await step('a long history: a new reader pages it in by scrolling up, with only a window in the DOM', async () => {
    const roomId = decodeURIComponent(alice.url().split('#/rooms/')[1]);
    await sendMany('dave', roomId, 150);
    await message(alice, 'bulk 149').waitFor();
    assert.ok(await feed(alice).getByRole('article').count() < 40, 'alice got 150 live messages; a window is rendered');

    const carol = await newUserPage();
    await signIn(carol, 'carol');
    await carol.evaluate((id) => { location.hash = `#/rooms/${encodeURIComponent(id)}`; }, roomId);
    await carol.locator('[role="feed"][data-total="50"]').waitFor();
    await message(carol, 'bulk 149').waitFor();
    // Scrolled to the top by hand: the page before loads, and what was on top (bulk 100) stays there.
    await feed(carol).evaluate((el) => { el.scrollTop = 0; });
    await carol.locator('[role="feed"][data-total="100"]').waitFor();
    const kept = await message(carol, 'bulk 100').evaluate((el) => {
      const list = el.closest('[role="feed"]').getBoundingClientRect(), r = el.getBoundingClientRect();
      return { top: Math.round(r.top - list.top), scrollTop: el.closest('[role="feed"]').scrollTop };
    });
    assert.ok(Math.abs(kept.top) < 40 && kept.scrollTop > 0, `the reader's place is kept: bulk 100 still on top (${JSON.stringify(kept)})`);
    const rendered = await feed(carol).getByRole('article').count();
    assert.ok(rendered > 3 && rendered < 40, `${rendered} of 100 messages in the DOM`);
    await shot(carol, '05-long-history-carol.png');
    await carol.close();
  });

  await step('presence: bob leaves, alice sees him offline', async () => {
    await bob.close();
    await members(alice).getByRole('img', { name: 'bob is offline' }).waitFor({ timeout: GRACE + STEP });
    await shot(alice, '06-bob-offline.png');
  });

  assert.deepEqual(pageErrors.map(String), [], 'no error in the pages');
  console.log(`screenshots in ${SHOTS}`);
});
