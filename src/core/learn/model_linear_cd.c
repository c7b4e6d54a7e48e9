/* model_linear_cd.c — the elastic net by cyclic coordinate descent (the glmnet scheme).
 *
 * Both modes reduce to the weighted least-squares problem
 *     min ½·Σ_i v_i (u_i − b0 − z_i·b)² + l1·|b|₁ + l2/2·|b|²
 * The regressor solves it once with v = w/W and u = y. The classifier solves it once per
 * proximal Newton step with the quadratic model of the log-loss at the current fit
 * (v = w·p(1−p)/W, u = eta + (y − p)/(p(1−p))) and then backtracks on the true objective,
 * which glmnet skips and which keeps the iteration from overshooting on separable data.
 *
 * A residual r = u − b0 − Zb is kept up to date, so one coordinate costs one pass over its
 * column. Sweeps alternate: one over every column (which may wake a zero coefficient),
 * then over the non-zero ones only until they settle, then a full one again to confirm.
 * Coordinate descent crawls when columns are strongly correlated, and a small move per
 * sweep then says little about the distance left. So once the sweeps settle at the final
 * tolerance, the problem restricted to the non-zero coefficients (signs held fixed, which
 * makes it a plain quadratic) is solved directly; the result is kept if no sign flips,
 * and one more full sweep checks the optimality conditions of the zero ones.
 */
#include "model_linear_int.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "harness/alloc.h"

#define OUTER_MAX 100     /* proximal Newton steps of the classifier */
#define LINE_SEARCH_STEPS 40
#define ARMIJO 1e-4
#define CURVATURE_MIN 1e-5 /* floor on p(1−p), as glmnet: keeps v and u finite */
#define POLISH_MAX 512     /* most unknowns the direct solve takes on … */
#define POLISH_FLOPS_MAX 4e9 /* … and the most work building its system */

struct cd {
    const struct hml__lin_design *d;
    double l1, l2;
    double *v;    /* n working weights */
    double *r;    /* n residuals u − zf·θ */
    double *c;    /* p1 curvatures Σ v z² */
    double vsum;
    int budget;   /* sweeps left */
    struct hml__lin_run *run;
    double total; /* sweeps allowed in all, for progress */
    /* direct solve on the active set */
    size_t m_max; /* most unknowns: min(p1, POLISH_MAX) */
    size_t *idx;  /* m_max + 1 */
    double *M, *rhs;
};

static double soft_threshold(double x, double t)
{
    return x > t ? x - t : x < -t ? x + t : 0.0;
}

static void curvatures(struct cd *s)
{
    const struct hml__lin_design *d = s->d;
    s->vsum = 0;
    for (size_t i = 0; i < d->n; i++) s->vsum += s->v[i];
    for (size_t j = 0; j < d->p1; j++) {
        const double *z = d->zf + j * d->n;
        double c = 0;
        for (size_t i = 0; i < d->n; i++) c += s->v[i] * z[i] * z[i];
        s->c[j] = c;
    }
}

/* One pass; returns the largest move, each coefficient's scaled by its column's
 * v-weighted spread so that moves are in units of u. *woke counts coefficients that
 * left or reached zero. */
static double sweep(struct cd *s, double *theta, bool active_only, size_t *woke)
{
    const struct hml__lin_design *d = s->d;
    size_t n = d->n;
    double moved = 0;
    if (d->icpt && s->vsum > 0) {
        double delta = 0;
        for (size_t i = 0; i < n; i++) delta += s->v[i] * s->r[i];
        delta /= s->vsum;
        theta[0] += delta;
        for (size_t i = 0; i < n; i++) s->r[i] -= delta;
        moved = fabs(delta);
    }
    for (size_t j = d->icpt; j < d->p1; j++) {
        double b = theta[j];
        if ((active_only && b == 0) || s->c[j] <= 0) continue;
        const double *z = d->zf + j * n;
        double g = 0;
        for (size_t i = 0; i < n; i++) g += s->v[i] * z[i] * s->r[i];
        double nb = soft_threshold(g + s->c[j] * b, s->l1) / (s->c[j] + s->l2), delta = nb - b;
        if (delta == 0) continue;
        *woke += (b == 0) != (nb == 0);
        cblas_daxpy((int)n, -delta, z, 1, s->r, 1);
        theta[j] = nb;
        moved = fmax(moved, fabs(delta) * sqrt(s->c[j] / s->vsum));
    }
    return moved;
}

