/* t_data.c — the `data` tool's table, and sources: add, validate, add_source(s),
 * list_sources, validate_source. An ingest writes the raw copy, the prediction
 * table and the source record together, or nothing at all. */
#include "data_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/join.h"
#include "harness/stats.h"
#include "harness/store.h"

/* ---- shared helpers ------------------------------------------------------------------- */

void hml__columns_table(const struct hml_frame *f, size_t max_rows, struct hml_buf *out)
{
    hml_buf_puts(out, "| column | type | nulls | example |\n|---|---|---|---|\n");
    for (size_t j = 0; j < f->ncols && j < max_rows; j++) {
        const struct hml_column *c = f->cols[j];
        char ex[48] = "";
        for (size_t i = 0; i < c->n; i++)
            if (!hml_column_is_null(c, i)) {
                hml_column_format(c, i, ex, sizeof ex);
                break;
            }
        for (char *p = ex; *p; p++)
            if (*p == '|' || *p == '\n' || *p == '\r') *p = ' ';
        hml_buf_printf(out, "| %s | %s | %zu | %s |\n", f->names[j], hml_type_name(c->type),
                       c->null_count, ex);
    }
    if (f->ncols > max_rows)
        hml_buf_printf(out, "… and %zu more columns (data inspect lists them all)\n", f->ncols - max_rows);
}

json_t *hml__columns_json(const struct hml_frame *f)
{
    json_t *a = json_array();
    for (size_t j = 0; a && j < f->ncols; j++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:I}", "name", f->names[j], "type",
                                           hml_type_name(f->cols[j]->type), "nulls",
                                           (json_int_t)f->cols[j]->null_count));
    return a;
}

enum hml_status hml__commit(const struct hml_project *p, const struct hml_frame *table,
                            const json_t *root, struct hml_error *err)
{
    enum hml_status rc = root ? hml_config_validate(root, err) : HML_OK;
    if (rc) return rc;
    struct hml_txn *txn = hml_txn_new();
    if (!txn) return hml_fail(err, HML_ENOMEM, "data", "out of memory");
    if (table) rc = hml__stage_table(p, txn, table, HML_TABLE_FILE, err);
    if (!rc && root) rc = hml_config_save(root, p->dir, txn, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    hml_txn_free(txn);
    return rc;
}

/* Finds the file: as given (absolute or from the current directory), else
 * relative to the project directory. */
static enum hml_status resolve_path(const struct hml_call *call, const char *given, char **out,
                                    struct hml_error *err)
{
    char real[PATH_MAX];
    if (realpath(given, real)) {
        *out = hml_strdup(real);
    } else if (given[0] != '/') {
        char *p = hml_path_join(call->project_dir, given);
        if (p && realpath(p, real)) *out = hml_strdup(real);
        else *out = NULL;
        hml_free(p);
        if (!*out) goto missing;
    } else {
        goto missing;
    }
    if (!*out) return hml_fail(err, HML_ENOMEM, "data", "out of memory");
    if (hml_is_dir(*out)) {
        hml_free(*out);
        hml_fail(err, HML_EINVAL, call->action->name, "'%s' is a directory", given);
        return hml_hint(err, "pass the path of a data file (.csv or .jsonl)");
    }
    return HML_OK;
missing:
    hml_fail(err, HML_ENOTFOUND, call->action->name, "file '%s' not found", given);
    return hml_hint(err, "relative paths are read from the current directory, then from the project directory '%s'",
                    call->project_dir);
}

static const char *detect_format(const char *path, const char *given)
{
    if (given && strcmp(given, "auto")) return given;
    const char *dot = strrchr(path, '.');
    if (dot && (!strcmp(dot, ".jsonl") || !strcmp(dot, ".ndjson"))) return "jsonl";
    if (dot && !strcmp(dot, ".tsv")) return "tsv";
    if (dot && (!strcmp(dot, ".db") || !strcmp(dot, ".sqlite") || !strcmp(dot, ".sqlite3"))) return "sqlite";
    return "csv";
}

/* Null tokens come from the project config when there is one. */
static size_t null_tokens(const json_t *root, const char **tokens, size_t cap)
{
    const json_t *list = json_object_get(json_object_get(root, "data"), "null_tokens");
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(list, i, v) if (n < cap && json_is_string(v)) tokens[n++] = json_string_value(v);
    return n;
}

static enum hml_status read_file(const char *path, const char *format, const char *table, bool auto_clean,
                                 const json_t *root, struct hml_frame **out,
                                 struct hml_ingest_report *rep, struct hml_error *err)
{
    if (!strcmp(format, "sqlite")) return hml_sqlite_read_table(path, table, out, rep, err);
    const char *tokens[64];
    size_t nt = root ? null_tokens(root, tokens, 64) : 0;
    struct hml_csv_options opt = {.null_tokens = nt ? tokens : NULL, .null_tokens_n = nt,
                                  .auto_clean = auto_clean, .delimiter = !strcmp(format, "tsv") ? '\t' : ','};
    memset(rep, 0, sizeof *rep);
    if (!strcmp(format, "jsonl")) return hml_jsonl_read_file(path, &opt, out, rep, err);
    return hml_csv_read_file(path, &opt, out, rep, err);
}

static void report_warnings(const struct hml_ingest_report *rep, struct hml_result *res)
{
    for (size_t i = 0; i < rep->warnings_n; i++) hml_result_warn(res, "%s", rep->warnings[i]);
}

static enum hml_status file_sha256(const char *path, char hex[65], struct hml_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        hml_fail(err, HML_EIO, "data", "cannot read '%s'", path);
        return hml_hint(err, "check the file's permissions");
    }
    struct hml_sha256 s;
    hml_sha256_init(&s);
    unsigned char buf[1 << 16], d[32];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) hml_sha256_update(&s, buf, n);
    fclose(f);
    hml_sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return HML_OK;
}

