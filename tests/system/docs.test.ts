// The docs are read by operators, so they are checked like the deployment files: docs/configuration.md
// names exactly the variables each app reads, and every relative link in the docs leads somewhere.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES as DASHBOARD_ENV } from '../../apps/dashboard/src/config.js';
import { ENV_VARIABLES as RECEIVER_ENV } from '../../apps/receiver/src/config.js';
import { ENV_VARIABLES as WORKER_ENV } from '../../apps/worker/src/config.js';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const read = (path: string) => readFileSync(root(path), 'utf8');

/** The documents whose links are checked: the README, RELIABILITY.md and every page of docs/. */
const DOCUMENTS = [
  'README.md',
  'RELIABILITY.md',
  ...readdirSync(root('docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** Markdown with its fenced code blocks blanked (same line count): code is neither table, heading nor link. */
function withoutCode(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line;
    })
    .join('\n');
}

/** The `## ` sections of a document, by heading (the text before the first one is under ''). */
function sections(markdown: string): Map<string, string> {
  const found = new Map<string, string>();
  let heading = '';
  let lines: string[] = [];
  for (const line of withoutCode(markdown).split('\n')) {
    const h2 = /^## (.+)$/.exec(line);
    if (h2?.[1]) {
      found.set(heading, lines.join('\n'));
      heading = h2[1].trim();
      lines = [];
    } else {
      lines.push(line);
    }
  }
  found.set(heading, lines.join('\n'));
  return found;
}

/**
 * The variables a section documents: the backquoted names in the first column of its tables'
 * rows (headers and separators aside), several per cell allowed ("`ADMIN_USERNAME`, `ADMIN_PASSWORD`").
 * `stray` holds the first cells with anything else in them, so that a misspelt name cannot hide.
 */
function tableVariables(section: string): { names: string[]; stray: string[] } {
  const names: string[] = [];
  const stray: string[] = [];
  const lines = section.split('\n');
  const separator = (text: string | undefined) => /^\|\s*:?-+:?\s*\|/.test(text ?? '');
  for (const [index, line] of lines.entries()) {
    if (!line.startsWith('|') || separator(line) || separator(lines[index + 1])) continue; // headers too
    const cell = line.split('|')[1] ?? '';
    names.push(...[...cell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1] ?? ''));
    if (cell.replace(/`[A-Z][A-Z0-9_]*`/g, '').replace(/[\s,]/g, '') !== '') stray.push(cell.trim());
  }
  return { names, stray };
}

const sorted = (names: Iterable<string>) => [...new Set(names)].sort();

describe('docs/configuration.md', () => {
  const doc = sections(read('docs/configuration.md'));
  const SHARED = 'Shared by every app';
  const LOCAL = 'Local run and compose only';
  const apps = [
    ['Receiver', RECEIVER_ENV],
    ['Worker', WORKER_ENV],
    ['Dashboard', DASHBOARD_ENV],
  ] as const;
  const shared = tableVariables(doc.get(SHARED) ?? '').names;
  /** What a section documents: its own tables, plus the shared table when it links to it. */
  const documented = (heading: string) => {
    const section = doc.get(heading) ?? '';
    const own = tableVariables(section).names;
    return section.includes('](#shared-by-every-app)') ? [...shared, ...own] : own;
  };

  it('has a section per app, the shared variables and the local/compose ones, and no other tables', () => {
    expect(shared.length).toBeGreaterThan(0);
    const withTables = [...doc].filter(([, text]) => tableVariables(text).names.length > 0).map(([heading]) => heading);
    expect(withTables.sort()).toEqual([SHARED, ...apps.map(([heading]) => heading), LOCAL].sort());
    expect([...doc.values()].flatMap((text) => tableVariables(text).stray)).toEqual([]);
  });

  it.each(apps)('%s: documents exactly the variables the app reads, each once', (heading, variables) => {
    const names = documented(heading);
    const notDocumented = variables.filter((name) => !names.includes(name));
    const notRead = names.filter((name) => !variables.includes(name));
    expect(notDocumented, `read by the app, missing from "${heading}" (or the shared table)`).toEqual([]);
    expect(notRead, `documented under "${heading}" (or as shared), not read by the app`).toEqual([]);
    expect(
      names.filter((name, index) => names.indexOf(name) !== index),
      'documented twice',
    ).toEqual([]);
  });

  it('lists under "Local run and compose only" exactly what compose and pnpm start read beyond the apps', () => {
    const appVariables = new Set([...RECEIVER_ENV, ...WORKER_ENV, ...DASHBOARD_ENV]);
    const compose = [...read('docker-compose.yml').matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] ?? '');
    const startLocal = [...read('scripts/start-local.mjs').matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)].map(
      (m) => m[1] ?? '',
    );
    const outsideApps = sorted([...compose, ...startLocal].filter((name) => !appVariables.has(name)));
    expect(sorted(tableVariables(doc.get(LOCAL) ?? '').names)).toEqual(outsideApps);
  });
});

