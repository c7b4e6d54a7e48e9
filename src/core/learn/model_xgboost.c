/* model_xgboost.c — create and fit for the libxgboost backends (xgboost, random_forest,
 * lightgbm), and the helpers the rest of the backend shares. Fitting runs one
 * XGBoosterUpdateOneIter per round so cancellation, progress and early stopping all
 * happen between rounds, exactly where Python's xgboost.train runs its callbacks. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/learn/model_xgboost_int.h"
#include "harness/alloc.h"
#include "harness/log.h"


/* ---- shared helpers ----------------------------------------------------------------- */

/* libxgboost's messages start "[hh:mm:ss] path/file.cc:123: " and may end with a stack
 * trace; the user needs only the sentence in between. */
static void tidy_message(const char *raw, char *out, size_t cap)
{
    const char *s = raw ? raw : "unknown error";
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close) s = close + 1;
    }
    while (*s == ' ') s++;
    const char *colon = strstr(s, ": ");
    const char *dot = strstr(s, ".cc:");
    if (!dot) dot = strstr(s, ".h:");
    if (dot && colon && dot < colon && !memchr(s, ' ', (size_t)(dot - s))) s = colon + 2;
    size_t n = strcspn(s, "\n");
    const char *trace = strstr(s, "Stack trace");
    if (trace && (size_t)(trace - s) < n) n = (size_t)(trace - s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n')) n--;
    snprintf(out, cap, "%.*s", (int)n, s);
}

enum hml_status hml__xgb_backend_error(struct hml_error *err, const char *where)
{
    char msg[400];
    tidy_message(XGBGetLastError(), msg, sizeof msg);
    hml_fail(err, HML_EBACKEND, where, "xgboost: %s", msg);
    if (!strcmp(where, "xgboost.load"))
        return hml_hint(err, "the saved model is damaged or from an incompatible libxgboost; refit it");
    return hml_hint(err, "libxgboost refused the call; check the model's params (`models show`) and the data "
                         "(finite labels, class indices 0..n_classes-1, category codes >= 0)");
}

static void log_line(const char *msg)
{
    hml_log_debug("xgboost: %s", msg);
}

/* libxgboost's global config and log callback are both per thread. */
void hml__xgb_quiet(void)
{
    static _Thread_local int done;
    if (done) return;
    done = 1;
    XGBRegisterLogCallback(log_line);
    if (XGBSetGlobalConfig("{\"verbosity\":0}")) hml_log_warn("xgboost: cannot set verbosity 0");
}

static const char *feature_type(const struct xgb_model *m, size_t j)
{
    return m->categorical[j] ? "c" : "q";
}

static int any_categorical(const struct xgb_model *m)
{
    for (size_t j = 0; j < m->n_features; j++)
        if (m->categorical[j]) return 1;
    return 0;
}

/* Names and types go on the booster so importance is named and the saved model
 * carries them; types only when a column is categorical, as Python does. */
static enum hml_status set_feature_info(BoosterHandle bst, const struct xgb_model *m, struct hml_error *err)
{
    HML_ASSERT(m->names != NULL);
    HML_ASSERT(m->n_features > 0);
    if (XGBoosterSetStrFeatureInfo(bst, "feature_name", (const char **)m->names, m->n_features))
        return hml__xgb_backend_error(err, "xgboost.features");
    if (!any_categorical(m)) return HML_OK;
    const char **types = hml_malloc(m->n_features * sizeof *types);
    if (!types) return hml_fail(err, HML_ENOMEM, "xgboost.features", "out of memory");
    for (size_t j = 0; j < m->n_features; j++) types[j] = feature_type(m, j);
    int rc = XGBoosterSetStrFeatureInfo(bst, "feature_type", types, m->n_features);
    hml_free(types);
    return rc ? hml__xgb_backend_error(err, "xgboost.features") : HML_OK;
}

enum hml_status hml__xgb_booster_setup(BoosterHandle bst, const struct xgb_model *m, struct hml_error *err)
{
    HML_ASSERT(bst != NULL);
    if (XGBoosterSetParam(bst, "verbosity", "0")) return hml__xgb_backend_error(err, "xgboost.params");
    if (m->nthread > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", m->nthread);
        if (XGBoosterSetParam(bst, "nthread", v)) return hml__xgb_backend_error(err, "xgboost.params");
    }
    return set_feature_info(bst, m, err);
}

