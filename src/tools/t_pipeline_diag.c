/* t_pipeline_diag.c — answers to "why" from a run's artifacts, without re-running:
 * diagnostics, calibration_report, inspect_predictions, model_correlation,
 * residual_analysis (explain refits through the runner). Every answer is short by
 * default (a few hundred tokens) and complete with detail=full. */
#include "pipeline_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include "harness/alloc.h"
#include "harness/experiment.h"
#include "harness/notebook.h"
#include "harness/runner.h"
#include "harness/stats.h"

struct run_view {
    struct hml_project *p;
    json_t *run;
    struct hml_frame *preds; /* predictions.csv */
    const char *target;
};

static void view_free(struct run_view *v)
{
    json_decref(v->run);
    hml_frame_free(v->preds);
    hml__project_free(v->p);
}

static enum hml_status open_run(struct hml_call *call, enum hml_table_need need, struct run_view *v,
                                struct hml_error *err)
{
    memset(v, 0, sizeof *v);
    enum hml_status rc = hml__project_open(call, need, &v->p, err);
    if (!rc) rc = hml__load_run(v->p, hml_param_str(call, "run_id", NULL), &v->run, err);
    char rel[128];
    snprintf(rel, sizeof rel, "outputs/%s/predictions.csv", hml_json_str(v->run, "run_id", ""));
    char *path = rc ? NULL : hml__project_path(v->p, rel);
    struct hml_ingest_report rep;
    if (!rc && !path) rc = hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    if (!rc) {
        rc = hml_csv_read_file(path, NULL, &v->preds, &rep, err);
        hml_ingest_report_fini(&rep);
        if (rc) hml_hint(err, "the run's predictions.csv is missing or damaged; run the backtest again");
    }
    hml_free(path);
    v->target = hml_json_str(json_object_get(v->p ? v->p->cfg->root : NULL, "data"), "target_column", "");
    if (rc) view_free(v);
    return rc;
}

static bool is_multiclass(const struct run_view *v) { return json_array_size(json_object_get(v->run, "classes")) > 2; }
static bool is_regression(const struct run_view *v) { return !strcmp(hml_json_str(v->run, "task", ""), "regression"); }

/* The prediction column of a scope ("ensemble" or a model), for binary and regression. */
static enum hml_status pred_column(const struct run_view *v, const char *scope, const struct hml_column **out,
                                   struct hml_error *err)
{
    char name[128];
    snprintf(name, sizeof name, "pred_%s", scope);
    size_t j;
    enum hml_status rc = hml_frame_lookup(v->preds, name, &j, err);
    if (rc) {
        const char *names[66];
        size_t n = 0, i;
        json_t *m;
        json_array_foreach(json_object_get(v->run, "models"), i, m) if (n < 64 && json_is_true(json_object_get(m, "ok"))) names[n++] = hml_json_str(m, "name", "?");
        names[n++] = "ensemble";
        hml_fail(err, HML_ENOTFOUND, "pipeline", "no predictions for '%s' in run %s", scope, hml_json_str(v->run, "run_id", "?"));
        return hml_error_choices(err, scope, names, n);
    }
    *out = v->preds->cols[j];
    return HML_OK;
}

static const struct hml_column *target_column(const struct run_view *v)
{
    long j = hml_frame_find(v->preds, v->target);
    return j >= 0 ? v->preds->cols[j] : NULL;
}

/* Target as a number: the class index for binary runs whose labels are text. */
static double target_num(const struct run_view *v, const struct hml_column *y, size_t i)
{
    if (y->type != HML_TYPE_STR) return hml_column_num(y, i);
    const json_t *classes = json_object_get(v->run, "classes");
    const char *s = hml_column_str(y, i);
    size_t c;
    json_t *cl;
    json_array_foreach(classes, c, cl) if (s && !strcmp(json_string_value(cl), s)) return (double)c;
    return NAN;
}

static enum hml_status need_scalar(const struct run_view *v, const char *what, struct hml_error *err)
{
    if (!is_multiclass(v)) return HML_OK;
    hml_fail(err, HML_EINVAL, "pipeline", "%s works on binary and regression runs", what);
    return hml_hint(err, "for multiclass runs use diagnostics and inspect_predictions");
}

/* ---- diagnostics ------------------------------------------------------------------------------ */

static void fold_spread(const json_t *fold_metrics, const char *metric, double *mean, double *sd)
{
    double s = 0, ss = 0;
    size_t n = 0, i;
    json_t *f;
    json_array_foreach(fold_metrics, i, f) {
        const json_t *x = json_object_get(f, metric);
        if (!json_is_number(x)) continue;
        s += json_number_value(x);
        ss += json_number_value(x) * json_number_value(x);
        n++;
    }
    *mean = n ? s / (double)n : NAN;
    *sd = n > 1 ? sqrt(fmax(0, (ss - s * s / (double)n) / (double)(n - 1))) : NAN;
}

