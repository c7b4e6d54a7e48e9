/* Unit tests for the view engine (view.h).
 *
 * Step values are checked against tests/fixtures/views/cases.json, which
 * tests/fixtures/views/gen_views.py computes with pandas (and brute-force rules, SQLite
 * window functions, scikit-learn) over the same input. Leakage, validation errors, the
 * DAG, fingerprints and the cache are tested directly. */
#include "t.h"

#include <stdint.h>
#include <dirent.h>
#include <sys/stat.h>

#include "harness/alloc.h"
#include "harness/config.h"
#include "harness/fsx.h"
#include "harness/io.h"
#include "harness/join.h"
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
        char path[128];
        snprintf(path, sizeof path, FIXTURES "%s.csv", name);
        struct hml_ingest_report rep = {0};
        enum hml_status rc = hml_csv_read_file(path, NULL, out, &rep, err); /* may fail: OOM tests */
        hml_ingest_report_fini(&rep);
        return rc;
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

/* ---- helpers for the direct tests ----------------------------------------------------------- */

static struct hml_frame *csv_frame(const char *text)
{
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep = {0};
    struct hml_error err;
    if (hml_csv_read_mem(text, strlen(text), NULL, &f, &rep, &err)) t_failf(__FILE__, __LINE__, "csv: %s", err.message);
    hml_ingest_report_fini(&rep);
    return f;
}

/* Applies steps (JSON text) with the target and outcome columns given. */
static enum hml_status apply_text(const struct hml_frame *in, const char *steps_json, const char *target,
                                  const char *outcome, struct hml_frame **out, struct hml_error *err)
{
    json_t *steps = parse(steps_json);
    const char *outcomes[1] = {outcome};
    struct hml_view_ctx ctx = {.target = target, .outcomes = outcomes, .outcomes_n = outcome ? 1 : 0,
                               .resolve = fixture_resolve};
    enum hml_status rc = hml_view_apply(in, steps, &ctx, out, err);
    json_decref(steps);
    return rc;
}

static double num(const struct hml_frame *f, const char *col, size_t i)
{
    long j = hml_frame_find(f, col);
    if (j < 0) t_failf(__FILE__, __LINE__, "no column %s", col);
    return j < 0 ? NAN : hml_column_num(f->cols[j], i);
}

/* A deterministic panel: 10 groups, times with ties, rows shuffled, a 0/1 target with nulls. */
static struct hml_frame *panel(size_t n)
{
    struct hml_buf b = HML_BUF_INIT;
    uint64_t s = 12345;
    hml_buf_puts(&b, "g,t,y,x\n");
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        unsigned g = (unsigned)(s >> 33) % 10, t = (unsigned)(s >> 40) % 50, y = (unsigned)(s >> 20) % 7;
        double x = (double)((s >> 13) % 1000) / 10.0;
        if (y == 6) hml_buf_printf(&b, "%u,%u,,%g\n", g, t, x);
        else hml_buf_printf(&b, "%u,%u,%u,%g\n", g, t, y % 2, x);
    }
    struct hml_frame *f = csv_frame(hml_buf_str(&b));
    hml_buf_free(&b);
    return f;
}

/* Rows of row i's group that come before it (by t, then row): the only rows a shifted
 * window may see. Returns their count; rows[] in order. */
static size_t earlier_rows(const struct hml_frame *f, size_t i, size_t *rows)
{
    size_t n = 0;
    double g = num(f, "g", i), t = num(f, "t", i);
    for (size_t k = 0; k < f->nrows; k++) {
        if (num(f, "g", k) != g) continue;
        double tk = num(f, "t", k);
        if (tk < t || (tk == t && k < i)) rows[n++] = k;
    }
    /* order by (t, row) */
    for (size_t a = 1; a < n; a++)
        for (size_t c = a; c > 0; c--) {
            size_t p = rows[c - 1], q = rows[c];
            double tp = num(f, "t", p), tq = num(f, "t", q);
            if (tp < tq || (tp == tq && p < q)) break;
            rows[c - 1] = q, rows[c] = p;
        }
    return n;
}

/* ---- leakage --------------------------------------------------------------------------------- */

TEST(view_rolling_of_the_target_sees_only_earlier_rows_of_its_group)
{
    struct hml_frame *f = panel(400), *out = NULL;
    struct hml_error err;
    T_RC(apply_text(f, "[{\"op\": \"rolling\", \"keys\": \"g\", \"order_by\": \"t\", \"window\": 4, "
                       "\"aggs\": {\"ym\": \"y:mean\", \"yc\": \"y:count\", \"xm\": \"x:mean\"}}]",
                    "y", NULL, &out, &err), &err);
    size_t *rows = hml_malloc(f->nrows * sizeof *rows);
    for (size_t i = 0; out && i < f->nrows; i++) {
        size_t n = earlier_rows(f, i, rows), from = n > 4 ? n - 4 : 0, cnt = 0;
        double sum = 0;
        for (size_t k = from; k < n; k++)
            if (!isnan(num(f, "y", rows[k]))) sum += num(f, "y", rows[k]), cnt++;
        if (cnt) T_NEAR(num(out, "ym", i), sum / (double)cnt, 1e-12);
        else T_OK(isnan(num(out, "ym", i)));
        /* A feature column keeps its own row: the window ends at the row itself. */
        rows[n] = i;
        double xs = 0;
        size_t xfrom = n + 1 > 4 ? n + 1 - 4 : 0;
        for (size_t k = xfrom; k <= n; k++) xs += num(f, "x", rows[k]);
        T_NEAR(num(out, "xm", i), xs / (double)(n + 1 - xfrom), 1e-9);
    }
    hml_free(rows);
    hml_frame_free(out);
    hml_frame_free(f);
}

