/* feature.h — declared features: definitions, dependency order, materialisation into
 * the prediction table with a per-feature cache, leakage guardrails, and the
 * statistics that rank features (correlation, binned mutual information).
 *
 * A feature is a named definition kept in the config's `features` section
 * (config/features.yaml), one entry per name:
 *
 *   instance  a column (`column`) or a formula (`formula`) over the prediction table;
 *             output column <name>. `column` equal to the name just declares an existing
 *             column (nothing is written).
 *   pairwise  a formula over the matchup row; output column <name> (computed exactly like
 *             an instance formula — the type records intent on matchup tables).
 *   regime    a condition (`condition`, a true/false formula); output <name> = 1 where it
 *             holds, 0 where it is false or null.
 *   entity    a per-entity (and per-period) value: column `column` (default: the name) of
 *             the source `source`, whose rows are keyed by `entity_column` (and
 *             `period_column`), joined onto the table twice — through `entity_a_column`
 *             and `entity_b_column` (and the table's `period_column`). `pairwise_mode`
 *             says what lands in the table: diff → diff_<name> = a − b, ratio →
 *             ratio_<name> = a / b (null where b is 0), both → the two, none → the raw
 *             sides <name>_a and <name>_b. The key column names default to the config's
 *             data.feature_store settings (entity_id, entity_a_id, entity_b_id, period_id).
 *
 * Type is inferred when absent: condition → regime, source → entity, otherwise instance.
 * Other keys: category (default "general"), description, enabled (default true).
 *
 * REFERENCES. A formula reads plain columns and `@name` features. A feature depends on the
 * features it names with @ and on the features whose output columns it reads by name;
 * features are computed in dependency order (a topological order that keeps the config's
 * order where it can), and a cycle is refused naming it: "a → b → a". @name of an entity
 * feature is its first output column.
 *
 * CACHE. Each feature's outputs are cached under a key that hashes the engine version,
 * the feature's computing fields (not category or description) and the content
 * fingerprint of every column it reads (for entity features, of the source's key and value
 * columns). A refresh recomputes only features whose key changed — the edited ones and,
 * because their outputs changed, what depends on them; the others are "fresh" (the table
 * already holds their cached outputs) or "cached" (restored from the cache file).
 * Files: <cache dir>/<name>-<key 32 hex>-<output fingerprint 16 hex>.hfr.
 *
 * GUARDRAILS (not overridable; err->code HML_EBLOCKED with a hint):
 *   - a feature may not read the target column or a column of
 *     guardrails.feature_leakage_denylist, directly or through the features it reads;
 *   - a computed output whose |Pearson r| with the target is >= HML_FEATURE_LEAK_R, or that
 *     predicts the class perfectly (every distinct value maps to a single class, with at
 *     least HML_FEATURE_LEAK_ROWS rows behind each value, over two or more values), is refused.
 *   Notices (warnings, the feature is kept): names that announce the outcome (the target's
 *   name, label, result, outcome, winner, future_*, *_after, next_*), in the feature's name
 *   or the columns it reads; column-wise functions (zscore, minmax, rank_pct, winsorize,
 *   pct_of_total) that see every fold of a backtest.
 *
 * THREAD SAFETY: none of these functions share state except the computation counter
 * (atomic). A feature set is read-only after hml_features_load.
 */
#ifndef HML_FEATURE_H
#define HML_FEATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/err.h"
#include "harness/expr.h"
#include "harness/frame.h"
#include "harness/fsx.h"
#include "harness/json.h"

#define HML_FEATURES_MAX 1000u        /* definitions in one project                       */
#define HML_FEATURE_NAME_MAX 64u      /* bytes of a feature name                          */
#define HML_FEATURE_OUT_MAX 80u       /* bytes of an output column name (ratio_<name>…)   */
#define HML_FEATURE_LEAK_R 0.98       /* |r| with the target at or above which it is refused */
#define HML_FEATURE_LEAK_ROWS 20u     /* rows per value for a perfect class predictor      */
#define HML_FEATURE_REDUNDANT_R 0.95  /* |r| between features above which one is redundant */
#define HML_MI_BINS 10u               /* default bins of the mutual-information estimator  */

enum hml_feature_type { HML_FEATURE_INSTANCE = 0, HML_FEATURE_ENTITY, HML_FEATURE_PAIRWISE, HML_FEATURE_REGIME };
enum hml_pairwise_mode { HML_PAIRWISE_DIFF = 0, HML_PAIRWISE_RATIO, HML_PAIRWISE_BOTH, HML_PAIRWISE_NONE };

