/* runner.c — the backtest: targets, folds, models, out-of-fold predictions,
 * an average, metrics. See runner.h for the leakage rules it enforces. */
#include "runner_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/config.h"
#include "harness/ensemble.h"
#include "harness/expr.h"
#include "harness/feature.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}


/* ---- the target -------------------------------------------------------------------------- */

struct level { double num; const char *text; };

static int cmp_level_num(const void *a, const void *b)
{
    double x = ((const struct level *)a)->num, y = ((const struct level *)b)->num;
    return (x > y) - (x < y);
}

static int cmp_level_text(const void *a, const void *b)
{
    return strcmp(((const struct level *)a)->text, ((const struct level *)b)->text);
}

/* Distinct target values, sorted (numbers ascending, text by bytes), as classes. */
static enum hml_status class_levels(const struct hml_column *c, struct hml_run *r, struct hml_error *err)
{
    struct level *lv = hml_malloc((r->rows + 1) * sizeof *lv);
    if (!lv) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    bool text = c->type == HML_TYPE_STR;
    for (size_t i = 0; i < r->rows; i++) {
        lv[i].num = text ? 0 : hml_column_num(c, r->table_row[i]);
        lv[i].text = text ? hml_column_str(c, r->table_row[i]) : NULL;
    }
    qsort(lv, r->rows, sizeof *lv, text ? cmp_level_text : cmp_level_num);
    size_t k = 0;
    for (size_t i = 0; i < r->rows; i++)
        if (!i || (text ? strcmp(lv[i].text, lv[k - 1].text) : lv[i].num != lv[k - 1].num)) lv[k++] = lv[i];
    enum hml_status rc = HML_OK;
    if (k > HML_CV_CLASSES_MAX) {
        hml_fail(err, HML_ELIMIT, "backtest", "the target has %zu classes", k);
        rc = hml_hint(err, "a classification target has at most %u classes; is the task regression?", HML_CV_CLASSES_MAX);
    }
    r->classes = rc ? NULL : hml_calloc(k + 1, sizeof *r->classes);
    for (size_t j = 0; !rc && j < k; j++) {
        char buf[64];
        if (text) snprintf(buf, sizeof buf, "%s", lv[j].text);
        else snprintf(buf, sizeof buf, "%.17g", lv[j].num);
        if (!r->classes || !(r->classes[j] = hml_strdup(buf))) rc = hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
        else r->n_classes = j + 1;
    }
    /* Class index of every row: binary search over the sorted levels. */
    for (size_t i = 0; !rc && i < r->rows; i++) {
        size_t lo = 0, hi = k;
        struct level key = {text ? 0 : hml_column_num(c, r->table_row[i]), text ? hml_column_str(c, r->table_row[i]) : NULL};
        while (lo + 1 < hi) {
            size_t mid = (lo + hi) / 2;
            if ((text ? cmp_level_text : cmp_level_num)(&lv[mid], &key) <= 0) lo = mid;
            else hi = mid;
        }
        r->y[i] = (double)lo;
    }
    hml_free(lv);
    return rc;
}

static enum hml_status encode_target(const struct hml_frame *t, const char *target, struct hml_run *r,
                                     struct hml_error *err)
{
    size_t j;
    enum hml_status rc = hml_frame_lookup(t, target, &j, err);
    if (rc) return hml_error_prefix(err, "target column"), rc;
    const struct hml_column *c = t->cols[j];
    r->table_row = hml_malloc((t->nrows + 1) * sizeof *r->table_row);
    r->y = hml_malloc((t->nrows + 1) * sizeof *r->y);
    if (!r->table_row || !r->y) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    for (size_t i = 0; i < t->nrows; i++)
        if (!hml_column_is_null(c, i)) r->table_row[r->rows++] = i;
    if (r->rows < 10) {
        hml_fail(err, HML_EINVAL, "backtest", "only %zu rows have a target", r->rows);
        return hml_hint(err, "a backtest needs data: check data status and the target column '%s'", target);
    }
    if (r->task == HML_TASK_REGRESSION) {
        if (!hml_column_is_numeric(c)) {
            hml_fail(err, HML_EINVAL, "backtest", "the regression target '%s' holds text", target);
            return hml_hint(err, "set task=binary or multiclass, or choose a numeric target");
        }
        for (size_t i = 0; i < r->rows; i++) r->y[i] = hml_column_num(c, r->table_row[i]);
        r->k = 1;
        return HML_OK;
    }
    rc = class_levels(c, r, err);
    if (rc) return rc;
    if (r->task == HML_TASK_BINARY && r->n_classes != 2) {
        hml_fail(err, HML_EINVAL, "backtest", "the task is binary but the target '%s' has %zu distinct value(s)",
                 target, r->n_classes);
        return hml_hint(err, r->n_classes > 2 ? "set the task to multiclass: configure update_data --task multiclass"
                                              : "a classifier needs at least two classes in the data");
    }
    r->k = r->task == HML_TASK_MULTICLASS ? r->n_classes : 1;
    return HML_OK;
}

/* ---- features ------------------------------------------------------------------------------ */

