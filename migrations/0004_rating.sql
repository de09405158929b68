-- Rating module: rate cards, their versioned rates, carriers, and the customer's sell card.

-- Money-like columns are numeric(15, 8): at most 9,999,999.99999999. That bound lets the
-- in-memory index hold every rate as an exact integer count of 1e-8 units (< 2^53), so a
-- lookup compares costs without allocating decimals (src/modules/rating/units.ts).
create table ratecards (
  id text primary key,
  name text not null,
  currency char(3) not null,
  direction text not null check (direction in ('sell', 'buy')),
  connection_fee numeric(15, 8) not null default 0 check (connection_fee >= 0),
  initial_increment integer not null default 1 check (initial_increment between 1 and 86400),
  increment integer not null default 1 check (increment between 1 and 86400),
  rounding_decimals smallint not null default 4 check (rounding_decimals between 0 and 8),
  rounding_mode text not null default 'half_up' check (rounding_mode in ('half_up', 'half_even', 'up', 'down')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index ratecards_direction on ratecards (direction, id);

-- One row per version of a prefix. "C" collation: prefixes sort byte-wise, the order the
-- in-memory index is built in, whatever the database's default collation.
create table rates (
  id text primary key,
  ratecard_id text not null references ratecards (id) on delete cascade,
  prefix text collate "C" not null check (prefix ~ '^[0-9]{1,16}$'),
  destination text not null default '',
  rate numeric(15, 8) not null check (rate >= 0),
  connection_fee numeric(15, 8) not null default 0 check (connection_fee >= 0),
  initial_increment integer not null check (initial_increment between 1 and 86400),
  increment integer not null check (increment between 1 and 86400),
  effective_from timestamptz not null,
  effective_to timestamptz,
  blocked boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (effective_to is null or effective_to > effective_from),
  unique (ratecard_id, prefix, effective_from)
);
create index rates_card_id on rates (ratecard_id, id);

create table carriers (
  id text primary key,
  name text not null,
  status text not null default 'active' check (status in ('active', 'inactive')),
  ratecard_id text not null references ratecards (id),
  priority integer not null default 100 check (priority between 0 and 1000000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index carriers_ratecard on carriers (ratecard_id);

alter table customers add column ratecard_id text references ratecards (id);
create index customers_ratecard on customers (ratecard_id);
