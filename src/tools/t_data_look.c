/* t_data_look.c — read-only views of the prediction table: inspect, profile, status. */
#include "data_int.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/alloc.h"
#include "harness/stats.h"

static const char *target_of(const struct hml_project *p)
{
    return hml_json_str(json_object_get(p->cfg->root, "data"), "target_column", NULL);
}

static double corr_with_target(const struct hml_project *p, const struct hml_column *c)
{
    const char *target = target_of(p);
    long j = target ? hml_frame_find(p->table, target) : -1;
    if (j < 0 || p->table->cols[j] == c) return NAN;
    return hml_corr(c, p->table->cols[j]);
}

static json_t *num_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static void inspect_column(const struct hml_project *p, const char *name, size_t j,
                           const struct hml_col_stats *s, struct hml_result *res)
{
    const struct hml_column *c = p->table->cols[j];
    char a[32], b[32], d[32];
    struct hml_buf *t = &res->text;
    hml_buf_printf(t, "## %s (%s)\nrows %s · nulls %s (%.1f%%) · distinct %s\n", name, hml_type_name(c->type),
                   hml__fmt_count(a, s->n), hml__fmt_count(b, s->nulls),
                   s->n ? 100.0 * (double)s->nulls / (double)s->n : 0.0, hml__fmt_count(d, s->distinct));
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:I}", "name", name, "type", hml_type_name(c->type), "rows",
                          (json_int_t)s->n, "nulls", (json_int_t)s->nulls, "distinct", (json_int_t)s->distinct);
    if (c->type != HML_TYPE_STR && !isnan(s->mean)) {
        char v[7][32];
        hml_buf_printf(t, "min %s · p25 %s · median %s · mean %s · p75 %s · max %s · std %s\n",
                       hml__fmt_num(v[0], s->min), hml__fmt_num(v[1], s->p25), hml__fmt_num(v[2], s->median),
                       hml__fmt_num(v[3], s->mean), hml__fmt_num(v[4], s->p75), hml__fmt_num(v[5], s->max),
                       hml__fmt_num(v[6], s->std));
        json_object_set_new(o, "min", num_or_null(s->min));
        json_object_set_new(o, "p25", num_or_null(s->p25));
        json_object_set_new(o, "median", num_or_null(s->median));
        json_object_set_new(o, "mean", num_or_null(s->mean));
        json_object_set_new(o, "p75", num_or_null(s->p75));
        json_object_set_new(o, "max", num_or_null(s->max));
        json_object_set_new(o, "std", num_or_null(s->std));
    }
    json_t *top = json_array();
    hml_buf_puts(t, "most frequent:");
    for (size_t i = 0; i < s->top_n; i++) {
        hml_buf_printf(t, "%s %s (%zu)", i ? "," : "", s->top[i], s->top_count[i]);
        json_array_append_new(top, json_pack("{s:s,s:I}", "value", s->top[i], "count", (json_int_t)s->top_count[i]));
    }
    hml_buf_putc(t, '\n');
    json_object_set_new(o, "top", top);
    double r = corr_with_target(p, c);
    if (!isnan(r)) {
        hml_buf_printf(t, "correlation with the target '%s': %s\n", target_of(p), hml__fmt_num(a, r));
        json_object_set_new(o, "target_correlation", json_real(r));
    }
    json_object_set_new(res->data, "column", o);
}

DATA_ACTION(hml__data_inspect)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    const char *name = hml_param_str(call, "column", NULL);
    if (name) {
        size_t j;
        struct hml_col_stats s;
        rc = hml_frame_lookup(p->table, name, &j, err);
        if (!rc) rc = hml_col_stats(p->table->cols[j], &s, err);
        if (!rc) inspect_column(p, name, j, &s, res);
    } else {
        char a[32];
        hml_buf_printf(&res->text, "The prediction table has %s rows × %zu columns.\n\n",
                       hml__fmt_count(a, p->table->nrows), p->table->ncols);
        hml__columns_table(p->table, 60, &res->text);
        json_object_set_new(res->data, "rows", json_integer((json_int_t)p->table->nrows));
        json_object_set_new(res->data, "columns", hml__columns_json(p->table));
    }
    hml__project_free(p);
    return rc;
}

