/* t_configure.c — the `configure` tool: project set-up and global settings. */
#include "pipeline_int.h"

#include <libgen.h>
#include <math.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/cv.h"
#include "harness/expr.h"
#include "harness/feature.h"
#include "harness/runner.h"
#include "harness/stats.h"
#include "harness/log.h"
#include "harness/metric.h"
#include "harness/store.h"
#include "harness/yaml.h"

static const char agents_md[] =
    "# Working in this Harness project\n"
    "\n"
    "This directory is a Harness ML project. Drive it through the Harness tools (MCP server\n"
    "`harness mcp`, or `harness <tool> <action>` in a shell), not by editing files by hand.\n"
    "\n"
    "1. Look before you model: `data status`, `data profile`, `data inspect --column X`.\n"
    "2. Write a plan in the notebook before the first experiment.\n"
    "3. Every experiment states a hypothesis, changes one thing, and runs against a baseline.\n"
    "4. Log a conclusion (`experiments log_result`) before starting the next experiment.\n"
    "5. A result that looks too good is a leak until proven otherwise: check the features.\n"
    "6. `config/*.yaml` is the source of truth; `EXPERIMENT_LOG.md` is generated from\n"
    "   `experiments/journal.jsonl` — do not edit either by hand.\n";

static const char experiment_log_md[] =
    "# Experiment log\n"
    "\n"
    "Generated from experiments/journal.jsonl. No experiments yet.\n";

static const char gitignore_txt[] = ".harness/cache/\n.harness/*.db-wal\n.harness/*.db-shm\n";

/* ---- helpers ----------------------------------------------------------------------- */

/* Commits a changed config tree (validated first) through a transaction. */
static enum hml_status save_config(const struct hml_project *p, const json_t *root,
                                   struct hml_error *err)
{
    enum hml_status rc = hml_config_validate(root, err);
    if (rc) return rc;
    struct hml_txn *txn = hml_txn_new();
    if (!txn) return hml_fail(err, HML_ENOMEM, "config", "out of memory");
    rc = hml_config_save(root, p->dir, txn, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    hml_txn_free(txn);
    return rc;
}

/* Every name in `names` (a string or list of strings) must be a column of the
 * table, when there is one. */
static enum hml_status check_columns(const struct hml_frame *table, const json_t *names,
                                     const char *param, struct hml_error *err)
{
    if (!table || !names) return HML_OK;
    if (json_is_string(names)) {
        size_t idx;
        enum hml_status rc = hml_frame_lookup(table, json_string_value(names), &idx, err);
        if (rc) hml_error_prefix(err, "%s", param);
        return rc;
    }
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) {
        enum hml_status rc = check_columns(table, v, param, err);
        if (rc) return rc;
    }
    return HML_OK;
}


/* "classification" is the name many users reach for; the engine calls it binary. */
static const char *canonical_task(const char *task, struct hml_result *res)
{
    if (task && !strcmp(task, "classification")) {
        hml_result_warn(res, "task 'classification' read as 'binary'; use 'multiclass' for more than two classes");
        return "binary";
    }
    return task;
}

/* ---- init ---------------------------------------------------------------------------- */

static enum hml_status stage_text(struct hml_txn *txn, const char *dir, const char *rel,
                                  const char *text, struct hml_error *err)
{
    char *path = hml_path_join(dir, rel);
    if (!path) return hml_fail(err, HML_ENOMEM, "configure.init", "out of memory");
    enum hml_status rc = hml_path_exists(path) ? HML_OK : hml_txn_write(txn, path, text, strlen(text), err);
    hml_free(path);
    return rc;
}

static enum hml_status build_init_config(struct hml_call *call, struct hml_result *res,
                                         json_t **out, struct hml_error *err)
{
    const char *name = hml_param_str(call, "project_name", NULL);
    char base[256];
    if (!name) {
        snprintf(base, sizeof base, "%s", call->project_dir);
        name = basename(base);
    }
    const char *task = canonical_task(hml_param_str(call, "task", NULL), res);
    if (!task) {
        task = "binary";
        hml_result_warn(res, "no task given: assumed 'binary' (change it with configure update_data --task ...)");
    }
    const char *target = hml_param_str(call, "target_column", NULL);
    json_t *root = hml_config_default(name, task, target);
    if (!root) return hml_fail(err, HML_ENOMEM, "configure.init", "out of memory");
    json_t *keys = hml_param_json(call, "key_columns");
    if (keys) hml_config_set(root, "data.key_columns", json_incref(keys), err);
    const char *time_col = hml_param_str(call, "time_column", NULL);
    if (time_col) hml_config_set(root, "data.time_column", json_string(time_col), err);
    const char *fold = hml_param_str(call, "fold_column", NULL);
    if (fold) {
        /* A fold column means "one fold per value": leave-one-season-out. */
        hml_config_set(root, "data.fold_column", json_string(fold), err);
        hml_config_set(root, "backtest.fold_column", json_string(fold), err);
        hml_config_set(root, "backtest.cv_strategy", json_string("loso"), err);
    }
    enum hml_status rc = hml_config_validate(root, err);
    if (rc) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return HML_OK;
}

