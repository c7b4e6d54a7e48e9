/* expr_eval.c — the vectorised evaluator: values, views, operators and the public entry
 * points. Every node turns whole columns into a new column (or a scalar that stands for
 * every row); no node is interpreted per row.
 *
 * Scalars stay scalars: when every operand of an operator is a scalar, the kernel runs
 * over one row and the result is turned back into a scalar, so constant sub-expressions
 * cost nothing per row. A null scalar short-circuits null-propagating operators. */
#include "core/data/expr_int.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/data/frame_int.h"
#include "harness/alloc.h"

enum hml_status hml__xoom(struct hml__xcx *cx)
{
    hml_fail(cx->err, HML_ENOMEM, "expr", "out of memory while evaluating the formula");
    return HML_ENOMEM;
}

void hml__xval_fini(struct hml__xval *v)
{
    if (v->col && v->owned) hml_column_unref(v->col);
    hml_free(v->own_s);
    memset(v, 0, sizeof *v);
}

void hml__xnull(struct hml__xval *v, enum hml__xt t)
{
    memset(v, 0, sizeof *v);
    v->t = t;
    v->null = true;
}

/* ---- views ------------------------------------------------------------------------- */

enum hml_status hml__fview(struct hml__xcx *cx, const struct hml__xval *v, struct hml__fview *out)
{
    memset(out, 0, sizeof *out);
    if (!v->col) {
        HML_ASSERT(!v->null);
        out->one = v->t == XT_FLOAT ? v->f : (double)v->i;
        out->p = &out->one;
        return HML_OK;
    }
    const struct hml_column *c = v->col;
    out->valid = c->valid;
    out->step = 1;
    if (c->type == HML_TYPE_F64) {
        out->p = hml_f64(c);
        return HML_OK;
    }
    HML_ASSERT(c->type != HML_TYPE_STR);
    if (!(out->own = hml_malloc((c->n ? c->n : 1) * sizeof(double)))) return hml__xoom(cx);
    if (c->type == HML_TYPE_I64)
        for (size_t i = 0; i < c->n; i++) out->own[i] = (double)hml_i64(c)[i];
    else if (c->type == HML_TYPE_BOOL)
        for (size_t i = 0; i < c->n; i++) out->own[i] = hml_bool(c)[i];
    else
        for (size_t i = 0; i < c->n; i++) out->own[i] = hml_days(c)[i];
    out->p = out->own;
    return HML_OK;
}

void hml__fview_fini(struct hml__fview *v)
{
    hml_free(v->own);
    v->own = NULL;
}

enum hml_status hml__iview(struct hml__xcx *cx, const struct hml__xval *v, struct hml__iview *out)
{
    memset(out, 0, sizeof *out);
    if (!v->col) {
        HML_ASSERT(!v->null);
        out->one = v->i;
        out->p = &out->one;
        return HML_OK;
    }
    const struct hml_column *c = v->col;
    out->valid = c->valid;
    out->step = 1;
    if (c->type == HML_TYPE_I64) {
        out->p = hml_i64(c);
        return HML_OK;
    }
    HML_ASSERT(c->type == HML_TYPE_BOOL || c->type == HML_TYPE_DATE);
    if (!(out->own = hml_malloc((c->n ? c->n : 1) * sizeof(int64_t)))) return hml__xoom(cx);
    if (c->type == HML_TYPE_BOOL)
        for (size_t i = 0; i < c->n; i++) out->own[i] = hml_bool(c)[i];
    else
        for (size_t i = 0; i < c->n; i++) out->own[i] = hml_days(c)[i];
    out->p = out->own;
    return HML_OK;
}

void hml__iview_fini(struct hml__iview *v)
{
    hml_free(v->own);
    v->own = NULL;
}

/* ---- result columns ------------------------------------------------------------------ */

static void and_bitmaps(uint8_t *valid, size_t n, const uint8_t *a, const uint8_t *b)
{
    size_t nb = hml__bitmap_bytes(n);
    if (a && b)
        for (size_t i = 0; i < nb; i++) valid[i] = a[i] & b[i];
    else if (a || b)
        memcpy(valid, a ? a : b, nb);
    else
        memset(valid, 0xff, nb);
    valid[nb] = 0xff;
}

