/* test_linear.c — logistic_regression and elastic_net against scikit-learn 1.2 references
 * (tests/fixtures/linear/linear_ref.json, made by gen_linear.py) and their contracts:
 * weights, imputation, constants, save/load, cancellation, parameter errors. */
#include "t.h"

#include "harness/alloc.h"
#include "harness/io.h"
#include "harness/json.h"
#include "harness/model_linear.h"

#define FIXTURE "tests/fixtures/linear/linear_ref.json"

struct ds {
    float *x;
    double *y, *w;
    size_t rows, cols;
    size_t n_classes;
};

static void ds_free(struct ds *d)
{
    hml_free(d->x);
    hml_free(d->y);
    hml_free(d->w);
    memset(d, 0, sizeof *d);
}

static void ds_alloc(struct ds *d, size_t rows, size_t cols)
{
    d->rows = rows;
    d->cols = cols;
    d->x = hml_calloc(rows * cols + 1, sizeof *d->x);
    d->y = hml_calloc(rows + 1, sizeof *d->y);
    T_OK(d->x && d->y);
}

/* Loads a shared dataset: the named features (all but the target when NULL), as floats. */
static void ds_load(struct ds *d, const char *file, const char *target, const json_t *features)
{
    struct hml_error err;
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep = {0};
    T_RC(hml_csv_read_file(t_shared_data(file), NULL, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    long ty = hml_frame_find(f, target);
    T_OK(ty >= 0);
    size_t idx[64], n = 0;
    if (features)
        for (size_t i = 0; i < json_array_size(features); i++) {
            long c = hml_frame_find(f, json_string_value(json_array_get(features, i)));
            T_OK(c >= 0);
            idx[n++] = (size_t)c;
        }
    else
        for (size_t c = 0; c < f->ncols; c++)
            if ((long)c != ty) idx[n++] = c;
    ds_alloc(d, f->nrows, n);
    for (size_t i = 0; i < f->nrows; i++) {
        for (size_t j = 0; j < n; j++) d->x[i * n + j] = (float)hml_column_num(f->cols[idx[j]], i);
        d->y[i] = hml_column_num(f->cols[ty], i);
    }
    hml_frame_free(f);
}

/* w_i = base + step·(i mod m), as gen_linear.py's weights(). */
static void ds_weights(struct ds *d, const json_t *spec)
{
    if (!spec || json_is_null(spec)) return;
    d->w = hml_malloc(d->rows * sizeof *d->w);
    double base = hml_json_num(spec, "base", 0), step = hml_json_num(spec, "step", 0);
    size_t mod = (size_t)hml_json_int(spec, "mod", 1);
    for (size_t i = 0; i < d->rows; i++) d->w[i] = base + step * (double)(i % mod);
}

static struct hml_fit_data fit_data(const struct ds *d)
{
    struct hml_fit_data fd = {.x = d->x, .rows = d->rows, .cols = d->cols, .y = d->y, .w = d->w,
                              .n_classes = d->n_classes};
    return fd;
}

static struct hml_model *make(const char *type, enum hml_model_mode mode, const char *params)
{
    struct hml_error err;
    json_t *p = NULL;
    if (params) T_RC(hml_json_parse(params, strlen(params), &p, &err), &err);
    const struct hml_model_vt *vt = hml_model_find(type);
    T_OK(vt != NULL);
    struct hml_model *m = NULL;
    T_RC(vt->create(p, mode, &m, &err), &err);
    json_decref(p);
    return m;
}

static struct hml_model *fit(const char *type, enum hml_model_mode mode, const char *params, const struct ds *d)
{
    struct hml_error err;
    struct hml_model *m = make(type, mode, params);
    struct hml_fit_data fd = fit_data(d);
    struct hml_fit_ctl ctl = {.nthread = 1};
    T_RC(m->vt->fit(m, &fd, &ctl, &err), &err);
    return m;
}

static double *predict(const struct hml_model *m, const struct ds *d, size_t outs)
{
    struct hml_error err;
    double *p = hml_malloc(d->rows * outs * sizeof *p + 1);
    T_RC(m->vt->predict(m, d->x, d->rows, d->cols, p, &err), &err);
    return p;
}

static double *coefs(const struct hml_model *m, size_t cols, double *icpt)
{
    size_t outs = hml_linear_outputs(m);
    T_OK(outs > 0);
    double *c = hml_malloc(outs * cols * sizeof *c + 1);
    T_EQ(hml_linear_coefficients(m, c, cols, icpt), outs);
    return c;
}

/* ---- agreement with scikit-learn -------------------------------------------------- */

/* |got − want| within rel·|want|, with a floor of rel·1e-3·(largest |want|) for tiny ones. */
static void near_rel(double got, double want, double scale, double rel, const char *what, size_t i)
{
    double tol = rel * fmax(fabs(want), 1e-3 * scale);
    if (!(fabs(got - want) <= tol)) t_failf(__FILE__, __LINE__, "%s[%zu]: %.12g vs %.12g", what, i, got, want);
}

static double max_abs_json(const json_t *a)
{
    double m = 0;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        if (json_is_array(v)) m = fmax(m, max_abs_json(v));
        else m = fmax(m, fabs(json_number_value(v)));
    }
    return m;
}

/* Compares one fitted model with one fixture case; returns the worst relative error. */
static double check_case(const json_t *c, const struct hml_model *m, const struct ds *d)
{
    size_t K = hml_linear_outputs(m), cols = d->cols;
    const json_t *coef = json_object_get(c, "coef"), *cstd = json_object_get(c, "coef_std");
    const json_t *scale = json_object_get(c, "scale");
    T_EQ(json_array_size(coef), K);
    double icpt[16], worst = 0, cmax = max_abs_json(cstd);
    double *got = coefs(m, cols, icpt);
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < cols; j++) {
            double want = json_number_value(json_array_get(json_array_get(cstd, k), j));
            double mine = got[k * cols + j] * json_number_value(json_array_get(scale, j)); /* standardised */
            if (want == 0) T_OK(got[k * cols + j] == 0); /* the L1 zeros are exact */
            near_rel(mine, want, cmax, 1e-4, json_string_value(json_object_get(c, "name")), k * cols + j);
            if (want != 0) worst = fmax(worst, fabs(mine - want) / fabs(want));
        }
    const json_t *ci = json_object_get(c, "intercept");
    for (size_t k = 0; k < K; k++) near_rel(icpt[k], json_number_value(json_array_get(ci, k)), 1, 1e-4, "intercept", k);
    /* importance: |standardised coefficient|, averaged over classes */
    struct hml_error err;
    double imp[64];
    T_RC(m->vt->importance(m, imp, &err), &err);
    for (size_t j = 0; j < cols; j++) {
        double want = 0;
        for (size_t k = 0; k < K; k++) want += fabs(json_number_value(json_array_get(json_array_get(cstd, k), j)));
        near_rel(imp[j], want / (double)K, cmax, 1e-4, "importance", j);
    }
    /* predictions on the first rows */
    const json_t *pf = json_object_get(c, "predict_first8");
    size_t per = K > 1 ? K : 1;
    double *p = predict(m, d, per);
    for (size_t i = 0; i < 8; i++) {
        const json_t *row = json_array_get(pf, i);
        for (size_t k = 0; k < per; k++) {
            double want = json_is_array(row) ? json_number_value(json_array_get(row, k)) : json_number_value(row);
            T_NEAR(p[i * per + k], want, 1e-6 * fmax(1, fabs(want)));
        }
    }
    hml_free(p);
    hml_free(got);
    return worst;
}

