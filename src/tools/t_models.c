/* t_models.c — the `models` tool: model definitions in config/models.yaml.
 *
 * A definition is checked when it is written, not when a backtest trips over it:
 * the type must be a registered backend, every params key must be one the backend
 * knows (the valid keys are listed), and no feature may be the target or on the
 * leakage denylist (a non-overridable guardrail). */
#include "tools_int.h"

#include <string.h>

#include "harness/alloc.h"
#include "harness/model.h"
#include "harness/yaml.h"

struct preset {
    const char *name, *type, *mode, *params_json;
    int n_seeds;
    const char *desc;
};

static const struct preset presets[] = {
    {"xgboost_classifier", "xgboost", "classifier",
     "{\"n_estimators\": 300, \"learning_rate\": 0.05, \"max_depth\": 4, \"subsample\": 0.8, \"colsample_bytree\": 0.8}", 1,
     "gradient-boosted trees, a strong default for tabular classification"},
    {"xgboost_regressor", "xgboost", "regressor",
     "{\"n_estimators\": 300, \"learning_rate\": 0.05, \"max_depth\": 4, \"subsample\": 0.8, \"colsample_bytree\": 0.8}", 1,
     "gradient-boosted trees for regression"},
    {"lightgbm_classifier", "lightgbm", "classifier",
     "{\"n_estimators\": 300, \"learning_rate\": 0.05, \"num_leaves\": 31, \"feature_fraction\": 0.8, \"bagging_fraction\": 0.8}", 1,
     "leaf-wise boosted trees (LightGBM-style, on XGBoost)"},
    {"random_forest_classifier", "random_forest", "classifier", "{\"n_estimators\": 300, \"max_depth\": 8}", 1,
     "bagged deep trees: a different bias from boosting"},
    {"logistic_regression", "logistic_regression", "classifier", "{\"C\": 1.0}", 1,
     "a linear baseline with calibrated probabilities"},
    {"elastic_net_regressor", "elastic_net", "regressor", "{\"alpha\": 0.1, \"l1_ratio\": 0.5}", 1,
     "a sparse linear baseline for regression"},
    {"mlp_classifier", "mlp", "classifier", "{}", 3, "a small neural network, averaged over 3 seeds"},
    {"mlp_regressor", "mlp", "regressor", "{}", 5, "a small neural network for regression, averaged over 5 seeds"},
};

static const struct preset *preset_find(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(presets[i].name, name)) return &presets[i];
    return NULL;
}

/* Keys of a model definition that map one-to-one from parameters. */
static const char *const plain_keys[] = {"active", "include_in_ensemble", "mode", "class_weight", "n_seeds",
                                         "prediction_type", "cdf_scale", "zero_fill_features", "normalize",
                                         "features", "description"};

/* ---- checks ------------------------------------------------------------------------------ */

static enum hml_status check_name(const char *name, const char *where, struct hml_error *err)
{
    size_t n = strlen(name);
    bool okc = n > 0 && n <= 64;
    for (const char *s = name; okc && *s; s++)
        okc = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-';
    if (okc) return HML_OK;
    hml_fail(err, HML_EINVAL, where, "model name '%s' must be 1 to 64 letters, digits, '_' or '-'", name);
    return hml_hint(err, "pass a name like xgb_main");
}

static enum hml_status check_type(const char *type, const char *where, const struct hml_model_vt **out,
                                  struct hml_error *err)
{
    *out = hml_model_find(type);
    if (*out) return HML_OK;
    for (const char *const *t = hml_model_type_names; *t; t++)
        if (!strcmp(*t, type)) {
            hml_fail(err, HML_EINVAL, where, "model type '%s' is not available in this build yet", type);
            return hml_hint(err, "use xgboost, lightgbm, random_forest, logistic_regression or elastic_net; "
                                 "models presets lists ready-made definitions");
        }
    const char *names[32];
    size_t n = 0;
    for (size_t i = 0; i < hml_model_count() && n < 32; i++) names[n++] = hml_model_at(i)->name;
    hml_fail(err, HML_EINVAL, where, "unknown model type '%s'", type);
    return hml_error_choices(err, type, names, n);
}

