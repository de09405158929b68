import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { INSTANT_PATTERN, isoTimestamp, parseIsoInstant } from './iso-time.js';

test('isoTimestamp writes what toISOString writes, across seconds, edges and random instants', () => {
  const instants = [
    0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1_796_109_622_000, 1_796_109_622_007, 1_796_109_622_070,
    1_796_109_622_700, 1_796_109_622_999, 1_796_109_623_000, 253_402_300_799_999, 253_402_300_800_000, -1,
    -1000, -62_198_755_200_000,
  ];
  // Random instants in order and shuffled: the cached second must never leak into another one.
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  for (let i = 0; i < 5_000; i++) instants.push(Math.floor(random() * 4_102_444_800_000));
  for (let i = 0; i < 2_000; i++) instants.push(1_796_109_622_000 + Math.floor(random() * 3_000));
  for (const ms of instants) {
    const date = new Date(ms);
    assert.equal(isoTimestamp(date), date.toISOString(), `at ${ms}`);
  }
});

test('an invalid date throws as toISOString does', () => {
  assert.throws(() => isoTimestamp(new Date(Number.NaN)), RangeError);
});

test('parseIsoInstant reads every form the API documents', () => {
  const cases: [string, string, boolean][] = [
    ['2026-03-01', '2026-03-01T00:00:00.000Z', true],
    ['2026-03-01T10:20', '2026-03-01T10:20:00.000Z', false],
    ['2026-03-01 10:20:30', '2026-03-01T10:20:30.000Z', false],
    ['2026-03-01t10:20:30z', '2026-03-01T10:20:30.000Z', false],
    ['2026-03-01T10:20:30.5Z', '2026-03-01T10:20:30.500Z', false],
    ['2026-03-01T10:20:30.123456789Z', '2026-03-01T10:20:30.123Z', false],
    ['2026-03-01T10:20:30+05:30', '2026-03-01T04:50:30.000Z', false],
    ['2026-03-01T10:20:30+0530', '2026-03-01T04:50:30.000Z', false],
    ['2026-03-01T01:00:00-02', '2026-03-01T03:00:00.000Z', false],
    ['2028-02-29T12:00:00Z', '2028-02-29T12:00:00.000Z', false],
    ['2000-02-29', '2000-02-29T00:00:00.000Z', true],
    ['0001-01-01', '0001-01-01T00:00:00.000Z', true],
    ['0050-06-15T08:00:00Z', '0050-06-15T08:00:00.000Z', false],
    ['0099-12-31T23:59:59.999Z', '0099-12-31T23:59:59.999Z', false],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z', false],
    ['9999-12-31T23:00:00+05:00', '9999-12-31T18:00:00.000Z', false],
  ];
  for (const [text, iso, dateOnly] of cases) {
    const parsed = parseIsoInstant(text);
    assert.ok(parsed, text);
    assert.equal(parsed.at.toISOString(), iso, text);
    assert.equal(parsed.dateOnly, dateOnly, text);
  }
});

test('parseIsoInstant refuses days, clock times, offsets and years that do not exist', () => {
  for (const text of [
    '2026-02-29', // not a leap year
    '2024-02-30T00:00:00Z', // new Date() rolls this into March
    '2026-04-31',
    '1900-02-29',
    '2026-13-01',
    '2026-00-10',
    '2026-01-00',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:60Z',
    '2026-01-01T10:00:00+24:00',
    '2026-01-01T10:00:00+05:60',
    '2026-01-01T10:00:00.Z',
    '2026-01-01T10:00:00.1234567890Z',
    '2026-01-01T10Z',
    '0000-12-31',
    '0001-01-01T00:30:00+01:00', // year 0000 once the offset is applied
    '9999-12-31T23:00:00-05:00', // year 10000 once the offset is applied
    '+010000-01-01T00:00:00Z',
    '26-01-01',
    '2026-1-1',
    '2026/01/01',
    ' 2026-01-01',
    '2026-01-01T10:00:00ZZ',
    '1714557600',
    '',
  ])
    assert.equal(parseIsoInstant(text), null, text);
});

