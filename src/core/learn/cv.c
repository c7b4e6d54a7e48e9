/* cv.c — fold generation (value and row strategies), the temporal-ordering guardrail,
 * fold fingerprints and strategy suggestions. The rules live in harness/cv.h; the
 * shuffles, deals and draws are mirrored independently by tests/fixtures/cv/gen_cv.py. */
#include "harness/cv.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/config.h"

#define WHERE "cv"
#define WHERE_GUARD "guardrail.temporal_ordering"
#define NO_RANK SIZE_MAX
#define STRATEGIES_N 8
#define BOOT_REDRAWS_MAX 100 /* draws with no out-of-bag unit are redrawn, this many times at most */

/* ---- strategies ----------------------------------------------------------------------- */

struct strategy_info {
    const char *name, *describe;
    bool by_value, time_ordered;
};

static const struct strategy_info infos[STRATEGIES_N] = {
    [HML_CV_LOSO] = {"loso",
                     "leave one fold value out: each value is tested on a model trained on every "
                     "other value; not time-safe (earlier folds train on the future)",
                     true, false},
    [HML_CV_EXPANDING] = {"expanding", "each fold value is tested on a model trained on every earlier value; "
                                       "time-safe",
                          true, true},
    [HML_CV_SLIDING] = {"sliding", "each fold value is tested on a model trained on the window_size values just "
                                   "before it; time-safe",
                        true, true},
    [HML_CV_PURGED_KFOLD] = {"purged_kfold",
                             "each fold value (or block of values) is tested on a model trained on the other "
                             "values except purge_gap values on each side; trains on later values, never "
                             "next to the test fold",
                             true, true},
    [HML_CV_KFOLD] = {"kfold", "rows shuffled into n_folds folds; not time-safe", false, false},
    [HML_CV_STRATIFIED_KFOLD] = {"stratified_kfold", "like kfold, with each class's share kept in every fold; "
                                                     "not time-safe",
                                 false, false},
    [HML_CV_GROUP_KFOLD] = {"group_kfold", "whole groups of group_column placed into n_folds folds, balanced by "
                                           "size; not time-safe",
                            false, false},
    [HML_CV_BOOTSTRAP] = {"bootstrap", "n_iterations draws of rows with replacement, tested on the rows not "
                                       "drawn (out of bag); not time-safe",
                          false, false},
};

static const struct {
    const char *alias;
    enum hml_cv_strategy strategy;
} aliases[] = {
    {"leave_one_season_out", HML_CV_LOSO}, {"leave_one_out", HML_CV_LOSO},
    {"loo", HML_CV_LOSO},                  {"time_series", HML_CV_EXPANDING},
    {"temporal", HML_CV_EXPANDING},        {"expanding_window", HML_CV_EXPANDING},
    {"rolling", HML_CV_SLIDING},           {"sliding_window", HML_CV_SLIDING},
    {"purged", HML_CV_PURGED_KFOLD},       {"kfold_cv", HML_CV_KFOLD},
    {"kf", HML_CV_KFOLD},                  {"stratified", HML_CV_STRATIFIED_KFOLD},
    {"skf", HML_CV_STRATIFIED_KFOLD},      {"group", HML_CV_GROUP_KFOLD},
    {"gkf", HML_CV_GROUP_KFOLD},
};
#define ALIASES_N (sizeof aliases / sizeof *aliases)

const char *hml_cv_strategy_name(enum hml_cv_strategy s)
{
    HML_ASSERT((unsigned)s < STRATEGIES_N);
    return infos[s].name;
}

const char *hml_cv_strategy_describe(enum hml_cv_strategy s)
{
    HML_ASSERT((unsigned)s < STRATEGIES_N);
    return infos[s].describe;
}

bool hml_cv_strategy_by_value(enum hml_cv_strategy s)
{
    HML_ASSERT((unsigned)s < STRATEGIES_N);
    return infos[s].by_value;
}

bool hml_cv_strategy_time_ordered(enum hml_cv_strategy s)
{
    HML_ASSERT((unsigned)s < STRATEGIES_N);
    return infos[s].time_ordered;
}

/* Joins names with ", " into buf (truncated with "…"). */
static void join_names(const char *const *names, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - off) {
            if (cap > 8) snprintf(buf + cap - 8, 8, ", …");
            return;
        }
        off += (size_t)w;
    }
}

/* An unknown name: the canonical names are the valid ones, but a typo of an alias
 * ("temporl") deserves its suggestion too. */
static enum hml_status unknown_strategy(const char *given, struct hml_error *err)
{
    const char *names[STRATEGIES_N], *all[STRATEGIES_N + ALIASES_N];
    for (size_t i = 0; i < STRATEGIES_N; i++) all[i] = names[i] = infos[i].name;
    for (size_t i = 0; i < ALIASES_N; i++) all[STRATEGIES_N + i] = aliases[i].alias;
    hml_fail(err, HML_EINVAL, WHERE, "unknown cv_strategy '%s'", given);
    hml_error_choices(err, given, names, STRATEGIES_N);
    const char *near = hml_suggest(given, all, STRATEGIES_N + ALIASES_N);
    if (!err || err->did_you_mean[0] || !near) return HML_EINVAL;
    for (size_t i = 0; i < ALIASES_N; i++)
        if (near == aliases[i].alias) {
            char list[400];
            join_names(names, STRATEGIES_N, list, sizeof list);
            snprintf(err->did_you_mean, sizeof err->did_you_mean, "%s", near);
            return hml_hint(err, "did you mean '%s' (an alias of '%s')? valid: %s", near,
                            infos[aliases[i].strategy].name, list);
        }
    return HML_EINVAL;
}

enum hml_status hml_cv_strategy_parse(const char *name, enum hml_cv_strategy *out, struct hml_error *err)
{
    char norm[64];
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= sizeof norm) {
        hml_fail(err, HML_EINVAL, WHERE, "cv_strategy '%.60s' is not a strategy name", name ? name : "");
        return unknown_strategy(name ? name : "", err);
    }
    /* "Leave-One-Season-Out" and "leave one season out" mean the same as the snake_case name. */
    for (size_t i = 0; i <= len; i++) {
        char c = (char)tolower((unsigned char)name[i]);
        norm[i] = (c == '-' || c == ' ') ? '_' : c;
    }
    for (size_t i = 0; i < STRATEGIES_N; i++)
        if (!strcmp(norm, infos[i].name)) return *out = (enum hml_cv_strategy)i, HML_OK;
    for (size_t i = 0; i < ALIASES_N; i++)
        if (!strcmp(norm, aliases[i].alias)) return *out = aliases[i].strategy, HML_OK;
    return unknown_strategy(name, err);
}

/* ---- splitmix64 ------------------------------------------------------------------------- */

#define GOLDEN 0x9e3779b97f4a7c15ull

struct rng {
    uint64_t state;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_next(struct rng *r)
{
    r->state += GOLDEN;
    return mix64(r->state);
}

/* Uniform in [0, n): draws below 2^64 mod n are rejected, since they would favour
 * the low residues (the bias is tiny, but exact is as cheap as approximate). */
static size_t rng_below(struct rng *r, size_t n)
{
    HML_ASSERT(n > 0);
    uint64_t threshold = (0 - (uint64_t)n) % n;
    for (;;) {
        uint64_t x = rng_next(r);
        if (x >= threshold) return (size_t)(x % n);
    }
}

/* Fisher–Yates, from the last element down. */
static void shuffle(size_t *a, size_t n, struct rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ---- ranking a column by its natural order ------------------------------------------------ */

struct ranks {
    size_t *of_row; /* rank of each row's value, NO_RANK for null           */
    size_t *rep;    /* a row holding each rank's value                      */
    size_t n;       /* distinct non-null values                             */
    size_t nulls;
};

static void ranks_fini(struct ranks *r)
{
    hml_free(r->of_row);
    hml_free(r->rep);
    memset(r, 0, sizeof *r);
}

static bool value_null(const struct hml_column *c, size_t i)
{
    return hml_column_is_null(c, i) || (c->type == HML_TYPE_F64 && isnan(hml_f64(c)[i]));
}

static int cmp_values(const struct hml_column *c, size_t i, size_t j)
{
    switch (c->type) {
    case HML_TYPE_F64: {
        double a = hml_f64(c)[i], b = hml_f64(c)[j];
        return (a > b) - (a < b);
    }
    case HML_TYPE_I64: return (hml_i64(c)[i] > hml_i64(c)[j]) - (hml_i64(c)[i] < hml_i64(c)[j]);
    case HML_TYPE_BOOL: return (int)hml_bool(c)[i] - (int)hml_bool(c)[j];
    case HML_TYPE_DATE: return (hml_days(c)[i] > hml_days(c)[j]) - (hml_days(c)[i] < hml_days(c)[j]);
    case HML_TYPE_STR: {
        int32_t a = hml_codes(c)[i], b = hml_codes(c)[j];
        if (a == b) return 0;
        size_t la = hml_dict_len(c->dict, a), lb = hml_dict_len(c->dict, b);
        int d = memcmp(hml_dict_get(c->dict, a), hml_dict_get(c->dict, b), la < lb ? la : lb);
        return d ? d : (la > lb) - (la < lb);
    }
    }
    return 0;
}

static int cmp_rows(const void *a, const void *b, void *ud)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int d = cmp_values(ud, i, j);
    return d ? d : (i > j) - (i < j);
}

/* Ranks every row's value: equal values share a rank, ranks follow the natural order. */
static enum hml_status rank_column(const struct hml_column *c, struct ranks *out, struct hml_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = c->n, m = 0;
    size_t *idx = hml_malloc((n ? n : 1) * sizeof *idx);
    out->of_row = hml_malloc((n ? n : 1) * sizeof *out->of_row);
    if (!idx || !out->of_row) goto oom;
    for (size_t i = 0; i < n; i++) {
        out->of_row[i] = NO_RANK;
        if (!value_null(c, i)) idx[m++] = i;
    }
    out->nulls = n - m;
    qsort_r(idx, m, sizeof *idx, cmp_rows, (void *)c);
    size_t distinct = 0;
    for (size_t k = 0; k < m; k++) distinct += k == 0 || cmp_values(c, idx[k - 1], idx[k]) != 0;
    out->rep = hml_malloc((distinct ? distinct : 1) * sizeof *out->rep);
    if (!out->rep) goto oom;
    for (size_t k = 0, r = 0; k < m; k++) {
        if (k > 0 && cmp_values(c, idx[k - 1], idx[k]) != 0) r++;
        if (r == out->n) out->rep[r] = idx[k], out->n = r + 1; /* the smallest row of each value */
        out->of_row[idx[k]] = r;
    }
    HML_ASSERT(out->n == distinct);
    hml_free(idx);
    return HML_OK;
oom:
    hml_free(idx);
    ranks_fini(out);
    return hml_fail(err, HML_ENOMEM, WHERE, "out of memory ranking %zu rows", n);
}

/* The text form of each rank's value (owned array of owned strings). */
static char **rank_texts(const struct hml_column *c, const struct ranks *rk)
{
    char **t = hml_calloc(rk->n ? rk->n : 1, sizeof *t);
    for (size_t r = 0; t && r < rk->n; r++) {
        char buf[256];
        hml_column_format(c, rk->rep[r], buf, sizeof buf);
        if (!(t[r] = hml_strdup(buf))) {
            for (size_t q = 0; q < r; q++) hml_free(t[q]);
            hml_free(t);
            return NULL;
        }
    }
    return t;
}

static void free_texts(char **t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) hml_free(t[i]);
    hml_free(t);
}

