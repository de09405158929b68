import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DomainError } from '../src/errors.js';
import { createCustomer } from '../src/modules/accounts/customers.js';
import { createPartner } from '../src/modules/accounts/partners.js';
import type { AccountOwner } from '../src/modules/ledger/accounts.js';
import { postTransaction, type TransactionInput } from '../src/modules/ledger/posting.js';
import { PAYMENT_CATEGORIES, statementOf } from '../src/modules/ledger/statements.js';
import { verifyLedger } from '../src/modules/ledger/verify.js';
import { Decimal } from '../src/money/index.js';
import { OPERATOR } from '../src/tenancy.js';
import type { TestApp } from './helpers/app.js';
import { withVerifiedLedgerApp } from './ledger-fixtures.js';

/**
 * The ledger's invariants under random sequences of money movements (issue 3), checked against
 * a plain in-memory model after every run:
 *   1. postings sum to zero per currency, 2. balances equal the sum of their postings,
 *   3. no balance below its limit except by explicit overdraft, 4. a repeated reference key
 *   never posts twice, 5. the statement identity holds for random periods.
 * 1–3 are also proven over the whole database by verifyLedger.
 */
let t: TestApp;
withVerifiedLedgerApp((app) => {
  t = app;
});

const WINDOW_START = Date.UTC(2025, 0, 1);
const DAY_MS = 86_400_000;

type Op =
  | { kind: 'transfer'; customer: 0 | 1; amount: Decimal; day: number }
  | { kind: 'charge'; customer: 0 | 1; amount: Decimal; overdraft: boolean; day: number }
  | { kind: 'payment'; who: 0 | 1 | 'partner'; amount: Decimal; day: number }
  | { kind: 'adjustment'; who: 0 | 1 | 'partner'; amount: Decimal; day: number }
  | { kind: 'repost'; of: number };

/** Exact amounts of 0 to 8 decimals, never zero. */
const positiveAmount = fc
  .tuple(fc.integer({ min: 1, max: 5_000_000 }), fc.integer({ min: 0, max: 8 }))
  .map(([units, scale]) => new Decimal(units).dividedBy(new Decimal(10).pow(scale)));
const signedAmount = fc
  .tuple(positiveAmount, fc.boolean())
  .map(([a, negative]) => (negative ? a.negated() : a));
const day = fc.integer({ min: 0, max: 29 });
const customerIndex = fc.constantFrom<0 | 1>(0, 1);
const anyOwner = fc.constantFrom<0 | 1 | 'partner'>(0, 1, 'partner');

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('transfer' as const), customer: customerIndex, amount: signedAmount, day }),
  fc.record({
    kind: fc.constant('charge' as const),
    customer: customerIndex,
    amount: positiveAmount,
    overdraft: fc.boolean(),
    day,
  }),
  fc.record({ kind: fc.constant('payment' as const), who: anyOwner, amount: positiveAmount, day }),
  fc.record({ kind: fc.constant('adjustment' as const), who: anyOwner, amount: signedAmount, day }),
  fc.record({ kind: fc.constant('repost' as const), of: fc.nat(40) }),
);

const limitArbitrary = fc.constantFrom('0', '-10', '-55', '-1000.5');

interface ModelPosting {
  amount: Decimal;
  at: number;
  category: string;
}

interface Owner {
  id: string;
  kind: 'customer' | 'partner';
  limit: Decimal;
  postings: ModelPosting[];
}

const balanceOf = (owner: Owner, before = Number.POSITIVE_INFINITY) =>
  owner.postings.filter((p) => p.at < before).reduce((sum, p) => sum.plus(p.amount), new Decimal(0));

/** The transaction an op posts: the owner postings first, as the API's operations do. */
function transactionOf(op: Exclude<Op, { kind: 'repost' }>, owners: Owner[], key: string): TransactionInput {
  const ref = (owner: Owner): AccountOwner => ({ kind: owner.kind, id: owner.id });
  const partner = owners[2]!;
  const target = (who: 0 | 1 | 'partner') => (who === 'partner' ? partner : owners[who]!);
  const base = {
    referenceKey: key,
    effectiveAt: new Date(WINDOW_START + op.day * DAY_MS + 1000),
    description: op.kind,
  };
  const pair = (owner: Owner, amount: Decimal, other: AccountOwner) => [
    { owner: ref(owner), amount, currency: 'EUR' },
    { owner: other, amount: amount.negated(), currency: 'EUR' },
  ];
  switch (op.kind) {
    case 'transfer':
      return {
        ...base,
        category: 'transfer',
        postings: pair(partner, op.amount.negated(), ref(owners[op.customer]!)),
      };
    case 'charge':
      return {
        ...base,
        category: op.overdraft ? 'call_charge' : 'other_charge',
        allowOverdraft: op.overdraft,
        postings: pair(owners[op.customer]!, op.amount.negated(), {
          kind: 'operator',
          code: 'revenue:other',
        }),
      };
    case 'payment':
      return {
        ...base,
        category: 'payment',
        postings: pair(target(op.who), op.amount, { kind: 'operator', code: 'clearing:test' }),
      };
    case 'adjustment':
      return {
        ...base,
        category: 'adjustment',
        postings: pair(target(op.who), op.amount.negated(), { kind: 'operator', code: 'adjustments' }),
      };
  }
}

