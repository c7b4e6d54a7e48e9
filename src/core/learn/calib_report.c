/* calib_report.c — calibration diagnostics for reports: reliability bins and the
 * calibration slope and intercept. */
#include "calib_int.h"

#include <math.h>

#include "harness/alloc.h"

/* Bin b covers [b·(1/B), (b+1)·(1/B)), the last closed: numpy's linspace edges, the
 * same rule as the "ece" metric, so rows on an edge land in the same bin there. */
static size_t bin_of(double p, size_t nb)
{
    double step = 1.0 / (double)nb;
    size_t b = (size_t)(p * (double)nb);
    if (b >= nb) b = nb - 1;
    while (b > 0 && p < (double)b * step) b--;
    while (b + 1 < nb && p >= (double)(b + 1) * step) b++;
    return b;
}

enum hml_status hml_calib_reliability(const double *p, const double *y, const double *w, size_t n,
                                      size_t n_bins, struct hml_calib_bin *bins, struct hml_error *err)
{
    HML_ASSERT(n == 0 || (p != NULL && y != NULL));
    if (n_bins == 0) {
        hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "n_bins must be at least 1");
        return hml_hint(err, "use n_bins 10 (the usual reliability diagram)");
    }
    if (n_bins > HML_CALIB_BINS_MAX) {
        hml_fail(err, HML_ELIMIT, HML__CALIB_WHERE, "n_bins %zu is more than the limit of %u", n_bins, HML_CALIB_BINS_MAX);
        return hml_hint(err, "set n_bins to at most %u", HML_CALIB_BINS_MAX);
    }
    HML_ASSERT(bins != NULL);
    enum hml_status rc = hml__calib_check(p, y, w, n, err);
    if (rc) return rc;
    double step = 1.0 / (double)n_bins;
    for (size_t b = 0; b < n_bins; b++)
        bins[b] = (struct hml_calib_bin){.lo = (double)b * step, .hi = b + 1 == n_bins ? 1.0 : (double)(b + 1) * step};
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (!(wi > 0)) continue;
        struct hml_calib_bin *bin = &bins[bin_of(p[i], n_bins)];
        bin->count++;
        bin->weight += wi;
        bin->mean_pred += wi * p[i]; /* sums until the loop below */
        bin->rate += wi * y[i];
    }
    for (size_t b = 0; b < n_bins; b++) {
        double wb = bins[b].weight;
        bins[b].mean_pred = wb > 0 ? bins[b].mean_pred / wb : NAN;
        bins[b].rate = wb > 0 ? bins[b].rate / wb : NAN;
    }
    return HML_OK;
}

/* ---- slope and intercept ------------------------------------------------------------- */

static enum hml_status refuse(struct hml_error *err, const char *why)
{
    hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "calibration slope: %s", why);
    return hml_hint(err, "report the slope on more rows, holding both labels and overlapping predictions");
}

/* The maximum-likelihood estimate is finite only when the classes overlap in p'. */
static enum hml_status check_estimable(const struct hml__calib_row *r, size_t n, const double *x, struct hml_error *err)
{
    double pos_lo = INFINITY, pos_hi = -INFINITY, neg_lo = INFINITY, neg_hi = -INFINITY;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].y == 1) pos++, pos_lo = fmin(pos_lo, x[i]), pos_hi = fmax(pos_hi, x[i]);
        else neg_lo = fmin(neg_lo, x[i]), neg_hi = fmax(neg_hi, x[i]);
    }
    if (n < 2) return refuse(err, "needs at least 2 rows with weight > 0");
    if (pos == 0 || pos == n) return refuse(err, "needs both labels");
    if (fmin(pos_lo, neg_lo) == fmax(pos_hi, neg_hi)) return refuse(err, "every prediction is the same");
    if (neg_hi <= pos_lo || pos_hi <= neg_lo)
        return refuse(err, "the predictions separate the labels, so the slope is infinite");
    return HML_OK;
}

enum hml_status hml_calib_slope_intercept(const double *p, const double *y, const double *w, size_t n,
                                          double *slope, double *intercept, struct hml_error *err)
{
    HML_ASSERT(n == 0 || (p != NULL && y != NULL));
    HML_ASSERT(slope != NULL && intercept != NULL);
    enum hml_status rc = hml__calib_check(p, y, w, n, err);
    if (rc) return rc;
    struct hml__calib_row *r = hml_malloc((n ? n : 1) * sizeof *r);
    double *x = hml_malloc((n ? n : 1) * sizeof *x);
    if (!r || !x) {
        hml_free(r), hml_free(x);
        return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory on %zu rows", n);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (!(wi > 0)) continue;
        r[m] = (struct hml__calib_row){p[i], y[i], wi, i};
        x[m++] = hml__calib_logit(p[i]);
    }
    rc = check_estimable(r, m, x, err);
    if (!rc) {
        struct hml__logit_problem pr = {.r = r, .n = m, .k = 1, .x = {x, NULL}, .t1 = 1, .t0 = 0};
        struct hml__logit_result res;
        hml__logit_fit(&pr, &res);
        *slope = res.coef[0];
        *intercept = res.intercept;
    }
    hml_free(r), hml_free(x);
    return rc;
}
