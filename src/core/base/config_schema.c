/* config_schema.c — the config schema as a static table, and the validator.
 *
 * Each entry is a dotted path pattern ('*' stands for any map key), a kind, the
 * valid values of an enum, bounds and a one-line description. A key of an object
 * is valid when "<object path>.<key>" has an entry; the children of a map share
 * the entry "<map path>.*". null is accepted everywhere and means "unset", as in
 * the typed getters of json.h. Validation never allocates, so it cannot fail on OOM.
 * NOTE: a new key needs an entry here; the tools that set it also validate with it.
 */
#include "harness/config.h"
#include "config_int.h"

#include <stdio.h>
#include <string.h>

enum kind {
    K_OBJECT,      /* fixed keys, each with its own entry           */
    K_MAP,         /* free keys, values described by "<path>.*"     */
    K_STRING,
    K_INTEGER,
    K_NUMBER,
    K_BOOLEAN,
    K_ENUM,        /* a string from `choices`                       */
    K_STRING_LIST,
    K_NUMBER_LIST,
    K_SCALAR_LIST, /* strings, numbers, booleans                    */
    K_ANY_OBJECT,  /* a mapping with free-form content               */
    K_ANY
};

enum { F_REQ = 1, F_MIN = 2, F_MAX = 4, F_GT = 8 /* lower bound is exclusive */ };

struct entry {
    const char *path;
    enum kind kind;
    const char *const *choices;
    const char *desc;
    unsigned flags;
    double lo, hi;
};

const char *const hml_task_names[] = {"binary", "multiclass", "regression", "ranking",
                                      "survival", "probabilistic", NULL};
const char *const hml_cv_strategy_names[] = {"loso", "expanding", "sliding", "purged_kfold", "kfold",
                                             "stratified_kfold", "group_kfold", "bootstrap", NULL};
const char *const hml_model_type_names[] = {"xgboost", "lightgbm", "catboost", "random_forest",
                                            "logistic_regression", "elastic_net", "mlp", "tabnet",
                                            NULL};
static const char *const modes[] = {"classifier", "regressor", NULL};
static const char *const methods[] = {"stacked", "average", "weighted", NULL};
static const char *const meta_types[] = {"logistic", "ridge", "gbm", NULL};
static const char *const calibrations[] = {"spline", "isotonic", "platt", "beta", "none", NULL};
static const char *const formats[] = {"csv", "tsv", "jsonl", "sqlite", NULL};
static const char *const pairwise_modes[] = {"diff", "ratio", "both", "none", NULL};

#define MIN(x) .flags = F_MIN, .lo = (x)