describe('variables named in the README and the operator docs', () => {
  const configuration = sections(read('docs/configuration.md'));
  /** What compose and `pnpm start` read beyond the apps (held to them above). */
  const local = tableVariables(configuration.get('Local run and compose only') ?? '').names;
  const known = new Set([...RECEIVER_ENV, ...WORKER_ENV, ...DASHBOARD_ENV, ...local]);

  it.each(['README.md', 'docs/operations.md', 'docs/http-api.md'])(
    '%s: every variable it names (`NAME` or `NAME=value`) is one an app, compose or pnpm start reads, so spelt',
    (path) => {
      const named = [...read(path).matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=[^`]*)?`/g)].map((m) => m[1] ?? '');
      expect(named.length).toBeGreaterThan(0);
      expect(sorted(named.filter((name) => !known.has(name)))).toEqual([]);
    },
  );
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a markdown file's headings, numbered as GitHub numbers repeated ones. */
function anchorsOf(path: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(read(path)).split('\n')) {
    const heading = /^#{1,6} (.+?)\s*#*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Every relative link of a document (inline code and code blocks aside): its target and anchor. */
function relativeLinks(path: string): { link: string; target: string; anchor: string | undefined }[] {
  const text = withoutCode(read(path)).replace(/`[^`\n]*`/g, (code) => (code.includes('](') ? '``' : code));
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((match) => match[1] ?? '')
    .filter((link) => !/^[a-z][a-z0-9+.-]*:/i.test(link))
    .map((link) => {
      const [file = '', anchor] = link.split('#');
      const target = file === '' ? path : relative(root(''), join(dirname(root(path)), decodeURI(file)));
      return { link, target, anchor };
    });
}

describe('links in README.md, RELIABILITY.md and docs/', () => {
  it.each(DOCUMENTS)('%s: every relative link points at an existing file (and heading)', (path) => {
    const broken = relativeLinks(path)
      .filter(({ target, anchor }) => {
        if (target.startsWith('..') || !existsSync(root(target))) return true;
        return anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor);
      })
      .map(({ link }) => link);
    expect(broken).toEqual([]);
  });

  it.each(DOCUMENTS.filter((path) => path.startsWith('docs/')))('%s links back to the README at its top', (path) => {
    expect(sections(read(path)).get('')).toContain('](../README.md)');
  });

  it('the README keeps its two commands and a signed curl that works after `pnpm start`', () => {
    const readme = read('README.md');
    expect(readme).toContain('`cp .env.example .env`');
    expect(readme).toContain('`docker compose up --build`');
    expect(readme).toContain('`pnpm install && pnpm test`');
    expect(readme).toContain('curl -i http://127.0.0.1:3000/webhooks/flexprice');
    // `pnpm start` without a usable secret signs with one of its session, in its session file: the
    // curl reads it from there (a secret printed here would be a public one, which is refused).
    const sessionFile = /'\.local\/session\.env'/.exec(read('scripts/start-local.mjs'))?.[0].slice(1, -1);
    expect(/^SECRET="\$\(sed -n 's\/\^FLEXPRICE_WEBHOOK_SECRET=\/\/p' (\S+)\)"$/m.exec(readme)?.[1]).toBe(sessionFile);
    expect(readme).not.toMatch(/whsec_[A-Za-z0-9+/]{8,}/);
  });
});
