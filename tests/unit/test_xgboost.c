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
#include "harness/config.h"
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

/* ---- behaviour ---------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double unif(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* cols columns of uniform noise in [-1, 1]; column `signal` decides y: class
 * y = x_signal > 0.2 (classifier) or y = 3 x_signal + small noise (regressor). */
static void synth(struct ds *d, size_t rows, size_t cols, size_t signal, int regress)
{
    ds_alloc(d, rows, cols);
    for (size_t j = 0; j < cols; j++) {
        char name[32];
        snprintf(name, sizeof name, j == signal ? "signal" : "noise%zu", j);
        d->names[j] = hml_strdup(name);
    }
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++) d->x[i * cols + j] = (float)(2 * unif() - 1);
        double s = d->x[i * cols + signal];
        d->y[i] = regress ? 3 * s + 0.05 * (unif() - 0.5) : (double)(s > 0.2);
    }
}

static const char *const backends[] = {"xgboost", "random_forest", "lightgbm"};
static const char *const small[] = {"{\"n_estimators\": 20, \"max_depth\": 3}", "{\"n_estimators\": 20, \"max_depth\": 4}",
                                    "{\"num_iterations\": 20, \"num_leaves\": 8, \"min_data_in_leaf\": 5}"};

TEST(xgboost_backends_learn_a_known_signal)
{
    struct ds tr = {0}, te = {0};
    synth(&tr, 400, 4, 2, 0);
    synth(&te, 200, 4, 2, 0);
    for (size_t b = 0; b < 3; b++) {
        struct hml_model *m = create(backends[b], small[b], HML_MODE_CLASSIFIER);
        struct hml_fit_data d = fit_data(&tr, 2);
        fit(m, &d);
        double *p = predict(m, &te, 1);
        size_t right = 0;
        for (size_t i = 0; i < te.rows; i++) right += (p[i] > 0.5) == (te.y[i] > 0.5);
        if (right < 190) t_failf(__FILE__, __LINE__, "%s: %zu/200 right on held-out rows", backends[b], right);
        hml_free(p);
        m->vt->free(m);
    }
    ds_free(&tr);
    ds_free(&te);
    synth(&tr, 400, 4, 1, 1);
    synth(&te, 200, 4, 1, 1);
    for (size_t b = 0; b < 3; b++) {
        struct hml_model *m = create(backends[b], b == 1 ? "{\"n_estimators\": 20, \"max_depth\": 8}" : small[b],
                                     HML_MODE_REGRESSOR);
        struct hml_fit_data d = fit_data(&tr, 0);
        fit(m, &d);
        double *p = predict(m, &te, 1), sse = 0, sst = 0;
        for (size_t i = 0; i < te.rows; i++) sse += (p[i] - te.y[i]) * (p[i] - te.y[i]), sst += te.y[i] * te.y[i];
        if (1 - sse / sst < 0.9) t_failf(__FILE__, __LINE__, "%s: R² %.3f on held-out rows", backends[b], 1 - sse / sst);
        hml_free(p);
        m->vt->free(m);
    }
    ds_free(&tr);
    ds_free(&te);
}

TEST(xgboost_importance_names_the_informative_column_first)
{
    struct ds tr = {0};
    synth(&tr, 300, 5, 3, 0);
    for (size_t i = 0; i < tr.rows; i++) tr.x[i * tr.cols + 0] = 1.0f; /* constant: never split on */
    for (size_t b = 0; b < 3; b++) {
        struct hml_error err;
        struct hml_model *m = create(backends[b], small[b], HML_MODE_CLASSIFIER);
        struct hml_fit_data d = fit_data(&tr, 2);
        fit(m, &d);
        double imp[5];
        T_RC(m->vt->importance(m, imp, &err), &err);
        size_t best = 0;
        for (size_t j = 1; j < 5; j++) best = imp[j] > imp[best] ? j : best;
        T_STREQ(tr.names[best], "signal");
        T_OK(imp[0] == 0.0);
        for (size_t j = 1; j < 5; j++) T_OK(j == 3 || imp[j] < imp[3] / 5);
        m->vt->free(m);
    }
    ds_free(&tr);
}

