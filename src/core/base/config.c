/* config.c — load, save, default, dotted access, overlay merge and hash of the config.
 *
 * Choices worth knowing:
 * - Saving writes only files whose bytes change, and always through a txn (the
 *   caller's, or a private one committed at once), so several files land together.
 * - A section absent from the tree leaves its file alone (a partial tree never
 *   deletes files); set a section to {} to empty it.
 * - In an overlay, null deletes the key: {"models.old": null} removes a model. This
 *   matches the rest of the config, where null and absent both mean "unset".
 * - Keys with dots are always paths, so a name containing '.' cannot be addressed
 *   in an overlay.
 */
#include "harness/config.h"
#include "harness/alloc.h"
#include "harness/yaml.h"
#include "config_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static enum hml_status oom(struct hml_error *err)
{
    return hml_fail(err, HML_ENOMEM, "config", "out of memory");
}

/* ---- load ------------------------------------------------------------------------- */

static bool holds(const struct hml__config_file *f, const char *section)
{
    for (const char *const *s = f->sections; *s; s++)
        if (!strcmp(*s, section)) return true;
    return false;
}

/* Moves the sections of one parsed file into root, refusing sections that belong
 * to another file (they would silently shadow or be shadowed). */
static enum hml_status take_sections(const struct hml__config_file *f, json_t *doc, json_t *root,
                                     struct hml_error *err)
{
    if (!json_is_object(doc)) {
        hml_fail(err, HML_EINVAL, "config", "%s must hold a mapping of sections, not a %s", f->path,
                 json_is_array(doc) ? "list" : "single value");
        return hml_hint(err, "start the file with a section name, e.g. `%s:`", f->sections[0]);
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        if (holds(f, key)) {
            if (json_object_set(root, key, v)) return oom(err);
            continue;
        }
        const struct hml__config_file *home = hml__config_file_of(key);
        if (home) {
            hml_fail(err, HML_EINVAL, "config", "section '%s' is in %s but belongs in %s", key,
                     f->path, home->path);
            return hml_hint(err, "move the '%s:' block from %s to %s", key, f->path, home->path);
        }
        hml_fail(err, HML_EINVAL, "config", "unknown key '%.80s' at '%.80s' in %s", key, key, f->path);
        return hml_error_choices(err, key, f->sections, hml__count(f->sections));
    }
    return HML_OK;
}

static enum hml_status load_file(const char *dir, const struct hml__config_file *f, json_t *root,
                                 struct hml_error *err)
{
    char *path = hml_path_join(dir, f->path);
    if (!path) return oom(err);
    char *text = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    enum hml_status rc = HML_OK;
    if (hml_path_exists(path)) {
        rc = hml_read_file(path, HML_YAML_BYTES_MAX, &text, &len, err);
        if (!rc) rc = hml_yaml_parse(text, len, f->path, &doc, err);
        if (!rc) rc = take_sections(f, doc, root, err);
    }
    json_decref(doc);
    hml_free(text);
    hml_free(path);
    return rc;
}

static enum hml_status no_project(const char *dir, struct hml_error *err)
{
    hml_fail(err, HML_ENOTFOUND, "config", "no Harness project at '%s'", dir);
    return hml_hint(err, "run `configure init` first, or pass project_dir");
}

enum hml_status hml_config_load(const char *project_dir, struct hml_config **out,
                                struct hml_error *err)
{
    HML_ASSERT(project_dir != NULL);
    HML_ASSERT(out != NULL);
    char *cfgdir = hml_path_join(project_dir, "config");
    if (!cfgdir) return oom(err);
    bool found = hml_is_dir(cfgdir);
    hml_free(cfgdir);
    if (!found) return no_project(project_dir, err);
    json_t *root = json_object();
    if (!root) return oom(err);
    enum hml_status rc = HML_OK;
    for (const struct hml__config_file *f = hml__config_files; f->path && !rc; f++)
        rc = load_file(project_dir, f, root, err);
    if (!rc) rc = hml_config_validate(root, err);
    struct hml_config *cfg = rc ? NULL : hml_calloc(1, sizeof *cfg);
    if (!rc && !cfg) rc = oom(err);
    if (rc) {
        json_decref(root);
        return rc;
    }
    cfg->root = root;
    *out = cfg;
    return HML_OK;
}

void hml_config_free(struct hml_config *cfg)
{
    if (!cfg) return;
    json_decref(cfg->root);
    hml_free(cfg);
}

