-- Accounts module: partners (resellers), customers and API keys.

-- One namespace of human account numbers across partners and customers, so an
-- account_number alone always names one account (seed 002's balance and funds routes).
create table account_numbers (
  account_number text primary key,
  owner_id text not null unique
);
create sequence account_number_seq start 100001;

create table partners (
  id text primary key,
  account_number text not null unique references account_numbers (account_number),
  name text not null,
  status text not null default 'active' check (status in ('active', 'suspended', 'closed')),
  currency char(3) not null,
  credit_limit numeric(28, 8) not null default 0,
  email text,
  phone text,
  address text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index partners_status on partners (status, id);

create table customers (
  id text primary key,
  account_number text not null unique references account_numbers (account_number),
  partner_id text references partners (id),
  name text not null,
  status text not null default 'active' check (status in ('active', 'suspended', 'closed')),
  currency char(3) not null,
  credit_limit numeric(28, 8) not null default 0,
  email text,
  phone text,
  address text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index customers_partner on customers (partner_id, id);
create index customers_status on customers (status, id);

create table api_keys (
  id text primary key,
  key_hash text not null unique,
  key_prefix text not null,
  description text,
  role text not null check (role in ('admin', 'partner', 'customer')),
  partner_id text references partners (id) on delete cascade,
  customer_id text references customers (id) on delete cascade,
  allowed_ips text[] not null default '{}',
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz not null default now(),
  check (
    (role = 'admin' and partner_id is null and customer_id is null)
    or (role = 'partner' and partner_id is not null and customer_id is null)
    or (role = 'customer' and customer_id is not null and partner_id is null)
  )
);
create index api_keys_partner on api_keys (partner_id, id);
create index api_keys_customer on api_keys (customer_id, id);
