/* model_linear.c — the logistic_regression and elastic_net backends: parameters, data
 * checks, median imputation, standardisation, predict, SHAP, importance, save/load.
 * The objectives and conventions are documented in include/harness/model_linear.h; the
 * solvers live in model_linear_logit.c and model_linear_cd.c.
 */
#include "harness/model_linear.h"

#include <math.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/log.h"
#include "harness/stats.h"
#include "model_linear_int.h"

#define ONE_CLASS_LOGIT 20.0 /* one-class training data: P(that class) = 1 − 2e-9 */

static const struct hml_model_param lr_params[] = {
    {"C", HML_MP_NUM, "1.0", 1e-12, 1e12, NULL,
     "inverse strength of the L2 penalty on standardised coefficients (larger = weaker)"},
    {"penalty", HML_MP_STR, "l2", 1, 0, "l2|none", "l2 shrinks coefficients with strength 1/C; none fits plain maximum likelihood"},
    {"fit_intercept", HML_MP_BOOL, "true", 1, 0, NULL, "fit an unpenalised intercept (columns are then centred as well as scaled)"},
    {"max_iter", HML_MP_INT, "1000", 1, 1e6, NULL, "most solver iterations (Newton or L-BFGS steps)"},
    {"tol", HML_MP_NUM, "1e-8", 0, 1, NULL, "stop after a step that moves no standardised coefficient by more than tol (relative)"},
    {"solver", HML_MP_STR, "auto", 1, 0, "auto|newton|lbfgs",
     "newton: exact Hessian, for up to ~500 unknowns; lbfgs: limited memory; auto picks by size"},
    {0}};

static const struct hml_model_param en_params[] = {
    {"alpha", HML_MP_NUM, "1.0", 0, 1e12, NULL, "overall penalty strength on standardised coefficients (scikit-learn's alpha)"},
    {"l1_ratio", HML_MP_NUM, "0.5", 0, 1, NULL, "share of the L1 part of the penalty: 1 = lasso, 0 = ridge"},
    {"fit_intercept", HML_MP_BOOL, "true", 1, 0, NULL, "fit an unpenalised intercept (columns are then centred as well as scaled)"},
    {"max_iter", HML_MP_INT, "1000", 1, 1e6, NULL, "most coordinate-descent sweeps (summed over Newton steps when classifying)"},
    {"tol", HML_MP_NUM, "1e-9", 0, 1, NULL,
     "stop when a sweep moves no coefficient by more than this (in units of the target's spread; log-odds when classifying)"},
    {0}};

enum hml_status hml__lin_oom(struct hml_error *err)
{
    return hml_fail(err, HML_ENOMEM, "models.fit", "out of memory fitting a linear model");
}

enum hml_status hml__lin_tick(struct hml__lin_run *run, double done, double total, const char *what,
                              struct hml_error *err)
{
    const struct hml_fit_ctl *ctl = run->ctl;
    if (!ctl) return HML_OK;
    if (ctl->cancel && *ctl->cancel) {
        hml_fail(err, HML_ECONFLICT, "models.fit", "cancelled");
        return hml_hint(err, "the caller cancelled the fit after %u iterations; run it again to finish", run->iterations);
    }
    if (ctl->progress) ctl->progress(ctl->progress_ud, done, total, what);
    return HML_OK;
}

static bool is_linear(const struct hml_model *m)
{
    return m && (m->vt == &hml_model_logistic_regression || m->vt == &hml_model_elastic_net);
}

/* ---- create / free ---------------------------------------------------------------- */