/* A source name from the file name: "data/Titanic-2024.csv" → "titanic_2024". */
static void default_name(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = 0;
    for (const char *s = base; *s && *s != '.' && n + 1 < cap; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        out[n++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
    }
    out[n] = 0;
    if (!n) snprintf(out, cap, "source");
}

static void iso_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

enum hml_status hml__read_data_file(const struct hml_call *call, const char *given, const char *format,
                                    const char *table, bool auto_clean, const json_t *root,
                                    struct hml_frame **out, struct hml_result *res, struct hml_error *err)
{
    char *abs = NULL;
    enum hml_status rc = resolve_path(call, given, &abs, err);
    if (rc) return rc;
    struct hml_ingest_report rep;
    rc = read_file(abs, detect_format(abs, format), table, auto_clean, root, out, &rep, err);
    report_warnings(&rep, res);
    hml_ingest_report_fini(&rep);
    hml_free(abs);
    return rc;
}

/* ---- ingest ----------------------------------------------------------------------------- */

struct source_req {
    const char *data_path, *format, *table;
    char name[80];
    bool auto_clean;
    bool into_table; /* data add: becomes or extends the prediction table */
};

static enum hml_status check_source_name(const char *name, const json_t *root, const char *where,
                                         struct hml_error *err)
{
    for (const char *s = name; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            hml_fail(err, HML_EINVAL, where, "source name '%s' has the character '%c'", name, c);
            return hml_hint(err, "use letters, digits, '_' and '-' only");
        }
    }
    if (!*name || strlen(name) > 64) {
        hml_fail(err, HML_EINVAL, where, "source name must have 1 to 64 characters");
        return hml_hint(err, "pass a short name, e.g. name=\"games\"");
    }
    if (json_object_get(json_object_get(root, "sources"), name)) {
        hml_fail(err, HML_ECONFLICT, where, "a source named '%s' exists already", name);
        return hml_hint(err, "pass another name (name=...), or see data list_sources");
    }
    return HML_OK;
}

/* Combines the new frame with the current table: first ingest, join or append. */
static enum hml_status combine(struct hml_call *call, const struct hml_frame *table,
                               struct hml_frame *incoming, const char *name,
                               struct hml_frame **out, struct hml_result *res, struct hml_error *err)
{
    json_t *join_on = hml_param_json(call, "join_on");
    const char *prefix = hml_param_str(call, "prefix", NULL);
    if (!table) {
        if (join_on) hml_result_warn(res, "join_on ignored: this is the first data, so it becomes the table");
        *out = hml_frame_clone(incoming);
        return *out ? HML_OK : hml_fail(err, HML_ENOMEM, "data.add", "out of memory");
    }
    if (join_on) {
        const char *keys[16];
        size_t nk = 0, i;
        json_t *v;
        json_array_foreach(join_on, i, v) if (nk < 16) keys[nk++] = json_string_value(v);
        if (!nk) {
            hml_fail(err, HML_EINVAL, "data.add", "join_on is empty");
            return hml_hint(err, "pass the key column(s) shared by both tables, e.g. join_on=[\"id\"]");
        }
        struct hml_join_report jr;
        enum hml_status rc = hml_frame_join(table, incoming, keys, nk, HML_JOIN_LEFT, prefix, out, &jr, err);
        if (rc) return rc;
        if (jr.unmatched)
            hml_result_warn(res, "%zu of %zu table rows found no match in '%s'; their new columns are null",
                            jr.unmatched, table->nrows, name);
        return HML_OK;
    }
    if (prefix) hml_result_warn(res, "prefix ignored: without join_on the rows are appended");
    hml_result_warn(res, "no join_on: %zu rows appended below the %zu existing ones (pass join_on to add columns instead)",
                    incoming->nrows, table->nrows);
    return hml_frame_concat(table, incoming, out, err);
}

