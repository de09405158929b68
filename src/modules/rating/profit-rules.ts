import { Decimal, type RoundingMode, roundTo } from '../../money/index.js';
import { MAX_RATE_TEXT, toUnits } from './units.js';

/**
 * How a derived sell card prices a cost (pure, exact): sell = cost × (1 + percentage/100) +
 * absolute, rounded to `decimals` with `mode`, and never less than cost + min_margin (rounded
 * UP to `decimals`, so rounding can never take a price under that floor). A per-prefix override
 * replaces the fields it names for rates under its prefix; the longest override prefix wins.
 */
export interface ProfitRule {
  percentage: Decimal;
  absolute: Decimal;
  minMargin: Decimal;
}

export interface ProfitOverride {
  prefix: string;
  percentage?: Decimal;
  absolute?: Decimal;
  minMargin?: Decimal;
}

const UNITS_PER_ONE = new Decimal(100_000_000);
const MAX_UNITS = toUnits(MAX_RATE_TEXT)!;

export class ProfitRules {
  /** Override prefix → the card's rule with that override's fields applied. */
  private readonly byPrefix = new Map<string, ProfitRule>();
  private readonly longestOverride: number;

  constructor(
    private readonly base: ProfitRule,
    private readonly decimals: number,
    private readonly mode: RoundingMode,
    overrides: readonly ProfitOverride[] = [],
  ) {
    for (const { prefix, ...fields } of overrides) {
      this.byPrefix.set(prefix, {
        percentage: fields.percentage ?? base.percentage,
        absolute: fields.absolute ?? base.absolute,
        minMargin: fields.minMargin ?? base.minMargin,
      });
    }
    this.longestOverride = Math.max(0, ...overrides.map((o) => o.prefix.length));
  }

  /** The rule for rates under `prefix`: its longest override prefix's, else the card's. */
  ruleFor(prefix: string): ProfitRule {
    for (let length = Math.min(prefix.length, this.longestOverride); length > 0; length--) {
      const rule = this.byPrefix.get(prefix.slice(0, length));
      if (rule) return rule;
    }
    return this.base;
  }

  /** The sell price of a cost, both exact Decimals. */
  price(cost: Decimal, rule: ProfitRule): Decimal {
    const marked = cost.times(rule.percentage.div(100).plus(1)).plus(rule.absolute);
    const rounded = roundTo(marked, this.decimals, this.mode);
    const floor = roundTo(cost.plus(rule.minMargin), this.decimals, 'up');
    return Decimal.max(rounded, floor);
  }

  /**
   * The same on index units (integer 1e-8 counts), for compiling a whole card. Null when the
   * price does not fit a rate column (numeric(15,8)).
   */
  priceUnits(costUnits: number, prefix: string): number | null {
    const cost = new Decimal(costUnits).div(UNITS_PER_ONE);
    const units = this.price(cost, this.ruleFor(prefix)).times(UNITS_PER_ONE).toNumber();
    return units <= MAX_UNITS ? units : null;
  }
}
