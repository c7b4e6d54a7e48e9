/* t_pipeline.c — the `pipeline` tool: run backtests and read their results.
 *
 * A run's artifacts (outputs/<run_id>/metrics.json, predictions.csv, report.md)
 * land together through one transaction after the backtest succeeded; the store
 * gets a row per run and per metric for listing. Every view of a run (the answer
 * of run_backtest, show_run, compare_*) is rendered from metrics.json, so they
 * always agree. */
#include "pipeline_int.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/io.h"
#include "harness/runner.h"
#include "harness/store.h"

/* ---- rendering a run ---------------------------------------------------------------------------- */

static const char *arrow(const char *metric)
{
    const struct hml_metric *m = hml_metric_find(metric);
    if (!m) return "";
    return m->goal == HML_GOAL_MIN ? " ↓" : m->goal == HML_GOAL_MAX ? " ↑" : "";
}

static void metric_cells(const json_t *names, const json_t *values, struct hml_buf *t)
{
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) {
        char v[32];
        const json_t *x = json_object_get(values, json_string_value(n));
        hml_buf_printf(t, " %s |", json_is_number(x) ? hml__fmt_num(v, json_number_value(x)) : "–");
    }
    hml_buf_putc(t, '\n');
}

/* Is a better than b for the metric (NaN/null never better)? */
static bool better(const char *metric, const json_t *a, const json_t *b)
{
    const struct hml_metric *m = hml_metric_find(metric);
    if (!m || !json_is_number(a)) return false;
    if (!json_is_number(b)) return true;
    return hml_metric_better(m, NULL, json_number_value(a), json_number_value(b));
}

static void render_table(const json_t *run, struct hml_buf *t)
{
    const json_t *names = json_object_get(run, "metrics"), *ens = json_object_get(run, "ensemble");
    size_t i;
    json_t *n, *m;
    hml_buf_puts(t, "| model |");
    json_array_foreach(names, i, n) hml_buf_printf(t, " %s%s |", json_string_value(n), arrow(json_string_value(n)));
    hml_buf_puts(t, "\n|---|");
    json_array_foreach(names, i, n) hml_buf_puts(t, "---|");
    hml_buf_putc(t, '\n');
    if (ens) {
        hml_buf_printf(t, "| ensemble (%s) |", hml_json_str(ens, "method", "average"));
        metric_cells(names, json_object_get(ens, "metrics"), t);
    }
    json_array_foreach(json_object_get(run, "models"), i, m) {
        if (!json_is_true(json_object_get(m, "ok"))) continue;
        hml_buf_printf(t, "| %s |", hml_json_str(m, "name", "?"));
        metric_cells(names, json_object_get(m, "metrics"), t);
    }
}

static void render_best(const json_t *run, struct hml_buf *t)
{
    const char *primary = hml_json_str(run, "primary_metric", "");
    const char *best = NULL;
    const json_t *best_v = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(run, "models"), i, m) {
        const json_t *v = json_object_get(json_object_get(m, "metrics"), primary);
        if (json_is_true(json_object_get(m, "ok")) && better(primary, v, best_v)) best = hml_json_str(m, "name", "?"), best_v = v;
    }
    const json_t *ev = json_object_get(json_object_get(json_object_get(run, "ensemble"), "metrics"), primary);
    char a[32], b[32];
    if (best)
        hml_buf_printf(t, "Best single model by %s: %s %s", primary, best, hml__fmt_num(a, json_number_value(best_v)));
    if (best && json_is_number(ev))
        hml_buf_printf(t, "; the %s ensemble %s it (%s)",
                       hml_json_str(json_object_get(run, "ensemble"), "method", "average"),
                       better(primary, ev, best_v) ? "beats" : "does not beat", hml__fmt_num(b, json_number_value(ev)));
    if (best) hml_buf_puts(t, ".\n");
}

