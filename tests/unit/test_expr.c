/* Unit tests for the formula language (expr_*.c).
 *
 * Values are checked against tests/fixtures/expr/cases.json, which
 * tests/fixtures/expr/gen_expr.py computes with pandas/numpy on the same data
 * (data.csv, one.csv). Errors are checked for code, position, suggestion and hint. */
#include "t.h"

#include <stdint.h>
#include <time.h>

#include "harness/alloc.h"
#include "harness/expr.h"
#include "harness/frame.h"
#include "harness/fsx.h"
#include "harness/io.h"
#include "harness/json.h"

#define FIXTURES "tests/fixtures/expr/"

static struct hml_frame *load(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s.csv", name);
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep = {0};
    T_RC(hml_csv_read_file(path, NULL, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    return f;
}

/* Parses and evaluates src on f; fails the test on any error. */
static struct hml_column *eval_ok(const char *src, const struct hml_frame *f,
                                  const struct hml_expr_env *env)
{
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_expr *e = NULL;
    if (hml_expr_parse(src, &e, &err))
        t_failf(__FILE__, __LINE__, "parse '%s': %s (hint: %s)", src, err.message, err.hint);
    struct hml_column *c = NULL;
    if (hml_expr_eval(e, f, env, &c, &err))
        t_failf(__FILE__, __LINE__, "eval '%s': %s (hint: %s)", src, err.message, err.hint);
    hml_expr_free(e);
    return c;
}

/* Parses (and, when f is given, evaluates) src expecting failure; returns the error. */
static struct hml_error fail_with(const char *src, const struct hml_frame *f,
                                  const struct hml_expr_env *env)
{
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_expr *e = NULL;
    enum hml_status rc = hml_expr_parse(src, &e, &err);
    if (!rc && f) {
        struct hml_column *c = NULL;
        rc = hml_expr_eval(e, f, env, &c, &err);
        hml_column_unref(c);
    }
    hml_expr_free(e);
    if (!rc) t_failf(__FILE__, __LINE__, "'%s' should have failed", src);
    if (!err.message[0]) t_failf(__FILE__, __LINE__, "'%s' failed without a message", src);
    if (rc != HML_ENOMEM && !err.hint[0])
        t_failf(__FILE__, __LINE__, "'%s' failed without a hint: %s", src, err.message);
    return err;
}

/* ---- values against pandas ---------------------------------------------------------- */

static enum hml_type type_named(const char *s)
{
    enum hml_type t = HML_TYPE_F64;
    if (!strcmp(s, "int")) t = HML_TYPE_I64;
    else if (!strcmp(s, "bool")) t = HML_TYPE_BOOL;
    else if (!strcmp(s, "string")) t = HML_TYPE_STR;
    else if (!strcmp(s, "date")) t = HML_TYPE_DATE;
    return t;
}

/* Compares one row with its expected JSON value; returns a description of the mismatch
 * in buf, or NULL when equal. */
static const char *row_mismatch(const struct hml_column *c, size_t r, const json_t *want,
                                char *buf, size_t cap)
{
    char got[128];
    hml_column_format(c, r, got, sizeof got);
    bool null = hml_column_is_null(c, r);
    if (json_is_null(want)) {
        if (null) return NULL;
        snprintf(buf, cap, "want null, got '%s'", got);
        return buf;
    }
    if (null) {
        snprintf(buf, cap, "want a value, got null");
        return buf;
    }
    bool ok = false;
    switch (c->type) {
    case HML_TYPE_F64: {
        double w = json_number_value(want), g = hml_f64(c)[r];
        ok = fabs(g - w) <= 1e-12 * (fabs(w) > 1 ? fabs(w) : 1);
        break;
    }
    case HML_TYPE_I64: ok = json_is_integer(want) && hml_i64(c)[r] == json_integer_value(want); break;
    case HML_TYPE_BOOL: ok = json_is_boolean(want) && hml_bool(c)[r] == json_is_true(want); break;
    case HML_TYPE_STR:
    case HML_TYPE_DATE: ok = json_is_string(want) && !strcmp(got, json_string_value(want)); break;
    }
    if (ok) return NULL;
    char *w = json_dumps(want, JSON_ENCODE_ANY);
    snprintf(buf, cap, "want %s, got '%s'", w ? w : "?", got);
    hml_free(w);
    return buf;
}

static void check_case(const json_t *cs, const struct hml_frame *f)
{
    const char *src = json_string_value(json_object_get(cs, "formula"));
    enum hml_type want_t = type_named(json_string_value(json_object_get(cs, "type")));
    const json_t *values = json_object_get(cs, "values");
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_expr *e = NULL;
    enum hml_type checked;
    size_t live = hml_alloc_live_bytes();
    if (hml_expr_parse(src, &e, &err) || hml_expr_check(e, f, NULL, &checked, &err))
        t_failf(__FILE__, __LINE__, "'%s': %s (hint: %s)", src, err.message, err.hint);
    hml_expr_free(e);
    struct hml_column *c = eval_ok(src, f, NULL);
    if (c->type != want_t || checked != want_t)
        t_failf(__FILE__, __LINE__, "'%s': type %s (checked %s), want %s", src,
                hml_type_name(c->type), hml_type_name(checked), hml_type_name(want_t));
    T_EQ(c->n, json_array_size(values));
    size_t nulls = 0;
    for (size_t r = 0; r < c->n; r++) {
        char buf[256];
        const char *why = row_mismatch(c, r, json_array_get(values, r), buf, sizeof buf);
        if (why) t_failf(__FILE__, __LINE__, "'%s' row %zu: %s", src, r, why);
        nulls += hml_column_is_null(c, r);
    }
    /* The column's own bookkeeping must agree with its bitmap. */
    T_EQ(c->null_count, nulls);
    T_OK(nulls > 0 || c->valid == NULL);
    hml_column_unref(c);
    if (hml_alloc_live_bytes() != live) t_failf(__FILE__, __LINE__, "'%s' leaked", src);
}

TEST(expr_pandas_reference)
{
    char *text = NULL;
    size_t len = 0;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_read_file(FIXTURES "cases.json", 1u << 24, &text, &len, &err), &err);
    json_t *doc = NULL;
    T_RC(hml_json_parse(text, len, &doc, &err), &err);
    hml_free(text);
    struct hml_frame *main_f = load("data"), *one = load("one");
    const json_t *cases = json_object_get(doc, "cases");
    T_OK(json_array_size(cases) >= 190);
    size_t i;
    const json_t *cs;
    json_array_foreach(cases, i, cs) {
        const char *data = json_string_value(json_object_get(cs, "data"));
        check_case(cs, !strcmp(data, "one") ? one : main_f);
    }
    printf("# expr: %zu formulas match pandas\n", json_array_size(cases));
    json_decref(doc);
    hml_frame_free(main_f);
    hml_frame_free(one);
}

TEST(expr_fixture_types)
{
    /* The reference assumes these inferred types; a change in CSV inference must show. */
    struct hml_frame *f = load("data");
    static const struct { const char *name; enum hml_type t; } want[] = {
        {"a", HML_TYPE_F64}, {"i", HML_TYPE_I64}, {"k", HML_TYPE_I64}, {"s", HML_TYPE_STR},
        {"d", HML_TYPE_DATE}, {"flag", HML_TYPE_BOOL}, {"x y", HML_TYPE_F64}, {"z", HML_TYPE_F64},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        long idx = hml_frame_find(f, want[i].name);
        T_OK(idx >= 0);
        T_EQ(f->cols[idx]->type, want[i].t);
    }
    T_EQ(f->nrows, 12);
    T_EQ(f->cols[hml_frame_find(f, "z")]->null_count, 12);
    hml_frame_free(f);
}

/* ---- small frames built in code ------------------------------------------------------ */

static void add(struct hml_frame *f, const char *name, struct hml_column *c)
{
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_frame_add(f, name, c, &err), &err);
    hml_column_unref(c);
}

