/**
 * Deepest nesting accepted in a webhook body (objects and arrays; the body itself is level 1).
 * Flexprice's deepest payload, an invoice with line items and their metadata, is under 10 levels.
 * A deeper body is refused with 422 before any Redis work: JSON.parse copes with any depth, but
 * serialising it again (BullMQ's JSON.stringify, a forward) overflows the stack, which would fail
 * every attempt of a delivery the sender then retries for a day.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests deeper than `max` levels. Iterative: any depth is safe. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [current, depth] = item;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