static bool list_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

/* The leakage guardrail on declared features: never the target, never a
 * denylisted column. Not overridable: a leak is not a matter of taste. */
static enum hml_status check_features(const json_t *root, const char *model, const json_t *features,
                                      const struct hml_frame *table, const char *where, struct hml_result *res,
                                      struct hml_error *err)
{
    const char *target = hml_json_str(json_object_get(root, "data"), "target_column", NULL);
    const json_t *deny = hml_config_get(root, "guardrails.feature_leakage_denylist");
    size_t i;
    json_t *v;
    json_array_foreach(features, i, v) {
        const char *f = json_string_value(v);
        if (target && !strcmp(f, target)) {
            hml_fail(err, HML_EBLOCKED, where, "model '%s' uses the target '%s' as a feature", model, f);
            return hml_hint(err, "remove '%s' from features; the target can never be an input", f);
        }
        if (list_has(deny, f)) {
            hml_fail(err, HML_EBLOCKED, where, "feature '%s' of model '%s' is on the leakage denylist", f, model);
            return hml_hint(err, "remove it from features, or take it off the list with configure set_denylist "
                                 "--remove_columns %s if it is known before the outcome", f);
        }
        if (table && hml_frame_find(table, f) < 0) {
            size_t idx;
            struct hml_error e;
            hml_frame_lookup(table, f, &idx, &e);
            hml_result_warn(res, "feature '%s' of model '%s' is not a column yet (%s)", f, model, e.hint);
        }
    }
    return HML_OK;
}

/* Validates one definition completely: type, params, mode, features. */
enum hml_status hml__models_check_definition(const json_t *root, const char *name, const json_t *def,
                                        const struct hml_frame *table, const char *where, struct hml_result *res,
                                        struct hml_error *err)
{
    const struct hml_model_vt *vt;
    enum hml_status rc = check_type(hml_json_str(def, "type", ""), where, &vt, err);
    if (!rc) rc = hml_model_params_check(vt, json_object_get(def, "params"), err);
    if (rc == HML_EINVAL && !strcmp(err->where, "models.params")) hml_error_prefix(err, "model '%s'", name);
    const char *mode = hml_json_str(def, "mode", "classifier");
    if (!rc && !strcmp(mode, "classifier") && !(vt->caps & HML_CAP_CLASSIFIER)) {
        hml_fail(err, HML_EINVAL, where, "model type %s has no classifier mode", vt->name);
        rc = hml_hint(err, "pass mode=regressor, or choose another model type");
    }
    if (!rc && !strcmp(mode, "regressor") && !(vt->caps & HML_CAP_REGRESSOR)) {
        hml_fail(err, HML_EINVAL, where, "model type %s has no regressor mode", vt->name);
        rc = hml_hint(err, "pass mode=classifier, or choose another model type");
    }
    /* Creating the backend instance parses every param the way a fit will (e.g. a
     * layer list), so a bad value fails here rather than in the first backtest. */
    struct hml_model *probe = NULL;
    if (!rc) rc = vt->create(json_object_get(def, "params"), !strcmp(mode, "regressor") ? HML_MODE_REGRESSOR : HML_MODE_CLASSIFIER,
                             &probe, err);
    if (probe) vt->free(probe);
    if (!rc) rc = check_features(root, name, json_object_get(def, "features"), table, where, res, err);
    return rc;
}

/* ---- building definitions from parameters ------------------------------------------------------ */

static const char *default_mode(const json_t *root)
{
    const char *task = hml_json_str(json_object_get(root, "data"), "task", "binary");
    return !strcmp(task, "regression") ? "regressor" : "classifier";
}

/* Copies the plain keys present in src (call params or a batch item) into def. */
static void apply_plain(json_t *def, const json_t *src)
{
    for (size_t k = 0; k < sizeof plain_keys / sizeof *plain_keys; k++) {
        json_t *v = json_object_get(src, plain_keys[k]);
        if (v && !json_is_null(v)) json_object_set(def, plain_keys[k], v);
    }
}

