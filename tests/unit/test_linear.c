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
