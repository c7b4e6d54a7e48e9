/* Unit tests for design: fold-local encodings of frame columns. */
#include "t.h"

#include "harness/alloc.h"
#include "harness/design.h"
#include "harness/io.h"

static struct hml_frame *csv(const char *text)
{
    struct hml_frame *f;
    struct hml_ingest_report rep;
    struct hml_error err;
    if (hml_csv_read_mem(text, strlen(text), NULL, &f, &rep, &err)) t_failf(__FILE__, __LINE__, "%s", err.message);
    hml_ingest_report_fini(&rep);
    return f;
}

TEST(design_codes_come_from_training_rows_only)
{
    struct hml_frame *f = csv("x,c\n1,a\n2,b\n3,a\n,zz\n5,b\n");
    const char *feats[] = {"x", "c"};
    size_t train[] = {0, 1, 2};
    struct hml_design *d;
    struct hml_error err;
    struct hml_design_opts o = {.onehot = false};
    T_RC(hml_design_fit(f, feats, 2, train, 3, &o, &d, NULL, &err), &err);
    T_EQ(hml_design_cols(d), 2);
    T_EQ(hml_design_categorical(d)[1], 1);
    T_EQ(hml_design_levels(d)[1], 2);
    float m[10];
    T_RC(hml_design_apply(d, f, NULL, 0, m, &err), &err);
    T_NEAR(m[0], 1, 0);
    T_NEAR(m[1], 0, 0); /* 'a' is the most frequent training level → 0 */
    T_NEAR(m[3], 1, 0); /* 'b' → 1 */
    T_OK(isnan(m[6]));  /* x null */
    T_OK(isnan(m[7]));  /* 'zz' never seen in training */
    hml_design_free(d);
    hml_frame_free(f);
}

TEST(design_onehot_buckets_rare_levels_and_keeps_nulls_missing)
{
    /* 'a' ×6, 'b' ×5, 'c' ×1 (rare), one null */
    struct hml_frame *f = csv("c\na\na\na\na\na\na\nb\nb\nb\nb\nb\nc\nNA\n");
    const char *feats[] = {"c"};
    struct hml_design *d;
    struct hml_error err;
    struct hml_design_opts o = {.onehot = true};
    size_t rows[13];
    for (size_t i = 0; i < 13; i++) rows[i] = i;
    T_RC(hml_design_fit(f, feats, 1, rows, 13, &o, &d, NULL, &err), &err);
    T_EQ(hml_design_cols(d), 3);
    T_STREQ(hml_design_names(d)[0], "c=a");
    T_STREQ(hml_design_names(d)[2], "c=(other)");
    float m[13 * 3];
    T_RC(hml_design_apply(d, f, rows, 13, m, &err), &err);
    T_NEAR(m[0], 1, 0);
    T_NEAR(m[6 * 3 + 1], 1, 0);  /* b */
    T_NEAR(m[11 * 3 + 2], 1, 0); /* c → other */
    T_OK(isnan(m[12 * 3]));      /* null stays missing */
    hml_design_free(d);
    hml_frame_free(f);
}

TEST(design_leaves_identifier_text_out_with_a_note)
{
    struct hml_frame *f;
    struct hml_ingest_report rep;
    struct hml_error err;
    T_RC(hml_csv_read_file(t_shared_data("titanic.csv"), NULL, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    const char *feats[] = {"name", "class", "age"};
    size_t *rows = hml_malloc(f->nrows * sizeof *rows);
    for (size_t i = 0; i < f->nrows; i++) rows[i] = i;
    struct hml_design *d;
    struct hml_buf notes = HML_BUF_INIT;
    T_RC(hml_design_fit(f, feats, 3, rows, f->nrows, NULL, &d, &notes, &err), &err);
    T_EQ(hml_design_cols(d), 2);
    T_STREQ(hml_design_names(d)[0], "class");
    T_CONTAINS(hml_buf_str(&notes), "'name' left out");
    hml_buf_free(&notes);
    hml_design_free(d);
    hml_free(rows);
    hml_frame_free(f);
}

TEST(design_unknown_feature_is_not_found)
{
    struct hml_frame *f = csv("x\n1\n");
    const char *feats[] = {"y"};
    size_t rows[] = {0};
    struct hml_design *d;
    struct hml_error err;
    T_EQ(hml_design_fit(f, feats, 1, rows, 1, NULL, &d, NULL, &err), HML_ENOTFOUND);
    hml_frame_free(f);
}