/* hml_frame_lookup with the column's role in the message ("fold column 'x' not found");
 * the nearest name and the valid names stay in the hint. */
static enum hml_status lookup(const struct hml_frame *f, const char *role, const char *name, size_t *idx,
                              struct hml_error *err)
{
    if (!hml_frame_lookup(f, name, idx, err)) return HML_OK;
    hml_fail(err, HML_ENOTFOUND, WHERE, "%s '%s' not found in the data", role, name);
    return HML_ENOTFOUND;
}

/* A spec built in C may leave fold_column unset: the default applies. */
static const char *fold_name(const struct hml_cv_spec *spec)
{
    return spec->fold_column ? spec->fold_column : "fold";
}

/* ---- the spec -------------------------------------------------------------------------- */

void hml_cv_spec_init(struct hml_cv_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->strategy = HML_CV_KFOLD;
    spec->purge_gap = 1;
    spec->min_train_folds = 1;
    spec->n_iterations = 5;
    spec->seed = 42;
}

void hml_cv_spec_fini(struct hml_cv_spec *spec)
{
    if (!spec) return;
    hml_free(spec->fold_column);
    free_texts(spec->fold_values, spec->fold_values_n);
    hml_free(spec->group_column);
    hml_free(spec->target_column);
    hml_free(spec->time_column);
    hml_cv_spec_init(spec);
}


/* An integer key: what it means, its bounds and what to set when it is out of them. */
struct int_key {
    const char *key;
    int lo;
    unsigned hi;
    const char *hint;
};

static const struct int_key int_keys[] = {
    {"n_folds", 2, HML_CV_FOLDS_MAX, "set n_folds to 2 or more (5 is usual)"},
    {"window_size", 1, HML_CV_VALUES_MAX, "set window_size to how many past fold values each fold trains on, e.g. 3"},
    {"purge_gap", 0, HML_CV_VALUES_MAX, "set purge_gap to how many fold values to drop on each side of a test fold "
                                        "(0 drops none, 1 is usual)"},
    {"min_train_folds", 1, HML_CV_VALUES_MAX, "set min_train_folds to 1 or more (1 tests from the second value on)"},
    {"n_iterations", 1, HML_CV_FOLDS_MAX, "set n_iterations to the number of bootstrap draws, e.g. 5"},
};

/* Reads backtest.<key> into *out when present (a whole number within bounds). */
static enum hml_status get_int(const json_t *bt, const struct int_key *k, int *out, bool *present,
                               struct hml_error *err)
{
    const json_t *v = json_object_get(bt, k->key);
    *present = v && !json_is_null(v);
    if (!*present) return HML_OK;
    double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : NAN;
    if (isnan(d) || d != floor(d)) {
        hml_fail(err, HML_EINVAL, WHERE, "backtest.%s must be a whole number, got %s", k->key,
                 isnan(d) ? hml_json_kind(v) : "a fraction");
        return hml_hint(err, "%s", k->hint);
    }
    if (d < k->lo) {
        hml_fail(err, HML_EINVAL, WHERE, "backtest.%s must be at least %d, got %.0f", k->key, k->lo, d);
        return hml_hint(err, "%s", k->hint);
    }
    if (d > k->hi) {
        hml_fail(err, HML_ELIMIT, WHERE, "backtest.%s %.0f is over the limit of %u", k->key, d, k->hi);
        return hml_hint(err, "set %s to %u or less", k->key, k->hi);
    }
    *out = (int)d;
    return HML_OK;
}

/* Reads backtest.<key> as a non-empty string into *out (owned) when present. */
static enum hml_status get_str(const json_t *bt, const char *key, char **out, struct hml_error *err)
{
    const json_t *v = json_object_get(bt, key);
    if (!v || json_is_null(v)) return HML_OK;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        hml_fail(err, HML_EINVAL, WHERE, "backtest.%s must be a column name, got %s", key,
                 json_is_string(v) ? "an empty string" : hml_json_kind(v));
        return hml_hint(err, "set %s to the name of a column of the data", key);
    }
    hml_free(*out);
    *out = hml_strdup(json_string_value(v));
    return *out ? HML_OK : hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
}

/* A fold value as the text that names it: integers plainly, integral reals without ".0". */
static char *scalar_text(const json_t *v)
{
    char buf[64];
    if (json_is_string(v)) return hml_strdup(json_string_value(v));
    if (json_is_integer(v)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", json_real_value(v));
    else if (json_is_real(v)) snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    return hml_strdup(buf);
}

/* fold_values: a list of scalars (a single scalar counts as a list of one). */
static enum hml_status get_fold_values(const json_t *bt, struct hml_cv_spec *s, struct hml_error *err)
{
    const json_t *v = json_object_get(bt, "fold_values");
    if (!v || json_is_null(v)) return HML_OK;
    bool list = json_is_array(v);
    size_t n = list ? json_array_size(v) : 1;
    if (n > HML_CV_VALUES_MAX) {
        hml_fail(err, HML_ELIMIT, WHERE, "backtest.fold_values has %zu values, over the limit of %u", n,
                 HML_CV_VALUES_MAX);
        return hml_hint(err, "list fewer fold values ([] tests every value)");
    }
    if (!(s->fold_values = hml_calloc(n ? n : 1, sizeof *s->fold_values)))
        return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = list ? json_array_get(v, i) : v;
        if (json_is_object(e) || json_is_array(e) || json_is_null(e)) {
            hml_fail(err, HML_EINVAL, WHERE, "backtest.fold_values[%zu] must be a value of the fold column, got %s",
                     i, hml_json_kind(e));
            return hml_hint(err, "list fold values as plain numbers, dates or strings, e.g. [2019, 2020]");
        }
        if (!(s->fold_values[i] = scalar_text(e))) return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
        s->fold_values_n = i + 1;
    }
    return HML_OK;
}

static enum hml_status get_strategy(const json_t *bt, struct hml_cv_spec *s, struct hml_error *err)
{
    const json_t *v = json_object_get(bt, "cv_strategy");
    if (!v || json_is_null(v)) {
        char list[400];
        const char *names[STRATEGIES_N];
        for (size_t i = 0; i < STRATEGIES_N; i++) names[i] = infos[i].name;
        join_names(names, STRATEGIES_N, list, sizeof list);
        hml_fail(err, HML_EINVAL, WHERE, "backtest.cv_strategy is not set");
        return hml_hint(err, "set cv_strategy to one of: %s", list);
    }
    if (!json_is_string(v)) {
        hml_fail(err, HML_EINVAL, WHERE, "backtest.cv_strategy must be a strategy name, got %s", hml_json_kind(v));
        return hml_hint(err, "set cv_strategy to a name such as 'kfold' or 'expanding'");
    }
    return hml_cv_strategy_parse(json_string_value(v), &s->strategy, err);
}

static enum hml_status get_seed(const json_t *bt, struct hml_cv_spec *s, struct hml_error *err)
{
    const json_t *v = json_object_get(bt, "seed");
    if (!v || json_is_null(v)) return HML_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        hml_fail(err, HML_EINVAL, WHERE, "backtest.seed must be a whole number ≥ 0, got %s",
                 json_is_integer(v) ? "a negative number" : hml_json_kind(v));
        return hml_hint(err, "set seed to a whole number such as 42");
    }
    s->seed = (uint64_t)json_integer_value(v);
    return HML_OK;
}

