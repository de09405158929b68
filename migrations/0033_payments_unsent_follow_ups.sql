-- Until 6deb235, a card follow-up (capture, void, refund) asked for a PayPal or third-party
-- payment was refused only after its in-flight row had been written, as 'unknown' and never sent
-- to any gateway. Reconciliation asks only card and bank gateways, so the row stayed 'unknown'
-- for good and held back its amount: a later PayPal reversal of the payment was ignored as more
-- than what was left to refund. None of those rows reached a gateway or the ledger: they failed.
update payment_transactions t
   set status = 'failed',
       error_code = 'not_sent',
       error_message = 'refused before it was sent: card follow-ups do not apply to this payment method',
       updated_at = now()
  from payments p
 where p.id = t.payment_id
   and p.method in ('paypal', 'thirdparty')
   and t.kind in ('capture', 'void', 'refund')
   and t.status in ('unknown', 'pending')
   and t.gateway_reference is null
   and t.ledger_transaction_id is null;