static bool in_strings(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

static bool is_str(const char *a, const char *b) { return a && b && !strcmp(a, b); }

/* Columns that are never default inputs: the target, keys, exclusions, the
 * denylist, and the columns that define folds, time and groups. */
bool hml_input_reserved(const json_t *root, const char *col)
{
    const json_t *data = json_object_get(root, "data"), *bt = json_object_get(root, "backtest");
    return is_str(col, hml_json_str(data, "target_column", NULL)) || in_strings(json_object_get(data, "key_columns"), col) ||
           in_strings(json_object_get(data, "exclude_columns"), col) ||
           in_strings(hml_config_get(root, "guardrails.feature_leakage_denylist"), col) ||
           is_str(col, hml_json_str(data, "time_column", NULL)) || is_str(col, hml_json_str(data, "fold_column", NULL)) ||
           is_str(col, hml_json_str(bt, "fold_column", NULL)) || is_str(col, hml_json_str(bt, "group_column", NULL));
}

static enum hml_status add_feature(struct model_ctx *m, const char *name, struct hml_error *err)
{
    char **f = hml_realloc(m->features, (m->nfeatures + 1) * sizeof *f);
    if (!f) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    m->features = f;
    if (!(f[m->nfeatures] = hml_strdup(name))) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    m->nfeatures++;
    return HML_OK;
}

static enum hml_status resolve_features(const struct run_ctx *c, struct model_ctx *m, struct hml_error *err)
{
    const json_t *declared = json_object_get(m->def, "features");
    const char *target = hml_json_str(json_object_get(c->root, "data"), "target_column", "");
    const json_t *deny = hml_config_get(c->root, "guardrails.feature_leakage_denylist");
    enum hml_status rc = HML_OK;
    if (json_array_size(declared)) {
        size_t i, idx;
        json_t *v;
        json_array_foreach(declared, i, v) {
            const char *name = json_string_value(v);
            if (!strcmp(name, target) || in_strings(deny, name)) {
                hml_fail(err, HML_EBLOCKED, "backtest", "model '%s' uses '%s', %s", m->out->name, name,
                         !strcmp(name, target) ? "the target" : "a column on the leakage denylist");
                return hml_hint(err, "remove it: models update --name %s --remove_features %s", m->out->name, name);
            }
            if ((rc = hml_frame_lookup(c->ft, name, &idx, err))) {
                hml_error_prefix(err, "feature of model '%s'", m->out->name);
                return rc;
            }
            if ((rc = add_feature(m, name, err))) return rc;
        }
        return HML_OK;
    }
    for (size_t j = 0; !rc && j < c->ft->ncols; j++)
        if (!hml_input_reserved(c->root, c->ft->names[j])) rc = add_feature(m, c->ft->names[j], err);
    if (!rc && !m->nfeatures) {
        hml_fail(err, HML_EINVAL, "backtest", "model '%s' has no input columns", m->out->name);
        rc = hml_hint(err, "every column is the target, a key or excluded; add data or list features");
    }
    return rc;
}

/* The leakage guardrail on inputs (not overridable): a column that correlates with
 * the target at |r| >= 0.98, or gives the class away value by value, is an answer,
 * not a feature — whether it was declared as a feature or is a raw column. */
static enum hml_status guard_inputs(const struct run_ctx *c, const struct model_ctx *m, struct hml_error *err)
{
    if (!c->target) return HML_OK; /* the target itself was checked when it was encoded */
    enum hml_status rc = HML_OK;
    for (size_t i = 0; !rc && i < m->nfeatures; i++) {
        long j = hml_frame_find(c->ft, m->features[i]);
        if (j < 0) continue;
        rc = hml_feature_guard_column(m->features[i], m->features[i], c->ft->cols[j], c->target, err);
        if (rc) hml_error_prefix(err, "input of model '%s'", m->out->name);
    }
    return rc;
}

/* ---- one model's setup ------------------------------------------------------------------------- */

static enum hml_status parse_class_weight(const struct run_ctx *c, struct model_ctx *m, struct hml_error *err)
{
    const json_t *cw = json_object_get(m->def, "class_weight");
    if (!cw || json_is_null(cw)) return HML_OK;
    if (!c->r->n_classes) {
        hml_fail(err, HML_EINVAL, "backtest", "model '%s' has class_weight but the task is regression", m->out->name);
        return hml_hint(err, "remove class_weight from the model");
    }
    if (json_is_string(cw) && !strcmp(json_string_value(cw), "balanced")) return m->balanced = true, HML_OK;
    if (!json_is_object(cw)) {
        hml_fail(err, HML_EINVAL, "backtest", "class_weight of model '%s' must be \"balanced\" or an object", m->out->name);
        return hml_hint(err, "e.g. class_weight={\"0\": 1, \"1\": 3}");
    }
    m->class_w = hml_malloc(c->r->n_classes * sizeof *m->class_w);
    if (!m->class_w) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    for (size_t j = 0; j < c->r->n_classes; j++) m->class_w[j] = 1.0;
    const char *label;
    json_t *w;
    json_object_foreach((json_t *)cw, label, w) {
        size_t j = 0;
        while (j < c->r->n_classes && strcmp(c->r->classes[j], label)) j++;
        if (j == c->r->n_classes || !json_is_number(w) || json_number_value(w) < 0) {
            hml_fail(err, HML_EINVAL, "backtest", "class_weight of model '%s': bad entry '%s'", m->out->name, label);
            return hml_error_choices(err, label, (const char *const *)c->r->classes, c->r->n_classes);
        }
        m->class_w[j] = json_number_value(w);
    }
    return HML_OK;
}

static enum hml_status setup_model(const struct run_ctx *c, struct model_ctx *m, struct hml_error *err)
{
    const char *type = hml_json_str(m->def, "type", "");
    snprintf(m->out->type, sizeof m->out->type, "%s", type);
    m->vt = hml_model_find(type);
    if (!m->vt) {
        hml_fail(err, HML_EINVAL, "backtest", "model type '%s' is not available in this build", type);
        return hml_hint(err, "change the model's type, or deactivate it: models remove --name %s", m->out->name);
    }
    enum hml_status rc = hml_model_params_check(m->vt, json_object_get(m->def, "params"), err);
    if (rc) return rc;
    bool classify = c->r->task != HML_TASK_REGRESSION;
    const char *mode = hml_json_str(m->def, "mode", classify ? "classifier" : "regressor");
    m->mode = !strcmp(mode, "regressor") ? HML_MODE_REGRESSOR : HML_MODE_CLASSIFIER;
    if ((m->mode == HML_MODE_CLASSIFIER) != classify) {
        hml_fail(err, HML_EINVAL, "backtest", "model '%s' is a %s but the task is %s", m->out->name, mode,
                 hml_task_name(c->r->task));
        return hml_hint(err, "models update --name %s --mode %s", m->out->name, classify ? "classifier" : "regressor");
    }
    m->n_seeds = (int)hml_json_int(m->def, "n_seeds", 1);
    if (m->n_seeds < 1 || m->n_seeds > 100) m->n_seeds = 1;
    rc = resolve_features(c, m, err);
    if (!rc) rc = guard_inputs(c, m, err);
    if (!rc) rc = parse_class_weight(c, m, err);
    if (rc) return rc;
    /* The content the predictions depend on: the inputs and the target. */
    size_t *idx = hml_malloc((m->nfeatures + 1) * sizeof *idx);
    if (!idx) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    size_t n = 0, j;
    for (size_t i = 0; i < m->nfeatures; i++)
        if (!hml_frame_lookup(c->ft, m->features[i], &j, err)) idx[n++] = j;
    if (!hml_frame_lookup(c->ft, hml_json_str(json_object_get(c->root, "data"), "target_column", ""), &j, err)) idx[n++] = j;
    struct hml_frame *sel = hml_frame_select(c->ft, idx, n);
    hml_free(idx);
    if (!sel) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    m->data_fp = hml_frame_fingerprint(sel);
    hml_frame_free(sel);
    return HML_OK;
}

static void model_ctx_fini(struct model_ctx *m)
{
    for (size_t i = 0; i < m->nfeatures; i++) hml_free(m->features[i]);
    hml_free(m->features);
    hml_free(m->class_w);
}

/* ---- metrics ------------------------------------------------------------------------------------ */

static enum hml_status resolve_metrics(const json_t *root, struct hml_run *r, struct hml_error *err)
{
    const json_t *bt = json_object_get(root, "backtest");
    const json_t *names = json_object_get(bt, "metrics");
    size_t n = json_array_size(names), i;
    json_t *v;
    r->metrics = hml_calloc(n + 1, sizeof *r->metrics);
    if (!r->metrics) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    json_array_foreach(names, i, v) {
        const struct hml_metric *m;
        enum hml_status rc = hml_metric_lookup(json_string_value(v), r->task, &m, err);
        if (rc) {
            hml_error_prefix(err, "backtest.metrics");
            return rc;
        }
        if (!(m->flags & HML_MF_TABLE) && !(m->flags & (HML_MF_GROUP | HML_MF_EVENT))) r->metrics[r->nmetrics++] = m;
    }
    if (!r->nmetrics) {
        const struct hml_metric *all[64];
        size_t k = hml_metrics_for_task(r->task, all, 64);
        for (size_t j = 0; j < k && r->nmetrics < 4; j++)
            if (!(all[j]->flags & (HML_MF_TABLE | HML_MF_GROUP | HML_MF_EVENT))) r->metrics[r->nmetrics++] = all[j];
    }
    const char *primary = hml_json_str(bt, "primary_metric", NULL);
    if (primary) {
        const struct hml_metric *pm;
        enum hml_status rc = hml_metric_lookup(primary, r->task, &pm, err);
        if (rc) {
            hml_error_prefix(err, "backtest.primary_metric");
            return rc;
        }
        for (r->primary = 0; r->primary < r->nmetrics && r->metrics[r->primary] != pm; r->primary++) {}
        if (r->primary == r->nmetrics) {
            hml_fail(err, HML_EINVAL, "backtest", "primary metric '%s' is not among backtest.metrics", primary);
            return hml_hint(err, "add it to the metrics: configure backtest --metrics …,%s", primary);
        }
    }
    return HML_OK;
}

/* Scores rows[0..n) of y against pred (n × k, already gathered) with every metric. */
static json_t *score(const struct hml_run *r, const double *y, const double *pred, size_t n, json_t *into)
{
    for (size_t i = 0; i < r->nmetrics; i++) {
        struct hml_metric_input in = {.n = n, .k = r->k, .y = y, .pred = pred};
        double v = NAN;
        struct hml_error err;
        if (n == 0 || hml_metric_compute(r->metrics[i], &in, &v, &err)) v = NAN;
        json_object_set_new(into, r->metrics[i]->name, isfinite(v) ? json_real(v) : json_null());
    }
    return into;
}

/* Pooled metrics over rows that have a prediction, and one row per fold. */
static enum hml_status evaluate(const struct hml_run *r, const double *oof, const double *fold_pred, json_t **pooled,
                                json_t **per_fold, struct hml_error *err)
{
    double *y = hml_malloc((r->rows + 1) * sizeof *y), *p = hml_malloc((r->rows * r->k + 1) * sizeof *p);
    if (!y || !p) {
        hml_free(y);
        hml_free(p);
        return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < r->rows; i++) {
        if (isnan(oof[i * r->k]) || (r->eval_mask && !r->eval_mask[i])) continue;
        y[n] = r->y[i];
        memcpy(p + n * r->k, oof + i * r->k, r->k * sizeof *p);
        n++;
    }
    *pooled = score(r, y, p, n, json_object());
    *per_fold = json_array();
    const double *fp = fold_pred;
    for (size_t f = 0; f < r->folds->n; f++) {
        const struct hml_cv_fold *fold = &r->folds->folds[f];
        size_t m = 0;
        for (size_t i = 0; i < fold->test_n; i++) {
            if (r->eval_mask && !r->eval_mask[fold->test[i]]) continue;
            y[m] = r->y[fold->test[i]];
            memcpy(p + m * r->k, fp + i * r->k, r->k * sizeof *p);
            m++;
        }
        json_t *row = json_pack("{s:s,s:I}", "fold", fold->label, "rows", (json_int_t)m);
        json_array_append_new(*per_fold, score(r, y, p, m, row));
        fp += fold->test_n * r->k;
    }
    hml_free(y);
    hml_free(p);
    return HML_OK;
}

/* Out-of-fold predictions: the mean over the folds that tested a row (one fold,
 * except under bootstrap where a row can be out of bag several times). */
static enum hml_status pool(const struct hml_run *r, const double *fold_pred, double *oof, struct hml_error *err)
{
    size_t *cnt = hml_calloc(r->rows + 1, sizeof *cnt);
    if (!cnt) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    for (size_t i = 0; i < r->rows * r->k; i++) oof[i] = 0;
    const double *fp = fold_pred;
    for (size_t f = 0; f < r->folds->n; f++) {
        const struct hml_cv_fold *fold = &r->folds->folds[f];
        for (size_t i = 0; i < fold->test_n; i++, fp += r->k) {
            size_t row = fold->test[i];
            for (size_t j = 0; j < r->k; j++) oof[row * r->k + j] += fp[j];
            cnt[row]++;
        }
    }
    for (size_t i = 0; i < r->rows; i++)
        for (size_t j = 0; j < r->k; j++) oof[i * r->k + j] = cnt[i] ? oof[i * r->k + j] / (double)cnt[i] : NAN;
    hml_free(cnt);
    return HML_OK;
}

/* ---- the run ------------------------------------------------------------------------------------- */

static bool cancelled(const struct hml_run_opts *o) { return o->cancel && *o->cancel; }

static enum hml_status cancel_error(struct hml_error *err)
{
    hml_fail(err, HML_ECONFLICT, "backtest", "cancelled");
    return hml_hint(err, "nothing was written; run it again when ready");
}

static size_t total_test(const struct hml_cv_folds *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++) n += f->folds[i].test_n;
    return n;
}

