/* calib.c — the calibrator object: names, input checks, the minimum-sample rule, fit
 * dispatch, apply. The methods live in calib_iso.c (isotonic, spline) and
 * calib_logit.c (platt, beta); save/load in calib_blob.c; reports in calib_report.c. */
#include "calib_int.h"

#include <math.h>
#include <string.h>

#include "harness/alloc.h"

static const char *const kind_names[HML_CALIB_KIND_COUNT_] = {
    [HML_CALIB_NONE] = "none",         [HML_CALIB_SPLINE] = "spline", [HML_CALIB_ISOTONIC] = "isotonic",
    [HML_CALIB_PLATT] = "platt",       [HML_CALIB_BETA] = "beta",
};

const char *hml_calib_kind_name(enum hml_calib_kind kind)
{
    return (unsigned)kind < HML_CALIB_KIND_COUNT_ ? kind_names[kind] : "none";
}

enum hml_status hml_calib_parse(const char *name, enum hml_calib_kind *out, struct hml_error *err)
{
    for (int k = 0; k < HML_CALIB_KIND_COUNT_; k++) {
        if (name && strcmp(name, kind_names[k]) == 0) {
            *out = (enum hml_calib_kind)k;
            return HML_OK;
        }
    }
    hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "unknown calibration '%s'", name ? name : "(null)");
    return hml_error_choices(err, name ? name : "", kind_names, HML_CALIB_KIND_COUNT_);
}

/* ---- the object ----------------------------------------------------------------- */

struct hml_calib *hml__calib_new(enum hml_calib_kind kind, size_t points, bool with_slope)
{
    HML_ASSERT((unsigned)kind < HML_CALIB_KIND_COUNT_);
    HML_ASSERT(points <= HML_CALIB_ROWS_MAX);
    size_t arrays = with_slope ? 3 : 2;
    struct hml_calib *c = hml_calloc(1, sizeof *c + arrays * points * sizeof(double));
    if (!c) return NULL;
    c->kind = kind;
    c->points = points;
    if (points) {
        c->x = (double *)(c + 1);
        c->y = c->x + points;
        c->slope = with_slope ? c->y + points : NULL;
    }
    return c;
}

void hml_calib_free(struct hml_calib *c)
{
    hml_free(c);
}

enum hml_status hml_calib_identity(struct hml_calib **out, struct hml_error *err)
{
    struct hml_calib *c = hml__calib_new(HML_CALIB_NONE, 0, false);
    if (!c) return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory creating a calibrator");
    *out = c;
    return HML_OK;
}

void hml_calib_describe(const struct hml_calib *c, struct hml_calib_info *out)
{
    HML_ASSERT(c != NULL);
    *out = (struct hml_calib_info){.kind = c->kind, .rows = c->rows, .a = c->a, .b = c->b, .c = c->c,
                                   .converged = c->converged, .points = c->points, .x = c->x, .y = c->y,
                                   .slope = c->slope, .prob_max = c->prob_max};
}

/* ---- numbers shared by the methods ---------------------------------------------- */

double hml__calib_clip(double p)
{
    const double eps = HML_CALIB_EPS;
    return p < eps ? eps : p > 1 - eps ? 1 - eps : p;
}

double hml__calib_logit(double p)
{
    double q = hml__calib_clip(p);
    return log(q) - log1p(-q);
}

double hml__calib_sigmoid(double eta)
{
    if (eta >= 0) return 1 / (1 + exp(-eta));
    double e = exp(eta);
    return e / (1 + e);
}

/* ---- input checks ---------------------------------------------------------------- */

static enum hml_status refuse_p(size_t i, double v, struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "prediction %zu is %g; calibration needs probabilities in [0, 1]", i, v);
    return hml_hint(err, isnan(v) ? "drop or fill rows without a prediction before calibrating"
                                  : "pass probabilities, not margins or log-odds (apply the sigmoid first)");
}

