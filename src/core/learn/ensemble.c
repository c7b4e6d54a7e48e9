/* ensemble.c — average, weighted and stacked combinations that never read the labels
 * of the fold they combine (see ensemble.h). */
#include "harness/ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/calib.h"
#include "harness/frame.h"
#include "harness/model.h"
#include "harness/model_linear.h"

#define P_EPS 1e-6

struct ens {
    const struct hml_ensemble_input *in;
    const double **pred;         /* members' fold predictions (pre-calibrated copies when asked) */
    size_t excl;                 /* a second fold kept out of training (nested calibration)     */
    size_t calibrated_folds, pre_calibrated;
    const struct hml_run *r;
    size_t k, nf, m;
    size_t *off;          /* start row (× k) of each fold's slice */
    double *coef_sum;     /* stacked logistic/ridge: per member (binary/regression) */
    double *weight_sum;   /* weighted: per member */
    size_t meta_idx[32];  /* meta_features: frame columns */
    size_t nmeta;
    size_t fitted_folds, fallback_folds;
};

static double clamp_p(double p) { return p < P_EPS ? P_EPS : p > 1 - P_EPS ? 1 - P_EPS : p; }
static double logit(double p) { p = clamp_p(p); return log(p / (1 - p)); }

/* Average of the members for rows [lo, hi) of the flat fold layout. */
static void average_rows(const struct ens *e, size_t lo, size_t hi, double *out)
{
    for (size_t i = lo; i < hi; i++) {
        double s = 0;
        for (size_t j = 0; j < e->m; j++) s += e->pred[j][i];
        out[i] = s / (double)e->m;
    }
}

/* Which folds may train the combiner of fold f. */
static bool may_train(const struct ens *e, size_t f, size_t g)
{
    if (g == f || g == e->excl) return false;
    return hml_cv_strategy_time_ordered(e->r->folds->strategy) ? g < f : true;
}

static size_t train_rows(const struct ens *e, size_t f)
{
    size_t n = 0;
    for (size_t g = 0; g < e->nf; g++)
        if (may_train(e, f, g)) n += e->r->folds->folds[g].test_n;
    return n;
}

/* ---- weighted ------------------------------------------------------------------------------ */

static double member_weight_given(const struct ens *e, size_t j)
{
    const json_t *w = json_object_get(json_object_get(e->in->cfg, "weights"), e->in->member_names[j]);
    return json_is_number(w) ? json_number_value(w) : 0.0;
}

/* Loss gradient w.r.t. the combined prediction for one value. */
static double loss_grad(const struct ens *e, double pred, double y, size_t c)
{
    if (e->r->task == HML_TASK_REGRESSION) return 2 * (pred - y);
    if (e->k == 1) {
        double p = clamp_p(pred);
        return y > 0.5 ? -1 / p : 1 / (1 - p);
    }
    return (size_t)y == c ? -1 / clamp_p(pred) : 0.0;
}

/* Exponentiated gradient on the simplex: multiplicative steps keep weights positive
 * and summing to one, with no projection to get wrong. */
static void fit_weights(const struct ens *e, size_t f, double *w)
{
    for (size_t j = 0; j < e->m; j++) w[j] = 1.0 / (double)e->m;
    size_t n = train_rows(e, f);
    if (!n) return;
    double grad[64];
    for (int it = 0; it < 200; it++) {
        memset(grad, 0, sizeof grad);
        for (size_t g = 0; g < e->nf; g++) {
            if (!may_train(e, f, g)) continue;
            const struct hml_cv_fold *fd = &e->r->folds->folds[g];
            for (size_t i = 0; i < fd->test_n; i++)
                for (size_t c = 0; c < e->k; c++) {
                    size_t at = e->off[g] + i * e->k + c;
                    double pred = 0;
                    for (size_t j = 0; j < e->m; j++) pred += w[j] * e->pred[j][at];
                    double gl = loss_grad(e, pred, e->r->y[fd->test[i]], c);
                    for (size_t j = 0; j < e->m; j++) grad[j] += gl * e->pred[j][at] / (double)n;
                }
        }
        double z = 0, eta = 0.5;
        for (size_t j = 0; j < e->m; j++) z += (w[j] *= exp(-eta * fmax(-20, fmin(20, grad[j]))));
        for (size_t j = 0; j < e->m; j++) w[j] /= z;
    }
}

