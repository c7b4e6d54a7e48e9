/* cv.h — fold generation for backtests, and the temporal-ordering guardrail.
 *
 * Two families of strategies build a fold set over a frame:
 *
 * Over VALUES of a fold column (e.g. season). The distinct non-null values are put in
 * the column's natural order (numbers and dates ascending, false < true, strings by
 * byte order); each test fold is one value (or, for purged_kfold with n_folds, one
 * block of consecutive values) and trains on other values:
 *   loso          every other value. NOT time-safe: earlier folds train on the future.
 *                 Right when folds are exchangeable (e.g. regions), wrong for forecasting.
 *   expanding     every value before the test value (time-safe).
 *   sliding       the window_size values just before the test value (time-safe).
 *   purged_kfold  every value except the test block and purge_gap values on each side
 *                 of it; trains on both sides of the test block, never next to it.
 * A test value whose training set has fewer than min_train_folds values is skipped
 * (so under expanding the first min_train_folds values are never test folds).
 * fold_values restricts which values are test folds; every value present remains in
 * the training pool.
 *
 * Over ROWS:
 *   kfold             rows shuffled with seed, dealt into n_folds folds (sizes differ
 *                     by at most one).
 *   stratified_kfold  each class of target_column dealt round-robin into the folds, so
 *                     every fold holds floor or ceil of class_rows / n_folds of each class.
 *   group_kfold       whole groups of group_column placed largest first into the
 *                     fold with the fewest rows (ties: lowest fold).
 *   bootstrap         n_iterations draws of rows with replacement; a draw's training set
 *                     holds each drawn row as often as it was drawn (sorted, repeats kept,
 *                     a true bootstrap), its test set the rows never drawn (out of bag).
 * With group_column, kfold, stratified_kfold and bootstrap move whole groups (so both
 * rows of one matchup always land together; stratified then places groups greedily to
 * keep the class counts near their share). Under value strategies group_column must not
 * span two fold values. Rows with a null group value are groups of their own.
 *
 * Randomness is splitmix64 from `seed`: the same seed gives the same folds on every
 * machine (no rand()). tests/fixtures/cv/gen_cv.py is an independent description of
 * every shuffle, deal and draw and of the fingerprint.
 */
#ifndef HML_CV_H
#define HML_CV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/err.h"
#include "harness/frame.h"
#include "harness/json.h"

#define HML_CV_FOLDS_MAX 1000u          /* n_folds, n_iterations, test folds per set        */
#define HML_CV_VALUES_MAX 5000u         /* distinct values of a fold column                */
#define HML_CV_CLASSES_MAX 256u         /* distinct classes stratified_kfold accepts        */
#define HML_CV_ENTRIES_MAX (1ull << 27) /* train + test indices over the whole set (1 GiB)  */

/* Order and names match hml_cv_strategy_names (config.h). */
enum hml_cv_strategy {
    HML_CV_LOSO = 0,
    HML_CV_EXPANDING,
    HML_CV_SLIDING,
    HML_CV_PURGED_KFOLD,
    HML_CV_KFOLD,
    HML_CV_STRATIFIED_KFOLD,
    HML_CV_GROUP_KFOLD,
    HML_CV_BOOTSTRAP
};

/* Canonical name ("loso", …). */
const char *hml_cv_strategy_name(enum hml_cv_strategy s);
/* One line on what the strategy does and whether it is time-safe. */
const char *hml_cv_strategy_describe(enum hml_cv_strategy s);
/* Resolves a name or alias (case-insensitive): leave_one_season_out, leave_one_out,
 * loo → loso; time_series, temporal, expanding_window → expanding; rolling,
 * sliding_window → sliding; purged → purged_kfold; kfold_cv, kf → kfold; stratified,
 * skf → stratified_kfold; group, gkf → group_kfold. Unknown: HML_EINVAL with the valid
 * names and the nearest name or alias. */
enum hml_status hml_cv_strategy_parse(const char *name, enum hml_cv_strategy *out,
                                      struct hml_error *err);
/* True for strategies over fold-column values (loso … purged_kfold). */
bool hml_cv_strategy_by_value(enum hml_cv_strategy s);
/* True for expanding, sliding and purged_kfold: the guardrail always checks them. */
bool hml_cv_strategy_time_ordered(enum hml_cv_strategy s);

/* What to build. Strings are owned by the spec (set them with hml_strdup);
 * hml_cv_spec_fini frees them. */
struct hml_cv_spec {
    enum hml_cv_strategy strategy;
    char *fold_column;       /* value strategies; default "fold"                          */
    char **fold_values;      /* test values as text ("2019", "2019-03-01", "east")        */
    size_t fold_values_n;    /* 0 = every value                                           */
    int n_folds;             /* row strategies and purged blocks; 0 = default (5; purged:
                                one block per value; group_kfold: min(5, groups))          */
    int window_size;         /* sliding; 0 = unset (an error for sliding)                  */
    int purge_gap;           /* purged_kfold; default 1                                   */
    int min_train_folds;     /* value strategies; default 1                               */
    char *group_column;      /* NULL = none                                               */
    char *target_column;     /* stratified_kfold                                          */
    int n_iterations;        /* bootstrap; default 5                                      */
    uint64_t seed;           /* default 42                                                */
    /* Set by the caller from the project, not from the backtest section: */
    char *time_column;       /* data.time_column, or NULL                                 */
    bool temporal;           /* the caller demands temporal safety of any strategy        */
};

/* Defaults as above; strategy kfold. */
void hml_cv_spec_init(struct hml_cv_spec *spec);
void hml_cv_spec_fini(struct hml_cv_spec *spec);

