import {
  amountProblem,
  canonicalAmount,
  incrementProblem,
  MAX_DESTINATION_LENGTH,
  parseTimestamp,
  prefixProblem,
} from './values.js';

/**
 * One line of a rate deck, checked without touching the database: which file column holds which
 * field (the layout), and each row turned into a rate or a list of precise problems.
 */
export const DECK_FIELDS = [
  'prefix',
  'destination',
  'rate',
  'connection_fee',
  'initial_increment',
  'increment',
  'effective_from',
  'effective_to',
  'blocked',
  'currency',
] as const;
export type DeckField = (typeof DECK_FIELDS)[number];
export const DEFAULT_HEADER =
  'prefix,destination,rate,connection_fee,initial_increment,increment,effective_from';
/** Marks a file column the import should ignore in a `columns` mapping. */
export const SKIP_COLUMN = '-';

export interface DeckProblem {
  line: number;
  column: string | null;
  reason: string;
}

/** File column position → field (null: ignored). */
export type DeckLayout = (DeckField | null)[];

export interface DeckDefaults {
  connectionFee: string;
  initialIncrement: number;
  increment: number;
  effectiveFrom: Date;
  currency: string;
}

export interface DeckRate {
  prefix: string;
  destination: string;
  rate: string;
  connectionFee: string;
  initialIncrement: number;
  increment: number;
  effectiveFrom: Date;
  effectiveTo: Date | null;
  blocked: boolean;
}

const isField = (name: string): name is DeckField => (DECK_FIELDS as readonly string[]).includes(name);

/**
 * The layout from the header row, or from an explicit `columns` list (fields in file order,
 * '-' to skip one). Problems name the column; a header that is one long cell with ';' or tabs
 * in it is most likely the wrong delimiter, and the reason says so.
 */
export function resolveLayout(
  names: string[],
  line: number,
): { layout: DeckLayout } | { problems: DeckProblem[] } {
  const problems: DeckProblem[] = [];
  const seen = new Set<string>();
  const layout: DeckLayout = names.map((raw) => {
    const name = raw.trim().toLowerCase();
    if (name === SKIP_COLUMN) return null;
    if (!isField(name)) {
      const hint = /[;\t|]/.test(name)
        ? "; is the file delimited by ';', tab or '|'? pass delimiter="
        : `; known columns: ${DECK_FIELDS.join(', ')}`;
      problems.push({ line, column: raw, reason: `unknown column '${raw}'${hint}` });
      return null;
    }
    if (seen.has(name)) problems.push({ line, column: raw, reason: `column '${name}' appears twice` });
    seen.add(name);
    return name;
  });
  for (const required of ['prefix', 'rate'] as const) {
    if (!seen.has(required) && problems.length === 0)
      problems.push({ line, column: required, reason: `missing required column '${required}'` });
  }
  return problems.length ? { problems } : { layout };
}

/** "60/6" in the increment column sets both increments; a plain number sets the pulse only. */
function parseIncrements(text: string): { initial?: number; pulse: number } | null {
  const pair = /^(\d{1,6})\/(\d{1,6})$/.exec(text);
  if (pair) return { initial: Number(pair[1]), pulse: Number(pair[2]) };
  return /^\d{1,6}$/.test(text) ? { pulse: Number(text) } : null;
}

const TRUE_TEXT = new Set(['true', 'yes', '1', 'y']);
const FALSE_TEXT = new Set(['false', 'no', '0', 'n', '']);

/** Field → file column position (-1: absent), once per layout: no object per row. */
const positionsOf = new WeakMap<DeckLayout, Record<DeckField, number>>();
function positions(layout: DeckLayout): Record<DeckField, number> {
  let found = positionsOf.get(layout);
  if (!found) {
    found = Object.fromEntries(DECK_FIELDS.map((field) => [field, layout.indexOf(field)])) as Record<
      DeckField,
      number
    >;
    positionsOf.set(layout, found);
  }
  return found;
}

function add(problems: DeckProblem[] | null, line: number, column: string, reason: string): DeckProblem[] {
  const list = problems ?? [];
  list.push({ line, column, reason });
  return list;
}

const cell = (cells: string[], position: number): string | undefined =>
  position < 0 ? undefined : cells[position]!.trim();

/**
 * One row → a rate, or every problem of the row. The hot path of a million-row import: no
 * object or closure per row besides the rate itself (problems are rare and allocate freely).
 */