/* ---- fitting every (model, fold) pair ----------------------------------------------------------------- */

/* The pairs are independent, so they are handed to workers from one queue; each
 * writes its own slice of the model's fold predictions. A backend failure marks
 * its model failed and the others go on; anything else (a guardrail, a config
 * error, cancellation) stops the run. */
struct queue {
    struct run_ctx *c;
    struct model_ctx *ms;
    size_t nmodels, next;
    size_t *offset;          /* start of each fold's slice in fold_pred */
    enum hml_status rc;      /* first fatal error                       */
    struct hml_error err;
};

static void finish_job(struct queue *q, struct model_ctx *m, size_t f, enum hml_status rc, const struct hml_error *e)
{
    struct run_ctx *c = q->c;
    pthread_mutex_lock(&c->mu);
    c->done++;
    if (rc && cancelled(c->o)) rc = cancel_error(&q->err), q->rc = q->rc ? q->rc : rc;
    else if ((rc == HML_EBACKEND || rc == HML_ENOMEM) && !m->failed) {
        m->failed = true;
        snprintf(m->out->error, sizeof m->out->error, "%s", e->message);
        snprintf(m->out->hint, sizeof m->out->hint, "%s", e->hint);
    } else if (rc && !q->rc) {
        q->rc = rc;
        q->err = *e;
    }
    if (c->o->progress && !q->rc) {
        char msg[160];
        snprintf(msg, sizeof msg, "fold %zu/%zu · %s", f + 1, c->r->folds->n, m->out->name);
        c->o->progress(c->o->progress_ud, (double)c->done, (double)c->total, msg);
    }
    pthread_mutex_unlock(&c->mu);
}