static const struct entry schema[] = {
    {"project", K_OBJECT, .desc = "the project's identity"},
    {"project.name", K_STRING, .desc = "project name"},
    {"project.created_at", K_STRING, .desc = "creation time, UTC ISO 8601"},
    {"project.harness_version", K_STRING, .desc = "harness version that created the project"},

    {"data", K_OBJECT, .desc = "the prediction problem and the prediction table"},
    {"data.task", K_ENUM, .choices = hml_task_names, .desc = "kind of prediction problem"},
    {"data.target_column", K_STRING, .desc = "column to predict"},
    {"data.key_columns", K_STRING_LIST, .desc = "columns that identify a row"},
    {"data.time_column", K_STRING, .desc = "column holding the event time"},
    {"data.fold_column", K_STRING, .desc = "column holding the fold of each row"},
    {"data.exclude_columns", K_STRING_LIST, .desc = "columns never used as features"},
    {"data.null_tokens", K_STRING_LIST, .desc = "cell texts read as null"},
    {"data.table_path", K_STRING, .desc = "path of the prediction table"},
    {"data.targets", K_MAP, .desc = "extra named targets"},
    {"data.targets.*", K_OBJECT, .desc = "a named target"},
    {"data.targets.*.target_column", K_STRING, .desc = "column to predict", .flags = F_REQ},
    {"data.targets.*.task", K_ENUM, .choices = hml_task_names, .desc = "kind of prediction problem"},
    {"data.targets.*.metrics", K_STRING_LIST, .desc = "metrics for this target"},
    {"data.features_view", K_STRING, .desc = "view used as the prediction table"},
    {"data.feature_defs", K_ANY, .desc = "declarative feature definitions"},
    {"data.feature_store", K_OBJECT, .desc = "defaults of entity features (matchup tables)"},
    {"data.feature_store.entity_column", K_STRING, .desc = "entity key column of entity sources"},
    {"data.feature_store.entity_a_column", K_STRING, .desc = "matchup column of the first side's entity"},
    {"data.feature_store.entity_b_column", K_STRING, .desc = "matchup column of the second side's entity"},
    {"data.feature_store.period_column", K_STRING, .desc = "period column shared by sources and the table"},
    {"data.feature_store.default_pairwise_mode", K_ENUM, .choices = pairwise_modes,
     .desc = "what entity features write: diff, ratio, both or none"},

    {"backtest", K_OBJECT, .desc = "how models are evaluated"},
    {"backtest.cv_strategy", K_ENUM, .choices = hml_cv_strategy_names, .desc = "cross-validation strategy"},
    {"backtest.fold_column", K_STRING, .desc = "column whose values are the folds"},
    {"backtest.fold_values", K_SCALAR_LIST, .desc = "fold values to test on ([] = all)"},
    {"backtest.n_folds", K_INTEGER, .desc = "number of folds", MIN(2)},
    {"backtest.window_size", K_INTEGER, .desc = "training folds in a sliding window", MIN(1)},
    {"backtest.purge_gap", K_INTEGER, .desc = "folds dropped around the test fold", MIN(0)},
    {"backtest.group_column", K_STRING, .desc = "column whose groups stay in one fold"},
    {"backtest.min_train_folds", K_INTEGER, .desc = "fewest training folds for a split", MIN(1)},
    {"backtest.metrics", K_STRING_LIST, .desc = "metrics reported per run"},
    {"backtest.primary_metric", K_STRING, .desc = "metric that decides improvements"},
    {"backtest.eval_filter", K_STRING, .desc = "formula selecting the rows scored"},
    {"backtest.seed", K_INTEGER, .desc = "random seed", MIN(0)},
    {"backtest.n_iterations", K_INTEGER, .desc = "bootstrap draws", MIN(1)},

    {"models", K_MAP, .desc = "model definitions by name"},
    {"models.*", K_OBJECT, .desc = "a model definition"},
    {"models.*.type", K_ENUM, .choices = hml_model_type_names, .desc = "model family", .flags = F_REQ},
    {"models.*.features", K_STRING_LIST, .desc = "feature columns (empty = all numeric)"},
    {"models.*.params", K_ANY_OBJECT, .desc = "parameters passed to the model library"},
    {"models.*.active", K_BOOLEAN, .desc = "whether backtests train this model"},
    {"models.*.include_in_ensemble", K_BOOLEAN, .desc = "whether the ensemble uses this model"},
    {"models.*.mode", K_ENUM, .choices = modes, .desc = "classifier or regressor"},
    {"models.*.class_weight", K_ANY, .desc = "class weights ('balanced' or a mapping)"},
    {"models.*.n_seeds", K_INTEGER, .desc = "copies trained with different seeds", MIN(1)},
    {"models.*.prediction_type", K_STRING, .desc = "what the model predicts (e.g. margin)"},
    {"models.*.cdf_scale", K_NUMBER, .desc = "scale turning a margin into a probability",
     .flags = F_GT, .lo = 0},
    {"models.*.zero_fill_features", K_STRING_LIST, .desc = "features whose nulls become 0"},
    {"models.*.normalize", K_BOOLEAN, .desc = "standardize features before fitting"},
    {"models.*.description", K_STRING, .desc = "free text"},

    {"ensemble", K_OBJECT, .desc = "how model predictions are combined"},
    {"ensemble.method", K_ENUM, .choices = methods, .desc = "combination method"},
    {"ensemble.meta_learner", K_OBJECT, .desc = "the stacking model"},
    {"ensemble.meta_learner.type", K_ENUM, .choices = meta_types, .desc = "stacking model family"},
    {"ensemble.meta_learner.C", K_NUMBER, .desc = "inverse regularization strength",
     .flags = F_GT, .lo = 0},
    {"ensemble.meta_features", K_STRING_LIST, .desc = "table columns the stacking meta-learner also sees"},
    {"ensemble.calibration", K_ENUM, .choices = calibrations, .desc = "calibration after combining"},
    {"ensemble.pre_calibration", K_MAP, .desc = "calibration of single models, by model"},
    {"ensemble.pre_calibration.*", K_ENUM, .choices = calibrations, .desc = "calibration of one model"},
    {"ensemble.temperature", K_NUMBER, .desc = "temperature scaling of the logits",
     .flags = F_GT, .lo = 0},
    {"ensemble.clip_floor", K_NUMBER, .desc = "probabilities are clipped to [floor, 1-floor]",
     .flags = F_MIN | F_MAX, .lo = 0, .hi = 0.5},
    {"ensemble.exclude_models", K_STRING_LIST, .desc = "models left out of the ensemble"},
    {"ensemble.weights", K_MAP, .desc = "weights by model (method weighted)"},
    {"ensemble.weights.*", K_NUMBER, .desc = "weight of one model", MIN(0)},
    {"ensemble.spline_prob_max", K_NUMBER, .desc = "highest probability spline calibration gives",
     .flags = F_GT | F_MAX, .lo = 0, .hi = 1},
    {"ensemble.spline_n_bins", K_INTEGER, .desc = "bins of spline calibration", MIN(2)},

    {"workflow", K_OBJECT, .desc = "phase gates of the modelling workflow"},
    {"workflow.enforce_phases", K_BOOLEAN, .desc = "refuse actions out of phase order"},
    {"workflow.min_model_types", K_INTEGER, .desc = "model families required before ensembling",
     MIN(0)},
    {"workflow.require_feature_discovery", K_BOOLEAN, .desc = "require feature discovery first"},
    {"workflow.replan_every", K_INTEGER, .desc = "experiments allowed per notebook plan (default 5)", MIN(1)},

    {"guardrails", K_OBJECT, .desc = "project-level guardrails"},
    {"guardrails.feature_leakage_denylist", K_STRING_LIST, .desc = "columns never used as features"},
    {"guardrails.max_improvement", K_MAP, .desc = "largest plausible improvement, by metric"},
    {"guardrails.max_improvement.*", K_NUMBER, .desc = "largest plausible improvement", MIN(0)},
    {"guardrails.naming_pattern", K_STRING, .desc = "pattern experiment ids must match"},

    {"sources", K_MAP, .desc = "ingested data sources by name"},
    {"sources.*", K_OBJECT, .desc = "an ingested data source"},
    {"sources.*.path", K_STRING, .desc = "path of the source file", .flags = F_REQ},
    {"sources.*.format", K_ENUM, .choices = formats, .desc = "file format"},
    {"sources.*.join_on", K_STRING_LIST, .desc = "columns joined on"},
    {"sources.*.prefix", K_STRING, .desc = "prefix added to the source's columns"},
    {"sources.*.rows", K_INTEGER, .desc = "rows at ingest", MIN(0)},
    {"sources.*.columns", K_INTEGER, .desc = "number of columns at ingest", MIN(0)},
    {"sources.*.original_path", K_STRING, .desc = "absolute path the file was ingested from"},
    {"sources.*.table", K_STRING, .desc = "the table read from a SQLite source"},
    {"sources.*.in_table", K_BOOLEAN, .desc = "whether the source was added to the prediction table"},
    {"sources.*.sha256", K_STRING, .desc = "content hash at ingest"},
    {"sources.*.added_at", K_STRING, .desc = "ingest time, UTC ISO 8601"},
    {"sources.*.description", K_STRING, .desc = "free text"},

    {"features", K_ANY_OBJECT, .desc = "declared features"},
    {"views", K_ANY_OBJECT, .desc = "declared views"},
};

