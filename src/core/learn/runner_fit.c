/* runner_fit.c — one fold of one model: encode on the training rows, fit each
 * seed, predict the test rows, average the seeds. */
#include "runner_int.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "harness/alloc.h"
#include "harness/design.h"
#include "harness/model_linear.h"

struct fold_data {
    struct hml_design *design;
    float *x_train, *x_test;
    double *y_train, *w_train;
    size_t cols;
};

static void fold_data_fini(struct fold_data *d)
{
    hml_design_free(d->design);
    hml_free(d->x_train);
    hml_free(d->x_test);
    hml_free(d->y_train);
    hml_free(d->w_train);
}

/* Nulls of the zero_fill_features columns become 0 (after encoding, so one-hot
 * columns of a listed text feature are covered too). */
static void zero_fill(const struct model_ctx *m, const struct hml_design *d, float *x, size_t rows)
{
    const json_t *list = json_object_get(m->def, "zero_fill_features");
    size_t cols = hml_design_cols(d), i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *name = json_string_value(v);
        size_t len = name ? strlen(name) : 0;
        for (size_t j = 0; name && j < cols; j++) {
            const char *cn = hml_design_names(d)[j];
            if (strncmp(cn, name, len) || (cn[len] && cn[len] != '=')) continue;
            for (size_t r = 0; r < rows; r++)
                if (isnan(x[r * cols + j])) x[r * cols + j] = 0.0f;
        }
    }
}

/* Sample weights from class_weight: "balanced" gives each class the same total
 * weight over the fold's training rows; a mapping is used as given. */
static enum hml_status class_weights(const struct run_ctx *c, const struct model_ctx *m, const struct hml_cv_fold *f,
                                     double *w, struct hml_error *err)
{
    size_t k = c->r->n_classes;
    double cw[HML_CV_CLASSES_MAX];
    if (m->balanced) {
        size_t cnt[HML_CV_CLASSES_MAX] = {0};
        for (size_t i = 0; i < f->train_n; i++) cnt[(size_t)c->r->y[f->train[i]]]++;
        for (size_t j = 0; j < k; j++)
            cw[j] = cnt[j] ? (double)f->train_n / ((double)k * (double)cnt[j]) : 0.0;
    } else {
        memcpy(cw, m->class_w, k * sizeof *cw);
    }
    for (size_t i = 0; i < f->train_n; i++) w[i] = cw[(size_t)c->r->y[f->train[i]]];
    (void)err;
    return HML_OK;
}

static enum hml_status build(struct run_ctx *c, const struct model_ctx *m, const struct hml_cv_fold *f,
                             struct fold_data *d, struct hml_error *err)
{
    struct hml_design_opts dopt = {.onehot = !(m->vt->caps & HML_CAP_CATEGORICAL)};
    struct hml_buf notes = HML_BUF_INIT;
    enum hml_status rc = hml_design_fit(c->ft, (const char *const *)m->features, m->nfeatures, f->train, f->train_n,
                                        &dopt, &d->design, &notes, err);
    /* The notes of the first fold speak for all: the same columns fail everywhere. */
    pthread_mutex_lock(&c->mu);
    if (!rc && notes.len && !m->out->notes[0]) snprintf(m->out->notes, sizeof m->out->notes, "%s", hml_buf_str(&notes));
    pthread_mutex_unlock(&c->mu);
    hml_buf_free(&notes);
    if (rc) return rc;
    d->cols = hml_design_cols(d->design);
    d->x_train = hml_malloc((f->train_n * d->cols + 1) * sizeof *d->x_train);
    d->x_test = hml_malloc((f->test_n * d->cols + 1) * sizeof *d->x_test);
    d->y_train = hml_malloc((f->train_n + 1) * sizeof *d->y_train);
    if (!d->x_train || !d->x_test || !d->y_train) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    rc = hml_design_apply(d->design, c->ft, f->train, f->train_n, d->x_train, err);
    if (!rc) rc = hml_design_apply(d->design, c->test_frame ? c->test_frame : c->ft, f->test, f->test_n, d->x_test, err);
    if (rc == HML_ENOTFOUND && c->test_frame) hml_error_prefix(err, "the new data lacks a column the model was trained on");
    if (rc) return rc;
    zero_fill(m, d->design, d->x_train, f->train_n);
    zero_fill(m, d->design, d->x_test, f->test_n);
    for (size_t i = 0; i < f->train_n; i++) d->y_train[i] = c->r->y[f->train[i]];
    if (m->balanced || m->class_w) {
        d->w_train = hml_malloc((f->train_n + 1) * sizeof *d->w_train);
        if (!d->w_train) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
        rc = class_weights(c, m, f, d->w_train, err);
    }
    return rc;
}

