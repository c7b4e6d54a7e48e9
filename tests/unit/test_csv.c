/* Unit tests for csv.c (reader and writer) and jsonl.c. */
#include "t.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "core/data/csv_int.h"
#include "harness/alloc.h"
#include "harness/buf.h"
#include "harness/frame.h"
#include "harness/fsx.h"
#include "harness/io.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static enum hml_status read_csv(const char *text, const struct hml_csv_options *opt,
                                struct hml_frame **f, struct hml_ingest_report *rep,
                                struct hml_error *err)
{
    hml_error_clear(err);
    *f = NULL;
    return hml_csv_read_mem(text, strlen(text), opt, f, rep, err);
}

/* Reads text that must parse; the report is finished here unless rep is given. */
static struct hml_frame *must_read(const char *text, const struct hml_csv_options *opt,
                                   struct hml_ingest_report *rep)
{
    struct hml_ingest_report local;
    struct hml_error err;
    struct hml_frame *f = NULL;
    T_RC(read_csv(text, opt, &f, rep ? rep : &local, &err), &err);
    if (!rep) hml_ingest_report_fini(&local);
    return f;
}

static const struct hml_column *col(const struct hml_frame *f, const char *name)
{
    long i = hml_frame_find(f, name);
    if (i < 0) t_failf(__FILE__, __LINE__, "no column '%s'", name);
    return f->cols[i];
}

static const char *warning_with(const struct hml_ingest_report *rep, const char *needle)
{
    for (size_t i = 0; i < rep->warnings_n; i++)
        if (strstr(rep->warnings[i], needle)) return rep->warnings[i];
    return NULL;
}

static char *write_tmp(const char *name, const void *data, size_t n)
{
    char *path = hml_path_join(t_tmpdir(), name);
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_write_atomic(path, data, n, &err), &err);
    return path;
}

/* ---- messy_titanic.csv ------------------------------------------------------------- */

TEST(csv_messy_titanic_default_read_lists_ragged_lines)
{
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    hml_error_clear(&err);
    enum hml_status rc = hml_csv_read_file(t_shared_data("messy_titanic.csv"), NULL, &f, &rep, &err);
    T_EQ(rc, HML_EINVAL);
    T_OK(f == NULL);
    /* Records after ids 5, 17 and 41 start one physical line later each (embedded
     * line breaks), so ids 60, 61, 90, 91 sit on lines 64, 65, 94, 95. */
    T_STREQ(err.message, "4 rows have the wrong number of fields (the header has 12): line 64 has "
                         "14, line 65 has 13, line 94 has 10, line 95 has 11");
    T_STREQ(err.hint, "fix the file, or pass auto_clean=true to skip these rows");
    T_EQ(rep.ragged, 4);
    T_EQ(rep.skipped, 0);
    hml_ingest_report_fini(&rep);
}

static struct hml_frame *read_messy(struct hml_ingest_report *rep)
{
    struct hml_csv_options opt = {.auto_clean = true};
    struct hml_frame *f = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_csv_read_file(t_shared_data("messy_titanic.csv"), &opt, &f, rep, &err), &err);
    return f;
}

TEST(csv_messy_titanic_auto_clean_shape_types_and_quirks)
{
    struct hml_ingest_report rep;
    struct hml_frame *f = read_messy(&rep);
    T_EQ(f->nrows, 196);
    T_EQ(f->ncols, 12);
    T_EQ(rep.rows, 196);
    T_EQ(rep.ragged, 4);
    T_EQ(rep.skipped, 4);
    static const char *const names[] = {"passenger_id", "name", "gender", "age", "class",
                                        "embarked", "country", "ticketno", "fare", "sibsp",
                                        "sibsp_2", "survived"};
    static const enum hml_type types[] = {HML_TYPE_I64, HML_TYPE_STR, HML_TYPE_STR, HML_TYPE_F64,
                                          HML_TYPE_STR, HML_TYPE_STR, HML_TYPE_STR, HML_TYPE_I64,
                                          HML_TYPE_F64, HML_TYPE_I64, HML_TYPE_I64, HML_TYPE_I64};
    for (size_t j = 0; j < 12; j++) {
        T_STREQ(f->names[j], names[j]); /* BOM stripped from the first */
        T_EQ(f->cols[j]->type, types[j]);
    }
    T_OK(warning_with(&rep, "duplicate column name 'sibsp' (columns 10 and 11): column 11 is "
                            "renamed 'sibsp_2'"));
    T_OK(warning_with(&rep, "skipped 4 rows with the wrong number of fields (the header has 12): "
                            "lines 64, 65, 94, 95"));
    T_STREQ(hml_column_str(col(f, "name"), 4), "Abelseth,\nMiss. Karen Marie"); /* id 5 */
    T_OK(strstr(hml_column_str(col(f, "name"), 40), ",\r\n")); /* id 41: CRLF kept */
    T_OK(strchr(hml_column_str(col(f, "name"), 16), '\n'));   /* id 17 */
    /* README: masked ages (ids 8-10); fare 46, 145, 151, 190; country 118, 119, 122,
     * 132, 139, 152, 170 (id 90 is skipped); sibsp 145, 151; parch 145, 151. */
    T_EQ(col(f, "age")->null_count, 3);
    T_EQ(col(f, "fare")->null_count, 4);
    T_EQ(col(f, "country")->null_count, 7);
    T_EQ(col(f, "sibsp")->null_count, 2);
    T_EQ(col(f, "sibsp_2")->null_count, 2);
    T_EQ(rep.nulls, 3 + 4 + 7 + 2 + 2);
    T_OK(hml_column_is_null(col(f, "age"), 7));
    T_OK(hml_column_is_null(col(f, "country"), 118 - 1 - 4)); /* 4 skipped rows before it */
    T_NEAR(hml_f64(col(f, "age"))[0], 42.0, 0);
    hml_frame_free(f);
    hml_ingest_report_fini(&rep);
}

