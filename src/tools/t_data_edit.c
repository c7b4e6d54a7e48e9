/* t_data_edit.c — changes to the prediction table: fill_nulls(_batch), rename,
 * drop_duplicates, sample/restore and snapshots. Every action builds the new
 * table beside the old one and commits table + config together. */
#include "data_int.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/alloc.h"
#include "harness/join.h"
#include "harness/stats.h"

/* ---- fill_nulls ------------------------------------------------------------------------- */

struct fill_spec {
    const char *column, *strategy;
    const json_t *value;
};

/* An int or bool column as floats, keeping nulls (for fills that are not integral). */
static struct hml_column *as_float(const struct hml_column *c)
{
    struct hml_column *o = hml_column_new(HML_TYPE_F64, c->n);
    if (!o) return NULL;
    for (size_t i = 0; i < c->n; i++) {
        if (hml_column_is_null(c, i)) {
            if (!hml_column_set_null(o, i)) {
                hml_column_unref(o);
                return NULL;
            }
        } else {
            hml_f64(o)[i] = hml_column_num(c, i);
        }
    }
    return o;
}

/* The fill as a double for numeric columns; fails with a hint for impossible ones. */
static enum hml_status numeric_fill(const struct hml_column *c, const struct fill_spec *s, double *out,
                                    struct hml_error *err)
{
    const char *where = "data.fill_nulls";
    if (!strcmp(s->strategy, "zero")) return *out = 0, HML_OK;
    if (!strcmp(s->strategy, "median")) *out = hml_col_median(c);
    else if (!strcmp(s->strategy, "mean")) *out = hml_col_mean(c);
    else if (!strcmp(s->strategy, "mode")) *out = hml_column_num(c, hml_col_mode_row(c));
    else if (!strcmp(s->strategy, "value")) {
        const json_t *v = s->value;
        if (json_is_number(v)) *out = json_number_value(v);
        else if (json_is_boolean(v)) *out = json_is_true(v);
        else if (json_is_string(v) && c->type == HML_TYPE_DATE) {
            int32_t days;
            const char *text = json_string_value(v);
            if (!hml_date_parse(text, strlen(text), &days)) {
                hml_fail(err, HML_EINVAL, where, "value '%s' is not a date (YYYY-MM-DD)", text);
                return hml_hint(err, "pass value=\"2024-01-31\"");
            }
            *out = days;
        } else if (json_is_string(v)) {
            char *end;
            *out = strtod(json_string_value(v), &end);
            if (end == json_string_value(v) || *end) {
                hml_fail(err, HML_EINVAL, where, "value '%s' is not a number, but '%s' is numeric",
                         json_string_value(v), s->column);
                return hml_hint(err, "pass a number as value");
            }
        } else {
            hml_fail(err, HML_EINVAL, where, "strategy 'value' needs a value");
            return hml_hint(err, "pass value=<number> (or choose median, mean, mode, zero)");
        }
    }
    if (isnan(*out)) {
        hml_fail(err, HML_EINVAL, where, "column '%s' has no values to take a %s from", s->column, s->strategy);
        return hml_hint(err, "use strategy=value with an explicit value");
    }
    return HML_OK;
}

static enum hml_status fill_strings(struct hml_column *o, const struct hml_column *c, const struct fill_spec *s,
                                    struct hml_error *err)
{
    const char *fill = NULL;
    if (!strcmp(s->strategy, "mode")) {
        size_t r = hml_col_mode_row(c);
        fill = r == SIZE_MAX ? NULL : hml_column_str(c, r);
    } else if (!strcmp(s->strategy, "value")) {
        fill = json_string_value(s->value);
        if (!fill) {
            hml_fail(err, HML_EINVAL, "data.fill_nulls", "'%s' holds text; value must be a string", s->column);
            return hml_hint(err, "pass value=\"unknown\" (any text)");
        }
    }
    if (!fill) {
        hml_fail(err, HML_EINVAL, "data.fill_nulls", "column '%s' has no values to take a mode from", s->column);
        return hml_hint(err, "use strategy=value with an explicit value");
    }
    int32_t code = hml_dict_intern(o->dict, fill, strlen(fill));
    if (code < 0) return hml_fail(err, HML_ENOMEM, "data.fill_nulls", "out of memory");
    for (size_t i = 0; i < o->n; i++)
        if (hml_column_is_null(c, i)) hml_codes(o)[i] = code;
    return HML_OK;
}

