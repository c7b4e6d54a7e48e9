/* expr_colwise.c — functions whose rows depend on the whole column (zscore, minmax,
 * rank_pct, winsorize, pct_of_total), string functions (computed once per distinct
 * dictionary string, then mapped to rows by code) and date parts. */
#include "core/data/expr_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"

/* ---- column-wise ------------------------------------------------------------------- */

struct ranked {
    double v;
    size_t row;
};

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const struct ranked *)a)->v, y = ((const struct ranked *)b)->v;
    return (x > y) - (x < y);
}

/* Quantile q of sorted s[0..k) by linear interpolation (numpy/pandas "linear"). */
static double quantile(const struct ranked *s, size_t k, double q)
{
    HML_ASSERT(k > 0);
    double h = q * (double)(k - 1);
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= k) return s[k - 1].v;
    return s[lo].v + (h - (double)lo) * (s[lo + 1].v - s[lo].v);
}

/* pandas rank(pct=True), method "average": tied values share the mean of their ranks. */
static void rank_pct(struct ranked *s, size_t k, double *r)
{
    qsort(s, k, sizeof *s, cmp_ranked);
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j + 1 < k && s[j + 1].v == s[i].v) j++;
        double avg = ((double)(i + 1) + (double)(j + 1)) / 2.0;
        for (size_t m = i; m <= j; m++) r[s[m].row] = avg / (double)k;
        i = j + 1;
    }
}

struct moments {
    double sum, min, max;
};

static void colwise_rows(int fn, const struct hml__xnode *nd, struct ranked *s, size_t k,
                         struct moments m, double *r, uint8_t *valid, size_t n)
{
    double mean = m.sum / (double)k, ss = 0;
    switch (fn) {
    case XF_ZSCORE:
        /* A constant column has std 0 whatever rounding says: null, not noise. */
        if (k < 2 || m.min == m.max) {
            memset(valid, 0, (n + 7) / 8);
            return;
        }
        for (size_t j = 0; j < k; j++) ss += (s[j].v - mean) * (s[j].v - mean);
        for (size_t j = 0; j < k; j++) r[s[j].row] = (s[j].v - mean) / sqrt(ss / (double)(k - 1));
        return;
    case XF_MINMAX:
        for (size_t j = 0; j < k; j++) r[s[j].row] = (s[j].v - m.min) / (m.max - m.min);
        return;
    case XF_PCT_OF_TOTAL:
        for (size_t j = 0; j < k; j++) r[s[j].row] = s[j].v / m.sum;
        return;
    case XF_RANK_PCT:
        rank_pct(s, k, r);
        return;
    case XF_WINSORIZE: {
        qsort(s, k, sizeof *s, cmp_ranked);
        double lo = quantile(s, k, nd->args[1]->kind == XK_INT ? (double)nd->args[1]->ival : nd->args[1]->num);
        double hi = quantile(s, k, nd->args[2]->kind == XK_INT ? (double)nd->args[2]->ival : nd->args[2]->num);
        for (size_t j = 0; j < k; j++) r[s[j].row] = s[j].v < lo ? lo : s[j].v > hi ? hi : s[j].v;
        return;
    }
    default: HML_ASSERT(!"not a column-wise function");
    }
}

enum hml_status hml__xcolwise(struct hml__xcx *cx, const struct hml__xnode *nd,
                              struct hml__xval *args, struct hml__xval *out)
{
    size_t n = cx->n;
    const struct hml_column *x;
    struct hml_column *tmp, *c = NULL;
    struct hml__fview v = {0};
    struct ranked *s = NULL;
    /* A scalar stands for a constant column: evaluate it as one. */
    enum hml_status rc = hml__xborrow(cx, &args[0], n, &x, &tmp);
    if (rc) return rc;
    struct hml__xval xv = {.t = args[0].t, .col = (struct hml_column *)x};
    if ((rc = hml__fview(cx, &xv, &v)) || (rc = hml__xout(cx, XT_FLOAT, n, x->valid, NULL, &c)))
        goto done;
    if (!(s = hml_malloc((n ? n : 1) * sizeof *s))) {
        rc = hml__xoom(cx);
        goto done;
    }
    size_t k = 0;
    struct moments m = {0, INFINITY, -INFINITY};
    for (size_t i = 0; i < n; i++) {
        if (!hml__bit(v.valid, i)) continue;
        double val = v.p[i];
        s[k++] = (struct ranked){val, i};
        m.sum += val;
        if (val < m.min) m.min = val;
        if (val > m.max) m.max = val;
    }
    if (k > 0) colwise_rows(nd->op, nd, s, k, m, hml_f64(c), c->valid, n);
done:
    hml_free(s);
    hml__fview_fini(&v);
    hml_column_unref(tmp);
    if (rc) {
        hml_column_unref(c);
        return rc;
    }
    hml__xfinish(c, XT_FLOAT, false, out);
    return HML_OK;
}

/* ---- strings --------------------------------------------------------------------------- */