enum hml_status hml__xout(struct hml__xcx *cx, enum hml__xt t, size_t n, const uint8_t *a,
                          const uint8_t *b, struct hml_column **out)
{
    struct hml_column *c = hml_column_new(hml__xt_column_type(t), n);
    uint8_t *valid = hml_malloc(hml__bitmap_bytes(n) + 1);
    if (!c || !valid) {
        hml_column_unref(c);
        hml_free(valid);
        return hml__xoom(cx);
    }
    and_bitmaps(valid, n, a, b);
    c->valid = valid;
    *out = c;
    return HML_OK;
}

/* Like hml__xout for the arithmetic kernels, which write every row: the values are not
 * zeroed first (hml__xfinish zeroes the rows under nulls). */
static enum hml_status xout_raw(struct hml__xcx *cx, enum hml__xt t, size_t n, const uint8_t *a,
                                const uint8_t *b, struct hml_column **out)
{
    enum hml_type ct = hml__xt_column_type(t);
    HML_ASSERT(ct == HML_TYPE_F64 || ct == HML_TYPE_I64);
    void *data = hml_malloc((n ? n : 1) * 8);
    uint8_t *valid = hml_malloc(hml__bitmap_bytes(n) + 1);
    struct hml_column *c = data && valid ? hml__column_wrap(ct, n, data, valid, 0, NULL) : NULL;
    if (!c) {
        if (!data || !valid) hml_free(data), hml_free(valid);
        return hml__xoom(cx);
    }
    and_bitmaps(valid, n, a, b);
    *out = c;
    return HML_OK;
}

/* Nulls in a bitmap. Most bytes are all-valid, so those skip the bit count (which is a
 * library call without a popcount instruction). */
static size_t count_nulls(const uint8_t *valid, size_t n)
{
    size_t valid_n = 0, full = n / 8;
    for (size_t i = 0; i < full; i++)
        valid_n += valid[i] == 0xff ? 8 : (size_t)__builtin_popcount(valid[i]);
    for (size_t i = full * 8; i < n; i++) valid_n += hml__bit(valid, i);
    return n - valid_n;
}

static void scalar_from_row0(struct hml_column *c, enum hml__xt t, struct hml__xval *v)
{
    memset(v, 0, sizeof *v);
    v->t = t;
    if (c->n == 0 || hml_column_is_null(c, 0)) {
        v->null = true;
        return;
    }
    switch (c->type) {
    case HML_TYPE_F64: v->f = hml_f64(c)[0]; break;
    case HML_TYPE_I64: v->i = hml_i64(c)[0]; break;
    case HML_TYPE_BOOL: v->i = hml_bool(c)[0]; break;
    case HML_TYPE_DATE: v->i = hml_days(c)[0]; break;
    case HML_TYPE_STR: {
        const char *s = hml_column_str(c, 0);
        size_t len = hml_dict_len(c->dict, hml_codes(c)[0]);
        v->own_s = hml_strndup(s, len); /* NULL on OOM: reported by the caller's check */
        v->s = v->own_s;
        v->slen = len;
        v->oom = v->own_s == NULL;
        break;
    }
    }
}

void hml__xfinish(struct hml_column *c, enum hml__xt t, bool scalar, struct hml__xval *v)
{
    hml__xfinish_checked(c, t, scalar, v, true);
}

void hml__xfinish_checked(struct hml_column *c, enum hml__xt t, bool scalar, struct hml__xval *v,
                          bool nonfinite)
{
    HML_ASSERT(c->valid != NULL);
    size_t n = c->n, w = hml__type_width(c->type), full = n / 8;
    if (c->type == HML_TYPE_F64 && nonfinite) {
        const double *x = hml_f64(c);
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[i])) hml__bit_clear(c->valid, i);
    }
    c->null_count = count_nulls(c->valid, n);
    if (c->null_count) {
        for (size_t j = 0; j <= full; j++) {
            if (j < full && c->valid[j] == 0xff) continue;
            for (size_t i = 8 * j; i < 8 * j + 8 && i < n; i++)
                if (!hml__bit(c->valid, i)) memset((char *)c->data + i * w, 0, w);
        }
    } else {
        hml_free(c->valid);
        c->valid = NULL;
    }
    if (scalar) {
        scalar_from_row0(c, t, v);
        hml_column_unref(c);
        return;
    }
    memset(v, 0, sizeof *v);
    v->t = t;
    v->col = c;
    v->owned = true;
}

