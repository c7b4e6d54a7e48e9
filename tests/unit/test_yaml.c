/* Unit tests for yaml: scalar typing, refused constructs, errors with lines, round trips. */
#include "t.h"

#include "harness/alloc.h"
#include "harness/yaml.h"

static json_t *parse_ok(const char *text)
{
    struct hml_error err;
    json_t *v = NULL;
    hml_error_clear(&err);
    if (hml_yaml_parse(text, strlen(text), "t.yaml", &v, &err))
        t_failf(__FILE__, __LINE__, "parse of '%s' failed: %s", text, err.message);
    return v;
}

static enum hml_status parse_err(const char *text, struct hml_error *err)
{
    json_t *v = NULL;
    hml_error_clear(err);
    enum hml_status rc = hml_yaml_parse(text, strlen(text), "config/models.yaml", &v, err);
    if (rc == HML_OK) json_decref(v);
    else if (err->hint[0] == 0 && rc != HML_ENOMEM) t_failf(__FILE__, __LINE__, "no hint for '%s'", text);
    return rc;
}

/* Parses "v: <scalar>" and returns the value's type. */
static json_type type_of(const char *scalar, json_t **keep)
{
    char doc[256];
    snprintf(doc, sizeof doc, "v: %s\n", scalar);
    json_t *root = parse_ok(doc);
    json_t *v = json_object_get(root, "v");
    json_type t = json_typeof(v);
    *keep = json_incref(v);
    json_decref(root);
    return t;
}

