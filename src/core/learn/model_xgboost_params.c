/* model_xgboost_params.c — the parameter tables of the three libxgboost backends and
 * how each turns its parameters into libxgboost's. Defaults follow the library each
 * table imitates (XGBoost's own, scikit-learn's forest vocabulary, LightGBM's), so a
 * config ported from one of them means what it meant there. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/learn/model_xgboost_int.h"

#define NONNEG 0, 1e12 /* non-negative; the bound only catches typos */
#define FRACTION 1e-6, 1 /* libxgboost wants sampling fractions in (0, 1] */

void hml__xgb_plan_set(struct xgb_plan *plan, const char *name, const char *fmt, ...)
{
    HML_ASSERT(plan->kv_n < XGB_KV_MAX);
    HML_ASSERT(strlen(name) < sizeof plan->kv[0].name);
    struct xgb_kv *kv = &plan->kv[plan->kv_n++];
    snprintf(kv->name, sizeof kv->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(kv->value, sizeof kv->value, fmt, ap);
    va_end(ap);
    HML_ASSERT(n > 0 && (size_t)n < sizeof kv->value);
}

static int pint(const struct hml_model_vt *vt, const json_t *p, const char *name)
{
    return (int)hml_model_param_num(vt, p, name);
}

static double pnum(const struct hml_model_vt *vt, const json_t *p, const char *name)
{
    return hml_model_param_num(vt, p, name);
}

/* Copies a number param through under libxgboost's name; %.17g round-trips a double. */
static void copy_num(struct xgb_plan *plan, const struct hml_model_vt *vt, const json_t *p, const char *name,
                     const char *xgb_name)
{
    hml__xgb_plan_set(plan, xgb_name, "%.17g", pnum(vt, p, name));
}

/* ---- xgboost ------------------------------------------------------------------------ */

static const struct hml_model_param xgboost_params[] = {
    {"n_estimators", HML_MP_INT, "100", 1, XGB_ROUNDS_MAX, NULL, "boosting rounds (alias num_boost_round)"},
    {"num_boost_round", HML_MP_INT, NULL, 1, XGB_ROUNDS_MAX, NULL, "alias of n_estimators"},
    {"learning_rate", HML_MP_NUM, "0.3", 0, 1, NULL, "shrinkage of each round's leaf values (alias eta)"},
    {"eta", HML_MP_NUM, NULL, 0, 1, NULL, "alias of learning_rate"},
    {"max_depth", HML_MP_INT, "6", 0, 64, NULL, "maximum tree depth; 0 = no limit (use with grow_policy lossguide)"},
    {"min_child_weight", HML_MP_NUM, "1", NONNEG, NULL, "minimum hessian sum in a child (rows, for regression)"},
    {"subsample", HML_MP_NUM, "1", FRACTION, NULL, "fraction of rows sampled for each round"},
    {"colsample_bytree", HML_MP_NUM, "1", FRACTION, NULL, "fraction of columns sampled for each tree"},
    {"colsample_bylevel", HML_MP_NUM, "1", FRACTION, NULL, "fraction of the tree's columns sampled per depth"},
    {"colsample_bynode", HML_MP_NUM, "1", FRACTION, NULL, "fraction of the level's columns sampled per split"},
    {"reg_lambda", HML_MP_NUM, "1", NONNEG, NULL, "L2 penalty on leaf values (alias lambda)"},
    {"lambda", HML_MP_NUM, NULL, NONNEG, NULL, "alias of reg_lambda"},
    {"reg_alpha", HML_MP_NUM, "0", NONNEG, NULL, "L1 penalty on leaf values (alias alpha)"},
    {"alpha", HML_MP_NUM, NULL, NONNEG, NULL, "alias of reg_alpha"},
    {"gamma", HML_MP_NUM, "0", NONNEG, NULL, "minimum loss reduction to make a split (alias min_split_loss)"},
    {"min_split_loss", HML_MP_NUM, NULL, NONNEG, NULL, "alias of gamma"},
    {"max_delta_step", HML_MP_NUM, "0", NONNEG, NULL, "cap on a leaf value before shrinkage; 0 = none"},
    {"max_bin", HML_MP_INT, "256", 2, 4096, NULL, "histogram bins per column"},
    {"scale_pos_weight", HML_MP_NUM, "1", NONNEG, NULL, "binary only: weight of the positive class"},
    {"grow_policy", HML_MP_STR, "depthwise", 0, 0, "depthwise|lossguide",
     "depthwise: level by level; lossguide: best leaf first (LightGBM-style)"},
    {"max_leaves", HML_MP_INT, "0", 0, 1 << 17, NULL, "maximum leaves per tree; 0 = no limit"},
    {"max_cat_to_onehot", HML_MP_INT, "4", 1, 4096, NULL,
     "categorical columns with fewer levels split one level against the rest; others partition"},
    {"early_stopping_rounds", HML_MP_INT, "0", 0, XGB_ROUNDS_MAX, NULL,
     "stop when the hold-out metric has not improved for this many rounds and keep the best; 0 = off; "
     "ignored without a hold-out"},
    {0},
};

static const struct xgb_alias xgboost_aliases[] = {
    {"num_boost_round", "n_estimators"}, {"eta", "learning_rate"}, {"lambda", "reg_lambda"},
    {"alpha", "reg_alpha"},              {"min_split_loss", "gamma"}, {0},
};

static void xgboost_plan(const struct hml_model_vt *vt, const json_t *p, enum hml_model_mode mode, size_t n_classes,
                         struct xgb_plan *plan)
{
    (void)mode;
    (void)n_classes;
    static const char *const same[] = {"max_depth", "min_child_weight", "subsample", "colsample_bytree",
                                       "colsample_bylevel", "colsample_bynode", "reg_lambda", "reg_alpha", "gamma",
                                       "max_delta_step", "max_bin", "scale_pos_weight", "max_leaves",
                                       "max_cat_to_onehot"};
    plan->rounds = pint(vt, p, "n_estimators");
    plan->early_stopping_rounds = pint(vt, p, "early_stopping_rounds");
    copy_num(plan, vt, p, "learning_rate", "eta");
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) copy_num(plan, vt, p, same[i], same[i]);
    hml__xgb_plan_set(plan, "grow_policy", "%s", hml_model_param_str(vt, p, "grow_policy"));
}

