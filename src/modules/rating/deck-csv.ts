/**
 * The CSV dialect of rate decks, split into records as text arrives: RFC 4180 quoting (`"` with
 * `""` inside), a one-character delimiter, records ended by LF, CRLF or CR, a leading BOM
 * dropped, empty lines skipped, a limit on a record's length. Each record comes with the line it
 * ends on (what the import's problem report cites).
 *
 * Written for the import's hot path (a million-line deck): cells are cut out of the text with
 * indexOf and slice, nothing else is allocated per record, and there is no stream or promise per
 * record. csv-parse did the same job at several times the cost.
 */
export class DeckCsvError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const QUOTE = 34; // "
const LF = 10;
const CR = 13;

export class DeckCsv {
  private readonly delimiter: number;
  private pending = '';
  private started = false;
  /** Lines before the start of `pending`. */
  private linesBefore = 0;

  constructor(
    delimiter: string,
    private readonly maxRecordLength: number,
  ) {
    if (delimiter.length !== 1) throw new Error('the delimiter must be one character');
    this.delimiter = delimiter.charCodeAt(0);
  }

  /** Splits `text` (the next piece of the file) into records; keeps an incomplete last one. */
  write(text: string, onRecord: (cells: string[], line: number) => void): void {
    if (!this.started && text.length) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.pending = this.pending ? this.pending + text : text;
    this.split(false, onRecord);
  }

  /** The end of the file: the last record may lack its line break. */
  end(onRecord: (cells: string[], line: number) => void): void {
    this.split(true, onRecord);
  }

  private split(final: boolean, onRecord: (cells: string[], line: number) => void): void {
    const text = this.pending;
    const length = text.length;
    const delimiter = this.delimiter;
    let line = this.linesBefore + 1;
    let start = 0;
    while (start < length) {
      // One record from `start`.
      const cells: string[] = [];
      let at = start;
      let recordLine = line;
      let complete = false;
      let quoted = false;
      for (;;) {
        if (at < length && text.charCodeAt(at) === QUOTE) {
          // Quoted cell: up to the quote not doubled.
          let value = '';
          let from = at + 1;
          let close = -1;
          for (;;) {
            const quote = text.indexOf('"', from);
            if (quote < 0) break;
            if (quote + 1 < length && text.charCodeAt(quote + 1) === QUOTE) {
              value += text.slice(from, quote + 1);
              from = quote + 2;
              continue;
            }
            if (quote + 1 === length && !final) break; // a "" may straddle two pieces
            value += text.slice(from, quote);
            close = quote;
            break;
          }
          if (close < 0) {
            if (!final) break;
            throw new DeckCsvError(
              recordLine,
              `malformed CSV: a quoted field opened on line ${recordLine} is never closed`,
            );
          }
          for (let i = at; i < close; i++)
            if (text.charCodeAt(i) === LF || (text.charCodeAt(i) === CR && text.charCodeAt(i + 1) !== LF))
              recordLine++;
          cells.push(value);
          quoted = true;
          at = close + 1;
          if (at < length) {
            const next = text.charCodeAt(at);
            if (next !== delimiter && next !== LF && next !== CR)
              throw new DeckCsvError(
                recordLine,
                `malformed CSV: '${text[at]}' after the closing quote of field ${cells.length} (expected the delimiter or the end of the line)`,
              );
          }
        } else {
          // Plain cell: up to the delimiter or the end of the line.
          let end = at;
          while (end < length) {
            const c = text.charCodeAt(end);
            if (c === delimiter || c === LF || c === CR) break;
            if (c === QUOTE)
              throw new DeckCsvError(
                recordLine,
                `malformed CSV: a quote inside the unquoted field ${cells.length + 1} (quote the whole field, and double quotes inside it)`,
              );
            end++;
          }
          if (end === length && !final) break;
          cells.push(text.slice(at, end));
          at = end;
        }
        if (at - start > this.maxRecordLength)
          throw new DeckCsvError(recordLine, `line is longer than ${this.maxRecordLength} bytes`);
        if (at >= length) {
          if (!final) break;
          complete = true;
          break;
        }
        const c = text.charCodeAt(at);
        if (c === delimiter) {
          at++;
          if (at === length && !final) break;
          continue;
        }
        // A line break ends the record: LF, CRLF or CR.
        if (c === CR) {
          if (at + 1 === length && !final) break; // CR of a CRLF split over two pieces
          at += text.charCodeAt(at + 1) === LF ? 2 : 1;
        } else at++;
        complete = true;
        break;
      }
      if (!complete) {
        if (length - start > this.maxRecordLength)
          throw new DeckCsvError(recordLine, `line is longer than ${this.maxRecordLength} bytes`);
        break;
      }
      line = recordLine + 1;
      start = at;
      // An empty line (nothing between two line breaks) is skipped.
      if (cells.length === 1 && cells[0] === '' && !quoted) continue;
      onRecord(cells, recordLine);
    }
    this.pending = text.slice(start);
    this.linesBefore = line - 1;
  }
}