static enum hml_status a_init(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    char *pipeline = hml_path_join(call->project_dir, "config/pipeline.yaml");
    if (!pipeline) return hml_fail(err, HML_ENOMEM, "configure.init", "out of memory");
    bool exists = hml_path_exists(pipeline);
    hml_free(pipeline);
    if (exists) {
        hml_fail(err, HML_ECONFLICT, "configure.init", "a Harness project exists already at '%s'",
                 call->project_dir);
        return hml_hint(err, "change it with configure update_data, or pass another project_dir");
    }
    json_t *root = NULL;
    enum hml_status rc = build_init_config(call, res, &root, err);
    if (rc) return rc;
    struct hml_txn *txn = hml_txn_new();
    if (!txn) rc = hml_fail(err, HML_ENOMEM, "configure.init", "out of memory");
    if (!rc) rc = hml_config_save(root, call->project_dir, txn, err);
    if (!rc) rc = stage_text(txn, call->project_dir, "AGENTS.md", agents_md, err);
    if (!rc) rc = stage_text(txn, call->project_dir, "EXPERIMENT_LOG.md", experiment_log_md, err);
    if (!rc) rc = stage_text(txn, call->project_dir, ".harness/.gitignore", gitignore_txt, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    hml_txn_free(txn);
    if (rc) {
        json_decref(root);
        return rc;
    }
    static const char *const dirs[] = {"data/raw", "experiments", "notebook", "outputs", ".harness/cache"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char *d = hml_path_join(call->project_dir, dirs[i]);
        struct hml_error e2;
        if (!d || hml_mkdirs(d, &e2)) hml_result_warn(res, "could not create %s", dirs[i]);
        hml_free(d);
    }
    struct hml_store *st;
    struct hml_error e3;
    if (hml_store_open(call->project_dir, &st, &e3) == HML_OK) hml_store_close(st);
    else hml_result_warn(res, "metadata store not created: %s", e3.message);

    const char *name = hml_json_str(hml_config_get(root, "project"), "name", "");
    const char *task = hml_json_str(hml_config_get(root, "data"), "task", "");
    const char *target = hml_json_str(hml_config_get(root, "data"), "target_column", NULL);
    hml_buf_printf(&res->text, "Created project '%s' at %s (task %s, target %s).\n", name,
                   call->project_dir, task, target ? target : "not set");
    hml_buf_puts(&res->text, "Files: config/{pipeline,models,ensemble,sources}.yaml, AGENTS.md, "
                             "EXPERIMENT_LOG.md, .harness/store.db\n"
                             "Next: data add --data_path <file.csv>\n");
    json_object_set_new(res->data, "project_dir", json_string(call->project_dir));
    json_object_set_new(res->data, "config", root);
    return HML_OK;
}

/* ---- show ----------------------------------------------------------------------------- */

static void show_summary(const struct hml_project *p, struct hml_result *res)
{
    const json_t *root = p->cfg->root;
    const json_t *data = json_object_get(root, "data"), *bt = json_object_get(root, "backtest");
    const json_t *ens = json_object_get(root, "ensemble"), *models = json_object_get(root, "models");
    const json_t *sources = json_object_get(root, "sources");
    char c1[32], c2[32];
    struct hml_buf *t = &res->text;
    hml_buf_printf(t, "## Project '%s' (%s)\n", hml_json_str(json_object_get(root, "project"), "name", "?"),
                   hml_json_str(data, "task", "?"));
    hml_buf_printf(t, "- target: %s", hml_json_str(data, "target_column", "not set"));
    const json_t *keys = json_object_get(data, "key_columns");
    if (json_array_size(keys)) {
        hml_buf_puts(t, " · keys:");
        size_t i;
        json_t *k;
        json_array_foreach(keys, i, k) hml_buf_printf(t, "%s %s", i ? "," : "", json_string_value(k));
    }
    if (hml_json_str(data, "time_column", NULL)) hml_buf_printf(t, " · time: %s", hml_json_str(data, "time_column", ""));
    hml_buf_putc(t, '\n');
    if (p->table)
        hml_buf_printf(t, "- data: %s rows × %s columns from %zu source(s)\n",
                       hml__fmt_count(c1, p->table->nrows), hml__fmt_count(c2, p->table->ncols),
                       json_object_size(sources));
    else
        hml_buf_puts(t, "- data: none yet — data add --data_path <file>\n");
    size_t nex = json_array_size(json_object_get(data, "exclude_columns"));
    if (nex) hml_buf_printf(t, "- excluded columns: %zu\n", nex);
    hml_buf_printf(t, "- backtest: %s", hml_json_str(bt, "cv_strategy", "?"));
    if (json_object_get(bt, "n_folds")) hml_buf_printf(t, ", %lld folds", (long long)hml_json_int(bt, "n_folds", 0));
    if (hml_json_str(bt, "fold_column", NULL)) hml_buf_printf(t, " over '%s'", hml_json_str(bt, "fold_column", ""));
    hml_buf_printf(t, " · primary metric %s\n", hml_json_str(bt, "primary_metric", "?"));
    hml_buf_printf(t, "- models: %zu", json_object_size(models));
    if (!json_object_size(models)) hml_buf_puts(t, " — add one with models add");
    hml_buf_printf(t, "\n- ensemble: %s, calibration %s\n", hml_json_str(ens, "method", "?"),
                   hml_json_str(ens, "calibration", "none"));
    json_t *summary = json_pack("{s:s?,s:s?,s:s?,s:O?,s:s?,s:s?,s:I,s:I}",
                                "name", hml_json_str(json_object_get(root, "project"), "name", NULL),
                                "task", hml_json_str(data, "task", NULL),
                                "target_column", hml_json_str(data, "target_column", NULL),
                                "key_columns", json_object_get(data, "key_columns"),
                                "cv_strategy", hml_json_str(bt, "cv_strategy", NULL),
                                "primary_metric", hml_json_str(bt, "primary_metric", NULL),
                                "models", (json_int_t)json_object_size(models),
                                "sources", (json_int_t)json_object_size(sources));
    if (p->table) {
        json_object_set_new(summary, "rows", json_integer((json_int_t)p->table->nrows));
        json_object_set_new(summary, "columns", json_integer((json_int_t)p->table->ncols));
    }
    json_object_set_new(res->data, "summary", summary);
}

static enum hml_status a_show(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    const char *section = hml_param_str(call, "section", NULL);
    bool full = !strcmp(hml_param_str(call, "detail", "summary"), "full");
    if (!section && !full) {
        show_summary(p, res);
        hml__project_free(p);
        return HML_OK;
    }
    const json_t *v = section ? json_object_get(p->cfg->root, section) : p->cfg->root;
    /* Emit {section: value} so the YAML shown is exactly what the file holds. */
    json_t *shown = section ? json_pack("{s:O}", section, v ? v : json_object()) : json_incref((json_t *)v);
    char *yaml = shown ? hml_yaml_emit(shown) : NULL;
    json_decref(shown);
    if (!yaml) {
        hml__project_free(p);
        return hml_fail(err, HML_ENOMEM, "configure.show", "out of memory");
    }
    hml_buf_printf(&res->text, "```yaml\n%s```\n", yaml);
    hml_free(yaml);
    if (section) json_object_set_new(res->data, "section", json_string(section));
    json_object_set_new(res->data, "config", v ? json_deep_copy(v) : json_object());
    hml__project_free(p);
    return HML_OK;
}

/* ---- update_data ----------------------------------------------------------------------- */

struct data_field { const char *param, *path; };

static const struct data_field data_fields[] = {
    {"task", "data.task"},
    {"target_column", "data.target_column"},
    {"key_columns", "data.key_columns"},
    {"time_column", "data.time_column"},
    {"fold_column", "data.fold_column"},
    {"exclude_columns", "data.exclude_columns"},
};

static void describe_value(const json_t *v, char *buf, size_t cap)
{
    if (!v || json_is_null(v)) {
        snprintf(buf, cap, "–");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, cap, "%s", s ? s : "?");
    hml_free(s);
}

static enum hml_status retarget_metrics(json_t *root, struct hml_result *res, struct hml_error *err)
{
    const char *task_name = hml_json_str(json_object_get(root, "data"), "task", "binary");
    enum hml_task task;
    enum hml_status rc = hml_task_parse(task_name, &task, err);
    if (rc) return rc;
    json_t *bt = json_object_get(root, "backtest");
    size_t i;
    json_t *v;
    bool fits = json_array_size(json_object_get(bt, "metrics")) > 0;
    json_array_foreach(json_object_get(bt, "metrics"), i, v) {
        const struct hml_metric *m;
        struct hml_error e;
        fits &= hml_metric_lookup(json_string_value(v), task, &m, &e) == HML_OK;
    }
    if (fits) return HML_OK;
    json_t *defaults = hml_config_default(NULL, task_name, NULL);
    if (!defaults) return hml_fail(err, HML_ENOMEM, "configure.update_data", "out of memory");
    json_object_set(bt, "metrics", hml_config_get(defaults, "backtest.metrics"));
    json_object_set(bt, "primary_metric", hml_config_get(defaults, "backtest.primary_metric"));
    json_decref(defaults);
    hml_result_warn(res, "backtest metrics reset to the %s defaults (primary %s)", task_name,
                    hml_json_str(bt, "primary_metric", "?"));
    return HML_OK;
}

static enum hml_status a_update_data(struct hml_call *call, struct hml_result *res,
                                     struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root), *changes = json_array();
    size_t given = 0;
    for (size_t i = 0; !rc && i < sizeof data_fields / sizeof *data_fields; i++) {
        const struct data_field *f = &data_fields[i];
        json_t *v = hml_param_json(call, f->param);
        if (!v) continue;
        given++;
        if (!strcmp(f->param, "task")) v = json_string(canonical_task(json_string_value(v), res));
        else v = json_incref(v);
        if (strcmp(f->param, "task")) rc = check_columns(p->table, v, f->param, err);
        char before[256], after[256];
        describe_value(hml_config_get(root, f->path), before, sizeof before);
        describe_value(v, after, sizeof after);
        if (!rc) rc = hml_config_set(root, f->path, v, err);
        else json_decref(v);
        if (!rc && strcmp(before, after)) {
            json_array_append_new(changes, json_pack("{s:s,s:s,s:s}", "key", f->path, "from", before, "to", after));
            hml_buf_printf(&res->text, "- %s: %s → %s\n", f->path, before, after);
        }
        /* Metrics of another task do not apply to the new one: take the new defaults. */
        if (!rc && !strcmp(f->param, "task")) rc = retarget_metrics(root, res, err);
        /* The fold column of the data is also the one the backtest splits on. */
        if (!rc && !strcmp(f->param, "fold_column"))
            rc = hml_config_set(root, "backtest.fold_column", json_incref(hml_param_json(call, "fold_column")), err);
    }
    if (!rc && !given) {
        hml_fail(err, HML_EINVAL, "configure.update_data", "nothing to update");
        rc = hml_hint(err, "pass at least one of task, target_column, key_columns, time_column, fold_column, exclude_columns");
    }
    if (!rc && !p->table) hml_result_warn(res, "column names not checked: the project has no data yet");
    if (!rc) rc = save_config(p, root, err);
    if (!rc) {
        if (!json_array_size(changes)) hml_buf_puts(&res->text, "No change: the values given are the current ones.\n");
        json_object_set_new(res->data, "changes", changes);
        changes = NULL;
    }
    json_decref(changes);
    json_decref(root);
    hml__project_free(p);
    return rc;
}

