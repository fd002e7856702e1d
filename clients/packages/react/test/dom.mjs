// A jsdom window as the globals React and Testing Library use; imported
// first by every test file. Node's own fetch, FormData, Blob, File and
// WebSocket stay: the hooks talk to the real hub through them.
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', {
  url: process.env.FILES_URL || 'http://127.0.0.1/', pretendToBeVisual: true,
});
const { window } = dom;
globalThis.window = window;
globalThis.document = window.document;
Object.defineProperty(globalThis, 'navigator', { configurable: true, value: window.navigator });
for (const key of Object.getOwnPropertyNames(window)) {
  if (key in globalThis || key.startsWith('_')) continue;
  Object.defineProperty(globalThis, key, { configurable: true, enumerable: true, get: () => window[key] });
}