static void combine_weighted(struct ens *e, double *out)
{
    double w[64], given = 0;
    for (size_t j = 0; j < e->m; j++) given += member_weight_given(e, j);
    for (size_t f = 0; f < e->nf; f++) {
        size_t lo = e->off[f], hi = lo + e->r->folds->folds[f].test_n * e->k;
        if (given > 0) {
            for (size_t j = 0; j < e->m; j++) w[j] = member_weight_given(e, j) / given;
        } else if (train_rows(e, f)) {
            fit_weights(e, f, w);
            e->fitted_folds++;
        } else {
            average_rows(e, lo, hi, out);
            e->fallback_folds++;
            continue;
        }
        for (size_t j = 0; j < e->m; j++) e->weight_sum[j] += w[j];
        for (size_t i = lo; i < hi; i++) {
            double s = 0;
            for (size_t j = 0; j < e->m; j++) s += w[j] * e->pred[j][i];
            out[i] = s;
        }
    }
}

/* ---- stacked ---------------------------------------------------------------------------------- */

static size_t meta_cols(const struct ens *e) { return e->m * e->k + e->nmeta; }

/* Meta features of one row: logits (binary), log-probabilities (multiclass), values,
 * then the meta_features columns of that row (NaN when null: the backends impute). */
static void meta_row(const struct ens *e, size_t at, size_t row, float *x)
{
    for (size_t q = 0; q < e->nmeta; q++) {
        const struct hml_column *col = e->in->rows->cols[e->meta_idx[q]];
        x[e->m * e->k + q] = (float)hml_column_num(col, row);
    }
    for (size_t j = 0; j < e->m; j++)
        for (size_t c = 0; c < e->k; c++) {
            double p = e->pred[j][at + c];
            double v = e->r->task == HML_TASK_REGRESSION ? p : e->k == 1 ? logit(p) : log(clamp_p(p));
            x[j * e->k + c] = (float)v;
        }
}

static enum hml_status meta_model(const struct ens *e, const struct hml_model_vt **vt, json_t **params,
                                  struct hml_error *err)
{
    const json_t *ml = json_object_get(e->in->cfg, "meta_learner");
    const char *type = hml_json_str(ml, "type", "logistic");
    /* A few strongly correlated logits need little shrinkage: C = 1 cost 0.004 of log
     * loss on breast_cancer against C = 10, and nothing on Titanic either way. */
    double C = hml_json_num(ml, "C", !strcmp(type, "ridge") ? 0.1 : 10.0);
    bool reg = e->r->task == HML_TASK_REGRESSION;
    if (!strcmp(type, "gbm")) {
        *vt = hml_model_find("xgboost");
        *params = json_pack("{s:i,s:i,s:f}", "n_estimators", 50, "max_depth", 2, "learning_rate", 0.1);
    } else if (reg) {
        *vt = hml_model_find("elastic_net");
        *params = json_pack("{s:f,s:f}", "alpha", 0.01 / C, "l1_ratio", 0.0);
    } else {
        *vt = hml_model_find("logistic_regression");
        *params = json_pack("{s:f}", "C", C);
    }
    if (!*vt || !*params) {
        json_decref(*params);
        hml_fail(err, HML_EINTERNAL, "ensemble", "the meta-learner's backend is missing");
        return hml_hint(err, "use ensemble.method average");
    }
    return HML_OK;
}

