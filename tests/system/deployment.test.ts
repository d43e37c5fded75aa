// docker compose and docker build cannot run on our machines (no Docker engine). This suite keeps
// the deployment files honest instead: it parses them and checks their wiring against the apps.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ENV_VARIABLES as DASHBOARD_ENV, loadConfig as loadDashboardConfig } from '../../apps/dashboard/src/config.js';
import { loadConfig as loadReceiverConfig, ENV_VARIABLES as RECEIVER_ENV } from '../../apps/receiver/src/config.js';
import { loadConfig as loadWorkerConfig, ENV_VARIABLES as WORKER_ENV } from '../../apps/worker/src/config.js';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const read = (path: string) => readFileSync(root(path), 'utf8');

interface Service {
  image?: string;
  profiles?: string[];
  build?: { context: string; target: string };
  command?: string[];
  environment?: Record<string, string>;
  env_file?: { path: string; required: boolean }[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  stop_grace_period?: string;
}
const compose = parse(read('docker-compose.yml')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const { redis, receiver, worker, dashboard, prometheus, grafana } = compose.services as Record<
  'redis' | 'receiver' | 'worker' | 'dashboard' | 'prometheus' | 'grafana',
  Service
>;

/** `.env.example` as the apps would see it: `KEY=value` lines, comments skipped. */
const envExample = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

const seconds = (duration: string | undefined) => Number(/^(\d+)s$/.exec(duration ?? '')?.[1] ?? Number.NaN);

/** The stages of the Dockerfile, with their instructions (continuation lines joined). */
function dockerStages(): Map<string, string[]> {
  const lines = read('Dockerfile').replace(/\\\n/g, ' ').split('\n');
  const stages = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of lines) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from?.[1]) {
      current = [line];
      stages.set(from[1], current);
    } else if (line.trim() && !line.startsWith('#')) {
      current.push(line.trim());
    }
  }
  return stages;
}

