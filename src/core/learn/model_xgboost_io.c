/* model_xgboost_io.c — everything a fitted libxgboost model does: predict, SHAP,
 * importance, save and load. The blob format is described in model_xgboost_int.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/learn/model_xgboost_int.h"
#include "harness/alloc.h"
#include "harness/config.h"

#define BLOB_MAGIC "HMLXGB1\n"
#define BLOB_MAGIC_LEN 8

enum { PRED_VALUE = 0, PRED_CONTRIB = 2 };

static enum hml_status check_fitted(const struct xgb_model *m, const char *what, struct hml_error *err)
{
    if (m->booster) return HML_OK;
    hml_fail(err, HML_ECONFLICT, what, "the %s model is not fitted", m->be->vt->name);
    return hml_hint(err, "fit it (or load a saved one) first");
}

static enum hml_status check_cols(const struct xgb_model *m, size_t cols, const char *what, struct hml_error *err)
{
    if (cols == m->n_features) return HML_OK;
    hml_fail(err, HML_EINVAL, what, "the model was fitted on %zu columns, not %zu", m->n_features, cols);
    return hml_hint(err, "pass the same feature columns, in the same order, as at fit");
}

/* Prediction over a dense float32 matrix: in place for values; through a DMatrix for
 * SHAP, which 1.7's in-place path refuses ("Unsupported prediction type:2"). The
 * result stays owned by libxgboost (per thread) until its next call; n is its length. */
static enum hml_status predict_raw(const struct xgb_model *m, const float *x, size_t rows, int type,
                                   const float **res, size_t *n, struct hml_error *err)
{
    HML_ASSERT(m->booster != NULL);
    HML_ASSERT(x != NULL && rows > 0);
    hml__xgb_quiet();
    char data[160], cfg[200];
    snprintf(data, sizeof data, "{\"data\":[%" PRIuPTR ",true],\"shape\":[%zu,%zu],\"typestr\":\"<f4\",\"version\":3}",
             (uintptr_t)x, rows, m->n_features);
    /* 1.7.4 needs cache_id, and reads the rest without defaults. */
    snprintf(cfg, sizeof cfg,
             "{\"type\":%d,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"strict_shape\":false,"
             "\"cache_id\":0,\"missing\":NaN}",
             type);
    const bst_ulong *shape = NULL;
    bst_ulong dim = 0;
    int fail;
    if (type == PRED_VALUE) {
        fail = XGBoosterPredictFromDense(m->booster, data, cfg, NULL, &shape, &dim, res);
    } else {
        DMatrixHandle dm = NULL;
        enum hml_status rc = hml__xgb_dmatrix(m, x, rows, NULL, NULL, &dm, err);
        if (rc) return rc;
        fail = XGBoosterPredictFromDMatrix(m->booster, dm, cfg, &shape, &dim, res);
        XGDMatrixFree(dm);
    }
    if (fail) return hml__xgb_backend_error(err, "xgboost.predict");
    size_t len = 1;
    for (bst_ulong i = 0; i < dim; i++) len *= (size_t)shape[i];
    *n = len;
    return HML_OK;
}

static enum hml_status copy_out(const float *res, size_t n, size_t want, double *out, struct hml_error *err)
{
    if (n != want) {
        hml_fail(err, HML_EINTERNAL, "xgboost.predict", "libxgboost returned %zu values, expected %zu", n, want);
        return hml_hint(err, "the booster's output shape does not match the model's header; refit it");
    }
    for (size_t i = 0; i < n; i++) out[i] = res[i];
    return HML_OK;
}

enum hml_status hml__xgb_predict(const struct hml_model *base, const float *x, size_t rows, size_t cols, double *out,
                                 struct hml_error *err)
{
    const struct xgb_model *m = (const struct xgb_model *)base;
    enum hml_status rc = check_fitted(m, "models.predict", err);
    if (!rc) rc = check_cols(m, cols, "models.predict", err);
    if (rc || rows == 0) return rc;
    HML_ASSERT(out != NULL);
    const float *res = NULL;
    size_t n = 0;
    size_t width = m->n_classes > 2 ? m->n_classes : 1;
    rc = predict_raw(m, x, rows, PRED_VALUE, &res, &n, err);
    return rc ? rc : copy_out(res, n, rows * width, out, err);
}