TEST(xgboost_shap_rows_sum_to_the_margin)
{
    struct hml_error err;
    struct ds tr = {0};
    synth(&tr, 300, 4, 0, 0);
    struct hml_model *m = create("xgboost", "{\"n_estimators\": 10, \"max_depth\": 3}", HML_MODE_CLASSIFIER);
    struct hml_fit_data d = fit_data(&tr, 2);
    fit(m, &d);
    double *p = predict(m, &tr, 1), *s = hml_calloc(tr.rows * 5, sizeof *s);
    T_RC(m->vt->shap(m, tr.x, tr.rows, tr.cols, s, &err), &err);
    for (size_t i = 0; i < tr.rows; i++) {
        double sum = 0;
        for (size_t j = 0; j < 5; j++) sum += s[i * 5 + j];
        T_NEAR(sum, log(p[i] / (1 - p[i])), 2e-4); /* binary SHAP is in log-odds */
    }
    m->vt->free(m);
    hml_free(p);
    /* regression: contributions add up to the prediction itself */
    ds_free(&tr);
    synth(&tr, 300, 4, 0, 1);
    m = create("lightgbm", "{\"num_iterations\": 10}", HML_MODE_REGRESSOR);
    d = fit_data(&tr, 0);
    fit(m, &d);
    p = predict(m, &tr, 1);
    T_RC(m->vt->shap(m, tr.x, tr.rows, tr.cols, s, &err), &err);
    for (size_t i = 0; i < tr.rows; i++) {
        double sum = 0;
        for (size_t j = 0; j < 5; j++) sum += s[i * 5 + j];
        T_NEAR(sum, p[i], 1e-4);
    }
    T_OK(fabs(s[0]) > 10 * fabs(s[1])); /* the signal column carries the contribution */
    m->vt->free(m);
    hml_free(p);
    hml_free(s);
    ds_free(&tr);
}

TEST(xgboost_shap_refuses_multiclass)
{
    struct hml_error err;
    struct ds tr = {0};
    synth(&tr, 90, 3, 0, 0);
    for (size_t i = 0; i < tr.rows; i++) tr.y[i] = (double)(i % 3);
    struct hml_model *m = create("xgboost", "{\"n_estimators\": 2}", HML_MODE_CLASSIFIER);
    struct hml_fit_data d = fit_data(&tr, 3);
    fit(m, &d);
    double s[4 * 3];
    T_EQ(m->vt->shap(m, tr.x, 3, tr.cols, s, &err), HML_EINVAL);
    T_CONTAINS(err.message, "binary and regression");
    T_OK(err.hint[0] != 0);
    m->vt->free(m);
    ds_free(&tr);
}

static void save_load_identical(const char *type, const char *params, size_t k)
{
    struct hml_error err;
    struct ds tr = {0};
    synth(&tr, 200, 4, 1, k == 0);
    if (k > 2)
        for (size_t i = 0; i < tr.rows; i++) tr.y[i] = (double)(i % k);
    struct hml_model *m = create(type, params, k ? HML_MODE_CLASSIFIER : HML_MODE_REGRESSOR), *back = NULL;
    struct hml_fit_data d = fit_data(&tr, k);
    fit(m, &d);
    struct hml_buf b = HML_BUF_INIT;
    T_RC(m->vt->save(m, &b, &err), &err);
    T_RC(m->vt->load(b.p, b.len, &back, &err), &err);
    T_OK(back->vt == m->vt);
    size_t w = k > 2 ? k : 1;
    double *p1 = predict(m, &tr, w), *p2 = predict(back, &tr, w);
    T_OK(memcmp(p1, p2, tr.rows * w * sizeof *p1) == 0);
    double i1[4], i2[4];
    T_RC(m->vt->importance(m, i1, &err), &err);
    T_RC(back->vt->importance(back, i2, &err), &err);
    T_OK(memcmp(i1, i2, sizeof i1) == 0);
    /* saving the loaded model gives the same bytes again */
    struct hml_buf b2 = HML_BUF_INIT;
    T_RC(back->vt->save(back, &b2, &err), &err);
    T_EQ(b2.len, b.len);
    T_OK(memcmp(b.p, b2.p, b.len) == 0);
    hml_free(p1);
    hml_free(p2);
    hml_buf_free(&b);
    hml_buf_free(&b2);
    m->vt->free(m);
    back->vt->free(back);
    ds_free(&tr);
}

