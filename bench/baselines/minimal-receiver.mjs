// The least our design can do: what the receiver must do per webhook, and nothing else. One Express
// route, the raw body, an OpenSSL HMAC, JSON.parse, the contracts' zod schema, one deduplicated
// BullMQ add on an auto-pipelined connection, a 202. No logs, metrics, request ids, deadlines or
// error catalog. The receiver adds to this what operating it needs; the bench shows what that costs.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { parseEventAs, resolveEventType } from '@flexprice/contracts';
import { Queue } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';

const key = Buffer.from(process.env.FLEXPRICE_WEBHOOK_SECRET.replace(/^whsec_/, ''), 'base64');
const connection = new Redis(process.env.REDIS_URL, { enableAutoPipelining: true, enableOfflineQueue: false });
await new Promise((resolve) => connection.once('ready', resolve));
const queue = new Queue('flexprice.customer', { connection, prefix: 'minimal' });
await queue.waitUntilReady();

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.post('/webhooks/flexprice', async (req, res) => {
  const raw = await readBody(req);
  const id = req.headers['svix-id'];
  const expected = createHmac('sha256', key).update(`${id}.${req.headers['svix-timestamp']}.`).update(raw).digest();
  const offered = Buffer.from(String(req.headers['svix-signature']).slice(3), 'base64');
  if (offered.length !== expected.length || !timingSafeEqual(offered, expected)) return res.writeHead(401).end();
  const body = JSON.parse(raw.toString('utf8'));
  const type = resolveEventType(body);
  const parsed = type.ok && type.known ? parseEventAs(type.eventType, body) : { ok: false };
  if (!parsed.ok) return res.writeHead(422).end();
  const job = await queue.add(
    type.eventType,
    { eventType: type.eventType, event: parsed.event },
    { jobId: randomUUID(), attempts: 10, removeOnComplete: 1000, deduplication: { id, ttl: 3_600_000 } },
  );
  res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'queued', id: job.id }));
});
app.listen(Number(process.env.PORT), '127.0.0.1');
