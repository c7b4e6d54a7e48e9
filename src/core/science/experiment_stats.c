/* experiment_stats.c — the numbers behind a verdict: signed gains under a metric's goal,
 * Student's t distribution, the paired test over folds, and the plausibility limit
 * that turns a too-good improvement into a suspected leak. */
#include "harness/experiment.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/config.h"

const char *const hml_exp_verdict_names[3] = {"neutral", "improved", "regressed"};

double hml_exp_gain(const struct hml_metric *m, const struct hml_metric_opts *opt, double base, double cand)
{
    if (isnan(base) || isnan(cand)) return NAN;
    switch (m->goal) {
    case HML_GOAL_MIN: return base - cand;
    case HML_GOAL_MAX: return cand - base;
    case HML_GOAL_ZERO: return fabs(base) - fabs(cand);
    case HML_GOAL_LEVEL: {
        double level = opt && opt->level > 0 ? opt->level : 0.9;
        return fabs(base - level) - fabs(cand - level);
    }
    case HML_GOAL_NONE: break;
    }
    return NAN;
}

/* ---- Student's t ------------------------------------------------------------------------------ */

/* The continued fraction of the regularised incomplete beta I_x(a, b) (modified Lentz),
 * which converges fast where x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 500; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + num * d;
        c = 1 + num / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-16) break;
    }
    return h;
}

/* I_x(a, b), with y = 1 − x given separately to keep its digits when x is near 1. */
static double incbeta(double a, double b, double x, double y)
{
    if (x <= 0) return 0;
    if (y <= 0) return 1;
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y);
    if (x < (a + 1) / (a + b + 2)) return exp(lfront) * beta_cf(a, b, x) / a;
    return 1 - exp(lfront) * beta_cf(b, a, y) / b;
}

double hml_student_t_cdf(double t, double df)
{
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return t > 0 ? 1 : 0;
    double t2 = t * t, x = df / (df + t2), y = t2 / (df + t2);
    double tail = 0.5 * incbeta(df / 2, 0.5, x, y); /* P(T > |t|) */
    return t > 0 ? 1 - tail : tail;
}

double hml_student_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0;
    if (p < 0.5) return -hml_student_t_quantile(1 - p, df);
    double lo = 0, hi = 1;
    while (hml_student_t_cdf(hi, df) < p && hi < 1e300) lo = hi, hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (hml_student_t_cdf(mid, df) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* ---- the paired test ----------------------------------------------------------------------------- */

enum hml_exp_verdict hml_exp_paired_test(const struct hml_metric *m, const struct hml_metric_opts *opt,
                                         const double *base, const double *cand, size_t n, struct hml_exp_paired *out)
{
    struct hml_exp_paired r = {.mean = NAN, .sd = NAN, .se = NAN, .t = NAN, .t_crit = NAN, .p = NAN};
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double g = hml_exp_gain(m, opt, base[i], cand[i]);
        if (isnan(g)) continue;
        r.n++;
        sum += g;
        r.better += g > 0;
        r.worse += g < 0;
    }
    if (r.n) r.mean = sum / (double)r.n;
    if (r.n >= 2) {
        double ss = 0;
        for (size_t i = 0; i < n; i++) {
            double g = hml_exp_gain(m, opt, base[i], cand[i]);
            if (!isnan(g)) ss += (g - r.mean) * (g - r.mean);
        }
        r.sd = sqrt(ss / (double)(r.n - 1));
        r.se = r.sd / sqrt((double)r.n);
        r.t_crit = hml_student_t_quantile(1 - HML_EXP_ALPHA, (double)(r.n - 1));
        if (r.se > 0) {
            r.t = r.mean / r.se;
            r.p = 1 - hml_student_t_cdf(r.t, (double)(r.n - 1));
        } else {
            r.t = fabs(r.mean) <= 1e-12 ? 0 : r.mean > 0 ? INFINITY : -INFINITY;
            r.p = r.t > 0 ? 0 : r.t < 0 ? 1 : 0.5;
        }
    }
    if (out) *out = r;
    if (r.n < 2) return HML_EXP_NEUTRAL;
    if (r.t > r.t_crit) return HML_EXP_IMPROVED;
    if (r.t < -r.t_crit) return HML_EXP_REGRESSED;
    return HML_EXP_NEUTRAL;
}

/* ---- plausibility -------------------------------------------------------------------------------- */

/* Metrics measured in the target's units, where a fixed floor means nothing. */
static bool in_target_units(const struct hml_metric *m)
{
    static const char *const names[] = {"rmse", "mae", "median_ae", "mean_bias", "quantile_loss", "crps"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(m->name, names[i])) return true;
    return false;
}

double hml_exp_plausible_max(const struct hml_metric *m, const json_t *root, double baseline, const double *base_folds,
                             size_t n, char *why, size_t why_cap)
{
    char key[160];
    snprintf(key, sizeof key, "guardrails.max_improvement.%s", m->name);
    const json_t *set = hml_config_get(root, key);
    if (json_is_number(set)) {
        snprintf(why, why_cap, "%s = %g", key, json_number_value(set));
        return json_number_value(set);
    }
    double sum = 0, ss = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(base_folds[i])) sum += base_folds[i], k++;
    double mean = k ? sum / (double)k : 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(base_folds[i])) ss += (base_folds[i] - mean) * (base_folds[i] - mean);
    double sd = k >= 2 ? sqrt(ss / (double)(k - 1)) : 0;
    bool units = in_target_units(m);
    double floor_ = units ? 0.1 * fabs(isfinite(baseline) ? baseline : 0) : 0.05;
    double limit = fmax(3 * sd, floor_);
    snprintf(why, why_cap, "max(3 × the baseline's fold sd %.4g, floor %.4g%s) = %.4g", sd, floor_,
             units ? " = 10% of the baseline" : " for a bounded-scale metric", limit);
    return limit;
}
