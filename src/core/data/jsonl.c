/* jsonl.c — JSON lines (one object per line) into a frame.
 *
 * Two passes over the text: the first learns the columns (union of keys, in the
 * order first seen) and each column's type; the second fills the columns. Parsing
 * every line twice is cheaper than holding every parsed object at once (jansson
 * objects are several times larger than the frame). */
#include "harness/io.h"
#include "harness/alloc.h"
#include "harness/buf.h"
#include "harness/fsx.h"
#include "csv_int.h"
#include "frame_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define JSONL_BYTES_MAX ((size_t)1 << 38)

/* Column kinds while learning; widen only (see merge). */
enum jk { JK_NONE, JK_BOOL, JK_INT, JK_FLOAT, JK_STR };

struct jcol {
    enum jk kind;
    bool all_dates; /* every string so far is an ISO date */
    struct hml_column *c;
};

struct jl {
    const char *path;
    const char *text;
    size_t len;
    struct hml_dict *keys; /* key -> column index (codes are dense, first-seen order) */
    struct jcol *cols;
    size_t ncols, cap;
    char **names;
    size_t rows, rows_max, skipped;
    size_t *seen;          /* per column: last row + 1 that had the key (pass 2) */
    bool auto_clean;
    struct hml_ingest_report *rep;
    struct hml_error *err;
};

static enum hml_status jl_oom(struct jl *j)
{
    return hml_fail(j->err, HML_ENOMEM, "jsonl", "out of memory reading '%s'", j->path);
}

static bool jl_warn(struct hml_ingest_report *rep, const char *fmt, ...) HML_PRINTF(2, 3);
static bool jl_warn(struct hml_ingest_report *rep, const char *fmt, ...)
{
    struct hml_buf b = HML_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    hml_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char **w = hml_buf_ok(&b) ? hml_realloc(rep->warnings, (rep->warnings_n + 1) * sizeof *w) : NULL;
    if (!w) {
        hml_buf_free(&b);
        return false;
    }
    rep->warnings = w;
    rep->warnings[rep->warnings_n++] = hml_buf_detach(&b);
    return true;
}

static enum jk kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_TRUE:
    case JSON_FALSE: return JK_BOOL;
    case JSON_INTEGER: return JK_INT;
    case JSON_REAL: return JK_FLOAT;
    case JSON_STRING: return JK_STR;
    default: return JK_NONE;
    }
}

/* Numbers widen to float; anything mixed with strings becomes a string. */
static enum jk merge(enum jk a, enum jk b)
{
    if (a == JK_NONE || a == b) return b;
    if (a == JK_STR || b == JK_STR) return JK_STR;
    return JK_FLOAT;
}

/* Index of the column for key (adding it in pass 1). */
static enum hml_status column_of(struct jl *j, const char *key, size_t *idx)
{
    size_t len = strlen(key);
    size_t before = hml_dict_size(j->keys);
    int32_t code = hml_dict_intern(j->keys, key, len);
    if (code < 0) return jl_oom(j);
    *idx = (size_t)code;
    if ((size_t)code < before) return HML_OK;
    if (j->ncols >= HML_CSV_COLS_MAX) {
        hml_fail(j->err, HML_ELIMIT, "jsonl", "'%s' has more than %u distinct keys", j->path,
                 HML_CSV_COLS_MAX);
        return hml_hint(j->err, "a table may have at most HML_CSV_COLS_MAX (%u) columns",
                        HML_CSV_COLS_MAX);
    }
    if (j->ncols == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 16;
        struct jcol *c = hml_realloc(j->cols, cap * sizeof *c);
        if (!c) return jl_oom(j);
        j->cols = c;
        char **n = hml_realloc(j->names, cap * sizeof *n);
        if (!n) return jl_oom(j);
        j->names = n;
        j->cap = cap;
    }
    char num[32];
    snprintf(num, sizeof num, "column_%zu", j->ncols + 1);
    j->names[j->ncols] = hml_strdup(len ? key : num);
    if (!j->names[j->ncols]) return jl_oom(j);
    j->cols[j->ncols++] = (struct jcol){.kind = JK_NONE, .all_dates = true};
    if (!len && !jl_warn(j->rep, "an empty key is named '%s'", num)) return jl_oom(j);
    return HML_OK;
}

