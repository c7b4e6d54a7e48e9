/* Unit tests for cv.c: fold membership of every strategy (value strategies by hand,
 * row strategies against tests/fixtures/cv/folds.json from gen_cv.py), validation errors
 * and hints, the temporal-ordering guardrail, fingerprints, and suggestions. */
#include "t.h"

#include <stdint.h>

#include "harness/alloc.h"
#include "harness/config.h"
#include "harness/cv.h"
#include "harness/fsx.h"
#include "harness/io.h"
#include "harness/json.h"

/* ---- helpers ------------------------------------------------------------------------ */

static struct hml_frame *csv(const char *text)
{
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    memset(&rep, 0, sizeof rep);
    hml_error_clear(&err);
    T_RC(hml_csv_read_mem(text, strlen(text), NULL, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    return f;
}

/* Parses a backtest section; returns the status and leaves the error in *err. */
static enum hml_status parse(const char *json, const char *fallback, struct hml_cv_spec *spec,
                             struct hml_error *err)
{
    json_t *bt = NULL;
    hml_error_clear(err);
    T_RC(hml_json_parse(json, strlen(json), &bt, err), err);
    enum hml_status rc = hml_cv_spec_parse(bt, fallback, spec, err);
    json_decref(bt);
    return rc;
}

/* Builds the folds of a backtest section over f; NULL with *rc set on failure. */
static struct hml_cv_folds *make(const struct hml_frame *f, const char *json, enum hml_status *rc,
                                 struct hml_error *err)
{
    struct hml_cv_spec spec;
    struct hml_cv_folds *fs = NULL;
    *rc = parse(json, NULL, &spec, err);
    if (!*rc) *rc = hml_cv_make(f, &spec, &fs, err);
    hml_cv_spec_fini(&spec);
    return fs;
}

static struct hml_cv_folds *make_ok(const struct hml_frame *f, const char *json)
{
    struct hml_error err;
    enum hml_status rc;
    struct hml_cv_folds *fs = make(f, json, &rc, &err);
    T_RC(rc, &err);
    T_OK(fs != NULL);
    return fs;
}

/* Asserts a status, a message fragment and a hint fragment. */
static void expect_fail(enum hml_status rc, const struct hml_error *err, enum hml_status code, const char *msg,
                        const char *hint)
{
    if (rc != code) t_failf(__FILE__, __LINE__, "status %d != %d: %s", rc, code, err->message);
    T_CONTAINS(err->message, msg);
    T_CONTAINS(err->hint, hint);
}

static void make_fails(const struct hml_frame *f, const char *json, enum hml_status code, const char *msg,
                       const char *hint)
{
    struct hml_error err;
    enum hml_status rc;
    struct hml_cv_folds *fs = make(f, json, &rc, &err);
    T_OK(fs == NULL);
    expect_fail(rc, &err, code, msg, hint);
}

static void parse_fails(const char *json, enum hml_status code, const char *msg, const char *hint)
{
    struct hml_cv_spec spec;
    struct hml_error err;
    enum hml_status rc = parse(json, NULL, &spec, &err);
    expect_fail(rc, &err, code, msg, hint);
    hml_cv_spec_fini(&spec);
}

/* "1,2,3" → asserts arr[0..n) is exactly that list. */
static void expect_list(const size_t *arr, size_t n, const char *want, const char *what)
{
    size_t k = 0;
    for (const char *p = want; *p;) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (k >= n || arr[k] != v)
            t_failf(__FILE__, __LINE__, "%s[%zu]: got %ld, want %lu (want list %s)", what, k,
                    k < n ? (long)arr[k] : -1L, v, want);
        k++;
        p = *end == ',' ? end + 1 : end;
    }
    if (k != n) t_failf(__FILE__, __LINE__, "%s: %zu entries, want %zu (%s)", what, n, k, want);
}

static void expect_fold(const struct hml_cv_fold *fd, const char *label, const char *train, const char *test)
{
    T_STREQ(fd->label, label);
    expect_list(fd->train, fd->train_n, train, "train");
    expect_list(fd->test, fd->test_n, test, "test");
}

static void expect_values(const struct hml_cv_folds *fs, size_t i, const char *train, const char *test)
{
    expect_list(fs->folds[i].train_values, fs->folds[i].train_values_n, train, "train_values");
    expect_list(fs->folds[i].test_values, fs->folds[i].test_values_n, test, "test_values");
}

/* Seasons out of row order: 2017 {1,4,9}, 2018 {2,6}, 2019 {0,3}, 2020 {5,7}, 2021 {8}. */
static const char *const SEASONS = "id,season,game\n"
                                   "0,2019,a\n1,2017,b\n2,2018,c\n3,2019,a\n4,2017,b\n"
                                   "5,2020,d\n6,2018,c\n7,2020,d\n8,2021,e\n9,2017,f\n";

/* ---- strategy names ----------------------------------------------------------------- */

TEST(cv_strategy_names_match_config_schema)
{
    size_t n = 0;
    for (; hml_cv_strategy_names[n]; n++) T_STREQ(hml_cv_strategy_name((enum hml_cv_strategy)n), hml_cv_strategy_names[n]);
    T_EQ(n, 8);
    T_OK(hml_cv_strategy_by_value(HML_CV_PURGED_KFOLD) && !hml_cv_strategy_by_value(HML_CV_KFOLD));
    T_OK(hml_cv_strategy_time_ordered(HML_CV_SLIDING) && !hml_cv_strategy_time_ordered(HML_CV_LOSO));
    T_CONTAINS(hml_cv_strategy_describe(HML_CV_LOSO), "not time-safe");
}

TEST(cv_strategy_aliases)
{
    static const struct {
        const char *name;
        enum hml_cv_strategy want;
    } cases[] = {
        {"leave_one_season_out", HML_CV_LOSO}, {"leave_one_out", HML_CV_LOSO}, {"Leave-One-Season-Out", HML_CV_LOSO},
        {"time_series", HML_CV_EXPANDING},     {"temporal", HML_CV_EXPANDING}, {"rolling", HML_CV_SLIDING},
        {"stratified", HML_CV_STRATIFIED_KFOLD}, {"group", HML_CV_GROUP_KFOLD}, {"kfold_cv", HML_CV_KFOLD},
        {"purged", HML_CV_PURGED_KFOLD},       {"BOOTSTRAP", HML_CV_BOOTSTRAP}, {"loso", HML_CV_LOSO},
    };
    struct hml_error err;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        enum hml_cv_strategy s = HML_CV_BOOTSTRAP;
        hml_error_clear(&err);
        T_RC(hml_cv_strategy_parse(cases[i].name, &s, &err), &err);
        T_EQ(s, cases[i].want);
    }
    /* An alias in the config is resolved by the parser too. */
    struct hml_cv_spec spec;
    T_RC(parse("{\"cv_strategy\": \"rolling\", \"window_size\": 2}", NULL, &spec, &err), &err);
    T_EQ(spec.strategy, HML_CV_SLIDING);
    hml_cv_spec_fini(&spec);
}

