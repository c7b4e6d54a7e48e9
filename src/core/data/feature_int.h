/* feature_int.h — shared by feature*.c: the cache's internal entry points. */
#ifndef HML_FEATURE_INT_H
#define HML_FEATURE_INT_H

#include "harness/feature.h"

/* Is there an entry for (name, key)? *outfp receives its output fingerprint. */
bool hml__fcache_lookup(struct hml_feature_cache *c, const char *name, const char *key32, uint64_t *outfp);
/* Reads the entry's frame (pending entries from memory). */
enum hml_status hml__fcache_load(struct hml_feature_cache *c, const char *name, const char *key32,
                                 struct hml_frame **out, struct hml_error *err);
/* Records a computed entry as pending (c may be NULL: nothing happens). */
enum hml_status hml__fcache_put(struct hml_feature_cache *c, const char *name, const char *key32,
                                const struct hml_frame *outputs, uint64_t outfp, struct hml_error *err);

#endif
