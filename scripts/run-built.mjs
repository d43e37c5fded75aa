#!/usr/bin/env node
// `node scripts/run-built.mjs <entry> [args…]`: runs a built entry point (e.g.
// apps/receiver/dist/cli/send-test-webhook.js) with its arguments, building first when it is
// missing or older than the sources. What the root package's CLI scripts go through.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildIfStale, root } from './build-if-stale.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-built.mjs <entry point> [arguments]\n');
  process.exit(2);
}
buildIfStale([entry]);
const child = spawn(process.execPath, [join(root, entry), ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