/* params of a case as JSON text, plus extra (e.g. a solver), or NULL. */
static char *case_params(const json_t *c, const char *extra_key, const char *extra_val)
{
    json_t *p = json_deep_copy(json_object_get(c, "params"));
    if (extra_key) json_object_set_new(p, extra_key, json_string(extra_val));
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    return s;
}

static void run_reference(const char *solver)
{
    json_error_t jerr;
    json_t *root = json_load_file(FIXTURE, 0, &jerr);
    if (!root) t_failf(__FILE__, __LINE__, "cannot read %s: %s", FIXTURE, jerr.text);
    const json_t *cases = json_object_get(root, "cases");
    T_OK(json_array_size(cases) >= 10);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        const char *type = json_string_value(json_object_get(c, "model"));
        bool lr = !strcmp(type, "logistic_regression");
        if (solver && !lr) continue;
        struct ds d = {0};
        ds_load(&d, json_string_value(json_object_get(c, "data")), json_string_value(json_object_get(c, "target")),
                json_object_get(c, "features"));
        ds_weights(&d, json_object_get(c, "weights"));
        d.n_classes = (size_t)hml_json_int(c, "n_classes", 0);
        enum hml_model_mode mode = strcmp(json_string_value(json_object_get(c, "mode")), "regressor")
                                       ? HML_MODE_CLASSIFIER : HML_MODE_REGRESSOR;
        char *params = case_params(c, solver ? "solver" : NULL, solver);
        struct hml_model *m = fit(type, mode, params, &d);
        double worst = check_case(c, m, &d);
        printf("#   %-28s %-7s worst relative coefficient error %.2e\n", json_string_value(json_object_get(c, "name")),
               solver ? solver : "default", worst);
        hml_free(params);
        m->vt->free(m);
        ds_free(&d);
    }
    json_decref(root);
}

TEST(linear_matches_sklearn_default_settings)
{
    run_reference(NULL);
}

TEST(linear_matches_sklearn_newton_and_lbfgs)
{
    run_reference("newton");
    run_reference("lbfgs");
}

/* ---- synthetic data ---------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;

static double unif(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53;
}

static double gauss(void)
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* rows × cols standard normal features; y from f(x) (class when logistic). */
static void synth(struct ds *d, size_t rows, size_t cols)
{
    ds_alloc(d, rows, cols);
    for (size_t i = 0; i < rows * cols; i++) d->x[i] = (float)gauss();
}

static double sigmoid(double t)
{
    return 1 / (1 + exp(-t));
}

