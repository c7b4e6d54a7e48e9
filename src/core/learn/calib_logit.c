/* calib_logit.c — the logistic calibrators (platt, beta) and the small Newton solver
 * they share with the calibration slope. Definitions: include/harness/calib.h. */
#include "calib_int.h"

#include <math.h>
#include <string.h>

#include "harness/alloc.h"

#define NEWTON_ITER_MAX   200
#define NEWTON_HALVINGS   60
/* Relative size of a full Newton step that ends the solve. Convergence is quadratic, so
 * taking a step this small leaves an error near 1e-16; a tighter bound could sit below
 * the rounding noise of gradients summed over many rows and never be met. */
#define NEWTON_STEP_TOL   1e-8
#define ARMIJO_C          1e-4
/* The reference implementation's LogisticRegression(C=99999999999): ridge = 1/C. */
#define BETA_RIDGE        (1.0 / 99999999999.0)

/* ---- the solver ---------------------------------------------------------------------- */

/* Standardised features: z_j = (x_j − mean_j) / sd_j over the weighted rows. */
struct std_problem {
    const struct hml__logit_problem *pr;
    size_t m;          /* parameters: intercept + kept features */
    int feat[2];       /* which input feature each kept one is */
    double mean[2], sd[2], pen[2];
};

static double softplus(double eta)
{
    return eta > 0 ? eta + log1p(exp(-eta)) : log1p(exp(eta));
}

static double row_target(const struct hml__logit_problem *pr, size_t i)
{
    return pr->r[i].y == 1 ? pr->t1 : pr->t0;
}

static double eta_of(const struct std_problem *s, const double *th, size_t i)
{
    double eta = th[0];
    for (size_t j = 1; j < s->m; j++) {
        int f = s->feat[j - 1];
        eta += th[j] * (s->pr->x[f][i] - s->mean[j - 1]) / s->sd[j - 1];
    }
    return eta;
}

static double objective(const struct std_problem *s, const double *th)
{
    double f = 0;
    for (size_t i = 0; i < s->pr->n; i++) {
        double eta = eta_of(s, th, i);
        f += s->pr->r[i].w * (softplus(eta) - row_target(s->pr, i) * eta);
    }
    for (size_t j = 1; j < s->m; j++) f += 0.5 * s->pen[j - 1] * th[j] * th[j];
    return f;
}

/* Gradient g and Hessian H (m×m, row-major) at th. */
static void derivatives(const struct std_problem *s, const double *th, double *g, double *H)
{
    size_t m = s->m;
    memset(g, 0, m * sizeof *g);
    memset(H, 0, m * m * sizeof *H);
    for (size_t i = 0; i < s->pr->n; i++) {
        double z[3] = {1, 0, 0};
        for (size_t j = 1; j < m; j++) z[j] = (s->pr->x[s->feat[j - 1]][i] - s->mean[j - 1]) / s->sd[j - 1];
        double eta = eta_of(s, th, i), q = hml__calib_sigmoid(eta), w = s->pr->r[i].w;
        double r = w * (q - row_target(s->pr, i)), v = w * q * (1 - q);
        for (size_t a = 0; a < m; a++) {
            g[a] += r * z[a];
            for (size_t b = 0; b <= a; b++) H[a * m + b] += v * z[a] * z[b];
        }
    }
    for (size_t j = 1; j < m; j++) {
        g[j] += s->pen[j - 1] * th[j];
        H[j * m + j] += s->pen[j - 1];
    }
    for (size_t a = 0; a < m; a++)
        for (size_t b = a + 1; b < m; b++) H[a * m + b] = H[b * m + a];
}