/* ---- random_forest ------------------------------------------------------------------ */

static const struct hml_model_param forest_params[] = {
    {"n_estimators", HML_MP_INT, "100", 1, XGB_ROUNDS_MAX, NULL, "trees in the forest"},
    {"max_depth", HML_MP_INT, "8", 0, 64, NULL, "maximum tree depth; 0 = no limit"},
    {"min_child_weight", HML_MP_NUM, "1", NONNEG, NULL, "minimum hessian sum in a child (rows, for regression)"},
    {"subsample", HML_MP_NUM, "0.8", FRACTION, NULL,
     "fraction of rows each tree sees, drawn without replacement (XGBoost's stand-in for the bootstrap)"},
    {"colsample_bynode", HML_MP_NUM, "0.8", FRACTION, NULL, "fraction of columns considered at each split"},
    {"max_bin", HML_MP_INT, "256", 2, 4096, NULL, "histogram bins per column"},
    {0},
};

static const struct xgb_alias forest_aliases[] = {{0}};

/* XGBoost's random-forest mode: every tree grows in one round from the same base
 * margin, and libxgboost divides learning_rate by num_parallel_tree, so the forest
 * averages its trees. */
static void forest_plan(const struct hml_model_vt *vt, const json_t *p, enum hml_model_mode mode, size_t n_classes,
                        struct xgb_plan *plan)
{
    (void)mode;
    (void)n_classes;
    plan->rounds = 1;
    plan->early_stopping_rounds = 0;
    hml__xgb_plan_set(plan, "num_parallel_tree", "%d", pint(vt, p, "n_estimators"));
    hml__xgb_plan_set(plan, "eta", "1");
    copy_num(plan, vt, p, "max_depth", "max_depth");
    copy_num(plan, vt, p, "min_child_weight", "min_child_weight");
    copy_num(plan, vt, p, "subsample", "subsample");
    copy_num(plan, vt, p, "colsample_bynode", "colsample_bynode");
    copy_num(plan, vt, p, "max_bin", "max_bin");
}

/* ---- lightgbm ----------------------------------------------------------------------- */