TEST(linear_learns_synthetic_signal)
{
    struct ds d = {0};
    synth(&d, 6000, 3);
    d.n_classes = 2;
    for (size_t i = 0; i < d.rows; i++) {
        const float *x = d.x + i * 3;
        d.y[i] = unif() < sigmoid(0.5 + 1.5 * x[0] - 2.0 * x[1]);
    }
    double c[3], b0;
    struct hml_model *m = fit("logistic_regression", HML_MODE_CLASSIFIER, "{\"penalty\": \"none\"}", &d);
    T_EQ(hml_linear_coefficients(m, c, 3, &b0), 1);
    T_NEAR(b0, 0.5, 0.12);
    T_NEAR(c[0], 1.5, 0.15);
    T_NEAR(c[1], -2.0, 0.15);
    T_NEAR(c[2], 0.0, 0.1);
    /* the elastic-net classifier with a tiny penalty finds the same model */
    struct hml_model *e = fit("elastic_net", HML_MODE_CLASSIFIER, "{\"alpha\": 1e-6}", &d);
    double ce[3], be;
    T_EQ(hml_linear_coefficients(e, ce, 3, &be), 1);
    for (int j = 0; j < 3; j++) T_NEAR(ce[j], c[j], 1e-3);
    m->vt->free(m);
    e->vt->free(e);

    /* regression: y = 3 + 2·x0 − x1 + noise; x2 is noise only */
    for (size_t i = 0; i < d.rows; i++) {
        const float *x = d.x + i * 3;
        d.y[i] = 3 + 2.0 * x[0] - 1.0 * x[1] + 0.5 * gauss();
    }
    d.n_classes = 0;
    m = fit("elastic_net", HML_MODE_REGRESSOR, "{\"alpha\": 1e-4}", &d);
    T_EQ(hml_linear_coefficients(m, c, 3, &b0), 1);
    T_NEAR(b0, 3, 0.03);
    T_NEAR(c[0], 2, 0.03);
    T_NEAR(c[1], -1, 0.03);
    T_NEAR(c[2], 0, 0.03);
    m->vt->free(m);
    /* the lasso drops the noise column exactly and keeps the signal */
    m = fit("elastic_net", HML_MODE_REGRESSOR, "{\"alpha\": 0.2, \"l1_ratio\": 1}", &d);
    T_EQ(hml_linear_coefficients(m, c, 3, &b0), 1);
    T_OK(c[2] == 0);
    T_OK(c[0] > 1.5 && c[1] < -0.5);
    m->vt->free(m);
    ds_free(&d);
}

/* ---- weights ------------------------------------------------------------------------ */

/* Copies the first n rows of d, repeating row i w(i) times; w(i) ∈ {0, 1, 2}. */
static void duplicate_rows(const struct ds *d, size_t n, const double *w, struct ds *out)
{
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) rows += (size_t)w[i];
    ds_alloc(out, rows, d->cols);
    out->n_classes = d->n_classes;
    size_t r = 0;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < (int)w[i]; k++, r++) {
            memcpy(out->x + r * d->cols, d->x + i * d->cols, d->cols * sizeof *d->x);
            out->y[r] = d->y[i];
        }
}

static void check_duplication(const char *type, enum hml_model_mode mode, const char *params, const char *file,
                              const char *target, size_t n_classes)
{
    struct ds d = {0}, dup = {0};
    ds_load(&d, file, target, NULL);
    d.n_classes = n_classes;
    size_t n = 150 < d.rows ? 150 : d.rows;
    d.w = hml_malloc(d.rows * sizeof *d.w);
    for (size_t i = 0; i < d.rows; i++) d.w[i] = i >= n ? 0 : i % 3 == 0 ? 2 : i % 7 == 0 ? 0 : 1;
    duplicate_rows(&d, n, d.w, &dup);
    struct hml_model *a = fit(type, mode, params, &d), *b = fit(type, mode, params, &dup);
    size_t K = hml_linear_outputs(a);
    T_EQ(hml_linear_outputs(b), K);
    double ia[8], ib[8], *ca = coefs(a, d.cols, ia), *cb = coefs(b, d.cols, ib);
    for (size_t i = 0; i < K * d.cols; i++) T_NEAR(ca[i], cb[i], 1e-7 * fmax(1, fabs(cb[i])));
    for (size_t k = 0; k < K; k++) T_NEAR(ia[k], ib[k], 1e-7 * fmax(1, fabs(ib[k])));
    hml_free(ca);
    hml_free(cb);
    a->vt->free(a);
    b->vt->free(b);
    ds_free(&d);
    ds_free(&dup);
}

TEST(linear_weights_equal_row_duplication)
{
    /* weight 2 = the row twice, weight 0 = the row absent (rows past 150 weigh 0) */
    check_duplication("logistic_regression", HML_MODE_CLASSIFIER, "{\"C\": 0.5}", "breast_cancer.csv", "malignant", 2);
    check_duplication("logistic_regression", HML_MODE_CLASSIFIER, "{\"C\": 0.5}", "wine.csv", "cultivar", 3);
    check_duplication("logistic_regression", HML_MODE_CLASSIFIER, "{\"C\": 0.5, \"solver\": \"lbfgs\", \"tol\": 1e-10}",
                      "wine.csv", "cultivar", 3);
    check_duplication("elastic_net", HML_MODE_REGRESSOR, "{\"alpha\": 0.3, \"l1_ratio\": 0.8}", "diabetes.csv",
                      "progression", 0);
    check_duplication("elastic_net", HML_MODE_CLASSIFIER, "{\"alpha\": 0.02}", "breast_cancer.csv", "malignant", 2);
}

static double mean_of(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i];
    return s / (double)n;
}

/* Fits unweighted, then with class 1 and class 0 up-weighted 3×: the intercept (taken at
 * the centre of the data, where the raw one is far outside it) and the mean predicted
 * probability must move toward the heavier class. */