static enum hml_status create(const struct hml_model_vt *vt, enum hml__lin_kind kind, const json_t *params,
                              enum hml_model_mode mode, struct hml_model **out, struct hml_error *err)
{
    enum hml_status rc = hml_model_params_check(vt, params, err);
    if (rc) return rc;
    if (mode != HML_MODE_CLASSIFIER && (mode != HML_MODE_REGRESSOR || kind == HML__LIN_LOGISTIC)) {
        hml_fail(err, HML_EINVAL, "models.create", "%s cannot fit a regressor", vt->name);
        return hml_hint(err, "use elastic_net (or another regressor) for a numeric target");
    }
    struct hml__linear *m = hml_calloc(1, sizeof *m);
    if (!m) return hml_fail(err, HML_ENOMEM, "models.create", "out of memory creating a %s model", vt->name);
    m->base.vt = vt;
    m->kind = kind;
    m->mode = mode;
    struct hml__lin_params *p = &m->par;
    p->fit_intercept = hml_model_param_num(vt, params, "fit_intercept") != 0;
    p->max_iter = (int)hml_model_param_num(vt, params, "max_iter");
    p->tol = hml_model_param_num(vt, params, "tol");
    if (kind == HML__LIN_LOGISTIC) {
        p->C = hml_model_param_num(vt, params, "C");
        p->penalised = !strcmp(hml_model_param_str(vt, params, "penalty"), "l2");
        const char *s = hml_model_param_str(vt, params, "solver");
        p->solver = !strcmp(s, "newton") ? HML__LIN_NEWTON : !strcmp(s, "lbfgs") ? HML__LIN_LBFGS : HML__LIN_AUTO;
    } else {
        p->alpha = hml_model_param_num(vt, params, "alpha");
        p->l1_ratio = hml_model_param_num(vt, params, "l1_ratio");
    }
    *out = &m->base;
    return HML_OK;
}

static enum hml_status lr_create(const json_t *params, enum hml_model_mode mode, struct hml_model **out,
                                 struct hml_error *err)
{
    return create(&hml_model_logistic_regression, HML__LIN_LOGISTIC, params, mode, out, err);
}

static enum hml_status en_create(const json_t *params, enum hml_model_mode mode, struct hml_model **out,
                                 struct hml_error *err)
{
    return create(&hml_model_elastic_net, HML__LIN_ENET, params, mode, out, err);
}

void hml__lin_free(struct hml_model *base)
{
    struct hml__linear *m = (struct hml__linear *)base;
    if (!m) return;
    hml_free(m->store);
    hml_free(m);
}

double *hml__lin_state_alloc(struct hml__linear *m, size_t cols, size_t outs)
{
    double *s = hml_calloc(3 * cols + outs * cols + outs, sizeof *s);
    if (!s) return NULL;
    hml_free(m->store);
    m->store = s;
    m->cols = cols;
    m->outs = outs;
    m->median = s;
    m->mean = s + cols;
    m->scale = s + 2 * cols;
    m->coef = s + 3 * cols;
    m->intercept = m->coef + outs * cols;
    return s;
}

/* ---- fit: checks ------------------------------------------------------------------- */

static enum hml_status check_shape(const struct hml__linear *m, const struct hml_fit_data *d, struct hml_error *err)
{
    const char *name = m->base.vt->name;
    if (d->rows == 0) {
        hml_fail(err, HML_EINVAL, "models.fit", "%s got no training rows", name);
        return hml_hint(err, "check the filters and folds that select the training rows");
    }
    if (d->cols > HML__LIN_COLS_MAX || d->rows > HML__LIN_CELLS_MAX / (d->cols + 1)) {
        hml_fail(err, HML_ELIMIT, "models.fit", "%zu rows × %zu columns exceed the linear models' limit of %zu cells",
                 d->rows, d->cols, HML__LIN_CELLS_MAX);
        return hml_hint(err, "subsample the rows or drop columns (HML__LIN_CELLS_MAX in model_linear_int.h)");
    }
    if (m->mode == HML_MODE_REGRESSOR) return HML_OK;
    if (d->n_classes < 2 || d->n_classes > HML__LIN_CLASSES_MAX) {
        hml_fail(err, HML_EINVAL, "models.fit", "%s needs 2 to %d classes, got %zu", name, HML__LIN_CLASSES_MAX,
                 d->n_classes);
        return hml_hint(err, "classification targets are class indices 0..n_classes-1");
    }
    if (m->kind == HML__LIN_ENET && d->n_classes != 2) {
        hml_fail(err, HML_EINVAL, "models.fit", "elastic_net classifies two classes, got %zu", d->n_classes);
        return hml_hint(err, "use logistic_regression for more than two classes");
    }
    return HML_OK;
}