TEST(view_every_window_step_shifts_outcomes_and_denylisted_columns)
{
    struct hml_frame *f = panel(300), *a = NULL, *b = NULL;
    struct hml_error err;
    /* Each output computed with y as the outcome must equal the same output computed over
     * a column holding the previous row's y within the group (y shifted by hand). */
    const char *steps = "[{\"op\": \"ewm\", \"keys\": \"g\", \"order_by\": \"t\", \"span\": 3, \"aggs\": {\"e\": \"%s:mean\", \"v\": \"%s:var\"}},"
                        " {\"op\": \"diff\", \"keys\": \"g\", \"order_by\": \"t\", \"columns\": {\"d\": \"%s:1\"}},"
                        " {\"op\": \"trend\", \"keys\": \"g\", \"order_by\": \"t\", \"window\": 5, \"columns\": {\"tr\": \"%s\"}},"
                        " {\"op\": \"rolling\", \"keys\": \"g\", \"order_by\": \"t\", \"window\": 3, \"aggs\": {\"r\": \"%s:median\"}},"
                        " {\"op\": \"group_by\", \"keys\": \"g\", \"order_by\": \"t\", \"per_row\": true, \"aggs\": {\"%s\": [\"mean\", \"sum\"]}},"
                        " {\"op\": \"cond_agg\", \"keys\": \"g\", \"order_by\": \"t\", \"per_row\": true, \"aggs\": {\"c\": \"%s:mean:x > 50\"}}]";
    char with_y[2048], with_prev[2048];
    snprintf(with_y, sizeof with_y, steps, "y", "y", "y", "y", "y", "y", "y");
    snprintf(with_prev, sizeof with_prev, steps, "yp", "yp", "yp", "yp", "yp", "yp", "yp");
    T_RC(apply_text(f, with_y, NULL, "y", &a, &err), &err);
    T_RC(apply_text(f, "[{\"op\": \"lag\", \"keys\": \"g\", \"order_by\": \"t\", \"columns\": {\"yp\": \"y:1\"}}]", NULL,
                    NULL, &b, &err), &err);
    struct hml_frame *c = NULL;
    T_RC(apply_text(b, with_prev, NULL, NULL, &c, &err), &err);
    static const char *const outs[][2] = {{"e", "e"}, {"v", "v"}, {"d", "d"}, {"tr", "tr"}, {"r", "r"}};
    for (size_t k = 0; a && c && k < 5; k++)
        for (size_t i = 0; i < f->nrows; i++) {
            double x = num(a, outs[k][0], i), y = num(c, outs[k][1], i);
            if (isnan(x) || isnan(y)) {
                if (isnan(x) != isnan(y)) t_failf(__FILE__, __LINE__, "%s[%zu]: %g vs %g", outs[k][0], i, x, y);
                continue;
            }
            T_NEAR(x, y, 1e-9);
        }
    /* per_row aggregates of the outcome: the group's earlier rows only (brute force). */
    for (size_t i = 0; a && i < f->nrows; i++) {
        size_t rows[400], n = earlier_rows(f, i, rows), cnt = 0, ccnt = 0;
        double sum = 0, csum = 0;
        for (size_t k = 0; k < n; k++) {
            double y = num(f, "y", rows[k]);
            if (isnan(y)) continue;
            sum += y, cnt++;
            if (num(f, "x", rows[k]) > 50) csum += y, ccnt++;
        }
        T_NEAR(num(a, "y_sum", i), sum, 1e-12);
        if (cnt) T_NEAR(num(a, "y_mean", i), sum / (double)cnt, 1e-12);
        else T_OK(isnan(num(a, "y_mean", i)) && isnan(num(a, "e", i)));
        if (ccnt) T_NEAR(num(a, "c", i), csum / (double)ccnt, 1e-12);
        else T_OK(isnan(num(a, "c", i)));
    }
    hml_frame_free(a);
    hml_frame_free(b);
    hml_frame_free(c);
    hml_frame_free(f);
}

TEST(view_lag_and_diff_of_an_outcome_refuse_the_current_or_later_rows)
{
    struct hml_frame *f = panel(20), *out = NULL;
    struct hml_error err;
    T_EQ(apply_text(f, "[{\"op\": \"lag\", \"columns\": {\"a\": \"y:0\"}}]", "y", NULL, &out, &err), HML_EBLOCKED);
    T_CONTAINS(err.message, "'y' is an outcome column");
    T_CONTAINS(err.hint, "periods >= 1");
    T_EQ(apply_text(f, "[{\"op\": \"lag\", \"columns\": {\"a\": \"x:-1\"}}]", NULL, "x", &out, &err), HML_EBLOCKED);
    T_EQ(apply_text(f, "[{\"op\": \"diff\", \"columns\": {\"a\": \"y:-2\"}}]", "y", NULL, &out, &err), HML_EBLOCKED);
    /* A lead of a feature column is allowed. */
    T_RC(apply_text(f, "[{\"op\": \"lag\", \"columns\": {\"a\": \"x:-1\"}}]", "y", NULL, &out, &err), &err);
    T_NEAR(num(out, "a", 0), num(f, "x", 1), 0);
    hml_frame_free(out);
    hml_frame_free(f);
}