static void render_fold_table(const json_t *run, struct hml_buf *t)
{
    const char *primary = hml_json_str(run, "primary_metric", "");
    const json_t *models = json_object_get(run, "models");
    size_t i, f;
    json_t *m, *fold;
    hml_buf_printf(t, "\n%s by fold:\n| fold | rows |", primary);
    json_array_foreach(models, i, m) if (json_is_true(json_object_get(m, "ok"))) hml_buf_printf(t, " %s |", hml_json_str(m, "name", "?"));
    hml_buf_puts(t, " average |\n|---|---|");
    json_array_foreach(models, i, m) if (json_is_true(json_object_get(m, "ok"))) hml_buf_puts(t, "---|");
    hml_buf_puts(t, "---|\n");
    const json_t *ens_folds = json_object_get(json_object_get(run, "ensemble"), "fold_metrics");
    json_array_foreach(json_object_get(run, "folds"), f, fold) {
        hml_buf_printf(t, "| %s | %lld |", hml_json_str(fold, "label", "?"), (long long)hml_json_int(fold, "test", 0));
        char v[32];
        json_array_foreach(models, i, m) {
            if (!json_is_true(json_object_get(m, "ok"))) continue;
            const json_t *x = json_object_get(json_array_get(json_object_get(m, "fold_metrics"), f), primary);
            hml_buf_printf(t, " %s |", json_is_number(x) ? hml__fmt_num(v, json_number_value(x)) : "–");
        }
        const json_t *x = json_object_get(json_array_get(ens_folds, f), primary);
        hml_buf_printf(t, " %s |\n", json_is_number(x) ? hml__fmt_num(v, json_number_value(x)) : "–");
    }
}

static void render_run(const json_t *run, bool full, struct hml_buf *t)
{
    char a[32];
    const json_t *folds = json_object_get(run, "folds");
    hml_buf_printf(t, "## Backtest %s · %s, %zu folds, %s rows · %.1f s (%lld fits, %lld cached)\n",
                   hml_json_str(run, "run_id", "?"), hml_json_str(run, "cv_strategy", "?"), json_array_size(folds),
                   hml__fmt_count(a, (unsigned long long)hml_json_int(run, "rows", 0)), hml_json_num(run, "seconds", 0),
                   (long long)hml_json_int(run, "fits", 0), (long long)hml_json_int(run, "cache_hits", 0));
    render_table(run, t);
    render_best(run, t);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(run, "models"), i, m) {
        const json_t *e = json_object_get(m, "error");
        if (e) hml_buf_printf(t, "Failed: %s — %s (%s)\n", hml_json_str(m, "name", "?"), hml_json_str(e, "message", ""),
                              hml_json_str(e, "hint", ""));
        if (hml_json_str(m, "notes", NULL)) hml_buf_printf(t, "Note on %s: %s\n", hml_json_str(m, "name", "?"), hml_json_str(m, "notes", ""));
    }
    const json_t *ens = json_object_get(run, "ensemble");
    const json_t *coef = json_object_get(ens, "coefficients");
    if (!coef) coef = json_object_get(ens, "weights");
    if (json_object_size(coef)) {
        hml_buf_printf(t, "%s:", json_object_get(ens, "coefficients") ? "Meta-learner coefficients (mean over folds)" : "Weights");
        const char *k;
        json_t *v;
        char num[32];
        json_object_foreach((json_t *)coef, k, v) hml_buf_printf(t, " %s %s", k, hml__fmt_num(num, json_number_value(v)));
        hml_buf_putc(t, '\n');
    }
    if (hml_json_str(ens, "note", NULL)) hml_buf_printf(t, "Note on the ensemble: %s\n", hml_json_str(ens, "note", ""));
    if (hml_json_str(run, "notes", NULL)) hml_buf_printf(t, "Note: %s\n", hml_json_str(run, "notes", ""));
    if (full) render_fold_table(run, t);
}

/* ---- artifacts -------------------------------------------------------------------------------------- */

static enum hml_status add_pred_column(struct hml_frame *f, const char *name, size_t rows, size_t k, const double *pred,
                                       size_t j, struct hml_error *err)
{
    struct hml_column *c = hml_column_new(HML_TYPE_F64, rows);
    if (!c) return hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    for (size_t i = 0; i < rows; i++) {
        double v = pred[i * k + j];
        if (isnan(v)) hml_column_set_null(c, i);
        else hml_f64(c)[i] = v;
    }
    enum hml_status rc = hml_frame_add(f, name, c, err);
    hml_column_unref(c);
    return rc;
}

/* pred_<model> (pred_<model>_<class> for multiclass) of every model that ran and of
 * the ensemble, `rows` rows each: out-of-fold for a backtest, new rows for predict. */
static enum hml_status add_pred_columns(struct hml_frame *f, const struct hml_run *r, size_t rows, struct hml_error *err)
{
    char name[160];
    enum hml_status rc = HML_OK;
    for (size_t m = 0; !rc && m <= r->nmodels; m++) {
        const double *p = m < r->nmodels ? r->models[m].oof : r->ensemble;
        if (!p || (m < r->nmodels && !r->models[m].ok)) continue;
        const char *mn = m < r->nmodels ? r->models[m].name : "ensemble";
        for (size_t j = 0; !rc && j < r->k; j++) {
            if (r->k > 1) snprintf(name, sizeof name, "pred_%s_%s", mn, r->classes[j]);
            else snprintf(name, sizeof name, "pred_%s", mn);
            rc = add_pred_column(f, name, rows, r->k, p, j, err);
        }
    }
    return rc;
}