static enum hml_status fill_numbers(struct hml_column **po, const struct hml_column *c, const struct fill_spec *s,
                                    double *fill_out, struct hml_error *err)
{
    double v = NAN;
    enum hml_status rc = numeric_fill(c, s, &v, err);
    if (rc) return rc;
    struct hml_column *o = *po;
    if ((c->type == HML_TYPE_I64 || c->type == HML_TYPE_BOOL) && v != floor(v)) {
        /* A fractional fill turns an integer column into a float column. */
        struct hml_column *f = as_float(c);
        if (!f) return hml_fail(err, HML_ENOMEM, "data.fill_nulls", "out of memory");
        hml_column_unref(o);
        *po = o = f;
    }
    for (size_t i = 0; i < o->n; i++) {
        if (!hml_column_is_null(c, i)) continue;
        switch (o->type) {
        case HML_TYPE_F64: hml_f64(o)[i] = v; break;
        case HML_TYPE_I64: hml_i64(o)[i] = (int64_t)v; break;
        case HML_TYPE_BOOL: hml_bool(o)[i] = v != 0; break;
        case HML_TYPE_DATE: hml_days(o)[i] = (int32_t)v; break;
        case HML_TYPE_STR: break;
        }
    }
    *fill_out = v;
    return HML_OK;
}

/* Refuses a strategy that cannot apply to the column's type, nulls or not. */
static enum hml_status check_strategy(const struct hml_column *c, const struct fill_spec *s, struct hml_error *err)
{
    bool any_type = !strcmp(s->strategy, "mode") || !strcmp(s->strategy, "value");
    if (any_type || c->type == HML_TYPE_F64 || c->type == HML_TYPE_I64 || c->type == HML_TYPE_BOOL) return HML_OK;
    if (c->type == HML_TYPE_STR) {
        hml_fail(err, HML_EINVAL, "data.fill_nulls", "strategy '%s' needs numbers, but '%s' holds text", s->strategy,
                 s->column);
        return hml_hint(err, "use strategy=mode or strategy=value for text columns");
    }
    hml_fail(err, HML_EINVAL, "data.fill_nulls", "strategy '%s' does not apply to the date column '%s'", s->strategy,
             s->column);
    return hml_hint(err, "use strategy=mode or strategy=value for dates");
}

/* Fills one column of `t` in place (copy-on-write). *filled = rows filled. */
static enum hml_status fill_one(struct hml_frame *t, const struct fill_spec *s, size_t *filled,
                                char *desc, size_t desc_cap, struct hml_error *err)
{
    size_t j;
    enum hml_status rc = hml_frame_lookup(t, s->column, &j, err);
    if (rc) return rc;
    const struct hml_column *c = t->cols[j];
    rc = check_strategy(c, s, err);
    if (rc) return rc;
    *filled = c->null_count;
    if (!c->null_count) {
        snprintf(desc, desc_cap, "No nulls in '%s'", s->column);
        return HML_OK;
    }
    struct hml_column *o = hml_column_copy(c);
    if (!o) return hml_fail(err, HML_ENOMEM, "data.fill_nulls", "out of memory");
    double v = NAN;
    rc = c->type == HML_TYPE_STR ? fill_strings(o, c, s, err) : fill_numbers(&o, c, s, &v, err);
    if (!rc) {
        hml_free(o->valid);
        o->valid = NULL;
        o->null_count = 0;
        rc = hml_frame_replace(t, j, o, err);
    }
    hml_column_unref(o);
    if (!rc) {
        char num[32];
        if (c->type == HML_TYPE_STR) {
            size_t r = 0;
            while (r < c->n && !hml_column_is_null(c, r)) r++;
            snprintf(desc, desc_cap, "%zu nulls in '%s' filled with the %s '%s'", *filled, s->column, s->strategy,
                     r < c->n ? hml_column_str(t->cols[j], r) : "?");
        } else if (isnan(v)) snprintf(desc, desc_cap, "%zu nulls in '%s' filled (%s)", *filled, s->column, s->strategy);
        else snprintf(desc, desc_cap, "%zu nulls in '%s' filled with the %s %s", *filled, s->column, s->strategy, hml__fmt_num(num, v));
    }
    return rc;
}

