-- CDR ingestion was bound by per-row work in PostgreSQL: the foreign key cdrs.customer_id →
-- customers(id) looked up and key-share-locked the customer once per inserted CDR (~30% of a
-- 10,000-row insert). Ingestion has already resolved every customer of the batch, so the same
-- rule is now checked once per statement over the statement's new rows (a transition table), and
-- the key-share lock is taken once per customer, not once per CDR (decision 0040). Deleting a
-- customer that still has CDRs is refused as before (the cdrs module also registers a deletion
-- guard answering 409 before it gets here).
alter table cdrs drop constraint cdrs_customer_id_fkey;

create function cdrs_customer_exists() returns trigger language plpgsql as $$
declare
  missing text;
begin
  -- Lock first, as a foreign key does: a customer locked here cannot be deleted before this
  -- transaction ends; one deleted before it is not found below.
  perform 1 from customers c
    where c.id in (select distinct customer_id from added where customer_id is not null)
    for key share of c;
  select a.customer_id into missing
    from (select distinct customer_id from added where customer_id is not null) a
    left join customers c on c.id = a.customer_id
    where c.id is null
    limit 1;
  if found then
    raise exception 'insert or update on table "cdrs" violates foreign key: customer % does not exist', missing
      using errcode = 'foreign_key_violation', table = 'cdrs', column = 'customer_id';
  end if;
  return null;
end $$;

create trigger cdrs_customer_exists_insert after insert on cdrs
  referencing new table as added for each statement execute function cdrs_customer_exists();
-- Re-rating sets the customer of CDRs stored before it existed.
create trigger cdrs_customer_exists_update after update on cdrs
  referencing new table as added for each statement execute function cdrs_customer_exists();

create function customers_without_cdrs() returns trigger language plpgsql as $$
begin
  -- Each statement of a PL/pgSQL function sees what committed before it (READ COMMITTED): a
  -- delete that waited for an ingesting transaction's key-share lock sees its CDRs here.
  if exists (select 1 from cdrs where customer_id = old.id) then
    raise exception 'update or delete on table "customers" violates foreign key: customer % has CDRs', old.id
      using errcode = 'foreign_key_violation', table = 'cdrs', column = 'customer_id';
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  return new;
end $$;

create trigger customers_without_cdrs before delete on customers
  for each row execute function customers_without_cdrs();
create trigger customers_id_fixed_for_cdrs before update of id on customers
  for each row when (new.id is distinct from old.id) execute function customers_without_cdrs();