/* ---- exclude_columns / set_denylist ----------------------------------------------------- */

static bool list_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), s)) return true;
    return false;
}

static void list_remove(json_t *arr, const char *s)
{
    for (size_t i = json_array_size(arr); i-- > 0;)
        if (!strcmp(json_string_value(json_array_get(arr, i)), s)) json_array_remove(arr, i);
}

/* Shared by exclude_columns (never used as features) and set_denylist (a leakage
 * guardrail: a model that uses one of these is refused). */
static enum hml_status edit_column_list(struct hml_call *call, struct hml_result *res,
                                        const char *path, const char *what, bool must_exist,
                                        struct hml_error *err)
{
    json_t *add = hml_param_json(call, "add_columns"), *del = hml_param_json(call, "remove_columns");
    if (!add && !del) {
        hml_fail(err, HML_EINVAL, call->action->name, "nothing to change");
        return hml_hint(err, "pass add_columns and/or remove_columns (lists of column names)");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root);
    json_t *list = json_deep_copy(hml_config_get(root, path));
    if (!json_is_array(list)) {
        json_decref(list);
        list = json_array();
    }
    const char *target = hml_json_str(json_object_get(root, "data"), "target_column", NULL);
    size_t i;
    json_t *v;
    json_array_foreach(add, i, v) {
        const char *name = json_string_value(v);
        if (must_exist && target && !strcmp(name, target)) {
            hml_fail(err, HML_EINVAL, call->action->name, "'%s' is the target column", name);
            rc = hml_hint(err, "the target is never a feature already; exclude other columns");
            break;
        }
        if (p->table && hml_frame_find(p->table, name) < 0) {
            if (must_exist) {
                rc = check_columns(p->table, v, "add_columns", err);
                break;
            }
            hml_result_warn(res, "'%s' is not a column of the table (kept in the %s anyway)", name, what);
        }
        if (!list_has(list, name)) json_array_append(list, v);
    }
    json_array_foreach(del, i, v) {
        if (rc) break;
        if (!list_has(list, json_string_value(v)))
            hml_result_warn(res, "'%s' was not in the %s", json_string_value(v), what);
        list_remove(list, json_string_value(v));
    }
    if (!rc) rc = hml_config_set(root, path, json_incref(list), err);
    if (!rc) rc = save_config(p, root, err);
    if (!rc) {
        hml_buf_printf(&res->text, "The %s has %zu column(s)", what, json_array_size(list));
        json_array_foreach(list, i, v) hml_buf_printf(&res->text, "%s %s", i ? "," : ":", json_string_value(v));
        hml_buf_puts(&res->text, ".\n");
        json_object_set_new(res->data, "columns", json_incref(list));
    }
    json_decref(list);
    json_decref(root);
    hml__project_free(p);
    return rc;
}