static bool same_cell(const struct hml_column *a, size_t i, const struct hml_column *b, size_t k)
{
    if (hml_column_is_null(a, i) || hml_column_is_null(b, k))
        return hml_column_is_null(a, i) && hml_column_is_null(b, k);
    if (a->type == HML_TYPE_STR || b->type == HML_TYPE_STR) {
        const char *x = hml_column_str(a, i), *y = hml_column_str(b, k);
        return x && y && strcmp(x, y) == 0;
    }
    return hml_column_num(a, i) == hml_column_num(b, k);
}

/* Differential: every kept messy row must equal titanic.csv's row for the same id,
 * apart from the documented masks and line breaks. */
TEST(csv_messy_titanic_matches_clean_titanic)
{
    struct hml_ingest_report rep;
    struct hml_frame *m = read_messy(&rep);
    hml_ingest_report_fini(&rep);
    struct hml_frame *t = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_csv_read_file(t_shared_data("titanic.csv"), NULL, &t, &rep, &err), &err);
    T_EQ(rep.warnings_n, 0);
    hml_ingest_report_fini(&rep);
    T_EQ(t->nrows, 1317);
    size_t compared = 0, masked = 0;
    const struct hml_column *ids = col(m, "passenger_id");
    for (size_t i = 0; i < m->nrows; i++) {
        int64_t id = hml_i64(ids)[i];
        T_OK(id >= 1 && id <= 200 && id != 60 && id != 61 && id != 90 && id != 91);
        size_t k = (size_t)id - 1;
        T_EQ(hml_i64(col(t, "passenger_id"))[k], id);
        for (size_t j = 0; j < m->ncols; j++) {
            const char *tn = strcmp(m->names[j], "sibsp_2") == 0 ? "parch" : m->names[j];
            const struct hml_column *a = m->cols[j], *b = col(t, tn);
            if (strcmp(tn, "age") == 0 && id >= 8 && id <= 10) {
                T_OK(hml_column_is_null(a, i));
                T_NEAR(hml_column_num(b, k), id == 8 ? 28.0 : id == 9 ? 27.0 : 20.0, 0);
                masked++;
                continue;
            }
            if (strcmp(tn, "name") == 0 && (id == 5 || id == 17 || id == 41)) {
                char fixed[256];
                const char *s = hml_column_str(a, i);
                size_t o = 0;
                for (; *s && o + 1 < sizeof fixed; s++) {
                    if (*s == '\r') continue;
                    fixed[o++] = *s == '\n' ? ' ' : *s;
                }
                fixed[o] = 0;
                T_STREQ(fixed, hml_column_str(b, k));
                masked++;
                continue;
            }
            if (!same_cell(a, i, b, k))
                t_failf(__FILE__, __LINE__, "id %lld column %s differs", (long long)id, tn);
            compared++;
        }
    }
    T_EQ(masked, 6);
    T_EQ(compared, 196 * 12 - 6);
    hml_frame_free(m);
    hml_frame_free(t);
}

/* ---- syntax -------------------------------------------------------------------------- */

TEST(csv_quoting_edge_cases)
{
    const char *text = "id,text,n\r\n"
                       "1,\"a,b\",\"42\"\r\n"
                       "2,\"say \"\"hi\"\"\",7\r\n"
                       "3,\"two\nlines\",8\n"
                       "4,\"crlf\r\ninside\",9\r\n"
                       "5,\"\"\"\",10\n"
                       "6,\"x\"tail,11\n"
                       "7,plain \"quote\" mid,12\n"
                       "8,,13\n"
                       "9,\"\",14";
    struct hml_frame *f = must_read(text, NULL, NULL);
    T_EQ(f->nrows, 9);
    const struct hml_column *t = col(f, "text"), *n = col(f, "n");
    T_STREQ(hml_column_str(t, 0), "a,b");
    T_STREQ(hml_column_str(t, 1), "say \"hi\"");
    T_STREQ(hml_column_str(t, 2), "two\nlines");
    T_STREQ(hml_column_str(t, 3), "crlf\r\ninside");
    T_STREQ(hml_column_str(t, 4), "\"");
    T_STREQ(hml_column_str(t, 5), "xtail");
    T_STREQ(hml_column_str(t, 6), "plain \"quote\" mid");
    T_OK(hml_column_is_null(t, 7));
    T_OK(hml_column_is_null(t, 8)); /* an explicitly quoted "" is null too */
    T_EQ(n->type, HML_TYPE_I64);    /* "42" quoted is still a number */
    T_EQ(hml_i64(n)[0], 42);
    T_EQ(hml_i64(n)[8], 14);        /* last line without a newline */
    hml_frame_free(f);
}

TEST(csv_line_endings_bom_and_blank_lines)
{
    const char *variants[] = {
        "a,b\n1,x\n2,y\n",
        "a,b\r\n1,x\r\n2,y\r\n",
        "a,b\r\n1,x\r\n2,y",
        "\xef\xbb\xbf" "a,b\n1,x\n2,y",
        "\n\na,b\n1,x\n\n2,y\n\n",
        "a,b\r1,x\r2,y\r",
    };
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        struct hml_frame *f = must_read(variants[v], NULL, NULL);
        T_EQ(f->nrows, 2);
        T_STREQ(f->names[0], "a");
        T_EQ(hml_i64(f->cols[0])[1], 2);
        T_STREQ(hml_column_str(f->cols[1], 1), "y");
        hml_frame_free(f);
    }
}

