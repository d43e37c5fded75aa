import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type RedisProcess, startRedisProcess } from './redis-process.js';
import { freePort, waitForRedis } from './redis-server.js';

const run = promisify(execFile);

/** Where a Redis (data node or Sentinel) listens. Always 127.0.0.1 here. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** A data node as it is right now: `down` when its process is not running (or does not answer). */
export interface SentinelSetNode extends RedisAddress {
  role: 'master' | 'replica' | 'down';
}

export interface RedisSentinelSetOptions {
  /** Master group name the sentinels monitor (`sentinel monitor <name> …`). Default `mymaster`. */
  name?: string;
  /**
   * Replicas of the primary. Default 1. With 2, losing any one data node for good still leaves a
   * replica to confirm writes (`WAIT 1`), as the compose `ha` profile runs it.
   */
  replicas?: number;
  /** AOF fsync policy of every data node. Default `everysec`, the usual production setting. */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** `sentinel down-after-milliseconds`. Default 1000, so a killed primary is noticed quickly. */
  downAfterMs?: number;
  /** `sentinel failover-timeout`. Default 5000. */
  failoverTimeoutMs?: number;
  /** `requirepass`/`masterauth` of the data nodes (and `sentinel auth-pass`). Default none. */
  password?: string;
  /** `requirepass` of the sentinels; Sentinel also uses it to talk to its peers. Default none. */
  sentinelPassword?: string;
  /**
   * Shortens Sentinel's internal periods with `SENTINEL DEBUG` (INFO every 1 s instead of 10 s,
   * hello every 500 ms instead of 2 s). Without it, discovery after start takes a few seconds and
   * turning a restarted old primary into a replica takes 8 s or more (4 hello periods of "grace").
   * Default true: the tests are about the apps' behaviour during a failover, not Sentinel's pacing.
   */
  fastTimers?: boolean;
  /** How long start may take before it gives up (and cleans up). Default 20 s. */
  startTimeoutMs?: number;
  binary?: string;
}

export interface RestartOptions {
  /**
   * Wait until the node is a replica of the current primary with its link up (Sentinel converts a
   * restarted old primary within seconds). Default true. When the sentinels still name this very
   * node as the primary (it was restarted before any failover), waits for it to answer as master.
   */
  waitForReplica?: boolean;
  timeoutMs?: number;
}

/** A primary, its replicas and three sentinels on 127.0.0.1; see {@link startRedisSentinelSet}. */
export interface RedisSentinelSet {
  /** Master group name, what clients pass as `name` next to `sentinels`. */
  readonly name: string;
  readonly sentinels: RedisAddress[];
  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, the shape an env var of sentinel addresses takes. */
  readonly sentinelsEnv: string;
  readonly password: string | undefined;
  readonly sentinelPassword: string | undefined;
  /** The data nodes with their current role, asked with `ROLE` (`down` if not running). */
  nodes(): Promise<SentinelSetNode[]>;
  /** The master according to the sentinels right now (the first sentinel that answers). */
  primary(): Promise<RedisAddress>;
  /** SIGKILLs the data node at `node` (no chance to flush anything); resolves once it is gone. */
  kill(node: RedisAddress): Promise<void>;
  /**
   * SIGSTOPs a data node or a sentinel: it holds its connections but answers nothing, so a replica
   * falls behind (what a slow network or a busy replica does), or a sentinel hangs; `resume`
   * (SIGCONT) lets it go on.
   */
  pause(node: RedisAddress): void;
  resume(node: RedisAddress): void;
  /** The data nodes that are replicas now (asked with `ROLE`). */
  replicas(): Promise<SentinelSetNode[]>;
  /** SIGKILLs whichever node is the primary now and returns its address. */
  killPrimary(): Promise<RedisAddress>;
  /**
   * Resolves with the new primary once every sentinel names one other than `from` and that node
   * answers `ROLE` as master, so a client asking any sentinel lands on a writable node.
   */
  waitForPromotion(from: RedisAddress, timeoutMs?: number): Promise<RedisAddress>;
  /** Starts a killed data node again: same port, same data dir, same (Sentinel-rewritten) config. */
  restart(node: RedisAddress, options?: RestartOptions): Promise<void>;
  /** `connected_slaves` of the current primary. */
  connectedReplicas(): Promise<number>;
  /** SIGKILLs every process it started and deletes its temp dirs. Safe to call twice. */
  dispose(): Promise<void>;
}

