-- Platform tables owned by the HTTP layer.

-- Idempotency-Key store (src/http/idempotency.ts). One row per key and caller.
create table idempotency_keys (
  scope text not null,
  key text not null,
  fingerprint text not null,
  state text not null check (state in ('running', 'done')),
  status_code integer,
  content_type text,
  body text,
  created_at timestamptz not null default now(),
  primary key (scope, key)
);
create index idempotency_keys_created_at on idempotency_keys (created_at);
