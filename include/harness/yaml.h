/* yaml.h — YAML documents to and from jansson trees (libyaml underneath).
 *
 * Parsing accepts one document of mappings, sequences and scalars. Plain scalars
 * are typed: null/~/empty → null, true/false → bool, integers, floats (.inf and
 * .nan are refused: jansson cannot hold them); quoted scalars are always strings. Anchors and aliases are refused
 * (they enable size blow-ups and we never write them), so are duplicate keys,
 * non-string keys, nesting deeper than HML_YAML_DEPTH_MAX and input over
 * HML_YAML_BYTES_MAX. Errors name the origin and the line.
 */
#ifndef HML_YAML_H
#define HML_YAML_H

#include <stddef.h>
#include "harness/err.h"
#include "harness/json.h"

#define HML_YAML_BYTES_MAX (16u << 20)
#define HML_YAML_DEPTH_MAX 64

/* origin names the input in messages ("config/models.yaml"). An empty document
 * gives an empty object. */
enum hml_status hml_yaml_parse(const char *text, size_t len, const char *origin, json_t **out,
                               struct hml_error *err);
/* Block-style YAML with keys in the tree's order; strings are quoted whenever a
 * plain scalar would read back as something else. Parse(emit(v)) == v.
 * Caller frees with hml_free. NULL on OOM. */
char *hml_yaml_emit(const json_t *v);

#endif