/* predictions.csv: keys and target of each scored row, its fold, and every
 * model's out-of-fold prediction (one column per class for multiclass). */
static enum hml_status predictions_frame(const struct hml_run *r, const struct hml_frame *table, const json_t *root,
                                         struct hml_frame **out, struct hml_error *err)
{
    const json_t *data = json_object_get(root, "data");
    size_t idx[64], n = 0, i;
    json_t *k;
    json_array_foreach(json_object_get(data, "key_columns"), i, k) {
        long j = hml_frame_find(table, json_string_value(k));
        if (j >= 0 && n < 63) idx[n++] = (size_t)j;
    }
    long tj = hml_frame_find(table, hml_json_str(data, "target_column", ""));
    if (tj >= 0) idx[n++] = (size_t)tj;
    struct hml_frame *sel = hml_frame_select(table, idx, n);
    struct hml_frame *f = sel ? hml_frame_take(sel, r->table_row, r->rows) : NULL;
    hml_frame_free(sel);
    if (!f) return hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    struct hml_column *fold = hml_column_new(HML_TYPE_STR, r->rows);
    enum hml_status rc = fold ? HML_OK : hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    for (size_t fi = 0; !rc && fi < r->folds->n; fi++) {
        const struct hml_cv_fold *fd = &r->folds->folds[fi];
        int32_t code = hml_dict_intern(fold->dict, fd->label, strlen(fd->label));
        for (size_t t = 0; t < fd->test_n; t++) hml_codes(fold)[fd->test[t]] = code;
    }
    if (!rc) rc = hml_frame_add(f, "fold", fold, err);
    hml_column_unref(fold);
    /* The table row (1-based) joins predictions back even without key columns. */
    struct hml_column *row = rc ? NULL : hml_column_new(HML_TYPE_I64, r->rows);
    if (!rc && !row) rc = hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    for (size_t t = 0; !rc && t < r->rows; t++) hml_i64(row)[t] = (int64_t)r->table_row[t] + 1;
    if (!rc) rc = hml_frame_add(f, "row", row, err);
    hml_column_unref(row);
    if (!rc) rc = add_pred_columns(f, r, r->rows, err);
    if (rc) {
        hml_frame_free(f);
        return rc;
    }
    *out = f;
    return HML_OK;
}

static enum hml_status stage_text(struct hml_txn *txn, const char *dir, const char *rel, const char *text,
                                  size_t len, struct hml_error *err)
{
    char *path = hml_path_join(dir, rel);
    enum hml_status rc = path ? hml_txn_write(txn, path, text, len, err) : hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    hml_free(path);
    return rc;
}

static enum hml_status save_artifacts(const struct hml_project *p, const struct hml_run *r, const json_t *run,
                                      const json_t *config, const char *report, struct hml_error *err)
{
    char rel[160];
    struct hml_frame *preds = NULL;
    struct hml_buf csv = HML_BUF_INIT;
    char *json = hml_json_pretty(run);
    struct hml_txn *txn = hml_txn_new();
    enum hml_status rc = json && txn ? HML_OK : hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    if (!rc) rc = predictions_frame(r, p->table, config, &preds, err);
    if (!rc) rc = hml_csv_write(preds, &csv, err);
    snprintf(rel, sizeof rel, "outputs/%s/metrics.json", r->run_id);
    if (!rc) rc = stage_text(txn, p->dir, rel, json, strlen(json), err);
    snprintf(rel, sizeof rel, "outputs/%s/predictions.csv", r->run_id);
    if (!rc) rc = stage_text(txn, p->dir, rel, csv.p ? csv.p : "", csv.len, err);
    snprintf(rel, sizeof rel, "outputs/%s/report.md", r->run_id);
    if (!rc) rc = stage_text(txn, p->dir, rel, report, strlen(report), err);
    if (!rc) rc = hml_txn_commit(txn, err);
    hml_txn_free(txn);
    hml_buf_free(&csv);
    hml_frame_free(preds);
    hml_free(json);
    return rc;
}

static void bind_metrics(sqlite3_stmt *st, const char *run_id, const char *scope, const json_t *metrics)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)metrics, name, v) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, scope, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_TRANSIENT);
        if (json_is_number(v)) sqlite3_bind_double(st, 4, json_number_value(v));
        else sqlite3_bind_null(st, 4);
        sqlite3_step(st);
    }
}

