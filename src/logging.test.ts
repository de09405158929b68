import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { LineBuffer } from './logging.js';

/** Runs `work` with a fresh directory, removed afterwards. */
async function inScratchDir(work: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-log-'));
  try {
    await work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Both ends of a FIFO in `dir`, non-blocking (as a pipe to a log reader can be). */
function openFifo(dir: string): { readEnd: number; writeEnd: number } {
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeEnd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  return { readEnd, writeEnd };
}

test('lines are written in order and whole: multi-byte text and a line larger than the buffer', async () => {
  await inScratchDir((dir) => {
    const path = join(dir, 'out.log');
    const fd = openSync(path, 'w');
    const lines = [
      '{"msg":"plain"}\n',
      '{"msg":"naïve € 📞"}\n',
      `{"msg":"${'x'.repeat(300_000)}"}\n`,
      'last\n',
    ];
    const buffer = new LineBuffer(fd, 1024);
    for (const line of lines) buffer.write(line);
    buffer.flushSync();
    closeSync(fd);
    assert.equal(readFileSync(path, 'utf8'), lines.join(''));
  });
});

test('lines wait in memory until the flush size is reached or flush is called', async () => {
  await inScratchDir((dir) => {
    const path = join(dir, 'out.log');
    const fd = openSync(path, 'w');
    const buffer = new LineBuffer(fd, 100);
    buffer.write('a'.repeat(60));
    assert.equal(statSync(path).size, 0);
    buffer.write('b'.repeat(60));
    assert.equal(statSync(path).size, 120);
    buffer.write('c'.repeat(10));
    let called = false;
    buffer.flush(() => {
      called = true;
    });
    assert.ok(called);
    assert.equal(statSync(path).size, 130);
    closeSync(fd);
  });
});

test('a non-blocking pipe whose reader is behind loses nothing (EAGAIN is retried)', async () => {
  await inScratchDir(async (dir) => {
    const { readEnd, writeEnd } = openFifo(dir);
    const lines = Array.from({ length: 20_000 }, (_, i) => `{"n":${i},"pad":"${'p'.repeat(40)}"}\n`);
    const expected = lines.join('');
    // The reader starts late and reads slowly, in another thread: the pipe (64 kB) fills first.
    const reader = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { readSync } = require('node:fs');
       const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
       sleep(200);
       const chunks = []; let total = 0; const chunk = Buffer.alloc(16384);
       const deadline = Date.now() + 10000;
       while (total < workerData.bytes && Date.now() < deadline) {
         try { const n = readSync(workerData.fd, chunk); chunks.push(Buffer.from(chunk.subarray(0, n))); total += n; }
         catch (error) { if (error.code !== 'EAGAIN') throw error; sleep(2); }
       }
       parentPort.postMessage(Buffer.concat(chunks).toString('utf8'));`,
      { eval: true, workerData: { fd: readEnd, bytes: Buffer.byteLength(expected) } },
    );
    const received = new Promise<string>((resolve, reject) => {
      reader.once('message', resolve);
      reader.once('error', reject);
    });
    const buffer = new LineBuffer(writeEnd);
    for (const line of lines) buffer.write(line);
    buffer.flushSync();
    assert.equal(await received, expected);
    closeSync(writeEnd);
    closeSync(readEnd);
  });
});

test('a reader that has gone away (EPIPE) never makes logging throw', async () => {
  await inScratchDir((dir) => {
    const { readEnd, writeEnd } = openFifo(dir);
    closeSync(readEnd);
    const buffer = new LineBuffer(writeEnd, 10);
    assert.doesNotThrow(() => {
      buffer.write('a line nobody reads\n');
      buffer.flushSync();
    });
    closeSync(writeEnd);
  });
});
