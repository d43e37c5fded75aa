#!/usr/bin/env node
// pnpm bench [--soak]: the built receiver and worker against a bare Express app, a naive receiver and
// a naive worker, side by side in one run, on a Redis of its own. Prints a table and writes
// bench/results/latest.json. These machines are noisy: compare the ratios of one run, not runs.
//
//   BENCH_SECONDS (5)   measured seconds per receiver run      BENCH_JOBS (10000)  jobs per drain
//   BENCH_RATE (500)    offered req/s of the end-to-end run    --soak              adds 5 minutes
//   BENCH_APPENDFSYNC (everysec)  Redis's AOF policy           --receivers-only    skips the rest
//                                                              --workers-only      the drains only
//   BENCH_LOADGEN (wrk when installed, else autocannon)  the load generator of the throughput runs
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { idempotencyKey, webhookJobOptions } from '@flexprice/contracts';
import { currentCustomer, customerEvent, FAMILY_FIXTURES } from '@flexprice/contracts/fixtures';
import { startFlexpriceApiStandIn } from '@flexprice/testing/flexprice-api';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';

const root = fileURLToPath(new URL('..', import.meta.url));
const SOAK = process.argv.includes('--soak');
const RECEIVERS_ONLY = process.argv.includes('--receivers-only');
const WORKERS_ONLY = process.argv.includes('--workers-only');
const APPENDFSYNC = process.env.BENCH_APPENDFSYNC ?? 'everysec';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const CONNECTIONS = 50;
// wrk (C, one thread) leaves the CPU to the servers; autocannon spends about as much CPU per
// request as a bare Express app does, on the same two cores. Fixed-rate runs always use autocannon.
const LOADGEN = process.env.BENCH_LOADGEN ?? (spawnSync('wrk', ['--version']).error ? 'autocannon' : 'wrk');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const FORWARD_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
const STATIC = { header: 'x-api-key', token: 'bench-static-token-0123456789' };
const API_KEY = 'bench-flexprice-api-key';
const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

const children = new Set();
function start(script, env, { stdout = 'ignore' } = {}) {
  const child = spawn(process.execPath, [join(root, script)], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['pipe', stdout, 'inherit'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
}
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function waitHttp(url, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { method: 'GET' });
      if (res.status < 500) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`${url} did not answer`);
}

/** Resident set size of a process, in MiB. */
/** CPU time (user + system) a process has used so far, in microseconds (Linux, 100 ticks/s). */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

// --- Redis of our own (AOF everysec, as compose runs it) -------------------------------------------
const redisDir = mkdtempSync(join(tmpdir(), 'flexprice-bench-'));
const redisPort = await freePort();
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const redisServer = spawn(
  'redis-server',
  [
    '--port',
    String(redisPort),
    '--bind',
    '127.0.0.1',
    '--dir',
    redisDir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    APPENDFSYNC,
    '--maxmemory-policy',
    'noeviction',
  ],
  { stdio: 'ignore' },
);
children.add(redisServer);
// Reconnects every 50 ms until redis-server listens; PING waits in the offline queue until then.
const redis = new Redis(redisUrl, { retryStrategy: () => 50 });
redis.on('error', () => {});
await redis.ping();
const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];

async function commandCalls() {
  const stats = await redis.info('commandstats');
  let total = 0;
  for (const match of stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
    if (!['info', 'flushall', 'ping', 'client', 'config'].includes(match[1])) total += Number(match[2]);
  }
  return total;
}

// --- Requests: distinct customer.created deliveries, pre-signed --------------------------------------
let sequence = 0;
/** `customers`: how many distinct customers the deliveries are about (default: one each). */
function makePool(count, auth, customers = Number.POSITIVE_INFINITY) {
  const signer = new Webhook(SECRET);
  const pool = [];
  for (let i = 0; i < count; i += 1) {
    sequence += 1;
    const id = `cust_bench_${Number.isFinite(customers) ? sequence % customers : sequence}`;
    const body = JSON.stringify(customerEvent('customer.created', currentCustomer({ id, external_id: `ext-${id}` })));
    const headers = { 'content-type': 'application/json' };
    if (auth === 'static') {
      headers[STATIC.header] = STATIC.token;
    } else {
      const now = new Date();
      headers['svix-id'] = `msg_bench_${sequence}`;
      headers['svix-timestamp'] = String(Math.floor(now.getTime() / 1000));
      headers['svix-signature'] = signer.sign(`msg_bench_${sequence}`, now, body);
    }
    pool.push({ headers, body });
  }
  return pool;
}