static void diag_row(const char *scope, const json_t *metrics, const json_t *fold_metrics, const json_t *names,
                     bool full, struct hml_buf *t, json_t *out)
{
    json_t *o = json_object();
    hml_buf_printf(t, "| %s |", scope);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) {
        const char *metric = json_string_value(n);
        const json_t *x = json_object_get(metrics, metric);
        double mean, sd;
        fold_spread(fold_metrics, metric, &mean, &sd);
        char a[32], b[32];
        if (i == 0 || full)
            hml_buf_printf(t, " %s (±%s) |", json_is_number(x) ? hml__fmt_num(a, json_number_value(x)) : "–", hml__fmt_num(b, sd));
        else
            hml_buf_printf(t, " %s |", json_is_number(x) ? hml__fmt_num(a, json_number_value(x)) : "–");
        json_object_set_new(o, metric, json_pack("{s:O?,s:o,s:o}", "pooled", x, "fold_mean",
                                                  isnan(mean) ? json_null() : json_real(mean), "fold_sd",
                                                  isnan(sd) ? json_null() : json_real(sd)));
    }
    hml_buf_putc(t, '\n');
    json_object_set_new(out, scope, o);
}

PIPELINE_ACTION(hml__pipeline_diagnostics)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    json_t *run = NULL;
    if (!rc) rc = hml__load_run(p, hml_param_str(call, "run_id", NULL), &run, err);
    if (rc) {
        hml__project_free(p);
        return rc;
    }
    bool full = !strcmp(hml_param_str(call, "detail", "summary"), "full");
    json_t *names = json_object_get(run, "metrics"), *out = json_object();
    /* The primary metric goes first: it is the one with the fold spread shown. */
    json_t *ordered = json_array();
    const char *primary = hml_json_str(run, "primary_metric", "");
    json_array_append_new(ordered, json_string(primary));
    size_t i;
    json_t *n, *m;
    json_array_foreach(names, i, n) if (strcmp(json_string_value(n), primary)) json_array_append(ordered, n);
    hml_buf_printf(&res->text, "Run %s — pooled, (± sd over %zu folds)\n| scope |", hml_json_str(run, "run_id", "?"),
                   json_array_size(json_object_get(run, "folds")));
    json_array_foreach(ordered, i, n) hml_buf_printf(&res->text, " %s |", json_string_value(n));
    hml_buf_puts(&res->text, "\n|---|");
    json_array_foreach(ordered, i, n) hml_buf_puts(&res->text, "---|");
    hml_buf_putc(&res->text, '\n');
    const json_t *ens = json_object_get(run, "ensemble");
    if (ens) diag_row("ensemble", json_object_get(ens, "metrics"), json_object_get(ens, "fold_metrics"), ordered, full, &res->text, out);
    json_array_foreach(json_object_get(run, "models"), i, m)
        if (json_is_true(json_object_get(m, "ok")))
            diag_row(hml_json_str(m, "name", "?"), json_object_get(m, "metrics"), json_object_get(m, "fold_metrics"), ordered,
                     full, &res->text, out);
    /* The widest fold spread is where a result is least trustworthy. */
    const char *widest = NULL;
    double widest_sd = -1;
    const char *k;
    json_t *v;
    json_object_foreach(out, k, v) {
        double sd = hml_json_num(json_object_get(v, primary), "fold_sd", NAN);
        if (!isnan(sd) && sd > widest_sd) widest_sd = sd, widest = k;
    }
    char a[32];
    if (widest) hml_buf_printf(&res->text, "Widest fold spread of %s: %s (sd %s).\n", primary, widest, hml__fmt_num(a, widest_sd));
    json_object_set_new(res->data, "run_id", json_string(hml_json_str(run, "run_id", "")));
    json_object_set_new(res->data, "diagnostics", out);
    json_decref(ordered);
    json_decref(run);
    hml__project_free(p);
    return HML_OK;
}

/* ---- calibration_report -------------------------------------------------------------------------- */

/* Logistic regression of y on logit(p): slope 1 and intercept 0 mean calibrated;
 * slope < 1 means over-confident. Newton on two parameters. */
static void slope_intercept(const double *p, const double *y, size_t n, double *slope, double *icept)
{
    double a = 0, b = 1;
    for (int it = 0; it < 50; it++) {
        double ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
        for (size_t i = 0; i < n; i++) {
            double q = fmin(fmax(p[i], 1e-6), 1 - 1e-6), x = log(q / (1 - q));
            double m = 1 / (1 + exp(-(a + b * x))), w = m * (1 - m);
            ga += m - y[i];
            gb += (m - y[i]) * x;
            haa += w;
            hab += w * x;
            hbb += w * x * x;
        }
        double det = haa * hbb - hab * hab;
        if (fabs(det) < 1e-12) break;
        double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if (fabs(da) + fabs(db) < 1e-10) break;
    }
    *slope = b;
    *icept = a;
}