TEST(xgboost_save_load_predicts_identically)
{
    save_load_identical("xgboost", "{\"n_estimators\": 8, \"subsample\": 0.7}", 2);
    save_load_identical("xgboost", "{\"n_estimators\": 5}", 3);
    save_load_identical("random_forest", "{\"n_estimators\": 6}", 0);
    save_load_identical("lightgbm", "{\"num_iterations\": 8}", 0);
}

/* Rebuilds a saved blob around other model bytes, with a matching length and checksum. */
static void reblob(const struct hml_buf *b, const char *model, struct hml_buf *out)
{
    struct hml_error err;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)b->p[8 + i];
    json_t *h = NULL;
    T_RC(hml_json_parse(b->p + 16, (size_t)hlen, &h, &err), &err);
    char sha[65];
    hml_sha256_hex(model, strlen(model), sha);
    json_object_set_new(h, "booster_bytes", json_integer((json_int_t)strlen(model)));
    json_object_set_new(h, "booster_sha256", json_string(sha));
    char *text = json_dumps(h, JSON_COMPACT);
    size_t n = strlen(text);
    hml_buf_append(out, b->p, 8);
    for (int i = 0; i < 8; i++) hml_buf_putc(out, (char)(n >> (8 * i)));
    hml_buf_puts(out, text);
    hml_buf_puts(out, model);
    hml_free(text);
    json_decref(h);
}

TEST(xgboost_load_refuses_bad_bytes)
{
    struct hml_error err;
    struct ds tr = {0};
    synth(&tr, 100, 3, 0, 0);
    struct hml_model *m = create("xgboost", "{\"n_estimators\": 3}", HML_MODE_CLASSIFIER), *back = NULL;
    struct hml_fit_data d = fit_data(&tr, 2);
    fit(m, &d);
    struct hml_buf b = HML_BUF_INIT;
    T_RC(m->vt->save(m, &b, &err), &err);
    /* another backend's loader names the right one */
    T_EQ(hml_model_lightgbm.load(b.p, b.len, &back, &err), HML_EINVAL);
    T_CONTAINS(err.message, "'xgboost' model");
    T_CONTAINS(err.hint, "'xgboost'");
    T_EQ(hml_model_xgboost.load("garbage", 7, &back, &err), HML_EINVAL);
    T_OK(err.hint[0] != 0);
    T_EQ(hml_model_xgboost.load(b.p, 20, &back, &err), HML_EINVAL);
    /* truncated or altered model bytes never reach libxgboost (its UBJSON reader
     * overruns on them) */
    T_EQ(hml_model_xgboost.load(b.p, b.len - 30, &back, &err), HML_EINVAL);
    T_CONTAINS(err.message, "truncated");
    b.p[b.len - 40] ^= 0x5a;
    T_EQ(hml_model_xgboost.load(b.p, b.len, &back, &err), HML_EINVAL);
    T_CONTAINS(err.message, "checksum");
    b.p[b.len - 40] ^= 0x5a;
    /* a sound blob whose model libxgboost rejects: its error, wrapped once */
    struct hml_buf bad = HML_BUF_INIT;
    reblob(&b, "{}", &bad);
    T_EQ(hml_model_xgboost.load(bad.p, bad.len, &back, &err), HML_EBACKEND);
    /* libxgboost said "[hh:mm:ss] ./src/learner.cc:1008: Invalid model format\nStack trace:…" */
    T_STREQ(err.message, "xgboost: Invalid model format");
    T_CONTAINS(err.hint, "refit");
    T_OK(back == NULL);
    hml_buf_free(&bad);
    hml_buf_free(&b);
    m->vt->free(m);
    ds_free(&tr);
}