/* ---- save ------------------------------------------------------------------------- */

/* The document for one file; *out is NULL when the file is not to be written. */
static enum hml_status file_doc(const json_t *root, const struct hml__config_file *f, bool exists,
                                json_t **out, struct hml_error *err)
{
    bool any = false, all_empty = true;
    json_t *doc = json_object();
    if (!doc) return oom(err);
    for (const char *const *s = f->sections; *s; s++) {
        json_t *v = json_object_get(root, *s);
        if (!v || json_is_null(v)) continue;
        if (json_object_set(doc, *s, v)) {
            json_decref(doc);
            return oom(err);
        }
        any = true;
        if (!json_is_object(v) || json_object_size(v)) all_empty = false;
    }
    if (!any || (f->optional && all_empty && !exists)) {
        json_decref(doc);
        doc = NULL;
    }
    *out = doc;
    return HML_OK;
}

static bool same_bytes(const char *path, const char *text, size_t len)
{
    struct hml_error ignored;
    char *old = NULL;
    size_t old_len = 0;
    if (hml_read_file(path, len + 1, &old, &old_len, &ignored)) return false;
    bool same = old_len == len && memcmp(old, text, len) == 0;
    hml_free(old);
    return same;
}

static enum hml_status stage_file(const json_t *root, const char *dir,
                                  const struct hml__config_file *f, struct hml_txn *txn,
                                  struct hml_error *err)
{
    char *path = hml_path_join(dir, f->path);
    if (!path) return oom(err);
    json_t *doc = NULL;
    char *text = NULL;
    enum hml_status rc = file_doc(root, f, hml_path_exists(path), &doc, err);
    if (!rc && doc) {
        text = hml_yaml_emit(doc);
        if (!text) rc = oom(err);
    }
    /* An unreadable old file counts as changed; the write then reports the problem. */
    if (!rc && text && !same_bytes(path, text, strlen(text)))
        rc = hml_txn_write(txn, path, text, strlen(text), err);
    hml_free(text);
    json_decref(doc);
    hml_free(path);
    return rc;
}

enum hml_status hml_config_save(const json_t *root, const char *project_dir, struct hml_txn *txn,
                                struct hml_error *err)
{
    HML_ASSERT(project_dir != NULL);
    enum hml_status rc = hml_config_validate(root, err);
    if (rc) return rc;
    struct hml_txn *own = txn ? NULL : hml_txn_new();
    if (!txn && !own) return oom(err);
    for (const struct hml__config_file *f = hml__config_files; f->path && !rc; f++)
        rc = stage_file(root, project_dir, f, txn ? txn : own, err);
    if (own) {
        if (!rc) rc = hml_txn_commit(own, err);
        hml_txn_free(own);
    }
    return rc;
}

/* ---- default ------------------------------------------------------------------------ */