static void check_class_weights(const char *type, const char *params)
{
    struct ds d = {0};
    ds_load(&d, "breast_cancer.csv", "malignant", NULL);
    d.n_classes = 2;
    double icpt[3], meanp[3];
    for (int v = 0; v < 3; v++) {
        if (v > 0) {
            hml_free(d.w);
            d.w = hml_malloc(d.rows * sizeof *d.w);
            for (size_t i = 0; i < d.rows; i++) d.w[i] = d.y[i] == (v == 1 ? 1 : 0) ? 3 : 1;
        }
        struct hml_model *m = fit(type, HML_MODE_CLASSIFIER, params, &d);
        double *c = coefs(m, d.cols, &icpt[v]), *p = predict(m, &d, 1);
        for (size_t j = 0; j < d.cols; j++) {
            double centre = 0;
            for (size_t i = 0; i < d.rows; i++) centre += d.x[i * d.cols + j];
            icpt[v] += c[j] * centre / (double)d.rows;
        }
        meanp[v] = mean_of(p, d.rows);
        hml_free(c);
        hml_free(p);
        m->vt->free(m);
    }
    T_OK(icpt[1] > icpt[0] + 0.3);
    T_OK(icpt[2] < icpt[0] - 0.3);
    T_OK(meanp[1] > meanp[0] + 0.01);
    T_OK(meanp[2] < meanp[0] - 0.01);
    ds_free(&d);
}

TEST(linear_class_weights_shift_the_intercept)
{
    check_class_weights("logistic_regression", "{\"C\": 0.05}");
    check_class_weights("elastic_net", "{\"alpha\": 0.05}");
}

/* ---- missing values and constant columns ------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of column j over the non-NaN rows, by sorting. */
static double sorted_median(const struct ds *d, size_t j)
{
    double *v = hml_malloc(d->rows * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < d->rows; i++)
        if (!isnan(d->x[i * d->cols + j])) v[n++] = d->x[i * d->cols + j];
    qsort(v, n, sizeof *v, cmp_double);
    double m = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    hml_free(v);
    return m;
}

TEST(linear_nan_is_imputed_with_training_medians)
{
    struct ds d = {0};
    synth(&d, 200, 3);
    d.n_classes = 2;
    for (size_t i = 0; i < d.rows; i++) {
        float *x = d.x + i * 3;
        d.y[i] = unif() < sigmoid(x[0] + x[1] - x[2] + 0.5 * x[0] * x[0]);
        x[0] += 5; /* medians far from the means */
        x[1] = x[1] * x[1];
    }
    for (size_t i = 0; i < d.rows; i++) {
        if (i % 4 == 0) d.x[i * 3 + 0] = NAN; /* 150 observed: an even count */
        if (i % 7 == 0) d.x[i * 3 + 1] = NAN; /* 171 observed: an odd count */
    }
    double med0 = sorted_median(&d, 0), med1 = sorted_median(&d, 1);
    const char *types[] = {"logistic_regression", "elastic_net"};
    for (int t = 0; t < 2; t++) {
        struct hml_model *a = fit(types[t], HML_MODE_CLASSIFIER, "{}", &d);
        /* the same data with column 1's gaps filled by hand (an odd count: a data value) */
        struct ds f = d;
        f.x = hml_malloc(d.rows * 3 * sizeof *f.x);
        memcpy(f.x, d.x, d.rows * 3 * sizeof *f.x);
        for (size_t i = 0; i < d.rows; i++)
            if (isnan(f.x[i * 3 + 1])) f.x[i * 3 + 1] = (float)med1;
        struct hml_model *b = fit(types[t], HML_MODE_CLASSIFIER, "{}", &f);
        double ia, ib, *ca = coefs(a, 3, &ia), *cb = coefs(b, 3, &ib);
        for (int j = 0; j < 3; j++) T_OK(ca[j] == cb[j]);
        T_OK(ia == ib);
        /* predict imputes the training medians, whatever the batch looks like */
        float rows[4 * 3] = {NAN, NAN, 0.25f, 1e6f, 1e6f, 0.25f, 1e6f, 1e6f, 0.25f, NAN, NAN, 0.25f};
        double p[4], one;
        struct hml_error err;
        T_RC(a->vt->predict(a, rows, 4, 3, p, &err), &err);
        T_RC(a->vt->predict(a, rows, 1, 3, &one, &err), &err);
        T_OK(p[0] == one && p[3] == one);
        double eta = ia + ca[0] * med0 + ca[1] * med1 + ca[2] * 0.25;
        T_NEAR(log(one / (1 - one)), eta, 1e-9);
        hml_free(ca);
        hml_free(cb);
        hml_free(f.x);
        a->vt->free(a);
        b->vt->free(b);
    }
    ds_free(&d);
}

/* breast_cancer's first six features, optionally with a constant column inserted at 2
 * and an all-missing column appended. */
static void six_features(struct ds *d, bool extra)
{
    struct ds full = {0};
    ds_load(&full, "breast_cancer.csv", "malignant", NULL);
    size_t cols = extra ? 8 : 6;
    ds_alloc(d, full.rows, cols);
    d->n_classes = 2;
    for (size_t i = 0; i < full.rows; i++) {
        float *x = d->x + i * cols;
        const float *s = full.x + i * full.cols;
        size_t k = 0;
        for (size_t j = 0; j < 6; j++) {
            if (extra && j == 2) x[k++] = 7.5f;
            x[k++] = s[j];
        }
        if (extra) x[k++] = NAN;
        d->y[i] = full.y[i];
    }
    ds_free(&full);
}