static json_t *source_record(const struct source_req *rq, const char *raw_rel, const char *abs_path,
                             const char *fmt, const struct hml_frame *f, const char *sha,
                             const struct hml_call *call)
{
    char now[32];
    iso_now(now);
    json_t *rec = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:b}", "path", raw_rel, "original_path", abs_path,
                            "format", fmt, "rows", (json_int_t)f->nrows, "columns", (json_int_t)f->ncols,
                            "sha256", sha, "added_at", now, "in_table", rq->into_table);
    if (rec && rq->table) json_object_set_new(rec, "table", json_string(rq->table));
    json_t *join_on = hml_param_json(call, "join_on");
    if (rec && rq->into_table && join_on) json_object_set(rec, "join_on", join_on);
    const char *prefix = hml_param_str(call, "prefix", NULL);
    if (rec && rq->into_table && prefix && join_on) json_object_set_new(rec, "prefix", json_string(prefix));
    return rec;
}

/* Reads a source and stages everything it changes into txn and root. On success
 * *frame_out is the frame read (caller frees) and *table_out the new table (or NULL). */
static enum hml_status stage_source(struct hml_call *call, const struct hml_project *p, json_t *root,
                                    struct hml_txn *txn, const struct source_req *rq,
                                    struct hml_frame **frame_out, struct hml_frame **table_out,
                                    struct hml_result *res, struct hml_error *err)
{
    char *abs = NULL, *raw = NULL, raw_rel[128], sha[65];
    const char *name = rq->name;
    struct hml_frame *f = NULL, *table = NULL;
    struct hml_ingest_report rep = {0};
    enum hml_status rc = check_source_name(name, root, call->action->name, err);
    if (!rc) rc = resolve_path(call, rq->data_path, &abs, err);
    const char *fmt = abs ? detect_format(abs, rq->format) : "csv";
    if (!rc) rc = read_file(abs, fmt, rq->table, rq->auto_clean, root, &f, &rep, err);
    report_warnings(&rep, res);
    hml_ingest_report_fini(&rep);
    if (!rc) rc = file_sha256(abs, sha, err);
    if (!rc && rq->into_table) rc = combine(call, p->table, f, name, &table, res, err);
    if (!rc) {
        snprintf(raw_rel, sizeof raw_rel, "data/raw/%s.%s", name, fmt);
        raw = hml_path_join(p->dir, raw_rel);
        rc = raw ? hml_txn_copy(txn, abs, raw, err) : hml_fail(err, HML_ENOMEM, "data", "out of memory");
    }
    if (!rc) {
        json_t *rec = source_record(rq, raw_rel, abs, fmt, f, sha, call);
        char path[128];
        snprintf(path, sizeof path, "sources.%s", name);
        rc = rec ? hml_config_set(root, path, rec, err) : hml_fail(err, HML_ENOMEM, "data", "out of memory");
    }
    if (!rc && table) rc = hml__stage_table(p, txn, table, HML_TABLE_FILE, err);
    hml_free(abs);
    hml_free(raw);
    if (rc) {
        hml_frame_free(f);
        hml_frame_free(table);
        return rc;
    }
    *frame_out = f;
    *table_out = table;
    return HML_OK;
}

/* Best effort: the store keeps ingest history; the files are the source of truth. */
static void record_ingest(const struct hml_project *p, const char *name, const json_t *root,
                          struct hml_result *res)
{
    char path[128];
    snprintf(path, sizeof path, "sources.%s", name);
    const json_t *rec = hml_config_get(root, path);
    struct hml_store *st;
    struct hml_error e;
    if (hml_store_open(p->dir, &st, &e) == HML_OK) {
        if (hml_store_record_ingest(st, name, hml_json_str(rec, "original_path", ""), hml_json_str(rec, "format", ""),
                                    hml_json_int(rec, "rows", 0), hml_json_int(rec, "columns", 0),
                                    hml_json_str(rec, "sha256", ""), &e))
            hml_result_warn(res, "ingest not recorded in the store: %s", e.message);
        hml_store_close(st);
    } else {
        hml_result_warn(res, "ingest not recorded in the store: %s", e.message);
    }
}

static void fill_request(struct hml_call *call, const json_t *item, bool into_table, struct source_req *rq)
{
    const json_t *src = item ? item : call->params;
    rq->data_path = hml_json_str(src, "data_path", NULL);
    rq->format = hml_json_str(src, "format", "auto");
    rq->table = hml_json_str(src, "table", NULL);
    rq->auto_clean = hml_json_bool(src, "auto_clean", hml_param_bool(call, "auto_clean", false));
    rq->into_table = into_table;
    const char *name = hml_json_str(src, "name", NULL);
    if (name) snprintf(rq->name, sizeof rq->name, "%s", name);
    else if (rq->data_path) default_name(rq->data_path, rq->name, sizeof rq->name);
    else rq->name[0] = 0;
}