enum hml_status hml__xgb_shap(const struct hml_model *base, const float *x, size_t rows, size_t cols, double *out,
                              struct hml_error *err)
{
    const struct xgb_model *m = (const struct xgb_model *)base;
    enum hml_status rc = check_fitted(m, "models.shap", err);
    if (!rc) rc = check_cols(m, cols, "models.shap", err);
    if (rc) return rc;
    if (m->n_classes > 2) {
        hml_fail(err, HML_EINVAL, "models.shap", "SHAP contributions are for binary and regression models");
        return hml_hint(err, "use gain importance for a %zu-class model", m->n_classes);
    }
    if (rows == 0) return HML_OK;
    const float *res = NULL;
    size_t n = 0;
    rc = predict_raw(m, x, rows, PRED_CONTRIB, &res, &n, err);
    return rc ? rc : copy_out(res, n, rows * (cols + 1), out, err);
}

/* ---- importance --------------------------------------------------------------------- */

struct name_ix {
    const char *name;
    size_t ix;
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct name_ix *)a)->name, ((const struct name_ix *)b)->name);
}

/* Adds libxgboost's per-name scores into out[] by column, through a sorted name index. */
static enum hml_status scatter_scores(const struct xgb_model *m, const char **names, const float *scores, size_t n,
                                      double *out, struct hml_error *err)
{
    struct name_ix *ix = hml_malloc(m->n_features * sizeof *ix);
    if (!ix) return hml_fail(err, HML_ENOMEM, "models.importance", "out of memory");
    for (size_t j = 0; j < m->n_features; j++) ix[j] = (struct name_ix){m->names[j], j};
    qsort(ix, m->n_features, sizeof *ix, name_cmp);
    enum hml_status rc = HML_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        struct name_ix key = {names[i], 0};
        const struct name_ix *hit = bsearch(&key, ix, m->n_features, sizeof *ix, name_cmp);
        if (hit) {
            out[hit->ix] += scores[i];
            continue;
        }
        hml_fail(err, HML_EINTERNAL, "models.importance", "libxgboost scored an unknown feature '%s'", names[i]);
        rc = hml_hint(err, "the booster's feature names differ from the model's; refit it");
    }
    hml_free(ix);
    return rc;
}

enum hml_status hml__xgb_importance(const struct hml_model *base, double *out, struct hml_error *err)
{
    const struct xgb_model *m = (const struct xgb_model *)base;
    enum hml_status rc = check_fitted(m, "models.importance", err);
    if (rc) return rc;
    HML_ASSERT(out != NULL);
    hml__xgb_quiet();
    bst_ulong n = 0, dim = 0;
    const char **names = NULL;
    const bst_ulong *shape = NULL;
    const float *scores = NULL;
    if (XGBoosterFeatureScore(m->booster, "{\"importance_type\":\"total_gain\"}", &n, &names, &dim, &shape, &scores))
        return hml__xgb_backend_error(err, "xgboost.importance");
    if (dim != 1 || shape[0] != n) {
        hml_fail(err, HML_EINTERNAL, "models.importance", "libxgboost returned importance of shape %d-d", (int)dim);
        return hml_hint(err, "gain importance is defined for tree boosters only");
    }
    for (size_t j = 0; j < m->n_features; j++) out[j] = 0;
    return scatter_scores(m, names, scores, n, out, err);
}

/* ---- save --------------------------------------------------------------------------- */

static json_t *header_json(const struct xgb_model *m, size_t booster_len, const char *booster_sha256)
{
    json_t *names = json_array(), *cat = json_array();
    if (!names || !cat) {
        json_decref(names);
        json_decref(cat);
        return NULL;
    }
    for (size_t j = 0; j < m->n_features; j++) {
        json_array_append_new(names, json_string(m->names[j]));
        json_array_append_new(cat, json_integer(m->categorical[j]));
    }
    return json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:o, s:o, s:O, s:I, s:s}", "backend", m->be->vt->name,
                     "mode", m->mode == HML_MODE_CLASSIFIER ? "classifier" : "regressor", "n_classes",
                     (json_int_t)m->n_classes, "n_features", (json_int_t)m->n_features, "rounds", m->rounds,
                     "best_iteration", m->best_iteration, "nthread", m->nthread, "feature_names", names, "categorical",
                     cat, "params", m->params, "booster_bytes", (json_int_t)booster_len, "booster_sha256",
                     booster_sha256);
}

