/* Unit tests for frame.c (columns, dictionaries, frames) and frame_file.c (.hfr). */
#include "t.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/data/frame_int.h"
#include "harness/alloc.h"
#include "harness/buf.h"
#include "harness/frame.h"
#include "harness/fsx.h"
#include "harness/io.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static struct hml_column *int_col(const int64_t *v, size_t n)
{
    struct hml_column *c = hml_column_new(HML_TYPE_I64, n);
    T_OK(c != NULL);
    for (size_t i = 0; i < n; i++) hml_i64(c)[i] = v[i];
    return c;
}

static struct hml_column *str_col(const char *const *v, size_t n)
{
    struct hml_column *c = hml_column_new(HML_TYPE_STR, n);
    T_OK(c != NULL);
    for (size_t i = 0; i < n; i++) {
        if (!v[i]) {
            T_OK(hml_column_set_null(c, i));
            continue;
        }
        hml_codes(c)[i] = hml_dict_intern(c->dict, v[i], strlen(v[i]));
        T_OK(hml_codes(c)[i] >= 0);
    }
    return c;
}

/* Adds c to f under name and drops the caller's reference. */
static void add(struct hml_frame *f, const char *name, struct hml_column *c)
{
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_frame_add(f, name, c, &err), &err);
    hml_column_unref(c);
}

/* A small frame with every type and some nulls. */
static struct hml_frame *sample_frame(void)
{
    struct hml_frame *f = hml_frame_new();
    int64_t ids[] = {1, 2, 3, 4, 5};
    add(f, "id", int_col(ids, 5));
    struct hml_column *x = hml_column_new(HML_TYPE_F64, 5);
    for (int i = 0; i < 5; i++) hml_f64(x)[i] = i * 0.1 - 0.05;
    T_OK(hml_column_set_null(x, 3));
    add(f, "x", x);
    const char *s[] = {"red", "green", NULL, "red", "blue"};
    add(f, "color", str_col(s, 5));
    struct hml_column *b = hml_column_new(HML_TYPE_BOOL, 5);
    hml_bool(b)[1] = 1;
    add(f, "flag", b);
    struct hml_column *d = hml_column_new(HML_TYPE_DATE, 5);
    for (int i = 0; i < 5; i++) hml_days(d)[i] = hml_date_from_ymd(2024, 2, 27 + i % 3);
    T_OK(hml_column_set_null(d, 0));
    add(f, "day", d);
    return f;
}

TEST(frame_dict_interns_and_pointers_stay_valid)
{
    struct hml_dict *d = hml_dict_new();
    T_EQ(hml_dict_intern(d, "alpha", 5), 0);
    const char *alpha = hml_dict_get(d, 0);
    char buf[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(buf, sizeof buf, "s%d", i);
        T_EQ(hml_dict_intern(d, buf, (size_t)n), i + 1);
    }
    /* Not NUL-terminated input, and repeats return the same code. */
    T_EQ(hml_dict_intern(d, "alphabet", 5), 0);
    T_EQ(hml_dict_find(d, "s777", 4), 778);
    T_EQ(hml_dict_find(d, "nope", 4), -1);
    T_EQ(hml_dict_intern(d, "", 0), 100001);
    T_EQ(hml_dict_len(d, 100001), 0);
    T_EQ(hml_dict_size(d), 100002);
    T_OK(alpha == hml_dict_get(d, 0)); /* growth never moves strings */
    T_STREQ(alpha, "alpha");
    T_STREQ(hml_dict_get(d, 500), "s499");
    hml_dict_free(d);
}

