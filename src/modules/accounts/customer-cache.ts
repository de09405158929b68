import type { ChangeFeed } from '../../db/change-feed.js';
import type { Db } from '../../db/index.js';
import { Decimal } from '../../money/index.js';
import type { Principal } from '../../tenancy.js';
import { balanceColumn, type MoneyView, moneyViewOf } from '../ledger/accounts.js';
import { BALANCES_TOPIC } from '../ledger/balance-changes.js';
import { CUSTOMERS_TOPIC, type Customer } from './customers.js';
import { PARTNERS_TOPIC } from './partners.js';
import { type CustomerFields, customerFields } from './representations.js';
import type { AccountStatus } from './schema.js';

/** One customer as last committed: its row, its ledger balance, and the figures derived from them. */
export interface CustomerSnapshot {
  /** The customers row as stored. */
  readonly row: Readonly<Customer>;
  readonly id: string;
  readonly partnerId: string | null;
  readonly status: AccountStatus;
  /** The partner's status as last committed (null: no partner); read with the row. */
  readonly partnerStatus: AccountStatus | null;
  readonly currency: string;
  readonly ratecardId: string | null;
  /** Calls in progress allowed at once; null: unlimited. */
  readonly concurrentCallLimit: number | null;
  /** Ledger balance (0 without money history). */
  readonly balance: Decimal;
  /** Lowest balance allowed. */
  readonly creditLimit: Decimal;
  /** balance − credit limit: what can still be spent. */
  readonly available: Decimal;
  /** balance, credit_limit and available as the API shows them. */
  readonly money: Readonly<MoneyView>;
  /** The API representation without its (per-request) links: representations.ts. */
  readonly fields: Readonly<CustomerFields>;
}

export interface CustomerCacheOptions {
  /** Entries kept at most (least recently used go first). */
  maxEntries?: number;
  /**
   * Entries older than this are read again. Changes are invalidated exactly in this process and
   * announced to others; the age only bounds what an announcement lost with its process (a crash
   * between commit and NOTIFY) or a change made by hand in SQL could leave stale.
   */
  maxAgeMs?: number;
}

interface Entry {
  snapshot: CustomerSnapshot | null;
  loadedAt: number;
  /** Read since it was stored or last spared from eviction (second-chance eviction). */
  used: boolean;
}

interface Load {
  promise: Promise<CustomerSnapshot | null>;
  /** Invalidated while reading: the result may predate the change and must not be kept. */
  stale: boolean;
}

/** Whether a principal may see this customer: the operator all, a partner its own, a customer itself. */
export function customerVisibleTo(principal: Principal, snapshot: CustomerSnapshot): boolean {
  if (principal.role === 'admin') return true;
  if (principal.role === 'partner') return snapshot.partnerId === principal.partnerId;
  return snapshot.id === principal.customerId;
}

/**
 * Whether the customer may make calls: it is active, and so is its partner if it has one. A
 * reseller the operator suspended (or closed) cannot keep its customers calling; reading is not
 * spending, so neither status stops their keys reading.
 */
export function mayCall(snapshot: CustomerSnapshot): boolean {
  return (
    snapshot.status === 'active' && (snapshot.partnerStatus === null || snapshot.partnerStatus === 'active')
  );
}

/**
 * The customers read model in memory: GET /customers/{id}, object visibility for `cus_` ids and
 * call authorization read a customer and its balance from here instead of the database.
 *
 * Read-through: a miss reads the row and its balance in one query; concurrent misses for one id
 * share that read. Invalidation is exact, driven by committed changes (src/db/change-feed.ts):
 * customers.ts publishes CUSTOMERS_TOPIC when a customer is created, updated or deleted,
 * partners.ts PARTNERS_TOPIC when a partner is updated or deleted (a snapshot holds its partner's
 * status: every entry of that partner's customers is dropped), and postTransaction publishes
 * BALANCES_TOPIC for every customer or partner whose balance it moved, all after their
 * transaction commits (also when it is a caller's transaction, e.g. CDR charging or a payment).
 * In this process the entry is dropped before the writer's call returns, so the writer's next
 * read sees its own write; a read that was in flight when the change committed is not kept.
 * Other processes on the same PostgreSQL drop it when the NOTIFY arrives.
 * See docs/architecture.md (In-memory read models).
 */