TEST(linear_constant_columns_get_zero)
{
    struct ds a = {0}, b = {0};
    six_features(&a, false);
    six_features(&b, true);
    const char *types[] = {"logistic_regression", "elastic_net"};
    const char *params[] = {"{\"C\": 10}", "{\"alpha\": 0.001}"};
    for (int t = 0; t < 2; t++) {
        struct hml_model *ma = fit(types[t], HML_MODE_CLASSIFIER, params[t], &a);
        struct hml_model *mb = fit(types[t], HML_MODE_CLASSIFIER, params[t], &b);
        double ia, ib, *ca = coefs(ma, 6, &ia), *cb = coefs(mb, 8, &ib), imp[8];
        T_OK(cb[2] == 0 && cb[7] == 0);
        for (size_t j = 0, k = 0; j < 8; j++)
            if (j != 2 && j != 7) T_OK(cb[j] == ca[k++]); /* same design, same arithmetic */
        T_OK(ia == ib);
        struct hml_error err;
        T_RC(mb->vt->importance(mb, imp, &err), &err);
        T_OK(imp[2] == 0 && imp[7] == 0 && imp[0] > 0);
        double *pa = predict(ma, &a, 1), *pb = predict(mb, &b, 1);
        T_OK(memcmp(pa, pb, a.rows * sizeof *pa) == 0);
        hml_free(pa);
        hml_free(pb);
        hml_free(ca);
        hml_free(cb);
        ma->vt->free(ma);
        mb->vt->free(mb);
    }
    /* every column constant: an intercept-only model, the weighted class share */
    struct ds c = {0};
    ds_alloc(&c, 4, 2);
    c.n_classes = 2;
    for (int i = 0; i < 4; i++) {
        c.x[i * 2] = 1;
        c.x[i * 2 + 1] = NAN;
        c.y[i] = i == 0;
    }
    struct hml_model *m = fit("logistic_regression", HML_MODE_CLASSIFIER, "{}", &c);
    double *p = predict(m, &c, 1);
    T_NEAR(p[0], 0.25, 1e-9);
    hml_free(p);
    m->vt->free(m);
    ds_free(&c);
    ds_free(&a);
    ds_free(&b);
}

/* ---- save / load -------------------------------------------------------------------- */

static void check_roundtrip(const char *type, enum hml_model_mode mode, const char *file, const char *target,
                            size_t n_classes)
{
    struct ds d = {0};
    ds_load(&d, file, target, NULL);
    d.n_classes = n_classes;
    for (size_t i = 0; i < d.rows; i += 5) d.x[i * d.cols + i % d.cols] = NAN; /* medians in the blob */
    struct hml_model *m = fit(type, mode, "{}", &d), *l = NULL;
    struct hml_error err;
    struct hml_buf a = HML_BUF_INIT, b = HML_BUF_INIT;
    T_RC(m->vt->save(m, &a, &err), &err);
    T_RC(m->vt->load(a.p, a.len, &l, &err), &err);
    T_RC(l->vt->save(l, &b, &err), &err);
    T_OK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
    size_t per = n_classes > 2 ? n_classes : 1;
    double *p = predict(m, &d, per), *q = predict(l, &d, per);
    T_OK(memcmp(p, q, d.rows * per * sizeof *p) == 0);
    /* a damaged, truncated or foreign blob is refused with a hint */
    struct hml_model *bad = NULL;
    a.p[a.len / 2] ^= 0x10;
    T_EQ(m->vt->load(a.p, a.len, &bad, &err), HML_EINVAL);
    T_CONTAINS(err.message, "checksum");
    T_OK(err.hint[0] != 0);
    T_EQ(m->vt->load(b.p, b.len - 9, &bad, &err), HML_EINVAL);
    const struct hml_model_vt *other = hml_model_find(strcmp(type, "elastic_net") ? "elastic_net" : "logistic_regression");
    T_EQ(other->load(b.p, b.len, &bad, &err), HML_EINVAL);
    T_CONTAINS(err.hint, type);
    T_OK(bad == NULL);
    hml_free(p);
    hml_free(q);
    hml_buf_free(&a);
    hml_buf_free(&b);
    m->vt->free(m);
    l->vt->free(l);
    ds_free(&d);
}

TEST(linear_save_load_predicts_identically)
{
    check_roundtrip("logistic_regression", HML_MODE_CLASSIFIER, "breast_cancer.csv", "malignant", 2);
    check_roundtrip("logistic_regression", HML_MODE_CLASSIFIER, "wine.csv", "cultivar", 3);
    check_roundtrip("elastic_net", HML_MODE_REGRESSOR, "diabetes.csv", "progression", 0);
    check_roundtrip("elastic_net", HML_MODE_CLASSIFIER, "breast_cancer.csv", "malignant", 2);
    /* an unfitted model has nothing to save */
    struct hml_model *m = make("elastic_net", HML_MODE_REGRESSOR, NULL);
    struct hml_buf b = HML_BUF_INIT;
    struct hml_error err;
    T_EQ(m->vt->save(m, &b, &err), HML_ECONFLICT);
    T_OK(err.hint[0] != 0);
    hml_buf_free(&b);
    m->vt->free(m);
}

/* ---- cancellation ------------------------------------------------------------------- */

struct cancel_ud {
    volatile int flag;
    int calls;
};

static void cancel_on_progress(void *ud, double done, double total, const char *message)
{
    struct cancel_ud *c = ud;
    (void)done;
    (void)total;
    (void)message;
    c->calls++;
    c->flag = 1;
}