TEST(frame_lookup_suggests_nearest_column)
{
    struct hml_frame *f = sample_frame();
    struct hml_error err;
    hml_error_clear(&err);
    size_t idx = 99;
    T_RC(hml_frame_lookup(f, "color", &idx, &err), &err);
    T_EQ(idx, 2);
    T_EQ(hml_frame_lookup(f, "colour", &idx, &err), HML_ENOTFOUND);
    T_CONTAINS(err.message, "column 'colour' not found");
    T_STREQ(err.did_you_mean, "color");
    T_CONTAINS(err.hint, "did you mean 'color'?");
    T_CONTAINS(err.hint, "id, x, color, flag, day");
    T_STREQ(err.valid, "id\nx\ncolor\nflag\nday");
    T_EQ(hml_frame_find(f, "colour"), -1);
    hml_frame_free(f);
}

TEST(frame_add_checks_names_and_rows)
{
    struct hml_frame *f = sample_frame();
    struct hml_error err;
    hml_error_clear(&err);
    int64_t v[] = {1, 2, 3};
    struct hml_column *c = int_col(v, 3);
    T_EQ(hml_frame_add(f, "short", c, &err), HML_EINVAL);
    T_CONTAINS(err.message, "has 3 rows but the frame has 5");
    T_OK(err.hint[0]);
    hml_column_unref(c);
    c = hml_column_new(HML_TYPE_I64, 5);
    T_EQ(hml_frame_add(f, "id", c, &err), HML_ECONFLICT);
    T_EQ(hml_frame_add(f, "", c, &err), HML_EINVAL);
    T_EQ(c->refs, 1);
    T_EQ(hml_frame_replace(f, 0, c, &err), HML_OK);
    T_EQ(c->refs, 2);
    T_EQ(hml_frame_replace(f, 9, c, &err), HML_EINVAL);
    hml_column_unref(c);
    T_EQ(hml_i64(f->cols[0])[4], 0);
    hml_frame_free(f);
}

TEST(frame_rename_and_drop)
{
    struct hml_frame *f = sample_frame();
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_frame_rename(f, "x", "score", &err), &err);
    T_EQ(hml_frame_find(f, "score"), 1);
    T_EQ(hml_frame_find(f, "x"), -1);
    T_EQ(hml_frame_rename(f, "score", "id", &err), HML_ECONFLICT);
    T_EQ(hml_frame_rename(f, "nope", "z", &err), HML_ENOTFOUND);
    T_RC(hml_frame_drop(f, "color", &err), &err);
    T_EQ(f->ncols, 4);
    T_STREQ(f->names[2], "flag");
    T_EQ(hml_frame_drop(f, "color", &err), HML_ENOTFOUND);
    T_STREQ(err.did_you_mean, "");
    hml_frame_free(f);
}

TEST(frame_select_shares_columns)
{
    struct hml_frame *f = sample_frame();
    size_t idx[] = {2, 0};
    struct hml_frame *g = hml_frame_select(f, idx, 2);
    T_OK(g != NULL);
    T_EQ(g->ncols, 2);
    T_EQ(g->nrows, 5);
    T_STREQ(g->names[0], "color");
    T_OK(g->cols[0] == f->cols[2]); /* zero-copy: the same column object */
    T_EQ(f->cols[2]->refs, 2);
    struct hml_frame *h = hml_frame_clone(g);
    T_EQ(f->cols[2]->refs, 3);
    hml_frame_free(f);
    T_EQ(g->cols[0]->refs, 2);
    T_STREQ(hml_column_str(g->cols[0], 4), "blue"); /* outlives the source frame */
    hml_frame_free(g);
    T_EQ(h->cols[0]->refs, 1);
    hml_frame_free(h);
}

TEST(frame_take_gathers_rows_and_compacts_dictionary)
{
    struct hml_frame *f = sample_frame();
    size_t rows[] = {4, 2, 4, 3};
    struct hml_frame *g = hml_frame_take(f, rows, 4);
    T_OK(g != NULL);
    T_EQ(g->nrows, 4);
    struct hml_column *c = g->cols[2];
    T_EQ(hml_dict_size(c->dict), 2); /* "blue", "red": "green" is gone */
    T_STREQ(hml_column_str(c, 0), "blue");
    T_OK(hml_column_is_null(c, 1));
    T_STREQ(hml_column_str(c, 3), "red");
    T_EQ(hml_codes(c)[0], 0);
    T_EQ(hml_i64(g->cols[0])[1], 3);
    T_OK(hml_column_is_null(g->cols[1], 3));
    T_EQ(g->cols[1]->null_count, 1);
    T_OK(g->cols[0] != f->cols[0]);
    hml_frame_free(f);
    hml_frame_free(g);
}