/* Fits the combiner of fold f on the other folds and predicts fold f into out. */
static enum hml_status stack_fold(struct ens *e, size_t f, const struct hml_model_vt *vt, const json_t *params,
                                  double *out, struct hml_error *err)
{
    const struct hml_cv_folds *fs = e->r->folds;
    size_t n = train_rows(e, f), cols = meta_cols(e), tn = fs->folds[f].test_n, t = 0;
    float *x = hml_malloc((n * cols + 1) * sizeof *x), *xt = hml_malloc((tn * cols + 1) * sizeof *xt);
    double *y = hml_malloc((n + 1) * sizeof *y), *pred = hml_malloc((tn * e->k + 1) * sizeof *pred);
    struct hml_model *model = NULL;
    enum hml_status rc = x && xt && y && pred ? HML_OK : hml_fail(err, HML_ENOMEM, "ensemble", "out of memory");
    for (size_t g = 0; !rc && g < e->nf; g++) {
        if (!may_train(e, f, g)) continue;
        for (size_t i = 0; i < fs->folds[g].test_n; i++, t++) {
            meta_row(e, e->off[g] + i * e->k, fs->folds[g].test[i], x + t * cols);
            y[t] = e->r->y[fs->folds[g].test[i]];
        }
    }
    for (size_t i = 0; !rc && i < tn; i++) meta_row(e, e->off[f] + i * e->k, fs->folds[f].test[i], xt + i * cols);
    if (!rc) rc = vt->create(params, e->r->task == HML_TASK_REGRESSION ? HML_MODE_REGRESSOR : HML_MODE_CLASSIFIER, &model, err);
    struct hml_fit_data fd = {.x = x, .rows = n, .cols = cols, .feature_names = e->in->member_names, .y = y,
                              .n_classes = e->r->task == HML_TASK_REGRESSION ? 0 : e->r->n_classes};
    const char *names[256];
    if ((e->k > 1 || e->nmeta) && cols <= 256) { /* one name per (member, class) and meta column */
        static _Thread_local char buf[256][96];
        for (size_t j = 0; j < e->m; j++)
            for (size_t c = 0; c < e->k; c++) {
                snprintf(buf[j * e->k + c], sizeof buf[0], e->k > 1 ? "%s:%zu" : "%s", e->in->member_names[j], c);
                names[j * e->k + c] = buf[j * e->k + c];
            }
        for (size_t q = 0; q < e->nmeta; q++) names[e->m * e->k + q] = e->in->rows->names[e->meta_idx[q]];
        fd.feature_names = names;
    }
    struct hml_fit_ctl ctl = {.nthread = 1, .seed = e->in->seed};
    if (!rc) rc = vt->fit(model, &fd, &ctl, err);
    if (!rc) rc = vt->predict(model, xt, tn, cols, pred, err);
    if (!rc) memcpy(out + e->off[f], pred, tn * e->k * sizeof *pred);
    /* Linear combiners report their weights on the members (binary and regression). */
    double coef[128], b0;
    if (!rc && e->excl == SIZE_MAX && e->k == 1 && e->m <= 64 && hml_linear_coefficients(model, coef, cols, &b0) == 1)
        for (size_t j = 0; j < e->m; j++) e->coef_sum[j] += coef[j];
    if (model) vt->free(model);
    hml_free(x);
    hml_free(xt);
    hml_free(y);
    hml_free(pred);
    return rc;
}

static enum hml_status combine_stacked(struct ens *e, double *out, struct hml_error *err)
{
    const struct hml_model_vt *vt;
    json_t *params;
    enum hml_status rc = meta_model(e, &vt, &params, err);
    bool overlapping = e->r->folds->strategy == HML_CV_BOOTSTRAP;
    for (size_t f = 0; !rc && f < e->nf; f++) {
        size_t lo = e->off[f], hi = lo + e->r->folds->folds[f].test_n * e->k;
        /* A combiner needs enough other rows with both classes; else the average. */
        if (overlapping || train_rows(e, f) < 20) {
            average_rows(e, lo, hi, out);
            e->fallback_folds++;
            continue;
        }
        struct hml_error ferr;
        enum hml_status frc = stack_fold(e, f, vt, params, out, &ferr);
        if (frc == HML_EINVAL) { /* e.g. one class only in the training rows */
            average_rows(e, lo, hi, out);
            e->fallback_folds++;
        } else if (frc) {
            *err = ferr;
            rc = frc;
        } else {
            e->fitted_folds++;
        }
    }
    json_decref(params);
    return rc;
}

/* ---- calibration ------------------------------------------------------------------------------------ */

