// events.test.mjs — the Studio event log ($HARNESS_HOME/events.db) as the server and the
// CLI write it, and the rule that a log that cannot be written never fails a call.
// (Tests run as root, so "unwritable" means HARNESS_HOME is a regular file, or a path
// under one, not a chmod.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { assert, cli, eq, sdkClient, sleep, titanicProject, tmpdir, until } from './lib.mjs';

export const tests = [];
const test = (name, fn) => tests.push([name, fn]);

/** Every row of the log, in order (read with the system Python's sqlite3). */
function rows(db) {
  const py = 'import json, sqlite3, sys\n' +
    'c = sqlite3.connect(sys.argv[1]); c.row_factory = sqlite3.Row\n' +
    'print(json.dumps([dict(r) for r in c.execute("SELECT * FROM events ORDER BY seq")]))';
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, db], { encoding: 'utf8' }));
}

function byCall(all) {
  const calls = new Map();
  for (const r of all) {
    if (!calls.has(r.call_id)) calls.set(r.call_id, []);
    calls.get(r.call_id).push(r);
  }
  return [...calls.values()];
}

test('events: each call logs running, progress and a final row; cancelled and failed calls too', async () => {
  const home = tmpdir('hml-home-');
  const dir = titanicProject();
  const c = await sdkClient({ cwd: dir, env: { HARNESS_HOME: home, HARNESS_TEST_SLOW_MS: '60' } });
  try {
    await c.client.callTool({ name: 'data', arguments: { action: 'profile', category: 'numeric' } }, undefined, { onprogress: () => {} });
    await c.client.callTool({ name: 'data', arguments: { action: 'profle' } });
    const ctl = new AbortController();
    await c.client.callTool({ name: 'data', arguments: { action: 'profile' } }, undefined,
      { signal: ctl.signal, onprogress: () => ctl.abort('stop') }).catch(() => {});
  } finally {
    await c.close(); // EOF: the server finishes the cancelled call's bookkeeping and exits
  }
  const r = cli(dir, 'data', 'status', {}, { HARNESS_HOME: home });
  eq(r.status, 0, 'cli call');
  const calls = byCall(rows(path.join(home, 'events.db')));
  eq(calls.length, 3 + 1, 'three MCP calls and one CLI call (the init and add were made with another home)');

  const [profile, failed, cancelled, fromCli] = calls;
  const kinds = (call) => call.map((x) => x.kind);
  eq(kinds(profile)[0], 'running', 'first row');
  eq(kinds(profile).at(-1), 'success', 'last row');
  assert(kinds(profile).filter((k) => k === 'progress').length >= 2, `progress rows: ${kinds(profile)}`);
  for (const x of profile) eq([x.tool, x.action, x.project, x.caller], ['data', 'profile', dir, 'mcp:harness-tests'], 'row fields');
  eq(JSON.parse(profile[0].args), { action: 'profile', category: 'numeric' }, 'arguments of the running row');
  const p = profile.filter((x) => x.kind === 'progress');
  for (let i = 1; i < p.length; i++) assert(p[i].progress > p[i - 1].progress, 'progress rows increase');
  assert(p[0].total >= 10 && /^column /.test(p[0].message), JSON.stringify(p[0]));
  const end = profile.at(-1);
  assert(end.duration_ms > 0 && end.duration_ms < 60000, `duration ${end.duration_ms}`);
  assert(end.result.startsWith('| column |') && end.error_code === null, end.result);

  eq(kinds(failed), ['running', 'error'], 'failed call rows');
  eq(failed[1].error_code, 'invalid_params', 'error code');
  assert(/did you mean 'profile'/.test(failed[1].result), failed[1].result);

  eq(kinds(cancelled)[0], 'running', 'cancelled call starts');
  eq([cancelled.at(-1).kind, cancelled.at(-1).error_code], ['error', 'cancelled'], 'cancelled call ends as cancelled');

  eq(kinds(fromCli), ['running', 'success'], 'cli rows');
  eq([fromCli[0].caller, fromCli[0].tool, fromCli[0].action, fromCli[0].project], ['cli', 'data', 'status', dir], 'cli fields');
  assert(new Set(calls.flat().map((x) => x.pid)).size === 2, 'two processes wrote the log');
});

test('events: an unwritable log never fails a call and is reported on stderr once', async () => {
  const dir = titanicProject();
  const file = path.join(tmpdir('hml-home-'), 'a-regular-file');
  fs.writeFileSync(file, 'not a directory');
  for (const home of [file, path.join(file, 'under', 'it')]) {
    const c = await sdkClient({ cwd: dir, env: { HARNESS_HOME: home } });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await c.client.callTool({ name: 'data', arguments: { action: 'status' } });
        eq(r.isError, false, `call ${i} succeeds with HARNESS_HOME=${home}`);
      }
      // stderr is its own pipe: wait for the note rather than race the responses.
      await until(() => /event log/.test(c.stderr()), 2000, 'the event-log note on stderr');
      await sleep(50);
      const lines = c.stderr().split('\n').filter((l) => /event log/.test(l));
      eq(lines.length, 1, `one stderr line: ${c.stderr()}`);
      assert(/event log off: cannot .*HARNESS_HOME/.test(lines[0]), lines[0]);
    } finally {
      await c.close();
    }
    const r = cli(dir, 'data', 'status', {}, { HARNESS_HOME: home });
    eq(r.status, 0, 'the CLI call succeeds too');
    eq(r.stderr.split('\n').filter((l) => /event log/.test(l)).length, 1, `cli stderr: ${r.stderr}`);
  }
  eq(fs.readFileSync(file, 'utf8'), 'not a directory', 'the file is untouched');
});
