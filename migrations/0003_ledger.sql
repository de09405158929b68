-- Ledger module: the double-entry journal, the one place balances are written.
--
-- Sign convention: a posting's amount is added to its account's balance. A customer's or
-- partner's balance is money it holds (positive = credit); charges are negative postings on it
-- and positive postings on an operator revenue account. Every transaction sums to zero per
-- currency, so the operator accounts mirror what customers and partners hold.

create table ledger_accounts (
  id text primary key,
  owner_kind text not null check (owner_kind in ('customer', 'partner', 'operator')),
  -- The customer or partner this balance belongs to (one balance account each); null for
  -- operator accounts. No foreign key: one column names either kind of owner.
  owner_id text unique,
  -- Operator accounts: 'revenue:calls', 'revenue:other', 'adjustments', 'transfers',
  -- 'clearing:<gateway>'; one per code and currency.
  code text,
  currency char(3) not null,
  -- Wider than an amount: a balance is a sum of many amounts.
  balance numeric(38, 8) not null default 0,
  created_at timestamptz not null default now(),
  check ((owner_kind = 'operator') = (code is not null and owner_id is null)),
  unique (code, currency)
);

create table ledger_transactions (
  id text primary key,
  category text not null check (category ~ '^[a-z][a-z_]{0,39}$'),
  description text not null default '',
  -- What the money movement is about (a CDR batch, a payment, a transfer request...).
  reference text,
  -- Makes reposting impossible: a second post with the same key returns this transaction.
  reference_key text unique,
  effective_at timestamptz not null,
  -- The caller allowed balances to go below their credit limit (charges for calls already made).
  allow_overdraft boolean not null default false,
  created_at timestamptz not null default now()
);

create table ledger_postings (
  id text primary key,
  -- Application order: postings on one account are inserted while its balance row is locked,
  -- so per account this order is the order balances changed in (balance_after follows it).
  seq bigint generated always as identity unique,
  transaction_id text not null references ledger_transactions (id),
  account_id text not null references ledger_accounts (id),
  amount numeric(28, 8) not null check (amount <> 0),
  currency char(3) not null,
  balance_after numeric(38, 8) not null,
  -- The owner's credit limit when this was posted (null on operator accounts), so
  -- `tollgate ledger verify` can prove no posting broke the limit in force at the time.
  credit_limit numeric(28, 8),
  -- Copied from the transaction: statements and listings filter and sum by them per account.
  category text not null,
  effective_at timestamptz not null
);
create index ledger_postings_account_effective on ledger_postings (account_id, effective_at);
create index ledger_postings_account_seq on ledger_postings (account_id, seq);
create index ledger_postings_transaction on ledger_postings (transaction_id);

-- Append-only: a mistake is corrected by a reversing transaction, never by changing history.
create function ledger_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the ledger is append-only (% on %): post a reversing transaction instead', tg_op, tg_table_name;
end
$$;
create trigger ledger_transactions_append_only before update or delete on ledger_transactions
  for each row execute function ledger_append_only();
create trigger ledger_postings_append_only before update or delete on ledger_postings
  for each row execute function ledger_append_only();
