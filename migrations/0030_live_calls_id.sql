-- Live calls get ids of their own, so the list of calls in progress pages with starting_after as
-- every other list does (the switch's call_id is unique per customer only). A call live while
-- this runs gets an id of the same form: its start time in the first ten characters, as a ULID
-- has, and sixteen characters of a hash of its key.
alter table live_calls add column id text;
update live_calls set id = 'lcl_' || (
  select string_agg(
    substr('0123456789abcdefghjkmnpqrstvwxyz',
      ((floor(extract(epoch from started_at) * 1000)::bigint >> (5 * (9 - i))) & 31)::int + 1, 1),
    '' order by i)
  from generate_series(0, 9) as i
) || substr(md5(customer_id || ' ' || call_id), 1, 16);
alter table live_calls alter column id set not null;
create unique index live_calls_id on live_calls (id);