TEST(cv_strategy_unknown_suggests)
{
    enum hml_cv_strategy s;
    struct hml_error err;
    hml_error_clear(&err);
    T_EQ(hml_cv_strategy_parse("kfodl", &s, &err), HML_EINVAL);
    T_STREQ(err.message, "unknown cv_strategy 'kfodl'");
    T_STREQ(err.did_you_mean, "kfold");
    T_CONTAINS(err.hint, "did you mean 'kfold'? valid: loso, expanding, sliding, purged_kfold, kfold, "
                         "stratified_kfold, group_kfold, bootstrap");
    T_CONTAINS(err.valid, "group_kfold\nbootstrap");
    hml_error_clear(&err);
    T_EQ(hml_cv_strategy_parse("temporl", &s, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "temporal");
    T_CONTAINS(err.hint, "did you mean 'temporal' (an alias of 'expanding')? valid: loso,");
    hml_error_clear(&err);
    T_EQ(hml_cv_strategy_parse("", &s, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "valid: loso");
}

/* ---- value strategies, every index -------------------------------------------------- */

TEST(cv_loso_every_index)
{
    struct hml_frame *f = csv(SEASONS);
    struct hml_cv_folds *fs = make_ok(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\"}");
    T_EQ(fs->n, 5);
    T_EQ(fs->values_n, 5);
    T_STREQ(fs->values[0], "2017");
    T_STREQ(fs->values[4], "2021");
    expect_fold(&fs->folds[0], "2017", "0,2,3,5,6,7,8", "1,4,9");
    expect_fold(&fs->folds[1], "2018", "0,1,3,4,5,7,8,9", "2,6");
    expect_fold(&fs->folds[2], "2019", "1,2,4,5,6,7,8,9", "0,3");
    expect_fold(&fs->folds[3], "2020", "0,1,2,3,4,6,8,9", "5,7");
    expect_fold(&fs->folds[4], "2021", "0,1,2,3,4,5,6,7,9", "8");
    expect_values(fs, 0, "1,2,3,4", "0");
    expect_values(fs, 2, "0,1,3,4", "2");
    T_EQ(fs->skipped, 0);
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

TEST(cv_expanding_every_index_and_min_train_folds)
{
    struct hml_frame *f = csv(SEASONS);
    struct hml_cv_folds *fs = make_ok(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"season\"}");
    T_EQ(fs->n, 4);
    T_EQ(fs->skipped, 1); /* 2017 has nothing before it */
    expect_fold(&fs->folds[0], "2018", "1,4,9", "2,6");
    expect_fold(&fs->folds[1], "2019", "1,2,4,6,9", "0,3");
    expect_fold(&fs->folds[2], "2020", "0,1,2,3,4,6,9", "5,7");
    expect_fold(&fs->folds[3], "2021", "0,1,2,3,4,5,6,7,9", "8");
    expect_values(fs, 2, "0,1,2", "3");
    hml_cv_folds_free(fs);

    /* The first min_train_folds values are never test folds. */
    fs = make_ok(f, "{\"cv_strategy\": \"temporal\", \"fold_column\": \"season\", \"min_train_folds\": 3}");
    T_EQ(fs->n, 2);
    T_EQ(fs->skipped, 3);
    expect_fold(&fs->folds[0], "2020", "0,1,2,3,4,6,9", "5,7");
    expect_fold(&fs->folds[1], "2021", "0,1,2,3,4,5,6,7,9", "8");
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

TEST(cv_sliding_every_index)
{
    struct hml_frame *f = csv(SEASONS);
    struct hml_cv_folds *fs =
        make_ok(f, "{\"cv_strategy\": \"sliding\", \"fold_column\": \"season\", \"window_size\": 2}");
    T_EQ(fs->n, 4);
    expect_fold(&fs->folds[0], "2018", "1,4,9", "2,6");
    expect_fold(&fs->folds[1], "2019", "1,2,4,6,9", "0,3");
    expect_fold(&fs->folds[2], "2020", "0,2,3,6", "5,7");
    expect_fold(&fs->folds[3], "2021", "0,3,5,7", "8");
    expect_values(fs, 3, "2,3", "4");
    hml_cv_folds_free(fs);
    /* A full window required: min_train_folds = window_size. */
    fs = make_ok(f, "{\"cv_strategy\": \"sliding\", \"fold_column\": \"season\", \"window_size\": 2, "
                    "\"min_train_folds\": 2}");
    T_EQ(fs->n, 3);
    T_STREQ(fs->folds[0].label, "2019");
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

TEST(cv_purged_gaps_every_index)
{
    struct hml_frame *f = csv(SEASONS);
    struct hml_cv_folds *fs = make_ok(f, "{\"cv_strategy\": \"purged_kfold\", \"fold_column\": \"season\"}");
    T_EQ(fs->n, 5); /* purge_gap 1 by default */
    expect_fold(&fs->folds[0], "2017", "0,3,5,7,8", "1,4,9");
    expect_fold(&fs->folds[1], "2018", "5,7,8", "2,6");
    expect_fold(&fs->folds[2], "2019", "1,4,8,9", "0,3");
    expect_fold(&fs->folds[3], "2020", "1,2,4,6,9", "5,7");
    expect_fold(&fs->folds[4], "2021", "0,1,2,3,4,6,9", "8");
    expect_values(fs, 2, "0,4", "2");
    hml_cv_folds_free(fs);

    /* purge_gap 0: every other value, like loso. */
    fs = make_ok(f, "{\"cv_strategy\": \"purged\", \"fold_column\": \"season\", \"purge_gap\": 0}");
    expect_fold(&fs->folds[1], "2018", "0,1,3,4,5,7,8,9", "2,6");
    hml_cv_folds_free(fs);

    /* n_folds 2: blocks of consecutive values (3 then 2), gap 1 around each block. */
    fs = make_ok(f, "{\"cv_strategy\": \"purged_kfold\", \"fold_column\": \"season\", \"n_folds\": 2}");
    T_EQ(fs->n, 2);
    expect_fold(&fs->folds[0], "2017..2019", "8", "0,1,2,3,4,6,9");
    expect_fold(&fs->folds[1], "2020..2021", "1,2,4,6,9", "5,7,8");
    expect_values(fs, 0, "4", "0,1,2");
    expect_values(fs, 1, "0,1", "3,4");
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

TEST(cv_fold_values_restrict_test_folds)
{
    struct hml_frame *f = csv(SEASONS);
    /* Numbers and strings both name values; training still uses every earlier value. */
    struct hml_cv_folds *fs = make_ok(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"season\", "
                                         "\"fold_values\": [\"2021\", 2019, 2019.0]}");
    T_EQ(fs->n, 2);
    expect_fold(&fs->folds[0], "2019", "1,2,4,6,9", "0,3");
    expect_fold(&fs->folds[1], "2021", "0,1,2,3,4,5,6,7,9", "8");
    hml_cv_folds_free(fs);
    fs = make_ok(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\", \"fold_values\": 2018}");
    T_EQ(fs->n, 1);
    expect_fold(&fs->folds[0], "2018", "0,1,3,4,5,7,8,9", "2,6");
    hml_cv_folds_free(fs);
    /* A chosen value with nothing before it is skipped and counted. */
    fs = make_ok(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"season\", \"fold_values\": [2017, 2018]}");
    T_EQ(fs->n, 1);
    T_EQ(fs->skipped, 1);
    T_STREQ(fs->folds[0].label, "2018");
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

TEST(cv_value_order_strings_dates_floats)
{
    struct hml_frame *f = csv("id,team,day,rate\n"
                              "0,west,2020-03-01,1.5\n1,east,2019-12-31,-2\n2,north,2020-01-15,10.25\n"
                              "3,east,2020-03-01,1.5\n");
    struct hml_cv_folds *fs = make_ok(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"team\"}");
    T_EQ(fs->n, 3);
    expect_fold(&fs->folds[0], "east", "0,2", "1,3");
    expect_fold(&fs->folds[1], "north", "0,1,3", "2");
    expect_fold(&fs->folds[2], "west", "1,2,3", "0");
    hml_cv_folds_free(fs);
    fs = make_ok(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"day\"}");
    T_EQ(fs->n, 2);
    expect_fold(&fs->folds[0], "2020-01-15", "1", "2");
    expect_fold(&fs->folds[1], "2020-03-01", "1,2", "0,3");
    hml_cv_folds_free(fs);
    fs = make_ok(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"rate\", \"fold_values\": [1.5]}");
    T_EQ(fs->n, 1);
    expect_fold(&fs->folds[0], "1.5", "1", "0,3");
    hml_cv_folds_free(fs);
    fs = make_ok(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"day\", \"fold_values\": [\"2019-12-31\"]}");
    expect_fold(&fs->folds[0], "2019-12-31", "0,2,3", "1");
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

TEST(cv_group_must_not_span_fold_values)
{
    struct hml_frame *f = csv(SEASONS);
    /* game a is {0,3} (2019), b {1,4} (2017): each within one season — fine. */
    struct hml_cv_folds *fs =
        make_ok(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\", \"group_column\": \"game\"}");
    T_EQ(fs->n, 5);
    hml_cv_folds_free(fs);
    hml_frame_free(f);
    f = csv("id,season,game\n0,2019,a\n1,2019,b\n2,2020,b\n3,2020,c\n");
    make_fails(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\", \"group_column\": \"game\"}",
               HML_EINVAL, "group 'b' of group column 'game' spans fold values '2019' and '2020'",
               "must share a 'season' value");
    make_fails(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\", \"group_column\": \"gmae\"}",
               HML_ENOTFOUND, "group column 'gmae' not found", "did you mean 'game'?");
    hml_frame_free(f);
}

/* ---- row strategies against the reference ---------------------------------------- */

TEST(cv_row_strategies_match_reference)
{
    char *text = NULL;
    size_t len = 0;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_read_file("tests/fixtures/cv/folds.json", 1u << 24, &text, &len, &err), &err);
    json_t *doc = NULL;
    T_RC(hml_json_parse(text, len, &doc, &err), &err);
    hml_free(text);
    json_t *cases = json_object_get(doc, "cases");
    T_EQ(json_array_size(cases), 10);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *cs = json_array_get(cases, c);
        struct hml_frame *f = csv(hml_json_str(cs, "csv", ""));
        char *bt = json_dumps(json_object_get(cs, "backtest"), 0);
        struct hml_cv_folds *fs = make_ok(f, bt);
        hml_free(bt);
        json_t *want = json_object_get(cs, "folds");
        if (fs->n != json_array_size(want)) t_failf(__FILE__, __LINE__, "%s: fold count", hml_json_str(cs, "name", ""));
        for (size_t i = 0; i < fs->n; i++) {
            json_t *w = json_array_get(want, i);
            T_STREQ(fs->folds[i].label, hml_json_str(w, "label", ""));
            json_t *tr = json_object_get(w, "train"), *te = json_object_get(w, "test");
            T_EQ(fs->folds[i].train_n, json_array_size(tr));
            T_EQ(fs->folds[i].test_n, json_array_size(te));
            for (size_t j = 0; j < fs->folds[i].train_n; j++)
                T_EQ(fs->folds[i].train[j], json_integer_value(json_array_get(tr, j)));
            for (size_t j = 0; j < fs->folds[i].test_n; j++)
                T_EQ(fs->folds[i].test[j], json_integer_value(json_array_get(te, j)));
        }
        char fp[17];
        snprintf(fp, sizeof fp, "%016llx", (unsigned long long)hml_cv_fingerprint(fs));
        T_STREQ(fp, hml_json_str(cs, "fingerprint", ""));
        hml_cv_folds_free(fs);
        hml_frame_free(f);
    }
    json_decref(doc);
}

TEST(cv_seed_determinism)
{
    struct hml_frame *f = csv(SEASONS);
    const char *spec = "{\"cv_strategy\": \"kfold\", \"n_folds\": 3, \"seed\": 11}";
    struct hml_cv_folds *a = make_ok(f, spec), *b = make_ok(f, spec);
    struct hml_cv_folds *c = make_ok(f, "{\"cv_strategy\": \"kfold\", \"n_folds\": 3, \"seed\": 12}");
    for (size_t i = 0; i < 3; i++) {
        T_EQ(a->folds[i].test_n, b->folds[i].test_n);
        for (size_t j = 0; j < a->folds[i].test_n; j++) T_EQ(a->folds[i].test[j], b->folds[i].test[j]);
    }
    T_EQ(hml_cv_fingerprint(a), hml_cv_fingerprint(b));
    T_OK(hml_cv_fingerprint(a) != hml_cv_fingerprint(c));
    /* A one-index change moves the fold's fingerprint and the set's. */
    uint64_t fold0 = hml_cv_fold_fingerprint(&b->folds[0]), set = hml_cv_fingerprint(b);
    size_t *last = &b->folds[0].test[b->folds[0].test_n - 1];
    *last = *last == 9 ? 8 : 9;
    T_OK(hml_cv_fold_fingerprint(&b->folds[0]) != fold0);
    T_OK(hml_cv_fingerprint(b) != set);
    hml_cv_folds_free(a);
    hml_cv_folds_free(b);
    hml_cv_folds_free(c);
    hml_frame_free(f);
}

static struct hml_frame *titanic(void)
{
    struct hml_frame *f = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_csv_read_file(t_shared_data("titanic.csv"), NULL, &f, NULL, &err), &err);
    T_EQ(f->nrows, 1317);
    return f;
}

/* Every row is tested exactly once and trained on in every other fold. */
static void expect_partition(const struct hml_cv_folds *fs, size_t rows)
{
    unsigned char *seen = calloc(rows, 1);
    size_t tested = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const struct hml_cv_fold *fd = &fs->folds[i];
        T_EQ(fd->train_n + fd->test_n, rows);
        for (size_t j = 0; j < fd->test_n; j++) {
            T_OK(j == 0 || fd->test[j - 1] < fd->test[j]);
            T_EQ(seen[fd->test[j]]++, 0);
        }
        for (size_t j = 1; j < fd->train_n; j++) T_OK(fd->train[j - 1] < fd->train[j]);
        tested += fd->test_n;
    }
    T_EQ(tested, rows);
    free(seen);
}

TEST(cv_titanic_kfold_sizes_differ_by_at_most_one)
{
    struct hml_frame *f = titanic();
    struct hml_cv_folds *fs = make_ok(f, "{\"cv_strategy\": \"kfold\", \"n_folds\": 5, \"seed\": 42}");
    T_EQ(fs->n, 5);
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < fs->n; i++) {
        lo = fs->folds[i].test_n < lo ? fs->folds[i].test_n : lo;
        hi = fs->folds[i].test_n > hi ? fs->folds[i].test_n : hi;
    }
    T_OK(hi - lo <= 1);
    T_EQ(lo, 263);
    T_EQ(hi, 264);
    expect_partition(fs, 1317);
    /* The same folds as the independent generator: first test rows and fingerprint. */
    expect_list(fs->folds[0].test, 5, "0,2,6,12,19", "fold 1 test");
    expect_list(fs->folds[3].test, 5, "20,31,39,46,49", "fold 4 test");
    char fp[17];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)hml_cv_fingerprint(fs));
    T_STREQ(fp, "cfcae8f3a5b68ad2");
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

/* Per class per fold within one row of class_rows / n_folds. */
static void expect_stratified(const struct hml_frame *f, const char *target, size_t k, size_t seed)
{
    char spec[200];
    snprintf(spec, sizeof spec, "{\"cv_strategy\": \"stratified\", \"n_folds\": %zu, \"target_column\": \"%s\", "
                                "\"seed\": %zu}", k, target, seed);
    struct hml_cv_folds *fs = make_ok(f, spec);
    T_EQ(fs->n, k);
    expect_partition(fs, f->nrows);
    const struct hml_column *c = f->cols[hml_frame_find(f, target)];
    char cls[8][32];
    size_t ncls = 0, total[8] = {0}, in_fold[8][16] = {{0}};
    for (size_t r = 0; r < f->nrows; r++) {
        char v[32];
        hml_column_format(c, r, v, sizeof v);
        size_t q = 0;
        while (q < ncls && strcmp(cls[q], v)) q++;
        if (q == ncls) snprintf(cls[ncls++], 32, "%s", v);
        total[q]++;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < fs->folds[i].test_n; j++) {
            char v[32];
            hml_column_format(c, fs->folds[i].test[j], v, sizeof v);
            size_t q = 0;
            while (strcmp(cls[q], v)) q++;
            in_fold[q][i]++;
        }
    for (size_t q = 0; q < ncls; q++)
        for (size_t i = 0; i < k; i++) {
            T_OK(in_fold[q][i] >= total[q] / k);
            T_OK(in_fold[q][i] <= (total[q] + k - 1) / k);
        }
    hml_cv_folds_free(fs);
}

TEST(cv_stratified_proportions_titanic)
{
    struct hml_frame *f = titanic();
    expect_stratified(f, "survived", 5, 42); /* binary: 817 / 500 */
    expect_stratified(f, "class", 7, 1);     /* multiclass: 324 / 284 / 709 */
    expect_stratified(f, "embarked", 3, 9);  /* four classes, one of 9 rows */
    hml_frame_free(f);
}

TEST(cv_group_kfold_titanic_tickets_stay_together)
{
    struct hml_frame *f = titanic();
    struct hml_cv_folds *fs =
        make_ok(f, "{\"cv_strategy\": \"group_kfold\", \"n_folds\": 5, \"group_column\": \"ticketno\"}");
    T_EQ(fs->n, 5);
    expect_partition(fs, 1317);
    const struct hml_column *t = f->cols[hml_frame_find(f, "ticketno")];
    long *fold_of = malloc(1317 * sizeof *fold_of);
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < fs->folds[i].test_n; j++) fold_of[fs->folds[i].test[j]] = (long)i;
    for (size_t a = 0; a < 1317; a++)
        for (size_t b = a + 1; b < 1317; b++)
            if (!hml_column_is_null(t, a) && !hml_column_is_null(t, b) && hml_column_num(t, a) == hml_column_num(t, b))
                T_EQ(fold_of[a], fold_of[b]);
    /* Balanced by size: the largest ticket has 11 rows. */
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t i = 0; i < 5; i++) {
        lo = fs->folds[i].test_n < lo ? fs->folds[i].test_n : lo;
        hi = fs->folds[i].test_n > hi ? fs->folds[i].test_n : hi;
    }
    T_OK(hi - lo <= 11);
    free(fold_of);
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

TEST(cv_bootstrap_out_of_bag)
{
    struct hml_frame *f = titanic();
    struct hml_cv_folds *fs = make_ok(f, "{\"cv_strategy\": \"bootstrap\", \"n_iterations\": 4, \"seed\": 5}");
    T_EQ(fs->n, 4);
    for (size_t i = 0; i < fs->n; i++) {
        const struct hml_cv_fold *fd = &fs->folds[i];
        T_EQ(fd->train_n, 1317); /* one draw per row, repeats kept */
        unsigned char *in_bag = calloc(1317, 1);
        for (size_t j = 0; j < fd->train_n; j++) {
            T_OK(j == 0 || fd->train[j - 1] <= fd->train[j]);
            in_bag[fd->train[j]] = 1;
        }
        size_t oob = 0;
        for (size_t r = 0; r < 1317; r++) oob += !in_bag[r];
        T_EQ(fd->test_n, oob); /* the test set is exactly the rows never drawn */
        for (size_t j = 0; j < fd->test_n; j++) T_EQ(in_bag[fd->test[j]], 0);
        T_OK(oob > 1317 / 4 && oob < 1317 / 2); /* about 1/e of the rows */
        free(in_bag);
    }
    T_STREQ(fs->folds[3].label, "boot 4");
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

/* ---- validation errors and their hints ------------------------------------------- */

TEST(cv_parse_errors_have_hints)
{
    parse_fails("{}", HML_EINVAL, "backtest.cv_strategy is not set", "set cv_strategy to one of: loso,");
    parse_fails("[]", HML_EINVAL, "the backtest section must be an object", "cv_strategy");
    parse_fails("{\"cv_strategy\": 3}", HML_EINVAL, "must be a strategy name, got an integer", "'kfold'");
    parse_fails("{\"cv_strategy\": \"sliding\"}", HML_EINVAL, "cv_strategy 'sliding' needs window_size",
                "set window_size");
    parse_fails("{\"cv_strategy\": \"sliding\", \"window_size\": 2, \"min_train_folds\": 3}", HML_EINVAL,
                "window_size 2 is smaller than min_train_folds 3", "set min_train_folds to 2 or less");
    parse_fails("{\"cv_strategy\": \"kfold\", \"n_folds\": 1}", HML_EINVAL, "backtest.n_folds must be at least 2, got 1",
                "set n_folds to 2 or more");
    parse_fails("{\"cv_strategy\": \"kfold\", \"n_folds\": \"5\"}", HML_EINVAL,
                "backtest.n_folds must be a whole number, got a string", "n_folds");
    parse_fails("{\"cv_strategy\": \"kfold\", \"n_folds\": 2.5}", HML_EINVAL, "got a fraction", "n_folds");
    parse_fails("{\"cv_strategy\": \"kfold\", \"n_folds\": 5000}", HML_ELIMIT, "backtest.n_folds 5000 is over the limit",
                "set n_folds to 1000 or less");
    parse_fails("{\"cv_strategy\": \"group_kfold\"}", HML_EINVAL, "'group_kfold' needs group_column",
                "set group_column");
    parse_fails("{\"cv_strategy\": \"stratified_kfold\"}", HML_EINVAL, "needs a target column",
                "set backtest.target_column (or data.target_column)");
    parse_fails("{\"cv_strategy\": \"kfold\", \"fold_values\": [2019]}", HML_EINVAL,
                "fold_values only applies to loso, expanding, sliding and purged_kfold, not 'kfold'",
                "set fold_values to []");
    parse_fails("{\"cv_strategy\": \"loso\", \"fold_values\": [{\"a\": 1}]}", HML_EINVAL,
                "backtest.fold_values[0] must be a value of the fold column, got an object", "e.g. [2019, 2020]");
    parse_fails("{\"cv_strategy\": \"loso\", \"purge_gap\": -1}", HML_EINVAL, "purge_gap must be at least 0",
                "set purge_gap");
    parse_fails("{\"cv_strategy\": \"loso\", \"min_train_folds\": 0}", HML_EINVAL, "min_train_folds must be at least 1",
                "set min_train_folds to 1 or more");
    parse_fails("{\"cv_strategy\": \"bootstrap\", \"n_iterations\": 0}", HML_EINVAL, "n_iterations must be at least 1",
                "bootstrap draws");
    parse_fails("{\"cv_strategy\": \"kfold\", \"seed\": -1}", HML_EINVAL, "seed must be a whole number ≥ 0",
                "set seed");
    parse_fails("{\"cv_strategy\": \"loso\", \"fold_column\": \"\"}", HML_EINVAL,
                "backtest.fold_column must be a column name, got an empty string", "set fold_column");
    parse_fails("{\"cv_strategy\": \"kfodl\"}", HML_EINVAL, "unknown cv_strategy 'kfodl'", "did you mean 'kfold'?");
}

TEST(cv_parse_defaults_and_fallback)
{
    struct hml_cv_spec spec;
    struct hml_error err;
    T_RC(parse("{\"cv_strategy\": \"stratified\", \"metrics\": [\"auc\"], \"eval_filter\": \"x > 1\"}", "survived",
               &spec, &err), &err);
    T_EQ(spec.strategy, HML_CV_STRATIFIED_KFOLD);
    T_STREQ(spec.target_column, "survived");
    T_STREQ(spec.fold_column, "fold");
    T_EQ(spec.n_folds, 0);
    T_EQ(spec.purge_gap, 1);
    T_EQ(spec.min_train_folds, 1);
    T_EQ(spec.n_iterations, 5);
    T_EQ(spec.seed, 42);
    hml_cv_spec_fini(&spec);
    T_RC(parse("{\"cv_strategy\": \"stratified\", \"target_column\": \"y\"}", "survived", &spec, &err), &err);
    T_STREQ(spec.target_column, "y");
    hml_cv_spec_fini(&spec);
}

TEST(cv_make_errors_have_hints)
{
    struct hml_frame *f = csv(SEASONS);
    make_fails(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"seson\"}", HML_ENOTFOUND,
               "fold column 'seson' not found", "did you mean 'season'?");
    make_fails(f, "{\"cv_strategy\": \"loso\"}", HML_ENOTFOUND, "fold column 'fold' not found", "valid: id, season");
    make_fails(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\", \"fold_values\": [2031]}", HML_ENOTFOUND,
               "fold value '2031' is not a value of fold column 'season'", "did you mean '2021'?");
    make_fails(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"season\", \"min_train_folds\": 5}", HML_EINVAL,
               "no test fold is left", "set min_train_folds to 4 or less");
    make_fails(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"season\", \"fold_values\": [2017]}", HML_EINVAL,
               "no test fold is left", "choose later fold_values");
    make_fails(f, "{\"cv_strategy\": \"purged_kfold\", \"fold_column\": \"season\", \"n_folds\": 6}", HML_EINVAL,
               "n_folds 6 is more than the 5 values of fold column 'season'", "set n_folds to 5 or less");
    make_fails(f, "{\"cv_strategy\": \"purged_kfold\", \"fold_column\": \"season\", \"purge_gap\": 4}", HML_EINVAL,
               "no test fold is left", "lower purge_gap (now 4)");
    make_fails(f, "{\"cv_strategy\": \"kfold\", \"n_folds\": 11}", HML_EINVAL, "n_folds 11 is more than the 10 rows",
               "set n_folds to 10 or less");
    make_fails(f, "{\"cv_strategy\": \"group_kfold\", \"n_folds\": 7, \"group_column\": \"game\"}", HML_EINVAL,
               "group column 'game' has 6 groups, fewer than n_folds 7", "set n_folds to 6 or less");
    make_fails(f, "{\"cv_strategy\": \"stratified\", \"target_column\": \"y\"}", HML_ENOTFOUND,
               "target column 'y' not found", "valid: id, season, game");
    make_fails(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"id\", \"min_train_folds\": 10}", HML_EINVAL,
               "no test fold is left", "set min_train_folds to 9 or less");
    hml_frame_free(f);

    f = csv("id,season,y\n0,2019,1\n1,,0\n2,2020,1\n");
    make_fails(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\"}", HML_EINVAL,
               "fold column 'season' has 1 null value", "fill or drop those rows");
    make_fails(f, "{\"cv_strategy\": \"kfold\"}", HML_EINVAL, "n_folds 5 (the default) is more than the 3 rows",
               "set n_folds to 3 or less");
    hml_frame_free(f);
    f = csv("id,season\n0,2019\n1,2019\n");
    make_fails(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\"}", HML_EINVAL,
               "fold column 'season' has only one value", "at least 2");
    hml_frame_free(f);
    f = csv("id,g\n0,x\n1,x\n2,x\n");
    make_fails(f, "{\"cv_strategy\": \"group_kfold\", \"group_column\": \"g\"}", HML_EINVAL,
               "group column 'g' has 1 group, fewer than n_folds 5 (the default)", "at least 2 groups");
    hml_frame_free(f);
}

TEST(cv_stratified_refuses_a_continuous_target)
{
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_printf(&b, "id,y\n");
    for (int i = 0; i < 300; i++) hml_buf_printf(&b, "%d,%d.5\n", i, i);
    struct hml_frame *f = csv(b.p);
    hml_buf_free(&b);
    make_fails(f, "{\"cv_strategy\": \"stratified_kfold\", \"target_column\": \"y\"}", HML_EINVAL,
               "target column 'y' has 300 distinct values, too many classes", "use kfold for a continuous target");
    hml_frame_free(f);
}

TEST(cv_group_kfold_default_n_folds_follows_groups)
{
    struct hml_frame *f = csv("id,g\n0,x\n1,y\n2,x\n3,z\n4,y\n5,x\n");
    struct hml_cv_folds *fs = make_ok(f, "{\"cv_strategy\": \"group_kfold\", \"group_column\": \"g\"}");
    T_EQ(fs->n, 3); /* min(5, 3 groups) */
    /* Largest first into the lightest fold: x (3 rows), then y and z. */
    expect_fold(&fs->folds[0], "fold 1/3", "1,3,4", "0,2,5");
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

/* ---- the temporal-ordering guardrail ------------------------------------------------ */

static enum hml_status make_spec(const struct hml_frame *f, const char *json, const char *time_column, bool temporal,
                                 struct hml_cv_folds **out, struct hml_error *err)
{
    struct hml_cv_spec spec;
    enum hml_status rc = parse(json, NULL, &spec, err);
    if (time_column) spec.time_column = hml_strdup(time_column);
    spec.temporal = temporal;
    *out = NULL;
    if (!rc) rc = hml_cv_make(f, &spec, out, err);
    hml_cv_spec_fini(&spec);
    return rc;
}

TEST(cv_temporal_refuses_loso_and_kfold_when_asked)
{
    struct hml_frame *f = csv(SEASONS);
    struct hml_cv_folds *fs;
    struct hml_error err;
    /* loso is allowed when temporal safety is not demanded (it says it is not time-safe). */
    T_RC(make_spec(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\"}", NULL, false, &fs, &err), &err);
    struct hml_cv_spec plain;
    T_RC(parse("{\"cv_strategy\": \"loso\", \"fold_column\": \"season\"}", NULL, &plain, &err), &err);
    T_RC(hml_cv_check_temporal(f, &plain, fs, &err), &err);
    /* Asked afterwards of the same folds, the guardrail names the first fold. */
    plain.temporal = true;
    hml_error_clear(&err);
    expect_fail(hml_cv_check_temporal(f, &plain, fs, &err), &err, HML_EBLOCKED,
                "fold '2017' trains on rows with season 2021, not earlier than its first test season 2017",
                "'loso' trains on the future: use cv_strategy 'expanding'");
    T_STREQ(err.where, "guardrail.temporal_ordering");
    T_CONTAINS(err.hint, "cannot be overridden");
    hml_cv_spec_fini(&plain);
    hml_cv_folds_free(fs);
    /* make itself refuses when temporal safety is demanded. */
    hml_error_clear(&err);
    expect_fail(make_spec(f, "{\"cv_strategy\": \"loso\", \"fold_column\": \"season\"}", NULL, true, &fs, &err), &err,
                HML_EBLOCKED, "fold '2017' trains on rows with season", "expanding");
    T_OK(fs == NULL);
    hml_error_clear(&err);
    expect_fail(make_spec(f, "{\"cv_strategy\": \"kfold\", \"n_folds\": 2}", "season", true, &fs, &err), &err,
                HML_EBLOCKED, "fold 'fold 1/2' trains on rows with season 2021", "'kfold' trains on the future");
    hml_error_clear(&err);
    expect_fail(make_spec(f, "{\"cv_strategy\": \"kfold\", \"n_folds\": 2}", NULL, true, &fs, &err), &err, HML_EINVAL,
                "temporal safety was asked of 'kfold', but there is no time column", "set data.time_column");
    /* expanding passes with or without the demand, and with the time column declared. */
    T_RC(make_spec(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"season\"}", "season", true, &fs, &err), &err);
    hml_cv_folds_free(fs);
    hml_frame_free(f);
}

TEST(cv_temporal_fold_column_out_of_time_order)
{
    /* 'round' does not follow 'date': round 2 was played before round 1. */
    struct hml_frame *f = csv("id,round,date\n0,1,2020-03-01\n1,1,2020-03-02\n2,2,2020-02-01\n3,3,2020-04-01\n");
    struct hml_cv_folds *fs;
    struct hml_error err;
    T_RC(make_spec(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"round\"}", NULL, false, &fs, &err), &err);
    hml_cv_folds_free(fs);
    hml_error_clear(&err);
    expect_fail(make_spec(f, "{\"cv_strategy\": \"expanding\", \"fold_column\": \"round\"}", "date", false, &fs, &err),
                &err, HML_EBLOCKED, "fold '2' trains on rows with date 2020-03-02, not earlier than its first test date "
                                    "2020-02-01",
                "fold column 'round' is not in the order of time column 'date'");
    hml_error_clear(&err);
    expect_fail(make_spec(f, "{\"cv_strategy\": \"sliding\", \"fold_column\": \"round\", \"window_size\": 1}", "date",
                          false, &fs, &err),
                &err, HML_EBLOCKED, "fold '2' trains on rows with date", "not in the order of time column");
    hml_frame_free(f);
}

TEST(cv_temporal_catches_an_altered_fold_set)
{
    struct hml_frame *f = csv(SEASONS);
    struct hml_cv_spec spec;
    struct hml_error err;
    struct hml_cv_folds *fs = NULL;
    T_RC(parse("{\"cv_strategy\": \"expanding\", \"fold_column\": \"season\"}", NULL, &spec, &err), &err);
    T_RC(hml_cv_make(f, &spec, &fs, &err), &err);
    T_RC(hml_cv_check_temporal(f, &spec, fs, &err), &err);
    /* Fold 2018 trains on rows 1,4,9 (2017); make row 9 into row 8 (2021). */
    fs->folds[0].train[2] = 8;
    hml_error_clear(&err);
    expect_fail(hml_cv_check_temporal(f, &spec, fs, &err), &err, HML_EBLOCKED,
                "fold '2018' trains on rows with season 2021, not earlier than its first test season 2018",
                "make the folds again from the current data");
    fs->folds[0].train[2] = 99;
    hml_error_clear(&err);
    expect_fail(hml_cv_check_temporal(f, &spec, fs, &err), &err, HML_ECONFLICT, "the folds were made for 10 rows",
                "make the folds again");
    hml_cv_folds_free(fs);
    hml_cv_spec_fini(&spec);

    /* purged: a training row next to the test fold breaks the gap. */
    T_RC(parse("{\"cv_strategy\": \"purged_kfold\", \"fold_column\": \"season\"}", NULL, &spec, &err), &err);
    T_RC(hml_cv_make(f, &spec, &fs, &err), &err);
    T_RC(hml_cv_check_temporal(f, &spec, fs, &err), &err);
    fs->folds[2].train[0] = 2; /* fold 2019 trains on 2017,2021; row 2 is 2018 */
    hml_error_clear(&err);
    expect_fail(hml_cv_check_temporal(f, &spec, fs, &err), &err, HML_EBLOCKED,
                "fold '2019' trains on rows with season 2018, within purge_gap 1 of its test values 2019..2019",
                "cannot be overridden");
    hml_cv_folds_free(fs);
    hml_cv_spec_fini(&spec);
    hml_frame_free(f);
}

/* ---- suggestions --------------------------------------------------------------------- */

static struct hml_frame *shared(const char *name)
{
    struct hml_frame *f = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_csv_read_file(t_shared_data(name), NULL, &f, NULL, &err), &err);
    return f;
}

static void suggest(const char *file, const char *target, const char *time_column, struct hml_cv_suggestion *s)
{
    struct hml_frame *f = shared(file);
    struct hml_error err;
    hml_error_clear(&err);
    T_RC(hml_cv_suggest(f, target, time_column, s, &err), &err);
    /* Whatever is suggested must build. */
    json_t *bt = hml_cv_suggestion_json(s);
    struct hml_cv_spec spec;
    T_RC(hml_cv_spec_parse(bt, target, &spec, &err), &err);
    struct hml_cv_folds *fs = NULL;
    T_RC(hml_cv_make(f, &spec, &fs, &err), &err);
    T_OK(fs->n >= 2);
    hml_cv_folds_free(fs);
    hml_cv_spec_fini(&spec);
    json_decref(bt);
    hml_frame_free(f);
}

TEST(cv_suggest_time_columns)
{
    struct hml_cv_suggestion s;
    suggest("penguins.csv", "species", NULL, &s);
    T_EQ(s.strategy, HML_CV_EXPANDING);
    T_STREQ(s.fold_column, "year");
    T_EQ(s.min_train_folds, 1);
    T_CONTAINS(s.reason, "'year' orders the rows in time (3 values)");
    /* The declared date is too fine; the season strings ("2013-14") are the coarser clock. */
    suggest("football.csv", NULL, "date", &s);
    T_EQ(s.strategy, HML_CV_EXPANDING);
    T_STREQ(s.fold_column, "season");
    /* Year_Sold (5 values) beats Year_Built (118) and Year_Remod_Add (61). */
    suggest("ames.csv", "Sale_Price", NULL, &s);
    T_STREQ(s.fold_column, "Year_Sold");
    T_EQ(s.min_train_folds, 1);
    /* Only a fine date: still expanding, with a note to derive a coarser column. */
    suggest("icehockey.csv", "result", NULL, &s);
    T_EQ(s.strategy, HML_CV_EXPANDING);
    T_STREQ(s.fold_column, "date");
    T_EQ(s.min_train_folds, 24);
    T_CONTAINS(s.reason, "its 98 values would make 98 folds: derive a coarser fold column");
}

TEST(cv_suggest_groups_classes_and_size)
{
    struct hml_cv_suggestion s;
    suggest("movielens_small.csv", "rating", NULL, &s);
    T_EQ(s.strategy, HML_CV_GROUP_KFOLD);
    T_STREQ(s.group_column, "userId");
    T_EQ(s.n_folds, 5);
    T_CONTAINS(s.reason, "133 groups over 20000 rows");
    /* passenger_id is unique per row, so not a group: the class balance decides. */
    suggest("titanic.csv", "survived", NULL, &s);
    T_EQ(s.strategy, HML_CV_STRATIFIED_KFOLD);
    T_STREQ(s.target_column, "survived");
    T_EQ(s.n_folds, 5);
    T_CONTAINS(s.reason, "2 classes, the smallest 38.0% of the rows");
    suggest("wine.csv", "cultivar", NULL, &s);
    T_EQ(s.strategy, HML_CV_STRATIFIED_KFOLD);
    T_EQ(s.n_folds, 10);
    suggest("diabetes.csv", "progression", NULL, &s);
    T_EQ(s.strategy, HML_CV_KFOLD);
    T_EQ(s.n_folds, 10);
    json_t *j = hml_cv_suggestion_json(&s);
    char *text = hml_json_canonical(j);
    T_STREQ(text, "{\"cv_strategy\":\"kfold\",\"n_folds\":10}");
    hml_free(text);
    json_decref(j);
}

TEST(cv_suggest_small_and_errors)
{
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_printf(&b, "id,day_of_week,y\n");
    for (int i = 0; i < 30; i++) hml_buf_printf(&b, "%d,%d,%d\n", i, i % 7, i % 2);
    struct hml_frame *f = csv(b.p);
    hml_buf_free(&b);
    struct hml_cv_suggestion s;
    struct hml_error err;
    hml_error_clear(&err);
    /* day_of_week cycles, so it is not a clock; 30 rows call for the bootstrap. */
    T_RC(hml_cv_suggest(f, "y", NULL, &s, &err), &err);
    T_EQ(s.strategy, HML_CV_BOOTSTRAP);
    T_EQ(s.n_iterations, 20);
    T_CONTAINS(s.reason, "only 30 rows");
    hml_error_clear(&err);
    T_EQ(hml_cv_suggest(f, "yy", NULL, &s, &err), HML_ENOTFOUND);
    T_CONTAINS(err.message, "target column 'yy' not found");
    T_CONTAINS(err.hint, "did you mean 'y'?");
    hml_error_clear(&err);
    T_EQ(hml_cv_suggest(f, "y", "when", &s, &err), HML_ENOTFOUND);
    T_CONTAINS(err.message, "time column 'when' not found");
    hml_frame_free(f);
}

/* ---- allocation failures --------------------------------------------------------------- */

TEST(cv_survives_allocation_failures)
{
    struct hml_frame *f = csv(SEASONS);
    static const char *const specs[] = {
        "{\"cv_strategy\": \"purged_kfold\", \"fold_column\": \"season\", \"group_column\": \"game\"}",
        "{\"cv_strategy\": \"stratified_kfold\", \"n_folds\": 2, \"target_column\": \"season\", "
        "\"group_column\": \"game\"}",
        "{\"cv_strategy\": \"bootstrap\", \"n_iterations\": 2}",
    };
    for (size_t s = 0; s < 3; s++) {
        struct hml_cv_spec spec;
        struct hml_error err;
        T_RC(parse(specs[s], NULL, &spec, &err), &err);
        uint64_t n = 1, failures = 0;
        for (; n < 400; n++) {
            struct hml_cv_folds *fs = NULL;
            size_t live = hml_alloc_live_bytes();
            hml_alloc_fail_at(n);
            enum hml_status rc = hml_cv_make(f, &spec, &fs, &err);
            bool fired = hml_alloc_failed();
            hml_alloc_fail_at(0);
            if (rc) T_EQ(rc, HML_ENOMEM);
            failures += rc != HML_OK;
            hml_cv_folds_free(fs);
            T_EQ(hml_alloc_live_bytes(), live);
            if (!fired) break;
        }
        T_OK(n < 400);         /* every allocation of the run was made to fail once */
        T_EQ(failures, n - 1); /* and each failure was reported, none swallowed */
        hml_cv_spec_fini(&spec);
    }
    hml_frame_free(f);
}
