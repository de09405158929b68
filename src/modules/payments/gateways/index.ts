import { invalid } from '../../../errors.js';
import {
  credentialsOf,
  DEFAULT_GATEWAY_TIMEOUT_SECONDS,
  type GatewayRow,
  type SecretsKey,
} from '../gateway-configs.js';
import { monerisGateway } from './moneris.js';
import { stripeGateway } from './stripe.js';
import { testGateway } from './test-gateway.js';
import type { GatewayAdapter } from './types.js';

/** The gateway key recorded on transactions and naming the ledger clearing account. */
export const gatewayKey = (row: GatewayRow | null) => (row ? row.id : 'test');

export const timeoutMsOf = (row: GatewayRow) =>
  Number(row.settings.timeout_seconds ?? DEFAULT_GATEWAY_TIMEOUT_SECONDS) * 1000;

/** The adapter for a configuration; null means the built-in test gateway. */
export function adapterFor(row: GatewayRow | null, secrets: SecretsKey): GatewayAdapter {
  if (row === null || row.type === 'test') return testGateway;
  const credentials = credentialsOf(secrets, row);
  const common = { mode: row.mode, baseUrl: row.settings.base_url, timeoutMs: timeoutMsOf(row) };
  switch (row.type) {
    case 'stripe':
      return stripeGateway({ ...common, secretKey: credentials.secret_key! });
    case 'moneris':
      return monerisGateway({
        ...common,
        storeId: credentials.store_id!,
        apiToken: credentials.api_token!,
        country: row.settings.processing_country === 'US' ? 'US' : 'CA',
      });
    case 'paypal':
      // PayPal money arrives through its checkout (payments/paypal/capture) and IPN, never card routes.
      throw invalid(
        'A paypal gateway takes no card or bank payments; use payments/paypal/capture',
        'gateway_id',
      );
    default: {
      const unreachable: never = row.type;
      throw new Error(`unknown gateway type ${String(unreachable)}`);
    }
  }
}
