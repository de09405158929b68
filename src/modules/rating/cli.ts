import { createReadStream, statSync } from 'node:fs';
import type { Db } from '../../db/index.js';
import { announceCardChanges } from './card-changes.js';
import { DeckRejectedError, type ImportOptions, importDeck } from './deck-import.js';
import { derivedCardsOf } from './derivation.js';

/** Redraws at most this often: a progress line per chunk would flood a slow terminal. */
const PROGRESS_EVERY_MS = 250;

function progressBar(write: (text: string) => void) {
  const started = performance.now();
  let drawn = 0;
  return (rows: number, final = false) => {
    const now = performance.now();
    if (!final && now - drawn < PROGRESS_EVERY_MS) return;
    drawn = now;
    const perSecond = Math.round(rows / Math.max((now - started) / 1000, 0.001));
    write(
      `\r  ${rows.toLocaleString('en')} rows read, ${perSecond.toLocaleString('en')} rows/s${final ? '\n' : ''}`,
    );
  };
}

/**
 * `tollgate rates import <card> <file.csv>`: the same all-or-nothing import as the API, with a
 * progress line on stderr, announced to running servers when it succeeds. Returns the exit code: 0 imported, 1 rejected (every problem listed).
 */
export async function runRatesImport(
  db: Db,
  cardId: string,
  file: string,
  options: Omit<ImportOptions, 'onProgress'>,
  io: { out: (line: string) => void; err: (text: string) => void } = {
    out: console.log,
    err: (text) => process.stderr.write(text),
  },
): Promise<number> {
  const bytes = statSync(file).size;
  io.err(`importing ${file} (${(bytes / 1024 / 1024).toFixed(1)} MB) into ${cardId}, mode ${options.mode}\n`);
  const progress = progressBar(io.err);
  let rowsRead = 0;
  try {
    const result = await importDeck(db, cardId, createReadStream(file), {
      ...options,
      onProgress: (rows) => {
        rowsRead = rows;
        progress(rows);
      },
    });
    progress(rowsRead, true);
    // A server running on the same PostgreSQL rebuilds the card (and those derived from it).
    await announceCardChanges(db, [cardId, ...(await derivedCardsOf(db, cardId))]);
    io.out(
      `added ${result.added}, changed ${result.changed}, unchanged ${result.unchanged}, closed ${result.closed} (${result.rows} rows)`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof DeckRejectedError)) throw error;
    progress(rowsRead, true);
    io.out('deck rejected, nothing imported:');
    for (const problem of error.problems) {
      io.out(
        `  line ${problem.line}${problem.column ? `, column ${problem.column}` : ''}: ${problem.reason}`,
      );
    }
    if (error.truncated) io.out('  (more problems not shown)');
    return 1;
  }
}