describe('docker-compose.yml', () => {
  it('runs Redis pinned, durable (AOF), never evicting, on a named volume, with a healthcheck', () => {
    expect(redis?.image).toMatch(/^redis:\d+\.\d+\.\d+/);
    const command = redis?.command?.join(' ') ?? '';
    expect(command).toContain('--appendonly yes');
    // Strict by default: an acknowledged webhook must survive a crash (RELIABILITY.md).
    expect(command).toContain('--appendfsync ${REDIS_APPENDFSYNC:-always}');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(redis?.volumes).toContain('redis-data:/data');
    expect(compose.volumes).toHaveProperty('redis-data');
    expect(redis?.healthcheck?.test.join(' ')).toContain('redis-cli ping');
  });

  it.each([
    ['receiver', receiver],
    ['worker', worker],
    ['dashboard', dashboard],
  ])('builds the %s target, waits for a healthy Redis, reads .env', (target, service) => {
    expect(service?.build).toEqual({ context: '.', target });
    expect(dockerStages().has(target)).toBe(true);
    expect(service?.depends_on?.redis?.condition).toBe('service_healthy');
    expect(service?.env_file).toEqual([{ path: '.env', required: false }]);
    expect(service?.environment?.REDIS_URL).toBe('redis://redis:6379');
  });

  it('publishes the receiver on 3000 with a /readyz healthcheck', () => {
    // A compose variable, not a JS template: the host port is RECEIVER_PORT, 3000 by default.
    expect(receiver?.ports).toEqual(['${RECEIVER_PORT:-3000}:3000']);
    expect(receiver?.environment?.PORT).toBe('3000');
    expect(receiver?.healthcheck?.test.join(' ')).toContain('127.0.0.1:3000/readyz');
  });

  it('runs three workers by default, health on WORKER_METRICS_PORT', () => {
    expect(worker?.deploy?.replicas).toBe(3);
    expect(worker?.ports).toBeUndefined(); // replicas cannot share a host port
    const port = worker?.environment?.WORKER_METRICS_PORT;
    expect(worker?.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${port}/readyz`);
  });

  it('gives each app longer to stop than its own shutdown bound', () => {
    const receiverConfig = loadReceiverConfig({ ...envExample, ...receiver?.environment });
    const workerConfig = loadWorkerConfig({ ...envExample, ...worker?.environment });
    expect(seconds(receiver?.stop_grace_period) * 1000).toBeGreaterThan(receiverConfig.shutdownTimeoutMs);
    expect(seconds(worker?.stop_grace_period) * 1000).toBeGreaterThan(workerConfig.shutdownTimeoutMs);
  });

  it('sets only variables the apps read', () => {
    expect(Object.keys(receiver?.environment ?? {}).filter((name) => !RECEIVER_ENV.includes(name))).toEqual([]);
    expect(Object.keys(worker?.environment ?? {}).filter((name) => !WORKER_ENV.includes(name))).toEqual([]);
    expect(Object.keys(dashboard?.environment ?? {}).filter((name) => !DASHBOARD_ENV.includes(name))).toEqual([]);
  });

  it('serves the dashboard on its own port, on loopback only, never the webhook port', () => {
    expect(dashboard?.environment?.ADMIN_PORT).toBe('3001');
    expect(dashboard?.ports).toEqual(['127.0.0.1:${ADMIN_PORT:-3001}:3001']);
    expect(receiver?.environment?.PORT).not.toBe(dashboard?.environment?.ADMIN_PORT);
  });

  it('adds Prometheus and Grafana only with the observability profile', () => {
    for (const service of [prometheus, grafana]) {
      expect(service?.profiles).toEqual(['observability']);
      expect(service?.image).toMatch(/:v?\d+\.\d+\.\d+$/);
    }
    for (const [name, service] of Object.entries(compose.services)) {
      if (!['prometheus', 'grafana'].includes(name)) expect(service.profiles, name).toBeUndefined();
    }
  });
});

describe('deploy/ (Prometheus, alerts, Grafana)', () => {
  /** Every flexprice_* metric the apps define. */
  const defined = new Set(
    ['apps/receiver/src/metrics.ts', 'apps/worker/src/metrics.ts'].flatMap((file) =>
      [...read(file).matchAll(/name: '(flexprice_\w+)'/g)].map((m) => m[1]),
    ),
  );
  const referenced = (text: string) =>
    [...text.matchAll(/flexprice_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));

  it('scrapes the receiver on its port and every worker replica on WORKER_METRICS_PORT', () => {
    const config = parse(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[];
    };
    const jobs = Object.fromEntries(config.scrape_configs.map((job) => [job.job_name, job.dns_sd_configs[0]]));
    expect(jobs.receiver).toMatchObject({ names: ['receiver'], port: Number(receiver?.environment?.PORT) });
    expect(jobs.worker).toMatchObject({ names: ['worker'], port: Number(worker?.environment?.WORKER_METRICS_PORT) });
    expect(prometheus?.volumes).toContain('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });

  it('the dashboard and the alerts only query metrics the apps export', () => {
    const dashboardJson = read('deploy/grafana/dashboards/flexprice-webhooks.json');
    const alerts = read('deploy/prometheus/alerts.yml');
    const used = new Set([...referenced(dashboardJson), ...referenced(alerts)]);
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((name) => !defined.has(name))).toEqual([]);
    const board = JSON.parse(dashboardJson) as { panels: { datasource: { uid: string } }[] };
    const datasources = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { uid: string }[];
    };
    expect(new Set(board.panels.map((p) => p.datasource.uid))).toEqual(new Set([datasources.datasources[0]?.uid]));
  });
});

describe('.env.example', () => {
  it('names only variables an app (or compose itself) reads', () => {
    const known = new Set([...RECEIVER_ENV, ...WORKER_ENV, ...DASHBOARD_ENV, 'RECEIVER_PORT', 'REDIS_APPENDFSYNC']);
    expect(Object.keys(envExample).filter((name) => !known.has(name))).toEqual([]);
  });

  it('starts both apps as compose would run them (placeholders, but valid ones)', () => {
    expect(() => loadReceiverConfig({ ...envExample, ...receiver?.environment })).not.toThrow();
    expect(() => loadWorkerConfig({ ...envExample, ...worker?.environment })).not.toThrow();
    expect(() => loadDashboardConfig({ ...envExample, ...dashboard?.environment })).not.toThrow();
  });

  it('gives the receiver and the worker one routing configuration, and both refuse what nothing would process', () => {
    for (const name of ['ENQUEUE_EVENTS', 'FORWARD_ROUTES']) {
      expect(RECEIVER_ENV, name).toContain(name);
      expect(WORKER_ENV, name).toContain(name);
      // From the shared env file only: a service-level value would let the two disagree.
      expect(receiver?.environment?.[name], name).toBeUndefined();
      expect(worker?.environment?.[name], name).toBeUndefined();
    }
    expect(receiver?.env_file).toEqual(worker?.env_file);
    // The worked example of .env.example, commented out there.
    const commented = (name: string) =>
      new RegExp(`^# ${name}=(.*)$`, 'm').exec(read('.env.example'))?.[1] ?? `(no commented ${name})`;
    const routed = {
      ...envExample,
      ENQUEUE_EVENTS: commented('ENQUEUE_EVENTS'),
      FORWARD_ROUTES: commented('FORWARD_ROUTES'),
      FORWARD_SECRET: commented('FORWARD_SECRET'),
    };
    expect(() => loadReceiverConfig({ ...routed, ...receiver?.environment })).not.toThrow();
    expect(loadWorkerConfig({ ...routed, ...worker?.environment }).routes.map((r) => r.pattern)).toContain('invoice.*');
    const unrouted = { ...routed, FORWARD_ROUTES: '' };
    expect(() => loadReceiverConfig({ ...unrouted, ...receiver?.environment })).toThrow(
      /ENQUEUE_EVENTS: queues invoice\.update\.finalized.*FORWARD_ROUTES/,
    );
    expect(() => loadWorkerConfig({ ...unrouted, ...worker?.environment })).toThrow(
      /ENQUEUE_EVENTS: queues invoice\.update\.finalized.*FORWARD_ROUTES/,
    );
  });

  it('holds placeholders only', () => {
    for (const [name, value] of Object.entries(envExample)) {
      if (!/SECRET|TOKEN|PASSWORD/.test(name)) continue;
      const decoded = Buffer.from(value.replace(/^whsec_/, ''), 'base64').toString('utf8');
      expect(decoded, name).toMatch(/^replace-me/);
    }
  });
});

describe('Dockerfile', () => {
  const stages = dockerStages();

  it('builds once with the pinned pnpm, offline from the lockfile, and deploys each app for production', () => {
    const build = stages.get('build')?.join('\n') ?? '';
    const pinned = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager;
    expect(stages.get('base')?.join('\n')).toContain(pinned);
    expect(build).toContain('pnpm fetch');
    expect(build).toContain('pnpm install --offline --frozen-lockfile');
    expect(build).toContain('pnpm deploy --legacy --prod --filter @flexprice/receiver /out/receiver');
    expect(build).toContain('pnpm deploy --legacy --prod --filter @flexprice/worker /out/worker');
    expect(build).toContain('pnpm deploy --legacy --prod --filter @flexprice/dashboard /out/dashboard');
    // No TypeScript compiler in the dashboard image (an optional peer of its UI's validator).
    expect(build).toContain('rm -rf /out/dashboard/node_modules/.pnpm/typescript@*');
  });

  it('runs a current Node LTS under an init, as a non-root user', () => {
    const version = /ARG NODE_VERSION=(\d+)/.exec(read('Dockerfile'))?.[1];
    expect(Number(version)).toBeGreaterThanOrEqual(22);
    expect(stages.get('runtime')?.join('\n')).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    for (const app of ['receiver', 'worker', 'dashboard']) {
      const stage = stages.get(app) ?? [];
      expect(stage[0]).toMatch(/^FROM runtime AS/);
      expect(stage).toContain('USER node');
      expect(stage).toContain('CMD ["node", "dist/main.js"]');
      expect(stage.some((line) => line.startsWith(`COPY --from=build --chown=node:node /out/${app} /app`))).toBe(true);
    }
  });

  it('ships dist only (each app publishes its dist; sources stay out of the image)', () => {
    for (const app of ['receiver', 'worker', 'dashboard']) {
      const manifest = JSON.parse(read(`apps/${app}/package.json`)) as { files?: string[]; main?: string };
      expect(manifest.files).toEqual(['dist']);
      expect(manifest.main).toBe('dist/main.js');
    }
  });
});