TEST(frame_concat_widens_types)
{
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_frame *a = hml_frame_new(), *b = hml_frame_new();
    int64_t ai[] = {1, 2};
    add(a, "x", int_col(ai, 2));
    const char *as[] = {"p", "q"};
    add(a, "s", str_col(as, 2));
    struct hml_column *bx = hml_column_new(HML_TYPE_F64, 3);
    hml_f64(bx)[0] = 0.5;
    add(b, "x", bx);
    int64_t bs[] = {7, 8, 9};
    add(b, "s", int_col(bs, 3));
    struct hml_column *by = hml_column_new(HML_TYPE_BOOL, 3);
    hml_bool(by)[2] = 1;
    add(b, "y", by);
    struct hml_frame *c = NULL;
    T_RC(hml_frame_concat(a, b, &c, &err), &err);
    T_EQ(c->nrows, 5);
    T_EQ(c->ncols, 3);
    T_EQ(c->cols[0]->type, HML_TYPE_F64);
    T_NEAR(hml_f64(c->cols[0])[1], 2.0, 0);
    T_NEAR(hml_f64(c->cols[0])[2], 0.5, 0);
    T_EQ(c->cols[1]->type, HML_TYPE_STR);
    T_STREQ(hml_column_str(c->cols[1], 0), "p");
    T_STREQ(hml_column_str(c->cols[1], 4), "9");
    T_STREQ(c->names[2], "y");
    T_EQ(c->cols[2]->type, HML_TYPE_BOOL);
    T_EQ(c->cols[2]->null_count, 2);
    T_OK(hml_column_is_null(c->cols[2], 1));
    T_EQ(hml_bool(c->cols[2])[4], 1);
    hml_frame_free(a);
    hml_frame_free(b);
    hml_frame_free(c);
}

TEST(frame_fingerprint_tracks_content)
{
    struct hml_frame *f = sample_frame(), *g = sample_frame();
    uint64_t h = hml_frame_fingerprint(f);
    T_OK(h == hml_frame_fingerprint(g)); /* same content, separately built */
    struct hml_frame *cl = hml_frame_clone(f);
    T_OK(h == hml_frame_fingerprint(cl));
    hml_frame_free(cl);
    /* Strings hash by content: the same values with different codes agree. */
    struct hml_column *s1 = hml_column_new(HML_TYPE_STR, 2), *s2 = hml_column_new(HML_TYPE_STR, 2);
    hml_dict_intern(s2->dict, "zzz", 3);
    hml_codes(s1)[0] = hml_dict_intern(s1->dict, "a", 1);
    hml_codes(s1)[1] = hml_dict_intern(s1->dict, "b", 1);
    hml_codes(s2)[0] = hml_dict_intern(s2->dict, "a", 1);
    hml_codes(s2)[1] = hml_dict_intern(s2->dict, "b", 1);
    struct hml_frame *p = hml_frame_new(), *q = hml_frame_new();
    add(p, "s", s1);
    add(q, "s", s2);
    T_OK(hml_frame_fingerprint(p) == hml_frame_fingerprint(q));
    hml_frame_free(p);
    hml_frame_free(q);
    /* One value, one null bit, one name: each changes it. */
    struct hml_column *x = hml_column_copy(g->cols[1]);
    double orig = hml_f64(x)[0];
    hml_f64(x)[0] = nextafter(orig, 1.0);
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_frame_replace(g, 1, x, &err), &err);
    T_OK(h != hml_frame_fingerprint(g));
    hml_f64(x)[0] = orig;
    T_OK(h == hml_frame_fingerprint(g));
    hml_column_unref(x);
    T_OK(hml_column_set_null(g->cols[0], 0));
    T_OK(h != hml_frame_fingerprint(g));
    T_EQ(hml_i64(g->cols[0])[0], 0); /* a null's value is zeroed */
    hml_column_set_valid(g->cols[0], 0);
    hml_i64(g->cols[0])[0] = 1;
    T_OK(h == hml_frame_fingerprint(g));
    T_RC(hml_frame_rename(g, "flag", "flags", &err), &err);
    T_OK(h != hml_frame_fingerprint(g));
    hml_frame_free(f);
    hml_frame_free(g);
}

