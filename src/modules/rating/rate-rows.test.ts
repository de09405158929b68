import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DeckRate } from './deck-row.js';
import { type RowSink, sortedSink } from './rate-rows.js';

/** A sink that records what reaches it, flush by flush (what a COPY or an insert would receive). */
function recordingSink(chunkRows: number) {
  const flushed: DeckRate[][] = [];
  let pending: DeckRate[] = [];
  let ended: boolean | null = null;
  const sink: RowSink = {
    chunkRows,
    get size() {
      return pending.length;
    },
    push: (rate) => void pending.push(rate),
    async flush() {
      if (pending.length) flushed.push(pending);
      pending = [];
    },
    async end(keep) {
      if (keep) await sink.flush();
      ended = keep;
    },
  };
  return { sink, flushed, ended: () => ended };
}

const rate = (prefix: string, fromMs: number): DeckRate => ({
  prefix,
  destination: '',
  rate: '1',
  connectionFee: '0',
  initialIncrement: 1,
  increment: 1,
  effectiveFrom: new Date(fromMs),
  effectiveTo: null,
  blocked: false,
});

/** The key order of rates' unique index: prefix byte-wise, then effective_from. */
const byKey = (a: DeckRate, b: DeckRate) =>
  a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : a.effectiveFrom.getTime() - b.effectiveFrom.getTime();

test('sortedSink hands each run on in key order, every row exactly once', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.stringMatching(/^\d{1,16}$/), fc.integer({ min: 0, max: 5 })), { maxLength: 300 }),
      fc.integer({ min: 1, max: 120 }),
      async (rows, runRows) => {
        const deck = rows.map(([prefix, day]) => rate(prefix, day * 86_400_000));
        const inner = recordingSink(7);
        const sink = sortedSink(inner.sink, runRows);
        for (const row of deck) {
          sink.push(row);
          if (sink.size >= sink.chunkRows) await sink.flush();
        }
        await sink.end(true);
        const out = inner.flushed.flat();
        assert.equal(out.length, deck.length);
        for (let start = 0; start < deck.length; start += runRows) {
          const run = out.slice(start, start + runRows);
          assert.deepEqual(run, deck.slice(start, start + runRows).sort(byKey));
        }
        assert.ok(inner.flushed.every((chunk) => chunk.length <= 7));
        assert.equal(inner.ended(), true);
      },
    ),
  );
});

test('sortedSink abandons held rows when the deck is rejected', async () => {
  const inner = recordingSink(7);
  const sink = sortedSink(inner.sink, 100);
  sink.push(rate('2', 0));
  sink.push(rate('1', 0));
  await sink.end(false);
  assert.deepEqual(inner.flushed, []);
  assert.equal(inner.ended(), false);
});