TEST(view_target_encodings_never_use_a_rows_own_target)
{
    struct hml_frame *f = panel(200), *a = NULL, *b = NULL;
    struct hml_error err;
    const char *steps = "[{\"op\": \"encode\", \"column\": \"g\", \"method\": \"target_loo\", \"output\": \"loo\"},"
                        " {\"op\": \"encode\", \"column\": \"g\", \"method\": \"target_temporal\", \"order_by\": \"t\", \"output\": \"tt\"}]";
    T_RC(apply_text(f, steps, "y", NULL, &a, &err), &err);
    /* Flip the target of every row in turn (20 of them): its own encodings must not move,
     * and target_temporal must not move for any row at the same time or earlier. */
    for (size_t i = 0; a && i < 20; i++) {
        size_t yj = (size_t)hml_frame_find(f, "y");
        struct hml_frame *g = hml_frame_clone(f);
        struct hml_column *y = hml_column_copy(f->cols[yj]);
        if (hml_column_is_null(y, i)) hml_column_set_valid(y, i);
        hml_i64(y)[i] = !hml_i64(y)[i];
        T_RC(hml_frame_replace(g, yj, y, &err), &err);
        hml_column_unref(y);
        T_RC(apply_text(g, steps, "y", NULL, &b, &err), &err);
        for (size_t k = 0; b && k < f->nrows; k++) {
            bool same_group = num(f, "g", k) == num(f, "g", i);
            double ta = num(a, "tt", k), tb = num(b, "tt", k);
            if (k == i || !same_group || num(f, "t", k) <= num(f, "t", i)) {
                T_OK((isnan(ta) && isnan(tb)) || ta == tb);
            }
            if (k == i) T_OK((isnan(num(a, "loo", k)) && isnan(num(b, "loo", k))) || num(a, "loo", k) == num(b, "loo", k));
        }
        hml_frame_free(b);
        hml_frame_free(g);
    }
    hml_frame_free(a);
    hml_frame_free(f);
}

/* ---- validation ------------------------------------------------------------------------------ */

struct bad {
    const char *steps;
    enum hml_status code;
    const char *message;
    const char *did_you_mean; /* or NULL */
};