export function parseDeckRow(
  cells: string[],
  layout: DeckLayout,
  defaults: DeckDefaults,
  line: number,
): { rate: DeckRate } | { problems: DeckProblem[] } {
  if (cells.length !== layout.length) {
    return {
      problems: [{ line, column: null, reason: `expected ${layout.length} columns, found ${cells.length}` }],
    };
  }
  const at = positions(layout);
  let problems: DeckProblem[] | null = null;
  const prefix = cell(cells, at.prefix) ?? '';
  const prefixIssue = prefixProblem(prefix);
  if (prefixIssue) problems = add(problems, line, 'prefix', prefixIssue);
  const rate = cell(cells, at.rate) ?? '';
  const rateIssue = amountProblem(rate);
  if (rateIssue) problems = add(problems, line, 'rate', `rate '${rate}' ${rateIssue}`);
  const fee = cell(cells, at.connection_fee) || defaults.connectionFee;
  const feeIssue = fee === defaults.connectionFee ? null : amountProblem(fee);
  if (feeIssue) problems = add(problems, line, 'connection_fee', `connection_fee '${fee}' ${feeIssue}`);

  let initial = defaults.initialIncrement;
  let pulse = defaults.increment;
  const incrementText = cell(cells, at.increment);
  if (incrementText) {
    const parsed = parseIncrements(incrementText);
    if (!parsed)
      problems = add(
        problems,
        line,
        'increment',
        `increment '${incrementText}' must be seconds (6) or initial/increment (60/6)`,
      );
    else {
      pulse = parsed.pulse;
      if (parsed.initial !== undefined) initial = parsed.initial;
    }
  }
  const initialText = cell(cells, at.initial_increment);
  if (initialText) {
    if (!/^\d{1,6}$/.test(initialText))
      problems = add(
        problems,
        line,
        'initial_increment',
        `initial_increment '${initialText}' is not a whole number`,
      );
    else initial = Number(initialText);
  }
  const initialIssue = incrementProblem(initial);
  if (initialIssue)
    problems = add(problems, line, 'initial_increment', `initial_increment ${initial} ${initialIssue}`);
  const pulseIssue = incrementProblem(pulse);
  if (pulseIssue) problems = add(problems, line, 'increment', `increment ${pulse} ${pulseIssue}`);

  const fromText = cell(cells, at.effective_from);
  const from = fromText ? parseTimestamp(fromText) : defaults.effectiveFrom;
  if (!from)
    problems = add(
      problems,
      line,
      'effective_from',
      `effective_from '${fromText}' is not a timestamp (ISO 8601 or YYYY-MM-DD HH:MM:SS)`,
    );
  const toText = cell(cells, at.effective_to);
  const to = toText ? parseTimestamp(toText) : null;
  if (toText && !to)
    problems = add(problems, line, 'effective_to', `effective_to '${toText}' is not a timestamp`);
  if (from && to && to.getTime() <= from.getTime())
    problems = add(problems, line, 'effective_to', 'effective_to must be after effective_from');

  const blockedCell = cell(cells, at.blocked);
  const blockedText = (blockedCell ?? '').toLowerCase();
  if (!TRUE_TEXT.has(blockedText) && !FALSE_TEXT.has(blockedText))
    problems = add(problems, line, 'blocked', `blocked '${blockedCell}' must be true or false`);
  const currency = cell(cells, at.currency);
  if (currency && currency.toUpperCase() !== defaults.currency) {
    problems = add(
      problems,
      line,
      'currency',
      `currency ${currency} does not match the card's ${defaults.currency}`,
    );
  }
  const destination = cell(cells, at.destination) ?? '';
  // The API's limit for a rate's destination; and PostgreSQL text cannot hold a NUL.
  if (destination.length > MAX_DESTINATION_LENGTH || destination.includes('\u0000'))
    problems = add(
      problems,
      line,
      'destination',
      `destination must be at most ${MAX_DESTINATION_LENGTH} characters, without NUL characters`,
    );
  if (problems) return { problems };
  return {
    rate: {
      prefix,
      destination,
      rate: canonicalAmount(rate),
      connectionFee: fee === defaults.connectionFee ? fee : canonicalAmount(fee),
      initialIncrement: initial,
      increment: pulse,
      effectiveFrom: from!,
      effectiveTo: to,
      blocked: TRUE_TEXT.has(blockedText),
    },
  };
}
