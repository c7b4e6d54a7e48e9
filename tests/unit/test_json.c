/* Unit tests for json: limits, duplicate keys, canonical text, getters, shim routing. */
#include "t.h"

#include "harness/alloc.h"
#include "harness/json.h"

static char *nest(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    for (size_t i = 0; i < depth; i++) s[i] = '[', s[2 * depth - 1 - i] = ']';
    s[2 * depth] = 0;
    return s;
}

TEST(json_depth_limit_is_64)
{
    struct hml_error err;
    json_t *v = NULL;
    char *ok = nest(64), *deep = nest(65);
    T_RC(hml_json_parse(ok, strlen(ok), &v, &err), &err);
    T_EQ(hml_json_depth(v), 64);
    json_decref(v);
    hml_error_clear(&err);
    T_EQ(hml_json_parse(deep, strlen(deep), &v, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "deeper than 64");
    T_OK(err.hint[0] != 0);
    /* Brackets inside strings do not count. */
    const char *s = "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
    T_RC(hml_json_parse(s, strlen(s), &v, &err), &err);
    json_decref(v);
    free(ok);
    free(deep);
}

TEST(json_rejects_duplicates_with_position)
{
    struct hml_error err;
    json_t *v = NULL;
    const char *s = "{\n  \"a\": 1,\n  \"a\": 2\n}";
    hml_error_clear(&err);
    T_EQ(hml_json_parse(s, strlen(s), &v, &err), HML_EINVAL);
    T_CONTAINS(err.message, "invalid JSON at line 3");
    T_CONTAINS(err.message, "duplicate");
    T_CONTAINS(err.hint, "once");
    T_OK(v == NULL);
}

TEST(json_syntax_error_names_line_and_column)
{
    struct hml_error err;
    json_t *v = NULL;
    const char *s = "{\"a\": 1,}";
    hml_error_clear(&err);
    T_EQ(hml_json_parse(s, strlen(s), &v, &err), HML_EINVAL);
    T_CONTAINS(err.message, "line 1, column");
    T_OK(err.hint[0] != 0);
    /* \u0000 inside a string is refused (NUL is never allowed). */
    const char *nul = "\"a\\u0000b\"";
    T_EQ(hml_json_parse(nul, strlen(nul), &v, &err), HML_EINVAL);
    /* Scalars are fine at the top level. */
    T_RC(hml_json_parse("42", 2, &v, &err), &err);
    T_EQ(json_integer_value(v), 42);
    json_decref(v);
}

TEST(json_size_limit)
{
    struct hml_error err;
    json_t *v = NULL;
    hml_error_clear(&err);
    T_EQ(hml_json_parse("1", (size_t)HML_JSON_BYTES_MAX + 1, &v, &err), HML_ELIMIT);
    T_OK(err.hint[0] != 0);
}

TEST(json_canonical_ignores_key_order)
{
    struct hml_error err;
    json_t *a, *b;
    const char *ta = "{\"b\": [1, 2.5, {\"y\": null, \"x\": true}], \"a\": \"s\", \"c\": 0.1}";
    const char *tb = "{\"c\": 0.1, \"a\": \"s\", \"b\": [1, 2.5, {\"x\": true, \"y\": null}]}";
    T_RC(hml_json_parse(ta, strlen(ta), &a, &err), &err);
    T_RC(hml_json_parse(tb, strlen(tb), &b, &err), &err);
    char *ca = hml_json_canonical(a), *cb = hml_json_canonical(b);
    T_STREQ(ca, cb);
    T_STREQ(ca, "{\"a\":\"s\",\"b\":[1,2.5,{\"x\":true,\"y\":null}],\"c\":0.10000000000000001}");
    /* Pretty keeps insertion order. */
    char *pa = hml_json_pretty(a);
    T_OK(strstr(pa, "\"b\"") < strstr(pa, "\"a\""));
    hml_free(ca);
    hml_free(cb);
    hml_free(pa);
    json_decref(a);
    json_decref(b);
}

TEST(json_getters_and_set)
{
    json_t *o = json_pack("{s:s, s:i, s:f, s:b, s:n, s:f}", "s", "x", "i", 7, "f", 2.5, "b", 1,
                          "n", "whole", 5.0);
    T_STREQ(hml_json_str(o, "s", "d"), "x");
    T_STREQ(hml_json_str(o, "missing", "d"), "d");
    T_STREQ(hml_json_str(o, "n", "d"), "d");
    T_STREQ(hml_json_str(o, "i", "d"), "d");
    T_EQ(hml_json_int(o, "i", -1), 7);
    T_EQ(hml_json_int(o, "whole", -1), 5);
    T_EQ(hml_json_int(o, "f", -1), -1);
    T_NEAR(hml_json_num(o, "i", 0), 7.0, 0);
    T_NEAR(hml_json_num(o, "f", 0), 2.5, 0);
    T_OK(hml_json_bool(o, "b", false));
    T_OK(!hml_json_bool(o, "n", false));
    T_OK(hml_json_set(o, "new", json_integer(3)));
    T_EQ(hml_json_int(o, "new", 0), 3);
    T_OK(!hml_json_set(o, "x", NULL));
    T_EQ(hml_json_depth(o), 1);
    json_decref(o);
}

TEST(json_allocates_through_shim)
{
    size_t base = hml_alloc_live_bytes();
    json_t *o = json_pack("{s:[i,i,i], s:s}", "a", 1, 2, 3, "b", "hello world");
    T_OK(hml_alloc_live_bytes() > base);
    json_decref(o);
    T_EQ(hml_alloc_live_bytes(), base);
}

TEST(json_parse_survives_failed_allocations)
{
    const char *s = "{\"a\": [1, 2, {\"b\": \"text\"}], \"c\": {\"d\": 1.5}}";
    size_t base = hml_alloc_live_bytes();
    for (uint64_t n = 1; n < 1000; n++) {
        struct hml_error err;
        json_t *v = NULL;
        hml_error_clear(&err);
        hml_alloc_fail_at(n);
        enum hml_status rc = hml_json_parse(s, strlen(s), &v, &err);
        int fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) T_OK(err.message[0] != 0);
        json_decref(v);
        T_EQ(hml_alloc_live_bytes(), base);
        if (!fired) {
            T_EQ(rc, HML_OK);
            return;
        }
    }
    T_OK(!"allocation sweep did not finish");
}
