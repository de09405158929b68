import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isId, newId, newIdSequence } from './ids.js';

test('an id sequence gives valid, strictly increasing, distinct ids, carrying across digits', () => {
  const next = newIdSequence('rate');
  let previous = next();
  assert.ok(isId('rate', previous), previous);
  const seen = new Set([previous]);
  // 40,000 steps carry the last base-32 digit over many times and the next ones a few times.
  for (let i = 0; i < 40_000; i++) {
    const id = next();
    assert.ok(id > previous, `${id} after ${previous}`);
    assert.equal(id.length, previous.length);
    seen.add(id);
    previous = id;
  }
  assert.equal(seen.size, 40_001);
  assert.ok(isId('rate', previous), previous);
});

test('two sequences and the shared factory do not collide', () => {
  const a = newIdSequence('rate');
  const b = newIdSequence('rate');
  const ids = new Set<string>();
  for (let i = 0; i < 1_000; i++) {
    ids.add(a());
    ids.add(b());
    ids.add(newId('rate'));
  }
  assert.equal(ids.size, 3_000);
});
