import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';

// The flags are V8's, read when the heap is created: the places that start a server must pass
// them on the command line, and must not drift from the one list.
const root = new URL('..', import.meta.url);

test('npm start passes every server flag to node', () => {
  const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  const start: string = manifest.scripts.start;
  assert.match(start, /^node .*dist\/src\/main\.js serve$/);
  for (const flag of SERVER_NODE_FLAGS) assert.ok(start.split(' ').includes(flag), `${flag} in "${start}"`);
});

test("the tollgate launcher's shebang starts node with every server flag", () => {
  const shebang = readFileSync(new URL('src/main.ts', root), 'utf8').split('\n')[0]!;
  assert.match(shebang, /^#!\/usr\/bin\/env -S node /);
  // Run exactly what the shebang runs, asking node which flags it was given.
  const [command, ...args] = shebang.slice(2).split(' ');
  const run = spawnSync(command!, [...args, '-p', 'JSON.stringify(process.execArgv)'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [...SERVER_NODE_FLAGS, '-p', 'JSON.stringify(process.execArgv)']);
});