static size_t utf8_chars(const char *s, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* Transforms one distinct string into c's dictionary; the code, -1 for null, -2 on OOM. */
static int32_t str_to_code(const struct hml__xnode *nd, const char *s, size_t len, char *scratch,
                           struct hml_dict *dict)
{
    if (nd->op == XF_STR_EXTRACT) {
        size_t a, b;
        int m = hml__re_search(nd->args[1]->re, s, len, &a, &b);
        if (m < 0) return -2;
        if (m == 0) return -1;
        int32_t code = hml_dict_intern(dict, s + a, b - a);
        return code < 0 ? -2 : code;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (nd->op == XF_LOWER && ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        if (nd->op == XF_UPPER && ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
        scratch[i] = ch;
    }
    int32_t code = hml_dict_intern(dict, scratch, len);
    return code < 0 ? -2 : code;
}

/* Computes fn once per distinct string of src into tab (int64 results for str_len and
 * str_contains, result codes for string-valued functions). false on OOM. */
static bool per_string(const struct hml__xnode *nd, const struct hml_column *src,
                       struct hml_column *c, int64_t *tab)
{
    size_t k = hml_dict_size(src->dict), longest = 0;
    for (size_t j = 0; j < k; j++)
        if (hml_dict_len(src->dict, (int32_t)j) > longest) longest = hml_dict_len(src->dict, (int32_t)j);
    char *scratch = hml_malloc(longest + 1);
    if (!scratch) return false;
    bool ok = true;
    const struct hml__xnode *sub = nd->nargs > 1 ? nd->args[1] : NULL;
    for (size_t j = 0; j < k && ok; j++) {
        const char *s = hml_dict_get(src->dict, (int32_t)j);
        size_t len = hml_dict_len(src->dict, (int32_t)j);
        if (nd->op == XF_STR_LEN) tab[j] = (int64_t)utf8_chars(s, len);
        else if (nd->op == XF_STR_CONTAINS) tab[j] = memmem(s, len, sub->text, sub->len) != NULL;
        else ok = (tab[j] = str_to_code(nd, s, len, scratch, c->dict)) != -2;
    }
    hml_free(scratch);
    return ok;
}

enum hml_status hml__xstrfn(struct hml__xcx *cx, const struct hml__xnode *nd,
                            struct hml__xval *args, struct hml__xval *out)
{
    enum hml__xt t = cx->ann[nd->id].t;
    bool scalar = !args[0].col;
    size_t n = scalar ? 1 : cx->n;
    const struct hml_column *src = NULL;
    struct hml_column *tmp = NULL, *c = NULL;
    int64_t *tab = NULL;
    enum hml_status rc = hml__xborrow(cx, &args[0], n, &src, &tmp);
    if (rc || (rc = hml__xout(cx, t, n, src->valid, NULL, &c))) goto done;
    size_t k = hml_dict_size(src->dict);
    if (!(tab = hml_malloc((k ? k : 1) * sizeof *tab)) || !per_string(nd, src, c, tab)) {
        rc = hml__xoom(cx);
        goto done;
    }
    const int32_t *codes = hml_codes(src);
    for (size_t i = 0; i < n; i++) {
        if (!hml__bit(c->valid, i)) continue;
        int64_t v = tab[codes[i]];
        if (t == XT_INT) hml_i64(c)[i] = v;
        else if (t == XT_BOOL) hml_bool(c)[i] = (uint8_t)v;
        else if (v < 0) hml__bit_clear(c->valid, i);
        else hml_codes(c)[i] = (int32_t)v;
    }
done:
    hml_free(tab);
    hml_column_unref(tmp);
    if (rc) {
        hml_column_unref(c);
        return rc;
    }
    hml__xfinish(c, t, scalar, out);
    return HML_OK;
}

/* ---- dates ------------------------------------------------------------------------------ */

static int64_t date_part(int fn, int64_t days)
{
    if (fn == XF_DAYOFWEEK) {
        int64_t d = (days + 3) % 7; /* 1970-01-01 was a Thursday; Monday = 0 */
        return d < 0 ? d + 7 : d;
    }
    int y, m, d;
    hml_date_to_ymd((int32_t)days, &y, &m, &d);
    return fn == XF_YEAR ? y : fn == XF_MONTH ? m : d;
}

enum hml_status hml__xdatefn(struct hml__xcx *cx, const struct hml__xnode *nd,
                             struct hml__xval *args, struct hml__xval *out)
{
    bool scalar = !args[0].col;
    size_t n = scalar ? 1 : cx->n;
    struct hml__iview v;
    struct hml_column *c;
    enum hml_status rc = hml__iview(cx, &args[0], &v);
    if (rc) return rc;
    if (!(rc = hml__xout(cx, XT_INT, n, v.valid, NULL, &c))) {
        int64_t *r = hml_i64(c);
        for (size_t i = 0; i < n; i++) r[i] = date_part(nd->op, v.p[i * v.step]);
        hml__xfinish(c, XT_INT, scalar, out);
    }
    hml__iview_fini(&v);
    return rc;
}
