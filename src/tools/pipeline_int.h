/* pipeline_int.h — shared by the files of the `pipeline` tool: t_pipeline.c (runs)
 * and t_pipeline_diag.c (diagnostics over a run's artifacts). */
#ifndef HML_PIPELINE_INT_H
#define HML_PIPELINE_INT_H

#include "data_int.h"
#include "harness/runner.h"

/* metrics.json of a run (NULL or "latest" = the newest), with not_found + choices. */
enum hml_status hml__load_run(const struct hml_project *p, const char *run_id, json_t **out, struct hml_error *err);
/* Saves a finished backtest as run_backtest does: renders it into `text` (the report),
 * writes outputs/<run_id>/{metrics.json, predictions.csv, report.md} in one transaction and
 * adds its rows to the store. `config` is the tree the run used (the project's, or one with
 * an experiment's overlay); `tag` (borrowed; may be NULL) lands in metrics.json as
 * "experiment" and its "id" in the store's runs.experiment_id. *run_out (may be NULL) gets
 * metrics.json's content, for the caller to decref. */
enum hml_status hml__pipeline_save(const struct hml_project *p, const struct hml_run *r, const json_t *config,
                                   const json_t *tag, bool full, struct hml_buf *text, json_t **run_out,
                                   struct hml_result *res, struct hml_error *err);
/* Progress callback forwarding to the call's progress (ud = the struct hml_call). */
void hml__run_progress(void *ud, double done, double total, const char *msg);

/* The family of a model type for the diversity phase: boosted_tree, bagging, linear,
 * neural ("other" for unknown types). */
const char *hml__model_family(const char *type);

#define PIPELINE_ACTION(name) \
    enum hml_status name(struct hml_call *call, struct hml_result *res, struct hml_error *err)

PIPELINE_ACTION(hml__pipeline_diagnostics);
PIPELINE_ACTION(hml__pipeline_calibration_report);
PIPELINE_ACTION(hml__pipeline_explain);
PIPELINE_ACTION(hml__pipeline_inspect_predictions);
PIPELINE_ACTION(hml__pipeline_model_correlation);
PIPELINE_ACTION(hml__pipeline_residual_analysis);
PIPELINE_ACTION(hml__pipeline_progress);

#endif
