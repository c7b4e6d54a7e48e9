/* expr_func.c — the whitelisted functions: the dispatcher, elementwise math, and the
 * functions that handle nulls themselves (isnull, coalesce, if, clip, safe_div).
 * Column-wise, string and date functions live in expr_colwise.c. */
#include "core/data/expr_int.h"

#include <math.h>
#include <string.h>

#include "harness/alloc.h"

/* ---- elementwise math ---------------------------------------------------------------- */

#define MAP1(EXPR)                                                                         \
    do {                                                                                   \
        for (size_t i = 0; i < n; i++) {                                                   \
            double x = a.p[i * a.step];                                                    \
            r[i] = (EXPR);                                                                 \
        }                                                                                  \
    } while (0)

static double sign_of(double x) { return (double)((x > 0) - (x < 0)); }

/* numpy.round: scale, round half to even, unscale. */
static double round_digits(double x, int64_t d)
{
    if (d >= 0) {
        double f = pow(10.0, (double)d);
        return rint(x * f) / f;
    }
    double f = pow(10.0, (double)-d);
    return rint(x / f) * f;
}

static void float_map(int fn, int64_t digits, size_t n, struct hml__fview a, double *r)
{
    switch (fn) {
    case XF_ABS: MAP1(fabs(x)); break;
    case XF_SQUARE: MAP1(x * x); break;
    case XF_SIGN: MAP1(sign_of(x)); break;
    case XF_LOG: MAP1(log1p(fabs(x))); break;
    case XF_LOG1P: MAP1(log1p(x)); break;
    case XF_EXP: MAP1(exp(x)); break;
    case XF_EXPM1: MAP1(expm1(x)); break;
    case XF_SQRT: MAP1(sqrt(fabs(x))); break;
    case XF_CBRT: MAP1(cbrt(x)); break;
    case XF_RECIPROCAL: MAP1(1.0 / x); break;
    case XF_FLOOR: MAP1(floor(x)); break;
    case XF_CEIL: MAP1(ceil(x)); break;
    case XF_ROUND: MAP1(round_digits(x, digits)); break;
    default: HML_ASSERT(!"not a float map");
    }
}

static void int_map(int fn, size_t n, struct hml__iview a, int64_t *r, uint8_t *valid)
{
    for (size_t i = 0; i < n; i++) {
        int64_t x = a.p[i * a.step];
        bool bad = false;
        switch (fn) {
        case XF_ABS:
            bad = x == INT64_MIN;
            r[i] = bad ? 0 : x < 0 ? -x : x;
            break;
        case XF_SQUARE: bad = __builtin_mul_overflow(x, x, &r[i]); break;
        case XF_SIGN: r[i] = (x > 0) - (x < 0); break;
        default: HML_ASSERT(!"not an int map");
        }
        if (bad) hml__bit_clear(valid, i);
    }
}

/* One-argument numeric functions; t is the result type (int only for abs/square/sign). */
static enum hml_status map1(struct hml__xcx *cx, int fn, int64_t digits, enum hml__xt t,
                            const struct hml__xval *x, struct hml__xval *out)
{
    bool scalar = !x->col;
    size_t n = scalar ? 1 : cx->n;
    struct hml_column *c;
    enum hml_status rc;
    if (t == XT_INT) {
        struct hml__iview a;
        if ((rc = hml__iview(cx, x, &a))) return rc;
        if (!(rc = hml__xout(cx, t, n, a.valid, NULL, &c))) {
            int_map(fn, n, a, hml_i64(c), c->valid);
            hml__xfinish(c, t, scalar, out);
        }
        hml__iview_fini(&a);
        return rc;
    }
    struct hml__fview a;
    if ((rc = hml__fview(cx, x, &a))) return rc;
    if (!(rc = hml__xout(cx, XT_FLOAT, n, a.valid, NULL, &c))) {
        float_map(fn, digits, n, a, hml_f64(c));
        hml__xfinish(c, XT_FLOAT, scalar, out);
    }
    hml__fview_fini(&a);
    return rc;
}

/* ---- null-aware functions -------------------------------------------------------------- */

static enum hml_status fn_isnull(struct hml__xcx *cx, const struct hml__xval *x, struct hml__xval *out)
{
    if (!x->col) {
        *out = (struct hml__xval){.t = XT_BOOL, .i = x->null};
        return HML_OK;
    }
    struct hml_column *c;
    enum hml_status rc = hml__xout(cx, XT_BOOL, cx->n, NULL, NULL, &c);
    if (rc) return rc;
    uint8_t *r = hml_bool(c);
    for (size_t i = 0; i < cx->n; i++) r[i] = !hml__bit(x->col->valid, i);
    hml__xfinish(c, XT_BOOL, false, out);
    return HML_OK;
}

