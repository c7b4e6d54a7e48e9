/* feature.c — feature definitions: parsing one, and loading the config's set in
 * dependency order (a stable topological sort; a cycle is named in the error). */
#include "harness/feature.h"
#include "harness/alloc.h"

#include <stdio.h>
#include <string.h>

const char *const hml_feature_type_names[] = {"instance", "entity", "pairwise", "regime", NULL};
const char *const hml_pairwise_mode_names[] = {"diff", "ratio", "both", "none", NULL};

static const char *const def_keys[] = {"type", "formula", "source", "column", "condition", "pairwise_mode",
                                       "category", "description", "enabled", "entity_column", "entity_a_column",
                                       "entity_b_column", "period_column"};
#define DEF_KEYS_N (sizeof def_keys / sizeof *def_keys)

/* data.feature_store keys and their defaults (upstream's names). */
static const char *const store_keys[][2] = {{"entity_column", "entity_id"},
                                            {"entity_a_column", "entity_a_id"},
                                            {"entity_b_column", "entity_b_id"},
                                            {"period_column", "period_id"}};

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HML_FEATURE_NAME_MAX) return false;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static long index_of(const char *const *names, const char *s)
{
    for (long i = 0; names[i]; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static size_t count_names(const char *const *names)
{
    size_t n = 0;
    while (names[n]) n++;
    return n;
}

/* A string field of def, copied; NULL when absent. Non-strings are an error. */
static enum hml_status take_str(const json_t *def, const char *key, char **out, struct hml_error *err)
{
    const json_t *v = json_object_get(def, key);
    *out = NULL;
    if (!v || json_is_null(v)) return HML_OK;
    if (!json_is_string(v) || !json_string_length(v)) {
        hml_fail(err, HML_EINVAL, "features", "'%s' must be a non-empty string", key);
        return hml_hint(err, "e.g. %s: \"...\"", key);
    }
    if (!(*out = hml_strdup(json_string_value(v)))) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    return HML_OK;
}

static enum hml_status check_keys(const json_t *def, struct hml_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)def, k, v) {
        bool known = false;
        for (size_t i = 0; i < DEF_KEYS_N && !known; i++) known = !strcmp(def_keys[i], k);
        if (!known) {
            hml_fail(err, HML_EINVAL, "features", "unknown key '%s' in a feature definition", k);
            return hml_error_choices(err, k, def_keys, DEF_KEYS_N);
        }
    }
    return HML_OK;
}

static enum hml_status parse_enum(const json_t *def, const char *key, const char *const *names, int *out,
                                  struct hml_error *err)
{
    const char *s = hml_json_str(def, key, NULL);
    if (!s) return HML_OK;
    long i = index_of(names, s);
    if (i >= 0) return *out = (int)i, HML_OK;
    hml_fail(err, HML_EINVAL, "features", "unknown %s '%s'", key, s);
    return hml_error_choices(err, s, names, count_names(names));
}

static enum hml_status read_fields(struct hml_feature *f, const json_t *def, struct hml_error *err)
{
    enum hml_status rc = check_keys(def, err);
    if (!rc) rc = take_str(def, "formula", &f->formula, err);
    if (!rc) rc = take_str(def, "column", &f->column, err);
    if (!rc) rc = take_str(def, "source", &f->source, err);
    if (!rc) rc = take_str(def, "condition", &f->condition, err);
    if (!rc) rc = take_str(def, "category", &f->category, err);
    if (!rc) rc = take_str(def, "description", &f->description, err);
    if (!rc && !f->category && !(f->category = hml_strdup("general")))
        rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    const json_t *en = json_object_get(def, "enabled");
    if (!rc && en && !json_is_null(en) && !json_is_boolean(en)) {
        hml_fail(err, HML_EINVAL, "features", "'enabled' must be true or false");
        rc = hml_hint(err, "enabled: false keeps the definition but stops computing it");
    }
    f->enabled = !json_is_false(en);
    int type = -1, mode = -1;
    if (!rc) rc = parse_enum(def, "type", hml_feature_type_names, &type, err);
    if (!rc) rc = parse_enum(def, "pairwise_mode", hml_pairwise_mode_names, &mode, err);
    if (rc) return rc;
    if (type < 0) type = f->condition ? HML_FEATURE_REGIME : f->source ? HML_FEATURE_ENTITY : HML_FEATURE_INSTANCE;
    f->type = (enum hml_feature_type)type;
    if (mode >= 0 && f->type != HML_FEATURE_ENTITY) {
        hml_fail(err, HML_EINVAL, "features", "pairwise_mode applies to entity features only");
        return hml_hint(err, "drop pairwise_mode, or make it an entity feature (source + column)");
    }
    f->pairwise_mode = mode >= 0 ? (enum hml_pairwise_mode)mode : HML_PAIRWISE_DIFF;
    return HML_OK;
}

