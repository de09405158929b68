import { createHash } from 'node:crypto';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { cardBrand, normaliseCardNumber } from '../card.js';
import type { TransactionKind } from '../state-machine.js';
import {
  type FollowUpRequest,
  type GatewayAdapter,
  type GatewayAnswer,
  type LookupQuery,
  MethodRefused,
  type MoneyRequest,
  noAnswer,
  type PaymentSource,
} from './types.js';

/**
 * The `moneris` gateway over Moneris' XML API (`<request><store_id/><api_token/><purchase>…`
 * posted to /gateway2/servlet/MpgRequest, a `<response><receipt>` back): purchase, preauth,
 * completion, purchasecorrection (void), refund, ind_refund (credit), and the vault (res_add_cc,
 * res_purchase_cc, res_preauth_cc, res_delete). Approval is ResponseCode < 50, a decline ≥ 50,
 * and `null` means the transaction never reached the issuer. A transaction's reference is
 * `<order_id>;<txn_number>`: Moneris' follow-ups need both. Tested only against
 * test/fakes/moneris-fake.ts.
 */
export interface MonerisSettings {
  storeId: string;
  apiToken: string;
  mode: 'test' | 'live';
  country: 'CA' | 'US';
  baseUrl?: string;
  timeoutMs: number;
}

const HOSTS = {
  CA: {
    test: 'https://esqa.moneris.com',
    live: 'https://www3.moneris.com',
    path: '/gateway2/servlet/MpgRequest',
  },
  US: {
    test: 'https://esplusqa.moneris.com',
    live: 'https://esplus.moneris.com',
    path: '/gateway_us/servlet/MpgRequest',
  },
};
/** crypt_type 7: a card-not-present transaction without 3-D Secure (SSL-enabled merchant). */
const CRYPT_TYPE = '7';

const NOT_SUPPORTED: GatewayAnswer = {
  status: 'error',
  reference: null,
  errorCode: 'not_supported',
  message: 'The moneris gateway takes card payments only',
};

const builder = new XMLBuilder({ format: false });
const parser = new XMLParser({ parseTagValue: false, trimValues: true });

export type MonerisReceipt = Record<string, string | undefined>;

