/* metric_rank.c — ranking and survival metrics.
 *
 * Ranking rows are sorted once by (query, score descending, row) and each query
 * is a contiguous run; every per-query metric is then one pass. Survival
 * metrics share a Kaplan–Meier estimate of the censoring distribution (for the
 * IPCW weights) and a Fenwick tree over risk ranks (concordance in O(n log n)).
 */
#include "metric_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"

/* ---- ranking ------------------------------------------------------------ */

struct rrow {
    double g, s, y;
    size_t i;
};

static int cmp_rrow(const void *a, const void *b)
{
    const struct rrow *x = a, *y = b;
    if (x->g != y->g) return x->g < y->g ? -1 : 1;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static struct rrow *rank_rows(const struct hml_metric_input *in, struct hml_error *err)
{
    struct rrow *r = hml_malloc(in->n * sizeof *r);
    if (!r) return hml__metric_nomem(err), NULL;
    for (size_t i = 0; i < in->n; i++) r[i] = (struct rrow){in->group ? in->group[i] : 0, in->pred[i], in->y[i], i};
    qsort(r, in->n, sizeof *r, cmp_rrow);
    return r;
}

/* A per-query score over rows r[0..len) in rank order; NaN = skip this query. */
typedef double (*query_fn)(const struct rrow *r, size_t len, const struct hml_metric_input *in, void *scratch);

static enum hml_status per_query(const struct hml_metric_input *in, query_fn f, void *scratch, double *out,
                                 struct hml_error *err)
{
    struct rrow *r = rank_rows(in, err);
    if (!r) return HML_ENOMEM;
    double sum = 0;
    size_t used = 0;
    for (size_t a = 0, b; a < in->n; a = b) {
        for (b = a + 1; b < in->n && r[b].g == r[a].g;) b++;
        double v = f(r + a, b - a, in, scratch);
        if (!isnan(v)) sum += v, used++;
    }
    hml_free(r);
    *out = used ? sum / (double)used : NAN;
    return HML_OK;
}

/* scikit-learn's discount 1 / log2(rank + 1), written as it computes it. */
static double discount(size_t r)
{
    return 1.0 / (log((double)r + 2.0) / log(2.0));
}

static int cmp_desc(const void *a, const void *b)
{
    return hml__cmp_double(b, a);
}

/* DCG with tied scores sharing their positions' discounts equally (ties averaged). */
static double q_ndcg(const struct rrow *r, size_t len, const struct hml_metric_input *in, void *scratch)
{
    size_t k = in->opt.top_k;
    double dcg = 0, ideal = 0, *rel = scratch;
    for (size_t a = 0, b; a < len && a < k; a = b) {
        double gain = 0, disc = 0;
        for (b = a; b < len && r[b].s == r[a].s; b++) {
            gain += r[b].y;
            if (b < k) disc += discount(b);
        }
        dcg += gain / (double)(b - a) * disc;
    }
    for (size_t i = 0; i < len; i++) rel[i] = r[i].y;
    qsort(rel, len, sizeof *rel, cmp_desc);
    for (size_t i = 0; i < len && i < k; i++) ideal += rel[i] * discount(i);
    return ideal == 0 ? 0 : dcg / ideal;
}

static double q_ap(const struct rrow *r, size_t len, const struct hml_metric_input *in, void *scratch)
{
    (void)in, (void)scratch;
    double pos = 0, tp = 0, seen = 0, ap = 0;
    for (size_t i = 0; i < len; i++) pos += r[i].y > 0;
    if (pos == 0) return NAN;
    for (size_t a = 0, b; a < len; a = b) {
        double hits = 0;
        for (b = a; b < len && r[b].s == r[a].s; b++) hits += r[b].y > 0;
        tp += hits;
        seen += (double)(b - a);
        if (hits > 0) ap += hits * (tp / seen);
    }
    return ap / pos;
}

static double q_mrr(const struct rrow *r, size_t len, const struct hml_metric_input *in, void *scratch)
{
    (void)in, (void)scratch;
    for (size_t i = 0; i < len; i++)
        if (r[i].y > 0) return 1.0 / (double)(i + 1);
    return 0;
}

static double q_p_at_k(const struct rrow *r, size_t len, const struct hml_metric_input *in, void *scratch)
{
    (void)scratch;
    double hits = 0;
    for (size_t i = 0; i < len && i < in->opt.top_k; i++) hits += r[i].y > 0;
    return hits / (double)in->opt.top_k;
}

static double q_r_at_k(const struct rrow *r, size_t len, const struct hml_metric_input *in, void *scratch)
{
    (void)scratch;
    double hits = 0, pos = 0;
    for (size_t i = 0; i < len; i++) {
        pos += r[i].y > 0;
        if (i < in->opt.top_k) hits += r[i].y > 0;
    }
    return pos == 0 ? NAN : hits / pos;
}

enum hml_status hml__m_ndcg(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    double *rel = hml_malloc(in->n * sizeof *rel);
    if (!rel) return hml__metric_nomem(err);
    enum hml_status rc = per_query(in, q_ndcg, rel, out, err);
    hml_free(rel);
    return rc;
}

enum hml_status hml__m_map(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return per_query(in, q_ap, NULL, out, err);
}

enum hml_status hml__m_mrr(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return per_query(in, q_mrr, NULL, out, err);
}

enum hml_status hml__m_precision_at_k(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return per_query(in, q_p_at_k, NULL, out, err);
}

enum hml_status hml__m_recall_at_k(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return per_query(in, q_r_at_k, NULL, out, err);
}

struct vi {
    double v;
    size_t i;
};

static int cmp_vi(const void *a, const void *b)
{
    const struct vi *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* 1-based ranks, ties given the mean of their positions. tmp holds n items. */
static void avg_ranks(const double *x, size_t n, struct vi *tmp, double *rank)
{
    for (size_t i = 0; i < n; i++) tmp[i] = (struct vi){x[i], i};
    qsort(tmp, n, sizeof *tmp, cmp_vi);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a + 1; b < n && tmp[b].v == tmp[a].v;) b++;
        double r = ((double)a + (double)b + 1) / 2; /* mean of a+1 .. b */
        for (size_t j = a; j < b; j++) rank[tmp[j].i] = r;
    }
}

