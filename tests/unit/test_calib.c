/* Unit tests for calibration: isotonic, platt, beta, spline and the reports against
 * committed reference values (tests/fixtures/calib/calib.json from gen_calib.py:
 * scikit-learn 1.2's IsotonicRegression, the same Platt / beta / slope objectives
 * solved by scipy, and a numpy/scipy spline pipeline), plus shape properties, beta
 * parameter recovery on simulated data, save/load, refusals and OOM. */
#include "t.h"

#include <stdint.h>

#include "harness/alloc.h"
#include "harness/calib.h"
#include "harness/fsx.h"
#include "harness/json.h"
#include "harness/metric.h"

#define FIXTURE "tests/fixtures/calib/calib.json"

/* ---- fixture plumbing --------------------------------------------------------------- */

static json_t *load_fixture(void)
{
    struct hml_error err;
    char *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    T_RC(hml_read_file(FIXTURE, 8u << 20, &text, &len, &err), &err);
    if (text) T_RC(hml_json_parse(text, len, &root, &err), &err);
    hml_free(text);
    return root;
}

static double *doubles(const json_t *arr, size_t *n)
{
    size_t m = json_array_size(arr);
    double *v = hml_malloc((m ? m : 1) * sizeof *v);
    for (size_t i = 0; i < m; i++) v[i] = json_number_value(json_array_get(arr, i));
    if (n) *n = m;
    return v;
}

struct fx {
    double *p, *y, *w; /* w is NULL for an unweighted case */
    size_t n;
    double *grid;
    size_t grid_n;
};

static void fx_get(struct fx *f, const json_t *root, const json_t *cs)
{
    const json_t *d = json_object_get(json_object_get(root, "datasets"), json_string_value(json_object_get(cs, "data")));
    T_OK(d != NULL);
    f->p = doubles(json_object_get(d, "p"), &f->n);
    f->y = doubles(json_object_get(d, "y"), NULL);
    f->w = json_is_true(json_object_get(cs, "weighted")) ? doubles(json_object_get(d, "w"), NULL) : NULL;
    f->grid = doubles(json_object_get(root, "grid"), &f->grid_n);
}

static void fx_free(struct fx *f)
{
    hml_free(f->p), hml_free(f->y), hml_free(f->w), hml_free(f->grid);
}

static const char *case_name(const json_t *cs)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "%s%s", json_string_value(json_object_get(cs, "data")),
             json_is_true(json_object_get(cs, "weighted")) ? " weighted" : "");
    return buf;
}

/* Applies c to the grid and compares with the case's "pred" to tol. */
static void check_pred(const struct hml_calib *c, const struct fx *f, const json_t *cs, double tol)
{
    const json_t *want = json_object_get(cs, "pred");
    T_EQ(json_array_size(want), f->grid_n);
    double *got = hml_malloc(f->grid_n * sizeof *got);
    struct hml_error err;
    T_RC(hml_calib_apply(c, f->grid, f->grid_n, got, &err), &err);
    for (size_t i = 0; i < f->grid_n; i++) {
        double w = json_number_value(json_array_get(want, i));
        if (!(fabs(got[i] - w) <= tol))
            t_failf(__FILE__, __LINE__, "%s: map(%.17g) = %.17g, want %.17g", case_name(cs), f->grid[i], got[i], w);
    }
    hml_free(got);
}

static void check_array(const double *got, const json_t *want, size_t n, double tol, const char *what,
                        const json_t *cs)
{
    T_EQ(json_array_size(want), n);
    for (size_t i = 0; i < n && i < json_array_size(want); i++) {
        double w = json_number_value(json_array_get(want, i));
        if (!(fabs(got[i] - w) <= tol))
            t_failf(__FILE__, __LINE__, "%s: %s[%zu] = %.17g, want %.17g", case_name(cs), what, i, got[i], w);
    }
}

static struct hml_calib *fit_case(enum hml_calib_kind kind, const struct hml_calib_opts *o, const struct fx *f)
{
    struct hml_error err;
    struct hml_calib *c = NULL;
    T_RC(hml_calib_fit(kind, o, f->p, f->y, f->w, f->n, &c, &err), &err);
    return c;
}

/* ---- names -------------------------------------------------------------------------- */

