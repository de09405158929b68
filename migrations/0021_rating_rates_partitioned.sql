-- `rates` becomes partitioned by rate card, one partition per card (decision 0032).
--
-- Why: a big deck into a card without rates is loaded into a table of its own with no index,
-- its two indexes are built afterwards by a sort, and the table then replaces the card's empty
-- partition. Measured in psql on the 1,000,000-row bench deck: the load plus both index builds
-- took 6.0 s, against 7.6 s for COPY into the bench's one-index baseline table and 10–12 s for
-- COPY into an indexed `rates` even with the rows pre-sorted (decision 0031).
--
-- What stays the same: the columns, their checks, `unique (ratecard_id, prefix, effective_from)`
-- (now the partitioned index), the row trigger that keeps a rate on its card, and the delete of
-- a card's rates with the card; a rate of a card that does not exist is still refused (see
-- below). What changes: a unique index on a partitioned table must contain the partition key, so `rates.id`
-- is unique per partition (its primary key there) and across cards by construction (ULID-based
-- ids, never reused), not by one global index.

-- The partition of a card: `rates_<id>` for the ids Tollgate makes, a hash for anything else.
create function rates_partition(card_id text) returns text language sql immutable as $$
  select case when card_id ~ '^[a-z0-9_]{1,50}$' then 'rates_' || card_id else 'rates_' || md5(card_id) end
$$;

-- A fresh partition for `card_id`, with the primary key on id that every partition has.
create function rates_create_partition(card_id text) returns void language plpgsql as $$
begin
  execute format('create table %I partition of rates for values in (%L)', rates_partition(card_id), card_id);
  execute format('alter table %I add primary key (id)', rates_partition(card_id));
end $$;

-- The bulk load of a deck into a card without rates (deck-import.ts), in the import's transaction:
-- rates_begin_load() locks `rates` against other writers and, if the card's partition is empty,
-- makes a bare table for the deck (the columns and checks of `rates`, no index, no trigger) and
-- returns its name (null when the card has rates: the import merges instead). After the rows
-- are in, rates_finish_load() builds the two indexes by sorting and puts the table in place of
-- the card's partition. The check on ratecard_id lets ATTACH skip its scan of the rows.
create function rates_begin_load(card_id text) returns text language plpgsql as $$
declare
  partition text := rates_partition(card_id);
  load text := 'rates_load_' || substr(md5(random()::text), 1, 12);
  has_rates boolean;
begin
  -- Until the import commits: no other write to `rates` (it would take a lock on the old
  -- partition, then wait for ours on `rates`: a deadlock), and no other load (each ends with an
  -- exclusive lock on `rates` to swap its partition). Reads go on until that swap.
  -- A card with rates is merged into without this lock; the second look sees a rate that came
  -- in between.
  execute format('select exists (select 1 from %I)', partition) into has_rates;
  if not has_rates then
    lock table rates in share row exclusive mode;
    execute format('select exists (select 1 from %I)', partition) into has_rates;
  end if;
  if has_rates then
    return null;
  end if;
  execute format('create table %I (like rates including defaults including constraints, check (ratecard_id = %L))',
    load, card_id);
  return load;
end $$;

create function rates_finish_load(card_id text, load text) returns void language plpgsql as $$
declare
  partition text := rates_partition(card_id);
begin
  execute format('alter table %I add constraint %I primary key (id)', load, load || '_pkey');
  execute format('alter table %I add constraint %I unique (ratecard_id, prefix, effective_from)', load, load || '_key');
  execute format('alter table rates detach partition %I', partition);
  execute format('drop table %I', partition);
  execute format('alter table rates attach partition %I for values in (%L)', load, card_id);
  execute format('alter table %I rename to %I', load, partition);
  execute format('alter index %I rename to %I', load || '_pkey', partition || '_pkey');
  execute format('alter index %I rename to %I', load || '_key', partition || '_key');
end $$;

alter table rates rename to rates_unpartitioned;
alter index rates_pkey rename to rates_unpartitioned_pkey;
alter index rates_ratecard_id_prefix_effective_from_key rename to rates_unpartitioned_key;
drop trigger rates_ratecard_exists on rates_unpartitioned;
drop trigger rates_ratecard_fixed on rates_unpartitioned;

create table rates (
  like rates_unpartitioned including defaults including constraints,
  unique (ratecard_id, prefix, effective_from)
) partition by list (ratecard_id);

-- A card has a partition from its insert to its delete (the triggers below), so a rate of a card
-- that does not exist has no partition to go to and is refused by PostgreSQL itself ("no
-- partition of relation "rates" found for row"); a card cannot be deleted while another
-- transaction writes to its partition (dropping the partition waits for it). The statement
-- trigger that checked new rows' cards (migration 0013) has nothing left to do.
drop function rates_ratecard_exists();

-- Cloned onto every partition, also onto one attached later.
create trigger rates_ratecard_fixed before update of ratecard_id on rates
  for each row when (new.ratecard_id is distinct from old.ratecard_id)
  execute function rates_ratecard_fixed();

select rates_create_partition(id) from ratecards;
insert into rates select * from rates_unpartitioned;
drop table rates_unpartitioned;

create function ratecards_create_rates_partition() returns trigger language plpgsql as $$
begin
  perform rates_create_partition(new.id);
  return null;
end $$;

create trigger ratecards_create_rates_partition after insert on ratecards
  for each row execute function ratecards_create_rates_partition();

-- A deleted card's rates go with it (as before), and so does its now empty partition.
create or replace function ratecards_delete_rates() returns trigger language plpgsql as $$
declare
  card text;
begin
  delete from rates where ratecard_id in (select id from gone);
  for card in select id from gone loop
    execute format('drop table if exists %I', rates_partition(card));
  end loop;
  return null;
end $$;