static bool row_valid(const struct hml__xval *v, size_t i)
{
    return v->col ? hml__bit(v->col->valid, i) : !v->null;
}

/* Widens v in place to type t (bool -> int -> float; null scalars just take the type). */
static enum hml_status convert(struct hml__xcx *cx, struct hml__xval *v, enum hml__xt t)
{
    if (v->t == t || (v->null && !v->col)) {
        v->t = t;
        return HML_OK;
    }
    HML_ASSERT(t == XT_FLOAT || t == XT_INT);
    if (!v->col) {
        if (t == XT_FLOAT) v->f = (double)v->i;
        v->t = t;
        return HML_OK;
    }
    struct hml_column *c;
    struct hml__xval w;
    enum hml_status rc;
    if (t == XT_FLOAT) {
        struct hml__fview a;
        if ((rc = hml__fview(cx, v, &a))) return rc;
        if (!(rc = hml__xout(cx, t, cx->n, a.valid, NULL, &c)))
            memcpy(hml_f64(c), a.p, cx->n * sizeof(double));
        hml__fview_fini(&a);
    } else {
        struct hml__iview a;
        if ((rc = hml__iview(cx, v, &a))) return rc;
        if (!(rc = hml__xout(cx, t, cx->n, a.valid, NULL, &c)))
            memcpy(hml_i64(c), a.p, cx->n * sizeof(int64_t));
        hml__iview_fini(&a);
    }
    if (rc) return rc;
    hml__xfinish(c, t, false, &w);
    hml__xval_fini(v);
    *v = w;
    return HML_OK;
}

/* Per-source state for building a result row by row from several values. */
struct source {
    struct hml__xval *v;
    struct hml__fview f;
    struct hml__iview iv;
    int32_t *map; /* strings: source code -> result code, -1 = not yet interned */
    int32_t code; /* strings, scalar source */
};

static enum hml_status source_init(struct hml__xcx *cx, enum hml__xt t, struct source *s)
{
    s->code = -1;
    if (s->v->null && !s->v->col) return HML_OK;
    if (t == XT_FLOAT) return hml__fview(cx, s->v, &s->f);
    if (t != XT_STR) return hml__iview(cx, s->v, &s->iv);
    if (!s->v->col) return HML_OK;
    size_t k = hml_dict_size(s->v->col->dict);
    if (!(s->map = hml_malloc((k ? k : 1) * sizeof *s->map))) return hml__xoom(cx);
    memset(s->map, 0xff, (k ? k : 1) * sizeof *s->map);
    return HML_OK;
}

static void source_fini(struct source *s)
{
    hml__fview_fini(&s->f);
    hml__iview_fini(&s->iv);
    hml_free(s->map);
}

/* Copies row i of source s into row i of c. false on OOM. */
static bool put_row(struct hml_column *c, enum hml__xt t, struct source *s, size_t i)
{
    switch (t) {
    case XT_FLOAT: hml_f64(c)[i] = s->f.p[i * s->f.step]; return true;
    case XT_INT: hml_i64(c)[i] = s->iv.p[i * s->iv.step]; return true;
    case XT_BOOL: hml_bool(c)[i] = (uint8_t)s->iv.p[i * s->iv.step]; return true;
    case XT_DATE: hml_days(c)[i] = (int32_t)s->iv.p[i * s->iv.step]; return true;
    case XT_NULL: return true;
    case XT_STR: break;
    }
    int32_t *slot = s->v->col ? &s->map[hml_codes(s->v->col)[i]] : &s->code;
    if (*slot < 0) {
        size_t len;
        const char *str = hml__xstr(s->v, i, &len);
        if ((*slot = hml_dict_intern(c->dict, str, len)) < 0) return false;
    }
    hml_codes(c)[i] = *slot;
    return true;
}

/* The row-wise choice behind if() and coalesce(): row i takes its value from vals[j],
 * where j comes from the condition (if) or is the first non-null value (coalesce). */
