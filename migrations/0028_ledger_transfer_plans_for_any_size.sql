-- Ledger: the transfer batch functions' generic plans stay right as the tables grow
-- (docs/decisions/0025-idempotency-claim-in-transfer-batch.md, "Generic plans", and its
-- eleventh-session addendum).
--
-- Migration 0026 made these functions plan their statements once per connection (generic
-- plans). A plan is made with the tables' sizes of that moment and kept until the connection
-- closes or an ANALYZE of the table invalidates it. On a new database the first transfers run
-- while ledger_transactions, customers and idempotency_keys hold a few rows, and the planner
-- rightly scans them whole (`Seq Scan on ledger_transactions`, a hash join over all customers).
-- Without an ANALYZE (autovacuum off, as on this project's machines, or not yet come round)
-- those plans stayed on long-lived connections while the tables grew: after ~50,000 transfers
-- each batch scanned all of ledger_transactions to check 8 reference keys, and a server whose
-- pool kept its connections fell to 360-780 transfers/s, against ~2,000 with the same plans
-- made on the grown tables.
--
-- Every statement in these functions takes at most a batch (≤ 100) of keys and finds their rows
-- through a unique index; a whole-table scan or a hash or merge join over a table is never the
-- right plan once the table has grown. So the functions plan without them: index probes in
-- nested loops at every table size (at a few rows they cost the same).
alter function ledger_transfer_funds_batch(text[], text[], text[], text[], text[], text[], text[],
  timestamptz[], text[])
  set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off;
alter function ledger_transfer_funds_claimed(text[], text[], text[], text[], text[], text[], text[],
  text[], text[], text[], timestamptz[], text[])
  set enable_seqscan = off set enable_hashjoin = off set enable_mergejoin = off;