/* NAN marks a null. */
static struct hml_column *fcol(const double *v, size_t n)
{
    struct hml_column *c = hml_column_new(HML_TYPE_F64, n);
    T_OK(c != NULL);
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) T_OK(hml_column_set_null(c, i));
        else hml_f64(c)[i] = v[i];
    }
    return c;
}

static struct hml_column *icol(const int64_t *v, size_t n)
{
    struct hml_column *c = hml_column_new(HML_TYPE_I64, n);
    T_OK(c != NULL);
    for (size_t i = 0; i < n; i++) hml_i64(c)[i] = v[i];
    return c;
}

/* NULL marks a null. */
static struct hml_column *scol(const char *const *v, size_t n)
{
    struct hml_column *c = hml_column_new(HML_TYPE_STR, n);
    T_OK(c != NULL);
    for (size_t i = 0; i < n; i++) {
        if (!v[i]) T_OK(hml_column_set_null(c, i));
        else T_OK((hml_codes(c)[i] = hml_dict_intern(c->dict, v[i], strlen(v[i]))) >= 0);
    }
    return c;
}

/* fare, age, sex, Pclass, `prix €`, d: five passengers with some nulls. */
static struct hml_frame *passengers(void)
{
    struct hml_frame *f = hml_frame_new();
    double fare[] = {7.25, 71.28, NAN, 53.1, 8.05};
    int64_t age[] = {22, 38, 26, 35, 35};
    const char *sex[] = {"male", "female", "female", NULL, "male"};
    int64_t pclass[] = {3, 1, 3, 1, 3};
    struct hml_column *d = hml_column_new(HML_TYPE_DATE, 5);
    for (int i = 0; i < 5; i++) hml_days(d)[i] = hml_date_from_ymd(2020, 1, 1 + i);
    add(f, "fare", fcol(fare, 5));
    add(f, "age", icol(age, 5));
    add(f, "sex", scol(sex, 5));
    add(f, "Pclass", icol(pclass, 5));
    add(f, "prix €", fcol(fare, 5));
    add(f, "d", d);
    return f;
}

/* ---- errors -------------------------------------------------------------------------- */

TEST(expr_error_unknown_column)
{
    struct hml_frame *f = passengers();
    struct hml_error err = fail_with("log(1 + Fare)", f, NULL);
    T_EQ(err.code, HML_ENOTFOUND);
    T_STREQ(err.message, "unknown column 'Fare' at 1:9 — did you mean 'fare'?");
    T_STREQ(err.did_you_mean, "fare");
    T_CONTAINS(err.hint, "did you mean 'fare'?");
    T_CONTAINS(err.valid, "Pclass");
    T_STREQ(err.where, "expr");
    /* Lines and columns count characters, not bytes, across line breaks. */
    err = fail_with("`prix €` +\n  agee", f, NULL);
    T_STREQ(err.message, "unknown column 'agee' at 2:3 — did you mean 'age'?");
    err = fail_with("`prix €` + pclas", f, NULL);
    T_STREQ(err.message, "unknown column 'pclas' at 1:12 — did you mean 'Pclass'?");
    /* Nothing close: no suggestion, but the valid names. */
    err = fail_with("zzzzzz * 2", f, NULL);
    T_STREQ(err.message, "unknown column 'zzzzzz' at 1:1");
    T_STREQ(err.did_you_mean, "");
    T_CONTAINS(err.hint, "valid: fare, age, sex, Pclass");
    hml_frame_free(f);
}

TEST(expr_error_unknown_function)
{
    struct hml_error err = fail_with("fare + sqr(fare)", NULL, NULL);
    T_EQ(err.code, HML_EINVAL);
    T_STREQ(err.message, "unknown function 'sqr' at 1:8 — did you mean 'sqrt'?");
    T_STREQ(err.did_you_mean, "sqrt");
    T_CONTAINS(err.valid, "winsorize");
    T_CONTAINS(err.valid, "dayofweek");
    T_CONTAINS(err.hint, "valid: abs, log");
    err = fail_with("system('rm -rf /')", NULL, NULL);
    T_STREQ(err.message, "unknown function 'system' at 1:1");
    err = fail_with("np.log(fare)", NULL, NULL);
    T_STREQ(err.message, "unexpected character '.' at 1:3");
    T_CONTAINS(err.hint, "backticks");
}

