/* model.h — the model registry: versioned vtables registered by name (the SQLite
 * VFS pattern). A backend sees only dense float matrices (NaN = missing) with
 * declared categorical columns, a target, and optional weights; everything about
 * frames, features and folds happens above it.
 *
 * Conventions every backend follows:
 * - Classification targets are class indices 0..n_classes-1 (as doubles).
 * - predict writes probabilities: rows × n_classes for multiclass, rows values of
 *   P(class 1) for binary, and the predicted value for regression.
 * - Unknown keys in params are refused with the valid keys listed (hml_model_params_check).
 * - fit honours ctl->cancel between iterations (boosting rounds, epochs, sweeps) and
 *   returns HML_ECONFLICT "cancelled" when it fires.
 * - Nothing is ever written to stdout.
 */
#ifndef HML_MODEL_H
#define HML_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/buf.h"
#include "harness/err.h"
#include "harness/json.h"

#define HML_MODEL_API_VERSION 1

enum hml_model_mode { HML_MODE_CLASSIFIER = 0, HML_MODE_REGRESSOR };

/* Capability bits of a backend. */
#define HML_CAP_CLASSIFIER 0x01u
#define HML_CAP_REGRESSOR  0x02u
#define HML_CAP_MULTICLASS 0x04u
#define HML_CAP_NAN        0x08u /* takes NaN natively (else the caller imputes)        */
#define HML_CAP_CATEGORICAL 0x10u /* takes categorical codes natively (else one-hot)     */
#define HML_CAP_IMPORTANCE 0x20u
#define HML_CAP_SHAP       0x40u
#define HML_CAP_WEIGHTS    0x80u

enum hml_mparam_type { HML_MP_INT, HML_MP_NUM, HML_MP_BOOL, HML_MP_STR };

/* One accepted parameter: name, type, default (as text), bounds and a line of help. */
struct hml_model_param {
    const char *name;
    enum hml_mparam_type type;
    const char *dflt;
    double lo, hi;       /* inclusive bounds for numbers (lo > hi = unbounded) */
    const char *choices; /* "a|b" for strings, or NULL */
    const char *desc;
};

struct hml_fit_data {
    const float *x;                    /* rows × cols, row-major; NaN = missing          */
    size_t rows, cols;
    const char *const *feature_names;  /* cols names                                      */
    const uint8_t *categorical;        /* cols flags, or NULL: 1 = value is a level code  */
    const uint32_t *levels;            /* cols level counts (categorical columns only)    */
    const double *y;                   /* rows targets (class index or value)             */
    const double *w;                   /* rows sample weights, or NULL                    */
    size_t n_classes;                  /* ≥ 2 for classifiers, 0 for regressors           */
    /* optional hold-out for early stopping (same columns) */
    const float *x_valid;
    const double *y_valid, *w_valid;
    size_t rows_valid;
};

typedef void (*hml_fit_progress_fn)(void *ud, double done, double total, const char *message);

struct hml_fit_ctl {
    const volatile int *cancel; /* may be NULL */
    hml_fit_progress_fn progress;
    void *progress_ud;
    int nthread;                /* 0 = backend default; tests use 1 */
    uint64_t seed;
};

struct hml_model; /* a backend's fitted (or unfitted) instance; first member is the vtable pointer */

struct hml_model_vt {
    int version;            /* HML_MODEL_API_VERSION                                 */
    const char *name;       /* "xgboost"                                              */
    const char *engine;     /* what really runs it, shown in `models show`            */
    unsigned caps;
    const struct hml_model_param *params; /* terminated by {0}                         */
    enum hml_status (*create)(const json_t *params, enum hml_model_mode mode, struct hml_model **out,
                              struct hml_error *err);
    enum hml_status (*fit)(struct hml_model *m, const struct hml_fit_data *d, const struct hml_fit_ctl *ctl,
                           struct hml_error *err);
    /* out: rows (binary, regression) or rows × n_classes (multiclass) */
    enum hml_status (*predict)(const struct hml_model *m, const float *x, size_t rows, size_t cols, double *out,
                               struct hml_error *err);
    enum hml_status (*save)(const struct hml_model *m, struct hml_buf *out, struct hml_error *err);
    enum hml_status (*load)(const void *data, size_t len, struct hml_model **out, struct hml_error *err);
    /* optional (NULL = unsupported): gain importance per column */
    enum hml_status (*importance)(const struct hml_model *m, double *out, struct hml_error *err);
    /* optional: SHAP contributions, rows × (cols + 1) (last = bias); binary/regression only */
    enum hml_status (*shap)(const struct hml_model *m, const float *x, size_t rows, size_t cols, double *out,
                            struct hml_error *err);
    void (*free)(struct hml_model *m);
};

struct hml_model {
    const struct hml_model_vt *vt;
};

/* Registry. Built-in backends register on first use; plugins may add more. */
enum hml_status hml_model_register(const struct hml_model_vt *vt, struct hml_error *err);
const struct hml_model_vt *hml_model_find(const char *name);
size_t hml_model_count(void);
const struct hml_model_vt *hml_model_at(size_t i);

/* Checks params (an object or NULL) against vt->params: unknown keys (with the valid
 * ones and the nearest), wrong types, out-of-range values. */
enum hml_status hml_model_params_check(const struct hml_model_vt *vt, const json_t *params, struct hml_error *err);
/* A parameter's value, or its default. */
double hml_model_param_num(const struct hml_model_vt *vt, const json_t *params, const char *name);
const char *hml_model_param_str(const struct hml_model_vt *vt, const json_t *params, const char *name);

#endif
