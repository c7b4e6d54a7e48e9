/* runner.h — a backtest: folds × models → out-of-fold predictions → the ensemble
 * (ensemble.h) → metrics pooled and per fold → run artifacts.
 *
 * Leakage rules the runner enforces, whatever the config says:
 * - encodings (levels, one-hot, imputation inside backends) are fitted on each
 *   fold's training rows only;
 * - the target and denylisted columns are never inputs (HML_EBLOCKED);
 * - time-ordered strategies pass the temporal guardrail (cv.h) or nothing runs.
 *
 * The prediction cache: each (model, fold) prediction is stored under a key that
 * hashes the model's definition, its resolved features, the content of the columns
 * it reads and the target, the fold's train and test rows, the task and the engine
 * version. Change any of these and the entry misses; change nothing and a re-run
 * fits nothing. Entries live in .harness/cache/pred/ (safe to delete) and are
 * written only when the whole run succeeds: a cancelled or failed run writes nothing.
 */
#ifndef HML_RUNNER_H
#define HML_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/cv.h"
#include "harness/err.h"
#include "harness/frame.h"
#include "harness/json.h"
#include "harness/metric.h"

#define HML_ENGINE_VERSION "harness-0.1.0"

struct hml_run_model {
    char name[64];
    char type[32];
    bool ok;                 /* false: failed, see error/hint                         */
    bool in_ensemble;
    char error[512], hint[512];
    double *oof;             /* rows × k predictions; NaN where never predicted       */
    double *fold_pred;       /* per-fold test predictions, concatenated in fold order */
    json_t *metrics;         /* {metric: value|null} pooled over out-of-fold rows      */
    json_t *fold_metrics;    /* [{fold, metric: value|null, …}]                         */
    size_t fits, cache_hits, nfeatures;
    double seconds;
    char notes[1024];
};

struct hml_run {
    char run_id[48];
    enum hml_task task;
    size_t rows;              /* rows with a target (the ones folds index)            */
    size_t *table_row;        /* table row of each of those rows                      */
    double *y;                /* target: class index or value                         */
    size_t k;                 /* prediction width: 1, or n_classes for multiclass     */
    char **classes;           /* class labels (classification), else NULL            */
    size_t n_classes;
    struct hml_cv_folds *folds;
    struct hml_run_model *models;
    size_t nmodels;
    double *ensemble;         /* rows × k average of the ensemble members, or NULL     */
    json_t *ensemble_metrics, *ensemble_fold_metrics;
    json_t *ensemble_report;  /* method, weights or coefficients, fallbacks (ensemble.h) */
    const struct hml_metric **metrics;
    size_t nmetrics;
    size_t primary;           /* index into metrics                                    */
    size_t cache_hits, fits;
    double seconds;
    char notes[1024];
    double backend_seconds;   /* wall time inside model backends' fit and predict     */
    double ensemble_seconds;  /* combining, calibration and post-processing           */
    uint8_t *eval_mask;       /* backtest.eval_filter: 1 = row is scored; NULL = all  */
    size_t eval_rows;         /* rows the filter keeps                                */
};

typedef void (*hml_run_progress_fn)(void *ud, double done, double total, const char *message);

struct hml_run_opts {
    const char *project_dir;         /* for the cache                                  */
    const struct hml_frame *table;   /* the prediction table                           */
    const json_t *config;            /* the project config (merged overlays included)  */
    const char *const *only_models;  /* subset by name, or NULL                        */
    size_t only_n;
    const json_t *fold_values;       /* override of backtest.fold_values, or NULL      */
    hml_run_progress_fn progress;
    void *progress_ud;
    const volatile int *cancel;
    int nthread;                     /* 0 = backend default                             */
};

enum hml_status hml_backtest(const struct hml_run_opts *o, struct hml_run **out, struct hml_error *err);
void hml_run_free(struct hml_run *r);

/* Fits every active model (or opts->only_models) on all rows that have a target and
 * predicts every row of `data` (a frame with the table's input columns). The result
 * is a run with one fold ("all") whose test rows are data's rows: models[i].oof and
 * ensemble hold data->nrows × k predictions; no metrics (the rows have no target). */
enum hml_status hml_predict(const struct hml_run_opts *o, const struct hml_frame *data, struct hml_run **out,
                            struct hml_error *err);

/* What drives one model: it is fitted on every labelled row, then method "gain" takes
 * the backend's importance per input column (total gain for trees, |standardised
 * coefficient| for linear models) and "shap" the mean |SHAP contribution| over up to
 * HML_EXPLAIN_ROWS rows (binary and regression). Linear models also report their
 * coefficients in raw-input units. Input columns are the encoded ones (one-hot levels
 * appear as "col=level"). */
#define HML_EXPLAIN_ROWS 2000
struct hml_explanation {
    char model[64], method[8];
    size_t n;
    char **names;
    double *values;
    double *coef;        /* linear models: coefficients (binary/regression), else NULL */
    double intercept;
};
enum hml_status hml_explain(const struct hml_run_opts *o, const char *model, const char *method,
                            struct hml_explanation **out, struct hml_error *err);
void hml_explanation_free(struct hml_explanation *x);

/* Is col kept out of a model's default inputs: the target, keys, exclusions, the
 * denylist, and the fold, time and group columns? */
bool hml_input_reserved(const json_t *root, const char *col);

/* The run as JSON (metrics of every model and the ensemble, folds, notes). */
json_t *hml_run_json(const struct hml_run *r);

#endif