static enum hml_status counted_sweep(struct cd *s, double *theta, bool active_only, double *moved, size_t *woke,
                                     struct hml_error *err)
{
    enum hml_status rc = hml__lin_tick(s->run, s->total - s->budget, s->total, "coordinate descent", err);
    if (rc) return rc;
    *woke = 0;
    *moved = sweep(s, theta, active_only, woke);
    s->budget--;
    s->run->iterations++;
    return HML_OK;
}

/* The unknowns of the restricted problem: the intercept and the non-zero coefficients. */
static size_t active_set(const struct cd *s, const double *theta)
{
    size_t m = 0;
    for (size_t j = 0; j < s->d->p1; j++)
        if ((j < s->d->icpt || theta[j] != 0) && m <= s->m_max) s->idx[m++] = j; /* m_max + 1 = too many */
    return m;
}

/* Newton step of the restricted quadratic: M = Z_A'VZ_A + l2, rhs = −gradient. */
static void restricted_system(struct cd *s, const double *theta, size_t m)
{
    const struct hml__lin_design *d = s->d;
    size_t n = d->n;
    for (size_t a = 0; a < m; a++) {
        size_t ja = s->idx[a];
        const double *za = d->zf + ja * n;
        for (size_t b = 0; b <= a; b++) {
            const double *zb = d->zf + s->idx[b] * n;
            double h = 0;
            for (size_t i = 0; i < n; i++) h += s->v[i] * za[i] * zb[i];
            s->M[a * m + b] = s->M[b * m + a] = h;
        }
        double g = 0;
        for (size_t i = 0; i < n; i++) g += s->v[i] * za[i] * s->r[i];
        if (ja >= d->icpt) {
            s->M[a * m + a] += s->l2;
            g -= s->l2 * theta[ja] + (theta[ja] > 0 ? s->l1 : -s->l1);
        }
        s->rhs[a] = g;
    }
}

/* One active-set step: solves the problem on the non-zero coefficients with their signs
 * held, then moves toward that solution as far as no sign flips — all the way, or until
 * the first coefficient reaches zero, which stays there. Both decrease the objective (it
 * is a convex quadratic along the segment). Returns 1 for the whole way, 0 for part of
 * it, −1 when nothing was done (set too large, or a singular system). */
