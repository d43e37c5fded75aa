/**
 * Flexprice's API stand-in as a process, for a local demo of the API-backed mode:
 *
 *   pnpm flexprice-api-stand-in          # prints the FLEXPRICE_API_URL and FLEXPRICE_API_KEY to use
 *
 * It serves every family the worker reads (customers, subscriptions, invoices, payments, wallets,
 * credit notes, entitlements, features: see `flexprice-api.ts`). An entity it does not know is
 * created with its family's defaults when first asked for, by id or in a list's ids (so `pnpm
 * send-test-webhook` works against it). STAND_IN_PORT (4010) and FLEXPRICE_API_KEY (a demo key)
 * choose where and what.
 */
import { startFlexpriceApiStandIn } from '../flexprice-api.js';

const apiKey = process.env.FLEXPRICE_API_KEY ?? 'local-demo-api-key';
const api = await startFlexpriceApiStandIn({
  apiKey,
  port: Number(process.env.STAND_IN_PORT ?? 4010),
  environmentId: 'env_01K2ZQ0A1B2C3D4E5F6G7H8J9K',
  createUnknown: true,
});
process.stdout.write(`Flexprice API stand-in: FLEXPRICE_API_URL=${api.url} FLEXPRICE_API_KEY=${apiKey}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void api.close().then(() => process.exit(0)));
