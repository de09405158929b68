import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from 'typebox';
import { checkerOf } from './input-guard.js';

const Body = Type.Object({
  name: Type.String(),
  count: Type.Optional(Type.Integer()),
  limit: Type.Union([Type.Number(), Type.Null()]),
  lines: Type.Array(Type.Object({ labels: Type.Record(Type.String(), Type.String()) })),
  anything: Type.Unknown(),
});

test('the checker names the first string with a NUL or number that is not finite, by its path', () => {
  const check = checkerOf(Body)!;
  const good = { name: 'a', count: 1, limit: null, lines: [{ labels: { k: 'v' } }], anything: 'x\u0000' };
  assert.equal(check(good), undefined, 'a part declared as anything is not visited');
  assert.deepEqual(check({ ...good, name: 'a\u0000' }), {
    path: '/name',
    message: 'must not contain NUL characters (\\u0000)',
  });
  assert.equal(check({ ...good, count: Number.POSITIVE_INFINITY })?.path, '/count');
  assert.equal(check({ ...good, limit: Number.NEGATIVE_INFINITY })?.message, 'must be a finite number');
  const nested = { ...good, lines: [{ labels: { k: 'v' } }, { labels: { k: 'v', x: 'y\u0000' } }] };
  assert.equal(check(nested)?.path, '/lines/1/labels/x');
  const key = { ...good, lines: [{ labels: { 'k\u0000': 'v' } }] };
  assert.equal(check(key)?.path, '/lines/0/labels/k\u0000');
});

test('a schema without strings or numbers has no checker', () => {
  assert.equal(checkerOf(Type.Object({ flag: Type.Boolean(), anything: Type.Unknown() })), undefined);
  assert.equal(checkerOf(Type.Array(Type.Unknown())), undefined);
});