/* Class counts for a classification target, or moments for a numeric one. */
static void target_summary(const struct hml_project *p, const struct hml_frame *t, struct hml_result *res)
{
    const json_t *data = json_object_get(p->cfg->root, "data");
    const char *target = hml_json_str(data, "target_column", NULL);
    if (!target) {
        hml_buf_puts(&res->text, "No target set yet: configure update_data --target_column <column>\n");
        return;
    }
    long j = hml_frame_find(t, target);
    if (j < 0) {
        size_t idx;
        struct hml_error e;
        hml_frame_lookup(t, target, &idx, &e);
        hml_result_warn(res, "the target column '%s' is not in the table (%s)", target, e.hint);
        return;
    }
    const struct hml_column *c = t->cols[j];
    struct hml_col_stats st;
    struct hml_error e;
    if (hml_col_stats(c, &st, &e)) return;
    const char *task = hml_json_str(data, "task", "binary");
    char a[32], b[32];
    if (!strcmp(task, "binary") || !strcmp(task, "multiclass") || c->type == HML_TYPE_STR) {
        hml_buf_printf(&res->text, "Target '%s':", target);
        size_t valid = st.n - st.nulls;
        for (size_t i = 0; i < st.top_n; i++)
            hml_buf_printf(&res->text, "%s %s → %s (%.1f%%)", i ? "," : "", st.top[i],
                           hml__fmt_count(a, st.top_count[i]), valid ? 100.0 * (double)st.top_count[i] / (double)valid : 0);
        if (st.distinct > st.top_n) hml_buf_printf(&res->text, ", … %zu classes in all", st.distinct);
        if (!strcmp(task, "binary") && st.distinct != 2)
            hml_result_warn(res, "task is binary but the target '%s' has %zu distinct values", target, st.distinct);
    } else {
        hml_buf_printf(&res->text, "Target '%s': mean %s, std %s", target, hml__fmt_num(a, st.mean), hml__fmt_num(b, st.std));
    }
    if (st.nulls) hml_buf_printf(&res->text, "; %zu rows have no target", st.nulls);
    hml_buf_putc(&res->text, '\n');
}

/* One ingest, committed on its own: the body of add and add_source. On success
 * *f_out is the frame read and *table_out the new table (NULL for add_source). */
static enum hml_status ingest_one(struct hml_call *call, const struct hml_project *p, struct source_req *rq,
                                  struct hml_frame **f_out, struct hml_frame **table_out, struct hml_result *res,
                                  struct hml_error *err)
{
    json_t *root = json_deep_copy(p->cfg->root);
    struct hml_txn *txn = hml_txn_new();
    enum hml_status rc = root && txn ? HML_OK : hml_fail(err, HML_ENOMEM, call->action->name, "out of memory");
    hml_progress(call, 0, 3, "reading %s", rq->data_path);
    if (!rc) rc = stage_source(call, p, root, txn, rq, f_out, table_out, res, err);
    hml_progress(call, 2, 3, "writing");
    if (!rc) rc = hml_config_validate(root, err);
    if (!rc) rc = hml_config_save(root, p->dir, txn, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    hml_progress(call, 3, 3, "done");
    hml_txn_free(txn);
    if (!rc) record_ingest(p, rq->name, root, res);
    else {
        hml_frame_free(*f_out);
        hml_frame_free(*table_out);
        *f_out = *table_out = NULL;
    }
    json_decref(root);
    return rc;
}

static void describe_ingest(const struct source_req *rq, const struct hml_frame *f, struct hml_result *res)
{
    json_object_set_new(res->data, "source", json_string(rq->name));
    json_object_set_new(res->data, "rows", json_integer((json_int_t)f->nrows));
    json_object_set_new(res->data, "columns", hml__columns_json(f));
}

DATA_ACTION(hml__data_add)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    struct source_req rq;
    fill_request(call, NULL, true, &rq);
    struct hml_frame *f = NULL, *table = NULL;
    rc = ingest_one(call, p, &rq, &f, &table, res, err);
    if (!rc) {
        char a[32], b[32], c[32], d[32];
        bool first = !p->table;
        hml_buf_printf(&res->text, "Added '%s' (%s rows × %s columns)%s. The prediction table has %s rows × %s columns.\n\n",
                       rq.name, hml__fmt_count(a, f->nrows), hml__fmt_count(b, f->ncols),
                       first ? " as the prediction table" : "", hml__fmt_count(c, table->nrows), hml__fmt_count(d, table->ncols));
        hml__columns_table(first ? table : f, 25, &res->text);
        target_summary(p, table, res);
        describe_ingest(&rq, f, res);
        json_object_set_new(res->data, "table", json_pack("{s:I,s:I}", "rows", (json_int_t)table->nrows,
                                                          "columns", (json_int_t)table->ncols));
    }
    hml_frame_free(f);
    hml_frame_free(table);
    hml__project_free(p);
    return rc;
}