/** One wrk thread with CONNECTIONS connections, each request the next raw delivery of the pool. */
const WRK_SCRIPT = `
local requests = {}
local next = 0
init = function(args)
  local file = io.open(args[1], 'rb')
  local data = file:read('*a')
  file:close()
  local at = 1
  while at <= #data do
    local newline = data:find('\\n', at, true)
    local length = tonumber(data:sub(at, newline - 1))
    requests[#requests + 1] = data:sub(newline + 1, newline + length)
    at = newline + length + 1
  end
end
request = function()
  next = next + 1
  return requests[(next - 1) % #requests + 1]
end
done = function(summary, latency)
  local e = summary.errors
  io.stderr:write(string.format('{"requests":%d,"p50":%f,"p99":%f,"errors":%d,"non2xx":%d}\\n',
    summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
`;
async function loadWrk(port, pool, seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'flexprice-wrk-'));
  try {
    const raw = pool.map(({ headers, body }) => {
      const head = Object.entries({ host: `127.0.0.1:${port}`, 'content-length': Buffer.byteLength(body), ...headers })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      const request = Buffer.from(`POST /webhooks/flexprice HTTP/1.1\r\n${head}\r\n${body}`);
      return Buffer.concat([Buffer.from(`${request.length}\n`), request]);
    });
    writeFileSync(join(dir, 'requests'), Buffer.concat(raw));
    writeFileSync(join(dir, 'script.lua'), WRK_SCRIPT);
    const child = spawn(
      'wrk',
      [
        '-t1',
        `-c${CONNECTIONS}`,
        `-d${seconds}s`,
        '-s',
        join(dir, 'script.lua'),
        `http://127.0.0.1:${port}`,
        '--',
        join(dir, 'requests'),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const [code] = await once(child, 'exit');
    const summary = JSON.parse(stderr.trim().split('\n').pop() ?? '');
    if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr}`);
    if (summary.requests > pool.length) log(`warning: ${summary.requests} requests from a pool of ${pool.length}`);
    const accepted = summary.requests - summary.non2xx - summary.errors;
    return {
      rps: accepted / seconds,
      p50: summary.p50,
      p99: summary.p99,
      accepted,
      non2xx: summary.non2xx,
      errors: summary.errors,
      sent: summary.requests,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CONNECTIONS connections against `port` for `seconds`, each request the next distinct delivery of
 * `pool`; with `overallRate`, 10 connections at that fixed rate (autocannon).
 */
async function load(port, pool, { seconds, overallRate } = {}) {
  if (!overallRate && LOADGEN === 'wrk') return loadWrk(port, pool, seconds);
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: overallRate ? 10 : CONNECTIONS,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
    requests: [
      {
        method: 'POST',
        path: '/webhooks/flexprice',
        setupRequest: (request) => {
          const delivery = pool[next % pool.length];
          next += 1;
          return { ...request, headers: delivery.headers, body: delivery.body };
        },
      },
    ],
  });
  if (next > pool.length) log(`warning: ${next} requests from a pool of ${pool.length}`);
  const accepted = result['2xx'];
  return {
    rps: accepted / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    accepted,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    sent: next,
  };
}

const receiverEnv = (port, extra = {}) => ({
  REDIS_URL: redisUrl,
  PORT: String(port),
  HOST: '127.0.0.1',
  FLEXPRICE_WEBHOOK_SECRET: SECRET,
  FLEXPRICE_WEBHOOK_AUTH_HEADER: STATIC.header,
  FLEXPRICE_WEBHOOK_AUTH_TOKEN: STATIC.token,
  JOB_KEEP_COMPLETED: '100000',
  ...extra,
});

const results = { receivers: {}, redis: {}, workers: {}, endToEnd: {}, soak: null };
// Distinct deliveries for 12,000 req/s (twice the fastest contender here); signing them is the
// bench's own largest cost.
const poolSize = (seconds) => Math.ceil(seconds * 12_000);

// --- 1. Receivers: bare Express, naive, ours (signed, static header), same load ----------------------
const receivers = [
  ['bare Express (express.json, 202, no work)', 'bench/baselines/bare-express.mjs', 'signed'],
  ['naive receiver (Express + zod + queue.add)', 'bench/baselines/naive-receiver.mjs', 'signed'],
  ['ours, Svix-signed', 'apps/receiver/dist/main.js', 'signed'],
  ['ours, static header', 'apps/receiver/dist/main.js', 'static'],
  [
    'minimal receiver (route + HMAC + zod + deduplicated add, nothing else)',
    'bench/baselines/minimal-receiver.mjs',
    'signed',
  ],
];
// Interleaved rounds, the order rotating each round, and the median of each: one slow minute of the
// machine then hurts every contender alike instead of deciding a ratio.
const samples = new Map(receivers.map(([name]) => [name, []]));
for (let round = 0; round < (WORKERS_ONLY ? 0 : ROUNDS); round += 1) {
  const order = receivers.map((_, k) => receivers[(k + round) % receivers.length]);
  for (const [name, script, auth] of order) {
    await redis.flushall();
    const port = await freePort();
    const child = start(script, receiverEnv(port));
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    log(`receiver, round ${round + 1}/${ROUNDS}: ${name}`);
    await load(port, makePool(poolSize(1), auth), { seconds: 1 }); // warm-up (JIT, connections)
    const pool = makePool(poolSize(SECONDS), auth);
    const before = { calls: await commandCalls(), app: cpuMicros(child.pid), redis: cpuMicros(redisServer.pid) };
    const measured = await load(port, pool, { seconds: SECONDS });
    const accepted = Math.max(measured.accepted, 1);
    const calls = (await commandCalls()) - before.calls;
    samples.get(name).push({
      ...measured,
      redisCommandsPerAccepted: script.includes('bare') ? 0 : calls / accepted,
      appCpuMicrosPerAccepted: (cpuMicros(child.pid) - before.app) / accepted,
      redisCpuMicrosPerAccepted: (cpuMicros(redisServer.pid) - before.redis) / accepted,
    });
    await stop(child);
  }
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
for (const [name, runs] of samples) {
  if (runs.length === 0) continue;
  results.receivers[name] = {
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
    redisCommandsPerAccepted: median(runs.map((r) => r.redisCommandsPerAccepted)),
    appCpuMicrosPerAccepted: median(runs.map((r) => r.appCpuMicrosPerAccepted)),
    redisCpuMicrosPerAccepted: median(runs.map((r) => r.redisCpuMicrosPerAccepted)),
    rounds: runs.map((r) => Math.round(r.rps)),
  };
}

if (!RECEIVERS_ONLY && !WORKERS_ONLY) {
  // --- 2. Network round trips to Redis per accepted webhook (through a counting proxy) ----------------
  for (const [name, script] of [receivers[1], receivers[2]]) {
    await redis.flushall();
    const proxyPort = await freePort();
    const proxy = start(
      'bench/baselines/redis-proxy.mjs',
      { PORT: String(proxyPort), REDIS_PORT: String(redisPort) },
      { stdout: 'pipe' },
    );
    await sleep(200);
    const port = await freePort();
    const child = start(script, receiverEnv(port, { REDIS_URL: `redis://127.0.0.1:${proxyPort}` }));
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    await load(port, makePool(poolSize(1), 'signed'), { seconds: 1 });
    const read = async () => {
      proxy.stdin.write('\n');
      const [line] = await once(proxy.stdout, 'data');
      return JSON.parse(line.toString());
    };
    const before = await read();
    const measured = await load(port, makePool(poolSize(3), 'signed'), { seconds: 3 });
    const after = await read();
    results.redis[name] = {
      roundTripsPerAccepted: (after.writes - before.writes) / Math.max(measured.accepted, 1),
      bytesPerAccepted: (after.bytes - before.bytes) / Math.max(measured.accepted, 1),
      rpsThroughProxy: measured.rps,
    };
    await stop(child);
    await stop(proxy);
  }
}