static enum hml_status gather(struct hml__xcx *cx, enum hml__xt t, struct hml__xval *vals,
                              size_t nv, const struct hml_column *cond, struct hml__xval *out)
{
    struct source *src = hml_calloc(nv, sizeof *src);
    struct hml_column *c = NULL;
    enum hml_status rc = src ? hml__xout(cx, t, cx->n, NULL, NULL, &c) : hml__xoom(cx);
    for (size_t j = 0; j < nv && !rc; j++) {
        src[j].v = &vals[j];
        rc = source_init(cx, t, &src[j]);
    }
    for (size_t i = 0; i < cx->n && !rc; i++) {
        size_t j = 0;
        if (cond) j = hml__bit(cond->valid, i) && hml_bool(cond)[i] ? 0 : 1;
        else
            while (j < nv && !row_valid(&vals[j], i)) j++;
        if (j >= nv || !row_valid(&vals[j], i)) hml__bit_clear(c->valid, i);
        else if (!put_row(c, t, &src[j], i)) rc = hml__xoom(cx);
    }
    for (size_t j = 0; src && j < nv; j++) source_fini(&src[j]);
    hml_free(src);
    if (rc) {
        hml_column_unref(c);
        return rc;
    }
    hml__xfinish(c, t, false, out);
    return HML_OK;
}

static void move_val(struct hml__xval *dst, struct hml__xval *src)
{
    *dst = *src;
    memset(src, 0, sizeof *src);
}

static enum hml_status fn_if(struct hml__xcx *cx, struct hml__xval *args, enum hml__xt t,
                             struct hml__xval *out)
{
    enum hml_status rc;
    if ((rc = convert(cx, &args[1], t)) || (rc = convert(cx, &args[2], t))) return rc;
    if (!args[0].col) {
        move_val(out, !args[0].null && args[0].i ? &args[1] : &args[2]);
        return HML_OK;
    }
    if (t == XT_NULL) {
        hml__xnull(out, t);
        return HML_OK;
    }
    return gather(cx, t, &args[1], 2, args[0].col, out);
}

static enum hml_status fn_coalesce(struct hml__xcx *cx, const struct hml__xnode *nd,
                                   struct hml__xval *args, enum hml__xt t, struct hml__xval *out)
{
    bool any_col = false;
    for (uint32_t j = 0; j < nd->nargs; j++) {
        enum hml_status rc = convert(cx, &args[j], t);
        if (rc) return rc;
        any_col |= args[j].col != NULL;
    }
    if (!any_col || t == XT_NULL) {
        uint32_t j = 0;
        while (j < nd->nargs && args[j].null) j++;
        if (j == nd->nargs) hml__xnull(out, t);
        else move_val(out, &args[j]);
        return HML_OK;
    }
    return gather(cx, t, args, nd->nargs, NULL, out);
}

/* Clamps row i between the bounds that are present (a null bound leaves that side open). */
#define CLIP_ROWS(T, V, STORE)                                                                \
    for (size_t i = 0; i < n; i++) {                                                       \
        T x = V[0].p[i * V[0].step];                                                  \
        if (!args[1].null && hml__bit(V[1].valid, i) && x < V[1].p[i * V[1].step])         \
            x = V[1].p[i * V[1].step];                                                     \
        if (!args[2].null && hml__bit(V[2].valid, i) && x > V[2].p[i * V[2].step])         \
            x = V[2].p[i * V[2].step];                                                     \
        STORE[i] = x;                                                                      \
    }

/* clip(x, lo, hi) = min(max(x, lo), hi) like numpy.clip, so lo > hi gives hi. */
static enum hml_status fn_clip(struct hml__xcx *cx, struct hml__xval *args, enum hml__xt t,
                               struct hml__xval *out)
{
    if (args[0].null) {
        hml__xnull(out, t);
        return HML_OK;
    }
    bool scalar = !args[0].col && !args[1].col && !args[2].col;
    size_t n = scalar ? 1 : cx->n;
    struct hml__fview fv[3] = {{0}};
    struct hml__iview iv[3] = {{0}};
    struct hml_column *c = NULL;
    enum hml_status rc = HML_OK;
    for (int k = 0; k < 3 && !rc; k++)
        if (!args[k].null)
            rc = t == XT_INT ? hml__iview(cx, &args[k], &iv[k]) : hml__fview(cx, &args[k], &fv[k]);
    if (!rc) rc = hml__xout(cx, t, n, t == XT_INT ? iv[0].valid : fv[0].valid, NULL, &c);
    if (!rc && t == XT_INT) {
        int64_t *r = hml_i64(c);
        CLIP_ROWS(int64_t, iv, r);
    } else if (!rc) {
        double *r = hml_f64(c);
        CLIP_ROWS(double, fv, r);
    }
    for (int k = 0; k < 3; k++) {
        hml__fview_fini(&fv[k]);
        hml__iview_fini(&iv[k]);
    }
    if (rc) return rc;
    hml__xfinish(c, t, scalar, out);
    return HML_OK;
}

