import { registerDeletionGuard } from '../accounts/account-fields.js';
import { findOwnerAccount } from './accounts.js';

/**
 * An account with money history cannot be deleted (its postings would lose their owner and the
 * journal is append-only); it must be closed instead. Registered once, when the ledger loads.
 */
registerDeletionGuard(async (db, accountId) =>
  (await findOwnerAccount(db, accountId)) ? 'This account has money history in the ledger' : null,
);