#define SCHEMA_N (sizeof schema / sizeof *schema)

static const char *const pipeline_sections[] = {"project", "data", "backtest", "workflow",
                                                "guardrails", NULL};
static const char *const models_sections[] = {"models", NULL};
static const char *const ensemble_sections[] = {"ensemble", NULL};
static const char *const sources_sections[] = {"sources", NULL};
static const char *const features_sections[] = {"features", NULL};
static const char *const views_sections[] = {"views", NULL};

const struct hml__config_file hml__config_files[] = {
    {"config/pipeline.yaml", pipeline_sections, false},
    {"config/models.yaml", models_sections, false},
    {"config/ensemble.yaml", ensemble_sections, false},
    {"config/sources.yaml", sources_sections, false},
    {"config/features.yaml", features_sections, true},
    {"config/views.yaml", views_sections, true},
    {NULL, NULL, false},
};

size_t hml__count(const char *const *names)
{
    size_t n = 0;
    while (names[n]) n++;
    return n;
}

const struct hml__config_file *hml__config_file_of(const char *section)
{
    for (const struct hml__config_file *f = hml__config_files; f->path; f++)
        for (const char *const *s = f->sections; *s; s++)
            if (!strcmp(*s, section)) return f;
    return NULL;
}

/* ---- lookup ------------------------------------------------------------------------ */

