-- Answers that hold a secret shown once (a new API key, a webhook signing secret) are no longer
-- stored under their Idempotency-Key (src/http/idempotency.ts, answerShownOnce); a retry gets a
-- 409 instead. Those stored before are emptied here rather than left to expire with the key.
update idempotency_keys
   set body = null
 where status_code < 300
   and (body like '%tgk\_%' or body like '%whsec\_%');
