// session.test.mjs — a scripted agent session through the official SDK client, the way
// an agent works: plan → baseline → experiments (one improvement promoted, one regression
// reverted, one refused for not logging the last, one refused as a retry) → an
// exploration of 20 trials → summary; then the journal, EXPERIMENT_LOG.md and the config
// are checked on disk, and a kill -9 in the middle of a run leaves them consistent.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { BIN, assert, cli, eq, sdkClient, serverEnv, sleep, titanicProject, until } from './lib.mjs';

export const tests = [];
const test = (name, fn) => tests.push([name, fn]);

function journal(dir) {
  const newest = {};
  for (const line of fs.readFileSync(path.join(dir, 'experiments/journal.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    if (r.experiment_id) newest[r.experiment_id] = r;
  }
  return newest;
}

test('session: plan, baseline, five experiments and an exploration leave journal, log and config right', async () => {
  const dir = titanicProject();
  const c = await sdkClient({ cwd: dir });
  const call = async (name, args) => {
    const r = await c.client.callTool({ name, arguments: args });
    return r;
  };
  const ok = async (name, args) => {
    const r = await call(name, args);
    assert(!r.isError, `${name} ${args.action}: ${r.content[0].text}`);
    return r.structuredContent;
  };
  try {
    await ok('configure', { action: 'exclude_columns', add_columns: ['name', 'ticketno', 'passenger_id'] });
    await ok('configure', { action: 'backtest', cv_strategy: 'stratified_kfold', n_folds: 5 });
    await ok('configure', { action: 'ensemble', method: 'average' });
    await ok('configure', { action: 'workflow', replan_every: 10, min_model_types: 2 });
    // A deliberately weak boosted model, so that a real improvement exists to find.
    await ok('models', { action: 'add', name: 'xgb', model_type: 'xgboost', params: { n_estimators: 3, max_depth: 1, learning_rate: 0.05 } });
    await ok('models', { action: 'add', name: 'lr', model_type: 'logistic_regression' });
    let r = await call('experiments', { action: 'create', hypothesis: 'a baseline first' });
    eq(r.isError, true, 'no plan, no experiment');
    assert(/notebook write/.test(r.structuredContent.error.hint), r.structuredContent.error.hint);
    await ok('notebook', { action: 'write', type: 'plan', content: 'baseline, then give xgb more capacity' });
    const base = await ok('experiments', { action: 'quick_run', hypothesis: 'the baseline as configured', overlay: {} });
    await ok('experiments', { action: 'log_result', experiment_id: base.experiment_id, conclusion: 'baseline recorded', verdict: 'KEEP' });
    // 1. an improvement, promoted
    const up = { 'models.xgb.params.n_estimators': 150, 'models.xgb.params.max_depth': 3, 'models.xgb.params.learning_rate': 0.1 };
    const a = await ok('experiments', { action: 'quick_run', hypothesis: 'more trees and depth help xgb', overlay: up });
    await ok('experiments', { action: 'log_result', experiment_id: a.experiment_id, conclusion: 'clearly better', verdict: 'keep' });
    r = await call('experiments', { action: 'promote', experiment_id: a.experiment_id });
    if (r.isError) { // an improvement this large may be held as implausible: a person accepts it
      eq(r.structuredContent.error.code, 'blocked', 'a refused promote is a guardrail');
      await ok('experiments', { action: 'promote', experiment_id: a.experiment_id, human_override: true });
    }
    // 2. a regression, reverted
    const b = await ok('experiments', { action: 'quick_run', hypothesis: 'a tiny C hurts', overlay: { 'models.lr.params.C': 0.0001 } });
    await ok('experiments', { action: 'log_result', experiment_id: b.experiment_id, conclusion: 'worse', verdict: 'revert' });
    // 3. the next one is refused until the last is logged
    const c3 = await ok('experiments', { action: 'quick_run', hypothesis: 'depth 4', overlay: { 'models.xgb.params.max_depth': 4 } });
    r = await call('experiments', { action: 'create', hypothesis: 'something else' });
    eq(r.isError, true, 'create before log_result is refused');
    assert(/log_result/.test(r.structuredContent.error.hint), r.structuredContent.error.hint);
    await ok('experiments', { action: 'log_result', experiment_id: c3.experiment_id, conclusion: 'no clear change', verdict: 'inconclusive' });
    // 4. a retry of an overlay already run is refused, pointing at the earlier one
    r = await call('experiments', { action: 'quick_run', hypothesis: 'again', overlay: { 'models.lr.params.C': 0.0001 } });
    eq(r.isError, true, 'a retry is refused');
    assert(new RegExp(b.experiment_id).test(r.content[0].text), r.content[0].text);
    // 5. an exploration of 20 trials
    const space = { axes: [{ key: 'models.xgb.params.max_depth', type: 'integer', low: 1, high: 5 }] };
    const ex = await ok('experiments', { action: 'explore', search_space: space, budget: 20 });
    eq(ex.trials.length, 20, '20 trials');
    assert(ex.cache_hits > 0, 'trials share the prediction cache');
    const s = await ok('notebook', { action: 'summary' });
    assert(s, 'summary answers');
  } finally {
    await c.close();
  }
  const j = journal(dir);
  const st = Object.fromEntries(Object.entries(j).map(([k, v]) => [k, v.status]));
  eq(Object.values(st).filter((x) => x === 'promoted').length, 1, `one promoted: ${JSON.stringify(st)}`);
  eq(Object.values(st).filter((x) => x === 'concluded').length, 3, `three concluded: ${JSON.stringify(st)}`);
  const log = fs.readFileSync(path.join(dir, 'EXPERIMENT_LOG.md'), 'utf8');
  for (const id of Object.keys(j)) assert(log.includes(id), `${id} in EXPERIMENT_LOG.md`);
  const models = fs.readFileSync(path.join(dir, 'config/models.yaml'), 'utf8');
  assert(/n_estimators: 150/.test(models), 'the promoted change is in the config:\n' + models);
});

test('session: kill -9 in the middle of a run leaves the journal consistent and the next call works', async () => {
  const dir = titanicProject();
  const q = (tool, action, params) => { const r = cli(dir, tool, action, params); assert(r.status === 0, `${tool} ${action}: ${r.stderr}`); return r.json; };
  q('configure', 'exclude_columns', { add_columns: 'name,ticketno' });
  q('models', 'add', { name: 'big', model_type: 'xgboost', params: { n_estimators: 4000, max_depth: 6 } });
  q('notebook', 'write', { type: 'plan', content: 'slow run' });
  const e = q('experiments', 'create', { hypothesis: 'a slow one' });
  q('experiments', 'write_overlay', { experiment_id: e.experiment_id, overlay: { 'models.big.params.max_depth': 5 } });
  const before = fs.readFileSync(path.join(dir, 'experiments/journal.jsonl'), 'utf8');
  const p = spawn(BIN, ['--project', dir, 'experiments', 'run', '--experiment_id', e.experiment_id], { env: serverEnv(), stdio: 'ignore' });
  await sleep(700);
  p.kill('SIGKILL');
  await until(() => p.exitCode !== null || p.signalCode !== null, 5000, 'killed');
  eq(fs.readFileSync(path.join(dir, 'experiments/journal.jsonl'), 'utf8'), before, 'the journal is as before the run');
  assert(!fs.readdirSync(path.join(dir, 'experiments')).some((f) => f.includes('.tmp')), 'no temp files left in experiments/');
  const j = q('experiments', 'journal', {});
  assert(j, 'journal answers');
  q('models', 'update', { name: 'big', params: { n_estimators: 20 } });
  const r = cli(dir, 'experiments', 'run', { experiment_id: e.experiment_id });
  eq(r.status, 0, 'the next run works: ' + r.stderr + JSON.stringify(r.json));
});
