/* view_window.c — the group-wise window steps: rolling, lag, ewm, diff, trend. Rows are
 * ordered once (by group, then order_by; stable) and each output is one pass per group over
 * the ordered values, written back to each row's own position. Outputs that summarise an
 * outcome column are computed over the series shifted by one row within the group. */
#include "view_int.h"

#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"

/* ---- the ordering shared by window steps --------------------------------------------------- */

enum hml_status hml__vr_plan_cols(const struct hml_frame *f, const size_t *keys, size_t nk,
                                  const size_t *ord, const bool *desc, size_t no, struct hml__wplan *p,
                                  struct hml_error *err)
{
    bool flags[HML_VIEW_KEYS_MAX] = {0};
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < no; i++) flags[i] = desc ? desc[i] : false;
    enum hml_status rc = HML_OK;
    if (nk) rc = hml__vg_factorize(f, keys, nk, true, &p->gid, &p->ng, err);
    if (!rc) rc = hml__vg_order(f, p->gid, p->ng, ord, flags, no, &p->perm, &p->starts, err);
    if (!rc && !nk) p->ng = f->nrows > 0;
    p->ordered = no > 0;
    if (rc) hml__wplan_free(p);
    return rc;
}

enum hml_status hml__vr_plan(struct vrun *r, const struct hml_frame *f, const json_t *step,
                             const char *order_key, const bool *desc, struct hml__wplan *p,
                             struct hml_error *err)
{
    size_t keys[HML_VIEW_KEYS_MAX], nk = 0, ord[HML_VIEW_KEYS_MAX], no = 0;
    memset(p, 0, sizeof *p);
    enum hml_status rc = hml__vr_cols(r, f, step, "keys", keys, &nk, err);
    if (!rc && order_key) rc = hml__vr_cols(r, f, step, order_key, ord, &no, err);
    if (rc) return rc;
    return hml__vr_plan_cols(f, keys, nk, ord, desc, no, p, err);
}

void hml__wplan_free(struct hml__wplan *p)
{
    hml_free(p->gid);
    hml_free(p->perm);
    hml_free(p->starts);
    memset(p, 0, sizeof *p);
}

/* ---- output specs "src:fn" / "src:periods" / "src" ----------------------------------------- */

enum spec_kind { SPEC_FN, SPEC_PERIODS, SPEC_PLAIN };

struct wout {
    const char *name;
    size_t src;
    int fn;
    long long periods;
    bool shift; /* the source is an outcome */
};

static enum hml_status parse_fn(struct vrun *r, const char *rest, const char *const *fns, const char *spec,
                                int *fn, struct hml_error *err)
{
    size_t n = 0;
    while (fns[n]) n++;
    if (!rest || !*rest) {
        char hint[160];
        snprintf(hint, sizeof hint, "write \"%s:%s\" (source column, ':', function)", spec, fns[0]);
        hml__vr_fail(r, err, HML_EINVAL, hint, "'%s' names no function", spec);
        hml_error_choices(err, "", fns, n);
        return hml_hint(err, "%s", hint);
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(fns[i], rest)) {
            *fn = (int)i;
            return HML_OK;
        }
    hml__vr_fail(r, err, HML_EINVAL, NULL, "unknown function '%s' in '%s'", rest, spec);
    return hml_error_choices(err, rest, fns, n);
}

static enum hml_status parse_periods(struct vrun *r, const char *rest, const char *spec, long long *out,
                                     struct hml_error *err)
{
    *out = 1;
    if (!rest) return HML_OK;
    char *end;
    long long v = strtoll(rest, &end, 10);
    if (!*rest || *end)
        return hml__vr_fail(r, err, HML_EINVAL, "write \"column:periods\", e.g. \"pts:1\" (periods an integer)",
                            "'%s' has periods '%s', not an integer", spec, rest);
    if (v > (long long)HML_VIEW_WINDOW_MAX || v < -(long long)HML_VIEW_WINDOW_MAX)
        return hml__vr_fail(r, err, HML_ELIMIT, "use fewer periods (HML_VIEW_WINDOW_MAX)",
                            "periods %lld in '%s' is beyond the limit of %u", v, spec, HML_VIEW_WINDOW_MAX);
    *out = v;
    return HML_OK;
}