enum hml_status hml__calib_check(const double *p, const double *y, const double *w, size_t n,
                                 struct hml_error *err)
{
    if (n > HML_CALIB_ROWS_MAX) {
        hml_fail(err, HML_ELIMIT, HML__CALIB_WHERE, "%zu rows is more than the limit of %zu", n, HML_CALIB_ROWS_MAX);
        return hml_hint(err, "calibrate on a sample of the rows");
    }
    for (size_t i = 0; i < n; i++) {
        if (isnan(p[i]) || p[i] < 0 || p[i] > 1) return refuse_p(i, p[i], err);
        if (y[i] != 0 && y[i] != 1) {
            hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "label %zu is %g; binary calibration needs labels 0 or 1", i, y[i]);
            return hml_hint(err, "encode the target as 0/1 (drop rows without a label)");
        }
        if (w && !(isfinite(w[i]) && w[i] >= 0)) {
            hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "weight %zu is %g; weights must be finite and >= 0", i, w[i]);
            return hml_hint(err, "fix or drop the row's weight (0 leaves the row out)");
        }
    }
    return HML_OK;
}

/* ---- fit -------------------------------------------------------------------------- */

static enum hml_status resolve_opts(const struct hml_calib_opts *in, struct hml_calib_opts *o, struct hml_error *err)
{
    *o = in ? *in : (struct hml_calib_opts){0};
    if (!o->rows_min) o->rows_min = HML_CALIB_ROWS_MIN_DEFAULT;
    if (!o->n_bins) o->n_bins = HML_CALIB_BINS_DEFAULT;
    if (!o->bin_rows_min) o->bin_rows_min = HML_CALIB_BIN_ROWS_MIN_DEFAULT;
    if (o->prob_max == 0) o->prob_max = HML_CALIB_PROB_MAX_DEFAULT;
    if (o->n_bins > HML_CALIB_BINS_MAX) {
        hml_fail(err, HML_ELIMIT, HML__CALIB_WHERE, "n_bins %zu is more than the limit of %u", o->n_bins,
                 HML_CALIB_BINS_MAX);
        return hml_hint(err, "set n_bins to at most %u (default %u)", HML_CALIB_BINS_MAX, HML_CALIB_BINS_DEFAULT);
    }
    if (!(o->prob_max > 0.5 && o->prob_max <= 1)) {
        hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "prob_max %g is outside (0.5, 1]", o->prob_max);
        return hml_hint(err, "set prob_max to a value in (0.5, 1] (default %g)", HML_CALIB_PROB_MAX_DEFAULT);
    }
    if (o->rows_min > HML_CALIB_ROWS_MAX || o->bin_rows_min > HML_CALIB_ROWS_MAX) {
        hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "rows_min or bin_rows_min is more than %zu", HML_CALIB_ROWS_MAX);
        return hml_hint(err, "use the defaults (rows_min %u, bin_rows_min %u)", HML_CALIB_ROWS_MIN_DEFAULT,
                        HML_CALIB_BIN_ROWS_MIN_DEFAULT);
    }
    return HML_OK;
}

/* Keeps the rows with weight > 0 (the same rows scikit-learn keeps) and sums each
 * class's weight. */
static enum hml_status collect(const double *p, const double *y, const double *w, size_t n,
                               struct hml__calib_data *d, struct hml_error *err)
{
    *d = (struct hml__calib_data){0};
    d->r = hml_malloc((n ? n : 1) * sizeof *d->r);
    if (!d->r) return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory reading %zu rows", n);
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (!(wi > 0)) continue;
        d->r[d->n++] = (struct hml__calib_row){p[i], y[i], wi, i};
        if (y[i] == 1) d->w_pos += wi;
        else d->w_neg += wi;
    }
    return HML_OK;
}

static enum hml_status min_sample_rule(enum hml_calib_kind kind, const struct hml__calib_data *d,
                                       const struct hml_calib_opts *o, struct hml_error *err)
{
    const char *name = kind_names[kind];
    if (d->n < o->rows_min) {
        hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "calibration '%s' needs at least %zu rows with weight > 0, got %zu",
                 name, o->rows_min, d->n);
        return hml_hint(err, "calibrate on more out-of-fold rows, lower rows_min, or use calibration 'none' "
                             "(the identity)");
    }
    if (d->w_pos == 0 || d->w_neg == 0) {
        hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "calibration '%s' needs both classes; all %zu rows have label %d",
                 name, d->n, d->w_pos > 0 ? 1 : 0);
        return hml_hint(err, "calibrate on rows holding both labels, or use calibration 'none' (the identity)");
    }
    return HML_OK;
}

