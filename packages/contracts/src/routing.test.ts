import { describe, expect, it } from 'vitest';
import { compileEventFilter, parseForwardRoutes, routeFor, unprocessedProblem } from './routing.js';

describe('compileEventFilter', () => {
  it('matches whole segments behind a wildcard', () => {
    const filter = compileEventFilter(['customer.*']);
    expect(filter.ok && filter.selected.sort()).toEqual(['customer.created', 'customer.deleted', 'customer.updated']);
  });

  it('takes exact names and a catch-all', () => {
    const exact = compileEventFilter(['invoice.update']);
    expect(exact.ok && exact.selected).toEqual(['invoice.update']);
    const all = compileEventFilter(['*']);
    expect(all.ok && all.selected).toHaveLength(57);
  });

  it('names the patterns that match nothing', () => {
    expect(compileEventFilter(['custmer.*', 'customer.created', 'invoice.update.*.x'])).toEqual({
      ok: false,
      unmatched: ['custmer.*', 'invoice.update.*.x'],
    });
  });

  it('treats regex characters literally', () => {
    expect(compileEventFilter(['customer.create.'])).toEqual({ ok: false, unmatched: ['customer.create.'] });
    expect(compileEventFilter(['customer(.*)'])).toEqual({ ok: false, unmatched: ['customer(.*)'] });
  });
});

describe('parseForwardRoutes', () => {
  it('reads pattern=url pairs separated by commas or spaces; the first match wins', () => {
    const parsed = parseForwardRoutes(
      'invoice.update.finalized=https://billing.internal/final, invoice.*=http://billing.internal/all  *=https://rest.internal/x?a=b',
    );
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    expect(parsed.routes.map((r) => [r.pattern, r.url, r.claims.length])).toEqual([
      ['invoice.update.finalized', 'https://billing.internal/final', 1],
      ['invoice.*', 'http://billing.internal/all', 5],
      ['*', 'https://rest.internal/x?a=b', 51],
    ]);
    expect(routeFor(parsed.routes, 'invoice.update.finalized')?.url).toBe('https://billing.internal/final');
    expect(routeFor(parsed.routes, 'invoice.update.voided')?.url).toBe('http://billing.internal/all');
    expect(routeFor(parsed.routes, 'customer.created')?.pattern).toBe('*');
  });

  it('puts the routes given first (the customer route) before the variable', () => {
    const parsed = parseForwardRoutes('*=https://all.internal/', [
      { pattern: 'customer.*', url: 'https://crm.internal/' },
    ]);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    expect(routeFor(parsed.routes, 'customer.deleted')?.url).toBe('https://crm.internal/');
    expect(routeFor(parsed.routes, 'wallet.created')?.url).toBe('https://all.internal/');
  });

  it('names every wrong entry', () => {
    expect(
      parseForwardRoutes(
        'invoice.*, wallet.*=ftp://x, invoce.*=https://x, =https://y, *=https://a, payment.*=https://b',
      ),
    ).toEqual({
      ok: false,
      problems: [
        '"invoice.*" is not pattern=url (e.g. invoice.*=https://billing.internal/hooks)',
        'wallet.*: its URL is not an http(s) URL',
        'invoce.*: matches no Flexprice event type',
        'an entry without a pattern is not pattern=url (e.g. invoice.*=https://billing.internal/hooks)',
        'payment.*: every event it matches is taken by an earlier route',
      ],
    });
  });

  it('refuses a URL with user:password@ (fetch would refuse every forward), and never quotes a URL', () => {
    const parsed = parseForwardRoutes(
      'invoice.*=https://ops:s3cret@billing.internal/hooks wallet.*=https://ops@billing.internal/w =https://a:s3cret@x',
    );
    expect(parsed).toEqual({
      ok: false,
      problems: [
        expect.stringMatching(/^invoice\.\*: its URL carries a user name or password \(user:password@…\)/),
        expect.stringMatching(/^wallet\.\*: its URL carries a user name or password/),
        expect.stringMatching(/^an entry without a pattern is not pattern=url/),
      ],
    });
    expect(JSON.stringify(parsed)).not.toMatch(/s3cret|ops@/);
  });

  it('is empty when unset', () => {
    expect(parseForwardRoutes(undefined)).toEqual({ ok: true, routes: [] });
  });
});

describe('unprocessedProblem', () => {
  const routes = (value: string) => {
    const parsed = parseForwardRoutes(value);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    return parsed.routes;
  };

  it('accepts customer events without a route (built in) and routed ones', () => {
    expect(unprocessedProblem(['customer.created', 'invoice.update'], routes('invoice.*=https://x.internal/'))).toBe(
      undefined,
    );
  });

  it('names the queued types nothing processes, and FORWARD_ROUTES', () => {
    const problem = unprocessedProblem(
      ['customer.created', 'invoice.update', 'wallet.created'],
      routes('wallet.*=https://w/'),
    );
    expect(problem).toBe(
      'queues invoice.update, which nothing processes: add a route to FORWARD_ROUTES ' +
        '(e.g. invoice.update=https://your-service/hooks) or leave them out of ENQUEUE_EVENTS',
    );
    const all = compileEventFilter(['*']);
    expect(all.ok && unprocessedProblem(all.selected, [])).toMatch(
      /^queues subscription\.created, .* and 48 more, which/,
    );
  });
});