static int polish_step(struct cd *s, double *theta)
{
    const struct hml__lin_design *d = s->d;
    size_t m = active_set(s, theta), stop = m;
    if (m == 0 || m > s->m_max || (double)d->n * (double)m * (double)m > POLISH_FLOPS_MAX) return -1;
    restricted_system(s, theta, m);
    if (LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', (lapack_int)m, 1, s->M, (lapack_int)m, s->rhs, (lapack_int)m) != 0)
        return -1;
    double t = 1;
    for (size_t a = 0; a < m; a++) {
        size_t j = s->idx[a];
        if (j >= d->icpt && !((theta[j] + s->rhs[a]) * theta[j] > 0) && -theta[j] / s->rhs[a] < t) {
            t = -theta[j] / s->rhs[a];
            stop = a;
        }
    }
    for (size_t a = 0; a < m; a++) {
        size_t j = s->idx[a];
        double nb = a == stop ? 0.0 : theta[j] + t * s->rhs[a];
        cblas_daxpy((int)d->n, theta[j] - nb, d->zf + j * d->n, 1, s->r, 1);
        theta[j] = nb;
    }
    return stop == m;
}

/* Active-set steps until one goes all the way; each partial one drops a coefficient. */
static bool polish(struct cd *s, double *theta)
{
    for (size_t k = 0; k <= s->d->p1; k++) {
        int r = polish_step(s, theta);
        if (r != 0) return r == 1;
    }
    return false;
}

/* Sweeps until a full sweep moves nothing by more than thr, or the budget runs out.
 * After a full sweep come sweeps over the non-zero coefficients until they settle, then
 * a full one again. Active-set steps (polish) are taken when a sweep leaves the set of
 * non-zero coefficients as it was (backing off when they fail, as each costs about m
 * sweeps) and when a full sweep has settled; the full sweep after one checks that the
 * zero coefficients are optimal. */
static enum hml_status cd_solve(struct cd *s, double *theta, double thr, bool *converged, struct hml_error *err)
{
    *converged = false;
    bool full = true, polished = false;
    size_t wait = 1, backoff = 1;
    while (s->budget > 0) {
        double moved = 0;
        size_t woke = 0;
        enum hml_status rc = counted_sweep(s, theta, !full, &moved, &woke, err);
        if (rc) return rc;
        bool was_full = full;
        full = false;
        if (moved <= thr) {
            full = true;
            if (!was_full) continue;
            if (polished || !polish(s, theta)) {
                *converged = true;
                return HML_OK;
            }
            polished = true;
            continue;
        }
        polished = false;
        if (woke == 0 && wait > 0 && --wait == 0) {
            polished = full = polish(s, theta);
            wait = polished ? backoff : (backoff *= 2);
        }
    }
    return HML_OK;
}

static double weighted_sd(const double *y, const double *w, size_t n, double wsum)
{
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += w[i] * y[i];
    m /= wsum;
    for (size_t i = 0; i < n; i++) v += w[i] * (y[i] - m) * (y[i] - m);
    return sqrt(v / wsum);
}

static enum hml_status regress(struct cd *s, const struct hml__lin_params *par, double *theta, struct hml_error *err)
{
    const struct hml__lin_design *d = s->d;
    for (size_t i = 0; i < d->n; i++) {
        s->v[i] = d->w[i] / d->wsum;
        s->r[i] = d->y[i];
    }
    curvatures(s);
    /* a constant target still needs a positive threshold to stop on */
    double thr = par->tol * fmax(weighted_sd(d->y, d->w, d->n, d->wsum), 1e-300);
    return cd_solve(s, theta, thr, &s->run->converged, err);
}

/* The classifier's objective: mean weighted log-loss + penalty; leaves eta and prob. */
static double logit_objective(const struct cd *s, const double *theta, double *eta, double *prob)
{
    const struct hml__lin_design *d = s->d;
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)d->n, (int)d->p1, 1.0, d->zf, (int)d->n, theta, 1, 0.0, eta, 1);
    double f = 0, lost = 0; /* Neumaier's compensated sum: the line search compares values */
    for (size_t i = 0; i < d->n; i++) {
        prob[i] = hml__lin_sigmoid(eta[i]);
        if (d->w[i] == 0) continue;
        double t = d->w[i] * hml__lin_logloss(eta[i], d->y[i]), sum = f + t;
        lost += fabs(f) >= fabs(t) ? (f - sum) + t : (t - sum) + f;
        f = sum;
    }
    f = (f + lost) / d->wsum;
    for (size_t j = d->icpt; j < d->p1; j++) f += s->l1 * fabs(theta[j]) + 0.5 * s->l2 * theta[j] * theta[j];
    return f;
}

/* The quadratic model at the current fit: working weights and residuals. */
static void quadratic_model(struct cd *s, const double *prob)
{
    const struct hml__lin_design *d = s->d;
    for (size_t i = 0; i < d->n; i++) {
        double q = fmax(prob[i] * (1 - prob[i]), CURVATURE_MIN);
        s->v[i] = d->w[i] * q / d->wsum;
        s->r[i] = (d->y[i] - prob[i]) / q;
    }
    curvatures(s);
}

/* Predicted decrease of a step dir: ∇(smooth part)·dir + change of the L1 term. */
static double predicted_decrease(const struct cd *s, const double *theta, const double *dir, const double *prob)
{
    const struct hml__lin_design *d = s->d;
    double slope = 0;
    for (size_t j = 0; j < d->p1; j++) {
        if (dir[j] == 0) continue;
        const double *z = d->zf + j * d->n;
        double g = 0;
        for (size_t i = 0; i < d->n; i++) g += d->w[i] * (prob[i] - d->y[i]) * z[i];
        g /= d->wsum;
        if (j >= d->icpt) {
            g += s->l2 * theta[j];
            slope += s->l1 * (fabs(theta[j] + dir[j]) - fabs(theta[j]));
        }
        slope += g * dir[j];
    }
    return slope;
}

static double weighted_mean(const double *y, const double *w, size_t n, double wsum)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m += w[i] * y[i];
    return m / wsum;
}