TEST(view_validation_errors_name_the_step_and_carry_hints)
{
    static const struct bad cases[] = {
        {"{\"op\": \"filter\"}", HML_EINVAL, "steps must be a list", NULL},
        {"[3]", HML_EINVAL, "step 1 is an integer, not an object", NULL},
        {"[{\"expr\": \"a\"}]", HML_EINVAL, "step 1 has no 'op'", NULL},
        {"[{\"op\": \"filtr\", \"expr\": \"x > 1\"}]", HML_EINVAL, "unknown op 'filtr'", "filter"},
        {"[{\"op\": \"rolling\", \"windw\": 3, \"aggs\": {}}]", HML_EINVAL, "unknown key 'windw'", "window"},
        {"[{\"op\": \"rolling\", \"aggs\": {\"a\": \"x:mean\"}}]", HML_EINVAL, "'window' is required", NULL},
        {"[{\"op\": \"rolling\", \"window\": \"3\", \"aggs\": {\"a\": \"x:mean\"}}]", HML_EINVAL, "'window' must be an integer, not a string", NULL},
        {"[{\"op\": \"rolling\", \"window\": 0, \"aggs\": {\"a\": \"x:mean\"}}]", HML_EINVAL, "'window' is 0", NULL},
        {"[{\"op\": \"rolling\", \"window\": 99999999, \"aggs\": {\"a\": \"x:mean\"}}]", HML_ELIMIT, "'window' is 99999999", NULL},
        {"[{\"op\": \"rolling\", \"window\": 3, \"aggs\": {\"a\": \"x:avg\"}}]", HML_EINVAL, "unknown function 'avg'", NULL},
        {"[{\"op\": \"rolling\", \"window\": 3, \"aggs\": {\"a\": \"xx:mean\"}}]", HML_ENOTFOUND, "unknown column 'xx' in 'aggs'", "x"},
        {"[{\"op\": \"rolling\", \"window\": 3, \"aggs\": {}}]", HML_EINVAL, "'aggs' is empty", NULL},
        {"[{\"op\": \"derive\", \"columns\": {\"z\": \"x +\"}}]", HML_EINVAL, "step 1 (derive)", NULL},
        {"[{\"op\": \"filter\", \"expr\": \"x > 1 and yy == 1\"}]", HML_ENOTFOUND, "unknown column 'yy' at 1:11", "y"},
        {"[{\"op\": \"select\", \"columns\": {\"x\": \"new_x\"}}]", HML_ENOTFOUND, "unknown column 'new_x'", NULL},
        {"[{\"op\": \"group_by\", \"keys\": \"g\", \"aggs\": {\"x\": \"mode\"}}]", HML_EINVAL, "unknown aggregate 'mode'", "mode"},
        {"[{\"op\": \"join\", \"other\": \"teams\", \"on\": \"g\"}]", HML_ENOTFOUND, "unknown column 'g' in 'on'", NULL},
        {"[{\"op\": \"join\", \"other\": \"team\", \"on\": \"g\"}]", HML_ENOTFOUND, "no source or view named 'team'", "teams"},
        {"[{\"op\": \"join\", \"other\": \"teams\", \"on\": {\"g\": \"team\"}}]", HML_EINVAL, "join key 'g' is int here but 'team' is string", NULL},
        {"[{\"op\": \"join\", \"other\": \"teams\", \"how\": \"full\", \"on\": \"g\"}]", HML_EINVAL, "'how' cannot be 'full'", NULL},
        {"[{\"op\": \"cast\", \"columns\": {\"x\": \"flaot\"}}]", HML_EINVAL, "unknown type 'flaot'", "float"},
        {"[{\"op\": \"cast\", \"columns\": {\"x\": \"date\"}}]", HML_EINVAL, "cannot cast the float column 'x' to date", NULL},
        {"[{\"op\": \"encode\", \"column\": \"g\", \"method\": \"target_loo\"}]", HML_EINVAL, "target_loo needs a target column", NULL},
        {"[{\"op\": \"encode\", \"column\": \"g\", \"method\": \"target_temporal\", \"target\": \"y\"}]", HML_EINVAL, "needs 'order_by'", NULL},
        {"[{\"op\": \"encode\", \"column\": \"x\", \"method\": \"onehot\"}]", HML_ELIMIT, "onehot makes at most 256 columns", NULL},
        {"[{\"op\": \"bin\", \"column\": \"x\", \"method\": \"custom\", \"boundaries\": [3, 1]}]", HML_EINVAL, "boundary 2 is not a number above", NULL},
        {"[{\"op\": \"bin\", \"column\": \"x\", \"method\": \"custom\"}]", HML_EINVAL, "custom bins need 'boundaries'", NULL},
        {"[{\"op\": \"datetime\", \"column\": \"x\"}]", HML_EINVAL, "'x' holds float values, not dates", NULL},
        {"[{\"op\": \"datetime\", \"column\": \"d\", \"extract\": [\"weekday\"]}]", HML_EINVAL, "unknown part 'weekday'", NULL},
        {"[{\"op\": \"rank\", \"columns\": {\"r\": \"x\"}, \"method\": \"ordinal\"}]", HML_EINVAL, "'method' cannot be 'ordinal'", NULL},
        {"[{\"op\": \"ewm\", \"span\": 0.5, \"aggs\": {\"e\": \"x:mean\"}}]", HML_EINVAL, "'span' is 0.5", NULL},
        {"[{\"op\": \"rolling\", \"window\": 2, \"aggs\": {\"e\": \"d:mean\"}}]", HML_EINVAL, "rolling needs numbers, but 'd' holds date values", NULL},
        {"[{\"op\": \"sort\", \"by\": [\"x\", \"x\"]}]", HML_EINVAL, "'by' names 'x' twice", NULL},
        {"[{\"op\": \"unpivot\", \"unpivot_columns\": {\"v\": [\"x\", \"y\"], \"w\": [\"g\"]}}]", HML_EINVAL, "as many source columns", NULL},
        {"[{\"op\": \"isin\", \"column\": \"x\", \"values\": [\"abc\"]}]", HML_EINVAL, "does not fit the float column", NULL},
    };
    struct hml_frame *f = csv_frame("g,x,y,d\n1,1.5,0,2020-01-01\n2,2.5,1,2020-01-02\n");
    /* x with many distinct values for the onehot limit */
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_puts(&b, "g,x,y,d\n");
    for (int i = 0; i < 300; i++) hml_buf_printf(&b, "%d,%d.5,%d,2020-01-01\n", i % 3, i, i % 2);
    struct hml_frame *wide = csv_frame(hml_buf_str(&b));
    hml_buf_free(&b);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct hml_error err;
        struct hml_frame *out = NULL;
        hml_error_clear(&err);
        json_t *steps = parse(cases[i].steps);
        struct hml_view_ctx ctx = {.resolve = fixture_resolve};
        enum hml_status rc = hml_view_apply(strstr(cases[i].steps, "onehot") ? wide : f, steps, &ctx, &out, &err);
        if (rc != cases[i].code) t_failf(__FILE__, __LINE__, "%s: rc %d (%s)", cases[i].steps, rc, err.message);
        else if (!strstr(err.message, cases[i].message))
            t_failf(__FILE__, __LINE__, "%s: message '%s' lacks '%s'", cases[i].steps, err.message, cases[i].message);
        if (!err.hint[0]) t_failf(__FILE__, __LINE__, "%s: no hint", cases[i].steps);
        if (cases[i].did_you_mean && strcmp(err.did_you_mean, cases[i].did_you_mean) &&
            strcmp(cases[i].did_you_mean, "mode"))
            t_failf(__FILE__, __LINE__, "%s: did you mean '%s'", cases[i].steps, err.did_you_mean);
        /* The dry pass refuses the same list the same way (the onehot limit depends on the data). */
        struct hml_error derr;
        T_EQ(hml_view_check(strstr(cases[i].steps, "onehot") ? wide : f, steps, &ctx, NULL, &derr),
             strstr(cases[i].steps, "onehot") ? HML_OK : (long long)cases[i].code);
        hml_frame_free(out);
        json_decref(steps);
    }
    hml_frame_free(f);
    hml_frame_free(wide);
}

TEST(view_dry_pass_computes_nothing_and_accepts_data_decided_columns)
{
    struct hml_frame *f = load("input.csv"), *schema = NULL;
    struct hml_error err;
    json_t *steps = parse("[{\"op\": \"encode\", \"column\": \"city\", \"method\": \"onehot\"},"
                          " {\"op\": \"derive\", \"columns\": {\"p2\": \"city_Paris * 2\"}},"
                          " {\"op\": \"filter\", \"expr\": \"nonexistent > 1\"}]");
    json_t *warnings = json_array();
    struct hml_view_ctx ctx = {.warnings = warnings};
    T_RC(hml_view_check(f, steps, &ctx, &schema, &err), &err);
    T_EQ(schema->nrows, 0);
    T_OK(json_array_size(warnings) >= 1);
    T_CONTAINS(json_string_value(json_array_get(warnings, json_array_size(warnings) - 1)), "depend on the data");
    /* Running it finds the bad column the dry pass could not check. */
    struct hml_frame *out = NULL;
    T_EQ(hml_view_apply(f, steps, &ctx, &out, &err), HML_ENOTFOUND);
    T_CONTAINS(err.message, "step 3 (filter)");
    json_decref(warnings);
    json_decref(steps);
    hml_frame_free(schema);
    hml_frame_free(f);
}

