// reload.test.mjs — `harness mcp --hot-reload`: a module rebuilt while the server runs is
// served without a restart; a broken one (wrong ABI, unresolved symbol, not an ELF file)
// leaves the previous one active and says why; the real tool modules load; and a module
// that prints to stdout cannot corrupt the protocol stream.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { BIN, HERE, ROOT, RawServer, assert, eq, sdkClient, sleep, titanicProject, tmpdir, until } from './lib.mjs';

export const tests = [];
const test = (name, fn) => tests.push([name, fn]);

const FIXTURE = path.join(HERE, 'fixtures/hello_module.c');

function jansson() {
  try { return execFileSync('pkg-config', ['--cflags', 'jansson'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean); }
  catch { return []; }
}

/** Builds the fixture into dir/hello.so the way the Makefile does: a temp file, then rename. */
function build(dir, defines = []) {
  const tmp = path.join(dir, 'hello.so.tmp');
  execFileSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-O1', '-shared', '-fPIC', '-fvisibility=hidden',
    '-I' + path.join(ROOT, 'include'), ...jansson(), ...defines.map((d) => '-D' + d), FIXTURE, '-o', tmp]);
  fs.renameSync(tmp, path.join(dir, 'hello.so'));
}

function greeting(r) {
  return r.structuredContent && r.structuredContent.version;
}

test('reload: a rebuilt module is served without a restart and tools/list_changed is sent', async () => {
  const mods = tmpdir('hml-mods-');
  build(mods, ['GREETING="v1"']);
  const c = await sdkClient({ args: ['--hot-reload', '--module-dir', mods] });
  try {
    const pid = c.transport.pid;
    let { tools } = await c.client.listTools();
    eq(tools.find((t) => t.name === 'hello').inputSchema.properties.action.enum, ['greet'], 'v1 actions');
    const r1 = await c.client.callTool({ name: 'hello', arguments: { action: 'greet', name: 'Ada' } });
    eq([greeting(r1), r1.content[0].text], ['v1', 'hello Ada from v1\n'], 'v1 answers');
    build(mods, ['GREETING="v2"', 'WITH_WAVE']);
    const r2 = await c.client.callTool({ name: 'hello', arguments: { action: 'greet', name: 'Ada' } });
    eq(greeting(r2), 'v2', 'the next call after the rebuild is served by v2');
    await until(() => c.received.some((m) => m.method === 'notifications/tools/list_changed'), 5000, 'list_changed');
    ({ tools } = await c.client.listTools());
    eq(tools.find((t) => t.name === 'hello').inputSchema.properties.action.enum, ['greet', 'wave'], 'v2 actions listed');
    eq(c.transport.pid, pid, 'same process');
    // Removing the module removes the tool it added.
    const changes = c.received.filter((m) => m.method === 'notifications/tools/list_changed').length;
    fs.unlinkSync(path.join(mods, 'hello.so'));
    await until(() => c.received.filter((m) => m.method === 'notifications/tools/list_changed').length > changes, 5000, 'second list_changed');
    ({ tools } = await c.client.listTools());
    assert(!tools.some((t) => t.name === 'hello'), 'hello gone');
  } finally {
    await c.close();
  }
});

