-- Ledger: a partner→customer fund transfer (PUT /partner/funds) in one round trip: the customer is
-- found by account number within the caller's scope and the transfer is posted through
-- ledger_post() in the same statement (docs/decisions/0020-ledger-post-in-sql.md).
--
-- p_partner_scope: the calling partner's id (it may only reach its own customers), null for the
-- operator. p_amount moves from the partner to the customer (negative: back to the partner).
-- p_currency: the currency the request named, or null; it must be the customer's own.
-- p_posting_ids / p_new_account_ids: ids for the partner's and the customer's posting and, if
-- their balance accounts do not exist yet, for those accounts.
-- Returns ledger_post()'s rows with the customer's credit limit and currency. Refusals besides
-- ledger_post()'s own (TG402 …):
--   TG404 {"what": "customer", "account_number": …}   no such customer visible to the caller
--   TG400 {"reason": "no_partner"}                      the customer has no partner
--   TG400 {"reason": "currency", "account_currency", "currency"}
create function ledger_transfer_funds(
  p_account_number text,
  p_partner_scope text,
  p_currency text,
  p_amount text,
  p_id text,
  p_description text,
  p_reference_key text,
  p_effective_at timestamptz,
  p_posting_ids text[],
  p_new_account_ids text[]
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
  balance_after text,
  customer_credit_limit text,
  customer_currency text
)
language plpgsql as $$
#variable_conflict use_column
declare
  v_customer record;
begin
  select c.id, c.partner_id, c.currency::text as currency, c.credit_limit::text as credit_limit
    into v_customer
    from customers c
   where c.account_number = p_account_number
     and (p_partner_scope is null or c.partner_id = p_partner_scope);
  if v_customer.id is null then
    raise exception 'unknown customer' using errcode = 'TG404',
      detail = json_build_object('what', 'customer', 'account_number', p_account_number)::text;
  end if;
  if v_customer.partner_id is null then
    raise exception 'customer without partner' using errcode = 'TG400',
      detail = json_build_object('reason', 'no_partner')::text;
  end if;
  if p_currency is not null and upper(p_currency) <> v_customer.currency then
    raise exception 'currency mismatch' using errcode = 'TG400',
      detail = json_build_object('reason', 'currency', 'account_currency', v_customer.currency,
                                 'currency', p_currency)::text;
  end if;
  return query
    select lp.*, v_customer.credit_limit, v_customer.currency
      from ledger_post(
        p_id, 'transfer', p_description, 'transfer:' || v_customer.partner_id || ':' || v_customer.id,
        p_reference_key, p_effective_at, false,
        jsonb_build_array(
          jsonb_build_object('id', p_posting_ids[1], 'owner_kind', 'partner', 'owner_id', v_customer.partner_id,
                             'amount', (-(p_amount::numeric))::text, 'currency', v_customer.currency,
                             'new_account_id', p_new_account_ids[1]),
          jsonb_build_object('id', p_posting_ids[2], 'owner_kind', 'customer', 'owner_id', v_customer.id,
                             'amount', p_amount, 'currency', v_customer.currency,
                             'new_account_id', p_new_account_ids[2]))) lp;
end
$$;