DATA_ACTION(hml__data_fill_nulls)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    struct fill_spec s = {hml_param_str(call, "column", ""), hml_param_str(call, "strategy", "median"),
                          hml_param_json(call, "value")};
    if (s.value && !hml_param_has(call, "strategy")) s.strategy = "value";
    struct hml_frame *t = hml_frame_clone(p->table);
    size_t filled = 0;
    char desc[256];
    if (!t) rc = hml_fail(err, HML_ENOMEM, "data.fill_nulls", "out of memory");
    if (!rc) rc = fill_one(t, &s, &filled, desc, sizeof desc, err);
    if (!rc && filled) rc = hml__commit(p, t, NULL, err);
    if (!rc) {
        hml_buf_printf(&res->text, "%s.\n", desc);
        json_object_set_new(res->data, "column", json_string(s.column));
        json_object_set_new(res->data, "filled", json_integer((json_int_t)filled));
        json_object_set_new(res->data, "strategy", json_string(s.strategy));
    }
    hml_frame_free(t);
    hml__project_free(p);
    return rc;
}

DATA_ACTION(hml__data_fill_nulls_batch)
{
    json_t *items = hml_param_json(call, "columns");
    if (!json_is_array(items) || !json_array_size(items)) {
        hml_fail(err, HML_EINVAL, "data.fill_nulls_batch", "'columns' must be a non-empty list");
        return hml_hint(err, "pass columns=[{\"column\": \"age\", \"strategy\": \"median\"}, …]");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    bool atomic = hml_param_bool(call, "atomic", false);
    struct hml_frame *t = hml_frame_clone(p->table);
    json_t *results = json_array();
    size_t i, ok = 0, total = 0;
    json_t *item;
    json_array_foreach(items, i, item) {
        struct hml_error ierr;
        hml_error_clear(&ierr);
        struct fill_spec s = {hml_json_str(item, "column", NULL), hml_json_str(item, "strategy", NULL),
                              json_object_get(item, "value")};
        if (!s.strategy) s.strategy = s.value ? "value" : "median";
        size_t filled = 0;
        char desc[256];
        enum hml_status irc = HML_OK;
        static const char *const strategies[] = {"median", "mean", "mode", "zero", "value"};
        bool known = false;
        for (size_t k = 0; k < 5; k++) known |= !strcmp(s.strategy, strategies[k]);
        if (!s.column) {
            hml_fail(&ierr, HML_EINVAL, "data.fill_nulls_batch", "item %zu has no column", i + 1);
            irc = hml_hint(&ierr, "each item is {\"column\": …, \"strategy\"?: …, \"value\"?: …}");
        } else if (!known) {
            hml_fail(&ierr, HML_EINVAL, "data.fill_nulls_batch", "'%s' is not a valid strategy", s.strategy);
            irc = hml_error_choices(&ierr, s.strategy, strategies, 5);
        } else {
            irc = fill_one(t, &s, &filled, desc, sizeof desc, &ierr);
        }
        if (!irc) {
            ok++;
            total += filled;
            hml_buf_printf(&res->text, "- %s\n", desc);
            json_array_append_new(results, json_pack("{s:s,s:b,s:I}", "column", s.column, "ok", 1, "filled", (json_int_t)filled));
        } else {
            hml_buf_printf(&res->text, "- %s: error: %s (%s)\n", s.column ? s.column : "?", ierr.message, ierr.hint);
            json_array_append_new(results, json_pack("{s:s?,s:b,s:s,s:s}", "column", s.column, "ok", 0, "error",
                                                     ierr.message, "hint", ierr.hint));
            if (atomic) {
                *err = ierr;
                rc = ierr.code;
                hml_error_prefix(err, "nothing filled (atomic); item %zu", i + 1);
                break;
            }
        }
    }
    if (!rc && total) rc = hml__commit(p, t, NULL, err);
    if (!rc) {
        hml_buf_printf(&res->text, "%zu of %zu item(s) applied, %zu nulls filled.\n", ok, json_array_size(items), total);
        json_object_set_new(res->data, "filled", json_integer((json_int_t)total));
        json_object_set(res->data, "results", results);
    }
    json_decref(results);
    hml_frame_free(t);
    hml__project_free(p);
    return rc;
}

/* ---- rename ------------------------------------------------------------------------------ */

/* Config entries that name table columns, renamed along with the table so the
 * project stays consistent. */
static const char *const column_refs[] = {"data.target_column", "data.time_column", "data.fold_column",
                                          "backtest.fold_column", "backtest.group_column"};
static const char *const column_lists[] = {"data.key_columns", "data.exclude_columns",
                                           "guardrails.feature_leakage_denylist"};

static size_t rename_in_list(json_t *list, const char *from, const char *to)
{
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(list, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), from)) {
        json_string_set(v, to);
        n++;
    }
    return n;
}