static enum hml_status parse_outputs(struct vrun *r, const struct hml_frame *f, const json_t *step,
                                     const char *key, enum spec_kind kind, const char *const *fns,
                                     struct wout *o, size_t *n, struct hml_error *err)
{
    const json_t *map;
    enum hml_status rc = hml__vr_map(r, step, key, &map, err);
    const char *name;
    json_t *v;
    *n = 0;
    if (rc) return rc;
    json_object_foreach((json_t *)map, name, v) {
        const char *spec = json_string_value(v), *rest = NULL;
        char src[256];
        if (!spec)
            return hml__vr_fail(r, err, HML_EINVAL,
                                kind == SPEC_FN ? "write {\"new\": \"source:function\"}, e.g. {\"pts_avg\": \"pts:mean\"}"
                                                : "write {\"new\": \"source:periods\"}, e.g. {\"pts_prev\": \"pts:1\"}",
                                "'%s' in '%s' must be a string", name, key);
        struct wout *w = &o[(*n)++];
        memset(w, 0, sizeof *w);
        w->name = name;
        if (!hml__vr_split(spec, src, sizeof src, &rest))
            return hml__vr_fail(r, err, HML_EINVAL, "use a shorter column name", "'%s' is too long", spec);
        if (kind == SPEC_PLAIN) rest = NULL, snprintf(src, sizeof src, "%s", spec);
        rc = hml__vr_newname(r, name, err);
        if (!rc) rc = hml__vr_col(r, f, src, key, &w->src, err);
        if (!rc && kind == SPEC_FN) rc = parse_fn(r, rest, fns, spec, &w->fn, err);
        if (!rc && kind == SPEC_PERIODS) rc = parse_periods(r, rest, spec, &w->periods, err);
        if (rc) return rc;
        w->shift = hml__vr_outcome(r, f->names[w->src]);
    }
    return HML_OK;
}

static enum hml_status need_numeric(struct vrun *r, const struct hml_frame *f, const struct wout *o, size_t n,
                                    struct hml_error *err)
{
    char what[64];
    snprintf(what, sizeof what, "%s", r->op);
    for (size_t i = 0; i < n; i++) {
        enum hml_status rc = hml__vr_numeric(r, f, o[i].src, what, err);
        if (rc) return rc;
    }
    return HML_OK;
}

/* Outcome sources are refused when the output would hold the row's own or a later value. */
static enum hml_status need_past(struct vrun *r, const struct hml_frame *f, const struct wout *o, size_t n,
                                 struct hml_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!o[i].shift || o[i].periods >= 1) continue;
        hml__vr_fail(r, err, HML_EBLOCKED, NULL,
                     "'%s' is an outcome column; %s with periods %lld would put the row's own or a later outcome "
                     "into '%s'", f->names[o[i].src], r->op, o[i].periods, o[i].name);
        return hml_hint(err, "use periods >= 1 (the previous rows of the group), or pick a column that is known "
                             "before the outcome");
    }
    return HML_OK;
}

static void note_shift(struct vrun *r, const struct hml_frame *f, const struct wout *o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (o[i].shift)
            hml__vr_warn(r, "'%s' summarises the outcome '%s', so it only sees earlier rows of its group (the "
                            "window ends at the previous row)", o[i].name, f->names[o[i].src]);
}

/* ---- running a kernel over each group -------------------------------------------------------- */

typedef enum hml_status (*series_fn)(const double *x, size_t n, const void *arg, double *y, struct hml_error *err);

/* y (per row) = fn over each group's ordered values; shifted by one row when asked. */
static enum hml_status per_group(const struct hml_frame *f, const struct hml__wplan *p, size_t src, bool shift,
                                 series_fn fn, const void *arg, double **y_out, struct hml_error *err)
{
    size_t n = f->nrows;
    double *x = hml__vcol_doubles(f->cols[src]);
    double *xs = hml_malloc((n + 1) * sizeof *xs), *ys = hml_malloc((n + 1) * sizeof *ys);
    double *y = hml_malloc((n + 1) * sizeof *y);
    enum hml_status rc = x && xs && ys && y ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) xs[i] = x[p->perm[i]];
    for (size_t g = 0; !rc && g < p->ng; g++) {
        size_t a = p->starts[g], b = p->starts[g + 1];
        if (b == a) continue;
        rc = fn(xs + a, b - a, arg, ys + a, err);
        if (shift) {
            memmove(ys + a + 1, ys + a, (b - a - 1) * sizeof *ys);
            ys[a] = NAN;
        }
    }
    for (size_t i = 0; !rc && i < n; i++) y[p->perm[i]] = ys[i];
    hml_free(x);
    hml_free(xs);
    hml_free(ys);
    if (rc) {
        hml_free(y);
        return rc;
    }
    *y_out = y;
    return HML_OK;
}

