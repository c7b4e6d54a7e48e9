/* t_experiments_run.c — run, quick_run and promote of the `experiments` tool.
 *
 * A run is two backtests on the same folds sharing the prediction cache: the baseline
 * (the project's config, or a stored run named by baseline_run_id) and the experiment
 * (config + overlay), so only the models the overlay touches are fitted. Both are saved
 * as normal runs in outputs/ once both succeeded; the verdict comes from a paired
 * t-test over the folds, so one lucky fold does not make an improvement. */
#include "experiments_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness/alloc.h"

#define FOLDS_MAX 1024

static enum hml_status oom(struct hml_error *err)
{
    return hml_fail(err, HML_ENOMEM, "experiments", "out of memory");
}

static void now_iso(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* ---- the primary metric --------------------------------------------------------------------------- */

/* Resolves the metric the verdict uses: the parameter, else backtest.primary_metric of the
 * config that runs. NULL in *out (no error) when neither names one: the run's own primary. */
static enum hml_status resolve_metric(const struct hml_call *call, const json_t *merged, const struct hml_metric **out,
                                      struct hml_error *err)
{
    *out = NULL;
    const char *name = hml_param_str(call, "primary_metric", NULL);
    if (!name) name = hml_json_str(json_object_get(merged, "backtest"), "primary_metric", NULL);
    if (!name) return HML_OK;
    enum hml_task task;
    enum hml_status rc = hml_task_parse(hml_json_str(json_object_get(merged, "data"), "task", "binary"), &task, err);
    if (!rc) rc = hml_metric_lookup(name, task, out, err);
    if (rc) return hml_error_prefix(err, "primary_metric"), rc;
    if ((*out)->goal == HML_GOAL_NONE) {
        hml_fail(err, HML_EINVAL, "experiments", "'%s' is informational: it has no better or worse", (*out)->name);
        return hml_hint(err, "judge by a metric with a direction, e.g. brier, log_loss, auc_roc or rmse");
    }
    return HML_OK;
}

/* Adds the metric to backtest.metrics of a config that lists metrics without it, so that
 * both runs report it. */
static enum hml_status ensure_metric(json_t *root, const struct hml_metric *m, struct hml_error *err)
{
    json_t *list = hml_config_get(root, "backtest.metrics");
    if (!m || !json_is_array(list)) return HML_OK;
    enum hml_task task;
    struct hml_error e;
    if (hml_task_parse(hml_json_str(json_object_get(root, "data"), "task", "binary"), &task, &e)) return HML_OK;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const struct hml_metric *x;
        if (json_is_string(v) && !hml_metric_lookup(json_string_value(v), task, &x, &e) && x == m) return HML_OK;
    }
    return json_array_append_new(list, json_string(m->name)) ? oom(err) : HML_OK;
}

/* ---- two backtests ----------------------------------------------------------------------------------- */

struct phase_progress {
    struct hml_call *call;
    const char *label;
    double lo, span; /* of 100 */
};

static void phase_cb(void *ud, double done, double total, const char *msg)
{
    const struct phase_progress *pp = ud;
    double f = total > 0 ? done / total : 0;
    hml_progress(pp->call, pp->lo + pp->span * (f > 1 ? 1 : f), 100, "%s · %s", pp->label, msg);
}

static enum hml_status backtest(struct exp_ctx *c, const json_t *config, struct phase_progress *pp,
                                struct hml_run **out, struct hml_error *err)
{
    struct hml_run_opts o = {.project_dir = c->p->dir, .table = c->p->table, .config = config, .progress = phase_cb,
                             .progress_ud = pp, .cancel = c->call->cancel};
    return hml_backtest(&o, out, err);
}

/* The ensemble's metrics and fold metrics of a run (metrics.json shape). */
static const json_t *ens(const json_t *run, const char *key)
{
    return json_object_get(json_object_get(run, "ensemble"), key);
}

/* ---- the comparison ----------------------------------------------------------------------------------- */

struct compare {
    const struct hml_metric *m;
    double base, cand;
    double fb[FOLDS_MAX], fc[FOLDS_MAX];
    const char *labels[FOLDS_MAX];
    size_t nf, unmatched;
    struct hml_exp_paired paired;
    enum hml_exp_verdict verdict;
};

