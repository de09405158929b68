import { pipeline, Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { Db } from '../../db/index.js';
import { formatAmount } from '../../money/index.js';
import { DECK_FIELDS } from './deck-row.js';
import { getRatecard } from './ratecards.js';

/** Rows read per query while exporting: the export streams, it never holds the card. */
const EXPORT_PAGE_ROWS = 10_000;
/** The deck's own columns, so an export imports back as it is; currency is the card's. */
export const EXPORT_HEADER = DECK_FIELDS.filter((field) => field !== 'currency');

async function* ratesInForce(db: Db, cardId: string, at: Date) {
  let after = '';
  for (;;) {
    const rows = await db
      .selectFrom('rates')
      .select([
        'prefix',
        'destination',
        'rate',
        'connection_fee',
        'initial_increment',
        'increment',
        'effective_from',
        'effective_to',
        'blocked',
      ])
      .where('ratecard_id', '=', cardId)
      .where('prefix', '>', after)
      .where('effective_from', '<=', at)
      .where((eb) => eb.or([eb('effective_to', 'is', null), eb('effective_to', '>', at)]))
      // The newest version in force of each prefix, like a lookup at `at`.
      .distinctOn('prefix')
      .orderBy('prefix')
      .orderBy('effective_from', 'desc')
      .limit(EXPORT_PAGE_ROWS)
      .execute();
    for (const row of rows) {
      yield [
        row.prefix,
        row.destination,
        formatAmount(row.rate),
        formatAmount(row.connection_fee),
        row.initial_increment,
        row.increment,
        row.effective_from.toISOString(),
        row.effective_to?.toISOString() ?? '',
        row.blocked ? 'true' : 'false',
      ];
    }
    if (rows.length < EXPORT_PAGE_ROWS) return;
    after = rows.at(-1)!.prefix;
  }
}

/** The card as it stands at `at`, as CSV in the import's own layout (re-importable as is). */
export async function exportDeck(db: Db, cardId: string, at: Date): Promise<Readable> {
  await getRatecard(db, cardId);
  // pipeline, not pipe: a failed read must reach the answer's stream (which Fastify then ends),
  // not be thrown from the source with no listener, which would stop the server.
  return pipeline(
    Readable.from(ratesInForce(db, cardId, at)),
    stringify({ header: true, columns: EXPORT_HEADER }),
    () => {},
  );
}
