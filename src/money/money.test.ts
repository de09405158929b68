import assert from 'node:assert/strict';
import { test } from 'node:test';
import { currencyMinorUnits, formatAmount, isCurrencyCode, parseAmount, roundTo } from './index.js';

test('amounts parse exactly and print canonically', () => {
  assert.equal(formatAmount(parseAmount('245.71293')), '245.71293');
  assert.equal(formatAmount(parseAmount('-55.000')), '-55');
  assert.equal(formatAmount(parseAmount('0.1').plus(parseAmount('0.2'))), '0.3');
  assert.equal(formatAmount(parseAmount('-0')), '0');
});

test('amounts that would need rounding or are not decimals are refused', () => {
  assert.throws(() => parseAmount('1.123456789'), /more than 8 decimal places/);
  assert.throws(() => parseAmount('1e5'), /not a decimal/);
  assert.throws(() => parseAmount('abc'), /not a decimal/);
  assert.throws(() => parseAmount('123456789012345678901'), /too large/);
});

test('named rounding modes round as their names say', () => {
  const value = parseAmount('2.345');
  assert.equal(formatAmount(roundTo(value, 2, 'half_up')), '2.35');
  assert.equal(formatAmount(roundTo(value, 2, 'half_even')), '2.34');
  assert.equal(formatAmount(roundTo(parseAmount('2.341'), 2, 'up')), '2.35');
  assert.equal(formatAmount(roundTo(parseAmount('2.349'), 2, 'down')), '2.34');
  assert.equal(formatAmount(roundTo(parseAmount('-2.341'), 2, 'up')), '-2.35');
});

test('currency codes come from ISO 4217', () => {
  assert.ok(isCurrencyCode('USD'));
  assert.ok(isCurrencyCode('EUR'));
  assert.ok(!isCurrencyCode('usd'));
  assert.ok(!isCurrencyCode('XYZ'));
  assert.equal(currencyMinorUnits('JPY'), 0);
  assert.equal(currencyMinorUnits('USD'), 2);
});