/* What a strategy needs that the keys alone can show is missing or contradictory. */
static enum hml_status check_needs(const struct hml_cv_spec *s, bool has_window, struct hml_error *err)
{
    const char *name = infos[s->strategy].name;
    if (s->strategy == HML_CV_SLIDING && !has_window) {
        hml_fail(err, HML_EINVAL, WHERE, "cv_strategy 'sliding' needs window_size");
        return hml_hint(err, "set window_size to how many past fold values each fold trains on, e.g. 3");
    }
    if (s->strategy == HML_CV_SLIDING && s->window_size < s->min_train_folds) {
        hml_fail(err, HML_EINVAL, WHERE, "window_size %d is smaller than min_train_folds %d: no fold could train",
                 s->window_size, s->min_train_folds);
        return hml_hint(err, "set min_train_folds to %d or less, or widen window_size", s->window_size);
    }
    if (s->strategy == HML_CV_GROUP_KFOLD && !s->group_column) {
        hml_fail(err, HML_EINVAL, WHERE, "cv_strategy 'group_kfold' needs group_column");
        return hml_hint(err, "set group_column to the column whose rows must stay together (e.g. a game or "
                             "user id)");
    }
    if (s->strategy == HML_CV_STRATIFIED_KFOLD && !s->target_column) {
        hml_fail(err, HML_EINVAL, WHERE, "cv_strategy 'stratified_kfold' needs a target column to stratify on");
        return hml_hint(err, "set backtest.target_column (or data.target_column) to the class column");
    }
    if (!infos[s->strategy].by_value && s->fold_values_n > 0) {
        hml_fail(err, HML_EINVAL, WHERE, "fold_values only applies to loso, expanding, sliding and purged_kfold, "
                 "not '%s'", name);
        return hml_hint(err, "set fold_values to [] for '%s', or use a strategy over fold_column values", name);
    }
    return HML_OK;
}

enum hml_status hml_cv_spec_parse(const json_t *bt, const char *target_fallback, struct hml_cv_spec *out,
                                  struct hml_error *err)
{
    hml_cv_spec_init(out);
    if (!json_is_object(bt)) {
        hml_fail(err, HML_EINVAL, WHERE, "the backtest section must be an object, got %s",
                 bt ? hml_json_kind(bt) : "nothing");
        return hml_hint(err, "give backtest as {\"cv_strategy\": \"kfold\", \"n_folds\": 5, …}");
    }
    int *const slots[] = {&out->n_folds, &out->window_size, &out->purge_gap, &out->min_train_folds,
                          &out->n_iterations};
    bool present[5] = {false};
    enum hml_status rc = get_strategy(bt, out, err);
    for (size_t i = 0; !rc && i < 5; i++) rc = get_int(bt, &int_keys[i], slots[i], &present[i], err);
    if (!rc) rc = get_seed(bt, out, err);
    if (!rc) rc = get_str(bt, "fold_column", &out->fold_column, err);
    if (!rc) rc = get_str(bt, "group_column", &out->group_column, err);
    if (!rc) rc = get_str(bt, "target_column", &out->target_column, err);
    if (!rc) rc = get_fold_values(bt, out, err);
    if (!rc && !out->fold_column && !(out->fold_column = hml_strdup("fold")))
        rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    if (!rc && !out->target_column && target_fallback && *target_fallback &&
        !(out->target_column = hml_strdup(target_fallback)))
        rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    if (!rc) rc = check_needs(out, present[1], err);
    if (rc) hml_cv_spec_fini(out);
    return rc;
}

/* ---- the fold set ------------------------------------------------------------------------ */

void hml_cv_folds_free(struct hml_cv_folds *fs)
{
    if (!fs) return;
    for (size_t i = 0; i < fs->n; i++) {
        struct hml_cv_fold *fd = &fs->folds[i];
        hml_free(fd->train);
        hml_free(fd->test);
        hml_free(fd->train_values);
        hml_free(fd->test_values);
    }
    hml_free(fs->folds);
    free_texts(fs->values, fs->values_n);
    hml_free(fs);
}

/* Room for cap folds; fs->n counts the folds started, so a failure halfway through
 * one still frees what it allocated. */
static struct hml_cv_folds *folds_new(enum hml_cv_strategy s, size_t rows, size_t cap)
{
    struct hml_cv_folds *fs = hml_calloc(1, sizeof *fs);
    if (!fs) return NULL;
    fs->strategy = s;
    fs->rows = rows;
    if (!(fs->folds = hml_calloc(cap ? cap : 1, sizeof *fs->folds))) {
        hml_free(fs);
        return NULL;
    }
    return fs;
}

/* Keeps the whole set under HML_CV_ENTRIES_MAX indices. */
static enum hml_status charge(size_t *entries, size_t more, struct hml_error *err)
{
    if (more <= HML_CV_ENTRIES_MAX && *entries <= HML_CV_ENTRIES_MAX - more) {
        *entries += more;
        return HML_OK;
    }
    hml_fail(err, HML_ELIMIT, WHERE, "the fold set would hold more than %llu row indices",
             (unsigned long long)HML_CV_ENTRIES_MAX);
    return hml_hint(err, "use fewer folds (fold_values, n_folds or n_iterations) or fewer rows");
}

static enum hml_status fold_alloc(struct hml_cv_fold *fd, size_t train_n, size_t test_n, struct hml_error *err)
{
    fd->train = hml_malloc((train_n ? train_n : 1) * sizeof *fd->train);
    fd->test = hml_malloc((test_n ? test_n : 1) * sizeof *fd->test);
    if (!fd->train || !fd->test) return hml_fail(err, HML_ENOMEM, WHERE, "out of memory building folds");
    return HML_OK;
}

/* ---- strategies over fold-column values ------------------------------------------------------ */

struct value_setup {
    const char *name;      /* the fold column               */
    struct ranks rk;
    size_t *count;         /* rows per rank                 */
    uint8_t *selected;     /* test candidates; NULL = all   */
    char **texts;          /* each rank's value as text     */
};

static void value_setup_fini(struct value_setup *vs)
{
    free_texts(vs->texts, vs->rk.n);
    ranks_fini(&vs->rk);
    hml_free(vs->count);
    hml_free(vs->selected);
}

static enum hml_status value_prepare(const struct hml_frame *f, const struct hml_cv_spec *spec,
                                     struct value_setup *vs, struct hml_error *err)
{
    size_t ci;
    vs->name = fold_name(spec);
    if (lookup(f, "fold column", vs->name, &ci, err)) return HML_ENOTFOUND;
    const struct hml_column *c = f->cols[ci];
    enum hml_status rc = rank_column(c, &vs->rk, err);
    if (rc) return rc;
    if (vs->rk.nulls) {
        hml_fail(err, HML_EINVAL, WHERE, "fold column '%s' has %zu null value%s", vs->name, vs->rk.nulls,
                 vs->rk.nulls == 1 ? "" : "s");
        return hml_hint(err, "fill or drop those rows first (data drop_rows with condition null), or choose "
                             "another fold_column");
    }
    if (vs->rk.n < 2) {
        hml_fail(err, HML_EINVAL, WHERE, "fold column '%s' has %s", vs->name,
                 vs->rk.n ? "only one value" : "no values");
        return hml_hint(err, "strategies over values need at least 2: choose a fold_column with several values, "
                             "or a row strategy such as kfold");
    }
    if (vs->rk.n > HML_CV_VALUES_MAX) {
        hml_fail(err, HML_ELIMIT, WHERE, "fold column '%s' has %zu distinct values, over the limit of %u", vs->name,
                 vs->rk.n, HML_CV_VALUES_MAX);
        return hml_hint(err, "use a coarser fold column (e.g. the year or season of a date)");
    }
    vs->count = hml_calloc(vs->rk.n, sizeof *vs->count);
    vs->texts = rank_texts(c, &vs->rk);
    if (!vs->count || !vs->texts) return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t i = 0; i < c->n; i++) vs->count[vs->rk.of_row[i]]++;
    return HML_OK;
}

/* Rank of the fold value given as text, or NO_RANK. Numbers compare as numbers (so "2019"
 * finds 2019.0 and "0.1" finds 0.1), everything else by its text form. */
static size_t find_value(const struct hml_column *c, const struct value_setup *vs, const char *text)
{
    bool numeric = c->type == HML_TYPE_F64 || c->type == HML_TYPE_I64;
    char *end = NULL;
    double x = numeric ? strtod(text, &end) : 0;
    if (numeric && (end == text || *end)) return NO_RANK;
    for (size_t r = 0; r < vs->rk.n; r++)
        if (numeric ? hml_column_num(c, vs->rk.rep[r]) == x : !strcmp(vs->texts[r], text)) return r;
    return NO_RANK;
}

static enum hml_status resolve_fold_values(const struct hml_frame *f, const struct hml_cv_spec *spec,
                                           struct value_setup *vs, struct hml_error *err)
{
    if (spec->fold_values_n == 0) return HML_OK;
    const struct hml_column *c = f->cols[hml_frame_find(f, vs->name)];
    if (!(vs->selected = hml_calloc(vs->rk.n, 1))) return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t i = 0; i < spec->fold_values_n; i++) {
        size_t r = find_value(c, vs, spec->fold_values[i]);
        if (r == NO_RANK) {
            hml_fail(err, HML_ENOTFOUND, WHERE, "fold value '%s' is not a value of fold column '%s'",
                     spec->fold_values[i], vs->name);
            return hml_error_choices(err, spec->fold_values[i], (const char *const *)vs->texts, vs->rk.n);
        }
        vs->selected[r] = 1;
    }
    return HML_OK;
}

/* Rows of one group (both sides of a game) must share a fold value, or a model would
 * train on one side of a game it is tested on. */