/* Pairs the folds of the two runs by label (and size), for the primary metric. */
static void pair_folds(const json_t *base, const json_t *cand, struct compare *k)
{
    const json_t *bf = json_object_get(base, "folds"), *cf = json_object_get(cand, "folds");
    const json_t *bm = ens(base, "fold_metrics"), *cm = ens(cand, "fold_metrics");
    size_t i, j;
    json_t *f, *g;
    json_array_foreach(cf, i, f) {
        bool found = false;
        json_array_foreach(bf, j, g) {
            if (strcmp(hml_json_str(f, "label", "?"), hml_json_str(g, "label", "!")) ||
                hml_json_int(f, "test", -1) != hml_json_int(g, "test", -2) || k->nf >= FOLDS_MAX)
                continue;
            k->labels[k->nf] = hml_json_str(f, "label", "?");
            k->fb[k->nf] = hml_json_num(json_array_get(bm, j), k->m->name, NAN);
            k->fc[k->nf] = hml_json_num(json_array_get(cm, i), k->m->name, NAN);
            k->nf++;
            found = true;
            break;
        }
        k->unmatched += !found;
    }
    k->unmatched += json_array_size(bf) > json_array_size(cf) ? json_array_size(bf) - json_array_size(cf) : 0;
}

static enum hml_status compare_runs(const json_t *base, const json_t *cand, const struct hml_metric *m,
                                    struct compare *k, struct hml_error *err)
{
    memset(k, 0, sizeof *k);
    if (!m) m = hml_metric_find(hml_json_str(cand, "primary_metric", ""));
    k->m = m;
    if (!ens(base, "metrics") || !ens(cand, "metrics")) {
        hml_fail(err, HML_EINVAL, "experiments", "the %s run has no ensemble to judge (no model finished)",
                 ens(base, "metrics") ? "experiment" : "baseline");
        return hml_hint(err, "see why the models failed: pipeline show_run --run_id %s",
                        hml_json_str(ens(base, "metrics") ? cand : base, "run_id", "latest"));
    }
    if (!m || !json_is_number(json_object_get(ens(base, "metrics"), m->name)) ||
        !json_is_number(json_object_get(ens(cand, "metrics"), m->name))) {
        const char *name = m ? m->name : hml_json_str(cand, "primary_metric", "?");
        hml_fail(err, HML_EINVAL, "experiments", "the %s run does not report %s",
                 json_is_number(json_object_get(ens(base, "metrics"), name)) ? "experiment" : "baseline", name);
        return hml_hint(err, "add it to backtest.metrics (configure backtest --metrics …,%s), or omit baseline_run_id so "
                             "the baseline is run again with it", name);
    }
    k->base = json_number_value(json_object_get(ens(base, "metrics"), m->name));
    k->cand = json_number_value(json_object_get(ens(cand, "metrics"), m->name));
    pair_folds(base, cand, k);
    k->verdict = hml_exp_paired_test(m, NULL, k->fb, k->fc, k->nf, &k->paired);
    return HML_OK;
}

static json_t *paired_json(const struct hml_exp_paired *p)
{
    json_t *o = json_pack("{s:I,s:I,s:I}", "n", (json_int_t)p->n, "better", (json_int_t)p->better, "worse",
                          (json_int_t)p->worse);
    const char *keys[] = {"mean", "sd", "se", "t", "t_crit", "p"};
    const double vals[] = {p->mean, p->sd, p->se, p->t, p->t_crit, p->p};
    for (size_t i = 0; o && i < 6; i++)
        if (json_object_set_new(o, keys[i], hml__exp_real(vals[i]))) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* The journal's "result" of a comparison. */
static json_t *result_json(const struct compare *k, const json_t *base, const json_t *cand, bool reused)
{
    json_t *r = json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:s,s:o,s:s,s:s,s:b,s:I}", "primary_metric", k->m->name, "goal",
                          hml_metric_goal_name(k->m->goal), "baseline", hml__exp_real(k->base), "result",
                          hml__exp_real(k->cand), "delta", hml__exp_real(k->cand - k->base), "improvement",
                          hml__exp_real(hml_exp_gain(k->m, NULL, k->base, k->cand)), "verdict",
                          hml_exp_verdict_names[k->verdict], "paired", paired_json(&k->paired), "baseline_run_id",
                          hml_json_str(base, "run_id", "?"), "run_id", hml_json_str(cand, "run_id", "?"),
                          "baseline_reused", reused, "folds_unmatched", (json_int_t)k->unmatched);
    return r;
}

/* Every metric both runs report: baseline, experiment, delta, better or not. */
static json_t *metric_rows(const json_t *base, const json_t *cand)
{
    json_t *rows = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(cand, "metrics"), i, n) {
        const char *name = json_string_value(n);
        const json_t *a = json_object_get(ens(base, "metrics"), name), *b = json_object_get(ens(cand, "metrics"), name);
        const struct hml_metric *m = hml_metric_find(name);
        if (!json_is_number(a) || !json_is_number(b) || !m) continue;
        double g = hml_exp_gain(m, NULL, json_number_value(a), json_number_value(b));
        json_array_append_new(rows, json_pack("{s:s,s:s,s:f,s:f,s:f,s:o}", "metric", name, "goal",
                                              hml_metric_goal_name(m->goal), "baseline", json_number_value(a),
                                              "experiment", json_number_value(b), "delta",
                                              json_number_value(b) - json_number_value(a), "better",
                                              isnan(g) ? json_null() : json_boolean(g > 0)));
    }
    return rows;
}

