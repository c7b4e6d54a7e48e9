// raw.test.mjs — malformed input on the raw stream: every case gets the right JSON-RPC
// error (with its id where one can be found), every stdout line is a JSON-RPC message, and
// the server is alive afterwards. Also EOF, SIGPIPE and the version negotiation.
import { RawServer, assert, eq, sleep, titanicProject } from './lib.mjs';

export const tests = [];
const test = (name, fn) => tests.push([name, fn]);

async function withRaw(opts, fn) {
  const s = new RawServer(opts);
  try {
    await fn(s);
    if (s.proc.exitCode === null) {
      const r = await s.close();
      eq([r.code, r.signal], [0, null], `exit status (stderr: ${s.stderr.slice(-2000)})`);
    }
  } finally {
    s.proc.kill('SIGKILL');
  }
}

function errorOf(m, code, re) {
  assert(m.error, `expected an error, got ${JSON.stringify(m)}`);
  eq(m.error.code, code, `code for ${JSON.stringify(m)}`);
  if (re) assert(re.test(m.error.message), `${re} does not match ${JSON.stringify(m.error.message)}`);
  return m.error;
}

/** The next error line with id null, after `after` lines. */
async function nullIdError(s, after) {
  const t0 = Date.now();
  for (;;) {
    const m = s.lines.slice(after).find((x) => x.id === null);
    if (m) return m;
    if (Date.now() - t0 > 5000) throw new Error('no id-null error arrived');
    await sleep(5);
  }
}

