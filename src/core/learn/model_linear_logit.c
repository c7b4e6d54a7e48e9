/* model_linear_logit.c — the solvers of logistic_regression, on the standardised design:
 *     f(θ) = Σ_i w_i·loss_i + λ/2·Σ_k |b_k|² + γ/2·Σ_j (Σ_k θ_kj)²
 * loss is the sigmoid log-loss (one output) or the softmax cross-entropy (K outputs).
 * The γ term exists only for the softmax: adding one vector to every class changes no
 * probability, so without it the unpenalised intercepts (and, with no penalty, every
 * coefficient) have a flat direction and the Hessian is singular. The term is zero and
 * flat at the optimum with Σ_k θ_kj = 0, so it picks that optimum and changes nothing else.
 *
 * Newton solves the exact Hessian by Cholesky (with growing damping if it is not positive
 * definite, e.g. collinear columns and no penalty) and backtracks to the Armijo condition.
 * L-BFGS serves problems whose Hessian would be too large. Both stop after a full step
 * that moved no entry of θ by more than tol·max(1, max|θ|) — a gradient test would need
 * the Hessian's smallest eigenvalue to mean anything for the coefficients — or when the
 * gradient is at rounding level, which is how separable problems end (their gradient
 * decays while the coefficients keep growing), or when no step can be told apart from
 * the current point any more (the answer is then as exact as rounding allows, and a
 * tighter tol could not be met).
 */
#include "model_linear_int.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "harness/alloc.h"

#define LINE_SEARCH_STEPS 60
#define ARMIJO 1e-4
#define LBFGS_PAIRS 10
#define DAMPING_TRIES 16

struct logit {
    const struct hml__lin_design *d;
    size_t K;     /* outputs */
    size_t D;     /* unknowns: K·p1 */
    double lam;   /* L2 weight of the non-intercept entries */
    double gauge; /* γ; 0 for the sigmoid */
    double noise; /* relative rounding noise of f: below it f cannot rank two steps */
    double *eta;  /* n × K, column-major */
    double *prob; /* n × K */
    double *res;  /* n × K: w·(prob − onehot(y)) */
};

double hml__lin_sigmoid(double eta)
{
    if (eta >= 0) return 1.0 / (1.0 + exp(-eta));
    double t = exp(eta);
    return t / (1.0 + t);
}

double hml__lin_logloss(double eta, double y)
{
    return fmax(eta, 0.0) + log1p(exp(-fabs(eta))) - y * eta;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static double penalty(const struct logit *L, const double *theta)
{
    size_t p1 = L->d->p1, icpt = L->d->icpt;
    double f = 0;
    for (size_t k = 0; k < L->K; k++)
        for (size_t j = icpt; j < p1; j++) f += 0.5 * L->lam * theta[k * p1 + j] * theta[k * p1 + j];
    if (L->gauge > 0)
        for (size_t j = 0; j < p1; j++) {
            double s = 0;
            for (size_t k = 0; k < L->K; k++) s += theta[k * p1 + j];
            f += 0.5 * L->gauge * s * s;
        }
    return f;
}

/* One row's softmax probabilities into prob (stride n); returns log Σ exp(eta). */
static double softmax_row(const double *eta, double *prob, size_t n, size_t K)
{
    double mx = eta[0];
    for (size_t k = 1; k < K; k++) mx = fmax(mx, eta[k * n]);
    double s = 0;
    for (size_t k = 0; k < K; k++) s += (prob[k * n] = exp(eta[k * n] - mx));
    for (size_t k = 0; k < K; k++) prob[k * n] /= s;
    return mx + log(s);
}

/* f(θ); leaves eta and prob for θ behind for gradient() and hessian(). */
static double objective(struct logit *L, const double *theta)
{
    const struct hml__lin_design *d = L->d;
    size_t n = d->n, K = L->K;
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)K, (int)d->p1, 1.0, d->zf, (int)n, theta,
                (int)d->p1, 0.0, L->eta, (int)n);
    double f = 0, lost = 0; /* Neumaier's compensated sum: line searches compare values of f */
    for (size_t i = 0; i < n; i++) {
        double loss;
        if (K == 1) {
            L->prob[i] = hml__lin_sigmoid(L->eta[i]);
            loss = hml__lin_logloss(L->eta[i], d->y[i]);
        } else {
            double lse = softmax_row(L->eta + i, L->prob + i, n, K);
            loss = lse - L->eta[(size_t)d->y[i] * n + i];
        }
        if (d->w[i] == 0) continue; /* a zero weight must not meet an infinite loss */
        double t = d->w[i] * loss, sum = f + t;
        lost += fabs(f) >= fabs(t) ? (f - sum) + t : (t - sum) + f;
        f = sum;
    }
    return f + lost + penalty(L, theta);
}

