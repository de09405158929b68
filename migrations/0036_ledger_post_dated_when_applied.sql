-- Ledger: a posting is dated when it is applied, not when it was asked for
-- (docs/ledger.md, "Dates"; the transfer batch: migrations/0037).
--
-- postTransaction and PUT /partner/funds dated each transaction in TypeScript when the request
-- came (new Date()), and ledger_post() applied it when it got the balance locks: later, after
-- any transaction holding them, and for a fund transfer after the batch ahead of it. A posting
-- applied meanwhile with a later date then came before it in application order (seq) and after
-- it in time. A statement cuts by time: cut between the two, it showed the debit without the
-- credit that covered it, a balance below the credit limit that the balance never had.
--
-- p_effective_at null now means "now, as applied": clock_timestamp() read after the locks and
-- the checks, so on any one balance dates follow application order. A date given by the caller
-- (a backdated posting) is kept. created_at is the same application time (it was now(), the
-- start of the statement's transaction, before any lock wait), and is what the function
-- answers, so the caller learns the date without another statement.
-- Otherwise the body is 0034's.
create or replace function ledger_post(
  p_id text,
  p_category text,
  p_description text,
  p_reference text,
  p_reference_key text,
  p_effective_at timestamptz,
  p_allow_overdraft boolean,
  p_postings jsonb,
  p_records_past boolean default false
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
  v_ids text[];            -- wanted account ids (postings by ledgerAccountId)
  v_owner_ids text[];      -- wanted customer/partner owners
  v_codes text[];          -- wanted operator accounts: codes …
  v_code_currencies text[];  -- … and their currencies
  v_lock_ids text[];
  v_missing record;
  v_own_currency text;
  -- Per posting, in posting order: the matched account (null when it does not exist yet) and
  -- what the posting does to it.
  m_posting text[];
  m_account text[];
  m_kind text[];
  m_owner text[];
  m_code text[];
  m_account_currency text[];
  m_currency text[];
  m_amount numeric[];
  m_after numeric[];
  m_limit numeric[];
  m_closed boolean[];
  v_bad int;
  v_created timestamptz;
  v_applied timestamptz;
  v_effective timestamptz;
  v_twin text;
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
    -- concurrent transfers and charges queue instead of deadlocking.
    perform 1 from (select l.id from ledger_accounts l
                     where l.id = any (v_lock_ids)
                     order by l.id
                     for update) locked;

    -- Which posting goes to which locked account (read under the locks, with credit limits),
    -- and each posting's balance after it: the account's balance plus the postings on it so far.
    with posting as (
      select x.n, x.e->>'id' as pid, x.e->>'currency' as cur, (x.e->>'amount')::numeric as delta,
             case when x.e ? 'account_id' then 'i:' || (x.e->>'account_id')
                  when x.e->>'owner_kind' in ('customer', 'partner') then 'o:' || (x.e->>'owner_id')
                  when x.e->>'owner_kind' = 'operator' then 'c:' || (x.e->>'code') || '|' || (x.e->>'currency')
             end as k
        from jsonb_array_elements(p_postings) with ordinality as x(e, n)
    ), account as (
      select la.id as aid, la.owner_kind as kind, la.owner_id as owner, la.code as acode,
             la.currency::text as acur, la.balance as bal,
             case when la.owner_kind = 'operator' then null
                  else coalesce(c.credit_limit, pa.credit_limit) end as lim,
             coalesce(c.status, pa.status) is not distinct from 'closed' as closed
        from ledger_accounts la
        left join customers c on la.owner_kind = 'customer' and c.id = la.owner_id
        left join partners pa on la.owner_kind = 'partner' and pa.id = la.owner_id
       where la.id = any (v_lock_ids)
    ), keyed as (
      select account.*, v.k
        from account
        cross join lateral (values ('i:' || account.aid), ('o:' || account.owner),
                                   ('c:' || account.acode || '|' || account.acur)) as v(k)
       where v.k is not null
    ), matched as (
      select posting.n, posting.pid, posting.cur, posting.delta, keyed.aid, keyed.kind, keyed.owner,
             keyed.acode, keyed.acur, keyed.lim, keyed.closed,
             keyed.bal + sum(posting.delta) over (partition by keyed.aid order by posting.n) as after
        from posting left join keyed on keyed.k = posting.k
    )
    select array_agg(pid order by n), array_agg(aid order by n), array_agg(kind order by n),
           array_agg(owner order by n), array_agg(acode order by n), array_agg(acur order by n),
           array_agg(cur order by n), array_agg(delta order by n), array_agg(after order by n),
           array_agg(lim order by n), array_agg(closed order by n)
      into m_posting, m_account, m_kind, m_owner, m_code, m_account_currency, m_currency, m_amount,
           m_after, m_limit, m_closed
      from matched;
    exit when array_position(m_account, null) is null;
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
        join unnest(m_account) with ordinality as m(aid, n) using (n)
       where m.aid is null
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

  -- The first posting, in posting order, that cannot be applied: another currency than its
  -- account's, a posting on a closed account that does not settle it (bring its balance toward
  -- zero without crossing it; unless the transaction records what already happened), or a debit
  -- that would leave a customer's or partner's balance below its credit limit (unless overdraft
  -- is allowed; credits always pass: they only bring a balance back).
  select x.n into v_bad
    from unnest(m_account_currency, m_currency, m_amount, m_after, m_limit, m_closed)
           with ordinality as x(acur, cur, delta, after, lim, closed, n)
   where x.acur <> x.cur
      or (x.closed and not p_records_past
          and not ((x.after - x.delta < 0 and x.delta > 0 and x.after <= 0)
                   or (x.after - x.delta > 0 and x.delta < 0 and x.after >= 0)))
      or (x.delta < 0 and x.lim is not null and x.after < x.lim and not p_allow_overdraft)
   order by x.n
   limit 1;
  if v_bad is not null then
    if m_account_currency[v_bad] <> m_currency[v_bad] then
      raise exception 'currency mismatch' using errcode = 'TG400',
        detail = json_build_object('owner_kind', m_kind[v_bad], 'account_currency', m_account_currency[v_bad],
                                   'currency', m_currency[v_bad])::text;
    end if;
    if m_closed[v_bad] and not p_records_past
       and not ((m_after[v_bad] - m_amount[v_bad] < 0 and m_amount[v_bad] > 0 and m_after[v_bad] <= 0)
                or (m_after[v_bad] - m_amount[v_bad] > 0 and m_amount[v_bad] < 0 and m_after[v_bad] >= 0)) then
      raise exception 'closed account' using errcode = 'TGC09',
        detail = json_build_object('account_id', m_account[v_bad], 'owner_kind', m_kind[v_bad],
                                   'owner_id', m_owner[v_bad],
                                   'before', (m_after[v_bad] - m_amount[v_bad])::text,
                                   'after', m_after[v_bad]::text)::text;
    end if;
    raise exception 'insufficient funds' using errcode = 'TG402',
      detail = json_build_object('account_id', m_account[v_bad], 'owner_kind', m_kind[v_bad],
                                 'owner_id', m_owner[v_bad], 'code', m_code[v_bad],
                                 'before', (m_after[v_bad] - m_amount[v_bad])::text,
                                 'after', m_after[v_bad]::text,
                                 'credit_limit', m_limit[v_bad]::text)::text;
  end if;

  -- Dated when applied (under the locks, after the checks): a later posting on these balances
  -- can only take its locks once this commits, so it is dated later too, and a statement cut at
  -- any instant sums a prefix of each balance's postings in application order.
  v_applied := clock_timestamp();
  v_effective := coalesce(p_effective_at, v_applied);
  insert into ledger_transactions (id, category, description, reference, reference_key, effective_at, allow_overdraft, created_at)
  values (p_id, p_category, p_description, p_reference, p_reference_key, v_effective, p_allow_overdraft, v_applied)
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
  select x.pid, p_id, x.aid, x.delta, x.acur, x.after, x.lim, p_category, v_effective
    from unnest(m_posting, m_account, m_amount, m_account_currency, m_after, m_limit)
           with ordinality as x(pid, aid, delta, acur, after, lim, n)
   order by x.n;

  -- Each account's balance is the one after its last posting: what it was (locked, unchanged
  -- since read) plus the sum of its postings.
  update ledger_accounts la set balance = la.balance + s.total
    from (select x.aid, sum(x.delta) as total
            from unnest(m_account, m_amount) as x(aid, delta)
           group by x.aid) s
   where la.id = s.aid;

  return query
    select false, p_id, v_created, x.pid, x.aid, x.kind, x.owner, x.acode, x.acur, x.delta::text, x.after::text
      from unnest(m_posting, m_account, m_kind, m_owner, m_code, m_account_currency, m_amount, m_after)
             with ordinality as x(pid, aid, kind, owner, acode, acur, delta, after, n)
     order by x.n;
end
$$;