/* Parameters may arrive as an object or a string holding one (batch items). */
static json_t *params_of(const json_t *src, struct hml_error *err, enum hml_status *rc)
{
    json_t *p = json_object_get(src, "params");
    if (!p || json_is_null(p)) return NULL;
    if (json_is_string(p)) {
        json_t *parsed;
        *rc = hml_json_parse(json_string_value(p), json_string_length(p), &parsed, err);
        return *rc ? NULL : parsed;
    }
    return json_incref(p);
}

static enum hml_status build_new(const json_t *root, const json_t *src, const char *where, json_t **out,
                                 struct hml_error *err)
{
    const char *type = hml_json_str(src, "model_type", NULL);
    const char *pname = hml_json_str(src, "preset", NULL);
    const struct preset *ps = pname ? preset_find(pname) : NULL;
    if (pname && !ps) {
        const char *names[16];
        size_t n = 0;
        for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) names[n++] = presets[i].name;
        hml_fail(err, HML_EINVAL, where, "unknown preset '%s'", pname);
        return hml_error_choices(err, pname, names, n);
    }
    if (!type && !ps) {
        hml_fail(err, HML_EINVAL, where, "a model needs model_type or preset");
        return hml_hint(err, "pass model_type=xgboost (or logistic_regression, lightgbm, …), or preset=xgboost_classifier");
    }
    json_t *def = json_pack("{s:s,s:s,s:b,s:b}", "type", type ? type : ps->type, "mode",
                            ps ? ps->mode : default_mode(root), "active", 1, "include_in_ensemble", 1);
    json_t *params = json_object();
    enum hml_status rc = def && params ? HML_OK : hml_fail(err, HML_ENOMEM, where, "out of memory");
    if (!rc && ps) {
        json_t *pp;
        rc = hml_json_parse(ps->params_json, strlen(ps->params_json), &pp, err);
        if (!rc) json_object_update(params, pp), json_decref(pp);
        if (ps->n_seeds > 1) json_object_set_new(def, "n_seeds", json_integer(ps->n_seeds));
    }
    json_t *given = rc ? NULL : params_of(src, err, &rc);
    if (given) json_object_update(params, given); /* preset params are updated, not replaced */
    json_decref(given);
    if (!rc) {
        json_object_set_new(def, "params", params);
        params = NULL;
        if (!json_object_get(def, "features")) json_object_set_new(def, "features", json_array());
        apply_plain(def, src);
    }
    json_decref(params);
    if (rc) {
        json_decref(def);
        return rc;
    }
    *out = def;
    return HML_OK;
}

static enum hml_status edit_features(json_t *def, const json_t *src)
{
    json_t *feats = json_object_get(def, "features");
    if (!json_is_array(feats)) {
        feats = json_array();
        json_object_set_new(def, "features", feats);
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(src, "append_features"), i, v)
        if (json_is_string(v) && !list_has(feats, json_string_value(v))) json_array_append(feats, v);
    json_array_foreach(json_object_get(src, "remove_features"), i, v)
        for (size_t k = json_array_size(feats); json_is_string(v) && k-- > 0;)
            if (!strcmp(json_string_value(json_array_get(feats, k)), json_string_value(v))) json_array_remove(feats, k);
    return HML_OK;
}

/* An updated copy of `old` with the changes in src applied. */
static enum hml_status build_update(const json_t *old, const json_t *src, const char *where, json_t **out,
                                    struct hml_error *err)
{
    json_t *def = json_deep_copy(old);
    if (!def) return hml_fail(err, HML_ENOMEM, where, "out of memory");
    enum hml_status rc = HML_OK;
    const char *type = hml_json_str(src, "model_type", NULL);
    if (type) json_object_set_new(def, "type", json_string(type));
    json_t *given = params_of(src, err, &rc);
    if (given) {
        json_t *params = json_object_get(def, "params");
        if (hml_json_bool(src, "replace_params", false) || !json_is_object(params)) json_object_set(def, "params", given);
        else json_object_update(params, given);
    }
    json_decref(given);
    if (!rc) {
        apply_plain(def, src);
        rc = edit_features(def, src);
    }
    if (rc) {
        json_decref(def);
        return rc;
    }
    *out = def;
    return HML_OK;
}