static enum hml_status check_target(const struct hml__linear *m, const struct hml_fit_data *d, struct hml_error *err)
{
    double wsum = 0;
    for (size_t i = 0; i < d->rows; i++) {
        double y = d->y[i], w = d->w ? d->w[i] : 1;
        bool bad = m->mode == HML_MODE_REGRESSOR ? !isfinite(y) : !(y >= 0 && y < (double)d->n_classes && y == floor(y));
        if (bad) {
            hml_fail(err, HML_EINVAL, "models.fit", "target of row %zu is %g, not a %s", i, y,
                     m->mode == HML_MODE_REGRESSOR ? "finite number" : "class index");
            return hml_hint(err, "drop rows with a missing target; classes are 0..%zu", d->n_classes ? d->n_classes - 1 : 0);
        }
        if (!(w >= 0 && isfinite(w))) {
            hml_fail(err, HML_EINVAL, "models.fit", "weight of row %zu is %g", i, w);
            return hml_hint(err, "sample weights must be finite and not negative");
        }
        wsum += w;
    }
    if (!(wsum > 0)) {
        hml_fail(err, HML_EINVAL, "models.fit", "the sample weights sum to %g", wsum);
        return hml_hint(err, "give at least one training row a positive weight");
    }
    return HML_OK;
}

/* ---- fit: imputation and standardisation ------------------------------------------ */

/* Copies column j of x (rows with positive weight only) into col, as doubles;
 * fails on ±Inf. Returns the number of rows copied through *kept. */
static enum hml_status gather_column(const struct hml_fit_data *d, size_t j, double *col, size_t *kept,
                                     struct hml_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < d->rows; i++) {
        if (d->w && !(d->w[i] > 0)) continue;
        float v = d->x[i * d->cols + j];
        if (isinf(v)) {
            hml_fail(err, HML_EINVAL, "models.fit", "column '%s' is infinite in row %zu",
                     d->feature_names ? d->feature_names[j] : "?", i);
            return hml_hint(err, "replace infinities (e.g. clip or mark them missing) before fitting");
        }
        col[k++] = v;
    }
    *kept = k;
    return HML_OK;
}

/* Median of the observed values of each column, into m->median. */
static enum hml_status medians(struct hml__linear *m, const struct hml_fit_data *d, double *scratch,
                               struct hml_error *err)
{
    for (size_t j = 0; j < d->cols; j++) {
        size_t kept = 0, seen = 0;
        enum hml_status rc = gather_column(d, j, scratch, &kept, err);
        if (rc) return rc;
        for (size_t i = 0; i < kept; i++)
            if (!isnan(scratch[i])) scratch[seen++] = scratch[i];
        m->median[j] = seen ? hml_median_inplace(scratch, seen) : 0;
    }
    return HML_OK;
}

/* Imputes and standardises column j into z (all rows); records mean and scale.
 * Returns false when the column is constant over the weighted rows. */
static bool standardise(struct hml__linear *m, const struct hml_fit_data *d, const double *w, double wsum, size_t j,
                        double *z)
{
    bool constant = true;
    double first = NAN, mean = 0, var = 0;
    for (size_t i = 0; i < d->rows; i++) {
        double v = d->x[i * d->cols + j];
        z[i] = isnan(v) ? m->median[j] : v;
        if (w[i] > 0) {
            if (isnan(first)) first = z[i];
            constant = constant && z[i] == first;
            mean += w[i] * z[i];
        }
    }
    mean /= wsum;
    for (size_t i = 0; i < d->rows; i++) var += w[i] * (z[i] - mean) * (z[i] - mean);
    double sd = sqrt(var / wsum);
    m->mean[j] = m->par.fit_intercept ? mean : 0;
    m->scale[j] = 1;
    if (constant || !(sd > 0) || !isfinite(sd)) return false;
    m->scale[j] = sd;
    for (size_t i = 0; i < d->rows; i++) z[i] = (z[i] - m->mean[j]) / sd;
    return true;
}

