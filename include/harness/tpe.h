/* tpe.h — search spaces and a seeded Tree-structured Parzen Estimator (TPE), the
 * proposal engine of `experiments explore`.
 *
 * A search space is a list of axes. Each axis names a dotted config path (its key)
 * and a type:
 *   continuous   a real in [low, high]; log = true searches log-uniformly (low > 0)
 *   integer      a whole number in [low, high]; log as above (low ≥ 1)
 *   categorical  one of `values` (any JSON values, compared with JSON equality)
 *   subset       a list of `values` items (kept in the order given) whose size lies
 *                in [min_size, max_size] (defaults 1 and the number of items)
 * A proposed point is a JSON object {key: value}, ready to become a config overlay.
 *
 * The study (opaque) is ask/tell: ask proposes a point, tell records its objective,
 * LOWER IS BETTER (negate higher-is-better metrics). A trial can also fail; failed
 * trials are never counted as good and join the "bad" group, so the sampler moves
 * away from regions that fail. Pending trials (asked, not told) inform nothing.
 *
 * The algorithm (Bergstra et al. 2011, in the multivariate form of Falkner et al. 2018):
 *  1. Enqueued points are proposed first (keys they leave out are drawn as below).
 *  2. Until n_startup trials are complete: independent uniform draws (log-uniform on
 *     log axes; a subset takes a uniform size, then a uniform subset of that size).
 *  3. Then the n complete trials are sorted by value (ties: the earlier trial first);
 *     the best n_good = min(ceil(0.2·n), 25) form the good group, every other complete
 *     or failed trial the bad group. (Optuna's default is ceil(0.1·n), hyperopt's
 *     ceil(0.25·sqrt(n)); on the objectives of bench/tpe_bench.sh at budgets 30 to
 *     100, 0.2·n found better points than 0.1·n (or equal within noise) and far
 *     better than 0.25·sqrt(n): both keep too few trials as good.)
 *     Each group is a Parzen mixture: one component per trial, weight 1, plus a prior
 *     component of weight prior_weight. A component's density is a product over the
 *     axes of its kernels:
 *       continuous  a Gaussian truncated to [low, high] (in log space for log axes)
 *       integer     the same on [low-0.5, high+0.5]; an integer k gets the mass of
 *                   its bin [k-0.5, k+0.5] (edges in log space for log axes)
 *       categorical mass 1-ε on the trial's choice and ε spread evenly over the K
 *                   choices, ε = 4K/(n_group + 1 + 4K)
 *       subset      an independent inclusion Bernoulli per item: 1-ε/2 if the trial
 *                   has the item, else ε/2, with ε as above for K = 2
 *     The prior component is centred mid-range with σ = the range, uniform over
 *     choices and ½ per subset item; a trial that lacks an axis uses the prior's
 *     kernel there. Widths follow Scott's rule over the whole point,
 *     σ = 0.1·m^(-1/(d+4))·range (m = the group's trials that give the axis,
 *     d = number of axes), clipped to [range/min(100, m+1), range].
 *  4. n_candidates points are drawn whole from the good mixture (a component, then
 *     each axis from its kernel; subsets repaired to their size limits by adding or
 *     dropping uniformly chosen items) and the one with the largest l(x)/g(x) is
 *     proposed. Because the densities are mixtures of per-trial products rather than
 *     products of per-axis mixtures, dependencies between axes survive: on the
 *     bench objectives this found better points than independent per-axis TPE.
 *     Densities ignore the subset size limits.
 *
 * Determinism: the study has its own PRNG (xoshiro256**, seeded through splitmix64)
 * and integer recipes, so a seed gives the same proposals on every machine whose libm
 * returns the same exp, log, cos and erfc (any one glibc does). Saving and loading a
 * study (hml_tpe_study_to_json / _from_json) resumes it exactly: the next ask after a
 * load equals the ask the saved study would have made.
 *
 * Threads: a study is not thread-safe; separate studies are independent.
 * Errors: parse and validation errors are HML_EINVAL with a hint (did-you-mean for
 * unknown names), limits HML_ELIMIT, HML_ENOMEM on allocation failure.
 */
#ifndef HML_TPE_H
#define HML_TPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/err.h"
#include "harness/json.h"