/* ---- one change to the models section ----------------------------------------------------------- */

enum change { CH_ADD, CH_UPDATE, CH_REMOVE, CH_CLONE };

static enum hml_status find_model(json_t *models, const char *name, const char *where, json_t **out,
                                  struct hml_error *err)
{
    *out = json_object_get(models, name);
    if (*out) return HML_OK;
    const char *names[128];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(models, k, v) if (n < 128) names[n++] = k;
    hml_fail(err, HML_ENOTFOUND, where, "no model named '%s'", name);
    if (!n) return hml_hint(err, "there are no models yet: models add --name … --model_type xgboost");
    return hml_error_choices(err, name, names, n);
}

/* Applies one change (from call params or a batch item) to root; describes it in res. */
static enum hml_status apply_change(json_t *root, enum change ch, const json_t *src, const struct hml_frame *table,
                                    const char *where, struct hml_result *res, struct hml_error *err)
{
    json_t *models = json_object_get(root, "models");
    if (!json_is_object(models)) {
        models = json_object();
        json_object_set_new(root, "models", models);
    }
    const char *name = hml_json_str(src, "name", NULL);
    if (!name) {
        hml_fail(err, HML_EINVAL, where, "'name' is required");
        return hml_hint(err, "each change names its model: {\"name\": \"xgb_main\", …}");
    }
    json_t *old = NULL, *def = NULL;
    enum hml_status rc = HML_OK;
    const char *target = name;
    if (ch == CH_ADD) {
        rc = check_name(name, where, err);
        if (!rc && json_object_get(models, name)) {
            hml_fail(err, HML_ECONFLICT, where, "a model named '%s' exists already", name);
            rc = hml_hint(err, "use models update to change it, or pick another name");
        }
        if (!rc) rc = build_new(root, src, where, &def, err);
    } else {
        rc = find_model(models, name, where, &old, err);
        if (!rc && ch == CH_CLONE) {
            target = hml_json_str(src, "new_name", NULL);
            if (!target) {
                hml_fail(err, HML_EINVAL, where, "clone needs new_name");
                rc = hml_hint(err, "pass new_name=<name of the copy>");
            } else if (!(rc = check_name(target, where, err)) && json_object_get(models, target)) {
                hml_fail(err, HML_ECONFLICT, where, "a model named '%s' exists already", target);
                rc = hml_hint(err, "pick another new_name");
            }
        }
        if (!rc && ch == CH_REMOVE) {
            if (hml_json_bool(src, "purge", false)) {
                json_object_del(models, name);
                hml_buf_printf(&res->text, "- %s: removed\n", name);
            } else {
                json_object_set_new(old, "active", json_false());
                json_object_set_new(old, "include_in_ensemble", json_false());
                hml_buf_printf(&res->text, "- %s: deactivated (purge=true deletes it)\n", name);
            }
            return HML_OK;
        }
        if (!rc) rc = build_update(old, src, where, &def, err);
    }
    if (!rc) rc = hml__models_check_definition(root, target, def, table, where, res, err);
    if (!rc) {
        json_object_set_new(models, target, def);
        def = NULL;
        const json_t *now = json_object_get(models, target);
        hml_buf_printf(&res->text, "- %s: %s %s (%s), %zu feature(s)%s\n", target,
                       ch == CH_ADD ? "added" : ch == CH_CLONE ? "cloned" : "updated", hml_json_str(now, "type", "?"),
                       hml_json_str(now, "mode", "?"), json_array_size(json_object_get(now, "features")),
                       json_array_size(json_object_get(now, "features")) ? "" : " (none listed: every usable column)");
    }
    json_decref(def);
    return rc;
}