TEST(expr_error_arity)
{
    struct hml_error err = fail_with("clip(fare, 0)", NULL, NULL);
    T_EQ(err.code, HML_EINVAL);
    T_STREQ(err.message, "function 'clip' takes 3 arguments, got 2 at 1:1");
    T_STREQ(err.hint, "signature: clip(x, lo, hi)");
    err = fail_with("1 + round(fare, 1, 2)", NULL, NULL);
    T_STREQ(err.message, "function 'round' takes 1 to 2 arguments, got 3 at 1:5");
    T_STREQ(err.hint, "signature: round(x[, digits])");
    err = fail_with("coalesce(fare)", NULL, NULL);
    T_STREQ(err.message, "function 'coalesce' takes at least 2 arguments, got 1 at 1:1");
    err = fail_with("abs()", NULL, NULL);
    T_STREQ(err.message, "function 'abs' takes 1 argument, got 0 at 1:1");
    err = fail_with("where(fare > 1, 1)", NULL, NULL);
    T_STREQ(err.message, "function 'where' takes 3 arguments, got 2 at 1:1");
    T_STREQ(err.hint, "signature: where(cond, a, b)");
}

TEST(expr_error_types)
{
    struct hml_frame *f = passengers();
    struct hml_error err = fail_with("fare + sex", f, NULL);
    T_EQ(err.code, HML_EINVAL);
    T_STREQ(err.message, "'+' expects numbers, got string at 1:8");
    T_CONTAINS(err.hint, "str_len");
    err = fail_with("sex and age > 3", f, NULL);
    T_STREQ(err.message, "'and' expects a bool (true/false), got string at 1:1");
    T_CONTAINS(err.hint, "compare it first");
    err = fail_with("fare * log(sex)", f, NULL);
    T_STREQ(err.message, "argument 1 of log() must be a number, got string at 1:12");
    T_STREQ(err.hint, "signature: log(x) = log(|x| + 1)");
    err = fail_with("age == 'x'", f, NULL);
    T_STREQ(err.message, "'==' cannot compare int with string at 1:5");
    err = fail_with("d > '2020-13-01'", f, NULL);
    T_STREQ(err.message, "'2020-13-01' is not a date at 1:5");
    T_CONTAINS(err.hint, "YYYY-MM-DD");
    err = fail_with("if(age > 1, sex, age)", f, NULL);
    T_STREQ(err.message, "if() mixes string and int at 1:18");
    err = fail_with("age == null", f, NULL);
    T_STREQ(err.message, "comparing with null is always null at 1:5");
    T_CONTAINS(err.hint, "isnull(x)");
    err = fail_with("year(age)", f, NULL);
    T_STREQ(err.message, "argument 1 of year() must be a date, got int at 1:6");
    err = fail_with("if(age, 1, 2)", f, NULL);
    T_STREQ(err.message, "argument 1 of if() must be a bool, got int at 1:4");
    err = fail_with("d + 1", f, NULL);
    T_STREQ(err.message, "'+' expects numbers, got date at 1:1");
    T_CONTAINS(err.hint, "date - date gives days");
    err = fail_with("sex in [1, 2]", f, NULL);
    T_STREQ(err.message, "'in' list holds a int but the value tested is a string at 1:9");
    err = fail_with("not fare", f, NULL);
    T_STREQ(err.message, "'not' expects a bool (true/false), got float at 1:5");
    hml_frame_free(f);
}