static enum hml_status a_exclude_columns(struct hml_call *call, struct hml_result *res,
                                         struct hml_error *err)
{
    return edit_column_list(call, res, "data.exclude_columns", "exclusion list", true, err);
}

static enum hml_status a_set_denylist(struct hml_call *call, struct hml_result *res,
                                      struct hml_error *err)
{
    return edit_column_list(call, res, "guardrails.feature_leakage_denylist", "leakage denylist", false, err);
}

/* ---- backtest / suggest_cv --------------------------------------------------------------------- */

static const char *const backtest_keys[] = {"cv_strategy", "fold_column", "fold_values", "n_folds", "window_size",
                                            "purge_gap", "group_column", "min_train_folds", "metrics",
                                            "primary_metric", "eval_filter", "seed"};

/* Metric names must exist for the task; they are stored in canonical form. */
static enum hml_status canonical_metrics(json_t *bt, const char *task_name, struct hml_error *err)
{
    enum hml_task task;
    enum hml_status rc = hml_task_parse(task_name, &task, err);
    if (rc) return rc;
    json_t *list = json_object_get(bt, "metrics");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const struct hml_metric *m;
        if ((rc = hml_metric_lookup(json_string_value(v), task, &m, err))) return rc;
        json_string_set(v, m->name);
    }
    const char *primary = hml_json_str(bt, "primary_metric", NULL);
    if (primary) {
        const struct hml_metric *m;
        if ((rc = hml_metric_lookup(primary, task, &m, err))) return rc;
        json_object_set_new(bt, "primary_metric", json_string(m->name));
        bool listed = false;
        json_array_foreach(list, i, v) listed |= !strcmp(json_string_value(v), m->name);
        if (!listed) json_array_append_new(list, json_string(m->name));
    }
    return HML_OK;
}

/* eval_filter must parse, name real columns and be a condition. */
static enum hml_status check_filter(const struct hml_project *p, const char *src, struct hml_error *err)
{
    if (!src || !*src) return HML_OK;
    struct hml_expr *e = NULL;
    enum hml_type type = HML_TYPE_BOOL;
    enum hml_status rc = hml_expr_parse(src, &e, err);
    if (!rc && p->table) rc = hml_expr_check(e, p->table, NULL, &type, err);
    if (!rc && type != HML_TYPE_BOOL) {
        hml_fail(err, HML_EINVAL, "configure.backtest", "eval_filter '%s' is not a condition", src);
        rc = hml_hint(err, "write a true/false formula, e.g. \"season >= 2015\"");
    }
    if (rc) hml_error_prefix(err, "eval_filter");
    hml_expr_free(e);
    return rc;
}

/* Builds the folds the new settings give, as a check and as feedback. */
static void describe_folds(const struct hml_project *p, const json_t *root, struct hml_result *res,
                           enum hml_status *rc, struct hml_error *err)
{
    const json_t *data = json_object_get(root, "data");
    struct hml_cv_spec spec;
    hml_cv_spec_init(&spec);
    *rc = hml_cv_spec_parse(json_object_get(root, "backtest"), hml_json_str(data, "target_column", NULL), &spec, err);
    struct hml_cv_folds *folds = NULL;
    if (!*rc && p->table) *rc = hml_cv_make(p->table, &spec, &folds, err);
    if (!*rc && folds) {
        hml_buf_printf(&res->text, "%s: %zu folds; test rows", hml_cv_strategy_describe(spec.strategy), folds->n);
        for (size_t i = 0; i < folds->n && i < 12; i++)
            hml_buf_printf(&res->text, "%s %s=%zu", i ? "," : "", folds->folds[i].label, folds->folds[i].test_n);
        hml_buf_puts(&res->text, folds->n > 12 ? ", …\n" : "\n");
        json_object_set_new(res->data, "folds", json_integer((json_int_t)folds->n));
    } else if (!*rc) {
        hml_result_warn(res, "folds not checked: the project has no data yet");
    }
    hml_cv_folds_free(folds);
    hml_cv_spec_fini(&spec);
}

static enum hml_status a_backtest(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root);
    json_t *bt = json_object_get(root, "backtest");
    size_t given = 0;
    for (size_t i = 0; i < sizeof backtest_keys / sizeof *backtest_keys; i++) {
        json_t *v = hml_param_json(call, backtest_keys[i]);
        if (v) json_object_set(bt, backtest_keys[i], v), given++;
    }
    if (!given) {
        hml_fail(err, HML_EINVAL, "configure.backtest", "nothing to change");
        rc = hml_hint(err, "pass cv_strategy, n_folds, fold_column, metrics, … (configure suggest_cv proposes a strategy)");
    }
    enum hml_cv_strategy s;
    if (!rc && hml_param_has(call, "cv_strategy") &&
        !(rc = hml_cv_strategy_parse(hml_param_str(call, "cv_strategy", ""), &s, err)))
        json_object_set_new(bt, "cv_strategy", json_string(hml_cv_strategy_name(s))); /* aliases stored canonical */
    if (!rc) rc = canonical_metrics(bt, hml_json_str(json_object_get(root, "data"), "task", "binary"), err);
    if (!rc) rc = check_filter(p, hml_json_str(bt, "eval_filter", NULL), err);
    if (!rc) describe_folds(p, root, res, &rc, err);
    if (!rc) rc = save_config(p, root, err);
    if (!rc) json_object_set(res->data, "backtest", bt);
    json_decref(root);
    hml__project_free(p);
    return rc;
}

