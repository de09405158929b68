-- Bulk loads into `rates` (a 1,000,000-row deck import) were bound by per-row work in
-- PostgreSQL, not by the client: see docs/decisions/0030-rates-bulk-load.md.
--
-- 1. The foreign key rates.ratecard_id → ratecards(id) checked every inserted row with its own
--    lookup and row lock (~6 µs a row, the largest single cost of a COPY into `rates`). The same
--    rule is now checked once per statement over the statement's new rows (a transition table),
--    and the key-share lock a foreign key takes is taken once per card, not once per row.
--    Rate cards are never deleted by Tollgate; a deletion still removes the card's rates (the
--    old ON DELETE CASCADE), and neither side's key may change.
alter table rates drop constraint rates_ratecard_id_fkey;

create function rates_ratecard_exists() returns trigger language plpgsql as $$
declare
  missing text;
begin
  select a.ratecard_id into missing
    from (select distinct ratecard_id from added) a
    left join ratecards c on c.id = a.ratecard_id
    where c.id is null
    limit 1;
  if found then
    raise exception 'insert on table "rates" violates foreign key: rate card % does not exist', missing
      using errcode = 'foreign_key_violation', table = 'rates', column = 'ratecard_id';
  end if;
  -- What a foreign key does per row: the card cannot be deleted before this transaction ends.
  perform 1 from ratecards c where c.id in (select distinct ratecard_id from added) for key share of c;
  return null;
end $$;

create trigger rates_ratecard_exists after insert on rates
  referencing new table as added for each statement execute function rates_ratecard_exists();

create function rates_ratecard_fixed() returns trigger language plpgsql as $$
begin
  raise exception 'a rate cannot move to another rate card (% to %)', old.ratecard_id, new.ratecard_id
    using errcode = 'foreign_key_violation', table = 'rates', column = 'ratecard_id';
end $$;

create trigger rates_ratecard_fixed before update of ratecard_id on rates
  for each row when (new.ratecard_id is distinct from old.ratecard_id)
  execute function rates_ratecard_fixed();

create function ratecards_delete_rates() returns trigger language plpgsql as $$
begin
  delete from rates where ratecard_id in (select id from gone);
  return null;
end $$;

create trigger ratecards_delete_rates after delete on ratecards
  referencing old table as gone for each statement execute function ratecards_delete_rates();

create function ratecards_id_fixed() returns trigger language plpgsql as $$
begin
  raise exception 'a rate card''s id cannot change' using errcode = 'foreign_key_violation', table = 'ratecards';
end $$;

create trigger ratecards_id_fixed before update of id on ratecards
  for each row when (new.id is distinct from old.id) execute function ratecards_id_fixed();

-- 2. Three btree indexes were maintained per row. The list of a card's rates now pages in deck
--    order (prefix, effective_from), served by the unique index, so (ratecard_id, id) goes.
drop index rates_card_id;

-- 3. Rate ids compare byte-wise: they are ASCII, and under a libc collation (C.UTF-8 and the
--    like) every comparison in the primary key went through strcoll. (ratecard_id keeps the
--    default collation: it is compared with ratecards.id and customers.ratecard_id.)
alter table rates alter column id type text collate "C";