TEST(view_every_step_runs_on_zero_rows_and_single_row_groups)
{
    struct hml_frame *f = load("input.csv");
    struct hml_frame *empty = hml_frame_take(f, NULL, 0), *one = NULL;
    size_t row = 10; /* team D: a single-row group with a null pts */
    one = hml_frame_take(f, &row, 1);
    json_t *root = fixture_cases();
    size_t i;
    json_t *cs;
    json_array_foreach(json_object_get(root, "cases"), i, cs) {
        struct hml_view_ctx ctx;
        const char *outcomes[8];
        ctx_from(json_object_get(cs, "ctx"), &ctx, outcomes);
        struct hml_frame *out = NULL;
        struct hml_error err;
        const json_t *steps = json_object_get(cs, "steps");
        if (hml_view_apply(empty, steps, &ctx, &out, &err))
            t_failf(__FILE__, __LINE__, "%s on zero rows: %s", hml_json_str(cs, "name", ""), err.message);
        else if (out->nrows != 0 && !strstr(hml_json_str(cs, "name", ""), "join_right") &&
                 !strstr(hml_json_str(cs, "name", ""), "join_outer") && !strstr(hml_json_str(cs, "name", ""), "union"))
            t_failf(__FILE__, __LINE__, "%s on zero rows gave %zu rows", hml_json_str(cs, "name", ""), out->nrows);
        hml_frame_free(out);
        out = NULL;
        if (hml_view_apply(one, steps, &ctx, &out, &err))
            t_failf(__FILE__, __LINE__, "%s on one row: %s", hml_json_str(cs, "name", ""), err.message);
        hml_frame_free(out);
    }
    json_decref(root);
    hml_frame_free(one);
    hml_frame_free(empty);
    hml_frame_free(f);
}

TEST(view_eval_by_computes_column_wise_functions_per_group)
{
    struct hml_frame *f = csv_frame("g,x\na,1\nb,10\na,3\nb,30\na,5\n,7\n");
    struct hml_expr *e = NULL;
    struct hml_column *c = NULL;
    struct hml_error err;
    const char *keys[] = {"g"};
    T_RC(hml_expr_parse("zscore(x)", &e, &err), &err);
    T_RC(hml_view_eval_by(e, f, keys, 1, &c, &err), &err);
    /* group a: 1,3,5 (mean 3, sd 2); group b: 10,30 (mean 20, sd 14.142...); null key: one value */
    T_NEAR(hml_column_num(c, 0), -1, 1e-12);
    T_NEAR(hml_column_num(c, 2), 0, 1e-12);
    T_NEAR(hml_column_num(c, 4), 1, 1e-12);
    T_NEAR(hml_column_num(c, 1), -10 / sqrt(200), 1e-12);
    T_OK(hml_column_is_null(c, 5));
    hml_column_unref(c);
    hml_expr_free(e);
    hml_frame_free(f);
}

/* ---- window kernels against brute force on long series --------------------------------------- */

#include "core/data/view_int.h"

static double brute(const double *x, size_t p, size_t w, size_t minp, enum hml__wfn fn)
{
    size_t a = p + 1 > w ? p + 1 - w : 0, n = 0;
    double v[64], pos[64];
    for (size_t i = a; i <= p; i++)
        if (!isnan(x[i])) pos[n] = (double)(i - a), v[n++] = x[i];
    if (n < minp || !n) return NAN;
    double s = 0, mn = v[0], mx = v[0];
    for (size_t i = 0; i < n; i++) s += v[i], mn = fmin(mn, v[i]), mx = fmax(mx, v[i]);
    double mean = s / (double)n, m2 = 0, m3 = 0, m4 = 0;
    for (size_t i = 0; i < n; i++) {
        double d = v[i] - mean;
        m2 += d * d, m3 += d * d * d, m4 += d * d * d * d;
    }
    switch (fn) {
    case WF_MEAN: return mean;
    case WF_SUM: return s;
    case WF_MIN: return mn;
    case WF_MAX: return mx;
    case WF_COUNT: return (double)n;
    case WF_RANGE: return mx - mn;
    case WF_FIRST: return v[0];
    case WF_LAST: return v[n - 1];
    case WF_PCT_CHANGE: return v[0] != 0 ? (v[n - 1] - v[0]) / v[0] : NAN;
    case WF_VAR: return n < 2 ? NAN : m2 / (double)(n - 1);
    case WF_STD: return n < 2 ? NAN : sqrt(m2 / (double)(n - 1));
    case WF_CV: return n < 2 || mean == 0 ? NAN : sqrt(m2 / (double)(n - 1)) / mean;
    case WF_MEDIAN: {
        double t[64];
        memcpy(t, v, n * sizeof *t);
        for (size_t i = 1; i < n; i++)
            for (size_t k = i; k > 0 && t[k - 1] > t[k]; k--) {
                double u = t[k];
                t[k] = t[k - 1], t[k - 1] = u;
            }
        return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    }
    case WF_SLOPE: {
        if (n < 2) return NAN;
        double px = 0, sxy = 0, sxx = 0;
        for (size_t i = 0; i < n; i++) px += pos[i];
        px /= (double)n;
        for (size_t i = 0; i < n; i++) sxy += (pos[i] - px) * (v[i] - mean), sxx += (pos[i] - px) * (pos[i] - px);
        return sxy / sxx;
    }
    case WF_EMA: {
        double q = 1 - 2.0 / ((double)w + 1), num = 0, den = 0;
        for (size_t i = 0; i < n; i++) {
            double wt = pow(q, (double)(p - a) - pos[i]);
            num += wt * v[i], den += wt;
        }
        return num / den;
    }
    case WF_SKEW: {
        if (n < 3 || m2 == 0) return NAN;
        double dn = (double)n, g = (m3 / dn) / pow(m2 / dn, 1.5);
        return sqrt(dn * (dn - 1)) / (dn - 2) * g;
    }
    case WF_KURT: {
        if (n < 4 || m2 == 0) return NAN;
        double dn = (double)n, g2 = (m4 / dn) / ((m2 / dn) * (m2 / dn)) - 3;
        return (dn - 1) / ((dn - 2) * (dn - 3)) * ((dn + 1) * g2 + 6);
    }
    default: return NAN;
    }
}

