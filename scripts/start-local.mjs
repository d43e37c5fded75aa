#!/usr/bin/env node
// `pnpm start`: the whole system on one machine without Docker. Builds if the sources are newer
// than dist, makes sure a Redis answers at REDIS_URL (starting `redis-server` for the session when
// nothing does and it is on PATH; data in LOCAL_REDIS_DIR, default .redis-data/, stopped on exit),
// then runs the receiver and one worker. Logs are pretty when stdout is a terminal.
//
// Configuration comes from the environment, then .env; with neither, from .env.example. The
// receiver refuses a public secret (.env.example's placeholder), so when no signing secret is set,
// or only a placeholder, the session makes a random one and writes it to LOCAL_SESSION_FILE
// (.local/session.env, git-ignored, removed on exit): `pnpm send-test-webhook` signs with it, and so
// can curl (README). `pnpm start` and `pnpm send-test-webhook` work out of the box, nothing public
// is ever accepted.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildIfStale } from './build-if-stale.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const log = (message) => process.stderr.write(`[start] ${message}\n`);

const AUTH_VARIABLES = ['FLEXPRICE_WEBHOOK_SECRET', 'FLEXPRICE_WEBHOOK_AUTH_HEADER', 'FLEXPRICE_WEBHOOK_AUTH'];
if (existsSync(join(root, '.env'))) {
  process.loadEnvFile(join(root, '.env'));
  log('configuration from .env');
} else if (!AUTH_VARIABLES.some((name) => process.env[name])) {
  process.loadEnvFile(join(root, '.env.example'));
  log('no .env: using .env.example for this local run');
}

const entries = ['apps/receiver/dist/main.js', 'apps/worker/dist/main.js'];
buildIfStale(entries, (message) => log(message));

// One list of public secrets, the receiver's own (packages/runtime), built just above.
const { isExampleSecret, listOf } = await import(pathToFileURL(join(root, 'packages/runtime/dist/index.js')).href);
const sessionFile = resolve(root, process.env.LOCAL_SESSION_FILE ?? '.local/session.env');
rmSync(sessionFile, { force: true });
const secrets = listOf(process.env.FLEXPRICE_WEBHOOK_SECRET);
const otherAuth = process.env.FLEXPRICE_WEBHOOK_AUTH_HEADER || process.env.FLEXPRICE_WEBHOOK_AUTH;
if (secrets.some(isExampleSecret) || (secrets.length === 0 && !otherAuth)) {
  // A secret set by hand but wrong otherwise (too short, say) is left to the receiver to refuse.
  process.env.FLEXPRICE_WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
  mkdirSync(dirname(sessionFile), { recursive: true });
  writeFileSync(sessionFile, `FLEXPRICE_WEBHOOK_SECRET=${process.env.FLEXPRICE_WEBHOOK_SECRET}\n`, { mode: 0o600 });
  log(
    `${secrets.length === 0 ? 'no signing secret set' : 'the signing secret is a public placeholder'}: ` +
      `this session signs with a new one, in ${relative(process.cwd(), sessionFile)} (pnpm send-test-webhook uses it)`,
  );
}

/** Whether a Redis answers PING at host:port within a second. */
async function redisAnswers(host, port) {
  const socket = createConnection({ host, port });
  socket.setTimeout(1_000);
  try {
    await once(socket, 'connect');
    socket.write('PING\r\n');
    const [data] = await once(socket, 'data');
    return data.toString().startsWith('+PONG');
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

const children = [];
let redisServer;

const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const host = redisUrl.hostname || '127.0.0.1';
const port = Number(redisUrl.port || 6379);
if (!process.env.REDIS_CLUSTER_NODES && !(await redisAnswers(host, port))) {
  const local = ['127.0.0.1', 'localhost', '::1'].includes(host);
  const available = spawnSync('redis-server', ['--version']).status === 0;
  if (!local || !available) {
    log(`nothing answers at ${host}:${port}; start Redis there or set REDIS_URL`);
    process.exit(1);
  }
  const dir = resolve(root, process.env.LOCAL_REDIS_DIR ?? '.redis-data');
  mkdirSync(dir, { recursive: true });
  log(`starting redis-server on ${port} (data in ${dir}, stopped on exit)`);
  redisServer = spawn(
    'redis-server',
    // noeviction, as the apps require (they refuse to start on any other policy).
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers('127.0.0.1', port))) {
    if (Date.now() > deadline || redisServer.exitCode !== null) {
      log('redis-server did not start');
      process.exit(1);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

const pretty = process.stdout.isTTY ? (await import('pino-pretty')).default : undefined;

function start(name, entry) {
  const child = spawn(process.execPath, [entry], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
  if (pretty) child.stdout.pipe(pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  else child.stdout.pipe(process.stdout, { end: false });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
  children.push(child);
}

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
  for (const child of running) child.kill('SIGTERM');
  await Promise.all(running.map((child) => once(child, 'exit')));
  if (redisServer && redisServer.exitCode === null) {
    redisServer.kill('SIGTERM');
    await once(redisServer, 'exit');
  }
  rmSync(sessionFile, { force: true });
  process.exit(code);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

start('receiver', entries[0]);
start('worker', entries[1]);
log(`receiver on http://127.0.0.1:${process.env.PORT ?? 3000}; try: pnpm send-test-webhook`);
