import type { Selectable } from 'kysely';
import { conflict, invalid, notFound } from '../../errors.js';
import { newId } from '../../ids.js';
import { formatAmount } from '../../money/index.js';
import { OPERATOR, type Principal } from '../../tenancy.js';
import { visibleCustomers } from '../accounts/customers.js';
import { currencyCode, paymentAmount } from './amounts.js';
import { type CustomerRef, resolveCustomer } from './customer-ref.js';
import { getProfile } from './profiles.js';
import {
  addDays,
  firstProcessingDate,
  INTERVALS,
  isCalendarDate,
  MAX_FAILURES,
  nextOccurrenceAfter,
  RETRY_DELAYS_DAYS,
  utcDate,
} from './schedule.js';
import type { RecurringInterval, RecurringPaymentsTable, RecurringStatus } from './schema.js';
import { type PaymentContext, startPayment } from './transactions.js';

/**
 * Recurring payments (seed 004): a schedule charging a stored payment profile every day, week,
 * month or year. The runner claims each due occurrence by compare-and-set on its next date, so
 * several server processes sharing one PostgreSQL never charge one occurrence twice.
 */
export type RecurringRow = Selectable<RecurringPaymentsTable>;

export interface RecurringInput extends CustomerRef {
  profile_id: string;
  amount: string | number;
  currency?: string;
  interval: string;
  start_date?: string;
  description?: string;
}