export class CustomerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Load>();
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly unsubscribe: Array<() => void>;

  constructor(
    private readonly db: Db,
    feed: ChangeFeed,
    options: CustomerCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    const subscriber = {
      changed: (ids: readonly string[]) => this.invalidate(ids),
      resync: () => this.clear(),
    };
    this.unsubscribe = [
      feed.subscribe(CUSTOMERS_TOPIC, subscriber),
      feed.subscribe(BALANCES_TOPIC, subscriber),
      feed.subscribe(PARTNERS_TOPIC, {
        changed: (ids: readonly string[]) => this.invalidatePartners(ids),
        resync: () => this.clear(),
      }),
    ];
  }

  /** The customer as last committed, or null when there is no such customer. */
  get(id: string): Promise<CustomerSnapshot | null> {
    const entry = this.entries.get(id);
    if (entry && performance.now() - entry.loadedAt < this.maxAgeMs) {
      entry.used = true;
      return Promise.resolve(entry.snapshot);
    }
    const running = this.loading.get(id);
    if (running) return running.promise;
    const load: Load = { promise: Promise.resolve(null), stale: false };
    load.promise = this.load(id, load);
    this.loading.set(id, load);
    return load.promise;
  }

  /**
   * Synchronously, what getVisible would answer when the customer is cached and fresh (the
   * snapshot, or null when `principal` may not see it); undefined when only a read can tell.
   */
  peekVisible(principal: Principal, id: string): CustomerSnapshot | null | undefined {
    const entry = this.entries.get(id);
    if (!entry || performance.now() - entry.loadedAt >= this.maxAgeMs) return undefined;
    entry.used = true;
    const snapshot = entry.snapshot;
    return snapshot && customerVisibleTo(principal, snapshot) ? snapshot : null;
  }

  /** The customer if `principal` may see it (tenancy as in visibleCustomers), else null. */
  async getVisible(principal: Principal, id: string): Promise<CustomerSnapshot | null> {
    const snapshot = await this.get(id);
    return snapshot && customerVisibleTo(principal, snapshot) ? snapshot : null;
  }

  /** Forgets these ids (they changed); reads in flight for them are not kept. */
  invalidate(ids: readonly string[]): void {
    for (const id of ids) {
      this.entries.delete(id);
      const load = this.loading.get(id);
      if (load) {
        load.stale = true;
        this.loading.delete(id);
      }
    }
  }

  /**
   * Forgets the customers of these partners (a partner changed: its status is in their
   * snapshots). Partners change rarely, so this walks the entries; a read in flight may be of one
   * of their customers (its partner is known only once read), so none is kept.
   */
  invalidatePartners(partnerIds: readonly string[]): void {
    const changed = new Set(partnerIds);
    for (const [id, entry] of this.entries) {
      const partnerId = entry.snapshot?.partnerId;
      if (partnerId && changed.has(partnerId)) this.entries.delete(id);
    }
    for (const load of this.loading.values()) load.stale = true;
    this.loading.clear();
  }

  clear(): void {
    this.entries.clear();
    for (const load of this.loading.values()) load.stale = true;
    this.loading.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    this.clear();
  }

  /**
   * Second chance (an approximation of least recently used that costs a hit nothing but a flag):
   * the oldest entry goes, unless it was read since it was stored; then it moves to the back
   * with its flag cleared, and the next oldest is considered.
   */
  private evictOne(): void {
    for (const [id, entry] of this.entries) {
      this.entries.delete(id);
      if (!entry.used) return;
      entry.used = false;
      this.entries.set(id, entry);
    }
  }

  private async load(id: string, load: Load): Promise<CustomerSnapshot | null> {
    const loadedAt = performance.now();
    try {
      const row = await this.db
        .selectFrom('customers')
        .selectAll()
        .select(balanceColumn('customers.id').as('balance'))
        .select((eb) =>
          eb
            .selectFrom('partners')
            .select('partners.status')
            .whereRef('partners.id', '=', 'customers.partner_id')
            .as('partner_status'),
        )
        .where('customers.id', '=', id)
        .executeTakeFirst();
      const snapshot = row ? snapshotOf(row) : null;
      if (!load.stale) {
        this.entries.delete(id);
        if (this.entries.size >= this.maxEntries) this.evictOne();
        this.entries.set(id, { snapshot, loadedAt, used: false });
      }
      return snapshot;
    } finally {
      if (this.loading.get(id) === load) this.loading.delete(id);
    }
  }
}

function snapshotOf(
  loaded: Customer & { balance: string; partner_status: AccountStatus | null },
): CustomerSnapshot {
  const { balance, partner_status: partnerStatus, ...row } = loaded;
  const money = moneyViewOf({ balance, credit_limit: row.credit_limit });
  const balanceValue = new Decimal(balance);
  const creditLimit = new Decimal(row.credit_limit);
  return Object.freeze({
    row: Object.freeze(row),
    id: row.id,
    partnerId: row.partner_id,
    status: row.status,
    partnerStatus,
    currency: row.currency,
    ratecardId: row.ratecard_id,
    concurrentCallLimit: row.concurrent_call_limit,
    balance: balanceValue,
    creditLimit,
    available: balanceValue.minus(creditLimit),
    money: Object.freeze(money),
    fields: Object.freeze(customerFields(row, money)),
  });
}