static enum hml_status classify(struct cd *s, const struct hml__lin_params *par, double *theta, struct hml_error *err)
{
    const struct hml__lin_design *d = s->d;
    size_t n = d->n, p1 = d->p1;
    double *eta = hml_malloc((2 * n + 2 * p1) * sizeof *eta);
    if (!eta) return hml__lin_oom(err);
    double *prob = eta + n, *next = prob + n, *dir = next + p1;
    if (d->icpt) {
        double ybar = fmin(fmax(weighted_mean(d->y, d->w, n, d->wsum), 1e-6), 1 - 1e-6);
        theta[0] = log(ybar / (1 - ybar));
    }
    double f = logit_objective(s, theta, eta, prob), thr = fmax(par->tol, 1e-2);
    enum hml_status rc = HML_OK;
    for (int outer = 0; outer < OUTER_MAX && s->budget > 0; outer++) {
        quadratic_model(s, prob);
        memcpy(next, theta, p1 * sizeof *next);
        bool inner = false;
        if ((rc = cd_solve(s, next, thr, &inner, err))) break;
        for (size_t j = 0; j < p1; j++) dir[j] = next[j] - theta[j];
        double slope = predicted_decrease(s, theta, dir, prob), t = 1, fn = f;
        if (!(slope < 0)) { /* the model sees no descent left: optimal to rounding */
            s->run->converged = inner;
            break;
        }
        /* near the optimum f stops telling steps apart: take the full step then */
        double noise = 16 * DBL_EPSILON * (1 + sqrt((double)n)) * fabs(f);
        int ls = 0;
        for (; ls < LINE_SEARCH_STEPS; ls++, t *= 0.5) {
            for (size_t j = 0; j < p1; j++) next[j] = theta[j] + t * dir[j];
            fn = logit_objective(s, next, eta, prob);
            if ((fn <= f + ARMIJO * t * slope && fn < f) || (t == 1 && fabs(fn - f) <= noise)) break;
        }
        if (ls == LINE_SEARCH_STEPS) break;
        double step = 0;
        for (size_t j = 0; j < p1; j++) step = fmax(step, fabs(next[j] - theta[j]));
        /* solve the model only as exactly as the outer iteration needs: far from the
         * optimum loosely, then tighter as the steps shrink (inexact proximal Newton) */
        thr = fmax(par->tol, fmin(thr, 0.1 * step));
        memcpy(theta, next, p1 * sizeof *theta);
        f = fn;
        if (step <= par->tol && inner && thr <= par->tol) {
            s->run->converged = true;
            break;
        }
    }
    hml_free(eta);
    return rc;
}

enum hml_status hml__lin_enet_solve(const struct hml__lin_design *d, enum hml_model_mode mode,
                                    const struct hml__lin_params *par, struct hml__lin_run *run,
                                    double *theta, struct hml_error *err)
{
    HML_ASSERT(d->n > 0 && d->wsum > 0);
    HML_ASSERT(par->l1_ratio >= 0 && par->l1_ratio <= 1);
    memset(theta, 0, d->p1 * sizeof *theta);
    if (d->p1 == 0) {
        run->converged = true;
        return HML_OK;
    }
    struct cd s = {.d = d, .l1 = par->alpha * par->l1_ratio, .l2 = par->alpha * (1 - par->l1_ratio),
                   .budget = par->max_iter, .run = run, .total = par->max_iter};
    s.m_max = d->p1 < POLISH_MAX ? d->p1 : POLISH_MAX;
    s.v = hml_malloc((2 * d->n + d->p1 + s.m_max * s.m_max + s.m_max) * sizeof *s.v);
    s.idx = hml_malloc((s.m_max + 1) * sizeof *s.idx);
    if (!s.v || !s.idx) {
        hml_free(s.v);
        hml_free(s.idx);
        return hml__lin_oom(err);
    }
    s.r = s.v + d->n;
    s.c = s.r + d->n;
    s.M = s.c + d->p1;
    s.rhs = s.M + s.m_max * s.m_max;
    enum hml_status rc = mode == HML_MODE_REGRESSOR ? regress(&s, par, theta, err) : classify(&s, par, theta, err);
    hml_free(s.v);
    hml_free(s.idx);
    return rc;
}
