// The ceiling a plain Express user starts from: express.json() and a 202, no work at all.
import express from 'express';

const app = express();
app.use(express.json({ limit: '1mb' }));
app.post('/webhooks/flexprice', (_req, res) => {
  res.status(202).json({ status: 'queued' });
});
app.listen(Number(process.env.PORT), '127.0.0.1');