struct roll_arg { size_t w, minp; enum hml__wfn fn; };

static enum hml_status roll_series(const double *x, size_t n, const void *arg, double *y, struct hml_error *err)
{
    const struct roll_arg *a = arg;
    return hml__win_roll(x, n, a->w, a->minp, a->fn, y, err);
}

static enum hml_status put_doubles(struct hml_frame *f, const char *name, double *y, struct hml_error *err)
{
    return hml__vr_put(f, name, hml__vcol_from_doubles(y, f->nrows), err);
}

/* Shared body of rolling and trend. */
static enum hml_status rolling_like(struct vrun *r, const json_t *step, struct hml_frame **f, const char *key,
                                    enum spec_kind kind, long long minp_default, struct hml_error *err)
{
    struct wout o[HML_VIEW_AGGS_MAX];
    size_t n = 0;
    long long w, minp;
    struct hml__wplan p;
    enum hml_status rc = hml__vr_int(r, step, "window", 1, HML_VIEW_WINDOW_MAX, 1, &w, err);
    if (!rc) rc = hml__vr_int(r, step, "min_periods", 1, HML_VIEW_WINDOW_MAX, minp_default, &minp, err);
    if (!rc) rc = parse_outputs(r, *f, step, key, kind, hml__wfn_names, o, &n, err);
    if (!rc) rc = need_numeric(r, *f, o, n, err);
    if (!rc) rc = hml__vr_plan(r, *f, step, "order_by", NULL, &p, err);
    if (rc) return rc;
    note_shift(r, *f, o, n);
    struct hml_frame *in = hml_frame_clone(*f);
    if (!in) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        struct roll_arg a = {(size_t)w, (size_t)minp, kind == SPEC_PLAIN ? WF_SLOPE : (enum hml__wfn)o[i].fn};
        double *y = NULL;
        rc = per_group(in, &p, o[i].src, o[i].shift, roll_series, &a, &y, err);
        if (!rc) rc = put_doubles(*f, o[i].name, y, err);
    }
    hml_frame_free(in);
    hml__wplan_free(&p);
    return rc;
}

VSTEP(hml__vs_rolling) { return rolling_like(r, step, f, "aggs", SPEC_FN, 1, err); }

VSTEP(hml__vs_trend) { return rolling_like(r, step, f, "columns", SPEC_PLAIN, 2, err); }

/* ---- lag ------------------------------------------------------------------------------------ */

VSTEP(hml__vs_lag)
{
    struct wout o[HML_VIEW_AGGS_MAX];
    size_t n = 0;
    struct hml__wplan p;
    enum hml_status rc = parse_outputs(r, *f, step, "columns", SPEC_PERIODS, NULL, o, &n, err);
    if (!rc) rc = need_past(r, *f, o, n, err);
    if (!rc) rc = hml__vr_plan(r, *f, step, "order_by", NULL, &p, err);
    if (rc) return rc;
    size_t rows = (*f)->nrows;
    size_t *src = hml_malloc((rows + 1) * sizeof *src);
    struct hml_frame *in = hml_frame_clone(*f);
    if (!src || !in) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        long long k = o[i].periods;
        for (size_t g = 0; g < p.ng; g++) {
            long long a = (long long)p.starts[g], b = (long long)p.starts[g + 1];
            for (long long q = a; q < b; q++)
                src[p.perm[q]] = q - k >= a && q - k < b ? p.perm[q - k] : SIZE_MAX;
        }
        rc = hml__vr_put(*f, o[i].name, hml__vcol_gather(in->cols[o[i].src], src, rows), err);
    }
    hml_free(src);
    hml_frame_free(in);
    hml__wplan_free(&p);
    return rc;
}

/* ---- diff ----------------------------------------------------------------------------------- */

struct diff_arg { long long k; bool pct; };

static enum hml_status diff_series(const double *x, size_t n, const void *arg, double *y, struct hml_error *err)
{
    (void)err;
    const struct diff_arg *a = arg;
    for (long long q = 0; q < (long long)n; q++) {
        long long s = q - a->k;
        if (s < 0 || s >= (long long)n) {
            y[q] = NAN;
            continue;
        }
        double cur = x[q], prev = x[s];
        y[q] = !a->pct ? cur - prev : prev != 0 ? cur / prev - 1 : NAN;
    }
    return HML_OK;
}

