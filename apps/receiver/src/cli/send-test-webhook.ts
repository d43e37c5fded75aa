/**
 * Sends one correctly authenticated `customer.created` to a running receiver, the way Flexprice
 * would: signed (Svix / Standard Webhooks) when FLEXPRICE_WEBHOOK_SECRET is set, else with the
 * static header. Reads the same variables as the receiver, from the environment, then the secret of
 * a running `pnpm start` session (LOCAL_SESSION_FILE, .local/session.env), then ./.env, then
 * ./.env.example (as `pnpm start` does; its placeholder is refused, here as by the receiver).
 *
 *   node apps/receiver/dist/cli/send-test-webhook.js [--url http://127.0.0.1:3000] [--legacy] [--curl]
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { currentCustomer, customerEvent, legacyCustomer } from '@flexprice/contracts/fixtures';
import { isExampleSecret } from '@flexprice/runtime';
import { Webhook } from 'standardwebhooks';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    legacy: { type: 'boolean', default: false },
    curl: { type: 'boolean', default: false },
  },
});

const env = process.env;
const AUTH_VARIABLES = ['FLEXPRICE_WEBHOOK_SECRET', 'FLEXPRICE_WEBHOOK_AUTH_HEADER', 'FLEXPRICE_WEBHOOK_AUTH'];
if (!AUTH_VARIABLES.some((name) => env[name])) {
  // A running `pnpm start` session's secret first (its receiver checks that one); the rest (PORT)
  // from .env or .env.example, which never override what is set.
  const session = env.LOCAL_SESSION_FILE ?? '.local/session.env';
  if (existsSync(session)) process.loadEnvFile(session);
  const file = ['.env', '.env.example'].find((name) => existsSync(name));
  if (file) process.loadEnvFile(file);
}
const url = values.url ?? `http://127.0.0.1:${env.PORT ?? '3000'}/webhooks/flexprice`;
const suffix = randomBytes(8).toString('hex');
const customer = values.legacy
  ? legacyCustomer({ id: `cust_test_${suffix}`, external_id: `test-${suffix}` })
  : currentCustomer({ id: `cust_test_${suffix}`, external_id: `test-${suffix}` });
const body = JSON.stringify(customerEvent('customer.created', customer));

const headers: Record<string, string> = { 'content-type': 'application/json' };
const secret = env.FLEXPRICE_WEBHOOK_SECRET?.split(/[\s,]+/).find((s) => s.length > 0);
if (secret && isExampleSecret(secret)) {
  process.stderr.write(
    'FLEXPRICE_WEBHOOK_SECRET is a public placeholder, which the receiver refuses: start it with `pnpm start` ' +
      "(it makes a secret for its session, which this command then uses) or set the receiver's own secret.\n",
  );
  process.exit(2);
}
if (secret) {
  const id = `msg_test_${suffix}`;
  const now = new Date();
  headers['svix-id'] = id;
  headers['svix-timestamp'] = String(Math.floor(now.getTime() / 1000));
  headers['svix-signature'] = new Webhook(secret).sign(id, now, body);
} else if (env.FLEXPRICE_WEBHOOK_AUTH_HEADER && env.FLEXPRICE_WEBHOOK_AUTH_TOKEN) {
  headers[env.FLEXPRICE_WEBHOOK_AUTH_HEADER] = env.FLEXPRICE_WEBHOOK_AUTH_TOKEN;
} else if (env.FLEXPRICE_WEBHOOK_AUTH !== 'none') {
  process.stderr.write(
    'Set FLEXPRICE_WEBHOOK_SECRET (or FLEXPRICE_WEBHOOK_AUTH_HEADER and _TOKEN) as for the receiver.\n',
  );
  process.exit(2);
}

if (values.curl) {
  const quote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
  const flags = Object.entries(headers).map(([name, value]) => `-H ${quote(`${name}: ${value}`)}`);
  process.stdout.write(`curl -i ${quote(url)} ${flags.join(' ')} --data-raw ${quote(body)}\n`);
} else {
  try {
    const res = await fetch(url, { method: 'POST', headers, body });
    process.stdout.write(`customer.created ${customer.id} (external id ${customer.external_id})\n`);
    process.stdout.write(`${res.status} ${await res.text()}\n`);
    process.exit(res.ok ? 0 : 1);
  } catch (error) {
    process.stderr.write(`could not reach ${url}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