/* An n-row column holding v (a new reference when v already is a column). */
enum hml_status hml__xcolumn(struct hml__xcx *cx, const struct hml__xval *v, size_t n,
                             struct hml_column **out)
{
    if (v->col) {
        HML_ASSERT(v->col->n == n);
        hml_column_ref(v->col);
        *out = v->col;
        return HML_OK;
    }
    struct hml_column *c;
    enum hml_status rc = hml__xout(cx, v->t, n, NULL, NULL, &c);
    if (rc) return rc;
    if (v->null) memset(c->valid, 0, hml__bitmap_bytes(n));
    int32_t code = 0;
    if (v->t == XT_STR && !v->null && (code = hml_dict_intern(c->dict, v->s, v->slen)) < 0) {
        hml_column_unref(c);
        return hml__xoom(cx);
    }
    for (size_t i = 0; i < n && !v->null; i++) {
        switch (c->type) {
        case HML_TYPE_F64: hml_f64(c)[i] = v->f; break;
        case HML_TYPE_I64: hml_i64(c)[i] = v->i; break;
        case HML_TYPE_BOOL: hml_bool(c)[i] = (uint8_t)v->i; break;
        case HML_TYPE_DATE: hml_days(c)[i] = (int32_t)v->i; break;
        case HML_TYPE_STR: hml_codes(c)[i] = code; break;
        }
    }
    struct hml__xval tmp;
    hml__xfinish(c, v->t, false, &tmp);
    *out = tmp.col;
    return HML_OK;
}

enum hml_status hml__xborrow(struct hml__xcx *cx, const struct hml__xval *v, size_t n,
                             const struct hml_column **out, struct hml_column **tmp)
{
    *tmp = NULL;
    if (v->col) {
        HML_ASSERT(v->col->n == n);
        *out = v->col;
        return HML_OK;
    }
    enum hml_status rc = hml__xcolumn(cx, v, n, tmp);
    *out = *tmp;
    return rc;
}

/* ---- arithmetic ---------------------------------------------------------------------- */

/* Runs EXPR(X, Y) over n rows for every scalar/column combination, so that the common
 * column-column and column-scalar loops are plain and vectorisable. */
#define LOOP2(T, x, sx, y, sy, r, n, EXPR)                                                   \
    do {                                                                                    \
        if ((sx) && (sy))                                                                   \
            for (size_t i = 0; i < (n); i++) { T X = (x)[i], Y = (y)[i]; (r)[i] = (EXPR); } \
        else if (sx) {                                                                      \
            T Y = (y)[0];                                                                   \
            for (size_t i = 0; i < (n); i++) { T X = (x)[i]; (r)[i] = (EXPR); }             \
        } else if (sy) {                                                                    \
            T X = (x)[0];                                                                   \
            for (size_t i = 0; i < (n); i++) { T Y = (y)[i]; (r)[i] = (EXPR); }             \
        } else {                                                                            \
            T X = (x)[0], Y = (y)[0];                                                       \
            for (size_t i = 0; i < (n); i++) (r)[i] = (EXPR);                               \
        }                                                                                   \
    } while (0)

static double py_fmod(double x, double y)
{
    double m = fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return m;
}

/* The float kernels also note, in the same pass, whether any result is not finite, so
 * hml__xfinish_checked can skip a second pass over the output. */
#define FLOOP(x, sx, y, sy, r, n, EXPR, bad)                                                  \
    do {                                                                                    \
        if ((sx) && (sy))                                                                   \
            for (size_t i = 0; i < (n); i++) {                                              \
                double X = (x)[i], Y = (y)[i], R = (EXPR);                                  \
                (r)[i] = R;                                                                 \
                bad |= !(fabs(R) <= DBL_MAX);                                               \
            }                                                                               \
        else {                                                                              \
            for (size_t i = 0; i < (n); i++) {                                              \
                double X = (x)[(sx) ? i : 0], Y = (y)[(sy) ? i : 0], R = (EXPR);            \
                (r)[i] = R;                                                                 \
                bad |= !(fabs(R) <= DBL_MAX);                                               \
            }                                                                               \
        }                                                                                   \
    } while (0)