if (!RECEIVERS_ONLY) {
  // --- 3. Worker drain rate ------------------------------------------------------------------------------
  // Customer jobs, or with `invoices` invoice.update.payment jobs about that many invoices in turn.
  async function fill(prefix, count, onCustomer = () => {}, invoices = undefined) {
    const queue = new Queue(invoices ? 'flexprice.invoice' : 'flexprice.customer', { connection: redis, prefix });
    await queue.pause();
    const options = webhookJobOptions({ attempts: 10, backoffMs: 1000, keepCompleted: 100_000 });
    const eventType = invoices ? 'invoice.update.payment' : 'customer.created';
    for (let start = 0; start < count; start += 1000) {
      const batch = [];
      for (let i = start; i < Math.min(start + 1000, count); i += 1) {
        sequence += 1;
        const event = invoices
          ? {
              event_type: eventType,
              invoice: {
                ...FAMILY_FIXTURES.invoice[0].invoice,
                id: `inv_drain_${i % invoices}`,
                updated_at: new Date(Date.UTC(2026, 7, 20) + i).toISOString(),
              },
            }
          : customerEvent(
              'customer.created',
              currentCustomer({ id: `cust_drain_${sequence}`, external_id: `ext-${sequence}` }),
            );
        if (!invoices) onCustomer(`cust_drain_${sequence}`);
        const key = idempotencyKey({
          deliveryId: `msg_drain_${sequence}`,
          eventType,
          rawBody: Buffer.from(''),
        });
        const data = {
          eventType,
          event,
          receipt: {
            receivedAt: new Date().toISOString(),
            deliveryId: `msg_drain_${sequence}`,
            idempotencyKey: key,
            requestId: `req-${sequence}`,
            inferredEventType: false,
            acceptedAt: `${String(Date.now() * 1000 + (sequence % 1000)).padStart(17, '0')}`,
          },
        };
        batch.push({ name: eventType, data, opts: options });
      }
      await queue.addBulk(batch);
    }
    return queue;
  }

  async function drain(name, { script, replicas, forward, prefix, api, invoices }) {
    await redis.flushall();
    // With `api`, a loopback stand-in of Flexprice's API holds every customer: fetch on notify.
    const standIn = api ? await startFlexpriceApiStandIn({ apiKey: API_KEY }) : undefined;
    const queue = await fill(prefix, JOBS, (id) => standIn?.upsert({ id, name: id }), invoices);
    const targetPort = await freePort();
    const target = forward ? start('bench/baselines/forward-target.mjs', { PORT: String(targetPort) }) : undefined;
    const workers = [];
    for (let i = 0; i < replicas; i += 1) {
      const metricsPort = await freePort();
      workers.push(
        start(script, {
          REDIS_URL: redisUrl,
          QUEUE_PREFIX: prefix,
          WORKER_METRICS_PORT: String(metricsPort),
          WORKER_METRICS_HOST: '127.0.0.1',
          ...(forward && !invoices
            ? { CUSTOMER_FORWARD_URL: `http://127.0.0.1:${targetPort}/`, CUSTOMER_FORWARD_SECRET: FORWARD_SECRET }
            : {}),
          ...(invoices
            ? {
                ENQUEUE_EVENTS: 'customer.*,invoice.*',
                FORWARD_ROUTES: `invoice.*=http://127.0.0.1:${targetPort}/`,
                FORWARD_SECRET,
              }
            : {}),
          ...(standIn ? { FLEXPRICE_API_KEY: API_KEY, FLEXPRICE_API_URL: standIn.url } : {}),
        }),
      );
      if (!script.includes('naive')) await waitHttp(`http://127.0.0.1:${metricsPort}/readyz`);
    }
    await sleep(500);
    log(`worker: ${name}`);
    const started = Date.now();
    await queue.resume();
    let done = 0;
    while (done < JOBS) {
      await sleep(50);
      const counts = await queue.getJobCounts('completed', 'failed');
      done = counts.completed + counts.failed;
      if (Date.now() - started > 120_000) throw new Error(`${name}: ${done}/${JOBS} after 120 s`);
    }
    const seconds = (Date.now() - started) / 1000;
    const failed = (await queue.getJobCounts('failed')).failed;
    const skipped = invoices
      ? (await queue.getCompleted(0, JOBS)).filter((job) => job.returnvalue?.outcome === 'skipped_stale').length
      : undefined;
    results.workers[name] = {
      ...(skipped !== undefined && { skippedStale: skipped }),
      jobsPerSecond: JOBS / seconds,
      perReplica: JOBS / seconds / replicas,
      replicas,
      failed,
      ...(standIn && { apiCallsPerJob: standIn.calls.length / JOBS }),
    };
    await Promise.all(workers.map(stop));
    await standIn?.close();
    await stop(target);
    await queue.close();
  }
  await drain('naive worker (one HSET per job)', {
    script: 'bench/baselines/naive-worker.mjs',
    replicas: 1,
    prefix: 'naive',
  });
  for (const replicas of [1, 2]) {
    await drain(`ours, store only, ${replicas} replica(s)`, {
      script: 'apps/worker/dist/main.js',
      replicas,
      prefix: 'bull',
    });
  }
  await drain('ours, store, API-backed (fetch on notify), 1 replica(s)', {
    script: 'apps/worker/dist/main.js',
    replicas: 1,
    prefix: 'bull',
    api: true,
  });
  for (const replicas of [1, 2]) {
    await drain(`ours, store + forward, ${replicas} replica(s)`, {
      script: 'apps/worker/dist/main.js',
      replicas,
      forward: true,
      prefix: 'bull',
    });
  }
  // Routed invoices: every job its own invoice (full parallelism), then 10 invoices changing 1,000
  // times each (ordering per invoice: forwards of one invoice wait for each other, stale ones skip).
  for (const invoices of [JOBS, 10]) {
    await drain(`ours, invoices by route, ${invoices} invoices, 1 replica(s)`, {
      script: 'apps/worker/dist/main.js',
      replicas: 1,
      forward: true,
      prefix: 'bull',
      invoices,
    });
  }
}