TEST(calib_parse_names_with_did_you_mean)
{
    const char *names[] = {"none", "spline", "isotonic", "platt", "beta"};
    for (int k = 0; k < HML_CALIB_KIND_COUNT_; k++) {
        struct hml_error err;
        enum hml_calib_kind kind = HML_CALIB_KIND_COUNT_;
        T_RC(hml_calib_parse(names[k], &kind, &err), &err);
        T_EQ(kind, k);
        T_STREQ(hml_calib_kind_name(kind), names[k]);
    }
    struct hml_error err;
    enum hml_calib_kind kind;
    T_EQ(hml_calib_parse("isotonc", &kind, &err), HML_EINVAL);
    T_CONTAINS(err.message, "unknown calibration 'isotonc'");
    T_STREQ(err.did_you_mean, "isotonic");
    T_CONTAINS(err.hint, "did you mean 'isotonic'?");
    T_CONTAINS(err.hint, "spline");
    T_EQ(hml_calib_parse("Platt", &kind, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "platt");
    T_EQ(hml_calib_parse(NULL, &kind, &err), HML_EINVAL);
    T_OK(err.hint[0] != 0);
    T_STREQ(hml_calib_kind_name((enum hml_calib_kind)99), "none");
}

/* ---- against the references ------------------------------------------------------------ */

TEST(calib_isotonic_matches_sklearn)
{
    json_t *root = load_fixture();
    const json_t *cs;
    size_t i, cases = 0;
    json_array_foreach(json_object_get(root, "isotonic"), i, cs) {
        struct fx f;
        fx_get(&f, root, cs);
        struct hml_calib *c = fit_case(HML_CALIB_ISOTONIC, NULL, &f);
        if (c) {
            struct hml_calib_info info;
            hml_calib_describe(c, &info);
            T_EQ(info.kind, HML_CALIB_ISOTONIC);
            /* Same thresholds as X_thresholds_/y_thresholds_: ties grouped the same way. */
            T_EQ(info.points, json_array_size(json_object_get(cs, "x")));
            check_array(info.x, json_object_get(cs, "x"), info.points, 0, "x", cs);
            check_array(info.y, json_object_get(cs, "y"), info.points, 1e-12, "y", cs);
            check_pred(c, &f, cs, 1e-12);
            cases++;
        }
        hml_calib_free(c);
        fx_free(&f);
    }
    T_EQ(cases, 6);
    json_decref(root);
}

TEST(calib_platt_matches_scipy_fit_of_platt_objective)
{
    json_t *root = load_fixture();
    const json_t *cs;
    size_t i, cases = 0;
    json_array_foreach(json_object_get(root, "platt"), i, cs) {
        struct fx f;
        fx_get(&f, root, cs);
        struct hml_calib *c = fit_case(HML_CALIB_PLATT, NULL, &f);
        if (c) {
            struct hml_calib_info info;
            hml_calib_describe(c, &info);
            T_OK(info.converged);
            T_NEAR(info.a, hml_json_num(cs, "a", NAN), 1e-9);
            T_NEAR(info.b, hml_json_num(cs, "b", NAN), 1e-9);
            /* scikit-learn's own _SigmoidCalibration, same objective, stops BFGS early. */
            T_NEAR(info.a, hml_json_num(cs, "sk_a", NAN), 1e-2);
            T_NEAR(info.b, hml_json_num(cs, "sk_b", NAN), 1e-2);
            check_pred(c, &f, cs, 1e-9);
            cases++;
        }
        hml_calib_free(c);
        fx_free(&f);
    }
    T_EQ(cases, 6);
    json_decref(root);
}

TEST(calib_beta_matches_reference_fit_with_constraints)
{
    json_t *root = load_fixture();
    const json_t *cs;
    size_t i, cases = 0;
    json_array_foreach(json_object_get(root, "beta"), i, cs) {
        struct fx f;
        fx_get(&f, root, cs);
        struct hml_calib *c = fit_case(HML_CALIB_BETA, NULL, &f);
        if (c) {
            struct hml_calib_info info;
            hml_calib_describe(c, &info);
            T_OK(info.converged);
            T_NEAR(info.a, hml_json_num(cs, "a", NAN), 1e-9);
            T_NEAR(info.b, hml_json_num(cs, "b", NAN), 1e-9);
            T_NEAR(info.c, hml_json_num(cs, "c", NAN), 1e-9);
            const char *path = hml_json_str(cs, "path", "");
            /* A dropped slope is exactly 0, not merely small. */
            if (strchr(path, 'a') == NULL) T_OK(info.a == 0);
            if (strchr(path, 'b') == NULL) T_OK(info.b == 0);
            check_pred(c, &f, cs, 1e-8);
            cases++;
        }
        hml_calib_free(c);
        fx_free(&f);
    }
    T_EQ(cases, 10);
    json_decref(root);
}

TEST(calib_spline_matches_numpy_scipy_pipeline)
{
    json_t *root = load_fixture();
    const json_t *cs;
    size_t i, cases = 0;
    json_array_foreach(json_object_get(root, "spline"), i, cs) {
        struct fx f;
        fx_get(&f, root, cs);
        struct hml_calib_opts o = {.n_bins = (size_t)hml_json_int(cs, "n_bins", 0),
                                   .bin_rows_min = (size_t)hml_json_int(cs, "bin_rows_min", 0),
                                   .prob_max = hml_json_num(cs, "prob_max", 0)};
        struct hml_calib *c = fit_case(HML_CALIB_SPLINE, &o, &f);
        if (c) {
            struct hml_calib_info info;
            hml_calib_describe(c, &info);
            T_EQ(info.points, json_array_size(json_object_get(cs, "x")));
            T_OK(info.prob_max == o.prob_max);
            check_array(info.x, json_object_get(cs, "x"), info.points, 1e-14, "x", cs);
            check_array(info.y, json_object_get(cs, "y"), info.points, 1e-14, "y", cs);
            check_array(info.slope, json_object_get(cs, "slope"), info.points, 1e-9, "slope", cs);
            check_pred(c, &f, cs, 1e-12);
            cases++;
        }
        hml_calib_free(c);
        fx_free(&f);
    }
    T_EQ(cases, 7);
    json_decref(root);
}

TEST(calib_slope_intercept_matches_scipy)
{
    json_t *root = load_fixture();
    const json_t *cs;
    size_t i, cases = 0;
    json_array_foreach(json_object_get(root, "slope"), i, cs) {
        struct fx f;
        fx_get(&f, root, cs);
        struct hml_error err;
        double slope = NAN, icpt = NAN;
        T_RC(hml_calib_slope_intercept(f.p, f.y, f.w, f.n, &slope, &icpt, &err), &err);
        T_NEAR(slope, hml_json_num(cs, "slope", NAN), 1e-9);
        T_NEAR(icpt, hml_json_num(cs, "intercept", NAN), 1e-9);
        cases++;
        fx_free(&f);
    }
    T_EQ(cases, 6);
    json_decref(root);
}

/* Bins against numpy, and the diagram's weighted gap is the ece metric's value. */
TEST(calib_reliability_matches_numpy_and_ece)
{
    json_t *root = load_fixture();
    const json_t *cs;
    size_t i, cases = 0;
    json_array_foreach(json_object_get(root, "reliability"), i, cs) {
        struct fx f;
        fx_get(&f, root, cs);
        size_t nb = (size_t)hml_json_int(cs, "n_bins", 0);
        struct hml_calib_bin bins[16];
        struct hml_error err;
        T_RC(hml_calib_reliability(f.p, f.y, f.w, f.n, nb, bins, &err), &err);
        const json_t *want = json_object_get(cs, "bins");
        double total = 0, gap = 0;
        for (size_t b = 0; b < nb; b++) {
            const json_t *wb = json_array_get(want, b);
            T_OK(bins[b].lo == hml_json_num(wb, "lo", NAN));
            T_OK(bins[b].hi == hml_json_num(wb, "hi", NAN));
            T_EQ(bins[b].count, hml_json_int(wb, "count", -1));
            T_NEAR(bins[b].weight, hml_json_num(wb, "weight", NAN), 1e-12);
            if (json_is_null(json_object_get(wb, "mean_pred"))) {
                T_OK(isnan(bins[b].mean_pred) && isnan(bins[b].rate));
            } else {
                T_NEAR(bins[b].mean_pred, hml_json_num(wb, "mean_pred", NAN), 1e-12);
                T_NEAR(bins[b].rate, hml_json_num(wb, "rate", NAN), 1e-12);
                gap += bins[b].weight * fabs(bins[b].mean_pred - bins[b].rate);
            }
            total += bins[b].weight;
        }
        const struct hml_metric *ece = hml_metric_find("ece");
        struct hml_metric_input in = {.n = f.n, .y = f.y, .pred = f.p, .w = f.w, .opt = {.n_bins = nb}};
        double want_ece = NAN;
        T_RC(hml_metric_compute(ece, &in, &want_ece, &err), &err);
        T_NEAR(gap / total, want_ece, 1e-12);
        cases++;
        fx_free(&f);
    }
    T_EQ(cases, 4);
    json_decref(root);
}

/* ---- shape -------------------------------------------------------------------------- */

#define DENSE 100001

/* Monotone (exactly, no tolerance), inside [lo, hi], and continuous: no step on the
 * dense grid larger than the steepest allowed slope times the step. */
static void check_shape(const struct hml_calib *c, double lo, double hi, double slope_max, const char *what)
{
    double prev = hml_calib_value(c, 0), step = 1.0 / (DENSE - 1);
    for (size_t i = 1; i < DENSE; i++) {
        double p = i + 1 == DENSE ? 1.0 : (double)i * step, v = hml_calib_value(c, p);
        if (!(v >= prev)) t_failf(__FILE__, __LINE__, "%s: not monotone at p=%.17g: %.17g < %.17g", what, p, v, prev);
        if (!(v >= lo && v <= hi)) t_failf(__FILE__, __LINE__, "%s: %.17g outside [%g, %g]", what, v, lo, hi);
        if (!(v - prev <= slope_max * step + 1e-15))
            t_failf(__FILE__, __LINE__, "%s: jump of %.3g at p=%.17g", what, v - prev, p);
        if (!(v >= prev && v >= lo && v <= hi && v - prev <= slope_max * step + 1e-15)) return; /* report once */
        prev = v;
    }
}

/* The steepest slope a PCHIP through c's points can take: 3× the steepest secant. */
static double spline_slope_max(const struct hml_calib *c)
{
    struct hml_calib_info info;
    hml_calib_describe(c, &info);
    double m = 0;
    for (size_t k = 0; k + 1 < info.points; k++) m = fmax(m, (info.y[k + 1] - info.y[k]) / (info.x[k + 1] - info.x[k]));
    for (size_t k = 0; k < info.points; k++) T_OK(info.slope[k] >= 0 && info.slope[k] <= 3 * m + 1e-12);
    return 3 * m;
}

TEST(calib_spline_is_monotone_continuous_and_bounded)
{
    json_t *root = load_fixture();
    const char *sets[] = {"spline", "overconf", "ties", "beta_ab", "decreasing", "edges"};
    const double pmax[] = {0.985, 0.9, 0.999};
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        for (size_t k = 0; k < 3; k++) {
            json_t *cs = json_pack("{s:s, s:b}", "data", sets[s], "weighted", (int)(k == 1));
            struct fx f;
            fx_get(&f, root, cs);
            struct hml_calib_opts o = {.prob_max = pmax[k], .n_bins = k == 2 ? 50 : 0, .bin_rows_min = k == 2 ? 3 : 0};
            struct hml_calib *c = fit_case(HML_CALIB_SPLINE, &o, &f);
            if (c) {
                check_shape(c, 1 - pmax[k], pmax[k], spline_slope_max(c), sets[s]);
                /* Continuity across each knot: left and right limits agree. */
                struct hml_calib_info info;
                hml_calib_describe(c, &info);
                for (size_t j = 1; j + 1 < info.points; j++)
                    T_NEAR(hml_calib_value(c, info.x[j] - 1e-13), hml_calib_value(c, info.x[j] + 1e-13), 1e-10);
            }
            hml_calib_free(c);
            fx_free(&f);
            json_decref(cs);
        }
    }
    json_decref(root);
}