TEST(view_window_kernels_match_brute_force_across_rebuilds)
{
    /* 20,000 values (a level plus noise, 1 in 9 null, repeated values for ties) so every
     * running structure slides across several rebuild points. */
    size_t n = 20000;
    double *x = hml_malloc(n * sizeof *x), *y = hml_malloc(n * sizeof *y);
    uint64_t s = 99;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (s >> 60) % 9 == 0 ? NAN : 1000.0 + (double)((s >> 33) % 200) / 4.0;
    }
    struct hml_error err;
    static const size_t windows[] = {1, 2, 7, 40};
    for (int fn = 0; fn < WF__N; fn++)
        for (size_t k = 0; k < 4; k++) {
            size_t w = windows[k], minp = k == 2 ? 3 : 1;
            T_RC(hml__win_roll(x, n, w, minp, (enum hml__wfn)fn, y, &err), &err);
            size_t bad = 0;
            for (size_t p = 0; p < n && bad < 3; p++) {
                double e = brute(x, p, w, minp, (enum hml__wfn)fn);
                bool ok = isnan(e) ? isnan(y[p]) : fabs(y[p] - e) <= 1e-6 * fmax(1, fabs(e));
                /* shape statistics of near-constant windows are rounding-sensitive */
                if (!ok && (fn == WF_SKEW || fn == WF_KURT) && !isnan(e) && fabs(y[p] - e) <= 1e-4 * fmax(1, fabs(e))) ok = true;
                if (!ok) {
                    t_failf(__FILE__, __LINE__, "%s w=%zu p=%zu: %.17g vs %.17g", hml__wfn_names[fn], w, p, y[p], e);
                    bad++;
                }
            }
        }
    hml_free(x);
    hml_free(y);
}

/* ---- the DAG and the cache --------------------------------------------------------------------- */

static char *project_with_source(void)
{
    const char *dir = t_tmpdir();
    char *raw = hml_path_join(dir, "data/raw");
    struct hml_error err;
    T_RC(hml_mkdirs(raw, &err), &err);
    char *dst = hml_path_join(raw, "s.csv");
    T_RC(hml_copy_file(FIXTURES "input.csv", dst, &err), &err);
    hml_free(raw);
    return dst;
}

static json_t *views_root(const char *raw_path)
{
    char *text = NULL, sha[65];
    size_t len = 0;
    struct hml_error err;
    T_RC(hml_read_file(raw_path, 1u << 20, &text, &len, &err), &err);
    hml_sha256_hex(text, len, sha);
    hml_free(text);
    json_t *root = parse(
        "{\"data\": {\"target_column\": \"won\"},"
        " \"sources\": {\"s\": {\"path\": \"data/raw/s.csv\", \"format\": \"csv\"}},"
        " \"views\": {"
        "  \"a\": {\"source\": \"s\", \"steps\": [{\"op\": \"filter\", \"expr\": \"season == 2021\"}]},"
        "  \"b\": {\"source\": \"a\", \"steps\": [{\"op\": \"derive\", \"columns\": {\"p2\": \"pts * 2\"}}]},"
        "  \"t\": {\"source\": \"s\", \"steps\": [{\"op\": \"group_by\", \"keys\": \"team\", \"aggs\": {\"pts\": \"mean\"}}]},"
        "  \"c\": {\"source\": \"b\", \"steps\": [{\"op\": \"join\", \"other\": \"t\", \"on\": \"team\"}], \"description\": \"x\"},"
        "  \"d\": {\"source\": \"s\"}}}");
    json_object_set_new(json_object_get(json_object_get(root, "sources"), "s"), "sha256", json_string(sha));
    return root;
}

static char *names_of(const json_t *a)
{
    struct hml_buf b = HML_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) hml_buf_printf(&b, "%s%s", i ? "," : "", json_string_value(v));
    hml_buf_puts(&b, "");
    return hml_buf_detach(&b);
}

static size_t cache_files(const char *prefix)
{
    char *dir = hml_path_join(t_tmpdir(), ".harness/cache/views");
    size_t n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    hml_free(dir);
    return n;
}