TEST(csv_delimiter_option)
{
    struct hml_csv_options opt = {.delimiter = ';'};
    struct hml_frame *f = must_read("a;b\n1,5;x\n", &opt, NULL);
    T_EQ(f->ncols, 2);
    T_STREQ(hml_column_str(f->cols[0], 0), "1,5");
    hml_frame_free(f);
    opt.delimiter = '\t';
    f = must_read("a\tb\n1\t2\n", &opt, NULL);
    T_EQ(hml_i64(f->cols[1])[0], 2);
    hml_frame_free(f);
    struct hml_error err;
    struct hml_ingest_report rep;
    opt.delimiter = '"';
    T_EQ(read_csv("a\n1\n", &opt, &f, &rep, &err), HML_EINVAL);
    T_OK(err.hint[0]);
    hml_ingest_report_fini(&rep);
}

/* ---- type inference ------------------------------------------------------------------ */

TEST(csv_infers_types)
{
    const char *text = "i,f,b,d,s,bin,mixed,e,inf,nul,big,dbad\n"
                       "1,1.5,true,2024-02-29,x,0,1,1e5,inf,,9223372036854775807,2024-02-29\n"
                       "-2,-0.25,FALSE,1999-12-31,y,1,2.5,-2.5E-3,1,NA,-9223372036854775808,2023-02-29\n"
                       "+3,.5,True,2000-01-01,z,1,3,7,2,,1,2024-01-01\n";
    struct hml_frame *f = must_read(text, NULL, NULL);
    T_EQ(col(f, "i")->type, HML_TYPE_I64);
    T_EQ(hml_i64(col(f, "i"))[2], 3);
    T_EQ(col(f, "f")->type, HML_TYPE_F64);
    T_NEAR(hml_f64(col(f, "f"))[2], 0.5, 0);
    T_EQ(col(f, "b")->type, HML_TYPE_BOOL);
    T_EQ(hml_bool(col(f, "b"))[1], 0);
    T_EQ(hml_bool(col(f, "b"))[2], 1);
    T_EQ(col(f, "d")->type, HML_TYPE_DATE);
    T_EQ(hml_days(col(f, "d"))[2], 10957);
    T_EQ(col(f, "s")->type, HML_TYPE_STR);
    T_EQ(col(f, "bin")->type, HML_TYPE_I64); /* 0/1 stay ints */
    T_EQ(col(f, "mixed")->type, HML_TYPE_F64); /* int + float -> float */
    T_NEAR(hml_f64(col(f, "mixed"))[0], 1.0, 0);
    T_EQ(col(f, "e")->type, HML_TYPE_F64);
    T_NEAR(hml_f64(col(f, "e"))[1], -2.5e-3, 0);
    T_EQ(col(f, "inf")->type, HML_TYPE_STR); /* inf spelled out is not a number */
    T_EQ(col(f, "nul")->type, HML_TYPE_F64);  /* all null -> float, all null */
    T_EQ(col(f, "nul")->null_count, 3);
    T_EQ(col(f, "big")->type, HML_TYPE_I64);
    T_EQ(hml_i64(col(f, "big"))[1], INT64_MIN);
    T_EQ(col(f, "dbad")->type, HML_TYPE_STR); /* 2023-02-29 is no date */
    T_STREQ(hml_column_str(col(f, "dbad"), 0), "2024-02-29");
    hml_frame_free(f);
    f = must_read("x,y\n99999999999999999999,1\n1,2\n", NULL, NULL);
    T_EQ(col(f, "x")->type, HML_TYPE_F64); /* beyond int64 */
    T_NEAR(hml_f64(col(f, "x"))[0], 1e20, 0);
    hml_frame_free(f);
}

TEST(csv_null_tokens_default_and_custom)
{
    const char *text = "a,b,c\n1,None,x\nNA,None,N/A\nnull,Some,?\nNULL,,nan\nNaN,None,y\n5,x,z\n";
    struct hml_frame *f = must_read(text, NULL, NULL);
    T_EQ(col(f, "a")->type, HML_TYPE_I64);
    T_EQ(col(f, "a")->null_count, 4);
    T_EQ(hml_i64(col(f, "a"))[5], 5);
    T_EQ(col(f, "b")->type, HML_TYPE_STR);
    T_STREQ(hml_column_str(col(f, "b"), 0), "None"); /* a real category in ames.csv */
    T_EQ(col(f, "b")->null_count, 1);
    T_EQ(col(f, "c")->null_count, 3);
    hml_frame_free(f);
    const char *const custom[] = {"-", "missing"};
    struct hml_csv_options opt = {.null_tokens = custom, .null_tokens_n = 2};
    f = must_read("a,b\n-,NA\n2,missing\n3,\n", &opt, NULL);
    T_EQ(col(f, "a")->type, HML_TYPE_I64);
    T_EQ(col(f, "a")->null_count, 1);
    T_EQ(col(f, "b")->type, HML_TYPE_STR);
    T_STREQ(hml_column_str(col(f, "b"), 0), "NA"); /* no longer a null token */
    T_OK(hml_column_is_null(col(f, "b"), 1));
    T_STREQ(hml_column_str(col(f, "b"), 2), ""); /* "" not in the custom list */
    hml_frame_free(f);
}

static char *numeric_column_text(size_t rows, const char *odd, size_t odd_row)
{
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_puts(&b, "id,v\n");
    for (size_t i = 0; i < rows; i++) {
        if (i == odd_row) hml_buf_printf(&b, "%zu,%s\n", i, odd);
        else hml_buf_printf(&b, "%zu,%zu\n", i, i * 3);
    }
    return hml_buf_detach(&b);
}

