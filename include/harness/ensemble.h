/* ensemble.h — combining the models of a backtest into one prediction.
 *
 * Methods (config `ensemble.method`):
 *   average   the mean of the members' probabilities (or values).
 *   weighted  a weighted mean: ensemble.weights when given, else non-negative weights
 *             summing to 1 fitted, for each held-out fold, on the out-of-fold
 *             predictions of the OTHER folds (exponentiated gradient on the task loss).
 *   stacked   a meta-learner (logistic with C, ridge, or a small gbm) fitted, for each
 *             held-out fold, only on the other folds' out-of-fold predictions and labels,
 *             then applied to the held-out fold. Binary stacks the members' logits,
 *             multiclass the log of each class probability, regression the values;
 *             ensemble.meta_features adds table columns to what the meta-learner sees.
 * No held-out label is ever read to combine its own fold. Under time-ordered strategies
 * (expanding, sliding, purged_kfold) only EARLIER folds train the combiner, since later
 * folds would carry the future; a fold with no earlier fold falls back to the average,
 * as does every fold under bootstrap (test sets overlap) or with a single fold — the
 * report says so. Post-processing then applies, in this order: temperature (logits
 * divided by T) and the clip floor (probabilities kept in [floor, 1 − floor]).
 */
#ifndef HML_ENSEMBLE_H
#define HML_ENSEMBLE_H

#include <stddef.h>
#include "harness/err.h"
#include "harness/json.h"
#include "harness/runner.h"

struct hml_ensemble_input {
    const struct hml_run *run;          /* folds, targets, task, k                         */
    const double *const *member_pred;   /* per member: fold predictions (runner layout)   */
    const char *const *member_names;
    size_t nmembers;
    const json_t *cfg;                  /* the `ensemble` config section (may be NULL)    */
    const struct hml_frame *rows;       /* the rows the folds index (for meta_features)    */
    uint64_t seed;
};

/* Writes the combined fold predictions (total test rows × k, fold order) into out and
 * a report: {method, meta_learner?, weights|coefficients, folds_fallback, notes}. */
enum hml_status hml_ensemble_combine(const struct hml_ensemble_input *in, double *out, json_t **report,
                                     struct hml_error *err);

#endif
