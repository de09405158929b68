import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import secureJson from 'secure-json-parse';
import { invalid } from '../../errors.js';
import { CDR_FIELDS } from './cdr-record.js';
import type { RawRecord } from './ingest.js';

/**
 * Turns a request body into a stream of raw records, whatever its format: a JSON array (already
 * parsed, bounded by the route's body limit), NDJSON or CSV (read line by line from the request
 * stream, never buffered whole). A line that cannot be read becomes a rejected record, not a
 * failed batch.
 */
const MAX_LINE_BYTES = 64 * 1024;

export function* fromJsonArray(body: unknown[]): Iterable<RawRecord> {
  for (let index = 0; index < body.length; index++) yield { index, value: body[index] };
}

export async function* fromNdjson(input: Readable): AsyncIterable<RawRecord> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let index = 0;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    if (line.length > MAX_LINE_BYTES) {
      yield { index: index++, error: `line longer than ${MAX_LINE_BYTES} bytes` };
      continue;
    }
    try {
      yield {
        index: index++,
        value: secureJson.parse(line, undefined, { protoAction: 'error', constructorAction: 'error' }),
      };
    } catch (error) {
      yield { index: index - 1, error: `malformed JSON: ${(error as Error).message}` };
    }
  }
}

/** Columns a CSV must have: the record is unusable without them. */
const REQUIRED_COLUMNS = ['call_id', 'caller', 'callee', 'start_time', 'end_time', 'disposition'];
const KNOWN: ReadonlySet<string> = new Set(CDR_FIELDS);

function checkHeader(header: string[]): string[] {
  const names = header.map((name) =>
    name
      .trim()
      .replace(/^\uFEFF/, '')
      .toLowerCase(),
  );
  const unknown = names.find((name) => !KNOWN.has(name));
  if (unknown) throw invalid(`CSV header has an unknown column '${unknown}'`, unknown);
  const missing = REQUIRED_COLUMNS.find((name) => !names.includes(name));
  if (missing) throw invalid(`CSV is missing the column '${missing}'`, missing);
  if (!names.includes('customer_id') && !names.includes('account_number')) {
    throw invalid("CSV needs a 'customer_id' or 'account_number' column", 'customer_id');
  }
  return names;
}

export async function* fromCsv(input: Readable): AsyncIterable<RawRecord> {
  const parser = input.pipe(
    parseCsv({
      bom: true,
      columns: checkHeader,
      // A row with more or fewer fields than the header is that record's problem, not the
      // file's: relaxed, the parser goes on and says so in the record's info.
      relax_column_count: true,
      info: true,
      skip_empty_lines: true,
      trim: true,
      max_record_size: MAX_LINE_BYTES,
    }),
  );
  // pipe() does not pass on the request's error: a client gone mid-upload would leave this
  // batch waiting for the rest of its CSV for ever.
  input.once('error', (error) => parser.destroy(error));
  let index = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: unknown;
      info: { error?: Error };
    }>) {
      yield info.error
        ? { index: index++, error: `CSV: ${info.error.message}` }
        : { index: index++, value: record };
    }
  } catch (error) {
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('CSV_')) {
      // The rest of the file cannot be read reliably after a syntax error: report it at this record.
      yield { index, error: `CSV: ${error.message}` };
      return;
    }
    throw error;
  }
}

/** A multipart upload arrives as a buffer: JSON array, NDJSON or CSV, told apart by its first character. */
export function fromUpload(file: Buffer): Iterable<RawRecord> | AsyncIterable<RawRecord> {
  const text = file.toString('utf8').replace(/^\uFEFF/, '');
  const first = text.trimStart()[0];
  if (first === '[') {
    let parsed: unknown;
    try {
      parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (error) {
      throw invalid(`The uploaded JSON is malformed: ${(error as Error).message}`, 'file');
    }
    if (!Array.isArray(parsed)) throw invalid('The uploaded JSON must be an array of CDRs', 'file');
    return fromJsonArray(parsed);
  }
  return first === '{' ? fromNdjson(Readable.from([text])) : fromCsv(Readable.from([text]));
}