static json_t *fold_rows(const struct compare *k)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < k->nf; i++) {
        double g = hml_exp_gain(k->m, NULL, k->fb[i], k->fc[i]);
        json_array_append_new(rows, json_pack("{s:s,s:o,s:o,s:o,s:o}", "fold", k->labels[i], "baseline",
                                              hml__exp_real(k->fb[i]), "experiment", hml__exp_real(k->fc[i]), "delta",
                                              hml__exp_real(k->fc[i] - k->fb[i]), "better",
                                              isnan(g) ? json_null() : json_boolean(g > 0)));
    }
    return rows;
}

/* ---- the answer ------------------------------------------------------------------------------------- */

/* Up to `chars` UTF-8 characters of s (a byte cut could split one and make the text invalid). */
static void put_cut(struct hml_buf *t, const char *s, size_t chars)
{
    size_t i = 0, n = 0;
    while (s[i] && !(((unsigned char)s[i] & 0xC0) != 0x80 && n++ == chars)) i++;
    hml_buf_append(t, s, i);
    if (s[i]) hml_buf_puts(t, "…");
}

static const char *arrow_of(const char *goal)
{
    return !strcmp(goal, "lower") ? " ↓" : !strcmp(goal, "higher") ? " ↑" : "";
}

static void render_answer(struct hml_buf *t, const json_t *rec, const struct compare *k, const json_t *rows,
                          const json_t *folds, const json_t *base, const json_t *cand, bool reused)
{
    char a[40], b[40], d[40], x[40], y[40];
    const struct hml_exp_paired *p = &k->paired;
    hml_buf_printf(t, "## Experiment %s · ", hml_json_str(rec, "experiment_id", "?"));
    put_cut(t, hml_json_str(rec, "description", ""), 200);
    hml_buf_putc(t, '\n');
    /* The verdict first, and what it means: a paired test over folds, not a pooled difference. */
    json_t *delta = hml__exp_real(k->cand - k->base), *mean = hml__exp_real(p->mean), *se = hml__exp_real(p->se);
    hml_buf_printf(t, "**Verdict: %s** — %s%s %s → %s (Δ %s). ", hml_exp_verdict_names[k->verdict], k->m->name,
                   arrow_of(hml_metric_goal_name(k->m->goal)), hml__fmt_num(a, k->base), hml__fmt_num(b, k->cand),
                   hml__exp_num(d, delta, true));
    if (p->n < 2)
        hml_buf_printf(t, "Only %zu fold(s) pair up, so there is no test of fold-to-fold noise: neutral by rule.\n", p->n);
    else
        hml_buf_printf(t, "Paired over %zu folds: mean gain %s %s%.3f × its standard error %s (one-sided t-test, %g%%): "
                          "%s; %zu of %zu folds better.\n", p->n, hml__exp_num(x, mean, true),
                       k->verdict == HML_EXP_IMPROVED ? "beats " : k->verdict == HML_EXP_REGRESSED ? "is below −" : "is within ±",
                       p->t_crit, hml__exp_num(y, se, false), 100 * (1 - HML_EXP_ALPHA),
                       k->verdict == HML_EXP_NEUTRAL ? "within fold-to-fold noise" : "beyond fold-to-fold noise",
                       p->better, p->n);
    json_decref(delta), json_decref(mean), json_decref(se);
    if (k->unmatched) hml_buf_printf(t, "Note: %zu fold(s) of the two runs do not match (the overlay changed the folds); "
                                        "only matching folds are paired.\n", k->unmatched);
    hml_buf_puts(t, "Hypothesis: ");
    put_cut(t, hml_json_str(rec, "hypothesis", ""), 300);
    hml_buf_putc(t, '\n');
    hml_buf_puts(t, "\n| metric | baseline | experiment | Δ | |\n|---|---|---|---|---|\n");
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const json_t *better = json_object_get(r, "better");
        hml_buf_printf(t, "| %s%s | %s | %s | %s | %s |\n", hml_json_str(r, "metric", "?"), arrow_of(hml_json_str(r, "goal", "")),
                       hml__exp_num(a, json_object_get(r, "baseline"), false),
                       hml__exp_num(b, json_object_get(r, "experiment"), false),
                       hml__exp_num(d, json_object_get(r, "delta"), true),
                       json_is_true(better) ? "better" : json_is_false(better) && json_number_value(json_object_get(r, "delta")) != 0
                                                             ? "worse" : "same");
    }
    hml_buf_printf(t, "\n%s by fold:\n| fold | baseline | experiment | Δ |\n|---|---|---|---|\n", k->m->name);
    json_array_foreach(folds, i, r) {
        const json_t *better = json_object_get(r, "better");
        hml_buf_printf(t, "| %s | %s | %s | %s%s |\n", hml_json_str(r, "fold", "?"), hml__exp_num(a, json_object_get(r, "baseline"), false),
                       hml__exp_num(b, json_object_get(r, "experiment"), false), hml__exp_num(d, json_object_get(r, "delta"), true),
                       json_is_true(better) ? " ✓" : "");
    }
    hml_buf_printf(t, "\nRuns: %s (baseline%s), %s (experiment: %lld fits, %lld from the cache).\n",
                   hml_json_str(base, "run_id", "?"), reused ? ", reused" : "",
                   hml_json_str(cand, "run_id", "?"), (long long)hml_json_int(cand, "fits", 0),
                   (long long)hml_json_int(cand, "cache_hits", 0));
}