/* The entry "<parent>.<key>" ("<key>" at the top), or NULL. */
static const struct entry *find_child(const char *parent, const char *key)
{
    size_t pn = strlen(parent);
    for (size_t i = 0; i < SCHEMA_N; i++) {
        const char *p = schema[i].path;
        if (pn) {
            if (strncmp(p, parent, pn) || p[pn] != '.') continue;
            p += pn + 1;
        }
        if (!strcmp(p, key)) return &schema[i];
    }
    return NULL;
}

/* Names of the keys an object entry allows (pointers into the table). */
static size_t child_names(const char *parent, const char **names, size_t cap)
{
    size_t pn = strlen(parent), n = 0;
    for (size_t i = 0; i < SCHEMA_N && n < cap; i++) {
        const char *p = schema[i].path;
        if (pn) {
            if (strncmp(p, parent, pn) || p[pn] != '.') continue;
            p += pn + 1;
        }
        if (!strchr(p, '.')) names[n++] = p;
    }
    return n;
}

/* ---- error text -------------------------------------------------------------------- */

#define SEGS_MAX 8

/* The dotted path of the value being checked ("models.xgb.params"). */
struct vpath {
    const char *seg[SEGS_MAX];
    size_t n;
};

static void path_text(const struct vpath *vp, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = 0;
    for (size_t i = 0; i < vp->n && off < cap; i++) {
        int w = snprintf(out + off, cap - off, "%s%s", i ? "." : "", vp->seg[i]);
        if (w < 0) break;
        off += (size_t)w;
    }
}

static const char *file_suffix(const struct vpath *vp)
{
    const struct hml__config_file *f = vp->n ? hml__config_file_of(vp->seg[0]) : NULL;
    static _Thread_local char buf[64];
    if (!f) return "";
    snprintf(buf, sizeof buf, " in %s", f->path);
    return buf;
}