static size_t rename_in_config(json_t *root, const char *from, const char *to)
{
    size_t n = 0;
    for (size_t k = 0; k < sizeof column_refs / sizeof *column_refs; k++) {
        json_t *v = hml_config_get(root, column_refs[k]);
        if (json_is_string(v) && !strcmp(json_string_value(v), from)) json_string_set(v, to), n++;
    }
    for (size_t k = 0; k < sizeof column_lists / sizeof *column_lists; k++)
        n += rename_in_list(hml_config_get(root, column_lists[k]), from, to);
    const char *name;
    json_t *model;
    json_object_foreach(json_object_get(root, "models"), name, model)
        n += rename_in_list(json_object_get(model, "features"), from, to);
    return n;
}

DATA_ACTION(hml__data_rename)
{
    json_t *mapping = hml_param_json(call, "mapping");
    if (!json_object_size(mapping)) {
        hml_fail(err, HML_EINVAL, "data.rename", "'mapping' is empty");
        return hml_hint(err, "pass mapping={\"old_name\": \"new_name\", …}");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    struct hml_frame *t = hml_frame_clone(p->table);
    json_t *root = json_deep_copy(p->cfg->root);
    size_t refs = 0;
    const char *from;
    json_t *to;
    if (!t || !root) rc = hml_fail(err, HML_ENOMEM, "data.rename", "out of memory");
    json_object_foreach(mapping, from, to) {
        if (rc) break;
        if (!json_is_string(to) || !json_string_length(to)) {
            hml_fail(err, HML_EINVAL, "data.rename", "the new name for '%s' must be a non-empty string", from);
            rc = hml_hint(err, "pass mapping={\"%s\": \"new_name\"}", from);
            break;
        }
        rc = hml_frame_rename(t, from, json_string_value(to), err);
        if (!rc) {
            refs += rename_in_config(root, from, json_string_value(to));
            hml_buf_printf(&res->text, "- %s → %s\n", from, json_string_value(to));
        }
    }
    if (!rc) rc = hml__commit(p, t, refs ? root : NULL, err);
    if (!rc) {
        if (refs) hml_buf_printf(&res->text, "%zu reference(s) in the config renamed too.\n", refs);
        json_object_set(res->data, "mapping", mapping);
        json_object_set_new(res->data, "config_references", json_integer((json_int_t)refs));
    }
    json_decref(root);
    hml_frame_free(t);
    hml__project_free(p);
    return rc;
}

/* ---- drop_duplicates ---------------------------------------------------------------------- */

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

struct keyed { char *key; size_t row; };

static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* Rows to keep: the first of each group of equal keys, in table order. */
static enum hml_status unique_rows(const struct hml_frame *t, const size_t *cols, size_t nc,
                                   size_t **keep_out, size_t *n_out, struct hml_error *err)
{
    struct keyed *k = hml_calloc(t->nrows + 1, sizeof *k);
    size_t *keep = hml_malloc((t->nrows + 1) * sizeof *keep);
    enum hml_status rc = k && keep ? HML_OK : hml_fail(err, HML_ENOMEM, "data.drop_duplicates", "out of memory");
    char buf[HML_ROW_KEY_MAX];
    for (size_t i = 0; !rc && i < t->nrows; i++) {
        if (hml_row_key(t, cols, nc, i, buf, sizeof buf) == SIZE_MAX) {
            rc = hml__key_too_long(i, err);
            break;
        }
        k[i].key = hml_strdup(buf);
        k[i].row = i;
        if (!k[i].key) rc = hml_fail(err, HML_ENOMEM, "data.drop_duplicates", "out of memory");
    }
    size_t n = 0;
    if (!rc) {
        qsort(k, t->nrows, sizeof *k, cmp_keyed);
        for (size_t i = 0; i < t->nrows; i++)
            if (i == 0 || strcmp(k[i].key, k[i - 1].key)) keep[n++] = k[i].row;
        qsort(keep, n, sizeof *keep, cmp_size);
    }
    for (size_t i = 0; k && i < t->nrows; i++) hml_free(k[i].key);
    hml_free(k);
    if (rc) {
        hml_free(keep);
        return rc;
    }
    *keep_out = keep;
    *n_out = n;
    return HML_OK;
}

DATA_ACTION(hml__data_drop_duplicates)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    json_t *names = hml_param_json(call, "columns");
    size_t nc = names ? json_array_size(names) : p->table->ncols;
    size_t *cols = hml_malloc((nc + 1) * sizeof *cols), *keep = NULL, n = 0;
    if (!cols) rc = hml_fail(err, HML_ENOMEM, "data.drop_duplicates", "out of memory");
    for (size_t k = 0; !rc && k < nc; k++) {
        const char *col = names ? json_string_value(json_array_get(names, k)) : NULL;
        if (names && !col) {
            hml_fail(err, HML_EINVAL, "data.drop_duplicates", "'columns' must be a list of column names");
            rc = hml_hint(err, "pass columns=[\"a\", \"b\"], or leave it out to compare whole rows");
        } else {
            rc = names ? hml_frame_lookup(p->table, col, &cols[k], err) : HML_OK;
            if (!names) cols[k] = k;
        }
    }
    if (!rc) rc = unique_rows(p->table, cols, nc, &keep, &n, err);
    struct hml_frame *t = NULL;
    size_t removed = rc ? 0 : p->table->nrows - n;
    if (!rc && removed) {
        t = hml_frame_take(p->table, keep, n);
        rc = t ? hml__commit(p, t, NULL, err) : hml_fail(err, HML_ENOMEM, "data.drop_duplicates", "out of memory");
    }
    if (!rc) {
        char a[32], b[32];
        hml_buf_printf(&res->text, "Removed %s duplicate row(s)%s; %s rows remain.\n", hml__fmt_count(a, removed),
                       names ? " (by the given columns, keeping the first)" : "", hml__fmt_count(b, n));
        json_object_set_new(res->data, "removed", json_integer((json_int_t)removed));
        json_object_set_new(res->data, "rows", json_integer((json_int_t)n));
    }
    hml_frame_free(t);
    hml_free(cols);
    hml_free(keep);
    hml__project_free(p);
    return rc;
}

