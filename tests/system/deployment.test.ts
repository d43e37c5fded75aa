// docker compose and docker build cannot run on our machines (no Docker engine). This suite keeps
// the deployment files honest instead: it parses them and checks their wiring against the apps.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newTestSecret } from '@flexprice/testing';
import { afterAll, describe, expect, it } from 'vitest';
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
  networks?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  stop_grace_period?: string;
  restart?: string;
}
// `merge`: the file shares settings through `<<:` merge keys (YAML 1.1, which compose resolves).
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  networks: Record<string, { ipam?: { config?: { subnet?: string; ip_range?: string; gateway?: string }[] } }>;
};
const { redis, receiver, worker, dashboard, prometheus, grafana } = compose.services as Record<
  'redis' | 'receiver' | 'worker' | 'dashboard' | 'prometheus' | 'grafana',
  Service
>;

/** The services of the `ha` profile: Redis with two replicas and Sentinel, and the apps on it. */
const HA_SERVICES = [
  'redis-primary',
  'redis-replica',
  'redis-replica-2',
  'redis-sentinel-1',
  'redis-sentinel-2',
  'redis-sentinel-3',
  'receiver-ha',
  'worker-ha',
  'dashboard-ha',
];

/** `.env.example` as the apps would see it: `KEY=value` lines, comments skipped. */
const envExample = Object.fromEntries(
  read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

/**
 * `.env.example` as a user fills it in: its placeholders (refused at start: they are public) replaced
 * by values of their own.
 */
const envFilled: Record<string, string> = Object.fromEntries(
  Object.entries(envExample).map(([name, value]) => [
    name,
    /SECRET/.test(name)
      ? newTestSecret()
      : /TOKEN|PASSWORD|API_KEY/.test(name)
        ? randomBytes(24).toString('hex')
        : value,
  ]),
);

/** A variable `.env.example` shows commented out (`# NAME=value`), as it would be uncommented. */
const commented = (name: string) =>
  new RegExp(`^# ${name}=(\\S*)`, 'm').exec(read('.env.example'))?.[1] ?? `(no commented ${name})`;

const seconds = (duration: string | undefined) => Number(/^(\d+)s$/.exec(duration ?? '')?.[1] ?? Number.NaN);

/** Scratch directories of the tests that run the compose file's shell snippets, removed at the end. */
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});
const scratchDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'deployment-test-'));
  scratch.push(dir);
  return dir;
};

/**
 * Runs a compose shell snippet under `sh` as a container would (compose's `$$` escape undone), with
 * `commands` (name: sh script) ahead of everything else on PATH; its exit code.
 */
function runShell(snippet: string, commands: Record<string, string>, env: Record<string, string> = {}): number {
  const bin = scratchDir();
  for (const [name, body] of Object.entries(commands)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  try {
    execFileSync('sh', ['-c', snippet.replaceAll('$$', '$')], {
      env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...env },
      stdio: 'pipe',
    });
    return 0;
  } catch (error) {
    return (error as { status?: number }).status ?? -1;
  }
}

