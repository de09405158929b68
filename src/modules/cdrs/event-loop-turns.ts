/**
 * Ingestion's CPU work comes in slices with turns of the event loop in between. A 10,000-CDR
 * batch is ~300 ms of synchronous checking, pricing and COPY formatting; without turns, a
 * concurrent batch holding the ledger and rollup locks would wait that long for each of its
 * replies, so the locks' holding time (which every other batch waits for) would include this
 * batch's CPU, and so would every call authorization's latency (decision 0043).
 */

/** Records checked or priced between two turns. */
export const RECORDS_PER_TURN = 1_000;

/** Resolves after the event loop has run the I/O callbacks that are ready. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