/* hml_explain: importance or mean |SHAP| per encoded column, and linear coefficients. */
static enum hml_status capture_explanation(struct run_ctx *c, const struct model_ctx *m, const struct hml_model *model,
                                           const struct fold_data *d, const struct hml_cv_fold *f, struct hml_error *err)
{
    struct hml_explanation *x = c->explain;
    bool shap = !strcmp(x->method, "shap");
    x->n = d->cols;
    x->names = hml_calloc(d->cols + 1, sizeof *x->names);
    x->values = hml_calloc(d->cols + 1, sizeof *x->values);
    if (!x->names || !x->values) return hml_fail(err, HML_ENOMEM, "explain", "out of memory");
    for (size_t j = 0; j < d->cols; j++)
        if (!(x->names[j] = hml_strdup(hml_design_names(d->design)[j]))) return hml_fail(err, HML_ENOMEM, "explain", "out of memory");
    double *coef = hml_calloc(d->cols + 1, sizeof *coef);
    if (coef && hml_linear_coefficients(model, coef, d->cols, &x->intercept) == 1) x->coef = coef;
    else hml_free(coef);
    if (!shap) {
        if (!m->vt->importance) {
            hml_fail(err, HML_EINVAL, "explain", "model type %s has no importance", m->vt->name);
            return hml_hint(err, "try method=shap");
        }
        return m->vt->importance(model, x->values, err);
    }
    if (!m->vt->shap) {
        hml_fail(err, HML_EINVAL, "explain", "model type %s has no SHAP contributions", m->vt->name);
        return hml_hint(err, "use method=gain");
    }
    size_t rows = f->test_n < HML_EXPLAIN_ROWS ? f->test_n : HML_EXPLAIN_ROWS;
    double *contrib = hml_malloc((rows * (d->cols + 1) + 1) * sizeof *contrib);
    if (!contrib) return hml_fail(err, HML_ENOMEM, "explain", "out of memory");
    enum hml_status rc = m->vt->shap(model, d->x_test, rows, d->cols, contrib, err);
    for (size_t r = 0; !rc && r < rows; r++)
        for (size_t j = 0; j < d->cols; j++) x->values[j] += fabs(contrib[r * (d->cols + 1) + j]) / (double)rows;
    hml_free(contrib);
    return rc;
}

/* One seed: create, fit, predict into tmp. */
static enum hml_status fit_seed(struct run_ctx *c, const struct model_ctx *m, const struct hml_cv_fold *f,
                                const struct fold_data *d, int s, double *tmp, struct hml_error *err)
{
    struct hml_model *model = NULL;
    enum hml_status rc = m->vt->create(json_object_get(m->def, "params"), m->mode, &model, err);
    if (rc) return rc;
    struct hml_fit_data fd = {
        .x = d->x_train, .rows = f->train_n, .cols = d->cols,
        .feature_names = hml_design_names(d->design), .categorical = hml_design_categorical(d->design),
        .levels = hml_design_levels(d->design), .y = d->y_train, .w = d->w_train,
        .n_classes = m->mode == HML_MODE_CLASSIFIER ? c->r->n_classes : 0,
    };
    /* On small data, waking worker threads every boosting round costs more than
     * they save (Titanic, lightgbm preset: 2.5 s on two threads, 0.18 s on one). */
    int nthread = c->o->nthread > 0 ? c->o->nthread : (double)f->train_n * (double)d->cols < 2e6 ? 1 : 0;
    struct hml_fit_ctl ctl = {.cancel = c->o->cancel, .nthread = nthread, .seed = c->seed + (uint64_t)s};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = m->vt->fit(model, &fd, &ctl, err);
    if (!rc) rc = m->vt->predict(model, d->x_test, f->test_n, d->cols, tmp, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!rc && c->explain && s == 0) rc = capture_explanation(c, m, model, d, f, err);
    m->vt->free(model);
    /* Time in the backend, so benchmarks can tell the engine's overhead from it. */
    pthread_mutex_lock(&c->mu);
    c->r->backend_seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

enum hml_status hml__run_fold(struct run_ctx *c, struct model_ctx *m, const struct hml_cv_fold *f, double *pred,
                              struct hml_error *err)
{
    size_t width = c->r->k, n = f->test_n * width;
    char key[65];
    hml__cache_key(c, m, f, key);
    if (!c->test_frame && hml__cache_get(c, key, pred, n)) {
        pthread_mutex_lock(&c->mu);
        m->out->cache_hits++;
        pthread_mutex_unlock(&c->mu);
        return HML_OK;
    }
    struct fold_data d = {0};
    double *tmp = hml_malloc((n + 1) * sizeof *tmp);
    enum hml_status rc = tmp ? build(c, m, f, &d, err) : hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    if (!rc) memset(pred, 0, n * sizeof *pred);
    /* n_seeds copies with different seeds, averaged: less variance, same bias. */
    for (int s = 0; !rc && s < m->n_seeds; s++) {
        rc = fit_seed(c, m, f, &d, s, tmp, err);
        for (size_t i = 0; !rc && i < n; i++) pred[i] += tmp[i] / m->n_seeds;
    }
    if (!rc) {
        pthread_mutex_lock(&c->mu);
        m->out->fits++;
        m->out->nfeatures = d.cols;
        if (!c->test_frame) rc = hml__cache_defer(c, key, pred, n, err);
        pthread_mutex_unlock(&c->mu);
    }
    fold_data_fini(&d);
    hml_free(tmp);
    return rc;
}
