/* t_features.c — the `features` tool: declared features in config/features.yaml,
 * materialised into the prediction table.
 *
 * Every change runs the feature refresh on the new definitions (so a definition is
 * computed, and guarded against leakage, before it is stored), then writes the config,
 * the table and the new cache files in one transaction: a refused or failed action
 * leaves the project exactly as it was. */
#include "features_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/io.h"
#include "harness/stats.h"

/* Keys of a definition that map one-to-one from parameters. */
static const char *const def_keys[] = {"type", "formula", "source", "column", "condition", "pairwise_mode",
                                       "category", "description", "enabled", "entity_column", "entity_a_column",
                                       "entity_b_column", "period_column"};
#define DEF_KEYS_N (sizeof def_keys / sizeof *def_keys)
/* The keys that say what is computed: giving one in an update replaces the others. */
static const char *const computing_keys[] = {"formula", "source", "column", "condition"};

/* ---- project plumbing ------------------------------------------------------------------------ */

struct hml_feature_cache *hml__features_cache(const struct hml_project *p)
{
    char *dir = hml__project_path(p, ".harness/cache/features");
    struct hml_feature_cache *c = dir ? hml_feature_cache_new(dir) : NULL;
    hml_free(dir);
    return c;
}

static enum hml_status unknown_source(const json_t *sources, const char *name, struct hml_error *err)
{
    const char *names[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sources, k, v) if (n < 64) names[n++] = k;
    hml_fail(err, HML_ENOTFOUND, "features", "no source named '%s'", name);
    if (!n) return hml_hint(err, "register the per-entity table first: data add_source --name %s --data_path <file>", name);
    return hml_error_choices(err, name, names, n);
}

enum hml_status hml__features_source(void *ctx, const char *name, struct hml_frame **out, struct hml_error *err)
{
    const struct hml_project *p = ctx;
    const json_t *sources = json_object_get(p->cfg->root, "sources");
    const json_t *rec = json_object_get(sources, name);
    if (!rec) return unknown_source(sources, name, err);
    char *path = hml__project_path(p, hml_json_str(rec, "path", ""));
    if (!path) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    const char *fmt = hml_json_str(rec, "format", "csv");
    const char *tokens[64];
    size_t nt = 0, i;
    json_t *v;
    json_array_foreach(hml_config_get(p->cfg->root, "data.null_tokens"), i, v) if (nt < 64 && json_is_string(v)) tokens[nt++] = json_string_value(v);
    struct hml_csv_options opt = {.null_tokens = nt ? tokens : NULL, .null_tokens_n = nt,
                                  .delimiter = !strcmp(fmt, "tsv") ? '\t' : ','};
    struct hml_ingest_report rep = {0};
    enum hml_status rc;
    if (!strcmp(fmt, "sqlite")) rc = hml_sqlite_read_table(path, hml_json_str(rec, "table", NULL), out, &rep, err);
    else if (!strcmp(fmt, "jsonl")) rc = hml_jsonl_read_file(path, &opt, out, &rep, err);
    else rc = hml_csv_read_file(path, &opt, out, &rep, err);
    hml_ingest_report_fini(&rep);
    hml_free(path);
    if (rc) hml_error_prefix(err, "source '%s'", name);
    return rc;
}