VSTEP(hml__vs_diff)
{
    struct wout o[HML_VIEW_AGGS_MAX];
    size_t n = 0;
    struct hml__wplan p;
    enum hml_status rc = parse_outputs(r, *f, step, "columns", SPEC_PERIODS, NULL, o, &n, err);
    if (!rc) rc = need_numeric(r, *f, o, n, err);
    if (!rc) rc = need_past(r, *f, o, n, err);
    if (!rc) rc = hml__vr_plan(r, *f, step, "order_by", NULL, &p, err);
    if (rc) return rc;
    note_shift(r, *f, o, n);
    bool pct = hml_json_bool(step, "pct", false);
    struct hml_frame *in = hml_frame_clone(*f);
    if (!in) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        struct diff_arg a = {o[i].periods, pct};
        double *y = NULL;
        rc = per_group(in, &p, o[i].src, o[i].shift, diff_series, &a, &y, err);
        if (!rc) rc = put_doubles(*f, o[i].name, y, err);
    }
    hml_frame_free(in);
    hml__wplan_free(&p);
    return rc;
}

/* ---- ewm ------------------------------------------------------------------------------------ */

static const char *const ewm_fns[] = {"mean", "std", "var", NULL};

struct ewm_arg { double alpha; size_t minp; int fn; };

/* Weights (1-a)^age by position (nulls age too); var is the weighted variance made unbiased
 * with the reliability-weights factor S1^2 / (S1^2 - S2). */
static enum hml_status ewm_series(const double *x, size_t n, const void *arg, double *y, struct hml_error *err)
{
    (void)err;
    const struct ewm_arg *a = arg;
    double q = 1 - a->alpha, s1 = 0, s2 = 0, mean = 0, v = 0;
    size_t cnt = 0;
    for (size_t p = 0; p < n; p++) {
        s1 *= q;
        s2 *= q * q;
        v *= q;
        if (!isnan(x[p])) {
            double old = mean;
            s1 += 1;
            s2 += 1;
            mean += (x[p] - old) / s1;
            v += (x[p] - old) * (x[p] - mean);
            cnt++;
        }
        if (cnt < a->minp || !cnt) {
            y[p] = NAN;
            continue;
        }
        if (a->fn == 0) {
            y[p] = mean;
            continue;
        }
        double den = s1 * s1 - s2, var = den > 0 ? v * s1 / den : NAN;
        if (var < 0) var = 0;
        y[p] = a->fn == 2 ? var : sqrt(var);
    }
    return HML_OK;
}

VSTEP(hml__vs_ewm)
{
    struct wout o[HML_VIEW_AGGS_MAX];
    size_t n = 0;
    struct hml__wplan p;
    double span = hml_json_num(step, "span", 0);
    long long minp;
    enum hml_status rc = HML_OK;
    if (!(span >= 1) || span > HML_VIEW_WINDOW_MAX)
        rc = hml__vr_fail(r, err, HML_EINVAL, "pass span >= 1 (e.g. 5: the weight halves in about 3.5 rows)",
                          "'span' is %g; it must be between 1 and %u", span, HML_VIEW_WINDOW_MAX);
    if (!rc) rc = hml__vr_int(r, step, "min_periods", 1, HML_VIEW_WINDOW_MAX, 1, &minp, err);
    if (!rc) rc = parse_outputs(r, *f, step, "aggs", SPEC_FN, ewm_fns, o, &n, err);
    if (!rc) rc = need_numeric(r, *f, o, n, err);
    if (!rc) rc = hml__vr_plan(r, *f, step, "order_by", NULL, &p, err);
    if (rc) return rc;
    note_shift(r, *f, o, n);
    struct hml_frame *in = hml_frame_clone(*f);
    if (!in) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        struct ewm_arg a = {2.0 / (span + 1), (size_t)minp, o[i].fn};
        double *y = NULL;
        rc = per_group(in, &p, o[i].src, o[i].shift, ewm_series, &a, &y, err);
        if (!rc) rc = put_doubles(*f, o[i].name, y, err);
    }
    hml_frame_free(in);
    hml__wplan_free(&p);
    return rc;
}
