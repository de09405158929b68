-- CDRs: an hourly rollup of the quality statistics, maintained in the same transaction as CDR
-- ingestion and re-rating (src/modules/cdrs/stats-rollup.ts), so /stats/calls over whole hours
-- reads a few rows per customer × carrier × hour instead of every CDR (decision 0041).
-- Keyed by what tenancy and the rollup's group_by options need: customer (and its partner) and
-- carrier. Nulls are a group like any other (a CDR of an unknown customer, one without carrier).
create table cdr_stats_hourly (
  hour timestamptz not null,
  customer_id text,
  partner_id text,
  carrier_id text,
  attempts integer not null,
  answered integer not null,
  -- answered + busy + no_answer: the NER numerator.
  reached integer not null,
  answered_seconds bigint not null,
  pdd_sum bigint not null,
  pdd_count integer not null,
  revenue numeric(28, 8) not null,
  cost numeric(28, 8) not null,
  margin numeric(28, 8) not null,
  constraint cdr_stats_hourly_key unique nulls not distinct (hour, customer_id, partner_id, carrier_id)
);
create index cdr_stats_hourly_customer on cdr_stats_hourly (customer_id, hour);
create index cdr_stats_hourly_partner on cdr_stats_hourly (partner_id, hour) where partner_id is not null;

-- Whatever is already stored counts from the start.
insert into cdr_stats_hourly
select date_trunc('hour', start_time, 'UTC'), customer_id, partner_id, carrier_id,
  count(*), count(*) filter (where disposition = 'answered'),
  count(*) filter (where disposition in ('answered', 'busy', 'no_answer')),
  coalesce(sum(billsec) filter (where disposition = 'answered'), 0),
  coalesce(sum(pdd_ms), 0), count(pdd_ms),
  coalesce(sum(sell_cost), 0), coalesce(sum(buy_cost), 0), coalesce(sum(margin), 0)
from cdrs
group by 1, 2, 3, 4;
