import type { Environment, FamilySpec } from './families.js';
import { omitEmpty } from './wire.js';

/** What every family's entity has, whatever else it holds. */
interface Entity {
  id: string;
  status?: string;
  created_at: string;
  updated_at: string;
}

/** What a test may put on an entity: the family's fields, and any others (served as given). */
export type EntityInput<E extends Entity> = Pick<E, 'id'> & Partial<Omit<E, 'id'>> & Record<string, unknown>;

/** An entity as the stand-in holds it: the family's fields and whatever else the test put there. */
export type Held<E extends Entity> = E & Record<string, unknown>;

/** One family's entities, and the answers the API gives about them. */
export interface FamilyStore<E extends Entity> {
  /** Creates or changes an entity: the test's fields over the last ones over the family's
   *  defaults (`undefined` or `''` leaves a field out); `updated_at` moves to now (µs, strictly
   *  increasing across the whole stand-in) unless the test gives one. */
  upsert(input: EntityInput<E>): Held<E>;
  /** Deletes as Flexprice does: a soft delete to `status: archived`, `updated_at` moved. */
  archive(id: string): Held<E> | undefined;
  /** Forgets the entity: reads answer 404, lists leave it out. */
  remove(id: string): boolean;
  get(id: string): Held<E> | undefined;
  all(): Held<E>[];
  /** The JSON object a read serves for it: empty fields left out (and, for payments, `status`). */
  served(id: string): Record<string, unknown> | undefined;
}

/** The store as the server uses it: also creates an unknown entity for the CLI's demo. */
export interface ServedStore<E extends Entity> extends FamilyStore<E> {
  /** The entity, created with the family's demo fields when there is none. */
  ensure(id: string): Held<E>;
}

export function createFamilyStore<E extends Entity>(
  spec: FamilySpec<E>,
  env: Environment,
  tick: () => string,
): ServedStore<E> {
  const entities = new Map<string, Held<E>>();

  /** Every write: the fields over the last ones over the defaults, `updated_at` moved. */
  function write(id: string, fields: object, updatedAt?: string): Held<E> {
    const previous = entities.get(id);
    const now = tick();
    // The one cast: the spread of the family's typed defaults and the test's fields is that
    // family's entity, which TypeScript cannot tell of a generic spread.
    const entity = {
      ...spec.defaults(id, env),
      created_at: previous?.created_at ?? now,
      ...previous,
      ...fields,
      id,
      updated_at: updatedAt ?? now,
    } as Held<E>;
    entities.set(id, entity);
    return entity;
  }

  function serve(entity: Held<E>): Record<string, unknown> {
    const wire = omitEmpty(entity);
    if (spec.statusServed) return wire;
    const { status: _held, ...rest } = wire;
    return rest;
  }

  return {
    upsert: (input) => write(input.id, input, input.updated_at),
    archive: (id) => (entities.has(id) ? write(id, { status: 'archived' }) : undefined),
    remove: (id) => entities.delete(id),
    get: (id) => entities.get(id),
    all: () => [...entities.values()],
    served(id) {
      const entity = entities.get(id);
      return entity && serve(entity);
    },
    ensure: (id) => entities.get(id) ?? write(id, spec.demo?.(id) ?? {}),
  };
}