static json_t *reliability(const double *p, const double *y, size_t n, size_t bins, double *ece, struct hml_buf *t,
                           bool table)
{
    double cnt[100] = {0}, sp[100] = {0}, sy[100] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t b = (size_t)(p[i] * (double)bins);
        if (b >= bins) b = bins - 1;
        cnt[b]++, sp[b] += p[i], sy[b] += y[i];
    }
    json_t *arr = json_array();
    *ece = 0;
    if (table) hml_buf_puts(t, "| bin | rows | mean prediction | observed |\n|---|---|---|---|\n");
    for (size_t b = 0; b < bins; b++) {
        if (!cnt[b]) continue;
        *ece += cnt[b] / (double)n * fabs(sy[b] / cnt[b] - sp[b] / cnt[b]);
        if (table)
            hml_buf_printf(t, "| %.2f–%.2f | %.0f | %.3f | %.3f |\n", (double)b / (double)bins, (double)(b + 1) / (double)bins,
                           cnt[b], sp[b] / cnt[b], sy[b] / cnt[b]);
        json_array_append_new(arr, json_pack("{s:f,s:f,s:I,s:f,s:f}", "low", (double)b / (double)bins, "high",
                                             (double)(b + 1) / (double)bins, "rows", (json_int_t)cnt[b], "mean_prediction",
                                             sp[b] / cnt[b], "observed", sy[b] / cnt[b]));
    }
    return arr;
}

/* Pairs of (prediction, 0/1 target) of a scope, skipping nulls. Caller frees both. */
static enum hml_status pairs(const struct run_view *v, const char *scope, double **p_out, double **y_out, size_t *n_out,
                             struct hml_error *err)
{
    const struct hml_column *pc, *yc = target_column(v);
    enum hml_status rc = pred_column(v, scope, &pc, err);
    if (rc) return rc;
    if (!yc) {
        hml_fail(err, HML_ENOTFOUND, "pipeline", "the run's predictions have no target column '%s'", v->target);
        return hml_hint(err, "the target was renamed since the run; run the backtest again");
    }
    size_t n = v->preds->nrows, k = 0;
    double *p = hml_malloc((n + 1) * sizeof *p), *y = hml_malloc((n + 1) * sizeof *y);
    if (!p || !y) {
        hml_free(p);
        hml_free(y);
        return hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        double pv = hml_column_num(pc, i), yv = target_num(v, yc, i);
        if (isnan(pv) || isnan(yv)) continue;
        p[k] = pv, y[k++] = yv;
    }
    *p_out = p, *y_out = y, *n_out = k;
    return HML_OK;
}

PIPELINE_ACTION(hml__pipeline_calibration_report)
{
    struct run_view v;
    enum hml_status rc = open_run(call, HML_TABLE_SKIP, &v, err);
    if (rc) return rc;
    if (is_regression(&v)) {
        hml_fail(err, HML_EINVAL, "pipeline.calibration_report", "calibration concerns probabilities; this run is a regression");
        rc = hml_hint(err, "use residual_analysis for regression runs");
    }
    if (!rc) rc = need_scalar(&v, "calibration_report", err);
    size_t bins = (size_t)hml_param_int(call, "n_bins", 10);
    if (!rc && (bins < 2 || bins > 100)) {
        hml_fail(err, HML_EINVAL, "pipeline.calibration_report", "n_bins must be between 2 and 100");
        rc = hml_hint(err, "pass n_bins=10");
    }
    bool full = !strcmp(hml_param_str(call, "detail", "summary"), "full");
    const char *scopes[66];
    size_t ns = 0, i;
    json_t *m;
    scopes[ns++] = "ensemble";
    json_array_foreach(json_object_get(v.run, "models"), i, m) if (ns < 65 && json_is_true(json_object_get(m, "ok"))) scopes[ns++] = hml_json_str(m, "name", "?");
    json_t *out = json_object();
    for (size_t s = 0; !rc && s < ns; s++) {
        double *p = NULL, *y = NULL, ece, slope, icept;
        size_t n = 0;
        if ((rc = pairs(&v, scopes[s], &p, &y, &n, err))) break;
        bool table = s == 0 || full;
        if (table) hml_buf_printf(&res->text, "%s:\n", scopes[s]);
        json_t *bins_j = reliability(p, y, n, bins, &ece, &res->text, table);
        slope_intercept(p, y, n, &slope, &icept);
        char a[32], b[32], c[32];
        hml_buf_printf(&res->text, "%s%s: ECE %s, calibration slope %s, intercept %s%s\n", table ? "" : "- ", scopes[s],
                       hml__fmt_num(a, ece), hml__fmt_num(b, slope), hml__fmt_num(c, icept),
                       slope < 0.8 ? " (over-confident)" : slope > 1.25 ? " (under-confident)" : "");
        json_object_set_new(out, scopes[s], json_pack("{s:f,s:f,s:f,s:o}", "ece", ece, "slope", slope, "intercept", icept,
                                                      "bins", bins_j));
        hml_free(p);
        hml_free(y);
    }
    if (!rc) json_object_set_new(res->data, "calibration", out);
    else json_decref(out);
    view_free(&v);
    return rc;
}