static void describe(const json_t *v, char *out, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: snprintf(out, cap, "a mapping"); break;
    case JSON_ARRAY: snprintf(out, cap, "a list"); break;
    case JSON_STRING: snprintf(out, cap, "string \"%.40s\"", json_string_value(v)); break;
    case JSON_INTEGER: snprintf(out, cap, "integer %" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: snprintf(out, cap, "number %g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(out, cap, "true"); break;
    case JSON_FALSE: snprintf(out, cap, "false"); break;
    case JSON_NULL: snprintf(out, cap, "null"); break;
    }
}

static const char *expected(enum kind k)
{
    switch (k) {
    case K_OBJECT:
    case K_MAP:
    case K_ANY_OBJECT: return "a mapping";
    case K_STRING:
    case K_ENUM: return "a string";
    case K_INTEGER: return "an integer";
    case K_NUMBER: return "a number";
    case K_BOOLEAN: return "true or false";
    case K_STRING_LIST: return "a list of strings";
    case K_NUMBER_LIST: return "a list of numbers";
    case K_SCALAR_LIST: return "a list of plain values";
    case K_ANY: return "any value";
    }
    return "?";
}

static const char *example(enum kind k)
{
    switch (k) {
    case K_OBJECT:
    case K_MAP:
    case K_ANY_OBJECT: return "indented `name: value` lines below the key";
    case K_STRING:
    case K_ENUM: return "text, quoted if it looks like a number";
    case K_INTEGER: return "a whole number such as 5";
    case K_NUMBER: return "a number such as 0.5";
    case K_BOOLEAN: return "true or false";
    case K_STRING_LIST: return "[a, b] or one `- a` line per item";
    case K_NUMBER_LIST: return "[1, 2.5]";
    case K_SCALAR_LIST: return "[1, 2, 3]";
    case K_ANY: return "any value";
    }
    return "?";
}

static enum hml_status type_error(const struct entry *e, const struct vpath *vp, const json_t *v,
                                  const char *detail, struct hml_error *err)
{
    char path[256], got[80];
    path_text(vp, path, sizeof path);
    describe(v, got, sizeof got);
    hml_fail(err, HML_EINVAL, "config", "'%s'%s must be %s, %s%s", path, file_suffix(vp),
             expected(e->kind), detail ? detail : "got ", got);
    return hml_hint(err, "'%s' is the %s; write %s", vp->seg[vp->n - 1], e->desc, example(e->kind));
}

/* ---- checks ------------------------------------------------------------------------ */

static enum hml_status check_range(const struct entry *e, const struct vpath *vp, double d,
                                   const json_t *v, struct hml_error *err)
{
    const char *bad = NULL;
    double bound = 0;
    if ((e->flags & F_MIN) && d < e->lo) bad = "at least", bound = e->lo;
    if ((e->flags & F_GT) && d <= e->lo) bad = "greater than", bound = e->lo;
    if ((e->flags & F_MAX) && d > e->hi) bad = "at most", bound = e->hi;
    if (!bad) return HML_OK;
    char path[256], got[80];
    path_text(vp, path, sizeof path);
    describe(v, got, sizeof got);
    hml_fail(err, HML_EINVAL, "config", "'%s'%s must be %s %g, got %s", path, file_suffix(vp), bad,
             bound, got);
    return hml_hint(err, "'%s' is the %s", vp->seg[vp->n - 1], e->desc);
}

static enum hml_status check_enum(const struct entry *e, const struct vpath *vp, const json_t *v,
                                  struct hml_error *err)
{
    const char *s = json_string_value(v);
    size_t n = hml__count(e->choices);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, e->choices[i])) return HML_OK;
    char path[256];
    path_text(vp, path, sizeof path);
    hml_fail(err, HML_EINVAL, "config", "'%s'%s has unknown value '%.60s'", path, file_suffix(vp), s);
    return hml_error_choices(err, s, e->choices, n);
}

static enum hml_status check_list(const struct entry *e, const struct vpath *vp, const json_t *v,
                                  struct hml_error *err)
{
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *x = json_array_get(v, i);
        bool ok = e->kind == K_STRING_LIST   ? json_is_string(x)
                  : e->kind == K_NUMBER_LIST ? json_is_number(x)
                                             : !json_is_object(x) && !json_is_array(x);
        if (!ok) {
            char detail[48];
            snprintf(detail, sizeof detail, "but item %zu is ", i + 1);
            return type_error(e, vp, x, detail, err);
        }
    }
    return HML_OK;
}

static enum hml_status check_node(const struct entry *e, const json_t *v, struct vpath *vp,
                                  struct hml_error *err);