static enum hml_status a_suggest_cv(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    const json_t *data = json_object_get(p->cfg->root, "data");
    struct hml_cv_suggestion sg;
    rc = hml_cv_suggest(p->table, hml_json_str(data, "target_column", NULL), hml_json_str(data, "time_column", NULL), &sg, err);
    if (!rc) {
        json_t *keys = hml_cv_suggestion_json(&sg);
        hml_buf_printf(&res->text, "Suggested: %s. %s\nApply with: configure backtest", hml_cv_strategy_name(sg.strategy), sg.reason);
        const char *k;
        json_t *v;
        json_object_foreach(keys, k, v) {
            char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            hml_buf_printf(&res->text, " --%s %s", k, json_is_string(v) ? json_string_value(v) : txt ? txt : "");
            hml_free(txt);
        }
        hml_buf_putc(&res->text, '\n');
        json_object_set_new(res->data, "suggestion", keys);
        json_object_set_new(res->data, "reason", json_string(sg.reason));
    }
    hml__project_free(p);
    return rc;
}

/* ---- ensemble -------------------------------------------------------------------------------------- */

static const char *const ensemble_keys[] = {"method", "meta_learner", "calibration", "pre_calibration", "temperature",
                                            "clip_floor", "exclude_models", "weights", "meta_features"};

/* Meta features and weights name real things; a meta feature is never the target
 * or a denylisted column (the same leak as a feature). */
static enum hml_status check_ensemble(const struct hml_project *p, const json_t *root, struct hml_error *err)
{
    const json_t *ens = json_object_get(root, "ensemble");
    const char *target = hml_json_str(json_object_get(root, "data"), "target_column", "");
    const json_t *deny = hml_config_get(root, "guardrails.feature_leakage_denylist");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ens, "meta_features"), i, v) {
        const char *name = json_string_value(v);
        if (!strcmp(name, target) || list_has(deny, name)) {
            hml_fail(err, HML_EBLOCKED, "configure.ensemble", "meta feature '%s' is %s", name,
                     !strcmp(name, target) ? "the target" : "on the leakage denylist");
            return hml_hint(err, "remove it from meta_features: the combiner would learn the answer");
        }
        enum hml_status rc = check_columns(p->table, v, "meta_features", err);
        if (rc) return rc;
    }
    const json_t *models = json_object_get(root, "models");
    const char *k;
    json_object_foreach((json_t *)json_object_get(ens, "weights"), k, v) {
        if (json_object_get(models, k)) continue;
        hml_fail(err, HML_ENOTFOUND, "configure.ensemble", "weights name the model '%s', which does not exist", k);
        return hml_hint(err, "models list shows the models");
    }
    return HML_OK;
}

static enum hml_status a_ensemble(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root);
    json_t *ens = json_object_get(root, "ensemble");
    if (!json_is_object(ens)) json_object_set_new(root, "ensemble", ens = json_object());
    size_t given = 0;
    for (size_t i = 0; i < sizeof ensemble_keys / sizeof *ensemble_keys; i++) {
        json_t *v = hml_param_json(call, ensemble_keys[i]);
        if (v) json_object_set(ens, ensemble_keys[i], v), given++;
    }
    if (!given) {
        hml_fail(err, HML_EINVAL, "configure.ensemble", "nothing to change");
        rc = hml_hint(err, "pass method (stacked, average, weighted), meta_learner, calibration, temperature, …");
    }
    if (!rc) rc = check_ensemble(p, root, err);
    if (!rc) rc = save_config(p, root, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Ensemble: %s", hml_json_str(ens, "method", "average"));
        if (!strcmp(hml_json_str(ens, "method", ""), "stacked"))
            hml_buf_printf(&res->text, " with a %s meta-learner", hml_json_str(json_object_get(ens, "meta_learner"), "type", "logistic"));
        hml_buf_printf(&res->text, "; calibration %s; temperature %g; clip floor %g.\n", hml_json_str(ens, "calibration", "none"),
                       hml_json_num(ens, "temperature", 1.0), hml_json_num(ens, "clip_floor", 0.0));
        json_object_set(res->data, "ensemble", ens);
    }
    json_decref(root);
    hml__project_free(p);
    return rc;
}

/* ---- check_guardrails ------------------------------------------------------------------------------- */

struct check {
    const char *name;
    const char *result; /* PASS, WARN, FAIL */
    char detail[256];
    bool overridable;
};

static void add_check(json_t *list, struct hml_buf *t, const struct check *c)
{
    hml_buf_printf(t, "| %s | %s | %s |\n", c->name, c->result, c->detail);
    json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:b}", "guardrail", c->name, "result", c->result, "detail",
                                          c->detail, "overridable", c->overridable));
}

/* Inputs of an active model: its declared features, or every column it may use. */
static void model_inputs(const json_t *root, const json_t *def, const struct hml_frame *t, const char **out, size_t *n)
{
    *n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(def, "features"), i, v) if (*n < 512) out[(*n)++] = json_string_value(v);
    if (*n || !t) return;
    for (size_t j = 0; j < t->ncols && *n < 512; j++)
        if (!hml_input_reserved(root, t->names[j])) out[(*n)++] = t->names[j];
}

/* feature_leakage (not overridable): no model input is the target, denylisted, or an answer. */
static void check_leakage(const struct hml_project *p, struct check *c)
{
    const json_t *root = p->cfg->root;
    struct hml_target tg;
    struct hml_error e;
    bool have_target = p->table && !hml_target_load(p->table, root, &tg, &e);
    const char *name;
    json_t *def;
    json_object_foreach(json_object_get(root, "models"), name, def) {
        if (!hml_json_bool(def, "active", true)) continue;
        const char *in[512];
        size_t n;
        model_inputs(root, def, p->table, in, &n);
        for (size_t k = 0; k < n; k++) {
            long j = p->table ? hml_frame_find(p->table, in[k]) : -1;
            bool bad = list_has(hml_config_get(root, "guardrails.feature_leakage_denylist"), in[k]) ||
                       (have_target && !strcmp(in[k], tg.name));
            if (!bad && have_target && j >= 0 && hml_feature_guard_column(in[k], in[k], p->table->cols[j], &tg, &e)) bad = true;
            if (bad) {
                c->result = "FAIL";
                snprintf(c->detail, sizeof c->detail, "model '%s' reads '%s', which gives the answer away", name, in[k]);
                break;
            }
        }
        if (!strcmp(c->result, "FAIL")) break;
    }
    if (have_target) hml_target_fini(&tg);
}

/* feature_diversity: two active models of one family reading the same inputs add
 * little to an ensemble. */