bool hml__xf_kernel(int op, size_t n, const struct hml__fview *a, const struct hml__fview *b,
                    double *r)
{
    const double *x = a->p, *y = b->p;
    size_t sx = a->step, sy = b->step;
    const double tau = 6.283185307179586476925286766559;
    int bad = 0;
    switch (op) {
    case XO_ADD: FLOOP(x, sx, y, sy, r, n, X + Y, bad); break;
    case XO_SUB: FLOOP(x, sx, y, sy, r, n, X - Y, bad); break;
    case XO_MUL: FLOOP(x, sx, y, sy, r, n, X * Y, bad); break;
    case XO_DIV: FLOOP(x, sx, y, sy, r, n, X / Y, bad); break;
    case XO_MOD: FLOOP(x, sx, y, sy, r, n, py_fmod(X, Y), bad); break;
    case XO_POW: FLOOP(x, sx, y, sy, r, n, pow(X, Y), bad); break;
    case HML__XK_MIN: FLOOP(x, sx, y, sy, r, n, X < Y ? X : Y, bad); break;
    case HML__XK_MAX: FLOOP(x, sx, y, sy, r, n, X > Y ? X : Y, bad); break;
    case HML__XK_SINC: FLOOP(x, sx, y, sy, r, n, sin(tau * X / Y), bad); break;
    case HML__XK_COSC: FLOOP(x, sx, y, sy, r, n, cos(tau * X / Y), bad); break;
    default: HML_ASSERT(!"bad float kernel");
    }
    return bad != 0;
}

static int64_t py_imod(int64_t x, int64_t y)
{
    if (y == -1) return 0; /* INT64_MIN % -1 traps in C */
    int64_t m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return m;
}

/* Int kernels mark overflow and % 0 as null in valid. */
void hml__xi_kernel(int op, size_t n, const struct hml__iview *a, const struct hml__iview *b,
                    int64_t *r, uint8_t *valid)
{
    for (size_t i = 0; i < n; i++) {
        int64_t x = a->p[i * a->step], y = b->p[i * b->step];
        bool bad = false;
        switch (op) {
        case XO_ADD: bad = __builtin_add_overflow(x, y, &r[i]); break;
        case XO_SUB: bad = __builtin_sub_overflow(x, y, &r[i]); break;
        case XO_MUL: bad = __builtin_mul_overflow(x, y, &r[i]); break;
        case XO_MOD:
            bad = y == 0;
            r[i] = bad ? 0 : py_imod(x, y);
            break;
        case HML__XK_MIN: r[i] = x < y ? x : y; break;
        case HML__XK_MAX: r[i] = x > y ? x : y; break;
        default: HML_ASSERT(!"bad int kernel");
        }
        if (bad) hml__bit_clear(valid, i);
    }
}

enum hml_status hml__xarith(struct hml__xcx *cx, int op, enum hml__xt t, const struct hml__xval *a,
                            const struct hml__xval *b, struct hml__xval *out)
{
    HML_ASSERT(a->t != XT_STR && b->t != XT_STR);
    if (a->null || b->null || t == XT_NULL) {
        hml__xnull(out, t);
        return HML_OK;
    }
    bool scalar = !a->col && !b->col;
    size_t n = scalar ? 1 : cx->n;
    struct hml_column *c;
    enum hml_status rc;
    if (t == XT_INT) {
        struct hml__iview x, y;
        if ((rc = hml__iview(cx, a, &x))) return rc;
        if (!(rc = hml__iview(cx, b, &y)) && !(rc = xout_raw(cx, t, n, x.valid, y.valid, &c))) {
            hml__xi_kernel(op, n, &x, &y, hml_i64(c), c->valid);
            hml__xfinish(c, t, scalar, out);
        }
        hml__iview_fini(&x);
        hml__iview_fini(&y);
        return rc;
    }
    struct hml__fview x, y;
    if ((rc = hml__fview(cx, a, &x))) return rc;
    if (!(rc = hml__fview(cx, b, &y)) && !(rc = xout_raw(cx, XT_FLOAT, n, x.valid, y.valid, &c))) {
        bool nonfinite = hml__xf_kernel(op, n, &x, &y, hml_f64(c));
        hml__xfinish_checked(c, XT_FLOAT, scalar, out, nonfinite);
    }
    hml__fview_fini(&x);
    hml__fview_fini(&y);
    return rc;
}

static enum hml_status eval_neg(struct hml__xcx *cx, enum hml__xt t, const struct hml__xval *a,
                                struct hml__xval *out)
{
    struct hml__xval zero = {.t = t == XT_FLOAT ? XT_FLOAT : XT_INT};
    return hml__xarith(cx, XO_SUB, t, &zero, a, out);
}

/* ---- comparisons --------------------------------------------------------------------- */

static int flip(int op)
{
    switch (op) {
    case XO_LT: return XO_GT;
    case XO_LE: return XO_GE;
    case XO_GT: return XO_LT;
    case XO_GE: return XO_LE;
    default: return op;
    }
}