TEST(xgboost_zero_weights_equal_removing_rows)
{
    struct ds all = {0}, kept = {0};
    load_csv("breast_cancer.csv", "malignant", &all);
    all.w = hml_calloc(all.rows, sizeof *all.w);
    size_t n = 0;
    for (size_t i = 0; i < all.rows; i++) n += (all.w[i] = i % 5 == 0 ? 0 : 1) > 0;
    ds_alloc(&kept, n, all.cols);
    for (size_t j = 0; j < all.cols; j++) kept.names[j] = hml_strdup(all.names[j]);
    for (size_t i = 0, k = 0; i < all.rows; i++)
        if (all.w[i] > 0) {
            memcpy(kept.x + k * all.cols, all.x + i * all.cols, all.cols * sizeof *all.x);
            kept.y[k++] = all.y[i];
        }
    /* row subsampling draws over all rows, zero-weight ones included, so the forest
     * compares without it */
    const char *const params[] = {small[0], "{\"n_estimators\": 5, \"subsample\": 1}", small[2]};
    for (size_t b = 0; b < 3; b++) {
        struct hml_model *m1 = create(backends[b], params[b], HML_MODE_CLASSIFIER);
        struct hml_model *m2 = create(backends[b], params[b], HML_MODE_CLASSIFIER);
        struct hml_fit_data d1 = fit_data(&all, 2), d2 = fit_data(&kept, 2);
        fit(m1, &d1);
        fit(m2, &d2);
        double *p1 = predict(m1, &all, 1), *p2 = predict(m2, &all, 1);
        for (size_t i = 0; i < all.rows; i++)
            if (p1[i] != p2[i]) t_failf(__FILE__, __LINE__, "%s row %zu: %.9g vs %.9g", backends[b], i, p1[i], p2[i]);
        hml_free(p1);
        hml_free(p2);
        m1->vt->free(m1);
        m2->vt->free(m2);
    }
    ds_free(&all);
    ds_free(&kept);
}

TEST(xgboost_weights_shift_predictions_toward_heavy_rows)
{
    struct ds tr = {0};
    synth(&tr, 300, 3, 0, 0);
    for (size_t i = 0; i < tr.rows; i += 3) tr.y[i] = 1 - tr.y[i]; /* label noise for weights to act on */
    double mean[2];
    for (int weighted = 0; weighted < 2; weighted++) {
        if (weighted) {
            tr.w = hml_calloc(tr.rows, sizeof *tr.w);
            for (size_t i = 0; i < tr.rows; i++) tr.w[i] = tr.y[i] > 0.5 ? 4.0 : 1.0;
        }
        struct hml_model *m = create("xgboost", "{\"n_estimators\": 10, \"max_depth\": 2}", HML_MODE_CLASSIFIER);
        struct hml_fit_data d = fit_data(&tr, 2);
        fit(m, &d);
        double *p = predict(m, &tr, 1);
        mean[weighted] = 0;
        for (size_t i = 0; i < tr.rows; i++) mean[weighted] += p[i] / (double)tr.rows;
        hml_free(p);
        m->vt->free(m);
    }
    T_OK(mean[1] > mean[0] + 0.1); /* positives weigh 4×: P(1) rises */
    ds_free(&tr);
}