/* The store keeps a row per run for listing; the files remain the source of truth. */
static void record_run(const struct hml_project *p, const struct hml_run *r, const json_t *run, const json_t *config,
                       const char *experiment_id, struct hml_result *res)
{
    struct hml_store *st;
    struct hml_error e;
    if (hml_store_open(p->dir, &st, &e)) {
        hml_result_warn(res, "run not recorded in the store: %s", e.message);
        return;
    }
    sqlite3 *db = hml_store_db(st);
    char hash[65], now[32];
    hml_config_hash(config, hash);
    time_t tt = time(NULL);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *primary = hml_json_str(run, "primary_metric", "");
    const json_t *pv = json_object_get(json_object_get(json_object_get(run, "ensemble"), "metrics"), primary);
    sqlite3_stmt *s1 = NULL, *s2 = NULL;
    hml_store_begin(st, &e);
    sqlite3_prepare_v2(db, "INSERT INTO runs(run_id, created_at, config_hash, status, primary_metric, value, duration_s, "
                           "experiment_id) VALUES (?, ?, ?, 'success', ?, ?, ?, ?)", -1, &s1, NULL);
    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO run_metrics(run_id, scope, metric, value) VALUES (?, ?, ?, ?)", -1, &s2, NULL);
    if (s1 && s2) {
        sqlite3_bind_text(s1, 1, r->run_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s1, 2, now, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s1, 3, hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s1, 4, primary, -1, SQLITE_TRANSIENT);
        if (json_is_number(pv)) sqlite3_bind_double(s1, 5, json_number_value(pv));
        sqlite3_bind_double(s1, 6, r->seconds);
        sqlite3_bind_text(s1, 7, experiment_id, -1, SQLITE_TRANSIENT);
        sqlite3_step(s1);
        for (size_t i = 0; i < r->nmodels; i++)
            if (r->models[i].ok) bind_metrics(s2, r->run_id, r->models[i].name, r->models[i].metrics);
        if (r->ensemble_metrics) bind_metrics(s2, r->run_id, "ensemble", r->ensemble_metrics);
    }
    sqlite3_finalize(s1);
    sqlite3_finalize(s2);
    if (hml_store_commit(st, &e)) hml_result_warn(res, "run not recorded in the store: %s", e.message);
    hml_store_close(st);
}

static void strip_folds(json_t *run)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(run, "models"), i, m) json_object_del(m, "fold_metrics");
    json_object_del(json_object_get(run, "ensemble"), "fold_metrics");
}

/* ---- run_backtest -------------------------------------------------------------------------------------- */

void hml__run_progress(void *ud, double done, double total, const char *msg)
{
    const struct hml_call *call = ud;
    hml_progress(call, done, total, "%s", msg);
}

enum hml_status hml__pipeline_save(const struct hml_project *p, const struct hml_run *r, const json_t *config,
                                   const json_t *tag, bool full, struct hml_buf *text, json_t **run_out,
                                   struct hml_result *res, struct hml_error *err)
{
    json_t *run = hml_run_json(r);
    if (!run || (tag && json_object_set(run, "experiment", (json_t *)tag))) {
        json_decref(run);
        return hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    }
    render_run(run, full, text);
    hml_buf_printf(text, "Artifacts: outputs/%s/ (metrics.json, predictions.csv, report.md)\n", r->run_id);
    enum hml_status rc = hml_buf_ok(text) ? save_artifacts(p, r, run, config, hml_buf_str(text), err)
                                          : hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    if (!rc) record_run(p, r, run, config, hml_json_str(tag, "id", NULL), res);
    if (rc || !run_out) json_decref(run);
    else *run_out = run;
    return rc;
}

static enum hml_status a_run_backtest(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p = NULL;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (!rc) rc = hml__features_refresh_project(p, res, err); /* stale features first: the run reads them */
    if (rc) return hml__project_free(p), rc;
    const char *only[64];
    size_t only_n = 0, i;
    json_t *v;
    json_array_foreach(hml_param_json(call, "models"), i, v) if (only_n < 64) only[only_n++] = json_string_value(v);
    struct hml_run_opts o = {
        .project_dir = p->dir, .table = p->table, .config = p->cfg->root, .only_models = only_n ? only : NULL,
        .only_n = only_n, .fold_values = hml_param_json(call, "fold_values"), .progress = hml__run_progress,
        .progress_ud = call, .cancel = call->cancel, .nthread = (int)hml_param_int(call, "nthread", 0),
    };
    struct hml_run *r = NULL;
    json_t *run = NULL;
    bool full = !strcmp(hml_param_str(call, "detail", "summary"), "full");
    rc = hml_backtest(&o, &r, err);
    if (!rc) rc = hml__pipeline_save(p, r, p->cfg->root, NULL, full, &res->text, &run, res, err);
    if (!rc) {
        json_object_update(res->data, run);
        if (!full) strip_folds(res->data); /* per-fold numbers stay in metrics.json */
    }
    json_decref(run);
    hml_run_free(r);
    hml__project_free(p);
    return rc;
}