TEST(expr_error_syntax)
{
    static const struct { const char *src, *message, *hint; } cases[] = {
        {"'abc", "unterminated string at 1:1", "single quote"},
        {"fare + \"abc", "unterminated string at 1:8", "double quote"},
        {"`abc + 1", "unterminated `name` at 1:1", "backtick"},
        {"fare +", "unexpected end of formula at 1:7", "expected a value"},
        {"fare + )", "unexpected ')' at 1:8", "expected a value"},
        {"fare age", "unexpected 'age' at 1:6", "expected an operator"},
        {"(fare + 1", "expected ')', found end of formula at 1:10", "opened at 1:1"},
        {"abs(fare", "expected ')', found end of formula at 1:9", "opened at 1:4"},
        {"fare = 1", "unexpected character '=' at 1:6", "'=='"},
        {"fare && age", "unexpected character '&' at 1:6", "'and'"},
        {"fare ^ 2", "unexpected character '^' at 1:6", "'**'"},
        {"2fare", "malformed number '2fare' at 1:1", "'*'"},
        {"1e+", "malformed number '1e+' at 1:1", "2e-3"},
        {"1 < fare < 3", "a comparison cannot follow another comparison at 1:10", "(a < b) and"},
        {"  \n ", "empty formula", "write an expression"},
        {"fare in []", "empty list at 1:9", "at least one value"},
        {"fare in [1, age]", "list values must be literals at 1:13", "literals"},
        {"fare in [null]", "null cannot be a list value at 1:10", "isnull"},
        {"fare in 3", "unexpected '3' at 1:9", "x in [1, 2, 3]"},
        {"fare not 3", "unexpected '3' at 1:10", "not in"},
        {"round(fare, 1.5)", "round() digits must be a whole number from -15 to 15 at 1:13", "round(x, 2)"},
        {"round(fare, 16)", "round() digits must be a whole number from -15 to 15 at 1:13", "round(x, 2)"},
        {"round(fare, age)", "argument 2 of round() must be a number literal at 1:13", "signature"},
        {"winsorize(fare, 0.9, 0.1)", "winsorize() quantiles must satisfy 0 <= lo_q <= hi_q <= 1, got 0.9 and 0.1 at 1:17", "0.99"},
        {"winsorize(fare, -0.1, 1)", "winsorize() quantiles must satisfy 0 <= lo_q <= hi_q <= 1, got -0.1 and 1 at 1:17", "0.99"},
        {"str_contains(sex, sex)", "argument 2 of str_contains() must be a 'string' literal at 1:19", "signature"},
        {"str_extract(sex, '(a')", "bad pattern in str_extract(): missing ')' at 1:18", "supported"},
        {"str_extract(sex, 'a)')", "bad pattern in str_extract(): unbalanced ')' at 1:18", "supported"},
        {"str_extract(sex, '(a)\\1')", "bad pattern in str_extract(): back-references (\\1) are not supported at 1:18", "supported"},
        {"str_extract(sex, '\\bx')", "bad pattern in str_extract(): word boundaries (\\b) are not supported at 1:18", "supported"},
        {"str_extract(sex, '(?=x)')", "bad pattern in str_extract(): only (?:...) is supported among (?...) groups (no look-around or flags) at 1:18", "supported"},
        {"str_extract(sex, 'a**')", "bad pattern in str_extract(): multiple repeat: a quantifier cannot follow a quantifier at 1:18", "supported"},
        {"str_extract(sex, '*a')", "bad pattern in str_extract(): nothing to repeat before a quantifier at 1:18", "supported"},
        {"str_extract(sex, '^*')", "bad pattern in str_extract(): nothing to repeat before a quantifier at 1:18", "supported"},
        {"str_extract(sex, '[z-a]')", "bad pattern in str_extract(): bad range in [...]: the end is before the start at 1:18", "supported"},
        {"str_extract(sex, '[abc')", "bad pattern in str_extract(): unterminated [...] at 1:18", "supported"},
        {"str_extract(sex, 'a{3,1}')", "bad pattern in str_extract(): {m,n} needs m <= n at 1:18", "supported"},
        {"str_extract(sex, 'a{101}')", "bad pattern in str_extract(): {m,n} counts above 100 are not supported at 1:18", "supported"},
        {"str_extract(sex, '\\q')", "bad pattern in str_extract(): \\q is not supported at 1:18", "supported"},
        {"@ + 1", "expected a feature name after '@' at 1:1", "@name"},
        {"``", "empty `` name at 1:1", "between the backticks"},
        {"fare $ 2", "unexpected character '$' at 1:6", "column name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hml_error err = fail_with(cases[i].src, NULL, NULL);
        if (err.code != HML_EINVAL)
            t_failf(__FILE__, __LINE__, "'%s': code %d, want EINVAL", cases[i].src, err.code);
        if (strcmp(err.message, cases[i].message))
            t_failf(__FILE__, __LINE__, "'%s': message '%s', want '%s'", cases[i].src, err.message,
                    cases[i].message);
        if (!strstr(err.hint, cases[i].hint))
            t_failf(__FILE__, __LINE__, "'%s': hint '%s' lacks '%s'", cases[i].src, err.hint,
                    cases[i].hint);
    }
}

/* ---- limits -------------------------------------------------------------------------- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t len = strlen(head) + strlen(unit) * n + strlen(tail) + 1;
    char *s = hml_malloc(len);
    T_OK(s != NULL);
    strcpy(s, head);
    for (size_t i = 0; i < n; i++) memcpy(s + strlen(head) + i * strlen(unit), unit, strlen(unit));
    strcpy(s + strlen(head) + n * strlen(unit), tail);
    return s;
}

static void expect_limit(const char *src, const char *message_part, const char *knob)
{
    struct hml_error err = fail_with(src, NULL, NULL);
    if (err.code != HML_ELIMIT) t_failf(__FILE__, __LINE__, "code %d, want ELIMIT: %s", err.code, err.message);
    T_CONTAINS(err.message, message_part);
    T_CONTAINS(err.hint, knob);
}

TEST(expr_limits)
{
    /* 63 nested parentheses are depth 64: fine. One more is refused where it happens. */
    char *ok = repeat("", "(", 63, "1");
    char *s = repeat(ok, ")", 63, "");
    struct hml_expr *e = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_expr_parse(s, &e, &err), &err);
    hml_expr_free(e);
    hml_free(ok);
    hml_free(s);
    s = repeat("", "(", 100, "1");
    expect_limit(s, "formula nests deeper than 64 levels at 1:65", "HML_EXPR_DEPTH_MAX");
    hml_free(s);
    s = repeat("", "-", 200, "fare");
    expect_limit(s, "deeper than 64", "HML_EXPR_DEPTH_MAX");
    hml_free(s);
    s = repeat("", "not ", 200, "flag");
    expect_limit(s, "deeper than 64", "HML_EXPR_DEPTH_MAX");
    hml_free(s);
    s = repeat("", "abs(", 100, "x");
    expect_limit(s, "deeper than 64", "HML_EXPR_DEPTH_MAX");
    hml_free(s);
    s = repeat("1", "**1", 100, "");
    expect_limit(s, "deeper than 64", "HML_EXPR_DEPTH_MAX");
    hml_free(s);
    s = repeat("a", "+a", 300, "");
    expect_limit(s, "more than 256 operations deep", "HML_EXPR_HEIGHT_MAX");
    hml_free(s);
    s = repeat("1", "+1", 5000, "");
    expect_limit(s, "formula is 10001 bytes, over the limit of 8192", "HML_EXPR_LEN_MAX");
    hml_free(s);
    /* Many shallow terms: chunks of 100 additions, added together. */
    char *chunk = repeat("(a", "+a", 99, ")+");
    s = repeat("", chunk, 40, "a");
    expect_limit(s, "formula has more than 4096 terms", "HML_EXPR_NODES_MAX");
    hml_free(chunk);
    hml_free(s);
    s = repeat("a in [", "1,", 1100, "1]");
    expect_limit(s, "more than 1024 list values", "HML_EXPR_LIST_MAX");
    hml_free(s);
    s = repeat("coalesce(", "a,", 40, "a)");
    expect_limit(s, "more than 32 arguments", "HML_EXPR_ARGS_MAX");
    hml_free(s);
    s = repeat("str_extract(s, '", "a", 300, "')");
    expect_limit(s, "pattern is 300 bytes, over the limit of 256", "HML_EXPR_PATTERN_MAX");
    hml_free(s);
}