static void check_diversity(const struct hml_project *p, json_t *list, struct hml_buf *t)
{
    const json_t *root = p->cfg->root;
    struct check c = {"feature_diversity", "PASS", "no two models of one family share all their inputs", true};
    const char *na, *nb;
    json_t *a, *b;
    json_object_foreach(json_object_get(root, "models"), na, a) {
        json_object_foreach(json_object_get(root, "models"), nb, b) {
            if (strcmp(na, nb) >= 0 || !hml_json_bool(a, "active", true) || !hml_json_bool(b, "active", true)) continue;
            if (strcmp(hml__model_family(hml_json_str(a, "type", "")), hml__model_family(hml_json_str(b, "type", "")))) continue;
            if (!json_equal(json_object_get(a, "features"), json_object_get(b, "features"))) continue;
            c.result = "WARN";
            snprintf(c.detail, sizeof c.detail, "'%s' and '%s' are %s models on the same inputs: vary their features",
                     na, nb, hml__model_family(hml_json_str(a, "type", "")));
        }
    }
    add_check(list, t, &c);
}

/* model_complexity: boosted trees with far more leaves than rows memorise the data. */
static void check_complexity(const struct hml_project *p, json_t *list, struct hml_buf *t)
{
    struct check c = {"model_complexity", "PASS", "tree ensembles in proportion to the rows", true};
    size_t rows = p->table ? p->table->nrows : 0;
    const char *name;
    json_t *def;
    json_object_foreach(json_object_get(p->cfg->root, "models"), name, def) {
        const json_t *pr = json_object_get(def, "params");
        if (!rows || strcmp(hml__model_family(hml_json_str(def, "type", "")), "boosted_tree")) continue;
        double trees = hml_json_num(pr, "n_estimators", 100), depth = hml_json_num(pr, "max_depth", 6);
        double leaves = trees * pow(2.0, fmin(depth, 20));
        if (leaves > 100.0 * (double)rows) {
            c.result = "WARN";
            snprintf(c.detail, sizeof c.detail, "model '%s': %.0f trees of depth %.0f for %zu rows; lower depth or trees, "
                     "or use early_stopping_rounds", name, trees, depth, rows);
        }
    }
    add_check(list, t, &c);
}

static enum hml_status a_check_guardrails(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    const json_t *root = p->cfg->root, *data = json_object_get(root, "data");
    json_t *list = json_array();
    hml_buf_puts(&res->text, "| guardrail | result | detail |\n|---|---|---|\n");
    const char *target = hml_json_str(data, "target_column", NULL);
    struct check c = {"target", "PASS", "", false};
    if (!target || !p->table || hml_frame_find(p->table, target) < 0) {
        c.result = "FAIL";
        snprintf(c.detail, sizeof c.detail, "%s", !target ? "no target set" : "the target is not a column of the table");
    } else snprintf(c.detail, sizeof c.detail, "'%s'", target);
    add_check(list, &res->text, &c);
    c = (struct check){"feature_leakage", "PASS", "no model input is the target, denylisted or an answer", false};
    check_leakage(p, &c);
    add_check(list, &res->text, &c);
    /* temporal_ordering: with a time column, a row strategy trains on the future. */
    const char *strategy = hml_json_str(json_object_get(root, "backtest"), "cv_strategy", "kfold");
    enum hml_cv_strategy st;
    struct hml_error e;
    c = (struct check){"temporal_ordering", "PASS", "", false};
    bool ordered = !hml_cv_strategy_parse(strategy, &st, &e) && hml_cv_strategy_time_ordered(st);
    if (hml_json_str(data, "time_column", NULL) && !ordered) {
        c.result = "WARN";
        snprintf(c.detail, sizeof c.detail, "time column '%s' but %s trains on later rows: use expanding or sliding to forecast",
                 hml_json_str(data, "time_column", ""), strategy);
    } else snprintf(c.detail, sizeof c.detail, "%s", ordered ? "time-ordered strategy" : "no time column declared");
    add_check(list, &res->text, &c);
    /* class_imbalance: the minority class under 10% of the rows. */
    c = (struct check){"class_imbalance", "PASS", "", true};
    long tj = target && p->table ? hml_frame_find(p->table, target) : -1;
    struct hml_col_stats s;
    if (tj >= 0 && strcmp(hml_json_str(data, "task", ""), "regression") && !hml_col_stats(p->table->cols[tj], &s, &e) && s.top_n) {
        double minority = (double)s.top_count[s.top_n - 1] / (double)(s.n - s.nulls);
        snprintf(c.detail, sizeof c.detail, "smallest class %.1f%% of the rows", 100 * minority);
        if (minority < 0.10) c.result = "WARN";
    }
    add_check(list, &res->text, &c);
    /* feature_count: more inputs than a tenth of the rows overfits easily. */
    c = (struct check){"feature_count", "PASS", "", true};
    const char *name;
    json_t *def;
    size_t rows = p->table ? p->table->nrows : 0;
    json_object_foreach(json_object_get(root, "models"), name, def) {
        const char *in[512];
        size_t n;
        if (!hml_json_bool(def, "active", true)) continue;
        model_inputs(root, def, p->table, in, &n);
        if (rows && n > rows / 10) {
            c.result = "WARN";
            snprintf(c.detail, sizeof c.detail, "model '%s' has %zu inputs for %zu rows", name, n, rows);
        }
    }
    if (!strcmp(c.result, "PASS")) snprintf(c.detail, sizeof c.detail, "inputs within a tenth of the rows");
    add_check(list, &res->text, &c);
    check_diversity(p, list, &res->text);
    check_complexity(p, list, &res->text);
    size_t fails = 0, warns = 0, i;
    json_t *v;
    json_array_foreach(list, i, v) {
        fails += !strcmp(hml_json_str(v, "result", ""), "FAIL");
        warns += !strcmp(hml_json_str(v, "result", ""), "WARN");
    }
    hml_buf_printf(&res->text, "%zu FAIL, %zu WARN. FAILs block backtests; WARNs are advice.\n", fails, warns);
    json_object_set_new(res->data, "checks", list);
    json_object_set_new(res->data, "fail", json_integer((json_int_t)fails));
    hml__project_free(p);
    return HML_OK;
}

/* ---- workflow ----------------------------------------------------------------------------------- */

