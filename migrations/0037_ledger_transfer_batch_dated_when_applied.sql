-- Ledger: the transfer batch dates its transfers when it applies them (migrations/0036).
--
-- A transfer was dated when its request came and applied when its batch ran, after the batch
-- ahead of it: a posting applied in between with a later date came first in application order,
-- and a statement cut between the two dates showed a balance below the credit limit. A null
-- p_effective_at[k] (what PUT /partner/funds now sends) is the time read right after the
-- balances are locked, one for the whole batch; it is also the created_at the function answers
-- (it answered now(), the start of its transaction). A given date is kept.
-- Otherwise the body is 0035's.
create or replace function ledger_transfer_funds_batch(
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
-- What migrations 0026 and 0028 set (a create or replace resets a function's settings).
set plan_cache_mode = force_generic_plan
set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off
as $$
#variable_conflict use_column
declare
  v_count int := coalesce(array_length(p_account_numbers, 1), 0);
  -- Per item.
  i_status text[] := array_fill(null::text, array[v_count]);
  i_customer text[];
  i_partner text[];
  i_currency text[];
  i_customer_limit numeric[];
  i_amount numeric[] := p_amounts::numeric[];
  i_txn text[] := p_ids;
  i_partner_ix int[] := array_fill(null::int, array[v_count]);
  i_customer_ix int[] := array_fill(null::int, array[v_count]);
  i_partner_after numeric[] := array_fill(null::numeric, array[v_count]);
  i_customer_after numeric[] := array_fill(null::numeric, array[v_count]);
  i_refusal jsonb[] := array_fill(null::jsonb, array[v_count]);
  i_refusal_code text[] := array_fill(null::text, array[v_count]);
  -- The locked accounts, parallel arrays in id order.
  a_id text[];
  a_kind text[];
  a_owner text[];
  a_currency text[];
  a_balance numeric[];
  a_limit numeric[];
  a_closed boolean[];
  a_touched boolean[];
  -- Reference keys already posted, and those posted by this batch so far.
  k_keys text[];
  k_ids text[];
  v_owners text[];
  v_debit int;
  v_leg int;
  v_delta numeric;
  v_before numeric;
  v_after numeric;
  v_posted int := 0;
  v_applied timestamptz;
  v_inserted int;
  i int;
begin
  if v_count = 0 then
    return;
  end if;

  -- The customer of each item, within the caller's scope (a partner only its own customers).
  select array_agg(c.id order by x.n), array_agg(c.partner_id order by x.n),
         array_agg(c.currency::text order by x.n), array_agg(c.credit_limit order by x.n)
    into i_customer, i_partner, i_currency, i_customer_limit
    from unnest(p_account_numbers, p_partner_scopes) with ordinality as x(account_number, scope, n)
    left join customers c
      on c.account_number = x.account_number and (x.scope is null or c.partner_id = x.scope);
  for i in 1..v_count loop
    if i_customer[i] is null or i_partner[i] is null
       or (p_currencies[i] is not null and upper(p_currencies[i]) <> i_currency[i]) then
      i_status[i] := 'fallback';
    end if;
  end loop;

  -- Lock every balance the batch moves, in id order, with the credit limits in force.
  select array_agg(i_partner[k]) || array_agg(i_customer[k]) into v_owners
    from generate_series(1, v_count) k
   where i_status[k] is null;
  select array_agg(la.id order by la.id), array_agg(la.owner_kind order by la.id),
         array_agg(la.owner_id order by la.id), array_agg(la.currency::text order by la.id),
         array_agg(la.balance order by la.id),
         array_agg(coalesce(c.credit_limit, p.credit_limit) order by la.id),
         array_agg(coalesce(c.status, p.status) is not distinct from 'closed' order by la.id)
    into a_id, a_kind, a_owner, a_currency, a_balance, a_limit, a_closed
    from (select l.* from ledger_accounts l
           where l.owner_id = any (coalesce(v_owners, '{}'))
           order by l.id
             for update) la
    left join customers c on la.owner_kind = 'customer' and c.id = la.owner_id
    left join partners p on la.owner_kind = 'partner' and p.id = la.owner_id;
  a_touched := array_fill(false, array[coalesce(array_length(a_id, 1), 0)]);
  -- The batch's transfers are dated when applied, here under the locks (migrations/0036): one
  -- time for the batch, which commits as one.
  v_applied := clock_timestamp();

  -- Checked under the locks: a twin with the same key on these accounts has committed by now.
  select coalesce(array_agg(t.reference_key), '{}'), coalesce(array_agg(t.id), '{}')
    into k_keys, k_ids
    from ledger_transactions t
   where t.reference_key = any (p_reference_keys);

  for i in 1..v_count loop
    continue when i_status[i] is not null;
    i_partner_ix[i] := array_position(a_owner, i_partner[i]);
    i_customer_ix[i] := array_position(a_owner, i_customer[i]);
    -- A missing account, or one in another currency: posted alone, where that is handled.
    if i_partner_ix[i] is null or i_customer_ix[i] is null
       or a_currency[i_partner_ix[i]] <> i_currency[i] or a_currency[i_customer_ix[i]] <> i_currency[i] then
      i_status[i] := 'fallback';
      continue;
    end if;
    if p_reference_keys[i] is not null and array_position(k_keys, p_reference_keys[i]) is not null then
      i_status[i] := 'replayed';
      i_txn[i] := k_ids[array_position(k_keys, p_reference_keys[i])];
      continue;
    end if;
    -- The partner's posting (−amount) comes first, then the customer's (+amount), each checked
    -- as ledger_post() checks a posting (migrations/0034): a closed account may only be settled
    -- (its balance brought toward zero without crossing it), and the debited one must stay at
    -- or above its limit (credits always pass).
    for v_leg in 1..2 loop
      v_debit := case v_leg when 1 then i_partner_ix[i] else i_customer_ix[i] end;
      v_delta := case v_leg when 1 then -i_amount[i] else i_amount[i] end;
      v_before := a_balance[v_debit];
      v_after := v_before + v_delta;
      if a_closed[v_debit]
         and not ((v_before < 0 and v_delta > 0 and v_after <= 0)
                  or (v_before > 0 and v_delta < 0 and v_after >= 0)) then
        i_status[i] := 'refused';
        i_refusal_code[i] := 'TGC09';
        i_refusal[i] := json_build_object('account_id', a_id[v_debit], 'owner_kind', a_kind[v_debit],
                                          'owner_id', a_owner[v_debit],
                                          'before', v_before::text, 'after', v_after::text)::jsonb;
        exit;
      end if;
      if v_delta < 0 and a_limit[v_debit] is not null and v_after < a_limit[v_debit] then
        i_status[i] := 'refused';
        i_refusal_code[i] := 'TG402';
        i_refusal[i] := json_build_object('account_id', a_id[v_debit], 'owner_kind', a_kind[v_debit],
                                          'owner_id', a_owner[v_debit], 'code', null,
                                          'before', v_before::text, 'after', v_after::text,
                                          'credit_limit', a_limit[v_debit]::text)::jsonb;
        exit;
      end if;
    end loop;
    continue when i_status[i] = 'refused';
    a_balance[i_partner_ix[i]] := a_balance[i_partner_ix[i]] - i_amount[i];
    i_partner_after[i] := a_balance[i_partner_ix[i]];
    a_balance[i_customer_ix[i]] := a_balance[i_customer_ix[i]] + i_amount[i];
    i_customer_after[i] := a_balance[i_customer_ix[i]];
    a_touched[i_partner_ix[i]] := true;
    a_touched[i_customer_ix[i]] := true;
    i_status[i] := 'posted';
    v_posted := v_posted + 1;
    if p_reference_keys[i] is not null then
      k_keys := k_keys || p_reference_keys[i];
      k_ids := k_ids || p_ids[i];
    end if;
  end loop;

  if v_posted > 0 then
    insert into ledger_transactions (id, category, description, reference, reference_key, effective_at, allow_overdraft, created_at)
    select p_ids[k], 'transfer', p_descriptions[k], 'transfer:' || i_partner[k] || ':' || i_customer[k],
           p_reference_keys[k], coalesce(p_effective_at[k], v_applied), false, v_applied
      from generate_series(1, v_count) k
     where i_status[k] = 'posted'
     order by p_reference_keys[k]
    on conflict (reference_key) do nothing;
    get diagnostics v_inserted = row_count;
    if v_inserted <> v_posted then
      raise exception 'a reference key of this batch was posted concurrently' using errcode = 'TGB01';
    end if;

    -- In item order, partner's posting first, so seq is the application order.
    insert into ledger_postings (id, transaction_id, account_id, amount, currency, balance_after, credit_limit, category, effective_at)
    select p_posting_ids[2 * k - 2 + leg], p_ids[k],
           a_id[case leg when 1 then i_partner_ix[k] else i_customer_ix[k] end],
           case leg when 1 then -i_amount[k] else i_amount[k] end,
           i_currency[k],
           case leg when 1 then i_partner_after[k] else i_customer_after[k] end,
           a_limit[case leg when 1 then i_partner_ix[k] else i_customer_ix[k] end],
           'transfer', coalesce(p_effective_at[k], v_applied)
      from generate_series(1, v_count) k, generate_series(1, 2) leg
     where i_status[k] = 'posted'
     order by k, leg;

    update ledger_accounts la set balance = a_balance[x.ix]
      from generate_subscripts(a_id, 1) as x(ix)
     where a_touched[x.ix] and la.id = a_id[x.ix];
  end if;

  return query
    select k, i_status[k], i_txn[k], case when i_status[k] = 'posted' then v_applied end,
           i_partner[k], i_customer[k], a_id[i_partner_ix[k]], a_id[i_customer_ix[k]],
           i_partner_after[k]::text, i_customer_after[k]::text, i_customer_limit[k]::text, i_currency[k],
           i_refusal_code[k], i_refusal[k]
      from generate_series(1, v_count) k
     order by k;
end
$$;