static void put_u64(struct hml_buf *b, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(v >> (8 * i));
    hml_buf_append(b, le, 8);
}

/* Layout: magic, u64 LE header length, header JSON, libxgboost's UBJSON model. The
 * header carries the model's length and SHA-256: libxgboost 1.7.4's UBJSON reader
 * overruns its buffer on truncated input, so load never hands it unverified bytes. */
enum hml_status hml__xgb_save(const struct hml_model *base, struct hml_buf *out, struct hml_error *err)
{
    const struct xgb_model *m = (const struct xgb_model *)base;
    enum hml_status rc = check_fitted(m, "models.save", err);
    if (rc) return rc;
    HML_ASSERT(out != NULL);
    hml__xgb_quiet();
    bst_ulong len = 0;
    const char *raw = NULL;
    if (XGBoosterSaveModelToBuffer(m->booster, "{\"format\":\"ubj\"}", &len, &raw))
        return hml__xgb_backend_error(err, "xgboost.save");
    char sha[65];
    hml_sha256_hex(raw, len, sha);
    json_t *h = header_json(m, len, sha);
    char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (!text) return hml_fail(err, HML_ENOMEM, "models.save", "out of memory");
    hml_buf_append(out, BLOB_MAGIC, BLOB_MAGIC_LEN);
    put_u64(out, strlen(text));
    hml_buf_puts(out, text);
    hml_buf_append(out, raw, len);
    hml_free(text);
    if (!hml_buf_ok(out)) return hml_fail(err, HML_ENOMEM, "models.save", "out of memory");
    return HML_OK;
}

/* ---- load --------------------------------------------------------------------------- */

static enum hml_status corrupt(struct hml_error *err, const char *what)
{
    hml_fail(err, HML_EINVAL, "models.load", "not a saved libxgboost model: %s", what);
    return hml_hint(err, "load bytes written by save of the xgboost, random_forest or lightgbm backend");
}

static enum hml_status split_blob(const unsigned char *p, size_t len, json_t **header, const void **booster,
                                  size_t *booster_len, struct hml_error *err)
{
    if (len < BLOB_MAGIC_LEN + 8 || memcmp(p, BLOB_MAGIC, BLOB_MAGIC_LEN)) return corrupt(err, "bad magic");
    if (len > XGB_BLOB_MAX) return corrupt(err, "too large");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[BLOB_MAGIC_LEN + i];
    size_t off = BLOB_MAGIC_LEN + 8;
    if (hlen > len - off) return corrupt(err, "header runs past the end");
    if (hml_json_parse((const char *)p + off, (size_t)hlen, header, err)) return corrupt(err, "bad header");
    *booster = p + off + hlen;
    *booster_len = len - off - (size_t)hlen;
    return HML_OK;
}

static enum hml_status header_names(struct xgb_model *m, const json_t *h, struct hml_error *err)
{
    const json_t *names = json_object_get(h, "feature_names"), *cat = json_object_get(h, "categorical");
    if (json_array_size(names) != m->n_features || json_array_size(cat) != m->n_features)
        return corrupt(err, "feature lists do not match n_features");
    if (!(m->names = hml_calloc(m->n_features, sizeof *m->names)) || !(m->categorical = hml_calloc(m->n_features, 1)))
        return hml_fail(err, HML_ENOMEM, "models.load", "out of memory");
    for (size_t j = 0; j < m->n_features; j++) {
        const char *s = json_string_value(json_array_get(names, j));
        if (!s) return corrupt(err, "a feature name is not a string");
        if (!(m->names[j] = hml_strdup(s))) return hml_fail(err, HML_ENOMEM, "models.load", "out of memory");
        m->categorical[j] = json_integer_value(json_array_get(cat, j)) != 0;
    }
    return HML_OK;
}

