// The app takes @realtime-go/client and @realtime-go/react from their
// sources in clients/ (no npm link, no separate build), and React from this
// directory only (dedupe), so that the packages and the app share one React.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const clients = (path) => fileURLToPath(new URL(`../../clients/packages/${path}`, import.meta.url));
const server = process.env.REACT_CHAT_SERVER || 'http://127.0.0.1:8080';

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@realtime-go\/client$/, replacement: clients('client/src/index.ts') },
      { find: /^@realtime-go\/react$/, replacement: clients('react/src/index.ts') },
      { find: /^@realtime-go\/react\/styles\.css$/, replacement: clients('react/styles.css') },
    ],
    dedupe: ['react', 'react-dom'],
  },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  // npm run dev: the Go server (go run ./examples/react-chat) answers the rest.
  server: {
    proxy: {
      '/ws': { target: server.replace(/^http/, 'ws'), ws: true },
      '/dev': server, '/files': server, '/config.json': server,
    },
  },
});