static void *worker(void *arg)
{
    struct queue *q = arg;
    struct run_ctx *c = q->c;
    size_t nf = c->r->folds->n;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        size_t j = q->next++;
        bool stop = q->rc || j >= q->nmodels * nf || cancelled(c->o);
        if (!q->rc && cancelled(c->o)) q->rc = cancel_error(&q->err);
        struct model_ctx *m = stop ? NULL : &q->ms[j / nf];
        bool skip = m && m->failed;
        pthread_mutex_unlock(&c->mu);
        if (stop) break;
        if (skip) continue;
        size_t f = j % nf;
        struct hml_error e;
        hml_error_clear(&e);
        enum hml_status rc = hml__run_fold(c, m, &c->r->folds->folds[f], m->out->fold_pred + q->offset[f], &e);
        finish_job(q, m, f, rc, &e);
    }
    return NULL;
}

/* Two workers when folds are small enough to fit on one thread each (the machine
 * has two cores); one otherwise, letting the backend use its own threads. */
static int worker_count(const struct run_ctx *c)
{
    if (c->o->nthread > 0) return 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double cells = (double)c->ft->nrows * (double)c->ft->ncols;
    return cores >= 2 && cells < 2e6 && c->total > 1 ? 2 : 1;
}

static enum hml_status fit_all(struct run_ctx *c, struct model_ctx *ms, size_t n, struct hml_error *err)
{
    struct hml_run *r = c->r;
    size_t nf = r->folds->n, width = total_test(r->folds) * r->k;
    struct queue q = {.c = c, .ms = ms, .nmodels = n};
    q.offset = hml_malloc((nf + 1) * sizeof *q.offset);
    if (!q.offset) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    for (size_t f = 0, off = 0; f < nf; off += r->folds->folds[f].test_n * r->k, f++) q.offset[f] = off;
    for (size_t i = 0; i < n; i++) {
        ms[i].out->fold_pred = hml_malloc((width + 1) * sizeof *ms[i].out->fold_pred);
        ms[i].out->oof = hml_malloc((r->rows * r->k + 1) * sizeof *ms[i].out->oof);
        if (!ms[i].out->fold_pred || !ms[i].out->oof) q.rc = hml_fail(&q.err, HML_ENOMEM, "backtest", "out of memory");
    }
    pthread_t tid;
    bool spawned = !q.rc && worker_count(c) > 1 && pthread_create(&tid, NULL, worker, &q) == 0;
    if (!q.rc) worker(&q);
    if (spawned) pthread_join(tid, NULL);
    hml_free(q.offset);
    if (q.rc) *err = q.err;
    return q.rc;
}