/* ---- inspect_predictions ------------------------------------------------------------------------------ */

struct scored { size_t row; double key; };

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const struct scored *)a)->key, y = ((const struct scored *)b)->key;
    return (x > y) - (x < y);
}

/* The error of row i for the scope: |y − p| (binary, regression) or 1 − p(true class). */
static double row_error(const struct run_view *v, const char *scope, const struct hml_column *yc, size_t i,
                        double *pred_out, double *uncert)
{
    if (!is_multiclass(v)) {
        const struct hml_column *pc;
        struct hml_error e;
        if (pred_column(v, scope, &pc, &e)) return NAN;
        double p = hml_column_num(pc, i), y = target_num(v, yc, i);
        *pred_out = p;
        *uncert = fabs(p - 0.5);
        return fabs(y - p);
    }
    const json_t *classes = json_object_get(v->run, "classes");
    const char *truth = hml_column_str(yc, i);
    double best = -1, p_true = NAN;
    size_t c;
    json_t *cl;
    json_array_foreach(classes, c, cl) {
        char name[192];
        snprintf(name, sizeof name, "pred_%s_%s", scope, json_string_value(cl));
        long j = hml_frame_find(v->preds, name);
        double p = j >= 0 ? hml_column_num(v->preds->cols[j], i) : NAN;
        if (p > best) best = p;
        if (truth && !strcmp(truth, json_string_value(cl))) p_true = p;
    }
    *pred_out = p_true;
    *uncert = best;
    return 1 - p_true;
}

PIPELINE_ACTION(hml__pipeline_inspect_predictions)
{
    struct run_view v;
    enum hml_status rc = open_run(call, HML_TABLE_SKIP, &v, err);
    if (rc) return rc;
    const char *mode = hml_param_str(call, "mode", "worst");
    const char *scope = hml_param_str(call, "name", "ensemble");
    size_t top = (size_t)hml_param_int(call, "top_n", 10), n = v.preds->nrows, k = 0;
    const struct hml_column *yc = target_column(&v), *pc;
    if (!is_multiclass(&v)) rc = pred_column(&v, scope, &pc, err);
    struct scored *s = rc ? NULL : hml_malloc((n + 1) * sizeof *s);
    if (!rc && !s) rc = hml_fail(err, HML_ENOMEM, "pipeline", "out of memory");
    for (size_t i = 0; !rc && yc && i < n; i++) {
        double pred, unc, e = row_error(&v, scope, yc, i, &pred, &unc);
        if (isnan(e)) continue;
        s[k].row = i;
        s[k++].key = !strcmp(mode, "worst") ? -e : !strcmp(mode, "best") ? e : unc;
    }
    if (!rc) {
        qsort(s, k, sizeof *s, cmp_scored);
        json_t *rows = json_array();
        long rj = hml_frame_find(v.preds, "row"), fj = hml_frame_find(v.preds, "fold");
        /* Key columns (up to two) say which rows these are. */
        long keys[2];
        size_t nk = 0, ki;
        json_t *kv;
        json_array_foreach(hml_config_get(v.p->cfg->root, "data.key_columns"), ki, kv) {
            long j = hml_frame_find(v.preds, json_string_value(kv));
            if (j >= 0 && nk < 2) keys[nk++] = j;
        }
        hml_buf_printf(&res->text, "%s %zu predictions of %s:\n| row |", mode, top < k ? top : k, scope);
        for (size_t q = 0; q < nk; q++) hml_buf_printf(&res->text, " %s |", v.preds->names[keys[q]]);
        hml_buf_printf(&res->text, " %s | prediction | error | fold |\n|---|", v.target);
        for (size_t q = 0; q < nk; q++) hml_buf_puts(&res->text, "---|");
        hml_buf_puts(&res->text, "---|---|---|---|\n");
        for (size_t i = 0; i < k && i < top; i++) {
            size_t r = s[i].row;
            double pred, unc, e = row_error(&v, scope, yc, r, &pred, &unc);
            char yt[64], a[32], b[32], fold[64] = "";
            hml_column_format(yc, r, yt, sizeof yt);
            if (fj >= 0) hml_column_format(v.preds->cols[fj], r, fold, sizeof fold);
            long row = rj >= 0 ? (long)hml_column_num(v.preds->cols[rj], r) : (long)r + 1;
            hml_buf_printf(&res->text, "| %ld |", row);
            for (size_t q = 0; q < nk; q++) {
                char kb[64];
                hml_column_format(v.preds->cols[keys[q]], r, kb, sizeof kb);
                hml_buf_printf(&res->text, " %s |", kb);
            }
            hml_buf_printf(&res->text, " %s | %s | %s | %s |\n", yt, hml__fmt_num(a, pred), hml__fmt_num(b, e), fold);
            json_array_append_new(rows, json_pack("{s:I,s:s,s:f,s:f,s:s}", "row", (json_int_t)row, "target", yt,
                                                  "prediction", pred, "error", e, "fold", fold));
        }
        hml_buf_puts(&res->text, "Rows are table rows (1-based): data inspect and the key columns in predictions.csv identify them.\n");
        json_object_set_new(res->data, "rows", rows);
    }
    hml_free(s);
    view_free(&v);
    return rc;
}

