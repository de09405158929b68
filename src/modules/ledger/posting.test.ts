import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DomainError } from '../../errors.js';
import { Decimal } from '../../money/index.js';
import { checkTransactionInput, type PostingInput } from './posting.js';

const customer = (id: string, amount: string): PostingInput => ({
  owner: { kind: 'customer', id },
  amount: new Decimal(amount),
  currency: 'USD',
});
const revenue = (amount: string, currency = 'USD'): PostingInput => ({
  owner: { kind: 'operator', code: 'revenue:calls' },
  amount: new Decimal(amount),
  currency,
});
const kindOf = (fn: () => void) => {
  try {
    fn();
    return 'accepted';
  } catch (error) {
    return error instanceof DomainError ? `${error.kind}:${error.param}` : 'crash';
  }
};

test('a transaction is refused unless its postings balance per currency', () => {
  const check = (postings: PostingInput[]) =>
    kindOf(() => checkTransactionInput({ category: 'call_charge', postings }));
  assert.equal(check([customer('cus_a', '-1.5'), revenue('1.5')]), 'accepted');
  assert.equal(check([customer('cus_a', '-1.5'), revenue('1.4')]), 'invalid:postings');
  assert.equal(check([customer('cus_a', '-1.5'), revenue('1.5', 'EUR')]), 'invalid:postings');
  assert.equal(check([customer('cus_a', '-1.5')]), 'invalid:postings');
  assert.equal(check([customer('cus_a', '0'), revenue('0')]), 'invalid:amount');
  assert.equal(check([customer('cus_a', '-0.000000001'), revenue('0.000000001')]), 'invalid:amount');
  assert.equal(check([customer('cus_a', '-1'), revenue('1', 'usd')]), 'invalid:currency');
  assert.equal(
    kindOf(() =>
      checkTransactionInput({ category: 'Call Charge', postings: [customer('cus_a', '-1'), revenue('1')] }),
    ),
    'invalid:category',
  );
});

test('property: any split of a total into postings with a balancing one is accepted, any nudge refused', () => {
  const amount = fc
    .tuple(
      fc.integer({ min: -10_000_000, max: 10_000_000 }).filter((n) => n !== 0),
      fc.integer({ min: 0, max: 8 }),
    )
    .map(([units, scale]) => new Decimal(units).dividedBy(new Decimal(10).pow(scale)));
  fc.assert(
    fc.property(fc.array(amount, { minLength: 1, maxLength: 20 }), (amounts) => {
      const total = amounts.reduce((sum, a) => sum.plus(a), new Decimal(0));
      fc.pre(!total.isZero());
      const postings = amounts.map((a, i) => customer(`cus_${i}`, a.toFixed()));
      const balanced = [...postings, revenue(total.negated().toFixed())];
      assert.equal(
        kindOf(() => checkTransactionInput({ category: 'transfer', postings: balanced })),
        'accepted',
      );
      const nudged = [...postings, revenue(total.negated().plus('0.00000001').toFixed())];
      const outcome = kindOf(() => checkTransactionInput({ category: 'transfer', postings: nudged }));
      assert.ok(outcome === 'invalid:postings' || outcome === 'invalid:amount', outcome);
    }),
  );
});