static json_t *string_array(const char *const *names)
{
    json_t *a = json_array();
    for (; a && *names; names++)
        if (json_array_append_new(a, json_string(*names))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static const char *const *default_metrics(const char *task)
{
    /* Canonical names of the metric registry (a unit test checks each resolves). */
    static const char *const binary[] = {"brier", "log_loss", "auc_roc", "accuracy", "ece", NULL};
    static const char *const multiclass[] = {"log_loss", "accuracy", "f1_macro", NULL};
    static const char *const regression[] = {"rmse", "mae", "r_squared", NULL};
    static const char *const ranking[] = {"ndcg_at_k", "mean_average_precision", NULL};
    static const char *const survival[] = {"concordance_index", "time_dependent_brier", NULL};
    static const char *const probabilistic[] = {"crps", "coverage_at_level", NULL};
    static const struct { const char *task; const char *const *metrics; } rows[] = {
        {"multiclass", multiclass}, {"regression", regression}, {"ranking", ranking},
        {"survival", survival}, {"probabilistic", probabilistic},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        if (!strcmp(task, rows[i].task)) return rows[i].metrics;
    return binary;
}

static json_t *default_backtest(const char *task)
{
    const char *const *metrics = default_metrics(task);
    json_t *b = json_pack("{s:s, s:i, s:i}", "cv_strategy", "kfold", "n_folds", 5, "seed", 42);
    if (!hml_json_set(b, "metrics", string_array(metrics)) ||
        !hml_json_set(b, "primary_metric", json_string(metrics[0]))) {
        json_decref(b);
        return NULL;
    }
    return b;
}

json_t *hml_config_default(const char *project_name, const char *task, const char *target_column)
{
    static const char *const names[] = {"project", "data", "backtest", "models", "ensemble",
                                        "workflow", "guardrails", "sources"};
    enum { N = sizeof names / sizeof *names };
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    if (!task) task = "binary";
    json_t *sec[N] = {
        json_pack("{s:s*, s:s, s:s}", "name", project_name, "created_at", now, "harness_version",
                  "0.1.0"),
        json_pack("{s:s, s:s*, s:[], s:[], s:[ssssssss]}", "task", task, "target_column",
                  target_column, "key_columns", "exclude_columns", "null_tokens", "", "NA", "N/A",
                  "null", "NULL", "NaN", "nan", "?"),
        default_backtest(task),
        json_object(),
        json_pack("{s:s, s:{s:s, s:f}, s:s, s:f, s:f, s:[]}", "method", "stacked", "meta_learner",
                  "type", "logistic", "C", 10.0, "calibration", "none", "temperature", 1.0,
                  "clip_floor", 0.0, "exclude_models"),
        json_pack("{s:b, s:i, s:b}", "enforce_phases", 0, "min_model_types", 4,
                  "require_feature_discovery", 1),
        json_pack("{s:[]}", "feature_leakage_denylist"),
        json_object(),
    };
    json_t *root = json_object();
    bool ok = root != NULL;
    for (size_t i = 0; i < N; i++) ok = ok && sec[i];
    for (size_t i = 0; i < N; i++) {
        if (ok) ok = json_object_set_new(root, names[i], sec[i]) == 0;
        else json_decref(sec[i]);
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---- dotted access ------------------------------------------------------------------ */

json_t *hml_config_get(const json_t *root, const char *path)
{
    const json_t *cur = root;
    const char *p = path;
    while (cur && p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        cur = json_object_getn(cur, p, n);
        p = dot ? dot + 1 : NULL;
    }
    return (json_t *)cur;
}

static enum hml_status bad_path(const char *path, json_t *value, struct hml_error *err)
{
    json_decref(value);
    hml_fail(err, HML_EINVAL, "config", "config path '%.200s' has an empty part", path);
    return hml_hint(err, "write dotted paths like models.xgb.params.max_depth");
}

static bool path_ok(const char *path)
{
    size_t n = strlen(path);
    return n && path[0] != '.' && path[n - 1] != '.' && !strstr(path, "..");
}

enum hml_status hml_config_set(json_t *root, const char *path, json_t *value,
                               struct hml_error *err)
{
    if (!value) return oom(err);
    if (!path_ok(path)) return bad_path(path, value, err);
    HML_ASSERT(json_is_object(root));
    json_t *cur = root;
    const char *p = path, *dot;
    while ((dot = strchr(p, '.'))) {
        size_t n = (size_t)(dot - p);
        json_t *next = json_object_getn(cur, p, n);
        if (!next || json_is_null(next)) {
            next = json_object();
            if (json_object_setn_new(cur, p, n, next)) {
                json_decref(value);
                return oom(err);
            }
        } else if (!json_is_object(next)) {
            json_decref(value);
            hml_fail(err, HML_EINVAL, "config", "cannot set '%.200s': '%.*s' is not a mapping", path,
                     (int)(dot - path), path);
            return hml_hint(err, "set '%.*s' itself, or replace it with a mapping first",
                            (int)(dot - path), path);
        }
        cur = next;
        p = dot + 1;
    }
    return json_object_set_new(cur, p, value) ? oom(err) : HML_OK;
}

/* ---- merge ---------------------------------------------------------------------------- */

/* dst[key] <- src (stolen): objects merge key by key; anything else replaces.
 * With drop_nulls a null src deletes the key instead. */
static enum hml_status merge_key(json_t *dst, const char *key, size_t klen, json_t *src,
                                 bool drop_nulls, struct hml_error *err)
{
    json_t *cur = json_object_getn(dst, key, klen);
    if (drop_nulls && json_is_null(src)) {
        json_decref(src);
        if (cur) json_object_deln(dst, key, klen);
        return HML_OK;
    }
    if (!json_is_object(src) || (!json_is_object(cur) && !drop_nulls))
        return json_object_setn_new(dst, key, klen, src) ? oom(err) : HML_OK;
    if (!json_is_object(cur)) {
        /* A new mapping is merged into an empty one so that its nulls vanish too. */
        cur = json_object();
        if (json_object_setn_new(dst, key, klen, cur)) {
            json_decref(src);
            return oom(err);
        }
    }
    const char *k;
    size_t kl;
    json_t *v;
    enum hml_status rc = HML_OK;
    json_object_keylen_foreach(src, k, kl, v) {
        if ((rc = merge_key(cur, k, kl, json_incref(v), drop_nulls, err))) break;
    }
    json_decref(src);
    return rc;
}

static enum hml_status expand(const json_t *v, json_t **out, struct hml_error *err);

/* Adds one overlay entry to the expanded tree: "a.b.c": v becomes a: {b: {c: v}}. */
static enum hml_status expand_entry(json_t *res, const char *key, const json_t *v,
                                    struct hml_error *err)
{
    if (!path_ok(key)) {
        hml_fail(err, HML_EINVAL, "config", "overlay key '%.200s' has an empty part", key);
        return hml_hint(err, "write dotted keys like models.xgb.params.max_depth");
    }
    json_t *node = NULL;
    enum hml_status rc = expand(v, &node, err);
    if (rc) return rc;
    const char *first_dot = strchr(key, '.');
    const char *end = key + strlen(key);
    while (first_dot && end > first_dot) {
        const char *seg = end - 1;
        while (*seg != '.') seg--;
        json_t *wrap = json_object();
        if (!wrap) json_decref(node);
        if (!wrap || json_object_setn_new(wrap, seg + 1, (size_t)(end - seg - 1), node)) {
            json_decref(wrap);
            return oom(err); /* setn_new released node */
        }
        node = wrap;
        end = seg;
    }
    /* Nulls are kept here: they mean "delete" when the overlay is applied. */
    return merge_key(res, key, (size_t)(end - key), node, false, err);
}

/* A copy of v with dot keys expanded at every depth (arrays are copied as they are). */
static enum hml_status expand(const json_t *v, json_t **out, struct hml_error *err)
{
    if (!json_is_object(v)) {
        *out = json_deep_copy(v);
        return *out ? HML_OK : oom(err);
    }
    json_t *res = json_object();
    if (!res) return oom(err);
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        enum hml_status rc = expand_entry(res, k, x, err);
        if (rc) {
            json_decref(res);
            return rc;
        }
    }
    *out = res;
    return HML_OK;
}

/* Moves append_features/remove_features out of each overlay model into edits
 * ({model: {append_features, remove_features}}); a model block that held only
 * edits is dropped so that merging cannot create an empty model. */
static enum hml_status take_feature_edits(json_t *exp, json_t *edits, struct hml_error *err)
{
    static const char *const keys[] = {"append_features", "remove_features"};
    json_t *models = json_object_get(exp, "models");
    const char *name;
    json_t *m, *tmp;
    json_object_foreach_safe(models, tmp, name, m) {
        if (!json_is_object(m)) continue;
        json_t *e = NULL;
        for (size_t i = 0; i < 2; i++) {
            json_t *v = json_object_get(m, keys[i]);
            if (!v) continue;
            if (!e && (!(e = json_object()) || json_object_set_new(edits, name, e))) return oom(err);
            if (json_object_set(e, keys[i], v)) return oom(err);
            json_object_del(m, keys[i]);
        }
        if (e && json_object_size(m) == 0) json_object_del(models, name);
    }
    return HML_OK;
}

static enum hml_status bad_feature_list(const char *model, const char *key, struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, "config", "'models.%.100s.%s' must be a list of feature names", model, key);
    return hml_hint(err, "write e.g. {\"%s\": [\"feature_a\", \"feature_b\"]}", key);
}

static bool list_has(const json_t *list, const char *s)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        if (json_is_string(json_array_get(list, i)) &&
            !strcmp(json_string_value(json_array_get(list, i)), s))
            return true;
    return false;
}

/* Applies one list of names to features: append (no duplicates) or remove (a
 * missing name is fine). A lone string counts as a one-name list. */
static enum hml_status edit_features(json_t *features, const json_t *names, bool append,
                                     const char *model, struct hml_error *err)
{
    const char *key = append ? "append_features" : "remove_features";
    size_t n = json_is_string(names) ? 1 : json_array_size(names);
    if (!json_is_string(names) && !json_is_array(names)) return bad_feature_list(model, key, err);
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_is_string(names) ? names : json_array_get(names, i);
        if (!json_is_string(x)) return bad_feature_list(model, key, err);
        const char *s = json_string_value(x);
        if (append && !list_has(features, s) && json_array_append_new(features, json_string(s)))
            return oom(err);
        for (size_t j = json_array_size(features); !append && j-- > 0;)
            if (json_is_string(json_array_get(features, j)) &&
                !strcmp(json_string_value(json_array_get(features, j)), s))
                json_array_remove(features, j);
    }
    return HML_OK;
}

static enum hml_status unknown_model(const json_t *models, const char *name, struct hml_error *err)
{
    const char *names[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)models, k, v) {
        if (n < 64) names[n++] = k;
    }
    hml_fail(err, HML_ENOTFOUND, "config", "cannot edit the features of model '%.100s': no such model",
             name);
    return hml_error_choices(err, name, names, n);
}

