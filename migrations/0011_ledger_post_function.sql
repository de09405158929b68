-- Ledger: post a whole transaction in one round trip (docs/decisions/0020-ledger-post-in-sql.md).
--
-- ledger_post() does, inside the database, what postTransaction used to do over 5-7 statements:
-- lock the balance rows in id order (creating missing owner and operator accounts first), return
-- the original when the reference key was already posted, check credit limits under the locks,
-- append the transaction and its postings, and write the new balances. The caller
-- (src/modules/ledger/posting.ts) validates the input first (shape, decimals, sum to zero per
-- currency, operator codes) and generates every id, so this function only decides what needs the
-- locks. Called as one statement outside an explicit transaction it is atomic on its own.
--
-- p_postings: a JSON array, one object per posting in application order:
--   {"id": "lpo_…", "account_id": "lac_…"}                           -- an existing account, or
--   {"id": …, "owner_kind": "customer"|"partner", "owner_id": "…"}   -- an owner's balance, or
--   {"id": …, "owner_kind": "operator", "code": "revenue:calls"}     -- an operator account
--   plus "amount" (a decimal string; numeric throughout, never a float), "currency" and
--   "new_account_id" (used only if the owner's account has to be created).
--
-- Returns one row per posting (replayed = false), or a single row with replayed = true and the
-- original transaction's id when the reference key was already posted.
-- Refusals are errors with Tollgate's own SQLSTATEs, their facts as JSON in DETAIL:
--   TG402 insufficient funds {account_id, owner_kind, owner_id, code, before, after, credit_limit}
--   TG404 unknown ledger account or owner {what, id}
--   TG400 currency mismatch {account_currency, currency, owner_kind}
--   TG409 the reference key is being posted by a concurrent transaction that has not committed
--
-- The accounts to lock are found with one index lookup per kind of target (primary key,
-- owner_id, (code, currency)), then locked by id in id order: an OR over the three kinds would
-- be a sequential scan of ledger_accounts for every posting, as the operator arm has no index.
create function ledger_post(
  p_id text,
  p_category text,
  p_description text,
  p_reference text,
  p_reference_key text,
  p_effective_at timestamptz,
  p_allow_overdraft boolean,
  p_postings jsonb
) returns table (
  replayed boolean,
  transaction_id text,
  created_at timestamptz,
  posting_id text,
  account_id text,
  owner_kind text,
  owner_id text,
  code text,
  currency text,
  amount text,
  balance_after text
)
language plpgsql as $$
#variable_conflict use_column
declare
  v_count int := jsonb_array_length(p_postings);
  v_ids text[];            -- wanted account ids (postings by ledgerAccountId)
  v_owner_ids text[];      -- wanted customer/partner owners
  v_codes text[];          -- wanted operator accounts: codes …
  v_code_currencies text[];  -- … and their currencies
  v_lock_ids text[];
  v_missing record;
  v_own_currency text;
  -- The locked accounts, parallel arrays in id order.
  a_id text[];
  a_kind text[];
  a_owner text[];
  a_code text[];
  a_currency text[];
  a_balance numeric[];
  a_limit numeric[];
  -- Per posting, in order.
  p_account int[] := '{}';
  p_amount numeric[] := '{}';
  p_after numeric[] := '{}';
  p_posting_ids text[] := '{}';
  v_posting jsonb;
  v_index int;
  v_before numeric;
  v_after numeric;
  v_created timestamptz;
  v_twin text;
  i int;
begin
  select coalesce(array_agg(e->>'account_id') filter (where e ? 'account_id'), '{}'),
         coalesce(array_agg(e->>'owner_id') filter (where e->>'owner_kind' in ('customer', 'partner')), '{}'),
         coalesce(array_agg(e->>'code') filter (where e->>'owner_kind' = 'operator'), '{}'),
         coalesce(array_agg(e->>'currency') filter (where e->>'owner_kind' = 'operator'), '{}')
    into v_ids, v_owner_ids, v_codes, v_code_currencies
    from jsonb_array_elements(p_postings) e;

  for pass in 1..2 loop
    -- Which accounts: one index lookup per kind of target (an OR over the three would be a
    -- sequential scan of ledger_accounts, as the operator arm has no index of its own).
    select coalesce(array_agg(x.id), '{}') into v_lock_ids
      from (select l.id from ledger_accounts l where l.id = any (v_ids)
            union
            select l.id from ledger_accounts l where l.owner_id = any (v_owner_ids)
            union
            select l.id from ledger_accounts l
              join unnest(v_codes, v_code_currencies) as k(code, currency)
                on l.code = k.code and l.currency = k.currency::bpchar) x;
    -- Lock in id order: any two transactions take their row locks in the same order, so
    -- concurrent transfers queue instead of deadlocking. Credit limits are read with them.
    select array_agg(la.id order by la.id), array_agg(la.owner_kind order by la.id),
           array_agg(la.owner_id order by la.id), array_agg(la.code order by la.id),
           array_agg(la.currency::text order by la.id), array_agg(la.balance order by la.id),
           array_agg(case when la.owner_kind = 'operator' then null
                          else coalesce(c.credit_limit, p.credit_limit) end order by la.id)
      into a_id, a_kind, a_owner, a_code, a_currency, a_balance, a_limit
      from (select l.* from ledger_accounts l
             where l.id = any (v_lock_ids)
             order by l.id
             for update) la
      left join customers c on la.owner_kind = 'customer' and c.id = la.owner_id
      left join partners p on la.owner_kind = 'partner' and p.id = la.owner_id;
    a_id := coalesce(a_id, '{}');

    -- Which posting goes to which locked account.
    p_account := '{}';
    for v_posting in select value from jsonb_array_elements(p_postings) loop
      v_index := null;
      for i in 1..coalesce(array_length(a_id, 1), 0) loop
        if (v_posting ? 'account_id' and a_id[i] = v_posting->>'account_id')
           or (v_posting->>'owner_kind' in ('customer', 'partner') and a_owner[i] = v_posting->>'owner_id')
           or (v_posting->>'owner_kind' = 'operator' and a_kind[i] = 'operator'
               and a_code[i] = v_posting->>'code' and a_currency[i] = v_posting->>'currency') then
          v_index := i;
          exit;
        end if;
      end loop;
      p_account := p_account || v_index;
    end loop;
    exit when array_position(p_account, null) is null;
    if pass = 2 then
      raise exception 'ledger account vanished while locked';
    end if;

    -- Create the missing accounts, in a stable order (two transactions creating the same new
    -- accounts queue on the first instead of each waiting for the other's uncommitted insert).
    for v_missing in
      select distinct on (k) e->>'account_id' as account_id, e->>'owner_kind' as kind,
             e->>'owner_id' as owner, e->>'code' as code, e->>'currency' as cur,
             e->>'new_account_id' as new_id,
             case when e->>'owner_kind' = 'operator' then 'operator:' || (e->>'code') || ':' || (e->>'currency')
                  else coalesce(e->>'owner_kind' || ':' || (e->>'owner_id'), e->>'account_id') end as k
        from jsonb_array_elements(p_postings) with ordinality as x(e, n)
       where p_account[n::int] is null
       order by k
    loop
      if v_missing.account_id is not null then
        raise exception 'unknown ledger account' using errcode = 'TG404',
          detail = json_build_object('what', 'Ledger account', 'id', v_missing.account_id)::text;
      elsif v_missing.kind = 'operator' then
        insert into ledger_accounts (id, owner_kind, owner_id, code, currency)
        values (v_missing.new_id, 'operator', null, v_missing.code, v_missing.cur)
        on conflict (code, currency) do nothing;
      else
        if v_missing.kind = 'customer' then
          select c.currency into v_own_currency from customers c where c.id = v_missing.owner;
        else
          select p.currency into v_own_currency from partners p where p.id = v_missing.owner;
        end if;
        if v_own_currency is null then
          raise exception 'unknown owner' using errcode = 'TG404',
            detail = json_build_object('what', initcap(v_missing.kind), 'id', v_missing.owner)::text;
        end if;
        if v_own_currency <> v_missing.cur then
          raise exception 'currency mismatch' using errcode = 'TG400',
            detail = json_build_object('owner_kind', v_missing.kind, 'account_currency', v_own_currency,
                                       'currency', v_missing.cur)::text;
        end if;
        insert into ledger_accounts (id, owner_kind, owner_id, code, currency)
        values (v_missing.new_id, v_missing.kind, v_missing.owner, null, v_missing.cur)
        on conflict (owner_id) do nothing;
      end if;
    end loop;
  end loop;

  -- Checked under the locks: a concurrent twin with the same key has committed by now.
  if p_reference_key is not null then
    select t.id into v_twin from ledger_transactions t where t.reference_key = p_reference_key;
    if v_twin is not null then
      return query select true, v_twin, null::timestamptz, null::text, null::text, null::text,
                          null::text, null::text, null::text, null::text, null::text;
      return;
    end if;
  end if;

  -- Apply the postings in order to the locked balances. A debit that would leave a customer's
  -- or partner's balance below its credit limit is refused unless overdraft is allowed; credits
  -- always pass (they can only bring a balance back towards its limit).
  i := 0;
  for v_posting in select value from jsonb_array_elements(p_postings) loop
    i := i + 1;
    v_index := p_account[i];
    if a_currency[v_index] <> v_posting->>'currency' then
      raise exception 'currency mismatch' using errcode = 'TG400',
        detail = json_build_object('owner_kind', a_kind[v_index], 'account_currency', a_currency[v_index],
                                   'currency', v_posting->>'currency')::text;
    end if;
    v_before := a_balance[v_index];
    v_after := v_before + (v_posting->>'amount')::numeric;
    if (v_posting->>'amount')::numeric < 0 and a_limit[v_index] is not null
       and v_after < a_limit[v_index] and not p_allow_overdraft then
      raise exception 'insufficient funds' using errcode = 'TG402',
        detail = json_build_object('account_id', a_id[v_index], 'owner_kind', a_kind[v_index],
                                   'owner_id', a_owner[v_index], 'code', a_code[v_index],
                                   'before', v_before::text, 'after', v_after::text,
                                   'credit_limit', a_limit[v_index]::text)::text;
    end if;
    a_balance[v_index] := v_after;
    p_amount := p_amount || (v_posting->>'amount')::numeric;
    p_after := p_after || v_after;
    p_posting_ids := p_posting_ids || (v_posting->>'id');
  end loop;

  insert into ledger_transactions (id, category, description, reference, reference_key, effective_at, allow_overdraft)
  values (p_id, p_category, p_description, p_reference, p_reference_key, p_effective_at, p_allow_overdraft)
  on conflict (reference_key) do nothing
  returning ledger_transactions.created_at into v_created;
  if v_created is null then
    -- A twin with the same key on other accounts committed meanwhile: that one stands.
    select t.id into v_twin from ledger_transactions t where t.reference_key = p_reference_key;
    if v_twin is not null then
      return query select true, v_twin, null::timestamptz, null::text, null::text, null::text,
                          null::text, null::text, null::text, null::text, null::text;
      return;
    end if;
    raise exception 'reference key is being posted by another transaction' using errcode = 'TG409',
      detail = json_build_object('reference_key', p_reference_key)::text;
  end if;

  -- In posting order, so seq (the application order) follows it.
  insert into ledger_postings (id, transaction_id, account_id, amount, currency, balance_after, credit_limit, category, effective_at)
  select p_posting_ids[n], p_id, a_id[p_account[n]], p_amount[n], a_currency[p_account[n]], p_after[n],
         a_limit[p_account[n]], p_category, p_effective_at
    from generate_series(1, v_count) as n
   order by n;

  update ledger_accounts la set balance = a_balance[x.n]
    from generate_subscripts(a_id, 1) as x(n)
   where la.id = a_id[x.n] and x.n = any (p_account);

  return query
    select false, p_id, v_created, p_posting_ids[n], a_id[p_account[n]], a_kind[p_account[n]],
           a_owner[p_account[n]], a_code[p_account[n]], a_currency[p_account[n]], p_amount[n]::text,
           p_after[n]::text
      from generate_series(1, v_count) as n
     order by n;
end
$$;