/* ---- sample / restore ------------------------------------------------------------------------ */

/* splitmix64: small, seedable, and the same on every machine. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Picks round(fraction × n) of the rows in idx[0..n) (partial Fisher–Yates);
 * they end up in idx[0..k). Returns k (at least 1 when n > 0). */
static size_t pick(size_t *idx, size_t n, double fraction, uint64_t *rng)
{
    size_t k = (size_t)llround(fraction * (double)n);
    if (n && !k) k = 1;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)(next_rand(rng) % (n - i));
        size_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
    return k;
}

static enum hml_status sample_rows(const struct hml_frame *t, double fraction, long strat, uint64_t seed,
                                   size_t **out, size_t *n_out, struct hml_error *err)
{
    size_t *idx = hml_malloc((t->nrows + 1) * sizeof *idx), *chosen = hml_malloc((t->nrows + 1) * sizeof *chosen);
    struct keyed *k = strat >= 0 ? hml_calloc(t->nrows + 1, sizeof *k) : NULL;
    enum hml_status rc = idx && chosen && (strat < 0 || k) ? HML_OK : hml_fail(err, HML_ENOMEM, "data.sample", "out of memory");
    uint64_t rng = seed;
    size_t n = 0;
    if (!rc && strat < 0) {
        for (size_t i = 0; i < t->nrows; i++) idx[i] = i;
        n = pick(idx, t->nrows, fraction, &rng);
        memcpy(chosen, idx, n * sizeof *idx);
    } else if (!rc) {
        /* Stratified: the same fraction of every group of the stratify column. */
        size_t col = (size_t)strat;
        char buf[HML_ROW_KEY_MAX];
        for (size_t i = 0; !rc && i < t->nrows; i++) {
            if (hml_row_key(t, &col, 1, i, buf, sizeof buf) == SIZE_MAX) {
                rc = hml__key_too_long(i, err);
                break;
            }
            k[i] = (struct keyed){hml_strdup(buf), i};
            if (!k[i].key) rc = hml_fail(err, HML_ENOMEM, "data.sample", "out of memory");
        }
        if (!rc) qsort(k, t->nrows, sizeof *k, cmp_keyed);
        for (size_t i = 0; !rc && i < t->nrows;) {
            size_t j = i;
            while (j < t->nrows && !strcmp(k[j].key, k[i].key)) idx[j - i] = k[j].row, j++;
            size_t got = pick(idx, j - i, fraction, &rng);
            memcpy(chosen + n, idx, got * sizeof *idx);
            n += got;
            i = j;
        }
    }
    for (size_t i = 0; k && i < t->nrows; i++) hml_free(k[i].key);
    hml_free(k);
    hml_free(idx);
    if (rc) {
        hml_free(chosen);
        return rc;
    }
    qsort(chosen, n, sizeof *chosen, cmp_size);
    *out = chosen;
    *n_out = n;
    return HML_OK;
}

