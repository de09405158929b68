#!/usr/bin/env node
// Runs the whole suite twice over the data layer: on embedded PGlite, then on PostgreSQL
// (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test). Each test file makes
// its own database. Ends with one plain "N passed, N failed" line for both runs together.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

const only = process.argv.slice(2);
const files = only.length ? only : [...testFiles('src'), ...testFiles('test')];
const databases = (process.env.TEST_DBS ?? 'pglite,postgres').split(',');
let passed = 0;
let failed = 0;
for (const database of databases) {
  console.log(`\n=== test suite on ${database} (${files.length} files) ===`);
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=tap',
      '--test-concurrency=2',
      '--test-timeout=120000',
      ...files,
    ],
    { env: { ...process.env, TEST_DB: database }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  process.stdout.write(run.stdout);
  process.stderr.write(run.stderr);
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(run.stdout)?.[1] ?? 0);
  passed += count('pass');
  failed += count('fail') + count('cancelled');
  if (run.status !== 0 && count('fail') + count('cancelled') === 0) failed += 1;
}
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