/* The combination for fold g alone, trained on what may_train allows (with e->excl). */
static enum hml_status combined_for_fold(struct ens *e, size_t g, const char *method, const struct hml_model_vt *vt,
                                         const json_t *params, double *buf, struct hml_error *err)
{
    size_t lo = e->off[g], hi = lo + e->r->folds->folds[g].test_n * e->k;
    if (!strcmp(method, "weighted")) {
        double w[64], given = 0;
        for (size_t j = 0; j < e->m; j++) given += member_weight_given(e, j);
        if (given > 0) for (size_t j = 0; j < e->m; j++) w[j] = member_weight_given(e, j) / given;
        else fit_weights(e, g, w);
        for (size_t i = lo; i < hi; i++) {
            buf[i] = 0;
            for (size_t j = 0; j < e->m; j++) buf[i] += w[j] * e->pred[j][i];
        }
        return HML_OK;
    }
    if (!strcmp(method, "stacked") && vt && train_rows(e, g) >= 20) {
        struct hml_error ferr;
        enum hml_status rc = stack_fold(e, g, vt, params, buf, &ferr);
        if (rc != HML_EINVAL) {
            if (rc) *err = ferr;
            return rc;
        }
    }
    average_rows(e, lo, hi, buf);
    return HML_OK;
}

/* Fits a calibrator of kind on the rows of the folds that may train fold f (values
 * from src), and applies it to fold f's slice of dst. false when it cannot be fitted
 * (too few rows, one class): the slice is then left as it is. */
static bool calibrate_fold(struct ens *e, enum hml_calib_kind kind, size_t f, const double *src, double *dst)
{
    const struct hml_cv_folds *fs = e->r->folds;
    size_t n = train_rows(e, f), t = 0;
    double *p = hml_malloc((n + 1) * sizeof *p), *y = hml_malloc((n + 1) * sizeof *y);
    bool done = false;
    for (size_t g = 0; p && y && g < e->nf; g++) {
        if (!may_train(e, f, g)) continue;
        for (size_t i = 0; i < fs->folds[g].test_n; i++, t++) {
            p[t] = fmin(fmax(src[e->off[g] + i], 0), 1);
            y[t] = e->r->y[fs->folds[g].test[i]];
        }
    }
    const json_t *cfg = e->in->cfg;
    struct hml_calib_opts opt = {.n_bins = (size_t)hml_json_int(cfg, "spline_n_bins", 0),
                                 .prob_max = hml_json_num(cfg, "spline_prob_max", 0)};
    struct hml_calib *c = NULL;
    struct hml_error err;
    size_t lo = e->off[f], nt = fs->folds[f].test_n;
    if (p && y && hml_calib_fit(kind, &opt, p, y, NULL, n, &c, &err) == HML_OK) {
        for (size_t i = 0; i < nt; i++) dst[lo + i] = hml_calib_value(c, fmin(fmax(dst[lo + i], 0), 1));
        done = true;
    }
    hml_calib_free(c);
    hml_free(p);
    hml_free(y);
    return done;
}

/* ensemble.pre_calibration {model: method}: each listed member is calibrated per fold
 * on the other folds' out-of-fold predictions before it is combined. */
static enum hml_status pre_calibrate(struct ens *e, double **copies, struct hml_error *err)
{
    const json_t *pre = json_object_get(e->in->cfg, "pre_calibration");
    size_t total = e->off[e->nf - 1] + e->r->folds->folds[e->nf - 1].test_n * e->k;
    for (size_t j = 0; j < e->m; j++) {
        const char *method = hml_json_str(pre, e->in->member_names[j], NULL);
        enum hml_calib_kind kind;
        if (!method || !strcmp(method, "none")) continue;
        enum hml_status rc = hml_calib_parse(method, &kind, err);
        if (rc) return rc;
        if (!(copies[j] = hml_malloc((total + 1) * sizeof **copies))) return hml_fail(err, HML_ENOMEM, "ensemble", "out of memory");
        memcpy(copies[j], e->pred[j], total * sizeof **copies);
        for (size_t f = 0; f < e->nf; f++) calibrate_fold(e, kind, f, e->pred[j], copies[j]);
        e->pred[j] = copies[j];
        e->pre_calibrated++;
    }
    return HML_OK;
}