static bool cmp_result(int op, int c)
{
    switch (op) {
    case XO_EQ: return c == 0;
    case XO_NE: return c != 0;
    case XO_LT: return c < 0;
    case XO_LE: return c <= 0;
    case XO_GT: return c > 0;
    default: return c >= 0;
    }
}

#define CMP_KERNEL(T, a, b, r, n)                                                          \
    switch (op) {                                                                          \
    case XO_EQ: LOOP2(T, (a).p, (a).step, (b).p, (b).step, r, n, X == Y); break;           \
    case XO_NE: LOOP2(T, (a).p, (a).step, (b).p, (b).step, r, n, X != Y); break;           \
    case XO_LT: LOOP2(T, (a).p, (a).step, (b).p, (b).step, r, n, X < Y); break;            \
    case XO_LE: LOOP2(T, (a).p, (a).step, (b).p, (b).step, r, n, X <= Y); break;           \
    case XO_GT: LOOP2(T, (a).p, (a).step, (b).p, (b).step, r, n, X > Y); break;            \
    default: LOOP2(T, (a).p, (a).step, (b).p, (b).step, r, n, X >= Y); break;              \
    }

static bool exact_int(enum hml__xt t) { return t == XT_INT || t == XT_BOOL || t == XT_DATE; }

static enum hml_status cmp_numbers(struct hml__xcx *cx, int op, const struct hml__xval *a,
                                   const struct hml__xval *b, struct hml__xval *out)
{
    bool scalar = !a->col && !b->col;
    size_t n = scalar ? 1 : cx->n;
    struct hml_column *c;
    enum hml_status rc;
    if (exact_int(a->t) && exact_int(b->t)) {
        struct hml__iview x, y;
        if ((rc = hml__iview(cx, a, &x))) return rc;
        if (!(rc = hml__iview(cx, b, &y)) && !(rc = hml__xout(cx, XT_BOOL, n, x.valid, y.valid, &c))) {
            uint8_t *r = hml_bool(c);
            CMP_KERNEL(int64_t, x, y, r, n);
            hml__xfinish(c, XT_BOOL, scalar, out);
        }
        hml__iview_fini(&x);
        hml__iview_fini(&y);
        return rc;
    }
    struct hml__fview x, y;
    if ((rc = hml__fview(cx, a, &x))) return rc;
    if (!(rc = hml__fview(cx, b, &y)) && !(rc = hml__xout(cx, XT_BOOL, n, x.valid, y.valid, &c))) {
        uint8_t *r = hml_bool(c);
        CMP_KERNEL(double, x, y, r, n);
        hml__xfinish(c, XT_BOOL, scalar, out);
    }
    hml__fview_fini(&x);
    hml__fview_fini(&y);
    return rc;
}

/* Bytewise order (UTF-8 code-point order), like Python's str comparison. */
int hml__xstrcmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c) return c;
    return na < nb ? -1 : na > nb;
}

/* The string of row i of a string value (scalar or column); row must be valid. */
const char *hml__xstr(const struct hml__xval *v, size_t i, size_t *len)
{
    if (!v->col) {
        *len = v->slen;
        return v->s;
    }
    int32_t code = hml_codes(v->col)[i];
    *len = hml_dict_len(v->col->dict, code);
    return hml_dict_get(v->col->dict, code);
}

static enum hml_status cmp_strings(struct hml__xcx *cx, int op, const struct hml__xval *a,
                                   const struct hml__xval *b, struct hml__xval *out)
{
    if (!a->col && b->col) return cmp_strings(cx, flip(op), b, a, out);
    bool scalar = !a->col;
    size_t n = scalar ? 1 : cx->n;
    struct hml_column *c;
    enum hml_status rc = hml__xout(cx, XT_BOOL, n, a->col ? a->col->valid : NULL,
                                   b->col ? b->col->valid : NULL, &c);
    if (rc) return rc;
    uint8_t *r = hml_bool(c);
    if (a->col && !b->col) {
        /* One comparison per distinct string, then a lookup per row. */
        size_t nd = hml_dict_size(a->col->dict);
        uint8_t *tab = hml_malloc(nd ? nd : 1);
        if (!tab) {
            hml_column_unref(c);
            return hml__xoom(cx);
        }
        for (size_t k = 0; k < nd; k++)
            tab[k] = cmp_result(op, hml__xstrcmp(hml_dict_get(a->col->dict, (int32_t)k),
                                                 hml_dict_len(a->col->dict, (int32_t)k), b->s, b->slen));
        const int32_t *codes = hml_codes(a->col);
        for (size_t i = 0; i < n; i++) r[i] = hml__bit(c->valid, i) ? tab[codes[i]] : 0;
        hml_free(tab);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (!hml__bit(c->valid, i)) continue;
            size_t la, lb;
            const char *sa = hml__xstr(a, i, &la), *sb = hml__xstr(b, i, &lb);
            r[i] = cmp_result(op, hml__xstrcmp(sa, la, sb, lb));
        }
    }
    hml__xfinish(c, XT_BOOL, scalar, out);
    return HML_OK;
}

