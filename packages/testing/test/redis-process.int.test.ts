// The one way the helpers run redis-server (plain, cluster node, Sentinel): a Redis that refuses to
// start says why at once, and none outlives the test process that started it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, onTestFinished, test, vi } from 'vitest';
import { runNode } from '../src/process.js';
import { startRedisProcess } from '../src/redis-process.js';
import { freePort, waitForRedis } from '../src/redis-server.js';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const hasRedisServer = !spawnSync(REDIS_SERVER, ['--version']).error;

/** Whether anything accepts a Redis connection at `port` within `timeoutMs`. */
const answers = (port: number, timeoutMs = 300) =>
  waitForRedis(`redis://127.0.0.1:${port}`, timeoutMs).then(
    () => true,
    () => false,
  );

const baseArgs = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

describe.skipIf(!hasRedisServer)('startRedisProcess', () => {
  test('a redis-server that refuses its arguments fails at once, with its own words in the error', async () => {
    const port = await freePort();
    const started = Date.now();
    const attempt = startRedisProcess({
      label: `refused on port ${port}`,
      binary: REDIS_SERVER,
      args: [...baseArgs(port), '--no-such-directive', 'yes'],
      ready: () => waitForRedis(`redis://127.0.0.1:${port}`, 20_000),
    });
    await expect(attempt).rejects.toThrow(
      new RegExp(`^refused on port ${port} did not come up \\(exited with code 1\\):\\n[^]*no-such-directive`),
    );
    // Not after `ready`'s 20 s: the exit won the race.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('a binary that does not exist is named in the error', async () => {
    const attempt = startRedisProcess({
      label: 'missing',
      binary: 'redis-server-that-does-not-exist',
      args: [],
      ready: () => new Promise(() => {}),
    });
    await expect(attempt).rejects.toThrow(
      /^missing did not come up \(could not start redis-server-that-does-not-exist: .*ENOENT/,
    );
  });

  test('stop ends it and waits for the exit; a second stop is a no-op', async () => {
    const port = await freePort();
    const server = await startRedisProcess({
      label: `plain on port ${port}`,
      binary: REDIS_SERVER,
      args: baseArgs(port),
      ready: () => waitForRedis(`redis://127.0.0.1:${port}`),
    });
    onTestFinished(() => server.stop());
    expect(server.running).toBe(true);
    expect(await answers(port)).toBe(true);
    await server.stop('SIGTERM');
    expect(server.running).toBe(false);
    expect(await answers(port)).toBe(false);
    await server.stop();
  });

  test('one left running is killed when the test process exits', async () => {
    // A Node process of its own (its exit is what is tested), running the built helper.
    const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
    if (!existsSync(dist('redis-process.js'))) {
      throw new Error(`${dist('redis-process.js')} is missing: run \`pnpm build\` first (pnpm test does)`);
    }
    const dir = await mkdtemp(join(tmpdir(), 'redis-process-test-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const script = join(dir, 'orphan.mjs');
    await writeFile(
      script,
      [
        `const { startRedisProcess } = await import(${JSON.stringify(dist('redis-process.js'))});`,
        `const { waitForRedis } = await import(${JSON.stringify(dist('redis-server.js'))});`,
        'const port = Number(process.env.PORT);',
        'const server = await startRedisProcess({',
        "  label: 'orphan',",
        '  binary: process.env.BINARY,',
        "  args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],",
        '  ready: () => waitForRedis(`redis://127.0.0.1:${port}`),',
        '});',
        'console.log(`pid ${server.pid}`);',
        'process.exit(0); // without stopping it',
      ].join('\n'),
    );
    const port = await freePort();
    const child = runNode(script, { PORT: String(port), BINARY: REDIS_SERVER });
    expect(await child.exited, child.output()).toBe(0);
    const pid = Number(/^pid (\d+)$/m.exec(child.output())?.[1]);
    expect(pid, child.output()).toBeGreaterThan(0);
    // Should the hook fail, the orphan must not outlive this test either.
    onTestFinished(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    });
    await vi.waitFor(async () => expect(await answers(port)).toBe(false), { timeout: 5_000 });
  });
});