static enum hml_status check_booster_bytes(const json_t *h, const void *raw, size_t len, struct hml_error *err)
{
    char sha[65];
    if (hml_json_int(h, "booster_bytes", -1) != (int64_t)len) return corrupt(err, "the model bytes are truncated");
    hml_sha256_hex(raw, len, sha);
    if (strcmp(sha, hml_json_str(h, "booster_sha256", ""))) return corrupt(err, "the model bytes fail their checksum");
    return HML_OK;
}

static enum hml_status read_header(struct xgb_model *m, const json_t *h, struct hml_error *err)
{
    const char *backend = hml_json_str(h, "backend", ""), *mode = hml_json_str(h, "mode", "");
    if (strcmp(backend, m->be->vt->name)) {
        hml_fail(err, HML_EINVAL, "models.load", "the bytes hold a '%s' model, not '%s'", backend, m->be->vt->name);
        return hml_hint(err, "load it with the '%s' backend", backend);
    }
    int64_t k = hml_json_int(h, "n_classes", -1), f = hml_json_int(h, "n_features", -1);
    m->mode = !strcmp(mode, "classifier") ? HML_MODE_CLASSIFIER : HML_MODE_REGRESSOR;
    int ok_mode = !strcmp(mode, "regressor") ? k == 0 : !strcmp(mode, "classifier") && k >= 2 && k <= XGB_CLASSES_MAX;
    if (!ok_mode || f < 1 || f > (int64_t)XGB_COLS_MAX) return corrupt(err, "bad mode, n_classes or n_features");
    m->n_classes = (size_t)k;
    m->n_features = (size_t)f;
    m->rounds = (int)hml_json_int(h, "rounds", 0);
    m->best_iteration = (int)hml_json_int(h, "best_iteration", -1);
    m->nthread = (int)hml_json_int(h, "nthread", 0);
    const json_t *params = json_object_get(h, "params");
    if (!json_is_object(params)) return corrupt(err, "no params");
    json_decref(m->params);
    m->params = json_deep_copy(params);
    if (!m->params) return hml_fail(err, HML_ENOMEM, "models.load", "out of memory");
    return header_names(m, h, err);
}

static enum hml_status load_booster(struct xgb_model *m, const void *raw, size_t len, struct hml_error *err)
{
    if (XGBoosterCreate(NULL, 0, &m->booster)) return hml__xgb_backend_error(err, "xgboost.load");
    if (XGBoosterSetParam(m->booster, "verbosity", "0") || XGBoosterLoadModelFromBuffer(m->booster, raw, len))
        return hml__xgb_backend_error(err, "xgboost.load");
    enum hml_status rc = hml__xgb_booster_setup(m->booster, m, err);
    bst_ulong nf = 0;
    if (!rc && XGBoosterGetNumFeature(m->booster, &nf)) return hml__xgb_backend_error(err, "xgboost.load");
    if (!rc && nf != m->n_features) return corrupt(err, "the booster's feature count differs from the header's");
    return rc;
}

enum hml_status hml__xgb_load(const struct xgb_backend *be, const void *data, size_t len, struct hml_model **out,
                              struct hml_error *err)
{
    HML_ASSERT(be != NULL && out != NULL);
    HML_ASSERT(data != NULL || len == 0);
    hml__xgb_quiet();
    json_t *h = NULL;
    const void *raw = NULL;
    size_t raw_len = 0;
    enum hml_status rc = split_blob(data, len, &h, &raw, &raw_len, err);
    if (rc) return rc;
    struct hml_model *base = NULL;
    rc = hml__xgb_create(be, NULL, HML_MODE_REGRESSOR, &base, err);
    if (!rc) rc = check_booster_bytes(h, raw, raw_len, err);
    if (!rc) rc = read_header((struct xgb_model *)base, h, err);
    if (!rc) rc = load_booster((struct xgb_model *)base, raw, raw_len, err);
    json_decref(h);
    if (rc) {
        hml__xgb_free(base);
        return rc;
    }
    *out = base;
    return HML_OK;
}