/* NULL-terminated names, indexed by the enums above. */
extern const char *const hml_feature_type_names[];
extern const char *const hml_pairwise_mode_names[];

struct hml_feature {
    char name[HML_FEATURE_NAME_MAX + 1];
    enum hml_feature_type type;
    char *formula, *column, *source, *condition; /* owned; NULL when unset              */
    enum hml_pairwise_mode pairwise_mode;        /* entity only                          */
    char *category, *description;                /* owned; category never NULL           */
    char *entity_column, *entity_a_column, *entity_b_column, *period_column; /* entity only */
    bool enabled;
    bool declares;                 /* instance whose column is its own name: writes nothing */
    struct hml_expr *expr;         /* parsed formula or condition, or NULL                  */
    char outputs[2][HML_FEATURE_OUT_MAX];
    size_t noutputs;
    size_t *deps;                  /* indices into the set of the features this one reads   */
    size_t ndeps;
    json_t *def;                   /* the normalised definition (owned), as stored in config */
};

/* Definitions in dependency order (items[i] depends only on items[j < i]). */
struct hml_feature_set {
    struct hml_feature *items;
    size_t n;
};

/* Parses one definition: `def` is the object stored under features.<name>; `config` (may be
 * NULL) supplies data.feature_store defaults. Unknown keys, a missing formula/column/
 * source/condition for the type, bad enum values and formula syntax errors are HML_EINVAL
 * with a hint (unknown keys and enums with did-you-mean). out is filled on success; release
 * it with hml_feature_fini. */
enum hml_status hml_feature_parse(const char *name, const json_t *def, const json_t *config,
                                  struct hml_feature *out, struct hml_error *err);
void hml_feature_fini(struct hml_feature *f);

/* Parses every definition of config's `features` section (absent = none) and orders them.
 * Errors: those of hml_feature_parse prefixed with the feature's name; HML_ENOTFOUND for
 * an @ref to no feature (did-you-mean over the feature names); HML_EINVAL for a cycle
 * (message names it), for two features writing one column, and for a feature that reads
 * its own output; HML_ELIMIT beyond HML_FEATURES_MAX. out: free with hml_features_free. */
enum hml_status hml_features_load(const json_t *config, struct hml_feature_set **out, struct hml_error *err);
void hml_features_free(struct hml_feature_set *s);
/* Index of the named feature, or -1. */
long hml_features_find(const struct hml_feature_set *s, const char *name);
/* Index of the feature that writes column `col`, or -1. */
long hml_features_owner(const struct hml_feature_set *s, const char *col);
/* Is feature j among the features i reads, directly or through others? */
bool hml_features_depends(const struct hml_feature_set *s, size_t i, size_t j);

/* ---- the target, for guardrails and statistics -------------------------------------------- */

struct hml_target {
    const char *name;          /* borrowed from the config                                 */
    bool classification;       /* task binary or multiclass                                */
    size_t n;                  /* rows                                                     */
    double *y;                 /* value per row for correlations (numbers as they are, a
                                  two-class text target as 0/1); NaN when null or unusable  */
    int32_t *cls;              /* class code per row, -1 when null (classification only)    */
    size_t n_classes;
};

/* Reads data.target_column and data.task from config and encodes the target column of t.
 * Errors: HML_ENOTFOUND when no target is set or the column is missing (with a hint). */
enum hml_status hml_target_load(const struct hml_frame *t, const json_t *config, struct hml_target *out,
                                struct hml_error *err);
void hml_target_fini(struct hml_target *t);

/* ---- guardrails ----------------------------------------------------------------------------- */

/* Static checks over the set: no feature reads (directly or through the features it reads)
 * the target or a denylisted column, and none writes the target column. HML_EBLOCKED. */
enum hml_status hml_features_guard(const struct hml_feature_set *s, const json_t *config, struct hml_error *err);
/* The same checks for feature i alone, so the error names it (and the feature it reads the
 * column through: "feature 'b' reads the target 'y' through @a"). */
enum hml_status hml_features_guard_one(const struct hml_feature_set *s, size_t i, const json_t *config,
                                       struct hml_error *err);
/* Checks one computed output column against the target (see GUARDRAILS). HML_EBLOCKED,
 * message naming the feature and the evidence, hint saying what to do. */
enum hml_status hml_feature_guard_column(const char *feature, const char *column, const struct hml_column *c,
                                         const struct hml_target *t, struct hml_error *err);