void hml__xgb_unfit(struct xgb_model *m)
{
    if (m->booster) XGBoosterFree(m->booster);
    for (size_t j = 0; m->names && j < m->n_features; j++) hml_free(m->names[j]);
    hml_free(m->names);
    hml_free(m->categorical);
    m->booster = NULL;
    m->names = NULL;
    m->categorical = NULL;
    m->n_features = m->n_classes = 0;
    m->rounds = 0;
    m->best_iteration = -1;
}

void hml__xgb_free(struct hml_model *base)
{
    if (!base) return;
    struct xgb_model *m = (struct xgb_model *)base;
    hml__xgb_unfit(m);
    json_decref(m->params);
    hml_free(m);
}

int hml__xgb_best_iteration(const struct hml_model *m)
{
    return ((const struct xgb_model *)m)->best_iteration;
}

int hml__xgb_rounds(const struct hml_model *m)
{
    return ((const struct xgb_model *)m)->rounds;
}

/* ---- create ------------------------------------------------------------------------- */

static const char *canonical_name(const struct xgb_backend *be, const char *key)
{
    for (const struct xgb_alias *a = be->aliases; a->alias; a++)
        if (!strcmp(a->alias, key)) return a->canonical;
    return key;
}

/* Another key of params that names the same parameter as key, or NULL. */
static const char *other_spelling(const struct xgb_backend *be, const json_t *params, const char *key)
{
    const char *canon = canonical_name(be, key), *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v) {
        if (strcmp(k, key) && !strcmp(canonical_name(be, k), canon)) return k;
    }
    return NULL;
}

/* Rewrites params under canonical names; two spellings of one parameter are refused
 * rather than one silently winning. */
static enum hml_status canonical_params(const struct xgb_backend *be, const json_t *params, json_t **out,
                                        struct hml_error *err)
{
    json_t *c = json_object();
    if (!c) return hml_fail(err, HML_ENOMEM, "models.params", "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        const char *canon = canonical_name(be, key);
        if (json_object_get(c, canon)) {
            const char *other = other_spelling(be, params, key);
            json_decref(c);
            hml_fail(err, HML_EINVAL, "models.params", "'%s' and '%s' both set %s param '%s'", other ? other : canon,
                     key, be->vt->name, canon);
            return hml_hint(err, "give only one of them; '%s' is the canonical name", canon);
        }
        if (json_object_set(c, canon, v)) {
            json_decref(c);
            return hml_fail(err, HML_ENOMEM, "models.params", "out of memory");
        }
    }
    *out = c;
    return HML_OK;
}

enum hml_status hml__xgb_create(const struct xgb_backend *be, const json_t *params, enum hml_model_mode mode,
                                struct hml_model **out, struct hml_error *err)
{
    HML_ASSERT(be != NULL && be->vt != NULL);
    HML_ASSERT(out != NULL);
    if (mode != HML_MODE_CLASSIFIER && mode != HML_MODE_REGRESSOR) {
        hml_fail(err, HML_EINVAL, "models.create", "unknown mode %d for %s", (int)mode, be->vt->name);
        return hml_hint(err, "use classifier or regressor");
    }
    enum hml_status rc = hml_model_params_check(be->vt, params, err);
    if (rc) return rc;
    json_t *canon = NULL;
    if (params && !json_is_null(params) && (rc = canonical_params(be, params, &canon, err))) return rc;
    if (!canon && !(canon = json_object())) return hml_fail(err, HML_ENOMEM, "models.create", "out of memory");
    struct xgb_model *m = hml_calloc(1, sizeof *m);
    if (!m) {
        json_decref(canon);
        return hml_fail(err, HML_ENOMEM, "models.create", "out of memory");
    }
    m->base.vt = be->vt;
    m->be = be;
    m->mode = mode;
    m->params = canon;
    m->best_iteration = -1;
    *out = &m->base;
    return HML_OK;
}

/* ---- fit: checking the data --------------------------------------------------------- */