if (!RECEIVERS_ONLY && !WORKERS_ONLY) {
  // --- 4. End to end: POST → processed at a fixed offered load -------------------------------------------
  async function system(receiverExtra = {}, workerExtra = {}) {
    const port = await freePort();
    const metricsPort = await freePort();
    const receiver = start('apps/receiver/dist/main.js', receiverEnv(port, receiverExtra));
    const worker = start('apps/worker/dist/main.js', {
      REDIS_URL: redisUrl,
      WORKER_METRICS_PORT: String(metricsPort),
      WORKER_METRICS_HOST: '127.0.0.1',
      ...workerExtra,
    });
    await waitHttp(`http://127.0.0.1:${port}/healthz`);
    await waitHttp(`http://127.0.0.1:${metricsPort}/readyz`);
    return { port, receiver, worker };
  }
  {
    await redis.flushall();
    const { port, receiver, worker } = await system();
    log(`end to end at ${RATE} req/s`);
    const measured = await load(port, makePool(RATE * 12, 'signed'), { seconds: 10, overallRate: RATE });
    const queue = new Queue('flexprice.customer', { connection: redis });
    await sleep(2_000);
    const jobs = await queue.getJobs(['completed'], 0, -1);
    const latencies = jobs
      .map((job) => job.finishedOn - Date.parse(job.data.receipt.receivedAt))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    results.endToEnd = {
      offeredRps: RATE,
      acceptedRps: measured.rps,
      processed: latencies.length,
      httpP50ms: measured.p50,
      httpP99ms: measured.p99,
      toProcessedP50ms: at(0.5),
      toProcessedP99ms: at(0.99),
    };
    await queue.close();
    await stop(receiver);
    await stop(worker);
  }

  // --- 5. Soak: memory before / after 5 minutes of steady load --------------------------------------------
  if (SOAK) {
    await redis.flushall();
    // Production retention (JOB_KEEP_COMPLETED 1000) but one-minute dedupe and delivery marks (and a
    // 30 s signature tolerance, which a one-minute dedupe window requires), so that five minutes
    // reach the steady state a real deployment reaches after 72 h / 7 d; 1,000 customers updated
    // over and over, so the store itself stays the same size.
    const { port, receiver, worker } = await system(
      { JOB_KEEP_COMPLETED: '1000', DEDUPE_TTL_SECONDS: '60', FLEXPRICE_WEBHOOK_TOLERANCE_SECONDS: '30' },
      { PROCESSED_TTL_SECONDS: '60' },
    );
    const memory = async () => ({
      receiverRssMiB: rssMiB(receiver.pid),
      workerRssMiB: rssMiB(worker.pid),
      redisUsedMemoryMiB: Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]) / 2 ** 20,
    });
    await load(port, makePool(RATE * 92, 'signed', 1_000), { seconds: 90, overallRate: RATE });
    // A sample every 10 s: one reading lands anywhere on the garbage collector's sawtooth (the
    // receiver's RSS moves 120-155 MiB within a minute at this load), so the first and the last
    // minute are each summarised by their median.
    const samples = [];
    const sampler = setInterval(() => {
      memory().then(
        (sample) => samples.push(sample),
        () => {},
      );
    }, 10_000);
    log(`soak: 5 minutes at ${RATE} req/s`);
    const pool = makePool(RATE * 310, 'signed', 1_000);
    samples.push(await memory());
    const measured = await load(port, pool, { seconds: 300, overallRate: RATE });
    clearInterval(sampler);
    const summary = (part) =>
      Object.fromEntries(Object.keys(part[0]).map((key) => [key, median(part.map((s) => s[key]))]));
    const peak = Object.fromEntries(
      Object.keys(samples[0]).map((key) => [key, Math.max(...samples.map((s) => s[key]))]),
    );
    results.soak = {
      offeredRps: RATE,
      acceptedRps: measured.rps,
      non2xx: measured.non2xx,
      samples: samples.length,
      before: summary(samples.slice(0, 6)),
      after: summary(samples.slice(-6)),
      peak,
    };
    await stop(receiver);
    await stop(worker);
  }
}