TEST(frame_format_round_trips)
{
    struct hml_column *c = hml_column_new(HML_TYPE_F64, 1);
    char buf[64];
    hml_f64(c)[0] = 0.1;
    hml_column_format(c, 0, buf, sizeof buf);
    T_STREQ(buf, "0.1");
    hml_f64(c)[0] = 42.0;
    hml_column_format(c, 0, buf, sizeof buf);
    T_STREQ(buf, "42.0");
    hml_f64(c)[0] = 1.0 / 3.0;
    hml_column_format(c, 0, buf, sizeof buf);
    T_STREQ(buf, "0.3333333333333333");
    hml_f64(c)[0] = -1e300;
    hml_column_format(c, 0, buf, sizeof buf);
    T_STREQ(buf, "-1e+300");
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, 8);
        if (isnan(v) || isinf(v)) continue;
        hml_f64(c)[0] = v;
        hml_column_format(c, 0, buf, sizeof buf);
        T_OK(strtod(buf, NULL) == v);
    }
    T_EQ(hml_column_format(c, 0, buf, 4), 3); /* truncates, stays terminated */
    T_EQ(strlen(buf), 3);
    T_OK(hml_column_set_null(c, 0));
    T_EQ(hml_column_format(c, 0, buf, sizeof buf), 0);
    T_OK(isnan(hml_column_num(c, 0)));
    hml_column_unref(c);
    struct hml_frame *f = sample_frame();
    hml_column_format(f->cols[0], 1, buf, sizeof buf);
    T_STREQ(buf, "2");
    hml_column_format(f->cols[3], 1, buf, sizeof buf);
    T_STREQ(buf, "true");
    hml_column_format(f->cols[4], 2, buf, sizeof buf);
    T_STREQ(buf, "2024-02-29");
    hml_column_format(f->cols[4], 3, buf, sizeof buf);
    T_STREQ(buf, "2024-02-27");
    T_NEAR(hml_column_num(f->cols[3], 1), 1.0, 0);
    T_OK(isnan(hml_column_num(f->cols[2], 0)));
    T_OK(hml_column_str(f->cols[0], 0) == NULL);
    hml_frame_free(f);
}

TEST(frame_dates_and_types)
{
    T_EQ(hml_date_from_ymd(1970, 1, 1), 0);
    T_EQ(hml_date_from_ymd(2000, 3, 1), 11017);
    T_EQ(hml_date_from_ymd(1969, 12, 31), -1);
    for (int32_t d = -800000; d < 800000; d += 37) {
        int y, m, dd;
        hml_date_to_ymd(d, &y, &m, &dd);
        T_EQ(hml_date_from_ymd(y, m, dd), d);
    }
    int32_t days;
    T_OK(hml_date_parse("2024-02-29", 10, &days));
    T_EQ(days, hml_date_from_ymd(2024, 2, 29));
    T_OK(!hml_date_parse("2023-02-29", 10, &days));
    T_OK(!hml_date_parse("1900-02-29", 10, &days));
    T_OK(hml_date_parse("2000-02-29", 10, &days));
    T_OK(!hml_date_parse("2024-1-01", 9, &days));
    T_OK(!hml_date_parse("2024-13-01", 10, &days));
    T_OK(!hml_date_parse("2024-04-31", 10, &days));
    T_OK(!hml_date_parse("2024/04/30", 10, &days));
    enum hml_type t;
    T_OK(hml_type_parse("Integer", &t) && t == HML_TYPE_I64);
    T_OK(hml_type_parse("double", &t) && t == HML_TYPE_F64);
    T_OK(hml_type_parse("str", &t) && t == HML_TYPE_STR);
    T_OK(!hml_type_parse("complex", &t));
    T_STREQ(hml_type_name(HML_TYPE_DATE), "date");
}

