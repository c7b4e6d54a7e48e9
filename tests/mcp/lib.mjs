// lib.mjs — shared helpers for the MCP tests: where things are, scratch projects, an SDK
// client on the real binary, and a raw line-level client for malformed input.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
export const BIN = process.env.HARNESS_BIN || path.join(ROOT, 'build/release/harness');
export const SHARED = process.env.HARNESS_SHARED || path.resolve(ROOT, '../shared');
export const DATA = path.join(SHARED, 'data');

const scratch = [];
const SANITIZER = /ERROR: (Address|Leak)Sanitizer|runtime error:/;

export function tmpdir(prefix = 'hml-mcp-') {
  const d = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  scratch.push(d);
  return d;
}

export function cleanup() {
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export function assert(cond, msg) {
  if (!cond) throw new Error(msg || 'assertion failed');
}

export function eq(a, b, msg) {
  const x = JSON.stringify(a), y = JSON.stringify(b);
  if (x !== y) throw new Error(`${msg || 'not equal'}: ${x} !== ${y}`);
}

/** Waits until pred() is truthy, polling; throws after ms. The limits are what a quiet
 * machine needs; CI machines are shared and ASan builds are slow, so every limit is
 * stretched (HML_TIMEOUT_SCALE, default 6). A passing wait costs only the time it takes. */
const SCALE = Number(process.env.HML_TIMEOUT_SCALE || 6);
export async function until(pred, ms, what) {
  ms *= SCALE;
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Environment for a server: a private event log, no OpenMP spinning, plus extra. */
export function serverEnv(extra = {}) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME || '/tmp',
    HARNESS_HOME: process.env.HARNESS_HOME || tmpdir('hml-home-'),
    OMP_WAIT_POLICY: 'passive',
    ...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: process.env.ASAN_OPTIONS } : {}),
    ...extra,
  };
}

/** Runs the CLI: harness --project dir --format json tool action --k v ... */
export function cli(dir, tool, action, params = {}, env = {}) {
  const args = ['--project', dir, '--format', 'json', tool, action];
  for (const [k, v] of Object.entries(params)) args.push('--' + k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  const r = spawnSync(BIN, args, { encoding: 'utf8', env: serverEnv(env) });
  return { status: r.status, json: r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

/** A project with the Titanic data in it, made through the CLI. */
export function titanicProject() {
  const dir = tmpdir('hml-proj-');
  let r = cli(dir, 'configure', 'init', { task: 'binary', target_column: 'survived' });
  assert(r.status === 0, 'configure init: ' + r.stderr);
  r = cli(dir, 'data', 'add', { data_path: path.join(DATA, 'titanic.csv') });
  assert(r.status === 0, 'data add: ' + r.stderr);
  return dir;
}

/** sha256 of every file under root, to prove a call changed nothing. */
export function treeDigest(root) {
  const out = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) { out[path.relative(root, p) + '/'] = 'dir'; walk(p); }
      else out[path.relative(root, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

/**
 * The official SDK client on `harness mcp`. Records every message the server sends
 * (received) and every message the client sends (sent), and the server's stderr.
 */
export async function sdkClient({ cwd, args = [], env = {} } = {}) {
  const transport = new StdioClientTransport({
    command: BIN,
    args: ['mcp', ...args],
    cwd: cwd || tmpdir('hml-cwd-'),
    env: serverEnv(env),
    stderr: 'pipe',
  });
  const stderr = [];
  transport.stderr.on('data', (d) => stderr.push(d.toString()));
  const client = new Client({ name: 'harness-tests', version: '1.0.0' }, { capabilities: {} });
  // The SDK chains an onmessage set before connect, so the handshake is recorded too.
  const received = [], sent = [];
  transport.onmessage = (m) => { received.push(m); };
  const send = transport.send.bind(transport);
  transport.send = (m, o) => { sent.push(m); return send(m, o); };
  await client.connect(transport);
  const proc = transport._process;
  return {
    client, transport, received, sent,
    stderr: () => stderr.join(''),
    /** Closes stdin; the server must then exit 0 by itself, with no sanitizer report. */
    close: async () => {
      await client.close();
      await until(() => proc.exitCode !== null || proc.signalCode !== null, 5000, 'server exit');
      const err = stderr.join('');
      if (proc.exitCode !== 0 || SANITIZER.test(err))
        throw new Error(`server exit ${proc.exitCode} (signal ${proc.signalCode}); stderr:\n${err.slice(-3000)}`);
    },
  };
}

/** A raw line client: writes bytes, reads stdout lines, checks each is a JSON-RPC message. */
export class RawServer {
  constructor({ cwd, args = [], env = {} } = {}) {
    this.proc = spawn(BIN, ['mcp', ...args], { cwd: cwd || tmpdir('hml-cwd-'), env: serverEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    this.lines = [];
    this.bad = [];
    this.stderr = '';
    this.exit = new Promise((res) => this.proc.on('exit', (code, signal) => res({ code, signal })));
    let buf = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const m = JSON.parse(line);
          const ok = m && m.jsonrpc === '2.0' && (('id' in m && ('result' in m || 'error' in m)) || typeof m.method === 'string');
          (ok ? this.lines : this.bad).push(ok ? m : line);
        } catch { this.bad.push(line); }
      }
    });
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.proc.stdin.on('error', () => {});
  }

  write(data) { this.proc.stdin.write(data); }
  send(obj) { this.write(JSON.stringify(obj) + '\n'); }
  end() { this.proc.stdin.end(); }

  /** The response with this id (the first not yet taken). */
  async response(id, ms = 10000) {
    return until(() => this.lines.find((m) => !m.method && JSON.stringify(m.id) === JSON.stringify(id)), ms, `response to id ${JSON.stringify(id)}`);
  }

  responses(id) { return this.lines.filter((m) => !m.method && JSON.stringify(m.id) === JSON.stringify(id)); }

  async initialize(version = '2025-11-25') {
    this.send({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const r = await this.response('init');
    this.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return r;
  }

  async ping(id) {
    this.send({ jsonrpc: '2.0', id, method: 'ping' });
    return this.response(id);
  }

  /** Ends stdin and waits for the exit; a sanitizer report on stderr is a failure. */
  async close(ms = 15000) {
    this.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    const r = await this.exit;
    clearTimeout(t);
    if (SANITIZER.test(this.stderr)) throw new Error('sanitizer report:\n' + this.stderr.slice(-3000));
    return r;
  }
}