/* ---- model_correlation ---------------------------------------------------------------------------------- */

PIPELINE_ACTION(hml__pipeline_model_correlation)
{
    struct run_view v;
    enum hml_status rc = open_run(call, HML_TABLE_SKIP, &v, err);
    if (!rc) rc = need_scalar(&v, "model_correlation", err);
    if (rc) {
        if (v.p) view_free(&v);
        return rc;
    }
    const char *names[64];
    const struct hml_column *cols[64];
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(json_object_get(v.run, "models"), i, m) {
        struct hml_error e;
        if (n < 64 && json_is_true(json_object_get(m, "ok")) && !pred_column(&v, hml_json_str(m, "name", ""), &cols[n], &e))
            names[n++] = hml_json_str(m, "name", "?");
    }
    json_t *matrix = json_object(), *flags = json_array();
    hml_buf_puts(&res->text, "| |");
    for (size_t a = 0; a < n; a++) hml_buf_printf(&res->text, " %s |", names[a]);
    hml_buf_puts(&res->text, "\n|---|");
    for (size_t a = 0; a < n; a++) hml_buf_puts(&res->text, "---|");
    hml_buf_putc(&res->text, '\n');
    for (size_t a = 0; a < n; a++) {
        json_t *row = json_object();
        hml_buf_printf(&res->text, "| %s |", names[a]);
        for (size_t b = 0; b < n; b++) {
            double r = a == b ? 1.0 : hml_corr(cols[a], cols[b]);
            char num[32];
            hml_buf_printf(&res->text, " %s |", hml__fmt_num(num, r));
            json_object_set_new(row, names[b], isnan(r) ? json_null() : json_real(r));
            if (b > a && r > 0.95) json_array_append_new(flags, json_pack("[s,s,f]", names[a], names[b], r));
        }
        hml_buf_putc(&res->text, '\n');
        json_object_set_new(matrix, names[a], row);
    }
    size_t nf = json_array_size(flags);
    json_t *fl;
    json_array_foreach(flags, i, fl)
        hml_buf_printf(&res->text, "Near-duplicates: %s and %s (r %.3f) — one adds little diversity to the ensemble.\n",
                       json_string_value(json_array_get(fl, 0)), json_string_value(json_array_get(fl, 1)),
                       json_real_value(json_array_get(fl, 2)));
    if (!nf && n > 1) hml_buf_puts(&res->text, "No pair above r 0.95.\n");
    json_object_set_new(res->data, "correlation", matrix);
    json_object_set_new(res->data, "near_duplicates", flags);
    view_free(&v);
    return HML_OK;
}

/* ---- residual_analysis ------------------------------------------------------------------------------------ */

struct bin_acc { double n, sy, sp, se; };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* nv value bins plus one for nulls (index nv). Numbers: quantile edges; text: the
 * nv − 1 most frequent levels and "other". */
struct binning {
    size_t nv;
    double edges[64];
    int32_t levels[64];
    char labels[66][48];
};