/* ---- reading runs ------------------------------------------------------------------------------------------ */

/* Run ids, newest first, from the outputs directory (the store may be gone). */
static size_t list_run_ids(const struct hml_project *p, char ids[][48], size_t cap)
{
    char *dir = hml__project_path(p, "outputs");
    DIR *d = dir ? opendir(dir) : NULL;
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, "run-", 4) && n < cap && strlen(e->d_name) < 48) snprintf(ids[n++], 48, "%s", e->d_name);
    if (d) closedir(d);
    hml_free(dir);
    /* Ids start with a UTC timestamp, so reverse byte order is newest first. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(ids[j - 1], ids[j]) < 0; j--) {
            char t[48];
            memcpy(t, ids[j], 48);
            memcpy(ids[j], ids[j - 1], 48);
            memcpy(ids[j - 1], t, 48);
        }
    return n;
}

#define RUNS_MAX 512

enum hml_status hml__load_run(const struct hml_project *p, const char *run_id, json_t **out, struct hml_error *err)
{
    static _Thread_local char ids[RUNS_MAX][48];
    size_t n = list_run_ids(p, ids, RUNS_MAX);
    if (!run_id || !strcmp(run_id, "latest")) {
        if (!n) {
            hml_fail(err, HML_ENOTFOUND, "pipeline", "there are no runs yet");
            return hml_hint(err, "pipeline run_backtest makes one");
        }
        run_id = ids[0];
    }
    char rel[128];
    snprintf(rel, sizeof rel, "outputs/%s/metrics.json", run_id);
    char *path = hml__project_path(p, rel), *text = NULL;
    size_t len;
    enum hml_status rc = path && hml_path_exists(path) ? hml_read_file(path, 64u << 20, &text, &len, err) : HML_ENOTFOUND;
    hml_free(path);
    if (rc == HML_ENOTFOUND) {
        const char *names[RUNS_MAX];
        for (size_t i = 0; i < n; i++) names[i] = ids[i];
        hml_fail(err, HML_ENOTFOUND, "pipeline", "no run '%s'", run_id);
        return n ? hml_error_choices(err, run_id, names, n < 20 ? n : 20) : hml_hint(err, "there are no runs yet");
    }
    if (!rc) rc = hml_json_parse(text, len, out, err);
    hml_free(text);
    return rc;
}

static enum hml_status a_show_run(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    json_t *run = NULL;
    rc = hml__load_run(p, hml_param_str(call, "run_id", NULL), &run, err);
    if (!rc) {
        bool full = !strcmp(hml_param_str(call, "detail", "summary"), "full");
        render_run(run, full, &res->text);
        json_object_update(res->data, run);
        if (!full) strip_folds(res->data);
    }
    json_decref(run);
    hml__project_free(p);
    return rc;
}

static enum hml_status a_list_runs(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    static _Thread_local char ids[RUNS_MAX][48];
    size_t n = list_run_ids(p, ids, RUNS_MAX), shown = n < 20 ? n : 20;
    json_t *list = json_array();
    if (!n) hml_buf_puts(&res->text, "No runs yet: pipeline run_backtest\n");
    else hml_buf_puts(&res->text, "| run | strategy | primary | ensemble | best model |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < shown; i++) {
        json_t *run = NULL;
        struct hml_error e;
        if (hml__load_run(p, ids[i], &run, &e)) continue;
        const char *primary = hml_json_str(run, "primary_metric", "");
        const json_t *ev = json_object_get(json_object_get(json_object_get(run, "ensemble"), "metrics"), primary);
        const char *best = "–";
        const json_t *bv = NULL;
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(run, "models"), k, m) {
            const json_t *v = json_object_get(json_object_get(m, "metrics"), primary);
            if (better(primary, v, bv)) bv = v, best = hml_json_str(m, "name", "?");
        }
        char a[32], b[32];
        hml_buf_printf(&res->text, "| %s | %s | %s | %s | %s %s |\n", ids[i], hml_json_str(run, "cv_strategy", "?"), primary,
                       json_is_number(ev) ? hml__fmt_num(a, json_number_value(ev)) : "–", best,
                       json_is_number(bv) ? hml__fmt_num(b, json_number_value(bv)) : "");
        json_array_append_new(list, json_pack("{s:s,s:s,s:O?}", "run_id", ids[i], "primary_metric", primary, "ensemble", ev));
        json_decref(run);
    }
    if (n > shown) hml_buf_printf(&res->text, "… %zu older runs\n", n - shown);
    json_object_set_new(res->data, "runs", list);
    json_object_set_new(res->data, "total", json_integer((json_int_t)n));
    hml__project_free(p);
    return HML_OK;
}

/* ---- comparing runs ---------------------------------------------------------------------------------------- */

