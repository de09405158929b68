import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NO_MATCH, PrefixIndexBuilder, type RateVersionInput } from './prefix-index.js';
import { fromUnits, toUnits } from './units.js';

const DAY = 86_400_000;

function version(prefix: string, fromDay: number, toDay: number | null, rateUnits = 1): RateVersionInput {
  return {
    prefix,
    destination: `dest ${prefix}`,
    rateUnits,
    connectionFeeUnits: 0,
    initialIncrementSeconds: 1,
    incrementSeconds: 1,
    effectiveFromMs: fromDay * DAY,
    effectiveToMs: toDay === null ? Number.POSITIVE_INFINITY : toDay * DAY,
    blocked: false,
  };
}

function build(versions: RateVersionInput[]) {
  const builder = new PrefixIndexBuilder();
  for (const v of versions) builder.add(v);
  return builder.build();
}

/** The obvious definition: among versions in force at t whose prefix starts the number, the longest prefix, newest version. */
function referenceMatch(versions: RateVersionInput[], number: string, atMs: number): RateVersionInput | null {
  let best: RateVersionInput | null = null;
  for (const v of versions) {
    if (!number.startsWith(v.prefix) || v.effectiveFromMs > atMs || atMs >= v.effectiveToMs) continue;
    if (
      !best ||
      v.prefix.length > best.prefix.length ||
      (v.prefix === best.prefix && v.effectiveFromMs > best.effectiveFromMs)
    )
      best = v;
  }
  return best;
}

test('longest prefix wins, and a shorter prefix answers when the longer one is not in force', () => {
  const index = build([
    version('44', 0, null, 10),
    version('447', 0, null, 20),
    version('4479', 5, 10, 30),
    version('1', 0, null, 40),
  ]);
  const rateAt = (number: string, day: number) => {
    const v = index.match(number, day * DAY);
    return v === NO_MATCH ? null : index.rateUnitsOf(v);
  };
  assert.equal(rateAt('447911123456', 6), 30);
  assert.equal(rateAt('447911123456', 1), 20, 'before 4479 starts');
  assert.equal(rateAt('447911123456', 10), 20, 'effective_to is exclusive');
  assert.equal(rateAt('442071234567', 1), 10);
  assert.equal(rateAt('4', 1), null, 'a number shorter than every prefix');
  assert.equal(rateAt('33123', 1), null);
  assert.equal(rateAt('12125550100', 1), 40);
  assert.equal(index.prefixOf(index.match('447911123456', 6 * DAY)), '4479');
});

test('the newest version in force wins; a later version replaces an open one', () => {
  const index = build([version('44', 0, null, 10), version('44', 20, null, 11), version('44', 30, 40, 12)]);
  const rateAt = (day: number) => index.rateUnitsOf(index.match('44123', day * DAY));
  assert.equal(rateAt(19), 10);
  assert.equal(rateAt(20), 11);
  assert.equal(rateAt(35), 12);
  assert.equal(rateAt(40), 11);
});

test('an empty card matches nothing', () => {
  assert.equal(build([]).match('4412345', 0), NO_MATCH);
});

test('property: the index agrees with a brute-force matcher on random decks with effective dates', () => {
  const digit = fc.constantFrom('1', '2', '3', '4');
  const prefix = fc.array(digit, { minLength: 1, maxLength: 6 }).map((d) => d.join(''));
  const span = fc.tuple(
    fc.integer({ min: 0, max: 20 }),
    fc.option(fc.integer({ min: 1, max: 20 }), { nil: null }),
  );
  const deck = fc.uniqueArray(
    fc
      .tuple(prefix, span, fc.integer({ min: 0, max: 1000 }))
      .map(([p, [from, length], rate]) => version(p, from, length === null ? null : from + length, rate)),
    { maxLength: 120, selector: (v) => `${v.prefix}@${v.effectiveFromMs}` },
  );
  const query = fc.tuple(
    fc.array(digit, { minLength: 0, maxLength: 9 }).map((d) => d.join('')),
    fc.integer({ min: 0, max: 45 }),
  );
  fc.assert(
    fc.property(deck, fc.array(query, { minLength: 1, maxLength: 30 }), (versions, queries) => {
      const index = build([...versions].reverse());
      for (const [number, day] of queries) {
        const expected = referenceMatch(versions, number, day * DAY);
        const got = index.match(number, day * DAY);
        if (!expected) {
          assert.equal(got, NO_MATCH, `${number} at day ${day}`);
          continue;
        }
        assert.notEqual(got, NO_MATCH, `${number} at day ${day}`);
        const answer = index.version(got);
        assert.equal(answer.prefix, expected.prefix);
        assert.equal(answer.effectiveFrom.getTime(), expected.effectiveFromMs);
        assert.equal(index.rateUnitsOf(got), expected.rateUnits);
      }
    }),
    { numRuns: 300 },
  );
});

