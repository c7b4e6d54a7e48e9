/* Unit tests for the libxgboost backends (model_xgboost*.c): xgboost, random_forest
 * and lightgbm. Reference numbers come from Python's xgboost 1.7.4 through
 * tests/fixtures/xgboost/gen_xgboost.py (committed output: xgboost.json). */
#include "t.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/learn/model_xgboost_int.h"
#include "harness/alloc.h"
#include "harness/buf.h"
#include "harness/fsx.h"
#include "harness/json.h"
#include "harness/model.h"

#define FIXTURE "tests/fixtures/xgboost/xgboost.json"

/* ---- data helpers ------------------------------------------------------------------- */

struct ds {
    float *x;
    double *y, *w;
    size_t rows, cols;
    char **names;
    uint8_t *cat;
    uint32_t *levels;
};

static void ds_free(struct ds *d)
{
    for (size_t j = 0; d->names && j < d->cols; j++) hml_free(d->names[j]);
    hml_free(d->names);
    hml_free(d->x);
    hml_free(d->y);
    hml_free(d->w);
    hml_free(d->cat);
    hml_free(d->levels);
    memset(d, 0, sizeof *d);
}

static void ds_alloc(struct ds *d, size_t rows, size_t cols)
{
    d->rows = rows;
    d->cols = cols;
    d->x = hml_calloc(rows * cols, sizeof *d->x);
    d->y = hml_calloc(rows, sizeof *d->y);
    d->names = hml_calloc(cols, sizeof *d->names);
    T_OK(d->x && d->y && d->names);
}

/* A numeric CSV (no quoting, no missing cells) with one target column. strtod rounds
 * correctly, as pandas' round_trip parser does, so the float32 cells equal Python's. */
static void load_csv(const char *file, const char *target, struct ds *d)
{
    struct hml_error err;
    char *text = NULL;
    size_t len = 0;
    T_RC(hml_read_file(t_shared_data(file), 16u << 20, &text, &len, &err), &err);
    size_t fields = 1, rows = 0;
    for (const char *p = text; *p && *p != '\n'; p++) fields += *p == ',';
    for (const char *p = strchr(text, '\n'); p && p[1]; p = strchr(p + 1, '\n')) rows++;
    ds_alloc(d, rows, fields - 1);
    char *line = text, *save = NULL;
    long tcol = -1;
    char *hdr = strtok_r(line, "\n", &save);
    char *hsave = NULL;
    size_t j = 0, f = 0;
    for (char *tok = strtok_r(hdr, ",", &hsave); tok; tok = strtok_r(NULL, ",", &hsave), f++) {
        if (!strcmp(tok, target)) tcol = (long)f;
        else d->names[j++] = hml_strdup(tok);
    }
    T_OK(tcol >= 0);
    for (size_t i = 0; i < rows; i++) {
        char *row = strtok_r(NULL, "\n", &save), *end = row;
        T_OK(row != NULL);
        for (size_t k = 0, c = 0; k < fields; k++) {
            double v = strtod(end, &end);
            end++;
            if ((long)k == tcol) d->y[i] = v;
            else d->x[i * d->cols + c++] = (float)v;
        }
    }
    hml_free(text);
}

static json_t *fixture(void)
{
    struct hml_error err;
    char *text = NULL;
    size_t len = 0;
    json_t *fx = NULL;
    T_RC(hml_read_file(FIXTURE, 16u << 20, &text, &len, &err), &err);
    T_RC(hml_json_parse(text, len, &fx, &err), &err);
    hml_free(text);
    return fx;
}

static const json_t *fixture_case(const json_t *fx, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(fx, "cases"), i, c) {
        if (!strcmp(hml_json_str(c, "name", ""), name)) return c;
    }
    t_failf(__FILE__, __LINE__, "no fixture case '%s'", name);
    return NULL;
}

