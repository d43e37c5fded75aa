import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type RedisProcess, startRedisProcess } from './redis-process.js';
import { freePort, waitForRedis } from './redis-server.js';

const run = promisify(execFile);

export interface TestRedisCluster {
  nodes: { host: string; port: number }[];
  /** `host:port,host:port,host:port`, as REDIS_CLUSTER_NODES takes it. */
  nodeList: string;
  dispose(): Promise<void>;
}

/** Whether a local cluster can be started here (redis-server and redis-cli on PATH). */
export async function canStartRedisCluster(): Promise<boolean> {
  try {
    await run('redis-server', ['--version']);
    await run('redis-cli', ['--version']);
    return true;
  } catch {
    return false;
  }
}

async function clusterIsOk(port: number): Promise<boolean> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.cluster('INFO');
    return info.includes('cluster_state:ok');
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * A local Redis Cluster of three masters (no replicas) on free ports, each with its data in a temp
 * dir: `redis-server --cluster-enabled yes` ×3, joined by `redis-cli --cluster create`.
 */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'flexprice-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const servers: RedisProcess[] = [];
  const dispose = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // All three, even when one fails, so that dispose stops every one that did start.
    const started = await Promise.allSettled(
      ports.map((port) => {
        const logFile = join(dir, `redis-${port}.log`);
        return startRedisProcess({
          label: `cluster node on port ${port}`,
          binary: 'redis-server',
          args: [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--dir',
            dir,
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
            '--appendonly',
            'yes',
            '--appendfilename',
            `appendonly-${port}.aof`,
            '--appenddirname',
            `aof-${port}`,
            '--save',
            '',
            '--maxmemory-policy',
            'noeviction',
            '--logfile',
            logFile,
          ],
          ready: () => waitForRedis(`redis://127.0.0.1:${port}`),
          logFile,
        });
      }),
    );
    for (const result of started) if (result.status === 'fulfilled') servers.push(result.value);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const deadline = Date.now() + 20_000;
    while (!(await Promise.all(ports.map(clusterIsOk))).every(Boolean)) {
      if (Date.now() > deadline) throw new Error('the local Redis Cluster did not reach cluster_state:ok');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  return { nodes, nodeList: nodes.map((n) => `${n.host}:${n.port}`).join(','), dispose };
}
