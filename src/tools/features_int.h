/* features_int.h — the actions of the `features` tool, split over t_features.c
 * (definitions: add, update, add_batch, list, remove) and t_features_find.c (finding
 * and judging features: test_transformations, discover, diversity, auto_search, prune). */
#ifndef HML_FEATURES_INT_H
#define HML_FEATURES_INT_H

#include "tools_int.h"
#include "harness/feature.h"

#define FEATURES_ACTION(name) \
    enum hml_status name(struct hml_call *call, struct hml_result *res, struct hml_error *err)

FEATURES_ACTION(hml__features_test_transformations);
FEATURES_ACTION(hml__features_discover);
FEATURES_ACTION(hml__features_diversity);
FEATURES_ACTION(hml__features_auto_search);
FEATURES_ACTION(hml__features_prune);

/* The feature cache of the project (<project>/.harness/cache/features). NULL on OOM. */
struct hml_feature_cache *hml__features_cache(const struct hml_project *p);
/* Reads a registered source (config sources.<name>) for entity features; ctx is the project. */
enum hml_status hml__features_source(void *ctx, const char *name, struct hml_frame **out, struct hml_error *err);
/* Writes the config (root, may be NULL), the table (may be NULL) and the cache's pending
 * entries in one transaction. */
enum hml_status hml__features_commit(const struct hml_project *p, struct hml_feature_cache *cache,
                                     const struct hml_frame *table, const json_t *root, struct hml_error *err);
/* Why feature `name` cannot be removed (other features or models use it), as an error;
 * HML_OK when nothing does. */
enum hml_status hml__features_in_use(const json_t *root, const struct hml_feature_set *s, size_t i,
                                     struct hml_error *err);
/* Removes feature i from root (features.<name>) and its output columns from *table. */
enum hml_status hml__features_drop(json_t *root, struct hml_frame *table, const struct hml_feature *f,
                                   struct hml_error *err);
/* Is `col` a column no model may take by default (target, keys, time, folds, groups,
 * exclusions, the denylist)? The same rule as the backtest runner's. */
bool hml__features_reserved(const json_t *root, const char *col);
/* A formula-safe spelling of a column name: as is, or in backticks. */
void hml__features_quote(const char *name, char *out, size_t cap);

#endif
