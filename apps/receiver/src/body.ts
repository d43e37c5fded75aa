import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';

export type BodyResult =
  | { ok: true; raw: Buffer }
  | { ok: false; code: 'payload_too_large' | 'unsupported_media_type' | 'bad_request' };

/** raw-body's error types for a body over the limit (declared or counted). */
const TOO_LARGE = 'entity.too.large';

/**
 * The request body as the exact bytes that were signed, whatever its declared type, read once.
 * raw-body enforces the limit on the declared length before reading and on the bytes as they come,
 * and fails on a body cut short. Compressed bodies are refused (Flexprice never sends them, and a
 * signature is over the bytes as sent).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return { ok: false, code: 'unsupported_media_type' };
  }
  try {
    const raw = await getRawBody(req, { limit, length: req.headers['content-length'] });
    return { ok: true, raw };
  } catch (err) {
    const type = typeof err === 'object' && err !== null && 'type' in err ? err.type : undefined;
    return { ok: false, code: type === TOO_LARGE ? 'payload_too_large' : 'bad_request' };
  }
}