TEST(expr_long_chains_evaluate)
{
    /* 200 terms stay under the height cap and evaluate to 200 * a. */
    double a[] = {1.5, NAN, -2};
    struct hml_frame *f = hml_frame_new();
    add(f, "a", fcol(a, 3));
    char *s = repeat("a", "+a", 199, "");
    struct hml_column *c = eval_ok(s, f, NULL);
    T_NEAR(hml_f64(c)[0], 300, 1e-9);
    T_OK(hml_column_is_null(c, 1));
    T_NEAR(hml_f64(c)[2], -400, 1e-9);
    hml_column_unref(c);
    hml_free(s);
    /* The largest list and argument counts are accepted. */
    s = repeat("a in [", "1,", 1023, "1.5]");
    c = eval_ok(s, f, NULL);
    T_EQ(hml_bool(c)[0], 1);
    T_EQ(hml_bool(c)[2], 0);
    hml_column_unref(c);
    hml_free(s);
    s = repeat("coalesce(", "a,", 31, "7)");
    c = eval_ok(s, f, NULL);
    T_NEAR(hml_f64(c)[1], 7, 0);
    hml_column_unref(c);
    hml_free(s);
    hml_frame_free(f);
}

/* ---- names, @refs and filters ---------------------------------------------------------- */

TEST(expr_columns_and_refs)
{
    struct hml_expr *e = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_expr_parse("fare / @family_size + `ticket price` * fare + zscore(age) - @`odd name`",
                        &e, &err), &err);
    size_t n;
    const char *const *cols = hml_expr_columns(e, &n);
    T_EQ(n, 3);
    T_STREQ(cols[0], "fare");
    T_STREQ(cols[1], "ticket price");
    T_STREQ(cols[2], "age");
    const char *const *refs = hml_expr_refs(e, &n);
    T_EQ(n, 2);
    T_STREQ(refs[0], "family_size");
    T_STREQ(refs[1], "odd name");
    T_OK(hml_expr_columnwise(e));
    T_STREQ(hml_expr_source(e), "fare / @family_size + `ticket price` * fare + zscore(age) - @`odd name`");
    hml_expr_free(e);
    T_RC(hml_expr_parse("if(x > 1, log(x), 0)", &e, &err), &err);
    T_OK(!hml_expr_columnwise(e));
    cols = hml_expr_columns(e, &n);
    T_EQ(n, 1);
    T_STREQ(cols[0], "x");
    hml_expr_refs(e, &n);
    T_EQ(n, 0);
    hml_expr_free(e);
    /* A name followed by '(' is a call, otherwise a column, even when it spells a function. */
    T_RC(hml_expr_parse("log + 1", &e, &err), &err);
    cols = hml_expr_columns(e, &n);
    T_EQ(n, 1);
    T_STREQ(cols[0], "log");
    hml_expr_free(e);
}

static struct hml_column *lookup_cb(void *ctx, const char *name)
{
    return !strcmp(name, "from_cb") ? (struct hml_column *)ctx : NULL;
}

TEST(expr_feature_refs)
{
    struct hml_frame *f = passengers();
    struct hml_frame *feats = hml_frame_new();
    double fam[] = {1, 2, NAN, 4, 5};
    add(feats, "family", fcol(fam, 5));
    double cbv[] = {10, 20, 30, 40, 50};
    struct hml_column *cb = fcol(cbv, 5);
    struct hml_expr_env env = {.features = feats, .lookup = lookup_cb, .ctx = cb};
    struct hml_column *c = eval_ok("age * @family + @from_cb", f, &env);
    T_EQ(c->type, HML_TYPE_F64);
    T_NEAR(hml_f64(c)[0], 22 * 1 + 10, 0);
    T_NEAR(hml_f64(c)[3], 35 * 4 + 40, 0);
    T_OK(hml_column_is_null(c, 2));
    hml_column_unref(c);
    /* A bare @ref returns the feature's column itself (columns are immutable). */
    c = eval_ok("@family", f, &env);
    T_OK(c == feats->cols[0]);
    T_EQ(c->refs, 2);
    hml_column_unref(c);
    struct hml_error err = fail_with("age * @famly", f, &env);
    T_EQ(err.code, HML_ENOTFOUND);
    T_STREQ(err.message, "unknown feature 'famly' at 1:7 — did you mean 'family'?");
    err = fail_with("@x + 1", f, NULL);
    T_EQ(err.code, HML_ENOTFOUND);
    T_STREQ(err.message, "unknown feature '@x' at 1:1");
    T_CONTAINS(err.hint, "without '@'");
    /* A feature computed on other rows cannot be mixed in. */
    struct hml_frame *other = hml_frame_new();
    double three[] = {1, 2, 3};
    add(other, "short", fcol(three, 3));
    struct hml_expr_env env2 = {.features = other};
    err = fail_with("@short + age", f, &env2);
    T_EQ(err.code, HML_EINVAL);
    T_STREQ(err.message, "feature '@short' has 3 rows but the table has 5 at 1:1");
    hml_frame_free(other);
    hml_column_unref(cb);
    hml_frame_free(feats);
    hml_frame_free(f);
}