/** Whether a Sentinel set can be started here (`redis-server` on PATH; it runs as Sentinel too). */
export async function canStartRedisSentinel(binary = 'redis-server'): Promise<boolean> {
  try {
    await run(binary, ['--version']);
    return true;
  } catch {
    return false;
  }
}

const HOST = '127.0.0.1';

/** What every node's config starts with, data node or sentinel: where it listens and writes. */
function serverLines(port: number, dir: string): string[] {
  return [`port ${port}`, `bind ${HOST}`, `dir ${quote(dir)}`, `logfile ${quote(join(dir, 'redis.log'))}`];
}

interface Managed {
  readonly label: string;
  readonly port: number;
  readonly dir: string;
  readonly args: string[];
  readonly password: string | undefined;
  server: RedisProcess | undefined;
}

const running = (node: Managed) => node.server?.running === true;

/** Redis config files take C-like quoted strings; JSON quoting is compatible for paths and passwords. */
const quote = (value: string) => JSON.stringify(value);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const same = (a: RedisAddress, b: RedisAddress) => a.host === b.host && a.port === b.port;

const show = (address: RedisAddress) => `${address.host}:${address.port}`;

function urlOf(port: number, password: string | undefined): string {
  return password === undefined
    ? `redis://${HOST}:${port}`
    : `redis://:${encodeURIComponent(password)}@${HOST}:${port}`;
}