DATA_ACTION(hml__data_add_source)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    struct source_req rq;
    fill_request(call, NULL, false, &rq);
    struct hml_frame *f = NULL, *none = NULL;
    rc = ingest_one(call, p, &rq, &f, &none, res, err);
    if (!rc) {
        char a[32];
        hml_buf_printf(&res->text, "Registered source '%s' (%s rows × %zu columns); the prediction table is unchanged.\n",
                       rq.name, hml__fmt_count(a, f->nrows), f->ncols);
        describe_ingest(&rq, f, res);
    }
    hml_frame_free(f);
    hml__project_free(p);
    return rc;
}

/* Each item lands on its own unless atomic: then all land or none. */
DATA_ACTION(hml__data_add_sources_batch)
{
    json_t *items = hml_param_json(call, "sources");
    if (!json_is_array(items) || !json_array_size(items)) {
        hml_fail(err, HML_EINVAL, "data.add_sources_batch", "'sources' must be a non-empty list");
        return hml_hint(err, "pass sources=[{\"name\": \"games\", \"data_path\": \"games.csv\"}, …]");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    bool atomic = hml_param_bool(call, "atomic", false);
    json_t *root = json_deep_copy(p->cfg->root), *results = json_array();
    struct hml_txn *txn = atomic ? hml_txn_new() : NULL;
    size_t i, ok = 0;
    json_t *item;
    json_array_foreach(items, i, item) {
        struct source_req rq;
        struct hml_error ierr;
        hml_error_clear(&ierr);
        fill_request(call, item, false, &rq);
        enum hml_status irc = HML_OK;
        if (!json_is_object(item) || !rq.data_path) {
            hml_fail(&ierr, HML_EINVAL, "data.add_sources_batch", "item %zu has no data_path", i + 1);
            irc = hml_hint(&ierr, "each item is {\"name\": …, \"data_path\": …, \"format\"?: …}");
        }
        json_t *try_root = irc ? NULL : json_deep_copy(root);
        struct hml_txn *t = atomic ? txn : hml_txn_new();
        struct hml_frame *f = NULL, *none = NULL;
        if (!irc) irc = stage_source(call, p, try_root, t, &rq, &f, &none, res, &ierr);
        if (!irc) irc = hml_config_validate(try_root, &ierr);
        if (!irc && !atomic) irc = hml_config_save(try_root, p->dir, t, &ierr);
        if (!irc && !atomic) irc = hml_txn_commit(t, &ierr);
        if (!atomic) hml_txn_free(t);
        if (!irc) {
            json_decref(root);
            root = try_root;
            try_root = NULL;
            ok++;
            if (!atomic) record_ingest(p, rq.name, root, res);
            json_array_append_new(results, json_pack("{s:s,s:b,s:I}", "name", rq.name, "ok", 1, "rows", (json_int_t)f->nrows));
            hml_buf_printf(&res->text, "- %s: added (%zu rows)\n", rq.name, f->nrows);
        } else {
            json_array_append_new(results, json_pack("{s:s,s:b,s:s,s:s}", "name", rq.name, "ok", 0, "error",
                                                     ierr.message, "hint", ierr.hint));
            hml_buf_printf(&res->text, "- %s: error: %s (%s)\n", rq.name[0] ? rq.name : "?", ierr.message, ierr.hint);
            if (atomic && !rc) {
                *err = ierr;
                rc = ierr.code;
            }
        }
        json_decref(try_root);
        hml_frame_free(f);
        if (atomic && rc) break;
    }
    if (atomic && !rc) rc = hml_config_save(root, p->dir, txn, err);
    if (atomic && !rc) rc = hml_txn_commit(txn, err);
    hml_txn_free(txn);
    json_array_foreach(results, i, item)
        if (atomic && !rc) record_ingest(p, hml_json_str(item, "name", ""), root, res);
    if (!rc) {
        hml_buf_printf(&res->text, "Added %zu of %zu source(s).\n", ok, json_array_size(items));
        json_object_set_new(res->data, "added", json_integer((json_int_t)ok));
        json_object_set(res->data, "results", results);
    } else {
        hml_error_prefix(err, "nothing added (atomic)");
    }
    json_decref(results);
    json_decref(root);
    hml__project_free(p);
    return rc;
}

/* ---- validate (a dry run of add) -------------------------------------------------------- */

void hml__preview_rows(const struct hml_frame *f, size_t n, size_t max_cols, struct hml_buf *out)
{
    size_t nc = f->ncols < max_cols ? f->ncols : max_cols;
    hml_buf_puts(out, "|");
    for (size_t j = 0; j < nc; j++) hml_buf_printf(out, " %s |", f->names[j]);
    hml_buf_puts(out, "\n|");
    for (size_t j = 0; j < nc; j++) hml_buf_puts(out, "---|");
    hml_buf_putc(out, '\n');
    for (size_t i = 0; i < n && i < f->nrows; i++) {
        hml_buf_puts(out, "|");
        for (size_t j = 0; j < nc; j++) {
            char cell[64];
            size_t len = hml_column_format(f->cols[j], i, cell, sizeof cell);
            if (len > 24) memcpy(cell + 21, "…", sizeof "…");
            for (char *q = cell; *q; q++)
                if (*q == '|' || *q == '\n' || *q == '\r') *q = ' ';
            hml_buf_printf(out, " %s |", hml_column_is_null(f->cols[j], i) ? "null" : cell);
        }
        hml_buf_putc(out, '\n');
    }
    if (f->ncols > nc) hml_buf_printf(out, "… and %zu more columns (see columns in the JSON result)\n", f->ncols - nc);
}

DATA_ACTION(hml__data_validate)
{
    struct hml_project *p = NULL;
    struct hml_error perr;
    /* Works without a project too: then the default null tokens apply. */
    if (hml__project_open(call, HML_TABLE_SKIP, &p, &perr)) p = NULL;
    char *abs = NULL;
    const char *given = hml_param_str(call, "data_path", "");
    enum hml_status rc = resolve_path(call, given, &abs, err);
    if (rc) {
        hml__project_free(p);
        return rc;
    }
    const char *fmt = detect_format(abs, hml_param_str(call, "format", "auto"));
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    rc = read_file(abs, fmt, hml_param_str(call, "table", NULL), hml_param_bool(call, "auto_clean", false),
                   p ? p->cfg->root : NULL, &f, &rep, err);
    report_warnings(&rep, res);
    if (!rc) {
        char a[32];
        hml_buf_printf(&res->text, "'%s' reads cleanly as %s: %s rows × %zu columns, %zu null cells%s.\n\n", given, fmt,
                       hml__fmt_count(a, f->nrows), f->ncols, rep.nulls,
                       rep.skipped ? " (after skipping bad rows)" : "");
        hml__columns_table(f, 25, &res->text);
        hml_buf_puts(&res->text, "\nFirst rows:\n");
        hml__preview_rows(f, 5, 8, &res->text);
        hml_buf_puts(&res->text, "Nothing was changed. data add ingests it.\n");
        json_object_set_new(res->data, "format", json_string(fmt));
        json_object_set_new(res->data, "rows", json_integer((json_int_t)f->nrows));
        json_object_set_new(res->data, "columns", hml__columns_json(f));
        json_object_set_new(res->data, "skipped_rows", json_integer((json_int_t)rep.skipped));
        json_object_set_new(res->data, "null_cells", json_integer((json_int_t)rep.nulls));
    }
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
    hml_free(abs);
    hml__project_free(p);
    return rc;
}

/* ---- list_sources / validate_source --------------------------------------------------------- */

DATA_ACTION(hml__data_list_sources)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    const json_t *sources = json_object_get(p->cfg->root, "sources");
    if (!json_object_size(sources)) {
        hml_buf_puts(&res->text, "No sources yet: data add --data_path <file>\n");
    } else {
        hml_buf_puts(&res->text, "| source | format | rows | columns | in table | added |\n|---|---|---|---|---|---|\n");
        const char *name;
        json_t *rec;
        json_object_foreach((json_t *)sources, name, rec)
            hml_buf_printf(&res->text, "| %s | %s | %lld | %lld | %s | %s |\n", name, hml_json_str(rec, "format", "?"),
                           (long long)hml_json_int(rec, "rows", 0), (long long)hml_json_int(rec, "columns", 0),
                           hml_json_bool(rec, "in_table", false) ? "yes" : "no", hml_json_str(rec, "added_at", ""));
    }
    json_object_set_new(res->data, "sources", sources ? json_deep_copy(sources) : json_object());
    hml__project_free(p);
    return HML_OK;
}

