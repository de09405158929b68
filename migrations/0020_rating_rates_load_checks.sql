-- A deck import's rows pass every check of `rates` in PostgreSQL; measured with perf on a COPY of
-- the 1,000,000-row bench deck in prefix order (decision 0031), the prefix check's regular
-- expression was 13% of the backend's time and the card trigger's two passes over the
-- statement's rows another 9%.
--
-- 1. The prefix rule (1 to 16 digits) without a regular expression: at most 16 bytes, and
--    nothing left once the digits are trimmed from its start. Same rule, a fraction of the cost.
alter table rates drop constraint rates_prefix_check;
alter table rates add constraint rates_prefix_check
  check (octet_length(prefix) between 1 and 16 and ltrim(prefix, '0123456789') = '');

-- 2. The card check of migration 0013 read the statement's new rows twice (a distinct for the
--    anti join, another for the lock). Now once: the distinct cards are collected first, then
--    checked and locked.
create or replace function rates_ratecard_exists() returns trigger language plpgsql as $$
declare
  cards text[];
  missing text;
begin
  select array_agg(distinct ratecard_id) into cards from added;
  select c into missing from unnest(cards) c where not exists (select 1 from ratecards r where r.id = c) limit 1;
  if found then
    raise exception 'insert on table "rates" violates foreign key: rate card % does not exist', missing
      using errcode = 'foreign_key_violation', table = 'rates', column = 'ratecard_id';
  end if;
  -- What a foreign key does per row: the card cannot be deleted before this transaction ends.
  perform 1 from ratecards r where r.id = any (cards) for key share of r;
  return null;
end $$;
