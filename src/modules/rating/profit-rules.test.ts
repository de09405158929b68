import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Decimal } from '../../money/index.js';
import { ProfitRules } from './profit-rules.js';
import { toUnits } from './units.js';

const d = (text: string) => new Decimal(text);
const rule = (percentage: string, absolute: string, minMargin: string) => ({
  percentage: d(percentage),
  absolute: d(absolute),
  minMargin: d(minMargin),
});

test('worked examples: markup, absolute, rounding, minimum margin', () => {
  const rules = new ProfitRules(rule('10', '0.001', '0.002'), 4, 'up');
  const price = (cost: string) => rules.price(d(cost), rules.ruleFor('44')).toFixed();
  assert.equal(price('0.01'), '0.012'); // 0.011 + 0.001
  assert.equal(price('0.012'), '0.0142'); // 0.0132 + 0.001
  assert.equal(price('0.01234'), '0.0146'); // 0.013574 + 0.001 = 0.014574, up to 4 places
  assert.equal(price('0.0001'), '0.0021'); // 0.00111 marked up, but cost + min margin is 0.0021
  assert.equal(price('0'), '0.002');
});

test('rounding down never takes the price under cost: the floor rounds up', () => {
  const rules = new ProfitRules(rule('0', '0', '0'), 2, 'down');
  assert.equal(rules.price(d('0.0123'), rules.ruleFor('1')).toFixed(), '0.02');
  assert.equal(rules.price(d('0.01'), rules.ruleFor('1')).toFixed(), '0.01');
});

test('the longest override prefix wins; unnamed fields come from the card', () => {
  const rules = new ProfitRules(rule('10', '0', '0.005'), 4, 'half_up', [
    { prefix: '44', percentage: d('20') },
    { prefix: '447', percentage: d('50'), minMargin: d('0') },
  ]);
  assert.equal(rules.ruleFor('4479').percentage.toFixed(), '50');
  assert.equal(rules.ruleFor('4479').minMargin.toFixed(), '0');
  assert.equal(rules.ruleFor('442').percentage.toFixed(), '20');
  assert.equal(rules.ruleFor('442').minMargin.toFixed(), '0.005');
  assert.equal(rules.ruleFor('4').percentage.toFixed(), '10');
  assert.equal(rules.ruleFor('33').percentage.toFixed(), '10');
});

test('property: price ≥ cost + min margin for any cost, rule, rounding', () => {
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const modes = ['half_up', 'half_even', 'up', 'down'] as const;
  for (let i = 0; i < 2000; i++) {
    const decimals = Math.floor(next() * 9);
    const minMargin = (next() * 0.01).toFixed(Math.floor(next() * 9));
    const rules = new ProfitRules(
      rule((next() * 50).toFixed(2), (next() * 0.01).toFixed(5), minMargin),
      decimals,
      modes[i % 4]!,
    );
    const cost = (next() * 2).toFixed(8);
    const units = rules.priceUnits(toUnits(cost)!, '1');
    assert.ok(units !== null);
    const price = new Decimal(units).div(1e8);
    assert.ok(
      price.gte(d(cost).plus(minMargin)),
      `${cost} → ${price} (margin ${minMargin}, ${decimals} ${modes[i % 4]})`,
    );
    assert.ok(price.decimalPlaces() <= decimals);
  }
});

test('a price that does not fit a rate column is null, not a wrong number', () => {
  const rules = new ProfitRules(rule('100', '0', '0'), 4, 'up');
  assert.equal(rules.priceUnits(toUnits('9999999')!, '1'), null);
});
