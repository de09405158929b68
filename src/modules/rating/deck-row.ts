import { amountProblem, canonicalAmount, incrementProblem, parseTimestamp, prefixProblem } from './values.js';

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

export function parseDeckRow(
  cells: string[],
  layout: DeckLayout,
  defaults: DeckDefaults,
  line: number,
): { rate: DeckRate } | { problems: DeckProblem[] } {
  const problems: DeckProblem[] = [];
  const problem = (column: string, reason: string) => problems.push({ line, column, reason });
  if (cells.length !== layout.length) {
    return {
      problems: [{ line, column: null, reason: `expected ${layout.length} columns, found ${cells.length}` }],
    };
  }
  const value: Partial<Record<DeckField, string>> = {};
  layout.forEach((field, position) => {
    if (field) value[field] = cells[position]!.trim();
  });
  const prefix = value.prefix ?? '';
  const prefixIssue = prefixProblem(prefix);
  if (prefixIssue) problem('prefix', prefixIssue);
  const rate = value.rate ?? '';
  const rateIssue = amountProblem(rate);
  if (rateIssue) problem('rate', `rate '${rate}' ${rateIssue}`);
  const fee = value.connection_fee || defaults.connectionFee;
  const feeIssue = amountProblem(fee);
  if (feeIssue) problem('connection_fee', `connection_fee '${fee}' ${feeIssue}`);

  let initial = defaults.initialIncrement;
  let pulse = defaults.increment;
  if (value.increment) {
    const parsed = parseIncrements(value.increment);
    if (!parsed)
      problem('increment', `increment '${value.increment}' must be seconds (6) or initial/increment (60/6)`);
    else {
      pulse = parsed.pulse;
      if (parsed.initial !== undefined) initial = parsed.initial;
    }
  }
  if (value.initial_increment) {
    if (!/^\d{1,6}$/.test(value.initial_increment))
      problem('initial_increment', `initial_increment '${value.initial_increment}' is not a whole number`);
    else initial = Number(value.initial_increment);
  }
  const initialIssue = incrementProblem(initial);
  if (initialIssue) problem('initial_increment', `initial_increment ${initial} ${initialIssue}`);
  const pulseIssue = incrementProblem(pulse);
  if (pulseIssue) problem('increment', `increment ${pulse} ${pulseIssue}`);

  const from = value.effective_from ? parseTimestamp(value.effective_from) : defaults.effectiveFrom;
  if (!from)
    problem(
      'effective_from',
      `effective_from '${value.effective_from}' is not a timestamp (ISO 8601 or YYYY-MM-DD HH:MM:SS)`,
    );
  const to = value.effective_to ? parseTimestamp(value.effective_to) : null;
  if (value.effective_to && !to)
    problem('effective_to', `effective_to '${value.effective_to}' is not a timestamp`);
  if (from && to && to.getTime() <= from.getTime())
    problem('effective_to', 'effective_to must be after effective_from');

  const blockedText = (value.blocked ?? '').toLowerCase();
  if (!TRUE_TEXT.has(blockedText) && !FALSE_TEXT.has(blockedText))
    problem('blocked', `blocked '${value.blocked}' must be true or false`);
  if (value.currency && value.currency.toUpperCase() !== defaults.currency) {
    problem('currency', `currency ${value.currency} does not match the card's ${defaults.currency}`);
  }
  if (problems.length) return { problems };
  return {
    rate: {
      prefix,
      destination: value.destination ?? '',
      rate: canonicalAmount(rate),
      connectionFee: canonicalAmount(fee),
      initialIncrement: initial,
      increment: pulse,
      effectiveFrom: from!,
      effectiveTo: to,
      blocked: TRUE_TEXT.has(blockedText),
    },
  };
}