static enum hml_status check_group_span(const struct hml_frame *f, const struct hml_cv_spec *spec,
                                        const struct value_setup *vs, struct hml_error *err)
{
    size_t gi;
    if (lookup(f, "group column", spec->group_column, &gi, err)) return HML_ENOTFOUND;
    struct ranks g;
    enum hml_status rc = rank_column(f->cols[gi], &g, err);
    if (rc) return rc;
    size_t *first = hml_malloc((g.n ? g.n : 1) * sizeof *first);
    if (!first) rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t k = 0; first && k < g.n; k++) first[k] = NO_RANK;
    for (size_t i = 0; first && !rc && i < f->nrows; i++) {
        size_t gr = g.of_row[i], fr = vs->rk.of_row[i];
        if (gr == NO_RANK) continue;
        if (first[gr] == NO_RANK) first[gr] = fr;
        if (first[gr] == fr) continue;
        char gtext[128];
        hml_column_format(f->cols[gi], i, gtext, sizeof gtext);
        hml_fail(err, HML_EINVAL, WHERE, "group '%s' of group column '%s' spans fold values '%s' and '%s'", gtext,
                 spec->group_column, vs->texts[first[gr]], vs->texts[fr]);
        rc = hml_hint(err, "rows of one group (e.g. both sides of a game) must share a '%s' value: fix the data "
                           "of that group, or drop group_column",
                      vs->name);
    }
    hml_free(first);
    ranks_fini(&g);
    return rc;
}

/* Test blocks as rank bounds: block b is ranks [bounds[b], bounds[b+1]). One value per
 * block, except purged_kfold with n_folds: n_folds runs of consecutive values, the
 * first V mod n_folds one value longer. */
static enum hml_status value_blocks(const struct hml_cv_spec *spec, const struct value_setup *vs, size_t **bounds,
                                    size_t *nb, struct hml_error *err)
{
    size_t V = vs->rk.n;
    size_t k = spec->strategy == HML_CV_PURGED_KFOLD && spec->n_folds > 0 ? (size_t)spec->n_folds : V;
    if (k > V) {
        hml_fail(err, HML_EINVAL, WHERE, "n_folds %zu is more than the %zu values of fold column '%s'", k, V,
                 vs->name);
        return hml_hint(err, "set n_folds to %zu or less, or leave it unset for one test fold per value", V);
    }
    if (!(*bounds = hml_malloc((k + 1) * sizeof **bounds))) return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    (*bounds)[0] = 0;
    for (size_t b = 0; b < k; b++) (*bounds)[b + 1] = (*bounds)[b] + V / k + (b < V % k);
    HML_ASSERT((*bounds)[k] == V);
    *nb = k;
    return HML_OK;
}

/* Marks the training ranks of test block [lo, hi]; returns how many. */
static size_t train_mask(const struct hml_cv_spec *s, size_t V, size_t lo, size_t hi, uint8_t *mask)
{
    size_t n = 0, w = (size_t)s->window_size, gap = (size_t)s->purge_gap;
    for (size_t r = 0; r < V; r++) {
        bool in = false;
        switch (s->strategy) {
        case HML_CV_LOSO: in = r < lo || r > hi; break;
        case HML_CV_EXPANDING: in = r < lo; break;
        case HML_CV_SLIDING: in = r < lo && lo - r <= w; break;
        case HML_CV_PURGED_KFOLD: in = r + gap < lo || r > hi + gap; break;
        default: HML_ASSERT(!"a row strategy has no training values");
        }
        mask[r] = in;
        n += in;
    }
    return n;
}

static enum hml_status fill_value_fold(struct hml_cv_folds *fs, const struct value_setup *vs, const uint8_t *mask,
                                       size_t lo, size_t hi, size_t *entries, struct hml_error *err)
{
    size_t V = vs->rk.n, train_n = 0, test_n = 0, tv = 0, nrows = fs->rows;
    for (size_t r = 0; r < V; r++) {
        train_n += mask[r] ? vs->count[r] : 0;
        test_n += r >= lo && r <= hi ? vs->count[r] : 0;
        tv += mask[r];
    }
    enum hml_status rc = charge(entries, train_n + test_n + tv + (hi - lo + 1), err);
    if (rc) return rc;
    struct hml_cv_fold *fd = &fs->folds[fs->n++];
    if ((rc = fold_alloc(fd, train_n, test_n, err))) return rc;
    fd->train_values = hml_malloc((tv ? tv : 1) * sizeof *fd->train_values);
    fd->test_values = hml_malloc((hi - lo + 1) * sizeof *fd->test_values);
    if (!fd->train_values || !fd->test_values) return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t i = 0; i < nrows; i++) {
        size_t r = vs->rk.of_row[i];
        HML_ASSERT(!(mask[r] && r >= lo && r <= hi));
        if (mask[r]) fd->train[fd->train_n++] = i;
        else if (r >= lo && r <= hi) fd->test[fd->test_n++] = i;
    }
    for (size_t r = 0; r < V; r++)
        if (mask[r]) fd->train_values[fd->train_values_n++] = r;
    for (size_t r = lo; r <= hi; r++) fd->test_values[fd->test_values_n++] = r;
    HML_ASSERT(fd->train_n == train_n && fd->test_n == test_n);
    if (lo == hi) snprintf(fd->label, sizeof fd->label, "%s", vs->texts[lo]);
    else snprintf(fd->label, sizeof fd->label, "%s..%s", vs->texts[lo], vs->texts[hi]);
    return HML_OK;
}

/* Every selected block kept too few training values: say which knob frees one. */
static enum hml_status no_test_fold(const struct hml_cv_spec *spec, const struct value_setup *vs, size_t best,
                                    struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, WHERE,
             "no test fold is left: none of the %s%zu values of fold column '%s' has min_train_folds (%d) "
             "values to train on under '%s'",
             spec->fold_values_n ? "chosen test values among the " : "", vs->rk.n, vs->name,
             spec->min_train_folds, infos[spec->strategy].name);
    if (best > 0) return hml_hint(err, "set min_train_folds to %zu or less", best);
    if (spec->strategy == HML_CV_PURGED_KFOLD)
        return hml_hint(err, "lower purge_gap (now %d) or n_folds so some values are left to train on",
                        spec->purge_gap);
    return hml_hint(err, "choose later fold_values (the earliest value has nothing before it), or drop "
                         "fold_values");
}

static enum hml_status value_folds(const struct hml_cv_spec *spec, const struct value_setup *vs,
                                   const size_t *bounds, size_t nb, struct hml_cv_folds *fs, struct hml_error *err)
{
    size_t V = vs->rk.n, entries = 0, best = 0;
    uint8_t *mask = hml_malloc(V);
    enum hml_status rc = mask ? HML_OK : hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t b = 0; !rc && b < nb; b++) {
        size_t lo = bounds[b], hi = bounds[b + 1] - 1;
        bool chosen = !vs->selected;
        for (size_t r = lo; !chosen && r <= hi; r++) chosen = vs->selected[r];
        if (!chosen) continue;
        size_t tv = train_mask(spec, V, lo, hi, mask);
        best = tv > best ? tv : best;
        if (tv < (size_t)spec->min_train_folds) {
            fs->skipped++;
            continue;
        }
        if (fs->n == HML_CV_FOLDS_MAX) {
            hml_fail(err, HML_ELIMIT, WHERE, "more than %u test folds over fold column '%s'", HML_CV_FOLDS_MAX,
                     vs->name);
            rc = hml_hint(err, "choose test values with fold_values, or use a coarser fold column");
            break;
        }
        rc = fill_value_fold(fs, vs, mask, lo, hi, &entries, err);
    }
    if (!rc && fs->n == 0) rc = no_test_fold(spec, vs, best, err);
    hml_free(mask);
    return rc;
}

static enum hml_status make_by_value(const struct hml_frame *f, const struct hml_cv_spec *spec,
                                     struct hml_cv_folds **out, struct hml_error *err)
{
    struct value_setup vs;
    memset(&vs, 0, sizeof vs);
    struct hml_cv_folds *fs = NULL;
    size_t *bounds = NULL, nb = 0;
    enum hml_status rc = value_prepare(f, spec, &vs, err);
    if (!rc) rc = resolve_fold_values(f, spec, &vs, err);
    if (!rc && spec->group_column) rc = check_group_span(f, spec, &vs, err);
    if (!rc) rc = value_blocks(spec, &vs, &bounds, &nb, err);
    if (!rc && !(fs = folds_new(spec->strategy, f->nrows, nb > HML_CV_FOLDS_MAX ? HML_CV_FOLDS_MAX : nb)))
        rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    if (!rc) rc = value_folds(spec, &vs, bounds, nb, fs, err);
    if (!rc) {
        fs->values = vs.texts;
        fs->values_n = vs.rk.n;
        vs.texts = NULL;
        *out = fs;
        fs = NULL;
    }
    hml_free(bounds);
    hml_cv_folds_free(fs);
    value_setup_fini(&vs);
    return rc;
}

/* ---- strategies over rows ------------------------------------------------------------------ */

/* The things folds move: single rows, or whole groups of group_column. Units are in a
 * fixed order before any shuffle: groups by their value's natural order, then the rows
 * with a null group value (each a unit of its own) in row order. */
struct units {
    size_t n;
    size_t *of_row; /* unit of each row                             */
    size_t *start;  /* n + 1 offsets into rows                      */
    size_t *rows;   /* rows by unit, ascending within a unit         */
};

static void units_fini(struct units *u)
{
    hml_free(u->of_row);
    hml_free(u->start);
    hml_free(u->rows);
    memset(u, 0, sizeof *u);
}

static size_t unit_size(const struct units *u, size_t k)
{
    return u->start[k + 1] - u->start[k];
}