TEST(calib_every_map_is_monotone)
{
    json_t *root = load_fixture();
    const char *sets[] = {"overconf", "ties", "beta_ab", "beta_neg_a", "decreasing"};
    enum hml_calib_kind kinds[] = {HML_CALIB_ISOTONIC, HML_CALIB_PLATT, HML_CALIB_BETA};
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        for (size_t k = 0; k < 3; k++) {
            json_t *cs = json_pack("{s:s, s:b}", "data", sets[s], "weighted", 1);
            struct fx f;
            fx_get(&f, root, cs);
            struct hml_calib *c = fit_case(kinds[k], NULL, &f);
            struct hml_calib_info info;
            if (c) hml_calib_describe(c, &info);
            /* Platt's slope is unconstrained: on scores that rank backwards it decreases. */
            bool backwards = kinds[k] == HML_CALIB_PLATT && strcmp(sets[s], "decreasing") == 0;
            if (c && backwards) T_OK(info.a < 0 && hml_calib_value(c, 0.2) > hml_calib_value(c, 0.8));
            /* Platt and beta are smooth but can be steep near 0 and 1: no jump bound. */
            if (c && !backwards) check_shape(c, 0, 1, kinds[k] == HML_CALIB_ISOTONIC ? 1e9 : INFINITY, sets[s]);
            hml_calib_free(c);
            fx_free(&f);
            json_decref(cs);
        }
    }
    json_decref(root);
}