/* The prediction-sanity guardrail (not overridable): a model whose predictions are
 * NaN, outside [0, 1] for probabilities, or all ~0.5 (no signal at all) fails the run,
 * because every number computed from it would mislead. */
static enum hml_status sanity(const struct run_ctx *c, const struct model_ctx *m, struct hml_error *err)
{
    const struct hml_run *r = c->r;
    size_t n = total_test(r->folds) * r->k, bad = 0, out = 0;
    double far = 0;
    for (size_t i = 0; i < n; i++) {
        double p = m->out->fold_pred[i];
        if (isnan(p) || isinf(p)) bad++;
        else if (r->task != HML_TASK_REGRESSION && (p < 0 || p > 1)) out++;
        else if (fabs(p - 0.5) > far) far = fabs(p - 0.5);
    }
    const char *why = bad ? "predicted NaN or infinity" : out ? "predicted probabilities outside [0, 1]" : NULL;
    if (!why && r->task == HML_TASK_BINARY && n >= 20 && far < 0.01) why = "predicted ~0.5 for every row (no signal)";
    if (!why) return HML_OK;
    hml_fail(err, HML_EBLOCKED, "backtest", "prediction sanity: model '%s' %s%s", m->out->name, why,
             bad ? "" : "");
    return hml_hint(err, bad || out ? "check the model's params and inputs (models show --name %s)"
                                    : "the inputs carry no information for %s: check its features, or remove it",
                    m->out->name);
}

/* Pools and scores one model after its folds are in. */
static enum hml_status finish_model(struct run_ctx *c, struct model_ctx *m, double seconds, struct hml_error *err)
{
    struct hml_run *r = c->r;
    m->out->seconds = seconds;
    r->fits += m->out->fits;
    r->cache_hits += m->out->cache_hits;
    if (m->failed) return HML_OK;
    enum hml_status rc = sanity(c, m, err);
    if (!rc) rc = pool(r, m->out->fold_pred, m->out->oof, err);
    if (!rc) rc = evaluate(r, m->out->oof, m->out->fold_pred, &m->out->metrics, &m->out->fold_metrics, err);
    m->out->ok = !rc;
    return rc;
}

/* Active models (or the requested subset), in config order. */
#define RUN_MODELS_MAX 256

static enum hml_status pick_models(const struct hml_run_opts *o, const json_t *models, const char **names,
                                   size_t *n, struct hml_error *err)
{
    const char *all[RUN_MODELS_MAX];
    size_t nall = 0;
    const char *key;
    json_t *def;
    *n = 0;
    json_object_foreach((json_t *)models, key, def) {
        if (nall < RUN_MODELS_MAX) all[nall++] = key;
        bool wanted = o->only_n == 0 ? hml_json_bool(def, "active", true) : false;
        for (size_t i = 0; i < o->only_n; i++) wanted |= !strcmp(o->only_models[i], key);
        if (!wanted) continue;
        if (*n == RUN_MODELS_MAX) { /* a limit, said out loud: never a silent subset */
            hml_fail(err, HML_ELIMIT, "backtest", "more than %d active models", RUN_MODELS_MAX);
            return hml_hint(err, "deactivate some (models remove --name …) or run a subset with models=[…]");
        }
        names[(*n)++] = key;
    }
    for (size_t i = 0; i < o->only_n; i++)
        if (!json_object_get(models, o->only_models[i])) {
            hml_fail(err, HML_ENOTFOUND, "backtest", "no model named '%s'", o->only_models[i]);
            return hml_error_choices(err, o->only_models[i], all, nall);
        }
    if (!*n) {
        hml_fail(err, HML_EINVAL, "backtest", "there are no active models to run");
        return hml_hint(err, nall ? "activate one: models update --name %s --active true"
                                  : "add one first: models add --name xgb --preset xgboost_classifier",
                        nall ? all[0] : "");
    }
    return HML_OK;
}

/* The ensemble of the members (ok and included), by ensemble.method (ensemble.h). */
static enum hml_status combine_members(const struct run_ctx *c, struct hml_error *err)
{
    struct hml_run *r = c->r;
    const double *preds[64];
    const char *names[64];
    size_t members = 0, nfp = total_test(r->folds) * r->k;
    for (size_t i = 0; i < r->nmodels && members < 64; i++)
        if (r->models[i].ok && r->models[i].in_ensemble) {
            preds[members] = r->models[i].fold_pred;
            names[members++] = r->models[i].name;
        }
    if (members == 0) return HML_OK;
    double *fp = hml_calloc(nfp + 1, sizeof *fp);
    r->ensemble = hml_malloc((r->rows * r->k + 1) * sizeof *r->ensemble);
    if (!fp || !r->ensemble) {
        hml_free(fp);
        return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    }
    struct hml_ensemble_input in = {.run = r, .member_pred = preds, .member_names = names, .nmembers = members,
                                    .cfg = json_object_get(c->root, "ensemble"), .rows = c->ft, .seed = c->seed};
    enum hml_status rc = hml_ensemble_combine(&in, fp, &r->ensemble_report, err);
    if (!rc) rc = pool(r, fp, r->ensemble, err);
    if (!rc) rc = evaluate(r, r->ensemble, fp, &r->ensemble_metrics, &r->ensemble_fold_metrics, err);
    hml_free(fp);
    return rc;
}

static enum hml_status make_folds(const struct run_ctx *c, struct hml_error *err)
{
    const json_t *data = json_object_get(c->root, "data");
    json_t *bt = json_deep_copy(json_object_get(c->root, "backtest"));
    if (!bt) bt = json_object();
    if (c->o->fold_values) json_object_set(bt, "fold_values", (json_t *)c->o->fold_values);
    struct hml_cv_spec spec;
    hml_cv_spec_init(&spec);
    enum hml_status rc = hml_cv_spec_parse(bt, hml_json_str(data, "target_column", NULL), &spec, err);
    const char *time_col = hml_json_str(data, "time_column", NULL);
    if (!rc && time_col && hml_frame_find(c->ft, time_col) >= 0 && !(spec.time_column = hml_strdup(time_col)))
        rc = hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    if (!rc) rc = hml_cv_make(c->ft, &spec, &c->r->folds, err);
    hml_cv_spec_fini(&spec);
    json_decref(bt);
    return rc;
}

