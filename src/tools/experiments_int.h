/* experiments_int.h — shared by the files of the `experiments` tool: t_experiments.c (the
 * lifecycle, gates and reading) and t_experiments_run.c (run, quick_run, promote). */
#ifndef HML_EXPERIMENTS_INT_H
#define HML_EXPERIMENTS_INT_H

#include "pipeline_int.h"

#include "harness/experiment.h"

/* One call's view of the project and its journal. */
struct exp_ctx {
    struct hml_call *call;
    struct hml_result *res;
    struct hml_project *p;
    struct hml_exp_journal *j; /* as loaded; replaced by the committed one after a commit */
};

/* A file written with the journal in one transaction (path relative to the project). */
struct exp_file {
    char rel[96];
    char *text; /* owned */
    size_t len;
};

enum hml_status hml__exp_open(struct hml_call *call, struct hml_result *res, enum hml_table_need need,
                              struct exp_ctx *c, struct hml_error *err);
void hml__exp_close(struct exp_ctx *c);

/* Writes the records (stolen; each keeps the rev it was loaded with, 0 when new), the
 * files (freed) and, when config != NULL, the project config, all in one transaction
 * under the experiments lock. A record whose rev moved since it was loaded is a conflict
 * (another process changed it): nothing is written. */
enum hml_status hml__exp_commit(struct exp_ctx *c, json_t **recs, size_t nrecs, struct exp_file *files,
                                size_t nfiles, const json_t *config, struct hml_error *err);
void hml__exp_files_free(struct exp_file *files, size_t n);

/* ---- guardrails and gates ------------------------------------------------------------------ */

/* Call after hml_fail(err, HML_EBLOCKED, "guardrail.<name>", …) and hml_hint: records the
 * refusal in the store's guard_audit and returns err->code. */
enum hml_status hml__exp_refused(struct exp_ctx *c, const char *subject, struct hml_error *err);
/* Records a guardrail that warned or was overridden, and tells the caller in a warning. */
void hml__exp_guard_note(struct exp_ctx *c, const char *guardrail, bool overridden, const char *subject,
                         const char *fmt, ...) HML_PRINTF(5, 6);

/* create's gates: a plan in the notebook, no completed experiment without a result, and a
 * fresh plan every workflow.replan_every experiments. *plan_id gets the plan's id. */
enum hml_status hml__exp_gate_create(struct exp_ctx *c, char plan_id[24], struct hml_error *err);
/* No experiment other than `self` (may be NULL) ran without a logged result. */
enum hml_status hml__exp_gate_logged(struct exp_ctx *c, const char *self, struct hml_error *err);
/* do_not_retry: no other experiment ran the same normalised overlay (overridable). */
enum hml_status hml__exp_gate_retry(struct exp_ctx *c, const char *self, const json_t *norm, struct hml_error *err);

/* The config with the overlay applied, validated, and every model the overlay touches
 * checked as `models add` would check it. *changes (may be NULL) gets what changed. */
enum hml_status hml__exp_merge(struct exp_ctx *c, const json_t *norm, json_t **merged, json_t **changes,
                               struct hml_error *err);
/* Sets overlay, overlay_hash and config_changes on rec and warns (single_variable) when
 * the overlay changes more than one thing. Adds overlay.yaml to files[*nf]. */
enum hml_status hml__exp_set_overlay(struct exp_ctx *c, json_t *rec, const json_t *norm, const json_t *changes,
                                     struct exp_file *files, size_t *nf, struct hml_error *err);
/* hypothesis.md of a new record. */
enum hml_status hml__exp_hypothesis_file(const json_t *rec, struct exp_file *f, struct hml_error *err);
/* Validates create's parameters and builds the record (id assigned from the journal). */
enum hml_status hml__exp_new_record(struct exp_ctx *c, const char *plan_id, json_t **out, struct hml_error *err);

/* ---- small shared helpers ---------------------------------------------------------------------- */

/* A text parameter that must hold something other than spaces, at most `max` characters. */
enum hml_status hml__exp_text(const struct hml_call *call, const char *name, bool required, size_t max,
                              const char **out, struct hml_error *err);
/* "0.1432", "-0.0031" (sign forced with sign=true); "–" for null/NaN. */
const char *hml__exp_num(char buf[40], const json_t *v, bool sign);
/* A JSON number, or null for NaN and infinities (JSON has neither). */
json_t *hml__exp_real(double x);

enum hml_status hml__exp_run(struct hml_call *call, struct hml_result *res, struct hml_error *err);
enum hml_status hml__exp_quick_run(struct hml_call *call, struct hml_result *res, struct hml_error *err);
enum hml_status hml__exp_promote(struct hml_call *call, struct hml_result *res, struct hml_error *err);
enum hml_status hml__exp_explore(struct hml_call *call, struct hml_result *res, struct hml_error *err);
enum hml_status hml__exp_promote_trial(struct hml_call *call, struct hml_result *res, struct hml_error *err);

#endif