DATA_ACTION(hml__data_sample)
{
    double fraction = hml_param_num(call, "fraction", 0);
    if (!(fraction > 0 && fraction < 1)) {
        hml_fail(err, HML_EINVAL, "data.sample", "fraction must be between 0 and 1 (exclusive), got %g", fraction);
        return hml_hint(err, "pass e.g. fraction=0.1 for a 10%% sample");
    }
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &p, err);
    if (rc) return rc;
    char *full = hml__project_path(p, HML_TABLE_FULL_FILE), *cur = hml__project_path(p, HML_TABLE_FILE);
    if (!full || !cur) rc = hml_fail(err, HML_ENOMEM, "data.sample", "out of memory");
    else if (hml_path_exists(full)) {
        hml_fail(err, HML_ECONFLICT, "data.sample", "the table is a sample already");
        rc = hml_hint(err, "run data restore first, then sample again");
    }
    long strat = -1;
    const char *sc = hml_param_str(call, "stratify_column", NULL);
    size_t sj;
    if (!rc && sc) {
        rc = hml_frame_lookup(p->table, sc, &sj, err);
        strat = (long)sj;
    }
    size_t *rows = NULL, n = 0;
    if (!rc) rc = sample_rows(p->table, fraction, strat, (uint64_t)hml_param_int(call, "seed", 42), &rows, &n, err);
    struct hml_frame *t = rc ? NULL : hml_frame_take(p->table, rows, n);
    if (!rc && !t) rc = hml_fail(err, HML_ENOMEM, "data.sample", "out of memory");
    struct hml_txn *txn = rc ? NULL : hml_txn_new();
    if (!rc && !txn) rc = hml_fail(err, HML_ENOMEM, "data.sample", "out of memory");
    if (!rc) rc = hml_txn_copy(txn, cur, full, err);
    if (!rc) rc = hml__stage_table(p, txn, t, HML_TABLE_FILE, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    if (!rc) {
        char a[32], b[32];
        hml_buf_printf(&res->text, "The table is now a %.0f%% sample: %s of %s rows%s. data restore brings back the full table.\n",
                       fraction * 100, hml__fmt_count(a, n), hml__fmt_count(b, p->table->nrows),
                       sc ? " (stratified)" : "");
        hml_result_warn(res, "changes made to the sample (fill_nulls, rename, …) are discarded by data restore");
        json_object_set_new(res->data, "rows", json_integer((json_int_t)n));
        json_object_set_new(res->data, "full_rows", json_integer((json_int_t)p->table->nrows));
    }
    hml_txn_free(txn);
    hml_frame_free(t);
    hml_free(rows);
    hml_free(full);
    hml_free(cur);
    hml__project_free(p);
    return rc;
}

DATA_ACTION(hml__data_restore)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    char *full = hml__project_path(p, HML_TABLE_FULL_FILE), *cur = hml__project_path(p, HML_TABLE_FILE);
    struct hml_txn *txn = hml_txn_new();
    if (!full || !cur || !txn) rc = hml_fail(err, HML_ENOMEM, "data.restore", "out of memory");
    else if (!hml_path_exists(full)) {
        hml_fail(err, HML_ENOTFOUND, "data.restore", "the table is not a sample; there is nothing to restore");
        rc = hml_hint(err, "data sample --fraction 0.1 makes a sample; restore_snapshot restores snapshots");
    }
    if (!rc) rc = hml_txn_copy(txn, full, cur, err);
    if (!rc) rc = hml_txn_remove(txn, full, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    if (!rc) hml_buf_puts(&res->text, "The full table is back.\n");
    hml_txn_free(txn);
    hml_free(full);
    hml_free(cur);
    hml__project_free(p);
    return rc;
}

/* ---- snapshots ---------------------------------------------------------------------------------- */

/* Files a snapshot holds: every config/ YAML file and the table, under
 * snapshots/<name>/ with the same relative paths. */