TEST(xgboost_missing_values_are_native)
{
    struct ds tr = {0};
    synth(&tr, 300, 3, 0, 0);
    /* the signal is missingness itself: y = 1 exactly where x1 is NaN */
    for (size_t i = 0; i < tr.rows; i++) {
        tr.y[i] = (double)(i % 3 == 0);
        if (i % 3 == 0) tr.x[i * 3 + 1] = NAN;
    }
    for (size_t b = 0; b < 3; b++) {
        T_OK(hml_model_find(backends[b])->caps & HML_CAP_NAN);
        struct hml_model *m = create(backends[b], small[b], HML_MODE_CLASSIFIER);
        struct hml_fit_data d = fit_data(&tr, 2);
        fit(m, &d);
        double *p = predict(m, &tr, 1);
        for (size_t i = 0; i < tr.rows; i++)
            if ((p[i] > 0.5) != (i % 3 == 0)) t_failf(__FILE__, __LINE__, "%s row %zu: p %.3f", backends[b], i, p[i]);
        hml_free(p);
        m->vt->free(m);
    }
    ds_free(&tr);
}

/* y = 1 for levels {1, 4, 6} of 8: one depth-1 tree separates that only by
 * partitioning the levels, which a numeric split cannot do. */
static double cat_gap(int categorical)
{
    struct ds tr = {0};
    ds_alloc(&tr, 400, 1);
    tr.names[0] = hml_strdup("level");
    uint8_t flag = (uint8_t)categorical;
    uint32_t levels = 8;
    for (size_t i = 0; i < tr.rows; i++) {
        tr.x[i] = (float)(i % 8);
        tr.y[i] = (double)(i % 8 == 1 || i % 8 == 4 || i % 8 == 6);
    }
    struct hml_model *m = create("xgboost", "{\"n_estimators\": 1, \"max_depth\": 1, \"learning_rate\": 1}",
                                 HML_MODE_CLASSIFIER);
    struct hml_fit_data d = fit_data(&tr, 2);
    d.categorical = &flag;
    d.levels = &levels;
    fit(m, &d);
    double *p = predict(m, &tr, 1), lo_pos = 1, hi_neg = 0;
    for (size_t i = 0; i < 8; i++) {
        if (tr.y[i] > 0.5) lo_pos = p[i] < lo_pos ? p[i] : lo_pos;
        else hi_neg = p[i] > hi_neg ? p[i] : hi_neg;
    }
    /* an unseen level code predicts without error */
    struct hml_error err;
    float unseen = 20;
    double pu;
    T_RC(m->vt->predict(m, &unseen, 1, 1, &pu, &err), &err);
    T_OK(pu > 0 && pu < 1);
    hml_free(p);
    m->vt->free(m);
    ds_free(&tr);
    return lo_pos - hi_neg;
}

TEST(xgboost_categorical_columns_split_by_level_sets)
{
    T_OK(cat_gap(1) > 0.3);  /* categorical: every positive level above every negative */
    T_OK(cat_gap(0) <= 0.0); /* numeric: one threshold cannot separate {1, 4, 6} */
}

TEST(xgboost_early_stopping_keeps_and_predicts_with_the_best_round)
{
    struct ds tr = {0}, va = {0}, te = {0};
    synth(&tr, 300, 4, 0, 0);
    synth(&va, 150, 4, 0, 0);
    synth(&te, 100, 4, 0, 0);
    for (size_t i = 0; i < tr.rows; i += 4) tr.y[i] = 1 - tr.y[i]; /* noise, so the hold-out loss turns */
    struct hml_model *m = create("xgboost", "{\"n_estimators\": 300, \"learning_rate\": 0.5, \"early_stopping_rounds\": 5}",
                                 HML_MODE_CLASSIFIER);
    struct hml_fit_data d = fit_data(&tr, 2);
    d.x_valid = va.x;
    d.y_valid = va.y;
    d.rows_valid = va.rows;
    fit(m, &d);
    int best = hml__xgb_best_iteration(m);
    T_OK(best >= 0 && best < 290);
    T_EQ(hml__xgb_rounds(m), best + 1);
    /* the same model boosted for best+1 rounds without a hold-out predicts the same */
    char params[96];
    snprintf(params, sizeof params, "{\"n_estimators\": %d, \"learning_rate\": 0.5, \"early_stopping_rounds\": 5}", best + 1);
    struct hml_model *ref = create("xgboost", params, HML_MODE_CLASSIFIER);
    struct hml_fit_data d2 = fit_data(&tr, 2);
    fit(ref, &d2); /* no hold-out: early stopping is off and every round runs */
    T_EQ(hml__xgb_best_iteration(ref), -1);
    T_EQ(hml__xgb_rounds(ref), best + 1);
    double *p1 = predict(m, &te, 1), *p2 = predict(ref, &te, 1);
    T_OK(memcmp(p1, p2, te.rows * sizeof *p1) == 0);
    hml_free(p1);
    hml_free(p2);
    m->vt->free(m);
    ref->vt->free(ref);
    ds_free(&tr);
    ds_free(&va);
    ds_free(&te);
}