/* Appends notices about feature i (outcome-like names, column-wise functions) to `warnings`
 * (a JSON array of strings). */
void hml_feature_notices(const struct hml_feature_set *s, size_t i, const json_t *config, json_t *warnings);

/* ---- materialisation and the cache ------------------------------------------------------------ */

/* A source for entity features: on success *out is a new frame the caller frees. */
typedef enum hml_status (*hml_feature_source_fn)(void *ctx, const char *source, struct hml_frame **out,
                                                 struct hml_error *err);

/* The cache directory plus entries written by refreshes and not yet committed. */
struct hml_feature_cache;
/* dir may be NULL (memory only) or not exist yet. NULL on OOM. */
struct hml_feature_cache *hml_feature_cache_new(const char *dir);
void hml_feature_cache_free(struct hml_feature_cache *c);
/* Entries computed since creation and not yet written. */
size_t hml_feature_cache_pending(const struct hml_feature_cache *c);
/* Stages the pending entries into txn (they land with the table at commit). */
enum hml_status hml_feature_cache_stage(const struct hml_feature_cache *c, struct hml_txn *txn,
                                        struct hml_error *err);
/* Writes the pending entries now (atomic writes), then forgets them. */
enum hml_status hml_feature_cache_flush(struct hml_feature_cache *c, struct hml_error *err);

struct hml_feature_opts {
    const json_t *config;                /* features, data, guardrails                     */
    struct hml_feature_cache *cache;     /* NULL: every enabled feature is computed          */
    hml_feature_source_fn load_source;   /* NULL: entity features fail with a hint           */
    void *source_ctx;
};

struct hml_feature_report {
    size_t computed, cached, fresh;      /* enabled features by outcome                       */
    bool changed;                        /* the returned table differs from the input         */
    json_t *items;                       /* [{name, status: computed|cached|fresh, outputs}]  */
    json_t *warnings;                    /* notices of computed features (strings)            */
};
void hml_feature_report_fini(struct hml_feature_report *r);

/* Brings every enabled feature's outputs in `table` up to date, in dependency order, and
 * returns the result as a new frame (*out; columns shared with table where unchanged).
 * Features whose cache key is unchanged are not recomputed. Every computed feature passes
 * the guardrails (hml_features_guard for all; hml_feature_guard_column for each computed
 * output when the config names a target in the table). rep is filled on success and must be
 * released with hml_feature_report_fini. Errors: those of hml_features_load, the guards,
 * and evaluation (prefixed "feature '<name>'"). */
enum hml_status hml_features_refresh(const struct hml_feature_opts *o, const struct hml_frame *table,
                                     struct hml_frame **out, struct hml_feature_report *rep,
                                     struct hml_error *err);

/* Features computed (not restored) by this process so far — for tests of the cache. */
uint64_t hml_feature_computations(void);

/* ---- statistics ---------------------------------------------------------------------------------- */

/* Discretises a column for the binned mutual-information estimator:
 *   text and bool columns: one code per distinct value (text: dictionary order);
 *   numbers with at most nbins distinct values: one code per value, in ascending order;
 *   other numbers: equal-frequency bins — the nbins−1 interior edges are the quantiles
 *   k/nbins (k = 1..nbins−1, linear interpolation between order statistics, numpy's
 *   default) of the non-null values, and a value's code is the number of edges <= it
 *   (numpy.searchsorted(edges, x, side="right")).
 * Null rows get code -1. codes: c->n entries; *ncodes: number of codes (max code + 1).
 * Dates count as numbers (days). HML_ENOMEM is the only error. */
enum hml_status hml_bin_codes(const struct hml_column *c, size_t nbins, int32_t *codes, size_t *ncodes,
                              struct hml_error *err);
/* Mutual information in nats of two discrete label arrays over rows where both are >= 0:
 * sum over cells of p(x,y) log(p(x,y) / (p(x) p(y))) — what sklearn's mutual_info_score
 * computes. 0 when no rows. */
double hml_mutual_info_codes(const int32_t *x, const int32_t *y, size_t n);
/* The binned estimator: x and y discretised by hml_bin_codes(nbins); rows where y is null
 * are left out, null x values form a bin of their own. *out in nats. */
enum hml_status hml_mutual_info(const struct hml_column *x, const struct hml_column *y, size_t nbins, double *out,
                                struct hml_error *err);
/* Pearson r of a column with the target's y (rows where both are numbers); NaN when fewer
 * than 3 such rows or either side is constant. */
double hml_target_corr(const struct hml_column *c, const struct hml_target *t);

#endif