/* Entity key columns: the definition's, else data.feature_store's, else upstream's defaults. */
static enum hml_status entity_columns(struct hml_feature *f, const json_t *def, const json_t *config,
                                      struct hml_error *err)
{
    const json_t *store = json_object_get(json_object_get(config, "data"), "feature_store");
    char **slots[] = {&f->entity_column, &f->entity_a_column, &f->entity_b_column, &f->period_column};
    for (size_t i = 0; i < 4; i++) {
        enum hml_status rc = take_str(def, store_keys[i][0], slots[i], err);
        if (rc) return rc;
        if (!*slots[i] && !(*slots[i] = hml_strdup(hml_json_str(store, store_keys[i][0], store_keys[i][1]))))
            return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    }
    if (!f->column && !(f->column = hml_strdup(f->name))) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    const char *mode = json_string_value(json_object_get(store, "default_pairwise_mode"));
    long m = mode ? index_of(hml_pairwise_mode_names, mode) : -1;
    if (!json_object_get(def, "pairwise_mode") && m >= 0) f->pairwise_mode = (enum hml_pairwise_mode)m;
    return HML_OK;
}

/* What each type needs, with a hint that shows a working definition. */
static enum hml_status check_shape(const struct hml_feature *f, struct hml_error *err)
{
    const char *nm = f->name;
    switch (f->type) {
    case HML_FEATURE_INSTANCE:
        if (!!f->formula == !!f->column || f->source || f->condition) {
            hml_fail(err, HML_EINVAL, "features", "an instance feature needs exactly one of formula or column");
            return hml_hint(err, "e.g. name=%s formula=\"sibsp + parch + 1\", or column=<existing column>", nm);
        }
        return HML_OK;
    case HML_FEATURE_PAIRWISE:
        if (!f->formula || f->column || f->source || f->condition) {
            hml_fail(err, HML_EINVAL, "features", "a pairwise feature needs a formula (and nothing else)");
            return hml_hint(err, "e.g. name=%s formula=\"elo_a - elo_b\"", nm);
        }
        return HML_OK;
    case HML_FEATURE_REGIME:
        if (!f->condition || f->formula || f->column || f->source) {
            hml_fail(err, HML_EINVAL, "features", "a regime feature needs a condition (and nothing else)");
            return hml_hint(err, "e.g. name=%s condition=\"age < 12\" (1 where true, else 0)", nm);
        }
        return HML_OK;
    case HML_FEATURE_ENTITY:
        if (!f->source || f->formula || f->condition) {
            hml_fail(err, HML_EINVAL, "features", "an entity feature needs a source (and no formula or condition)");
            return hml_hint(err, "e.g. name=%s type=entity source=<registered source> column=<value column>", nm);
        }
        return HML_OK;
    }
    return HML_OK;
}

static void set_outputs(struct hml_feature *f)
{
    const char *n = f->name;
    f->noutputs = 1;
    if (f->type != HML_FEATURE_ENTITY) {
        snprintf(f->outputs[0], HML_FEATURE_OUT_MAX, "%s", n);
        return;
    }
    switch (f->pairwise_mode) {
    case HML_PAIRWISE_DIFF: snprintf(f->outputs[0], HML_FEATURE_OUT_MAX, "diff_%s", n); break;
    case HML_PAIRWISE_RATIO: snprintf(f->outputs[0], HML_FEATURE_OUT_MAX, "ratio_%s", n); break;
    case HML_PAIRWISE_BOTH:
        snprintf(f->outputs[0], HML_FEATURE_OUT_MAX, "diff_%s", n);
        snprintf(f->outputs[1], HML_FEATURE_OUT_MAX, "ratio_%s", n);
        f->noutputs = 2;
        break;
    case HML_PAIRWISE_NONE:
        snprintf(f->outputs[0], HML_FEATURE_OUT_MAX, "%s_a", n);
        snprintf(f->outputs[1], HML_FEATURE_OUT_MAX, "%s_b", n);
        f->noutputs = 2;
        break;
    }
}