static enum hml_status check_shape(const struct xgb_model *m, const struct hml_fit_data *d, struct hml_error *err)
{
    const char *w = "models.fit";
    if (!d->x || !d->y || d->rows == 0 || d->cols == 0) {
        hml_fail(err, HML_EINVAL, w, "%s needs at least one row and one column with targets", m->be->vt->name);
        return hml_hint(err, "check that the fold's training rows are not empty");
    }
    if (d->rows > XGB_ROWS_MAX || d->cols > XGB_COLS_MAX) {
        hml_fail(err, HML_ELIMIT, w, "%zu rows × %zu columns is more than %s takes (%zu × %u)", d->rows, d->cols,
                 m->be->vt->name, XGB_ROWS_MAX, XGB_COLS_MAX);
        return hml_hint(err, "sample the rows or select fewer features");
    }
    if (m->mode == HML_MODE_CLASSIFIER && (d->n_classes < 2 || d->n_classes > XGB_CLASSES_MAX)) {
        hml_fail(err, HML_EINVAL, w, "a classifier needs 2..%d classes, not %zu", XGB_CLASSES_MAX, d->n_classes);
        return hml_hint(err, "check the target column, or use mode regressor for a numeric target");
    }
    if (d->x_valid && d->rows_valid > 0 && !d->y_valid) {
        hml_fail(err, HML_EINVAL, w, "the hold-out has rows but no targets");
        return hml_hint(err, "pass y_valid with x_valid");
    }
    return HML_OK;
}

static enum hml_status check_targets(const double *y, const double *wt, size_t rows,
                                     size_t n_classes, struct hml_error *err)
{
    for (size_t i = 0; i < rows; i++) {
        int bad = !isfinite(y[i]) ||
                  (n_classes && (y[i] < 0 || y[i] >= (double)n_classes || y[i] != floor(y[i])));
        if (bad) {
            hml_fail(err, HML_EINVAL, "models.fit", "target of row %zu is %g, not %s", i, y[i],
                     n_classes ? "a class index" : "a finite number");
            return n_classes ? hml_hint(err, "class targets are indices 0..%zu", n_classes - 1)
                             : hml_hint(err, "drop rows with a missing target");
        }
        if (wt && !(isfinite(wt[i]) && wt[i] >= 0)) {
            hml_fail(err, HML_EINVAL, "models.fit", "weight of row %zu is %g", i, wt[i]);
            return hml_hint(err, "sample weights must be finite and >= 0");
        }
    }
    return HML_OK;
}

static enum hml_status check_values(const float *x, size_t rows, size_t cols, const struct hml_fit_data *d,
                                    struct hml_error *err)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            float v = x[i * cols + j];
            if (isnan(v)) continue;
            if (isinf(v)) {
                hml_fail(err, HML_EINVAL, "models.fit", "column %zu of row %zu is infinite", j, i);
                return hml_hint(err, "replace infinities with NaN (missing) or a finite value");
            }
            if (!d->categorical || !d->categorical[j]) continue;
            if (v < 0 || v != floorf(v) || (d->levels && v >= (float)d->levels[j]) || v >= 16777216.0f) {
                hml_fail(err, HML_EINVAL, "models.fit", "categorical column %zu of row %zu holds %g, not a level code",
                         j, i, (double)v);
                return hml_hint(err, "categorical values are level codes 0..levels-1 (NaN = missing)");
            }
        }
    return HML_OK;
}

/* Copies names (or f0, f1, … when none are given) and refuses duplicates, which would
 * make importance ambiguous. */