/* Solves H·x = b by Cholesky (m ≤ 3); false when H is not numerically positive definite. */
static bool solve_spd(const double *H, const double *b, double *x, size_t m)
{
    double L[9] = {0};
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j <= i; j++) {
            double v = H[i * m + j];
            for (size_t k = 0; k < j; k++) v -= L[i * 3 + k] * L[j * 3 + k];
            if (i == j) {
                if (!(v > 1e-300)) return false;
                L[i * 3 + i] = sqrt(v);
            } else {
                L[i * 3 + j] = v / L[j * 3 + j];
            }
        }
    }
    double t[3];
    for (size_t i = 0; i < m; i++) {
        double v = b[i];
        for (size_t k = 0; k < i; k++) v -= L[i * 3 + k] * t[k];
        t[i] = v / L[i * 3 + i];
    }
    for (size_t i = m; i-- > 0;) {
        double v = t[i];
        for (size_t k = i + 1; k < m; k++) v -= L[k * 3 + i] * x[k];
        x[i] = v / L[i * 3 + i];
    }
    return true;
}

/* Standardises the features that vary; a constant one keeps coefficient 0, which is
 * where any ridge > 0 puts it (and the likelihood does not care). */
static void standardise(const struct hml__logit_problem *pr, struct std_problem *s)
{
    *s = (struct std_problem){.pr = pr, .m = 1};
    for (size_t f = 0; f < pr->k; f++) {
        const double *x = pr->x[f];
        double lo = x[0], hi = x[0], sw = 0, sx = 0, sxx = 0;
        for (size_t i = 0; i < pr->n; i++) {
            lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
            sw += pr->r[i].w, sx += pr->r[i].w * x[i];
        }
        if (lo == hi) continue;
        double mean = sx / sw;
        for (size_t i = 0; i < pr->n; i++) sxx += pr->r[i].w * (x[i] - mean) * (x[i] - mean);
        double sd = sqrt(sxx / sw);
        if (!(sd > 0)) continue;
        size_t j = s->m - 1;
        s->feat[j] = (int)f, s->mean[j] = mean, s->sd[j] = sd;
        s->pen[j] = pr->ridge / (sd * sd); /* ridge on the raw coefficient b = θ/sd */
        s->m++;
    }
}

/* One damped Newton step; returns the full step's relative size and updates th and f,
 * or returns −1 (th unchanged) when the Hessian is singular or no step decreases f. */
static double newton_step(const struct std_problem *s, double *th, double *f)
{
    double g[3], H[9], step[3], neg[3], trial[3];
    derivatives(s, th, g, H);
    for (size_t a = 0; a < s->m; a++) neg[a] = -g[a];
    if (!solve_spd(H, neg, step, s->m)) return -1;
    double size = 0, slope = 0;
    for (size_t a = 0; a < s->m; a++) {
        size = fmax(size, fabs(step[a]) / fmax(1, fabs(th[a])));
        slope += g[a] * step[a];
    }
    if (size <= NEWTON_STEP_TOL) {
        /* Near the optimum f no longer resolves the decrease: take the full step. */
        for (size_t a = 0; a < s->m; a++) th[a] += step[a];
        *f = objective(s, th);
        return size;
    }
    double t = 1;
    for (int h = 0; h < NEWTON_HALVINGS; h++, t *= 0.5) {
        for (size_t a = 0; a < s->m; a++) trial[a] = th[a] + t * step[a];
        if (memcmp(trial, th, s->m * sizeof *th) == 0) break; /* the step vanished */
        double ft = objective(s, trial);
        if (ft <= *f + ARMIJO_C * t * slope) {
            memcpy(th, trial, s->m * sizeof *th);
            *f = ft;
            return size;
        }
    }
    return -1;
}

void hml__logit_fit(const struct hml__logit_problem *pr, struct hml__logit_result *out)
{
    HML_ASSERT(pr->k <= 2);
    HML_ASSERT(pr->n >= 1);
    struct std_problem s;
    standardise(pr, &s);
    double sw = 0, st = 0;
    for (size_t i = 0; i < pr->n; i++) sw += pr->r[i].w, st += pr->r[i].w * row_target(pr, i);
    double th[3] = {hml__calib_logit(st / sw), 0, 0};
    double f = objective(&s, th);
    *out = (struct hml__logit_result){0};
    for (unsigned it = 0; it < NEWTON_ITER_MAX; it++) {
        double size = newton_step(&s, th, &f);
        out->iterations = it + 1;
        if (size < 0) break;
        if (size <= NEWTON_STEP_TOL) {
            out->converged = true;
            break;
        }
    }
    out->intercept = th[0];
    for (size_t j = 1; j < s.m; j++) {
        double b = th[j] / s.sd[j - 1];
        out->coef[s.feat[j - 1]] = b;
        out->intercept -= b * s.mean[j - 1];
    }
}