static enum hml_status eval_cmp(struct hml__xcx *cx, int op, const struct hml__xval *a,
                                const struct hml__xval *b, struct hml__xval *out)
{
    if (a->null || b->null) {
        hml__xnull(out, XT_BOOL);
        return HML_OK;
    }
    if (a->t == XT_STR) {
        HML_ASSERT(b->t == XT_STR);
        return cmp_strings(cx, op, a, b, out);
    }
    return cmp_numbers(cx, op, a, b, out);
}

/* ---- logic --------------------------------------------------------------------------- */

static void move_val(struct hml__xval *dst, struct hml__xval *src)
{
    *dst = *src;
    memset(src, 0, sizeof *src);
}

/* and/or with SQL's three-valued logic. `dominant` is false for and, true for or: a
 * dominant operand decides the result even when the other is null. */
static enum hml_status eval_logic(struct hml__xcx *cx, bool dominant, struct hml__xval *a,
                                  struct hml__xval *b, struct hml__xval *out)
{
    if (a->col && !b->col) return eval_logic(cx, dominant, b, a, out);
    if (!a->col && !b->col) {
        bool ad = !a->null && (a->i != 0) == dominant, bd = !b->null && (b->i != 0) == dominant;
        if (ad || bd) *out = (struct hml__xval){.t = XT_BOOL, .i = dominant};
        else if (a->null || b->null) hml__xnull(out, XT_BOOL);
        else *out = (struct hml__xval){.t = XT_BOOL, .i = !dominant};
        return HML_OK;
    }
    if (!a->col) {
        if (!a->null && (a->i != 0) == dominant) {
            *out = (struct hml__xval){.t = XT_BOOL, .i = dominant};
            return HML_OK;
        }
        if (!a->null) {
            move_val(out, b); /* the neutral value: the result is the other operand */
            return HML_OK;
        }
    }
    /* Column with column, or a null scalar with a column. */
    struct hml_column *c;
    enum hml_status rc = hml__xout(cx, XT_BOOL, cx->n, NULL, NULL, &c);
    if (rc) return rc;
    const uint8_t *bv = hml_bool(b->col), *bval = b->col->valid;
    const uint8_t *av = a->col ? hml_bool(a->col) : NULL, *aval = a->col ? a->col->valid : NULL;
    uint8_t *r = hml_bool(c);
    for (size_t i = 0; i < cx->n; i++) {
        bool aok = av && hml__bit(aval, i), bok = hml__bit(bval, i);
        bool adom = aok && (av[i] != 0) == dominant, bdom = bok && (bv[i] != 0) == dominant;
        if (adom || bdom) r[i] = dominant;
        else if (aok && bok) r[i] = !dominant;
        else hml__bit_clear(c->valid, i);
    }
    hml__xfinish(c, XT_BOOL, false, out);
    return HML_OK;
}

static enum hml_status eval_not(struct hml__xcx *cx, const struct hml__xval *a, struct hml__xval *out)
{
    if (!a->col) {
        *out = *a;
        out->i = !a->i;
        return HML_OK;
    }
    struct hml_column *c;
    enum hml_status rc = hml__xout(cx, XT_BOOL, cx->n, a->col->valid, NULL, &c);
    if (rc) return rc;
    const uint8_t *x = hml_bool(a->col);
    uint8_t *r = hml_bool(c);
    for (size_t i = 0; i < cx->n; i++) r[i] = !x[i];
    hml__xfinish(c, XT_BOOL, false, out);
    return HML_OK;
}

