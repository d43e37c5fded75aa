// The worker a hurried team writes: one HSET per job, BullMQ's defaults but for its concurrency,
// which is ours (WORKER_CONCURRENCY, 32 by default): the comparison is of the code, not of how many
// jobs run at once.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

// Exit on SIGTERM (instead of dying by it), so that `node --cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));

const redis = new Redis(process.env.REDIS_URL);
new Worker(
  'flexprice.customer',
  async (job) => {
    const { customer } = job.data.event ?? job.data;
    await redis.hset(`naive:customer:${customer.id}`, 'data', JSON.stringify(customer), 'event', job.name);
  },
  {
    connection: { url: process.env.REDIS_URL, maxRetriesPerRequest: null },
    prefix: process.env.QUEUE_PREFIX ?? 'bull',
    concurrency: Number(process.env.WORKER_CONCURRENCY ?? 32),
  },
);