/* ---- platt ---------------------------------------------------------------------------- */

enum hml_status hml__calib_fit_platt(const struct hml__calib_data *d, struct hml_calib **out, struct hml_error *err)
{
    HML_ASSERT(d->w_pos > 0 && d->w_neg > 0);
    double *x = hml_malloc(d->n * sizeof *x);
    struct hml_calib *c = hml__calib_new(HML_CALIB_PLATT, 0, false);
    if (!x || !c) {
        hml_free(x), hml_calib_free(c);
        return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory fitting platt on %zu rows", d->n);
    }
    for (size_t i = 0; i < d->n; i++) x[i] = hml__calib_logit(d->r[i].p);
    /* Platt's targets: the class frequencies shrunk towards ½ by one prior count. */
    struct hml__logit_problem pr = {.r = d->r, .n = d->n, .k = 1, .x = {x, NULL},
                                    .t1 = (d->w_pos + 1) / (d->w_pos + 2), .t0 = 1 / (d->w_neg + 2)};
    struct hml__logit_result res;
    hml__logit_fit(&pr, &res);
    hml_free(x);
    c->a = res.coef[0], c->b = res.intercept, c->converged = res.converged;
    *out = c;
    return HML_OK;
}

/* ---- beta ----------------------------------------------------------------------------- */

/* Fits on the features in `use` (a subset of {0: ln p', 1: −ln(1 − p')}). */
static void beta_fit(const struct hml__calib_data *d, double *const cols[2], const int *use, size_t k,
                     struct hml__logit_result *res)
{
    struct hml__logit_problem pr = {.r = d->r, .n = d->n, .k = k, .t1 = 1, .t0 = 0, .ridge = BETA_RIDGE};
    for (size_t j = 0; j < k; j++) pr.x[j] = cols[use[j]];
    struct hml__logit_result r;
    hml__logit_fit(&pr, &r);
    *res = (struct hml__logit_result){.intercept = r.intercept, .converged = r.converged,
                                      .iterations = r.iterations};
    for (size_t j = 0; j < k; j++) res->coef[use[j]] = r.coef[j];
}

enum hml_status hml__calib_fit_beta(const struct hml__calib_data *d, struct hml_calib **out, struct hml_error *err)
{
    HML_ASSERT(d->w_pos > 0 && d->w_neg > 0);
    double *x = hml_malloc(2 * d->n * sizeof *x);
    struct hml_calib *c = hml__calib_new(HML_CALIB_BETA, 0, false);
    if (!x || !c) {
        hml_free(x), hml_calib_free(c);
        return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory fitting beta on %zu rows", d->n);
    }
    double *const cols[2] = {x, x + d->n};
    for (size_t i = 0; i < d->n; i++) {
        double q = hml__calib_clip(d->r[i].p);
        cols[0][i] = log(q), cols[1][i] = -log1p(-q);
    }
    static const int both[2] = {0, 1}, only_b[1] = {1}, only_a[1] = {0};
    struct hml__logit_result res;
    beta_fit(d, cols, both, 2, &res);
    /* The reference's order: a < 0 drops ln p'; otherwise b < 0 drops −ln(1 − p'). */
    if (res.coef[0] < 0) beta_fit(d, cols, only_b, 1, &res);
    else if (res.coef[1] < 0) beta_fit(d, cols, only_a, 1, &res);
    if (res.coef[0] < 0 || res.coef[1] < 0) beta_fit(d, cols, NULL, 0, &res);
    hml_free(x);
    HML_ASSERT(res.coef[0] >= 0 && res.coef[1] >= 0);
    c->a = res.coef[0], c->b = res.coef[1], c->c = res.intercept, c->converged = res.converged;
    *out = c;
    return HML_OK;
}
