/* view_encode.c — steps that turn one column into others: rank, encode, bin, datetime. */
#include "view_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"

/* ---- rank ---------------------------------------------------------------------------------- */

enum rank_method { RK_AVERAGE, RK_MIN, RK_MAX, RK_FIRST, RK_DENSE };
static const char *const rank_methods[] = {"average", "min", "max", "first", "dense", NULL};

/* Ranks of one group's ordered slice perm[s..e) (nulls sort last and get none). */
static void rank_slice(const uint32_t *perm, size_t s, size_t e, const uint64_t *keys, const uint8_t *nulls,
                       int method, bool pct, double *y)
{
    size_t m = 0, blocks = 0;
    while (s + m < e && !(nulls && nulls[perm[s + m]])) m++;
    for (size_t q = s + m; q < e; q++) y[perm[q]] = NAN;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && keys[perm[s + j]] == keys[perm[s + i]]) j++;
        blocks++;
        for (size_t t = i; t < j; t++) {
            double v;
            switch (method) {
            case RK_MIN: v = (double)(i + 1); break;
            case RK_MAX: v = (double)j; break;
            case RK_FIRST: v = (double)(t + 1); break;
            case RK_DENSE: v = (double)blocks; break;
            default: v = (double)(i + 1 + j) / 2; break;
            }
            y[perm[s + t]] = v;
        }
        i = j;
    }
    if (!pct) return;
    double den = method == RK_DENSE ? (double)blocks : (double)m;
    for (size_t q = s; q < s + m; q++) y[perm[q]] /= den;
}

VSTEP(hml__vs_rank)
{
    const json_t *map;
    int method;
    size_t keys[HML_VIEW_KEYS_MAX], nk = 0;
    enum hml_status rc = hml__vr_map(r, step, "columns", &map, err);
    if (!rc) rc = hml__vr_choice(r, step, "method", rank_methods, RK_AVERAGE, &method, err);
    if (!rc) rc = hml__vr_cols(r, *f, step, "keys", keys, &nk, err);
    if (rc) return rc;
    bool desc = !hml_json_bool(step, "ascending", true), pct = hml_json_bool(step, "pct", false);
    const char *name;
    json_t *v;
    struct hml_frame *in = hml_frame_clone(*f);
    if (!in) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    json_object_foreach((json_t *)map, name, v) {
        size_t src;
        const char *s = json_string_value(v);
        if (!s) {
            rc = hml__vr_fail(r, err, HML_EINVAL, "write {\"new\": \"source_column\"}", "'columns' entry '%s' must "
                              "name a source column", name);
            break;
        }
        rc = hml__vr_newname(r, name, err);
        if (!rc) rc = hml__vr_col(r, in, s, "columns", &src, err);
        if (!rc && hml__vr_outcome(r, s))
            hml__vr_warn(r, "'%s' ranks the outcome '%s' using every row of its group: not a feature", name, s);
        struct hml__wplan p;
        if (!rc) rc = hml__vr_plan_cols(in, keys, nk, &src, &desc, 1, &p, err);
        if (rc) break;
        uint64_t *k = NULL;
        uint8_t *nulls = NULL;
        double *y = hml_malloc((in->nrows + 1) * sizeof *y);
        rc = y ? hml__vg_keys(in->cols[src], &k, &nulls, err) : hml_fail(err, HML_ENOMEM, "view", "out of memory");
        for (size_t g = 0; !rc && g < p.ng; g++) rank_slice(p.perm, p.starts[g], p.starts[g + 1], k, nulls, method, pct, y);
        if (!rc) rc = hml__vr_put(*f, name, hml__vcol_from_doubles(y, in->nrows), err);
        else hml_free(y);
        hml_free(k);
        hml_free(nulls);
        hml__wplan_free(&p);
        if (rc) break;
    }
    hml_frame_free(in);
    return rc;
}

/* ---- encode ---------------------------------------------------------------------------------- */

enum enc_method { ENC_FREQ, ENC_ORD, ENC_ONEHOT, ENC_LOO, ENC_TEMPORAL };
static const char *const enc_methods[] = {"frequency", "ordinal", "onehot", "target_loo", "target_temporal", NULL};