/* Builds the design: ones column (with an intercept), then the usable columns. */
static enum hml_status design_build(struct hml__linear *m, const struct hml_fit_data *d, struct hml__lin_design *x,
                                    size_t *active, struct hml_error *err)
{
    size_t n = d->rows;
    x->n = n;
    x->icpt = m->par.fit_intercept;
    x->zf = hml_malloc(n * (d->cols + 1) * sizeof *x->zf);
    if (!x->zf) return hml__lin_oom(err);
    enum hml_status rc = medians(m, d, x->zf, err);
    if (rc) return rc;
    for (size_t i = 0; i < n && x->icpt; i++) x->zf[i] = 1;
    x->p = 0;
    for (size_t j = 0; j < d->cols; j++)
        if (standardise(m, d, x->w, x->wsum, j, x->zf + (x->icpt + x->p) * n)) active[x->p++] = j;
    x->p1 = x->p + x->icpt;
    return HML_OK;
}

/* ---- fit ----------------------------------------------------------------------------- */

static void unpack(struct hml__linear *m, const struct hml__lin_design *x, const size_t *active, const double *theta)
{
    for (size_t k = 0; k < m->outs; k++) {
        const double *t = theta + k * x->p1;
        m->intercept[k] = x->icpt ? t[0] : 0;
        for (size_t a = 0; a < x->p; a++) m->coef[k * m->cols + active[a]] = t[x->icpt + a];
    }
}

/* Binary data with one class has no finite optimum (the intercept runs off to infinity):
 * returns true after setting a constant model that gives the class probability
 * 1 − e^−ONE_CLASS_LOGIT, as the limit would. */
static bool one_class(const struct hml__linear *m, const struct hml__lin_design *x, double *theta)
{
    if (m->mode != HML_MODE_CLASSIFIER || m->outs != 1) return false;
    double w1 = 0;
    for (size_t i = 0; i < x->n; i++) w1 += x->w[i] * x->y[i];
    if (w1 > 0 && w1 < x->wsum) return false;
    memset(theta, 0, x->p1 * sizeof *theta);
    if (x->icpt) theta[0] = w1 > 0 ? ONE_CLASS_LOGIT : -ONE_CLASS_LOGIT;
    return true;
}

static enum hml_status solve(struct hml__linear *m, const struct hml_fit_data *d, const struct hml_fit_ctl *ctl,
                             struct hml__lin_design *x, size_t *active, struct hml_error *err)
{
    struct hml__lin_run run = {.ctl = ctl};
    enum hml_status rc = design_build(m, d, x, active, err);
    double *theta = rc ? NULL : hml_calloc(m->outs * x->p1 + 1, sizeof *theta);
    if (!rc && !theta) rc = hml__lin_oom(err);
    if (!rc && one_class(m, x, theta)) run.converged = true;
    else if (!rc)
        rc = m->kind == HML__LIN_LOGISTIC ? hml__lin_logistic_solve(x, m->outs, &m->par, &run, theta, err)
                                          : hml__lin_enet_solve(x, m->mode, &m->par, &run, theta, err);
    if (!rc) {
        unpack(m, x, active, theta);
        m->iterations = run.iterations;
        m->converged = run.converged;
        if (!run.converged)
            hml_log_warn("%s: stopped after %u iterations before reaching tol %g; raise max_iter or tol",
                         m->base.vt->name, run.iterations, m->par.tol);
    }
    hml_free(theta);
    return rc;
}

static enum hml_status lin_fit(struct hml_model *base, const struct hml_fit_data *d, const struct hml_fit_ctl *ctl,
                               struct hml_error *err)
{
    struct hml__linear *m = (struct hml__linear *)base;
    HML_ASSERT(is_linear(base));
    HML_ASSERT(d != NULL && d->y != NULL);
    enum hml_status rc = check_shape(m, d, err);
    if (!rc) rc = check_target(m, d, err);
    if (rc) return rc;
    HML_ASSERT(d->x != NULL || d->cols == 0);
    size_t outs = m->mode == HML_MODE_CLASSIFIER && d->n_classes > 2 ? d->n_classes : 1;
    struct hml__linear next = *m;
    next.store = NULL;
    struct hml__lin_design x = {0};
    double *w = hml_malloc(d->rows * sizeof *w);
    size_t *active = hml_malloc((d->cols + 1) * sizeof *active);
    if (!w || !active || !hml__lin_state_alloc(&next, d->cols, outs)) {
        rc = hml__lin_oom(err);
        goto done;
    }
    for (size_t i = 0; i < d->rows; i++) x.wsum += (w[i] = d->w ? d->w[i] : 1);
    x.w = w;
    x.y = d->y;
    next.n_classes = m->mode == HML_MODE_CLASSIFIER ? d->n_classes : 0;
    if ((rc = solve(&next, d, ctl, &x, active, err))) goto done;
    next.fitted = true;
    hml_free(m->store);
    *m = next;
    next.store = NULL;
done:
    hml_free(next.store);
    hml_free(x.zf);
    hml_free(w);
    hml_free(active);
    return rc;
}

