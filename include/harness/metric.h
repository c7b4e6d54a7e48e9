/* metric.h — the task-aware metric registry: every metric the backtest can report,
 * with its names, the tasks it applies to, which way is better, and how to compute it.
 *
 * The table holds the 45 metrics of the original system's registry under their
 * original names, plus aliases for the spellings its docs and configs used
 * ("auc", "r2", "brier_score", "map", "brier_survival"…). A name resolves per task:
 * "accuracy" is `accuracy` for a binary task and `accuracy_multi` for a multiclass one.
 *
 * Input conventions (struct hml_metric_input), by task:
 *   binary        y ∈ {0,1}; pred = P(class 1), n values in [0,1]
 *   multiclass    y = class index 0..k-1; pred = n×k row-major probabilities
 *                 (rows are renormalised where a metric needs a distribution)
 *   regression    y, pred = values
 *   ranking       y = relevance ≥ 0 (binarised as y > 0 where a metric needs hits);
 *                 pred = scores, higher ranks first; group = query ids (NULL: one query).
 *                 Per-query values are averaged with equal weight per query.
 *   survival      y = observed times; event = 1 event / 0 censored (NULL: all events);
 *                 pred = risk score (higher = earlier event) for concordance_index,
 *                 P(survive past the horizon) for time_dependent_brier,
 *                 P(event by the horizon) for cumulative_incidence_auc
 *   probabilistic y = outcomes; pred = n×k: k ensemble members (crps), k = 2
 *                 [lower, upper] (coverage_at_level), k = 1 (pit, sharpness)
 *
 * Results. A scalar metric writes a double; a table metric (confusion_matrix,
 * confusion_matrix_multi, per_class_report, pit_histogram_data) builds a JSON object.
 * NaN with HML_OK means "undefined for this input" — the only cases are: auc_roc,
 * cumulative_incidence_auc with one class present; auc_pr, mean_average_precision,
 * recall_at_k with no relevant row; cohen_kappa(_multi) when y and the predictions
 * are one and the same class; spearman_rank_corr with a constant side;
 * concordance_index with no comparable pair; time_dependent_brier with no row
 * informative at the horizon. Everything else is a number or an error: empty input,
 * non-finite values (the count is named), labels out of range, probabilities
 * outside [0,1], negative weights.
 *
 * Definitions follow scikit-learn 1.2 where it has the metric (zero_division = 0,
 * classes = those present in y or predicted, ties credited half in AUCs; log loss
 * clips at 1e-15, the eps of scikit-learn ≤ 1.1, where 1.2 uses machine epsilon). The
 * exceptions and the metrics it lacks are defined where they are listed in
 * src/core/learn/metric.c; tests/fixtures/metrics/gen_metrics.py is the reference.
 *
 * Everything here is thread-safe: the table is constant and compute allocates
 * per call. Cost is O(n log n) for every metric (O(n·k log k) for crps, O(n·k)
 * plus O(k²) for multiclass tables).
 *
 * NOTE: when adding a metric, add its row to metric_table[] (metric.c), a case to
 * tests/fixtures/metrics/gen_metrics.py, and regenerate metrics.json.
 */
#ifndef HML_METRIC_H
#define HML_METRIC_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/err.h"
#include "harness/json.h"

#define HML_METRIC_ROWS_MAX    ((size_t)1 << 31) /* rows scored in one call          */
#define HML_METRIC_CLASSES_MAX 1000u             /* k for multiclass (k×k tables)    */
#define HML_METRIC_MEMBERS_MAX 100000u           /* k for crps ensemble members      */
#define HML_METRIC_BINS_MAX    10000u            /* n_bins for ece and pit           */

enum hml_task {
    HML_TASK_BINARY = 0,
    HML_TASK_MULTICLASS,
    HML_TASK_REGRESSION,
    HML_TASK_RANKING,
    HML_TASK_SURVIVAL,
    HML_TASK_PROBABILISTIC,
    HML_TASK_COUNT_
};
#define HML_TASK_BIT(t) (1u << (unsigned)(t))

/* Which value is better. MIN/MAX compare values; ZERO prefers the smaller |x|
 * (mean_bias); LEVEL prefers the value nearer opt.level (coverage_at_level);
 * NONE is informational (tables, sharpness) and never ranks runs. */
enum hml_metric_goal { HML_GOAL_MIN = 0, HML_GOAL_MAX, HML_GOAL_ZERO, HML_GOAL_LEVEL, HML_GOAL_NONE };

/* Flags: what a metric reads and requires (checked by hml_metric_compute). */
#define HML_MF_WEIGHTS 0x01u /* accepts w (sample weights); without it w must be NULL */
#define HML_MF_PROB    0x02u /* pred must lie in [0,1]                                  */
#define HML_MF_GROUP   0x04u /* reads group (ranking query ids)                         */
#define HML_MF_EVENT   0x08u /* reads event (survival)                                  */
#define HML_MF_TABLE   0x10u /* produces a JSON table, not a number                     */
/* The shape of pred; none of these = k must be 1. */
#define HML_MF_CLASSES 0x20u /* n×k class probabilities, 2 ≤ k ≤ HML_METRIC_CLASSES_MAX   */
#define HML_MF_MEMBERS 0x40u /* n×k ensemble members, 1 ≤ k ≤ HML_METRIC_MEMBERS_MAX       */
#define HML_MF_BOUNDS  0x80u /* n×2 interval [lower, upper] per row                         */