/* Type groups for the `category` filter. */
static bool in_category(const struct hml_column *c, const char *cat)
{
    if (!cat || !strcmp(cat, "all")) return true;
    if (!strcmp(cat, "numeric")) return c->type == HML_TYPE_F64 || c->type == HML_TYPE_I64;
    if (!strcmp(cat, "categorical")) return c->type == HML_TYPE_STR || c->type == HML_TYPE_BOOL;
    if (!strcmp(cat, "date")) return c->type == HML_TYPE_DATE;
    return true;
}

/* Test-only: HARNESS_TEST_SLOW_MS makes profile pause this long after each column, so the
 * MCP tests have a long call to watch (progress) and to stop (cancel). The pause is cut
 * into short slices so that a cancel still lands promptly. */
static void test_slow_pause(const struct hml_call *call)
{
    const char *e = getenv("HARNESS_TEST_SLOW_MS");
    long ms = e ? strtol(e, NULL, 10) : 0;
    for (long left = ms > 60000 ? 60000 : ms; left > 0 && !hml_cancelled(call); left -= 10) {
        struct timespec ts = {0, (left < 10 ? left : 10) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

DATA_ACTION(hml__data_profile)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    const char *cat = hml_param_str(call, "category", "all");
    json_t *cols = json_array();
    size_t shown = 0, limit = 50;
    hml_buf_puts(&res->text, "| column | type | nulls | distinct | mean or top | min | max | r(target) |\n"
                             "|---|---|---|---|---|---|---|---|\n");
    for (size_t j = 0; !rc && j < p->table->ncols; j++) {
        const struct hml_column *c = p->table->cols[j];
        if (!in_category(c, cat)) continue;
        if (hml_cancelled(call)) {
            rc = hml_fail_cancelled(err, "data.profile");
            break;
        }
        struct hml_col_stats s;
        rc = hml_col_stats(c, &s, err);
        if (rc) break;
        hml_progress(call, (double)(j + 1), (double)p->table->ncols, "column %zu/%zu · %s", j + 1,
                     p->table->ncols, p->table->names[j]);
        test_slow_pause(call);
        double r = corr_with_target(p, c);
        char v[4][32], nulls[32];
        snprintf(nulls, sizeof nulls, "%.1f%%", s.n ? 100.0 * (double)s.nulls / (double)s.n : 0.0);
        bool numeric = c->type != HML_TYPE_STR && !isnan(s.mean);
        if (shown++ < limit)
            hml_buf_printf(&res->text, "| %s | %s | %s | %zu | %s | %s | %s | %s |\n", p->table->names[j],
                           hml_type_name(c->type), nulls, s.distinct,
                           numeric ? hml__fmt_num(v[0], s.mean) : (s.top_n ? s.top[0] : "–"),
                           numeric ? hml__fmt_num(v[1], s.min) : "–", numeric ? hml__fmt_num(v[2], s.max) : "–",
                           hml__fmt_num(v[3], r));
        json_t *o = json_pack("{s:s,s:s,s:I,s:I}", "name", p->table->names[j], "type", hml_type_name(c->type),
                              "nulls", (json_int_t)s.nulls, "distinct", (json_int_t)s.distinct);
        if (numeric) {
            json_object_set_new(o, "mean", num_or_null(s.mean));
            json_object_set_new(o, "std", num_or_null(s.std));
            json_object_set_new(o, "min", num_or_null(s.min));
            json_object_set_new(o, "max", num_or_null(s.max));
        } else if (s.top_n) {
            json_object_set_new(o, "top", json_string(s.top[0]));
        }
        json_object_set_new(o, "target_correlation", num_or_null(r));
        json_array_append_new(cols, o);
    }
    if (!rc && shown > limit)
        hml_buf_printf(&res->text, "… %zu more columns in structured output (or use category=…)\n", shown - limit);
    if (!rc) json_object_set_new(res->data, "columns", json_incref(cols));
    json_decref(cols);
    hml__project_free(p);
    return rc;
}

static size_t count_snapshots(const struct hml_project *p)
{
    char *dir = hml__project_path(p, "snapshots");
    DIR *d = dir ? opendir(dir) : NULL;
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    hml_free(dir);
    return n;
}

DATA_ACTION(hml__data_status)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    const json_t *data = json_object_get(p->cfg->root, "data");
    const json_t *sources = json_object_get(p->cfg->root, "sources");
    char a[32], b[32];
    struct hml_buf *t = &res->text;
    if (!p->table) {
        hml_buf_puts(t, "No data yet: data add --data_path <file>\n");
        json_object_set_new(res->data, "rows", json_integer(0));
        hml__project_free(p);
        return HML_OK;
    }
    hml_buf_printf(t, "Prediction table: %s rows × %s columns from %zu source(s)", hml__fmt_count(a, p->table->nrows),
                   hml__fmt_count(b, p->table->ncols), json_object_size(sources));
    char *full = hml__project_path(p, HML_TABLE_FULL_FILE);
    bool sampled = full && hml_path_exists(full);
    hml_free(full);
    hml_buf_printf(t, "%s.\n", sampled ? " — a SAMPLE (data restore brings back the full table)" : "");
    const char *target = hml_json_str(data, "target_column", NULL);
    long tj = target ? hml_frame_find(p->table, target) : -1;
    json_object_set_new(res->data, "rows", json_integer((json_int_t)p->table->nrows));
    json_object_set_new(res->data, "columns", json_integer((json_int_t)p->table->ncols));
    json_object_set_new(res->data, "sampled", json_boolean(sampled));
    if (tj >= 0) {
        struct hml_col_stats s;
        if (!hml_col_stats(p->table->cols[tj], &s, err)) {
            hml_buf_printf(t, "Target '%s' (%s):", target, hml_json_str(data, "task", "?"));
            for (size_t i = 0; i < s.top_n && i < 3; i++) hml_buf_printf(t, "%s %s × %zu", i ? "," : "", s.top[i], s.top_count[i]);
            if (s.distinct > 3) hml_buf_printf(t, ", … (%zu distinct, mean %s)", s.distinct, hml__fmt_num(a, s.mean));
            hml_buf_printf(t, "; %zu missing\n", s.nulls);
        }
    } else {
        hml_buf_printf(t, "Target: %s\n", target ? "set but not in the table" : "not set");
    }
    const char *time_col = hml_json_str(data, "time_column", NULL);
    long jt = time_col ? hml_frame_find(p->table, time_col) : -1;
    if (jt >= 0) {
        struct hml_col_stats s;
        if (!hml_col_stats(p->table->cols[jt], &s, err)) {
            char lo[32], hi[32];
            const struct hml_column *c = p->table->cols[jt];
            if (c->type == HML_TYPE_DATE) {
                int y, m, d;
                hml_date_to_ymd((int32_t)s.min, &y, &m, &d);
                snprintf(lo, sizeof lo, "%04d-%02d-%02d", y, m, d);
                hml_date_to_ymd((int32_t)s.max, &y, &m, &d);
                snprintf(hi, sizeof hi, "%04d-%02d-%02d", y, m, d);
            } else {
                hml__fmt_num(lo, s.min);
                hml__fmt_num(hi, s.max);
            }
            hml_buf_printf(t, "Time '%s': %s … %s\n", time_col, lo, hi);
        }
    }
    size_t cells = 0, nulls = 0;
    for (size_t j = 0; j < p->table->ncols; j++) cells += p->table->nrows, nulls += p->table->cols[j]->null_count;
    hml_buf_printf(t, "Null cells: %zu (%.1f%%) · snapshots: %zu\n", nulls, cells ? 100.0 * (double)nulls / (double)cells : 0.0,
                   count_snapshots(p));
    json_object_set_new(res->data, "null_cells", json_integer((json_int_t)nulls));
    hml__project_free(p);
    return HML_OK;
}