/* safe_div(a, b[, d]): a / b, d where b == 0 (d defaults to 0; a null d gives null). */
static enum hml_status fn_safe_div(struct hml__xcx *cx, const struct hml__xnode *nd,
                                   struct hml__xval *args, struct hml__xval *out)
{
    struct hml__xval zero = {.t = XT_FLOAT};
    struct hml__xval *d = nd->nargs > 2 ? &args[2] : &zero;
    if (args[0].null || args[1].null) {
        hml__xnull(out, XT_FLOAT);
        return HML_OK;
    }
    bool scalar = !args[0].col && !args[1].col && !d->col;
    size_t n = scalar ? 1 : cx->n;
    struct hml__fview a = {0}, b = {0}, dv = {0};
    struct hml_column *c = NULL;
    enum hml_status rc = hml__fview(cx, &args[0], &a);
    if (!rc) rc = hml__fview(cx, &args[1], &b);
    if (!rc && !d->null) rc = hml__fview(cx, d, &dv);
    if (!rc) rc = hml__xout(cx, XT_FLOAT, n, a.valid, b.valid, &c);
    for (size_t i = 0; i < n && !rc; i++) {
        double y = b.p[i * b.step];
        if (y != 0) hml_f64(c)[i] = a.p[i * a.step] / y;
        else if (!d->null && hml__bit(dv.valid, i)) hml_f64(c)[i] = dv.p[i * dv.step];
        else hml__bit_clear(c->valid, i);
    }
    hml__fview_fini(&a);
    hml__fview_fini(&b);
    hml__fview_fini(&dv);
    if (rc) return rc;
    hml__xfinish(c, XT_FLOAT, scalar, out);
    return HML_OK;
}

/* ---- the dispatcher ------------------------------------------------------------------ */

enum hml_status hml__xcall(struct hml__xcx *cx, const struct hml__xnode *nd,
                           struct hml__xval *args, struct hml__xval *out)
{
    enum hml__xt t = cx->ann[nd->id].t;
    switch (nd->op) {
    case XF_ISNULL: return fn_isnull(cx, &args[0], out);
    case XF_COALESCE: return fn_coalesce(cx, nd, args, t, out);
    case XF_IF: return fn_if(cx, args, t, out);
    case XF_CLIP: return fn_clip(cx, args, t, out);
    case XF_SAFE_DIV: return fn_safe_div(cx, nd, args, out);
    default: break;
    }
    for (uint32_t i = 0; i < nd->nargs; i++) {
        if (args[i].null && !args[i].col) {
            hml__xnull(out, t);
            return HML_OK;
        }
    }
    switch (nd->op) {
    case XF_POWER: return hml__xarith(cx, XO_POW, XT_FLOAT, &args[0], &args[1], out);
    case XF_MINIMUM: return hml__xarith(cx, HML__XK_MIN, t, &args[0], &args[1], out);
    case XF_MAXIMUM: return hml__xarith(cx, HML__XK_MAX, t, &args[0], &args[1], out);
    case XF_SIN_CYCLE: return hml__xarith(cx, HML__XK_SINC, XT_FLOAT, &args[0], &args[1], out);
    case XF_COS_CYCLE: return hml__xarith(cx, HML__XK_COSC, XT_FLOAT, &args[0], &args[1], out);
    case XF_ROUND:
        return map1(cx, XF_ROUND, nd->nargs > 1 ? nd->args[1]->ival : 0, XT_FLOAT, &args[0], out);
    case XF_ZSCORE: case XF_MINMAX: case XF_RANK_PCT: case XF_WINSORIZE: case XF_PCT_OF_TOTAL:
        return hml__xcolwise(cx, nd, args, out);
    case XF_STR_CONTAINS: case XF_STR_EXTRACT: case XF_STR_LEN: case XF_LOWER: case XF_UPPER:
        return hml__xstrfn(cx, nd, args, out);
    case XF_YEAR: case XF_MONTH: case XF_DAY: case XF_DAYOFWEEK:
        return hml__xdatefn(cx, nd, args, out);
    default:
        return map1(cx, nd->op, 0, t, &args[0], out);
    }
}
