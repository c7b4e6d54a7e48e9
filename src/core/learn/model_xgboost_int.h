/* model_xgboost_int.h — shared core of the three backends that libxgboost runs:
 * xgboost, random_forest and lightgbm. They differ only in their parameter tables and
 * in how those parameters become libxgboost's (the "plan"); data handling, the
 * round-by-round fit loop, prediction, SHAP, importance and save/load are shared
 * (model_xgboost.c). The tables and plans live in model_xgboost_params.c.
 *
 * What every backend does the same way
 * - tree_method=hist; objective binary:logistic (n_classes 2), multi:softprob (more),
 *   reg:squarederror (regressor). Default metric on the hold-out: logloss, mlogloss, rmse.
 * - seed = ctl->seed & 0x7fffffff (libxgboost's seed is a signed int); nthread = ctl->nthread
 *   (0 = libxgboost's default), also kept for predict after load.
 * - verbosity 0 on every booster and in the thread's global config, and libxgboost's log
 *   callback routed to hml_log_debug: nothing reaches stdout (the MCP channel).
 * - NaN is libxgboost's missing value (learned default direction). Categorical columns get
 *   feature_type "c" (codes 0..levels-1 as floats); splits on them partition levels, or
 *   one-level-vs-rest below max_cat_to_onehot levels. An unseen code at predict goes
 *   wherever "not in the split's set" goes.
 * - Early stopping (early_stopping_rounds > 0 and a hold-out in hml_fit_data): after each
 *   round the hold-out metric is read from XGBoosterEvalOneIter; a round is better only
 *   if strictly lower; fitting stops after early_stopping_rounds rounds without one, and
 *   the booster is sliced to rounds 0..best, so predict, SHAP, importance and save all
 *   use the best round (Python's xgboost.train + save_best). Without a hold-out it is
 *   ignored (logged at info): a final refit on all rows has none.
 * - Cancellation and progress are checked/reported between rounds. random_forest has one
 *   round, so it can only be cancelled before it starts.
 * - importance: total gain per column (XGBoosterFeatureScore "total_gain"), mapped back by
 *   feature name; never-split columns are 0.
 * - SHAP: TreeSHAP contributions (pred_contribs) through a DMatrix (1.7's in-place
 *   prediction refuses them), rows × (cols + 1), last = bias. In margin space: log-odds
 *   for binary, so a row sums to logit(p); the value itself for regression. Multiclass
 *   is refused.
 * - Errors from libxgboost become HML_EBACKEND "xgboost: <message>", with its timestamp,
 *   source location and stack trace cut off.
 *
 * Parameters (aliases are accepted; giving two spellings of one parameter is an error)
 * - xgboost: XGBoost's names and defaults (n_estimators 100 as in its scikit-learn API;
 *   learning_rate 0.3, max_depth 6, min_child_weight 1, subsample/colsample_* 1,
 *   reg_lambda 1, reg_alpha 0, gamma 0, max_bin 256, grow_policy depthwise, max_leaves 0,
 *   max_cat_to_onehot 4). Aliases: num_boost_round → n_estimators, eta → learning_rate,
 *   lambda → reg_lambda, alpha → reg_alpha, min_split_loss → gamma.
 * - random_forest: XGBoost's random-forest mode — one round of num_parallel_tree =
 *   n_estimators trees with eta 1 (libxgboost divides it among the trees, so they
 *   average). Defaults: n_estimators 100, max_depth 8 (depthwise growth wants a bound;
 *   0 = none), min_child_weight 1, subsample 0.8 (rows drawn without replacement, the
 *   stand-in for a bootstrap), colsample_bynode 0.8 (XGBoost's documented forest
 *   settings; scikit-learn's sqrt(p)/p would make the default depend on the data),
 *   max_bin 256. reg_lambda stays at XGBoost's 1, which shrinks small leaves.
 * - lightgbm: LightGBM's names and defaults, run by libxgboost's leaf-wise growth
 *   (grow_policy lossguide): num_iterations 100 → rounds, num_leaves 31 → max_leaves,
 *   max_depth -1 → 0 (no limit; any value <= 0), learning_rate 0.1 → eta,
 *   feature_fraction → colsample_bytree, bagging_fraction → subsample (redrawn every
 *   round: there is no bagging_freq), lambda_l1 → reg_alpha, lambda_l2 (default 0) →
 *   reg_lambda, min_gain_to_split → gamma (same role; the gain scale differs from
 *   LightGBM's), max_bin 255, max_cat_to_onehot 4, scale_pos_weight, early_stopping_rounds.
 *   min_data_in_leaf has no libxgboost counterpart (it bounds a leaf's hessian sum, not
 *   its row count), so min_child_weight = max(min_sum_hessian_in_leaf,
 *   min_data_in_leaf × h0), where h0 is one unweighted row's hessian at the start of
 *   boosting: 1 for squared error, 0.25 for binary (p = 0.5), 2(1/K)(1 - 1/K) for K
 *   classes (libxgboost's softmax hessian at p = 1/K). The bound is exact in the first
 *   round and looser as predictions sharpen; with sample weights it counts weight.
 *   Accepted aliases: n_estimators, num_boost_round, max_leaves, min_child_samples,
 *   min_child_weight, colsample_bytree, subsample, reg_alpha, reg_lambda, min_split_gain,
 *   early_stopping_round.
 *
 * Saved blob: "HMLXGB1\n", u64 little-endian header length, header JSON (backend, mode,
 * n_classes, n_features, rounds, best_iteration, nthread, feature_names, categorical,
 * params, booster_bytes, booster_sha256), then libxgboost's UBJSON model. load checks
 * length and SHA-256 before libxgboost parses anything: 1.7.4's UBJSON reader overruns
 * its buffer on truncated input. load(save(m)) predicts bit-identically.
 *
 * Thread safety: one model must not be fitted while it is used; predict, SHAP and
 * importance on a fitted model may run from several threads (libxgboost keeps their
 * outputs per thread).
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