/** The `.lua` files below `dir`, relative to it. */
const luaFiles = (dir: string) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.lua'))
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));

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

  it('publishes the receiver on 3000 with a /readyz healthcheck, and its metrics port nowhere', () => {
    // A compose variable, not a JS template: the host port is RECEIVER_PORT, 3000 by default.
    expect(receiver?.ports).toEqual(['${RECEIVER_PORT:-3000}:3000']);
    expect(receiver?.environment?.PORT).toBe('3000');
    expect(receiver?.healthcheck?.test.join(' ')).toContain('127.0.0.1:3000/readyz');
    // /metrics is on a port of its own, which Prometheus reaches on the compose network (every
    // interface of the container) and nothing publishes.
    const config = loadReceiverConfig({ ...envFilled, ...receiver?.environment });
    expect(config.metrics).toEqual({ port: 9465, host: '0.0.0.0' });
    expect(config.metrics.port).not.toBe(config.http.port);
    expect(receiver?.ports?.filter((mapping) => mapping.endsWith(`:${config.metrics.port}`))).toEqual([]);
  });

  it('runs three workers by default, health on WORKER_METRICS_PORT', () => {
    expect(worker?.deploy?.replicas).toBe(3);
    expect(worker?.ports).toBeUndefined(); // replicas cannot share a host port
    const port = worker?.environment?.WORKER_METRICS_PORT;
    expect(worker?.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${port}/readyz`);
  });

  it('gives each app longer to stop than its own shutdown bound', () => {
    const receiverConfig = loadReceiverConfig({ ...envFilled, ...receiver?.environment });
    const workerConfig = loadWorkerConfig({ ...envFilled, ...worker?.environment });
    expect(seconds(receiver?.stop_grace_period) * 1000).toBeGreaterThan(receiverConfig.shutdownTimeoutMs);
    expect(seconds(worker?.stop_grace_period) * 1000).toBeGreaterThan(workerConfig.shutdownTimeoutMs);
  });

  it('sets only variables the apps read', () => {
    expect(Object.keys(receiver?.environment ?? {}).filter((name) => !RECEIVER_ENV.includes(name))).toEqual([]);
    expect(Object.keys(worker?.environment ?? {}).filter((name) => !WORKER_ENV.includes(name))).toEqual([]);
    expect(Object.keys(dashboard?.environment ?? {}).filter((name) => !DASHBOARD_ENV.includes(name))).toEqual([]);
    for (const [name, variables] of [
      ['receiver-ha', RECEIVER_ENV],
      ['worker-ha', WORKER_ENV],
      ['dashboard-ha', DASHBOARD_ENV],
    ] as const) {
      const environment = compose.services[name]?.environment;
      expect(environment, name).toBeDefined();
      expect(
        Object.keys(environment ?? {}).filter((variable) => !variables.includes(variable)),
        name,
      ).toEqual([]);
    }
  });

  it('serves the dashboard on its own port, on loopback only, never the webhook port', () => {
    expect(dashboard?.environment?.ADMIN_PORT).toBe('3001');
    expect(dashboard?.ports).toEqual(['127.0.0.1:${ADMIN_PORT:-3001}:3001']);
    // The app listens on loopback by default, which a published port cannot reach in a container:
    // compose says every interface of the container, and publishes on the host's loopback.
    expect(loadDashboardConfig({}).http.host).toBe('127.0.0.1');
    expect(dashboard?.environment?.ADMIN_HOST).toBe('0.0.0.0');
    expect(receiver?.environment?.PORT).not.toBe(dashboard?.environment?.ADMIN_PORT);
  });

  it('adds Prometheus and Grafana only with the observability profile', () => {
    for (const service of [prometheus, grafana]) {
      expect(service?.profiles).toEqual(['observability']);
      expect(service?.image).toMatch(/:v?\d+\.\d+\.\d+$/);
    }
    for (const [name, service] of Object.entries(compose.services)) {
      if (['prometheus', 'grafana'].includes(name)) continue;
      if (name === 'proxy') continue; // the proxy profile, below
      if (HA_SERVICES.includes(name)) expect(service.profiles, name).toEqual(['ha']);
      else expect(service.profiles, name).toBeUndefined();
    }
  });

  it('resolves its merge keys as compose does (no `<<` left in a service)', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(Object.keys(service), name).not.toContain('<<');
      expect(Object.keys(service.environment ?? {}), name).not.toContain('<<');
    }
  });
});

describe('docker-compose.yml, proxy profile (nginx in front of the receiver)', () => {
  const proxy = compose.services.proxy;
  /** deploy/nginx/nginx.conf as directives: comments and blank lines aside, one per `;` or `{`. */
  const directives = read('deploy/nginx/nginx.conf')
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '' && line !== '}')
    .map((line) => line.replace(/[;{]$/, '').trim());
  const directive = (name: string) => directives.filter((line) => line.split(/\s+/)[0] === name);
  const only = (name: string) => {
    const found = directive(name);
    expect(found, name).toHaveLength(1);
    return found[0]?.slice(name.length).trim() ?? '';
  };
  const seconds = (value: string) => Number(/^(\d+)s$/.exec(value)?.[1] ?? Number.NaN);
  const receiverConfig = loadReceiverConfig({ ...envFilled, ...receiver?.environment });

  it('runs nginx, pinned, only with the proxy profile, its config and certificates mounted read-only', () => {
    expect(proxy?.profiles).toEqual(['proxy']);
    expect(proxy?.image).toMatch(/^nginx:\d+\.\d+\.\d+/);
    expect(proxy?.volumes).toEqual([
      './deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro',
      './deploy/nginx/certs:/etc/nginx/certs:ro',
    ]);
    expect(proxy?.ports).toEqual(['${PROXY_HTTPS_PORT:-443}:443']);
    expect(proxy?.depends_on?.receiver?.condition).toBe('service_healthy');
    expect(only('listen')).toBe('443 ssl');
    expect(only('ssl_certificate')).toBe('/etc/nginx/certs/fullchain.pem');
    expect(only('ssl_certificate_key')).toBe('/etc/nginx/certs/privkey.pem');
  });

  it('limits connections and requests per client address, and slow headers and bodies', () => {
    const [, connectionZone] = /^\$binary_remote_addr zone=(\w+):\d+m$/.exec(only('limit_conn_zone')) ?? [];
    const [, connections] = new RegExp(`^${connectionZone} (\\d+)$`).exec(only('limit_conn')) ?? [];
    expect(Number(connections)).toBeGreaterThan(0);
    const [, requestZone, rate] =
      /^\$binary_remote_addr zone=(\w+):\d+m rate=(\d+)r\/s$/.exec(only('limit_req_zone')) ?? [];
    expect(Number(rate)).toBeGreaterThan(0);
    expect(only('limit_req')).toMatch(new RegExp(`^zone=${requestZone} burst=\\d+ nodelay$`));
    expect(only('limit_conn_status')).toBe('429');
    expect(only('limit_req_status')).toBe('429');
    // Cut sooner than the receiver would, and bodies no larger than it takes.
    for (const timeout of ['client_header_timeout', 'client_body_timeout']) {
      expect(seconds(only(timeout)) * 1000, timeout).toBeLessThan(receiverConfig.http.requestTimeoutMs);
    }
    expect(only('client_max_body_size')).toBe(`${receiverConfig.http.body.maxBytes / 1024 / 1024}m`);
  });

  it('forwards the webhook routes only, to the receiver, naming the client in a header it cannot forge', () => {
    const port = receiver?.environment?.PORT;
    expect(directive('server').filter((line) => line !== 'server')).toEqual([`server receiver:${port}`]);
    expect(directive('proxy_pass')).toEqual(['proxy_pass http://receiver', 'proxy_pass http://receiver']);
    expect(directive('location')).toEqual([
      'location = /webhooks/flexprice',
      'location /webhook-events/',
      'location /',
    ]);
    expect(only('return')).toBe('404'); // every other path, /metrics and /readyz among them
    // Replaced, not appended to ($proxy_add_x_forwarded_for): a client cannot slip in an address.
    expect(directive('proxy_set_header')).toContain('proxy_set_header X-Forwarded-For $remote_addr');
  });

  it('trusts the proxy, and only the proxy, in the receiver: the containers of a network the host cannot pose on', () => {
    expect(proxy?.networks).toEqual(['edge']);
    expect(receiver?.networks).toEqual(['default', 'edge']);
    const members = Object.entries(compose.services).filter(([, s]) => s.networks?.includes('edge'));
    expect(members.map(([name]) => name).sort()).toEqual(['proxy', 'receiver']);
    const [edge] = compose.networks.edge?.ipam?.config ?? [];
    expect(receiverConfig.http.trustedProxies).toEqual([edge?.ip_range]);
    // The gateway (the host) is on the subnet, outside the trusted range.
    expect(edge?.subnet).toBe('172.31.250.0/24');
    expect(edge?.ip_range).toBe('172.31.250.128/25');
    expect(edge?.gateway).toBe('172.31.250.1');
    // The app itself trusts nobody unless told.
    expect(loadReceiverConfig({ ...envFilled }).http.trustedProxies).toEqual([]);
  });
});

describe('docker-compose.yml, ha profile (Redis Sentinel)', () => {
  const service = (name: string): Service => {
    const found = compose.services[name];
    if (found === undefined) throw new Error(`no service ${name} in docker-compose.yml`);
    return found;
  };
  /** The sentinel services: a Redis started with `--sentinel`. */
  const sentinels = Object.entries(compose.services).filter(([, s]) =>
    /\s--sentinel\b/.test(s.command?.join(' ') ?? ''),
  );
  /** deploy/redis-ha/sentinel.conf, comments and blank lines aside. */
  const sentinelConf = read('deploy/redis-ha/sentinel.conf')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const monitor = sentinelConf
    .map((line) => /^sentinel monitor (\S+) (\S+) (\d+) (\d+)$/.exec(line))
    .find((match) => match !== null);
  const [, groupName = '(no monitor line)', monitoredHost, monitoredPort, quorum] = monitor ?? [];
  const sentinelPort = /^port (\d+)$/m.exec(sentinelConf.join('\n'))?.[1] ?? '(no port line)';
  /** The data nodes, and the template under deploy/redis-ha/ each is first started from. */
  const dataNodes = [
    ['redis-primary', 'redis-primary'],
    ['redis-replica', 'redis-replica'],
    ['redis-replica-2', 'redis-replica-2'],
  ] as const;
  /** deploy/redis-ha/<template>.conf, comments and blank lines aside. */
  const templateLines = (template: string) =>
    read(`deploy/redis-ha/${template}.conf`)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
  /** The data nodes that start as replicas (their template follows another node). */
  const firstReplicas = dataNodes.filter(([, template]) =>
    templateLines(template).some((line) => /^(replicaof|slaveof)\b/i.test(line)),
  );
  const apps = [
    ['receiver-ha', receiver],
    ['worker-ha', worker],
    ['dashboard-ha', dashboard],
  ] as const;
  /** The ha apps' environment over .env.example, as compose would run them. */
  const haEnv = (name: string) => ({ ...envFilled, ...service(name).environment });

  it('runs only when asked for: every ha service under `profiles: [ha]`, the default stack single-Redis', () => {
    for (const name of HA_SERVICES) expect(service(name).profiles, name).toEqual(['ha']);
    const inHa = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('ha'));
    expect(inHa.map(([name]) => name).sort()).toEqual([...HA_SERVICES].sort());
    const always = Object.entries(compose.services).filter(([, s]) => s.profiles === undefined);
    expect(always.map(([name]) => name).sort()).toEqual(['dashboard', 'receiver', 'redis', 'worker']);
    expect(always.filter(([, s]) => s.image?.startsWith('redis:')).map(([name]) => name)).toEqual(['redis']);
    for (const [name, s] of always) {
      if (s.build === undefined) continue;
      expect(s.environment?.REDIS_URL, name).toBe('redis://redis:6379');
      expect(
        Object.keys(s.environment ?? {}).filter((v) => v.startsWith('REDIS_')),
        name,
      ).toEqual(['REDIS_URL']);
      expect(Object.keys(s.depends_on ?? {}), name).toEqual(['redis']);
    }
  });

  it('starts nothing of the default stack: ha services depend on ha services only', () => {
    for (const name of HA_SERVICES) {
      const outside = Object.keys(service(name).depends_on ?? {}).filter(
        (dependency) => !HA_SERVICES.includes(dependency),
      );
      expect(outside, name).toEqual([]);
    }
  });

  /** A data node's start script (`sh -c <script>`), the template it copies and where to. */
  const nodeStart = (node: Service) => {
    const [shell, flag, script = ''] = node.command ?? [];
    const [, from = '(no cp)', to = '(no cp)'] = /\bcp (\S+) (\S+)/.exec(script) ?? [];
    return { shell, flag, script, from, to };
  };

  it.each(dataNodes)(
    '%s: runs a writable copy of deploy/redis-ha/%s.conf from its own named volume, copied on its first start only',
    (name, template) => {
      const node = service(name);
      expect(node.image).toBe(redis?.image);
      expect(node.restart).toBe('unless-stopped');
      const { shell, flag, script, from, to } = nodeStart(node);
      expect([shell, flag]).toEqual(['sh', '-c']);
      // Sentinel rewrites the node's config file when it changes its role: the node runs a copy of
      // its template, on its own named volume, through the image's entrypoint (which hands the
      // volume to the redis user and starts Redis as that user).
      expect(node.volumes).toContain(`./deploy/redis-ha/${template}.conf:${from}:ro`);
      expect(script).toMatch(new RegExp(`^exec docker-entrypoint\\.sh redis-server ${to}( |$)`, 'm'));
      const mount = node.volumes?.find((v) => !v.startsWith('./') && to.startsWith(`${v.split(':')[1]}/`));
      const [volume = '(no named volume holds the copy)', path] = mount?.split(':') ?? [];
      expect(compose.volumes).toHaveProperty(volume);
      expect(volume).not.toBe('redis-data');
      for (const [other] of dataNodes.filter(([n]) => n !== name)) expect(service(other).volumes).not.toContain(mount);
      // The AOF on that volume too.
      expect(templateLines(template)).toContain(`dir ${path}`);
      // The role is the file's, never the command line's: a restart keeps what Sentinel wrote.
      expect(script).not.toMatch(/replicaof|slaveof/i);
    },
  );

  it.each(dataNodes)(
    '%s: copies the template and appends REDIS_APPENDFSYNC once, then leaves the copy to Sentinel',
    (name, template) => {
      const node = service(name);
      const { script, from, to } = nodeStart(node);
      // REDIS_APPENDFSYNC as `redis` reads it (`always` by default).
      const redisFsync = redis?.command?.[(redis?.command?.indexOf('--appendfsync') ?? -2) + 1];
      expect(redisFsync).toBe('${REDIS_APPENDFSYNC:-always}');
      expect(node.environment?.REDIS_APPENDFSYNC).toBe(redisFsync);
      // The script run for real, its paths moved into a scratch directory and the image's entrypoint
      // replaced by one that records what it was asked to run.
      const dir = scratchDir();
      const [copy, templateCopy, argsFile] = [join(dir, 'redis.conf'), join(dir, 'template.conf'), join(dir, 'args')];
      const templateText = read(`deploy/redis-ha/${template}.conf`);
      writeFileSync(templateCopy, templateText);
      const moved = script.replaceAll(to, copy).replaceAll(from, templateCopy);
      // Nothing left that would touch this machine's own /data or /etc.
      expect(moved.replaceAll(dir, '')).not.toMatch(/\/(data|etc)\b/);
      const start = (fsync: string) => {
        const status = runShell(
          moved,
          { 'docker-entrypoint.sh': `printf '%s\\n' "$@" > '${argsFile}'` },
          { REDIS_APPENDFSYNC: fsync },
        );
        expect(status).toBe(0);
        return readFileSync(argsFile, 'utf8').split('\n').slice(0, -1);
      };
      // First start: the template, then the fsync policy on a line of its own.
      expect(templateText.endsWith('\n')).toBe(true);
      expect(start('everysec')).toEqual(['redis-server', copy, '--appendfsync', 'everysec']);
      expect(readFileSync(copy, 'utf8')).toBe(`${templateText}appendfsync everysec\n`);
      // Later starts: the copy as Sentinel left it (here: promoted, its `replicaof` gone), and the
      // current REDIS_APPENDFSYNC, which the command line applies over the file's.
      const rewritten = `${templateText.replace(/^replicaof .*\n/m, '')}appendfsync everysec\n`;
      writeFileSync(copy, rewritten);
      expect(start('always')).toEqual(['redis-server', copy, '--appendfsync', 'always']);
      expect(readFileSync(copy, 'utf8')).toBe(rewritten);
    },
  );

  it('seeds every data node as durable as `redis`, each announcing its service name, the replicas following redis-primary', () => {
    /** `redis`'s durability flags as config lines (`--save ""` is `save ""`), its fsync policy aside. */
    const flags = redis?.command?.slice(1) ?? [];
    const durability = flags
      .flatMap((flag, index) => (flag.startsWith('--') ? [`${flag.slice(2)} ${flags[index + 1] || '""'}`] : []))
      .filter((line) => !line.startsWith('appendfsync '));
    expect(durability).toEqual(['appendonly yes', 'maxmemory-policy noeviction', 'save ""']);
    for (const [name, template] of dataNodes) {
      const lines = templateLines(template);
      for (const line of durability) expect(lines, `${template}.conf`).toContain(line);
      // REDIS_APPENDFSYNC sets the fsync policy, not the template.
      expect(
        lines.filter((line) => line.startsWith('appendfsync')),
        `${template}.conf`,
      ).toEqual([]);
      // Its service name, which survives restarts, for the sentinels and the apps.
      expect(lines, `${template}.conf`).toContain(`replica-announce-ip ${name}`);
    }
    // The first topology: the replicas follow the primary the sentinels monitor; the primary follows
    // nothing.
    expect(`${monitoredHost} ${monitoredPort}`).toBe('redis-primary 6379');
    expect(firstReplicas.map(([name]) => name)).toEqual(['redis-replica', 'redis-replica-2']);
    for (const [, template] of firstReplicas) {
      expect(templateLines(template), template).toContain(`replicaof ${monitoredHost} ${monitoredPort}`);
    }
    expect(templateLines('redis-primary').filter((line) => /^(replicaof|slaveof)\b/i.test(line))).toEqual([]);
  });

  it('runs a primary, two replicas and three sentinels: losing any one data node for good leaves a replica for REDIS_WAIT_REPLICAS=1', () => {
    // Every Redis of the profile is a data node or a sentinel.
    const redises = Object.entries(compose.services).filter(
      ([, s]) => s.profiles?.includes('ha') && s.image?.startsWith('redis:'),
    );
    expect(redises.map(([name]) => name).sort()).toEqual(
      [...dataNodes.map(([name]) => name), ...sentinels.map(([name]) => name)].sort(),
    );
    expect(dataNodes.length - firstReplicas.length).toBe(1);
    expect(firstReplicas).toHaveLength(2);
    expect(sentinels).toHaveLength(3);
    // Whichever node is lost, the others are a primary and replicas enough for the apps' WAIT.
    const waited = Math.max(
      loadReceiverConfig(haEnv('receiver-ha')).redisWait.replicas,
      loadWorkerConfig(haEnv('worker-ha')).redisWait.replicas,
    );
    expect(dataNodes.length - 1 - 1).toBeGreaterThanOrEqual(waited);
  });

  it('calls a data node healthy in either role: answering, and a primary or a replica in sync', () => {
    const check = service('redis-primary').healthcheck;
    for (const [name] of dataNodes) expect(service(name).healthcheck, name).toEqual(check);
    expect(check?.test[0]).toBe('CMD-SHELL');
    /** The check run against a redis-cli that answers PING with `ping`, INFO replication with `info`. */
    const healthy = (ping: string | undefined, info: string[]) =>
      runShell(
        check?.test[1] ?? 'exit 9',
        {
          'redis-cli': [
            `[ -n "$PING" ] || { echo 'Could not connect to Redis at 127.0.0.1:6379: Connection refused' >&2; exit 1; }`,
            'case "$*" in',
            `  ping) printf '%s\\n' "$PING" ;;`,
            `  'info replication') printf '%s' "$INFO" ;;`,
            '  *) exit 2 ;;',
            'esac',
          ].join('\n'),
        },
        // INFO's lines end in CRLF.
        { PING: ping ?? '', INFO: ['# Replication', ...info, ''].join('\r\n') },
      ) === 0;
    expect(healthy('PONG', ['role:master', 'connected_slaves:1'])).toBe(true);
    expect(healthy('PONG', ['role:master', 'connected_slaves:0'])).toBe(true);
    expect(healthy('PONG', ['role:slave', 'master_host:redis-replica', 'master_link_status:up'])).toBe(true);
    expect(healthy('PONG', ['role:slave', 'master_host:redis-primary', 'master_link_status:up'])).toBe(true);
    // A replica answers PING before it is in sync, and while its primary is gone.
    expect(healthy('PONG', ['role:slave', 'master_host:redis-primary', 'master_link_status:down'])).toBe(false);
    // Still loading its AOF, or not answering at all.
    expect(healthy('LOADING Redis is loading the dataset in memory', ['role:master'])).toBe(false);
    expect(healthy(undefined, ['role:master'])).toBe(false);
  });

  it('makes nothing wait for a data node in a given role', () => {
    // After a failover redis-primary may be the replica of redis-replica: a data node waiting for the
    // other to be healthy could wait for its own replica, for ever.
    for (const [name] of dataNodes) expect(service(name).depends_on, name).toBeUndefined();
    // Whoever waits for a data node waits for the role-agnostic health check above.
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [node] of dataNodes) {
        const condition = s.depends_on?.[node]?.condition;
        if (condition !== undefined) expect(condition, `${name} on ${node}`).toBe('service_healthy');
      }
    }
  });

  it('monitors the primary service from three sentinels, a majority for quorum, by hostname', () => {
    expect(sentinels.map(([name]) => name).sort()).toEqual([
      'redis-sentinel-1',
      'redis-sentinel-2',
      'redis-sentinel-3',
    ]);
    expect(monitoredHost).toBe('redis-primary');
    expect(monitoredPort).toBe('6379'); // the data nodes' port (no --port on them)
    expect(Number(quorum)).toBeGreaterThan(sentinels.length / 2);
    expect(Number(quorum)).toBeLessThanOrEqual(sentinels.length);
    expect(sentinelConf).toContain(`sentinel down-after-milliseconds ${groupName} 5000`);
    expect(sentinelConf).toContain(`sentinel failover-timeout ${groupName} 60000`);
    // Hostnames instead of container addresses, which change on restart; resolving must be on
    // before the monitor line names the primary by hostname.
    expect(sentinelConf).toContain('sentinel announce-hostnames yes');
    const resolve = sentinelConf.indexOf('sentinel resolve-hostnames yes');
    expect(resolve).toBeGreaterThanOrEqual(0);
    expect(resolve).toBeLessThan(sentinelConf.findIndex((line) => line.startsWith('sentinel monitor ')));
  });

  it.each(['redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3'])(
    '%s: runs a writable copy of deploy/redis-ha/sentinel.conf and announces its service name',
    (name) => {
      const sentinel = service(name);
      expect(sentinel.image).toBe(redis?.image);
      const script = sentinel.command?.join(' ') ?? '';
      // Sentinel rewrites its config file: it runs a copy, on a named volume, of the template.
      const [, from, to] = /\bcp (\S+) (\S+)/.exec(script) ?? [];
      expect(sentinel.volumes).toContain(`./deploy/redis-ha/sentinel.conf:${from}:ro`);
      expect(script).toContain(`redis-server ${to} --sentinel`);
      const volume = sentinel.volumes?.find((v) => !v.startsWith('./') && to?.startsWith(`${v.split(':')[1]}/`));
      expect(compose.volumes).toHaveProperty(volume?.split(':')[0] ?? '(no named volume holds the copy)');
      const others = sentinels.filter(([other]) => other !== name).flatMap(([, s]) => s.volumes ?? []);
      expect(others).not.toContain(volume);
      // `$$` is compose's escape: the shell sees $SENTINEL_ANNOUNCE_HOSTNAME.
      expect(script).toContain(`sentinel announce-ip $$SENTINEL_ANNOUNCE_HOSTNAME" >> ${to}`);
      expect(sentinel.environment?.SENTINEL_ANNOUNCE_HOSTNAME).toBe(name);
      expect(sentinel.healthcheck?.test.join(' ')).toContain(
        `-p ${sentinelPort} sentinel get-master-addr-by-name ${groupName}`,
      );
      // It resolves the primary's hostname when it reads its config.
      expect(sentinel.depends_on?.['redis-primary']?.condition).toBe('service_healthy');
    },
  );

  it.each(apps)("%s: the default app's build, health, stop and restart settings, on the sentinels", (name, twin) => {
    const app = service(name);
    for (const key of ['build', 'env_file', 'healthcheck', 'stop_grace_period', 'deploy', 'restart'] as const) {
      expect(app[key], key).toEqual(twin?.[key]);
    }
    expect(app.build).toBeDefined();
    const env = app.environment ?? {};
    // One Redis target: an app given REDIS_URL or REDIS_CLUSTER_NODES as well refuses to start.
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.REDIS_CLUSTER_NODES).toBeUndefined();
    const named = (env.REDIS_SENTINELS ?? '').split(',');
    expect(named.map((node) => node.split(':')[0]).sort()).toEqual(sentinels.map(([s]) => s).sort());
    expect(named.map((node) => node.split(':')[1])).toEqual(named.map(() => sentinelPort));
    expect(env.REDIS_SENTINEL_NAME).toBe(groupName);
    for (const dependency of [...dataNodes.map(([node]) => node), ...sentinels.map(([s]) => s)]) {
      expect(app.depends_on?.[dependency]?.condition, dependency).toBe('service_healthy');
    }
    // The app's own port setting, as in the default stack (the healthcheck probes it).
    for (const variable of ['PORT', 'RECEIVER_METRICS_PORT', 'WORKER_METRICS_PORT', 'ADMIN_PORT', 'ADMIN_HOST']) {
      expect(env[variable], variable).toBe(twin?.environment?.[variable]);
    }
  });

  it('waits for one replica in the receiver and the worker (the dashboard does not read it)', () => {
    expect(service('receiver-ha').environment?.REDIS_WAIT_REPLICAS).toBe('1');
    expect(service('worker-ha').environment?.REDIS_WAIT_REPLICAS).toBe('1');
    expect(DASHBOARD_ENV).not.toContain('REDIS_WAIT_REPLICAS');
    expect(service('dashboard-ha').environment?.REDIS_WAIT_REPLICAS).toBeUndefined();
  });

  it('starts each app as compose would run it: on the sentinels, waiting for one replica', () => {
    const sentinelTarget = {
      mode: 'sentinel',
      sentinels: sentinels.map(([name]) => ({ host: name, port: Number(sentinelPort) })),
      name: groupName,
    };
    const receiverConfig = loadReceiverConfig(haEnv('receiver-ha'));
    expect(receiverConfig.redis).toMatchObject(sentinelTarget);
    expect(receiverConfig.redisWait.replicas).toBe(1);
    expect(receiverConfig.redisWait.timeoutMs).toBeLessThan(receiverConfig.queue.enqueueTimeoutMs);
    const workerConfig = loadWorkerConfig(haEnv('worker-ha'));
    expect(workerConfig.redis).toMatchObject(sentinelTarget);
    expect(workerConfig.redisWait.replicas).toBe(1);
    expect(loadDashboardConfig(haEnv('dashboard-ha')).redis).toMatchObject(sentinelTarget);
    // Longer to stop than the apps' own bound, as in the default stack.
    expect(seconds(service('receiver-ha').stop_grace_period) * 1000).toBeGreaterThan(receiverConfig.shutdownTimeoutMs);
    expect(seconds(service('worker-ha').stop_grace_period) * 1000).toBeGreaterThan(workerConfig.shutdownTimeoutMs);
  });

  it('refuses a REDIS_URL from .env on the ha apps (as its comment says), and .env.example sets none', () => {
    for (const variable of ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS']) {
      expect(envExample[variable], variable).toBeUndefined();
    }
    // The top comment says how to run it.
    expect(/^(#.*\n)+/.exec(read('docker-compose.yml'))?.[0]).toContain(
      'docker compose --profile ha up --build receiver-ha worker-ha dashboard-ha',
    );
    const leaked = (name: string) => ({ ...envFilled, REDIS_URL: 'redis://redis:6379', ...service(name).environment });
    expect(() => loadReceiverConfig(leaked('receiver-ha'))).toThrow(
      /REDIS_SENTINELS: cannot be combined with REDIS_URL/,
    );
    expect(() => loadWorkerConfig(leaked('worker-ha'))).toThrow(/REDIS_SENTINELS: cannot be combined with REDIS_URL/);
    expect(() => loadDashboardConfig(leaked('dashboard-ha'))).toThrow(
      /REDIS_SENTINELS: cannot be combined with REDIS_URL/,
    );
  });

  it('publishes the ha receiver and dashboard on their own host ports, the dashboard on loopback only', () => {
    expect(service('receiver-ha').ports).toEqual(['${RECEIVER_HA_PORT:-3010}:3000']);
    expect(service('dashboard-ha').ports).toEqual(['127.0.0.1:${ADMIN_HA_PORT:-3011}:3001']);
    expect(service('worker-ha').ports).toBeUndefined(); // replicas cannot share a host port
    /** The host port a mapping publishes (by default): `[ip:]port:container` or `[ip:]${VAR:-port}:container`. */
    const hostPort = (mapping: string | undefined) => {
      const match = /(?:\$\{\w+:-(\d+)\}|(\d+)):\d+$/.exec(mapping ?? '');
      return match?.[1] ?? match?.[2] ?? `(no host port in ${mapping})`;
    };
    // No two services publish one host port, so both stacks can run side by side.
    const published = Object.values(compose.services).flatMap((s) => (s.ports ?? []).map(hostPort));
    expect(published.length).toBeGreaterThanOrEqual(6);
    expect(published.filter((port, index) => published.indexOf(port) !== index)).toEqual([]);
    expect(hostPort(service('receiver-ha').ports?.[0])).not.toBe(hostPort(receiver?.ports?.[0]));
    expect(hostPort(service('dashboard-ha').ports?.[0])).not.toBe(hostPort(dashboard?.ports?.[0]));
  });
});

