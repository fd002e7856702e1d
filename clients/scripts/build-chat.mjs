// Writes the chat example's copy of @realtime-go/client: the package's tsc
// build, one ES module without imports, which examples/chat embeds so that
// `go run ./examples/chat` needs no npm.
//
//   node scripts/build-chat.mjs [built index.js] [output]
//
// `npm run build:chat` builds the package and runs it with the defaults;
// clients_test.go runs it on a fresh build and compares with the committed file.
import { readFileSync, writeFileSync } from 'node:fs';

const [from = 'packages/client/dist/index.js', to = '../examples/chat/web/realtime-client.js'] = process.argv.slice(2);
const code = readFileSync(from, 'utf8');
if (/^\s*(import|export)\b[^;]*\bfrom\s/m.test(code)) {
  console.error(`${from} imports other modules: the chat example needs one file (bundle it)`);
  process.exit(1);
}
const header = '// @realtime-go/client for the chat example, generated from clients/packages/client\n' +
  '// by `npm run build:chat` in clients/: do not edit (go test ./clients/ checks it).\n';
writeFileSync(to, header + code);
