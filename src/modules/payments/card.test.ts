import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { cardBrand, checkCard, isExpired, luhnValid } from './card.js';
import { seal, unseal } from './secrets.js';

const NOW = new Date('2026-05-15T12:00:00Z');
const card = (overrides: Partial<Parameters<typeof checkCard>[0]> = {}) => ({
  number: '4242 4242 4242 4242',
  expMonth: 12,
  expYear: 2030,
  cvv: '123',
  holderName: 'Ada Lovelace',
  ...overrides,
});

test('Luhn: the test cards pass, a one-digit change fails', () => {
  for (const number of ['4242424242424242', '4000000000000002', '5555555555554444', '378282246310005']) {
    assert.ok(luhnValid(number), number);
  }
  assert.ok(!luhnValid('4242424242424241'));
  assert.ok(!luhnValid('42424242'));
  assert.ok(!luhnValid('4242a24242424242'));
});

test('brands from the leading digits', () => {
  assert.equal(cardBrand('4242424242424242'), 'visa');
  assert.equal(cardBrand('5555555555554444'), 'mastercard');
  assert.equal(cardBrand('2223003122003222'), 'mastercard');
  assert.equal(cardBrand('378282246310005'), 'amex');
  assert.equal(cardBrand('6011111111111117'), 'discover');
});

test('a card is good through the last day of its expiry month', () => {
  assert.ok(!isExpired(5, 2026, NOW));
  assert.ok(isExpired(4, 2026, NOW));
  assert.ok(isExpired(12, 2025, NOW));
});

test('checkCard names the field at fault', () => {
  assert.equal(checkCard(card(), NOW), '4242424242424242');
  const param = (c: ReturnType<typeof card>) => {
    try {
      checkCard(c, NOW);
      return 'passed';
    } catch (error) {
      return (error as { param?: string }).param;
    }
  };
  assert.equal(param(card({ number: '4242424242424241' })), 'card_number');
  assert.equal(param(card({ number: '000000000000' })), 'card_number', 'zeros pass Luhn, yet are no card');
  assert.equal(param(card({ number: '0000 0000 0000 0000' })), 'card_number');
  assert.equal(param(card({ expMonth: 13 })), 'exp_month');
  assert.equal(param(card({ expMonth: 1, expYear: 2026 })), 'exp_year');
  assert.equal(param(card({ cvv: '12' })), 'cvv');
  assert.equal(param(card({ number: '378282246310005', cvv: '123' })), 'cvv');
  assert.equal(param(card({ number: '378282246310005', cvv: '1234' })), 'passed');
  assert.equal(param(card({ holderName: ' ' })), 'cardholder_name');
});

test('sealed secrets open with their key only, and tampering is detected', () => {
  const key = randomBytes(32);
  const sealed = seal(key, '{"secret_key":"sk_test_123"}');
  assert.ok(!sealed.includes('sk_test_123'));
  assert.equal(unseal(key, sealed), '{"secret_key":"sk_test_123"}');
  assert.throws(() => unseal(randomBytes(32), sealed));
  const parts = sealed.split('.');
  parts[3] = Buffer.from('tampered').toString('base64url');
  assert.throws(() => unseal(key, parts.join('.')));
});