static enum hml_status fit_kind(enum hml_calib_kind kind, struct hml__calib_data *d, const struct hml_calib_opts *o,
                                struct hml_calib **out, struct hml_error *err)
{
    switch (kind) {
    case HML_CALIB_SPLINE: return hml__calib_fit_spline(d, o, out, err);
    case HML_CALIB_ISOTONIC: return hml__calib_fit_isotonic(d, out, err);
    case HML_CALIB_PLATT: return hml__calib_fit_platt(d, out, err);
    case HML_CALIB_BETA: return hml__calib_fit_beta(d, out, err);
    case HML_CALIB_NONE:
    case HML_CALIB_KIND_COUNT_: break;
    }
    HML_ASSERT(!"unreachable calibration kind");
    return HML_EINTERNAL;
}

enum hml_status hml_calib_fit(enum hml_calib_kind kind, const struct hml_calib_opts *opts, const double *p,
                              const double *y, const double *w, size_t n, struct hml_calib **out,
                              struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    HML_ASSERT(n == 0 || (p != NULL && y != NULL));
    if ((unsigned)kind >= HML_CALIB_KIND_COUNT_) {
        hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "calibration kind %d is out of range", (int)kind);
        return hml_hint(err, "parse the name with hml_calib_parse");
    }
    struct hml_calib_opts o;
    enum hml_status rc = resolve_opts(opts, &o, err);
    if (!rc) rc = hml__calib_check(p, y, w, n, err);
    if (rc) return rc;
    if (kind == HML_CALIB_NONE) return hml_calib_identity(out, err);
    struct hml__calib_data d;
    rc = collect(p, y, w, n, &d, err);
    if (!rc) rc = min_sample_rule(kind, &d, &o, err);
    struct hml_calib *c = NULL;
    if (!rc) rc = fit_kind(kind, &d, &o, &c, err);
    if (!rc) {
        HML_ASSERT(c->kind == kind);
        c->rows = d.n;
        *out = c;
    }
    hml_free(d.r);
    return rc;
}

/* ---- apply ------------------------------------------------------------------------ */

double hml_calib_value(const struct hml_calib *c, double p)
{
    HML_ASSERT(c != NULL);
    if (isnan(p)) return p;
    p = p < 0 ? 0 : p > 1 ? 1 : p;
    switch (c->kind) {
    case HML_CALIB_ISOTONIC: return hml__calib_eval_linear(c, p);
    case HML_CALIB_SPLINE: return hml__calib_eval_hermite(c, p);
    case HML_CALIB_PLATT: return hml__calib_sigmoid(c->a * hml__calib_logit(p) + c->b);
    case HML_CALIB_BETA: {
        double q = hml__calib_clip(p);
        return hml__calib_sigmoid(c->a * log(q) - c->b * log1p(-q) + c->c);
    }
    case HML_CALIB_NONE:
    case HML_CALIB_KIND_COUNT_: break;
    }
    return p;
}

enum hml_status hml_calib_apply(const struct hml_calib *c, const double *p, size_t n, double *out,
                                struct hml_error *err)
{
    HML_ASSERT(c != NULL);
    HML_ASSERT(n == 0 || (p != NULL && out != NULL));
    if (n > HML_CALIB_ROWS_MAX) {
        hml_fail(err, HML_ELIMIT, HML__CALIB_WHERE, "%zu rows is more than the limit of %zu", n, HML_CALIB_ROWS_MAX);
        return hml_hint(err, "apply the calibration in chunks");
    }
    for (size_t i = 0; i < n; i++) {
        if (isnan(p[i]) || p[i] < 0 || p[i] > 1) return refuse_p(i, p[i], err);
        out[i] = hml_calib_value(c, p[i]);
    }
    return HML_OK;
}