export async function registerRecurring(
  ctx: PaymentContext,
  principal: Principal,
  input: RecurringInput,
): Promise<RecurringRow> {
  const customer = await resolveCustomer(ctx.db, principal, input);
  const profile = await getProfile(ctx.db, customer.id, input.profile_id);
  if (!INTERVALS.includes(input.interval as RecurringInterval)) {
    throw invalid(`interval must be one of ${INTERVALS.join(', ')}`, 'interval');
  }
  const interval = input.interval as RecurringInterval;
  const currency = input.currency ? currencyCode(input.currency) : profile.currency;
  if (currency !== profile.currency)
    throw invalid(`Profile ${profile.id} pays in ${profile.currency}, not ${currency}`, 'currency');
  const amount = paymentAmount(input.amount, currency);
  const today = utcDate(ctx.now());
  const startDate = input.start_date ?? today;
  if (!isCalendarDate(startDate)) throw invalid('start_date must be a date, YYYY-MM-DD', 'start_date');
  if (startDate < today) throw invalid(`start_date ${startDate} is in the past`, 'start_date');
  return ctx.db
    .insertInto('recurring_payments')
    .values({
      id: newId('recurringPayment'),
      customer_id: customer.id,
      profile_id: profile.id,
      amount: formatAmount(amount),
      currency,
      interval,
      start_date: startDate,
      anchor_day: Number(startDate.slice(8)),
      next_date: firstProcessingDate(startDate, interval, today),
      description: input.description ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

async function getRecurring(ctx: PaymentContext, principal: Principal, id: string): Promise<RecurringRow> {
  const row = await ctx.db
    .selectFrom('recurring_payments')
    .selectAll()
    .where('id', '=', id)
    .where('status', '!=', 'removed')
    .where('customer_id', 'in', visibleCustomers(ctx.db, principal).clearSelect().select('id'))
    .executeTakeFirst();
  if (!row) throw notFound(`Recurring payment ${id}`);
  return row;
}

/** suspend: active → suspended; resume: suspended → active (the next date moves past today); remove: final. */
export async function changeRecurring(
  ctx: PaymentContext,
  principal: Principal,
  id: string,
  action: 'suspend' | 'resume' | 'remove',
): Promise<RecurringRow> {
  const row = await getRecurring(ctx, principal, id);
  const change: Partial<{ status: RecurringStatus; next_date: string; failure_count: number }> = {};
  if (action === 'suspend') {
    if (row.status !== 'active')
      throw conflict('Only an active recurring payment can be suspended', 'recurring_payment_id');
    change.status = 'suspended';
  } else if (action === 'resume') {
    if (row.status !== 'suspended')
      throw conflict('Only a suspended recurring payment can be resumed', 'recurring_payment_id');
    change.status = 'active';
    change.failure_count = 0;
    // Occurrences missed while suspended are skipped, not charged all at once on resume.
    const today = utcDate(ctx.now());
    change.next_date = row.next_date > today ? row.next_date : nextOccurrenceAfter(row, today);
  } else {
    change.status = 'removed';
  }
  return ctx.db
    .updateTable('recurring_payments')
    .set({ ...change, updated_at: new Date() })
    .where('id', '=', row.id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listRecurring(ctx: PaymentContext, principal: Principal, ref: CustomerRef) {
  const customer = await resolveCustomer(ctx.db, principal, ref);
  return ctx.db
    .selectFrom('recurring_payments')
    .selectAll()
    .where('customer_id', '=', customer.id)
    .where('status', '!=', 'removed')
    .orderBy('id')
    .limit(100)
    .execute();
}

/**
 * Claims one due occurrence: only the process whose update matches the old next date wins it.
 * The next date comes from the calendar: after a retry (off schedule) it is the first
 * occurrence after the retry's date; occurrences that fell during the retries are skipped.
 */
async function claim(ctx: PaymentContext, row: RecurringRow): Promise<boolean> {
  const claimed = await ctx.db
    .updateTable('recurring_payments')
    .set({
      next_date: nextOccurrenceAfter(row, row.next_date),
      last_run_at: ctx.now(),
      updated_at: new Date(),
    })
    .where('id', '=', row.id)
    .where('next_date', '=', row.next_date)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return claimed.numUpdatedRows === 1n;
}

async function recordFailure(ctx: PaymentContext, row: RecurringRow, message: string, today: string) {
  const failures = row.failure_count + 1;
  const suspend = failures >= MAX_FAILURES;
  await ctx.db
    .updateTable('recurring_payments')
    .set({
      failure_count: failures,
      last_error: message,
      ...(suspend
        ? { status: 'suspended' as const }
        : { next_date: addDays(today, RETRY_DELAYS_DAYS[failures - 1]!) }),
      updated_at: new Date(),
    })
    .where('id', '=', row.id)
    .execute();
}

export interface RunSummary {
  charged: number;
  failed: number;
  suspended: number;
}

/** A limit on everything: one run processes at most this many occurrences. */
export const RECURRING_BATCH_MAX = 500;

/**
 * Charges every active recurring payment due on or before `now`'s date. Each occurrence is
 * charged with an idempotency key naming it, so a retried run is one charge at the gateway.
 */
export async function runDueRecurringPayments(ctx: PaymentContext): Promise<RunSummary> {
  const today = utcDate(ctx.now());
  const due = await ctx.db
    .selectFrom('recurring_payments')
    .selectAll()
    .where('status', '=', 'active')
    .where('next_date', '<=', today)
    .orderBy('next_date')
    .limit(RECURRING_BATCH_MAX)
    .execute();
  const summary: RunSummary = { charged: 0, failed: 0, suspended: 0 };
  for (const row of due) {
    if (!(await claim(ctx, row))) continue;
    const outcome = await chargeOccurrence(ctx, row);
    if (outcome === null) {
      summary.charged++;
      await ctx.db
        .updateTable('recurring_payments')
        .set({ failure_count: 0, last_error: null })
        .where('id', '=', row.id)
        .execute();
      continue;
    }
    summary.failed++;
    if (row.failure_count + 1 >= MAX_FAILURES) summary.suspended++;
    await recordFailure(ctx, row, outcome, today);
  }
  return summary;
}

/** Charges one occurrence; null when it went through (or is pending), else why it did not. */
async function chargeOccurrence(ctx: PaymentContext, row: RecurringRow): Promise<string | null> {
  try {
    const profile = await getProfile(ctx.db, row.customer_id, row.profile_id);
    const transaction = await startPayment(ctx, OPERATOR, {
      customer_id: row.customer_id,
      kind: 'purchase',
      method: profile.kind,
      amount: row.amount,
      currency: row.currency,
      profile_id: row.profile_id,
      description: row.description ?? `recurring payment ${row.id}`,
      idempotencyKey: `recurring:${row.id}:${row.next_date}`,
    });
    if (transaction.status === 'failed' || transaction.status === 'error') {
      return `${transaction.error_code ?? transaction.status}: ${transaction.error_message ?? ''}`.trim();
    }
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
