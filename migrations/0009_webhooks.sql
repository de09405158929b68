-- Webhooks module: outgoing events. Endpoints are registered by the operator, a partner or a
-- customer; every event is written as one delivery row per matching endpoint IN THE SAME
-- database transaction as the change it reports (an outbox), so an event exists exactly when
-- the money movement committed. The deliveries table is the job queue the delivery worker
-- claims from with FOR UPDATE SKIP LOCKED.

create table webhook_endpoints (
  id text primary key,
  -- operator: every event; partner: its own and its customers' events; customer: its own.
  owner_kind text not null check (owner_kind in ('operator', 'partner', 'customer')),
  -- A deleted account takes its endpoints (and their deliveries) with it.
  partner_id text references partners (id) on delete cascade,
  customer_id text references customers (id) on delete cascade,
  url text not null,
  description text,
  -- Event types, or {'*'} for all of them.
  events text[] not null,
  status text not null default 'active' check (status in ('active', 'disabled')),
  -- AES-256-GCM sealed signing secret (whsec_…), never stored in clear.
  secret_sealed text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((owner_kind = 'partner') = (partner_id is not null)),
  check ((owner_kind = 'customer') = (customer_id is not null))
);
create index webhook_endpoints_partner on webhook_endpoints (partner_id, id) where partner_id is not null;
create index webhook_endpoints_customer on webhook_endpoints (customer_id, id) where customer_id is not null;

-- One row per (event, endpoint). The event id identifies a delivery within its endpoint.
create table webhook_deliveries (
  endpoint_id text not null references webhook_endpoints (id) on delete cascade,
  event_id text not null,
  event_type text not null,
  -- The exact JSON body sent (and signed): kept as text so every retry sends the same bytes.
  payload text not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  -- When the worker may (re)try it; while an attempt runs, the end of that worker's lease.
  next_attempt_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (endpoint_id, event_id)
);
-- The worker's queue: only pending rows, in due order.
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
