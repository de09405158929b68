-- Derived sell cards: a sell card compiled from one or more buy cards plus profit rules.
-- Its rates rows are the compiled result (written by src/modules/rating/derivation.ts in the
-- same transaction as any change to a source card); this table holds the recipe.
create table ratecard_derivations (
  ratecard_id text primary key references ratecards (id) on delete cascade,
  source_ids text[] not null check (cardinality(source_ids) between 1 and 16),
  percentage numeric(9, 4) not null default 0 check (percentage >= 0),
  absolute numeric(15, 8) not null default 0 check (absolute >= 0),
  min_margin numeric(15, 8) not null default 0 check (min_margin >= 0),
  rounding_decimals smallint not null default 4 check (rounding_decimals between 0 and 8),
  rounding_mode text not null default 'up' check (rounding_mode in ('half_up', 'half_even', 'up', 'down')),
  -- [{prefix, percentage?, absolute?, min_margin?}]: the longest override prefix of a rate wins.
  overrides jsonb not null default '[]',
  compiled_at timestamptz,
  compiled_rates integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- "Which derived cards use this buy card?" on every change to a buy card.
create index ratecard_derivations_sources on ratecard_derivations using gin (source_ids);