enum hml_status hml__features_commit(const struct hml_project *p, struct hml_feature_cache *cache,
                                     const struct hml_frame *table, const json_t *root, struct hml_error *err)
{
    enum hml_status rc = root ? hml_config_validate(root, err) : HML_OK;
    if (rc) return rc;
    struct hml_txn *txn = hml_txn_new();
    if (!txn) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (table) rc = hml__stage_table(p, txn, table, HML_TABLE_FILE, err);
    if (!rc && root) rc = hml_config_save(root, p->dir, txn, err);
    if (!rc) rc = hml_feature_cache_stage(cache, txn, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    hml_txn_free(txn);
    return rc;
}

static enum hml_status run_refresh(const struct hml_project *p, struct hml_feature_cache *cache, const json_t *root,
                                   const struct hml_frame *table, struct hml_frame **out, struct hml_feature_report *rep,
                                   struct hml_error *err)
{
    struct hml_feature_opts o = {.config = root, .cache = cache, .load_source = hml__features_source,
                                 .source_ctx = (void *)p};
    return hml_features_refresh(&o, table, out, rep, err);
}

static bool in_strings(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

bool hml__features_reserved(const json_t *root, const char *col)
{
    const json_t *data = json_object_get(root, "data"), *bt = json_object_get(root, "backtest");
    const char *single[] = {hml_json_str(data, "target_column", NULL), hml_json_str(data, "time_column", NULL),
                            hml_json_str(data, "fold_column", NULL), hml_json_str(bt, "fold_column", NULL),
                            hml_json_str(bt, "group_column", NULL)};
    for (size_t i = 0; i < sizeof single / sizeof *single; i++)
        if (single[i] && !strcmp(single[i], col)) return true;
    return in_strings(json_object_get(data, "key_columns"), col) || in_strings(json_object_get(data, "exclude_columns"), col) ||
           in_strings(hml_config_get(root, "guardrails.feature_leakage_denylist"), col);
}

void hml__features_quote(const char *name, char *out, size_t cap)
{
    static const char *const words[] = {"and", "or", "not", "in", "true", "false", "null"};
    bool plain = (*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') || *name == '_';
    for (const char *s = name; plain && *s; s++)
        plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_';
    for (size_t i = 0; plain && i < sizeof words / sizeof *words; i++) plain = strcmp(name, words[i]) != 0;
    snprintf(out, cap, plain ? "%s" : "`%s`", name);
}

/* ---- use and removal ------------------------------------------------------------------------------ */

enum hml_status hml__features_in_use(const json_t *root, const struct hml_feature_set *s, size_t i, struct hml_error *err)
{
    const struct hml_feature *f = &s->items[i];
    char users[512] = "";
    size_t used = 0, n = 0;
    for (size_t j = 0; j < s->n; j++)
        for (size_t d = 0; d < s->items[j].ndeps; d++)
            if (s->items[j].deps[d] == i && used < sizeof users)
                used += (size_t)snprintf(users + used, sizeof users - used, "%s'%s'", n++ ? ", " : "", s->items[j].name);
    if (n) {
        hml_fail(err, HML_ECONFLICT, "features", "feature '%s' is used by feature%s %s", f->name, n > 1 ? "s" : "", users);
        return hml_hint(err, "remove or edit those first (features remove / features update), then remove '%s'", f->name);
    }
    const char *model;
    json_t *def;
    char first[HML_FEATURE_OUT_MAX] = "";
    json_object_foreach(json_object_get(root, "models"), model, def)
        for (size_t k = 0; k < f->noutputs; k++)
            if (in_strings(json_object_get(def, "features"), f->outputs[k]) && used < sizeof users) {
                used += (size_t)snprintf(users + used, sizeof users - used, "%s'%s'", n++ ? ", " : "", model);
                if (!first[0]) snprintf(first, sizeof first, "%s", f->outputs[k]);
                break;
            }
    if (n) {
        hml_fail(err, HML_ECONFLICT, "features", "feature '%s' is used by model%s %s", f->name, n > 1 ? "s" : "", users);
        return hml_hint(err, "take it out of those models first: models update --name <model> --remove_features %s", first);
    }
    return HML_OK;
}

enum hml_status hml__features_drop(json_t *root, struct hml_frame *table, const struct hml_feature *f,
                                   struct hml_error *err)
{
    json_object_del(json_object_get(root, "features"), f->name);
    for (size_t k = 0; !f->declares && k < f->noutputs; k++)
        if (hml_frame_find(table, f->outputs[k]) >= 0) {
            enum hml_status rc = hml_frame_drop(table, f->outputs[k], err);
            if (rc) return rc;
        }
    return HML_OK;
}

static enum hml_status unknown_feature(const struct hml_feature_set *s, const char *name, struct hml_error *err)
{
    const char **names = hml_malloc((s->n + 1) * sizeof *names);
    if (!names) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    for (size_t i = 0; i < s->n; i++) names[i] = s->items[i].name;
    hml_fail(err, HML_ENOTFOUND, "features", "no feature named '%s'", name);
    if (!s->n) hml_hint(err, "there are no features yet: features add --name … --formula …");
    else hml_error_choices(err, name, names, s->n);
    hml_free(names);
    return err->code;
}

/* ---- describing a new feature ------------------------------------------------------------------------ */

/* Correlation with the target, null rate, range and redundancy of each output column. */
static json_t *describe_outputs(const struct hml_feature_set *s, const struct hml_feature *f, const struct hml_frame *t,
                                const json_t *root, struct hml_result *res)
{
    struct hml_target tg;
    struct hml_error e;
    bool have = hml_target_load(t, root, &tg, &e) == HML_OK;
    json_t *outs = json_array();
    char a[32], b[32], c[32], d[32];
    hml_buf_printf(&res->text, "| column | r with %s | nulls | range | mean |\n|---|---|---|---|---|\n",
                   have ? tg.name : "target");
    for (size_t k = 0; k < f->noutputs; k++) {
        long j = hml_frame_find(t, f->outputs[k]);
        if (j < 0) continue;
        const struct hml_column *col = t->cols[j];
        struct hml_col_stats st;
        bool num = hml_column_is_numeric(col) && !hml_col_stats(col, &st, &e);
        double r = have ? hml_target_corr(col, &tg) : NAN, nulls = col->n ? (double)col->null_count / (double)col->n : 0;
        hml_buf_printf(&res->text, "| %s | %s | %.1f%% | %s … %s | %s |\n", f->outputs[k], hml__fmt_num(a, r), 100 * nulls,
                       num ? hml__fmt_num(b, st.min) : "–", num ? hml__fmt_num(c, st.max) : "–",
                       num ? hml__fmt_num(d, st.mean) : "–");
        json_t *o = json_pack("{s:s,s:s,s:f}", "column", f->outputs[k], "type", hml_type_name(col->type), "null_rate", nulls);
        json_object_set_new(o, "correlation", isnan(r) ? json_null() : json_real(r));
        if (num) json_object_update_missing_new(o, json_pack("{s:f,s:f,s:f,s:f}", "min", st.min, "max", st.max, "mean",
                                                             st.mean, "std", isnan(st.std) ? 0 : st.std));
        json_array_append_new(outs, o);
        /* Redundancy: a near-copy of another feature (or column) adds nothing but weight. */
        for (size_t m = 0; num && m < t->ncols; m++) {
            const char *other = t->names[m];
            long owner = hml_features_owner(s, other);
            if ((owner >= 0 && &s->items[owner] == f) || hml__features_reserved(root, other)) continue;
            if (!hml_column_is_numeric(t->cols[m])) continue;
            double rr = hml_corr(col, t->cols[m]);
            if (!isnan(rr) && fabs(rr) > HML_FEATURE_REDUNDANT_R)
                hml_result_warn(res, "'%s' is redundant with %s '%s' (r = %.3f > %.2f): one of them adds nothing",
                                f->outputs[k], owner >= 0 ? "feature" : "column", other, rr, HML_FEATURE_REDUNDANT_R);
        }
    }
    if (have) hml_target_fini(&tg);
    return outs;
}

static void report_warnings(const struct hml_feature_report *rep, struct hml_result *res)
{
    size_t i;
    json_t *w;
    json_array_foreach(rep->warnings, i, w) hml_result_warn(res, "%s", json_string_value(w));
}

/* Names of features the refresh computed, other than `except`. */
static void recomputed(const struct hml_feature_report *rep, const char *except, json_t *into)
{
    size_t i;
    json_t *it;
    json_array_foreach(rep->items, i, it)
        if (!strcmp(hml_json_str(it, "status", ""), "computed") && strcmp(hml_json_str(it, "name", ""), except))
            json_array_append_new(into, json_string(hml_json_str(it, "name", "")));
}

/* ---- building a definition ------------------------------------------------------------------------------ */

static json_t *def_from(const json_t *src, const json_t *old)
{
    json_t *def = old ? json_deep_copy(old) : json_object();
    if (!def) return NULL;
    bool computing = false;
    for (size_t k = 0; k < sizeof computing_keys / sizeof *computing_keys; k++)
        computing = computing || (json_object_get(src, computing_keys[k]) && !json_is_null(json_object_get(src, computing_keys[k])));
    if (old && computing) {
        /* A new formula replaces the old column (and so on); the type follows unless given. */
        for (size_t k = 0; k < sizeof computing_keys / sizeof *computing_keys; k++) json_object_del(def, computing_keys[k]);
        json_object_del(def, "type");
    }
    for (size_t k = 0; k < DEF_KEYS_N; k++) {
        json_t *v = json_object_get(src, def_keys[k]);
        if (v && !json_is_null(v)) json_object_set(def, def_keys[k], v);
    }
    return def;
}

/* Output columns of the new definition must not take over a column the table already has
 * for another purpose. */
static enum hml_status check_outputs(const struct hml_feature *f, const struct hml_feature_set *old,
                                     const struct hml_frame *t, struct hml_error *err)
{
    for (size_t k = 0; !f->declares && k < f->noutputs; k++) {
        if (hml_frame_find(t, f->outputs[k]) < 0) continue;
        long owner = hml_features_owner(old, f->outputs[k]);
        if (owner >= 0 && !strcmp(old->items[owner].name, f->name)) continue;
        hml_fail(err, HML_ECONFLICT, "features", "the table already has a column '%s'%s", f->outputs[k],
                 owner >= 0 ? " (another feature writes it)" : "");
        return hml_hint(err, "pick another name, e.g. %s_f; to declare the existing column as a feature: features add "
                             "--name %s --column %s", f->name, f->outputs[k], f->outputs[k]);
    }
    return HML_OK;
}

/* The first model whose features list holds col, or NULL. */
static const char *model_using(const json_t *root, const char *col)
{
    const char *model;
    json_t *def;
    json_object_foreach(json_object_get(root, "models"), model, def)
        if (in_strings(json_object_get(def, "features"), col)) return model;
    return NULL;
}

/* Columns the old definition wrote and the new one does not (a new pairwise_mode, or the
 * feature disabled) would linger in the table, stale, for models to read: drop them —
 * unless a model lists one, which would then fail at its next backtest. */
static enum hml_status drop_stale(const json_t *root, const struct hml_feature *was, const struct hml_feature *now,
                                  struct hml_frame *t, struct hml_error *err)
{
    for (size_t k = 0; !was->declares && k < was->noutputs; k++) {
        bool still = false;
        for (size_t o = 0; now->enabled && o < now->noutputs; o++) still = still || !strcmp(was->outputs[k], now->outputs[o]);
        if (still || hml_frame_find(t, was->outputs[k]) < 0) continue;
        const char *model = model_using(root, was->outputs[k]);
        if (model) {
            hml_fail(err, HML_ECONFLICT, "features", "model '%s' reads '%s', which this change to '%s' would remove",
                     model, was->outputs[k], was->name);
            return hml_hint(err, "take it out of the model first: models update --name %s --remove_features %s", model,
                            was->outputs[k]);
        }
        enum hml_status rc = hml_frame_drop(t, was->outputs[k], err);
        if (rc) return rc;
    }
    return HML_OK;
}

struct change {
    const struct hml_project *p;
    struct hml_feature_cache *cache;
    json_t *root;            /* working config; replaced on success   */
    struct hml_frame *table; /* working table; replaced on success    */
};

/* Adds (or updates) one feature from src in ch: validates, computes, guards, describes.
 * On success ch->root and ch->table hold the new state and `out` describes the feature. */
static enum hml_status apply_one(struct change *ch, const json_t *src, bool update, json_t *out, struct hml_result *res,
                                 struct hml_error *err)
{
    const char *name = hml_json_str(src, "name", NULL);
    if (!name) {
        hml_fail(err, HML_EINVAL, "features", "'name' is required");
        return hml_hint(err, "each feature has a name: {\"name\": \"family_size\", \"formula\": \"sibsp + parch + 1\"}");
    }
    struct hml_feature_set *old = NULL, *now = NULL;
    enum hml_status rc = hml_features_load(ch->root, &old, err);
    if (rc) return hml_error_prefix(err, "the current features"), rc;
    const json_t *prev = json_object_get(json_object_get(ch->root, "features"), name);
    if (!update && prev) {
        hml_fail(err, HML_ECONFLICT, "features", "a feature named '%s' exists already", name);
        rc = hml_hint(err, "change it with features update --name %s …, or remove it first", name);
    } else if (update && !prev) {
        rc = unknown_feature(old, name, err);
    }
    json_t *def = rc ? NULL : def_from(src, update ? prev : NULL), *attempt = NULL;
    struct hml_feature f;
    memset(&f, 0, sizeof f);
    if (!rc && !def) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc && (rc = hml_feature_parse(name, def, ch->root, &f, err)) != HML_OK) hml_error_prefix(err, "feature '%s'", name);
    if (!rc) rc = check_outputs(&f, old, ch->table, err);
    if (!rc && !(attempt = json_deep_copy(ch->root))) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc && !json_is_object(json_object_get(attempt, "features"))) json_object_set_new(attempt, "features", json_object());
    if (!rc) json_object_set(json_object_get(attempt, "features"), name, f.def);
    /* The new feature is checked on its own first, so a refusal names it. */
    if (!rc) rc = hml_features_load(attempt, &now, err);
    if (!rc) rc = hml_features_guard_one(now, (size_t)hml_features_find(now, name), attempt, err);
    struct hml_frame *table = NULL;
    struct hml_feature_report rep = {0};
    if (!rc) rc = run_refresh(ch->p, ch->cache, attempt, ch->table, &table, &rep, err);
    if (!rc && update) rc = drop_stale(ch->root, &old->items[hml_features_find(old, name)], &f, table, err);
    if (!rc) {
        json_t *outs = describe_outputs(now, &now->items[hml_features_find(now, name)], table, attempt, res);
        json_t *others = json_array();
        recomputed(&rep, name, others);
        json_object_set_new(out, "name", json_string(name));
        json_object_set(out, "feature", f.def);
        json_object_set_new(out, "outputs", outs);
        json_object_set_new(out, "recomputed", others);
        report_warnings(&rep, res);
        json_decref(ch->root);
        ch->root = attempt;
        attempt = NULL;
        hml_frame_free(ch->table);
        ch->table = table;
        table = NULL;
    }
    hml_feature_report_fini(&rep);
    hml_frame_free(table);
    json_decref(attempt);
    json_decref(def);
    hml_feature_fini(&f);
    hml_features_free(old);
    hml_features_free(now);
    return rc;
}

static enum hml_status change_open(struct hml_call *call, struct change *ch, struct hml_project **pp, struct hml_error *err)
{
    memset(ch, 0, sizeof *ch);
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, pp, err);
    if (rc) return rc;
    ch->p = *pp;
    ch->cache = hml__features_cache(*pp);
    ch->root = json_deep_copy((*pp)->cfg->root);
    ch->table = hml_frame_clone((*pp)->table);
    if (!ch->cache || !ch->root || !ch->table) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    return HML_OK;
}