static double pearson(const double *x, const double *y, size_t n)
{
    double mx = hml__wmean(x, NULL, n), my = hml__wmean(y, NULL, n), sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy, sxx += dx * dx, syy += dy * dy;
    }
    if (sxx == 0 || syy == 0) return NAN;
    return sxy / sqrt(sxx * syy);
}

enum hml_status hml__m_spearman(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    size_t n = in->n;
    double *rk = hml_malloc(2 * n * sizeof *rk);
    struct vi *tmp = rk ? hml_malloc(n * sizeof *tmp) : NULL;
    if (!tmp) {
        hml_free(rk);
        return hml__metric_nomem(err);
    }
    avg_ranks(in->y, n, tmp, rk);
    avg_ranks(in->pred, n, tmp, rk + n);
    *out = pearson(rk, rk + n, n);
    hml_free(tmp);
    hml_free(rk);
    return HML_OK;
}

/* ---- survival ----------------------------------------------------------- */

static bool is_event(const struct hml_metric_input *in, size_t i)
{
    return !in->event || in->event[i] == 1;
}

static enum hml_status horizon_of(const struct hml_metric_input *in, double *tau, struct hml_error *err)
{
    if (in->opt.time_horizon != 0) return *tau = in->opt.time_horizon, HML_OK;
    double *t = hml_malloc(in->n * sizeof *t);
    if (!t) return hml__metric_nomem(err);
    memcpy(t, in->y, in->n * sizeof *t);
    *tau = hml__median(t, in->n);
    hml_free(t);
    return HML_OK;
}

/* Kaplan–Meier of the censoring distribution on these rows: gm[i] = G(t_i−),
 * and *g_tau = G(τ). At a shared time, events count as happening before
 * censorings, so a censoring never lowers the weight of an event at its time. */
static enum hml_status censor_km(const struct hml_metric_input *in, double tau, double *gm, double *g_tau,
                                 struct hml_error *err)
{
    size_t n = in->n;
    struct vi *o = hml_malloc(n * sizeof *o);
    if (!o) return hml__metric_nomem(err);
    for (size_t i = 0; i < n; i++) o[i] = (struct vi){in->y[i], i};
    qsort(o, n, sizeof *o, cmp_vi);
    double g = 1;
    *g_tau = 1;
    for (size_t a = 0, b; a < n; a = b) {
        double censored = 0;
        for (b = a; b < n && o[b].v == o[a].v; b++) {
            gm[o[b].i] = g;
            censored += !is_event(in, o[b].i);
        }
        g *= 1 - censored / (double)(n - a);
        if (o[a].v <= tau) *g_tau = g;
    }
    hml_free(o);
    return HML_OK;
}