TEST(csv_mostly_numeric_with_na_stays_numeric)
{
    char *text = numeric_column_text(100, "NA", 40);
    struct hml_ingest_report rep;
    struct hml_frame *f = must_read(text, NULL, &rep);
    T_EQ(col(f, "v")->type, HML_TYPE_I64);
    T_EQ(col(f, "v")->null_count, 1);
    T_EQ(rep.warnings_n, 0);
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
    hml_free(text);
}

TEST(csv_mostly_numeric_with_unknown_becomes_string_and_warns)
{
    char *text = numeric_column_text(100, "unknown", 40);
    struct hml_ingest_report rep;
    struct hml_frame *f = must_read(text, NULL, &rep);
    const struct hml_column *v = col(f, "v");
    T_EQ(v->type, HML_TYPE_STR);
    /* Values stored as numbers before the switch come back as their text. */
    T_STREQ(hml_column_str(v, 0), "0");
    T_STREQ(hml_column_str(v, 39), "117");
    T_STREQ(hml_column_str(v, 40), "unknown");
    T_STREQ(hml_column_str(v, 99), "297");
    T_EQ(hml_codes(v)[0], 0); /* codes in first-seen order */
    T_EQ(hml_codes(v)[40], 40);
    T_EQ(col(f, "id")->type, HML_TYPE_I64);
    const char *w = warning_with(&rep, "column 'v'");
    T_OK(w != NULL);
    T_CONTAINS(w, "99 of its 100 values are numbers");
    T_CONTAINS(w, "'unknown' (line 42)");
    T_CONTAINS(w, "null_tokens");
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
    hml_free(text);
    /* A truly textual column does not warn. */
    f = must_read("a\nx\ny\n1\n", NULL, &rep);
    T_EQ(rep.warnings_n, 0);
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
}

/* The late switch to string re-reads the input: also from a file, where that
 * means a second read of the file itself, and with skipped rows in between. */
TEST(csv_late_string_column_from_file_with_skipped_rows)
{
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_puts(&b, "k,v,w\n");
    for (int i = 0; i < 300000; i++) {
        if (i % 1000 == 7) hml_buf_puts(&b, "bad,row\n");
        hml_buf_printf(&b, "%d,%d,\"q\nx%d\"\n", i, i % 50, i % 3);
    }
    hml_buf_puts(&b, "300000,n/a,\"q\nx0\"\n");
    char *path = write_tmp("late.csv", b.p, b.len);
    struct hml_csv_options opt = {.auto_clean = true};
    struct hml_ingest_report rep;
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_frame *f = NULL, *g = NULL;
    T_RC(hml_csv_read_file(path, &opt, &f, &rep, &err), &err);
    T_EQ(rep.skipped, 300);
    T_EQ(f->nrows, 300001);
    const struct hml_column *v = col(f, "v");
    T_EQ(v->type, HML_TYPE_STR);
    T_EQ(hml_dict_size(v->dict), 51);
    T_STREQ(hml_column_str(v, 123456), "6");
    T_STREQ(hml_column_str(v, 300000), "n/a");
    T_STREQ(hml_column_str(col(f, "w"), 5), "q\nx2");
    T_EQ(hml_i64(col(f, "k"))[299999], 299999);
    hml_ingest_report_fini(&rep);
    T_RC(hml_csv_read_mem(b.p, b.len, &opt, &g, &rep, &err), &err);
    T_OK(hml_frame_fingerprint(f) == hml_frame_fingerprint(g));
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
    hml_frame_free(g);
    hml_buf_free(&b);
    hml_free(path);
}

/* Records straddle the 4 MB read chunks in every possible way: file reads must equal
 * memory reads, and line numbers must stay exact. */
