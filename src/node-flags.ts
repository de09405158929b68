/**
 * The V8 flags `tollgate serve` runs with (decision 0005). They are process flags, read when the
 * heap is created, so they cannot be set from inside the program: `npm start`, the `tollgate`
 * launcher's shebang and every benchmark that starts a server pass them on the command line, and
 * test/node-flags.test.ts keeps those places equal to this list.
 *
 * --max-semi-space-size=64 (MB; Node 20's default is 16): a request through the API conventions
 * leaves 10-20 KB of short-lived objects, so at 20,000 requests/s the default young generation
 * filled every 30 ms and requests in flight at each collection were promoted to the old
 * generation, to be marked and compacted there. With 64 MB it fills about every 130 ms and those
 * objects die young.
 *
 * --min-semi-space-size=16 (MB; Node 20's default is 1): V8 shrinks the young generation towards
 * this minimum after a full collection on an idle or slow heap (the memory reducer), and grows it
 * again only as survivors add up, which at a moderate steady rate takes about a minute. Measured in
 * bench:rating (decision 0046): 15-20 scavenges a second under routes/lcr at 1,000 requests/s after
 * such a shrink, about 1 a second with this minimum.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64', '--min-semi-space-size=16'];