static enum hml_status find_source(const struct hml_project *p, const char *name, const json_t **out,
                                   const char *where, struct hml_error *err)
{
    const json_t *sources = json_object_get(p->cfg->root, "sources");
    *out = json_object_get(sources, name);
    if (*out) return HML_OK;
    const char *names[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sources, k, v) if (n < 64) names[n++] = k;
    hml_fail(err, HML_ENOTFOUND, where, "no source named '%s'", name);
    return hml_error_choices(err, name, names, n);
}

DATA_ACTION(hml__data_validate_source)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    const char *name = hml_param_str(call, "name", "");
    const json_t *rec;
    rc = find_source(p, name, &rec, "data.validate_source", err);
    char *raw = rc ? NULL : hml__project_path(p, hml_json_str(rec, "path", ""));
    char sha[65] = "";
    if (!rc && !hml_path_exists(raw)) {
        hml_fail(err, HML_ENOTFOUND, "data.validate_source", "the copy of '%s' at %s is missing", name,
                 hml_json_str(rec, "path", ""));
        rc = hml_hint(err, "add the file again: data add_source --name %s --data_path <file>", name);
    }
    if (!rc) rc = file_sha256(raw, sha, err);
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep = {0};
    if (!rc) rc = read_file(raw, hml_json_str(rec, "format", "csv"), hml_json_str(rec, "table", NULL), true,
                            p->cfg->root, &f, &rep, err);
    if (!rc) {
        bool same = !strcmp(sha, hml_json_str(rec, "sha256", ""));
        bool shape = (long long)f->nrows == hml_json_int(rec, "rows", -1) &&
                     (long long)f->ncols == hml_json_int(rec, "columns", -1);
        hml_buf_printf(&res->text, "Source '%s': %s; %zu rows × %zu columns%s.\n", name,
                       same ? "content unchanged since it was added" : "CONTENT CHANGED since it was added",
                       f->nrows, f->ncols, shape ? "" : " (differs from the recorded shape)");
        if (!same) hml_result_warn(res, "the raw copy of '%s' no longer matches its recorded sha256", name);
        json_object_set_new(res->data, "unchanged", json_boolean(same));
        json_object_set_new(res->data, "rows", json_integer((json_int_t)f->nrows));
        json_object_set_new(res->data, "columns", json_integer((json_int_t)f->ncols));
    }
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
    hml_free(raw);
    hml__project_free(p);
    return rc;
}