#define HML_TPE_AXES_MAX       64     /* axes in one search space                   */
#define HML_TPE_VALUES_MAX     256    /* categorical choices or subset items         */
#define HML_TPE_KEY_MAX        256    /* bytes in an axis key                        */
#define HML_TPE_DIMS_MAX       1024   /* axes + subset items over the whole space     */
#define HML_TPE_TRIALS_MAX     10000  /* trials (asked + warm-started) in one study  */
#define HML_TPE_QUEUE_MAX      1000   /* enqueued points waiting to be asked         */
#define HML_TPE_CANDIDATES_MAX 10000  /* n_candidates                                */
#define HML_TPE_STARTUP_DEFAULT    10
#define HML_TPE_CANDIDATES_DEFAULT 24

enum hml_tpe_type { HML_TPE_CONTINUOUS = 0, HML_TPE_INTEGER, HML_TPE_CATEGORICAL, HML_TPE_SUBSET };

struct hml_tpe_axis {
    char *key;             /* dotted config path (owned)                          */
    enum hml_tpe_type type;
    double low, high;      /* continuous and integer (integer: whole numbers)     */
    bool log;
    json_t *values;        /* categorical choices or subset items: a list (owned) */
    size_t min_size, max_size; /* subset                                          */
};

struct hml_tpe_space {
    struct hml_tpe_axis *axes; /* owned */
    size_t n;
};

/* Parses a search space. `spec` is one of
 *   {"axes": [axis, …], …}      other top-level keys (budget, primary_metric…) are
 *                               the caller's and are ignored here
 *   {"axes": {key: axis, …}}    or the same dict without the "axes" wrapper
 *   [axis, …]
 * An axis is {key, type, low, high, log, values, min_size, max_size}; aliases:
 * param/name → key; choices/candidates/items → values; types int → integer,
 * float/real → continuous. With `values` and no type the axis is categorical; a
 * range needs an explicit type (0..1 could mean either). Rejected with a hint:
 * unknown fields or types (did-you-mean), missing or duplicate keys, low ≥ high,
 * log with low ≤ 0, fractional integer bounds, empty or repeated values, fields
 * that do not belong to the type, size limits outside [0, items].
 * On success *out is a new space (free with hml_tpe_space_free). */
enum hml_status hml_tpe_space_parse(const json_t *spec, struct hml_tpe_space **out,
                                    struct hml_error *err);
void hml_tpe_space_free(struct hml_tpe_space *s);
/* The canonical form {"axes": [...]} with every default spelled out (types and keys
 * in their canonical names). New reference; NULL on OOM. */
json_t *hml_tpe_space_to_json(const struct hml_tpe_space *s);
/* "continuous", "integer", "categorical", "subset". */
const char *hml_tpe_type_name(enum hml_tpe_type t);

struct hml_tpe_options {
    uint64_t seed;
    size_t budget;        /* planned trials; 0 = unknown. Only sets n_startup's default */
    size_t n_startup;     /* random trials before TPE; 0 = default: 10, or
                             ceil(budget/3) when that is smaller (at least 2)        */
    size_t n_candidates;  /* draws from l per proposal; 0 = 24                        */
    double prior_weight;  /* weight of the prior component; ≤ 0 or NaN = 1.0           */
};
/* Fills the defaults (seed 42, everything else "default"). */
void hml_tpe_options_default(struct hml_tpe_options *o);

enum hml_tpe_state { HML_TPE_PENDING = 0, HML_TPE_COMPLETE, HML_TPE_FAILED };
/* Where a trial's point came from. */
enum hml_tpe_origin { HML_TPE_RANDOM = 0, HML_TPE_SAMPLED, HML_TPE_ENQUEUED, HML_TPE_WARM };

struct hml_tpe_study;

/* Creates a study over `space`, which it takes over (even on failure). Options are
 * copied, defaults resolved (read them back with hml_tpe_study_options). NULL opt
 * means hml_tpe_options_default. HML_EINVAL for n_candidates above the limit. */
enum hml_status hml_tpe_study_new(struct hml_tpe_space *space, const struct hml_tpe_options *opt,
                                  struct hml_tpe_study **out, struct hml_error *err);