/* ---- run ------------------------------------------------------------------------------------------------- */

struct run_out {
    json_t *base, *cand;  /* metrics.json of both runs */
    json_t *results;      /* results.json               */
};

static json_t *tag(const char *id, const char *role)
{
    return json_pack("{s:s,s:s}", "id", id, "role", role);
}

/* The baseline named by baseline_run_id, or a fresh backtest of the project's config. */
static enum hml_status baseline(struct exp_ctx *c, const json_t *base_cfg, struct hml_run **r, json_t **stored,
                                struct hml_error *err)
{
    const char *given = hml_param_str(c->call, "baseline_run_id", NULL);
    if (given) return hml__load_run(c->p, given, stored, err);
    struct phase_progress pp = {c->call, "baseline", 0, 50};
    return backtest(c, base_cfg, &pp, r, err);
}

static enum hml_status results_file(const json_t *rec, const struct compare *k, const json_t *rows, const json_t *folds,
                                    const json_t *base, const json_t *cand, const char *hash, const char *base_hash,
                                    struct exp_file *f, json_t **out, struct hml_error *err)
{
    const char *id = hml_json_str(rec, "experiment_id", "?");
    json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:O?,s:O?,s:O,s:O,s:o,s:s,s:s,s:s,s:s,s:O?}", "experiment_id", id,
                          "primary_metric", k->m->name, "goal", hml_metric_goal_name(k->m->goal), "verdict",
                          hml_exp_verdict_names[k->verdict], "primary_delta", hml__exp_real(k->cand - k->base),
                          "improvement", hml__exp_real(hml_exp_gain(k->m, NULL, k->base, k->cand)), "metrics",
                          ens(cand, "metrics"), "baseline_metrics", ens(base, "metrics"), "comparison", rows, "folds",
                          folds, "paired", paired_json(&k->paired), "baseline_run_id", hml_json_str(base, "run_id", "?"),
                          "run_id", hml_json_str(cand, "run_id", "?"), "config_hash", hash, "base_config_hash", base_hash,
                          "changes", json_object_get(rec, "config_changes"));
    char *text = r ? hml_json_pretty(r) : NULL;
    if (!text) {
        json_decref(r);
        return oom(err);
    }
    snprintf(f->rel, sizeof f->rel, "%s/%s/results.json", HML_EXP_DIR_REL, id);
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_printf(&b, "%s\n", text);
    hml_free(text);
    f->len = b.len;
    f->text = hml_buf_detach(&b);
    if (!f->text) {
        json_decref(r);
        return oom(err);
    }
    *out = r;
    return HML_OK;
}