/* A handful of points: one bin (a constant), two (a line), duplicate p (merged); and
 * platt and beta on a constant p. */
TEST(calib_spline_degenerate_point_counts)
{
    double p[40], y[40];
    struct hml_error err;
    for (int i = 0; i < 40; i++) p[i] = 0.3, y[i] = i % 4 == 0;
    struct hml_calib *c = NULL;
    T_RC(hml_calib_fit(HML_CALIB_SPLINE, NULL, p, y, NULL, 40, &c, &err), &err);
    struct hml_calib_info info;
    if (c) {
        hml_calib_describe(c, &info);
        T_EQ(info.points, 1); /* every bin has mean 0.3: merged into one */
        T_NEAR(hml_calib_value(c, 0.0), 0.25, 1e-15);
        T_NEAR(hml_calib_value(c, 1.0), 0.25, 1e-15);
    }
    hml_calib_free(c);
    /* Constant p: no slope to fit. Platt gives the mean smoothed target, beta the rate. */
    T_RC(hml_calib_fit(HML_CALIB_PLATT, NULL, p, y, NULL, 40, &c, &err), &err);
    if (c) {
        hml_calib_describe(c, &info);
        T_OK(info.a == 0 && info.converged);
        T_NEAR(hml_calib_value(c, 0.9), (10 * 11.0 / 12 + 30 / 32.0) / 40, 1e-14);
    }
    hml_calib_free(c);
    T_RC(hml_calib_fit(HML_CALIB_BETA, NULL, p, y, NULL, 40, &c, &err), &err);
    if (c) {
        hml_calib_describe(c, &info);
        T_OK(info.a == 0 && info.b == 0 && info.converged);
        T_NEAR(hml_calib_value(c, 0.01), 0.25, 1e-14);
    }
    hml_calib_free(c);
    for (int i = 0; i < 40; i++) p[i] = i < 20 ? 0.2 : 0.6, y[i] = i < 20 ? (i % 5 == 0) : (i % 2 == 0);
    struct hml_calib_opts o = {.bin_rows_min = 20};
    T_RC(hml_calib_fit(HML_CALIB_SPLINE, &o, p, y, NULL, 40, &c, &err), &err);
    if (c) {
        hml_calib_describe(c, &info);
        T_EQ(info.points, 2);
        T_NEAR(hml_calib_value(c, 0.4), (0.2 + 0.5) / 2, 1e-15); /* the line between the two */
        T_NEAR(hml_calib_value(c, 0.9), 0.5, 1e-15);
    }
    hml_calib_free(c);
}