static void change_close(struct change *ch, struct hml_project *p)
{
    hml_feature_cache_free(ch->cache);
    json_decref(ch->root);
    hml_frame_free(ch->table);
    hml__project_free(p);
}

static enum hml_status add_or_update(struct hml_call *call, bool update, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p = NULL;
    struct change ch;
    enum hml_status rc = change_open(call, &ch, &p, err);
    if (!rc) {
        const char *name = hml_param_str(call, "name", "");
        hml_buf_printf(&res->text, "## %s: %s\n", update ? "Updated" : "Created", name);
        rc = apply_one(&ch, call->params, update, res->data, res, err);
    }
    if (!rc) rc = hml__features_commit(p, ch.cache, ch.table, ch.root, err);
    if (!rc) {
        const json_t *others = json_object_get(res->data, "recomputed");
        if (json_array_size(others)) {
            hml_buf_puts(&res->text, "Recomputed what depends on it:");
            size_t i;
            json_t *v;
            json_array_foreach(others, i, v) hml_buf_printf(&res->text, " %s", json_string_value(v));
            hml_buf_putc(&res->text, '\n');
        }
        hml_buf_printf(&res->text, "Models use it when they list it in features (or list none).\n");
    }
    change_close(&ch, p);
    return rc;
}

static enum hml_status a_add(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return add_or_update(c, false, r, e); }
static enum hml_status a_update(struct hml_call *c, struct hml_result *r, struct hml_error *e) { return add_or_update(c, true, r, e); }