static const struct hml_model_param lightgbm_params[] = {
    {"num_iterations", HML_MP_INT, "100", 1, XGB_ROUNDS_MAX, NULL, "boosting rounds (aliases n_estimators, num_boost_round)"},
    {"n_estimators", HML_MP_INT, NULL, 1, XGB_ROUNDS_MAX, NULL, "alias of num_iterations"},
    {"num_boost_round", HML_MP_INT, NULL, 1, XGB_ROUNDS_MAX, NULL, "alias of num_iterations"},
    {"learning_rate", HML_MP_NUM, "0.1", 0, 1, NULL, "shrinkage of each round's leaf values"},
    {"num_leaves", HML_MP_INT, "31", 2, 1 << 17, NULL, "maximum leaves per tree (alias max_leaves)"},
    {"max_leaves", HML_MP_INT, NULL, 2, 1 << 17, NULL, "alias of num_leaves"},
    {"max_depth", HML_MP_INT, "-1", -1, 64, NULL, "maximum tree depth; -1 or 0 = no limit"},
    {"min_data_in_leaf", HML_MP_INT, "20", 0, INT32_MAX, NULL,
     "minimum rows in a leaf, applied as min_child_weight = rows × the starting hessian per row "
     "(alias min_child_samples)"},
    {"min_child_samples", HML_MP_INT, NULL, 0, INT32_MAX, NULL, "alias of min_data_in_leaf"},
    {"min_sum_hessian_in_leaf", HML_MP_NUM, "0.001", NONNEG, NULL, "minimum hessian sum in a leaf (alias min_child_weight)"},
    {"min_child_weight", HML_MP_NUM, NULL, NONNEG, NULL, "alias of min_sum_hessian_in_leaf"},
    {"feature_fraction", HML_MP_NUM, "1", FRACTION, NULL, "fraction of columns sampled per tree (alias colsample_bytree)"},
    {"colsample_bytree", HML_MP_NUM, NULL, FRACTION, NULL, "alias of feature_fraction"},
    {"bagging_fraction", HML_MP_NUM, "1", FRACTION, NULL,
     "fraction of rows sampled, redrawn every round (alias subsample)"},
    {"subsample", HML_MP_NUM, NULL, FRACTION, NULL, "alias of bagging_fraction"},
    {"lambda_l1", HML_MP_NUM, "0", NONNEG, NULL, "L1 penalty on leaf values (alias reg_alpha)"},
    {"reg_alpha", HML_MP_NUM, NULL, NONNEG, NULL, "alias of lambda_l1"},
    {"lambda_l2", HML_MP_NUM, "0", NONNEG, NULL, "L2 penalty on leaf values (alias reg_lambda)"},
    {"reg_lambda", HML_MP_NUM, NULL, NONNEG, NULL, "alias of lambda_l2"},
    {"min_gain_to_split", HML_MP_NUM, "0", NONNEG, NULL, "minimum gain to make a split (alias min_split_gain)"},
    {"min_split_gain", HML_MP_NUM, NULL, NONNEG, NULL, "alias of min_gain_to_split"},
    {"max_bin", HML_MP_INT, "255", 2, 4096, NULL, "histogram bins per column"},
    {"max_cat_to_onehot", HML_MP_INT, "4", 1, 4096, NULL,
     "categorical columns with at most this many levels split one level against the rest"},
    {"scale_pos_weight", HML_MP_NUM, "1", NONNEG, NULL, "binary only: weight of the positive class"},
    {"early_stopping_rounds", HML_MP_INT, "0", 0, XGB_ROUNDS_MAX, NULL,
     "stop when the hold-out metric has not improved for this many rounds and keep the best; 0 = off; "
     "ignored without a hold-out (alias early_stopping_round)"},
    {"early_stopping_round", HML_MP_INT, NULL, 0, XGB_ROUNDS_MAX, NULL, "alias of early_stopping_rounds"},
    {0},
};

static const struct xgb_alias lightgbm_aliases[] = {
    {"n_estimators", "num_iterations"},
    {"num_boost_round", "num_iterations"},
    {"max_leaves", "num_leaves"},
    {"min_child_samples", "min_data_in_leaf"},
    {"min_child_weight", "min_sum_hessian_in_leaf"},
    {"colsample_bytree", "feature_fraction"},
    {"subsample", "bagging_fraction"},
    {"reg_alpha", "lambda_l1"},
    {"reg_lambda", "lambda_l2"},
    {"min_split_gain", "min_gain_to_split"},
    {"early_stopping_round", "early_stopping_rounds"},
    {0},
};

/* The hessian of one unweighted row at the start of boosting (base margin 0.5 for
 * every output): squared error 1; logistic p(1-p) at p = 0.5; softmax 2p(1-p) at
 * p = 1/K, which is how libxgboost 1.7's multi:softprob scales it. */
static double start_hessian(enum hml_model_mode mode, size_t n_classes)
{
    if (mode == HML_MODE_REGRESSOR) return 1.0;
    HML_ASSERT(n_classes >= 2);
    if (n_classes == 2) return 0.25;
    double p = 1.0 / (double)n_classes;
    return 2.0 * p * (1.0 - p);
}

/* LightGBM counts rows in a leaf; libxgboost only bounds the hessian sum. The closest
 * translation is min_data_in_leaf rows' worth of the starting hessian, so the bound
 * is exact in the first round and loosens as predictions grow confident. */