static const json_t *scope_metrics(const json_t *run, const char *scope)
{
    if (!strcmp(scope, "ensemble")) return json_object_get(json_object_get(run, "ensemble"), "metrics");
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(run, "models"), i, m) if (!strcmp(hml_json_str(m, "name", ""), scope)) return json_object_get(m, "metrics");
    return NULL;
}

static void compare_scope(const json_t *a, const json_t *b, const char *scope, struct hml_buf *t, json_t *out)
{
    const json_t *ma = scope_metrics(a, scope), *mb = scope_metrics(b, scope);
    if (!ma || !mb) return;
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(b, "metrics"), i, n) {
        const char *metric = json_string_value(n);
        const json_t *va = json_object_get(ma, metric), *vb = json_object_get(mb, metric);
        if (!json_is_number(va) || !json_is_number(vb)) continue;
        double d = json_number_value(vb) - json_number_value(va);
        const char *verdict = better(metric, vb, va) ? "better" : better(metric, va, vb) ? "worse" : "same";
        char x[32], y[32], z[32];
        hml_buf_printf(t, "| %s | %s | %s | %s | %s%s | %s |\n", scope, metric, hml__fmt_num(x, json_number_value(va)),
                       hml__fmt_num(y, json_number_value(vb)), d > 0 ? "+" : "", hml__fmt_num(z, d), verdict);
        json_array_append_new(out, json_pack("{s:s,s:s,s:f,s:f,s:f,s:s}", "scope", scope, "metric", metric, "a",
                                             json_number_value(va), "b", json_number_value(vb), "delta", d, "verdict", verdict));
    }
}

static enum hml_status compare(struct hml_call *call, const char *ida, const char *idb, struct hml_result *res,
                               struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    json_t *a = NULL, *b = NULL;
    static _Thread_local char ids[RUNS_MAX][48];
    if (!ida) {
        size_t n = list_run_ids(p, ids, RUNS_MAX);
        if (n < 2) {
            hml_fail(err, HML_ENOTFOUND, "pipeline.compare_latest", "there are %zu run(s); comparing needs two", n);
            rc = hml_hint(err, "run pipeline run_backtest again after a change");
        } else {
            ida = ids[1];
            idb = ids[0];
        }
    }
    if (!rc) rc = hml__load_run(p, ida, &a, err);
    if (!rc) rc = hml__load_run(p, idb, &b, err);
    if (!rc) {
        json_t *rows = json_array();
        hml_buf_printf(&res->text, "Comparing %s (a) → %s (b):\n| scope | metric | a | b | b − a | b is |\n|---|---|---|---|---|---|\n",
                       ida, idb);
        compare_scope(a, b, "ensemble", &res->text, rows);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(b, "models"), i, m) compare_scope(a, b, hml_json_str(m, "name", ""), &res->text, rows);
        json_object_set_new(res->data, "a", json_string(ida));
        json_object_set_new(res->data, "b", json_string(idb));
        json_object_set_new(res->data, "rows", rows);
    }
    json_decref(a);
    json_decref(b);
    hml__project_free(p);
    return rc;
}

static enum hml_status a_compare_runs(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    json_t *ids = hml_param_json(call, "run_ids");
    if (json_array_size(ids) != 2) {
        hml_fail(err, HML_EINVAL, "pipeline.compare_runs", "run_ids must name exactly two runs");
        return hml_hint(err, "pass run_ids=[\"run-…\", \"run-…\"] (pipeline list_runs shows them), or use compare_latest");
    }
    return compare(call, json_string_value(json_array_get(ids, 0)), json_string_value(json_array_get(ids, 1)), res, err);
}

static enum hml_status a_compare_latest(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    return compare(call, NULL, NULL, res, err);
}

/* ---- clear_cache ------------------------------------------------------------------------------------------------ */