/* Value ids of the column (nulls VG_NULL) and, per id, its rank in sorted value order. */
struct levels {
    uint32_t *ids;
    size_t n;
    uint32_t *rank;  /* id → position in sorted order */
    uint32_t *first; /* id → a row holding it */
};

static void levels_free(struct levels *l)
{
    hml_free(l->ids);
    hml_free(l->rank);
    hml_free(l->first);
}

static int cmp_level(const void *a, const void *b, void *keys)
{
    const uint64_t *k = keys;
    uint64_t x = k[*(const uint32_t *)a], y = k[*(const uint32_t *)b];
    return (x > y) - (x < y);
}

static enum hml_status levels_make(const struct hml_frame *f, size_t col, struct levels *l, struct hml_error *err)
{
    memset(l, 0, sizeof *l);
    enum hml_status rc = hml__vg_factorize(f, &col, 1, false, &l->ids, &l->n, err);
    uint64_t *keys = NULL, *lk = NULL;
    uint8_t *nulls = NULL;
    uint32_t *order = NULL;
    if (!rc) rc = hml__vg_keys(f->cols[col], &keys, &nulls, err);
    if (!rc) {
        l->rank = hml_malloc((l->n + 1) * sizeof *l->rank);
        l->first = hml_malloc((l->n + 1) * sizeof *l->first);
        lk = hml_malloc((l->n + 1) * sizeof *lk);
        order = hml_malloc((l->n + 1) * sizeof *order);
        if (!l->rank || !l->first || !lk || !order) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    for (size_t i = 0; !rc && i < f->nrows; i++)
        if (l->ids[i] != VG_NULL) lk[l->ids[i]] = keys[i], l->first[l->ids[i]] = (uint32_t)i;
    for (size_t g = 0; !rc && g < l->n; g++) order[g] = (uint32_t)g;
    if (!rc) {
        qsort_r(order, l->n, sizeof *order, cmp_level, lk);
        for (size_t g = 0; g < l->n; g++) l->rank[order[g]] = (uint32_t)g;
    }
    hml_free(keys);
    hml_free(nulls);
    hml_free(lk);
    hml_free(order);
    if (rc) levels_free(l);
    return rc;
}

static enum hml_status enc_simple(struct vrun *r, struct hml_frame **f, size_t col, int method, const char *out,
                                  struct hml_error *err)
{
    (void)r;
    struct levels l;
    size_t n = (*f)->nrows;
    enum hml_status rc = levels_make(*f, col, &l, err);
    if (rc) return rc;
    size_t *cnt = hml_calloc(l.n + 1, sizeof *cnt), total = 0;
    if (!cnt) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++)
        if (l.ids[i] != VG_NULL) cnt[l.ids[i]]++, total++;
    if (!rc && method == ENC_FREQ) {
        double *y = hml_malloc((n + 1) * sizeof *y);
        for (size_t i = 0; y && i < n; i++) y[i] = l.ids[i] == VG_NULL ? NAN : (double)cnt[l.ids[i]] / (double)total;
        rc = hml__vr_put(*f, out, y ? hml__vcol_from_doubles(y, n) : NULL, err);
    } else if (!rc) {
        int64_t *y = hml_malloc((n + 1) * sizeof *y);
        uint8_t *null = hml_calloc(n + 1, 1);
        for (size_t i = 0; y && null && i < n; i++) {
            null[i] = l.ids[i] == VG_NULL;
            y[i] = null[i] ? 0 : l.rank[l.ids[i]];
        }
        rc = hml__vr_put(*f, out, y && null ? hml__vcol_from_i64(y, null, n) : NULL, err);
        if (!null) hml_free(y);
        hml_free(null);
    }
    hml_free(cnt);
    levels_free(&l);
    return rc;
}

