/* stats.c — column summaries: counts, moments, quantiles and frequent values. */
#include "harness/stats.h"
#include "harness/alloc.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear-interpolated quantile of a sorted array (the "type 7" definition that
 * pandas and numpy use by default, so numbers agree with what users know). */
static double quantile(const double *v, size_t n, double q)
{
    if (n == 0) return NAN;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (v[hi] - v[lo]) * (pos - (double)lo);
}

/* Non-null values of a numeric column, sorted. *n_out = count. Caller frees. */
static double *sorted_values(const struct hml_column *c, size_t *n_out)
{
    double *v = hml_malloc((c->n ? c->n : 1) * sizeof *v);
    if (!v) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!hml_column_is_null(c, i)) v[k++] = hml_column_num(c, i);
    qsort(v, k, sizeof *v, cmp_double);
    *n_out = k;
    return v;
}

struct freq { uint64_t key; size_t row, count; };

static int cmp_freq_desc(const void *a, const void *b)
{
    const struct freq *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Value identity for counting: the code for strings, the bit pattern otherwise. */
static uint64_t value_key(const struct hml_column *c, size_t i)
{
    switch (c->type) {
    case HML_TYPE_STR: return (uint64_t)(uint32_t)hml_codes(c)[i];
    case HML_TYPE_I64: return (uint64_t)hml_i64(c)[i];
    case HML_TYPE_BOOL: return hml_bool(c)[i];
    case HML_TYPE_DATE: return (uint64_t)(uint32_t)hml_days(c)[i];
    case HML_TYPE_F64: {
        double d = hml_f64(c)[i];
        if (d == 0) d = 0; /* -0 and 0 count together */
        uint64_t k;
        memcpy(&k, &d, sizeof k);
        return k;
    }
    }
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    const struct freq *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Counts distinct values and the most frequent ones by sorting (row, key) pairs. */
static enum hml_status frequencies(const struct hml_column *c, struct hml_col_stats *s,
                                   struct hml_error *err)
{
    struct freq *f = hml_malloc((c->n ? c->n : 1) * sizeof *f);
    if (!f) return hml_fail(err, HML_ENOMEM, "stats", "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!hml_column_is_null(c, i)) f[k++] = (struct freq){value_key(c, i), i, 1};
    qsort(f, k, sizeof *f, cmp_key);
    size_t groups = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && f[j].key == f[i].key) j++;
        f[groups++] = (struct freq){f[i].key, f[i].row, j - i};
        i = j;
    }
    s->distinct = groups;
    qsort(f, groups, sizeof *f, cmp_freq_desc);
    s->top_n = groups < HML_STATS_TOP ? groups : HML_STATS_TOP;
    for (size_t i = 0; i < s->top_n; i++) {
        hml_column_format(c, f[i].row, s->top[i], sizeof s->top[i]);
        s->top_count[i] = f[i].count;
    }
    hml_free(f);
    return HML_OK;
}

enum hml_status hml_col_stats(const struct hml_column *c, struct hml_col_stats *s,
                              struct hml_error *err)
{
    memset(s, 0, sizeof *s);
    s->n = c->n;
    s->nulls = c->null_count;
    s->min = s->max = s->mean = s->std = s->p25 = s->median = s->p75 = NAN;
    enum hml_status rc = frequencies(c, s, err);
    if (rc || c->type == HML_TYPE_STR) return rc;
    size_t k;
    double *v = sorted_values(c, &k);
    if (!v) return hml_fail(err, HML_ENOMEM, "stats", "out of memory");
    if (k) {
        double sum = 0, ss = 0;
        for (size_t i = 0; i < k; i++) sum += v[i];
        double mean = sum / (double)k;
        for (size_t i = 0; i < k; i++) ss += (v[i] - mean) * (v[i] - mean);
        s->min = v[0];
        s->max = v[k - 1];
        s->mean = mean;
        s->std = k > 1 ? sqrt(ss / (double)(k - 1)) : NAN; /* sample std, as pandas */
        s->p25 = quantile(v, k, 0.25);
        s->median = quantile(v, k, 0.5);
        s->p75 = quantile(v, k, 0.75);
    }
    hml_free(v);
    return HML_OK;
}

double hml_corr(const struct hml_column *a, const struct hml_column *b)
{
    if (a->n != b->n || a->type == HML_TYPE_STR || b->type == HML_TYPE_STR) return NAN;
    double sx = 0, sy = 0;
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (hml_column_is_null(a, i) || hml_column_is_null(b, i)) continue;
        sx += hml_column_num(a, i);
        sy += hml_column_num(b, i);
        k++;
    }
    if (k < 3) return NAN;
    double mx = sx / (double)k, my = sy / (double)k, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (hml_column_is_null(a, i) || hml_column_is_null(b, i)) continue;
        double dx = hml_column_num(a, i) - mx, dy = hml_column_num(b, i) - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) return NAN;
    return sxy / sqrt(sxx * syy);
}

double hml_col_median(const struct hml_column *c)
{
    size_t k;
    double *v = sorted_values(c, &k);
    if (!v) return NAN;
    double m = quantile(v, k, 0.5);
    hml_free(v);
    return m;
}

/* k-th smallest of v[0..n) (reorders v); afterwards v[0..k) <= v[k]. The pivot is the
 * median of three so that already sorted input stays linear. */
static double select_kth(double *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        double x = v[lo], y = v[lo + (hi - lo) / 2], z = v[hi];
        double pivot = fmax(fmin(x, y), fmin(fmax(x, y), z));
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                double t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (kk <= j) hi = j;
        else if (kk >= i) lo = i;
        else break;
    }
    return v[kk];
}

double hml_median_inplace(double *v, size_t n)
{
    if (n == 0) return NAN;
    double hi = select_kth(v, n, n / 2);
    if (n % 2) return hi;
    double lo = v[0]; /* the smaller half sits in v[0..n/2) */
    for (size_t i = 1; i < n / 2; i++) lo = fmax(lo, v[i]);
    return 0.5 * (lo + hi);
}

double hml_col_mean(const struct hml_column *c)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!hml_column_is_null(c, i)) sum += hml_column_num(c, i), k++;
    return k ? sum / (double)k : NAN;
}

size_t hml_col_mode_row(const struct hml_column *c)
{
    struct freq *f = hml_malloc((c->n ? c->n : 1) * sizeof *f);
    if (!f) return SIZE_MAX;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!hml_column_is_null(c, i)) f[k++] = (struct freq){value_key(c, i), i, 1};
    if (!k) {
        hml_free(f);
        return SIZE_MAX;
    }
    qsort(f, k, sizeof *f, cmp_key);
    size_t best_row = f[0].row, best_n = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && f[j].key == f[i].key) j++;
        /* Ties go to the value seen first in the column, so results are stable. */
        if (j - i > best_n || (j - i == best_n && f[i].row < best_row)) best_n = j - i, best_row = f[i].row;
        i = j;
    }
    hml_free(f);
    return best_row;
}