/* backtest.eval_filter: models train on every training row, but only the rows the
 * formula keeps are scored (e.g. "season >= 2015" or "neutral_site"). */
static enum hml_status eval_filter(struct run_ctx *c, struct hml_error *err)
{
    const char *src = hml_json_str(json_object_get(c->root, "backtest"), "eval_filter", NULL);
    if (!src || !*src) return HML_OK;
    struct hml_expr *e = NULL;
    size_t *rows = NULL, n = 0;
    enum hml_status rc = hml_expr_parse(src, &e, err);
    if (!rc) rc = hml_expr_filter(e, c->ft, NULL, &rows, &n, err);
    if (rc) hml_error_prefix(err, "backtest.eval_filter");
    if (!rc && n == 0) {
        hml_fail(err, HML_EINVAL, "backtest", "eval_filter '%s' keeps no rows", src);
        rc = hml_hint(err, "loosen the condition, or clear it with configure backtest --eval_filter ''");
    }
    if (!rc && !(c->r->eval_mask = hml_calloc(c->r->rows + 1, 1))) rc = hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) c->r->eval_mask[rows[i]] = 1;
    if (!rc) c->r->eval_rows = n;
    hml_free(rows);
    hml_expr_free(e);
    return rc;
}

static enum hml_status setup_run(struct run_ctx *c, struct hml_frame **ft_out, struct hml_error *err)
{
    struct hml_run *r = c->r;
    const json_t *data = json_object_get(c->root, "data");
    enum hml_status rc = hml_task_parse(hml_json_str(data, "task", "binary"), &r->task, err);
    if (rc) return rc;
    if (r->task != HML_TASK_BINARY && r->task != HML_TASK_MULTICLASS && r->task != HML_TASK_REGRESSION) {
        hml_fail(err, HML_EINVAL, "backtest", "backtests of %s tasks are not supported yet", hml_task_name(r->task));
        return hml_hint(err, "binary, multiclass and regression backtests work today");
    }
    const char *target = hml_json_str(data, "target_column", NULL);
    if (!target) {
        hml_fail(err, HML_EINVAL, "backtest", "no target column is set");
        return hml_hint(err, "configure update_data --target_column <column>");
    }
    rc = encode_target(c->o->table, target, r, err);
    if (rc) return rc;
    *ft_out = r->rows == c->o->table->nrows ? hml_frame_clone(c->o->table)
                                            : hml_frame_take(c->o->table, r->table_row, r->rows);
    if (!*ft_out) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    c->ft = *ft_out;
    if (r->rows < c->o->table->nrows)
        snprintf(r->notes, sizeof r->notes, "%zu rows without a target were left out. ", c->o->table->nrows - r->rows);
    rc = eval_filter(c, err);
    if (!rc) rc = resolve_metrics(c->root, r, err);
    if (!rc) rc = make_folds(c, err);
    return rc;
}

/* run-YYYYMMDD-HHMMSS-mmm-xx: sorts by time to the millisecond; the suffix keeps
 * two processes apart within one millisecond. */
static void run_id(char *out, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, cap, "run-%s-%03ld-%02lx", stamp, ts.tv_nsec / 1000000, (unsigned long)getpid() & 0xff);
}

static bool excluded_from_ensemble(const json_t *root, const char *name, const json_t *def)
{
    return !hml_json_bool(def, "include_in_ensemble", true) ||
           in_strings(hml_config_get(root, "ensemble.exclude_models"), name);
}

/* The active models (or the requested subset), each set up — type, params, mode,
 * inputs, guards — before any is fitted, so a bad definition fails in seconds. On
 * success *out holds n contexts (free with free_models) and r->models their outputs. */
static enum hml_status setup_models(struct run_ctx *c, struct model_ctx **out, size_t *n_out, struct hml_error *err)
{
    struct hml_run *r = c->r;
    const json_t *models = json_object_get(c->root, "models");
    const char *names[RUN_MODELS_MAX];
    size_t n;
    enum hml_status rc = pick_models(c->o, models, names, &n, err);
    if (rc) return rc;
    r->models = hml_calloc(n, sizeof *r->models);
    struct model_ctx *ms = hml_calloc(n, sizeof *ms);
    if (!r->models || !ms) {
        hml_free(ms);
        return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    }
    r->nmodels = n;
    struct hml_target target;
    struct hml_error terr;
    c->target = hml_target_load(c->ft, c->root, &target, &terr) ? NULL : &target;
    for (size_t i = 0; i < n && !rc; i++) {
        ms[i].out = &r->models[i];
        ms[i].def = json_object_get(models, names[i]);
        snprintf(r->models[i].name, sizeof r->models[i].name, "%s", names[i]);
        r->models[i].in_ensemble = !excluded_from_ensemble(c->root, names[i], ms[i].def);
        rc = setup_model(c, &ms[i], err);
    }
    if (c->target) hml_target_fini(c->target);
    c->target = NULL;
    *out = ms;
    *n_out = n;
    return rc;
}

static void free_models(struct model_ctx *ms, size_t n)
{
    for (size_t i = 0; ms && i < n; i++) model_ctx_fini(&ms[i]);
    hml_free(ms);
}

static enum hml_status run_models(struct run_ctx *c, struct hml_error *err)
{
    struct model_ctx *ms = NULL;
    size_t n = 0;
    enum hml_status rc = setup_models(c, &ms, &n, err);
    c->total = n * c->r->folds->n;
    double t0 = now_s();
    if (!rc) rc = fit_all(c, ms, n, err);
    /* Folds interleave across models, so each model is charged an equal share. */
    for (size_t i = 0; i < n && !rc; i++) rc = finish_model(c, &ms[i], (now_s() - t0) / (double)n, err);
    free_models(ms, n);
    return rc;
}

