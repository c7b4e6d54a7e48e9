// sdk.test.mjs — `harness mcp` through the official TypeScript SDK client: handshake,
// tools/list checked with a real JSON Schema validator, calls whose structuredContent the
// SDK validates, errors with hints, progress, cancellation, prompts and resources.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020Module from 'ajv/dist/2020.js';
import { EmptyResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';

import { BIN, ROOT, assert, eq, sdkClient, sleep, titanicProject, tmpdir, treeDigest, until } from './lib.mjs';

const Ajv2020 = Ajv2020Module.default || Ajv2020Module;
export const tests = [];
const test = (name, fn) => tests.push([name, fn]);

async function withClient(opts, fn) {
  const c = await sdkClient(opts);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

async function rejects(promise, code, re) {
  try {
    await promise;
  } catch (e) {
    assert(e instanceof McpError, `expected McpError, got ${e}`);
    eq(e.code, code, `error code (${e.message})`);
    if (re) assert(re.test(e.message), `${re} does not match ${JSON.stringify(e.message)}`);
    return e;
  }
  throw new Error('expected the request to fail');
}

test('sdk: handshake negotiates 2025-11-25 and advertises tools, prompts, resources, logging', () =>
  withClient({}, async ({ client, sent, received }) => {
    eq(sent[0].params.protocolVersion, '2025-11-25', 'the SDK asks for 2025-11-25');
    eq(received[0].result.protocolVersion, '2025-11-25', 'and the server agrees');
    const info = client.getServerVersion();
    eq(info.name, 'harness', 'server name');
    assert(/^\d+\.\d+\.\d+/.test(info.version), 'semver version');
    const caps = client.getServerCapabilities();
    eq(caps.tools, { listChanged: true }, 'tools capability');
    assert(caps.prompts && caps.resources && caps.logging, 'prompts, resources and logging capabilities');
    const ins = client.getInstructions();
    assert(ins && Buffer.byteLength(ins) < 2048, `instructions under 2 KB (${ins && ins.length})`);
    assert(/configure/.test(ins) && /action=init/.test(ins) && /data/.test(ins), 'instructions say how to start');
    await client.ping();
  }));

test('sdk: tools/list schemas are valid JSON Schema 2020-12, descriptions ≤ 2 KB, annotations truthful', () =>
  withClient({}, async ({ client, received }) => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert(names.includes('configure') && names.includes('data'), `tools: ${names}`);
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
    for (const t of tools) {
      assert(Buffer.byteLength(t.description) <= 2048, `${t.name}: description over 2 KB`);
      for (const which of ['inputSchema', 'outputSchema']) {
        const s = t[which];
        eq(s.type, 'object', `${t.name}.${which}.type`);
        assert(ajv.validateSchema(s), `${t.name}.${which}: ${ajv.errorsText(ajv.errors)}`);
        ajv.compile(s); // strict mode: unknown keywords or bad types throw
      }
      assert(t.inputSchema.properties.action.enum.length > 0, `${t.name}: action enum`);
      eq(t.inputSchema.required, ['action'], `${t.name}: required`);
      for (const [p, ps] of Object.entries(t.inputSchema.properties))
        assert(typeof ps.description === 'string' && ps.description.length > 0, `${t.name}.${p}: description`);
      const a = t.annotations;
      for (const h of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'])
        eq(typeof a[h], 'boolean', `${t.name}.annotations.${h}`);
      eq(a.openWorldHint, false, `${t.name}: works on local files only`);
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
    // data has drop_duplicates and restore_snapshot (destructive); configure changes but never removes.
    eq([byName.data.readOnlyHint, byName.data.destructiveHint, byName.data.idempotentHint], [false, true, false], 'data hints');
    eq([byName.configure.readOnlyHint, byName.configure.destructiveHint], [false, false], 'configure hints');
    const listReply = received.find((m) => m.result && m.result.tools);
    const bytes = Buffer.byteLength(JSON.stringify(listReply));
    assert(bytes < 24 * 1024, `tools/list answer is ${bytes} bytes`);
  }));

test('sdk: a successful call returns markdown plus structuredContent valid for its outputSchema', async () => {
  const dir = titanicProject();
  await withClient({ cwd: dir }, async ({ client }) => {
    const { tools } = await client.listTools();
    const data = tools.find((t) => t.name === 'data');
    // callTool validates structuredContent against the cached outputSchema (it throws otherwise).
    const r = await client.callTool({ name: 'data', arguments: { action: 'profile', category: 'numeric' } });
    eq(r.isError, false, 'isError');
    const sc = r.structuredContent;
    eq([sc.ok, sc.action], [true, 'profile'], 'structured header');
    const age = sc.columns.find((c) => c.name === 'age');
    // pandas: read_csv(titanic.csv)['age'] has 2 nulls and mean 29.61368821292768.
    assert(age && age.nulls === 2 && Math.abs(age.mean - 29.61368821292768) < 1e-9, `age column: ${JSON.stringify(age)}`);
    eq(r.content.length, 1, 'one content block');
    eq(r.content[0].type, 'text', 'text content');
    assert(r.content[0].text.startsWith('| column |'), 'markdown table, not JSON');
    const ajv = new Ajv2020({ strict: false });
    assert(ajv.validate(data.outputSchema, sc), ajv.errorsText(ajv.errors));
    const s = await client.callTool({ name: 'data', arguments: { action: 'status', project_dir: dir } });
    assert(/1,317 rows/.test(s.content[0].text), s.content[0].text);
  });
});

test('sdk: an invalid call is an isError result with a hint and did_you_mean', async () => {
  const dir = titanicProject();
  await withClient({ cwd: dir }, async ({ client }) => {
    const r = await client.callTool({ name: 'data', arguments: { action: 'profle' } });
    eq(r.isError, true, 'isError');
    const e = r.structuredContent.error;
    eq([e.code, e.did_you_mean], ['invalid_params', 'profile'], 'error');
    assert(e.valid_values.includes('inspect'), 'valid values listed');
    assert(/Hint: did you mean 'profile'\?/.test(r.content[0].text), r.content[0].text);
    const c = await client.callTool({ name: 'data', arguments: { action: 'inspect', column: 'Fare' } });
    eq(c.isError, true, 'unknown column is an error result');
    assert(c.structuredContent.error.hint.length > 0, 'hint present');
    // An unknown tool is a protocol error (-32602) that still suggests the nearest name.
    await rejects(client.callTool({ name: 'dta', arguments: { action: 'status' } }), -32602, /unknown tool 'dta'.*did you mean 'data'/);
  });
});

test('sdk: a long call reports strictly increasing progress with a total', async () => {
  const dir = titanicProject();
  await withClient({ cwd: dir, env: { HARNESS_TEST_SLOW_MS: '40' } }, async ({ client }) => {
    const seen = [];
    const r = await client.callTool({ name: 'data', arguments: { action: 'profile' } }, undefined,
      { onprogress: (p) => seen.push(p) });
    const ncols = r.structuredContent.columns.length;
    assert(seen.length >= 5, `only ${seen.length} progress notifications`);
    for (let i = 1; i < seen.length; i++) assert(seen[i].progress > seen[i - 1].progress, `not increasing at ${i}: ${JSON.stringify(seen)}`);
    for (const p of seen) eq(p.total, ncols, 'total = columns');
    eq(seen[seen.length - 1].progress, ncols, 'ends at the total');
    assert(/^column 1\/\d+ · /.test(seen[0].message), `message: ${seen[0].message}`);
  });
});

test('sdk: ping is answered while a long call runs', async () => {
  const dir = titanicProject();
  await withClient({ cwd: dir, env: { HARNESS_TEST_SLOW_MS: '150' } }, async ({ client }) => {
    let first = null, done = false;
    const call = client.callTool({ name: 'data', arguments: { action: 'profile' } }, undefined,
      { onprogress: (p) => { first = first || p; } }).finally(() => { done = true; });
    await until(() => first, 20000, 'first progress');
    const t0 = Date.now();
    await client.ping();
    await client.listTools();
    const ms = Date.now() - t0;
    assert(!done, 'ping and tools/list answered before the call finished');
    assert(ms < 1000, `ping + tools/list took ${ms} ms during a call`);
    const r = await call;
    eq(r.isError, false, 'the long call still completes');
  });
});

test('sdk: cancelling after the first progress stops the call, sends no response, keeps the project', async () => {
  const dir = titanicProject();
  const before = treeDigest(dir);
  await withClient({ cwd: dir, env: { HARNESS_TEST_SLOW_MS: '300' } }, async ({ client, received, sent }) => {
    const ctl = new AbortController();
    const progress = [];
    const call = client.callTool({ name: 'data', arguments: { action: 'profile' } }, undefined, {
      signal: ctl.signal,
      onprogress: (p) => { progress.push(p); if (progress.length === 1) ctl.abort('changed my mind'); },
    });
    let failed = null;
    try { await call; } catch (e) { failed = e; }
    assert(failed, 'the aborted call rejects on the client side');
    const req = sent.find((m) => m.method === 'tools/call');
    assert(sent.some((m) => m.method === 'notifications/cancelled' && m.params.requestId === req.id), 'cancel sent');
    await sleep(900); // longer than the next column's pause: a response would have arrived by now
    assert(!received.some((m) => m.id === req.id && !m.method), 'no response for the cancelled id');
    eq(progress.length, 1, 'no progress after the cancel');
    await client.ping();
    const r = await client.callTool({ name: 'data', arguments: { action: 'status' } });
    eq(r.isError, false, 'the server serves the next call');
  });
  eq(treeDigest(dir), before, 'project unchanged');
});

test('sdk: prompts list the three skills and get one with its argument', () =>
  withClient({}, async ({ client }) => {
    const { prompts } = await client.listPrompts();
    eq(prompts.map((p) => p.name).sort(), ['domain-research', 'explore-space', 'run-experiment'], 'prompt names');
    for (const p of prompts) assert(p.description && p.description.length > 40, `${p.name}: description`);
    const r = await client.getPrompt({ name: 'run-experiment', arguments: { hypothesis: 'fare per person beats fare' } });
    eq(r.messages.length, 1, 'one message');
    eq(r.messages[0].role, 'user', 'role');
    const text = r.messages[0].content.text;
    assert(/^# Run an experiment/.test(text), 'body without front matter');
    assert(/hypothesis/i.test(text) && /diagnos/i.test(text) && /conclusion/i.test(text), 'teaches the method');
    assert(text.endsWith('The hypothesis to test: fare per person beats fare\n'), 'argument appended');
    const e = await client.getPrompt({ name: 'explore-space' });
    assert(/EDA/.test(e.messages[0].content.text) && /ensemble/i.test(e.messages[0].content.text), 'phases');
    await rejects(client.getPrompt({ name: 'run-experiments' }), -32602, /did you mean 'run-experiment'/);
  }));

test('skills: `harness skills install DIR` writes each skill as DIR/<name>/SKILL.md, as embedded', async () => {
  const dir = path.join(tmpdir('hml-skills-'), '.claude', 'skills');
  const r = spawnSync(BIN, ['skills', 'install', dir], { encoding: 'utf8' });
  eq(r.status, 0, r.stderr);
  for (const name of ['run-experiment', 'explore-space', 'domain-research']) {
    const got = fs.readFileSync(path.join(dir, name, 'SKILL.md'), 'utf8');
    eq(got, fs.readFileSync(path.join(ROOT, 'skills', name + '.md'), 'utf8'), `${name}: the binary embeds the current file`);
    assert(got.startsWith(`---\nname: ${name}\ndescription: `), `${name}: front matter`);
  }
  const bad = spawnSync(BIN, ['skills', 'install'], { encoding: 'utf8' });
  eq(bad.status, 2, 'usage error without DIR');
  assert(/harness skills install DIR/.test(bad.stderr), bad.stderr);
});

test('sdk: resources say plainly what does not exist yet, then show the project', async () => {
  const dir = tmpdir('hml-res-');
  await withClient({ cwd: dir }, async ({ client }) => {
    const { resources } = await client.listResources();
    const uris = resources.map((r) => r.uri);
    for (const u of ['harness://project/config', 'harness://project/experiment-log', 'harness://project/notebook-summary'])
      assert(uris.includes(u), `${u} listed`);
    const read = async (uri) => (await client.readResource({ uri })).contents[0];
    assert(/^No project at .* yet/.test((await read('harness://project/config')).text), 'config before init');
    assert(/^No experiment log yet/.test((await read('harness://project/experiment-log')).text), 'log before init');
    assert(/^No notebook entries yet/.test((await read('harness://project/notebook-summary')).text), 'notebook before init');
    await client.callTool({ name: 'configure', arguments: { action: 'init', task: 'binary', target_column: 'survived' } });
    const cfg = await read('harness://project/config');
    eq(cfg.mimeType, 'text/yaml', 'config mime type');
    assert(/^# config\/ensemble\.yaml/.test(cfg.text) && /target_column: survived/.test(cfg.text), cfg.text.slice(0, 200));
    const log = await read('harness://project/experiment-log');
    assert(!/^No experiment log/.test(log.text) && log.text.length > 0, 'the log exists after init');
    const { resourceTemplates } = await client.listResourceTemplates();
    eq(resourceTemplates[0].uriTemplate, 'harness://runs/{run_id}/report', 'run report template');
    await rejects(client.readResource({ uri: 'harness://project/confg' }), -32602, /did you mean 'harness:\/\/project\/config'/);
    await rejects(client.readResource({ uri: 'harness://runs/nope/report' }), -32602, /unknown run 'nope'/);
  });
});

test('sdk: logging/setLevel accepts the eight levels and rejects others', () =>
  withClient({}, async ({ client }) => {
    for (const l of ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']) await client.setLoggingLevel(l);
    await rejects(client.request({ method: 'logging/setLevel', params: { level: 'warn' } }, EmptyResultSchema),
      -32602, /did you mean 'warning'/);
  }));

test('sdk: calls queue in order and each gets its own answer', async () => {
  const dir = titanicProject();
  await withClient({ cwd: dir }, async ({ client }) => {
    const calls = [];
    for (let i = 0; i < 8; i++)
      calls.push(client.callTool({ name: 'data', arguments: i % 2 ? { action: 'status' } : { action: 'inspect', column: 'fare' } }));
    const rs = await Promise.all(calls);
    rs.forEach((r, i) => eq(r.structuredContent.action, i % 2 ? 'status' : 'inspect', `call ${i}`));
    eq(rs[0].structuredContent.column.name, 'fare', 'inspect result');
  });
});