test('reload: a broken module keeps the previous one and the next result says why', async () => {
  const mods = tmpdir('hml-mods-');
  build(mods, ['GREETING="v2"']);
  const c = await sdkClient({ args: ['--hot-reload', '--module-dir', mods] });
  try {
    const greet = () => c.client.callTool({ name: 'hello', arguments: { action: 'greet' } });
    eq(greeting(await greet()), 'v2', 'v2 loaded');
    const broken = [
      [() => build(mods, ['GREETING="bad"', 'BAD_ABI']), /built for tool ABI 999, this server speaks 1/],
      [() => build(mods, ['GREETING="bad"', 'MISSING_SYMBOL']), /undefined symbol: hml_no_such_function/],
      [() => { fs.writeFileSync(path.join(mods, 'hello.so.tmp'), 'not an ELF file'); fs.renameSync(path.join(mods, 'hello.so.tmp'), path.join(mods, 'hello.so')); },
        /the loader refused it: .*(invalid ELF header|file too short)/],
    ];
    for (const [breakIt, why] of broken) {
      breakIt();
      const r = await greet();
      eq(greeting(r), 'v2', 'the previous version answers');
      const text = r.content[0].text;
      assert(text.startsWith('hello world from v2\n'), text);
      assert(/\[hot reload\] module hello\.so was not loaded: /.test(text) && why.test(text) && /the previous version stays active/.test(text), text);
      assert(why.test(c.stderr()), `stderr says why: ${c.stderr()}`);
      assert(c.received.some((m) => m.method === 'notifications/message' && m.params.level === 'warning' && why.test(m.params.data)),
        'and a logging notification at the default level (warning)');
      const again = await greet();
      assert(!/hot reload/.test(again.content[0].text), 'the note is given once');
    }
    build(mods, ['GREETING="v3"']);
    eq(greeting(await greet()), 'v3', 'a fixed module loads again');
  } finally {
    await c.close();
  }
});

test('reload: the real tool modules (make modules) load, serve, and give way to the built-ins', async () => {
  const built = path.join(path.dirname(BIN), 'modules');
  const mods = tmpdir('hml-mods-');
  for (const f of ['data.so', 'configure.so']) fs.copyFileSync(path.join(built, f), path.join(mods, f));
  const dir = titanicProject();
  const c = await sdkClient({ cwd: dir, args: ['--hot-reload'], env: { HARNESS_MODULE_DIR: mods, HARNESS_LOG: 'info' } });
  try {
    await until(() => /loaded data\.so \(generation \d+\)/.test(c.stderr()) && /loaded configure\.so/.test(c.stderr()), 5000, 'modules loaded');
    const r = await c.client.callTool({ name: 'data', arguments: { action: 'inspect', column: 'fare' } });
    eq([r.isError, r.structuredContent.column.name], [false, 'fare'], 'data served by its module');
    const e = await c.client.callTool({ name: 'data', arguments: { action: 'profle' } });
    eq(e.structuredContent.error.did_you_mean, 'profile', 'validation runs on the copied tables');
    fs.unlinkSync(path.join(mods, 'data.so'));
    const again = await c.client.callTool({ name: 'data', arguments: { action: 'status' } });
    eq(again.isError, false, 'built-in serves after the module is removed');
    // stderr is another pipe than the response: its line may arrive a moment later.
    await until(() => /data\.so removed; built-in restored/.test(c.stderr()), 2000, 'the removal note on stderr');
  } finally {
    await c.close();
  }
});

test('reload: a module that prints to stdout cannot corrupt the stream (fd 1 is stderr)', async () => {
  const mods = tmpdir('hml-mods-');
  build(mods, ['CHATTY']);
  const s = new RawServer({ args: ['--hot-reload', '--module-dir', mods] });
  try {
    await s.initialize();
    for (let i = 0; i < 5; i++) s.send({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'hello', arguments: { action: 'greet' } } });
    for (let i = 0; i < 5; i++) eq((await s.response(i)).result.structuredContent.version, 'v1', `call ${i}`);
    await sleep(50);
    eq(s.bad, [], 'every stdout line is JSON-RPC');
    await until(() => /chatty library output on stdout/.test(s.stderr), 2000, 'the chatter on stderr');
    const r = await s.close();
    eq(r.code, 0, 'exit 0');
  } finally {
    s.proc.kill('SIGKILL');
  }
});

test('reload: without --hot-reload no module is loaded', async () => {
  const mods = tmpdir('hml-mods-');
  build(mods, ['GREETING="v1"']);
  const c = await sdkClient({ env: { HARNESS_MODULE_DIR: mods } });
  try {
    const { tools } = await c.client.listTools();
    assert(!tools.some((t) => t.name === 'hello'), 'static tools only');
  } finally {
    await c.close();
  }
});
