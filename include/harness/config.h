/* config.h — the project configuration: split YAML files under config/, one tree.
 *
 * Files and the top-level sections they hold:
 *   config/pipeline.yaml  project, data, backtest, workflow, guardrails
 *   config/models.yaml    models
 *   config/ensemble.yaml  ensemble
 *   config/sources.yaml   sources
 *   config/features.yaml  features          (optional)
 *   config/views.yaml     views             (optional)
 * Loading merges them into one jansson object keyed by section and validates it
 * against the schema (config_schema.c): unknown keys are errors that name the file,
 * the dotted path and the nearest valid key; wrong types and enum values likewise.
 * Saving writes each section back to its file, only files whose text changed,
 * atomically (through a txn when one is given, so several files land together).
 */
#ifndef HML_CONFIG_H
#define HML_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/err.h"
#include "harness/fsx.h"
#include "harness/json.h"

struct hml_config {
    json_t *root; /* owned; {section: {...}} */
};

/* Task types, model types and CV strategies the schema knows (NULL-terminated). */
extern const char *const hml_task_names[];
extern const char *const hml_cv_strategy_names[];
extern const char *const hml_model_type_names[];

/* A fresh config for `configure init`. project_name may be NULL. */
json_t *hml_config_default(const char *project_name, const char *task, const char *target_column);

enum hml_status hml_config_load(const char *project_dir, struct hml_config **out,
                                struct hml_error *err);
void hml_config_free(struct hml_config *cfg);

/* Validates a whole tree; the first problem wins. */
enum hml_status hml_config_validate(const json_t *root, struct hml_error *err);

/* Writes every section to its file (unchanged files are not touched). With txn
 * the writes are staged there and land at hml_txn_commit; without, they land now. */
enum hml_status hml_config_save(const json_t *root, const char *project_dir, struct hml_txn *txn,
                                struct hml_error *err);

/* Dotted-path access: "models.xgb.params.max_depth". get returns a borrowed
 * pointer or NULL. set steals value and creates intermediate objects. */
json_t *hml_config_get(const json_t *root, const char *path);
enum hml_status hml_config_set(json_t *root, const char *path, json_t *value,
                               struct hml_error *err);

/* Deep-merges overlay into root: objects merge key by key, everything else
 * replaces. Keys with dots are expanded first ({"a.b": 1} → {"a": {"b": 1}}).
 * In a models.<name> block, `append_features` / `remove_features` (lists) edit
 * that model's `features` list instead of being stored. Returns a new tree. */
enum hml_status hml_config_merge(const json_t *root, const json_t *overlay, json_t **out,
                                 struct hml_error *err);

/* The overlay with its dot keys expanded at every depth, as hml_config_merge reads it
 * ({"a.b": 1} → {"a": {"b": 1}}); nulls and append_features / remove_features are kept
 * as they are, so merging the result equals merging the original. A new tree. */
enum hml_status hml_config_expand(const json_t *overlay, json_t **out, struct hml_error *err);

/* SHA-256 (hex, 64 chars + NUL) of the canonical JSON of the tree. */
void hml_config_hash(const json_t *root, char out[65]);

/* SHA-256 primitive (also used for file fingerprints). */
struct hml_sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t buf_n;
};
void hml_sha256_init(struct hml_sha256 *s);
void hml_sha256_update(struct hml_sha256 *s, const void *data, size_t n);
void hml_sha256_final(struct hml_sha256 *s, unsigned char out[32]);
void hml_sha256_hex(const void *data, size_t n, char out[65]);

#endif
