#!/usr/bin/env node
// `node scripts/run-built.mjs <entry> [args…]`: runs a built entry point (e.g.
// apps/receiver/dist/cli/send-test-webhook.js) with its arguments, building first when it is
// missing or older than the sources. What the root package's CLI scripts go through. The entry
// runs in this very process (no child): signals, exit codes and stdout are the entry's own, so a
// Ctrl-C reaches it once and it shuts down gracefully.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildIfStale, root } from './build-if-stale.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-built.mjs <entry point> [arguments]\n');
  process.exit(2);
}
buildIfStale([entry]);
const file = join(root, entry);
process.argv = [process.execPath, file, ...args];
await import(pathToFileURL(file).href);
