/**
 * Writes the OpenAPI 3.1 document generated from the route schemas to docs/openapi.json, or with
 * `--check` fails when the committed file differs from what the code generates (CI runs that, so
 * a route change without a regenerated document is caught in review).
 *
 *   npm run openapi             regenerate docs/openapi.json
 *   npm run openapi -- --check  exit 1 when docs/openapi.json is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/index.js';
import { migrate } from '../src/db/migrate.js';

const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'openapi.json');

/** The document exactly as the server serves it at /api/v1/openapi.json, on a throwaway database. */
async function generate(): Promise<string> {
  // Only the settings the document depends on; the environment must not change the output.
  const config = loadConfig({ LOG_LEVEL: 'silent', TOLLGATE_DATA_DIR: 'memory://' });
  const handle = await openDatabase({ dataDir: config.dataDir });
  try {
    await migrate(handle);
    const { app } = await buildApp(config, handle.db);
    await app.ready();
    const text = `${JSON.stringify(app.swagger(), null, 2)}\n`;
    await app.close();
    return text;
  } finally {
    await handle.close();
  }
}

function committed(): string | null {
  try {
    return readFileSync(OUTPUT, 'utf8');
  } catch {
    return null;
  }
}

async function main(args: string[]): Promise<number> {
  const generated = await generate();
  if (!args.includes('--check')) {
    writeFileSync(OUTPUT, generated);
    console.log(`wrote ${OUTPUT}`);
    return 0;
  }
  if (committed() === generated) {
    console.log('docs/openapi.json is up to date');
    return 0;
  }
  console.error(
    'docs/openapi.json differs from the document the routes generate; run `npm run openapi` and commit it',
  );
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