static enum hml_status a_workflow(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    static const char *const keys[] = {"enforce_phases", "min_model_types", "require_feature_discovery", "replan_every"};
    long long types = hml_param_int(call, "min_model_types", 1);
    if (types < 1 || types > 4) {
        hml_fail(err, HML_EINVAL, "configure.workflow", "min_model_types must be 1 to 4, got %lld", types);
        return hml_hint(err, "there are four model families: boosted trees, bagging, linear, neural");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    json_t *root = json_deep_copy(p->cfg->root);
    json_t *wf = json_object_get(root, "workflow");
    if (!json_is_object(wf)) json_object_set_new(root, "workflow", wf = json_object());
    size_t given = 0;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = hml_param_json(call, keys[i]);
        if (v) json_object_set(wf, keys[i], v), given++;
    }
    if (!given) {
        hml_fail(err, HML_EINVAL, "configure.workflow", "nothing to change");
        rc = hml_hint(err, "pass enforce_phases, min_model_types, require_feature_discovery or replan_every");
    }
    if (!rc) rc = save_config(p, root, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Workflow: phases %s; %lld model families before tuning; feature discovery %s; "
                                   "a fresh plan every %lld experiments. pipeline progress shows where the project stands.\n",
                       hml_json_bool(wf, "enforce_phases", false) ? "enforced" : "advised",
                       (long long)hml_json_int(wf, "min_model_types", 4),
                       hml_json_bool(wf, "require_feature_discovery", true) ? "required" : "optional",
                       (long long)hml_json_int(wf, "replan_every", 5));
        json_object_set(res->data, "workflow", wf);
    }
    json_decref(root);
    hml__project_free(p);
    return rc;
}

/* ---- targets -------------------------------------------------------------------------------------- */

/* Named target profiles (data.targets): one project, several things to predict;
 * set_target switches the active one with its task and metrics. */
static enum hml_status a_add_target(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    const char *name = hml_param_str(call, "name", "");
    const char *col = hml_param_str(call, "target_column", "");
    const char *task = canonical_task(hml_param_str(call, "task", "binary"), res);
    json_t *root = json_deep_copy(p->cfg->root);
    char path[160];
    snprintf(path, sizeof path, "data.targets.%s", name);
    if (hml_config_get(root, path)) {
        hml_fail(err, HML_ECONFLICT, "configure.add_target", "a target named '%s' exists already", name);
        rc = hml_hint(err, "pick another name, or switch to it with configure set_target --name %s", name);
    }
    json_t *col_j = json_string(col);
    if (!rc) rc = check_columns(p->table, col_j, "target_column", err);
    json_decref(col_j);
    json_t *metrics = hml_param_json(call, "metrics");
    json_t *defaults = rc ? NULL : hml_config_default(NULL, task, col);
    json_t *profile = defaults ? json_pack("{s:s,s:s,s:O}", "target_column", col, "task", task, "metrics",
                                           metrics ? metrics : hml_config_get(defaults, "backtest.metrics"))
                               : NULL;
    if (!rc && !profile) rc = hml_fail(err, HML_ENOMEM, "configure.add_target", "out of memory");
    /* Metric names are checked against the profile's task and stored canonical. */
    if (!rc) rc = canonical_metrics(profile, task, err);
    if (!rc) rc = hml_config_set(root, path, json_incref(profile), err);
    if (!rc) rc = save_config(p, root, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Added target '%s': %s (%s). Switch to it with configure set_target --name %s\n", name,
                       col, task, name);
        json_object_set(res->data, "target", profile);
    }
    json_decref(profile);
    json_decref(defaults);
    json_decref(root);
    hml__project_free(p);
    return rc;
}

static enum hml_status a_list_targets(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    const json_t *data = json_object_get(p->cfg->root, "data");
    const json_t *targets = json_object_get(data, "targets");
    const char *active_col = hml_json_str(data, "target_column", "");
    hml_buf_printf(&res->text, "Active: %s (%s)\n", active_col[0] ? active_col : "not set", hml_json_str(data, "task", "?"));
    if (json_object_size(targets)) hml_buf_puts(&res->text, "| target | column | task | metrics |\n|---|---|---|---|\n");
    const char *name;
    json_t *t;
    json_object_foreach((json_t *)targets, name, t) {
        hml_buf_printf(&res->text, "| %s | %s | %s |", name, hml_json_str(t, "target_column", "?"), hml_json_str(t, "task", "binary"));
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(t, "metrics"), i, m) hml_buf_printf(&res->text, "%s%s", i ? ", " : " ", json_string_value(m));
        hml_buf_puts(&res->text, " |\n");
    }
    json_object_set_new(res->data, "targets", targets ? json_deep_copy(targets) : json_object());
    json_object_set_new(res->data, "active", json_string(active_col));
    hml__project_free(p);
    return HML_OK;
}

static enum hml_status a_set_target(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    const char *name = hml_param_str(call, "name", "");
    json_t *root = json_deep_copy(p->cfg->root);
    const json_t *targets = hml_config_get(root, "data.targets");
    const json_t *t = json_object_get(targets, name);
    if (!t) {
        const char *names[64];
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)targets, k, v) if (n < 64) names[n++] = k;
        hml_fail(err, HML_ENOTFOUND, "configure.set_target", "no target named '%s'", name);
        rc = n ? hml_error_choices(err, name, names, n) : hml_hint(err, "add one first: configure add_target --name … --target_column …");
    }
    if (!rc) rc = hml_config_set(root, "data.target_column", json_string(hml_json_str(t, "target_column", "")), err);
    if (!rc) rc = hml_config_set(root, "data.task", json_string(hml_json_str(t, "task", "binary")), err);
    if (!rc && json_array_size(json_object_get(t, "metrics"))) {
        rc = hml_config_set(root, "backtest.metrics", json_deep_copy(json_object_get(t, "metrics")), err);
        if (!rc) rc = hml_config_set(root, "backtest.primary_metric", json_incref(json_array_get(json_object_get(t, "metrics"), 0)), err);
    }
    if (!rc) rc = save_config(p, root, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Active target: '%s' → %s (%s), primary metric %s.\n", name,
                       hml_config_get(root, "data.target_column") ? json_string_value(hml_config_get(root, "data.target_column")) : "?",
                       json_string_value(hml_config_get(root, "data.task")),
                       json_string_value(hml_config_get(root, "backtest.primary_metric")));
        json_object_set_new(res->data, "name", json_string(name));
    }
    json_decref(root);
    hml__project_free(p);
    return rc;
}

/* ---- the tool table ------------------------------------------------------------------------ */

