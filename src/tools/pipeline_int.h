/* pipeline_int.h — shared by the files of the `pipeline` tool: t_pipeline.c (runs)
 * and t_pipeline_diag.c (diagnostics over a run's artifacts). */
#ifndef HML_PIPELINE_INT_H
#define HML_PIPELINE_INT_H

#include "data_int.h"

/* metrics.json of a run (NULL or "latest" = the newest), with not_found + choices. */
enum hml_status hml__load_run(const struct hml_project *p, const char *run_id, json_t **out, struct hml_error *err);
/* Progress callback forwarding to the call's progress (ud = the struct hml_call). */
void hml__run_progress(void *ud, double done, double total, const char *msg);

#define PIPELINE_ACTION(name) \
    enum hml_status name(struct hml_call *call, struct hml_result *res, struct hml_error *err)

PIPELINE_ACTION(hml__pipeline_diagnostics);
PIPELINE_ACTION(hml__pipeline_calibration_report);
PIPELINE_ACTION(hml__pipeline_explain);
PIPELINE_ACTION(hml__pipeline_inspect_predictions);
PIPELINE_ACTION(hml__pipeline_model_correlation);
PIPELINE_ACTION(hml__pipeline_residual_analysis);

#endif