static enum hml_status list_config_files(const char *dir, char names[][64], size_t cap, size_t *n,
                                         struct hml_error *err)
{
    DIR *d = opendir(dir);
    *n = 0;
    if (!d) {
        hml_fail(err, HML_EIO, "data.snapshot", "cannot read '%s'", dir);
        return hml_hint(err, "check that the project's config directory exists");
    }
    for (struct dirent *e; (e = readdir(d)) && *n < cap;) {
        size_t len = strlen(e->d_name);
        if (len > 5 && len < 64 && !strcmp(e->d_name + len - 5, ".yaml")) snprintf(names[(*n)++], 64, "%s", e->d_name);
    }
    closedir(d);
    return HML_OK;
}

static enum hml_status check_snapshot_name(const char *name, struct hml_error *err)
{
    for (const char *s = name; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-')) {
            hml_fail(err, HML_EINVAL, "data.snapshot", "snapshot name '%s' has the character '%c'", name, *s);
            return hml_hint(err, "use letters, digits, '_' and '-'");
        }
    if (!*name || strlen(name) > 64) {
        hml_fail(err, HML_EINVAL, "data.snapshot", "snapshot name must have 1 to 64 characters");
        return hml_hint(err, "pass a short name, e.g. name=\"before_cleaning\"");
    }
    return HML_OK;
}

/* Stages a copy of the project's state into snapshots/<name>/. */
static enum hml_status stage_snapshot(const struct hml_project *p, const char *name, struct hml_txn *txn,
                                      size_t *files, struct hml_error *err)
{
    char cfg_names[32][64], rel[256];
    size_t n;
    char *cfg_dir = hml__project_path(p, "config");
    enum hml_status rc = cfg_dir ? list_config_files(cfg_dir, cfg_names, 32, &n, err)
                                 : hml_fail(err, HML_ENOMEM, "data.snapshot", "out of memory");
    hml_free(cfg_dir);
    *files = 0;
    for (size_t i = 0; !rc && i <= n; i++) {
        const char *src_rel = i < n ? NULL : HML_TABLE_FILE;
        char src_buf[128];
        if (i < n) snprintf(src_buf, sizeof src_buf, "config/%s", cfg_names[i]), src_rel = src_buf;
        char *src = hml__project_path(p, src_rel);
        snprintf(rel, sizeof rel, "snapshots/%s/%s", name, src_rel);
        char *dst = hml__project_path(p, rel);
        if (!src || !dst) rc = hml_fail(err, HML_ENOMEM, "data.snapshot", "out of memory");
        else if (hml_path_exists(src)) {
            rc = hml_txn_copy(txn, src, dst, err);
            ++*files;
        }
        hml_free(src);
        hml_free(dst);
    }
    return rc;
}

static void snapshot_stamp(char *out, size_t cap, const char *prefix)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y%m%d_%H%M%S", &tm);
    snprintf(out, cap, "%s%s", prefix, ts);
}

DATA_ACTION(hml__data_snapshot)
{
    char name[80];
    const char *given = hml_param_str(call, "name", NULL);
    if (given) snprintf(name, sizeof name, "%s", given);
    else snapshot_stamp(name, sizeof name, "snap_");
    enum hml_status rc = check_snapshot_name(name, err);
    if (rc) return rc;
    struct hml_project *p;
    rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    char rel[128];
    snprintf(rel, sizeof rel, "snapshots/%s", name);
    char *dir = hml__project_path(p, rel);
    struct hml_txn *txn = hml_txn_new();
    size_t files = 0;
    if (!dir || !txn) rc = hml_fail(err, HML_ENOMEM, "data.snapshot", "out of memory");
    else if (hml_path_exists(dir)) {
        hml_fail(err, HML_ECONFLICT, "data.snapshot", "a snapshot named '%s' exists already", name);
        rc = hml_hint(err, "pass another name, or leave it out for a timestamped one");
    }
    if (!rc) rc = stage_snapshot(p, name, txn, &files, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Snapshot '%s' saved (%zu files: config and table). data restore_snapshot --name %s brings it back.\n",
                       name, files, name);
        json_object_set_new(res->data, "name", json_string(name));
        json_object_set_new(res->data, "files", json_integer((json_int_t)files));
    }
    hml_txn_free(txn);
    hml_free(dir);
    hml__project_free(p);
    return rc;
}