TEST(frame_column_copy_is_deep)
{
    struct hml_frame *f = sample_frame();
    struct hml_column *c = hml_column_copy(f->cols[2]);
    T_OK(c->dict != f->cols[2]->dict);
    T_EQ(c->null_count, 1);
    T_STREQ(hml_column_str(c, 1), "green");
    hml_codes(c)[0] = hml_dict_intern(c->dict, "violet", 6);
    T_STREQ(hml_column_str(f->cols[2], 0), "red");
    T_OK(hml_frame_bytes(f) > 5 * (8 + 8 + 4 + 1 + 4));
    hml_column_unref(c);
    hml_frame_free(f);
}

/* ---- frame file -------------------------------------------------------------------- */

TEST(frame_file_round_trip)
{
    struct hml_frame *f = sample_frame(), *g = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    char *path = hml_path_join(t_tmpdir(), "f.hfr");
    T_RC(hml_frame_save(f, path, &err), &err);
    T_RC(hml_frame_load(path, &g, &err), &err);
    T_OK(hml_frame_fingerprint(f) == hml_frame_fingerprint(g));
    T_EQ(g->nrows, 5);
    T_STREQ(g->names[4], "day");
    T_EQ(g->cols[1]->null_count, 1);
    T_STREQ(hml_column_str(g->cols[2], 4), "blue");
    hml_frame_free(g);
    /* An empty frame and a zero-row frame round-trip too. */
    struct hml_frame *e = hml_frame_new();
    struct hml_buf b = HML_BUF_INIT;
    T_RC(hml_frame_encode(e, &b, &err), &err);
    T_RC(hml_frame_decode(b.p, b.len, &g, &err), &err);
    T_EQ(g->ncols, 0);
    hml_frame_free(g);
    hml_frame_free(e);
    size_t none = 0;
    e = hml_frame_take(f, &none, 0);
    T_RC(hml_frame_encode(e, &b, &err), &err);
    T_RC(hml_frame_decode(b.p, b.len, &g, &err), &err);
    T_EQ(g->ncols, 5);
    T_EQ(g->nrows, 0);
    T_OK(hml_frame_fingerprint(e) == hml_frame_fingerprint(g));
    hml_frame_free(g);
    hml_frame_free(e);
    hml_buf_free(&b);
    hml_frame_free(f);
    hml_free(path);
}

TEST(frame_file_detects_damage)
{
    struct hml_frame *f = sample_frame(), *g = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    char *path = hml_path_join(t_tmpdir(), "f.hfr");
    T_RC(hml_frame_save(f, path, &err), &err);
    char *data = NULL;
    size_t len = 0;
    T_RC(hml_read_file(path, 1 << 20, &data, &len, &err), &err);
    data[len / 2] ^= 0x10;
    T_RC(hml_write_atomic(path, data, len, &err), &err);
    T_EQ(hml_frame_load(path, &g, &err), HML_EIO);
    T_OK(g == NULL);
    char want[600];
    snprintf(want, sizeof want, "frame file '%s' is damaged (checksum mismatch)", path);
    T_STREQ(err.message, want);
    T_STREQ(err.hint, "delete it; it will be rebuilt");
    data[len / 2] ^= 0x10;
    for (size_t cut = 0; cut < len; cut += 7) {
        T_OK(hml_frame_decode(data, cut, &g, &err) != HML_OK);
        T_OK(err.message[0] && err.hint[0]);
    }
    T_RC(hml_frame_decode(data, len, &g, &err), &err);
    hml_frame_free(g);
    T_EQ(hml_frame_load("/nonexistent/x.hfr", &g, &err), HML_ENOTFOUND);
    T_OK(err.hint[0]);
    hml_free(data);
    hml_free(path);
    hml_frame_free(f);
}

