-- Each sender of CDRs has its own switches. A call id was unique per switch_id across every
-- sender, so one partner's switch could make another tenant's CDR a "duplicate" (never stored,
-- never charged) by sending the same switch_id and call id first, by accident (Asterisk's
-- uniqueids are the epoch second and a counter; every sender's switch_id defaults to 'default')
-- or on purpose. Call ids are now unique per sender and switch. The sender is the partner whose
-- key posted the batch; null is the operator's own feed (nulls are not distinct in the key, so
-- the operator's re-sent CDRs are still duplicates). Rows stored before this were all taken as
-- the operator's: the key they were stored under is kept.
alter table cdrs add column sender_partner_id text;
alter table cdrs drop constraint cdrs_switch_id_call_id_key;
alter table cdrs add constraint cdrs_sender_switch_call_key
  unique nulls not distinct (sender_partner_id, switch_id, call_id);