static const struct hml_param params[] = {
    {"project_name", HML_P_STRING, NULL, "name of the project (default: the directory name)"},
    {"name", HML_P_STRING, NULL, "name of a target profile"},
    {"enforce_phases", HML_P_BOOLEAN, NULL, "refuse tuning before diversity and discovery"},
    {"min_model_types", HML_P_INTEGER, NULL, "model families needed before tuning (1-4)"},
    {"require_feature_discovery", HML_P_BOOLEAN, NULL, "discovery counts as a phase"},
    {"replan_every", HML_P_INTEGER, NULL, "experiments per notebook plan"},
    {"method", HML_P_STRING, "stacked|average|weighted", "how model predictions are combined"},
    {"meta_learner", HML_P_OBJECT, NULL, "stacking model: {\"type\": logistic|ridge|gbm, \"C\": 1.0}"},
    {"calibration", HML_P_STRING, "spline|isotonic|platt|beta|none", "calibration after combining"},
    {"pre_calibration", HML_P_OBJECT, NULL, "calibration per model: {model: method}"},
    {"temperature", HML_P_NUMBER, NULL, "divide the logits by this (> 1 softens)"},
    {"clip_floor", HML_P_NUMBER, NULL, "keep probabilities in [floor, 1 - floor]"},
    {"exclude_models", HML_P_STRINGS, NULL, "models left out of the ensemble"},
    {"weights", HML_P_OBJECT, NULL, "method weighted: {model: weight} (default: fitted on other folds)"},
    {"meta_features", HML_P_STRINGS, NULL, "table columns the stacking meta-learner also sees"},
    {"task", HML_P_STRING, "binary|multiclass|regression|ranking|survival|probabilistic|classification",
     "what is predicted"},
    {"target_column", HML_P_STRING, NULL, "column to predict"},
    {"key_columns", HML_P_STRINGS, NULL, "columns that identify a row (list)"},
    {"time_column", HML_P_STRING, NULL, "column that orders rows in time"},
    {"fold_column", HML_P_STRING, NULL, "column whose values define the backtest folds (e.g. season)"},
    {"exclude_columns", HML_P_STRINGS, NULL, "columns never used as features (replaces the list)"},
    {"add_columns", HML_P_STRINGS, NULL, "column names to add to the list"},
    {"remove_columns", HML_P_STRINGS, NULL, "column names to remove from the list"},
    {"section", HML_P_STRING, "project|data|backtest|models|ensemble|workflow|guardrails|sources|features|views",
     "show only this section of the config"},
    {"detail", HML_P_STRING, "summary|full", "summary (default) or the full config"},
    {"cv_strategy", HML_P_STRING, NULL, "kfold, stratified_kfold, group_kfold, bootstrap, loso, expanding, sliding, purged_kfold"},
    {"fold_values", HML_P_ARRAY, NULL, "test only these fold values"},
    {"n_folds", HML_P_INTEGER, NULL, "folds of the k-fold strategies"},
    {"window_size", HML_P_INTEGER, NULL, "sliding: training values before each test value"},
    {"purge_gap", HML_P_INTEGER, NULL, "purged_kfold: values dropped on each side of the test block"},
    {"group_column", HML_P_STRING, NULL, "rows sharing a value stay in one fold"},
    {"min_train_folds", HML_P_INTEGER, NULL, "fewest training values before a value is tested"},
    {"metrics", HML_P_STRINGS, NULL, "metrics reported (names or aliases for the task)"},
    {"primary_metric", HML_P_STRING, NULL, "the metric that decides improvements"},
    {"eval_filter", HML_P_STRING, NULL, "formula choosing the rows that are scored"},
    {"seed", HML_P_INTEGER, NULL, "random seed of folds and models"},
    {0},
};

static const struct hml_action actions[] = {
    {"init", a_init, "project_name task target_column key_columns time_column fold_column", NULL,
     "create a project here: config files, AGENTS.md, experiment log, metadata store", HML_ACT_NO_PROJECT},
    {"show", a_show, "section detail", NULL, "the project at a glance, or one config section as YAML",
     HML_ACT_READONLY},
    {"update_data", a_update_data, "task target_column key_columns time_column fold_column exclude_columns",
     NULL, "change the task, target, keys, time or fold column (checked against the table)", 0},
    {"backtest", a_backtest,
     "cv_strategy fold_column fold_values n_folds window_size purge_gap group_column min_train_folds metrics "
     "primary_metric eval_filter seed",
     NULL, "how backtests split and score (checked by building the folds)", 0},
    {"ensemble", a_ensemble,
     "method meta_learner calibration pre_calibration temperature clip_floor exclude_models weights meta_features", NULL,
     "how models combine: stacked (leakage-safe), average or weighted; calibration and post-processing", 0},
    {"check_guardrails", a_check_guardrails, "", NULL, "every project-level guardrail: PASS, WARN or FAIL",
     HML_ACT_READONLY},
    {"workflow", a_workflow, "enforce_phases min_model_types require_feature_discovery replan_every", NULL,
     "phase gates of the workflow (pipeline progress shows the checklist)", 0},
    {"add_target", a_add_target, "name target_column task metrics", "name target_column",
     "define a named target profile (column, task, metrics)", 0},
    {"list_targets", a_list_targets, "", NULL, "the target profiles and the active target", HML_ACT_READONLY},
    {"set_target", a_set_target, "name", "name", "make a target profile the active target", 0},
    {"suggest_cv", a_suggest_cv, "", NULL, "propose a CV strategy from the data, with its reason", HML_ACT_READONLY},
    {"exclude_columns", a_exclude_columns, "add_columns remove_columns", NULL,
     "add or remove columns that are never used as features", 0},
    {"set_denylist", a_set_denylist, "add_columns remove_columns", NULL,
     "edit the leakage denylist: models using these columns are refused", 0},
    {0},
};

const struct hml_tool hml_tool_configure = {
    .name = "configure",
    .title = "project set-up and global settings",
    .description =
        "Project set-up and settings. init creates a project (task, target_column, key_columns, time_column, "
        "fold_column); show (summary, or a section as YAML); update_data (names checked against the data); "
        "exclude_columns, set_denylist; backtest (cv_strategy, n_folds, metrics, …: checked by building the "
        "folds); ensemble (method, meta_learner, calibration, …); suggest_cv; add_target/list_targets/set_target.",
    .params = params,
    .actions = actions,
};