TEST(expr_filter_rows)
{
    struct hml_frame *f = passengers();
    struct hml_expr *e = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    /* sex is null in row 3: the condition is null there, and null filters out. */
    T_RC(hml_expr_parse("age >= 30 and sex != 'female'", &e, &err), &err);
    size_t *rows = NULL, n = 99;
    T_RC(hml_expr_filter(e, f, NULL, &rows, &n, &err), &err);
    T_EQ(n, 1);
    T_EQ(rows[0], 4);
    hml_free(rows);
    hml_expr_free(e);
    T_RC(hml_expr_parse("fare > 50 or isnull(fare)", &e, &err), &err);
    T_RC(hml_expr_filter(e, f, NULL, &rows, &n, &err), &err);
    T_EQ(n, 3);
    T_EQ(rows[0], 1);
    T_EQ(rows[1], 2);
    T_EQ(rows[2], 3);
    hml_free(rows);
    hml_expr_free(e);
    T_RC(hml_expr_parse("true", &e, &err), &err);
    T_RC(hml_expr_filter(e, f, NULL, &rows, &n, &err), &err);
    T_EQ(n, 5);
    hml_free(rows);
    hml_expr_free(e);
    T_RC(hml_expr_parse("fare * 2", &e, &err), &err);
    T_EQ(hml_expr_filter(e, f, NULL, &rows, &n, &err), HML_EINVAL);
    T_STREQ(err.message, "filter formula must be a condition (bool), got float at 1:1");
    T_CONTAINS(err.hint, "age >= 18");
    hml_expr_free(e);
    hml_frame_free(f);
}

/* ---- edge cases ---------------------------------------------------------------------- */

TEST(expr_scalars_and_zero_rows)
{
    struct hml_frame *f = passengers();
    struct hml_column *c = eval_ok("1 + 2 * 3", f, NULL);
    T_EQ(c->type, HML_TYPE_I64);
    T_EQ(c->n, 5);
    for (int i = 0; i < 5; i++) T_EQ(hml_i64(c)[i], 7);
    hml_column_unref(c);
    c = eval_ok("upper('abc')", f, NULL);
    T_EQ(c->type, HML_TYPE_STR);
    T_STREQ(hml_column_str(c, 4), "ABC");
    T_EQ(hml_dict_size(c->dict), 1);
    hml_column_unref(c);
    c = eval_ok("null", f, NULL);
    T_EQ(c->type, HML_TYPE_F64);
    T_EQ(c->null_count, 5);
    hml_column_unref(c);
    /* A bare column name gives that very column back. */
    c = eval_ok("fare", f, NULL);
    T_OK(c == f->cols[0]);
    hml_column_unref(c);
    /* Zero rows: every kind of node still produces a (zero-row) column. */
    size_t none = 0;
    struct hml_frame *empty = hml_frame_take(f, &none, 0);
    T_OK(empty != NULL);
    static const char *const forms[] = {
        "fare * 2 + age", "zscore(fare)", "rank_pct(age)", "winsorize(fare, 0.1, 0.9)",
        "str_extract(sex, '(a)')", "lower(sex)", "coalesce(sex, 'x')", "if(age > 1, fare, 0)",
        "year(d)", "sex in ['male']", "1", "pct_of_total(fare)",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        c = eval_ok(forms[i], empty, NULL);
        T_EQ(c->n, 0);
        T_EQ(c->null_count, 0);
        hml_column_unref(c);
    }
    hml_frame_free(empty);
    hml_frame_free(f);
}

