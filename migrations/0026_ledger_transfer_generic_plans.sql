-- Ledger: the transfer batch functions plan their statements once per connection
-- (docs/decisions/0025-idempotency-claim-in-transfer-batch.md, "Generic plans").
--
-- Every statement in these PL/pgSQL functions takes the batch's arrays as parameters. The plan
-- cache kept choosing custom plans for them (a generic plan's estimates for arrays of unknown
-- length looked costlier than the custom ones), so each call planned every statement again:
-- about a tenth of the database backends' CPU under `npm run bench:ledger` (perf). With generic
-- plans, pgbench calling ledger_transfer_funds_batch() with 8 transfers from one client ran
-- 422 against 351 calls/s, six 2 s runs each, alternating, each pair in favour of generic plans.
-- The generic plans estimate ten elements per array and use the same indexes as the custom ones
-- (customers by account number, balances by owner, transactions by reference key) once the
-- tables are larger than a few pages; an ANALYZE replans them.
alter function ledger_transfer_funds_batch(text[], text[], text[], text[], text[], text[], text[],
  timestamptz[], text[]) set plan_cache_mode = force_generic_plan;
alter function ledger_transfer_funds_claimed(text[], text[], text[], text[], text[], text[], text[],
  text[], text[], text[], timestamptz[], text[]) set plan_cache_mode = force_generic_plan;
