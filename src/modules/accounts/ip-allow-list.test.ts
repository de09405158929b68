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

test('IPv4 is plain decimal dotted quads: ipaddr.js would read 010 as octal and 10/8 as 0.0.0.10/8', () => {
  for (const entry of [
    '192.168.010.001',
    '0127.0.0.1',
    '10/8',
    '0x7f.0.0.1',
    '10.0.0.0/08',
    '::ffff:010.0.0.1',
  ]) {
    assert.throws(() => normaliseAllowList([entry]), /allowed_ips\[0\].*(decimal|IPv6 is written)/, entry);
  }
  assert.deepEqual(normaliseAllowList(['0.0.0.0/0', '10.0.0.0/8', '::ffff:10.0.0.0/104']), [
    '0.0.0.0/0',
    '10.0.0.0/8',
    '10.0.0.0/8',
  ]);
});

test('an IPv4-mapped range needs a prefix of at least 96, and one already stored never throws', () => {
  for (const entry of ['::ffff:1.2.3.4/64', '::ffff:0:0/80', '::ffff:10.0.0.0/95', '::ffff:1.2.3.4/0']) {
    assert.throws(() => normaliseAllowList([entry]), /allowed_ips\[0\].*\/96/, entry);
  }
  // What the lenient check stored for ::ffff:1.2.3.4/64: it matches nothing, so the key fails closed.
  const allowed = allowListMatcher(['1.2.3.4/-32']);
  assert.ok(!allowed('1.2.3.4'));
  assert.ok(allowListMatcher(['1.2.3.4/-32', '192.0.2.7'])('192.0.2.7'));
});