/* ---- the tool table --------------------------------------------------------------------------- */

static const struct hml_param params[] = {
    {"data_path", HML_P_STRING, NULL, "path of a .csv, .tsv, .jsonl or SQLite file (relative: cwd, then project)"},
    {"name", HML_P_STRING, NULL, "name of the source or snapshot (default: from the file name / a timestamp)"},
    {"format", HML_P_STRING, "auto|csv|tsv|jsonl|sqlite", "file format (default auto: by extension)"},
    {"table", HML_P_STRING, NULL, "sqlite: the table or view to read (default: the only one)"},
    {"join_on", HML_P_STRINGS, NULL, "key column(s): join the new columns onto the table instead of appending rows"},
    {"prefix", HML_P_STRING, NULL, "prefix for the joined columns' names"},
    {"auto_clean", HML_P_BOOLEAN, NULL, "skip malformed rows and repair invalid UTF-8 instead of failing"},
    {"sources", HML_P_ARRAY, NULL, "list of {name, data_path, format?}"},
    {"atomic", HML_P_BOOLEAN, NULL, "batch: apply all items or none (default false: each on its own)"},
    {"column", HML_P_STRING, NULL, "a column of the prediction table"},
    {"category", HML_P_STRING, "all|numeric|categorical|date", "only columns of this kind"},
    {"strategy", HML_P_STRING, "median|mean|mode|zero|value", "how to fill nulls (default median)"},
    {"value", HML_P_ANY, NULL, "the fill value for strategy=value"},
    {"columns", HML_P_ARRAY, NULL, "column names, or fill_nulls_batch items {column, strategy, value}"},
    {"mapping", HML_P_OBJECT, NULL, "renames as {\"old\": \"new\"}"},
    {"fraction", HML_P_NUMBER, NULL, "share of rows to keep, between 0 and 1"},
    {"stratify_column", HML_P_STRING, NULL, "keep the same share of every value of this column"},
    {"seed", HML_P_INTEGER, NULL, "random seed (default 42)"},
    {"expression", HML_P_STRING, NULL, "formula of the new column"},
    {"group_by", HML_P_STRINGS, NULL, "column-wise formula parts per group of these columns"},
    {"condition", HML_P_STRING, NULL, "formula true for the rows to drop, or null (with column)"},
    {"method", HML_P_STRING, "iqr|zscore", "outlier rule (default iqr)"},
    {"threshold", HML_P_NUMBER, NULL, "IQR multiple (1.5) or z-score (3)"},
    {"source", HML_P_STRING, NULL, "source or view a view reads"},
    {"steps", HML_P_ARRAY, NULL, "view steps: [{op, ...}]"},
    {"description", HML_P_STRING, NULL, "what the view is for"},
    {"views", HML_P_ARRAY, NULL, "list of {name, source, steps, description}"},
    {"n_rows", HML_P_INTEGER, NULL, "rows to show (default 5)"},
    {0},
};