/* ---- predict, SHAP, importance ---------------------------------------------------- */

static enum hml_status check_fitted(const struct hml__linear *m, size_t cols, struct hml_error *err)
{
    if (!m->fitted) {
        hml_fail(err, HML_ECONFLICT, "models.predict", "the %s model is not fitted", m->base.vt->name);
        return hml_hint(err, "fit the model (or load a saved one) first");
    }
    if (cols != m->cols) {
        hml_fail(err, HML_EINVAL, "models.predict", "got %zu columns, the model was fitted on %zu", cols, m->cols);
        return hml_hint(err, "pass the same feature columns, in the same order, as at fit");
    }
    return HML_OK;
}

/* One row imputed and standardised. */
static void zrow(const struct hml__linear *m, const float *x, double *z)
{
    for (size_t j = 0; j < m->cols; j++) {
        double v = isnan(x[j]) ? m->median[j] : (double)x[j];
        z[j] = (v - m->mean[j]) / m->scale[j];
    }
}

static double eta_of(const struct hml__linear *m, size_t k, const double *z)
{
    const double *c = m->coef + k * m->cols;
    double e = m->intercept[k];
    for (size_t j = 0; j < m->cols; j++)
        if (c[j] != 0) e += c[j] * z[j]; /* skipping zeros keeps 0·Inf out */
    return e;
}

static void softmax(double *e, size_t K)
{
    double mx = -INFINITY, s = 0;
    for (size_t k = 0; k < K; k++) mx = fmax(mx, e[k]);
    if (isinf(mx)) { /* an infinite input: the classes at the top share the mass */
        for (size_t k = 0; k < K; k++) s += (e[k] = e[k] == mx);
    } else {
        for (size_t k = 0; k < K; k++) s += (e[k] = exp(e[k] - mx));
    }
    for (size_t k = 0; k < K; k++) e[k] /= s;
}

static enum hml_status lin_predict(const struct hml_model *base, const float *x, size_t rows, size_t cols,
                                   double *out, struct hml_error *err)
{
    const struct hml__linear *m = (const struct hml__linear *)base;
    HML_ASSERT(is_linear(base));
    enum hml_status rc = check_fitted(m, cols, err);
    if (rc) return rc;
    HML_ASSERT(out != NULL && (x != NULL || rows * cols == 0));
    double *z = hml_malloc((cols + m->outs) * sizeof *z);
    if (!z) return hml_fail(err, HML_ENOMEM, "models.predict", "out of memory predicting");
    double *e = z + cols;
    for (size_t i = 0; i < rows; i++) {
        zrow(m, x + i * cols, z);
        for (size_t k = 0; k < m->outs; k++) e[k] = eta_of(m, k, z);
        if (m->mode == HML_MODE_REGRESSOR) out[i] = e[0];
        else if (m->outs == 1) out[i] = hml__lin_sigmoid(e[0]);
        else {
            softmax(e, m->outs);
            memcpy(out + i * m->outs, e, m->outs * sizeof *e);
        }
    }
    hml_free(z);
    return HML_OK;
}

/* Exact SHAP values of a linear model with the training mean as the baseline (the origin
 * of the raw inputs when fit_intercept=false): φ_j = b_j·z_j, bias = b0, Σ = eta. */