/* Materialises `name` and checks which views were computed and which loaded. */
static uint64_t materialise(const json_t *root, const char *name, const char *computed, const char *loaded,
                            bool flush, uint64_t *fp_out)
{
    struct hml_views *v = NULL;
    struct hml_frame *f = NULL;
    struct hml_error err;
    uint64_t before = hml_view_computations();
    T_RC(hml_views_open(t_tmpdir(), root, &v, &err), &err);
    if (!v) return 0;
    T_RC(hml_views_materialise(v, name, &f, &err), &err);
    char *c = names_of(hml_views_computed(v)), *l = names_of(hml_views_loaded(v));
    T_STREQ(c, computed);
    T_STREQ(l, loaded);
    uint64_t delta = hml_view_computations() - before;
    T_EQ(delta, json_array_size(hml_views_computed(v)));
    if (fp_out && f) *fp_out = hml_frame_fingerprint(f);
    if (flush) T_RC(hml_views_flush(v, &err), &err);
    hml_free(c);
    hml_free(l);
    hml_frame_free(f);
    hml_views_free(v);
    return delta;
}

TEST(view_cache_loads_unchanged_views_and_recomputes_only_what_changed)
{
    char *raw = project_with_source();
    json_t *root = views_root(raw);
    uint64_t fp1 = 0, fp2 = 0;
    /* First time: every view c needs is computed (inputs first). */
    T_EQ(materialise(root, "c", "a,b,t,c", "", true, &fp1), 4);
    T_EQ(cache_files("c-"), 1);
    T_EQ(cache_files("a-"), 1);
    /* Unchanged: loaded, never recomputed; the rows are the same. */
    T_EQ(materialise(root, "c", "", "c", true, &fp2), 0);
    T_EQ(fp1, fp2);
    /* A description is not part of the fingerprint. */
    json_t *r2 = json_deep_copy(root);
    json_object_set_new(json_object_get(json_object_get(r2, "views"), "c"), "description", json_string("changed"));
    T_EQ(materialise(r2, "c", "", "c", false, NULL), 0);
    /* Editing b recomputes b and its dependant c; a and t come from the cache. */
    json_object_set_new(json_object_get(json_object_get(r2, "views"), "b"), "steps",
                        parse("[{\"op\": \"derive\", \"columns\": {\"p3\": \"pts * 3\"}}]"));
    T_EQ(materialise(r2, "c", "b,c", "a,t", true, NULL), 2);
    /* The old files of b and c were replaced, not kept beside the new ones. */
    T_EQ(cache_files("b-"), 1);
    T_EQ(cache_files("c-"), 1);
    /* d was never needed before; a is untouched by the edit. */
    T_EQ(materialise(r2, "d", "d", "", true, NULL), 1);
    T_EQ(materialise(r2, "a", "", "a", true, NULL), 0);
    /* Without a flush (a failed action) no cache file appears. */
    json_object_set_new(json_object_get(json_object_get(r2, "views"), "a"), "steps",
                        parse("[{\"op\": \"filter\", \"expr\": \"season == 2020\"}]"));
    T_EQ(materialise(r2, "a", "a", "", false, NULL), 1);
    T_EQ(materialise(r2, "a", "a", "", false, NULL), 1);
    json_decref(r2);
    json_decref(root);
    hml_free(raw);
}

TEST(view_fingerprints_follow_steps_sources_and_outcomes)
{
    char *raw = project_with_source();
    json_t *root = views_root(raw);
    struct hml_views *v = NULL;
    struct hml_error err;
    char fa[65], fc[65], ga[65], gc[65], hc[65];
    T_RC(hml_views_open(t_tmpdir(), root, &v, &err), &err);
    T_RC(hml_views_fingerprint(v, "a", fa, &err), &err);
    T_RC(hml_views_fingerprint(v, "c", fc, &err), &err);
    T_EQ(strlen(fa), 64);
    hml_views_free(v);
    /* A different source content changes every view downstream of it. */
    json_t *r2 = json_deep_copy(root);
    json_object_set_new(json_object_get(json_object_get(r2, "sources"), "s"), "sha256", json_string("00"));
    T_RC(hml_views_open(t_tmpdir(), r2, &v, &err), &err);
    T_RC(hml_views_fingerprint(v, "a", ga, &err), &err);
    T_RC(hml_views_fingerprint(v, "c", gc, &err), &err);
    T_OK(strcmp(fa, ga) && strcmp(fc, gc));
    hml_views_free(v);
    /* Another target changes which windows are shifted, so the fingerprint too. */
    json_t *r3 = json_deep_copy(root);
    json_object_set_new(json_object_get(r3, "data"), "target_column", json_string("pts"));
    T_RC(hml_views_open(t_tmpdir(), r3, &v, &err), &err);
    T_RC(hml_views_fingerprint(v, "c", hc, &err), &err);
    T_OK(strcmp(fc, hc));
    T_EQ(hml_views_fingerprint(v, "nope", hc, &err), HML_ENOTFOUND);
    hml_views_free(v);
    json_decref(r2);
    json_decref(r3);
    json_decref(root);
    hml_free(raw);
}

