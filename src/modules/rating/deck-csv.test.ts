import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { DeckCsv, DeckCsvError } from './deck-csv.js';

/** Records and the line each ends on, feeding `text` in pieces cut at `cuts`. */
function split(text: string, cuts: number[], delimiter = ',', max = 1000): [string[], number][] {
  const csv = new DeckCsv(delimiter, max);
  const records: [string[], number][] = [];
  const push = (cells: string[], line: number) => void records.push([cells, line]);
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    csv.write(text.slice(from, Math.max(from, cut)), push);
    from = Math.max(from, cut);
  }
  csv.write(text.slice(from), push);
  csv.end(push);
  return records;
}

/** What csv-parse, the parser this one replaced, makes of the same text. */
function reference(text: string, delimiter = ','): [string[], number][] {
  const records: [string[], number][] = [];
  parse(text, {
    bom: true,
    delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    on_record: (record: string[], context) => {
      records.push([record, context.lines]);
      return record;
    },
  });
  return records;
}

test('the deck dialect: BOM, CRLF, quotes, doubled quotes, line breaks in quotes, empty lines', () => {
  const text =
    '\ufeffprefix,destination,rate\r\n49,"Germany, fixed",0.01\r\n\r\n44,"say ""hi""\nthere",0.02\r\n1,,\r\n';
  assert.deepEqual(split(text, []), [
    [['prefix', 'destination', 'rate'], 1],
    [['49', 'Germany, fixed', '0.01'], 2],
    [['44', 'say "hi"\nthere', '0.02'], 5],
    [['1', '', ''], 6],
  ]);
  assert.deepEqual(split(text, [1, 2, 20, 31, 40, 41, 50]), split(text, []));
  assert.deepEqual(split(text, []), reference(text));
  // A CRLF inside quotes is one line break (csv-parse counted two).
  assert.deepEqual(split('"a\r\nb"\r\nc', []), [
    [['a\r\nb'], 2],
    [['c'], 3],
  ]);
  assert.deepEqual(split('a;b\n1;2', [], ';'), [
    [['a', 'b'], 1],
    [['1', '2'], 2],
  ]);
});

test('malformed CSV and over-long lines are errors with their line', () => {
  const problem = (text: string, max = 1000) => {
    try {
      split(text, [3], ',', max);
    } catch (error) {
      assert.ok(error instanceof DeckCsvError);
      return `${error.line}: ${error.reason}`;
    }
    return null;
  };
  assert.match(problem('a,b\n1,"open\n2,3\n')!, /^2: .*never closed/);
  assert.match(problem('a,b\n1,"x"y\n')!, /^2: .*after the closing quote/);
  assert.match(problem('a,b\n1,x"y\n')!, /^2: .*quote inside the unquoted field 2/);
  assert.match(problem(`a,b\n1,${'x'.repeat(50)}\n`, 20)!, /^2: line is longer than 20/);
  assert.match(problem(`a,b\n1,${'x'.repeat(50)}`, 20)!, /^2: line is longer than 20/);
});

test('property: the same records and lines as csv-parse, however the text is cut into pieces', () => {
  const cell = fc
    // No CRLF inside quotes: csv-parse counts it as two lines (see the first test).
    .array(fc.constantFrom('a', '7', ' ', ',', '"', '\n', 'é', '🙂', ';'), { maxLength: 6 })
    .map((parts) => parts.join(''));
  const quoteIfNeeded = (value: string) =>
    /[",\r\n]/.test(value) || value === '' ? `"${value.replaceAll('"', '""')}"` : value;
  const record = fc.array(cell, { minLength: 1, maxLength: 4 });
  const file = fc.tuple(
    fc.array(fc.oneof(record, fc.constant(null)), { minLength: 1, maxLength: 8 }),
    fc.constantFrom('\n', '\r\n'),
    fc.boolean(),
    fc.boolean(),
  );
  fc.assert(
    fc.property(file, fc.array(fc.nat(200), { maxLength: 6 }), ([records, eol, bom, trailing], cuts) => {
      const lines = records.map((r) => (r === null ? '' : r.map(quoteIfNeeded).join(',')));
      const text = (bom ? '\ufeff' : '') + lines.join(eol) + (trailing ? eol : '');
      assert.deepEqual(split(text, cuts), reference(text), JSON.stringify(text));
    }),
    { numRuns: 500 },
  );
});