static enum hml_status commit_root(const struct hml_project *p, const json_t *root, struct hml_error *err)
{
    enum hml_status rc = hml_config_validate(root, err);
    if (rc) return rc;
    struct hml_txn *txn = hml_txn_new();
    if (!txn) return hml_fail(err, HML_ENOMEM, "models", "out of memory");
    rc = hml_config_save(root, p->dir, txn, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    hml_txn_free(txn);
    return rc;
}

static enum hml_status run_single(struct hml_call *call, enum change ch, struct hml_result *res,
                                  struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root);
    char where[32];
    snprintf(where, sizeof where, "models.%s", call->action->name);
    rc = root ? apply_change(root, ch, call->params, p->table, where, res, err)
              : hml_fail(err, HML_ENOMEM, where, "out of memory");
    if (!rc) rc = commit_root(p, root, err);
    if (!rc) {
        const char *name = hml_param_str(call, ch == CH_CLONE ? "new_name" : "name", "");
        json_t *def = json_object_get(json_object_get(root, "models"), name);
        json_object_set_new(res->data, "name", json_string(name));
        if (def) json_object_set(res->data, "model", def);
    }
    json_decref(root);
    hml__project_free(p);
    return rc;
}

static enum hml_status a_add(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return run_single(c, CH_ADD, r, e); }
static enum hml_status a_update(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return run_single(c, CH_UPDATE, r, e); }
static enum hml_status a_remove(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return run_single(c, CH_REMOVE, r, e); }
static enum hml_status a_clone(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return run_single(c, CH_CLONE, r, e); }

/* Batches apply each item to the config in turn; failures are reported per item
 * and, unless atomic, the good items are written together at the end. */