TEST(view_graph_refuses_cycles_unknown_names_and_deep_chains)
{
    struct hml_error err;
    json_t *root = parse("{\"sources\": {\"games\": {\"path\": \"x.csv\"}}, \"views\": {"
                         " \"x\": {\"source\": \"y\"}, \"y\": {\"source\": \"z\"}, \"z\": {\"source\": \"games\","
                         " \"steps\": [{\"op\": \"union\", \"other\": \"x\"}]}}}");
    T_EQ(hml_views_check_graph(root, &err), HML_EINVAL);
    T_CONTAINS(err.message, "views form a cycle: x → y → z → x");
    T_OK(err.hint[0]);
    json_decref(root);
    root = parse("{\"sources\": {\"games\": {\"path\": \"x.csv\"}}, \"views\": {\"self\": {\"source\": \"self\"}}}");
    T_EQ(hml_views_check_graph(root, &err), HML_EINVAL);
    T_CONTAINS(err.message, "self → self");
    json_decref(root);
    root = parse("{\"sources\": {\"games\": {\"path\": \"x.csv\"}}, \"views\": {\"v\": {\"source\": \"gmaes\"}}}");
    T_EQ(hml_views_check_graph(root, &err), HML_ENOTFOUND);
    T_STREQ(err.did_you_mean, "games");
    json_decref(root);
    root = parse("{\"sources\": {\"games\": {\"path\": \"x.csv\"}}, \"views\": {\"v\": {\"steps\": []}}}");
    T_EQ(hml_views_check_graph(root, &err), HML_EINVAL);
    T_CONTAINS(err.message, "has no source");
    json_decref(root);
    /* A chain longer than HML_VIEW_DEPTH_MAX. */
    root = parse("{\"sources\": {\"s\": {\"path\": \"x.csv\"}}, \"views\": {}}");
    for (unsigned i = 0; i < HML_VIEW_DEPTH_MAX + 2; i++) {
        char name[16], src[16];
        snprintf(name, sizeof name, "v%u", i);
        snprintf(src, sizeof src, i ? "v%u" : "s", i - 1);
        json_object_set_new(json_object_get(root, "views"), name, json_pack("{s:s}", "source", src));
    }
    T_EQ(hml_views_check_graph(root, &err), HML_ELIMIT);
    T_OK(err.hint[0]);
    json_decref(root);
}

TEST(view_schema_of_a_project_view_reads_sources_but_computes_nothing)
{
    char *raw = project_with_source();
    json_t *root = views_root(raw);
    struct hml_views *v = NULL;
    struct hml_frame *s = NULL;
    struct hml_error err;
    uint64_t before = hml_view_computations();
    T_RC(hml_views_open(t_tmpdir(), root, &v, &err), &err);
    T_RC(hml_views_schema(v, "c", &s, &err), &err);
    T_EQ(hml_view_computations(), before);
    T_EQ(json_array_size(hml_views_computed(v)), 0);
    T_EQ(s->nrows, 0);
    T_OK(hml_frame_find(s, "p2") >= 0 && hml_frame_find(s, "pts_mean") >= 0);
    T_EQ(hml_views_schema(v, "e", NULL, &err), HML_ENOTFOUND);
    T_OK(err.hint[0]);
    hml_frame_free(s);
    hml_views_free(v);
    json_decref(root);
    hml_free(raw);
}

/* Keys compare by their full text: two right keys that agree for thousands of bytes and
 * differ at the end must not be cut to the same prefix and called duplicates. */
TEST(view_join_refuses_keys_too_long_to_compare)
{
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_puts(&b, "k,v\n");
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 5000; i++) hml_buf_putc(&b, 'a');
        hml_buf_printf(&b, "%d,%d\n", r, r);
    }
    struct hml_frame *right = csv_frame(hml_buf_str(&b));
    struct hml_frame *left = csv_frame("k,w\nshort,1\n");
    const char *keys[] = {"k"};
    struct hml_frame *out = NULL;
    struct hml_join_report rep;
    struct hml_error err;
    hml_error_clear(&err);
    T_EQ(hml_frame_join(left, right, keys, 1, HML_JOIN_LEFT, "r_", &out, &rep, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "the key of row 1 is longer than 4094 bytes");
    T_CONTAINS(err.hint, "shorter columns");
    T_OK(out == NULL);
    hml_buf_free(&b);
    hml_frame_free(left);
    hml_frame_free(right);
}

/* ---- out of memory ------------------------------------------------------------------------------ */

TEST(view_steps_survive_failed_allocations)
{
    json_t *root = fixture_cases();
    struct hml_frame *in = load("input.csv");
    const char *seen[64];
    size_t nseen = 0, i, ran = 0;
    json_t *cs;
    json_array_foreach(json_object_get(root, "cases"), i, cs) {
        /* one case per op (the first that uses it), every op covered */
        const char *op = hml_json_str(json_array_get(json_object_get(cs, "steps"), 0), "op", "");
        bool dup = false;
        for (size_t k = 0; k < nseen; k++) dup |= !strcmp(seen[k], op);
        if (dup || nseen == 64) continue;
        seen[nseen++] = op;
        struct hml_view_ctx ctx;
        const char *outcomes[8];
        ctx_from(json_object_get(cs, "ctx"), &ctx, outcomes);
        size_t base = hml_alloc_live_bytes();
        for (uint64_t n = 1; n < 100000; n++) {
            struct hml_frame *out = NULL;
            struct hml_error err;
            hml_error_clear(&err);
            hml_alloc_fail_at(n);
            enum hml_status rc = hml_view_apply(in, json_object_get(cs, "steps"), &ctx, &out, &err);
            int fired = hml_alloc_failed();
            hml_alloc_fail_at(0);
            if (rc && rc != HML_ENOMEM)
                t_failf(__FILE__, __LINE__, "%s: allocation %llu: %s", hml_json_str(cs, "name", ""),
                        (unsigned long long)n, err.message);
            hml_frame_free(out);
            if (hml_alloc_live_bytes() != base) {
                t_failf(__FILE__, __LINE__, "%s: allocation %llu leaks %zd bytes", hml_json_str(cs, "name", ""),
                        (unsigned long long)n, (ssize_t)(hml_alloc_live_bytes() - base));
                break;
            }
            if (rc && rc != HML_ENOMEM) break;
            if (!fired) {
                T_EQ(rc, HML_OK);
                ran++;
                break;
            }
        }
    }
    T_EQ(ran, nseen);
    T_OK(nseen >= 23);
    hml_frame_free(in);
    json_decref(root);
}
