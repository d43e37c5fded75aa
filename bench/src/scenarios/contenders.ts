import type { Auth } from '../deliveries.js';
import { SCRIPTS } from '../paths.js';

/** The stable ids of the receivers compared. */
export type ReceiverId = 'bareExpress' | 'naiveReceiver' | 'oursSigned' | 'oursStatic' | 'minimalReceiver';

export interface Contender {
  id: ReceiverId;
  label: string;
  script: string;
  auth: Auth;
  /** Bare Express never talks to Redis: its commands per webhook are 0, not the noise of others. */
  usesRedis: boolean;
}

/** The receivers, in the order of the table (and of the first round). */
export const CONTENDERS: readonly Contender[] = [
  {
    id: 'bareExpress',
    label: 'bare Express (express.json, 202, no work)',
    script: SCRIPTS.bareExpress,
    auth: 'signed',
    usesRedis: false,
  },
  {
    id: 'naiveReceiver',
    label: 'naive receiver (Express + zod + queue.add)',
    script: SCRIPTS.naiveReceiver,
    auth: 'signed',
    usesRedis: true,
  },
  { id: 'oursSigned', label: 'ours, Svix-signed', script: SCRIPTS.receiver, auth: 'signed', usesRedis: true },
  { id: 'oursStatic', label: 'ours, static header', script: SCRIPTS.receiver, auth: 'static', usesRedis: true },
  {
    id: 'minimalReceiver',
    label: 'minimal receiver (route + HMAC + zod + deduplicated add, nothing else)',
    script: SCRIPTS.minimalReceiver,
    auth: 'signed',
    usesRedis: true,
  },
];

export function contender(id: ReceiverId): Contender {
  const found = CONTENDERS.find((c) => c.id === id);
  if (!found) throw new Error(`no receiver ${id}`);
  return found;
}