static enum hml_status copy_names(struct xgb_model *m, const struct hml_fit_data *d, struct hml_error *err)
{
    if (!(m->names = hml_calloc(d->cols, sizeof *m->names)) || !(m->categorical = hml_calloc(d->cols, 1)))
        return hml_fail(err, HML_ENOMEM, "models.fit", "out of memory");
    m->n_features = d->cols;
    for (size_t j = 0; j < d->cols; j++) {
        char gen[32];
        snprintf(gen, sizeof gen, "f%zu", j);
        const char *name = d->feature_names && d->feature_names[j] ? d->feature_names[j] : gen;
        if (!name[0] || strlen(name) >= XGB_NAME_MAX) {
            hml_fail(err, HML_EINVAL, "models.fit", "feature %zu has an empty or over-long name", j);
            return hml_hint(err, "feature names are 1..%d bytes", XGB_NAME_MAX - 1);
        }
        for (size_t k = 0; k < j; k++)
            if (!strcmp(m->names[k], name)) {
                hml_fail(err, HML_EINVAL, "models.fit", "feature '%s' appears twice", name);
                return hml_hint(err, "give each feature column a unique name");
            }
        if (!(m->names[j] = hml_strdup(name))) return hml_fail(err, HML_ENOMEM, "models.fit", "out of memory");
        m->categorical[j] = d->categorical ? d->categorical[j] != 0 : 0;
    }
    return HML_OK;
}

static enum hml_status check_data(struct xgb_model *m, const struct hml_fit_data *d, struct hml_error *err)
{
    enum hml_status rc = check_shape(m, d, err);
    size_t k = m->mode == HML_MODE_CLASSIFIER ? d->n_classes : 0;
    if (!rc) rc = check_targets(d->y, d->w, d->rows, k, err);
    if (!rc) rc = check_values(d->x, d->rows, d->cols, d, err);
    if (!rc && d->x_valid && d->rows_valid) rc = check_targets(d->y_valid, d->w_valid, d->rows_valid, k, err);
    if (!rc && d->x_valid && d->rows_valid) rc = check_values(d->x_valid, d->rows_valid, d->cols, d, err);
    if (!rc) rc = copy_names(m, d, err);
    return rc;
}

/* ---- fit: libxgboost objects -------------------------------------------------------- */

static enum hml_status set_float_info(DMatrixHandle dm, const char *field, const double *v, size_t n,
                                      struct hml_error *err)
{
    float *f = hml_malloc(n * sizeof *f);
    if (!f) return hml_fail(err, HML_ENOMEM, "models.fit", "out of memory");
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    int rc = XGDMatrixSetFloatInfo(dm, field, f, n);
    hml_free(f);
    return rc ? hml__xgb_backend_error(err, "xgboost.data") : HML_OK;
}

static enum hml_status set_dmatrix_features(DMatrixHandle dm, const struct xgb_model *m, struct hml_error *err)
{
    if (XGDMatrixSetStrFeatureInfo(dm, "feature_name", (const char **)m->names, m->n_features))
        return hml__xgb_backend_error(err, "xgboost.data");
    if (!any_categorical(m)) return HML_OK;
    const char **types = hml_malloc(m->n_features * sizeof *types);
    if (!types) return hml_fail(err, HML_ENOMEM, "models.fit", "out of memory");
    for (size_t j = 0; j < m->n_features; j++) types[j] = feature_type(m, j);
    int rc = XGDMatrixSetStrFeatureInfo(dm, "feature_type", types, m->n_features);
    hml_free(types);
    return rc ? hml__xgb_backend_error(err, "xgboost.data") : HML_OK;
}

enum hml_status hml__xgb_dmatrix(const struct xgb_model *m, const float *x, size_t rows, const double *y,
                                 const double *wt, DMatrixHandle *out, struct hml_error *err)
{
    HML_ASSERT(x != NULL && rows > 0);
    HML_ASSERT(m->names != NULL);
    char data[160], cfg[64];
    snprintf(data, sizeof data, "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
             (uintptr_t)x, rows, m->n_features);
    snprintf(cfg, sizeof cfg, "{\"missing\":NaN,\"nthread\":%d}", m->nthread);
    DMatrixHandle dm = NULL;
    if (XGDMatrixCreateFromDense(data, cfg, &dm)) return hml__xgb_backend_error(err, "xgboost.data");
    enum hml_status rc = y ? set_float_info(dm, "label", y, rows, err) : HML_OK;
    if (!rc && wt) rc = set_float_info(dm, "weight", wt, rows, err);
    if (!rc) rc = set_dmatrix_features(dm, m, err);
    if (rc) {
        XGDMatrixFree(dm);
        return rc;
    }
    *out = dm;
    return HML_OK;
}