static json_t *trial_json(const json_t *rec, const struct compare *k, const json_t *base, const json_t *cand,
                          const char *hash, const char *base_hash, double seconds)
{
    char now[32];
    now_iso(now);
    return json_pack("{s:I,s:s,s:s,s:s,s:f,s:s,s:s,s:s,s:O?,s:O?,s:O?,s:s}", "trial",
                     (json_int_t)json_array_size(json_object_get(rec, "trials")) + 1, "run_id",
                     hml_json_str(cand, "run_id", "?"), "baseline_run_id", hml_json_str(base, "run_id", "?"), "at", now,
                     "duration_seconds", seconds, "config_hash", hash, "base_config_hash", base_hash, "primary_metric",
                     k->m->name, "metrics", ens(cand, "metrics"), "baseline_metrics", ens(base, "metrics"), "fold_metrics",
                     ens(cand, "fold_metrics"), "verdict", hml_exp_verdict_names[k->verdict]);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs rec (which has an overlay) and updates it: status, trials, result, changes. Adds
 * results.json to files. The two runs are saved in outputs/ as every run is. */
static enum hml_status run_record(struct exp_ctx *c, json_t *rec, struct exp_file *files, size_t *nf,
                                  struct hml_error *err)
{
    const char *id = hml_json_str(rec, "experiment_id", "?");
    double t0 = now_s();
    json_t *merged = NULL, *changes = NULL, *base_cfg = json_deep_copy(c->p->cfg->root), *stored = NULL;
    json_t *base = NULL, *cand = NULL, *rows = NULL, *folds = NULL, *results = NULL;
    struct hml_run *rb = NULL, *rc_run = NULL;
    const struct hml_metric *m = NULL;
    struct compare *k = hml_calloc(1, sizeof *k);
    enum hml_status rc = base_cfg && k ? HML_OK : oom(err);
    if (!rc) rc = hml__exp_merge(c, json_object_get(rec, "overlay"), &merged, &changes, err);
    if (!rc) rc = resolve_metric(c->call, merged, &m, err);
    if (!rc) rc = ensure_metric(merged, m, err);
    if (!rc) rc = ensure_metric(base_cfg, m, err);
    if (!rc) rc = hml__features_refresh_project(c->p, c->res, err); /* the runs read declared features */
    if (!rc) rc = baseline(c, base_cfg, &rb, &stored, err);
    struct phase_progress pp = {c->call, "experiment", stored ? 0 : 50, stored ? 100 : 50};
    if (!rc) rc = backtest(c, merged, &pp, &rc_run, err);
    /* Both runs succeeded: only now does either land in outputs/. */
    struct hml_buf scratch = HML_BUF_INIT;
    json_t *tb = tag(id, "baseline"), *te = tag(id, "experiment");
    if (!rc && rb) rc = hml__pipeline_save(c->p, rb, base_cfg, tb, false, &scratch, &base, c->res, err);
    hml_buf_reset(&scratch);
    if (!rc) rc = hml__pipeline_save(c->p, rc_run, merged, te, false, &scratch, &cand, c->res, err);
    hml_buf_free(&scratch);
    json_decref(tb);
    json_decref(te);
    if (!rc && stored) base = json_incref(stored);
    if (!rc) rc = compare_runs(base, cand, m, k, err);
    char hash[65], base_hash[65];
    if (!rc) {
        hml_config_hash(merged, hash);
        hml_config_hash(c->p->cfg->root, base_hash);
        rows = metric_rows(base, cand);
        folds = fold_rows(k);
        if (json_object_set(rec, "config_changes", changes)) rc = oom(err);
    }
    if (!rc) rc = results_file(rec, k, rows, folds, base, cand, hash, base_hash, &files[(*nf)++], &results, err);
    if (!rc) {
        json_t *trial = trial_json(rec, k, base, cand, hash, base_hash, now_s() - t0);
        json_t *result = result_json(k, base, cand, stored != NULL);
        bool ok = trial && result && !json_array_append_new(json_object_get(rec, "trials"), trial);
        if (!ok) json_decref(trial);
        trial = NULL;
        ok = ok && hml_json_set(rec, "result", result);
        result = NULL;
        ok = ok && hml_json_set(rec, "status", json_string("completed")) && hml_json_set(rec, "config_hash", json_string(hash));
        json_decref(result);
        if (!ok) rc = oom(err);
    }
    if (!rc) {
        for (size_t i = 0; i < rc_run->nmodels; i++)
            if (!rc_run->models[i].ok)
                hml_result_warn(c->res, "model '%s' failed in the experiment run: %s (%s)", rc_run->models[i].name,
                                rc_run->models[i].error, rc_run->models[i].hint);
        render_answer(&c->res->text, rec, k, rows, folds, base, cand, stored != NULL);
        json_object_set(c->res->data, "results", results);
    }
    json_decref(results);
    json_decref(rows);
    json_decref(folds);
    json_decref(base);
    json_decref(cand);
    json_decref(stored);
    json_decref(merged);
    json_decref(changes);
    json_decref(base_cfg);
    hml_run_free(rb);
    hml_run_free(rc_run);
    hml_free(k);
    return rc;
}

static void next_after_run(struct hml_buf *t, const char *id)
{
    hml_buf_printf(t, "Next: experiments log_result --experiment_id %s --verdict keep|partial|revert|inconclusive "
                      "--conclusion \"what happened and why\" (required before the next experiment)\n", id);
}

enum hml_status hml__exp_run(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_REQUIRED, &c, err);
    if (rc) return rc;
    json_t *found = NULL, *rec = NULL;
    struct exp_file files[1] = {{{0}, NULL, 0}};
    size_t nf = 0;
    const char *id = hml_param_str(call, "experiment_id", "");
    rc = hml_exp_lookup(c.j, id, &found, err);
    char idbuf[24]; /* the canonical id, kept past the commit that replaces the journal */
    if (!rc) id = (snprintf(idbuf, sizeof idbuf, "%s", hml_json_str(found, "experiment_id", id)), idbuf);
    enum hml_exp_status st = rc ? HML_EXP_CREATED : hml_exp_status_of(found);
    if (!rc && st >= HML_EXP_CONCLUDED) {
        hml_fail(err, HML_ECONFLICT, "experiments", "%s is %s; its result is part of the record", id, hml_exp_status_names[st]);
        rc = hml_hint(err, "start a follow-up instead: experiments create --parent_id %s --hypothesis \"…\"", id);
    }
    if (!rc && !json_object_get(found, "overlay")) {
        hml_fail(err, HML_EBLOCKED, "guardrail.overlay_required", "%s has no overlay: a run compares config + overlay "
                                                                  "with the config", id);
        hml_hint(err, "write one first: experiments write_overlay --experiment_id %s --overlay "
                      "'{\"models.<name>.params.<key>\": …}', or --overlay '{}' to run the baseline on purpose", id);
        rc = hml__exp_refused(&c, id, err);
    }
    if (!rc) rc = hml__exp_gate_logged(&c, id, err);
    if (!rc) rc = hml__exp_gate_retry(&c, id, json_object_get(found, "overlay"), err);
    if (!rc && !(rec = json_deep_copy(found))) rc = hml_fail(err, HML_ENOMEM, "experiments", "out of memory");
    if (!rc) rc = run_record(&c, rec, files, &nf, err);
    if (!rc) {
        rc = hml__exp_commit(&c, &rec, 1, files, nf, NULL, err);
    } else {
        json_decref(rec);
        hml__exp_files_free(files, nf);
    }
    if (!rc) {
        if (st == HML_EXP_COMPLETED) hml_result_warn(res, "%s had run before; this run is trial %zu", id,
                                                     json_array_size(json_object_get(hml_exp_find(c.j, id), "trials")));
        next_after_run(&res->text, id);
        json_object_set_new(res->data, "experiment_id", json_string(id));
    }
    hml__exp_close(&c);
    return rc;
}