enum hml_status hml__m_td_brier(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    double tau, g_tau, *gm = hml_malloc(in->n * sizeof *gm);
    if (!gm) return hml__metric_nomem(err);
    enum hml_status rc = horizon_of(in, &tau, err);
    if (!rc) rc = censor_km(in, tau, gm, &g_tau, err);
    if (rc) return hml_free(gm), rc;
    double s = 0;
    size_t informative = 0;
    for (size_t i = 0; i < in->n; i++) {
        double t = in->y[i], p = in->pred[i];
        if (t <= tau && is_event(in, i)) s += p * p / gm[i], informative++;
        else if (t > tau) s += (1 - p) * (1 - p) / g_tau, informative++;
    }
    hml_free(gm);
    *out = informative ? s / (double)in->n : NAN;
    return HML_OK;
}

enum hml_status hml__m_cum_auc(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    double tau, g_tau, *gm = hml_malloc(in->n * sizeof *gm);
    struct hml__sw *v = gm ? hml_malloc(in->n * sizeof *v) : NULL;
    if (!v) return hml_free(gm), hml__metric_nomem(err);
    enum hml_status rc = horizon_of(in, &tau, err);
    if (!rc) rc = censor_km(in, tau, gm, &g_tau, err);
    size_t m = 0;
    for (size_t i = 0; !rc && i < in->n; i++) {
        double t = in->y[i];
        if (t <= tau && is_event(in, i)) v[m++] = (struct hml__sw){in->pred[i], 1, 1 / gm[i]};
        else if (t > tau) v[m++] = (struct hml__sw){in->pred[i], 0, 1};
    }
    if (!rc) *out = hml__auc(v, m);
    hml_free(v);
    hml_free(gm);
    return rc;
}

/* Fenwick tree of counts over ranks 1..n. */
static void fw_add(uint64_t *fw, size_t n, size_t r)
{
    for (; r <= n; r += r & (~r + 1)) fw[r]++;
}

static uint64_t fw_sum(const uint64_t *fw, size_t r)
{
    uint64_t s = 0;
    for (; r > 0; r -= r & (~r + 1)) s += fw[r];
    return s;
}

/* Dense 1-based ranks of x. */
static void dense_ranks(const double *x, size_t n, struct vi *tmp, size_t *rank)
{
    for (size_t i = 0; i < n; i++) tmp[i] = (struct vi){x[i], i};
    qsort(tmp, n, sizeof *tmp, cmp_vi);
    size_t r = 0;
    for (size_t j = 0; j < n; j++) {
        if (j == 0 || tmp[j].v != tmp[j - 1].v) r++;
        rank[tmp[j].i] = r;
    }
}

/* Walks times from the latest down; the tree holds the risks of rows with a
 * strictly later time, which are exactly the partners j of an event row i. */
static double harrell(const struct hml_metric_input *in, const struct vi *by_time, const size_t *rank,
                      uint64_t *fw)
{
    size_t n = in->n, inserted = 0;
    uint64_t conc = 0, tied = 0, pairs = 0;
    for (size_t b = n, a; b > 0; b = a) {
        for (a = b - 1; a > 0 && by_time[a - 1].v == by_time[b - 1].v;) a--;
        for (size_t j = a; j < b; j++) {
            size_t i = by_time[j].i;
            if (!is_event(in, i)) continue;
            uint64_t less = fw_sum(fw, rank[i] - 1), upto = fw_sum(fw, rank[i]);
            conc += less;
            tied += upto - less;
            pairs += inserted;
        }
        for (size_t j = a; j < b; j++) fw_add(fw, n, rank[by_time[j].i]);
        inserted += b - a;
    }
    return pairs ? ((double)conc + 0.5 * (double)tied) / (double)pairs : NAN;
}

enum hml_status hml__m_concordance(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    size_t n = in->n;
    struct vi *tmp = hml_malloc(n * sizeof *tmp);
    size_t *rank = tmp ? hml_malloc(n * sizeof *rank) : NULL;
    uint64_t *fw = rank ? hml_calloc(n + 1, sizeof *fw) : NULL;
    if (!fw) {
        hml_free(rank), hml_free(tmp);
        return hml__metric_nomem(err);
    }
    dense_ranks(in->pred, n, tmp, rank);
    for (size_t i = 0; i < n; i++) tmp[i] = (struct vi){in->y[i], i};
    qsort(tmp, n, sizeof *tmp, cmp_vi);
    *out = harrell(in, tmp, rank, fw);
    hml_free(fw), hml_free(rank), hml_free(tmp);
    return HML_OK;
}
