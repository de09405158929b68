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
const REQUIRED_COLUMNS = ['call_id', 'caller', 'callee', 'start_time', 'end_time'];
const KNOWN: ReadonlySet<string> = new Set(CDR_FIELDS);
/** In a `columns` layout: a column of the file that is not read. */
const SKIP = '-';

/**
 * How a CSV's columns are read. By default its first row names them with CDR field names. A
 * switch's own file (Asterisk's Master.csv has no header, and calls the callee `dst`) is read
 * with `columns`: the file's columns in order as CDR field names, `-` for one that is not read.
 */
export interface CsvLayout {
  columns?: string[];
  /** Whether the first row is a header. With `columns` it is skipped; default true. */
  header?: boolean;
  delimiter?: string;
}

export const hasLayout = (layout: CsvLayout) =>
  layout.columns !== undefined || layout.header !== undefined || layout.delimiter !== undefined;

/** The field names of a layout, checked: known, each once, and the ones a CDR cannot do without. */
function checkColumns(names: string[], param?: string): string[] {
  const read = names.filter((name) => name !== SKIP);
  const unknown = read.find((name) => !KNOWN.has(name));
  if (unknown)
    throw invalid(
      `CSV ${param ? 'columns name' : 'header has'} an unknown column '${unknown}'`,
      param ?? unknown,
    );
  const twice = read.find((name, i) => read.indexOf(name) !== i);
  if (twice)
    throw invalid(`CSV ${param ? 'columns name' : 'header has'} the column '${twice}' twice`, param ?? twice);
  const missing = REQUIRED_COLUMNS.find((name) => !read.includes(name));
  if (missing) throw invalid(`CSV is missing the column '${missing}'`, param ?? missing);
  if (!read.includes('customer_id') && !read.includes('account_number')) {
    throw invalid("CSV needs a 'customer_id' or 'account_number' column", param ?? 'customer_id');
  }
  if (!read.includes('disposition') && !read.includes('hangup_cause')) {
    throw invalid(
      "CSV needs a 'disposition' column, or 'hangup_cause' to tell it from",
      param ?? 'disposition',
    );
  }
  return names;
}

const headerNames = (header: string[]) =>
  checkColumns(
    header.map((name) =>
      name
        .trim()
        .replace(/^\uFEFF/, '')
        .toLowerCase(),
    ),
  );

/**
 * Checks a layout before any of the body is read, so a bad one is a 400 for the request. The
 * parser skips a column named `false` (csv-parse's rule for an array of columns).
 */
function csvColumns(layout: CsvLayout): ((header: string[]) => string[]) | (string | false)[] {
  if (!layout.columns) {
    if (layout.header === false)
      throw invalid('header=false needs columns (the file’s columns in order)', 'header');
    return headerNames;
  }
  const names = checkColumns(
    layout.columns.map((name) => name.trim().toLowerCase()),
    'columns',
  );
  return names.map((name) => (name === SKIP ? false : name));
}

/** The layout is checked now: a bad one is the request's 400 before a byte of the body is read. */
export function fromCsv(input: Readable, layout: CsvLayout = {}): AsyncIterable<RawRecord> {
  return readCsv(input, csvColumns(layout), layout);
}

async function* readCsv(
  input: Readable,
  columns: ReturnType<typeof csvColumns>,
  layout: CsvLayout,
): AsyncIterable<RawRecord> {
  const parser = input.pipe(
    parseCsv({
      bom: true,
      columns,
      // With the columns given, a header row is not a record.
      from_line: Array.isArray(columns) && layout.header !== false ? 2 : 1,
      delimiter: layout.delimiter ?? ',',
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
export function fromUpload(
  file: Buffer,
  layout: CsvLayout = {},
): Iterable<RawRecord> | AsyncIterable<RawRecord> {
  const text = file.toString('utf8').replace(/^\uFEFF/, '');
  const first = text.trimStart()[0];
  if ((first === '[' || first === '{') && hasLayout(layout))
    throw invalid('columns, header and delimiter describe a CSV; this file is JSON', 'columns');
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
  return first === '{' ? fromNdjson(Readable.from([text])) : fromCsv(Readable.from([text]), layout);
}
