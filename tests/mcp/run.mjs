#!/usr/bin/env node
// run.mjs — the MCP suite: drives the real `harness mcp` ($HARNESS_BIN) with the official
// TypeScript SDK client and with raw malformed input. Prints "ok N - name" / "not ok N -
// name" and closes with "# mcp: P passed, F failed". Usage: node run.mjs [substring]
import fs from 'node:fs';
import { BIN, cleanup } from './lib.mjs';

const files = ['sdk.test.mjs', 'raw.test.mjs', 'reload.test.mjs', 'events.test.mjs', 'session.test.mjs'].filter((f) => fs.existsSync(new URL('./' + f, import.meta.url)));
const TEST_TIMEOUT_MS = 90000;

const filter = process.argv[2] || '';
let n = 0, passed = 0, failed = 0;

function withTimeout(p, ms, name) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${name}: timed out after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

if (!fs.existsSync(BIN)) {
  console.log(`not ok 1 - harness binary exists at ${BIN}`);
  console.log('# mcp: 0 passed, 1 failed');
  process.exit(1);
}

for (const f of files) {
  const mod = await import(new URL('./' + f, import.meta.url));
  for (const [name, fn] of mod.tests) {
    if (filter && !name.includes(filter)) continue;
    n++;
    const t0 = Date.now();
    try {
      await withTimeout(fn(), TEST_TIMEOUT_MS, name);
      passed++;
      console.log(`ok ${n} - ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      failed++;
      console.log(`not ok ${n} - ${name}`);
      for (const line of String(e && e.stack || e).split('\n').slice(0, 8)) console.log('#   ' + line);
    } finally {
      cleanup();
    }
  }
}
console.log(`1..${n}`);
console.log(`# mcp: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