TEST(expr_int_overflow_is_null)
{
    int64_t v[] = {INT64_MAX, INT64_MIN, 5, -7};
    struct hml_frame *f = hml_frame_new();
    add(f, "i", icol(v, 4));
    struct hml_column *c = eval_ok("i + 1", f, NULL);
    T_EQ(c->type, HML_TYPE_I64);
    T_OK(hml_column_is_null(c, 0));
    T_EQ(hml_i64(c)[1], INT64_MIN + 1);
    T_EQ(hml_i64(c)[2], 6);
    T_EQ(c->null_count, 1);
    hml_column_unref(c);
    c = eval_ok("-i", f, NULL);
    T_EQ(hml_i64(c)[0], -INT64_MAX);
    T_OK(hml_column_is_null(c, 1));
    hml_column_unref(c);
    c = eval_ok("abs(i)", f, NULL);
    T_OK(hml_column_is_null(c, 1));
    T_EQ(hml_i64(c)[3], 7);
    hml_column_unref(c);
    c = eval_ok("i * i", f, NULL);
    T_EQ(c->null_count, 2);
    T_EQ(hml_i64(c)[2], 25);
    hml_column_unref(c);
    c = eval_ok("i % -1", f, NULL);
    T_EQ(c->null_count, 0);
    for (int k = 0; k < 4; k++) T_EQ(hml_i64(c)[k], 0);
    hml_column_unref(c);
    c = eval_ok("clip(i, -10, 10)", f, NULL);
    T_EQ(hml_i64(c)[0], 10);
    T_EQ(hml_i64(c)[1], -10);
    T_EQ(hml_i64(c)[3], -7);
    hml_column_unref(c);
    /* Comparisons of large ints are exact (no detour through doubles). */
    c = eval_ok("i == 9223372036854775807", f, NULL);
    T_EQ(hml_bool(c)[0], 1);
    hml_column_unref(c);
    c = eval_ok("i - 1 == 9223372036854775806", f, NULL);
    T_EQ(hml_bool(c)[0], 1);
    hml_column_unref(c);
    hml_frame_free(f);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

TEST(expr_regex_is_linear)
{
    /* Patterns that take exponential time in a backtracking engine, on 20,000 characters. */
    size_t n = 20000;
    char *text = hml_malloc(n + 2);
    memset(text, 'a', n);
    text[n] = '!';
    text[n + 1] = 0;
    const char *vals[] = {text};
    struct hml_frame *f = hml_frame_new();
    add(f, "s", scol(vals, 1));
    static const char *const forms[] = {
        "str_extract(s, '(a*)*b')", "str_extract(s, '(a|a)*c')", "str_extract(s, '(a+)+$')",
        "str_extract(s, '(x+x+)+y')", "str_extract(s, '(a|aa)+b')", "str_extract(s, '(.*a){12}b')",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        double t0 = now_ms();
        struct hml_column *c = eval_ok(forms[i], f, NULL);
        double ms = now_ms() - t0;
        T_OK(hml_column_is_null(c, 0));
        if (ms > 2000) t_failf(__FILE__, __LINE__, "'%s' took %.0f ms", forms[i], ms);
        hml_column_unref(c);
    }
    /* And a pattern that does match still finds the leftmost-longest greedy span. */
    struct hml_column *c = eval_ok("str_len(str_extract(s, '(a+)!'))", f, NULL);
    T_EQ(hml_i64(c)[0], (int64_t)n);
    hml_column_unref(c);
    hml_frame_free(f);
    hml_free(text);
}

/* ---- robustness ------------------------------------------------------------------------ */

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Real tokens in random order: deep enough into the grammar to reach the checker and
 * the evaluator often, and broken often enough to exercise every error path. */
static const char *const soup[] = {
    "a", "b", "i", "j", "k", "s", "t", "d", "e", "flag", "g", "z", "`x y`", "c", "nope", "@f",
    "@`g h`", "@", "0", "1", "-1", "2.5", "1e308", "1e-308", "0.0", "9223372036854775807",
    "'2020-01-01'", "'male'", "'a\\'b'", "\"x\"", "''", "'", "\"", "`", "true", "false", "null",
    "+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">=", "and", "or", "not", "in",
    "(", ")", "[", "]", ",", "(", ")", ",", "=", "&", "|", "!", "^", "$", ".", "\n", "é", "\\",
    "abs(", "log(", "log1p(", "exp(", "expm1(", "sqrt(", "cbrt(", "square(", "sign(", "clip(",
    "power(", "reciprocal(", "minimum(", "maximum(", "safe_div(", "isnull(", "coalesce(", "round(",
    "floor(", "ceil(", "sin_cycle(", "cos_cycle(", "zscore(", "minmax(", "rank_pct(", "winsorize(",
    "pct_of_total(", "str_contains(", "str_extract(", "str_len(", "lower(", "upper(", "year(",
    "month(", "day(", "dayofweek(", "if(", "where(", "nofunc(", "'(a|b)*'", "'[^,]+'", "'\\d{2,}'",
    "'(?:x)?'", "'a{'", "'[z-a]'", "0.5", "0.1, 0.9)", "a, b)", "a, 1)", "s, 'r')",
};

static void fuzz_one(const char *src, const struct hml_frame *f, const struct hml_frame *empty,
                     const struct hml_expr_env *env, size_t *parsed, size_t *evaluated)
{
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_expr *e = NULL;
    size_t live = hml_alloc_live_bytes();
    enum hml_status rc = hml_expr_parse(src, &e, &err);
    if (rc) {
        if (!err.message[0] || !err.hint[0])
            t_failf(__FILE__, __LINE__, "'%s': error %d without message or hint", src, rc);
        T_OK(e == NULL);
        if (hml_alloc_live_bytes() != live) t_failf(__FILE__, __LINE__, "'%s' leaked", src);
        return;
    }
    (*parsed)++;
    const struct hml_frame *frames[] = {f, empty};
    for (int k = 0; k < 2; k++) {
        struct hml_column *c = NULL;
        hml_error_clear(&err);
        rc = hml_expr_eval(e, frames[k], env, &c, &err);
        if (rc) {
            if (!err.message[0] || !err.hint[0])
                t_failf(__FILE__, __LINE__, "'%s': eval error %d without message or hint", src, rc);
            continue;
        }
        (*evaluated)++;
        T_EQ(c->n, frames[k]->nrows);
        size_t nulls = 0;
        for (size_t r = 0; r < c->n; r++) {
            nulls += hml_column_is_null(c, r);
            if (c->type == HML_TYPE_F64 && !hml_column_is_null(c, r)) T_OK(isfinite(hml_f64(c)[r]));
        }
        T_EQ(c->null_count, nulls);
        hml_column_unref(c);
    }
    hml_expr_free(e);
    if (hml_alloc_live_bytes() != live) t_failf(__FILE__, __LINE__, "'%s' leaked", src);
}

/* A random formula that follows the grammar (arity included), so that most of them reach
 * the checker and many the evaluator, with operands of every type in every position. */
static void gen_formula(char *out, size_t cap, size_t *len, int depth)
{
    static const char *const leaves[] = {
        "a", "b", "i", "j", "k", "c", "z", "s", "t", "d", "e", "flag", "g", "`x y`", "@f", "0",
        "3", "-2", "2.5", "1e300", "'male'", "'2020-01-01'", "true", "false", "null",
    };
    static const char *const binops[] = {
        " + ", " - ", " * ", " / ", " % ", " ** ", " == ", " != ", " < ", " <= ", " > ", " >= ",
        " and ", " or ",
    };
    static const struct { const char *name; int args; } fns[] = {
        {"abs", 1}, {"log", 1}, {"log1p", 1}, {"exp", 1}, {"expm1", 1}, {"sqrt", 1}, {"cbrt", 1},
        {"square", 1}, {"sign", 1}, {"clip", 3}, {"power", 2}, {"reciprocal", 1}, {"minimum", 2},
        {"maximum", 2}, {"safe_div", 3}, {"isnull", 1}, {"coalesce", 3}, {"round", 1},
        {"floor", 1}, {"ceil", 1}, {"sin_cycle", 2}, {"cos_cycle", 2}, {"zscore", 1},
        {"minmax", 1}, {"rank_pct", 1}, {"pct_of_total", 1}, {"str_len", 1}, {"lower", 1},
        {"upper", 1}, {"year", 1}, {"month", 1}, {"day", 1}, {"dayofweek", 1}, {"if", 3},
    };
#define PUT(str) do { const char *s_ = (str); size_t l_ = strlen(s_); if (*len + l_ < cap) { memcpy(out + *len, s_, l_); *len += l_; out[*len] = 0; } } while (0)
    uint64_t r = rnd() % 10;
    if (depth <= 0 || r < 3) {
        PUT(leaves[rnd() % (sizeof leaves / sizeof leaves[0])]);
    } else if (r < 6) {
        PUT("(");
        gen_formula(out, cap, len, depth - 1);
        PUT(binops[rnd() % (sizeof binops / sizeof binops[0])]);
        gen_formula(out, cap, len, depth - 1);
        PUT(")");
    } else if (r < 9) {
        size_t f = rnd() % (sizeof fns / sizeof fns[0]);
        PUT(fns[f].name);
        PUT("(");
        for (int k = 0; k < fns[f].args; k++) {
            if (k) PUT(", ");
            gen_formula(out, cap, len, depth - 1);
        }
        PUT(")");
    } else {
        PUT(rnd() % 2 ? "not " : "-");
        gen_formula(out, cap, len, depth - 1);
    }
#undef PUT
}

TEST(expr_fuzz_token_soup)
{
    struct hml_frame *f = load("data");
    size_t none = 0;
    struct hml_frame *empty = hml_frame_take(f, &none, 0);
    struct hml_frame *feats = hml_frame_new();
    double fv[12] = {1, 2, 3, 4, 5, NAN, 7, 8, 9, 10, 11, 12};
    add(feats, "f", fcol(fv, 12));
    struct hml_expr_env env = {.features = feats};
    size_t parsed = 0, evaluated = 0, nsoup = sizeof soup / sizeof soup[0];
    char src[1024];
    for (int it = 0; it < 30000; it++) {
        size_t len = 0, ntok = 1 + rnd() % 24;
        for (size_t k = 0; k < ntok; k++) {
            const char *tok = soup[rnd() % nsoup];
            size_t tl = strlen(tok);
            if (len + tl + 2 >= sizeof src) break;
            memcpy(src + len, tok, tl);
            len += tl;
            if (rnd() % 3) src[len++] = ' ';
        }
        src[len] = 0;
        fuzz_one(src, f, empty, &env, &parsed, &evaluated);
    }
    for (int it = 0; it < 20000; it++) {
        size_t len = 0;
        src[0] = 0;
        gen_formula(src, sizeof src, &len, 1 + (int)(rnd() % 5));
        fuzz_one(src, f, empty, &env, &parsed, &evaluated);
    }
    /* Raw bytes, including invalid UTF-8 and control characters. */
    for (int it = 0; it < 5000; it++) {
        size_t len = 1 + rnd() % 40;
        for (size_t k = 0; k < len; k++) {
            char ch = (char)(rnd() % 255 + 1);
            src[k] = rnd() % 2 ? ch : "ab()+*-'\"`[],1.@ "[rnd() % 18];
        }
        src[len] = 0;
        fuzz_one(src, f, empty, &env, &parsed, &evaluated);
    }
    printf("# expr fuzz: %zu parsed, %zu evaluated\n", parsed, evaluated);
    T_OK(parsed > 5000);
    T_OK(evaluated > 5000);
    hml_frame_free(feats);
    hml_frame_free(empty);
    hml_frame_free(f);
}

TEST(expr_out_of_memory)
{
    /* Every allocation of parse + eval fails in turn: each failure must be a clean ENOMEM
     * (ASan would report a leak or a bad access), and memory must return to where it was. */
    struct hml_frame *f = load("data");
    const char *src = "if(str_contains(s, 'Mr'), lower(str_extract(s, ' ([A-Za-z]+)\\.')), "
                      "coalesce(t, 'x')) == 'mr' or rank_pct(a) > 0.5 and d > '2020-01-01' and "
                      "i in [1, 2, 3] or winsorize(b, 0.1, 0.9) + zscore(k) * safe_div(a, b) > "
                      "clip(i, 0, 5) and year(d) > 2000 and not isnull(if(flag, a, i))";
    size_t before = hml_alloc_live_bytes();
    int failures = 0;
    for (uint64_t k = 1; k < 5000; k++) {
        struct hml_error err;
        hml_error_clear(&err);
        struct hml_expr *e = NULL;
        struct hml_column *c = NULL;
        hml_alloc_fail_at(k);
        enum hml_status rc = hml_expr_parse(src, &e, &err);
        if (!rc) rc = hml_expr_eval(e, f, NULL, &c, &err);
        bool fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        hml_column_unref(c);
        hml_expr_free(e);
        T_EQ(hml_alloc_live_bytes(), before);
        if (!fired) {
            T_EQ(rc, HML_OK);
            break;
        }
        if (rc != HML_ENOMEM)
            t_failf(__FILE__, __LINE__, "allocation %llu: code %d (%s), want ENOMEM",
                    (unsigned long long)k, rc, err.message);
        failures++;
    }
    printf("# expr oom: %d allocation failures handled\n", failures);
    T_OK(failures > 50);
    hml_frame_free(f);
}

TEST(expr_perf_million_rows)
{
    size_t n = 1000000;
    struct hml_frame *f = hml_frame_new();
    const char *names[] = {"a", "b", "c", "d", "e"};
    for (int k = 0; k < 5; k++) {
        struct hml_column *c = hml_column_new(HML_TYPE_F64, n);
        T_OK(c != NULL);
        for (size_t i = 0; i < n; i++) hml_f64(c)[i] = (double)(rnd() % 10000) / 100.0 + 1.0;
        add(f, names[k], c);
    }
    struct hml_expr *e = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_expr_parse("(a + b) * c - d / e + a * 0.5", &e, &err), &err);
    double t0 = now_ms();
    struct hml_column *c = NULL;
    T_RC(hml_expr_eval(e, f, NULL, &c, &err), &err);
    double ms = now_ms() - t0;
    printf("# expr perf: 5-term formula over %zu rows in %.1f ms\n", n, ms);
    for (size_t i = 0; i < n; i += 99991) {
        const double *a = hml_f64(f->cols[0]), *b = hml_f64(f->cols[1]), *cc = hml_f64(f->cols[2]);
        const double *d = hml_f64(f->cols[3]), *ev = hml_f64(f->cols[4]);
        T_NEAR(hml_f64(c)[i], (a[i] + b[i]) * cc[i] - d[i] / ev[i] + a[i] * 0.5, 1e-9);
    }
    T_EQ(c->null_count, 0);
    T_OK(ms < 2000);
    hml_column_unref(c);
    hml_expr_free(e);
    hml_frame_free(f);
}
