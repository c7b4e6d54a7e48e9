/* model_xgboost_int.h — shared core of the three backends that libxgboost runs:
 * xgboost, random_forest and lightgbm. They differ only in their parameter tables and
 * in how those parameters become libxgboost's (the "plan"); data handling, the
 * round-by-round fit loop, prediction, SHAP, importance and save/load are shared
 * (model_xgboost.c). The tables and plans live in model_xgboost_params.c.
 *
 * See docs/internals/model_xgboost.md for the blob format and the parameter mappings.
 */
#ifndef HML_MODEL_XGBOOST_INT_H
#define HML_MODEL_XGBOOST_INT_H

#include <stddef.h>
#include <stdint.h>

#include <xgboost/c_api.h>

#include "harness/model.h"

#define XGB_ROUNDS_MAX   10000     /* boosting rounds, and trees per forest          */
#define XGB_COLS_MAX     (1u << 20) /* feature columns                                */
#define XGB_ROWS_MAX     ((size_t)INT32_MAX)
#define XGB_CLASSES_MAX  1000
#define XGB_NAME_MAX     256       /* bytes of one feature name                      */
#define XGB_KV_MAX       32        /* libxgboost parameters one plan may set          */
#define XGB_BLOB_MAX     ((uint64_t)1 << 34) /* bytes of a saved model               */

/* One libxgboost parameter, already formatted as XGBoosterSetParam wants it. */
struct xgb_kv {
    char name[32];
    char value[48];
};

/* What fit runs: libxgboost parameters plus our own loop settings. */
struct xgb_plan {
    int rounds;                /* boosting rounds (1 for a random forest)           */
    int early_stopping_rounds; /* 0 = off                                           */
    struct xgb_kv kv[XGB_KV_MAX];
    size_t kv_n;
};

/* An accepted alternative spelling of a parameter. */
struct xgb_alias {
    const char *alias, *canonical;
};

/* What makes one backend different from the others. */
struct xgb_backend {
    const struct hml_model_vt *vt;
    const struct xgb_alias *aliases; /* terminated by {0} */
    /* Fills plan from canonical params (aliases resolved, values checked). n_classes is
     * 0 for regression. Cannot fail: every value was range-checked at create. */
    void (*plan)(const struct hml_model_vt *vt, const json_t *params, enum hml_model_mode mode, size_t n_classes,
                 struct xgb_plan *plan);
};

/* One model of any of the three backends. The fitted half is all NULL/0 until fit
 * succeeds; fit replaces it as a whole, so a failed fit leaves the model as it was. */
struct xgb_model {
    struct hml_model base;         /* base.vt is be->vt */
    const struct xgb_backend *be;
    enum hml_model_mode mode;
    json_t *params;                /* owned; canonical names (aliases resolved) */
    /* fitted state */
    BoosterHandle booster;         /* owned; NULL until fitted */
    size_t n_classes;              /* 0 regression, 2 binary, K multiclass */
    size_t n_features;
    char **names;                  /* owned: n_features names, each hml_malloc'd */
    uint8_t *categorical;          /* owned: n_features flags */
    int rounds;                    /* boosting rounds in booster */
    int best_iteration;            /* 0-based round early stopping kept, or -1 */
    int nthread;                   /* 0 = libxgboost's default */
};

/* The vtables (model.c's registry declares them too). */
extern const struct hml_model_vt hml_model_xgboost;
extern const struct hml_model_vt hml_model_random_forest;
extern const struct hml_model_vt hml_model_lightgbm;

extern const struct xgb_backend hml__xgb_backend_xgboost;
extern const struct xgb_backend hml__xgb_backend_random_forest;
extern const struct xgb_backend hml__xgb_backend_lightgbm;

/* Appends one parameter to plan (asserts on overflow: the plans are fixed code). */
void hml__xgb_plan_set(struct xgb_plan *plan, const char *name, const char *fmt, ...) HML_PRINTF(3, 4);

/* The shared vtable slots; create and load take the backend they build. */
enum hml_status hml__xgb_create(const struct xgb_backend *be, const json_t *params, enum hml_model_mode mode,
                                struct hml_model **out, struct hml_error *err);
enum hml_status hml__xgb_load(const struct xgb_backend *be, const void *data, size_t len, struct hml_model **out,
                              struct hml_error *err);
enum hml_status hml__xgb_fit(struct hml_model *m, const struct hml_fit_data *d, const struct hml_fit_ctl *ctl,
                             struct hml_error *err);
enum hml_status hml__xgb_predict(const struct hml_model *m, const float *x, size_t rows, size_t cols, double *out,
                                 struct hml_error *err);
enum hml_status hml__xgb_save(const struct hml_model *m, struct hml_buf *out, struct hml_error *err);
enum hml_status hml__xgb_importance(const struct hml_model *m, double *out, struct hml_error *err);
enum hml_status hml__xgb_shap(const struct hml_model *m, const float *x, size_t rows, size_t cols, double *out,
                              struct hml_error *err);
void hml__xgb_free(struct hml_model *m);

/* Shared helpers (model_xgboost.c). */
/* Fails err with HML_EBACKEND "xgboost: <libxgboost's last error, tidied>" and a hint. */
enum hml_status hml__xgb_backend_error(struct hml_error *err, const char *where);
/* Keeps libxgboost quiet on the calling thread: verbosity 0, log lines to our log. */
void hml__xgb_quiet(void);
/* Sets verbosity 0, nthread and the feature names/types on a booster. */
enum hml_status hml__xgb_booster_setup(BoosterHandle bst, const struct xgb_model *m, struct hml_error *err);
/* A DMatrix over x (rows × m->n_features, copied by libxgboost) with the model's
 * feature names and types, built the way Python's xgboost builds one from a float32
 * numpy array so the same data gives the same quantile cuts. y and wt may be NULL.
 * Caller frees *out with XGDMatrixFree. */
enum hml_status hml__xgb_dmatrix(const struct xgb_model *m, const float *x, size_t rows, const double *y,
                                 const double *wt, DMatrixHandle *out, struct hml_error *err);
/* Frees the fitted half (booster, names, flags) and zeroes it. */
void hml__xgb_unfit(struct xgb_model *m);

/* Tests: the best round early stopping kept (0-based), or -1 when it did not run;
 * and the number of boosting rounds in the fitted booster. */
int hml__xgb_best_iteration(const struct hml_model *m);
int hml__xgb_rounds(const struct hml_model *m);

#endif
