-- Payments module: gateway configurations, payment profiles (stored cards and bank accounts),
-- payments and their transactions (one state machine per payment), recurring payments and
-- incoming gateway notifications. Balances are never written here: successful money movements
-- are posted to the ledger in the same database transaction as the payment state change.

create table payment_gateways (
  id text primary key,
  type text not null check (type in ('test', 'stripe', 'paypal', 'moneris')),
  name text not null,
  mode text not null default 'test' check (mode in ('test', 'live')),
  currency char(3) not null,
  -- AES-256-GCM sealed JSON of the secrets (keys, passwords, signatures): never stored in clear.
  credentials_sealed text not null,
  -- Non-secret settings: base URLs of the provider (tests point them at local fakes), receiver email...
  settings jsonb not null default '{}',
  is_default boolean not null default false,
  status text not null default 'active' check (status in ('active', 'disabled')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- One default gateway per currency.
create unique index payment_gateways_default on payment_gateways (currency) where is_default and status = 'active';

-- Never a card number or CVV: the gateway's token, and what a person needs to recognise the card.
create table payment_profiles (
  id text primary key,
  customer_id text not null references customers (id),
  -- null: the built-in test gateway.
  gateway_id text references payment_gateways (id),
  kind text not null check (kind in ('card', 'bank')),
  token text not null,
  brand text,
  last4 char(4) not null,
  exp_month smallint,
  exp_year smallint,
  holder_name text not null,
  billing_address text,
  billing_city text,
  billing_state text,
  billing_postal_code text,
  billing_country char(2),
  email text,
  currency char(3) not null,
  is_default boolean not null default false,
  status text not null default 'active' check (status in ('active', 'removed')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((kind = 'card') = (exp_month is not null and exp_year is not null))
);
create index payment_profiles_customer on payment_profiles (customer_id, id);
create unique index payment_profiles_default on payment_profiles (customer_id) where is_default and status = 'active';

create table payments (
  id text primary key,
  customer_id text not null references customers (id),
  profile_id text references payment_profiles (id),
  gateway_id text references payment_gateways (id),
  method text not null check (method in ('card', 'bank', 'thirdparty', 'paypal')),
  currency char(3) not null,
  -- A cache of the state machine's fold over the transactions, kept for listings.
  state text not null default 'new',
  authorized_amount numeric(28, 8) not null default 0,
  captured_amount numeric(28, 8) not null default 0,
  refunded_amount numeric(28, 8) not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index payments_customer on payments (customer_id, id);

create table payment_transactions (
  id text primary key,
  payment_id text not null references payments (id),
  customer_id text not null references customers (id),
  kind text not null check (kind in ('authorize', 'capture', 'purchase', 'void', 'refund', 'credit')),
  amount numeric(28, 8) not null check (amount >= 0),
  currency char(3) not null,
  status text not null check (status in ('success', 'pending', 'failed', 'error', 'unknown')),
  -- Which gateway answered ('test' for the built-in one, the configuration id otherwise).
  gateway_key text not null,
  -- The gateway's own id for this transaction: a natural key, so one gateway transaction is
  -- recorded (and posted) once however many times it is reported.
  gateway_reference text,
  error_code text,
  error_message text,
  -- What the client sent us to name it (a third-party payment's reference, a PayPal txn_id...).
  reference text,
  description text,
  ledger_transaction_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Per kind: Stripe answers an authorization and its capture with the same PaymentIntent id.
  unique (gateway_key, kind, gateway_reference)
);
create index payment_transactions_payment on payment_transactions (payment_id, id);
create index payment_transactions_customer on payment_transactions (customer_id, id);
create index payment_transactions_unsettled on payment_transactions (status) where status in ('pending', 'unknown');

create table recurring_payments (
  id text primary key,
  customer_id text not null references customers (id),
  profile_id text not null references payment_profiles (id),
  amount numeric(28, 8) not null check (amount > 0),
  currency char(3) not null,
  interval text not null check (interval in ('daily', 'weekly', 'monthly', 'yearly')),
  -- Calendar dates as YYYY-MM-DD text (UTC): both drivers hand them back unchanged, where a
  -- `date` column would come back as a JS Date shifted by the process's time zone.
  start_date text not null check (start_date ~ '^\d{4}-\d{2}-\d{2}$'),
  -- Day of month the schedule was anchored on, so monthly runs after a 31st come back to the 31st.
  anchor_day smallint not null,
  next_date text not null check (next_date ~ '^\d{4}-\d{2}-\d{2}$'),
  status text not null default 'active' check (status in ('active', 'suspended', 'removed')),
  failure_count integer not null default 0,
  last_error text,
  last_run_at timestamptz,
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index recurring_payments_customer on recurring_payments (customer_id, id);
create index recurring_payments_due on recurring_payments (next_date) where status = 'active';

-- Incoming notifications (Stripe events, PayPal IPN messages), one row per provider message id:
-- a replayed notification finds its row and changes nothing.
create table payment_notifications (
  id text primary key,
  source text not null check (source in ('stripe', 'paypal')),
  external_id text not null,
  outcome text not null,
  payload text not null,
  created_at timestamptz not null default now(),
  unique (source, external_id)
);