static enum hml_status run_batch(struct hml_call *call, enum change ch, struct hml_result *res,
                                 struct hml_error *err)
{
    json_t *items = hml_param_json(call, "items");
    if (!json_array_size(items)) {
        hml_fail(err, HML_EINVAL, call->action->name, "'items' must be a non-empty list");
        return hml_hint(err, "pass items=[{\"name\": \"xgb\", …}, …]");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    bool atomic = hml_param_bool(call, "atomic", false);
    json_t *root = json_deep_copy(p->cfg->root), *results = json_array();
    size_t i, ok = 0;
    json_t *item;
    char where[40];
    snprintf(where, sizeof where, "models.%s", call->action->name);
    json_array_foreach(items, i, item) {
        struct hml_error ierr;
        hml_error_clear(&ierr);
        json_t *attempt = json_deep_copy(root);
        enum hml_status irc = json_is_object(item) ? apply_change(attempt, ch, item, p->table, where, res, &ierr)
                                                   : (hml_fail(&ierr, HML_EINVAL, where, "item %zu is not an object", i + 1),
                                                      hml_hint(&ierr, "each item is {\"name\": …, …}"));
        if (!irc) irc = hml_config_validate(attempt, &ierr);
        const char *name = hml_json_str(item, "name", "?");
        if (!irc) {
            json_decref(root);
            root = attempt;
            ok++;
            json_array_append_new(results, json_pack("{s:s,s:b}", "name", name, "ok", 1));
            continue;
        }
        json_decref(attempt);
        hml_buf_printf(&res->text, "- %s: error: %s (%s)\n", name, ierr.message, ierr.hint);
        json_array_append_new(results, json_pack("{s:s,s:b,s:s,s:s}", "name", name, "ok", 0, "error", ierr.message,
                                                 "hint", ierr.hint));
        if (atomic) {
            *err = ierr;
            hml_error_prefix(err, "nothing changed (atomic); item %zu", i + 1);
            rc = ierr.code;
            break;
        }
    }
    if (!rc && ok) rc = commit_root(p, root, err);
    if (!rc) {
        hml_buf_printf(&res->text, "%zu of %zu item(s) applied.\n", ok, json_array_size(items));
        json_object_set_new(res->data, "applied", json_integer((json_int_t)ok));
        json_object_set(res->data, "results", results);
    }
    json_decref(results);
    json_decref(root);
    hml__project_free(p);
    return rc;
}

static enum hml_status a_add_batch(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return run_batch(c, CH_ADD, r, e); }
static enum hml_status a_update_batch(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return run_batch(c, CH_UPDATE, r, e); }
static enum hml_status a_remove_batch(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return run_batch(c, CH_REMOVE, r, e); }

/* ---- reading ---------------------------------------------------------------------------------------- */

static enum hml_status a_list(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    json_t *models = json_object_get(p->cfg->root, "models");
    if (!json_object_size(models)) {
        hml_buf_puts(&res->text, "No models yet: models add --name xgb --model_type xgboost (or models presets)\n");
    } else {
        hml_buf_puts(&res->text, "| model | type | mode | features | active | ensemble |\n|---|---|---|---|---|---|\n");
        const char *name;
        json_t *def;
        json_object_foreach(models, name, def) {
            size_t nf = json_array_size(json_object_get(def, "features"));
            char nfs[16];
            snprintf(nfs, sizeof nfs, "%zu", nf);
            hml_buf_printf(&res->text, "| %s | %s | %s | %s | %s | %s |\n", name, hml_json_str(def, "type", "?"),
                           hml_json_str(def, "mode", "?"), nf ? nfs : "all", hml_json_bool(def, "active", true) ? "yes" : "no",
                           hml_json_bool(def, "include_in_ensemble", true) ? "yes" : "no");
        }
    }
    json_object_set_new(res->data, "models", models ? json_deep_copy(models) : json_object());
    hml__project_free(p);
    return HML_OK;
}

static enum hml_status a_show(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    const char *name = hml_param_str(call, "name", "");
    json_t *def;
    rc = find_model(json_object_get(p->cfg->root, "models"), name, "models.show", &def, err);
    if (!rc) {
        json_t *wrapped = json_pack("{s:O}", name, def);
        char *yaml = wrapped ? hml_yaml_emit(wrapped) : NULL;
        json_decref(wrapped);
        hml_buf_printf(&res->text, "```yaml\n%s```\n", yaml ? yaml : "");
        hml_free(yaml);
        const struct hml_model_vt *vt = hml_model_find(hml_json_str(def, "type", ""));
        if (vt) {
            hml_buf_printf(&res->text, "Engine: %s\nOther params (default):", vt->engine);
            json_t *avail = json_array();
            const json_t *set = json_object_get(def, "params");
            for (const struct hml_model_param *mp = vt->params; mp && mp->name; mp++) {
                json_array_append_new(avail, json_pack("{s:s,s:s?,s:s}", "name", mp->name, "default", mp->dflt,
                                                       "description", mp->desc));
                /* Aliases carry no default of their own; listing them twice is noise. */
                if (mp->dflt && !json_object_get(set, mp->name)) hml_buf_printf(&res->text, " %s (%s)", mp->name, mp->dflt);
            }
            hml_buf_putc(&res->text, '\n');
            json_object_set_new(res->data, "engine", json_string(vt->engine));
            json_object_set_new(res->data, "available_params", avail);
        }
        json_object_set_new(res->data, "name", json_string(name));
        json_object_set(res->data, "model", def);
    }
    hml__project_free(p);
    return rc;
}

static enum hml_status a_presets(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    (void)call;
    (void)err;
    json_t *list = json_array();
    hml_buf_puts(&res->text, "| preset | type | mode | about |\n|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
        const struct preset *ps = &presets[i];
        bool avail = hml_model_find(ps->type) != NULL;
        hml_buf_printf(&res->text, "| %s | %s | %s | %s%s |\n", ps->name, ps->type, ps->mode, ps->desc,
                       avail ? "" : " (not in this build yet)");
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:b,s:s}", "name", ps->name, "type", ps->type, "mode",
                                              ps->mode, "available", avail, "params", ps->params_json));
    }
    hml_buf_puts(&res->text, "Use: models add --name <name> --preset <preset> [--params '{…}' to adjust]\n");
    json_object_set_new(res->data, "presets", list);
    return HML_OK;
}

/* ---- the tool table ------------------------------------------------------------------------------------- */