enum hml_status hml_backtest(const struct hml_run_opts *o, struct hml_run **out, struct hml_error *err)
{
    double t0 = now_s();
    struct hml_run *r = hml_calloc(1, sizeof *r);
    if (!r) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    struct run_ctx c = {.o = o, .r = r, .root = o->config, .mu = PTHREAD_MUTEX_INITIALIZER};
    c.seed = (uint64_t)hml_json_int(json_object_get(o->config, "backtest"), "seed", 42);
    struct hml_frame *ft = NULL;
    enum hml_status rc = setup_run(&c, &ft, err);
    if (!rc) rc = run_models(&c, err);
    double te = now_s();
    if (!rc) rc = combine_members(&c, err);
    r->ensemble_seconds = now_s() - te;
    if (rc) {
        hml__cache_drop(&c);
        hml_frame_free(ft);
        hml_run_free(r);
        return rc;
    }
    hml__cache_flush(&c);
    hml_frame_free(ft);
    run_id(r->run_id, sizeof r->run_id);
    r->seconds = now_s() - t0;
    *out = r;
    return HML_OK;
}

/* ---- predicting new rows ------------------------------------------------------------------------- */

/* One fold: train on every row with a target, test on every row of data. */
static enum hml_status all_rows_fold(struct hml_run *r, size_t test_n, struct hml_error *err)
{
    r->folds = hml_calloc(1, sizeof *r->folds);
    struct hml_cv_fold *f = r->folds ? hml_calloc(1, sizeof *f) : NULL;
    if (!f) return hml_fail(err, HML_ENOMEM, "predict", "out of memory");
    r->folds->folds = f;
    r->folds->n = 1;
    r->folds->rows = r->rows;
    snprintf(f->label, sizeof f->label, "all");
    f->train = hml_malloc((r->rows + 1) * sizeof *f->train);
    f->test = hml_malloc((test_n + 1) * sizeof *f->test);
    if (!f->train || !f->test) return hml_fail(err, HML_ENOMEM, "predict", "out of memory");
    for (size_t i = 0; i < r->rows; i++) f->train[i] = i;
    for (size_t i = 0; i < test_n; i++) f->test[i] = i;
    f->train_n = r->rows;
    f->test_n = test_n;
    return HML_OK;
}

static enum hml_status predict_models(struct run_ctx *c, struct hml_error *err)
{
    struct model_ctx *ms = NULL;
    size_t n = 0;
    enum hml_status rc = setup_models(c, &ms, &n, err);
    c->total = n;
    if (!rc) rc = fit_all(c, ms, n, err);
    /* The single fold's predictions are the answer: they become oof as they are. */
    for (size_t i = 0; i < n && !rc; i++) {
        ms[i].out->ok = !ms[i].failed;
        hml_free(ms[i].out->oof);
        ms[i].out->oof = ms[i].out->fold_pred;
        ms[i].out->fold_pred = NULL;
    }
    free_models(ms, n);
    return rc;
}

enum hml_status hml_predict(const struct hml_run_opts *o, const struct hml_frame *data, struct hml_run **out,
                            struct hml_error *err)
{
    double t0 = now_s();
    struct hml_run *r = hml_calloc(1, sizeof *r);
    if (!r) return hml_fail(err, HML_ENOMEM, "predict", "out of memory");
    struct run_ctx c = {.o = o, .r = r, .root = o->config, .test_frame = data, .mu = PTHREAD_MUTEX_INITIALIZER};
    c.seed = (uint64_t)hml_json_int(json_object_get(o->config, "backtest"), "seed", 42);
    const json_t *d = json_object_get(o->config, "data");
    struct hml_frame *ft = NULL;
    enum hml_status rc = hml_task_parse(hml_json_str(d, "task", "binary"), &r->task, err);
    if (!rc) rc = encode_target(o->table, hml_json_str(d, "target_column", ""), r, err);
    if (!rc) {
        ft = r->rows == o->table->nrows ? hml_frame_clone(o->table) : hml_frame_take(o->table, r->table_row, r->rows);
        c.ft = ft;
        rc = ft ? all_rows_fold(r, data->nrows, err) : hml_fail(err, HML_ENOMEM, "predict", "out of memory");
    }
    if (!rc) rc = predict_models(&c, err);
    /* The average of the ensemble members, row by row. */
    size_t members = 0, w = data->nrows * r->k;
    for (size_t i = 0; !rc && i < r->nmodels; i++) members += r->models[i].ok && r->models[i].in_ensemble;
    if (!rc && members && !(r->ensemble = hml_calloc(w + 1, sizeof *r->ensemble)))
        rc = hml_fail(err, HML_ENOMEM, "predict", "out of memory");
    for (size_t i = 0; !rc && members && i < r->nmodels; i++)
        if (r->models[i].ok && r->models[i].in_ensemble)
            for (size_t j = 0; j < w; j++) r->ensemble[j] += r->models[i].oof[j] / (double)members;
    hml__cache_drop(&c);
    hml_frame_free(ft);
    if (rc) {
        hml_run_free(r);
        return rc;
    }
    run_id(r->run_id, sizeof r->run_id);
    r->seconds = now_s() - t0;
    *out = r;
    return HML_OK;
}

void hml_explanation_free(struct hml_explanation *x)
{
    if (!x) return;
    for (size_t j = 0; x->names && j < x->n; j++) hml_free(x->names[j]);
    hml_free(x->names);
    hml_free(x->values);
    hml_free(x->coef);
    hml_free(x);
}