static enum hml_status a_clear_cache(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    char *dir = hml__project_path(p, ".harness/cache/pred");
    DIR *d = dir ? opendir(dir) : NULL;
    size_t files = 0;
    unsigned long long bytes = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char *path = hml_path_join(dir, e->d_name);
        struct stat st;
        if (path && stat(path, &st) == 0 && unlink(path) == 0) files++, bytes += (unsigned long long)st.st_size;
        hml_free(path);
    }
    if (d) closedir(d);
    hml_free(dir);
    char a[32];
    hml_buf_printf(&res->text, "Removed %zu cached prediction(s), %s bytes. The next backtest fits every model again.\n",
                   files, hml__fmt_count(a, bytes));
    json_object_set_new(res->data, "removed", json_integer((json_int_t)files));
    json_object_set_new(res->data, "bytes", json_integer((json_int_t)bytes));
    hml__project_free(p);
    return HML_OK;
}

/* ---- predict ----------------------------------------------------------------------------------------------------- */

/* Keys of the new rows (those the file has), a row number, and every model's and the
 * ensemble's prediction. */
static enum hml_status prediction_file(const struct hml_run *r, const struct hml_frame *data, const json_t *root,
                                       struct hml_buf *csv, struct hml_error *err)
{
    size_t idx[64], n = 0, i;
    json_t *k;
    json_array_foreach(hml_config_get(root, "data.key_columns"), i, k) {
        long j = hml_frame_find(data, json_string_value(k));
        if (j >= 0 && n < 64) idx[n++] = (size_t)j;
    }
    struct hml_frame *f = hml_frame_select(data, idx, n);
    struct hml_column *row = hml_column_new(HML_TYPE_I64, data->nrows);
    enum hml_status rc = f && row ? HML_OK : hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    for (size_t t = 0; !rc && t < data->nrows; t++) hml_i64(row)[t] = (int64_t)t + 1;
    if (!rc) rc = hml_frame_add(f, "row", row, err);
    hml_column_unref(row);
    if (!rc) rc = add_pred_columns(f, r, data->nrows, err);
    if (!rc) rc = hml_csv_write(f, csv, err);
    hml_frame_free(f);
    return rc;
}

static enum hml_status a_predict(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    struct hml_frame *data = NULL;
    struct hml_run *r = NULL;
    struct hml_buf csv = HML_BUF_INIT;
    char *out_path = NULL;
    rc = hml__read_data_file(call, hml_param_str(call, "data_path", ""), "auto", NULL, false, p->cfg->root, &data, res, err);
    const char *only[64];
    size_t only_n = 0, i;
    json_t *v;
    json_array_foreach(hml_param_json(call, "models"), i, v) if (only_n < 64) only[only_n++] = json_string_value(v);
    struct hml_run_opts o = {.project_dir = p->dir, .table = p->table, .config = p->cfg->root,
                             .only_models = only_n ? only : NULL, .only_n = only_n, .progress = hml__run_progress,
                             .progress_ud = call, .cancel = call->cancel};
    if (!rc) rc = hml_predict(&o, data, &r, err);
    if (!rc) rc = prediction_file(r, data, p->cfg->root, &csv, err);
    if (!rc) {
        const char *given = hml_param_str(call, "output_path", NULL);
        char rel[128];
        snprintf(rel, sizeof rel, "outputs/predict-%s.csv", r->run_id + 4);
        out_path = given ? (given[0] == '/' ? hml_strdup(given) : hml_path_join(p->dir, given)) : hml__project_path(p, rel);
        rc = out_path ? HML_OK : hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    }
    if (!rc) {
        struct hml_txn *txn = hml_txn_new();
        rc = txn ? hml_txn_write(txn, out_path, csv.p ? csv.p : "", csv.len, err) : hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
        if (!rc) rc = hml_txn_commit(txn, err);
        hml_txn_free(txn);
    }
    if (!rc) {
        char a[32];
        size_t ok_models = 0;
        for (size_t m = 0; m < r->nmodels; m++) ok_models += r->models[m].ok;
        hml_buf_printf(&res->text, "Predicted %s rows with %zu model(s) trained on all %zu labelled rows%s.\nWritten to %s\n",
                       hml__fmt_count(a, data->nrows), ok_models, r->rows, r->ensemble ? " and their average" : "", out_path);
        for (size_t m = 0; m < r->nmodels; m++)
            if (!r->models[m].ok) hml_buf_printf(&res->text, "Failed: %s — %s (%s)\n", r->models[m].name, r->models[m].error, r->models[m].hint);
        json_object_set_new(res->data, "rows", json_integer((json_int_t)data->nrows));
        json_object_set_new(res->data, "output_path", json_string(out_path));
    }
    hml_free(out_path);
    hml_buf_free(&csv);
    hml_run_free(r);
    hml_frame_free(data);
    hml__project_free(p);
    return rc;
}