/* ---- in [...] ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool in_sorted(const double *v, size_t n, double x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo] == x;
}

static double literal_number(struct hml__xcx *cx, const struct hml__xnode *x)
{
    if (cx->ann[x->id].t == XT_DATE) return x->days;
    return x->kind == XK_NUM ? x->num : (double)x->ival;
}

static bool in_strings(const struct hml__xnode *nd, const char *s, size_t len)
{
    for (uint32_t k = 1; k < nd->nargs; k++)
        if (nd->args[k]->len == len && !memcmp(nd->args[k]->text, s, len)) return true;
    return false;
}

static enum hml_status in_string_col(struct hml__xcx *cx, const struct hml__xnode *nd,
                                     const struct hml_column *s, uint8_t *r, size_t n)
{
    size_t nd_n = hml_dict_size(s->dict);
    uint8_t *tab = hml_malloc(nd_n ? nd_n : 1);
    if (!tab) return hml__xoom(cx);
    for (size_t k = 0; k < nd_n; k++)
        tab[k] = in_strings(nd, hml_dict_get(s->dict, (int32_t)k), hml_dict_len(s->dict, (int32_t)k));
    for (size_t i = 0; i < n; i++) r[i] = hml__bit(s->valid, i) ? tab[hml_codes(s)[i]] ^ (nd->op != 0) : 0;
    hml_free(tab);
    return HML_OK;
}

static enum hml_status eval_in(struct hml__xcx *cx, const struct hml__xnode *nd,
                               const struct hml__xval *a, struct hml__xval *out)
{
    if (a->null) {
        hml__xnull(out, XT_BOOL);
        return HML_OK;
    }
    bool scalar = !a->col;
    size_t n = scalar ? 1 : cx->n;
    struct hml_column *c;
    enum hml_status rc = hml__xout(cx, XT_BOOL, n, a->col ? a->col->valid : NULL, NULL, &c);
    if (rc) return rc;
    uint8_t *r = hml_bool(c);
    if (a->t == XT_STR && a->col) {
        rc = in_string_col(cx, nd, a->col, r, n);
    } else if (a->t == XT_STR) {
        r[0] = in_strings(nd, a->s, a->slen) ^ (nd->op != 0);
    } else {
        /* Numbers, bools and dates: a sorted list and a binary search per row. Doubles
         * hold every date and every int a list literal can sensibly name. */
        size_t k = nd->nargs - 1;
        double *v = hml_malloc(k * sizeof *v);
        struct hml__fview x;
        if (!v) rc = hml__xoom(cx);
        else if (!(rc = hml__fview(cx, a, &x))) {
            for (size_t j = 0; j < k; j++) v[j] = literal_number(cx, nd->args[j + 1]);
            qsort(v, k, sizeof *v, cmp_double);
            for (size_t i = 0; i < n; i++) r[i] = in_sorted(v, k, x.p[i * x.step]) ^ (nd->op != 0);
            hml__fview_fini(&x);
        }
        hml_free(v);
    }
    if (rc) {
        hml_column_unref(c);
        return rc;
    }
    hml__xfinish(c, XT_BOOL, scalar, out);
    return HML_OK;
}

/* ---- the dispatcher ------------------------------------------------------------------ */

static void eval_leaf(struct hml__xcx *cx, const struct hml__xnode *nd, struct hml__xval *out)
{
    const struct hml__xann *ann = &cx->ann[nd->id];
    memset(out, 0, sizeof *out);
    out->t = ann->t;
    switch (nd->kind) {
    case XK_NUM: out->f = nd->num; break;
    case XK_INT:
    case XK_BOOL: out->i = nd->ival; break;
    case XK_STR:
        if (ann->t == XT_DATE) out->i = nd->days;
        out->s = nd->text;
        out->slen = nd->len;
        break;
    case XK_NULL: out->null = true; break;
    case XK_COL:
    case XK_REF: out->col = ann->col; break; /* borrowed */
    default: HML_ASSERT(!"not a leaf");
    }
}

static enum hml_status eval_op(struct hml__xcx *cx, const struct hml__xnode *nd,
                               struct hml__xval *args, struct hml__xval *out)
{
    enum hml__xt t = cx->ann[nd->id].t;
    switch (nd->kind) {
    case XK_NEG: return eval_neg(cx, t, &args[0], out);
    case XK_NOT: return args[0].null ? (hml__xnull(out, XT_BOOL), HML_OK) : eval_not(cx, &args[0], out);
    case XK_IN: return eval_in(cx, nd, &args[0], out);
    case XK_CALL: return hml__xcall(cx, nd, args, out);
    case XK_BIN: break;
    default: HML_ASSERT(!"not an operator");
    }
    if (nd->op == XO_AND || nd->op == XO_OR) return eval_logic(cx, nd->op == XO_OR, &args[0], &args[1], out);
    if (nd->op >= XO_EQ) return eval_cmp(cx, nd->op, &args[0], &args[1], out);
    return hml__xarith(cx, nd->op, t, &args[0], &args[1], out);
}