static void lightgbm_plan(const struct hml_model_vt *vt, const json_t *p, enum hml_model_mode mode, size_t n_classes,
                          struct xgb_plan *plan)
{
    plan->rounds = pint(vt, p, "num_iterations");
    plan->early_stopping_rounds = pint(vt, p, "early_stopping_rounds");
    int depth = pint(vt, p, "max_depth");
    double mcw = pnum(vt, p, "min_data_in_leaf") * start_hessian(mode, n_classes);
    double min_hess = pnum(vt, p, "min_sum_hessian_in_leaf");
    hml__xgb_plan_set(plan, "grow_policy", "lossguide");
    hml__xgb_plan_set(plan, "max_depth", "%d", depth > 0 ? depth : 0);
    copy_num(plan, vt, p, "num_leaves", "max_leaves");
    copy_num(plan, vt, p, "learning_rate", "eta");
    hml__xgb_plan_set(plan, "min_child_weight", "%.17g", mcw > min_hess ? mcw : min_hess);
    copy_num(plan, vt, p, "feature_fraction", "colsample_bytree");
    copy_num(plan, vt, p, "bagging_fraction", "subsample");
    copy_num(plan, vt, p, "lambda_l1", "reg_alpha");
    copy_num(plan, vt, p, "lambda_l2", "reg_lambda");
    copy_num(plan, vt, p, "min_gain_to_split", "gamma");
    copy_num(plan, vt, p, "max_bin", "max_bin");
    copy_num(plan, vt, p, "max_cat_to_onehot", "max_cat_to_onehot");
    copy_num(plan, vt, p, "scale_pos_weight", "scale_pos_weight");
}

/* ---- vtables ------------------------------------------------------------------------ */

#define CAPS_ALL                                                                                                   \
    (HML_CAP_CLASSIFIER | HML_CAP_REGRESSOR | HML_CAP_MULTICLASS | HML_CAP_NAN | HML_CAP_CATEGORICAL |            \
     HML_CAP_IMPORTANCE | HML_CAP_SHAP | HML_CAP_WEIGHTS)

#define BACKEND_FNS(id)                                                                                            \
    static enum hml_status id##_create(const json_t *params, enum hml_model_mode mode, struct hml_model **out,     \
                                       struct hml_error *err)                                                      \
    {                                                                                                              \
        return hml__xgb_create(&hml__xgb_backend_##id, params, mode, out, err);                                    \
    }                                                                                                              \
    static enum hml_status id##_load(const void *data, size_t len, struct hml_model **out, struct hml_error *err)  \
    {                                                                                                              \
        return hml__xgb_load(&hml__xgb_backend_##id, data, len, out, err);                                         \
    }

BACKEND_FNS(xgboost)
BACKEND_FNS(random_forest)
BACKEND_FNS(lightgbm)

#define VT(id, label, eng, table)                                                                                  \
    {                                                                                                              \
        .version = HML_MODEL_API_VERSION, .name = label, .engine = eng, .caps = CAPS_ALL, .params = table,         \
        .create = id##_create, .fit = hml__xgb_fit, .predict = hml__xgb_predict, .save = hml__xgb_save,            \
        .load = id##_load, .importance = hml__xgb_importance, .shap = hml__xgb_shap, .free = hml__xgb_free,        \
    }

const struct hml_model_vt hml_model_xgboost =
    VT(xgboost, "xgboost", "libxgboost 1.7 (C API): gradient-boosted trees, tree_method=hist", xgboost_params);

const struct hml_model_vt hml_model_random_forest =
    VT(random_forest, "random_forest",
       "libxgboost 1.7 (C API) in random-forest mode: one round of n_estimators parallel hist trees, "
       "learning_rate 1, rows and per-split columns subsampled",
       forest_params);

const struct hml_model_vt hml_model_lightgbm =
    VT(lightgbm, "lightgbm",
       "not LightGBM itself: the real LightGBM is not packaged for this platform, so libxgboost 1.7 runs it — "
       "leaf-wise histogram boosting (grow_policy=lossguide, max_depth 0) under LightGBM's parameter names",
       lightgbm_params);

const struct xgb_backend hml__xgb_backend_xgboost = {&hml_model_xgboost, xgboost_aliases, xgboost_plan};
const struct xgb_backend hml__xgb_backend_random_forest = {&hml_model_random_forest, forest_aliases, forest_plan};
const struct xgb_backend hml__xgb_backend_lightgbm = {&hml_model_lightgbm, lightgbm_aliases, lightgbm_plan};