enum hml_status hml_explain(const struct hml_run_opts *o, const char *model, const char *method,
                            struct hml_explanation **out, struct hml_error *err)
{
    struct hml_explanation *x = hml_calloc(1, sizeof *x);
    if (!x) return hml_fail(err, HML_ENOMEM, "explain", "out of memory");
    snprintf(x->model, sizeof x->model, "%s", model);
    snprintf(x->method, sizeof x->method, "%s", method);
    /* A prediction of the training rows themselves, with one model, whose fit is kept
     * long enough to be asked what drives it. */
    struct hml_run_opts po = *o;
    const char *only[1] = {model};
    po.only_models = only;
    po.only_n = 1;
    struct hml_run *r = hml_calloc(1, sizeof *r);
    struct run_ctx c = {.o = &po, .r = r, .root = o->config, .explain = x, .mu = PTHREAD_MUTEX_INITIALIZER};
    c.seed = (uint64_t)hml_json_int(json_object_get(o->config, "backtest"), "seed", 42);
    const json_t *d = json_object_get(o->config, "data");
    struct hml_frame *ft = NULL;
    enum hml_status rc = r ? hml_task_parse(hml_json_str(d, "task", "binary"), &r->task, err)
                           : hml_fail(err, HML_ENOMEM, "explain", "out of memory");
    if (!rc) rc = encode_target(o->table, hml_json_str(d, "target_column", ""), r, err);
    if (!rc) {
        ft = r->rows == o->table->nrows ? hml_frame_clone(o->table) : hml_frame_take(o->table, r->table_row, r->rows);
        c.ft = c.test_frame = ft;
        rc = ft ? all_rows_fold(r, ft->nrows, err) : hml_fail(err, HML_ENOMEM, "explain", "out of memory");
    }
    if (!rc) rc = predict_models(&c, err);
    if (!rc && r->nmodels && !r->models[0].ok) {
        hml_fail(err, HML_EBACKEND, "explain", "%s", r->models[0].error);
        rc = hml_hint(err, "%s", r->models[0].hint);
    }
    hml__cache_drop(&c);
    hml_frame_free(ft);
    hml_run_free(r);
    if (rc) {
        hml_explanation_free(x);
        return rc;
    }
    *out = x;
    return HML_OK;
}

void hml_run_free(struct hml_run *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nmodels; i++) {
        struct hml_run_model *m = &r->models[i];
        hml_free(m->oof);
        hml_free(m->fold_pred);
        json_decref(m->metrics);
        json_decref(m->fold_metrics);
    }
    for (size_t j = 0; j < r->n_classes; j++) hml_free(r->classes[j]);
    hml_free(r->classes);
    hml_free(r->models);
    hml_free(r->table_row);
    hml_free(r->y);
    hml_free(r->ensemble);
    hml_free(r->metrics);
    hml_free(r->eval_mask);
    json_decref(r->ensemble_metrics);
    json_decref(r->ensemble_fold_metrics);
    json_decref(r->ensemble_report);
    hml_cv_folds_free(r->folds);
    hml_free(r);
}

json_t *hml_run_json(const struct hml_run *r)
{
    json_t *models = json_array(), *names = json_array(), *folds = json_array();
    for (size_t i = 0; i < r->nmetrics; i++) json_array_append_new(names, json_string(r->metrics[i]->name));
    for (size_t f = 0; f < r->folds->n; f++)
        json_array_append_new(folds, json_pack("{s:s,s:I,s:I}", "label", r->folds->folds[f].label, "train",
                                               (json_int_t)r->folds->folds[f].train_n, "test",
                                               (json_int_t)r->folds->folds[f].test_n));
    for (size_t i = 0; i < r->nmodels; i++) {
        const struct hml_run_model *m = &r->models[i];
        json_t *o = json_pack("{s:s,s:s,s:b,s:b,s:I,s:I,s:I,s:f}", "name", m->name, "type", m->type, "ok", m->ok,
                              "in_ensemble", m->in_ensemble, "fits", (json_int_t)m->fits, "cache_hits",
                              (json_int_t)m->cache_hits, "inputs", (json_int_t)m->nfeatures, "seconds", m->seconds);
        if (m->ok) {
            json_object_set(o, "metrics", m->metrics);
            json_object_set(o, "fold_metrics", m->fold_metrics);
        } else {
            json_object_set_new(o, "error", json_pack("{s:s,s:s}", "message", m->error, "hint", m->hint));
        }
        if (m->notes[0]) json_object_set_new(o, "notes", json_string(m->notes));
        json_array_append_new(models, o);
    }
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s,s:o,s:o,s:o,s:I,s:I,s:f}", "run_id", r->run_id, "task",
                          hml_task_name(r->task), "rows", (json_int_t)r->rows, "cv_strategy",
                          hml_cv_strategy_name(r->folds->strategy), "primary_metric",
                          r->nmetrics ? r->metrics[r->primary]->name : "", "metrics", names, "folds", folds, "models",
                          models, "fits", (json_int_t)r->fits, "cache_hits", (json_int_t)r->cache_hits, "seconds",
                          r->seconds);
    if (r->ensemble_metrics) {
        json_t *e = r->ensemble_report ? json_deep_copy(r->ensemble_report) : json_pack("{s:s}", "method", "average");
        json_object_set(e, "metrics", r->ensemble_metrics);
        json_object_set(e, "fold_metrics", r->ensemble_fold_metrics);
        json_object_set_new(j, "ensemble", e);
    }
    if (r->n_classes) {
        json_t *cl = json_array();
        for (size_t k = 0; k < r->n_classes; k++) json_array_append_new(cl, json_string(r->classes[k]));
        json_object_set_new(j, "classes", cl);
    }
    json_object_set_new(j, "backend_seconds", json_real(r->backend_seconds));
    json_object_set_new(j, "ensemble_seconds", json_real(r->ensemble_seconds));
    if (r->eval_mask) json_object_set_new(j, "scored_rows", json_integer((json_int_t)r->eval_rows));
    if (r->notes[0]) json_object_set_new(j, "notes", json_string(r->notes));
    return j;
}