test('raw: version negotiation echoes a supported version, else answers the latest', () =>
  withRaw({}, async (s) => {
    for (const [asked, want] of [['2025-11-25', '2025-11-25'], ['2025-06-18', '2025-06-18'], ['2025-03-26', '2025-03-26'], ['2024-01-01', '2025-11-25']]) {
      s.send({ jsonrpc: '2.0', id: 'v' + asked, method: 'initialize', params: { protocolVersion: asked, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
      eq((await s.response('v' + asked)).result.protocolVersion, want, `asked ${asked}`);
    }
    s.send({ jsonrpc: '2.0', id: 'nov', method: 'initialize', params: { capabilities: {} } });
    errorOf(await s.response('nov'), -32602, /protocolVersion/);
    eq(s.bad, [], 'every stdout line is JSON-RPC');
  }));

test('raw: malformed lines get parse / invalid-request errors and the server stays up', () =>
  withRaw({}, async (s) => {
    await s.initialize();
    const cases = [
      ['not json at all', -32700, /parse error/],
      ['{"jsonrpc":"2.0","id":1,"method":"ping"', -32700, /parse error/], // truncated: the id is recovered below
      ['[{"jsonrpc":"2.0","id":2,"method":"ping"}]', -32600, /batches/],
      ['42', -32600, /object/],
      ['{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600, /'id' must be a string or an integer/],
      ['{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, /'id'/],
      ['{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600, /'id'/],
      ['{"jsonrpc":"2.0","method":7}', -32600, /method/],
      ['{"jsonrpc":"2.0","id":"a","id":"b","method":"ping"}', -32700, /duplicate/],
    ];
    for (const [line, code, re] of cases) {
      const before = s.lines.length;
      s.write(line + '\n');
      const m = await (async () => {
        const t0 = Date.now();
        while (s.lines.length === before) { if (Date.now() - t0 > 5000) throw new Error(`no answer to ${line}`); await sleep(5); }
        return s.lines[before];
      })();
      errorOf(m, code, re);
      if (line.startsWith('{"jsonrpc":"2.0","id":1,')) eq(m.id, 1, 'id recovered from a truncated message');
      else if (!line.includes('"id":"a"')) eq(m.id, null, `id of ${line}`);
    }
    // Valid JSON, but not a valid request: the id is known, so the error carries it.
    s.send({ id: 10, method: 'ping' });
    errorOf(await s.response(10), -32600, /jsonrpc/);
    s.send({ jsonrpc: '2.0', id: 11 });
    errorOf(await s.response(11), -32600, /method/);
    s.send({ jsonrpc: '2.0', id: 12, method: 'ping', params: [1] });
    errorOf(await s.response(12), -32602, /params/);
    s.send({ jsonrpc: '2.0', id: 13, method: 'tools/lst' });
    const e = errorOf(await s.response(13), -32601, /unknown method 'tools\/lst'/);
    eq(e.data.did_you_mean, 'tools/list', 'did you mean');
    // Notifications never get an answer, known or not; responses from the client are ignored.
    s.send({ jsonrpc: '2.0', method: 'notifications/whatever' });
    s.send({ jsonrpc: '2.0', id: 'x', result: {} });
    s.write('\n\r\n   \n');
    await s.ping(14);
    eq(s.lines.filter((m) => m.id === 'x').length, 0, 'a client response gets no answer');
    eq(s.bad, [], 'every stdout line is JSON-RPC');
    const r = await s.close();
    eq([r.code, r.signal], [0, null], 'exit 0 on EOF');
  }));

test('raw: invalid UTF-8 is a parse error (with the id when it can be read) and CRLF is fine', () =>
  withRaw({}, async (s) => {
    await s.initialize();
    const prefix = '{"jsonrpc":"2.0","id":41,"method":"ping","params":{"x":"';
    s.write(Buffer.concat([Buffer.from(prefix), Buffer.from([0xff, 0xfe]), Buffer.from('"}}\n')]));
    errorOf(await s.response(41), -32700, new RegExp(`invalid UTF-8 at byte ${prefix.length}\\b`));
    const before = s.lines.length;
    s.write(Buffer.from([0xc3, 0x28, 0x0a])); // a lead byte without its continuation
    errorOf(await nullIdError(s, before), -32700, /invalid UTF-8 at byte 0/);
    s.write(Buffer.from([0xed, 0xa0, 0x80, 0x0a])); // an encoded surrogate (U+D800) is not UTF-8 either
    errorOf(await nullIdError(s, before + 1), -32700, /UTF-8/);
    s.write('{"jsonrpc":"2.0","id":42,"method":"ping"}\r\n');
    eq((await s.response(42)).result, {}, 'CRLF line');
    s.send({ jsonrpc: '2.0', id: 43, method: 'tools/call', params: { name: 'data', arguments: { action: 'inspect', column: 'é😀' } } });
    const r = await s.response(43);
    eq(r.result.isError, true, 'a non-ASCII argument reaches the tool');
    eq(s.bad, [], 'every stdout line is JSON-RPC');
  }));

test('raw: a 5 MB line is handled, one over the limit gets a clear error, and the server goes on', async () => {
  const pad = 'x'.repeat(5 * 1024 * 1024);
  await withRaw({}, async (s) => {
    await s.initialize();
    s.send({ jsonrpc: '2.0', id: 'big', method: 'ping', params: { pad } });
    eq((await s.response('big', 30000)).result, {}, '5 MB ping within the default 16 MiB limit');
    s.send({ jsonrpc: '2.0', id: 'bigcall', method: 'tools/call', params: { name: 'data', arguments: { action: 'status', pad } } });
    const r = await s.response('bigcall', 30000);
    eq(r.result.structuredContent.error.code, 'invalid_params', 'the tool rejects the unknown parameter');
    eq(s.bad, [], 'every stdout line is JSON-RPC');
  });
  await withRaw({ args: ['--max-line-bytes', '1048576'] }, async (s) => {
    await s.initialize();
    s.send({ jsonrpc: '2.0', id: 'huge', method: 'ping', params: { pad } });
    const e = errorOf(await s.response('huge', 30000), -32600, /message too large: 5242\d{3} bytes; the limit is 1048576 bytes/);
    eq(e.data.limit, 1048576, 'limit in data');
    assert(/--max-line-bytes/.test(e.data.hint), 'hint names the knob');
    // The same bytes without a recoverable id still get an answer (id null).
    const before = s.lines.length;
    s.write('[' + pad + ']\n');
    errorOf(await nullIdError(s, before), -32600, /too large/);
    await s.ping('after');
    eq(s.bad, [], 'every stdout line is JSON-RPC');
  });
});

test('raw: duplicate ids are refused, in flight or already answered', async () => {
  const dir = titanicProject();
  await withRaw({ cwd: dir, env: { HARNESS_TEST_SLOW_MS: '100' } }, async (s) => {
    await s.initialize();
    await s.ping(7);
    s.send({ jsonrpc: '2.0', id: 7, method: 'ping' });
    await sleep(100);
    const two = s.responses(7);
    eq(two.length, 2, 'two answers for id 7');
    errorOf(two[1], -32600, /duplicate id 7/);
    s.send({ jsonrpc: '2.0', id: 'slow', method: 'tools/call', params: { name: 'data', arguments: { action: 'profile' } } });
    s.send({ jsonrpc: '2.0', id: 'slow', method: 'ping' });
    const dup = await s.response('slow');
    errorOf(dup, -32600, /duplicate/);
    const all = await (async () => { for (;;) { const r = s.responses('slow'); if (r.length === 2) return r; await sleep(20); } })();
    eq(all[1].result.structuredContent.action, 'profile', 'the original call still answers');
  });
});

test('raw: tools/call protocol errors: no name, unknown tool, arguments not an object', () =>
  withRaw({}, async (s) => {
    await s.initialize();
    s.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: {} });
    errorOf(await s.response(1), -32602, /a tool name is required/);
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'confgure' } });
    const e = errorOf(await s.response(2), -32602, /unknown tool 'confgure'/);
    eq(e.data.did_you_mean, 'configure', 'did you mean');
    assert(e.data.valid_values.includes('data'), 'valid tools listed');
    s.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'data', arguments: 'status' } });
    const r = await s.response(3);
    eq(r.result.isError, true, 'a bad arguments value is a tool error the agent can fix');
    assert(/JSON object/.test(r.result.structuredContent.error.message), r.result.structuredContent.error.message);
  }));