static enum hml_status units_build(const struct hml_frame *f, const char *group, struct units *u,
                                   struct hml_error *err)
{
    size_t n = f->nrows, gi;
    memset(u, 0, sizeof *u);
    struct ranks g;
    memset(&g, 0, sizeof g);
    if (group && lookup(f, "group column", group, &gi, err)) return HML_ENOTFOUND;
    enum hml_status rc = group ? rank_column(f->cols[gi], &g, err) : HML_OK;
    if (rc) return rc;
    u->of_row = hml_malloc((n ? n : 1) * sizeof *u->of_row);
    u->rows = hml_malloc((n ? n : 1) * sizeof *u->rows);
    u->n = group ? g.n + g.nulls : n;
    u->start = hml_calloc(u->n + 1, sizeof *u->start);
    if (!u->of_row || !u->rows || !u->start) {
        ranks_fini(&g);
        units_fini(u);
        return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    }
    for (size_t i = 0, nulls = 0; i < n; i++) {
        u->of_row[i] = !group ? i : g.of_row[i] != NO_RANK ? g.of_row[i] : g.n + nulls++;
        u->start[u->of_row[i] + 1]++;
    }
    for (size_t k = 0; k < u->n; k++) u->start[k + 1] += u->start[k];
    /* Place rows using start[] as cursors, then shift the cursors back into offsets. */
    for (size_t i = 0; i < n; i++) u->rows[u->start[u->of_row[i]]++] = i;
    for (size_t k = u->n; k > 0; k--) u->start[k] = u->start[k - 1];
    u->start[0] = 0;
    ranks_fini(&g);
    return HML_OK;
}

struct order_key {
    size_t unit, size, pos;
};

static int cmp_order(const void *a, const void *b)
{
    const struct order_key *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Units in the order they are placed: shuffled, then largest first (a stable sort, so
 * units of one size keep their shuffled order). Caller frees. */
static size_t *unit_order(const struct units *u, struct rng *rng)
{
    size_t *perm = hml_malloc((u->n ? u->n : 1) * sizeof *perm);
    struct order_key *keys = hml_malloc((u->n ? u->n : 1) * sizeof *keys);
    if (!perm || !keys) {
        hml_free(perm);
        hml_free(keys);
        return NULL;
    }
    for (size_t k = 0; k < u->n; k++) perm[k] = k;
    shuffle(perm, u->n, rng);
    for (size_t k = 0; k < u->n; k++) keys[k] = (struct order_key){perm[k], unit_size(u, perm[k]), k};
    qsort(keys, u->n, sizeof *keys, cmp_order);
    for (size_t k = 0; k < u->n; k++) perm[k] = keys[k].unit;
    hml_free(keys);
    return perm;
}

/* A min-heap of folds by (rows, fold index): the lightest fold, ties to the lowest. */
static bool lighter(const size_t *rows, size_t a, size_t b)
{
    return rows[a] < rows[b] || (rows[a] == rows[b] && a < b);
}

static void heap_down(size_t *heap, size_t n, const size_t *rows, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && lighter(rows, heap[l], heap[m])) m = l;
        if (r < n && lighter(rows, heap[r], heap[m])) m = r;
        if (m == i) return;
        size_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

/* kfold and group_kfold: each unit, in unit_order, into the fold with the fewest rows.
 * With single rows this deals the shuffled rows round-robin. */
static enum hml_status assign_lightest(const struct units *u, size_t k, struct rng *rng, size_t *fold_of_unit,
                                       struct hml_error *err)
{
    size_t *order = unit_order(u, rng);
    size_t *heap = hml_malloc(k * sizeof *heap), *rows = hml_calloc(k, sizeof *rows);
    enum hml_status rc = order && heap && rows ? HML_OK : hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t f = 0; !rc && f < k; f++) heap[f] = f; /* all empty: already a heap */
    for (size_t i = 0; !rc && i < u->n; i++) {
        size_t f = heap[0];
        fold_of_unit[order[i]] = f;
        rows[f] += unit_size(u, order[i]);
        heap_down(heap, k, rows, 0);
    }
    hml_free(order);
    hml_free(heap);
    hml_free(rows);
    return rc;
}

/* Class of every row for stratification: the target's rank, nulls one more class. */
struct classes {
    struct ranks rk;
    size_t n;         /* classes, the null class included when present */
    size_t *total;    /* rows per class                                 */
};

static size_t class_of(const struct classes *c, size_t row)
{
    return c->rk.of_row[row] == NO_RANK ? c->rk.n : c->rk.of_row[row];
}

static enum hml_status classes_build(const struct hml_frame *f, const char *target, struct classes *c,
                                     struct hml_error *err)
{
    size_t ti;
    memset(c, 0, sizeof *c);
    if (lookup(f, "target column", target, &ti, err)) return HML_ENOTFOUND;
    enum hml_status rc = rank_column(f->cols[ti], &c->rk, err);
    if (rc) return rc;
    c->n = c->rk.n + (c->rk.nulls > 0);
    if (c->n > HML_CV_CLASSES_MAX) {
        hml_fail(err, HML_EINVAL, WHERE, "target column '%s' has %zu distinct values, too many classes to stratify",
                 target, c->n);
        return hml_hint(err, "stratified_kfold is for class targets (at most %u classes): use kfold for a "
                             "continuous target",
                        HML_CV_CLASSES_MAX);
    }
    if (!(c->total = hml_calloc(c->n ? c->n : 1, sizeof *c->total)))
        return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t i = 0; i < f->nrows; i++) c->total[class_of(c, i)]++;
    return HML_OK;
}

static void classes_fini(struct classes *c)
{
    ranks_fini(&c->rk);
    hml_free(c->total);
}

/* stratified_kfold over rows: class by class (natural order, nulls last), each class's
 * rows shuffled and dealt round-robin, the dealing position carried across classes so
 * fold sizes also differ by at most one. */
static enum hml_status assign_stratified_rows(size_t nrows, const struct classes *c, size_t k, struct rng *rng,
                                              size_t *fold_of_row, struct hml_error *err)
{
    size_t *start = hml_calloc(c->n + 1, sizeof *start), *rows = hml_malloc((nrows ? nrows : 1) * sizeof *rows);
    if (!start || !rows) {
        hml_free(start);
        hml_free(rows);
        return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    }
    for (size_t q = 0; q < c->n; q++) start[q + 1] = start[q] + c->total[q];
    for (size_t i = 0; i < nrows; i++) rows[start[class_of(c, i)]++] = i;
    for (size_t q = c->n; q > 0; q--) start[q] = start[q - 1];
    start[0] = 0;
    size_t deal = 0;
    for (size_t q = 0; q < c->n; q++) {
        shuffle(rows + start[q], c->total[q], rng);
        for (size_t j = start[q]; j < start[q + 1]; j++) fold_of_row[rows[j]] = deal++ % k;
    }
    hml_free(start);
    hml_free(rows);
    return HML_OK;
}

/* How far x rows of a class overshoot its share total/k, in units of 1/k row. */
static int64_t excess(size_t x, size_t k, size_t total)
{
    int64_t v = (int64_t)(x * k) - (int64_t)total;
    return v > 0 ? v : 0;
}

/* stratified_kfold with groups: whole groups, in unit_order, each into the fold whose
 * class counts overshoot their shares least after taking it (then the fewest rows, then
 * the lowest fold). An empty fold never overshoots more than a used one, so every fold
 * receives a group before any fold receives a second. */
static enum hml_status assign_stratified_groups(const struct units *u, const struct classes *c, size_t k,
                                                struct rng *rng, size_t *fold_of_unit, struct hml_error *err)
{
    size_t C = c->n;
    size_t *order = unit_order(u, rng), *cnt = hml_calloc(k * C, sizeof *cnt), *rows = hml_calloc(k, sizeof *rows);
    size_t *g = hml_calloc(C, sizeof *g), *touched = hml_malloc(C * sizeof *touched);
    enum hml_status rc = order && cnt && rows && g && touched ? HML_OK
                                                              : hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t i = 0; !rc && i < u->n; i++) {
        size_t unit = order[i], nt = 0, best = 0;
        for (size_t j = u->start[unit]; j < u->start[unit + 1]; j++) {
            size_t q = class_of(c, u->rows[j]);
            if (g[q]++ == 0) touched[nt++] = q;
        }
        int64_t best_cost = INT64_MAX;
        for (size_t f = 0; f < k; f++) {
            int64_t cost = 0;
            for (size_t t = 0; t < nt; t++) {
                size_t q = touched[t], have = cnt[f * C + q];
                cost += excess(have + g[q], k, c->total[q]) - excess(have, k, c->total[q]);
            }
            if (cost < best_cost || (cost == best_cost && rows[f] < rows[best])) best = f, best_cost = cost;
        }
        fold_of_unit[unit] = best;
        rows[best] += unit_size(u, unit);
        for (size_t t = 0; t < nt; t++) cnt[best * C + touched[t]] += g[touched[t]], g[touched[t]] = 0;
    }
    hml_free(order);
    hml_free(cnt);
    hml_free(rows);
    hml_free(g);
    hml_free(touched);
    return rc;
}

/* n_folds folds from a unit → fold assignment: fold f tests its units' rows and trains
 * on every other row. */