/* ---- add_batch -------------------------------------------------------------------------------------------- */

/* Does item a read item b (an @ref to its name, or one of its output columns)? */
static bool item_reads(const struct hml_feature *a, const struct hml_feature *b)
{
    if (!a->expr || !b->name[0]) return false;
    size_t n;
    const char *const *refs = hml_expr_refs(a->expr, &n);
    for (size_t k = 0; k < n; k++)
        if (!strcmp(refs[k], b->name)) return true;
    const char *const *cols = hml_expr_columns(a->expr, &n);
    for (size_t k = 0; k < n; k++)
        for (size_t o = 0; o < b->noutputs; o++)
            if (!strcmp(cols[k], b->outputs[o]) && strcmp(a->name, b->name)) return true;
    return false;
}

enum { ITEM_PENDING, ITEM_OK, ITEM_FAILED };

struct batch {
    size_t n;
    struct hml_feature *parsed; /* parsed[i].name[0] == 0 when the item did not parse */
    int *state;
    json_t **results;
};

static void item_fail(struct batch *b, size_t i, const struct hml_error *e)
{
    b->state[i] = ITEM_FAILED;
    json_object_set_new(b->results[i], "ok", json_false());
    json_object_set_new(b->results[i], "error", json_pack("{s:s,s:s,s:s}", "code", hml_status_name(e->code), "message",
                                                          e->message, "hint", e->hint));
}

