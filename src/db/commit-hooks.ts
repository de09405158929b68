import type {
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  TransactionSettings,
} from 'kysely';

/**
 * Work to run once a transaction has committed (in-memory caches that must not see a change
 * before the database does). Kysely has no such hook, so every dialect opened by openDatabase is
 * wrapped: its driver runs the callbacks registered on a connection right after COMMIT, and
 * drops them on ROLLBACK. Savepoints are not tracked: work registered inside a savepoint that is
 * later rolled back still runs at commit, which is harmless for what it is used for
 * (invalidation and change announcements, where one too many only costs a re-read).
 */
const pending = new WeakMap<DatabaseConnection, Array<() => void>>();
/** Connections of wrapped drivers, with what the driver was opened with. */
const owners = new WeakMap<DatabaseConnection, unknown>();

/**
 * The transaction has committed whatever a callback does: a failing one must not turn the commit
 * into an error for the caller (who might then retry committed work), nor stop the others.
 */
function runAfterCommit(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    process.emitWarning(
      `after-commit callback failed: ${error instanceof Error ? error.stack : String(error)}`,
    );
  }
}

class CommitHookDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly owner: unknown,
  ) {
    if (inner.savepoint) this.savepoint = inner.savepoint.bind(inner);
    if (inner.rollbackToSavepoint) this.rollbackToSavepoint = inner.rollbackToSavepoint.bind(inner);
    if (inner.releaseSavepoint) this.releaseSavepoint = inner.releaseSavepoint.bind(inner);
  }

  savepoint?: Driver['savepoint'];
  rollbackToSavepoint?: Driver['rollbackToSavepoint'];
  releaseSavepoint?: Driver['releaseSavepoint'];

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection();
    owners.set(connection, this.owner);
    return connection;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    pending.delete(connection);
    return this.inner.beginTransaction(connection, settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.inner.commitTransaction(connection);
    } finally {
      // Also when COMMIT itself failed: the outcome is then unknown, and for invalidation one
      // run too many is safe while one too few is not.
      const callbacks = pending.get(connection);
      pending.delete(connection);
      for (const callback of callbacks ?? []) runAfterCommit(callback);
    }
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    pending.delete(connection);
    return this.inner.rollbackTransaction(connection);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(connection);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** Wraps a dialect so that afterCommit works on its transactions; `owner` is findable by ownerOf. */
export function withCommitHooks(dialect: Dialect, owner: unknown): Dialect {
  return {
    createAdapter: (): DialectAdapter => dialect.createAdapter(),
    createDriver: (): Driver => new CommitHookDriver(dialect.createDriver(), owner),
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => dialect.createIntrospector(db),
    createQueryCompiler: (): QueryCompiler => dialect.createQueryCompiler(),
  };
}

/**
 * Runs `callback` after the transaction `db` is part of commits (not at all if it rolls back),
 * with the owner given to withCommitHooks. Outside a transaction the statement already committed,
 * so it runs at once (owner unknown).
 */
export async function afterCommit(db: Kysely<any>, callback: (owner: unknown) => void): Promise<void> {
  if (!db.isTransaction) return callback(undefined);
  await db.getExecutor().provideConnection(async (connection) => {
    if (!owners.has(connection)) {
      // A transaction on a connection opened outside openDatabase: nothing would ever run the
      // callback, and a cache would silently keep stale data.
      throw new Error('afterCommit: this transaction was not opened through openDatabase (src/db)');
    }
    const owner = owners.get(connection);
    const list = pending.get(connection);
    if (list) list.push(() => callback(owner));
    else pending.set(connection, [() => callback(owner)]);
  });
}