/* Reads the `backtest` config section (keys: cv_strategy, fold_column, fold_values,
 * n_folds, window_size, purge_gap, min_train_folds, group_column, target_column,
 * n_iterations, seed; other keys such as metrics are not the spec's and are ignored).
 * target_fallback (data.target_column, may be NULL) is used when target_column is
 * absent. Checks everything that does not need the data: required keys per strategy,
 * types, ranges, limits. On success *out owns its strings; on failure *out is left
 * initialised and empty (fini is still safe). */
enum hml_status hml_cv_spec_parse(const json_t *backtest, const char *target_fallback,
                                  struct hml_cv_spec *out, struct hml_error *err);

struct hml_cv_fold {
    char label[96];           /* the test value ("2019"), "2015..2017", "fold 3/5", "boot 2" */
    size_t *train, train_n;   /* row indices, ascending (bootstrap: repeats kept)         */
    size_t *test, test_n;     /* row indices, ascending, distinct                         */
    /* value strategies: indices into hml_cv_folds.values, ascending; else NULL/0 */
    size_t *train_values, train_values_n;
    size_t *test_values, test_values_n;
};

struct hml_cv_folds {
    enum hml_cv_strategy strategy;
    size_t rows;              /* rows of the frame the folds index                     */
    struct hml_cv_fold *folds;
    size_t n;
    char **values;            /* value strategies: distinct fold values as text, sorted */
    size_t values_n;
    size_t skipped;           /* test values skipped for fewer than min_train_folds     */
};

/* Builds the fold set of spec over f. Checks what needs the data: columns exist
 * (HML_ENOTFOUND with the nearest name), no null fold values, at least two fold values,
 * fold_values present, a test fold left after min_train_folds, n_folds ≤ rows (or
 * groups), a group not spanning two fold values, class count; limits (HML_ELIMIT).
 * Time-ordered strategies are passed through hml_cv_check_temporal before returning.
 * On success *out is owned by the caller (hml_cv_folds_free). Thread-safe; f is only read. */
enum hml_status hml_cv_make(const struct hml_frame *f, const struct hml_cv_spec *spec,
                            struct hml_cv_folds **out, struct hml_error *err);
void hml_cv_folds_free(struct hml_cv_folds *folds);

/* The temporal-ordering guardrail (not overridable). It re-derives the order from the
 * frame rather than trusting the fold set, so it also catches a stale or altered set.
 *
 * The time key of a row is its spec->time_column value when a time column is declared,
 * else its fold-column value (value strategies). Rows whose key is null are not judged.
 * A fold LEAKS when
 *   - expanding or sliding: a training row's fold value is ≥ the smallest test value, or
 *     (time column declared) its time is ≥ the earliest test time;
 *   - purged_kfold: a training row's fold value lies within purge_gap values of the test
 *     block (in sorted value order), or (time column declared) its time lies within the
 *     test rows' time range;
 *   - any other strategy, only when spec->temporal: a training row's time key is ≥ the
 *     earliest test time key (e.g. loso, kfold: they train on the future).
 * The first leaking fold gives HML_EBLOCKED naming the fold, the offending value and a
 * hint saying what to set. spec->temporal on a row strategy with no time column is
 * HML_EINVAL (nothing to order by). No leak: HML_OK. */
enum hml_status hml_cv_check_temporal(const struct hml_frame *f, const struct hml_cv_spec *spec,
                                      const struct hml_cv_folds *folds, struct hml_error *err);

/* A 64-bit hash over the fold count and every fold's train and test row indices (labels
 * and values excluded), stable across machines: part of the prediction cache key. */
uint64_t hml_cv_fingerprint(const struct hml_cv_folds *folds);
/* The same hash over one fold (for the per-(model, fold) cache key). */
uint64_t hml_cv_fold_fingerprint(const struct hml_cv_fold *fold);

/* A proposed strategy for `configure suggest_cv`. */
struct hml_cv_suggestion {
    enum hml_cv_strategy strategy;
    char fold_column[128];    /* value strategies, else ""                         */
    char group_column[128];   /* group_kfold, else ""                              */
    char target_column[128];  /* stratified_kfold, else ""                         */
    int n_folds;              /* row k-fold strategies, else 0                     */
    int min_train_folds;      /* expanding, else 0                                 */
    int n_iterations;         /* bootstrap, else 0                                 */
    char reason[320];         /* one sentence                                      */
};

/* Looks at the frame and proposes a strategy, in this order of precedence:
 * 1. time: time_column (may be NULL), DATE columns, and integer columns (or strings that
 *    all start with a four-digit year, like "2013-14") whose name has a word
 *    year/season/week/date/month (not "…_of_…", which is cyclic) → expanding over
 *    the coarsest such column with 3–50 values (a finer declared or date column still
 *    gives expanding, with a note to derive a coarser one);
 * 2. groups: a column named like *_id, *Id, team, user, player, group or cluster with
 *    1 < distinct < rows/2 → group_kfold;
 * 3. rows: fewer than 50 rows → bootstrap; a class target (≤ 20 classes, not a
 *    fractional number) → stratified_kfold; otherwise kfold; 10 folds up to 1,000
 *    rows, else 5.
 * target (may be NULL) names the target column; a named column that is missing is
 * HML_ENOTFOUND. */
enum hml_status hml_cv_suggest(const struct hml_frame *f, const char *target, const char *time_column,
                               struct hml_cv_suggestion *out, struct hml_error *err);
/* The suggestion as backtest keys ({"cv_strategy": …, …}), ready for configure
 * backtest. target_column is left out: it is data.target_column, which the spec falls
 * back to. NULL on OOM. */
json_t *hml_cv_suggestion_json(const struct hml_cv_suggestion *s);

#endif