/* Appends first, then removes. */
static enum hml_status apply_feature_edits(json_t *res, const json_t *edits, struct hml_error *err)
{
    json_t *models = json_object_get(res, "models");
    const char *name;
    json_t *e;
    json_object_foreach((json_t *)edits, name, e) {
        json_t *m = json_object_get(models, name);
        if (!json_is_object(m)) return unknown_model(models, name, err);
        json_t *features = json_object_get(m, "features");
        if (!features || json_is_null(features)) {
            if (!hml_json_set(m, "features", json_array())) return oom(err);
            features = json_object_get(m, "features");
        }
        if (!json_is_array(features)) return bad_feature_list(name, "features", err);
        json_t *add = json_object_get(e, "append_features"), *del = json_object_get(e, "remove_features");
        enum hml_status rc = HML_OK;
        if (add) rc = edit_features(features, add, true, name, err);
        if (!rc && del) rc = edit_features(features, del, false, name, err);
        if (rc) return rc;
    }
    return HML_OK;
}

enum hml_status hml_config_expand(const json_t *overlay, json_t **out, struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    if (!json_is_object(overlay)) {
        hml_fail(err, HML_EINVAL, "config", "an overlay must be a mapping of config keys");
        return hml_hint(err, "write e.g. {\"models.xgb.params.max_depth\": 4}");
    }
    json_t *exp = NULL;
    enum hml_status rc = expand(overlay, &exp, err);
    if (!rc && hml_json_depth(exp) > HML_JSON_DEPTH_MAX) {
        json_decref(exp);
        hml_fail(err, HML_ELIMIT, "config", "the overlay nests deeper than %d levels", HML_JSON_DEPTH_MAX);
        return hml_hint(err, "use shorter dotted keys");
    }
    if (!rc) *out = exp;
    return rc;
}