/* ensemble.calibration after combining: for fold f the calibrator learns from the
 * other folds' combined predictions, each made by a combiner that also never saw
 * fold f (nested leave-one-fold-out), so f's labels reach nothing applied to f. */
static enum hml_status post_calibrate(struct ens *e, const char *method, double *out, struct hml_error *err)
{
    const char *name = hml_json_str(e->in->cfg, "calibration", "none");
    enum hml_calib_kind kind;
    enum hml_status rc = hml_calib_parse(name, &kind, err);
    if (rc || kind == HML_CALIB_NONE) return rc;
    const struct hml_model_vt *vt = NULL;
    json_t *params = NULL;
    if (!strcmp(method, "stacked") && (rc = meta_model(e, &vt, &params, err))) return rc;
    size_t total = e->off[e->nf - 1] + e->r->folds->folds[e->nf - 1].test_n * e->k;
    double *inner = hml_malloc((total + 1) * sizeof *inner);
    if (!inner) rc = hml_fail(err, HML_ENOMEM, "ensemble", "out of memory");
    for (size_t f = 0; !rc && f < e->nf; f++) {
        e->excl = f;
        for (size_t g = 0; !rc && g < e->nf; g++)
            if (may_train(e, f, g)) rc = combined_for_fold(e, g, method, vt, params, inner, err);
        e->excl = SIZE_MAX;
        if (!rc) e->calibrated_folds += calibrate_fold(e, kind, f, inner, out);
    }
    hml_free(inner);
    json_decref(params);
    return rc;
}

/* ---- post-processing and the entry point ---------------------------------------------------------- */

/* Temperature on the logits, then the clip floor (classification only). */
static void post_process(const struct ens *e, double *out, size_t n)
{
    if (e->r->task == HML_TASK_REGRESSION) return;
    double T = hml_json_num(e->in->cfg, "temperature", 1.0);
    double floor_p = hml_json_num(e->in->cfg, "clip_floor", 0.0);
    if (T <= 0) T = 1;
    for (size_t i = 0; i < n; i += e->k) {
        if (e->k == 1) {
            double p = T == 1 ? out[i] : 1 / (1 + exp(-logit(out[i]) / T));
            out[i] = fmin(fmax(p, floor_p), 1 - floor_p);
            continue;
        }
        double z = 0;
        for (size_t c = 0; c < e->k; c++) z += (out[i + c] = T == 1 ? out[i + c] : pow(clamp_p(out[i + c]), 1 / T));
        for (size_t c = 0; c < e->k; c++) out[i + c] = fmax(out[i + c] / z, floor_p);
        z = 0;
        for (size_t c = 0; c < e->k; c++) z += out[i + c];
        for (size_t c = 0; c < e->k; c++) out[i + c] /= z;
    }
}

static json_t *report(const struct ens *e, const char *method)
{
    json_t *j = json_pack("{s:s,s:I,s:I}", "method", method, "folds_fitted", (json_int_t)e->fitted_folds,
                          "folds_averaged", (json_int_t)e->fallback_folds);
    size_t used = e->fitted_folds;
    if (!strcmp(method, "stacked")) {
        const json_t *ml = json_object_get(e->in->cfg, "meta_learner");
        json_object_set_new(j, "meta_learner", json_string(hml_json_str(ml, "type", "logistic")));
        if (used && e->k == 1 && strcmp(hml_json_str(ml, "type", "logistic"), "gbm")) {
            json_t *c = json_object();
            for (size_t m = 0; m < e->m; m++) json_object_set_new(c, e->in->member_names[m], json_real(e->coef_sum[m] / (double)used));
            json_object_set_new(j, "coefficients", c);
        }
    }
    if (!strcmp(method, "weighted")) {
        size_t folds = e->nf - e->fallback_folds;
        json_t *w = json_object();
        for (size_t m = 0; m < e->m && folds; m++) json_object_set_new(w, e->in->member_names[m], json_real(e->weight_sum[m] / (double)folds));
        json_object_set_new(j, "weights", w);
    }
    const char *cal = hml_json_str(e->in->cfg, "calibration", "none");
    if (strcmp(cal, "none")) {
        json_object_set_new(j, "calibration", json_string(cal));
        json_object_set_new(j, "folds_calibrated", json_integer((json_int_t)e->calibrated_folds));
    }
    if (e->pre_calibrated) json_object_set_new(j, "members_pre_calibrated", json_integer((json_int_t)e->pre_calibrated));
    if (e->fallback_folds && strcmp(method, "average")) {
        char note[200];
        snprintf(note, sizeof note, "%zu of %zu folds used the plain average (no earlier folds, overlapping "
                 "bootstrap folds, or too few rows to fit on)", e->fallback_folds, e->nf);
        json_object_set_new(j, "note", json_string(note));
    }
    return j;
}