static enum hml_status enc_onehot(struct vrun *r, struct hml_frame **f, size_t col, const char *prefix,
                                  struct hml_error *err)
{
    if (r->dry && r->open_n < VIEW_OPEN_MAX)
        snprintf(r->open_prefix[r->open_n++], sizeof r->open_prefix[0], "%s", prefix);
    struct levels l;
    size_t n = (*f)->nrows;
    enum hml_status rc = levels_make(*f, col, &l, err);
    if (rc) return rc;
    if (l.n > HML_VIEW_ONEHOT_MAX) {
        rc = hml__vr_fail(r, err, HML_ELIMIT, "use encode frequency or ordinal for columns with many values",
                          "'%s' has %zu distinct values; onehot makes at most %u columns", (*f)->names[col], l.n,
                          HML_VIEW_ONEHOT_MAX);
        levels_free(&l);
        return rc;
    }
    uint32_t *by_rank = hml_malloc((l.n + 1) * sizeof *by_rank);
    if (!by_rank) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t g = 0; !rc && g < l.n; g++) by_rank[l.rank[g]] = (uint32_t)g;
    struct hml_column *src = (*f)->cols[col];
    hml_column_ref(src);
    for (size_t k = 0; !rc && k < l.n; k++) {
        uint32_t id = by_rank[k];
        char val[128], name[512];
        hml_column_format(src, l.first[id], val, sizeof val);
        snprintf(name, sizeof name, "%s%s", prefix, val);
        int64_t *y = hml_malloc((n + 1) * sizeof *y);
        for (size_t i = 0; y && i < n; i++) y[i] = l.ids[i] == id;
        rc = hml__vr_put(*f, name, y ? hml__vcol_from_i64(y, NULL, n) : NULL, err);
    }
    hml_column_unref(src);
    hml_free(by_rank);
    levels_free(&l);
    return rc;
}

/* Mean target of each value's other rows (leave-one-out). */
static void target_loo(const struct levels *l, const double *t, size_t n, double *y, double *sum, size_t *cnt)
{
    for (size_t i = 0; i < n; i++)
        if (l->ids[i] != VG_NULL && !isnan(t[i])) sum[l->ids[i]] += t[i], cnt[l->ids[i]]++;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = l->ids[i];
        if (id == VG_NULL) {
            y[i] = NAN;
            continue;
        }
        double s = sum[id];
        size_t c = cnt[id];
        if (!isnan(t[i])) s -= t[i], c--;
        y[i] = c ? s / (double)c : NAN;
    }
}

/* Mean target of each value's rows strictly earlier by the order columns. */
static enum hml_status target_temporal(struct vrun *r, const struct hml_frame *f, const json_t *step, size_t col,
                                       const double *t, double *y, struct hml_error *err)
{
    size_t ord[HML_VIEW_KEYS_MAX], no = 0;
    enum hml_status rc = hml__vr_cols(r, f, step, "order_by", ord, &no, err);
    if (!rc && !no)
        rc = hml__vr_fail(r, err, HML_EINVAL, "pass order_by: the time column that says which rows came before",
                          "target_temporal needs 'order_by'");
    struct hml__wplan p;
    if (!rc) rc = hml__vr_plan_cols(f, &col, 1, ord, NULL, no, &p, err);
    if (rc) return rc;
    uint64_t *k[HML_VIEW_KEYS_MAX] = {0};
    uint8_t *nl[HML_VIEW_KEYS_MAX] = {0};
    for (size_t c = 0; !rc && c < no; c++) rc = hml__vg_keys(f->cols[ord[c]], &k[c], &nl[c], err);
    for (size_t g = 0; !rc && g < p.ng; g++) {
        size_t s = p.starts[g], e = p.starts[g + 1];
        double sum = 0;
        size_t cnt = 0;
        for (size_t q = s; q < e;) {
            size_t first = p.perm[q], end = q + 1;
            bool null_time = false;
            for (size_t c = 0; c < no; c++) null_time |= nl[c] && nl[c][first];
            /* One block: rows with the same order values see the same past. */
            while (end < e) {
                bool same = true;
                for (size_t c = 0; c < no && same; c++)
                    same = k[c][p.perm[end]] == k[c][first] && !(nl[c] && nl[c][p.perm[end]] != nl[c][first]);
                if (!same) break;
                end++;
            }
            bool null_key = hml_column_is_null(f->cols[col], first) ||
                            (f->cols[col]->type == HML_TYPE_F64 && isnan(hml_f64(f->cols[col])[first]));
            for (size_t b = q; b < end; b++)
                y[p.perm[b]] = null_time || null_key || !cnt ? NAN : sum / (double)cnt;
            for (size_t b = q; b < end && !null_time; b++)
                if (!isnan(t[p.perm[b]])) sum += t[p.perm[b]], cnt++;
            q = end;
        }
    }
    for (size_t c = 0; c < no; c++) hml_free(k[c]), hml_free(nl[c]);
    hml__wplan_free(&p);
    return rc;
}