static const struct hml_param params[] = {
    {"name", HML_P_STRING, NULL, "model name"},
    {"new_name", HML_P_STRING, NULL, "clone: name of the copy"},
    {"model_type", HML_P_STRING, "xgboost|lightgbm|random_forest|logistic_regression|elastic_net|mlp|catboost|tabnet",
     "model family"},
    {"preset", HML_P_STRING, NULL, "a ready-made definition (models presets lists them)"},
    {"features", HML_P_STRINGS, NULL, "input columns (empty = every usable column)"},
    {"params", HML_P_OBJECT, NULL, "backend parameters; unknown keys are refused with the valid ones"},
    {"replace_params", HML_P_BOOLEAN, NULL, "update: replace params instead of merging"},
    {"append_features", HML_P_STRINGS, NULL, "update: features to add"},
    {"remove_features", HML_P_STRINGS, NULL, "update: features to drop"},
    {"active", HML_P_BOOLEAN, NULL, "whether backtests train it (default true)"},
    {"include_in_ensemble", HML_P_BOOLEAN, NULL, "whether the ensemble uses it (default true)"},
    {"mode", HML_P_STRING, "classifier|regressor", "default: from the task"},
    {"class_weight", HML_P_ANY, NULL, "\"balanced\" or {class: weight}"},
    {"n_seeds", HML_P_INTEGER, NULL, "train this many seeds and average"},
    {"prediction_type", HML_P_STRING, NULL, "what the model outputs, e.g. margin"},
    {"cdf_scale", HML_P_NUMBER, NULL, "scale turning a regressor's margin into a probability"},
    {"zero_fill_features", HML_P_STRINGS, NULL, "features whose nulls become 0"},
    {"normalize", HML_P_BOOLEAN, NULL, "standardize inputs before fitting"},
    {"description", HML_P_STRING, NULL, "free text"},
    {"purge", HML_P_BOOLEAN, NULL, "remove: delete instead of deactivating"},
    {"items", HML_P_ARRAY, NULL, "batch: list of objects with the single action's parameters"},
    {"atomic", HML_P_BOOLEAN, NULL, "batch: all items or none"},
    {0},
};

#define DEF_PARAMS "features params active include_in_ensemble mode class_weight n_seeds prediction_type " \
                   "cdf_scale zero_fill_features normalize description"

static const struct hml_action actions[] = {
    {"add", a_add, "name model_type preset " DEF_PARAMS, "name", "define a model (checked against its backend)", 0},
    {"update", a_update, "name model_type replace_params append_features remove_features " DEF_PARAMS, "name",
     "change a model: params merge unless replace_params", 0},
    {"remove", a_remove, "name purge", "name", "deactivate a model (purge=true deletes it)", 0},
    {"clone", a_clone, "name new_name model_type replace_params append_features remove_features " DEF_PARAMS,
     "name new_name", "copy a model under a new name, with changes", 0},
    {"list", a_list, "", NULL, "the models with type, mode and feature counts", HML_ACT_READONLY},
    {"show", a_show, "name", "name", "one model's definition, engine and available params", HML_ACT_READONLY},
    {"presets", a_presets, "", NULL, "ready-made definitions", HML_ACT_READONLY | HML_ACT_NO_PROJECT},
    {"add_batch", a_add_batch, "items atomic", "items", "add several models", 0},
    {"update_batch", a_update_batch, "items atomic", "items", "update several models", 0},
    {"remove_batch", a_remove_batch, "items atomic", "items", "remove several models", 0},
    {0},
};

const struct hml_tool hml_tool_models = {
    .name = "models",
    .title = "model definitions",
    .description =
        "Model definitions (config/models.yaml). Actions: add (name + model_type or preset; features, params, "
        "mode, class_weight, n_seeds, …), update (params merge unless replace_params; append_features / "
        "remove_features), remove (deactivates; purge=true deletes), clone (name → new_name with changes), list, "
        "show (definition, engine, available params), presets, add_batch / update_batch / remove_batch (items). "
        "Types: xgboost, lightgbm, random_forest, logistic_regression, elastic_net, mlp. Unknown params keys are "
        "refused with the valid ones; a feature that is the target or on the leakage denylist is refused.",
    .params = params,
    .actions = actions,
};