// --- Report ----------------------------------------------------------------------------------------------
const machine = {
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  redis: redisVersion,
  date: new Date().toISOString(),
};
const none = { rps: Number.NaN, p99: Number.NaN };
const bare = results.receivers[receivers[0][0]] ?? none;
const naive = results.receivers[receivers[1][0]] ?? none;
const ours = results.receivers[receivers[2][0]] ?? none;
const naiveWorker = results.workers['naive worker (one HSET per job)'] ?? { perReplica: Number.NaN };
const minimal = results.receivers[receivers[4][0]] ?? none;
const ourWorker = results.workers['ours, store only, 1 replica(s)'] ?? { perReplica: Number.NaN };
const ratios = {
  receiverVsBareExpress: ours.rps / bare.rps,
  receiverVsNaive: ours.rps / naive.rps,
  p99VsBareExpress: ours.p99 / bare.p99,
  minimalVsBareExpress: minimal.rps / bare.rps,
  receiverVsMinimal: ours.rps / minimal.rps,
  workerPerReplicaVsNaive: ourWorker.perReplica / naiveWorker.perReplica,
};
const report = {
  machine,
  settings: {
    loadGenerator: LOADGEN,
    seconds: SECONDS,
    connections: CONNECTIONS,
    jobs: JOBS,
    rate: RATE,
    appendfsync: APPENDFSYNC,
  },
  results,
  ratios,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/latest.json'), `${JSON.stringify(report, null, 2)}\n`);

const fmt = (n, digits = 0) => (typeof n === 'number' ? n.toFixed(digits) : String(n));
const lines = [];
lines.push(
  `machine: ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node}, Redis ${machine.redis} (appendfsync ${APPENDFSYNC})`,
);
lines.push('');
lines.push(
  `receivers (${LOADGEN}, ${CONNECTIONS} connections, median of ${ROUNDS} × ${SECONDS} s, distinct customer.created; per accepted webhook: Redis commands, CPU µs of the app and of Redis)`,
);
lines.push(
  `  ${''.padEnd(74)} ${'req/s'.padStart(6)}  ${'p50 ms'.padStart(6)}  ${'p99 ms'.padStart(6)}  ${'non-2xx'.padStart(7)}  ${'cmds'.padStart(5)}  ${'app µs'.padStart(6)}  ${'Redis µs'.padStart(8)}`,
);
for (const [name, r] of Object.entries(results.receivers)) {
  lines.push(
    `  ${name.padEnd(74)} ${fmt(r.rps).padStart(6)}  ${fmt(r.p50, 1).padStart(6)}  ${fmt(r.p99, 1).padStart(6)}  ${fmt(r.non2xx).padStart(7)}  ${fmt(r.redisCommandsPerAccepted, 1).padStart(5)}  ${fmt(r.appCpuMicrosPerAccepted).padStart(6)}  ${fmt(r.redisCpuMicrosPerAccepted).padStart(8)}   rounds: ${r.rounds.join(', ')}`,
  );
}
lines.push('');
lines.push('Redis round trips per accepted webhook (counted by a proxy at the client side)');
for (const [name, r] of Object.entries(results.redis)) {
  lines.push(
    `  ${name.padEnd(74)} ${fmt(r.roundTripsPerAccepted, 2).padStart(6)} round trips, ${fmt(r.bytesPerAccepted).padStart(5)} bytes`,
  );
}
lines.push('');
lines.push(
  `workers (drain of ${JOBS} jobs)                                              jobs/s  per replica  failed  API calls/job  skipped stale`,
);
for (const [name, r] of Object.entries(results.workers)) {
  lines.push(
    `  ${name.padEnd(74)} ${fmt(r.jobsPerSecond).padStart(6)}  ${fmt(r.perReplica).padStart(11)}  ${fmt(r.failed).padStart(6)}  ${(r.apiCallsPerJob === undefined ? '' : fmt(r.apiCallsPerJob, 3)).padStart(13)}  ${(r.skippedStale === undefined ? '' : fmt(r.skippedStale)).padStart(13)}`,
  );
}
lines.push('');
const e = results.endToEnd;
if (e.offeredRps)
  lines.push(
    `end to end at ${e.offeredRps} req/s offered: HTTP p50 ${fmt(e.httpP50ms, 1)} ms, p99 ${fmt(e.httpP99ms, 1)} ms; received → processed p50 ${fmt(e.toProcessedP50ms)} ms, p99 ${fmt(e.toProcessedP99ms)} ms (${e.processed} jobs)`,
  );
if (results.soak) {
  const { before, after } = results.soak;
  lines.push(
    `soak 5 min at ${results.soak.offeredRps} req/s (medians of the first and the last minute, peak): receiver RSS ${fmt(before.receiverRssMiB)} → ${fmt(after.receiverRssMiB)} MiB (${fmt(results.soak.peak.receiverRssMiB)}), worker RSS ${fmt(before.workerRssMiB)} → ${fmt(after.workerRssMiB)} MiB (${fmt(results.soak.peak.workerRssMiB)}), Redis used_memory ${fmt(before.redisUsedMemoryMiB, 1)} → ${fmt(after.redisUsedMemoryMiB, 1)} MiB (${fmt(results.soak.peak.redisUsedMemoryMiB, 1)})`,
  );
}
lines.push('');
lines.push(
  `ratios: receiver ${fmt(ratios.receiverVsBareExpress, 2)}× bare Express, ${fmt(ratios.receiverVsNaive, 2)}× naive, ${fmt(ratios.receiverVsMinimal, 2)}× the minimal receiver (itself ${fmt(ratios.minimalVsBareExpress, 2)}× bare Express); p99 ${fmt(ratios.p99VsBareExpress, 2)}× bare Express's; worker ${fmt(ratios.workerPerReplicaVsNaive, 2)}× naive per replica`,
);
process.stdout.write(`${lines.join('\n')}\n`);

redis.disconnect();
await stop(redisServer);
rmSync(redisDir, { recursive: true, force: true });
process.exit(0);
