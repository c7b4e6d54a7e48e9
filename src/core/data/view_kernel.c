/* view_kernel.c — sliding-window statistics over one ordered series, each in one pass:
 * running (compensated) sums for sum/mean, Welford add/remove for var/std/cv, monotone
 * deques for min/max/range, a queue of present positions for first/last/pct_change, two
 * lazily pruned heaps for the median, translated moment sums for slope, decayed sums for
 * ema, shifted power sums for skew/kurt. Running sums are rebuilt from scratch every
 * max(w, 4096) rows so rounding cannot drift over long series (O(n) extra in total). */
#include "view_int.h"

#include <string.h>

#include "harness/alloc.h"

const char *const hml__wfn_names[] = {"mean", "sum", "min", "max", "std", "var", "median", "count", "first",
                                      "last", "range", "cv", "slope", "ema", "skew", "kurt", "pct_change", NULL};

#define REBUILD_MIN 4096u

static inline size_t win_lo(size_t p, size_t w) { return p + 1 > w ? p + 1 - w : 0; }
static inline bool rebuild_at(size_t p, size_t w) { size_t r = w > REBUILD_MIN ? w : REBUILD_MIN; return p && p % r == 0; }

/* ---- sum, mean, count ----------------------------------------------------------------------- */

struct ksum { double s, c; size_t n; };

static inline void ksum_add(struct ksum *k, double v)
{
    double t = k->s + v;
    if (fabs(k->s) >= fabs(v)) k->c += (k->s - t) + v;
    else k->c += (v - t) + k->s;
    k->s = t;
}

static void roll_sum(const double *x, size_t n, size_t w, size_t minp, enum hml__wfn fn, double *y)
{
    struct ksum k = {0};
    for (size_t p = 0; p < n; p++) {
        if (rebuild_at(p, w)) {
            k = (struct ksum){0};
            for (size_t i = win_lo(p, w); i < p; i++)
                if (!isnan(x[i])) ksum_add(&k, x[i]), k.n++;
        } else if (p >= w && !isnan(x[p - w])) {
            ksum_add(&k, -x[p - w]);
            k.n--;
        }
        if (!isnan(x[p])) ksum_add(&k, x[p]), k.n++;
        double s = k.n ? k.s + k.c : 0;
        if (k.n < minp) y[p] = NAN;
        else y[p] = fn == WF_SUM ? s : fn == WF_COUNT ? (double)k.n : s / (double)k.n;
    }
}

/* ---- var, std, cv --------------------------------------------------------------------------- */

struct welford { double mean, m2; size_t n; };

static inline void wf_add(struct welford *s, double v)
{
    s->n++;
    double d = v - s->mean;
    s->mean += d / (double)s->n;
    s->m2 += d * (v - s->mean);
}

static inline void wf_remove(struct welford *s, double v)
{
    if (s->n <= 1) {
        *s = (struct welford){0};
        return;
    }
    s->n--;
    double d = v - s->mean;
    s->mean -= d / (double)s->n;
    s->m2 -= d * (v - s->mean);
    if (s->m2 < 0) s->m2 = 0;
}

static void roll_var(const double *x, size_t n, size_t w, size_t minp, enum hml__wfn fn, double *y)
{
    struct welford s = {0};
    for (size_t p = 0; p < n; p++) {
        if (rebuild_at(p, w)) {
            s = (struct welford){0};
            for (size_t i = win_lo(p, w); i < p; i++)
                if (!isnan(x[i])) wf_add(&s, x[i]);
        } else if (p >= w && !isnan(x[p - w])) {
            wf_remove(&s, x[p - w]);
        }
        if (!isnan(x[p])) wf_add(&s, x[p]);
        if (s.n < minp || s.n < 2) {
            y[p] = NAN;
            continue;
        }
        double var = s.m2 / (double)(s.n - 1);
        if (fn == WF_VAR) y[p] = var;
        else if (fn == WF_STD) y[p] = sqrt(var);
        else y[p] = s.mean != 0 ? sqrt(var) / s.mean : NAN;
    }
}

/* ---- min, max, range -------------------------------------------------------------------------- */

