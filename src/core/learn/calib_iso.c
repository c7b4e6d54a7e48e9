/* calib_iso.c — the point-based calibrators: isotonic (scikit-learn's
 * IsotonicRegression) and spline (isotonic on equal-count bins, then PCHIP).
 * The definitions are at the top of include/harness/calib.h. */
#include "calib_int.h"

#include <math.h>
#include <stdlib.h>

#include "harness/alloc.h"

/* scikit-learn's _make_unique groups sorted p that lie within numpy's float64
 * "resolution" (1e-15) of the group's first value. */
#define ISO_TIE_GAP 1e-15
/* Spline bins whose mean p lie this close would give PCHIP a near-vertical secant. */
#define SPLINE_MERGE_GAP 1e-12

static int row_cmp(const void *pa, const void *pb)
{
    const struct hml__calib_row *a = pa, *b = pb;
    if (a->p != b->p) return a->p < b->p ? -1 : 1;
    if (a->y != b->y) return a->y < b->y ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Weighted points: x, the weighted mean label y and the summed weight w. */
struct points {
    double *x, *y, *w;
    size_t n;
};

static enum hml_status points_alloc(struct points *pt, size_t cap, struct hml_error *err)
{
    *pt = (struct points){0};
    pt->x = hml_malloc(3 * (cap ? cap : 1) * sizeof(double));
    if (!pt->x) return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory fitting on %zu rows", cap);
    pt->y = pt->x + cap;
    pt->w = pt->y + cap;
    return HML_OK;
}

/* Weighted pool-adjacent-violators: makes y non-decreasing with the least weighted
 * squared change, then clips it to [lo, hi]. Adjacent blocks with equal means are
 * pooled too (as scikit-learn does); that changes no value. */
static enum hml_status pav(struct points *pt, double lo, double hi, struct hml_error *err)
{
    size_t n = pt->n;
    double *sum = hml_malloc(2 * (n ? n : 1) * sizeof(double));
    size_t *start = hml_malloc((n ? n : 1) * sizeof(size_t));
    if (!sum || !start) {
        hml_free(sum), hml_free(start);
        return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory fitting %zu points", n);
    }
    double *wt = sum + n;
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        sum[nb] = pt->w[i] * pt->y[i], wt[nb] = pt->w[i], start[nb] = i, nb++;
        while (nb >= 2 && sum[nb - 2] / wt[nb - 2] >= sum[nb - 1] / wt[nb - 1]) {
            sum[nb - 2] += sum[nb - 1], wt[nb - 2] += wt[nb - 1];
            nb--;
        }
    }
    for (size_t b = 0; b < nb; b++) {
        double v = sum[b] / wt[b];
        v = v < lo ? lo : v > hi ? hi : v;
        size_t end = b + 1 < nb ? start[b + 1] : n;
        for (size_t i = start[b]; i < end; i++) pt->y[i] = v;
    }
    HML_ASSERT(nb >= 1 || n == 0);
    hml_free(sum), hml_free(start);
    return HML_OK;
}

/* ---- isotonic ----------------------------------------------------------------------- */

static void unique_points(const struct hml__calib_data *d, struct points *pt)
{
    double x0 = d->r[0].p, sy = 0, sw = 0;
    pt->n = 0;
    for (size_t i = 0; i <= d->n; i++) {
        if (i == d->n || d->r[i].p - x0 >= ISO_TIE_GAP) {
            pt->x[pt->n] = x0, pt->y[pt->n] = sy / sw, pt->w[pt->n] = sw, pt->n++;
            if (i == d->n) break;
            x0 = d->r[i].p, sy = 0, sw = 0;
        }
        sy += d->r[i].w * d->r[i].y;
        sw += d->r[i].w;
    }
}

/* scikit-learn keeps the first and last point and every point whose y differs from a
 * neighbour's; the dropped ones lie on flat stretches, so interpolation is unchanged. */
static bool keep_point(const struct points *pt, size_t i)
{
    return i == 0 || i + 1 == pt->n || pt->y[i] != pt->y[i - 1] || pt->y[i] != pt->y[i + 1];
}