/* ---- quick_run ----------------------------------------------------------------------------------------- */

enum hml_status hml__exp_quick_run(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_REQUIRED, &c, err);
    if (rc) return rc;
    char plan_id[24] = "";
    json_t *rec = NULL, *norm = NULL, *meta = NULL, *merged = NULL, *changes = NULL;
    struct exp_file files[3] = {{{0}, NULL, 0}, {{0}, NULL, 0}, {{0}, NULL, 0}};
    size_t nf = 0;
    rc = hml__exp_new_record(&c, NULL, &rec, err);
    if (!rc) rc = hml_exp_overlay_normalize(hml_param_json(call, "overlay"), &norm, &meta, err);
    if (!rc) rc = hml__exp_merge(&c, norm, &merged, &changes, err);
    if (!rc) rc = hml__exp_gate_create(&c, plan_id, err);
    if (!rc) rc = hml__exp_gate_retry(&c, NULL, norm, err);
    if (!rc) rc = hml_json_set(rec, "plan_id", json_string(plan_id)) ? HML_OK : oom(err);
    if (!rc) rc = hml__exp_hypothesis_file(rec, &files[nf++], err);
    if (!rc) rc = hml__exp_set_overlay(&c, rec, norm, changes, files, &nf, err);
    if (!rc) rc = run_record(&c, rec, files, &nf, err);
    char id[24];
    snprintf(id, sizeof id, "%s", rec ? hml_json_str(rec, "experiment_id", "") : "");
    if (!rc) {
        rc = hml__exp_commit(&c, &rec, 1, files, nf, NULL, err);
    } else {
        json_decref(rec);
        hml__exp_files_free(files, nf);
    }
    if (!rc) {
        if (json_object_size(meta))
            hml_result_warn(res, "description/hypothesis inside an overlay are notes, not config: they were left out");
        next_after_run(&res->text, id);
        json_object_set_new(res->data, "experiment_id", json_string(id));
    }
    json_decref(norm);
    json_decref(meta);
    json_decref(merged);
    json_decref(changes);
    hml__exp_close(&c);
    return rc;
}

/* ---- promote --------------------------------------------------------------------------------------------- */