static enum hml_status set_param(BoosterHandle bst, const char *name, const char *value, struct hml_error *err)
{
    if (!XGBoosterSetParam(bst, name, value)) return HML_OK;
    hml__xgb_backend_error(err, "xgboost.params");
    hml_error_prefix(err, "param %s=%s", name, value);
    return err->code;
}

static const char *objective(const struct xgb_model *m)
{
    if (m->mode == HML_MODE_REGRESSOR) return "reg:squarederror";
    return m->n_classes == 2 ? "binary:logistic" : "multi:softprob";
}

static enum hml_status booster_new(DMatrixHandle *cache, size_t n_cache, const struct xgb_model *m,
                                   const struct xgb_plan *plan, uint64_t seed, BoosterHandle *out,
                                   struct hml_error *err)
{
    BoosterHandle bst = NULL;
    if (XGBoosterCreate(cache, n_cache, &bst)) return hml__xgb_backend_error(err, "xgboost.create");
    char num[32], sd[32];
    snprintf(num, sizeof num, "%zu", m->n_classes);
    snprintf(sd, sizeof sd, "%" PRIu64, seed & 0x7fffffffu); /* libxgboost's seed is a signed int */
    enum hml_status rc = hml__xgb_booster_setup(bst, m, err);
    if (!rc) rc = set_param(bst, "tree_method", "hist", err);
    if (!rc) rc = set_param(bst, "objective", objective(m), err);
    if (!rc && m->n_classes > 2) rc = set_param(bst, "num_class", num, err);
    if (!rc) rc = set_param(bst, "seed", sd, err);
    for (size_t i = 0; !rc && i < plan->kv_n; i++) rc = set_param(bst, plan->kv[i].name, plan->kv[i].value, err);
    if (rc) {
        XGBoosterFree(bst);
        return rc;
    }
    *out = bst;
    return HML_OK;
}

/* ---- fit: the round loop ------------------------------------------------------------ */

struct fit_run {
    const struct hml_fit_ctl *ctl;
    DMatrixHandle train, valid; /* valid NULL when early stopping is off */
    BoosterHandle bst;
    struct xgb_plan plan;
    int done;                   /* rounds boosted */
    int best;                   /* best round so far (early stopping), or -1 */
    double best_score;
};

/* The hold-out score after round it, parsed from libxgboost's own evaluation line
 * ("[it]\tvalid-logloss:0.123456") — the number Python's early stopping reads too. */
static enum hml_status valid_score(struct fit_run *r, int it, double *out, struct hml_error *err)
{
    const char *names[] = {"valid"}, *line = NULL;
    if (XGBoosterEvalOneIter(r->bst, it, &r->valid, names, 1, &line)) return hml__xgb_backend_error(err, "xgboost.eval");
    const char *colon = line ? strrchr(line, ':') : NULL;
    char *end = NULL;
    double v = colon ? strtod(colon + 1, &end) : NAN;
    if (!colon || end == colon + 1) {
        hml_fail(err, HML_EBACKEND, "xgboost.eval", "xgboost: cannot read the evaluation line '%s'", line ? line : "");
        return hml_hint(err, "this libxgboost prints its metrics differently; report it");
    }
    *out = v;
    return HML_OK;
}

static void report(const struct fit_run *r, double score)
{
    const struct hml_fit_ctl *ctl = r->ctl;
    if (!ctl || !ctl->progress) return;
    char msg[128];
    if (r->valid)
        snprintf(msg, sizeof msg, "round %d/%d, hold-out %.6g (best round %d)", r->done, r->plan.rounds, score,
                 r->best + 1);
    else
        snprintf(msg, sizeof msg, "round %d/%d", r->done, r->plan.rounds);
    ctl->progress(ctl->progress_ud, r->done, r->plan.rounds, msg);
}

/* Python's EarlyStopping: strictly lower is better; stop after `patience` rounds
 * without improvement. Returns 1 to stop. */
static int early_stop(struct fit_run *r, int it, double score)
{
    if (r->best < 0 || score < r->best_score) {
        r->best = it;
        r->best_score = score;
    }
    return it - r->best >= r->plan.early_stopping_rounds;
}