test('property: the hash lookup agrees with the brute-force matcher on long prefixes, leading zeros and non-digits', () => {
  const digit = fc.constantFrom('0', '1', '9');
  const prefix = fc.array(digit, { minLength: 1, maxLength: 16 }).map((d) => d.join(''));
  const deck = fc.uniqueArray(
    fc
      .tuple(prefix, fc.integer({ min: 0, max: 3 }))
      .map(([p, from]) => version(p, from * 10, null, p.length)),
    { maxLength: 200, selector: (v) => `${v.prefix}@${v.effectiveFromMs}` },
  );
  const number = fc
    .array(fc.constantFrom('0', '1', '9', '0', '1', '9', 'a', '+'), { minLength: 0, maxLength: 20 })
    .map((d) => d.join(''));
  fc.assert(
    fc.property(
      deck,
      fc.array(fc.tuple(number, fc.integer({ min: 0, max: 40 })), { maxLength: 30 }),
      (versions, queries) => {
        const index = build(versions);
        // Numbers that start with a prefix of the deck, so most queries match something.
        const extended = versions.map((v, i) => [`${v.prefix}${i % 10}90`, i] as const);
        for (const [text, day] of [...queries, ...extended]) {
          const expected = referenceMatch(versions, text, day * DAY);
          const got = index.match(text, day * DAY);
          if (!expected) assert.equal(got, NO_MATCH, `${text} at day ${day}`);
          else {
            assert.notEqual(got, NO_MATCH, `${text} at day ${day}`);
            assert.equal(index.prefixOf(got), expected.prefix);
            assert.equal(index.version(got).effectiveFrom.getTime(), expected.effectiveFromMs);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a card sorts the same whatever order its rows arrive in (sort keys, ties on 9 digits and versions)', () => {
  const prefixes = [
    '1',
    '10',
    '100',
    '1000000000',
    '100000000',
    '10000000001',
    '09',
    '0',
    '99999999999',
    '2',
    '123456789012',
  ];
  const versions = prefixes.flatMap((p, i) => [version(p, i, null, i), version(p, i + 50, null, i + 100)]);
  const sorted = build(versions);
  const shuffled = build(
    [...versions].sort((a, b) => ((a.rateUnits * 7919) % 23) - ((b.rateUnits * 7919) % 23)),
  );
  const listing = (index: ReturnType<typeof build>) =>
    Array.from(
      { length: index.versionCount },
      (_, v) => `${index.prefixOf(v)}@${index.version(v).effectiveFrom.getTime()}`,
    );
  assert.deepEqual(listing(shuffled), listing(sorted));
  const expected = [...versions]
    .sort((a, b) =>
      a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : a.effectiveFromMs - b.effectiveFromMs,
    )
    .map((v) => `${v.prefix}@${v.effectiveFromMs}`);
  assert.deepEqual(listing(shuffled), expected);
});

test('units hold numeric(15,8) values exactly', () => {
  assert.equal(toUnits('0.0123'), 1_230_000);
  assert.equal(fromUnits(toUnits('0.0123')!), '0.0123');
  assert.equal(fromUnits(toUnits('9999999.99999999')!), '9999999.99999999');
  assert.equal(fromUnits(toUnits('5')!), '5');
  assert.equal(toUnits('10000000'), null);
  assert.equal(toUnits('-1'), null);
  assert.equal(toUnits('0.123456789'), null);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 9_999_999 }),
      fc.integer({ min: 0, max: 99_999_999 }),
      (whole, frac) => {
        const text = `${whole}.${String(frac).padStart(8, '0')}`;
        assert.equal(toUnits(fromUnits(toUnits(text)!)), toUnits(text));
      },
    ),
  );
});

test('a big card (65,536+ prefixes, probed through its heads table) agrees with a plain map of prefixes', () => {
  let state = 7;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  const digits = (count: number) => Array.from({ length: count }, () => Math.floor(next() * 10)).join('');
  // Mostly 4-9 digits like a real deck, some very short (they cover many heads) and some 10-16.
  const lengthOf = () => {
    const r = next();
    return r < 0.001
      ? 1 + Math.floor(next() * 3)
      : r < 0.05
        ? 10 + Math.floor(next() * 7)
        : 4 + Math.floor(next() * 6);
  };
  const byPrefix = new Map<string, RateVersionInput[]>();
  const versions: RateVersionInput[] = [];
  while (byPrefix.size < 70_000) {
    const prefix = digits(lengthOf());
    if (byPrefix.has(prefix)) continue;
    // Some prefixes only in force on days 10-20: an earlier or later call falls back to a shorter one.
    const v = next() < 0.1 ? version(prefix, 10, 20, byPrefix.size) : version(prefix, 0, null, byPrefix.size);
    byPrefix.set(prefix, [v]);
    versions.push(v);
  }
  const index = build(versions);
  const reference = (number: string, atMs: number) => {
    for (let length = Math.min(number.length, 16); length > 0; length--) {
      const found = byPrefix
        .get(number.slice(0, length))
        ?.find((v) => v.effectiveFromMs <= atMs && atMs < v.effectiveToMs);
      if (found && /^\d+$/.test(number.slice(0, length))) return found.rateUnits;
    }
    return null;
  };
  const prefixes = [...byPrefix.keys()];
  const numbers: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const base = prefixes[Math.floor(next() * prefixes.length)]!;
    const r = next();
    if (r < 0.6) numbers.push(base + digits(Math.floor(next() * 8)));
    else if (r < 0.8) numbers.push(digits(1 + Math.floor(next() * 18)));
    else if (r < 0.9) numbers.push(base.slice(0, 1 + Math.floor(next() * base.length)));
    else numbers.push(`${base.slice(0, 3)}x${digits(5)}`); // a non-digit inside the first six
  }
  let matched = 0;
  for (const number of numbers) {
    for (const day of [5, 15]) {
      const found = index.match(number, day * DAY);
      const actual = found === NO_MATCH ? null : index.rateUnitsOf(found);
      assert.equal(actual, reference(number, day * DAY), `${number} on day ${day}`);
      if (actual !== null) matched++;
    }
  }
  assert.ok(matched > 20_000, `most numbers match something (${matched})`);
});