/* Lifecycle order: promote follows a run and a logged, positive conclusion. */
static enum hml_status promote_order(struct exp_ctx *c, const json_t *rec, struct hml_error *err)
{
    const char *id = hml_json_str(rec, "experiment_id", "?");
    switch (hml_exp_status_of(rec)) {
    case HML_EXP_CREATED:
        hml_fail(err, HML_EBLOCKED, "guardrail.promote_after_log", "%s has not run: there is nothing to promote", id);
        hml_hint(err, "run it first: experiments run --experiment_id %s; then log_result, then promote", id);
        return hml__exp_refused(c, id, err);
    case HML_EXP_COMPLETED:
        hml_fail(err, HML_EBLOCKED, "guardrail.promote_after_log", "%s has no logged result: promote comes after "
                                                                   "log_result", id);
        hml_hint(err, "log it first: experiments log_result --experiment_id %s --verdict keep --conclusion \"what "
                      "happened and why\"; then promote again", id);
        return hml__exp_refused(c, id, err);
    case HML_EXP_PROMOTED:
        hml_fail(err, HML_ECONFLICT, "experiments", "%s is promoted already", id);
        return hml_hint(err, "its overlay is in the config; configure show displays it");
    case HML_EXP_ABANDONED:
        hml_fail(err, HML_ECONFLICT, "experiments", "%s was closed without a run", id);
        return hml_hint(err, "start a new experiment: experiments create --parent_id %s --hypothesis \"…\"", id);
    case HML_EXP_CONCLUDED:
    case HML_EXP_STATUSES: break;
    }
    const char *v = hml_json_str(json_object_get(rec, "conclusion"), "verdict", "");
    if (strcmp(v, "keep") && strcmp(v, "partial")) {
        hml_fail(err, HML_EBLOCKED, "guardrail.promote_verdict", "%s is logged '%s': only keep or partial is promoted",
                 id, v);
        hml_hint(err, "if you now think it helped, log it again: experiments log_result --experiment_id %s --verdict "
                      "keep --conclusion \"…\"; then promote", id);
        return hml__exp_refused(c, id, err);
    }
    return HML_OK;
}

/* The largest jump the experiment makes on metric m: the ensemble's gain, or a model the
 * overlay touched against the baseline's best single model. An average of three models
 * dilutes one leaky member; the member itself does not hide. `what` names the source. */
static double largest_gain(const json_t *rec, const json_t *base, const json_t *cand, const struct compare *k, char *what,
                           size_t cap)
{
    double best = hml_exp_gain(k->m, NULL, k->base, k->cand);
    char a[32], b[32];
    snprintf(what, cap, "the ensemble %s → %s", hml__fmt_num(a, k->base), hml__fmt_num(b, k->cand));
    double bv = NAN;
    const char *bname = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(base, "models"), i, x) {
        const json_t *v = json_object_get(json_object_get(x, "metrics"), k->m->name);
        if (json_is_true(json_object_get(x, "ok")) && json_is_number(v) &&
            (!bname || hml_metric_better(k->m, NULL, json_number_value(v), bv)))
            bv = json_number_value(v), bname = hml_json_str(x, "name", "?");
    }
    const json_t *touched = json_object_get(json_object_get(rec, "overlay"), "models");
    json_array_foreach(json_object_get(cand, "models"), i, x) {
        const char *name = hml_json_str(x, "name", "?");
        const json_t *v = json_object_get(json_object_get(x, "metrics"), k->m->name);
        if (!bname || !json_object_get(touched, name) || !json_is_true(json_object_get(x, "ok")) || !json_is_number(v)) continue;
        double g = hml_exp_gain(k->m, NULL, bv, json_number_value(v));
        if (!(g > best)) continue;
        best = g;
        snprintf(what, cap, "model '%s' %s against the baseline's best model '%s' %s", name,
                 hml__fmt_num(a, json_number_value(v)), bname, hml__fmt_num(b, bv));
    }
    return best;
}

/* Re-judges the last trial on the metric asked for (its runs are in outputs/). */
static enum hml_status promote_judge(struct exp_ctx *c, const json_t *rec, struct compare *k, double *gain, char *what,
                                     size_t what_cap, double *limit, char *why, size_t why_cap, struct hml_error *err)
{
    const json_t *trials = json_object_get(rec, "trials");
    const json_t *last = json_array_get(trials, json_array_size(trials) - 1);
    const char *id = hml_json_str(rec, "experiment_id", "?");
    json_t *base = NULL, *cand = NULL;
    enum hml_status rc = hml__load_run(c->p, hml_json_str(last, "baseline_run_id", ""), &base, err);
    if (!rc) rc = hml__load_run(c->p, hml_json_str(last, "run_id", ""), &cand, err);
    if (rc == HML_ENOTFOUND) {
        hml_error_prefix(err, "the runs of %s are gone from outputs/", id);
        hml_hint(err, "test it again: experiments create --parent_id %s, the same overlay, and human_override=true past "
                      "do_not_retry", id);
    }
    /* By default the metric the experiment was judged on, not today's primary metric. */
    const struct hml_metric *m = hml_metric_find(hml_json_str(json_object_get(rec, "result"), "primary_metric", ""));
    if (!rc && hml_param_has(c->call, "primary_metric")) rc = resolve_metric(c->call, c->p->cfg->root, &m, err);
    if (!rc) rc = compare_runs(base, cand, m, k, err);
    if (!rc) {
        *gain = largest_gain(rec, base, cand, k, what, what_cap);
        *limit = hml_exp_plausible_max(k->m, c->p->cfg->root, k->base, k->fb, k->nf, why, why_cap);
    }
    json_decref(base);
    json_decref(cand);
    return rc;
}