void hml_tpe_study_free(struct hml_tpe_study *s);
/* Borrowed; valid until the study is freed. */
const struct hml_tpe_space *hml_tpe_study_space(const struct hml_tpe_study *s);
/* The resolved options (n_startup, n_candidates, prior_weight never 0). */
struct hml_tpe_options hml_tpe_study_options(const struct hml_tpe_study *s);

/* Proposes the next point: *trial is its number (0, 1, …), *params a new object
 * {key: value} with every axis (caller json_decrefs). The trial is pending until
 * told. HML_ELIMIT past HML_TPE_TRIALS_MAX. */
enum hml_status hml_tpe_ask(struct hml_tpe_study *s, size_t *trial, json_t **params,
                            struct hml_error *err);
/* Records a pending trial's objective (lower is better). A non-finite value records
 * the trial as failed. HML_ENOTFOUND for an unknown trial, HML_ECONFLICT when it
 * was already told. */
enum hml_status hml_tpe_tell(struct hml_tpe_study *s, size_t trial, double value,
                             struct hml_error *err);
/* Records a pending trial as failed (errors as hml_tpe_tell). */
enum hml_status hml_tpe_tell_failed(struct hml_tpe_study *s, size_t trial, struct hml_error *err);

/* Warm start from an earlier result: adds a finished trial (origin HML_TPE_WARM)
 * with `params` (borrowed) and its value, or failed. Keys must be axes of the space
 * and values inside them; keys may be missing (that trial then says nothing about
 * those axes). Warm trials count toward n_startup. *trial (may be NULL) is its
 * number. HML_EINVAL (with the key and a hint) for a bad point. */
enum hml_status hml_tpe_add_trial(struct hml_tpe_study *s, const json_t *params, double value,
                                  bool failed, size_t *trial, struct hml_error *err);
/* Warm start from a given configuration: the point is proposed by a later ask, in
 * enqueue order, before any sampling (keys checked as in hml_tpe_add_trial; missing
 * keys are sampled). HML_ELIMIT past HML_TPE_QUEUE_MAX. */
enum hml_status hml_tpe_enqueue(struct hml_tpe_study *s, const json_t *params,
                                struct hml_error *err);

/* Trials so far (asked + warm-started). */
size_t hml_tpe_trial_count(const struct hml_tpe_study *s);
struct hml_tpe_trial_info {
    enum hml_tpe_state state;
    enum hml_tpe_origin origin;
    double value;          /* NaN unless complete */
};
/* Reads trial `trial`; *params (may be NULL) gets a new object of its point
 * (warm trials: only the keys given). HML_ENOTFOUND for an unknown trial. */
enum hml_status hml_tpe_trial_get(const struct hml_tpe_study *s, size_t trial,
                                  struct hml_tpe_trial_info *info, json_t **params,
                                  struct hml_error *err);
/* The complete trial with the lowest value (ties: the earliest). HML_ENOTFOUND
 * when no trial is complete. */
enum hml_status hml_tpe_best(const struct hml_tpe_study *s, size_t *trial, double *value,
                             struct hml_error *err);
/* The acquisition value at a full point: *log_l and *log_g (either may be NULL) get
 * the log densities of the good and bad mixtures under the trials finished so far;
 * ask proposes the candidate with the largest log_l − log_g. For explaining a
 * proposal. HML_ECONFLICT before any trial is complete; HML_EINVAL for a point
 * that misses an axis or lies outside one. Consumes no randomness. */
enum hml_status hml_tpe_score(const struct hml_tpe_study *s, const json_t *params, double *log_l,
                              double *log_g, struct hml_error *err);
/* "pending", "complete", "failed" / "random", "tpe", "enqueued", "warm_start". */
const char *hml_tpe_state_name(enum hml_tpe_state st);
const char *hml_tpe_origin_name(enum hml_tpe_origin o);

/* The whole study as JSON (space, options, PRNG state, trials, queue): save it
 * and hml_tpe_study_from_json resumes exactly. New reference; NULL on OOM. */
json_t *hml_tpe_study_to_json(const struct hml_tpe_study *s);
/* Rebuilds a study saved by hml_tpe_study_to_json. Everything is validated (the file
 * may have been edited): HML_EINVAL with the offending field and a hint. */
enum hml_status hml_tpe_study_from_json(const json_t *j, struct hml_tpe_study **out,
                                        struct hml_error *err);

#endif
