-- Call statistics never add money in different currencies: the hourly rollup (migration 0014,
-- decision 0041) is also keyed by the CDRs' currency (the customer's, in which the sell leg is
-- charged; null for CDRs that were not rated and carry no money), and its cost counts only buy
-- legs in that currency. A buy leg in another currency has no margin either (cdr-pricing.ts),
-- and without exchange rates its cost cannot be added to this one: it stays on the CDR only.
alter table cdr_stats_hourly add column currency char(3);
alter table cdr_stats_hourly drop constraint cdr_stats_hourly_key;
alter table cdr_stats_hourly add constraint cdr_stats_hourly_key
  unique nulls not distinct (hour, customer_id, partner_id, carrier_id, currency);

-- The stored sums mixed currencies: rebuilt from the CDRs, as stats-rollup.ts computes them.
delete from cdr_stats_hourly;
insert into cdr_stats_hourly (hour, customer_id, partner_id, carrier_id, attempts, answered, reached,
  answered_seconds, pdd_sum, pdd_count, revenue, cost, margin, currency)
select date_trunc('hour', start_time, 'UTC'), customer_id, partner_id, carrier_id,
  count(*), count(*) filter (where disposition = 'answered'),
  count(*) filter (where disposition in ('answered', 'busy', 'no_answer')),
  coalesce(sum(billsec) filter (where disposition = 'answered'), 0),
  coalesce(sum(pdd_ms), 0), count(pdd_ms),
  coalesce(sum(sell_cost), 0), coalesce(sum(buy_cost) filter (where buy_currency = currency), 0),
  coalesce(sum(margin), 0), currency
from cdrs
group by 1, 2, 3, 4, currency;

do $$
begin
  if (select coalesce(sum(attempts), 0) from cdr_stats_hourly) <> (select count(*) from cdrs) then
    raise exception 'cdr_stats_hourly rebuilt with % attempts for % CDRs',
      (select sum(attempts) from cdr_stats_hourly), (select count(*) from cdrs);
  end if;
end $$;