static enum hml_status parse_line(struct jl *j, const char *s, size_t len, size_t line,
                                  json_t **out)
{
    json_error_t je;
    json_t *v = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (v && json_is_object(v)) {
        *out = v;
        return HML_OK;
    }
    *out = NULL;
    if (!v && json_error_code(&je) == json_error_out_of_memory) return jl_oom(j);
    if (j->auto_clean) {
        json_decref(v);
        return HML_OK; /* the caller counts and skips it */
    }
    if (v) {
        json_decref(v);
        hml_fail(j->err, HML_EINVAL, "jsonl", "line %zu of '%s' is not a JSON object", line, j->path);
    } else {
        hml_fail(j->err, HML_EINVAL, "jsonl", "line %zu of '%s' is not valid JSON: %s (column %d)",
                 line, j->path, je.text, je.column);
    }
    return hml_hint(j->err, "each line must hold one JSON object such as {\"a\": 1}; fix the line, "
                    "or pass auto_clean=true to skip bad lines");
}

static enum hml_status learn_row(struct jl *j, json_t *obj, size_t line)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        size_t idx = 0;
        enum hml_status rc = column_of(j, key, &idx);
        if (rc) return rc;
        if (json_is_object(v) || json_is_array(v)) {
            hml_fail(j->err, HML_EINVAL, "jsonl", "line %zu of '%s': key '%s' holds a nested %s",
                     line, j->path, key, json_is_object(v) ? "object" : "array");
            return hml_hint(j->err, "flatten the records first, so every key holds a number, "
                            "string, boolean or null");
        }
        struct jcol *c = &j->cols[idx];
        enum jk k = kind_of(v);
        if (k == JK_NONE) continue;
        c->kind = merge(c->kind, k);
        int32_t days;
        /* A date column holds only strings, each one an ISO date. */
        if (k != JK_STR) c->all_dates = false;
        else if (c->all_dates)
            c->all_dates = hml_date_parse(json_string_value(v), json_string_length(v), &days);
    }
    return HML_OK;
}

/* Calls fn on every non-blank line's object. */
static enum hml_status each_line(struct jl *j,
                                 enum hml_status (*fn)(struct jl *, json_t *, size_t))
{
    size_t line = 0, rows = 0;
    j->skipped = 0;
    for (const char *p = j->text, *end = j->text + j->len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < e) {
            json_t *obj;
            enum hml_status rc = parse_line(j, p, (size_t)(e - p), line, &obj);
            if (rc) return rc;
            if (!obj) {
                j->skipped++;
            } else if (rows == j->rows_max) {
                json_decref(obj);
                hml_fail(j->err, HML_ELIMIT, "jsonl", "'%s' has more than %zu rows", j->path,
                         j->rows_max);
                return hml_hint(j->err, "raise rows_max (at most %u), or sample the file first",
                                HML_FRAME_ROWS_MAX);
            } else {
                j->rows = rows;
                rc = fn(j, obj, line);
                json_decref(obj);
                if (rc) return rc;
                rows++;
            }
        }
        p = nl ? nl + 1 : end;
    }
    j->rows = rows;
    return HML_OK;
}

static enum hml_type final_type(const struct jcol *c)
{
    switch (c->kind) {
    case JK_BOOL: return HML_TYPE_BOOL;
    case JK_INT: return HML_TYPE_I64;
    case JK_STR: return c->all_dates ? HML_TYPE_DATE : HML_TYPE_STR;
    default: return HML_TYPE_F64;
    }
}

static bool put_text(struct hml_column *c, size_t row, const json_t *v)
{
    char tmp[64];
    const char *s = tmp;
    size_t len;
    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        len = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        struct hml_column one = {.refs = 1, .type = HML_TYPE_F64, .n = 1};
        double d = json_real_value(v);
        one.data = &d;
        len = hml_column_format(&one, 0, tmp, sizeof tmp);
    } else {
        len = (size_t)snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "true" : "false");
    }
    int32_t code = hml_dict_intern(c->dict, s, len);
    if (code < 0) return false;
    hml_codes(c)[row] = code;
    return true;
}

