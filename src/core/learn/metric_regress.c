/* metric_regress.c — regression and probabilistic-forecast metrics.
 *
 * Weighted forms are weighted means (np.average). r_squared and
 * explained_variance follow scikit-learn's force_finite rule for a constant y:
 * 1 when the errors are exactly 0, else 0. median_ae unweighted is the median
 * (mean of the middle two); weighted, it is scikit-learn's weighted percentile:
 * the smallest error whose cumulative weight reaches half the total.
 */
#include "metric_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"

#define MAPE_EPS 2.220446049250313e-16 /* np.finfo(float64).eps, scikit-learn's floor on |y| */

typedef double (*row_loss_fn)(const struct hml_metric_input *in, size_t i);

static double wmean_of(const struct hml_metric_input *in, row_loss_fn f)
{
    double s = 0, sw = 0;
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i);
        s += w * f(in, i);
        sw += w;
    }
    return s / sw;
}

static double l_sq(const struct hml_metric_input *in, size_t i)
{
    double e = in->y[i] - in->pred[i];
    return e * e;
}

static double l_abs(const struct hml_metric_input *in, size_t i)
{
    return fabs(in->y[i] - in->pred[i]);
}

static double l_ape(const struct hml_metric_input *in, size_t i)
{
    return fabs(in->y[i] - in->pred[i]) / fmax(fabs(in->y[i]), MAPE_EPS);
}

static double l_bias(const struct hml_metric_input *in, size_t i)
{
    return in->pred[i] - in->y[i];
}

static double l_pinball(const struct hml_metric_input *in, size_t i)
{
    double d = in->y[i] - in->pred[i], q = in->opt.quantile;
    return d >= 0 ? q * d : (q - 1) * d;
}

enum hml_status hml__m_rmse(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    *out = sqrt(wmean_of(in, l_sq));
    return HML_OK;
}

enum hml_status hml__m_mae(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    *out = wmean_of(in, l_abs);
    return HML_OK;
}

enum hml_status hml__m_mape(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    *out = wmean_of(in, l_ape);
    return HML_OK;
}

enum hml_status hml__m_mean_bias(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    *out = wmean_of(in, l_bias);
    return HML_OK;
}

enum hml_status hml__m_quantile_loss(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    *out = wmean_of(in, l_pinball);
    return HML_OK;
}

/* scikit-learn's _assemble_r2_explained_variance with force_finite. */
static double one_minus_ratio(double num, double den)
{
    if (num == 0) return 1;
    if (den == 0) return 0;
    return 1 - num / den;
}

enum hml_status hml__m_r_squared(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    double ybar = hml__wmean(in->y, in->w, in->n), num = 0, den = 0;
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i), e = in->y[i] - in->pred[i], d = in->y[i] - ybar;
        num += w * e * e;
        den += w * d * d;
    }
    *out = one_minus_ratio(num, den);
    return HML_OK;
}

enum hml_status hml__m_explained_variance(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    double ybar = hml__wmean(in->y, in->w, in->n);
    double ebar = 0, sw = 0;
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i);
        ebar += w * (in->y[i] - in->pred[i]);
        sw += w;
    }
    ebar /= sw;
    double num = 0, den = 0;
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i), e = in->y[i] - in->pred[i] - ebar, d = in->y[i] - ybar;
        num += w * e * e;
        den += w * d * d;
    }
    *out = one_minus_ratio(num / sw, den / sw);
    return HML_OK;
}

struct ew {
    double e, w;
};

static int cmp_ew(const void *a, const void *b)
{
    double x = ((const struct ew *)a)->e, y = ((const struct ew *)b)->e;
    return (x > y) - (x < y);
}

static double weighted_median(struct ew *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_ew);
    double total = 0;
    for (size_t i = 0; i < n; i++) total += v[i].w;
    double half = 0.5 * total, cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += v[i].w;
        if (cum >= half) return v[i].e;
    }
    return v[n - 1].e;
}

enum hml_status hml__m_median_ae(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    size_t n = in->n;
    if (!in->w) {
        double *e = hml_malloc(n * sizeof *e);
        if (!e) return hml__metric_nomem(err);
        for (size_t i = 0; i < n; i++) e[i] = fabs(in->y[i] - in->pred[i]);
        *out = hml__median(e, n);
        hml_free(e);
        return HML_OK;
    }
    struct ew *v = hml_malloc(n * sizeof *v);
    if (!v) return hml__metric_nomem(err);
    for (size_t i = 0; i < n; i++) v[i] = (struct ew){fabs(in->y[i] - in->pred[i]), in->w[i]};
    *out = weighted_median(v, n);
    hml_free(v);
    return HML_OK;
}