static enum hml_status run_rounds(struct fit_run *r, const char *name, struct hml_error *err)
{
    HML_ASSERT(r->bst != NULL);
    HML_ASSERT(r->plan.rounds >= 1);
    for (int it = 0; it < r->plan.rounds; it++) {
        if (r->ctl && r->ctl->cancel && *r->ctl->cancel) {
            hml_fail(err, HML_ECONFLICT, "models.fit", "cancelled");
            return hml_hint(err, "%s stopped after round %d of %d because the fit was cancelled; run it again",
                            name, r->done, r->plan.rounds);
        }
        if (XGBoosterUpdateOneIter(r->bst, it, r->train)) return hml__xgb_backend_error(err, "xgboost.fit");
        r->done = it + 1;
        double score = NAN;
        int stop = 0;
        if (r->valid) {
            enum hml_status rc = valid_score(r, it, &score, err);
            if (rc) return rc;
            stop = early_stop(r, it, score);
        }
        report(r, score);
        if (stop) break;
    }
    return HML_OK;
}

/* Keeps rounds 0..best only, so predict, SHAP, importance and save all see the
 * model early stopping chose. */
static enum hml_status keep_best(struct fit_run *r, const struct xgb_model *m, struct hml_error *err)
{
    if (r->best < 0 || r->best + 1 >= r->done) return HML_OK;
    BoosterHandle sliced = NULL;
    if (XGBoosterSlice(r->bst, 0, r->best + 1, 1, &sliced)) return hml__xgb_backend_error(err, "xgboost.fit");
    XGBoosterFree(r->bst);
    r->bst = sliced;
    r->done = r->best + 1;
    return hml__xgb_booster_setup(sliced, m, err);
}

static enum hml_status fit_booster(struct xgb_model *m, const struct hml_fit_data *d, struct fit_run *r,
                                   struct hml_error *err)
{
    enum hml_status rc = hml__xgb_dmatrix(m, d->x, d->rows, d->y, d->w, &r->train, err);
    int es = r->plan.early_stopping_rounds > 0;
    if (es && !(d->x_valid && d->rows_valid)) {
        hml_log_info("%s: early_stopping_rounds is set but there is no hold-out; boosting all rounds",
                     m->be->vt->name);
        es = 0;
    }
    if (!rc && es) rc = hml__xgb_dmatrix(m, d->x_valid, d->rows_valid, d->y_valid, d->w_valid, &r->valid, err);
    DMatrixHandle cache[2] = {r->train, r->valid};
    if (!rc) rc = booster_new(cache, r->valid ? 2 : 1, m, &r->plan, r->ctl ? r->ctl->seed : 0, &r->bst, err);
    if (!rc) rc = run_rounds(r, m->be->vt->name, err);
    if (!rc) rc = keep_best(r, m, err);
    return rc;
}

enum hml_status hml__xgb_fit(struct hml_model *base, const struct hml_fit_data *d, const struct hml_fit_ctl *ctl,
                             struct hml_error *err)
{
    HML_ASSERT(base != NULL && d != NULL);
    struct xgb_model *m = (struct xgb_model *)base;
    HML_ASSERT(m->be->vt == base->vt);
    hml__xgb_quiet();
    /* Build the new fitted state in a scratch model so failure leaves m untouched. */
    struct xgb_model next = {.base = m->base, .be = m->be, .mode = m->mode, .params = m->params};
    next.n_classes = m->mode == HML_MODE_CLASSIFIER ? d->n_classes : 0;
    next.nthread = ctl && ctl->nthread > 0 ? ctl->nthread : 0;
    next.best_iteration = -1;
    struct fit_run r = {.ctl = ctl, .best = -1};
    enum hml_status rc = check_data(&next, d, err);
    if (!rc) {
        m->be->plan(m->be->vt, m->params, m->mode, next.n_classes, &r.plan);
        rc = fit_booster(&next, d, &r, err);
    }
    if (r.train) XGDMatrixFree(r.train);
    if (r.valid) XGDMatrixFree(r.valid);
    next.booster = r.bst;
    if (rc) {
        hml__xgb_unfit(&next);
        return rc;
    }
    next.rounds = r.done;
    next.best_iteration = r.best;
    hml__xgb_unfit(m);
    *m = next;
    return HML_OK;
}