/* Items left when no pending item can go: they read each other in a cycle (or read such
 * items). Loading them together names the cycle. */
static void fail_cycle(struct batch *b)
{
    json_t *cfg = json_pack("{s:o}", "features", json_object());
    for (size_t i = 0; cfg && i < b->n; i++)
        if (b->state[i] == ITEM_PENDING && b->parsed[i].def)
            json_object_set(json_object_get(cfg, "features"), b->parsed[i].name, b->parsed[i].def);
    struct hml_feature_set *s = NULL;
    struct hml_error e;
    hml_error_clear(&e);
    if (!hml_features_load(cfg, &s, &e) || e.code != HML_EINVAL) {
        hml_fail(&e, HML_EINVAL, "features", "these items read each other in a cycle");
        hml_hint(&e, "remove one of the references between them");
    }
    hml_features_free(s);
    json_decref(cfg);
    for (size_t i = 0; i < b->n; i++)
        if (b->state[i] == ITEM_PENDING) item_fail(b, i, &e);
}

/* The next pending item whose batch dependencies are settled, or b->n. An item reading a
 * failed item fails too; each pass that finds such a failure starts over, so the loop runs
 * at most n + 1 passes. */
static size_t next_ready(struct batch *b)
{
    for (bool again = true; again;) {
        again = false;
        for (size_t i = 0; i < b->n && !again; i++) {
            if (b->state[i] != ITEM_PENDING) continue;
            bool ready = true;
            for (size_t j = 0; j < b->n && ready && !again; j++) {
                if (j == i || !item_reads(&b->parsed[i], &b->parsed[j])) continue;
                if (b->state[j] == ITEM_FAILED) {
                    struct hml_error e;
                    hml_fail(&e, HML_EINVAL, "features", "feature '%s' reads '%s', which failed", b->parsed[i].name,
                             b->parsed[j].name);
                    hml_hint(&e, "fix '%s' and add both again", b->parsed[j].name);
                    item_fail(b, i, &e);
                    again = true;
                }
                ready = b->state[j] == ITEM_OK;
            }
            if (ready && !again) return i;
        }
    }
    return b->n;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        hml_feature_fini(&b->parsed[i]);
        json_decref(b->results[i]);
    }
    hml_free(b->parsed);
    hml_free(b->state);
    hml_free(b->results);
}

static enum hml_status batch_init(struct batch *b, const json_t *items, const json_t *root, struct hml_error *err)
{
    b->n = json_array_size(items);
    b->parsed = hml_calloc(b->n + 1, sizeof *b->parsed);
    b->state = hml_calloc(b->n + 1, sizeof *b->state);
    b->results = hml_calloc(b->n + 1, sizeof *b->results);
    if (!b->parsed || !b->state || !b->results) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    for (size_t i = 0; i < b->n; i++) {
        const json_t *item = json_array_get(items, i);
        const char *name = hml_json_str(item, "name", NULL);
        b->results[i] = json_pack("{s:I,s:s?}", "item", (json_int_t)(i + 1), "name", name);
        struct hml_error e;
        hml_error_clear(&e);
        json_t *def = json_is_object(item) ? def_from(item, NULL) : NULL;
        if (!json_is_object(item)) {
            hml_fail(&e, HML_EINVAL, "features", "item %zu is not an object", i + 1);
            hml_hint(&e, "each item is {\"name\": …, \"formula\": …}");
        } else if (!name) {
            hml_fail(&e, HML_EINVAL, "features", "item %zu has no name", i + 1);
            hml_hint(&e, "each item is {\"name\": …, \"formula\": …}");
        } else if (hml_feature_parse(name, def, root, &b->parsed[i], &e)) {
            hml_error_prefix(&e, "feature '%s'", name);
        }
        json_decref(def);
        if (e.code) item_fail(b, i, &e);
    }
    return HML_OK;
}

