// What the React tests share: the hub's URLs (clients/clients_test.go
// serves a real hub and tells them), tokens, Node clients playing the other
// users, and bounded waits.
import './dom.mjs';
import { after, afterEach } from 'node:test';
import { cleanup } from '@testing-library/react';
import { createElement as h } from 'react';
import { connect } from '@realtime-go/client';
import { RealtimeProvider } from '../dist/index.js';

export const HUB = process.env.HUB_URL;
export const FILES = process.env.FILES_URL;
export const CONTROL = process.env.CONTROL_URL;
export const STEP = 10_000;

setTimeout(() => { console.error('react tests: watchdog after 150 s'); process.exit(2); }, 150_000).unref();

const clients = [];
afterEach(() => cleanup());
after(() => { for (const c of clients) c.close(); });

/** A fresh user name per test run, so that rooms and notifications do not mix. */
export const uniq = (name) => `${name}${Math.random().toString(36).slice(2, 7)}`;

export const token = async (user) => (await fetch(`${CONTROL}/token?user=${user}`)).text();
export const control = (path) => fetch(`${CONTROL}/${path}`, { method: 'POST' });
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A client of user (closed after the tests). */
export function open(user, options = {}) {
  const c = connect(HUB, { getToken: () => token(user), minBackoff: 50, maxBackoff: 200, ...options });
  clients.push(c);
  return c;
}

export function until(c, event, pred = () => true) {
  return new Promise((resolve, reject) => {
    const off = c.on(event, (d) => { if (pred(d)) { off(); clearTimeout(timer); resolve(d); } });
    const timer = setTimeout(() => { off(); reject(new Error(`no ${event} within ${STEP} ms`)); }, STEP);
  });
}

export const isOpen = (c) => (c.state === 'open' ? Promise.resolve() : until(c, 'state', (s) => s === 'open'));

/** children inside a RealtimeProvider of client (with the hub's file handler). */
export const withClient = (client, ...children) => h(RealtimeProvider, { client, filesUrl: FILES }, ...children);

/** A room created by owner, joined by the other clients. */
export async function sharedRoom(owner, others, name = 'room') {
  await isOpen(owner);
  const { room } = await owner.emit('create-room', { name: uniq(name) });
  await owner.join(room.id);
  for (const c of others) { await isOpen(c); await c.join(room.id); }
  return room;
}

export const waitOpts = { timeout: STEP, interval: 20 };