enum hml_status hml_config_merge(const json_t *root, const json_t *overlay, json_t **out,
                                 struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    if (overlay && !json_is_object(overlay)) {
        hml_fail(err, HML_EINVAL, "config", "an overlay must be a mapping of config keys");
        return hml_hint(err, "write e.g. {\"models.xgb.params.max_depth\": 4}");
    }
    json_t *exp = NULL, *edits = json_object();
    json_t *res = root ? json_deep_copy(root) : json_object();
    enum hml_status rc = res && edits ? HML_OK : oom(err);
    if (!rc && overlay) rc = expand(overlay, &exp, err);
    if (!rc && exp && hml_json_depth(exp) > HML_JSON_DEPTH_MAX) {
        hml_fail(err, HML_ELIMIT, "config", "the overlay nests deeper than %d levels", HML_JSON_DEPTH_MAX);
        rc = hml_hint(err, "use shorter dotted keys");
    }
    if (!rc && exp) rc = take_feature_edits(exp, edits, err);
    const char *k;
    json_t *v;
    if (!rc && exp) json_object_foreach(exp, k, v) {
        if ((rc = merge_key(res, k, strlen(k), json_incref(v), true, err))) break;
    }
    if (!rc) rc = apply_feature_edits(res, edits, err);
    json_decref(exp);
    json_decref(edits);
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return HML_OK;
}

/* ---- hash ----------------------------------------------------------------------------- */

static int hash_chunk(const char *buf, size_t n, void *data)
{
    hml_sha256_update(data, buf, n);
    return 0;
}

/* Same bytes as hml_json_canonical, streamed into the hash. On OOM out is "",
 * which never equals a real hash, so a cache lookup misses rather than lies. */
void hml_config_hash(const json_t *root, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    struct hml_sha256 s;
    unsigned char d[32];
    hml_sha256_init(&s);
    if (json_dump_callback(root, hash_chunk, &s, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                                                     JSON_REAL_PRECISION(17))) {
        out[0] = 0;
        return;
    }
    hml_sha256_final(&s, d);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = 0;
}