static enum hml_status a_add_batch(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    json_t *items = hml_param_json(call, "features");
    if (!json_is_array(items) || !json_array_size(items)) {
        hml_fail(err, HML_EINVAL, "features.add_batch", "'features' must be a non-empty list of definitions");
        return hml_hint(err, "pass features=[{\"name\": \"a\", \"formula\": \"x + y\"}, {\"name\": \"b\", \"formula\": \"@a * 2\"}]");
    }
    struct hml_project *p = NULL;
    struct change ch;
    struct batch b = {0};
    bool atomic = hml_param_bool(call, "atomic", false);
    enum hml_status rc = change_open(call, &ch, &p, err);
    if (!rc) rc = batch_init(&b, items, ch.root, err);
    size_t ok = 0;
    /* Items go in dependency order among themselves, whatever order they came in. */
    for (size_t i; !rc && (i = next_ready(&b)) < b.n;) {
        struct hml_error e;
        hml_error_clear(&e);
        struct hml_result r = {.data = b.results[i], .warnings = res->warnings};
        if (apply_one(&ch, json_array_get(items, i), false, b.results[i], &r, &e)) item_fail(&b, i, &e);
        else b.state[i] = ITEM_OK, ok++, json_object_set_new(b.results[i], "ok", json_true());
        hml_buf_free(&r.text);
    }
    if (!rc) fail_cycle(&b);
    for (size_t i = 0; !rc && atomic && i < b.n; i++)
        if (b.state[i] == ITEM_FAILED) {
            const json_t *e = json_object_get(b.results[i], "error");
            hml_fail(err, HML_EINVAL, "features.add_batch", "nothing changed (atomic); item %zu ('%s'): %s", i + 1,
                     hml_json_str(b.results[i], "name", "?"), hml_json_str(e, "message", ""));
            rc = hml_hint(err, "%s", hml_json_str(e, "hint", "fix the item and send the batch again"));
        }
    if (!rc && ok) rc = hml__features_commit(p, ch.cache, ch.table, ch.root, err);
    if (!rc) {
        json_t *results = json_array();
        for (size_t i = 0; i < b.n; i++) {
            const json_t *e = json_object_get(b.results[i], "error");
            if (e) hml_buf_printf(&res->text, "- %s: error: %s (%s)\n", hml_json_str(b.results[i], "name", "?"),
                                  hml_json_str(e, "message", ""), hml_json_str(e, "hint", ""));
            else hml_buf_printf(&res->text, "- %s: added → %s\n", hml_json_str(b.results[i], "name", "?"),
                                b.parsed[i].outputs[0]);
            json_array_append(results, b.results[i]);
        }
        hml_buf_printf(&res->text, "%zu of %zu feature(s) added.\n", ok, b.n);
        json_object_set_new(res->data, "added", json_integer((json_int_t)ok));
        json_object_set_new(res->data, "results", results);
    }
    batch_free(&b);
    change_close(&ch, p);
    return rc;
}

/* ---- list / remove ---------------------------------------------------------------------------------------------- */

static const char *definition_text(const struct hml_feature *f, char *buf, size_t cap)
{
    if (f->formula) snprintf(buf, cap, "%s", f->formula);
    else if (f->condition) snprintf(buf, cap, "1 if %s", f->condition);
    else if (f->type == HML_FEATURE_ENTITY) snprintf(buf, cap, "%s.%s (%s)", f->source, f->column, hml_pairwise_mode_names[f->pairwise_mode]);
    else snprintf(buf, cap, "column %s", f->column);
    for (char *s = buf; *s; s++)
        if (*s == '|' || *s == '\n') *s = ' ';
    return buf;
}