static enum hml_status find_snapshot(const struct hml_project *p, const char *name, char **dir_out,
                                     struct hml_error *err)
{
    char rel[128];
    snprintf(rel, sizeof rel, "snapshots/%s", name);
    *dir_out = hml__project_path(p, rel);
    if (!*dir_out) return hml_fail(err, HML_ENOMEM, "data.restore_snapshot", "out of memory");
    if (hml_is_dir(*dir_out)) return HML_OK;
    char names[64][64];
    const char *ptrs[64];
    size_t n = 0;
    char *root = hml__project_path(p, "snapshots");
    DIR *d = root ? opendir(root) : NULL;
    for (struct dirent *e; d && (e = readdir(d)) && n < 64;)
        if (e->d_name[0] != '.') snprintf(names[n], 64, "%s", e->d_name), ptrs[n] = names[n], n++;
    if (d) closedir(d);
    hml_free(root);
    hml_fail(err, HML_ENOTFOUND, "data.restore_snapshot", "no snapshot named '%s'", name);
    if (!n) return hml_hint(err, "there are no snapshots yet; data snapshot makes one");
    return hml_error_choices(err, name, ptrs, n);
}

DATA_ACTION(hml__data_restore_snapshot)
{
    const char *name = hml_param_str(call, "name", "");
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_SKIP, &p, err);
    if (rc) return rc;
    char *snap = NULL, *snap_cfg = NULL, cfg_names[32][64], cur_names[32][64], backup[80], rel[256];
    size_t n = 0, ncur = 0, saved = 0;
    struct hml_config *check = NULL;
    struct hml_txn *txn = hml_txn_new();
    if (!txn) rc = hml_fail(err, HML_ENOMEM, "data.restore_snapshot", "out of memory");
    if (!rc) rc = find_snapshot(p, name, &snap, err);
    /* A snapshot whose config no longer loads would leave a broken project. */
    if (!rc) rc = hml_config_load(snap, &check, err);
    if (rc == HML_EINVAL) hml_error_prefix(err, "snapshot '%s' holds an invalid config", name);
    if (!rc) rc = (snap_cfg = hml_path_join(snap, "config")) ? list_config_files(snap_cfg, cfg_names, 32, &n, err)
                                                             : hml_fail(err, HML_ENOMEM, "data.restore_snapshot", "out of memory");
    char *cur_cfg = rc ? NULL : hml__project_path(p, "config");
    if (!rc) rc = list_config_files(cur_cfg, cur_names, 32, &ncur, err);
    hml_free(cur_cfg);
    /* The current state is saved first, so a restore can itself be undone. */
    if (!rc) snapshot_stamp(backup, sizeof backup, "before_restore_"), rc = stage_snapshot(p, backup, txn, &saved, err);
    for (size_t i = 0; !rc && i < ncur; i++) {
        bool kept = false;
        for (size_t k = 0; k < n; k++) kept |= !strcmp(cur_names[i], cfg_names[k]);
        snprintf(rel, sizeof rel, "config/%s", cur_names[i]);
        char *path = hml__project_path(p, rel);
        if (!kept) rc = path ? hml_txn_remove(txn, path, err) : hml_fail(err, HML_ENOMEM, "data.restore_snapshot", "out of memory");
        hml_free(path);
    }
    for (size_t i = 0; !rc && i <= n; i++) {
        if (i < n) snprintf(rel, sizeof rel, "config/%s", cfg_names[i]);
        else snprintf(rel, sizeof rel, "%s", HML_TABLE_FILE);
        char *src = hml_path_join(snap, rel), *dst = hml__project_path(p, rel);
        if (!src || !dst) rc = hml_fail(err, HML_ENOMEM, "data.restore_snapshot", "out of memory");
        else if (hml_path_exists(src)) rc = hml_txn_copy(txn, src, dst, err);
        else if (hml_path_exists(dst)) rc = hml_txn_remove(txn, dst, err);
        hml_free(src);
        hml_free(dst);
    }
    if (!rc) rc = hml_txn_commit(txn, err);
    if (!rc) {
        hml_buf_printf(&res->text, "Restored snapshot '%s'. The state before it is saved as snapshot '%s'.\n", name, backup);
        json_object_set_new(res->data, "name", json_string(name));
        json_object_set_new(res->data, "backup", json_string(backup));
    }
    hml_config_free(check);
    hml_txn_free(txn);
    hml_free(snap);
    hml_free(snap_cfg);
    hml__project_free(p);
    return rc;
}