static void check_cancel(const char *type, enum hml_model_mode mode, const char *params, const char *file,
                         const char *target, size_t n_classes)
{
    struct ds d = {0};
    ds_load(&d, file, target, NULL);
    d.n_classes = n_classes;
    struct hml_model *m = fit(type, mode, params, &d);
    size_t per = n_classes > 2 ? n_classes : 1;
    double *before = predict(m, &d, per);
    struct cancel_ud ud = {0};
    struct hml_fit_ctl ctl = {.cancel = &ud.flag, .progress = cancel_on_progress, .progress_ud = &ud, .nthread = 1};
    struct hml_fit_data fd = fit_data(&d);
    struct hml_error err;
    T_EQ(m->vt->fit(m, &fd, &ctl, &err), HML_ECONFLICT);
    T_STREQ(err.message, "cancelled");
    T_OK(err.hint[0] != 0);
    T_EQ(ud.calls, 1); /* it stopped at the next check, one iteration later */
    double *after = predict(m, &d, per); /* a cancelled refit keeps the previous fit */
    T_OK(memcmp(before, after, d.rows * per * sizeof *after) == 0);
    hml_free(before);
    hml_free(after);
    m->vt->free(m);
    ds_free(&d);
}

TEST(linear_fit_honours_cancel)
{
    check_cancel("logistic_regression", HML_MODE_CLASSIFIER, "{\"solver\": \"newton\"}", "breast_cancer.csv",
                 "malignant", 2);
    check_cancel("logistic_regression", HML_MODE_CLASSIFIER, "{\"solver\": \"lbfgs\"}", "wine.csv", "cultivar", 3);
    check_cancel("elastic_net", HML_MODE_REGRESSOR, "{\"alpha\": 0.01}", "diabetes.csv", "progression", 0);
    check_cancel("elastic_net", HML_MODE_CLASSIFIER, "{\"alpha\": 0.01}", "breast_cancer.csv", "malignant", 2);
    /* a model never fitted stays unfitted */
    struct ds d = {0};
    synth(&d, 50, 2);
    for (size_t i = 0; i < d.rows; i++) d.y[i] = d.x[i * 2];
    struct hml_model *m = make("elastic_net", HML_MODE_REGRESSOR, NULL);
    volatile int flag = 1;
    struct hml_fit_ctl ctl = {.cancel = &flag};
    struct hml_fit_data fd = fit_data(&d);
    struct hml_error err;
    double out;
    T_EQ(m->vt->fit(m, &fd, &ctl, &err), HML_ECONFLICT);
    T_EQ(m->vt->predict(m, d.x, 1, 2, &out, &err), HML_ECONFLICT);
    T_CONTAINS(err.message, "not fitted");
    m->vt->free(m);
    ds_free(&d);
}

/* ---- parameters, registry, bad input ----------------------------------------------- */

static void check_create_error(const char *type, enum hml_model_mode mode, const char *params, const char *msg,
                               const char *suggestion)
{
    struct hml_error err;
    json_t *p = NULL;
    T_RC(hml_json_parse(params, strlen(params), &p, &err), &err);
    struct hml_model *m = NULL;
    T_EQ(hml_model_find(type)->create(p, mode, &m, &err), HML_EINVAL);
    T_OK(m == NULL);
    T_CONTAINS(err.message, msg);
    T_OK(err.hint[0] != 0);
    if (suggestion) T_STREQ(err.did_you_mean, suggestion);
    json_decref(p);
}

