-- Ledger: a transfer's Idempotency-Key claim is committed as its answer
-- (docs/decisions/0045-transfer-claims-answered-by-their-effect.md).
--
-- PUT /partner/funds stored each answer under its key with a second statement after the reply
-- (an UPDATE of the claim row, src/http/idempotency.ts storeAnswers). For a transfer that posts,
-- that answer is derived wholly from what the transfer's own transaction commits (the ledger
-- transaction found by the key's reference key, its postings' balances and credit limits), so
-- the claim is now written in the final state 'replay': "done; a retry runs the request again
-- and the transfer replays". Items that do not post (refused, or handed back to be posted alone)
-- keep a 'running' claim, and their answer is stored as before.
alter table idempotency_keys drop constraint idempotency_keys_state_check;
alter table idempotency_keys
  add constraint idempotency_keys_state_check check (state in ('running', 'done', 'replay'));

create or replace function ledger_transfer_funds_claimed(
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
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  -- Positions (1-based) of the items whose claim another request (or an earlier item) holds.
  v_taken int[];
begin
  -- Written as 'replay' up front (nearly every item posts); the few that do not are set back to
  -- 'running' below, in the same transaction, so no other session ever sees the first state.
  with wanted as (
    select c.n::int as n, c.scope, c.key, c.fingerprint
      from unnest(p_claim_scopes, p_claim_keys, p_claim_fingerprints) with ordinality as c(scope, key, fingerprint, n)
     where c.key is not null
  ), inserted as (
    insert into idempotency_keys (scope, key, fingerprint, state)
    select distinct on (w.scope, w.key) w.scope, w.key, w.fingerprint, 'replay'
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
  -- 'fallback' there and moves nothing; here it answers 'claim_taken'. An item whose claim this
  -- batch wrote and that neither posted nor replayed (refused, or handed back to be posted alone)
  -- gets its claim back as 'running': its answer is stored under the key after the reply.
  return query
    with b as materialized (
      select * from ledger_transfer_funds_batch(
             array(select case when x.n = any (v_taken) then null else x.account_number end
                     from unnest(p_account_numbers) with ordinality as x(account_number, n)
                    order by x.n),
             p_partner_scopes, p_currencies, p_amounts, p_ids, p_descriptions, p_reference_keys,
             p_effective_at, p_posting_ids)
    ), unanswered as (
      update idempotency_keys k
         set state = 'running'
        from unnest(p_claim_scopes, p_claim_keys) with ordinality as c(scope, key, n)
        join b on b.n = c.n
       where c.key is not null
         and not (c.n::int = any (v_taken))
         and b.status not in ('posted', 'replayed')
         and k.scope = c.scope and k.key = c.key
      returning 1
    )
    select b.n,
           case when b.n = any (v_taken) then 'claim_taken' else b.status end,
           b.transaction_id, b.created_at, b.partner_id, b.customer_id, b.partner_account_id,
           b.customer_account_id, b.partner_balance, b.customer_balance, b.customer_credit_limit,
           b.currency, b.refusal_code, b.refusal
      from b
     order by b.n;
end
$$;
