import type { ColumnType } from 'kysely';
import type { RoundingMode } from '../../money/index.js';

/** Tables owned by the rating module (migrations/0004_rating.sql). */

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | undefined, Date>;
/** numeric(15,8): text in and out, never a JS number. */
type Numeric = ColumnType<string, string | undefined, string>;

export type RatecardDirection = 'sell' | 'buy';
export type CarrierStatus = 'active' | 'inactive';

export interface RatecardsTable {
  id: string;
  name: string;
  currency: string;
  direction: RatecardDirection;
  connection_fee: Numeric;
  initial_increment: ColumnType<number, number | undefined, number>;
  increment: ColumnType<number, number | undefined, number>;
  rounding_decimals: ColumnType<number, number | undefined, number>;
  rounding_mode: ColumnType<RoundingMode, RoundingMode | undefined, RoundingMode>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface RatesTable {
  id: string;
  ratecard_id: string;
  prefix: string;
  destination: ColumnType<string, string | undefined, string>;
  rate: string;
  connection_fee: Numeric;
  initial_increment: number;
  increment: number;
  effective_from: Date;
  effective_to: Date | null;
  blocked: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface CarriersTable {
  id: string;
  name: string;
  status: ColumnType<CarrierStatus, CarrierStatus | undefined, CarrierStatus>;
  ratecard_id: string;
  priority: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

/** migrations/0008_rating_derivations.sql: the recipe of a derived sell card. */
export interface RatecardDerivationsTable {
  ratecard_id: string;
  source_ids: string[];
  percentage: Numeric;
  absolute: Numeric;
  min_margin: Numeric;
  rounding_decimals: ColumnType<number, number | undefined, number>;
  rounding_mode: ColumnType<RoundingMode, RoundingMode | undefined, RoundingMode>;
  /** JSON text in, parsed array out (jsonb). */
  overrides: ColumnType<ProfitOverrideRow[], string | undefined, string>;
  compiled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  compiled_rates: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ProfitOverrideRow {
  prefix: string;
  percentage?: string;
  absolute?: string;
  min_margin?: string;
}

export interface RatingTables {
  ratecards: RatecardsTable;
  rates: RatesTable;
  carriers: CarriersTable;
  ratecard_derivations: RatecardDerivationsTable;
}