static void make_bins(const struct hml_column *c, struct binning *b)
{
    if (c->type == HML_TYPE_STR) {
        struct hml_col_stats st;
        struct hml_error e;
        if (hml_col_stats(c, &st, &e)) st.top_n = 0;
        for (size_t i = 0; i + 1 < b->nv; i++) {
            b->levels[i] = i < st.top_n ? hml_dict_find(c->dict, st.top[i], strlen(st.top[i])) : -1;
            snprintf(b->labels[i], sizeof b->labels[i], "%s", i < st.top_n ? st.top[i] : "–");
        }
        snprintf(b->labels[b->nv - 1], sizeof b->labels[0], "(other)");
    } else {
        double *v = hml_malloc((c->n + 1) * sizeof *v);
        size_t k = 0;
        for (size_t i = 0; v && i < c->n; i++)
            if (!hml_column_is_null(c, i)) v[k++] = hml_column_num(c, i);
        if (v) qsort(v, k, sizeof *v, cmp_double);
        double lo = k ? v[0] : NAN;
        for (size_t i = 0; i + 1 < b->nv; i++) b->edges[i] = k ? v[(size_t)((double)(i + 1) / (double)b->nv * (double)(k - 1))] : NAN;
        for (size_t i = 0; i < b->nv; i++) {
            char x[32], y[32];
            hml__fmt_num(x, i ? b->edges[i - 1] : lo);
            hml__fmt_num(y, i + 1 < b->nv ? b->edges[i] : (k ? v[k - 1] : NAN));
            snprintf(b->labels[i], sizeof b->labels[i], "%s%s … %s", i ? "> " : "", x, y);
        }
        hml_free(v);
    }
    snprintf(b->labels[b->nv], sizeof b->labels[0], "(null)");
}

static size_t bin_of(const struct hml_column *c, size_t row, const struct binning *b)
{
    if (hml_column_is_null(c, row)) return b->nv;
    if (c->type == HML_TYPE_STR) {
        for (size_t i = 0; i + 1 < b->nv; i++)
            if (b->levels[i] == hml_codes(c)[row]) return i;
        return b->nv - 1;
    }
    double x = hml_column_num(c, row);
    size_t i = 0;
    while (i + 1 < b->nv && x > b->edges[i]) i++;
    return i;
}

PIPELINE_ACTION(hml__pipeline_residual_analysis)
{
    struct run_view v;
    enum hml_status rc = open_run(call, HML_TABLE_REQUIRED, &v, err);
    if (rc) return rc;
    const char *feature = hml_param_str(call, "feature", "");
    const char *scope = hml_param_str(call, "name", "ensemble");
    struct binning b = {.nv = (size_t)hml_param_int(call, "n_bins", 5)};
    size_t fj = 0;
    const struct hml_column *pc = NULL, *yc = target_column(&v);
    long rj = hml_frame_find(v.preds, "row");
    if (b.nv < 2 || b.nv > 64) {
        hml_fail(err, HML_EINVAL, "pipeline.residual_analysis", "n_bins must be between 2 and 64");
        rc = hml_hint(err, "pass n_bins=5");
    }
    if (!rc) rc = need_scalar(&v, "residual_analysis", err);
    if (!rc) rc = hml_frame_lookup(v.p->table, feature, &fj, err);
    if (!rc) rc = pred_column(&v, scope, &pc, err);
    if (!rc && (rj < 0 || !yc)) {
        hml_fail(err, HML_EINVAL, "pipeline.residual_analysis", "the run's predictions lack the row or target column");
        rc = hml_hint(err, "run the backtest again");
    }
    if (rc) {
        view_free(&v);
        return rc;
    }
    const struct hml_column *fc = v.p->table->cols[fj];
    make_bins(fc, &b);
    struct bin_acc acc[65] = {{0}};
    for (size_t i = 0; i < v.preds->nrows; i++) {
        size_t row = (size_t)hml_column_num(v.preds->cols[rj], i) - 1;
        double p = hml_column_num(pc, i), y = target_num(&v, yc, i);
        if (row >= v.p->table->nrows || isnan(p) || isnan(y)) continue;
        struct bin_acc *a = &acc[bin_of(fc, row, &b)];
        a->n++, a->sy += y, a->sp += p, a->se += (y - p) * (y - p);
    }
    const char *err_name = is_regression(&v) ? "rmse" : "brier";
    hml_buf_printf(&res->text, "Residuals of %s by '%s':\n| bin | rows | mean %s | mean prediction | mean residual | %s |\n"
                               "|---|---|---|---|---|---|\n", scope, feature, v.target, err_name);
    json_t *bins = json_array();
    for (size_t i = 0; i <= b.nv; i++) {
        if (!acc[i].n) continue;
        double e = acc[i].se / acc[i].n;
        if (is_regression(&v)) e = sqrt(e);
        char a1[32], a2[32], a3[32], a4[32];
        hml_buf_printf(&res->text, "| %s | %.0f | %s | %s | %s | %s |\n", b.labels[i], acc[i].n, hml__fmt_num(a1, acc[i].sy / acc[i].n),
                       hml__fmt_num(a2, acc[i].sp / acc[i].n), hml__fmt_num(a3, (acc[i].sy - acc[i].sp) / acc[i].n), hml__fmt_num(a4, e));
        json_array_append_new(bins, json_pack("{s:s,s:I,s:f,s:f,s:f,s:f}", "bin", b.labels[i], "rows", (json_int_t)acc[i].n,
                                              "mean_target", acc[i].sy / acc[i].n, "mean_prediction", acc[i].sp / acc[i].n,
                                              "mean_residual", (acc[i].sy - acc[i].sp) / acc[i].n, err_name, e));
    }
    json_object_set_new(res->data, "bins", bins);
    view_free(&v);
    return HML_OK;
}