/* ∇f at the θ of the last objective() call. */
static void gradient(struct logit *L, const double *theta, double *g)
{
    const struct hml__lin_design *d = L->d;
    size_t n = d->n, K = L->K, p1 = d->p1;
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < n; i++) {
            double target = K == 1 ? d->y[i] : (double)((size_t)d->y[i] == k);
            L->res[k * n + i] = d->w[i] * (L->prob[k * n + i] - target);
        }
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p1, (int)K, (int)n, 1.0, d->zf, (int)n, L->res, (int)n,
                0.0, g, (int)p1);
    for (size_t k = 0; k < K; k++)
        for (size_t j = d->icpt; j < p1; j++) g[k * p1 + j] += L->lam * theta[k * p1 + j];
    if (L->gauge > 0)
        for (size_t j = 0; j < p1; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) s += theta[k * p1 + j];
            for (size_t k = 0; k < K; k++) g[k * p1 + j] += L->gauge * s;
        }
}

/* One p1 × p1 block Zf' diag(s) Zf of the Hessian, for outputs k and l, into B. */
static void hessian_block(const struct logit *L, size_t k, size_t l, double *T, double *B)
{
    const struct hml__lin_design *d = L->d;
    size_t n = d->n, p1 = d->p1;
    for (size_t j = 0; j < p1; j++)
        for (size_t i = 0; i < n; i++) {
            double pk = L->prob[k * n + i], pl = L->prob[l * n + i];
            double s = L->K == 1 ? pk * (1 - pk) : pk * ((double)(k == l) - pl);
            T[j * n + i] = d->w[i] * s * d->zf[j * n + i];
        }
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)p1, (int)p1, (int)n, 1.0, d->zf, (int)n, T, (int)n,
                0.0, B, (int)p1);
}

static void hessian(const struct logit *L, double *T, double *B, double *H)
{
    size_t p1 = L->d->p1, D = L->D, K = L->K;
    for (size_t k = 0; k < K; k++)
        for (size_t l = k; l < K; l++) {
            hessian_block(L, k, l, T, B);
            for (size_t a = 0; a < p1; a++)
                for (size_t b = 0; b < p1; b++) {
                    H[(l * p1 + b) * D + k * p1 + a] = B[b * p1 + a];
                    H[(k * p1 + a) * D + l * p1 + b] = B[b * p1 + a];
                }
        }
    for (size_t k = 0; k < K; k++) {
        for (size_t j = L->d->icpt; j < p1; j++) H[(k * p1 + j) * D + k * p1 + j] += L->lam;
        for (size_t l = 0; l < K && L->gauge > 0; l++)
            for (size_t j = 0; j < p1; j++) H[(l * p1 + j) * D + k * p1 + j] += L->gauge;
    }
}

/* dir = −H⁻¹g by Cholesky; adds growing damping while H is not positive definite. */
static bool newton_direction(const double *H, double *A, size_t D, const double *g, double *dir)
{
    double diag = 1;
    for (size_t j = 0; j < D; j++) diag = fmax(diag, H[j * D + j]);
    double mu = 0;
    for (int t = 0; t < DAMPING_TRIES; t++) {
        memcpy(A, H, D * D * sizeof *A);
        for (size_t j = 0; j < D; j++) A[j * D + j] += mu;
        if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)D, A, (lapack_int)D) == 0) {
            for (size_t j = 0; j < D; j++) dir[j] = -g[j];
            return LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', (lapack_int)D, 1, A, (lapack_int)D, dir, (lapack_int)D) == 0;
        }
        mu = mu == 0 ? 1e-12 * diag : mu * 100;
    }
    return false;
}

/* Backtracks from a full step until the Armijo condition holds with a real decrease.
 * Near the optimum f stops telling steps apart (its changes fall below its rounding); a
 * full step is then taken when it shrinks the slope along dir, which the gradient still
 * measures accurately. On success out holds θ + t·dir, *f_out its objective, g_out its
 * gradient, *t_out the step length, and L's eta/prob belong to out. */