enum hml_status hml__xeval(struct hml__xcx *cx, const struct hml__xnode *nd, struct hml__xval *out)
{
    HML_ASSERT(nd->id < cx->e->nodes_n);
    HML_ASSERT(nd->height <= HML_EXPR_HEIGHT_MAX);
    if (nd->nargs == 0 && nd->kind != XK_CALL) {
        eval_leaf(cx, nd, out);
        return HML_OK;
    }
    struct hml__xval *args = hml_calloc(nd->nargs ? nd->nargs : 1, sizeof *args);
    if (!args) return hml__xoom(cx);
    enum hml_status rc = HML_OK;
    uint32_t done = 0;
    for (; done < nd->nargs && !rc; done++) rc = hml__xeval(cx, nd->args[done], &args[done]);
    if (!rc) rc = eval_op(cx, nd, args, out);
    for (uint32_t i = 0; i < done; i++) hml__xval_fini(&args[i]);
    hml_free(args);
    if (!rc && out->oom) {
        hml__xval_fini(out);
        return hml__xoom(cx);
    }
    /* Every column value covers all rows; one-row work was turned back into a scalar. */
    HML_ASSERT(rc || !out->col || out->col->n == cx->n);
    return rc;
}

/* ---- public entry points ------------------------------------------------------------- */

static enum hml_status eval_root(const struct hml_expr *e, const struct hml_frame *f,
                                 const struct hml_expr_env *env, struct hml__xval *v,
                                 struct hml_error *err)
{
    HML_ASSERT(e != NULL);
    HML_ASSERT(f != NULL);
    struct hml__xcx cx = {.e = e, .f = f, .env = env, .n = f->nrows, .err = err};
    cx.ann = hml_calloc(e->nodes_n, sizeof *cx.ann);
    if (!cx.ann) return hml__xoom(&cx);
    enum hml_status rc = hml__xcheck(&cx);
    if (!rc) rc = hml__xeval(&cx, e->root, v);
    hml_free(cx.ann);
    return rc;
}

enum hml_status hml_expr_eval(const struct hml_expr *e, const struct hml_frame *f,
                              const struct hml_expr_env *env, struct hml_column **out,
                              struct hml_error *err)
{
    struct hml__xval v;
    enum hml_status rc = eval_root(e, f, env, &v, err);
    if (rc) return rc;
    if (v.t == XT_NULL) v.t = XT_FLOAT; /* "null" everywhere is stored as a float column */
    struct hml__xcx cx = {.e = e, .f = f, .n = f->nrows, .err = err};
    struct hml_column *c;
    rc = hml__xcolumn(&cx, &v, f->nrows, &c);
    hml__xval_fini(&v);
    if (rc) return rc;
    HML_ASSERT(c->n == f->nrows);
    *out = c;
    return HML_OK;
}

enum hml_status hml_expr_filter(const struct hml_expr *e, const struct hml_frame *f,
                                const struct hml_expr_env *env, size_t **rows, size_t *n,
                                struct hml_error *err)
{
    struct hml__xval v;
    enum hml_status rc = eval_root(e, f, env, &v, err);
    if (rc) return rc;
    if (v.t != XT_BOOL) {
        struct hml__xpos at = e->root->start;
        enum hml__xt t = v.t;
        hml__xval_fini(&v);
        return hml__xfail(err, HML_EINVAL, at, "a filter keeps the rows where a condition holds, "
                          "e.g. age >= 18 and sex == 'female'",
                          "filter formula must be a condition (bool), got %s", hml__xt_name(t));
    }
    size_t *r = hml_malloc((f->nrows ? f->nrows : 1) * sizeof *r);
    if (!r) {
        hml__xval_fini(&v);
        hml_fail(err, HML_ENOMEM, "expr", "out of memory while filtering");
        return HML_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < f->nrows; i++) {
        bool keep = v.col ? hml__bit(v.col->valid, i) && hml_bool(v.col)[i] : !v.null && v.i;
        if (keep) r[k++] = i;
    }
    hml__xval_fini(&v);
    *rows = r;
    *n = k;
    return HML_OK;
}