static enum hml_status roll_minmax(const double *x, size_t n, size_t w, size_t minp, enum hml__wfn fn, double *y,
                                   struct hml_error *err)
{
    /* Indices only grow, so each deque is a plain array with a head and a tail. */
    size_t *lo = hml_malloc((n + 1) * sizeof *lo), *hi = hml_malloc((n + 1) * sizeof *hi);
    if (!lo || !hi) {
        hml_free(lo);
        hml_free(hi);
        return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    size_t lh = 0, lt = 0, hh = 0, ht = 0, cnt = 0;
    for (size_t p = 0; p < n; p++) {
        size_t a = win_lo(p, w);
        if (p >= w && !isnan(x[p - w])) cnt--;
        if (!isnan(x[p])) {
            cnt++;
            while (lt > lh && x[lo[lt - 1]] >= x[p]) lt--;
            lo[lt++] = p;
            while (ht > hh && x[hi[ht - 1]] <= x[p]) ht--;
            hi[ht++] = p;
        }
        while (lh < lt && lo[lh] < a) lh++;
        while (hh < ht && hi[hh] < a) hh++;
        if (cnt < minp || lh == lt) {
            y[p] = NAN;
            continue;
        }
        double mn = x[lo[lh]], mx = x[hi[hh]];
        y[p] = fn == WF_MIN ? mn : fn == WF_MAX ? mx : mx - mn;
    }
    hml_free(lo);
    hml_free(hi);
    return HML_OK;
}

/* ---- first, last, pct_change ---------------------------------------------------------------- */

static enum hml_status roll_ends(const double *x, size_t n, size_t w, size_t minp, enum hml__wfn fn, double *y,
                                 struct hml_error *err)
{
    size_t *q = hml_malloc((n + 1) * sizeof *q), h = 0, t = 0;
    if (!q) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t p = 0; p < n; p++) {
        if (!isnan(x[p])) q[t++] = p;
        while (h < t && q[h] < win_lo(p, w)) h++;
        size_t cnt = t - h;
        if (cnt < minp || !cnt) {
            y[p] = NAN;
            continue;
        }
        double first = x[q[h]], last = x[q[t - 1]];
        if (fn == WF_FIRST) y[p] = first;
        else if (fn == WF_LAST) y[p] = last;
        else y[p] = first != 0 ? (last - first) / first : NAN;
    }
    hml_free(q);
    return HML_OK;
}

/* ---- median: two heaps of positions, pruned lazily -------------------------------------------- */

struct heaps {
    const double *x;
    size_t *low, *high; /* max-heap and min-heap of positions, by (value, position) */
    size_t nl, nh;      /* entries, including dead ones */
    size_t live_l, live_h;
    uint8_t *side;      /* per position: 0 none, 1 low, 2 high, 3 expired */
};

/* a before b in the max-heap (larger first) when greater. */
static inline bool gt(const double *x, size_t a, size_t b) { return x[a] > x[b] || (x[a] == x[b] && a > b); }