enum hml_status hml__exp_promote(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_IF_ANY, &c, err);
    if (rc) return rc;
    json_t *found = NULL, *rec = NULL, *merged = NULL, *changes = NULL;
    struct compare *k = hml_calloc(1, sizeof *k);
    const char *id = hml_param_str(call, "experiment_id", "");
    double limit = 0, gain = NAN;
    char why[200] = "", what[200] = "";
    bool override = hml_param_bool(call, "human_override", false);
    rc = k ? hml_exp_lookup(c.j, id, &found, err) : oom(err);
    char idbuf[24]; /* the canonical id, kept past the commit that replaces the journal */
    if (!rc) id = (snprintf(idbuf, sizeof idbuf, "%s", hml_json_str(found, "experiment_id", id)), idbuf);
    if (!rc) rc = promote_order(&c, found, err);
    if (!rc) rc = promote_judge(&c, found, k, &gain, what, sizeof what, &limit, why, sizeof why, err);
    char a[40], b[40], g[40];
    if (!rc && k->verdict != HML_EXP_IMPROVED) {
        hml_fail(err, HML_EBLOCKED, "guardrail.promote_improved", "%s did not improve %s by the paired test (%s: %s → %s)",
                 id, k->m->name, hml_exp_verdict_names[k->verdict], hml__fmt_num(a, k->base), hml__fmt_num(b, k->cand));
        hml_hint(err, "nothing to promote; a neutral change stays out of the config. Try another idea: experiments "
                      "create --parent_id %s --hypothesis \"…\"", id);
        rc = hml__exp_refused(&c, id, err);
    }
    if (!rc && gain > limit) {
        if (!override) {
            hml_fail(err, HML_EBLOCKED, "guardrail.suspicious_improvement", "%s improves %s by %s (%s), more than is "
                     "plausible (%s): most likely a leak", id, k->m->name, hml__fmt_num(g, gain), what, why);
            hml_hint(err, "look for the leak first: which new input knows the outcome? (pipeline explain --name <model> "
                          "shows what drives a model). Only if a person is sure it is real: promote again with "
                          "human_override=true");
            rc = hml__exp_refused(&c, id, err);
        } else {
            hml__exp_guard_note(&c, "suspicious_improvement", true, id, "%s improves %s by %s (%s), more than is plausible (%s)",
                                id, k->m->name, hml__fmt_num(g, gain), what, why);
        }
    }
    if (!rc) rc = hml__exp_merge(&c, json_object_get(found, "overlay"), &merged, &changes, err);
    char before[65], after[65], now[32];
    if (!rc) {
        hml_config_hash(c.p->cfg->root, before);
        hml_config_hash(merged, after);
        now_iso(now);
        const json_t *trial = json_array_get(json_object_get(found, "trials"), json_array_size(json_object_get(found, "trials")) - 1);
        if (strcmp(hml_json_str(trial, "base_config_hash", before), before))
            hml_result_warn(res, "the config changed since %s ran: its overlay is merged over today's config, which it "
                                 "was not tested against", id);
        rec = json_deep_copy(found);
        json_t *pr = json_pack("{s:s,s:b,s:s,s:s,s:s,s:o,s:o,s:s}", "at", now, "human_override", override && gain > limit,
                               "config_hash_before", before, "config_hash_after", after, "primary_metric", k->m->name,
                               "largest_improvement", hml__exp_real(gain), "plausible_max", hml__exp_real(limit), "limit_rule", why);
        if (!rec || !pr || !hml_json_set(rec, "promoted", pr) || !hml_json_set(rec, "status", json_string("promoted")))
            rc = oom(err);
    }
    if (!rc) {
        rc = hml__exp_commit(&c, &rec, 1, NULL, 0, merged, err);
    } else {
        json_decref(rec);
    }
    if (!rc) {
        hml_buf_printf(&res->text, "Promoted %s: its overlay is now in config/*.yaml (%s %s → %s, %s).\n", id, k->m->name,
                       hml__fmt_num(a, k->base), hml__fmt_num(b, k->cand), hml_exp_verdict_names[k->verdict]);
        /* What changed in the config, against the config as it was a moment ago. */
        size_t i;
        json_t *ch;
        json_array_foreach(changes, i, ch) hml_buf_printf(&res->text, "- `%s`\n", hml_json_str(ch, "path", "?"));
        hml_buf_puts(&res->text, "Next: experiments create --hypothesis \"…\" builds on the new config.\n");
        json_object_set_new(res->data, "experiment_id", json_string(id));
        json_object_set(res->data, "changes", changes);
        json_object_set_new(res->data, "config_hash", json_string(after));
    }
    json_decref(merged);
    json_decref(changes);
    hml_free(k);
    hml__exp_close(&c);
    return rc;
}