static bool put_value(struct hml_column *c, size_t row, const json_t *v)
{
    switch (c->type) {
    case HML_TYPE_BOOL: hml_bool(c)[row] = json_is_true(v); return true;
    case HML_TYPE_I64: hml_i64(c)[row] = json_integer_value(v); return true;
    case HML_TYPE_F64:
        hml_f64(c)[row] = json_is_real(v) ? json_real_value(v)
                          : json_is_integer(v) ? (double)json_integer_value(v)
                                               : json_is_true(v);
        return true;
    case HML_TYPE_DATE:
        return hml_date_parse(json_string_value(v), json_string_length(v), &hml_days(c)[row]);
    case HML_TYPE_STR: return put_text(c, row, v);
    }
    return false;
}

static enum hml_status fill_row(struct jl *j, json_t *obj, size_t line)
{
    (void)line;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int32_t idx = hml_dict_find(j->keys, key, strlen(key));
        HML_ASSERT(idx >= 0);
        j->seen[idx] = j->rows + 1;
        struct hml_column *c = j->cols[idx].c;
        bool ok = json_is_null(v) ? hml_column_set_null(c, j->rows) : put_value(c, j->rows, v);
        if (!ok) return jl_oom(j);
    }
    for (size_t k = 0; k < j->ncols; k++)
        if (j->seen[k] != j->rows + 1 && !hml_column_set_null(j->cols[k].c, j->rows))
            return jl_oom(j);
    return HML_OK;
}

static enum hml_status build(struct jl *j, struct hml_frame **out)
{
    j->seen = hml_calloc(j->ncols + 1, sizeof *j->seen);
    if (!j->seen) return jl_oom(j);
    for (size_t k = 0; k < j->ncols; k++)
        if (!(j->cols[k].c = hml_column_new(final_type(&j->cols[k]), j->rows))) return jl_oom(j);
    enum hml_status rc = each_line(j, fill_row);
    if (rc) return rc;
    struct hml_frame *f = hml_frame_new();
    if (!f) return jl_oom(j);
    for (size_t k = 0; k < j->ncols && !rc; k++) rc = hml_frame_add(f, j->names[k], j->cols[k].c, j->err);
    if (rc) {
        hml_frame_free(f);
        return rc;
    }
    f->nrows = j->rows;
    *out = f;
    return HML_OK;
}

static enum hml_status read_jsonl(struct jl *j, struct hml_frame **out)
{
    enum hml_status rc = each_line(j, learn_row);
    if (rc) return rc;
    if (j->ncols == 0) {
        hml_fail(j->err, HML_EINVAL, "jsonl", "'%s' has no rows with keys (file is empty)", j->path);
        return hml_hint(j->err, "write one JSON object per line, e.g. {\"x\": 1, \"y\": \"a\"}");
    }
    if (j->skipped && !jl_warn(j->rep, "skipped %zu line%s that were not JSON objects", j->skipped,
                               j->skipped == 1 ? "" : "s"))
        return jl_oom(j);
    rc = build(j, out);
    if (rc) return rc;
    j->rep->rows = j->rows;
    j->rep->skipped = j->skipped;
    for (size_t k = 0; k < j->ncols; k++) j->rep->nulls += j->cols[k].c->null_count;
    return HML_OK;
}

enum hml_status hml_jsonl_read_file(const char *path, const struct hml_csv_options *opt,
                                    struct hml_frame **out, struct hml_ingest_report *rep,
                                    struct hml_error *err)
{
    struct hml_ingest_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    struct jl j = {.path = path, .rep = rep, .err = err, .auto_clean = opt && opt->auto_clean};
    j.rows_max = opt && opt->rows_max && opt->rows_max < HML_FRAME_ROWS_MAX ? opt->rows_max
                                                                             : HML_FRAME_ROWS_MAX;
    char *text = NULL;
    enum hml_status rc = hml_read_file(path, JSONL_BYTES_MAX, &text, &j.len, err);
    if (!rc && !(j.keys = hml_dict_new())) rc = jl_oom(&j);
    j.text = text;
    if (!rc) rc = read_jsonl(&j, out);
    for (size_t k = 0; k < j.ncols; k++) {
        hml_column_unref(j.cols[k].c);
        hml_free(j.names[k]);
    }
    hml_free(j.cols);
    hml_free(j.names);
    hml_free(j.seen);
    hml_dict_free(j.keys);
    hml_free(text);
    if (rep == &local) hml_ingest_report_fini(&local);
    return rc;
}