static void heap_push(size_t *h, size_t *n, size_t v, const double *x, bool max)
{
    size_t i = (*n)++;
    h[i] = v;
    while (i) {
        size_t parent = (i - 1) / 2;
        bool up = max ? gt(x, h[i], h[parent]) : gt(x, h[parent], h[i]);
        if (!up) break;
        size_t t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

static size_t heap_pop(size_t *h, size_t *n, const double *x, bool max)
{
    size_t top = h[0], i = 0;
    h[0] = h[--*n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < *n && (max ? gt(x, h[l], h[best]) : gt(x, h[best], h[l]))) best = l;
        if (r < *n && (max ? gt(x, h[r], h[best]) : gt(x, h[best], h[r]))) best = r;
        if (best == i) break;
        size_t t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
    return top;
}

static void prune(struct heaps *s)
{
    while (s->nl && s->side[s->low[0]] != 1) heap_pop(s->low, &s->nl, s->x, true);
    while (s->nh && s->side[s->high[0]] != 2) heap_pop(s->high, &s->nh, s->x, false);
}

static void rebalance(struct heaps *s)
{
    for (;;) {
        prune(s);
        if (s->live_l > s->live_h + 1) {
            size_t v = heap_pop(s->low, &s->nl, s->x, true);
            s->side[v] = 2;
            s->live_l--, s->live_h++;
            heap_push(s->high, &s->nh, v, s->x, false);
        } else if (s->live_h > s->live_l) {
            size_t v = heap_pop(s->high, &s->nh, s->x, false);
            s->side[v] = 1;
            s->live_h--, s->live_l++;
            heap_push(s->low, &s->nl, v, s->x, true);
        } else {
            return;
        }
    }
}

static void heaps_add(struct heaps *s, size_t p)
{
    prune(s);
    if (!s->live_l || !gt(s->x, p, s->low[0])) {
        s->side[p] = 1;
        s->live_l++;
        heap_push(s->low, &s->nl, p, s->x, true);
    } else {
        s->side[p] = 2;
        s->live_h++;
        heap_push(s->high, &s->nh, p, s->x, false);
    }
    rebalance(s);
}

static void heaps_expire(struct heaps *s, size_t p)
{
    if (s->side[p] == 1) s->live_l--;
    else if (s->side[p] == 2) s->live_h--;
    else return;
    s->side[p] = 3;
    rebalance(s);
}

static enum hml_status roll_median(const double *x, size_t n, size_t w, size_t minp, double *y, struct hml_error *err)
{
    struct heaps s = {.x = x};
    s.low = hml_malloc((n + 1) * sizeof *s.low);
    s.high = hml_malloc((n + 1) * sizeof *s.high);
    s.side = hml_calloc(n + 1, 1);
    if (!s.low || !s.high || !s.side) {
        hml_free(s.low);
        hml_free(s.high);
        hml_free(s.side);
        return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    for (size_t p = 0; p < n; p++) {
        if (p >= w && !isnan(x[p - w])) heaps_expire(&s, p - w);
        if (!isnan(x[p])) heaps_add(&s, p);
        size_t cnt = s.live_l + s.live_h;
        if (cnt < minp || !cnt) {
            y[p] = NAN;
            continue;
        }
        prune(&s);
        y[p] = cnt % 2 ? x[s.low[0]] : (x[s.low[0]] + x[s.high[0]]) / 2;
    }
    hml_free(s.low);
    hml_free(s.high);
    hml_free(s.side);
    return HML_OK;
}

/* ---- slope: least squares against position ------------------------------------------------------ */

/* Sums over present points with x = position - p (so x <= 0 and small). */
struct lsq { double sy, sx, sxx, sxy; size_t n; };

static void lsq_rebuild(struct lsq *s, const double *x, size_t a, size_t p)
{
    *s = (struct lsq){0};
    for (size_t i = a; i <= p; i++) {
        if (isnan(x[i])) continue;
        double t = (double)i - (double)p;
        s->n++;
        s->sy += x[i];
        s->sx += t;
        s->sxx += t * t;
        s->sxy += t * x[i];
    }
}

static void roll_slope(const double *x, size_t n, size_t w, size_t minp, double *y)
{
    struct lsq s = {0};
    for (size_t p = 0; p < n; p++) {
        if (rebuild_at(p, w)) {
            lsq_rebuild(&s, x, win_lo(p, w), p);
        } else {
            /* Moving to p shifts every x by -1. */
            double cnt = (double)s.n;
            s.sxy -= s.sy;
            s.sxx += cnt - 2 * s.sx;
            s.sx -= cnt;
            if (p >= w && !isnan(x[p - w])) {
                double t = -(double)w, v = x[p - w];
                s.n--;
                s.sy -= v;
                s.sx -= t;
                s.sxx -= t * t;
                s.sxy -= t * v;
            }
            if (!isnan(x[p])) s.n++, s.sy += x[p];
        }
        double cnt = (double)s.n, den = cnt * s.sxx - s.sx * s.sx;
        y[p] = s.n < minp || s.n < 2 || !(den > 0) ? NAN : (cnt * s.sxy - s.sx * s.sy) / den;
    }
}

/* ---- ema within the window -------------------------------------------------------------------------- */

static void roll_ema(const double *x, size_t n, size_t w, size_t minp, double *y)
{
    double q = 1 - 2.0 / ((double)w + 1), qw = pow(q, (double)w), num = 0, den = 0;
    size_t cnt = 0;
    for (size_t p = 0; p < n; p++) {
        if (rebuild_at(p, w)) {
            num = den = 0;
            cnt = 0;
            for (size_t i = win_lo(p, w); i < p; i++) {
                if (isnan(x[i])) continue;
                double wt = pow(q, (double)(p - i));
                num += wt * x[i];
                den += wt;
                cnt++;
            }
        } else {
            num *= q;
            den *= q;
            if (p >= w && !isnan(x[p - w])) {
                num -= qw * x[p - w];
                den -= qw;
                cnt--;
            }
        }
        if (!isnan(x[p])) num += x[p], den += 1, cnt++;
        y[p] = cnt < minp || !cnt || !(den > 0) ? NAN : num / den;
    }
}

/* ---- skew and kurt from power sums around a shift ------------------------------------------------------ */

struct moments { double s1, s2, s3, s4; size_t n; };

static inline void mom_add(struct moments *m, double d, double sign)
{
    double d2 = d * d;
    m->s1 += sign * d;
    m->s2 += sign * d2;
    m->s3 += sign * d2 * d;
    m->s4 += sign * d2 * d2;
}

static double moments_stat(const struct moments *m, enum hml__wfn fn)
{
    double n = (double)m->n, mean = m->s1 / n, e2 = m->s2 / n;
    double m2 = e2 - mean * mean;
    /* A constant window leaves only rounding noise in m2: its shape is undefined. */
    if (!(m2 > 1e-14 * e2) || !(m2 > 0)) return NAN;
    double m3 = m->s3 / n - 3 * mean * e2 + 2 * mean * mean * mean;
    if (fn == WF_SKEW) return sqrt(n * (n - 1)) / (n - 2) * m3 / (m2 * sqrt(m2));
    double m4 = m->s4 / n - 4 * mean * m->s3 / n + 6 * mean * mean * e2 - 3 * mean * mean * mean * mean;
    double g2 = m4 / (m2 * m2) - 3;
    return (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6);
}

static void roll_moments(const double *x, size_t n, size_t w, size_t minp, enum hml__wfn fn, double *y)
{
    double c = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i])) {
            c = x[i];
            break;
        }
    struct moments m = {0};
    size_t need = fn == WF_SKEW ? 3 : 4;
    for (size_t p = 0; p < n; p++) {
        if (rebuild_at(p, w)) {
            m = (struct moments){0};
            for (size_t i = win_lo(p, w); i < p; i++)
                if (!isnan(x[i])) mom_add(&m, x[i] - c, 1), m.n++;
        } else if (p >= w && !isnan(x[p - w])) {
            mom_add(&m, x[p - w] - c, -1);
            m.n--;
        }
        if (!isnan(x[p])) mom_add(&m, x[p] - c, 1), m.n++;
        y[p] = m.n < minp || m.n < need ? NAN : moments_stat(&m, fn);
    }
}

