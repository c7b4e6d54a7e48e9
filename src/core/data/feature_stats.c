/* feature_stats.c — the binned mutual-information estimator that ranks features.
 *
 * Mutual information needs a density; for mixed tabular columns the simplest honest
 * estimator is a histogram: discretise each side (text by value, numbers into
 * equal-frequency bins) and compute the plug-in mutual information of the two label
 * arrays. It is biased upwards for many bins and few rows, which is why the bin count
 * is small and fixed (HML_MI_BINS), so scores of different columns stay comparable. */
#include "harness/feature.h"
#include "harness/alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's "linear" quantile of sorted v[0..n), including its two-sided interpolation
 * (from below when the fraction is under one half, from above otherwise), so that edges
 * agree with numpy.quantile to the last bit. */
static double quantile(const double *v, size_t n, double q)
{
    double h = q * (double)(n - 1);
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return v[n - 1];
    double t = h - (double)lo, a = v[lo], b = v[lo + 1], d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/* Number of elements of sorted e[0..n) that are <= x. */
static size_t upper_bound(const double *e, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e[mid] <= x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static enum hml_status bin_numeric(const struct hml_column *c, size_t nbins, int32_t *codes, size_t *ncodes,
                                   struct hml_error *err)
{
    double *v = hml_malloc((c->n + 1) * sizeof *v), *edges = hml_malloc((nbins + 1) * sizeof *edges);
    if (!v || !edges) {
        hml_free(v);
        hml_free(edges);
        return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    }
    size_t k = 0, u = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!hml_column_is_null(c, i)) v[k++] = hml_column_num(c, i);
    qsort(v, k, sizeof *v, cmp_double);
    for (size_t i = 0; i < k; i++) u += !i || v[i] != v[i - 1];
    size_t ne;
    if (u <= nbins) {
        /* Few distinct values: each is its own bin (quantile edges could merge them). */
        ne = 0;
        for (size_t i = 0; i < k; i++)
            if (!ne || v[i] != edges[ne - 1]) edges[ne++] = v[i];
        for (size_t i = 0; i < c->n; i++)
            codes[i] = hml_column_is_null(c, i) ? -1 : (int32_t)upper_bound(edges, ne, hml_column_num(c, i)) - 1;
        *ncodes = ne;
    } else {
        ne = nbins - 1;
        for (size_t j = 1; j < nbins; j++) edges[j - 1] = quantile(v, k, (double)j / (double)nbins);
        for (size_t i = 0; i < c->n; i++)
            codes[i] = hml_column_is_null(c, i) ? -1 : (int32_t)upper_bound(edges, ne, hml_column_num(c, i));
        *ncodes = nbins;
    }
    hml_free(v);
    hml_free(edges);
    return HML_OK;
}

enum hml_status hml_bin_codes(const struct hml_column *c, size_t nbins, int32_t *codes, size_t *ncodes,
                              struct hml_error *err)
{
    HML_ASSERT(c && codes && ncodes && nbins >= 2);
    switch (c->type) {
    case HML_TYPE_STR:
        for (size_t i = 0; i < c->n; i++) codes[i] = hml_column_is_null(c, i) ? -1 : hml_codes(c)[i];
        *ncodes = hml_dict_size(c->dict);
        return HML_OK;
    case HML_TYPE_BOOL:
        for (size_t i = 0; i < c->n; i++) codes[i] = hml_column_is_null(c, i) ? -1 : hml_bool(c)[i];
        *ncodes = 2;
        return HML_OK;
    case HML_TYPE_F64:
    case HML_TYPE_I64:
    case HML_TYPE_DATE: return bin_numeric(c, nbins, codes, ncodes, err);
    }
    return HML_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Count of `code` in sorted s[0..n) (a run found by binary search). */
static size_t count_of(const int32_t *s, size_t n, int32_t code)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < code) lo = mid + 1;
        else hi = mid;
    }
    size_t end = lo;
    while (end < n && s[end] == code) end++;
    return end - lo;
}

double hml_mutual_info_codes(const int32_t *x, const int32_t *y, size_t n)
{
    uint64_t *pairs = hml_malloc((n + 1) * sizeof *pairs);
    int32_t *xs = hml_malloc((n + 1) * sizeof *xs), *ys = hml_malloc((n + 1) * sizeof *ys);
    double mi = 0;
    size_t m = 0;
    if (pairs && xs && ys) {
        for (size_t i = 0; i < n; i++)
            if (x[i] >= 0 && y[i] >= 0) {
                pairs[m] = (uint64_t)(uint32_t)x[i] << 32 | (uint32_t)y[i];
                xs[m] = x[i], ys[m] = y[i], m++;
            }
        qsort(pairs, m, sizeof *pairs, cmp_u64);
        qsort(xs, m, sizeof *xs, cmp_i32);
        qsort(ys, m, sizeof *ys, cmp_i32);
        /* Sum over non-empty cells of n_xy/N * log(N n_xy / (n_x n_y)). */
        double total = (double)m;
        for (size_t i = 0; i < m;) {
            size_t j = i;
            while (j < m && pairs[j] == pairs[i]) j++;
            double nxy = (double)(j - i);
            double nx = (double)count_of(xs, m, (int32_t)(pairs[i] >> 32));
            double ny = (double)count_of(ys, m, (int32_t)(pairs[i] & 0xffffffffu));
            mi += nxy / total * (log(nxy) + log(total) - log(nx) - log(ny));
            i = j;
        }
    }
    hml_free(pairs);
    hml_free(xs);
    hml_free(ys);
    return mi > 0 ? mi : 0; /* rounding can leave independent columns a hair below zero */
}

enum hml_status hml_mutual_info(const struct hml_column *x, const struct hml_column *y, size_t nbins, double *out,
                                struct hml_error *err)
{
    HML_ASSERT(x->n == y->n);
    int32_t *cx = hml_malloc((x->n + 1) * sizeof *cx), *cy = hml_malloc((y->n + 1) * sizeof *cy);
    size_t nx = 0, ny = 0;
    enum hml_status rc = cx && cy ? HML_OK : hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc) rc = hml_bin_codes(x, nbins, cx, &nx, err);
    if (!rc) rc = hml_bin_codes(y, nbins, cy, &ny, err);
    if (!rc) {
        /* A missing value can itself be informative, so it gets a bin of its own. */
        for (size_t i = 0; i < x->n; i++)
            if (cx[i] < 0) cx[i] = (int32_t)nx;
        *out = hml_mutual_info_codes(cx, cy, x->n);
    }
    hml_free(cx);
    hml_free(cy);
    return rc;
}