/* ---- explain ---------------------------------------------------------------------------------------------- */

struct ranked { size_t j; double v; };

static int cmp_ranked_desc(const void *a, const void *b)
{
    double x = ((const struct ranked *)a)->v, y = ((const struct ranked *)b)->v;
    return (x < y) - (x > y);
}

PIPELINE_ACTION(hml__pipeline_explain)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    const json_t *models = json_object_get(p->cfg->root, "models");
    const char *name = hml_param_str(call, "name", NULL);
    const char *method = hml_param_str(call, "method", "gain");
    size_t top = (size_t)hml_param_int(call, "top_n", 10);
    if (!name) { /* default: the first active model */
        const char *k;
        json_t *d;
        json_object_foreach((json_t *)models, k, d) if (!name && hml_json_bool(d, "active", true)) name = k;
    }
    if (!name) {
        hml_fail(err, HML_EINVAL, "pipeline.explain", "there is no model to explain");
        rc = hml_hint(err, "add one: models add --name xgb --preset xgboost_classifier");
    }
    struct hml_explanation *x = NULL;
    struct hml_run_opts o = {.project_dir = p->dir, .table = p->table, .config = p->cfg->root,
                             .progress = hml__run_progress, .progress_ud = call, .cancel = call->cancel};
    if (!rc) rc = hml_explain(&o, name, method, &x, err);
    if (!rc) {
        struct ranked *rk = hml_malloc((x->n + 1) * sizeof *rk);
        for (size_t j = 0; rk && j < x->n; j++) rk[j] = (struct ranked){j, x->values[j]};
        if (rk) qsort(rk, x->n, sizeof *rk, cmp_ranked_desc);
        hml_buf_printf(&res->text, "What drives %s (%s, fitted on every labelled row):\n| input | %s |%s\n|---|---|%s\n", name,
                       !strcmp(method, "shap") ? "mean |SHAP|" : "importance", !strcmp(method, "shap") ? "mean abs SHAP" : "importance",
                       x->coef ? " coefficient |" : "", x->coef ? "---|" : "");
        json_t *list = json_array();
        for (size_t i = 0; rk && i < x->n && i < top; i++) {
            char a[32], b[32];
            size_t j = rk[i].j;
            hml_buf_printf(&res->text, "| %s | %s |", x->names[j], hml__fmt_num(a, x->values[j]));
            if (x->coef) hml_buf_printf(&res->text, " %s |", hml__fmt_num(b, x->coef[j]));
            hml_buf_putc(&res->text, '\n');
            json_t *e = json_pack("{s:s,s:f}", "input", x->names[j], "value", x->values[j]);
            if (x->coef) json_object_set_new(e, "coefficient", json_real(x->coef[j]));
            json_array_append_new(list, e);
        }
        if (x->n > top) hml_buf_printf(&res->text, "… %zu more inputs (top_n to see them)\n", x->n - top);
        json_object_set_new(res->data, "model", json_string(name));
        json_object_set_new(res->data, "method", json_string(method));
        json_object_set_new(res->data, "inputs", list);
        hml_free(rk);
    }
    hml_explanation_free(x);
    hml__project_free(p);
    return rc;
}

/* ---- progress: the workflow's phase checklist ----------------------------------------------------- */