static bool line_search(struct logit *L, const double *theta, const double *dir, double f, double slope,
                        double *out, double *f_out, double *g_out, double *t_out)
{
    double t = 1;
    for (int s = 0; s < LINE_SEARCH_STEPS; s++, t *= 0.5) {
        for (size_t j = 0; j < L->D; j++) out[j] = theta[j] + t * dir[j];
        double fn = objective(L, out);
        bool armijo = fn <= f + ARMIJO * t * slope && fn < f;
        bool blind = t == 1 && fabs(fn - f) <= L->noise * fabs(f);
        if (!armijo && !blind) continue;
        gradient(L, out, g_out);
        if (armijo || fabs(dot(g_out, dir, L->D)) < fabs(slope)) {
            *f_out = fn;
            *t_out = t;
            return true;
        }
    }
    return false;
}

/* The step from theta to next moved no entry by more than tol, relative to the largest. */
static bool small_step(const double *theta, const double *next, size_t D, double tol)
{
    double step = 0, size = 1;
    for (size_t j = 0; j < D; j++) {
        step = fmax(step, fabs(next[j] - theta[j]));
        size = fmax(size, fabs(next[j]));
    }
    return step <= tol * size;
}

/* Nothing left to gain: the gradient is at rounding level (e.g. separable data, whose
 * coefficients would grow for ever). */
static bool flat(const struct logit *L, const double *g)
{
    return max_abs(g, L->D) <= 4 * DBL_EPSILON * L->d->wsum;
}

static enum hml_status newton(struct logit *L, const struct hml__lin_params *par, struct hml__lin_run *run,
                              double *theta, struct hml_error *err)
{
    size_t D = L->D, n = L->d->n, p1 = L->d->p1;
    double *g = hml_malloc(3 * D * sizeof *g), *H = hml_malloc(2 * D * D * sizeof *H);
    double *T = hml_malloc(n * p1 * sizeof *T), *B = hml_malloc(p1 * p1 * sizeof *B);
    enum hml_status rc = HML_OK;
    if (!g || !H || !T || !B) {
        rc = hml__lin_oom(err);
        goto done;
    }
    double *dir = g + D, *next = g + 2 * D, f = objective(L, theta);
    gradient(L, theta, g);
    for (int it = 0; !(run->converged = flat(L, g)); it++) {
        if (it == par->max_iter || (rc = hml__lin_tick(run, it, par->max_iter, "newton", err))) break;
        hessian(L, T, B, H);
        if (!newton_direction(H, H + D * D, D, g, dir)) break;
        double slope = dot(g, dir, D), t = 0;
        if (!(slope < 0) || !line_search(L, theta, dir, f, slope, next, &f, g, &t)) {
            run->converged = true; /* neither f nor its slope can see a better point: as close as rounding allows */
            break;
        }
        /* a full Newton step this small leaves an error of about its square */
        bool done = t == 1 && small_step(theta, next, D, par->tol);
        memcpy(theta, next, D * sizeof *theta);
        run->iterations++;
        if ((run->converged = done)) break;
    }
done:
    hml_free(g);
    hml_free(H);
    hml_free(T);
    hml_free(B);
    return rc;
}

/* The two-loop recursion: dir = −(L-BFGS inverse Hessian)·g. Pairs are kept in a ring,
 * newest at (head − 1) mod LBFGS_PAIRS. */
static void lbfgs_direction(const double *S, const double *Y, const double *rho, size_t pairs, size_t head,
                            size_t D, const double *g, double *dir, double *a)
{
    for (size_t j = 0; j < D; j++) dir[j] = -g[j];
    for (size_t t = 0; t < pairs; t++) {
        size_t i = (head + LBFGS_PAIRS - 1 - t) % LBFGS_PAIRS;
        a[i] = rho[i] * dot(S + i * D, dir, D);
        cblas_daxpy((int)D, -a[i], Y + i * D, 1, dir, 1);
    }
    if (pairs > 0) {
        size_t i = (head + LBFGS_PAIRS - 1) % LBFGS_PAIRS;
        cblas_dscal((int)D, 1.0 / (rho[i] * dot(Y + i * D, Y + i * D, D)), dir, 1);
    } else {
        cblas_dscal((int)D, 1.0 / fmax(1.0, sqrt(dot(g, g, D))), dir, 1);
    }
    for (size_t t = pairs; t-- > 0;) {
        size_t i = (head + LBFGS_PAIRS - 1 - t) % LBFGS_PAIRS;
        double b = rho[i] * dot(Y + i * D, dir, D);
        cblas_daxpy((int)D, a[i] - b, S + i * D, 1, dir, 1);
    }
}