/* The stored form: what was given, with the type made explicit. */
static json_t *normalised(const struct hml_feature *f, const json_t *def)
{
    json_t *out = json_deep_copy(def);
    if (!out) return NULL;
    json_object_set_new(out, "type", json_string(hml_feature_type_names[f->type]));
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(out, tmp, k, v) if (json_is_null(v)) json_object_del(out, k);
    return out;
}

enum hml_status hml_feature_parse(const char *name, const json_t *def, const json_t *config,
                                  struct hml_feature *f, struct hml_error *err)
{
    memset(f, 0, sizeof *f);
    if (!valid_name(name)) {
        hml_fail(err, HML_EINVAL, "features", "feature name '%s' must start with a letter or '_' and hold only "
                 "letters, digits and '_' (at most %u)", name, HML_FEATURE_NAME_MAX);
        return hml_hint(err, "formulas refer to it as @name, so pick a plain name like family_size");
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    if (!json_is_object(def)) {
        hml_fail(err, HML_EINVAL, "features", "the definition of '%s' must be an object", name);
        return hml_hint(err, "e.g. %s: {formula: \"a + b\"}", name);
    }
    enum hml_status rc = read_fields(f, def, err);
    if (!rc && f->type == HML_FEATURE_ENTITY) rc = entity_columns(f, def, config, err);
    if (!rc) rc = check_shape(f, err);
    const char *src = f->formula ? f->formula : f->condition;
    if (!rc && src) rc = hml_expr_parse(src, &f->expr, err);
    if (!rc) {
        f->declares = f->type == HML_FEATURE_INSTANCE && f->column && !strcmp(f->column, f->name);
        set_outputs(f);
        if (!(f->def = normalised(f, def))) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    }
    if (rc) hml_feature_fini(f);
    return rc;
}

void hml_feature_fini(struct hml_feature *f)
{
    if (!f) return;
    char *owned[] = {f->formula, f->column, f->source, f->condition, f->category, f->description,
                     f->entity_column, f->entity_a_column, f->entity_b_column, f->period_column};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++) hml_free(owned[i]);
    hml_expr_free(f->expr);
    hml_free(f->deps);
    json_decref(f->def);
    memset(f, 0, sizeof *f);
}

/* ---- the set ---------------------------------------------------------------------------------- */

void hml_features_free(struct hml_feature_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) hml_feature_fini(&s->items[i]);
    hml_free(s->items);
    hml_free(s);
}

long hml_features_find(const struct hml_feature_set *s, const char *name)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (!strcmp(s->items[i].name, name)) return (long)i;
    return -1;
}

long hml_features_owner(const struct hml_feature_set *s, const char *col)
{
    for (size_t i = 0; s && i < s->n; i++)
        for (size_t k = 0; k < s->items[i].noutputs; k++)
            if (!strcmp(s->items[i].outputs[k], col)) return (long)i;
    return -1;
}

bool hml_features_depends(const struct hml_feature_set *s, size_t i, size_t j)
{
    HML_ASSERT(i < s->n && j < s->n);
    if (j >= i) return false; /* dependencies point to lower indices */
    uint8_t *mark = hml_calloc(s->n, 1);
    if (!mark) return false;
    mark[i] = 1;
    /* One backward sweep marks every ancestor: each is visited after all its dependants. */
    for (size_t k = i + 1; k-- > j;) {
        if (!mark[k]) continue;
        for (size_t d = 0; d < s->items[k].ndeps; d++) {
            HML_ASSERT(s->items[k].deps[d] < k);
            mark[s->items[k].deps[d]] = 1;
        }
    }
    bool found = mark[j];
    hml_free(mark);
    return found;
}

static enum hml_status add_dep(struct hml_feature *f, size_t d, struct hml_error *err)
{
    for (size_t k = 0; k < f->ndeps; k++)
        if (f->deps[k] == d) return HML_OK;
    size_t *nd = hml_realloc(f->deps, (f->ndeps + 1) * sizeof *nd);
    if (!nd) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    f->deps = nd;
    f->deps[f->ndeps++] = d;
    return HML_OK;
}

