#!/usr/bin/env node
// The npm registry reachable from our machines serves @biomejs/biome's linux binaries only, so
// `npm install` leaves the other platforms' optional packages out of package-lock.json, and
// `npm ci` then refuses the lock ("Missing: @biomejs/cli-darwin-arm64 from lock file"). This adds
// their entries back (os/cpu-tagged and optional, so npm skips them on this platform without
// fetching anything). It runs after every install (package.json "postinstall").
import { readFileSync, writeFileSync } from 'node:fs';

const LOCK = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(LOCK, 'utf8'));
const biome = lock.packages?.['node_modules/@biomejs/biome'];
if (!biome?.optionalDependencies) process.exit(0);

const PLATFORM = /^@biomejs\/cli-(android|darwin|linux|win32)-(arm64|x64)(-musl)?$/;
let added = 0;
for (const [name, version] of Object.entries(biome.optionalDependencies)) {
  const key = `node_modules/${name}`;
  const match = PLATFORM.exec(name);
  if (lock.packages[key] || !match) continue;
  const [, os, cpu, musl] = match;
  lock.packages[key] = {
    version,
    cpu: [cpu],
    dev: true,
    ...(os === 'linux' ? { libc: [musl ? 'musl' : 'glibc'] } : {}),
    license: 'MIT OR Apache-2.0',
    optional: true,
    os: [os],
    engines: { node: '>=14.21.3' },
  };
  added++;
}
if (added > 0) {
  const order = Object.keys(lock.packages).sort((a, b) =>
    a === '' ? -1 : b === '' ? 1 : a.localeCompare(b),
  );
  lock.packages = Object.fromEntries(order.map((key) => [key, lock.packages[key]]));
  writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
}
