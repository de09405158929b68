import { registerDeletionGuard } from '../accounts/account-fields.js';

/**
 * A customer with CDRs cannot be deleted (its call history would lose its owner); it must be
 * closed instead. The database refuses it too (migration 0015, for a CDR stored meanwhile); this
 * answers the ordinary case with a clear 409 first. Registered once, when the CDR routes load.
 */
registerDeletionGuard(async (db, accountId) =>
  (await db.selectFrom('cdrs').select('id').where('customer_id', '=', accountId).limit(1).executeTakeFirst())
    ? 'This customer has CDRs'
    : null,
);
