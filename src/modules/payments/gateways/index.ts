import { invalid } from '../../../errors.js';
import type { GatewayRow, SecretsKey } from '../gateway-configs.js';
import { testGateway } from './test-gateway.js';
import type { GatewayAdapter } from './types.js';

/** The gateway key recorded on transactions and naming the ledger clearing account. */
export const gatewayKey = (row: GatewayRow | null) => (row ? row.id : 'test');

/** The adapter for a configuration; null means the built-in test gateway. */
export function adapterFor(row: GatewayRow | null, _secrets: SecretsKey): GatewayAdapter {
  if (row === null || row.type === 'test') return testGateway;
  throw invalid(`Gateway type '${row.type}' is not available in this build`, 'gateway_id');
}