static enum hml_status lbfgs(struct logit *L, const struct hml__lin_params *par, struct hml__lin_run *run,
                             double *theta, struct hml_error *err)
{
    size_t D = L->D, pairs = 0, head = 0;
    double *g = hml_malloc((4 * D + 2 * LBFGS_PAIRS * D + 2 * LBFGS_PAIRS) * sizeof *g);
    if (!g) return hml__lin_oom(err);
    double *gn = g + D, *dir = g + 2 * D, *next = g + 3 * D, *S = g + 4 * D, *Y = S + LBFGS_PAIRS * D;
    double *rho = Y + LBFGS_PAIRS * D, *a = rho + LBFGS_PAIRS, f = objective(L, theta);
    enum hml_status rc = HML_OK;
    gradient(L, theta, g);
    for (int it = 0; !(run->converged = flat(L, g)); it++) {
        if (it == par->max_iter || (rc = hml__lin_tick(run, it, par->max_iter, "lbfgs", err))) break;
        lbfgs_direction(S, Y, rho, pairs, head, D, g, dir, a);
        double slope = dot(g, dir, D), fn, t = 0;
        if (!(slope < 0) || !line_search(L, theta, dir, f, slope, next, &fn, gn, &t)) {
            if (pairs == 0) { /* not even steepest descent finds a better point: as close as rounding allows */
                run->converged = true;
                break;
            }
            pairs = 0;             /* stale curvature: restart from steepest descent */
            continue;
        }
        double *s = S + head * D, *y = Y + head * D;
        for (size_t j = 0; j < D; j++) {
            s[j] = next[j] - theta[j];
            y[j] = gn[j] - g[j];
        }
        double sy = dot(s, y, D);
        if (sy > DBL_EPSILON * dot(y, y, D)) { /* convex, so this fails only at rounding level */
            rho[head] = 1.0 / sy;
            head = (head + 1) % LBFGS_PAIRS;
            pairs += pairs < LBFGS_PAIRS;
        }
        /* near the optimum a full quasi-Newton step is about the remaining error */
        bool done = t == 1 && pairs > 0 && small_step(theta, next, D, par->tol);
        memcpy(theta, next, D * sizeof *theta);
        memcpy(g, gn, D * sizeof *g);
        f = fn;
        run->iterations++;
        if ((run->converged = done)) break;
    }
    hml_free(g);
    return rc;
}

static enum hml_status pick_solver(const struct logit *L, const struct hml__lin_params *par, bool *use_newton,
                                   struct hml_error *err)
{
    double flops = (double)L->d->n * (double)L->d->p1 * (double)L->d->p1 * (double)(L->K * (L->K + 1) / 2);
    if (par->solver == HML__LIN_AUTO) {
        *use_newton = L->D <= HML__LIN_NEWTON_DIM_MAX && flops <= HML__LIN_NEWTON_FLOPS_MAX;
        return HML_OK;
    }
    *use_newton = par->solver == HML__LIN_NEWTON;
    if (*use_newton && L->D > 8 * HML__LIN_NEWTON_DIM_MAX) {
        hml_fail(err, HML_ELIMIT, "models.fit", "newton needs a %zu × %zu Hessian, more than the limit of %d unknowns",
                 L->D, L->D, 8 * HML__LIN_NEWTON_DIM_MAX);
        return hml_hint(err, "use solver 'lbfgs' (or 'auto') for this many columns × classes");
    }
    return HML_OK;
}

enum hml_status hml__lin_logistic_solve(const struct hml__lin_design *d, size_t outs,
                                        const struct hml__lin_params *par, struct hml__lin_run *run,
                                        double *theta, struct hml_error *err)
{
    HML_ASSERT(outs == 1 || outs >= 3);
    HML_ASSERT(d->n > 0 && d->wsum > 0);
    struct logit L = {.d = d, .K = outs, .D = outs * d->p1, .lam = par->penalised ? 1.0 / par->C : 0.0,
                      .gauge = outs > 1 ? 1.0 : 0.0, .noise = 16 * DBL_EPSILON * (1 + sqrt((double)d->n))};
    if (L.D == 0) { /* no intercept and no usable column: nothing to fit */
        run->converged = true;
        return HML_OK;
    }
    bool use_newton = false;
    enum hml_status rc = pick_solver(&L, par, &use_newton, err);
    if (rc) return rc;
    L.eta = hml_malloc(3 * d->n * outs * sizeof *L.eta);
    if (!L.eta) return hml__lin_oom(err);
    L.prob = L.eta + d->n * outs;
    L.res = L.prob + d->n * outs;
    rc = use_newton ? newton(&L, par, run, theta, err) : lbfgs(&L, par, run, theta, err);
    hml_free(L.eta);
    return rc;
}