test('parseIsoInstant agrees with V8 on every valid instant and offset', () => {
  fc.assert(
    fc.property(
      fc.date({
        min: new Date('0100-01-02T00:00:00Z'),
        max: new Date('9999-12-30T00:00:00Z'),
        noInvalidDate: true,
      }),
      fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
      (date, offset) => {
        const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 23);
        const sign = offset < 0 ? '-' : '+';
        const zone = `${sign}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
        const text = local + zone;
        assert.equal(parseIsoInstant(text)?.at.getTime(), new Date(text).getTime(), text);
        assert.equal(parseIsoInstant(date.toISOString())?.at.getTime(), date.getTime());
      },
    ),
    { numRuns: 5_000 },
  );
});

/** The grammar with its fields captured: the oracle the hand-written reader is checked against. */
const GRAMMAR =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;

function referenceParse(text: string): number | null {
  const m = GRAMMAR.exec(text);
  if (!m) return null;
  const [year, month, day, hours, minutes, seconds] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) =>
    Number(v ?? 0),
  );
  const calendar = new Date(0);
  calendar.setUTCFullYear(year!, month! - 1, day!);
  if (
    calendar.getUTCFullYear() !== year ||
    calendar.getUTCMonth() !== month! - 1 ||
    calendar.getUTCDate() !== day
  )
    return null;
  if (hours! > 23 || minutes! > 59 || seconds! > 59) return null;
  if (m[8] && (Number(m[9]) > 23 || Number(m[10] ?? 0) > 59)) return null;
  const offset = m[8] ? (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10] ?? 0)) : 0;
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  calendar.setUTCHours(hours!, minutes!, seconds!, millis);
  const ms = calendar.getTime() - offset * 60_000;
  return ms >= -62_135_596_800_000 && ms < 253_402_300_800_000 ? ms : null;
}

test('parseIsoInstant answers what the grammar and the calendar say, on near-miss texts too', () => {
  const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
  const text = fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
      two(13),
      two(32),
      fc.option(
        fc.tuple(
          fc.constantFrom('T', 't', ' ', 'x'),
          two(25),
          two(61),
          fc.option(two(61)),
          fc.option(fc.stringMatching(/^\d{0,11}$/)),
          fc.constantFrom('', 'Z', 'z', '+', '-', 'Zz'),
          fc.option(two(25)),
          fc.constantFrom('', ':', '::'),
          fc.option(fc.stringMatching(/^\d{0,3}$/)),
        ),
      ),
    )
    .map(([year, month, day, time]) => {
      let out = `${year}-${month}-${day}`;
      if (!time) return out;
      const [sep, hh, mm, ss, frac, zone, offH, colon, offM] = time;
      out += `${sep}${hh}:${mm}`;
      if (ss !== null) out += `:${ss}${frac !== null ? `.${frac}` : ''}`;
      out += zone;
      if (zone === '+' || zone === '-') out += `${offH ?? ''}${colon}${offM ?? ''}`;
      return out;
    });
  let valid = 0;
  const schemaPattern = new RegExp(INSTANT_PATTERN);
  fc.assert(
    fc.property(text, (input) => {
      const parsed = parseIsoInstant(input);
      assert.equal(parsed?.at.getTime() ?? null, referenceParse(input), input);
      // The request schemas' pattern lets through every text the reader takes, and only the
      // reader's own calendar and range checks refuse more.
      assert.equal(GRAMMAR.test(input), schemaPattern.test(input), input);
      if (parsed) valid++;
    }),
    { numRuns: 20_000 },
  );
  // Both answers must be exercised, not only the refusals.
  assert.ok(valid > 2_000 && valid < 18_000, `${valid} valid texts`);
});