static enum hml_status enc_target(struct vrun *r, struct hml_frame **f, const json_t *step, size_t col, int method,
                                  const char *out, struct hml_error *err)
{
    const char *target = hml_json_str(step, "target", r->ctx->target);
    size_t tj;
    if (!target)
        return hml__vr_fail(r, err, HML_EINVAL, "pass \"target\": the column to average, or set the project's target "
                                                "column (configure update_data --target_column)",
                            "%s needs a target column", enc_methods[method]);
    enum hml_status rc = hml__vr_col(r, *f, target, "target", &tj, err);
    if (!rc) rc = hml__vr_numeric(r, *f, tj, enc_methods[method], err);
    if (rc) return rc;
    size_t n = (*f)->nrows;
    struct levels l = {0};
    double *t = hml__vcol_doubles((*f)->cols[tj]), *y = hml_malloc((n + 1) * sizeof *y);
    if (!t || !y) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    if (!rc && method == ENC_LOO) {
        rc = levels_make(*f, col, &l, err);
        double *sum = rc ? NULL : hml_calloc(l.n + 1, sizeof *sum);
        size_t *cnt = rc ? NULL : hml_calloc(l.n + 1, sizeof *cnt);
        if (!rc && (!sum || !cnt)) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
        if (!rc) target_loo(&l, t, n, y, sum, cnt);
        hml_free(sum);
        hml_free(cnt);
        levels_free(&l);
    } else if (!rc) {
        rc = target_temporal(r, *f, step, col, t, y, err);
    }
    hml_free(t);
    if (rc) {
        hml_free(y);
        return rc;
    }
    return hml__vr_put(*f, out, hml__vcol_from_doubles(y, n), err);
}

VSTEP(hml__vs_encode)
{
    static const char *const defaults[] = {"freq", "ordinal", "", "target_loo", "target_temporal"};
    size_t col;
    int method;
    const char *cname = hml_json_str(step, "column", "");
    enum hml_status rc = hml__vr_col(r, *f, cname, "column", &col, err);
    if (!rc) rc = hml__vr_choice(r, step, "method", enc_methods, ENC_FREQ, &method, err);
    if (rc) return rc;
    char out[512];
    if (method == ENC_ONEHOT) snprintf(out, sizeof out, "%s", hml_json_str(step, "output", NULL) ? hml_json_str(step, "output", "") : "");
    if (method == ENC_ONEHOT && !out[0]) snprintf(out, sizeof out, "%s_", cname);
    if (method != ENC_ONEHOT) {
        const char *given = hml_json_str(step, "output", NULL);
        if (given) snprintf(out, sizeof out, "%s", given);
        else snprintf(out, sizeof out, "%s_%s", cname, defaults[method]);
        rc = hml__vr_newname(r, out, err);
        if (rc) return rc;
    }
    if (method == ENC_FREQ || method == ENC_ORD) return enc_simple(r, f, col, method, out, err);
    if (method == ENC_ONEHOT) return enc_onehot(r, f, col, out, err);
    return enc_target(r, f, step, col, method, out, err);
}

/* ---- bin ------------------------------------------------------------------------------------- */

enum bin_method { BIN_QUANTILE, BIN_UNIFORM, BIN_CUSTOM, BIN_KMEANS };
static const char *const bin_methods[] = {"quantile", "uniform", "custom", "kmeans", NULL};

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's linear interpolation (a + (b-a)t, or b - (b-a)(1-t) from t = 0.5 on). */
static double lerp(double a, double b, double t) { return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t; }

static double quantile_sorted(const double *s, size_t m, double q)
{
    double h = (double)(m - 1) * q, fl = floor(h);
    size_t i = (size_t)fl;
    if (i + 1 >= m) return s[m - 1];
    return lerp(s[i], s[i + 1], h - fl);
}