/* The synthetic case is stored inline: x rows with null = NaN, categorical flags. */
static void load_inline(const json_t *c, struct ds *d)
{
    const json_t *x = json_object_get(c, "x"), *names = json_object_get(c, "feature_names");
    ds_alloc(d, json_array_size(x), json_array_size(names));
    d->cat = hml_calloc(d->cols, 1);
    d->levels = hml_calloc(d->cols, sizeof *d->levels);
    for (size_t j = 0; j < d->cols; j++) {
        d->names[j] = hml_strdup(json_string_value(json_array_get(names, j)));
        d->cat[j] = (uint8_t)json_integer_value(json_array_get(json_object_get(c, "categorical"), j));
        d->levels[j] = (uint32_t)json_integer_value(json_array_get(json_object_get(c, "levels"), j));
    }
    for (size_t i = 0; i < d->rows; i++) {
        const json_t *row = json_array_get(x, i);
        for (size_t j = 0; j < d->cols; j++) {
            const json_t *v = json_array_get(row, j);
            d->x[i * d->cols + j] = json_is_null(v) ? NAN : (float)json_number_value(v);
        }
        d->y[i] = json_number_value(json_array_get(json_object_get(c, "y"), i));
    }
}

/* Rows whose index satisfies keep(i) (the fixture's split: i % 4 != 0 trains). */
static void ds_take(const struct ds *a, int hold_out, struct ds *out)
{
    size_t n = 0;
    for (size_t i = 0; i < a->rows; i++) n += (i % 4 == 0) == hold_out;
    ds_alloc(out, n, a->cols);
    if (a->w) out->w = hml_calloc(n, sizeof *out->w);
    for (size_t j = 0; j < a->cols; j++) out->names[j] = hml_strdup(a->names[j]);
    for (size_t i = 0, k = 0; i < a->rows; i++) {
        if ((i % 4 == 0) != hold_out) continue;
        memcpy(out->x + k * a->cols, a->x + i * a->cols, a->cols * sizeof *a->x);
        out->y[k] = a->y[i];
        if (a->w) out->w[k] = a->w[i];
        k++;
    }
}

static struct hml_fit_data fit_data(const struct ds *d, size_t n_classes)
{
    return (struct hml_fit_data){.x = d->x, .rows = d->rows, .cols = d->cols,
                                 .feature_names = (const char *const *)d->names, .categorical = d->cat,
                                 .levels = d->levels, .y = d->y, .w = d->w, .n_classes = n_classes};
}

static struct hml_model *create(const char *type, const char *params_json, enum hml_model_mode mode)
{
    struct hml_error err;
    json_t *p = NULL;
    T_RC(hml_json_parse(params_json, strlen(params_json), &p, &err), &err);
    const struct hml_model_vt *vt = hml_model_find(type);
    T_OK(vt != NULL);
    struct hml_model *m = NULL;
    T_RC(vt->create(p, mode, &m, &err), &err);
    json_decref(p);
    return m;
}

static const struct hml_fit_ctl ctl1 = {.nthread = 1, .seed = 7};

static void fit(struct hml_model *m, const struct hml_fit_data *d)
{
    struct hml_error err;
    T_RC(m->vt->fit(m, d, &ctl1, &err), &err);
}

static double *predict(const struct hml_model *m, const struct ds *d, size_t width)
{
    struct hml_error err;
    double *p = hml_calloc(d->rows * width, sizeof *p);
    T_RC(m->vt->predict(m, d->x, d->rows, d->cols, p, &err), &err);
    return p;
}

static void near_all(const char *what, const double *got, const json_t *want, size_t n)
{
    T_EQ(json_array_size(want), n);
    for (size_t i = 0; i < n; i++) {
        double w = json_number_value(json_array_get(want, i));
        double tol = 1e-6 * (fabs(w) > 1 ? fabs(w) : 1);
        if (!(fabs(got[i] - w) <= tol))
            t_failf(__FILE__, __LINE__, "%s[%zu]: %.9g, python %.9g", what, i, got[i], w);
    }
}

