import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';

/** How much body the receiver takes, and how fast it must come. */
export interface BodyLimits {
  /** MAX_BODY_BYTES: one body. */
  maxBytes: number;
  /** BODY_BUDGET_BYTES: the bodies of all requests being read at once, in this process. */
  budgetBytes: number;
  /** BODY_RATE_WINDOW_MS: a body is measured over stretches of this length... */
  rateWindowMs: number;
  /** BODY_MIN_BYTES_PER_SECOND: ...each of which must bring at least this much a second. */
  minBytesPerSecond: number;
}

export type BodyRefusal = 'payload_too_large' | 'unsupported_media_type' | 'bad_request' | 'too_slow' | 'overloaded';

export type BodyResult = { ok: true; raw: Buffer } | { ok: false; code: BodyRefusal };

/** raw-body's error type for a body over the limit (declared or counted). */
const TOO_LARGE = 'entity.too.large';

/**
 * Body bytes held by the requests being read, against one budget for the whole process: forged
 * signature headers pass every check the headers allow, so only a budget bounds what they can make
 * the receiver hold.
 */
export function createBodyBudget(limitBytes: number) {
  let held = 0;
  return {
    get held(): number {
      return held;
    },
    /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
    take(bytes: number): boolean {
      if (held + bytes > limitBytes) return false;
      held += bytes;
      return true;
    },
    give(bytes: number): void {
      held -= bytes;
    },
  };
}

export type BodyBudget = ReturnType<typeof createBodyBudget>;

function declaredLength(req: IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  // A malformed length is left to raw-body (a 400); Node refuses most of them before us.
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/**
 * Reads request bodies as the exact bytes that were signed, whatever their declared type, within
 * the limits. Each answer it refuses with is decided before the body is read where it can be:
 *
 * - a compressed body: Flexprice never sends one, and a signature is over the bytes as sent;
 * - a declared length over `maxBytes`;
 * - a declared length that does not fit in the budget (`overloaded`, a 503 the sender retries);
 *
 * and while the body arrives: a body without a declared length takes from the budget as it comes;
 * a stretch of `rateWindowMs` that brings less than `minBytesPerSecond` (nothing at all, or a
 * trickle) ends the read (`too_slow`): a socket costs the client bandwidth, not just patience.
 * The bytes are given back to the budget when the request's response closes.
 *
 * raw-body enforces the limit on the declared length and on the bytes as they come, and fails on
 * a body cut short; it cannot be told to give up, so a refusal mid-body settles without it, and the
 * caller's answer (which closes the connection) ends its read.
 */
export function createBodyReader(
  limits: BodyLimits,
  {
    budget = createBodyBudget(limits.budgetBytes),
    now = () => performance.now(),
  }: { budget?: BodyBudget /** Milliseconds, injected for tests. */; now?: () => number } = {},
) {
  const minPerWindow = (limits.minBytesPerSecond * limits.rateWindowMs) / 1000;

  return function readBody(req: IncomingMessage, res: ServerResponse): Promise<BodyResult> {
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      return Promise.resolve({ ok: false, code: 'unsupported_media_type' });
    }
    const declared = declaredLength(req);
    if (declared !== undefined && declared > limits.maxBytes) {
      return Promise.resolve({ ok: false, code: 'payload_too_large' });
    }
    let reserved = declared ?? 0;
    if (!budget.take(reserved)) return Promise.resolve({ ok: false, code: 'overloaded' });
    res.once('close', () => budget.give(reserved));

    return new Promise<BodyResult>((resolve) => {
      let settled = false;
      let received = 0;
      let receivedAtCheck = 0;
      let checkedAt = now();
      const finish = (result: BodyResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.off('data', count);
        resolve(result);
      };
      const count = (chunk: Buffer) => {
        received += chunk.length;
        if (received <= reserved) return;
        if (!budget.take(received - reserved)) return finish({ ok: false, code: 'overloaded' });
        reserved = received;
      };
      const check = () => {
        const at = now();
        // A timer runs late while the event loop is busy; the client is not to blame for that stretch.
        const late = at - checkedAt > 2 * limits.rateWindowMs;
        const brought = received - receivedAtCheck;
        if (!late && (brought === 0 || brought < minPerWindow)) return finish({ ok: false, code: 'too_slow' });
        receivedAtCheck = received;
        checkedAt = at;
        timer = setTimeout(check, limits.rateWindowMs);
      };
      let timer = setTimeout(check, limits.rateWindowMs);
      getRawBody(req, { limit: limits.maxBytes, length: req.headers['content-length'] }).then(
        (raw) => finish({ ok: true, raw }),
        (err: unknown) => {
          const type = typeof err === 'object' && err !== null && 'type' in err ? err.type : undefined;
          finish({ ok: false, code: type === TOO_LARGE ? 'payload_too_large' : 'bad_request' });
        },
      );
      req.on('data', count);
    });
  };
}

export type ReadBody = ReturnType<typeof createBodyReader>;