static enum hml_status fill_row_folds(struct hml_cv_folds *fs, const struct units *u, const size_t *fold_of_unit,
                                      size_t k, struct hml_error *err)
{
    size_t n = fs->rows, entries = 0;
    enum hml_status rc = charge(&entries, k * n, err);
    size_t *test_n = rc ? NULL : hml_calloc(k, sizeof *test_n);
    if (!rc && !test_n) rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) test_n[fold_of_unit[u->of_row[i]]]++;
    for (size_t f = 0; !rc && f < k; f++) {
        HML_ASSERT(test_n[f] > 0);
        struct hml_cv_fold *fd = &fs->folds[fs->n++];
        rc = fold_alloc(fd, n - test_n[f], test_n[f], err);
        snprintf(fd->label, sizeof fd->label, "fold %zu/%zu", f + 1, k);
    }
    for (size_t i = 0; !rc && i < n; i++) {
        size_t fo = fold_of_unit[u->of_row[i]];
        for (size_t f = 0; f < k; f++) {
            struct hml_cv_fold *fd = &fs->folds[f];
            if (f == fo) fd->test[fd->test_n++] = i;
            else fd->train[fd->train_n++] = i;
        }
    }
    for (size_t f = 0; !rc && f < k; f++) HML_ASSERT(fs->folds[f].test_n == test_n[f]);
    hml_free(test_n);
    return rc;
}

/* One bootstrap draw: units drawn with replacement until at least one is left out. */
static enum hml_status boot_draw(const struct units *u, struct rng *rng, size_t *count, size_t it,
                                 struct hml_error *err)
{
    for (size_t attempt = 0; attempt < BOOT_REDRAWS_MAX; attempt++) {
        memset(count, 0, u->n * sizeof *count);
        for (size_t d = 0; d < u->n; d++) count[rng_below(rng, u->n)]++;
        for (size_t k = 0; k < u->n; k++)
            if (count[k] == 0) return HML_OK;
    }
    hml_fail(err, HML_EINVAL, WHERE, "bootstrap draw %zu left no row out of bag in %d tries", it + 1,
             BOOT_REDRAWS_MAX);
    return hml_hint(err, "bootstrap needs more rows (or groups); use kfold on data this small");
}

static enum hml_status bootstrap_folds(const struct hml_cv_spec *spec, const struct units *u,
                                       struct hml_cv_folds *fs, struct hml_error *err)
{
    struct rng rng = {spec->seed};
    size_t *count = hml_malloc(u->n * sizeof *count), entries = 0;
    enum hml_status rc = count ? HML_OK : hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
    for (size_t it = 0; !rc && it < (size_t)spec->n_iterations; it++) {
        if ((rc = boot_draw(u, &rng, count, it, err))) break;
        size_t train_n = 0, test_n = 0;
        for (size_t k = 0; k < u->n; k++) {
            train_n += count[k] * unit_size(u, k);
            test_n += count[k] ? 0 : unit_size(u, k);
        }
        if ((rc = charge(&entries, train_n + test_n, err))) break;
        struct hml_cv_fold *fd = &fs->folds[fs->n++];
        if ((rc = fold_alloc(fd, train_n, test_n, err))) break;
        snprintf(fd->label, sizeof fd->label, "boot %zu", it + 1);
        for (size_t i = 0; i < fs->rows; i++) {
            size_t times = count[u->of_row[i]];
            if (times == 0) fd->test[fd->test_n++] = i;
            while (times--) fd->train[fd->train_n++] = i;
        }
        HML_ASSERT(fd->train_n == train_n && fd->test_n == test_n);
    }
    hml_free(count);
    return rc;
}

/* n_folds for the k-fold family: given, or 5 (group_kfold: min(5, groups)); never more
 * than the rows, nor than the groups when rows move in groups. */
static enum hml_status resolve_k(const struct hml_cv_spec *spec, size_t rows, size_t units, size_t *k,
                                 struct hml_error *err)
{
    bool given = spec->n_folds > 0;
    *k = given ? (size_t)spec->n_folds : 5;
    if (!given && spec->strategy == HML_CV_GROUP_KFOLD && units < *k && units >= 2) *k = units;
    /* Groups never outnumber rows, so with groups their count is the binding one. */
    if (!spec->group_column && *k > rows) {
        hml_fail(err, HML_EINVAL, WHERE, "n_folds %zu%s is more than the %zu rows of the data", *k,
                 given ? "" : " (the default)", rows);
        return hml_hint(err, "set n_folds to %zu or less", rows);
    }
    if (spec->group_column && *k > units) {
        hml_fail(err, HML_EINVAL, WHERE, "group column '%s' has %zu group%s, fewer than n_folds %zu%s",
                 spec->group_column, units, units == 1 ? "" : "s", *k, given ? "" : " (the default)");
        if (units >= 2) return hml_hint(err, "set n_folds to %zu or less, or choose a group_column with more groups",
                                        units);
        return hml_hint(err, "choose a group_column with at least 2 groups, or drop group_column");
    }
    return HML_OK;
}

static enum hml_status kfold_assign(const struct hml_frame *f, const struct hml_cv_spec *spec,
                                    const struct units *u, size_t k, size_t *fold_of_unit, struct hml_error *err)
{
    struct rng rng = {spec->seed};
    if (spec->strategy != HML_CV_STRATIFIED_KFOLD) return assign_lightest(u, k, &rng, fold_of_unit, err);
    struct classes c;
    enum hml_status rc = classes_build(f, spec->target_column, &c, err);
    if (!rc && spec->group_column) rc = assign_stratified_groups(u, &c, k, &rng, fold_of_unit, err);
    else if (!rc) rc = assign_stratified_rows(f->nrows, &c, k, &rng, fold_of_unit, err);
    classes_fini(&c);
    return rc;
}

static enum hml_status make_by_rows(const struct hml_frame *f, const struct hml_cv_spec *spec,
                                    struct hml_cv_folds **out, struct hml_error *err)
{
    if (f->nrows < 2) {
        hml_fail(err, HML_EINVAL, WHERE, "the data has %zu row%s, too few to split", f->nrows,
                 f->nrows == 1 ? "" : "s");
        return hml_hint(err, "add data (at least 2 rows) before a backtest");
    }
    struct units u;
    struct hml_cv_folds *fs = NULL;
    size_t k = 0, *fold_of_unit = NULL;
    enum hml_status rc = units_build(f, spec->group_column, &u, err);
    if (rc) return rc;
    if (spec->strategy == HML_CV_BOOTSTRAP) {
        if (u.n < 2) {
            hml_fail(err, HML_EINVAL, WHERE, "group column '%s' has only one group: bootstrap cannot leave one out",
                     spec->group_column);
            rc = hml_hint(err, "choose a group_column with several groups, or drop group_column");
        }
        if (!rc && !(fs = folds_new(spec->strategy, f->nrows, (size_t)spec->n_iterations)))
            rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
        if (!rc) rc = bootstrap_folds(spec, &u, fs, err);
    } else {
        rc = resolve_k(spec, f->nrows, u.n, &k, err);
        if (!rc && !(fold_of_unit = hml_malloc(u.n * sizeof *fold_of_unit)))
            rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
        if (!rc) rc = kfold_assign(f, spec, &u, k, fold_of_unit, err);
        if (!rc && !(fs = folds_new(spec->strategy, f->nrows, k)))
            rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
        if (!rc) rc = fill_row_folds(fs, &u, fold_of_unit, k, err);
    }
    if (!rc) *out = fs, fs = NULL;
    hml_cv_folds_free(fs);
    hml_free(fold_of_unit);
    units_fini(&u);
    return rc;
}

/* The bounds hml_cv_spec_parse enforces, again for specs built in C (0 = unset is fine
 * for n_folds and window_size). */
static enum hml_status check_ranges(const struct hml_cv_spec *s, struct hml_error *err)
{
    const int vals[] = {s->n_folds, s->window_size, s->purge_gap, s->min_train_folds, s->n_iterations};
    for (size_t i = 0; i < 5; i++) {
        const struct int_key *k = &int_keys[i];
        if (vals[i] == 0 && i < 2) continue;
        if (vals[i] < k->lo) {
            hml_fail(err, HML_EINVAL, WHERE, "backtest.%s must be at least %d, got %d", k->key, k->lo, vals[i]);
            return hml_hint(err, "%s", k->hint);
        }
        if ((unsigned)vals[i] > k->hi) {
            hml_fail(err, HML_ELIMIT, WHERE, "backtest.%s %d is over the limit of %u", k->key, vals[i], k->hi);
            return hml_hint(err, "set %s to %u or less", k->key, k->hi);
        }
    }
    return HML_OK;
}

enum hml_status hml_cv_make(const struct hml_frame *f, const struct hml_cv_spec *spec, struct hml_cv_folds **out,
                            struct hml_error *err)
{
    HML_ASSERT(f != NULL);
    HML_ASSERT(spec != NULL && (unsigned)spec->strategy < STRATEGIES_N);
    struct hml_cv_folds *fs = NULL;
    enum hml_status rc = check_ranges(spec, err);
    if (!rc) rc = check_needs(spec, spec->window_size > 0, err);
    if (!rc) rc = infos[spec->strategy].by_value ? make_by_value(f, spec, &fs, err) : make_by_rows(f, spec, &fs, err);
    /* The guardrail re-derives the order from the data: a pair with the generator. */
    if (!rc && (infos[spec->strategy].time_ordered || spec->temporal)) rc = hml_cv_check_temporal(f, spec, fs, err);
    if (rc) {
        hml_cv_folds_free(fs);
        return rc;
    }
    *out = fs;
    return HML_OK;
}

/* ---- the temporal-ordering guardrail ------------------------------------------------------- */

/* An ordering key of rows: the fold column or the time column, ranked. */
struct tkey {
    const char *name;
    const struct hml_column *col;
    struct ranks rk;
};

/* A fold's leak under one key: the training row with the latest leaking key (SIZE_MAX
 * when none), and the test rows' key range. Purged: a training key within gap of
 * [lo, hi] leaks; otherwise any training key ≥ lo does. */