/* Model families for the diversity phase; every type the registry knows has one. */
const char *hml__model_family(const char *type)
{
    static const char *const map[][2] = {{"xgboost", "boosted_tree"}, {"lightgbm", "boosted_tree"},
                                         {"catboost", "boosted_tree"}, {"random_forest", "bagging"},
                                         {"logistic_regression", "linear"}, {"elastic_net", "linear"},
                                         {"mlp", "neural"}, {"tabnet", "neural"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(map[i][0], type)) return map[i][1];
    return "other";
}

static size_t count_dirs(const struct hml_project *p, const char *rel, const char *prefix)
{
    char *dir = hml__project_path(p, rel);
    size_t n = 0;
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    if (d) closedir(d);
    hml_free(dir);
    return n;
}

struct phase {
    const char *name;
    bool done;
    char status[160];
    const char *next; /* the call that moves it on */
};

PIPELINE_ACTION(hml__pipeline_progress)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    const json_t *root = p->cfg->root, *data = json_object_get(root, "data"), *wf = json_object_get(root, "workflow");
    const char *target = hml_json_str(data, "target_column", NULL);
    size_t notes = 0, plans = 0, runs = count_dirs(p, "outputs", "run-"), expl = count_dirs(p, "experiments", "expl-");
    struct hml_error e;
    if (hml_notebook_count(p->dir, HML_NB_PHASE_TRANSITION, NULL, &notes, &e)) notes = 0;
    if (hml_notebook_count(p->dir, HML_NB_PLAN, NULL, &plans, &e)) plans = 0;
    size_t features = json_object_size(json_object_get(root, "features"));
    /* Families among active models; the gate needs min_model_types of the four. */
    const char *fams[8];
    size_t nf = 0, included = 0;
    const char *name;
    json_t *def;
    json_object_foreach(json_object_get(root, "models"), name, def) {
        if (!hml_json_bool(def, "active", true)) continue;
        included += hml_json_bool(def, "include_in_ensemble", true);
        const char *f = hml__model_family(hml_json_str(def, "type", ""));
        bool seen = false;
        for (size_t i = 0; i < nf; i++) seen |= !strcmp(fams[i], f);
        if (!seen && nf < 8) fams[nf++] = f;
    }
    size_t need = (size_t)hml_json_int(wf, "min_model_types", 4);
    if (need > 4) need = 4;
    struct hml_exp_journal *j = NULL;
    size_t logged = 0;
    if (hml_exp_journal_load(p->dir, &j, &e) == HML_OK)
        for (size_t i = 0; i < j->n; i++) {
            enum hml_exp_status st = hml_exp_status_of(j->recs[i]);
            logged += st == HML_EXP_CONCLUDED || st == HML_EXP_PROMOTED;
        }
    hml_exp_journal_free(j);
    bool discovery_needed = hml_json_bool(wf, "require_feature_discovery", true);
    const char *method = hml_json_str(json_object_get(root, "ensemble"), "method", "average");
    struct phase ph[] = {
        {"data", p->table && target && hml_frame_find(p->table, target) >= 0, "", "data add --data_path <file>, configure update_data --target_column <col>"},
        {"eda & feature discovery", !discovery_needed || features > 0 || notes > 0, "", "data profile, features discover, then features add (or a notebook phase_transition)"},
        {"baseline", runs > 0, "", "models add (one model), pipeline run_backtest"},
        {"model diversity", nf >= need, "", "models add a model of another family (boosted trees, bagging, linear, neural)"},
        {"experiments", plans > 0 && logged > 0, "", "notebook write --type plan, experiments create / run / log_result"},
        {"tuning", expl > 0, "", "experiments explore over the best model's params"},
        {"ensemble", included >= 2 && strcmp(method, "average") != 0, "", "configure ensemble --method stacked (two or more models included)"},
    };
    snprintf(ph[0].status, sizeof ph[0].status, "%s", p->table ? (target ? "table and target set" : "no target set") : "no data");
    snprintf(ph[1].status, sizeof ph[1].status, "%zu declared feature(s), %zu phase note(s)%s", features, notes,
             discovery_needed ? "" : " (not required)");
    snprintf(ph[2].status, sizeof ph[2].status, "%zu run(s)", runs);
    snprintf(ph[3].status, sizeof ph[3].status, "%zu of %zu families", nf, need);
    snprintf(ph[4].status, sizeof ph[4].status, "%zu plan(s), %zu concluded experiment(s)", plans, logged);
    snprintf(ph[5].status, sizeof ph[5].status, "%zu exploration(s)", expl);
    snprintf(ph[6].status, sizeof ph[6].status, "%s over %zu model(s)", method, included);
    json_t *list = json_array();
    const char *next = NULL;
    hml_buf_puts(&res->text, "| phase | state | |\n|---|---|---|\n");
    for (size_t i = 0; i < sizeof ph / sizeof *ph; i++) {
        hml_buf_printf(&res->text, "| %s | %s | %s |\n", ph[i].name, ph[i].status, ph[i].done ? "done" : "to do");
        json_array_append_new(list, json_pack("{s:s,s:b,s:s}", "phase", ph[i].name, "done", ph[i].done, "state", ph[i].status));
        if (!ph[i].done && !next) next = ph[i].next;
    }
    hml_buf_printf(&res->text, "%s%s\n", next ? "Next: " : "Every phase is done. ", next ? next : "Keep the notebook current.");
    bool tuning_ready = ph[1].done && ph[3].done;
    json_object_set_new(res->data, "phases", list);
    json_object_set_new(res->data, "ready_for_tuning", json_boolean(tuning_ready));
    if (next) json_object_set_new(res->data, "next", json_string(next));
    hml__project_free(p);
    return HML_OK;
}
