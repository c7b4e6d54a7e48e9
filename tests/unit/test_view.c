/* Unit tests for the view engine (view.h).
 *
 * Step values are checked against tests/fixtures/views/cases.json, which
 * tests/fixtures/views/gen_views.py computes with pandas (and brute-force rules, SQLite
 * window functions, scikit-learn) over the same input. Leakage, validation errors, the
 * DAG, fingerprints and the cache are tested directly. */
#include "t.h"

#include <stdint.h>
#include <sys/stat.h>

#include "harness/alloc.h"
#include "harness/config.h"
#include "harness/fsx.h"
#include "harness/io.h"
#include "harness/json.h"
#include "harness/view.h"

#define FIXTURES "tests/fixtures/views/"

static struct hml_frame *load(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", name);
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep = {0};
    struct hml_error err;
    if (hml_csv_read_file(path, NULL, &f, &rep, &err)) t_failf(__FILE__, __LINE__, "%s: %s", path, err.message);
    hml_ingest_report_fini(&rep);
    return f;
}

static json_t *parse(const char *text)
{
    json_t *v = NULL;
    struct hml_error err;
    if (hml_json_parse(text, strlen(text), &v, &err)) t_failf(__FILE__, __LINE__, "bad json: %s", err.message);
    return v;
}

/* join/union `other` names for the fixture cases: teams, teams_dup, extra. */
static enum hml_status fixture_resolve(void *ud, const char *name, struct hml_frame **out, struct hml_error *err)
{
    (void)ud;
    static const char *const names[] = {"teams", "teams_dup", "extra"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(names[i], name)) continue;
        char file[64];
        snprintf(file, sizeof file, "%s.csv", name);
        *out = load(file);
        return HML_OK;
    }
    hml_fail(err, HML_ENOTFOUND, "view", "no source or view named '%s'", name);
    return hml_error_choices(err, name, names, 3);
}

static const char *type_of(const struct hml_column *c) { return hml_type_name(c->type); }

/* Compares one output column with its expected values; returns false after reporting. */
static bool check_column(const char *cs, const struct hml_frame *f, const json_t *exp)
{
    const char *name = hml_json_str(exp, "name", "");
    long j = hml_frame_find(f, name);
    if (j < 0) {
        t_failf(__FILE__, __LINE__, "%s: no column '%s'", cs, name);
        return false;
    }
    const struct hml_column *c = f->cols[j];
    const char *want = hml_json_str(exp, "type", "");
    const char *got = type_of(c);
    if (strcmp(want, got)) {
        t_failf(__FILE__, __LINE__, "%s: column '%s' is %s, expected %s", cs, name, got, want);
        return false;
    }
    const json_t *vals = json_object_get(exp, "values");
    if (json_array_size(vals) != f->nrows) {
        t_failf(__FILE__, __LINE__, "%s: %zu rows, expected %zu", cs, f->nrows, json_array_size(vals));
        return false;
    }
    for (size_t i = 0; i < f->nrows; i++) {
        const json_t *v = json_array_get(vals, i);
        bool null = hml_column_is_null(c, i);
        char text[128];
        hml_column_format(c, i, text, sizeof text);
        if (json_is_null(v) || null) {
            if (json_is_null(v) != null) {
                t_failf(__FILE__, __LINE__, "%s: %s[%zu] = '%s', expected %s", cs, name, i, null ? "null" : text,
                        json_is_null(v) ? "null" : "a value");
                return false;
            }
            continue;
        }
        if (json_is_string(v)) {
            if (strcmp(text, json_string_value(v))) {
                t_failf(__FILE__, __LINE__, "%s: %s[%zu] = '%s', expected '%s'", cs, name, i, text, json_string_value(v));
                return false;
            }
            continue;
        }
        double e = json_is_boolean(v) ? json_is_true(v) : json_number_value(v), g = hml_column_num(c, i);
        if (!(fabs(e - g) <= 1e-9 * fmax(1, fabs(e)))) {
            t_failf(__FILE__, __LINE__, "%s: %s[%zu] = %.17g, expected %.17g", cs, name, i, g, e);
            return false;
        }
    }
    return true;
}