TEST(csv_chunk_boundaries_do_not_matter)
{
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_puts(&b, "id,text,x\r\n");
    size_t line = 2;
    for (int i = 0; b.len < (size_t)11 << 20; i++) {
        int kind = (int)(rnd() % 5);
        if (kind == 0) {
            hml_buf_printf(&b, "%d,\"l1\r\nl2\nl3 \"\"q\"\" ø\",%d.5\r\n", i, i);
            line += 3;
        } else if (kind == 1) {
            hml_buf_printf(&b, "%d,plain ÅÆ text %d,%d\n", i, i, i);
            line++;
        } else {
            hml_buf_printf(&b, "%d,\"%*s\",%d\r\n", i, (int)(rnd() % 200), "pad", i);
            line++;
        }
    }
    hml_buf_printf(&b, "1,2\n");
    char *path = write_tmp("chunks.csv", b.p, b.len);
    struct hml_error err;
    struct hml_ingest_report rep;
    struct hml_frame *f = NULL, *g = NULL;
    hml_error_clear(&err);
    T_EQ(hml_csv_read_file(path, NULL, &f, &rep, &err), HML_EINVAL);
    char want[128];
    snprintf(want, sizeof want, "line %zu has 2", line);
    T_CONTAINS(err.message, want);
    hml_ingest_report_fini(&rep);
    struct hml_csv_options opt = {.auto_clean = true};
    T_RC(hml_csv_read_file(path, &opt, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    T_RC(hml_csv_read_mem(b.p, b.len, &opt, &g, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    T_EQ(f->nrows, g->nrows);
    T_OK(f->nrows > 50000);
    T_OK(hml_frame_fingerprint(f) == hml_frame_fingerprint(g));
    T_EQ(hml_i64(col(f, "id"))[f->nrows - 1], (long long)f->nrows - 1);
    hml_frame_free(f);
    hml_frame_free(g);
    hml_buf_free(&b);
    hml_free(path);
}

/* ---- header -------------------------------------------------------------------------- */

TEST(csv_header_duplicates_empty_and_trimmed)
{
    struct hml_ingest_report rep;
    struct hml_frame *f = must_read(" a ,a,,a_2,a,\"\"\n1,2,3,4,5,6\n", NULL, &rep);
    static const char *const want[] = {"a", "a_3", "column_3", "a_2", "a_4", "column_6"};
    T_EQ(f->ncols, 6);
    for (size_t j = 0; j < 6; j++) T_STREQ(f->names[j], want[j]);
    T_OK(warning_with(&rep, "duplicate column name 'a' (columns 1 and 2): column 2 is renamed 'a_3'"));
    T_OK(warning_with(&rep, "duplicate column name 'a' (columns 1 and 5): column 5 is renamed 'a_4'"));
    T_OK(warning_with(&rep, "column 3 has an empty name; it is named 'column_3'"));
    T_OK(warning_with(&rep, "column 6 has an empty name"));
    T_EQ(rep.warnings_n, 4);
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
}

TEST(csv_empty_and_header_only)
{
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    const char *empties[] = {"", "\xef\xbb\xbf", "\n\r\n\n"};
    for (size_t i = 0; i < 3; i++) {
        T_EQ(read_csv(empties[i], NULL, &f, &rep, &err), HML_EINVAL);
        T_STREQ(err.message, "file is empty");
        T_OK(err.hint[0]);
        T_OK(f == NULL);
        hml_ingest_report_fini(&rep);
    }
    f = must_read("a,b,c\n", NULL, &rep);
    T_EQ(f->nrows, 0);
    T_EQ(f->ncols, 3);
    T_EQ(f->cols[2]->type, HML_TYPE_F64);
    T_OK(warning_with(&rep, "header but no data rows"));
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
}

/* ---- errors ------------------------------------------------------------------------------ */

TEST(csv_invalid_utf8_error_and_auto_clean)
{
    const char *text = "id,name\n1,ok\n2,\"multi\nline \xc3\x28 bad\"\n3,caf\xe9\n";
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    T_EQ(read_csv(text, NULL, &f, &rep, &err), HML_EINVAL);
    T_STREQ(err.message, "invalid UTF-8 at line 4, field 2 (column 'name'): byte 0xC3");
    T_CONTAINS(err.hint, "auto_clean=true");
    T_CONTAINS(err.hint, "UTF-8");
    hml_ingest_report_fini(&rep);
    struct hml_csv_options opt = {.auto_clean = true};
    f = must_read(text, &opt, &rep);
    T_STREQ(hml_column_str(col(f, "name"), 1), "multi\nline \xef\xbf\xbd( bad");
    T_STREQ(hml_column_str(col(f, "name"), 2), "caf\xef\xbf\xbd");
    T_OK(warning_with(&rep, "replaced 2 invalid UTF-8 sequences with U+FFFD (the first at line 4, "
                            "column 'name')"));
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
    /* Overlongs, surrogates and truncated sequences are all invalid. */
    const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff"};
    for (size_t i = 0; i < 5; i++) T_OK(hml__utf8_check((const unsigned char *)bad[i], strlen(bad[i])) == 0);
    T_EQ(hml__utf8_check((const unsigned char *)"a\xf0\x9f\x98\x80", 5), 5);
}

TEST(csv_unterminated_quote_names_its_line)
{
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    /* The first quote closes at the second one (a field may span lines); the third
     * never closes. */
    T_EQ(read_csv("a,b\n1,\"x\n2\"\n3,y\n4,\"open\n5,z\n", NULL, &f, &rep, &err), HML_EINVAL);
    T_STREQ(err.message, "unterminated quoted field: the quote opened at line 5 is never closed");
    T_OK(err.hint[0]);
    hml_ingest_report_fini(&rep);
}

TEST(csv_limits_are_enforced)
{
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    struct hml_csv_options opt = {.rows_max = 2};
    T_EQ(read_csv("a\n1\n2\n3\n", &opt, &f, &rep, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "more than 2 data rows");
    T_CONTAINS(err.hint, "rows_max");
    hml_ingest_report_fini(&rep);
    f = must_read("a\n1\n2\n", &opt, NULL);
    hml_frame_free(f);
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_puts(&b, "a,b\n1,\"");
    for (size_t i = 0; i <= HML_CSV_FIELD_BYTES_MAX; i++) hml_buf_putc(&b, 'x');
    hml_buf_puts(&b, "\"\n");
    T_EQ(hml_csv_read_mem(b.p, b.len, NULL, &f, &rep, &err), HML_ELIMIT);
    T_CONTAINS(err.hint, "HML_CSV_FIELD_BYTES_MAX");
    hml_ingest_report_fini(&rep);
    char *path = write_tmp("long.csv", b.p, b.len);
    T_EQ(hml_csv_read_file(path, NULL, &f, &rep, &err), HML_ELIMIT);
    T_CONTAINS(err.message, "the field starting at line 2 is longer than");
    hml_ingest_report_fini(&rep);
    hml_free(path);
    b.len -= 3; /* exactly the limit: fine */
    hml_buf_puts(&b, "\"\n");
    T_RC(hml_csv_read_mem(b.p, b.len, NULL, &f, &rep, &err), &err);
    T_EQ(hml_dict_len(f->cols[1]->dict, 0), HML_CSV_FIELD_BYTES_MAX);
    hml_frame_free(f);
    hml_ingest_report_fini(&rep);
    /* An unclosed quote in a big file stops at the field limit, not at the end of
     * the file (the read buffer must not grow to the file's size). */
    hml_buf_reset(&b);
    hml_buf_puts(&b, "a,b\n1,\"open\n");
    while (b.len < (size_t)12 << 20) hml_buf_puts(&b, "2,some text here\n");
    path = write_tmp("open.csv", b.p, b.len);
    T_EQ(hml_csv_read_file(path, NULL, &f, &rep, &err), HML_ELIMIT);
    T_CONTAINS(err.hint, "quote");
    hml_ingest_report_fini(&rep);
    hml_free(path);
    hml_buf_reset(&b);
    for (size_t i = 0; i <= HML_CSV_COLS_MAX; i++) hml_buf_printf(&b, "%sc%zu", i ? "," : "", i);
    T_EQ(hml_csv_read_mem(b.p, b.len, NULL, &f, &rep, &err), HML_ELIMIT);
    T_CONTAINS(err.hint, "HML_CSV_COLS_MAX");
    hml_ingest_report_fini(&rep);
    hml_buf_free(&b);
}

TEST(csv_missing_file_and_directory)
{
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    hml_error_clear(&err);
    T_EQ(hml_csv_read_file("/nonexistent/dir/x.csv", NULL, &f, &rep, &err), HML_ENOTFOUND);
    T_CONTAINS(err.message, "not found");
    T_OK(err.hint[0]);
    T_OK(f == NULL);
    hml_ingest_report_fini(&rep);
    T_EQ(hml_csv_read_file(t_tmpdir(), NULL, &f, NULL, &err), HML_EINVAL);
    T_OK(err.hint[0]);
}

/* ---- numbers ------------------------------------------------------------------------- */

TEST(csv_float_parsing_matches_strtod_bit_for_bit)
{
    char s[96];
    int checked = 0;
    for (int i = 0; i < 200000; i++) {
        int n = 0;
        uint64_t r = rnd();
        if (r % 7 == 0) n += snprintf(s + n, sizeof s - (size_t)n, "-");
        int digits = 1 + (int)(rnd() % 24), dot = (int)(rnd() % (digits + 2)) - 1;
        for (int d = 0; d < digits; d++) {
            if (d == dot) s[n++] = '.';
            s[n++] = (char)('0' + rnd() % 10);
        }
        if (rnd() % 3 == 0) n += snprintf(s + n, sizeof s - (size_t)n, "e%d", (int)(rnd() % 700) - 350);
        s[n] = 0;
        double got, want = strtod(s, NULL);
        T_OK(hml__parse_f64(s, (size_t)n, &got));
        if (memcmp(&got, &want, 8) != 0) t_failf(__FILE__, __LINE__, "'%s': %.17g vs strtod %.17g", s, got, want);
        checked++;
    }
    /* Round-trip forms of random doubles, the hard cases for fast paths. */
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = rnd();
        double v, got;
        memcpy(&v, &bits, 8);
        if (isnan(v) || isinf(v)) continue;
        int n = snprintf(s, sizeof s, "%.*g", 15 + (int)(rnd() % 3), v);
        T_OK(hml__parse_f64(s, (size_t)n, &got));
        T_OK(got == strtod(s, NULL));
    }
    T_OK(checked == 200000);
    const char *no[] = {"", "-", ".", "e5", "1e", "1e+", "inf", "nan", "0x10", " 1", "1 ", "1..2", "--1", "1e5.5"};
    double d;
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) T_OK(!hml__parse_f64(no[i], strlen(no[i]), &d));
    T_OK(hml__parse_f64("-0", 2, &d) && signbit(d) && d == 0);
    T_OK(hml__parse_f64("1e400", 5, &d) && isinf(d));
    int64_t v;
    T_OK(hml__parse_i64("9223372036854775807", 19, &v) && v == INT64_MAX);
    T_OK(!hml__parse_i64("9223372036854775808", 19, &v));
    T_OK(!hml__parse_i64("12a", 3, &v));
    T_OK(!hml__parse_i64("", 0, &v));
}

/* ---- writer ------------------------------------------------------------------------------ */

TEST(csv_write_round_trips)
{
    const char *text = "id,name,x,flag,day,note\n"
                       "1,\"Smith, J.\",42.0,true,2024-01-31,\"he said \"\"hi\"\"\"\n"
                       "2,Ådahl,0.1,false,,\"multi\nline\"\n"
                       "3,,1e-300,,1999-12-31,plain\n";
    struct hml_frame *f = must_read(text, NULL, NULL);
    struct hml_buf out = HML_BUF_INIT;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_csv_write(f, &out, &err), &err);
    T_STREQ(hml_buf_str(&out), "id,name,x,flag,day,note\n"
                               "1,\"Smith, J.\",42.0,true,2024-01-31,\"he said \"\"hi\"\"\"\n"
                               "2,Ådahl,0.1,false,,\"multi\nline\"\n"
                               "3,,1e-300,,1999-12-31,plain\n");
    struct hml_frame *g = must_read(hml_buf_str(&out), NULL, NULL);
    T_OK(hml_frame_fingerprint(f) == hml_frame_fingerprint(g));
    hml_frame_free(g);
    hml_buf_free(&out);
    hml_frame_free(f);
    /* The shipped titanic survives a write/read cycle unchanged. */
    struct hml_ingest_report rep;
    T_RC(hml_csv_read_file(t_shared_data("titanic.csv"), NULL, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    T_RC(hml_csv_write(f, &out, &err), &err);
    g = must_read(hml_buf_str(&out), NULL, NULL);
    T_OK(hml_frame_fingerprint(f) == hml_frame_fingerprint(g));
    hml_frame_free(g);
    hml_frame_free(f);
    hml_buf_free(&out);
}

/* ---- robustness -------------------------------------------------------------------- */

/* Fail the 1st, 2nd, … allocation of a messy read: every failure must be reported
 * and leave no leak, until a read passes without hitting the injected failure. */
TEST(csv_fail_nth_allocation_never_leaks)
{
    const char *text = "\xef\xbb\xbf" "id,name,x,x,when\r\n"
                       "1,\"a, b\",1,2,2024-01-01\r\n"
                       "2,\"q\"\"uote\",2.5,NA,2024-01-02\r\n"
                       "3,bad,row\r\n"
                       "4,\"multi\nline\",unknown,3,2024-01-03\r\n"
                       "5,caf\xe9,4,4,\r\n";
    struct hml_csv_options opt = {.auto_clean = true};
    size_t base = hml_alloc_live_bytes();
    int failures = 0;
    bool clean = false;
    for (uint64_t n = 1; n < 10000 && !clean; n++) {
        struct hml_frame *f = NULL;
        struct hml_ingest_report rep;
        struct hml_error err;
        hml_error_clear(&err);
        hml_alloc_fail_at(n);
        enum hml_status rc = hml_csv_read_mem(text, strlen(text), &opt, &f, &rep, &err);
        bool fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) {
            T_OK(f == NULL);
            T_OK(err.message[0] != 0);
            failures++;
        } else {
            T_EQ(f->nrows, 4);
            hml_frame_free(f);
        }
        hml_ingest_report_fini(&rep);
        T_EQ(hml_alloc_live_bytes(), base);
        if (!fired) {
            T_EQ(rc, HML_OK);
            clean = true;
        }
    }
    T_OK(clean);
    T_OK(failures > 20);
}

TEST(csv_random_input_never_crashes)
{
    static const char alphabet[] = "ab1.,\"\n\r\xc3\xa9 -eNA\xff";
    char buf[300];
    size_t base = hml_alloc_live_bytes();
    for (int i = 0; i < 20000; i++) {
        size_t n = rnd() % sizeof buf;
        for (size_t k = 0; k < n; k++) buf[k] = alphabet[rnd() % (sizeof alphabet - 1)];
        struct hml_csv_options opt = {.auto_clean = rnd() % 2};
        struct hml_frame *f = NULL;
        struct hml_ingest_report rep;
        struct hml_error err;
        hml_error_clear(&err);
        enum hml_status rc = hml_csv_read_mem(buf, n, &opt, &f, &rep, &err);
        if (rc) {
            T_OK(err.message[0] && err.hint[0]);
            T_OK(f == NULL);
        } else {
            T_OK(f->ncols > 0);
            hml_frame_free(f);
        }
        hml_ingest_report_fini(&rep);
    }
    T_EQ(hml_alloc_live_bytes(), base);
}

TEST(csv_reads_every_shared_dataset)
{
    static const struct { const char *file; size_t rows, cols; } sets[] = {
        {"titanic.csv", 1317, 12},     {"titanic_small.csv", 1309, 6}, {"penguins.csv", 344, 8},
        {"breast_cancer.csv", 569, 31}, {"wine.csv", 178, 14},         {"diabetes.csv", 442, 11},
        {"football.csv", 6504, 7},     {"euro2016.csv", 51, 7},        {"icehockey.csv", 1083, 8},
        {"ames.csv", 2930, 74},        {"lung.csv", 228, 10},          {"movielens_small.csv", 20000, 7},
    };
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        struct hml_frame *f = NULL;
        struct hml_ingest_report rep;
        struct hml_error err;
        hml_error_clear(&err);
        T_RC(hml_csv_read_file(t_shared_data(sets[i].file), NULL, &f, &rep, &err), &err);
        T_EQ(f->nrows, sets[i].rows);
        T_EQ(f->ncols, sets[i].cols);
        T_EQ(rep.warnings_n, 0);
        if (!strcmp(sets[i].file, "ames.csv")) {
            T_EQ(col(f, "Mas_Vnr_Type")->type, HML_TYPE_STR);
            T_EQ(col(f, "Mas_Vnr_Type")->null_count, 0); /* "None" is a category */
            T_OK(hml_dict_find(col(f, "Sale_Type")->dict, "WD ", 3) >= 0);
        }
        if (!strcmp(sets[i].file, "football.csv")) T_EQ(col(f, "date")->type, HML_TYPE_DATE);
        if (!strcmp(sets[i].file, "lung.csv")) T_EQ(col(f, "meal_cal")->null_count, 47);
        hml_ingest_report_fini(&rep);
        hml_frame_free(f);
    }
}

/* ---- JSON lines ------------------------------------------------------------------------ */

static enum hml_status read_jsonl(const char *text, struct hml_frame **f,
                                  struct hml_ingest_report *rep, struct hml_error *err)
{
    char *path = write_tmp("x.jsonl", text, strlen(text));
    hml_error_clear(err);
    *f = NULL;
    enum hml_status rc = hml_jsonl_read_file(path, NULL, f, rep, err);
    hml_free(path);
    return rc;
}

TEST(jsonl_reads_union_of_keys_with_types)
{
    const char *text = "{\"id\": 1, \"name\": \"a\", \"x\": 1.5, \"ok\": true, \"day\": \"2024-01-02\"}\n"
                       "\n"
                       "{\"id\": 2, \"x\": 2, \"extra\": null, \"ok\": false, \"day\": null}\r\n"
                       "{\"name\": \"c\", \"id\": 3, \"extra\": \"e\", \"day\": \"2024-03-04\"}\n";
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    T_RC(read_jsonl(text, &f, &rep, &err), &err);
    T_EQ(f->nrows, 3);
    T_EQ(f->ncols, 6);
    static const char *const names[] = {"id", "name", "x", "ok", "day", "extra"};
    for (size_t j = 0; j < 6; j++) T_STREQ(f->names[j], names[j]);
    T_EQ(col(f, "id")->type, HML_TYPE_I64);
    T_EQ(hml_i64(col(f, "id"))[2], 3);
    T_EQ(col(f, "x")->type, HML_TYPE_F64);
    T_NEAR(hml_f64(col(f, "x"))[1], 2.0, 0);
    T_OK(hml_column_is_null(col(f, "x"), 2));
    T_EQ(col(f, "ok")->type, HML_TYPE_BOOL);
    T_EQ(col(f, "day")->type, HML_TYPE_DATE);
    T_EQ(col(f, "day")->null_count, 1);
    T_EQ(col(f, "extra")->type, HML_TYPE_STR);
    T_EQ(col(f, "extra")->null_count, 2);
    T_OK(hml_column_is_null(col(f, "name"), 1));
    T_EQ(rep.rows, 3);
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
    /* Mixed numbers and strings become strings. */
    T_RC(read_jsonl("{\"a\": 1}\n{\"a\": \"x\"}\n{\"a\": 2.5}\n", &f, &rep, &err), &err);
    T_EQ(f->cols[0]->type, HML_TYPE_STR);
    T_STREQ(hml_column_str(f->cols[0], 0), "1");
    T_STREQ(hml_column_str(f->cols[0], 2), "2.5");
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
}

TEST(jsonl_errors_name_the_line)
{
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    T_EQ(read_jsonl("{\"a\": 1}\n{\"a\": [1, 2]}\n", &f, &rep, &err), HML_EINVAL);
    T_CONTAINS(err.message, "line 2");
    T_CONTAINS(err.message, "'a'");
    T_CONTAINS(err.hint, "flatten");
    hml_ingest_report_fini(&rep);
    T_EQ(read_jsonl("{\"a\": 1}\n\n{\"a\": 1,}\n", &f, &rep, &err), HML_EINVAL);
    T_CONTAINS(err.message, "line 3");
    T_OK(err.hint[0]);
    hml_ingest_report_fini(&rep);
    T_EQ(read_jsonl("{\"a\": 1, \"a\": 2}\n", &f, &rep, &err), HML_EINVAL);
    T_CONTAINS(err.message, "line 1");
    hml_ingest_report_fini(&rep);
    T_EQ(read_jsonl("[1]\n", &f, &rep, &err), HML_EINVAL);
    T_CONTAINS(err.message, "not a JSON object");
    hml_ingest_report_fini(&rep);
    T_EQ(read_jsonl("", &f, &rep, &err), HML_EINVAL);
    T_CONTAINS(err.message, "empty");
    hml_ingest_report_fini(&rep);
    T_EQ(hml_jsonl_read_file("/nonexistent.jsonl", NULL, &f, &rep, &err), HML_ENOTFOUND);
    hml_ingest_report_fini(&rep);
    T_OK(f == NULL);
}

TEST(jsonl_fail_nth_allocation_never_leaks)
{
    const char *text = "{\"id\": 1, \"name\": \"a\", \"x\": 1.5, \"day\": \"2024-01-02\"}\n"
                       "{\"id\": 2, \"x\": 2, \"extra\": null, \"name\": 7}\n";
    char *path = write_tmp("oom.jsonl", text, strlen(text));
    size_t base = hml_alloc_live_bytes();
    bool clean = false;
    int failures = 0;
    for (uint64_t n = 1; n < 10000 && !clean; n++) {
        struct hml_frame *f = NULL;
        struct hml_ingest_report rep;
        struct hml_error err;
        hml_error_clear(&err);
        hml_alloc_fail_at(n);
        enum hml_status rc = hml_jsonl_read_file(path, NULL, &f, &rep, &err);
        bool fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) {
            T_OK(f == NULL);
            T_OK(err.message[0] != 0);
            failures++;
        } else {
            T_EQ(f->nrows, 2);
            T_EQ(f->ncols, 5);
            hml_frame_free(f);
        }
        hml_ingest_report_fini(&rep);
        T_EQ(hml_alloc_live_bytes(), base);
        if (!fired) {
            T_EQ(rc, HML_OK);
            clean = true;
        }
    }
    T_OK(clean);
    T_OK(failures > 5);
    hml_free(path);
}

/* The reader holds the frame plus one read chunk, never the whole file. */
TEST(csv_peak_memory_stays_near_frame_size)
{
    char *path = hml_path_join(t_tmpdir(), "big.csv");
    FILE *fp = fopen(path, "w");
    T_OK(fp != NULL);
    fputs("a,b,c,d,e\n", fp);
    for (int i = 0; i < 600000; i++)
        fprintf(fp, "%d,%d.25,%s,2024-01-%02d,%s\n", i, i % 1000, i % 3 ? "x" : "y", 1 + i % 28,
                i % 2 ? "true" : "false");
    fclose(fp);
    size_t base = hml_alloc_live_bytes();
    size_t peak_before = hml_alloc_peak_bytes();
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_csv_read_file(path, NULL, &f, &rep, &err), &err);
    size_t frame = hml_frame_bytes(f);
    T_OK(frame > 600000 * (8 + 8 + 4 + 4 + 1));
    size_t used = hml_alloc_peak_bytes() - (peak_before > base ? base : peak_before);
    if (used > frame + frame / 5 + (5u << 20))
        t_failf(__FILE__, __LINE__, "peak %zu bytes for a %zu-byte frame", used, frame);
    hml_ingest_report_fini(&rep);
    hml_frame_free(f);
    hml_free(path);
}
