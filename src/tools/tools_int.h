/* tools_int.h — shared by the files of src/tools: built-in tool tables and the
 * project helpers every action uses. Not part of the public API. */
#ifndef HML_TOOLS_INT_H
#define HML_TOOLS_INT_H

#include "harness/config.h"
#include "harness/frame.h"
#include "harness/fsx.h"
#include "harness/tool.h"

extern const struct hml_tool hml_tool_configure;
extern const struct hml_tool hml_tool_data;
extern const struct hml_tool hml_tool_models;
extern const struct hml_tool hml_tool_pipeline;
extern const struct hml_tool hml_tool_features;
extern const struct hml_tool hml_tool_notebook;
extern const struct hml_tool hml_tool_experiments;

/* Validates and coerces args in place for the action; fills err (with
 * valid_values / did_you_mean) on the first problem. */
enum hml_status hml__validate(const struct hml_tool *t, const struct hml_action *a, json_t *args,
                              struct hml_error *err);

/* Copies the next space-separated word of *s into out and advances *s. */
bool hml__next_word(const char **s, char *out, size_t cap);

/* ---- the project on disk (ARCHITECTURE.md §4) -------------------------------- */

#define HML_TABLE_FILE "data/table.hfr"
#define HML_TABLE_FULL_FILE "data/table_full.hfr"

struct hml_project {
    char *dir;                  /* absolute                          */
    struct hml_config *cfg;     /* loaded config                     */
    struct hml_frame *table;    /* prediction table, or NULL if none */
};

enum hml_table_need {
    HML_TABLE_SKIP,     /* config only                                  */
    HML_TABLE_IF_ANY,   /* load the table when the project has one      */
    HML_TABLE_REQUIRED  /* fail with a hint to run `data add` if none   */
};

/* Loads the config of the project at call->project_dir (not_found + hint when
 * there is none) and, as asked, its prediction table. */
enum hml_status hml__project_open(const struct hml_call *call, enum hml_table_need need,
                                  struct hml_project **out, struct hml_error *err);
void hml__project_free(struct hml_project *p);
/* An absolute path under the project. Caller frees. */
char *hml__project_path(const struct hml_project *p, const char *rel);
/* Stages the table (and the config, when cfg_root != NULL) in txn. */
enum hml_status hml__stage_table(const struct hml_project *p, struct hml_txn *txn,
                                 const struct hml_frame *table, const char *rel,
                                 struct hml_error *err);

/* Brings the project's declared features up to date in p->table (recomputing only stale
 * ones) and, when anything changed, writes the table and the new cache files; notes what
 * was recomputed in res. The pipeline runs it before a backtest (t_features.c). */
enum hml_status hml__features_refresh_project(struct hml_project *p, struct hml_result *res, struct hml_error *err);

/* The checks `models add` makes on a model definition in `root`: a registered type, params
 * the backend knows, a mode it supports, and no feature that is the target or on the
 * leakage denylist (HML_EBLOCKED, not overridable). Features that are not columns of
 * `table` (may be NULL) are warnings in res. `where` names the action in errors. */
enum hml_status hml__models_check_definition(const json_t *root, const char *name, const json_t *def,
                                             const struct hml_frame *table, const char *where,
                                             struct hml_result *res, struct hml_error *err);

/* ---- markdown helpers ----------------------------------------------------------- */

/* "12,345" style thousands separators. */
const char *hml__fmt_count(char buf[32], unsigned long long n);
/* A compact number for tables: up to 4 significant decimals, no trailing zeros. */
const char *hml__fmt_num(char buf[32], double v);

#endif