enum hml_status hml_ensemble_combine(const struct hml_ensemble_input *in, double *out, json_t **rep,
                                     struct hml_error *err)
{
    const struct hml_run *r = in->run;
    struct ens e = {.in = in, .r = r, .k = r->k, .nf = r->folds->n, .m = in->nmembers, .excl = SIZE_MAX};
    const double *pred[64];
    double *copies[64] = {0};
    if (e.m == 0 || e.m > 64) {
        hml_fail(err, HML_ELIMIT, "ensemble", "an ensemble needs 1 to 64 members, not %zu", e.m);
        return hml_hint(err, "exclude models with ensemble.exclude_models or include_in_ensemble=false");
    }
    const json_t *meta = json_object_get(in->cfg, "meta_features");
    size_t qi;
    json_t *qv;
    json_array_foreach(meta, qi, qv) {
        if (e.nmeta == 32 || !in->rows) break;
        enum hml_status qrc = hml_frame_lookup(in->rows, json_string_value(qv), &e.meta_idx[e.nmeta], err);
        if (qrc) {
            hml_error_prefix(err, "ensemble.meta_features");
            return qrc;
        }
        if (!hml_column_is_numeric(in->rows->cols[e.meta_idx[e.nmeta]])) {
            hml_fail(err, HML_EINVAL, "ensemble", "meta feature '%s' is not numeric", json_string_value(qv));
            return hml_hint(err, "meta_features takes numeric or bool columns");
        }
        e.nmeta++;
    }
    const char *method = hml_json_str(in->cfg, "method", "average");
    if ((e.m == 1 && !e.nmeta) || e.nf < 2) method = "average"; /* nothing to weigh, or nothing to train on */
    e.off = hml_malloc((e.nf + 1) * sizeof *e.off);
    e.coef_sum = hml_calloc(e.m, sizeof *e.coef_sum);
    e.weight_sum = hml_calloc(e.m, sizeof *e.weight_sum);
    enum hml_status rc = e.off && e.coef_sum && e.weight_sum ? HML_OK : hml_fail(err, HML_ENOMEM, "ensemble", "out of memory");
    size_t total = 0;
    for (size_t f = 0; !rc && f < e.nf; f++) {
        e.off[f] = total;
        total += r->folds->folds[f].test_n * e.k;
    }
    for (size_t j = 0; j < e.m && j < 64; j++) pred[j] = in->member_pred[j];
    e.pred = pred;
    /* Calibration concerns probabilities of one class: binary tasks only. */
    bool binary = r->task == HML_TASK_BINARY;
    if (!rc && binary && e.nf >= 2) rc = pre_calibrate(&e, copies, err);
    if (!rc && !strcmp(method, "stacked")) rc = combine_stacked(&e, out, err);
    else if (!rc && !strcmp(method, "weighted")) combine_weighted(&e, out);
    else if (!rc) average_rows(&e, 0, total, out);
    if (!rc && binary && e.nf >= 2) rc = post_calibrate(&e, method, out, err);
    if (!rc) {
        post_process(&e, out, total);
        *rep = report(&e, method);
    }
    for (size_t j = 0; j < 64; j++) hml_free(copies[j]);
    hml_free(e.off);
    hml_free(e.coef_sum);
    hml_free(e.weight_sum);
    return rc;
}