static const struct hml_action actions[] = {
    {"add", hml__data_add, "data_path name format table join_on prefix auto_clean", "data_path",
     "ingest a file: the first becomes the prediction table; later ones join (join_on) or append", 0},
    {"validate", hml__data_validate, "data_path format table auto_clean", "data_path",
     "read a file and report types, nulls and problems; changes nothing", HML_ACT_READONLY | HML_ACT_NO_PROJECT},
    {"add_source", hml__data_add_source, "data_path name format table auto_clean", "data_path",
     "register a file as a named source (for views) without touching the table", 0},
    {"add_sources_batch", hml__data_add_sources_batch, "sources atomic auto_clean", "sources",
     "add_source for a list; each item reports success or error", 0},
    {"list_sources", hml__data_list_sources, "", NULL, "the sources with format, shape and date", HML_ACT_READONLY},
    {"validate_source", hml__data_validate_source, "name", "name",
     "check a source's stored copy still reads and matches its checksum", HML_ACT_READONLY},
    {"inspect", hml__data_inspect, "column", NULL, "the table's columns, or one column's statistics", HML_ACT_READONLY},
    {"profile", hml__data_profile, "category", NULL, "per-column summary with correlation to the target",
     HML_ACT_READONLY},
    {"status", hml__data_status, "", NULL, "rows, target balance, time range, sampling state", HML_ACT_READONLY},
    {"fill_nulls", hml__data_fill_nulls, "column strategy value", "column", "fill a column's nulls", 0},
    {"fill_nulls_batch", hml__data_fill_nulls_batch, "columns atomic", "columns", "fill_nulls for a list of columns", 0},
    {"rename", hml__data_rename, "mapping", "mapping", "rename columns (config references follow)", 0},
    {"drop_duplicates", hml__data_drop_duplicates, "columns", NULL, "remove repeated rows, keeping the first",
     HML_ACT_DESTRUCTIVE},
    {"sample", hml__data_sample, "fraction stratify_column seed", "fraction",
     "work on a random share of the rows (the full table is kept aside)", 0},
    {"restore", hml__data_restore, "", NULL, "bring back the full table after sample", 0},
    {"snapshot", hml__data_snapshot, "name", NULL, "save the config and the table under a name", 0},
    {"restore_snapshot", hml__data_restore_snapshot, "name", "name",
     "return to a snapshot (the current state is saved first)", HML_ACT_DESTRUCTIVE},
    {"derive_column", hml__data_derive_column, "name expression group_by", "name expression",
     "add a column from a formula", 0},
    {"drop_rows", hml__data_drop_rows, "column condition", NULL, "drop rows matching a formula, or null in column",
     HML_ACT_DESTRUCTIVE},
    {"detect_outliers", hml__data_detect_outliers, "column method threshold", NULL,
     "count values outside IQR or z-score bounds; changes nothing", HML_ACT_READONLY},
    {"add_view", hml__data_add_view, "name source steps description", "name source",
     "declare a view (checked without computing it)", 0},
    {"update_view", hml__data_update_view, "name source steps description", "name", "change a view's given fields", 0},
    {"remove_view", hml__data_remove_view, "name", "name", "remove a view no other view or the table uses", 0},
    {"add_views_batch", hml__data_add_views_batch, "views atomic", "views", "add_view for a list", 0},
    {"preview_view", hml__data_preview_view, "name n_rows", "name", "first rows and schema of a view (cached)",
     HML_ACT_READONLY},
    {"list_views", hml__data_list_views, "", NULL, "the views with source and steps", HML_ACT_READONLY},
    {"view_dag", hml__data_view_dag, "", NULL, "how sources and views feed each other", HML_ACT_READONLY},
    {"set_features_view", hml__data_set_features_view, "name", "name", "make a view the prediction table", 0},
    {0},
};

const struct hml_tool hml_tool_data = {
    .name = "data",
    .title = "sources, cleaning and the prediction table",
    .description =
        "Sources and the prediction table. add ingests a file (csv, tsv, jsonl, sqlite): the first becomes the "
        "table, later ones join on join_on or append; auto_clean skips malformed rows. validate is a dry run. "
        "Look: inspect, profile, status. Clean: fill_nulls(_batch), rename, drop_duplicates, drop_rows, "
        "derive_column (formula), detect_outliers. sample/restore, snapshot/restore_snapshot. Views are "
        "declarative, leakage-safe and cached: add_view (source + steps), preview_view, view_dag, "
        "set_features_view. Every change lands whole or not at all.",
    .params = params,
    .actions = actions,
};