/** Moneris order ids are at most 50 characters from a small alphabet: longer keys are hashed. */
export function orderIdOf(key: string): string {
  if (/^[A-Za-z0-9_.:-]{1,50}$/.test(key)) return key;
  return `tg-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

const splitReference = (reference: string) => {
  const [orderId = '', txnNumber = ''] = reference.split(';');
  return { orderId, txnNumber };
};

/** Moneris expiry is YYMM. */
const expdate = (month: number, year: number) =>
  `${String(year % 100).padStart(2, '0')}${String(month).padStart(2, '0')}`;

function cardFields(source: Exclude<PaymentSource, { kind: 'bank' }>) {
  if (source.kind === 'token') return { data_key: source.token };
  const card = source.card;
  return {
    pan: normaliseCardNumber(card.number),
    expdate: expdate(card.expMonth, card.expYear),
    cvd_info: { cvd_indicator: '1', cvd_value: card.cvv },
  };
}

/** What a receipt means: < 50 approved, ≥ 50 declined, `null` not sent for authorization. */
export function receiptAnswer(receipt: MonerisReceipt): GatewayAnswer {
  if (receipt.TimedOut === 'true') return noAnswer(new Error('Moneris timed out waiting for the issuer'));
  const code = receipt.ResponseCode ?? 'null';
  const reference = receipt.ReceiptId && receipt.TransID ? `${receipt.ReceiptId};${receipt.TransID}` : null;
  const message = receipt.Message?.replace(/[\s*=]+$/, '') || undefined;
  if (!/^\d+$/.test(code))
    return {
      status: 'error',
      reference: null,
      errorCode: 'moneris_not_processed',
      message: message ?? 'Not processed',
    };
  if (Number(code) < 50) return { status: 'success', reference };
  return { status: 'failed', reference, errorCode: `moneris_${code}`, message: message ?? 'Declined' };
}

export function monerisGateway(settings: MonerisSettings): GatewayAdapter {
  const host = HOSTS[settings.country];
  const url = `${settings.baseUrl ?? host[settings.mode]}${host.path}`;

  async function send(
    type: string,
    fields: Record<string, unknown>,
    statusCheck = false,
  ): Promise<MonerisReceipt> {
    const body = builder.build({
      request: {
        store_id: settings.storeId,
        api_token: settings.apiToken,
        ...(statusCheck ? { status_check: 'true' } : {}),
        [type]: fields,
      },
    });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: `<?xml version="1.0" encoding="UTF-8"?>${body}`,
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    if (!response.ok) throw new Error(`Moneris answered HTTP ${response.status}`);
    const document = parser.parse(await response.text()) as { response?: { receipt?: MonerisReceipt } };
    const receipt = document.response?.receipt;
    if (!receipt || typeof receipt !== 'object') throw new Error('Moneris answered without a receipt');
    return receipt;
  }

  const answering = (type: string, fields: Record<string, unknown>) =>
    send(type, fields).then(receiptAnswer, noAnswer);

  const open = (plain: string, vaulted: string) => async (request: MoneyRequest) => {
    if (request.source.kind === 'bank') return NOT_SUPPORTED;
    return answering(request.source.kind === 'token' ? vaulted : plain, {
      order_id: orderIdOf(request.idempotencyKey),
      amount: request.amount.toFixed(2),
      ...cardFields(request.source),
      crypt_type: CRYPT_TYPE,
    });
  };

  /** completion and refund: on the original order id and the txn_number of what they follow. */
  const followUp =
    (type: 'completion' | 'refund', amountOf: (request: FollowUpRequest) => string) =>
    async (request: FollowUpRequest) => {
      const onCapture =
        type === 'refund' ? (request.captureReference ?? request.reference) : request.reference;
      const { orderId, txnNumber } = splitReference(onCapture);
      return answering(type, {
        order_id: orderId,
        [type === 'completion' ? 'comp_amount' : 'amount']: amountOf(request),
        txn_number: txnNumber,
        crypt_type: CRYPT_TYPE,
      });
    };
  const requested = (request: FollowUpRequest) => request.amount.toFixed(2);

  /** The Moneris transaction types a kind may have been sent as (plain card or vault), for a status check. */
  const LOOKUP_TYPES: Record<TransactionKind, string[]> = {
    authorize: ['preauth', 'res_preauth_cc'],
    purchase: ['purchase', 'res_purchase_cc'],
    credit: ['ind_refund'],
    capture: ['completion'],
    void: ['completion'],
    refund: ['refund'],
  };

  async function statusCheck(types: string[], orderId: string): Promise<GatewayAnswer> {
    for (const type of types) {
      const receipt = await send(type, { order_id: orderId }, true);
      if (receipt.StatusMessage === 'Found') return receiptAnswer(receipt);
    }
    return { status: 'error', reference: null, errorCode: 'not_found', message: 'Moneris never received it' };
  }

  return {
    type: 'moneris',
    authorize: open('preauth', 'res_preauth_cc'),
    purchase: open('purchase', 'res_purchase_cc'),
    credit: async (request) => {
      if (request.source.kind !== 'card') return NOT_SUPPORTED;
      return answering('ind_refund', {
        order_id: orderIdOf(request.idempotencyKey),
        amount: request.amount.toFixed(2),
        ...cardFields(request.source),
        crypt_type: CRYPT_TYPE,
      });
    },
    bankDebit: async () => NOT_SUPPORTED,
    bankCredit: async () => NOT_SUPPORTED,
    capture: followUp('completion', requested),
    // Moneris releases a pre-authorization by completing it for 0.00; purchasecorrection voids
    // purchases and completions, which our state machine refunds instead (void after capture is refused).
    void: followUp('completion', () => '0.00'),
    refund: followUp('refund', requested),
    async storePaymentMethod(source, customerRef) {
      if (source.kind === 'bank')
        throw new MethodRefused('not_supported', 'The moneris gateway stores cards only');
      const { cvd_info: _cvd, ...card } = cardFields(source) as Record<string, unknown>;
      const receipt = await send('res_add_cc', { cust_id: customerRef, ...card, crypt_type: CRYPT_TYPE });
      if (receipt.ResSuccess !== 'true' || !receipt.DataKey)
        throw new MethodRefused(
          `moneris_${receipt.ResponseCode ?? 'null'}`,
          receipt.Message ?? 'The card could not be stored',
        );
      return { token: receipt.DataKey, brand: cardBrand(normaliseCardNumber(source.card.number)) };
    },
    async deletePaymentMethod(token) {
      await send('res_delete', { data_key: token });
    },
    /**
     * Moneris' status check: the original transaction's type and order id with
     * `<status_check>true</status_check>`; the receipt says whether it was found, and how it went.
     */
    async lookup(query: LookupQuery) {
      const opening = query.kind === 'authorize' || query.kind === 'purchase' || query.kind === 'credit';
      const orderId = opening
        ? orderIdOf(query.requestKey)
        : splitReference(query.openingReference ?? '').orderId;
      return statusCheck(LOOKUP_TYPES[query.kind], orderId).catch(noAnswer);
    },
  };
}