/** One short-lived connection that never retries, so a dead node fails fast instead of queueing. */
async function withClient<T>(port: number, password: string | undefined, use: (client: Redis) => Promise<T>) {
  const client = new Redis({
    host: HOST,
    port,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 2000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** `INFO` text as a map (`role`, `master_link_status`, `connected_slaves`, …). */
function parseInfo(info: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of info.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** `SENTINEL replicas|sentinels` replies: a list of flat `[field, value, field, value, …]` arrays. */
function parseSentinelList(reply: unknown): Map<string, string>[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((entry: unknown) => {
    const fields = new Map<string, string>();
    if (Array.isArray(entry)) {
      for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), String(entry[i + 1]));
    }
    return fields;
  });
}

type Poll<T> = { done: true; value: T } | { done: false; why: string };

/**
 * Polls `check` until it is done. The error names `what` was not reached and the last thing seen,
 * which is what one needs to tell "the sentinels never agreed" from "the node never came up".
 */
async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<Poll<T>>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'nothing checked yet';
  for (;;) {
    try {
      const result = await check();
      if (result.done) return result.value;
      last = result.why;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) throw new Error(`${what} was not reached within ${timeoutMs} ms; last seen: ${last}`);
    await sleep(100);
  }
}

/**
 * Starts a Redis Sentinel deployment on 127.0.0.1, free ports, all data in a temp dir: a primary and
 * its replicas (one by default; `redis-server`, AOF on, `save ""`, each its own dir and config file)
 * watched by three sentinels (`redis-server <conf> --sentinel`, quorum 2). Resolves once a failover
 * could start right away: every replica's link is up and every sentinel knows the master, the
 * replicas and both peers.
 *
 * The data nodes run from config files, not command-line flags, because Sentinel persists a role
 * change with `CONFIG REWRITE`: a promoted node restarted later comes back as a master and a
 * converted one as a replica, as in production. A primary killed before any failover has no chance
 * to be rewritten, so on restart it comes up as a master until Sentinel turns it into a replica.
 */
export async function startRedisSentinelSet(options: RedisSentinelSetOptions = {}): Promise<RedisSentinelSet> {
  const binary = options.binary ?? 'redis-server';
  const name = options.name ?? 'mymaster';
  const password = options.password;
  const sentinelPassword = options.sentinelPassword;
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const root = await mkdtemp(join(tmpdir(), 'flexprice-sentinel-'));
  const data: Managed[] = [];
  const sentinelNodes: Managed[] = [];
  let disposed = false;

  async function launch(node: Managed, timeoutMs: number): Promise<void> {
    node.server = await startRedisProcess({
      label: `${node.label} on port ${node.port}`,
      binary,
      args: node.args,
      cwd: node.dir,
      ready: () => waitForRedis(urlOf(node.port, node.password), timeoutMs),
      logFile: join(node.dir, 'redis.log'),
    });
  }

  async function stop(node: Managed): Promise<void> {
    await node.server?.stop();
    node.server = undefined;
  }

  async function dispose(): Promise<void> {
    if (disposed) return;
    disposed = true;
    await Promise.all([...data, ...sentinelNodes].map(stop));
    // A fork child of a killed node (AOF rewrite, RDB for a replica) may still be writing for a
    // moment: retry instead of failing on ENOTEMPTY.
    await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }

  const assertOpen = () => {
    if (disposed) throw new Error('the Sentinel set was disposed');
  };

  const dataNode = (address: RedisAddress): Managed => {
    const node = data.find((candidate) => address.host === HOST && candidate.port === address.port);
    if (!node) throw new Error(`${show(address)} is not a data node of this Sentinel set`);
    return node;
  };

  async function askSentinelsForMaster(): Promise<(RedisAddress | string)[]> {
    return Promise.all(
      sentinelNodes.map(async (sentinel) => {
        try {
          const reply = await withClient(sentinel.port, sentinelPassword, (client) =>
            client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name),
          );
          if (!Array.isArray(reply) || reply.length < 2) return `sentinel ${sentinel.port} knows no master ${name}`;
          return { host: String(reply[0]), port: Number(reply[1]) };
        } catch (error) {
          return `sentinel ${sentinel.port}: ${error instanceof Error ? error.message : String(error)}`;
        }
      }),
    );
  }

  async function primary(): Promise<RedisAddress> {
    assertOpen();
    const answers = await askSentinelsForMaster();
    const found = answers.find((answer): answer is RedisAddress => typeof answer !== 'string');
    if (!found) throw new Error(`no sentinel named the master: ${answers.join('; ')}`);
    return found;
  }

  async function replication(node: Managed): Promise<Map<string, string>> {
    return parseInfo(await withClient(node.port, password, (client) => client.info('replication')));
  }

  /** Why this sentinel could not lead a failover yet, or undefined when it could. */
  async function sentinelNotReady(sentinel: Managed, primaryPort: number, replicaPorts: number[]) {
    return withClient(sentinel.port, sentinelPassword, async (client) => {
      const master = await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name);
      if (!Array.isArray(master) || Number(master[1]) !== primaryPort) {
        return `sentinel ${sentinel.port} names master ${JSON.stringify(master)}, not port ${primaryPort}`;
      }
      const replicas = parseSentinelList(await client.call('SENTINEL', 'REPLICAS', name));
      const healthyReplicas = replicas.filter(
        (fields) =>
          replicaPorts.includes(Number(fields.get('port'))) &&
          fields.get('flags') === 'slave' &&
          fields.get('master-link-status') === 'ok',
      );
      if (replicas.length !== replicaPorts.length || healthyReplicas.length !== replicaPorts.length) {
        const seen = replicas.map(
          (fields) => `${fields.get('port')} ${fields.get('flags')} ${fields.get('master-link-status')}`,
        );
        return `sentinel ${sentinel.port} knows replicas [${seen.join(', ')}], wants ports ${replicaPorts.join(', ')} flags=slave link=ok`;
      }
      const peers = parseSentinelList(await client.call('SENTINEL', 'SENTINELS', name));
      const healthy = peers.filter((fields) => fields.get('flags') === 'sentinel');
      if (healthy.length !== sentinelNodes.length - 1) {
        return `sentinel ${sentinel.port} knows ${healthy.length} of ${sentinelNodes.length - 1} peer sentinels`;
      }
      return undefined;
    });
  }

  const replicaCount = options.replicas ?? 1;
  try {
    if (!Number.isInteger(replicaCount) || replicaCount < 1) {
      throw new Error(`replicas must be a whole number, 1 or more (got ${replicaCount})`);
    }
    const ports = new Set<number>();
    while (ports.size < 1 + replicaCount + 3) ports.add(await freePort());
    const [primaryPort, ...others] = [...ports] as [number, ...number[]];
    const replicaPorts = others.slice(0, replicaCount);
    const sentinelPorts = others.slice(replicaCount);

    const labels = replicaPorts.map(
      (port, index) => [replicaCount === 1 ? 'replica' : `replica-${index + 1}`, port] as const,
    );
    for (const [label, port] of [['primary', primaryPort] as const, ...labels]) {
      const dir = join(root, label);
      await mkdir(dir);
      const conf = join(dir, 'redis.conf');
      const lines = [
        ...serverLines(port, dir),
        'save ""',
        'appendonly yes',
        'maxmemory-policy noeviction',
        `appendfsync ${options.appendfsync ?? 'everysec'}`,
        // Redis 7 waits 5 s for more replicas before a diskless full sync; nobody else is coming.
        'repl-diskless-sync-delay 0',
        ...(password === undefined ? [] : [`requirepass ${quote(password)}`, `masterauth ${quote(password)}`]),
        ...(label === 'primary' ? [] : [`replicaof ${HOST} ${primaryPort}`]),
      ];
      await writeFile(conf, `${lines.join('\n')}\n`);
      data.push({ label, port, dir, args: [conf], password, server: undefined });
    }
    const [primaryNode, ...replicaNodes] = data as [Managed, ...Managed[]];
    await launch(primaryNode, startTimeoutMs);
    await Promise.all(replicaNodes.map((replica) => launch(replica, startTimeoutMs)));
    // Sentinels find replicas in the master's INFO; with the links already up, their first INFO
    // lists them and they need not wait for the next INFO period.
    for (const replicaNode of replicaNodes) {
      await waitUntil(`replica ${replicaNode.port} with master_link_status:up`, startTimeoutMs, async () => {
        const link = (await replication(replicaNode)).get('master_link_status');
        return link === 'up' ? { done: true, value: undefined } : { done: false, why: `master_link_status:${link}` };
      });
    }

    for (const [index, port] of sentinelPorts.entries()) {
      const dir = join(root, `sentinel-${index + 1}`);
      await mkdir(dir);
      // Sentinel rewrites its config file (its id, discovered peers and replicas): it must be writable.
      const conf = join(dir, 'sentinel.conf');
      const lines = [
        ...serverLines(port, dir),
        `sentinel monitor ${name} ${HOST} ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 5000}`,
        `sentinel parallel-syncs ${name} 1`,
        ...(password === undefined ? [] : [`sentinel auth-pass ${name} ${quote(password)}`]),
        ...(sentinelPassword === undefined ? [] : [`requirepass ${quote(sentinelPassword)}`]),
      ];
      await writeFile(conf, `${lines.join('\n')}\n`);
      sentinelNodes.push({
        label: `sentinel ${index + 1}`,
        port,
        dir,
        args: [conf, '--sentinel'],
        password: sentinelPassword,
        server: undefined,
      });
    }
    await Promise.all(sentinelNodes.map((sentinel) => launch(sentinel, startTimeoutMs)));
    if (options.fastTimers ?? true) {
      await Promise.all(
        sentinelNodes.map((sentinel) =>
          withClient(sentinel.port, sentinelPassword, (client) =>
            client.call('SENTINEL', 'DEBUG', 'info-period', '1000', 'publish-period', '500'),
          ),
        ),
      );
    }
    await waitUntil(
      'every sentinel knowing the master, the replicas (link ok) and both other sentinels',
      startTimeoutMs,
      async () => {
        for (const sentinel of sentinelNodes) {
          const why = await sentinelNotReady(sentinel, primaryPort, replicaPorts);
          if (why !== undefined) return { done: false, why };
        }
        return { done: true, value: undefined };
      },
    );
  } catch (error) {
    await dispose();
    throw error;
  }

  const sentinels = sentinelNodes.map((sentinel) => ({ host: HOST, port: sentinel.port }));

  async function kill(address: RedisAddress): Promise<void> {
    assertOpen();
    const node = dataNode(address);
    if (!running(node)) throw new Error(`${node.label} at ${show(address)} is not running`);
    await stop(node);
  }

  function signal(address: RedisAddress, name: 'SIGSTOP' | 'SIGCONT'): void {
    assertOpen();
    const node = sentinelNodes.find((sentinel) => sentinel.port === address.port) ?? dataNode(address);
    if (!running(node)) throw new Error(`${node.label} at ${show(address)} is not running`);
    node.server?.signal(name);
  }

  const set: RedisSentinelSet = {
    name,
    sentinels,
    sentinelsEnv: sentinels.map(show).join(','),
    password,
    sentinelPassword,

    async nodes() {
      assertOpen();
      return Promise.all(
        data.map(async (node): Promise<SentinelSetNode> => {
          let role: SentinelSetNode['role'] = 'down';
          if (running(node)) {
            try {
              const reply = await withClient(node.port, password, (client) => client.call('ROLE'));
              if (Array.isArray(reply)) role = reply[0] === 'master' ? 'master' : 'replica';
            } catch {
              // starting or stopping: reported as down
            }
          }
          return { host: HOST, port: node.port, role };
        }),
      );
    },

    primary,
    kill,
    pause: (node) => signal(node, 'SIGSTOP'),
    resume: (node) => signal(node, 'SIGCONT'),
    async replicas() {
      const current = await primary();
      return (await set.nodes()).filter((node) => node.role === 'replica' && node.port !== current.port);
    },

    async killPrimary() {
      const current = await primary();
      await kill(current);
      return current;
    },

    async waitForPromotion(from, timeoutMs = 30_000) {
      assertOpen();
      return waitUntil(`promotion of a new primary (other than ${show(from)})`, timeoutMs, async () => {
        const answers = await askSentinelsForMaster();
        const named = answers.map((answer) => (typeof answer === 'string' ? answer : show(answer)));
        const addresses = answers.filter((answer): answer is RedisAddress => typeof answer !== 'string');
        const first = addresses[0];
        if (!first || addresses.length !== answers.length || !addresses.every((answer) => same(answer, first))) {
          return { done: false, why: `the sentinels do not agree on one master: ${named.join('; ')}` };
        }
        if (same(first, from)) return { done: false, why: `the sentinels still name ${show(from)}` };
        const reply = await withClient(first.port, password, (client) => client.call('ROLE'));
        const role = Array.isArray(reply) ? String(reply[0]) : String(reply);
        if (role !== 'master') {
          return { done: false, why: `${show(first)} is named by the sentinels but answers ROLE ${role}` };
        }
        return { done: true, value: first };
      });
    },

    async restart(address, restartOptions = {}) {
      assertOpen();
      const node = dataNode(address);
      if (running(node)) throw new Error(`${node.label} at ${show(address)} is still running: kill it first`);
      const timeoutMs = restartOptions.timeoutMs ?? 30_000;
      await launch(node, timeoutMs);
      if (!(restartOptions.waitForReplica ?? true)) return;
      await waitUntil(`${show(address)} replicating from the current primary with its link up`, timeoutMs, async () => {
        const current = await primary();
        const fields = await replication(node);
        const role = fields.get('role');
        if (same(current, address)) {
          return role === 'master'
            ? { done: true, value: undefined }
            : { done: false, why: `the sentinels name it the primary but it reports role:${role}` };
        }
        const master = `${fields.get('master_host')}:${fields.get('master_port')}`;
        const link = fields.get('master_link_status');
        if (role === 'slave' && master === show(current) && link === 'up') return { done: true, value: undefined };
        return { done: false, why: `role:${role} master ${master} link ${link}; the primary is ${show(current)}` };
      });
    },

    async connectedReplicas() {
      const current = await primary();
      const fields = await replication(dataNode(current));
      return Number(fields.get('connected_slaves') ?? 0);
    },

    dispose,
  };
  return set;
}