/* ---- beta on data simulated from a beta map --------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) * 0x1.0p-53;
}

static double beta_map(const double th[3], double p)
{
    double eta = th[0] * log(p) - th[1] * log1p(-p) + th[2];
    return 1 / (1 + exp(-eta));
}

/* Standard errors at the true parameters: the inverse Fisher information's diagonal. */
static void beta_se(const double *p, size_t n, const double th[3], double se[3])
{
    double I[3][3] = {{0}};
    for (size_t i = 0; i < n; i++) {
        double x[3] = {log(p[i]), -log1p(-p[i]), 1}, q = beta_map(th, p[i]);
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) I[a][b] += q * (1 - q) * x[a] * x[b];
    }
    /* Inverse diagonal by cofactors (3×3). */
    double det = I[0][0] * (I[1][1] * I[2][2] - I[1][2] * I[2][1]) - I[0][1] * (I[1][0] * I[2][2] - I[1][2] * I[2][0]) +
                 I[0][2] * (I[1][0] * I[2][1] - I[1][1] * I[2][0]);
    se[0] = sqrt((I[1][1] * I[2][2] - I[1][2] * I[2][1]) / det);
    se[1] = sqrt((I[0][0] * I[2][2] - I[0][2] * I[2][0]) / det);
    se[2] = sqrt((I[0][0] * I[1][1] - I[0][1] * I[1][0]) / det);
}

/* n = 200000 rows, p ~ U(0.001, 0.999), y ~ Bernoulli(map(p)) with a = 1.6, b = 0.7,
 * c = −0.4. Tolerance: each estimate within 4 standard errors of the truth (SE from
 * the Fisher information: about 0.022, 0.013, 0.026), and the fitted map within 0.01
 * of the true one everywhere on [0.001, 0.999]. */
TEST(calib_beta_recovers_simulated_parameters)
{
    const size_t n = 200000;
    const double th[3] = {1.6, 0.7, -0.4};
    double *p = hml_malloc(n * sizeof *p), *y = hml_malloc(n * sizeof *y);
    uint64_t seed = 20170420;
    for (size_t i = 0; i < n; i++) {
        p[i] = 0.001 + 0.998 * unif(&seed);
        y[i] = unif(&seed) < beta_map(th, p[i]);
    }
    struct hml_error err;
    struct hml_calib *c = NULL;
    T_RC(hml_calib_fit(HML_CALIB_BETA, NULL, p, y, NULL, n, &c, &err), &err);
    double se[3];
    beta_se(p, n, th, se);
    T_OK(se[0] > 0.015 && se[0] < 0.03);
    if (c) {
        struct hml_calib_info info;
        hml_calib_describe(c, &info);
        T_OK(info.converged);
        T_EQ(info.rows, n);
        T_NEAR(info.a, th[0], 4 * se[0]);
        T_NEAR(info.b, th[1], 4 * se[1]);
        T_NEAR(info.c, th[2], 4 * se[2]);
        for (int i = 0; i <= 100; i++) {
            double q = 0.001 + 0.998 * i / 100.0;
            T_NEAR(hml_calib_value(c, q), beta_map(th, q), 0.01);
        }
    }
    hml_calib_free(c);
    hml_free(p), hml_free(y);
}

/* ---- save / load -------------------------------------------------------------------- */

static struct hml_calib *fit_kind_on(json_t *root, enum hml_calib_kind kind, const char *set)
{
    json_t *cs = json_pack("{s:s, s:b}", "data", set, "weighted", 1);
    struct fx f;
    fx_get(&f, root, cs);
    struct hml_calib *c = fit_case(kind, NULL, &f);
    fx_free(&f);
    json_decref(cs);
    return c;
}

TEST(calib_save_load_applies_bit_identically)
{
    json_t *root = load_fixture();
    double grid[1001], a[1001], b[1001];
    for (int i = 0; i <= 1000; i++) grid[i] = i / 1000.0;
    grid[1] = 1e-300, grid[999] = 1 - 1e-16;
    for (int k = 0; k < HML_CALIB_KIND_COUNT_; k++) {
        struct hml_calib *c = fit_kind_on(root, (enum hml_calib_kind)k, "spline");
        struct hml_buf buf = HML_BUF_INIT;
        struct hml_error err;
        struct hml_calib *d = NULL;
        T_RC(hml_calib_save(c, &buf, &err), &err);
        T_RC(hml_calib_load(buf.p, buf.len, &d, &err), &err);
        if (c && d) {
            T_RC(hml_calib_apply(c, grid, 1001, a, &err), &err);
            T_RC(hml_calib_apply(d, grid, 1001, b, &err), &err);
            T_OK(memcmp(a, b, sizeof a) == 0);
            struct hml_calib_info ic, id;
            hml_calib_describe(c, &ic), hml_calib_describe(d, &id);
            T_EQ(id.kind, k);
            T_EQ(id.rows, ic.rows);
            T_EQ(id.points, ic.points);
            T_OK(id.a == ic.a && id.b == ic.b && id.c == ic.c && id.converged == ic.converged);
            /* Saving the loaded one gives the same bytes. */
            struct hml_buf again = HML_BUF_INIT;
            T_RC(hml_calib_save(d, &again, &err), &err);
            T_OK(again.len == buf.len && memcmp(again.p, buf.p, buf.len) == 0);
            hml_buf_free(&again);
        }
        hml_calib_free(d);
        hml_calib_free(c);
        hml_buf_free(&buf);
    }
    json_decref(root);
}