static enum hml_status ref_dep(struct hml_feature_set *s, size_t i, const char *ref, struct hml_error *err)
{
    long j = hml_features_find(s, ref);
    if (j < 0) {
        const char **names = hml_malloc((s->n + 1) * sizeof *names);
        if (!names) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
        size_t n = 0;
        for (size_t k = 0; k < s->n; k++)
            if (k != i) names[n++] = s->items[k].name;
        hml_fail(err, HML_ENOTFOUND, "features", "feature '%s' refers to '@%s', which is not a feature",
                 s->items[i].name, ref);
        if (n) hml_error_choices(err, ref, names, n);
        else hml_hint(err, "declare '%s' first (features add), or use a column name without '@'", ref);
        hml_free(names);
        return err ? err->code : HML_ENOTFOUND;
    }
    if ((size_t)j == i) {
        hml_fail(err, HML_EINVAL, "features", "features form a cycle: %s → %s", ref, ref);
        return hml_hint(err, "a feature cannot refer to itself; remove '@%s' from its formula", ref);
    }
    return add_dep(&s->items[i], (size_t)j, err);
}

static enum hml_status column_dep(struct hml_feature_set *s, size_t i, const char *col, struct hml_error *err)
{
    long j = hml_features_owner(s, col);
    if (j < 0) return HML_OK;
    if ((size_t)j == i) {
        if (s->items[i].declares) return HML_OK;
        hml_fail(err, HML_EINVAL, "features", "feature '%s' reads the column '%s' that it writes", s->items[i].name, col);
        return hml_hint(err, "give the feature another name than the columns it reads, e.g. %s_feat",
                        s->items[i].name);
    }
    return add_dep(&s->items[i], (size_t)j, err);
}

/* Dependencies of item i: its @refs, and the owners of the columns it reads. */
static enum hml_status find_deps(struct hml_feature_set *s, size_t i, struct hml_error *err)
{
    struct hml_feature *f = &s->items[i];
    enum hml_status rc = HML_OK;
    size_t n;
    if (f->expr) {
        const char *const *refs = hml_expr_refs(f->expr, &n);
        for (size_t k = 0; !rc && k < n; k++) rc = ref_dep(s, i, refs[k], err);
        const char *const *cols = hml_expr_columns(f->expr, &n);
        for (size_t k = 0; !rc && k < n; k++) rc = column_dep(s, i, cols[k], err);
    }
    if (!rc && f->column && f->type == HML_FEATURE_INSTANCE) rc = column_dep(s, i, f->column, err);
    if (!rc && f->type == HML_FEATURE_ENTITY) {
        const char *keys[] = {f->entity_a_column, f->entity_b_column, f->period_column};
        for (size_t k = 0; !rc && k < 3; k++) rc = column_dep(s, i, keys[k], err);
    }
    for (size_t k = 0; !rc && f->enabled && k < f->ndeps; k++)
        if (!s->items[f->deps[k]].enabled) {
            hml_fail(err, HML_EINVAL, "features", "feature '%s' reads the disabled feature '%s'", f->name,
                     s->items[f->deps[k]].name);
            rc = hml_hint(err, "enable '%s' again, or disable '%s' too", s->items[f->deps[k]].name, f->name);
        }
    return rc;
}

static enum hml_status check_outputs(const struct hml_feature_set *s, struct hml_error *err)
{
    for (size_t i = 0; i < s->n; i++)
        for (size_t k = 0; k < s->items[i].noutputs; k++) {
            long o = hml_features_owner(s, s->items[i].outputs[k]);
            if (o >= 0 && (size_t)o != i) {
                hml_fail(err, HML_EINVAL, "features", "features '%s' and '%s' both write the column '%s'",
                         s->items[o].name, s->items[i].name, s->items[i].outputs[k]);
                return hml_hint(err, "rename one of them");
            }
        }
    return HML_OK;
}

/* Names the cycle among the unplaced features: walking unplaced dependencies from any
 * unplaced feature must revisit one, and the walk from that point is the cycle. */
