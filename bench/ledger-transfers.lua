-- wrk script for bench/ledger.ts: PUT /api/v1/partner/funds with a fresh Idempotency-Key on every
-- request, the transfer pairs taken in turn (as many pairs as connections, so about one request
-- per pair is in flight at a time).
-- Arguments: a run id (keeps keys unique across runs on one database), then one
-- "<partner key>,<customer account number>" per pair.
local run_id
local pairs_ = {}
local sent = 0

function init(args)
  run_id = args[1]
  for i = 2, #args do
    local key, account = args[i]:match("^([^,]+),(.+)$")
    pairs_[#pairs_ + 1] = {
      headers = {
        ["Authorization"] = "Bearer " .. key,
        ["Content-Type"] = "application/json",
      },
      body = '{"account_number":"' .. account .. '","amount":"0.01","description":"bench"}',
    }
  end
end

function request()
  sent = sent + 1
  local pair = pairs_[sent % #pairs_ + 1]
  pair.headers["Idempotency-Key"] = run_id .. "-" .. sent
  return wrk.format("PUT", "/api/v1/partner/funds", pair.headers, pair.body)
end
