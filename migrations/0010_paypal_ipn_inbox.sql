-- PayPal IPN inbox: an IPN is stored before PayPal gets its 200 (PayPal's protocol: answer
-- first, then verify by posting the message back). Verification and the top-up run after the
-- answer and are retried from here when PayPal's verification endpoint does not answer.
create table paypal_ipn_inbox (
  id text primary key,
  gateway_id text not null references payment_gateways (id),
  body text not null,
  status text not null default 'pending' check (status in ('pending', 'done', 'failed')),
  outcome text,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  claimed_until timestamptz,
  received_at timestamptz not null default now()
);
create index paypal_ipn_inbox_due on paypal_ipn_inbox (next_attempt_at) where status = 'pending';