struct progress_log {
    volatile int cancel;
    int calls;
    double last_done, last_total;
};

static void on_progress(void *ud, double done, double total, const char *message)
{
    struct progress_log *pl = ud;
    pl->calls++;
    pl->last_done = done;
    pl->last_total = total;
    T_OK(strstr(message, "round") != NULL);
    if (done >= 3) pl->cancel = 1;
}

TEST(xgboost_cancel_mid_fit_returns_cancelled)
{
    struct hml_error err;
    struct ds tr = {0};
    synth(&tr, 200, 3, 0, 0);
    for (size_t b = 0; b < 3; b += 2) { /* the forest has a single round: nothing to cancel between */
        struct progress_log pl = {0};
        struct hml_fit_ctl ctl = {.cancel = &pl.cancel, .progress = on_progress, .progress_ud = &pl, .nthread = 1};
        struct hml_model *m = create(backends[b], b ? "{\"num_iterations\": 50}" : "{\"n_estimators\": 50}",
                                     HML_MODE_CLASSIFIER);
        struct hml_fit_data d = fit_data(&tr, 2);
        T_EQ(m->vt->fit(m, &d, &ctl, &err), HML_ECONFLICT);
        T_STREQ(err.message, "cancelled");
        T_OK(err.hint[0] != 0);
        T_EQ(pl.calls, 3);
        T_EQ(pl.last_done, 3);
        T_EQ(pl.last_total, 50);
        double p;
        T_EQ(m->vt->predict(m, tr.x, 1, tr.cols, &p, &err), HML_ECONFLICT); /* still unfitted */
        m->vt->free(m);
    }
    ds_free(&tr);
}