test('raw: cancelling a queued call drops it without an answer; the running one finishes', async () => {
  const dir = titanicProject();
  await withRaw({ cwd: dir, env: { HARNESS_TEST_SLOW_MS: '30' } }, async (s) => {
    await s.initialize();
    s.send({ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'data', arguments: { action: 'profile' } } });
    s.send({ jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'data', arguments: { action: 'status' } } });
    s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'b', reason: 'not needed' } });
    s.send({ jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'data', arguments: { action: 'status' } } });
    await s.response('c', 20000);
    eq((await s.response('a')).result.isError, false, 'a completed');
    eq(s.responses('b').length, 0, 'b never answered');
    // Cancelling something unknown or finished is harmless.
    s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'zzz' } });
    await s.ping('alive');
  });
});

test('raw: EOF finishes the call in flight, flushes its answer and exits 0', async () => {
  const dir = titanicProject();
  const s = new RawServer({ cwd: dir, env: { HARNESS_TEST_SLOW_MS: '40' } });
  await s.initialize();
  s.send({ jsonrpc: '2.0', id: 'last', method: 'tools/call', params: { name: 'data', arguments: { action: 'profile' } } });
  s.send({ jsonrpc: '2.0', id: 'queued', method: 'tools/call', params: { name: 'data', arguments: { action: 'status' } } });
  const r = await s.close();
  eq([r.code, r.signal], [0, null], 'exit status');
  eq(s.responses('last')[0].result.structuredContent.action, 'profile', 'in-flight call answered');
  eq(s.responses('queued')[0].result.structuredContent.action, 'status', 'queued call answered');
});

test('raw: a client that stops reading does not kill the server (SIGPIPE ignored)', async () => {
  const s = new RawServer({});
  await s.initialize();
  s.proc.stdout.destroy();
  for (let i = 0; i < 50; i++) s.send({ jsonrpc: '2.0', id: i, method: 'tools/list' });
  await sleep(200);
  const r = await s.close();
  eq([r.code, r.signal], [0, null], 'exit 0, not killed by a signal');
});