enum hml_status hml__calib_fit_isotonic(struct hml__calib_data *d, struct hml_calib **out, struct hml_error *err)
{
    HML_ASSERT(d->n >= 1);
    qsort(d->r, d->n, sizeof *d->r, row_cmp);
    struct points pt;
    enum hml_status rc = points_alloc(&pt, d->n, err);
    if (rc) return rc;
    unique_points(d, &pt);
    rc = pav(&pt, 0, 1, err);
    size_t kept = 0;
    for (size_t i = 0; !rc && i < pt.n; i++) kept += keep_point(&pt, i);
    struct hml_calib *c = rc ? NULL : hml__calib_new(HML_CALIB_ISOTONIC, kept, false);
    if (!rc && !c) rc = hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory storing %zu points", kept);
    for (size_t i = 0, j = 0; !rc && i < pt.n; i++) {
        if (!keep_point(&pt, i)) continue;
        c->x[j] = pt.x[i], c->y[j] = pt.y[i], j++;
    }
    hml_free(pt.x);
    if (!rc) *out = c;
    return rc;
}

/* Largest k ≤ n − 2 with x[k] ≤ p (0 when p < x[1]); n ≥ 2. */
static size_t segment(const double *x, size_t n, double p)
{
    size_t lo = 0, hi = n - 1; /* x[lo] ≤ p holds or lo = 0; answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] <= p) lo = mid;
        else hi = mid;
    }
    return lo;
}

double hml__calib_eval_linear(const struct hml_calib *c, double p)
{
    HML_ASSERT(c->points >= 1);
    size_t n = c->points;
    if (n == 1) return c->y[0];
    p = p < c->x[0] ? c->x[0] : p > c->x[n - 1] ? c->x[n - 1] : p;
    size_t k = segment(c->x, n, p);
    double slope = (c->y[k + 1] - c->y[k]) / (c->x[k + 1] - c->x[k]);
    return slope * (p - c->x[k]) + c->y[k];
}

/* ---- spline ------------------------------------------------------------------------- */

static void pchip_slopes(const double *x, const double *y, size_t n, double *slope);

/* Equal-count bins over the sorted rows, as numpy's array_split cuts them. Adjacent
 * bins whose mean p lie within SPLINE_MERGE_GAP are pooled into one point. */
static void bin_points(const struct hml__calib_data *d, size_t k, struct points *pt)
{
    size_t base = d->n / k, extra = d->n % k, row = 0;
    double spx = 0, spy = 0, sw = 0; /* the open point's Σw·p, Σw·y, Σw */
    pt->n = 0;
    for (size_t b = 0; b < k; b++) {
        double bx = 0, by = 0, bw = 0;
        for (size_t end = row + base + (b < extra); row < end; row++) {
            const struct hml__calib_row *r = &d->r[row];
            bx += r->w * r->p, by += r->w * r->y, bw += r->w;
        }
        if (sw > 0 && bx / bw - spx / sw > SPLINE_MERGE_GAP) {
            pt->x[pt->n] = spx / sw, pt->y[pt->n] = spy / sw, pt->w[pt->n] = sw, pt->n++;
            spx = spy = sw = 0;
        }
        spx += bx, spy += by, sw += bw;
    }
    pt->x[pt->n] = spx / sw, pt->y[pt->n] = spy / sw, pt->w[pt->n] = sw, pt->n++;
    HML_ASSERT(row == d->n);
}

enum hml_status hml__calib_fit_spline(struct hml__calib_data *d, const struct hml_calib_opts *o,
                                      struct hml_calib **out, struct hml_error *err)
{
    HML_ASSERT(d->n >= 1);
    HML_ASSERT(o->n_bins >= 1 && o->bin_rows_min >= 1);
    qsort(d->r, d->n, sizeof *d->r, row_cmp);
    size_t k = d->n / o->bin_rows_min;
    k = k < 1 ? 1 : k > o->n_bins ? o->n_bins : k;
    struct points pt;
    enum hml_status rc = points_alloc(&pt, k, err);
    if (rc) return rc;
    bin_points(d, k, &pt);
    rc = pav(&pt, 1 - o->prob_max, o->prob_max, err);
    struct hml_calib *c = rc ? NULL : hml__calib_new(HML_CALIB_SPLINE, pt.n, true);
    if (!rc && !c) rc = hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory storing %zu points", pt.n);
    if (!rc) {
        for (size_t i = 0; i < pt.n; i++) c->x[i] = pt.x[i], c->y[i] = pt.y[i];
        pchip_slopes(c->x, c->y, c->points, c->slope);
        c->prob_max = o->prob_max;
        *out = c;
    }
    hml_free(pt.x);
    return rc;
}

static int sgn(double v)
{
    return (v > 0) - (v < 0);
}

/* The one-sided three-point end slope, kept to the sign of the end secant m0 and,
 * where the secants change sign, to at most 3·m0 (PCHIP's shape rule). */
static double end_slope(double h0, double h1, double m0, double m1)
{
    double d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if (sgn(d) != sgn(m0)) return 0;
    if (sgn(m0) != sgn(m1) && fabs(d) > 3 * fabs(m0)) return 3 * m0;
    return d;
}

/* The PCHIP slopes through the points (scipy's PchipInterpolator rule). */
static void pchip_slopes(const double *x, const double *y, size_t n, double *slope)
{
    HML_ASSERT(n >= 1);
    if (n == 1) {
        slope[0] = 0;
        return;
    }
    if (n == 2) {
        slope[0] = slope[1] = (y[1] - y[0]) / (x[1] - x[0]);
        return;
    }
    for (size_t k = 1; k + 1 < n; k++) {
        double h0 = x[k] - x[k - 1], h1 = x[k + 1] - x[k];
        double m0 = (y[k] - y[k - 1]) / h0, m1 = (y[k + 1] - y[k]) / h1;
        if (sgn(m0) != sgn(m1) || m0 == 0 || m1 == 0) {
            slope[k] = 0;
            continue;
        }
        /* Weighted harmonic mean: never more than 3× either secant, so the
         * Fritsch–Carlson conditions for a monotone piece hold. */
        double w1 = 2 * h1 + h0, w2 = h1 + 2 * h0;
        slope[k] = (w1 + w2) / (w1 / m0 + w2 / m1);
    }
    double h0 = x[1] - x[0], h1 = x[2] - x[1];
    slope[0] = end_slope(h0, h1, (y[1] - y[0]) / h0, (y[2] - y[1]) / h1);
    h0 = x[n - 1] - x[n - 2], h1 = x[n - 2] - x[n - 3];
    slope[n - 1] = end_slope(h0, h1, (y[n - 1] - y[n - 2]) / h0, (y[n - 2] - y[n - 3]) / h1);
}

double hml__calib_eval_hermite(const struct hml_calib *c, double p)
{
    HML_ASSERT(c->points >= 1);
    size_t n = c->points;
    double lo = 1 - c->prob_max, hi = c->prob_max, v;
    if (n == 1) {
        v = c->y[0];
    } else {
        p = p < c->x[0] ? c->x[0] : p > c->x[n - 1] ? c->x[n - 1] : p;
        size_t k = segment(c->x, n, p);
        double h = c->x[k + 1] - c->x[k], t = (p - c->x[k]) / h, u = 1 - t;
        double y0 = c->y[k], y1 = c->y[k + 1];
        /* Written as y0 + ... so a flat piece returns y0 exactly. */
        v = y0 + t * t * (3 - 2 * t) * (y1 - y0) + h * t * u * (u * c->slope[k] - t * c->slope[k + 1]);
        /* A monotone piece stays between its end values; rounding must not step out. */
        double a = y0 < y1 ? y0 : y1, b = y0 < y1 ? y1 : y0;
        v = v < a ? a : v > b ? b : v;
    }
    return v < lo ? lo : v > hi ? hi : v;
}
