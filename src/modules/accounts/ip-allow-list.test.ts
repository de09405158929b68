import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from '../../errors.js';
import { allowListMatcher, normaliseAllowList } from './ip-allow-list.js';

test('an allow-list matches single addresses and CIDR ranges of both families', () => {
  const allowed = allowListMatcher(normaliseAllowList(['192.0.2.7', '10.0.0.0/8', '2001:db8::/32']));
  assert.ok(allowed('192.0.2.7'));
  assert.ok(allowed('10.200.3.4'));
  assert.ok(allowed('::ffff:10.1.1.1'), 'IPv4-mapped IPv6 matches its IPv4 range');
  assert.ok(allowed('2001:db8:1::5'));
  assert.ok(!allowed('192.0.2.8'));
  assert.ok(!allowed('11.0.0.1'));
  assert.ok(!allowed('2001:db9::1'));
  assert.ok(!allowed('not-an-ip'));
});

test('an empty allow-list allows everyone', () => {
  assert.ok(allowListMatcher([])('203.0.113.9'));
});

test('entries are validated and canonicalised', () => {
  assert.deepEqual(normaliseAllowList([' 10.0.0.0/8 ', '2001:DB8::1']), ['10.0.0.0/8', '2001:db8::1']);
  assert.throws(() => normaliseAllowList(['10.0.0.0/33']), DomainError);
  assert.throws(() => normaliseAllowList(['300.1.1.1']), DomainError);
  assert.throws(() => normaliseAllowList(['example.com']), DomainError);
});
