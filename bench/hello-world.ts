/**
 * The baseline for bench/http.ts: the smallest useful Fastify server, on the same Node and the
 * same Fastify version as Tollgate. Started as its own process so it gets its own event loop.
 * Kept plain JavaScript (no type annotations): bench/http.ts runs it without a loader, as Tollgate
 * runs compiled, so both servers have the same process settings.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));

const port = Number(process.env.PORT ?? 3001);
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