static enum hml_status name_cycle(const struct hml_feature_set *s, const uint8_t *placed, struct hml_error *err)
{
    size_t *walk = hml_malloc((s->n + 1) * sizeof *walk), len = 0, at = 0;
    if (!walk) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    while (placed[at]) at++;
    for (;;) {
        size_t seen = len;
        for (size_t k = 0; k < len; k++)
            if (walk[k] == at) seen = k;
        if (seen < len || len == s->n) {
            char text[400] = "";
            size_t used = 0;
            for (size_t k = seen; k < len && used < sizeof text; k++)
                used += (size_t)snprintf(text + used, sizeof text - used, "%s → ", s->items[walk[k]].name);
            if (used < sizeof text) snprintf(text + used, sizeof text - used, "%s", s->items[at].name);
            hml_free(walk);
            hml_fail(err, HML_EINVAL, "features", "features form a cycle: %s", text);
            return hml_hint(err, "remove one of these references so that each feature only reads features defined "
                                 "without it");
        }
        walk[len++] = at;
        const struct hml_feature *f = &s->items[at];
        for (size_t d = 0; d < f->ndeps; d++)
            if (!placed[f->deps[d]]) {
                at = f->deps[d];
                break;
            }
    }
}

/* Stable topological order: repeatedly place the first feature (in config order) whose
 * dependencies are all placed. n is bounded by HML_FEATURES_MAX, so O(n²) is fine. */
static enum hml_status order(struct hml_feature_set *s, struct hml_error *err)
{
    size_t *ord = hml_malloc((s->n + 1) * sizeof *ord), *pos = hml_malloc((s->n + 1) * sizeof *pos);
    uint8_t *placed = hml_calloc(s->n + 1, 1);
    struct hml_feature *items = hml_malloc((s->n + 1) * sizeof *items);
    enum hml_status rc = ord && pos && placed && items ? HML_OK : hml_fail(err, HML_ENOMEM, "features", "out of memory");
    size_t n = 0;
    while (!rc && n < s->n) {
        size_t pick = s->n;
        for (size_t i = 0; i < s->n && pick == s->n; i++) {
            bool ready = !placed[i];
            for (size_t d = 0; ready && d < s->items[i].ndeps; d++) ready = placed[s->items[i].deps[d]];
            if (ready) pick = i;
        }
        if (pick == s->n) rc = name_cycle(s, placed, err);
        else placed[pick] = 1, pos[pick] = n, ord[n++] = pick;
    }
    if (!rc) {
        for (size_t k = 0; k < s->n; k++) {
            items[k] = s->items[ord[k]];
            for (size_t d = 0; d < items[k].ndeps; d++) items[k].deps[d] = pos[items[k].deps[d]];
        }
        memcpy(s->items, items, s->n * sizeof *items);
    }
    hml_free(ord);
    hml_free(pos);
    hml_free(placed);
    hml_free(items);
    return rc;
}

enum hml_status hml_features_load(const json_t *config, struct hml_feature_set **out, struct hml_error *err)
{
    const json_t *section = json_object_get(config, "features");
    if (section && !json_is_null(section) && !json_is_object(section)) {
        hml_fail(err, HML_EINVAL, "features", "the features section must map names to definitions");
        return hml_hint(err, "see config/features.yaml: features: {family_size: {formula: \"sibsp + parch + 1\"}}");
    }
    size_t total = json_object_size(section);
    if (total > HML_FEATURES_MAX) {
        hml_fail(err, HML_ELIMIT, "features", "%zu features exceed the limit of %u", total, HML_FEATURES_MAX);
        return hml_hint(err, "remove unused features (features prune finds weak ones)");
    }
    struct hml_feature_set *s = hml_calloc(1, sizeof *s);
    if (!s || !(s->items = hml_calloc(total + 1, sizeof *s->items))) {
        hml_free(s);
        return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    }
    enum hml_status rc = HML_OK;
    const char *name;
    json_t *def;
    json_object_foreach((json_t *)section, name, def) {
        if ((rc = hml_feature_parse(name, def, config, &s->items[s->n], err))) {
            hml_error_prefix(err, "feature '%s'", name);
            break;
        }
        s->n++;
    }
    if (!rc) rc = check_outputs(s, err);
    for (size_t i = 0; !rc && i < s->n; i++) rc = find_deps(s, i, err);
    if (!rc) rc = order(s, err);
    if (rc) {
        hml_features_free(s);
        return rc;
    }
    *out = s;
    return HML_OK;
}
