import { registerDeletionGuard } from '../accounts/account-fields.js';

/**
 * The payments tables that name a customer, each by a foreign key without cascade (migration
 * 0005). A profile stays after it is removed (status `removed`), as payments and recurring
 * payments refer to it.
 */
const CUSTOMER_TABLES = [
  'payment_profiles',
  'payments',
  'payment_transactions',
  'recurring_payments',
] as const;

/**
 * A customer with payment profiles or payments, even removed ones, cannot be deleted (its
 * payment history would lose its owner, and the database refuses it); it must be closed instead.
 * Registered once, when the payment routes load.
 */
registerDeletionGuard(async (db, accountId) => {
  for (const table of CUSTOMER_TABLES) {
    const row = await db
      .selectFrom(table)
      .select('id')
      .where('customer_id', '=', accountId)
      .limit(1)
      .executeTakeFirst();
    if (row) return 'This customer has payment profiles or payments';
  }
  return null;
});