static void reseal(unsigned char *p, size_t len)
{
    uint64_t h = hml__hash_bytes(p, len - 8, HML__HFR_SEED);
    memcpy(p + len - 8, &h, 8);
}

/* Garbage, and valid files mutated then resealed (so the parser itself sees the
 * damage), must fail cleanly and never crash or leak. */
TEST(frame_file_decode_survives_garbage)
{
    struct hml_frame *f = sample_frame(), *g = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_buf b = HML_BUF_INIT;
    T_RC(hml_frame_encode(f, &b, &err), &err);
    size_t base = hml_alloc_live_bytes();
    unsigned char junk[512];
    for (int i = 0; i < 3000; i++) {
        size_t n = rnd() % sizeof junk;
        for (size_t k = 0; k < n; k++) junk[k] = (unsigned char)rnd();
        if (i % 2 && n >= 8) memcpy(junk, "HMLFRAME", 8);
        T_OK(hml_frame_decode(junk, n, &g, &err) != HML_OK);
    }
    unsigned char *m = hml_malloc(b.len);
    int decoded = 0;
    for (int i = 0; i < 20000; i++) {
        memcpy(m, b.p, b.len);
        int flips = 1 + (int)(rnd() % 4);
        for (int k = 0; k < flips; k++) m[8 + rnd() % (b.len - 16)] ^= (unsigned char)(1u << (rnd() % 8));
        reseal(m, b.len);
        if (hml_frame_decode(m, b.len, &g, &err) == HML_OK) {
            decoded++; /* e.g. a flipped float bit: still a well-formed frame */
            hml_frame_free(g);
        } else {
            T_OK(err.message[0]);
        }
    }
    T_OK(decoded > 0);
    hml_free(m);
    T_EQ(hml_alloc_live_bytes(), base);
    hml_buf_free(&b);
    hml_frame_free(f);
}

/* Runs a chain of frame operations; returns true when all of them succeeded. Frees
 * everything either way. */
static bool frame_ops(const struct hml_frame *f)
{
    struct hml_error err;
    hml_error_clear(&err);
    size_t rows[] = {4, 0, 2, 2};
    size_t idx[] = {2, 4};
    struct hml_frame *t = hml_frame_take(f, rows, 4), *c = NULL, *d = NULL;
    struct hml_frame *s = hml_frame_select(f, idx, 2), *k = hml_frame_clone(f);
    struct hml_column *copy = hml_column_copy(f->cols[2]);
    struct hml_buf b = HML_BUF_INIT;
    bool ok = t && s && k && copy;
    if (ok) ok = hml_frame_concat(f, t, &c, &err) == HML_OK;
    if (ok) ok = hml_frame_encode(c, &b, &err) == HML_OK;
    if (ok) ok = hml_frame_decode(b.p, b.len, &d, &err) == HML_OK;
    if (ok) ok = hml_frame_fingerprint(c) == hml_frame_fingerprint(d) && d->nrows == 9;
    hml_buf_free(&b);
    hml_column_unref(copy);
    hml_frame_free(t);
    hml_frame_free(s);
    hml_frame_free(k);
    hml_frame_free(c);
    hml_frame_free(d);
    return ok;
}

TEST(frame_fail_nth_allocation_never_leaks)
{
    struct hml_frame *f = sample_frame();
    size_t base = hml_alloc_live_bytes();
    int failures = 0;
    bool clean = false;
    for (uint64_t n = 1; n < 10000 && !clean; n++) {
        hml_alloc_fail_at(n);
        bool ok = frame_ops(f);
        bool fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        T_EQ(hml_alloc_live_bytes(), base);
        failures += !ok;
        if (!fired) {
            T_OK(ok);
            clean = true;
        }
    }
    T_OK(clean);
    T_OK(failures > 20);
    hml_frame_free(f);
}
