-- The idempotency key each payment transaction was sent to its gateway with. When the first
-- call never got an answer (a timeout: no gateway reference yet), reconciliation and incoming
-- notifications find the gateway's transaction by this key.
alter table payment_transactions add column gateway_request_key text;
create index payment_transactions_request_key on payment_transactions (gateway_key, gateway_request_key)
  where gateway_request_key is not null;