struct leak {
    size_t row, lo, hi;
};

static struct leak find_leak(const struct hml_cv_fold *fd, const struct ranks *rk, bool purged, size_t gap)
{
    struct leak lk = {SIZE_MAX, NO_RANK, 0};
    for (size_t j = 0; j < fd->test_n; j++) {
        size_t r = rk->of_row[fd->test[j]];
        if (r == NO_RANK) continue;
        if (lk.lo == NO_RANK || r < lk.lo) lk.lo = r;
        if (r > lk.hi) lk.hi = r;
    }
    if (lk.lo == NO_RANK) return lk; /* no test row has a key: nothing to judge */
    size_t worst = 0;
    for (size_t j = 0; j < fd->train_n; j++) {
        size_t row = fd->train[j], r = rk->of_row[row];
        if (r == NO_RANK) continue;
        bool leaks = purged ? r + gap >= lk.lo && r <= lk.hi + gap : r >= lk.lo;
        if (leaks && (lk.row == SIZE_MAX || r > worst)) lk.row = row, worst = r;
    }
    return lk;
}

static enum hml_status report_leak(const struct hml_cv_spec *spec, const struct hml_cv_fold *fd,
                                   const struct tkey *key, bool is_time, struct leak lk, struct hml_error *err)
{
    char bad[128], lo[128], hi[128];
    hml_column_format(key->col, lk.row, bad, sizeof bad);
    hml_column_format(key->col, key->rk.rep[lk.lo], lo, sizeof lo);
    hml_column_format(key->col, key->rk.rep[lk.hi], hi, sizeof hi);
    bool purged = spec->strategy == HML_CV_PURGED_KFOLD;
    if (purged && !is_time)
        hml_fail(err, HML_EBLOCKED, WHERE_GUARD, "fold '%s' trains on rows with %s %s, within purge_gap %d of its "
                 "test values %s..%s", fd->label, key->name, bad, spec->purge_gap, lo, hi);
    else if (purged)
        hml_fail(err, HML_EBLOCKED, WHERE_GUARD, "fold '%s' trains on rows with %s %s, inside its test rows' %s "
                 "range %s..%s", fd->label, key->name, bad, key->name, lo, hi);
    else
        hml_fail(err, HML_EBLOCKED, WHERE_GUARD, "fold '%s' trains on rows with %s %s, not earlier than its first "
                 "test %s %s", fd->label, key->name, bad, key->name, lo);
    const char *never = "temporal_ordering cannot be overridden";
    if (!infos[spec->strategy].time_ordered)
        return hml_hint(err, "'%s' trains on the future: use cv_strategy 'expanding' (or 'sliding') over a "
                             "time-ordered fold_column; %s", infos[spec->strategy].name, never);
    if (is_time)
        return hml_hint(err, "fold column '%s' is not in the order of time column '%s': build the fold column "
                             "from '%s' (e.g. its year or season); %s",
                        fold_name(spec), key->name, key->name, never);
    return hml_hint(err, "the folds do not match the data (did it change after they were made?): make the folds "
                         "again from the current data; %s", never);
}

/* The set must index this frame: a stale set would read past the rows. */
static enum hml_status check_indices(const struct hml_frame *f, const struct hml_cv_folds *fs,
                                     struct hml_error *err)
{
    bool ok = fs->rows == f->nrows;
    for (size_t i = 0; ok && i < fs->n; i++) {
        const struct hml_cv_fold *fd = &fs->folds[i];
        for (size_t j = 0; ok && j < fd->train_n; j++) ok = fd->train[j] < f->nrows;
        for (size_t j = 0; ok && j < fd->test_n; j++) ok = fd->test[j] < f->nrows;
    }
    if (ok) return HML_OK;
    hml_fail(err, HML_ECONFLICT, WHERE_GUARD, "the folds were made for %zu rows, the data has %zu", fs->rows,
             f->nrows);
    return hml_hint(err, "make the folds again from the current data");
}

static enum hml_status tkey_load(const struct hml_frame *f, const char *role, const char *name, struct tkey *k,
                                 struct hml_error *err)
{
    size_t ci;
    if (lookup(f, role, name, &ci, err)) return HML_ENOTFOUND;
    k->name = name;
    k->col = f->cols[ci];
    return rank_column(k->col, &k->rk, err);
}

enum hml_status hml_cv_check_temporal(const struct hml_frame *f, const struct hml_cv_spec *spec,
                                      const struct hml_cv_folds *folds, struct hml_error *err)
{
    HML_ASSERT(f && spec && folds);
    bool by_value = infos[spec->strategy].by_value, ordered = infos[spec->strategy].time_ordered;
    bool purged = spec->strategy == HML_CV_PURGED_KFOLD;
    if (!ordered && !spec->temporal) return HML_OK;
    if (!by_value && !spec->time_column) {
        hml_fail(err, HML_EINVAL, WHERE_GUARD, "temporal safety was asked of '%s', but there is no time column to "
                 "order its rows by", infos[spec->strategy].name);
        return hml_hint(err, "set data.time_column (a date, season or year column), or use cv_strategy "
                             "'expanding' over a time-ordered fold_column");
    }
    struct tkey fk, tk;
    memset(&fk, 0, sizeof fk);
    memset(&tk, 0, sizeof tk);
    enum hml_status rc = check_indices(f, folds, err);
    if (!rc && by_value) rc = tkey_load(f, "fold column", fold_name(spec), &fk, err);
    if (!rc && spec->time_column) rc = tkey_load(f, "time column", spec->time_column, &tk, err);
    for (size_t i = 0; !rc && i < folds->n; i++) {
        const struct hml_cv_fold *fd = &folds->folds[i];
        struct leak lk = {SIZE_MAX, 0, 0};
        if (by_value) lk = find_leak(fd, &fk.rk, purged, (size_t)spec->purge_gap);
        if (lk.row != SIZE_MAX) {
            rc = report_leak(spec, fd, &fk, false, lk, err);
            break;
        }
        if (spec->time_column) lk = find_leak(fd, &tk.rk, purged, 0);
        if (lk.row != SIZE_MAX) rc = report_leak(spec, fd, &tk, true, lk, err);
    }
    ranks_fini(&fk.rk);
    ranks_fini(&tk.rk);
    return rc;
}

/* ---- fingerprints ---------------------------------------------------------------------------- */

#define FP_FOLD_SEED 0x686d6c2e63762e66ull /* "hml.cv.f" */
#define FP_SET_SEED 0x686d6c2e63762e73ull  /* "hml.cv.s" */

static uint64_t fp_step(uint64_t h, uint64_t x)
{
    return mix64(h ^ mix64(x + GOLDEN));
}

uint64_t hml_cv_fold_fingerprint(const struct hml_cv_fold *fd)
{
    uint64_t h = fp_step(FP_FOLD_SEED, fd->train_n);
    for (size_t j = 0; j < fd->train_n; j++) h = fp_step(h, fd->train[j]);
    h = fp_step(h, fd->test_n);
    for (size_t j = 0; j < fd->test_n; j++) h = fp_step(h, fd->test[j]);
    return h;
}

uint64_t hml_cv_fingerprint(const struct hml_cv_folds *fs)
{
    uint64_t h = fp_step(FP_SET_SEED, fs->n);
    for (size_t i = 0; i < fs->n; i++) h = fp_step(h, hml_cv_fold_fingerprint(&fs->folds[i]));
    return h;
}

/* ---- suggestions ------------------------------------------------------------------------------- */

#define SUGGEST_VALUES_MIN 3   /* fewer time values than this make too few folds to learn from */
#define SUGGEST_VALUES_MAX 50  /* more make a backtest that trains too many models             */
#define SUGGEST_ROWS_BOOT 50   /* below this, folds are too small: bootstrap                   */
#define SUGGEST_ROWS_TEN 1000  /* up to this, 10 folds; above, 5                                */
#define SUGGEST_CLASSES_MAX 20

/* The lowercase words of a column name: split at non-alphanumerics and camelCase humps
 * ("Year_Sold" → year, sold; "userId" → user, id). Returns how many (at most max). */
static size_t name_words(const char *name, char words[][24], size_t max)
{
    size_t n = 0, len = 0;
    for (const char *p = name;; p++) {
        bool alnum = *p && isalnum((unsigned char)*p);
        bool hump = alnum && len > 0 && isupper((unsigned char)*p) && islower((unsigned char)p[-1]);
        if ((!alnum || hump) && len > 0) {
            words[n++][len] = 0;
            len = 0;
            if (n == max) return n;
        }
        if (!*p) return n;
        if (alnum && len < 23) words[n][len++] = (char)tolower((unsigned char)*p);
    }
}

static bool has_word(char words[][24], size_t n, const char *w)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(words[i], w)) return true;
    return false;
}

/* year/season/week/date/month, but not "day_of_week" or "week_of_year": those cycle. */
static bool time_like_name(const char *name)
{
    char words[8][24];
    size_t n = name_words(name, words, 8);
    if (has_word(words, n, "of")) return false;
    static const char *const time_words[] = {"year", "season", "week", "date", "month"};
    for (size_t i = 0; i < sizeof time_words / sizeof *time_words; i++)
        if (has_word(words, n, time_words[i])) return true;
    return false;
}

/* Priority of a group-like name (lower is stronger), or -1. */
static int group_like_name(const char *name)
{
    static const char *const kinds[] = {"user", "player", "team", "group", "cluster"};
    char low[128], words[8][24];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        if (strstr(low, kinds[k])) return (int)k;
    size_t n = name_words(name, words, 8);
    return n > 1 && !strcmp(words[n - 1], "id") ? 5 : -1;
}