/* ---- the tool table ----------------------------------------------------------------------------------------------- */

static const struct hml_param params[] = {
    {"models", HML_P_STRINGS, NULL, "run only these models (default: every active one)"},
    {"fold_values", HML_P_ARRAY, NULL, "test only these fold values (value strategies)"},
    {"run_id", HML_P_STRING, NULL, "a run (default: the latest)"},
    {"run_ids", HML_P_STRINGS, NULL, "two runs to compare"},
    {"detail", HML_P_STRING, "summary|full", "full adds the per-fold table"},
    {"scope", HML_P_STRING, "predictions|all", "what clear_cache removes (default predictions)"},
    {"data_path", HML_P_STRING, NULL, "predict: a file with the table's input columns"},
    {"nthread", HML_P_INTEGER, NULL, "threads per model fit (default: chosen by data size)"},
    {"name", HML_P_STRING, NULL, "a model (explain, inspect_predictions, residual_analysis; default ensemble/first)"},
    {"method", HML_P_STRING, "gain|shap", "explain: importance by gain (default) or mean |SHAP|"},
    {"top_n", HML_P_INTEGER, NULL, "how many rows or inputs to show (default 10)"},
    {"mode", HML_P_STRING, "worst|best|uncertain", "inspect_predictions: which rows (default worst)"},
    {"n_bins", HML_P_INTEGER, NULL, "bins of calibration_report (10) and residual_analysis (5)"},
    {"feature", HML_P_STRING, NULL, "residual_analysis: the table column to bin by"},
    {"output_path", HML_P_STRING, NULL, "predict: where the CSV goes (default outputs/predict-<time>.csv)"},
    {0},
};

static const struct hml_action actions[] = {
    {"run_backtest", a_run_backtest, "models fold_values detail nthread", NULL,
     "fit every active model on every fold; metrics pooled and per fold; cached per (model, fold)", HML_ACT_LONG},
    {"predict", a_predict, "data_path output_path models", "data_path",
     "fit the active models on every labelled row and predict a new file", HML_ACT_LONG},
    {"show_run", a_show_run, "run_id detail", NULL, "one run's leaderboard (detail=full: per fold)", HML_ACT_READONLY},
    {"list_runs", a_list_runs, "", NULL, "recent runs, newest first", HML_ACT_READONLY},
    {"compare_runs", a_compare_runs, "run_ids", "run_ids", "metric deltas between two runs", HML_ACT_READONLY},
    {"compare_latest", a_compare_latest, "", NULL, "the latest run against the one before", HML_ACT_READONLY},
    {"diagnostics", hml__pipeline_diagnostics, "run_id detail", NULL,
     "metrics of every model and the ensemble, pooled with the fold spread", HML_ACT_READONLY},
    {"calibration_report", hml__pipeline_calibration_report, "run_id n_bins detail", NULL,
     "reliability bins, ECE, calibration slope and intercept", HML_ACT_READONLY},
    {"explain", hml__pipeline_explain, "name method top_n", NULL,
     "what drives a model: gain importance, mean |SHAP|, linear coefficients", HML_ACT_LONG},
    {"inspect_predictions", hml__pipeline_inspect_predictions, "run_id name mode top_n", NULL,
     "the worst, best or most uncertain rows of a run", HML_ACT_READONLY},
    {"model_correlation", hml__pipeline_model_correlation, "run_id", NULL,
     "correlation of the models' out-of-fold predictions; near-duplicates flagged", HML_ACT_READONLY},
    {"residual_analysis", hml__pipeline_residual_analysis, "run_id name feature n_bins", "feature",
     "error by bins of a feature", HML_ACT_READONLY},
    {"progress", hml__pipeline_progress, "", NULL, "the workflow's phase checklist and the next call", HML_ACT_READONLY},
    {"clear_cache", a_clear_cache, "scope", NULL, "delete cached predictions (they are rebuilt on demand)",
     HML_ACT_DESTRUCTIVE},
    {0},
};

const struct hml_tool hml_tool_pipeline = {
    .name = "pipeline",
    .title = "running backtests and reading results",
    .description =
        "Backtests and results. run_backtest fits every active model on every fold (unchanged (model, fold) "
        "pairs come from the cache); show_run, list_runs, compare_runs, compare_latest; predict (a new file, "
        "models fit on every labelled row); diagnostics, calibration_report, explain (gain|shap), "
        "inspect_predictions, model_correlation, residual_analysis; progress; clear_cache. Short answers; detail=full "
        "for more. Artifacts: outputs/<run_id>/.",
    .params = params,
    .actions = actions,
};
