import { describe, expect, it } from 'vitest';
import { compileEventFilter } from './routing.js';

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