enum hml_status hml__win_roll(const double *x, size_t n, size_t w, size_t minp,
                              enum hml__wfn fn, double *y, struct hml_error *err)
{
    HML_ASSERT(w >= 1);
    HML_ASSERT(fn < WF__N);
    switch (fn) {
    case WF_SUM:
    case WF_MEAN:
    case WF_COUNT: roll_sum(x, n, w, minp, fn, y); return HML_OK;
    case WF_STD:
    case WF_VAR:
    case WF_CV: roll_var(x, n, w, minp, fn, y); return HML_OK;
    case WF_MIN:
    case WF_MAX:
    case WF_RANGE: return roll_minmax(x, n, w, minp, fn, y, err);
    case WF_FIRST:
    case WF_LAST:
    case WF_PCT_CHANGE: return roll_ends(x, n, w, minp, fn, y, err);
    case WF_MEDIAN: return roll_median(x, n, w, minp, y, err);
    case WF_SLOPE: roll_slope(x, n, w, minp, y); return HML_OK;
    case WF_EMA: roll_ema(x, n, w, minp, y); return HML_OK;
    case WF_SKEW:
    case WF_KURT: roll_moments(x, n, w, minp, fn, y); return HML_OK;
    case WF__N: break;
    }
    return hml_fail(err, HML_EINTERNAL, "view", "unknown window function");
}