/* Index of the bin of x: how many interior edges lie strictly below it. */
static size_t edge_bin(const double *edges, size_t ne, double x)
{
    size_t lo = 1, hi = ne - 1; /* interior edges are edges[1 .. ne-2] */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (edges[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo - 1;
}

/* Lloyd's algorithm on sorted values from centres at the uniform bin midpoints (as
 * scikit-learn's KBinsDiscretizer starts), until no centre moves (at most 300 rounds).
 * Values and centres are sorted, so the nearest centre only moves right: one sweep. */
static void kmeans_1d(const double *s, size_t m, double mn, double mx, size_t k, double *centers, double *sums,
                      size_t *counts)
{
    double step = (mx - mn) / (double)k;
    for (size_t j = 0; j < k; j++) {
        double a = (double)j * step + mn, b = j + 1 == k ? mx : (double)(j + 1) * step + mn;
        centers[j] = (a + b) * 0.5;
    }
    for (int iter = 0; iter < 300; iter++) {
        memset(sums, 0, k * sizeof *sums);
        memset(counts, 0, k * sizeof *counts);
        size_t j = 0;
        for (size_t i = 0; i < m; i++) {
            while (j + 1 < k && fabs(s[i] - centers[j + 1]) < fabs(s[i] - centers[j])) j++;
            sums[j] += s[i];
            counts[j]++;
        }
        bool moved = false;
        for (size_t c = 0; c < k; c++) {
            if (!counts[c]) continue; /* an empty cluster keeps its centre */
            double v = sums[c] / (double)counts[c];
            moved |= v != centers[c];
            centers[c] = v;
        }
        qsort(centers, k, sizeof *centers, cmp_dbl);
        if (!moved) break;
    }
}

static enum hml_status bin_edges(struct vrun *r, const json_t *step, int method, size_t nb, double *s, size_t m,
                                 double *edges, size_t *ne, struct hml_error *err)
{
    double mn = m ? s[0] : 0, mx = m ? s[m - 1] : 0;
    *ne = 0;
    if (method == BIN_CUSTOM) {
        const json_t *b = json_object_get(step, "boundaries");
        size_t nbd = json_array_size(b);
        if (nbd < 2 || nbd > HML_VIEW_BINS_MAX + 1)
            return hml__vr_fail(r, err, HML_EINVAL, "e.g. \"boundaries\": [0, 18, 65, 120]",
                                "custom bins need 'boundaries': 2 to %u increasing numbers", HML_VIEW_BINS_MAX + 1);
        for (size_t i = 0; i < nbd; i++) {
            const json_t *v = json_array_get(b, i);
            if (!json_is_number(v) || (i && json_number_value(v) <= edges[i - 1]))
                return hml__vr_fail(r, err, HML_EINVAL, "list numbers in increasing order",
                                    "boundary %zu is not a number above the one before", i + 1);
            edges[i] = json_number_value(v);
        }
        *ne = nbd;
        return HML_OK;
    }
    if (!m) return HML_OK;
    if (method == BIN_UNIFORM) {
        double width = (mx - mn) / (double)nb;
        for (size_t k = 0; k < nb; k++) edges[k] = (double)k * width + mn;
        edges[nb] = mx;
        *ne = nb + 1;
    } else if (method == BIN_QUANTILE) {
        double dq = 1.0 / (double)nb;
        for (size_t k = 0; k <= nb; k++) {
            double e = quantile_sorted(s, m, k == nb ? 1.0 : (double)k * dq);
            if (!*ne || e != edges[*ne - 1]) edges[(*ne)++] = e;
        }
    } else {
        double *centers = hml_malloc((nb + 1) * sizeof *centers), *sums = hml_malloc((nb + 1) * sizeof *sums);
        size_t *counts = hml_malloc((nb + 1) * sizeof *counts);
        if (!centers || !sums || !counts) {
            hml_free(centers);
            hml_free(sums);
            hml_free(counts);
            return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        }
        kmeans_1d(s, m, mn, mx, nb, centers, sums, counts);
        hml_free(sums);
        hml_free(counts);
        edges[0] = mn;
        for (size_t k = 0; k + 1 < nb; k++) edges[k + 1] = (centers[k] + centers[k + 1]) * 0.5;
        edges[nb] = mx;
        *ne = nb + 1;
        hml_free(centers);
    }
    return HML_OK;
}

static int64_t bin_of(int method, const double *edges, size_t ne, size_t nb, double x, bool *null)
{
    *null = false;
    if (ne < 2) return 0; /* one distinct value: everything is bin 0 */
    if (method == BIN_CUSTOM && (x < edges[0] || x > edges[ne - 1])) return *null = true, 0;
    if (method == BIN_KMEANS) {
        /* scikit-learn digitizes x + eps against the inner edges and the maximum. */
        double xe = x + 1e-8 + 1e-5 * fabs(x);
        size_t b = 0;
        for (size_t k = 1; k < ne; k++) b += edges[k] <= xe;
        return (int64_t)(b < nb ? b : nb - 1);
    }
    return (int64_t)edge_bin(edges, ne, x);
}

VSTEP(hml__vs_bin)
{
    size_t col;
    int method;
    long long nb;
    const char *cname = hml_json_str(step, "column", "");
    enum hml_status rc = hml__vr_col(r, *f, cname, "column", &col, err);
    if (!rc) rc = hml__vr_numeric(r, *f, col, "bin", err);
    if (!rc) rc = hml__vr_choice(r, step, "method", bin_methods, BIN_QUANTILE, &method, err);
    if (!rc) rc = hml__vr_int(r, step, "n_bins", 2, HML_VIEW_BINS_MAX, 10, &nb, err);
    char out[512];
    snprintf(out, sizeof out, "%s", hml_json_str(step, "output", NULL) ? hml_json_str(step, "output", "") : "");
    if (!out[0]) snprintf(out, sizeof out, "%s_bin", cname);
    if (!rc) rc = hml__vr_newname(r, out, err);
    if (rc) return rc;
    size_t n = (*f)->nrows, m = 0, ne = 0;
    double *x = hml__vcol_doubles((*f)->cols[col]), *s = hml_malloc((n + 1) * sizeof *s);
    double *edges = hml_malloc((HML_VIEW_BINS_MAX + 2) * sizeof *edges);
    int64_t *y = hml_malloc((n + 1) * sizeof *y);
    uint8_t *null = hml_calloc(n + 1, 1);
    if (!x || !s || !edges || !y || !null) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++)
        if (!isnan(x[i])) s[m++] = x[i];
    if (!rc) {
        qsort(s, m, sizeof *s, cmp_dbl);
        rc = bin_edges(r, step, method, (size_t)nb, s, m, edges, &ne, err);
    }
    for (size_t i = 0; !rc && i < n; i++) {
        bool nl = isnan(x[i]);
        y[i] = nl ? 0 : bin_of(method, edges, ne, (size_t)nb, x[i], &nl);
        null[i] = nl;
    }
    if (!rc) rc = hml__vr_put(*f, out, hml__vcol_from_i64(y, null, n), err);
    else hml_free(y);
    hml_free(x);
    hml_free(s);
    hml_free(edges);
    hml_free(null);
    return rc;
}

/* ---- datetime ------------------------------------------------------------------------------------ */

enum part { P_YEAR, P_MONTH, P_DAY, P_DOW, P_HOUR, P_QUARTER, P_WEEK, P__N };
static const char *const parts[] = {"year", "month", "day", "dayofweek", "hour", "quarter", "weekofyear", NULL};
static const double periods[] = {0, 12, 31, 7, 24, 4, 53};

static int dow_of(int32_t days) { return (int)(((days % 7) + 7 + 3) % 7); } /* 1970-01-01 was a Thursday */

static int iso_week(int32_t days)
{
    int32_t thursday = days - dow_of(days) + 3;
    int y, m, d;
    hml_date_to_ymd(thursday, &y, &m, &d);
    return (int)((thursday - hml_date_from_ymd(y, 1, 1)) / 7 + 1);
}

/* Date (and hour) of row i; false when the row is null or the text is not a date. */
static bool row_datetime(const struct hml_column *c, size_t i, int32_t *days, int *hour)
{
    *hour = 0;
    if (hml_column_is_null(c, i)) return false;
    if (c->type == HML_TYPE_DATE) return *days = hml_days(c)[i], true;
    const char *s = hml_column_str(c, i);
    size_t len = strlen(s);
    if (len < 10 || !hml_date_parse(s, 10, days)) return false;
    if (len == 10) return true;
    if ((s[10] != ' ' && s[10] != 'T') || len < 16 || s[13] != ':') return false;
    int h = (s[11] - '0') * 10 + (s[12] - '0');
    if (s[11] < '0' || s[11] > '9' || s[12] < '0' || s[12] > '9' || h > 23) return false;
    *hour = h;
    return true;
}

static int part_value(int p, int32_t days, int hour)
{
    int y, m, d;
    hml_date_to_ymd(days, &y, &m, &d);
    switch (p) {
    case P_YEAR: return y;
    case P_MONTH: return m;
    case P_DAY: return d;
    case P_DOW: return dow_of(days);
    case P_HOUR: return hour;
    case P_QUARTER: return (m - 1) / 3 + 1;
    default: return iso_week(days);
    }
}

static enum hml_status parse_parts(struct vrun *r, const json_t *step, const char *key, bool *want,
                                   struct hml_error *err)
{
    const char *names[HML_VIEW_KEYS_MAX];
    size_t n;
    enum hml_status rc = hml__vr_names(r, step, key, names, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        bool found = false;
        for (int p = 0; p < P__N; p++)
            if (!strcmp(parts[p], names[i])) want[p] = found = true;
        if (!found) {
            hml__vr_fail(r, err, HML_EINVAL, NULL, "unknown part '%s' in '%s'", names[i], key);
            return hml_error_choices(err, names[i], parts, P__N);
        }
    }
    return rc;
}

VSTEP(hml__vs_datetime)
{
    size_t col;
    bool ext[P__N] = {0}, cyc[P__N] = {0};
    const char *cname = hml_json_str(step, "column", "");
    enum hml_status rc = hml__vr_col(r, *f, cname, "column", &col, err);
    if (rc) return rc;
    const struct hml_column *c = (*f)->cols[col];
    if (c->type != HML_TYPE_DATE && c->type != HML_TYPE_STR)
        return hml__vr_fail(r, err, HML_EINVAL, "use a date column, or text like '2024-01-31 13:00'",
                            "'%s' holds %s values, not dates", cname, hml_type_name(c->type));
    if (json_object_get(step, "extract")) rc = parse_parts(r, step, "extract", ext, err);
    else ext[P_YEAR] = ext[P_MONTH] = ext[P_DAY] = ext[P_DOW] = true;
    if (!rc) rc = parse_parts(r, step, "cyclical", cyc, err);
    if (!rc && cyc[P_YEAR])
        rc = hml__vr_fail(r, err, HML_EINVAL, "cyclical parts: month, day, dayofweek, hour, quarter, weekofyear",
                          "'year' is not cyclical");
    if (rc) return rc;
    size_t n = c->n;
    hml_column_ref((struct hml_column *)c);
    for (int p = 0; !rc && p < P__N; p++) {
        if (!ext[p] && !cyc[p]) continue;
        int64_t *v = hml_malloc((n + 1) * sizeof *v);
        uint8_t *null = hml_calloc(n + 1, 1);
        if (!v || !null) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
        for (size_t i = 0; !rc && i < n; i++) {
            int32_t days;
            int hour;
            null[i] = !row_datetime(c, i, &days, &hour);
            v[i] = null[i] ? 0 : part_value(p, days, hour);
        }
        char name[512];
        for (int trig = 0; !rc && cyc[p] && trig < 2; trig++) {
            double *y = hml_malloc((n + 1) * sizeof *y);
            for (size_t i = 0; y && i < n; i++) {
                double a = 2 * M_PI * (double)v[i] / periods[p];
                y[i] = null[i] ? NAN : trig ? cos(a) : sin(a);
            }
            snprintf(name, sizeof name, "%s_%s_%s", cname, parts[p], trig ? "cos" : "sin");
            rc = hml__vr_put(*f, name, y ? hml__vcol_from_doubles(y, n) : NULL, err);
        }
        snprintf(name, sizeof name, "%s_%s", cname, parts[p]);
        if (!rc && ext[p]) rc = hml__vr_put(*f, name, hml__vcol_from_i64(v, null, n), err), v = NULL;
        hml_free(v);
        hml_free(null);
    }
    hml_column_unref((struct hml_column *)c);
    return rc;
}