/* Options. A zero field means its default, so `{0}` is a valid set. */
struct hml_metric_opts {
    double threshold;    /* binary cut: pred ≥ threshold → class 1; in (0,1]; default 0.5      */
    double quantile;     /* quantile_loss τ, in (0,1); default 0.5                            */
    double level;        /* coverage_at_level nominal level, in (0,1); default 0.9            */
    double time_horizon; /* survival horizon; default the median of y                         */
    size_t n_bins;       /* ece and pit_histogram_data bins; default 10                       */
    size_t top_k;        /* ranking cutoff for *_at_k; default 10                             */
};

/* All arrays are borrowed for the duration of the call; none is modified. */
struct hml_metric_input {
    size_t n;             /* rows; ≥ 1                                                       */
    size_t k;             /* columns of pred (see the conventions above); 0 is read as 1     */
    const double *y;      /* n targets                                                       */
    const double *pred;   /* n×k predictions, row-major                                      */
    const double *w;      /* n sample weights ≥ 0 with a positive sum, or NULL               */
    const double *group;  /* n query ids (ranking), or NULL                                  */
    const double *event;  /* n event flags in {0,1} (survival), or NULL = all events         */
    struct hml_metric_opts opt;
};

/* Compute functions receive input already validated by hml_metric_compute or
 * hml_metric_table, with every option default filled in (time_horizon excepted:
 * 0 still means "the median of y", which the survival metrics work out). */
typedef enum hml_status (*hml_metric_fn)(const struct hml_metric_input *in, double *out, struct hml_error *err);
typedef enum hml_status (*hml_metric_table_fn)(const struct hml_metric_input *in, json_t **out,
                                               struct hml_error *err);

struct hml_metric {
    const char *name;          /* canonical name, as in the original registry           */
    const char *aliases;       /* space-separated other names, or ""                    */
    unsigned tasks;            /* HML_TASK_BIT of each task it applies to               */
    enum hml_metric_goal goal;
    unsigned flags;            /* HML_MF_*                                              */
    const char *desc;          /* one line                                              */
    hml_metric_fn fn;          /* scalar metrics; NULL for tables                       */
    hml_metric_table_fn table; /* table metrics; NULL for scalars                       */
};

/* Task names: "binary", "multiclass", "regression", "ranking", "survival",
 * "probabilistic". Parse is case-insensitive; unknown → HML_EINVAL with the valid
 * names and a did-you-mean. hml_task_name returns a static string ("?" if out of range). */
enum hml_status hml_task_parse(const char *name, enum hml_task *out, struct hml_error *err);
const char *hml_task_name(enum hml_task task);

/* The whole table, in registry order (binary, multiclass, regression, ranking,
 * survival, probabilistic). Pointers are static; never freed. */
size_t hml_metric_count(void);
const struct hml_metric *hml_metric_at(size_t i);

/* By canonical name or alias, any task, case-insensitive. A canonical name wins
 * over an alias; among aliases the first in table order wins (so "accuracy" is the
 * binary metric — use hml_metric_lookup when the task is known). NULL if none. */
const struct hml_metric *hml_metric_find(const char *name_or_alias);

/* Resolves a configured name for a task. Unknown → HML_EINVAL with the task's
 * metric names as valid values and a did-you-mean (aliases count as spellings of
 * their metric). Known but for other tasks → HML_EINVAL naming the tasks it is for
 * and listing this task's metrics. *out is written only on success. */
enum hml_status hml_metric_lookup(const char *name, enum hml_task task, const struct hml_metric **out,
                                  struct hml_error *err);

/* Fills out[0..min(count,cap)) with the task's metrics in table order and returns
 * count (call with cap 0 to size). */
size_t hml_metrics_for_task(enum hml_task task, const struct hml_metric **out, size_t cap);

/* Validates in against m (sizes, non-finite values, labels, ranges, options,
 * weights) and computes. Scalar metrics only: a table metric → HML_EINVAL.
 * *out is written only on success (and may be NaN, see above). Errors: HML_EINVAL,
 * HML_ELIMIT, HML_ENOMEM. */
enum hml_status hml_metric_compute(const struct hml_metric *m, const struct hml_metric_input *in, double *out,
                                   struct hml_error *err);

/* As hml_metric_compute for table metrics (HML_MF_TABLE). *out is a new object the
 * caller releases with json_decref. Shapes:
 *   confusion_matrix        {"tp","tn","fp","fn"} (weighted sums when w is given)
 *   confusion_matrix_multi  {"labels": [..], "matrix": [[..]]} rows true, columns predicted
 *   per_class_report        scikit-learn's classification_report(output_dict=True) layout
 *   pit_histogram_data      {"counts": [..], "bin_edges": [..]} */
enum hml_status hml_metric_table(const struct hml_metric *m, const struct hml_metric_input *in, json_t **out,
                                 struct hml_error *err);

/* Is a better than b under m's goal? NaN is never better, and any number beats NaN.
 * opt supplies the level for HML_GOAL_LEVEL (NULL: defaults). Always false for NONE. */
bool hml_metric_better(const struct hml_metric *m, const struct hml_metric_opts *opt, double a, double b);

/* "lower", "higher", "closer to 0", "closer to the level", "n/a". */
const char *hml_metric_goal_name(enum hml_metric_goal goal);

#endif