static enum hml_status a_list(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    struct hml_feature_set *s = NULL;
    if (!rc) rc = hml_features_load(p->cfg->root, &s, err);
    const char *only = hml_param_str(call, "category", NULL);
    const char *cats[HML_FEATURES_MAX];
    size_t ncat = 0;
    for (size_t i = 0; !rc && i < s->n; i++) {
        size_t k = 0;
        while (k < ncat && strcmp(cats[k], s->items[i].category)) k++;
        if (k == ncat) cats[ncat++] = s->items[i].category;
    }
    bool known = !only;
    for (size_t k = 0; !rc && only && k < ncat; k++) known = known || !strcmp(cats[k], only);
    if (!rc && !known) {
        hml_fail(err, HML_ENOTFOUND, "features.list", "no feature has the category '%s'", only);
        rc = ncat ? hml_error_choices(err, only, cats, ncat) : hml_hint(err, "there are no features yet");
    }
    json_t *list = json_array(), *counts = json_object();
    if (!rc && !s->n) hml_buf_puts(&res->text, "No features yet: features add --name family_size --formula \"sibsp + parch + 1\"\n");
    for (size_t k = 0; !rc && k < ncat; k++) {
        if (only && strcmp(only, cats[k])) continue;
        size_t n = 0;
        hml_buf_printf(&res->text, "### %s\n| feature | type | definition | columns | about |\n|---|---|---|---|---|\n", cats[k]);
        for (size_t i = 0; i < s->n; i++) {
            const struct hml_feature *f = &s->items[i];
            if (strcmp(f->category, cats[k])) continue;
            char def[256];
            hml_buf_printf(&res->text, "| %s%s | %s | %s | %s%s%s | %s |\n", f->name, f->enabled ? "" : " (disabled)",
                           hml_feature_type_names[f->type], definition_text(f, def, sizeof def), f->outputs[0],
                           f->noutputs > 1 ? ", " : "", f->noutputs > 1 ? f->outputs[1] : "",
                           f->description ? f->description : "");
            json_t *outs = json_array();
            for (size_t o = 0; o < f->noutputs; o++) json_array_append_new(outs, json_string(f->outputs[o]));
            json_t *item = json_pack("{s:s,s:s,s:s,s:b,s:o,s:O}", "name", f->name, "type", hml_feature_type_names[f->type],
                                     "category", f->category, "enabled", f->enabled, "outputs", outs, "definition", f->def);
            json_array_append_new(list, item);
            n++;
        }
        json_object_set_new(counts, cats[k], json_integer((json_int_t)n));
    }
    if (!rc) {
        json_object_set_new(res->data, "features", list);
        json_object_set_new(res->data, "categories", counts);
        list = counts = NULL;
    }
    json_decref(list);
    json_decref(counts);
    hml_features_free(s);
    hml__project_free(p);
    return rc;
}

static enum hml_status remove_unreadable(struct hml_project *p, struct change *ch, const char *name,
                                         struct hml_result *res, struct hml_error *err)
{
    hml_result_warn(res, "the features could not be read (%s); '%s' was removed without checking what uses it",
                    err->message, name);
    hml_error_clear(err);
    json_object_del(json_object_get(ch->root, "features"), name);
    enum hml_status rc = hml_frame_find(ch->table, name) >= 0 ? hml_frame_drop(ch->table, name, err) : HML_OK;
    if (!rc) rc = hml__features_commit(p, ch->cache, ch->table, ch->root, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Removed feature '%s'.\n", name);
        json_object_set_new(res->data, "name", json_string(name));
    }
    change_close(ch, p);
    return rc;
}

static enum hml_status a_remove(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct hml_project *p = NULL;
    struct change ch;
    struct hml_feature_set *s = NULL;
    enum hml_status rc = change_open(call, &ch, &p, err);
    const char *name = hml_param_str(call, "name", "");
    if (!rc && hml_features_load(ch.root, &s, err) != HML_OK) {
        /* A definition that no longer reads (say, edited by hand) must still be removable,
         * or an agent with only these tools could never repair the project. */
        if (!json_object_get(json_object_get(ch.root, "features"), name)) rc = err->code;
        else return remove_unreadable(p, &ch, name, res, err);
    }
    long i = rc ? -1 : hml_features_find(s, name);
    if (!rc && i < 0) rc = unknown_feature(s, name, err);
    if (!rc) rc = hml__features_in_use(ch.root, s, (size_t)i, err);
    if (!rc) rc = hml__features_drop(ch.root, ch.table, &s->items[i], err);
    if (!rc) rc = hml__features_commit(p, ch.cache, ch.table, ch.root, err);
    if (!rc) {
        const struct hml_feature *f = &s->items[i];
        hml_buf_printf(&res->text, "Removed feature '%s'%s%s%s.\n", name, f->declares ? "" : " and its column ",
                       f->declares ? "" : f->outputs[0], f->noutputs > 1 ? " (and its second column)" : "");
        json_object_set_new(res->data, "name", json_string(name));
        json_t *outs = json_array();
        for (size_t o = 0; !f->declares && o < f->noutputs; o++) json_array_append_new(outs, json_string(f->outputs[o]));
        json_object_set_new(res->data, "dropped_columns", outs);
    }
    hml_features_free(s);
    change_close(&ch, p);
    return rc;
}

/* ---- refresh before a backtest ---------------------------------------------------------------------------------- */

enum hml_status hml__features_refresh_project(struct hml_project *p, struct hml_result *res, struct hml_error *err)
{
    if (!json_object_size(json_object_get(p->cfg->root, "features"))) return HML_OK;
    struct hml_feature_cache *cache = hml__features_cache(p);
    if (!cache) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    struct hml_frame *table = NULL;
    struct hml_feature_report rep = {0};
    enum hml_status rc = run_refresh(p, cache, p->cfg->root, p->table, &table, &rep, err);
    if (rc) hml_error_prefix(err, "refreshing features before the backtest");
    if (!rc && (rep.changed || hml_feature_cache_pending(cache)))
        rc = hml__features_commit(p, cache, rep.changed ? table : NULL, NULL, err);
    if (!rc && rep.changed) {
        hml_frame_free(p->table);
        p->table = table;
        table = NULL;
    }
    if (!rc && rep.computed + rep.cached) {
        json_t *names = json_array();
        recomputed(&rep, "", names);
        hml_buf_printf(&res->text, "Features refreshed before the run: %zu recomputed, %zu from the cache.\n",
                       rep.computed, rep.cached);
        json_object_set_new(res->data, "features_refreshed", json_pack("{s:o,s:I,s:b}", "computed", names, "cached",
                                                                       (json_int_t)rep.cached, "changed", rep.changed));
        report_warnings(&rep, res);
    }
    hml_feature_report_fini(&rep);
    hml_frame_free(table);
    hml_feature_cache_free(cache);
    return rc;
}