static enum hml_status unknown_key(const struct entry *e, struct vpath *vp, const char *key,
                                   struct hml_error *err)
{
    const char *names[64];
    size_t n = child_names(e ? e->path : "", names, 64);
    char path[256];
    vp->seg[vp->n++] = key;
    path_text(vp, path, sizeof path);
    vp->n--;
    hml_fail(err, HML_EINVAL, "config", "unknown key '%.80s' at '%s'%s", key, path, file_suffix(vp));
    return hml_error_choices(err, key, names, n);
}

static enum hml_status missing_keys(const struct entry *e, const json_t *v, const struct vpath *vp,
                                    struct hml_error *err)
{
    const char *names[64];
    size_t n = child_names(e->path, names, 64);
    for (size_t i = 0; i < n; i++) {
        const struct entry *c = find_child(e->path, names[i]);
        const json_t *x = json_object_get(v, names[i]);
        if (!(c->flags & F_REQ) || (x && !json_is_null(x))) continue;
        char path[256];
        path_text(vp, path, sizeof path);
        hml_fail(err, HML_EINVAL, "config", "'%s'%s has no '%s'", path, file_suffix(vp), names[i]);
        if (c->kind == K_ENUM) return hml_error_choices(err, "", c->choices, hml__count(c->choices));
        return hml_hint(err, "add `%s:`, the %s", names[i], c->desc);
    }
    return HML_OK;
}

/* An object's keys: each must have an entry (K_OBJECT) or use the '*' entry (K_MAP). */
static enum hml_status check_keys(const struct entry *e, const json_t *v, struct vpath *vp,
                                  struct hml_error *err)
{
    const char *parent = e ? e->path : "";
    const struct entry *star = e && e->kind == K_MAP ? find_child(parent, "*") : NULL;
    HML_ASSERT(!e || e->kind != K_MAP || star != NULL);
    if (vp->n + 1 >= SEGS_MAX) return hml_fail(err, HML_EINTERNAL, "config", "schema too deep");
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)v, key, x) {
        const struct entry *c = star ? star : find_child(parent, key);
        if (!c) return unknown_key(e, vp, key, err);
        vp->seg[vp->n++] = key;
        enum hml_status rc = check_node(c, x, vp, err);
        vp->n--;
        if (rc) return rc;
    }
    return e && e->kind == K_OBJECT ? missing_keys(e, v, vp, err) : HML_OK;
}

static enum hml_status check_node(const struct entry *e, const json_t *v, struct vpath *vp,
                                  struct hml_error *err)
{
    if (json_is_null(v) || e->kind == K_ANY) return HML_OK;
    bool ok;
    switch (e->kind) {
    case K_OBJECT:
    case K_MAP: return json_is_object(v) ? check_keys(e, v, vp, err) : type_error(e, vp, v, NULL, err);
    case K_ANY_OBJECT: ok = json_is_object(v); break;
    case K_STRING: ok = json_is_string(v); break;
    case K_ENUM: return json_is_string(v) ? check_enum(e, vp, v, err) : type_error(e, vp, v, NULL, err);
    case K_BOOLEAN: ok = json_is_boolean(v); break;
    case K_INTEGER:
        if (!json_is_integer(v)) return type_error(e, vp, v, NULL, err);
        return check_range(e, vp, (double)json_integer_value(v), v, err);
    case K_NUMBER:
        if (!json_is_number(v)) return type_error(e, vp, v, NULL, err);
        return check_range(e, vp, json_number_value(v), v, err);
    case K_STRING_LIST:
    case K_NUMBER_LIST:
    case K_SCALAR_LIST:
        return json_is_array(v) ? check_list(e, vp, v, err) : type_error(e, vp, v, NULL, err);
    default: ok = true; break;
    }
    return ok ? HML_OK : type_error(e, vp, v, NULL, err);
}

enum hml_status hml_config_validate(const json_t *root, struct hml_error *err)
{
    struct vpath vp = {.n = 0};
    if (!json_is_object(root)) {
        hml_fail(err, HML_EINVAL, "config", "the config must be a mapping of sections");
        return hml_hint(err, "start from `configure init`, which writes a valid config");
    }
    return check_keys(NULL, root, &vp, err);
}