static void expect_bad_blob(const void *blob, size_t len, const char *msg)
{
    struct hml_error err;
    struct hml_calib *c = NULL;
    T_EQ(hml_calib_load(blob, len, &c, &err), HML_EINVAL);
    T_OK(c == NULL);
    T_CONTAINS(err.message, msg);
    T_OK(err.hint[0] != 0);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

TEST(calib_load_refuses_damaged_blobs)
{
    json_t *root = load_fixture();
    struct hml_calib *c = fit_kind_on(root, HML_CALIB_SPLINE, "spline");
    struct hml_buf buf = HML_BUF_INIT;
    struct hml_error err;
    T_RC(hml_calib_save(c, &buf, &err), &err);
    unsigned char *b = (unsigned char *)buf.p;
    size_t n = buf.len;
    expect_bad_blob(b, 10, "too short");
    expect_bad_blob(b, n - 1, "checksum");
    b[70] ^= 1;
    expect_bad_blob(b, n, "checksum mismatch");
    b[70] ^= 1;
    b[0] = 'X';
    expect_bad_blob(b, n, "bad magic");
    b[0] = 'H';
    b[6] = 2; /* a newer format version */
    expect_bad_blob(b, n, "newer");
    b[6] = 1;
    /* Well-formed checksums over impossible contents: a decreasing y, a bad kind. */
    struct hml_calib_info info;
    hml_calib_describe(c, &info);
    size_t y0_at = 64 + 8 * info.points; /* after the header and x[] */
    double y0, big = 0.99;
    memcpy(&y0, b + y0_at, 8);
    T_OK(y0 == info.y[0]);
    memcpy(b + y0_at, &big, 8);
    put_u64(b + n - 8, fnv(b, n - 8));
    expect_bad_blob(b, n, "values out of range");
    memcpy(b + y0_at, &y0, 8);
    b[8] = 9;
    put_u64(b + n - 8, fnv(b, n - 8));
    expect_bad_blob(b, n, "bad flags");
    b[8] = HML_CALIB_PLATT; /* platt with points */
    put_u64(b + n - 8, fnv(b, n - 8));
    expect_bad_blob(b, n, "inconsistent shape");
    b[8] = HML_CALIB_SPLINE;
    put_u64(b + n - 8, fnv(b, n - 8));
    struct hml_calib *d = NULL;
    T_RC(hml_calib_load(b, n, &d, &err), &err); /* restored: loads again */
    hml_calib_free(d);
    hml_calib_free(c);
    hml_buf_free(&buf);
    json_decref(root);
}

/* ---- refusals ----------------------------------------------------------------------- */

static void expect_fit_refused(enum hml_calib_kind kind, const struct hml_calib_opts *o, const double *p,
                               const double *y, const double *w, size_t n, enum hml_status code, const char *msg)
{
    struct hml_error err;
    struct hml_calib *c = NULL;
    enum hml_status rc = hml_calib_fit(kind, o, p, y, w, n, &c, &err);
    if (rc != code) t_failf(__FILE__, __LINE__, "%s: got %d (%s), want %d", msg, rc, err.message, code);
    T_OK(c == NULL);
    T_CONTAINS(err.message, msg);
    T_OK(err.hint[0] != 0);
    T_STREQ(err.where, "calibration");
}

TEST(calib_minimum_sample_rule_refuses_with_hints)
{
    double p[30], y[30], w[30];
    for (int i = 0; i < 30; i++) p[i] = (i + 0.5) / 30, y[i] = i % 3 == 0, w[i] = i < 12 ? 0 : 1;
    enum hml_calib_kind fitted[] = {HML_CALIB_SPLINE, HML_CALIB_ISOTONIC, HML_CALIB_PLATT, HML_CALIB_BETA};
    for (int k = 0; k < 4; k++) {
        expect_fit_refused(fitted[k], NULL, p, y, NULL, 19, HML_EINVAL, "needs at least 20 rows with weight > 0, got 19");
        /* 30 rows, but 12 weigh nothing. */
        expect_fit_refused(fitted[k], NULL, p, y, w, 30, HML_EINVAL, "got 18");
        struct hml_error err;
        T_EQ(hml_calib_fit(fitted[k], NULL, p, y, NULL, 0, &(struct hml_calib *){NULL}, &err), HML_EINVAL);
        T_CONTAINS(err.hint, "'none'");
        struct hml_calib_opts o = {.rows_min = 5, .bin_rows_min = 2};
        struct hml_calib *c = NULL;
        T_RC(hml_calib_fit(fitted[k], &o, p, y, NULL, 6, &c, &err), &err);
        hml_calib_free(c);
        o.rows_min = 7;
        expect_fit_refused(fitted[k], &o, p, y, NULL, 6, HML_EINVAL, "at least 7 rows");
    }
    double ones[25];
    for (int i = 0; i < 25; i++) ones[i] = 1;
    expect_fit_refused(HML_CALIB_PLATT, NULL, p, ones, NULL, 25, HML_EINVAL, "needs both classes; all 25 rows have label 1");
    /* One class among the rows that weigh something. */
    for (int i = 0; i < 30; i++) y[i] = i < 12 ? 0 : 1;
    struct hml_calib_opts ten = {.rows_min = 10};
    expect_fit_refused(HML_CALIB_ISOTONIC, &ten, p, y, w, 30, HML_EINVAL, "needs both classes; all 18 rows have label 1");
    /* "none" has no minimum: it is the fallback. */
    struct hml_error err;
    struct hml_calib *c = NULL;
    T_RC(hml_calib_fit(HML_CALIB_NONE, NULL, p, y, NULL, 0, &c, &err), &err);
    if (c) T_EQ(hml_calib_value(c, 0.37) == 0.37, 1);
    hml_calib_free(c);
}

TEST(calib_refuses_nan_and_out_of_range_inputs)
{
    double p[25], y[25], w[25];
    for (int i = 0; i < 25; i++) p[i] = (i + 0.5) / 25, y[i] = i % 2, w[i] = 1;
    for (int k = 0; k < HML_CALIB_KIND_COUNT_; k++) {
        enum hml_calib_kind kind = (enum hml_calib_kind)k;
        p[3] = NAN;
        expect_fit_refused(kind, NULL, p, y, NULL, 25, HML_EINVAL, "prediction 3 is nan");
        p[3] = 1.5;
        expect_fit_refused(kind, NULL, p, y, NULL, 25, HML_EINVAL, "prediction 3 is 1.5");
        p[3] = -1e-9;
        expect_fit_refused(kind, NULL, p, y, NULL, 25, HML_EINVAL, "needs probabilities in [0, 1]");
        p[3] = 0.5;
        y[4] = 2;
        expect_fit_refused(kind, NULL, p, y, NULL, 25, HML_EINVAL, "label 4 is 2");
        y[4] = NAN;
        expect_fit_refused(kind, NULL, p, y, NULL, 25, HML_EINVAL, "label 4 is nan");
        y[4] = 0;
        w[5] = -1;
        expect_fit_refused(kind, NULL, p, y, w, 25, HML_EINVAL, "weight 5 is -1");
        w[5] = INFINITY;
        expect_fit_refused(kind, NULL, p, y, w, 25, HML_EINVAL, "weight 5 is inf");
        w[5] = 1;
    }
    struct hml_calib_opts o = {.prob_max = 0.4};
    expect_fit_refused(HML_CALIB_SPLINE, &o, p, y, NULL, 25, HML_EINVAL, "prob_max 0.4 is outside (0.5, 1]");
    o = (struct hml_calib_opts){.n_bins = HML_CALIB_BINS_MAX + 1};
    expect_fit_refused(HML_CALIB_SPLINE, &o, p, y, NULL, 25, HML_ELIMIT, "n_bins 10001");
    expect_fit_refused((enum hml_calib_kind)17, NULL, p, y, NULL, 25, HML_EINVAL, "out of range");

    /* apply: the same rule for the rows it maps. */
    struct hml_error err;
    struct hml_calib *c = NULL;
    T_RC(hml_calib_fit(HML_CALIB_PLATT, NULL, p, y, NULL, 25, &c, &err), &err);
    double q[3] = {0.2, NAN, 0.4}, out[3];
    T_EQ(hml_calib_apply(c, q, 3, out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "prediction 1 is nan");
    T_CONTAINS(err.hint, "drop or fill");
    q[1] = 2;
    T_EQ(hml_calib_apply(c, q, 3, out, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "not margins or log-odds");
    T_OK(isnan(hml_calib_value(c, NAN)));
    T_OK(hml_calib_value(c, 2) == hml_calib_value(c, 1)); /* the unchecked one clamps */
    hml_calib_free(c);

    /* reports */
    struct hml_calib_bin bins[4];
    T_EQ(hml_calib_reliability(p, y, NULL, 25, 0, bins, &err), HML_EINVAL);
    T_OK(err.hint[0] != 0);
    T_EQ(hml_calib_reliability(p, y, NULL, 25, HML_CALIB_BINS_MAX + 1, bins, &err), HML_ELIMIT);
    T_OK(err.hint[0] != 0);
    p[0] = NAN;
    T_EQ(hml_calib_reliability(p, y, NULL, 25, 4, bins, &err), HML_EINVAL);
    double s, i0;
    T_EQ(hml_calib_slope_intercept(p, y, NULL, 25, &s, &i0, &err), HML_EINVAL);
    T_CONTAINS(err.message, "prediction 0 is nan");
}

TEST(calib_slope_intercept_refuses_inestimable_data)
{
    double p[6] = {0.1, 0.2, 0.3, 0.6, 0.7, 0.8}, y[6] = {0, 0, 0, 1, 1, 1}, s = 0, i = 0;
    struct hml_error err;
    T_EQ(hml_calib_slope_intercept(p, y, NULL, 6, &s, &i, &err), HML_EINVAL);
    T_CONTAINS(err.message, "separate the labels");
    T_OK(err.hint[0] != 0);
    double yr[6] = {1, 1, 1, 0, 0, 0}; /* separated the other way */
    T_EQ(hml_calib_slope_intercept(p, yr, NULL, 6, &s, &i, &err), HML_EINVAL);
    y[2] = 1, p[2] = 0.6; /* touching at 0.6: still no finite estimate */
    T_EQ(hml_calib_slope_intercept(p, y, NULL, 6, &s, &i, &err), HML_EINVAL);
    double same[6] = {0.4, 0.4, 0.4, 0.4, 0.4, 0.4};
    T_EQ(hml_calib_slope_intercept(same, y, NULL, 6, &s, &i, &err), HML_EINVAL);
    T_CONTAINS(err.message, "every prediction is the same");
    double ones[6] = {1, 1, 1, 1, 1, 1};
    T_EQ(hml_calib_slope_intercept(p, ones, NULL, 6, &s, &i, &err), HML_EINVAL);
    T_CONTAINS(err.message, "needs both labels");
    T_EQ(hml_calib_slope_intercept(p, y, NULL, 1, &s, &i, &err), HML_EINVAL);
    T_CONTAINS(err.message, "at least 2 rows");
    /* Overlap makes it finite: y = 1 at 0.3, y = 0 at 0.7. */
    double p2[6] = {0.1, 0.2, 0.3, 0.6, 0.7, 0.8}, y2[6] = {0, 0, 1, 1, 0, 1};
    T_RC(hml_calib_slope_intercept(p2, y2, NULL, 6, &s, &i, &err), &err);
    T_OK(isfinite(s) && s > 0);
}

TEST(calib_identity_returns_its_input)
{
    struct hml_error err;
    struct hml_calib *c = NULL;
    T_RC(hml_calib_identity(&c, &err), &err);
    double p[5] = {0, 1e-300, 0.25, 1 - 1e-16, 1}, out[5];
    T_RC(hml_calib_apply(c, p, 5, out, &err), &err);
    T_OK(memcmp(p, out, sizeof p) == 0);
    struct hml_calib_info info;
    hml_calib_describe(c, &info);
    T_EQ(info.kind, HML_CALIB_NONE);
    T_EQ(info.points, 0);
    T_RC(hml_calib_apply(c, p, 5, p, &err), &err); /* in place */
    T_OK(memcmp(p, out, sizeof p) == 0);
    hml_calib_free(c);
    hml_calib_free(NULL);
}

/* ---- allocation failures --------------------------------------------------------------- */

static enum hml_status lifecycle(enum hml_calib_kind kind, const double *p, const double *y, const double *w,
                                 size_t n, struct hml_error *err)
{
    struct hml_calib *c = NULL, *d = NULL;
    struct hml_buf buf = HML_BUF_INIT;
    double out[8], s, i0;
    enum hml_status rc = hml_calib_fit(kind, NULL, p, y, w, n, &c, err);
    if (!rc) rc = hml_calib_apply(c, p, 8, out, err);
    if (!rc) rc = hml_calib_save(c, &buf, err);
    if (!rc) rc = hml_calib_load(buf.p, buf.len, &d, err);
    if (!rc) rc = hml_calib_slope_intercept(p, y, w, n, &s, &i0, err);
    hml_calib_free(d), d = NULL;
    if (!rc) rc = hml_calib_identity(&d, err);
    hml_calib_free(c), hml_calib_free(d), hml_buf_free(&buf);
    return rc;
}

TEST(calib_fail_nth_allocation_never_leaks)
{
    double p[60], y[60], w[60];
    uint64_t seed = 7;
    for (int i = 0; i < 60; i++) p[i] = unif(&seed), y[i] = unif(&seed) < p[i], w[i] = i % 7 ? 1 : 0;
    y[0] = 0, y[1] = 1, p[0] = 0.9, p[1] = 0.1; /* overlap, so the slope exists */
    for (int k = 0; k < HML_CALIB_KIND_COUNT_; k++) {
        size_t base = hml_alloc_live_bytes();
        int failures = 0;
        bool clean = false;
        for (uint64_t n = 1; n < 200 && !clean; n++) {
            struct hml_error err;
            hml_error_clear(&err);
            hml_alloc_fail_at(n);
            enum hml_status rc = lifecycle((enum hml_calib_kind)k, p, y, w, 60, &err);
            clean = !hml_alloc_failed();
            hml_alloc_fail_at(0);
            if (rc) {
                T_EQ(rc, HML_ENOMEM);
                T_OK(err.message[0] != 0);
                failures++;
            }
            T_OK(clean == (rc == HML_OK));
            T_EQ(hml_alloc_live_bytes(), base);
        }
        T_OK(clean);
        T_OK(failures >= 4);
    }
}
