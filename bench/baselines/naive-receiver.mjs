// The receiver a hurried team writes: express.json(), a zod schema, one queue.add per request.
// (It does less than ours: no signature, no dedupe, no raw-body auth, no metrics, no logs.)
import { Queue } from 'bullmq';
import express from 'express';
import { z } from 'zod';

const schema = z.object({
  event_type: z.string(),
  customer: z.object({ id: z.string().min(1), external_id: z.string().min(1), name: z.string().min(1) }).passthrough(),
});
const queue = new Queue('flexprice.customer', { connection: { url: process.env.REDIS_URL }, prefix: 'naive' });

const app = express();
app.use(express.json({ limit: '1mb' }));
app.post('/webhooks/flexprice', async (req, res) => {
  const parsed = schema.safeParse(req.body);
  if (!parsed.success) return res.status(422).json({ error: 'invalid' });
  try {
    const job = await queue.add(parsed.data.event_type, parsed.data, { attempts: 10, removeOnComplete: 1000 });
    res.status(202).json({ status: 'queued', id: job.id });
  } catch {
    res.status(503).json({ error: 'unavailable' });
  }
});
app.listen(Number(process.env.PORT), '127.0.0.1');