TEST(linear_params_are_checked)
{
    check_create_error("logistic_regression", HML_MODE_CLASSIFIER, "{\"Cc\": 2}", "unknown param 'Cc'", "C");
    struct hml_error err;
    json_t *p = json_pack("{s:f}", "l1ratio", 0.3);
    struct hml_model *m = NULL;
    T_EQ(hml_model_elastic_net.create(p, HML_MODE_REGRESSOR, &m, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "l1_ratio");
    T_CONTAINS(err.valid, "alpha");
    T_CONTAINS(err.valid, "max_iter");
    json_decref(p);
    check_create_error("elastic_net", HML_MODE_REGRESSOR, "{\"l1_ratio\": 1.5}", "out of range", NULL);
    check_create_error("logistic_regression", HML_MODE_CLASSIFIER, "{\"penalty\": \"l1\"}", "not a valid penalty", NULL);
    check_create_error("logistic_regression", HML_MODE_CLASSIFIER, "{\"C\": 0}", "out of range", NULL);
    check_create_error("logistic_regression", HML_MODE_CLASSIFIER, "{\"max_iter\": 2.5}", "integer", NULL);
    check_create_error("logistic_regression", HML_MODE_REGRESSOR, "{}", "cannot fit a regressor", NULL);
    /* every parameter documents itself */
    const struct hml_model_vt *vts[] = {&hml_model_logistic_regression, &hml_model_elastic_net};
    for (int v = 0; v < 2; v++)
        for (const struct hml_model_param *q = vts[v]->params; q->name; q++) {
            T_OK(q->desc && strlen(q->desc) > 20);
            T_OK(q->dflt != NULL);
            if (q->type == HML_MP_NUM || q->type == HML_MP_INT) T_OK(q->lo <= q->hi);
        }
}

TEST(linear_registry_and_caps)
{
    T_OK(hml_model_find("logistic_regression") == &hml_model_logistic_regression);
    T_OK(hml_model_find("elastic_net") == &hml_model_elastic_net);
    unsigned lr = hml_model_logistic_regression.caps, en = hml_model_elastic_net.caps;
    T_OK((lr & HML_CAP_CLASSIFIER) && (lr & HML_CAP_MULTICLASS) && !(lr & HML_CAP_REGRESSOR));
    T_OK((en & HML_CAP_CLASSIFIER) && (en & HML_CAP_REGRESSOR) && !(en & HML_CAP_MULTICLASS));
    /* NaN is imputed inside, but callers must one-hot encode categoricals above */
    unsigned both[] = {lr, en};
    for (int i = 0; i < 2; i++) {
        T_OK(!(both[i] & HML_CAP_NAN) && !(both[i] & HML_CAP_CATEGORICAL));
        T_OK((both[i] & HML_CAP_WEIGHTS) && (both[i] & HML_CAP_IMPORTANCE));
    }
    T_EQ(hml_linear_outputs(NULL), 0);
}

TEST(linear_shap_adds_up_to_the_log_odds)
{
    struct ds d = {0};
    six_features(&d, true);
    struct hml_model *m = fit("logistic_regression", HML_MODE_CLASSIFIER, "{}", &d);
    double *p = predict(m, &d, 1), *s = hml_malloc(d.rows * (d.cols + 1) * sizeof *s);
    struct hml_error err;
    T_RC(m->vt->shap(m, d.x, d.rows, d.cols, s, &err), &err);
    double c[8], b0, colsum[8] = {0};
    T_EQ(hml_linear_coefficients(m, c, 8, &b0), 1);
    for (size_t i = 0; i < d.rows; i++) {
        const double *r = s + i * (d.cols + 1);
        double sum = 0, eta = b0;
        for (size_t j = 0; j <= d.cols; j++) sum += r[j];
        for (size_t j = 0; j < d.cols; j++)
            if (c[j] != 0) eta += c[j] * d.x[i * d.cols + j];
        T_NEAR(sum, eta, 1e-9 * fmax(1, fabs(eta)));
        T_NEAR(sigmoid(sum), p[i], 1e-12);
        T_OK(r[2] == 0 && r[7] == 0);
        for (size_t j = 0; j < d.cols; j++) colsum[j] += r[j];
        /* a contribution is the raw coefficient times the distance from the mean */
        T_NEAR(r[0] - s[0], c[0] * (d.x[i * d.cols] - d.x[0]), 1e-9);
    }
    for (size_t j = 0; j < d.cols; j++) T_NEAR(colsum[j] / (double)d.rows, 0, 1e-9); /* baseline: the mean */
    hml_free(p);
    hml_free(s);
    m->vt->free(m);
    /* multiclass has no single log-odds */
    struct ds w = {0};
    ds_load(&w, "wine.csv", "cultivar", NULL);
    w.n_classes = 3;
    m = fit("logistic_regression", HML_MODE_CLASSIFIER, "{}", &w);
    double one[14];
    T_EQ(m->vt->shap(m, w.x, 1, w.cols, one, &err), HML_EINVAL);
    T_OK(err.hint[0] != 0);
    m->vt->free(m);
    ds_free(&w);
    ds_free(&d);
}

static void check_fit_error(const char *type, enum hml_model_mode mode, struct ds *d, enum hml_status want,
                            const char *msg)
{
    struct hml_model *m = make(type, mode, NULL);
    struct hml_fit_data fd = fit_data(d);
    struct hml_error err;
    T_EQ(m->vt->fit(m, &fd, NULL, &err), want);
    T_CONTAINS(err.message, msg);
    T_OK(err.hint[0] != 0);
    m->vt->free(m);
}

TEST(linear_rejects_bad_training_data)
{
    struct ds d = {0};
    synth(&d, 40, 2);
    d.n_classes = 2;
    for (size_t i = 0; i < d.rows; i++) d.y[i] = d.x[i * 2] > 0;
    const char *names[] = {"alpha_col", "beta_col"};
    struct hml_fit_data fd = fit_data(&d);
    fd.feature_names = names;
    d.x[7 * 2 + 1] = INFINITY;
    struct hml_model *m = make("logistic_regression", HML_MODE_CLASSIFIER, NULL);
    struct hml_error err;
    T_EQ(m->vt->fit(m, &fd, NULL, &err), HML_EINVAL);
    T_CONTAINS(err.message, "'beta_col' is infinite in row 7");
    m->vt->free(m);
    d.x[7 * 2 + 1] = 0;
    d.y[3] = 2;
    check_fit_error("logistic_regression", HML_MODE_CLASSIFIER, &d, HML_EINVAL, "not a class index");
    d.y[3] = NAN;
    check_fit_error("elastic_net", HML_MODE_REGRESSOR, &d, HML_EINVAL, "not a finite number");
    d.y[3] = 1;
    d.w = hml_calloc(d.rows, sizeof *d.w);
    check_fit_error("elastic_net", HML_MODE_CLASSIFIER, &d, HML_EINVAL, "weights sum to 0");
    d.w[0] = -1;
    check_fit_error("elastic_net", HML_MODE_CLASSIFIER, &d, HML_EINVAL, "weight of row 0");
    hml_free(d.w);
    d.w = NULL;
    d.n_classes = 3;
    check_fit_error("elastic_net", HML_MODE_CLASSIFIER, &d, HML_EINVAL, "two classes");
    d.n_classes = 1;
    check_fit_error("logistic_regression", HML_MODE_CLASSIFIER, &d, HML_EINVAL, "2 to");
    d.n_classes = 2;
    d.rows = 0;
    check_fit_error("logistic_regression", HML_MODE_CLASSIFIER, &d, HML_EINVAL, "no training rows");
    d.rows = 40;
    /* predict checks the width */
    m = fit("logistic_regression", HML_MODE_CLASSIFIER, NULL, &d);
    double out[40];
    T_EQ(m->vt->predict(m, d.x, 20, 4, out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "fitted on 2");
    T_OK(err.hint[0] != 0);
    m->vt->free(m);
    ds_free(&d);
}

TEST(linear_separable_and_one_class_data_end)
{
    struct ds d = {0};
    synth(&d, 200, 2);
    d.n_classes = 2;
    for (size_t i = 0; i < d.rows; i++) d.y[i] = d.x[i * 2] + 0.3 * d.x[i * 2 + 1] > 0;
    const char *params[] = {"{\"penalty\": \"none\"}", "{\"penalty\": \"none\", \"solver\": \"lbfgs\"}"};
    for (int s = 0; s < 2; s++) {
        struct hml_model *m = fit("logistic_regression", HML_MODE_CLASSIFIER, params[s], &d);
        double *p = predict(m, &d, 1), c[2], b0;
        T_EQ(hml_linear_coefficients(m, c, 2, &b0), 1);
        T_OK(isfinite(c[0]) && isfinite(c[1]) && c[0] > 0);
        for (size_t i = 0; i < d.rows; i++) T_OK(fabs(p[i] - d.y[i]) < 0.01); /* it separates */
        hml_free(p);
        m->vt->free(m);
    }
    for (size_t i = 0; i < d.rows; i++) d.y[i] = 0; /* one class only: the constant model */
    const char *types[] = {"logistic_regression", "elastic_net"};
    for (int t = 0; t < 2; t++) {
        struct hml_model *m = fit(types[t], HML_MODE_CLASSIFIER, NULL, &d);
        double *p = predict(m, &d, 1);
        for (size_t i = 0; i < d.rows; i++) T_NEAR(p[i], 2.06e-9, 1e-11);
        hml_free(p);
        m->vt->free(m);
    }
    ds_free(&d);
    /* multinomial with a class that has no weight: its probability goes to 0 */
    struct ds w = {0};
    ds_load(&w, "wine.csv", "cultivar", NULL);
    w.n_classes = 3;
    w.w = hml_malloc(w.rows * sizeof *w.w);
    for (size_t i = 0; i < w.rows; i++) w.w[i] = w.y[i] == 1 ? 0 : 1;
    const char *solvers[] = {"{\"solver\": \"newton\"}", "{\"solver\": \"lbfgs\"}"};
    for (int s = 0; s < 2; s++) {
        struct hml_model *m = fit("logistic_regression", HML_MODE_CLASSIFIER, solvers[s], &w);
        double *p = predict(m, &w, 3);
        for (size_t i = 0; i < w.rows; i++) T_OK(p[i * 3 + 1] < 1e-6);
        hml_free(p);
        m->vt->free(m);
    }
    ds_free(&w);
}

/* create → fit → predict → save → load → predict under one failing allocation; returns
 * the first error (or HML_OK) and frees everything it made. */
static enum hml_status lifecycle(const struct hml_model_vt *vt, enum hml_model_mode mode, const struct ds *d,
                                 size_t per, struct hml_error *err)
{
    struct hml_model *m = NULL, *l = NULL;
    struct hml_buf b = HML_BUF_INIT;
    double *p = hml_malloc(d->rows * per * sizeof *p);
    struct hml_fit_data fd = fit_data(d);
    enum hml_status rc = p ? vt->create(NULL, mode, &m, err) : hml_fail(err, HML_ENOMEM, "test", "oom");
    if (!rc) rc = vt->fit(m, &fd, NULL, err);
    if (!rc) rc = vt->predict(m, d->x, d->rows, d->cols, p, err);
    if (!rc) rc = vt->save(m, &b, err);
    if (!rc) rc = vt->load(b.p, b.len, &l, err);
    if (!rc) rc = vt->predict(l, d->x, d->rows, d->cols, p, err);
    if (m) vt->free(m);
    if (l) vt->free(l);
    hml_buf_free(&b);
    hml_free(p);
    return rc;
}

TEST(linear_fail_nth_allocation_never_leaks)
{
    struct ds d = {0};
    synth(&d, 60, 3);
    for (size_t i = 0; i < d.rows; i++) {
        d.y[i] = (double)(i % 3);
        if (i % 5 == 0) d.x[i * 3 + 1] = NAN;
    }
    const struct hml_model_vt *vts[] = {&hml_model_logistic_regression, &hml_model_logistic_regression,
                                        &hml_model_elastic_net, &hml_model_elastic_net};
    enum hml_model_mode modes[] = {HML_MODE_CLASSIFIER, HML_MODE_CLASSIFIER, HML_MODE_CLASSIFIER, HML_MODE_REGRESSOR};
    size_t classes[] = {3, 2, 2, 0};
    for (int c = 0; c < 4; c++) {
        for (size_t i = 0; i < d.rows; i++) d.y[i] = classes[c] ? (double)(i % classes[c]) : d.x[i * 3];
        d.n_classes = classes[c];
        size_t per = classes[c] > 2 ? classes[c] : 1, base = hml_alloc_live_bytes();
        int failures = 0;
        bool clean = false;
        for (uint64_t n = 1; n < 1000 && !clean; n++) {
            struct hml_error err;
            hml_error_clear(&err);
            hml_alloc_fail_at(n);
            enum hml_status rc = lifecycle(vts[c], modes[c], &d, per, &err);
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
        T_OK(failures >= 8);
    }
    ds_free(&d);
}