/* ---- parity with Python's xgboost ---------------------------------------------------- */

static void check_importance_and_shap(const struct hml_model *m, const struct ds *all, const json_t *c)
{
    struct hml_error err;
    double *imp = hml_calloc(all->cols, sizeof *imp);
    T_RC(m->vt->importance(m, imp, &err), &err);
    near_all("importance", imp, json_object_get(c, "importance"), all->cols);
    hml_free(imp);
    const json_t *shap = json_object_get(c, "shap");
    if (!shap) return;
    size_t rows = 8;
    double *s = hml_calloc(rows * (all->cols + 1), sizeof *s);
    T_RC(m->vt->shap(m, all->x, rows, all->cols, s, &err), &err);
    near_all("shap", s, shap, rows * (all->cols + 1));
    hml_free(s);
}

static void check_case(const char *name)
{
    json_t *fx = fixture();
    const json_t *c = fixture_case(fx, name);
    struct ds all = {0}, train = {0}, valid = {0};
    const char *data = hml_json_str(c, "data", NULL);
    if (data) load_csv(data, hml_json_str(c, "target", ""), &all);
    else load_inline(c, &all);
    if (!strcmp(hml_json_str(c, "weights", "none"), "cyclic")) {
        all.w = hml_calloc(all.rows, sizeof *all.w);
        for (size_t i = 0; i < all.rows; i++) all.w[i] = 1.0 + 0.5 * (double)(i % 3);
    }
    ds_take(&all, 0, &train);
    ds_take(&all, 1, &valid);
    size_t k = (size_t)hml_json_int(c, "n_classes", 0);
    enum hml_model_mode mode = !strcmp(hml_json_str(c, "mode", ""), "regressor") ? HML_MODE_REGRESSOR : HML_MODE_CLASSIFIER;
    char *params = json_dumps(json_object_get(c, "params"), JSON_COMPACT);
    struct hml_model *m = create(hml_json_str(c, "backend", ""), params, mode);
    hml_free(params);
    struct hml_fit_data d = fit_data(&train, k);
    d.categorical = all.cat;
    d.levels = all.levels;
    if (hml_json_bool(c, "early_stopping", false)) {
        d.x_valid = valid.x;
        d.y_valid = valid.y;
        d.rows_valid = valid.rows;
    }
    fit(m, &d);
    double *p = predict(m, &all, k > 2 ? k : 1);
    near_all("predict", p, json_object_get(c, "predict"), all.rows * (k > 2 ? k : 1));
    check_importance_and_shap(m, &all, c);
    T_EQ(hml__xgb_best_iteration(m), hml_json_int(c, "best_iteration", -1));
    hml_free(p);
    m->vt->free(m);
    ds_free(&all);
    ds_free(&train);
    ds_free(&valid);
    json_decref(fx);
}

TEST(xgboost_matches_python_binary_weighted) { check_case("xgb_binary"); }
TEST(xgboost_matches_python_multiclass) { check_case("xgb_multiclass"); }
TEST(xgboost_matches_python_regression) { check_case("xgb_regression"); }
TEST(xgboost_matches_python_early_stopping) { check_case("xgb_early_stopping"); }
TEST(xgboost_matches_python_lossguide_weighted) { check_case("xgb_lossguide"); }
TEST(xgboost_matches_python_nan_categorical) { check_case("xgb_nan_categorical"); }
TEST(random_forest_matches_python_binary) { check_case("rf_binary"); }
TEST(random_forest_matches_python_multiclass) { check_case("rf_multiclass"); }
TEST(random_forest_matches_python_regression_weighted) { check_case("rf_regression"); }
TEST(lightgbm_matches_python_binary) { check_case("lgbm_binary"); }
TEST(lightgbm_matches_python_multiclass) { check_case("lgbm_multiclass"); }
TEST(lightgbm_matches_python_regression_weighted) { check_case("lgbm_regression"); }