/* ---- the tool table ----------------------------------------------------------------------------------------------- */

static const struct hml_param params[] = {
    {"name", HML_P_STRING, NULL, "feature name (letters, digits, '_'); formulas refer to it as @name"},
    {"formula", HML_P_STRING, NULL, "a formula over the table's columns and @features"},
    {"type", HML_P_STRING, "instance|entity|pairwise|regime", "default: condition → regime, source → entity, else instance"},
    {"source", HML_P_STRING, NULL, "entity: the registered source holding per-entity values"},
    {"column", HML_P_STRING, NULL, "instance: a table column to declare; entity: the source's value column"},
    {"condition", HML_P_STRING, NULL, "regime: a true/false formula; the feature is 1 where it holds"},
    {"pairwise_mode", HML_P_STRING, "diff|ratio|both|none", "entity: diff_<name>, ratio_<name>, both, or the raw sides"},
    {"category", HML_P_STRING, NULL, "a group for list (default general)"},
    {"description", HML_P_STRING, NULL, "free text"},
    {"enabled", HML_P_BOOLEAN, NULL, "update: false keeps the definition but stops computing it"},
    {"entity_column", HML_P_STRING, NULL, "entity: the source's entity key (default data.feature_store or entity_id)"},
    {"entity_a_column", HML_P_STRING, NULL, "entity: the table's first-side entity column (default entity_a_id)"},
    {"entity_b_column", HML_P_STRING, NULL, "entity: the table's second-side entity column (default entity_b_id)"},
    {"period_column", HML_P_STRING, NULL, "entity: period column in both (default period_id; absent in both = none)"},
    {"features", HML_P_ARRAY, NULL, "add_batch: definitions [{name, formula, …}]; others: column names"},
    {"atomic", HML_P_BOOLEAN, NULL, "add_batch: all items or none"},
    {"test_interactions", HML_P_BOOLEAN, NULL, "test_transformations: also products and ratios of pairs (default true)"},
    {"top_n", HML_P_INTEGER, NULL, "how many to show (discover 20, auto_search 10)"},
    {"method", HML_P_STRING, "correlation|mutual_info|xgboost", "how to score columns (default correlation)"},
    {"search_types", HML_P_STRINGS, NULL, "auto_search: interactions, lags, rolling (default all)"},
    {"threshold", HML_P_NUMBER, NULL, "prune: score below which a feature is weak (default 0.01)"},
    {"dry_run", HML_P_BOOLEAN, NULL, "prune: only list what would go (default true)"},
    {0},
};

#define DEF_PARAMS "name formula type source column condition pairwise_mode category description entity_column " \
                   "entity_a_column entity_b_column period_column"

static const struct hml_action actions[] = {
    {"add", a_add, DEF_PARAMS, "name", "declare a feature; computed, leak-checked and described at once", 0},
    {"update", a_update, DEF_PARAMS " enabled", "name", "change a feature; it and what reads it are recomputed", 0},
    {"add_batch", a_add_batch, "features atomic", "features", "add several, in @reference order; per-item results", 0},
    {"list", a_list, "category", NULL, "the features by category", HML_ACT_READONLY},
    {"remove", a_remove, "name", "name", "remove a feature and its column (refused while something uses it)",
     HML_ACT_DESTRUCTIVE},
    {"test_transformations", hml__features_test_transformations, "features test_interactions", "features",
     "score log/sqrt/square/reciprocal/rank of columns (and pair products/ratios) by |r| with the target",
     HML_ACT_READONLY},
    {"discover", hml__features_discover, "top_n method", NULL,
     "rank the table's columns by correlation, mutual information or XGBoost gain", HML_ACT_READONLY},
    {"diversity", hml__features_diversity, "", NULL, "feature-set overlap of the active models and a diversity score",
     HML_ACT_READONLY},
    {"auto_search", hml__features_auto_search, "features search_types top_n", NULL,
     "propose and score candidate features (interactions, lags, rolling means); adds nothing", HML_ACT_READONLY},
    {"prune", hml__features_prune, "threshold method dry_run", NULL,
     "find weak or redundant features; dry_run=false removes the unused ones", 0},
    {0},
};

const struct hml_tool hml_tool_features = {
    .name = "features",
    .title = "declared features",
    .description =
        "Declared features, computed into the prediction table and cached by definition. add: name + formula "
        "(columns, @features), condition (regime 0/1) or source (entity: diff_/ratio_ for both sides); answers "
        "with correlation to the target, nulls, range, redundancy. Also update, add_batch (@-order), list, "
        "remove, test_transformations, discover (correlation, mutual_info, xgboost), diversity, auto_search, "
        "prune (dry_run by default). Leakage guardrails (never overridable): no reading the target or a "
        "denylisted column, no |r| >= 0.98 with the target, no value-by-value class giveaway.",
    .params = params,
    .actions = actions,
};