TEST(yaml_plain_scalar_typing_table)
{
    static const struct { const char *in; json_type t; } rows[] = {
        {"null", JSON_NULL}, {"Null", JSON_NULL}, {"NULL", JSON_NULL}, {"~", JSON_NULL}, {"", JSON_NULL},
        {"true", JSON_TRUE}, {"True", JSON_TRUE}, {"TRUE", JSON_TRUE},
        {"false", JSON_FALSE}, {"False", JSON_FALSE}, {"FALSE", JSON_FALSE},
        {"0", JSON_INTEGER}, {"-17", JSON_INTEGER}, {"+5", JSON_INTEGER}, {"007", JSON_INTEGER},
        {"9223372036854775807", JSON_INTEGER},
        {"1.5", JSON_REAL}, {"-0.25", JSON_REAL}, {"1e3", JSON_REAL}, {"1.0E-2", JSON_REAL},
        {".5", JSON_REAL}, {"1.", JSON_REAL}, {"+2.5e+10", JSON_REAL},
        {"yes", JSON_STRING}, {"no", JSON_STRING}, {"on", JSON_STRING}, {"0x10", JSON_STRING},
        {"0o17", JSON_STRING}, {"1_000", JSON_STRING}, {"nULL", JSON_STRING}, {"tRue", JSON_STRING},
        {"1.2.3", JSON_STRING}, {"2024-01-01", JSON_STRING}, {"e3", JSON_STRING}, {"-x", JSON_STRING},
        {"\"true\"", JSON_STRING}, {"'123'", JSON_STRING}, {"\"\"", JSON_STRING}, {"'~'", JSON_STRING},
        {"!!str 12", JSON_STRING}, {"!!float 3", JSON_REAL}, {"!!int \"42\"", JSON_INTEGER},
        {"! 12", JSON_STRING}, {"!!null ~", JSON_NULL}, {"!!bool true", JSON_TRUE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        json_t *v;
        json_type t = type_of(rows[i].in, &v);
        if (t != rows[i].t) t_failf(__FILE__, __LINE__, "'%s' typed %d, want %d", rows[i].in, t, rows[i].t);
        json_decref(v);
    }
    json_t *v;
    type_of("-17", &v);
    T_EQ(json_integer_value(v), -17);
    json_decref(v);
    type_of("1e3", &v);
    T_NEAR(json_real_value(v), 1000.0, 0);
    json_decref(v);
    type_of("!!float 3", &v);
    T_NEAR(json_real_value(v), 3.0, 0);
    json_decref(v);
}

TEST(yaml_refuses_nonfinite_and_huge_integers)
{
    struct hml_error err;
    T_EQ(parse_err("a: .inf\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "not finite");
    T_CONTAINS(err.message, "line 1");
    T_EQ(parse_err("a: -.INF\n", &err), HML_EINVAL);
    T_EQ(parse_err("a: .nan\n", &err), HML_EINVAL);
    T_EQ(parse_err("a: 1e999\n", &err), HML_EINVAL);
    T_EQ(parse_err("a: 1\nb: 99999999999999999999\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "out of range at config/models.yaml line 2");
    T_CONTAINS(err.hint, "quote");
    T_EQ(parse_err("a: \"99999999999999999999\"\n", &err), HML_OK);
    T_EQ(parse_err("a: !!int abc\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "does not match its tag");
}

TEST(yaml_duplicate_key_names_file_and_line)
{
    struct hml_error err;
    const char *doc = "models:\n  xgb:\n    type: xgboost\n  xgb:\n    type: lightgbm\n";
    T_EQ(parse_err(doc, &err), HML_EINVAL);
    T_STREQ(err.message, "duplicate key 'xgb' at config/models.yaml line 4");
    T_STREQ(err.where, "yaml");
}

TEST(yaml_refuses_anchors_aliases_tags_and_complex_keys)
{
    struct hml_error err;
    T_EQ(parse_err("a: &x 1\nb: *x\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "anchor '&x'");
    T_CONTAINS(err.message, "line 1");
    T_EQ(parse_err("a: [1, *x]\n", &err), HML_EINVAL); /* undefined alias: libyaml passes it on */
    T_CONTAINS(err.message, "alias");
    T_EQ(parse_err("base: &b {x: 1}\nd:\n  <<: *b\n", &err), HML_EINVAL);
    T_EQ(parse_err("a: !python/object 1\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "tag '!python/object' is not supported");
    T_EQ(parse_err("a: !!map [1]\n", &err), HML_EINVAL);
    T_EQ(parse_err("? [a, b]\n: 1\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "mapping key");
    T_EQ(parse_err("1: a\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "key '1' is not text");
    T_EQ(parse_err(": a\n", &err), HML_EINVAL);
    T_EQ(parse_err("\"1\": a\ntrue_x: b\n", &err), HML_OK);
    T_EQ(parse_err("a: \"x\\0y\"\n", &err), HML_EINVAL);
}

TEST(yaml_syntax_errors_have_line_and_hint)
{
    struct hml_error err;
    T_EQ(parse_err("a: 1\nb: [1, 2\nc: 3\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "invalid YAML at config/models.yaml line");
    T_EQ(parse_err("a:\n  b: 1\n c: 2\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "line 3");
    T_EQ(parse_err("a: b: c\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "line 1");
    T_EQ(parse_err("a: 1\n---\nb: 2\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "second YAML document");
    T_EQ(parse_err("a: \"\xff\"\n", &err), HML_EINVAL); /* invalid UTF-8 */
}

TEST(yaml_depth_and_size_limits)
{
    struct hml_error err;
    char doc[512];
    size_t n = 0;
    for (int i = 0; i < 64; i++) doc[n++] = '[';
    for (int i = 0; i < 64; i++) doc[n++] = ']';
    doc[n] = 0;
    T_EQ(parse_err(doc, &err), HML_OK);
    n = 0;
    for (int i = 0; i < 65; i++) doc[n++] = '[';
    for (int i = 0; i < 65; i++) doc[n++] = ']';
    doc[n] = 0;
    T_EQ(parse_err(doc, &err), HML_ELIMIT);
    json_t *v = NULL;
    T_EQ(hml_yaml_parse("a: 1", (size_t)HML_YAML_BYTES_MAX + 1, "big.yaml", &v, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "big.yaml");
}

TEST(yaml_empty_documents_give_empty_object)
{
    const char *docs[] = {"", "# only a comment\n", "---\n", "---\n...\n", "\n\n"};
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        json_t *v = parse_ok(docs[i]);
        T_OK(json_is_object(v));
        T_EQ(json_object_size(v), 0);
        json_decref(v);
    }
    json_t *v = parse_ok("null\n");
    T_OK(json_is_null(v));
    json_decref(v);
}

TEST(yaml_emit_shape)
{
    json_t *v = json_pack("{s:{s:s, s:[s,s], s:{}, s:[], s:f, s:i, s:s}, s:[{s:i, s:i}, [i, i]]}",
                          "backtest", "cv_strategy", "kfold", "metrics", "brier", "auc", "params",
                          "exclude", "C", 1.0, "n_folds", 5, "target", "true", "items", "a", 1, "b",
                          2, 3, 4);
    char *y = hml_yaml_emit(v);
    T_STREQ(y, "backtest:\n"
               "  cv_strategy: kfold\n"
               "  metrics:\n"
               "    - brier\n"
               "    - auc\n"
               "  params: {}\n"
               "  exclude: []\n"
               "  C: 1.0\n"
               "  n_folds: 5\n"
               "  target: \"true\"\n"
               "items:\n"
               "  - a: 1\n"
               "    b: 2\n"
               "  - - 3\n"
               "    - 4\n");
    hml_free(y);
    json_decref(v);
    json_t *e = json_object();
    y = hml_yaml_emit(e);
    T_STREQ(y, "{}\n");
    hml_free(y);
    json_decref(e);
}

TEST(yaml_emit_floats_look_like_floats)
{
    static const struct { double d; const char *want; } rows[] = {
        {1.0, "1.0"}, {0.1, "0.1"}, {-2.0, "-2.0"}, {1e20, "1.0e+20"}, {1.5e-7, "1.5e-07"},
        {0.30000000000000004, "0.30000000000000004"}, {123456789.0, "123456789.0"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        json_t *v = json_real(rows[i].d);
        char *y = hml_yaml_emit(v);
        char want[64];
        snprintf(want, sizeof want, "%s\n", rows[i].want);
        T_STREQ(y, want);
        json_t *back = parse_ok(y);
        T_OK(json_is_real(back));
        T_OK(json_real_value(back) == rows[i].d);
        json_decref(back);
        hml_free(y);
        json_decref(v);
    }
}

static void check_round_trip(const json_t *v)
{
    char *y = hml_yaml_emit(v);
    T_OK(y != NULL);
    struct hml_error err;
    json_t *back = NULL;
    hml_error_clear(&err);
    if (hml_yaml_parse(y, strlen(y), "emitted", &back, &err))
        t_failf(__FILE__, __LINE__, "emitted YAML does not parse: %s\n%s", err.message, y);
    if (!json_equal(v, back)) {
        char *a = json_dumps(v, JSON_ENCODE_ANY), *b = json_dumps(back, JSON_ENCODE_ANY);
        t_failf(__FILE__, __LINE__, "round trip changed the value:\n%s\n%s\nYAML:\n%s", a, b, y);
    }
    char *y2 = hml_yaml_emit(back);
    T_STREQ(y2, y);
    hml_free(y);
    hml_free(y2);
    json_decref(back);
}

static const char *const tricky[] = {
    "yes", "no", "Yes", "ON", "off", "y", "n", "1e3", "0x10", "0o17", "~", "-", "--", "---", "...",
    "a: b", "a:b", "a:", ":a", "#x", "a #b", "a#b", "true", "False", "null", "NULL", "123", "-1",
    "+1", "1.5", ".5", ".inf", ".nan", "", " ", " lead", "trail ", "a\nb", "line\n", "\ttab",
    "quote\"in", "'single", "back\\slash", "[x", "{x", "x]", "x}", "a, b", "*star", "&amp", "!bang",
    "%pct", "@at", "`tick", "|pipe", ">gt", "?q", "? q", "<<", "=", "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
    "emoji \xf0\x9f\x98\x80", "nel\xc2\x85x", "ls\xe2\x80\xa8x", "bom\xef\xbb\xbfx", "c1\xc2\x80x",
    "del\x7fx", "bell\x07x", "cr\rx", "2024-01-01", "1:30", "0123", "1_000", "data/raw/file.csv",
    "http://example.com/a?b=c", "snake_case_name", "Mixed Case Words",
};

TEST(yaml_round_trip_tricky_strings)
{
    for (size_t i = 0; i < sizeof tricky / sizeof *tricky; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "value", json_string(tricky[i]));
        json_object_set_new(o, tricky[i], json_string("as key"));
        json_t *a = json_pack("[s]", tricky[i]);
        json_object_set_new(o, "list", a);
        check_round_trip(o);
        json_t *s = json_string(tricky[i]);
        check_round_trip(s);
        json_decref(s);
        json_decref(o);
    }
}

/* A deterministic generator of random trees over tricky leaves. */
static unsigned rng_state = 12345;
static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) % n;
}

static json_t *random_tree(int depth)
{
    unsigned k = rnd(depth > 4 ? 6 : 9);
    switch (k) {
    case 0: return json_null();
    case 1: return json_boolean(rnd(2));
    case 2: return json_integer((json_int_t)rnd(2000000) - 1000000);
    case 3: return json_real(((double)rnd(1000000) - 500000) / (double)(1 + rnd(1000)));
    case 4:
    case 5: return json_string(tricky[rnd(sizeof tricky / sizeof *tricky)]);
    case 6:
    case 7: {
        json_t *o = json_object();
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++)
            json_object_set_new(o, tricky[rnd(sizeof tricky / sizeof *tricky)], random_tree(depth + 1));
        return o;
    }
    default: {
        json_t *a = json_array();
        unsigned n = rnd(4);
        for (unsigned i = 0; i < n; i++) json_array_append_new(a, random_tree(depth + 1));
        return a;
    }
    }
}

TEST(yaml_round_trip_property)
{
    for (int i = 0; i < 500; i++) {
        json_t *v = random_tree(0);
        check_round_trip(v);
        json_decref(v);
    }
    /* Nested empty containers, extreme numbers, very long strings and keys. */
    json_t *v = json_pack("{s:[[],{},[[]],[{}]], s:{s:{s:{}}}, s:I, s:I, s:f, s:f}", "empties",
                          "deep", "a", "b", "min", (json_int_t)INT64_MIN, "max", (json_int_t)INT64_MAX,
                          "tiny", 5e-324, "huge", 1.7976931348623157e308);
    char *longs = malloc(200001);
    for (int i = 0; i < 200000; i++) longs[i] = "ab: #\"\\\n\x01 "[i % 11];
    longs[200000] = 0;
    json_object_set_new(v, "long", json_string(longs));
    longs[3000] = 0;
    json_object_set_new(v, longs, json_pack("{s:i}", "x", 1));
    memset(longs, 'k', 1500);
    longs[1500] = 0;
    json_object_set_new(v, longs, json_integer(2));
    free(longs);
    check_round_trip(v);
    json_t *seq = json_pack("[[[[i]]], {s:[{s:[]}]}]", 1, "a", "b");
    check_round_trip(seq);
    json_decref(seq);
    json_decref(v);
}

TEST(yaml_parse_survives_failed_allocations)
{
    const char *doc = "models:\n  xgb:\n    type: xgboost\n    features: [a, b, c]\n"
                      "    params: {max_depth: 4, learning_rate: 0.1}\n  lr:\n    active: false\n";
    size_t base = hml_alloc_live_bytes();
    for (uint64_t n = 1; n < 1000; n++) {
        struct hml_error err;
        json_t *v = NULL;
        hml_error_clear(&err);
        hml_alloc_fail_at(n);
        enum hml_status rc = hml_yaml_parse(doc, strlen(doc), "m.yaml", &v, &err);
        int fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) {
            T_EQ(rc, HML_ENOMEM);
            T_OK(err.message[0] != 0);
        }
        json_decref(v);
        T_EQ(hml_alloc_live_bytes(), base);
        if (!fired) {
            T_EQ(rc, HML_OK);
            return;
        }
    }
    T_OK(!"allocation sweep did not finish");
}