/* ---- probabilistic ------------------------------------------------------ */

/* CRPS of the empirical distribution of x[0..k) (sorted here) at y:
 * mean|x − y| − ½·mean|x − x'|, with Σ_{i,j}|x_i − x_j| = 2 Σ_i (2i − k + 1) x_(i). */
static double crps_row(double *x, size_t k, double y)
{
    qsort(x, k, sizeof *x, hml__cmp_double);
    double a = 0, pair = 0;
    for (size_t i = 0; i < k; i++) {
        a += fabs(x[i] - y);
        pair += (2.0 * (double)i - (double)k + 1) * x[i];
    }
    double kk = (double)k;
    return a / kk - pair / (kk * kk);
}

enum hml_status hml__m_crps(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    size_t k = in->k;
    double *x = hml_malloc(k * sizeof *x);
    if (!x) return hml__metric_nomem(err);
    double s = 0, sw = 0;
    for (size_t i = 0; i < in->n; i++) {
        memcpy(x, in->pred + i * k, k * sizeof *x);
        double w = hml__w(in->w, i);
        s += w * crps_row(x, k, in->y[i]);
        sw += w;
    }
    hml_free(x);
    *out = s / sw;
    return HML_OK;
}

enum hml_status hml__m_sharpness(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    double m = hml__wmean(in->pred, in->w, in->n), s = 0, sw = 0;
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i), d = in->pred[i] - m;
        s += w * d * d;
        sw += w;
    }
    *out = s / sw;
    return HML_OK;
}

enum hml_status hml__m_coverage(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    size_t crossed = 0;
    double in_w = 0, sw = 0;
    for (size_t i = 0; i < in->n; i++) {
        double lo = in->pred[2 * i], hi = in->pred[2 * i + 1], w = hml__w(in->w, i);
        crossed += lo > hi;
        if (lo <= in->y[i] && in->y[i] <= hi) in_w += w;
        sw += w;
    }
    if (crossed) {
        hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "coverage_at_level: %zu of %zu intervals have lower > upper",
                 crossed, in->n);
        return hml_hint(err, "pass pred as rows of [lower, upper] with lower ≤ upper");
    }
    *out = in_w / sw;
    return HML_OK;
}

/* Same edges and boundary rule as numpy's histogram over [0, 1]. */
static size_t pit_bin(double v, size_t nb)
{
    double step = 1.0 / (double)nb;
    size_t b = (size_t)(v * (double)nb);
    if (b >= nb) b = nb - 1;
    while (b > 0 && v < (double)b * step) b--;
    while (b + 1 < nb && v >= (double)(b + 1) * step) b++;
    return b;
}

static bool all_binary(const double *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (y[i] != 0 && y[i] != 1) return false;
    return true;
}

static json_t *pit_json(const double *counts, size_t nb, bool weighted)
{
    json_t *o = json_object(), *c = json_array(), *e = json_array();
    bool ok = o && c && e;
    for (size_t b = 0; ok && b < nb; b++)
        ok = !json_array_append_new(c, weighted ? json_real(counts[b]) : json_integer((json_int_t)counts[b]));
    for (size_t b = 0; ok && b <= nb; b++)
        ok = !json_array_append_new(e, json_real(b == nb ? 1.0 : (double)b * (1.0 / (double)nb)));
    if (!ok) {
        json_decref(c), json_decref(e), json_decref(o);
        return NULL;
    }
    if (!hml_json_set(o, "counts", c)) { /* c is released by the failed set */
        json_decref(e), json_decref(o);
        return NULL;
    }
    if (!hml_json_set(o, "bin_edges", e)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum hml_status hml__t_pit(const struct hml_metric_input *in, json_t **out, struct hml_error *err)
{
    size_t nb = in->opt.n_bins;
    double *counts = hml_calloc(nb, sizeof *counts);
    if (!counts) return hml__metric_nomem(err);
    bool bin = all_binary(in->y, in->n);
    for (size_t i = 0; i < in->n; i++) {
        double v = bin && in->y[i] == 0 ? 1 - in->pred[i] : in->pred[i];
        counts[pit_bin(v, nb)] += hml__w(in->w, i);
    }
    json_t *o = pit_json(counts, nb, in->w != NULL);
    hml_free(counts);
    if (!o) return hml__metric_nomem(err);
    *out = o;
    return HML_OK;
}
