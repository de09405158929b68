import { randomInt } from 'node:crypto';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { type FakeAnswer, HttpFake } from './http-fake.js';

/**
 * A local stand-in for Moneris' XML gateway (POST /gateway2/servlet/MpgRequest): a `<request>`
 * with store_id, api_token and one transaction element in, a `<response><receipt>` out with
 * ReceiptId, ReferenceNum, ResponseCode (< 50 approved, ≥ 50 declined, `null` not processed),
 * Message, TransID, TransAmount, Complete, TimedOut, and DataKey/ResSuccess for the vault.
 * Card numbers decide outcomes; a stored DataKey keeps its card's. It is not Moneris.
 */
const OUTCOMES: Record<string, { code: string | null; message: string }> = {
  '4242424242424242': { code: '027', message: 'APPROVED           *                    =' },
  '4000000000000002': { code: '481', message: 'DECLINED           *                    =' },
  '4000000000000119': { code: null, message: 'System Error - transaction not processed' },
};
const APPROVED = OUTCOMES['4242424242424242']!;
const OPENING = new Set(['purchase', 'preauth', 'res_purchase_cc', 'res_preauth_cc', 'ind_refund']);

interface Transaction {
  type: string;
  orderId: string;
  txnNumber: string;
  amount: number;
  receipt: Record<string, string>;
  completed?: number;
  released?: boolean;
  refunded: number;
}

const parser = new XMLParser({ parseTagValue: false, trimValues: true });
const builder = new XMLBuilder({ format: false });

export class MonerisFake extends HttpFake {
  readonly transactions: Transaction[] = [];
  readonly vault = new Map<string, string>();

  constructor(
    readonly storeId = 'store5',
    readonly apiToken = 'yesguy',
  ) {
    super((request) => this.route(request.path, request.body));
  }

  private receipt(fields: Record<string, string | null>): FakeAnswer {
    const receipt = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v ?? 'null']));
    const body = `<?xml version="1.0" standalone="yes"?>${builder.build({ response: { receipt } })}`;
    return { status: 200, body, contentType: 'text/xml' };
  }

  private notProcessed(orderId: string, message: string): FakeAnswer {
    return this.receipt({
      ReceiptId: orderId || null,
      ResponseCode: null,
      Message: message,
      TransID: null,
      Complete: 'false',
      TimedOut: 'false',
    });
  }

  private route(path: string, body: string): FakeAnswer {
    if (path !== '/gateway2/servlet/MpgRequest')
      return { status: 404, body: 'Not Found', contentType: 'text/html' };
    const request = (parser.parse(body) as { request?: Record<string, Record<string, string> | string> })
      .request;
    if (!request) return this.notProcessed('', 'Invalid XML request');
    if (request.store_id !== this.storeId || request.api_token !== this.apiToken)
      return this.notProcessed('', 'API token mismatch');
    const type = Object.keys(request).find((key) => !['store_id', 'api_token', 'status_check'].includes(key));
    if (!type) return this.notProcessed('', 'No transaction in the request');
    const fields = request[type] as Record<string, string>;
    if (request.status_check === 'true') return this.statusCheck(type, fields.order_id ?? '');
    return this.transact(type, fields);
  }

  private statusCheck(type: string, orderId: string): FakeAnswer {
    const found = this.transactions.filter((t) => t.orderId === orderId && t.type === type).at(-1);
    if (!found)
      return this.receipt({
        ReceiptId: orderId,
        ResponseCode: null,
        StatusCode: '50',
        StatusMessage: 'Not found',
      });
    return this.receipt({ ...found.receipt, StatusCode: '0', StatusMessage: 'Found' });
  }

  private transact(type: string, fields: Record<string, string>): FakeAnswer {
    const orderId = fields.order_id ?? '';
    if (type === 'res_add_cc') {
      const dataKey = `ot-${randomInt(1e9, 1e10)}`;
      this.vault.set(dataKey, fields.pan ?? '');
      return this.receipt({
        DataKey: dataKey,
        ResponseCode: '001',
        Message: 'Successfully registered CC details.',
        ResSuccess: 'true',
      });
    }
    if (type === 'res_delete')
      return this.receipt({
        DataKey: fields.data_key ?? null,
        ResponseCode: '001',
        Message: 'Successfully deleted CC details.',
        ResSuccess: String(this.vault.delete(fields.data_key ?? '')),
      });
    if (OPENING.has(type)) return this.open(type, orderId, fields);
    const original = this.transactions.find(
      (t) => t.orderId === orderId && t.txnNumber === fields.txn_number,
    );
    if (!original) return this.notProcessed(orderId, 'Invalid original order or transaction number');
    if (type === 'completion') return this.complete(original, Number(fields.comp_amount));
    if (type === 'refund') return this.refund(original, Number(fields.amount));
    return this.notProcessed(orderId, `Unsupported transaction ${type}`);
  }

  private record(type: string, orderId: string, amount: number, outcome = APPROVED): FakeAnswer {
    const txnNumber = `${randomInt(100000, 999999)}-0_11`;
    const receipt = {
      ReceiptId: orderId,
      ReferenceNum: String(randomInt(1e9, 1e10)),
      ResponseCode: outcome.code ?? 'null',
      AuthCode: outcome.code && Number(outcome.code) < 50 ? String(randomInt(100000, 999999)) : '',
      TransType: type,
      Complete: outcome.code ? 'true' : 'false',
      Message: outcome.message,
      TransAmount: amount.toFixed(2),
      CardType: 'V',
      TransID: txnNumber,
      TimedOut: 'false',
    };
    this.transactions.push({ type, orderId, txnNumber, amount, receipt, refunded: 0 });
    return this.receipt(receipt);
  }

  private open(type: string, orderId: string, fields: Record<string, string>): FakeAnswer {
    if (this.transactions.some((t) => t.orderId === orderId && OPENING.has(t.type)))
      return this.notProcessed(orderId, 'Duplicate Order ID');
    const pan = fields.data_key ? this.vault.get(fields.data_key) : fields.pan;
    if (pan === undefined) return this.notProcessed(orderId, 'Invalid data key');
    return this.record(type, orderId, Number(fields.amount), OUTCOMES[pan] ?? APPROVED);
  }

  private complete(preauth: Transaction, amount: number): FakeAnswer {
    if (!preauth.type.includes('preauth') || preauth.completed !== undefined || preauth.released)
      return this.notProcessed(
        preauth.orderId,
        'Pre-authorization already completed or not a pre-authorization',
      );
    if (amount > preauth.amount)
      return this.notProcessed(preauth.orderId, 'Completion amount exceeds pre-authorization');
    if (amount === 0) preauth.released = true;
    else preauth.completed = amount;
    return this.record('completion', preauth.orderId, amount);
  }

  private refund(captured: Transaction, amount: number): FakeAnswer {
    if (!['purchase', 'res_purchase_cc', 'completion'].includes(captured.type))
      return this.notProcessed(captured.orderId, 'Only purchases and completions can be refunded');
    if (amount > captured.amount - captured.refunded + 1e-9)
      return this.notProcessed(captured.orderId, 'Refund amount exceeds the original');
    captured.refunded += amount;
    return this.record('refund', captured.orderId, amount);
  }
}
