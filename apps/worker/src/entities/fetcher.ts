import type { ApiFamily } from '@flexprice/contracts';
import type { ApiEntity, FlexpriceApi } from '../outbound/flexprice-api.js';

export interface EntityFetcherOptions {
  /** Largest batch of one search call. */
  maxBatch?: number;
  /** Longest a fetch waits for others to join its batch. */
  lingerMs?: number;
  /**
   * How many jobs of this family are reading their entity now, from the start of their read to its
   * answer (jobs storing or forwarding are not counted): when all of them wait here, waiting longer
   * gains nothing.
   */
  readingJobs: () => number;
}

interface Waiting {
  resolve: (entity: ApiEntity | undefined) => void;
  reject: (error: unknown) => void;
}

type Batch = Map<string, Waiting[]>;

/**
 * Reads entities of one family from the API for the jobs of this process, in batches when many
 * jobs read: the fetches that meet within a few milliseconds go out as one search with their ids
 * (the family's `byIds`). A fetch goes out at once when every job still reading waits for one (a
 * single event is read at once, by id), when the batch is full, or after `lingerMs`. A search lists
 * one soft-delete status at a time: published, then archived for those still missing; one found by
 * neither is read by id (a 404, or a status no search lists). A family without a search by ids
 * (entitlements, credit notes) is read by id, one call per entity; one without a read by id
 * (features) by a search of the one id.
 */
export function createEntityFetcher(api: FlexpriceApi, family: ApiFamily, options: EntityFetcherOptions) {
  const maxBatch = options.maxBatch ?? 100;
  const lingerMs = options.lingerMs ?? 20;
  const can = api.can(family);
  let pending: Batch = new Map();
  let waitingCount = 0;
  let timer: NodeJS.Timeout | undefined;

  const settle = (waiting: Waiting[], entity: ApiEntity | undefined) => {
    for (const w of waiting) w.resolve(entity);
  };
  const fail = (waiting: Waiting[], error: unknown) => {
    for (const w of waiting) w.reject(error);
  };

  /** The entities with these ids, a search per soft-delete status until every one is found. */
  async function search(ids: string[]): Promise<Map<string, ApiEntity>> {
    const found = new Map<string, ApiEntity>();
    for (const status of can.statuses.length > 0 ? can.statuses : [undefined]) {
      const missing = ids.filter((id) => !found.has(id));
      if (missing.length === 0) break;
      for (const entity of await api.byIds(family, missing, status)) {
        if (missing.includes(entity.id)) found.set(entity.id, entity);
      }
    }
    return found;
  }

  /**
   * One entity by id. A 404 where the family's search was not asked yet is checked with it: some
   * reads by id answer 404 for a soft-deleted entity the archived search still lists (a
   * subscription's), and the answer must not depend on whether the job was read alone or in a batch.
   */
  async function byId(id: string, waiting: Waiting[], searched: boolean): Promise<void> {
    try {
      let entity = can.get ? await api.get(family, id) : undefined;
      if (entity === undefined && !searched && can.byIds) entity = (await search([id])).get(id);
      settle(waiting, entity);
    } catch (error) {
      fail(waiting, error);
    }
  }

  async function send(batch: Batch): Promise<void> {
    const ids = [...batch.keys()];
    const [only] = ids;
    if (!can.byIds || (ids.length === 1 && only !== undefined && can.get)) {
      await Promise.all(ids.map((id) => byId(id, batch.get(id) ?? [], false)));
      return;
    }
    let found: Map<string, ApiEntity>;
    try {
      found = await search(ids);
    } catch (error) {
      for (const waiting of batch.values()) fail(waiting, error);
      return;
    }
    await Promise.all(
      ids.map(async (id) => {
        const waiting = batch.get(id) ?? [];
        const entity = found.get(id);
        if (entity) settle(waiting, entity);
        else await byId(id, waiting, true);
      }),
    );
  }

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    const entries = [...pending];
    pending = new Map();
    waitingCount = 0;
    for (let at = 0; at < entries.length; at += maxBatch) void send(new Map(entries.slice(at, at + maxBatch)));
  }

  return {
    /** The entity as the API has it now, or undefined when it has none with that id. */
    fetch(id: string): Promise<ApiEntity | undefined> {
      return new Promise((resolve, reject) => {
        const waiting = pending.get(id);
        if (waiting) waiting.push({ resolve, reject });
        else pending.set(id, [{ resolve, reject }]);
        waitingCount += 1;
        if (pending.size >= maxBatch || waitingCount >= options.readingJobs()) {
          // Everyone who could join has: go now (after the other fetches of this turn).
          clearTimeout(timer);
          timer = setTimeout(flush, 0);
        } else if (timer === undefined) {
          timer = setTimeout(flush, lingerMs);
        }
      });
    },
  };
}

export type EntityFetcher = ReturnType<typeof createEntityFetcher>;
