-- CDRs module: call detail records, live calls for concurrent-call limits, and the
-- per-customer call settings. (0005 is the payments module.)

alter table customers add column concurrent_call_limit integer check (concurrent_call_limit between 0 and 1000000);

create table cdrs (
  id text primary key,
  -- call_id is unique per switch: re-sending a CDR never stores or charges it twice.
  switch_id text not null,
  call_id text not null,
  batch_id text not null,
  -- customer_id is null when the CDR named an unknown customer; customer_ref keeps what it said.
  customer_id text references customers (id),
  customer_ref text not null,
  partner_id text,
  carrier_id text,
  caller text not null,
  callee text collate "C" not null,
  start_time timestamptz not null,
  answer_time timestamptz,
  end_time timestamptz not null,
  duration integer not null check (duration >= 0),
  billsec integer not null check (billsec >= 0 and billsec <= duration),
  disposition text not null check (disposition in ('answered', 'busy', 'no_answer', 'failed', 'cancelled')),
  hangup_cause text,
  pdd_ms integer check (pdd_ms >= 0),
  tags jsonb not null default '{}',
  rating_state text not null check (rating_state in ('rated', 'unrated')),
  unrated_reason text,
  currency char(3),
  sell_ratecard_id text,
  sell_prefix text,
  destination text,
  sell_rate numeric(15, 8),
  billed_seconds integer,
  sell_cost numeric(28, 8),
  buy_ratecard_id text,
  buy_rate numeric(15, 8),
  buy_cost numeric(28, 8),
  buy_currency char(3),
  margin numeric(28, 8),
  -- What the ledger has charged for this CDR so far (re-rating posts the difference).
  charged_amount numeric(28, 8) not null default 0,
  created_at timestamptz not null default now(),
  unique (switch_id, call_id)
);
-- Reading and stats: by customer, partner or carrier over a period, and by time alone for the
-- operator. CDRs arrive roughly in time order, so a BRIN index serves period scans at a fraction
-- of a B-tree's write cost; partner and carrier indexes skip the rows that have none.
create index cdrs_customer_start on cdrs (customer_id, start_time);
create index cdrs_partner_start on cdrs (partner_id, start_time) where partner_id is not null;
create index cdrs_carrier_start on cdrs (carrier_id, start_time) where carrier_id is not null;
create index cdrs_start on cdrs using brin (start_time);
create index cdrs_unrated on cdrs (rating_state, start_time) where rating_state = 'unrated';

-- Calls in progress, for concurrent-call limits. A call whose end never arrives is freed after
-- its expiry (CALL_TIMEOUT), so a lost BYE cannot block a customer for ever.
-- Keyed by customer too: one tenant's call id never collides with (or reveals) another's.
create table live_calls (
  customer_id text not null references customers (id) on delete cascade,
  call_id text not null,
  callee text not null,
  started_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (customer_id, call_id)
);
create index live_calls_call on live_calls (call_id);
create index live_calls_expiry on live_calls (customer_id, expires_at);