describe('deploy/ (Prometheus, alerts, Grafana)', () => {
  /** Every flexprice_* metric the apps define. */
  const defined = new Set(
    // (The Redis eviction gauge both apps export is defined once, in the runtime.)
    ['apps/receiver/src/metrics.ts', 'apps/worker/src/metrics.ts', 'packages/runtime/src/eviction.ts'].flatMap((file) =>
      [...read(file).matchAll(/name: '(flexprice_\w+)'/g)].map((m) => m[1]),
    ),
  );
  const referenced = (text: string) =>
    [...text.matchAll(/flexprice_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));

  it('scrapes the receiver on RECEIVER_METRICS_PORT (never the webhook port) and every worker replica on WORKER_METRICS_PORT', () => {
    const config = parse(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[];
    };
    const jobs = Object.fromEntries(config.scrape_configs.map((job) => [job.job_name, job.dns_sd_configs[0]]));
    const receiverConfig = loadReceiverConfig({ ...envFilled, ...receiver?.environment });
    expect(jobs.receiver).toMatchObject({ names: ['receiver'], port: receiverConfig.metrics.port });
    expect(jobs.receiver?.port).not.toBe(receiverConfig.http.port);
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

  it('starts both apps as compose would run them, once its placeholders are filled in', () => {
    expect(() => loadReceiverConfig({ ...envFilled, ...receiver?.environment })).not.toThrow();
    expect(() => loadWorkerConfig({ ...envFilled, ...worker?.environment })).not.toThrow();
    expect(() => loadDashboardConfig({ ...envFilled, ...dashboard?.environment })).not.toThrow();
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
    // The worked example of .env.example, commented out there (its secret filled in).
    const routed = {
      ...envFilled,
      ENQUEUE_EVENTS: commented('ENQUEUE_EVENTS'),
      FORWARD_ROUTES: commented('FORWARD_ROUTES'),
      FORWARD_SECRET: newTestSecret(),
    };
    expect(() => loadReceiverConfig({ ...routed, ...receiver?.environment })).not.toThrow();
    // The customer route is one route among the others.
    expect(loadWorkerConfig({ ...routed, ...worker?.environment }).routes.map((r) => r.pattern)).toEqual([
      'customer.*',
      'invoice.*',
    ]);
    const unrouted = { ...routed, FORWARD_ROUTES: '' };
    expect(() => loadReceiverConfig({ ...unrouted, ...receiver?.environment })).toThrow(
      /ENQUEUE_EVENTS: queues invoice\.update\.finalized.*FORWARD_ROUTES/,
    );
    expect(() => loadWorkerConfig({ ...unrouted, ...worker?.environment })).toThrow(
      /ENQUEUE_EVENTS: queues invoice\.update\.finalized.*FORWARD_ROUTES/,
    );
  });

  it('refuses to start as it is: its secret is public (forged webhooks would get in), and the message says what to do', () => {
    const refusal = (load: () => unknown) => {
      try {
        load();
      } catch (error) {
        return String(error);
      }
      return '(started)';
    };
    const message = refusal(() => loadReceiverConfig({ ...envExample, ...receiver?.environment }));
    expect(message).toContain('FLEXPRICE_WEBHOOK_SECRET: secret #1 is an example secret');
    expect(message).toContain("copy your endpoint's signing secret from Flexprice's webhook portal");
    // Its commented examples too, once uncommented as they are.
    const routes = refusal(() =>
      loadWorkerConfig({
        ...envFilled,
        ENQUEUE_EVENTS: commented('ENQUEUE_EVENTS'),
        FORWARD_ROUTES: commented('FORWARD_ROUTES'),
        FORWARD_SECRET: commented('FORWARD_SECRET'),
        FLEXPRICE_API_KEY: commented('FLEXPRICE_API_KEY'),
      }),
    );
    expect(routes).toContain('- FORWARD_SECRET: secret #1 is an example secret');
    expect(routes).toContain('- FLEXPRICE_API_KEY: is an example value');
    expect(() =>
      loadReceiverConfig({
        ...envFilled,
        FLEXPRICE_WEBHOOK_AUTH_HEADER: commented('FLEXPRICE_WEBHOOK_AUTH_HEADER'),
        FLEXPRICE_WEBHOOK_AUTH_TOKEN: commented('FLEXPRICE_WEBHOOK_AUTH_TOKEN'),
      }),
    ).toThrow(/FLEXPRICE_WEBHOOK_AUTH_TOKEN: is an example value/);
    expect(() =>
      loadDashboardConfig({
        ...envFilled,
        ADMIN_USERNAME: commented('ADMIN_USERNAME'),
        ADMIN_PASSWORD: commented('ADMIN_PASSWORD'),
      }),
    ).toThrow(/ADMIN_PASSWORD: is an example value/);
  });

  it('holds placeholders only', () => {
    for (const [name, value] of Object.entries(envExample)) {
      if (!/SECRET|TOKEN|PASSWORD/.test(name)) continue;
      const decoded = Buffer.from(value.replace(/^whsec_/, ''), 'base64').toString('utf8');
      expect(decoded, name).toMatch(/^replace-me/);
    }
  });
});

describe('the CLIs against the compose stack (package.json `compose:*`)', () => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  /** The worker's CLIs the root package runs locally: `pnpm <name>` → apps/worker/dist/cli/<file>. */
  const local = Object.entries(scripts).flatMap(([name, command]) => {
    const file = /^node scripts\/run-built\.mjs apps\/worker\/dist\/cli\/(\S+\.js)$/.exec(command)?.[1];
    return file === undefined ? [] : [[name, file] as const];
  });

  it('wraps each of them, run in a worker container where the image has it', () => {
    expect(local.map(([name]) => name).sort()).toEqual(['customers', 'dlq', 'sync']);
    const wrappers = Object.keys(scripts).filter((name) => name.startsWith('compose:'));
    expect(wrappers.sort()).toEqual(local.map(([name]) => `compose:${name}`).sort());
    // The worker image: its stage copies the deployed worker to the runtime's working directory.
    const workdir = (stage: string) =>
      (dockerStages().get(stage) ?? []).find((line) => line.startsWith('WORKDIR '))?.slice('WORKDIR '.length);
    const app = workdir('runtime');
    expect(dockerStages().get('worker')).toContain(`COPY --from=build --chown=node:node /out/worker ${app}`);
    // dist/ is the build of src/ (and all the deployed package ships).
    const build = JSON.parse(read('apps/worker/tsconfig.build.json')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    for (const [name, file] of local) {
      expect(scripts[`compose:${name}`]).toBe(`docker compose exec -T worker node dist/cli/${file}`);
      // The CLI exists (its source, built to dist/cli/ in the image), relative to the image's WORKDIR.
      expect(readFileSync(root(`apps/worker/src/cli/${file.replace(/\.js$/, '.ts')}`), 'utf8')).toContain('runCli(');
    }
    expect(worker?.build?.target).toBe('worker');
  });

  it('is documented in the README, docs/operations.md and the compose header', () => {
    const header = /^(#.*\n)+/.exec(read('docker-compose.yml'))?.[0] ?? '';
    for (const [name] of local) {
      expect(read('docs/operations.md'), name).toContain(`pnpm compose:${name}`);
      expect(read('README.md'), name).toContain(`pnpm compose:${name}`);
    }
    expect(header).toContain('pnpm compose:dlq');
    // The ha stack's command, the same wherever it is given.
    const ha = /docker compose --profile ha up --build [\w -]+/.exec(header)?.[0]?.trim();
    expect(ha).toBe('docker compose --profile ha up --build receiver-ha worker-ha dashboard-ha');
    for (const doc of ['README.md', 'docs/operations.md']) {
      const given = [
        ...read(doc)
          .replace(/\n/g, ' ')
          .matchAll(/docker compose --profile ha up --build [\w -]+/g),
      ];
      expect(given.length, doc).toBeGreaterThan(0);
      for (const [command] of given) expect(command.trim(), doc).toBe(ha);
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

  it("exposes only the receiver's webhook port: `docker run -P` must not publish its metrics", () => {
    const exposed = (stages.get('receiver') ?? []).filter((line) => line.startsWith('EXPOSE'));
    expect(exposed).toEqual([`EXPOSE ${loadReceiverConfig({ ...envFilled }).http.port}`]);
  });

  it('ships dist only (each app publishes its dist; sources stay out of the image)', () => {
    for (const app of ['receiver', 'worker', 'dashboard']) {
      const manifest = JSON.parse(read(`apps/${app}/package.json`)) as { files?: string[]; main?: string };
      expect(manifest.files).toEqual(['dist']);
      expect(manifest.main).toBe('dist/main.js');
    }
  });

  it("ships each app's Redis scripts: its build copies src/**/*.lua into dist, which the image builds and deploys", () => {
    const build = stages.get('build')?.join('\n') ?? '';
    // The packages' own build scripts (tsc, then the copy), before the deploys that take dist whole.
    expect(build.indexOf('pnpm --recursive run build')).toBeGreaterThan(-1);
    expect(build.indexOf('pnpm --recursive run build')).toBeLessThan(build.indexOf('pnpm deploy'));
    const withScripts = ['receiver', 'worker', 'dashboard'].filter(
      (app) => luaFiles(root(`apps/${app}/src`)).length > 0,
    );
    expect(withScripts).toEqual(['receiver', 'worker']);
    for (const app of withScripts) {
      const manifest = JSON.parse(read(`apps/${app}/package.json`)) as { scripts: { build: string } };
      expect(manifest.scripts.build).toBe('tsc -p tsconfig.build.json && node ../../scripts/copy-lua.mjs');
    }
    // Nothing the copy needs is kept out of the build context.
    // A pattern as Docker reads it (from the context's root; `**/` any depth, `*` within a name),
    // matching a path or one of its directories.
    const glob = (pattern: string) =>
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .split('**/')
        .map((part) => part.replace(/\*/g, '[^/]*'))
        .join('(?:.*/)?');
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((pattern) => new RegExp(`^${glob(pattern)}(?:/|$)`));
    const needed = [
      'scripts/copy-lua.mjs',
      ...withScripts.flatMap((app) => luaFiles(root(`apps/${app}/src`)).map((file) => `apps/${app}/src/${file}`)),
    ];
    for (const path of needed)
      expect(
        ignored.filter((pattern) => pattern.test(path)),
        path,
      ).toEqual([]);
  });

  it('copy-lua.mjs puts every .lua of src at its place in dist, and drops those src no longer has', () => {
    const dir = scratchDir();
    const put = (path: string, text: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    put('src/top.lua', 'return 1');
    put('src/ordering/deep.lua', 'return 2');
    put('src/main.ts', '');
    put('dist/gone.lua', 'return 0');
    put('dist/main.js', '');
    execFileSync(process.execPath, [root('scripts/copy-lua.mjs')], { cwd: dir, stdio: 'pipe' });
    expect(luaFiles(join(dir, 'dist')).sort()).toEqual(['ordering/deep.lua', 'top.lua']);
    expect(readFileSync(join(dir, 'dist/ordering/deep.lua'), 'utf8')).toBe('return 2');
    expect(existsSync(join(dir, 'dist/main.js'))).toBe(true);
  });
});