/** What the model expects: refused (a debit below a limit without overdraft) or these new balances. */
function expectedOutcome(input: TransactionInput, owners: Owner[]): 'refused' | 'posted' {
  for (const posting of input.postings) {
    const owner = owners.find(
      (o) => posting.owner?.kind !== 'operator' && o.id === (posting.owner as { id: string }).id,
    );
    if (!owner || !posting.amount.isNegative() || input.allowOverdraft) continue;
    if (balanceOf(owner).plus(posting.amount).lessThan(owner.limit)) return 'refused';
  }
  return 'posted';
}

async function makeOwners(limits: string[]): Promise<Owner[]> {
  const db = t.handle.db;
  const partner = await createPartner(db, { name: 'P', currency: 'EUR', credit_limit: limits[2] });
  const customers = await Promise.all(
    [0, 1].map((i) =>
      createCustomer(db, OPERATOR, { name: `C${i}`, partner_id: partner.id, credit_limit: limits[i] }),
    ),
  );
  return [...customers, partner].map((row, i) => ({
    id: row.id,
    kind: i === 2 ? 'partner' : 'customer',
    limit: new Decimal(limits[i]!),
    postings: [],
  }));
}

let run = 0;

test('random money movements keep every ledger invariant', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(limitArbitrary, { minLength: 3, maxLength: 3 }),
      fc.array(opArbitrary, { minLength: 1, maxLength: 25 }),
      fc.tuple(day, day),
      async (limits, ops, [d1, d2]) => {
        run++;
        const owners = await makeOwners(limits);
        const posted: { input: TransactionInput; id: string }[] = [];
        for (const [index, op] of ops.entries()) {
          if (op.kind === 'repost') {
            const earlier = posted[op.of % Math.max(posted.length, 1)];
            if (!earlier) continue;
            // Invariant 4: the same key again returns the first transaction and moves nothing;
            // under it, another movement is refused (the key names the first one for good).
            const again = await postTransaction(t.handle.db, earlier.input);
            assert.equal(again.id, earlier.id);
            assert.equal(again.replayed, true);
            await assert.rejects(
              postTransaction(t.handle.db, {
                category: 'reused_key',
                referenceKey: earlier.input.referenceKey,
                postings: [
                  { owner: { kind: 'customer', id: owners[0]!.id }, amount: new Decimal(1), currency: 'EUR' },
                  {
                    owner: { kind: 'operator', code: 'clearing:test' },
                    amount: new Decimal(-1),
                    currency: 'EUR',
                  },
                ],
              }),
              (error: unknown) => error instanceof DomainError && error.kind === 'reference_reused',
            );
            continue;
          }
          const key = `prop-${run}-${index}`;
          const input = transactionOf(op, owners, key);
          const expected = expectedOutcome(input, owners);
          try {
            const result = await postTransaction(t.handle.db, input);
            assert.equal(expected, 'posted', `${op.kind} should have been refused`);
            posted.push({ input, id: result.id });
            for (const p of input.postings) {
              const owner = owners.find(
                (o) => p.owner?.kind !== 'operator' && o.id === (p.owner as { id: string }).id,
              );
              owner?.postings.push({
                amount: p.amount,
                at: input.effectiveAt!.getTime(),
                category: input.category,
              });
            }
          } catch (error) {
            if (!(error instanceof DomainError && error.kind === 'insufficient_funds')) throw error;
            assert.equal(expected, 'refused', `${op.kind} refused unexpectedly: ${error.message}`);
          }
        }
        // Invariants 2 and 3 against the model: stored balances, and limits without overdraft.
        const stored = await t.handle.db
          .selectFrom('ledger_accounts')
          .select(['owner_id', 'balance'])
          .where(
            'owner_id',
            'in',
            owners.map((o) => o.id),
          )
          .execute();
        for (const owner of owners) {
          const row = stored.find((r) => r.owner_id === owner.id);
          assert.equal(new Decimal(row?.balance ?? 0).toFixed(), balanceOf(owner).toFixed());
        }
        // Invariant 5: the statement identity, for a random period.
        const from = WINDOW_START + Math.min(d1, d2) * DAY_MS;
        const to = WINDOW_START + (Math.max(d1, d2) + 1) * DAY_MS;
        for (const owner of owners) {
          const s = await statementOf(t.handle.db, owner.id, { from: new Date(from), to: new Date(to) });
          assert.equal(s.openingBalance.toFixed(), balanceOf(owner, from).toFixed());
          assert.equal(s.closingBalance.toFixed(), balanceOf(owner, to).toFixed());
          assert.equal(
            s.totalCharges.toFixed(),
            s.callCharges.plus(s.otherCharges).plus(s.adjustments).toFixed(),
          );
          assert.equal(
            s.closingBalance.toFixed(),
            s.openingBalance.plus(s.payments).minus(s.totalCharges).toFixed(),
          );
          const payments = owner.postings
            .filter(
              (p) =>
                p.at >= from && p.at < to && (PAYMENT_CATEGORIES as readonly string[]).includes(p.category),
            )
            .reduce((sum, p) => sum.plus(p.amount), new Decimal(0));
          assert.equal(s.payments.toFixed(), payments.toFixed());
        }
      },
    ),
    { numRuns: Number(process.env.LEDGER_PROPERTY_RUNS ?? 30) },
  );
  // Invariants 1–3 over everything the runs posted.
  assert.deepEqual((await verifyLedger(t.handle.db)).problems, []);
});
