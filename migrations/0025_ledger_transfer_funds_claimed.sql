-- Ledger: fund transfers whose Idempotency-Key claims are written in the transfers' own
-- transaction (docs/decisions/0025-idempotency-claim-in-transfer-batch.md).
--
-- PUT /partner/funds used to claim its Idempotency-Key in a statement of its own (a batch of
-- claims, src/http/idempotency.ts) before the transfer's batch statement. Now the claims travel
-- with the transfers: this function inserts them exactly as the generic claim does (a 'running'
-- row with the request's fingerprint; in key order, so two batches never wait for each other's
-- keys in opposite orders; of two claims of one key only the first item's wins), then runs
-- ledger_transfer_funds_batch() (migrations/0016) unchanged for the items whose claim it wrote
-- or that carry none. An item whose key was already claimed answers 'claim_taken' and moves
-- nothing: the caller then takes the generic path (the take-over of an abandoned key, the replay
-- of a stored answer, the 409s). Claims and postings commit together or not at all.
--
-- p_claim_scopes, p_claim_keys, p_claim_fingerprints: one element per item, all three null for
-- an item without an Idempotency-Key. The other arguments and the rows returned are
-- ledger_transfer_funds_batch()'s.
create function ledger_transfer_funds_claimed(
  p_claim_scopes text[],
  p_claim_keys text[],
  p_claim_fingerprints text[],
  p_account_numbers text[],
  p_partner_scopes text[],
  p_currencies text[],
  p_amounts text[],
  p_ids text[],
  p_descriptions text[],
  p_reference_keys text[],
  p_effective_at timestamptz[],
  p_posting_ids text[]
) returns table (
  n int,
  status text,
  transaction_id text,
  created_at timestamptz,
  partner_id text,
  customer_id text,
  partner_account_id text,
  customer_account_id text,
  partner_balance text,
  customer_balance text,
  customer_credit_limit text,
  currency text,
  refusal_code text,
  refusal jsonb
)
language plpgsql as $$
#variable_conflict use_column
declare
  -- Positions (1-based) of the items whose claim another request (or an earlier item) holds.
  v_taken int[];
begin
  with wanted as (
    select c.n::int as n, c.scope, c.key, c.fingerprint
      from unnest(p_claim_scopes, p_claim_keys, p_claim_fingerprints) with ordinality as c(scope, key, fingerprint, n)
     where c.key is not null
  ), inserted as (
    insert into idempotency_keys (scope, key, fingerprint, state)
    select distinct on (w.scope, w.key) w.scope, w.key, w.fingerprint, 'running'
      from wanted w
     order by w.scope, w.key, w.n
    on conflict (scope, key) do nothing
    returning scope, key
  ), winners as (
    select min(w.n) as n
      from wanted w
      join inserted i on i.scope = w.scope and i.key = w.key
     group by w.scope, w.key
  )
  select coalesce(array_agg(w.n), '{}') into v_taken
    from wanted w
   where w.n not in (select winners.n from winners);

  -- A taken item goes to the batch without an account number: it finds no customer, answers
  -- 'fallback' there and moves nothing; here it answers 'claim_taken'.
  return query
    select b.n,
           case when b.n = any (v_taken) then 'claim_taken' else b.status end,
           b.transaction_id, b.created_at, b.partner_id, b.customer_id, b.partner_account_id,
           b.customer_account_id, b.partner_balance, b.customer_balance, b.customer_credit_limit,
           b.currency, b.refusal_code, b.refusal
      from ledger_transfer_funds_batch(
             array(select case when x.n = any (v_taken) then null else x.account_number end
                     from unnest(p_account_numbers) with ordinality as x(account_number, n)
                    order by x.n),
             p_partner_scopes, p_currencies, p_amounts, p_ids, p_descriptions, p_reference_keys,
             p_effective_at, p_posting_ids) b
     order by b.n;
end
$$;