static enum hml_status lin_shap(const struct hml_model *base, const float *x, size_t rows, size_t cols, double *out,
                                struct hml_error *err)
{
    const struct hml__linear *m = (const struct hml__linear *)base;
    HML_ASSERT(is_linear(base));
    enum hml_status rc = check_fitted(m, cols, err);
    if (rc) return rc;
    if (m->outs != 1) {
        hml_fail(err, HML_EINVAL, "models.shap", "SHAP values cover binary and regression models, this one has %zu classes",
                 m->n_classes);
        return hml_hint(err, "use importance, or predict per class, for multiclass models");
    }
    double *z = hml_malloc((cols + 1) * sizeof *z);
    if (!z) return hml_fail(err, HML_ENOMEM, "models.shap", "out of memory computing SHAP values");
    for (size_t i = 0; i < rows; i++) {
        double *o = out + i * (cols + 1);
        zrow(m, x + i * cols, z);
        for (size_t j = 0; j < cols; j++) o[j] = m->coef[j] == 0 ? 0 : m->coef[j] * z[j];
        o[cols] = m->intercept[0];
    }
    hml_free(z);
    return HML_OK;
}

static enum hml_status lin_importance(const struct hml_model *base, double *out, struct hml_error *err)
{
    const struct hml__linear *m = (const struct hml__linear *)base;
    HML_ASSERT(is_linear(base));
    enum hml_status rc = check_fitted(m, m->cols, err);
    if (rc) return rc;
    for (size_t j = 0; j < m->cols; j++) {
        double s = 0;
        for (size_t k = 0; k < m->outs; k++) s += fabs(m->coef[k * m->cols + j]);
        out[j] = s / (double)m->outs;
    }
    return HML_OK;
}

size_t hml_linear_outputs(const struct hml_model *base)
{
    const struct hml__linear *m = (const struct hml__linear *)base;
    return is_linear(base) && m->fitted ? m->outs : 0;
}

size_t hml_linear_coefficients(const struct hml_model *base, double *coef, size_t cols, double *intercept)
{
    const struct hml__linear *m = (const struct hml__linear *)base;
    if (!is_linear(base) || !m->fitted || cols != m->cols) return 0;
    HML_ASSERT(coef != NULL || cols == 0);
    for (size_t k = 0; k < m->outs; k++) {
        double c0 = m->intercept[k];
        for (size_t j = 0; j < cols; j++) {
            double c = m->coef[k * cols + j] / m->scale[j];
            coef[k * cols + j] = c;
            c0 -= c * m->mean[j];
        }
        if (intercept) intercept[k] = c0;
    }
    return m->outs;
}

/* ---- vtables (save/load live in model_linear_blob.c) ------------------------------ */

static enum hml_status lr_load(const void *data, size_t len, struct hml_model **out, struct hml_error *err)
{
    return hml__lin_load(&hml_model_logistic_regression, data, len, out, err);
}

static enum hml_status en_load(const void *data, size_t len, struct hml_model **out, struct hml_error *err)
{
    return hml__lin_load(&hml_model_elastic_net, data, len, out, err);
}

const struct hml_model_vt hml_model_logistic_regression = {
    .version = HML_MODEL_API_VERSION,
    .name = "logistic_regression",
    .engine = "native: Newton / L-BFGS on standardised inputs",
    .caps = HML_CAP_CLASSIFIER | HML_CAP_MULTICLASS | HML_CAP_IMPORTANCE | HML_CAP_SHAP | HML_CAP_WEIGHTS,
    .params = lr_params,
    .create = lr_create,
    .fit = lin_fit,
    .predict = lin_predict,
    .save = hml__lin_save,
    .load = lr_load,
    .importance = lin_importance,
    .shap = lin_shap,
    .free = hml__lin_free,
};

const struct hml_model_vt hml_model_elastic_net = {
    .version = HML_MODEL_API_VERSION,
    .name = "elastic_net",
    .engine = "native: coordinate descent (proximal Newton for the classifier) on standardised inputs",
    .caps = HML_CAP_CLASSIFIER | HML_CAP_REGRESSOR | HML_CAP_IMPORTANCE | HML_CAP_SHAP | HML_CAP_WEIGHTS,
    .params = en_params,
    .create = en_create,
    .fit = lin_fit,
    .predict = lin_predict,
    .save = hml__lin_save,
    .load = en_load,
    .importance = lin_importance,
    .shap = lin_shap,
    .free = hml__lin_free,
};