struct col_facts {
    size_t distinct, nulls;
};

static enum hml_status col_facts(const struct hml_column *c, struct col_facts *out, struct hml_error *err)
{
    struct ranks rk;
    enum hml_status rc = rank_column(c, &rk, err);
    if (rc) return rc;
    out->distinct = rk.n;
    out->nulls = rk.nulls;
    ranks_fini(&rk);
    return HML_OK;
}

static void suggest_time_done(struct hml_cv_suggestion *s, const char *name, size_t distinct, bool fine)
{
    s->strategy = HML_CV_EXPANDING;
    snprintf(s->fold_column, sizeof s->fold_column, "%s", name);
    s->min_train_folds = distinct / 4 > 1 ? (int)(distinct / 4) : 1;
    if (fine)
        snprintf(s->reason, sizeof s->reason, "'%s' orders the rows in time, so expanding folds train only on the "
                 "past, but its %zu values would make %zu folds: derive a coarser fold column (e.g. its year) "
                 "first", name, distinct, distinct);
    else
        snprintf(s->reason, sizeof s->reason, "'%s' orders the rows in time (%zu values), so expanding folds "
                 "train only on earlier values and never on the future", name, distinct);
}

/* A string column reads as time when every value starts with a four-digit year
 * ("2013-14", "2019 Q3"): those sort by time as text. */
static bool year_strings(const struct hml_column *c)
{
    if (c->type != HML_TYPE_STR || hml_dict_size(c->dict) == 0) return false;
    for (size_t k = 0; k < hml_dict_size(c->dict); k++) {
        const char *v = hml_dict_get(c->dict, (int32_t)k);
        for (int d = 0; d < 4; d++)
            if (!isdigit((unsigned char)v[d])) return false;
    }
    return true;
}

static bool time_like_column(const struct hml_column *c, const char *name)
{
    if (c->type == HML_TYPE_DATE) return true;
    if (c->type != HML_TYPE_I64 && c->type != HML_TYPE_STR) return false;
    return time_like_name(name) && (c->type == HML_TYPE_I64 || year_strings(c));
}

/* Step 1 of hml_cv_suggest. *found tells whether a time column was chosen. */
static enum hml_status suggest_time(const struct hml_frame *f, const char *time_column,
                                    struct hml_cv_suggestion *s, bool *found, struct hml_error *err)
{
    long best = -1, fine = -1;
    size_t best_d = 0, fine_d = 0;
    for (size_t i = 0; i < f->ncols; i++) {
        const struct hml_column *c = f->cols[i];
        bool declared = time_column && !strcmp(f->names[i], time_column);
        if (!declared && !time_like_column(c, f->names[i])) continue;
        struct col_facts fc;
        enum hml_status rc = col_facts(c, &fc, err);
        if (rc) return rc;
        if (fc.nulls || fc.distinct < SUGGEST_VALUES_MIN) continue;
        /* The coarsest usable column wins; the declared one wins ties. */
        if (fc.distinct <= SUGGEST_VALUES_MAX && (best < 0 || fc.distinct < best_d || (fc.distinct == best_d && declared)))
            best = (long)i, best_d = fc.distinct;
        if ((declared || c->type == HML_TYPE_DATE) && (fine < 0 || fc.distinct < fine_d || declared))
            fine = (long)i, fine_d = fc.distinct;
    }
    *found = best >= 0 || fine >= 0;
    if (best >= 0) suggest_time_done(s, f->names[best], best_d, false);
    else if (fine >= 0) suggest_time_done(s, f->names[fine], fine_d, fine_d > SUGGEST_VALUES_MAX);
    return HML_OK;
}

/* Step 2: a column of repeated ids whose rows belong together. */
static enum hml_status suggest_group(const struct hml_frame *f, struct hml_cv_suggestion *s, bool *found,
                                     struct hml_error *err)
{
    long best = -1;
    int best_p = 99;
    size_t best_d = 0;
    for (size_t i = 0; i < f->ncols; i++) {
        int p = group_like_name(f->names[i]);
        enum hml_type t = f->cols[i]->type;
        if (p < 0 || p >= best_p || (t != HML_TYPE_STR && t != HML_TYPE_I64)) continue;
        struct col_facts fc;
        enum hml_status rc = col_facts(f->cols[i], &fc, err);
        if (rc) return rc;
        if (fc.distinct > 1 && fc.distinct < f->nrows / 2) best = (long)i, best_p = p, best_d = fc.distinct;
    }
    *found = best >= 0;
    if (!*found) return HML_OK;
    s->strategy = HML_CV_GROUP_KFOLD;
    snprintf(s->group_column, sizeof s->group_column, "%s", f->names[best]);
    s->n_folds = best_d < 5 ? (int)best_d : 5;
    snprintf(s->reason, sizeof s->reason, "'%s' repeats across rows (%zu groups over %zu rows), so group_kfold keeps "
             "each group's rows in one fold and scores are not inflated by rows the model has half seen",
             f->names[best], best_d, f->nrows);
    return HML_OK;
}

/* A class target: strings, booleans, or whole numbers with 2..SUGGEST_CLASSES_MAX values. */
static bool class_target(const struct hml_column *c, const struct ranks *rk)
{
    if (rk->n < 2 || rk->n > SUGGEST_CLASSES_MAX) return false;
    if (c->type != HML_TYPE_F64) return c->type != HML_TYPE_DATE;
    for (size_t r = 0; r < rk->n; r++) {
        double v = hml_f64(c)[rk->rep[r]];
        if (v != floor(v)) return false;
    }
    return true;
}

/* Step 3: no structure found; the rows and the target decide. */
static enum hml_status suggest_rows(const struct hml_frame *f, const struct hml_column *target,
                                    const char *target_name, struct hml_cv_suggestion *s, struct hml_error *err)
{
    size_t n = f->nrows;
    s->n_folds = n <= SUGGEST_ROWS_TEN ? 10 : 5;
    if (n < SUGGEST_ROWS_BOOT) {
        s->strategy = HML_CV_BOOTSTRAP;
        s->n_folds = 0;
        s->n_iterations = 20;
        snprintf(s->reason, sizeof s->reason, "only %zu rows: 20 bootstrap draws test on the out-of-bag rows without "
                 "cutting the data into folds too small to score", n);
        return HML_OK;
    }
    struct ranks rk;
    memset(&rk, 0, sizeof rk);
    enum hml_status rc = target ? rank_column(target, &rk, err) : HML_OK;
    if (rc) return rc;
    if (target && class_target(target, &rk)) {
        size_t *count = hml_calloc(rk.n, sizeof *count), least = n;
        if (!count) rc = hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
        for (size_t i = 0; count && i < n; i++)
            if (rk.of_row[i] != NO_RANK) count[rk.of_row[i]]++;
        for (size_t r = 0; count && r < rk.n; r++) least = count[r] < least ? count[r] : least;
        s->strategy = HML_CV_STRATIFIED_KFOLD;
        snprintf(s->target_column, sizeof s->target_column, "%s", target_name);
        snprintf(s->reason, sizeof s->reason, "'%s' has %zu classes, the smallest %.1f%% of the rows, so "
                 "stratified_kfold keeps each class's share in every one of %d folds", target_name, rk.n,
                 100.0 * (double)least / (double)n, s->n_folds);
        hml_free(count);
    } else {
        s->strategy = HML_CV_KFOLD;
        snprintf(s->reason, sizeof s->reason, "no time order, groups or class target found: kfold with %d shuffled "
                 "folds over %zu rows", s->n_folds, n);
    }
    ranks_fini(&rk);
    return rc;
}

enum hml_status hml_cv_suggest(const struct hml_frame *f, const char *target, const char *time_column,
                               struct hml_cv_suggestion *out, struct hml_error *err)
{
    HML_ASSERT(f && out);
    memset(out, 0, sizeof *out);
    size_t ti;
    if (target && lookup(f, "target column", target, &ti, err)) return HML_ENOTFOUND;
    if (time_column && lookup(f, "time column", time_column, &ti, err)) return HML_ENOTFOUND;
    if (f->nrows < 2) {
        hml_fail(err, HML_EINVAL, WHERE, "the data has %zu row%s, too few to split", f->nrows,
                 f->nrows == 1 ? "" : "s");
        return hml_hint(err, "add data (at least 2 rows) first");
    }
    bool found = false;
    enum hml_status rc = suggest_time(f, time_column, out, &found, err);
    if (!rc && !found) rc = suggest_group(f, out, &found, err);
    if (!rc && !found) {
        const struct hml_column *tc = target ? f->cols[hml_frame_find(f, target)] : NULL;
        rc = suggest_rows(f, tc, target, out, err);
    }
    return rc;
}

json_t *hml_cv_suggestion_json(const struct hml_cv_suggestion *s)
{
    json_t *o = json_object();
    bool ok = o && hml_json_set(o, "cv_strategy", json_string(infos[s->strategy].name));
    if (ok && s->fold_column[0]) ok = hml_json_set(o, "fold_column", json_string(s->fold_column));
    if (ok && s->group_column[0]) ok = hml_json_set(o, "group_column", json_string(s->group_column));
    if (ok && s->n_folds) ok = hml_json_set(o, "n_folds", json_integer(s->n_folds));
    if (ok && s->min_train_folds) ok = hml_json_set(o, "min_train_folds", json_integer(s->min_train_folds));
    if (ok && s->n_iterations) ok = hml_json_set(o, "n_iterations", json_integer(s->n_iterations));
    if (ok) return o;
    json_decref(o);
    return NULL;
}