static void ctx_from(const json_t *c, struct hml_view_ctx *ctx, const char **outcomes)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->target = hml_json_str(c, "target", NULL);
    const json_t *o = json_object_get(c, "outcomes");
    for (size_t i = 0; i < json_array_size(o) && i < 8; i++) outcomes[i] = json_string_value(json_array_get(o, i));
    ctx->outcomes = outcomes;
    ctx->outcomes_n = json_array_size(o);
    ctx->resolve = fixture_resolve;
}

/* Runs one fixture case; also runs the dry pass and checks it predicts the schema. */
static void run_case(const json_t *cs, const struct hml_frame *in)
{
    const char *name = hml_json_str(cs, "name", "?");
    struct hml_view_ctx ctx;
    const char *outcomes[8];
    ctx_from(json_object_get(cs, "ctx"), &ctx, outcomes);
    struct hml_frame *out = NULL, *schema = NULL;
    struct hml_error err;
    const json_t *steps = json_object_get(cs, "steps");
    if (hml_view_apply(in, steps, &ctx, &out, &err)) {
        t_failf(__FILE__, __LINE__, "%s: %s (hint: %s)", name, err.message, err.hint);
        return;
    }
    T_EQ(out->nrows, hml_json_int(cs, "rows", -1));
    const json_t *cols = json_object_get(cs, "columns");
    for (size_t k = 0; k < json_array_size(cols); k++)
        if (!check_column(name, out, json_array_get(cols, k))) break;
    const json_t *all = json_object_get(cs, "all_columns");
    if (all) {
        T_EQ(out->ncols, json_array_size(all));
        for (size_t k = 0; k < json_array_size(all) && k < out->ncols; k++)
            T_STREQ(out->names[k], json_string_value(json_array_get(all, k)));
    }
    /* The dry pass names the same columns with the same types (onehot and null_indicator
     * without columns depend on the data and are skipped). */
    if (hml_view_check(in, steps, &ctx, &schema, &err)) {
        t_failf(__FILE__, __LINE__, "%s: dry pass: %s", name, err.message);
    } else if (!strstr(name, "onehot") && strcmp(name, "null_indicator_all")) {
        T_EQ(schema->nrows, 0);
        T_EQ(schema->ncols, out->ncols);
        for (size_t k = 0; k < schema->ncols && k < out->ncols; k++) {
            T_STREQ(schema->names[k], out->names[k]);
            T_STREQ(type_of(schema->cols[k]), type_of(out->cols[k]));
        }
    }
    hml_frame_free(schema);
    hml_frame_free(out);
}

static json_t *fixture_cases(void)
{
    char *text = NULL;
    size_t len = 0;
    struct hml_error err;
    T_RC(hml_read_file(FIXTURES "cases.json", 1u << 24, &text, &len, &err), &err);
    json_t *root = text ? parse(text) : NULL;
    hml_free(text);
    return root;
}

/* Runs every case whose name starts with one of the prefixes (space-separated). */
static void run_cases(const char *prefixes)
{
    json_t *root = fixture_cases();
    struct hml_frame *in = load("input.csv");
    size_t ran = 0, i;
    json_t *cs;
    json_array_foreach(json_object_get(root, "cases"), i, cs) {
        const char *name = hml_json_str(cs, "name", "");
        char p[64];
        bool match = false;
        for (const char *s = prefixes; sscanf(s, "%63s", p) == 1; s = strchr(s, ' ') ? strchr(s, ' ') + 1 : "") {
            match |= !strncmp(name, p, strlen(p));
            if (!strchr(s, ' ')) break;
        }
        if (!match) continue;
        run_case(cs, in);
        ran++;
    }
    T_OK(ran > 0);
    hml_frame_free(in);
    json_decref(root);
}

TEST(view_filter_select_derive_cast_match_pandas) { run_cases("filter select derive cast"); }
TEST(view_sort_distinct_isin_head_nulls_match_pandas) { run_cases("sort distinct isin head null_indicator"); }
TEST(view_group_by_and_cond_agg_match_pandas) { run_cases("group_by cond_agg"); }
TEST(view_join_union_unpivot_match_pandas) { run_cases("join union unpivot"); }
TEST(view_rolling_every_function_matches_reference) { run_cases("rolling"); }
TEST(view_lag_diff_ewm_trend_rank_match_pandas_and_sqlite) { run_cases("lag diff ewm trend rank"); }
TEST(view_encode_bin_datetime_match_pandas_and_sklearn) { run_cases("encode bin datetime"); }
TEST(view_chain_matches_pandas) { run_cases("chain"); }