TEST(xgboost_writes_nothing_to_stdout)
{
    struct hml_error err;
    struct ds tr = {0}, va = {0};
    synth(&tr, 200, 3, 0, 0);
    synth(&va, 60, 3, 0, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/stdout", t_tmpdir());
    fflush(stdout);
    int saved = dup(1), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    T_OK(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    int rc = 0;
    const char *const params[] = {"{\"n_estimators\": 30, \"early_stopping_rounds\": 2}", small[1],
                                  "{\"num_iterations\": 30, \"early_stopping_rounds\": 2}"};
    for (size_t b = 0; b < 3; b++) {
        struct hml_model *m = create(backends[b], params[b], HML_MODE_CLASSIFIER), *back = NULL;
        struct hml_fit_data d = fit_data(&tr, 2);
        d.x_valid = va.x, d.y_valid = va.y, d.rows_valid = va.rows;
        double p[200 * 4], imp[3];
        struct hml_buf buf = HML_BUF_INIT;
        rc |= m->vt->fit(m, &d, &ctl1, &err) || m->vt->predict(m, tr.x, tr.rows, tr.cols, p, &err) ||
              m->vt->shap(m, tr.x, tr.rows, tr.cols, p, &err) || m->vt->importance(m, imp, &err) ||
              m->vt->save(m, &buf, &err) || m->vt->load(buf.p, buf.len, &back, &err);
        rc |= m->vt->load(buf.p, buf.len / 2, &back, &err) == HML_OK; /* an error path too */
        if (back) back->vt->free(back);
        hml_buf_free(&buf);
        m->vt->free(m);
    }
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    T_EQ(rc, 0);
    struct stat st;
    T_OK(stat(path, &st) == 0);
    T_EQ(st.st_size, 0);
    ds_free(&tr);
    ds_free(&va);
}

TEST(xgboost_params_unknown_alias_and_range_errors)
{
    struct hml_error err;
    struct hml_model *m = NULL;
    json_t *p = json_pack("{s:i}", "n_estimator", 10);
    T_EQ(hml_model_xgboost.create(p, HML_MODE_CLASSIFIER, &m, &err), HML_EINVAL);
    T_CONTAINS(err.message, "unknown param 'n_estimator'");
    T_CONTAINS(err.hint, "did you mean 'n_estimators'?");
    T_CONTAINS(err.valid, "max_depth");
    json_decref(p);
    p = json_pack("{s:i}", "num_leave", 10);
    T_EQ(hml_model_lightgbm.create(p, HML_MODE_CLASSIFIER, &m, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "did you mean 'num_leaves'?");
    json_decref(p);
    p = json_pack("{s:f}", "learning_rate", 0.1); /* a forest has no learning rate */
    T_EQ(hml_model_random_forest.create(p, HML_MODE_CLASSIFIER, &m, &err), HML_EINVAL);
    T_CONTAINS(err.valid, "colsample_bynode");
    json_decref(p);
    p = json_pack("{s:f, s:f}", "learning_rate", 0.1, "eta", 0.2);
    T_EQ(hml_model_xgboost.create(p, HML_MODE_CLASSIFIER, &m, &err), HML_EINVAL);
    T_CONTAINS(err.message, "'learning_rate' and 'eta' both set");
    T_CONTAINS(err.hint, "'learning_rate' is the canonical name");
    json_decref(p);
    p = json_pack("{s:f}", "subsample", 0.0);
    T_EQ(hml_model_xgboost.create(p, HML_MODE_CLASSIFIER, &m, &err), HML_EINVAL);
    T_CONTAINS(err.message, "out of range");
    T_OK(err.hint[0] != 0);
    json_decref(p);
    p = json_pack("{s:s}", "grow_policy", "leafwise");
    T_EQ(hml_model_xgboost.create(p, HML_MODE_CLASSIFIER, &m, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "lossguide");
    json_decref(p);
    T_OK(m == NULL);
}

TEST(xgboost_aliases_mean_the_same_model)
{
    struct ds tr = {0};
    synth(&tr, 200, 3, 0, 0);
    const char *const pairs[][3] = {
        {"xgboost", "{\"n_estimators\": 7, \"learning_rate\": 0.2, \"reg_lambda\": 3, \"gamma\": 0.1}",
         "{\"num_boost_round\": 7, \"eta\": 0.2, \"lambda\": 3, \"min_split_loss\": 0.1}"},
        {"lightgbm", "{\"num_iterations\": 7, \"num_leaves\": 5, \"lambda_l2\": 2, \"bagging_fraction\": 0.6}",
         "{\"n_estimators\": 7, \"max_leaves\": 5, \"reg_lambda\": 2, \"subsample\": 0.6}"},
    };
    for (size_t i = 0; i < 2; i++) {
        struct hml_model *a = create(pairs[i][0], pairs[i][1], HML_MODE_CLASSIFIER);
        struct hml_model *b = create(pairs[i][0], pairs[i][2], HML_MODE_CLASSIFIER);
        struct hml_fit_data d = fit_data(&tr, 2);
        fit(a, &d);
        fit(b, &d);
        T_EQ(hml__xgb_rounds(a), 7);
        double *pa = predict(a, &tr, 1), *pb = predict(b, &tr, 1);
        T_OK(memcmp(pa, pb, tr.rows * sizeof *pa) == 0);
        hml_free(pa);
        hml_free(pb);
        a->vt->free(a);
        b->vt->free(b);
    }
    ds_free(&tr);
}

TEST(xgboost_lightgbm_min_data_in_leaf_becomes_a_hessian_bound)
{
    json_t *p = json_pack("{s:i}", "min_data_in_leaf", 40);
    const struct xgb_kv *kv;
    double want[] = {40 * 0.25, 40.0, 40 * 2 * (1.0 / 4) * (3.0 / 4)};
    size_t classes[] = {2, 0, 4};
    for (size_t c = 0; c < 3; c++) {
        struct xgb_plan plan = {0};
        hml__xgb_backend_lightgbm.plan(&hml_model_lightgbm, p, classes[c] ? HML_MODE_CLASSIFIER : HML_MODE_REGRESSOR,
                                       classes[c], &plan);
        double mcw = -1;
        int lossguide = 0;
        for (size_t i = 0; i < plan.kv_n; i++) {
            kv = &plan.kv[i];
            if (!strcmp(kv->name, "min_child_weight")) mcw = strtod(kv->value, NULL);
            if (!strcmp(kv->name, "grow_policy")) lossguide = !strcmp(kv->value, "lossguide");
        }
        T_NEAR(mcw, want[c], 1e-12);
        T_OK(lossguide);
        T_EQ(plan.rounds, 100);
    }
    json_decref(p);
}

TEST(xgboost_registry_lists_the_three_backends)
{
    for (size_t b = 0; b < 3; b++) {
        const struct hml_model_vt *vt = hml_model_find(backends[b]);
        T_OK(vt != NULL);
        T_EQ(vt->version, HML_MODEL_API_VERSION);
        T_OK((vt->caps & (HML_CAP_NAN | HML_CAP_CATEGORICAL | HML_CAP_WEIGHTS | HML_CAP_SHAP)) ==
             (HML_CAP_NAN | HML_CAP_CATEGORICAL | HML_CAP_WEIGHTS | HML_CAP_SHAP));
    }
    T_OK(hml_model_find("xgboost") == &hml_model_xgboost);
    T_CONTAINS(hml_model_lightgbm.engine, "not packaged for this platform");
    T_CONTAINS(hml_model_lightgbm.engine, "lossguide");
}

TEST(xgboost_fit_refuses_bad_data)
{
    struct hml_error err;
    struct ds tr = {0};
    synth(&tr, 50, 2, 0, 0);
    struct hml_model *m = create("xgboost", "{\"n_estimators\": 2}", HML_MODE_CLASSIFIER);
    struct hml_fit_data d = fit_data(&tr, 2);
    tr.y[7] = 2;
    T_EQ(m->vt->fit(m, &d, &ctl1, &err), HML_EINVAL);
    T_CONTAINS(err.message, "row 7");
    T_CONTAINS(err.hint, "0..1");
    tr.y[7] = 1;
    tr.x[5] = INFINITY;
    T_EQ(m->vt->fit(m, &d, &ctl1, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "NaN");
    tr.x[5] = 0;
    hml_free(tr.names[1]);
    tr.names[1] = hml_strdup(tr.names[0]);
    T_EQ(m->vt->fit(m, &d, &ctl1, &err), HML_EINVAL);
    T_CONTAINS(err.message, "twice");
    d.n_classes = 1;
    T_EQ(m->vt->fit(m, &d, &ctl1, &err), HML_EINVAL);
    T_OK(err.hint[0] != 0);
    double p;
    T_EQ(m->vt->predict(m, tr.x, 1, 2, &p, &err), HML_ECONFLICT);
    T_OK(err.hint[0] != 0);
    hml_free(tr.names[1]);
    tr.names[1] = hml_strdup("other");
    d.n_classes = 2;
    fit(m, &d);
    T_EQ(m->vt->predict(m, tr.x, 1, 3, &p, &err), HML_EINVAL);
    T_CONTAINS(err.message, "2 columns");
    m->vt->free(m);
    ds_free(&tr);
}
