/* design.c — fold-local encoding of frame columns into a float matrix. */
#include "harness/design.h"
#include "harness/alloc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum enc { ENC_NUM, ENC_CODES, ENC_ONEHOT };

struct input {
    char *name;
    enum enc enc;
    size_t out_col;     /* first output column                                   */
    size_t nlevels;     /* codes/onehot: levels kept                              */
    char **levels;      /* level text by index (onehot: column order; codes too) */
};

struct hml_design {
    struct input *in;
    size_t nin, cols;
    char **names;
    uint8_t *categorical;
    uint32_t *levels;
};

static void input_free(struct input *x)
{
    for (size_t i = 0; i < x->nlevels; i++) hml_free(x->levels[i]);
    hml_free(x->levels);
    hml_free(x->name);
}

void hml_design_free(struct hml_design *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->nin; i++) input_free(&d->in[i]);
    for (size_t j = 0; j < d->cols; j++) hml_free(d->names[j]);
    hml_free(d->in);
    hml_free(d->names);
    hml_free(d->categorical);
    hml_free(d->levels);
    hml_free(d);
}

size_t hml_design_cols(const struct hml_design *d) { return d->cols; }
const char *const *hml_design_names(const struct hml_design *d) { return (const char *const *)d->names; }
const uint8_t *hml_design_categorical(const struct hml_design *d) { return d->categorical; }
const uint32_t *hml_design_levels(const struct hml_design *d) { return d->levels; }

/* Counts of each dictionary code among the training rows. Caller frees. */
static size_t *code_counts(const struct hml_column *c, const size_t *rows, size_t n, size_t *distinct)
{
    size_t nd = hml_dict_size(c->dict);
    size_t *cnt = hml_calloc(nd + 1, sizeof *cnt);
    if (!cnt) return NULL;
    *distinct = 0;
    for (size_t i = 0; i < n; i++) {
        size_t r = rows[i];
        if (hml_column_is_null(c, r)) continue;
        if (cnt[hml_codes(c)[r]]++ == 0) ++*distinct;
    }
    return cnt;
}

/* Chooses the levels of a text column: codes keep every training level; one-hot
 * keeps the most frequent ones seen at least rare_min times. */
static enum hml_status text_levels(struct input *x, const struct hml_column *c, const size_t *cnt,
                                   const struct hml_design_opts *o, struct hml_error *err)
{
    size_t nd = hml_dict_size(c->dict), cap = o->onehot ? o->levels_max : nd;
    x->levels = hml_calloc(cap + 1, sizeof *x->levels);
    if (!x->levels) return hml_fail(err, HML_ENOMEM, "design", "out of memory");
    bool *taken = hml_calloc(nd + 1, sizeof *taken);
    if (!taken) return hml_fail(err, HML_ENOMEM, "design", "out of memory");
    /* Repeatedly take the most frequent remaining level: deterministic, and ties
     * go to the level seen first in the dictionary. */
    while (x->nlevels < cap) {
        size_t best = SIZE_MAX;
        for (size_t k = 0; k < nd; k++)
            if (!taken[k] && cnt[k] && (best == SIZE_MAX || cnt[k] > cnt[best])) best = k;
        if (best == SIZE_MAX || (o->onehot && cnt[best] < o->rare_min)) break;
        taken[best] = true;
        x->levels[x->nlevels] = hml_strdup(hml_dict_get(c->dict, (int32_t)best));
        if (!x->levels[x->nlevels++]) {
            hml_free(taken);
            return hml_fail(err, HML_ENOMEM, "design", "out of memory");
        }
    }
    hml_free(taken);
    return HML_OK;
}

static enum hml_status fit_input(struct input *x, const struct hml_column *c, const size_t *rows, size_t n,
                                 const struct hml_design_opts *o, bool *skip, struct hml_buf *notes,
                                 struct hml_error *err)
{
    *skip = false;
    if (c->type != HML_TYPE_STR) {
        x->enc = ENC_NUM;
        return HML_OK;
    }
    size_t distinct;
    size_t *cnt = code_counts(c, rows, n, &distinct);
    if (!cnt) return hml_fail(err, HML_ENOMEM, "design", "out of memory");
    enum hml_status rc = HML_OK;
    if (n >= 20 && (double)distinct > HML_DESIGN_ID_SHARE * (double)n) {
        *skip = true;
        if (notes) hml_buf_printf(notes, "'%s' left out: %zu distinct texts in %zu rows look like identifiers. ",
                                  x->name, distinct, n);
    } else {
        x->enc = o->onehot ? ENC_ONEHOT : ENC_CODES;
        rc = text_levels(x, c, cnt, o, err);
    }
    hml_free(cnt);
    return rc;
}

static enum hml_status add_output(struct hml_design *d, const char *name, bool cat, uint32_t levels,
                                  struct hml_error *err)
{
    size_t j = d->cols;
    char **names = hml_realloc(d->names, (j + 1) * sizeof *names);
    if (names) d->names = names;
    uint8_t *c = hml_realloc(d->categorical, j + 1);
    if (c) d->categorical = c;
    uint32_t *l = hml_realloc(d->levels, (j + 1) * sizeof *l);
    if (l) d->levels = l;
    if (!names || !c || !l || !(d->names[j] = hml_strdup(name))) return hml_fail(err, HML_ENOMEM, "design", "out of memory");
    d->categorical[j] = cat;
    d->levels[j] = levels;
    d->cols++;
    return HML_OK;
}

static enum hml_status add_outputs(struct hml_design *d, struct input *x, struct hml_error *err)
{
    x->out_col = d->cols;
    if (x->enc == ENC_NUM) return add_output(d, x->name, false, 0, err);
    if (x->enc == ENC_CODES) return add_output(d, x->name, true, (uint32_t)x->nlevels, err);
    char buf[320];
    enum hml_status rc = HML_OK;
    for (size_t k = 0; !rc && k < x->nlevels; k++) {
        snprintf(buf, sizeof buf, "%s=%s", x->name, x->levels[k]);
        rc = add_output(d, buf, false, 0, err);
    }
    snprintf(buf, sizeof buf, "%s=(other)", x->name);
    return rc ? rc : add_output(d, buf, false, 0, err);
}

enum hml_status hml_design_fit(const struct hml_frame *f, const char *const *features, size_t nfeatures,
                               const size_t *rows, size_t n, const struct hml_design_opts *opts,
                               struct hml_design **out, struct hml_buf *notes, struct hml_error *err)
{
    struct hml_design_opts o = opts ? *opts : (struct hml_design_opts){0};
    if (!o.levels_max) o.levels_max = HML_DESIGN_LEVELS_MAX;
    if (!o.rare_min) o.rare_min = HML_DESIGN_RARE_MIN;
    struct hml_design *d = hml_calloc(1, sizeof *d);
    if (!d || !(d->in = hml_calloc(nfeatures + 1, sizeof *d->in))) {
        hml_free(d);
        return hml_fail(err, HML_ENOMEM, "design", "out of memory");
    }
    enum hml_status rc = HML_OK;
    for (size_t i = 0; !rc && i < nfeatures; i++) {
        size_t j;
        rc = hml_frame_lookup(f, features[i], &j, err);
        if (rc) break;
        struct input *x = &d->in[d->nin];
        if (!(x->name = hml_strdup(features[i]))) { rc = hml_fail(err, HML_ENOMEM, "design", "out of memory"); break; }
        bool skip;
        rc = fit_input(x, f->cols[j], rows, n, &o, &skip, notes, err);
        if (!rc && skip) { input_free(x); memset(x, 0, sizeof *x); continue; }
        d->nin++;
        if (!rc) rc = add_outputs(d, x, err);
    }
    if (!rc && d->cols == 0) {
        hml_fail(err, HML_EINVAL, "design", "no usable feature columns");
        rc = hml_hint(err, "give the model numeric or low-cardinality text features");
    }
    if (rc) {
        hml_design_free(d);
        return rc;
    }
    *out = d;
    return HML_OK;
}

/* Index of text s among the kept levels, or -1. Linear: levels are few (≤ 64 for
 * one-hot); for codes a per-apply map from dictionary codes is built instead. */
static long level_of(const struct input *x, const char *s)
{
    for (size_t k = 0; k < x->nlevels; k++)
        if (!strcmp(x->levels[k], s)) return (long)k;
    return -1;
}

/* Maps the frame column's dictionary codes to level indices (-1 = unseen). */
static long *code_map(const struct input *x, const struct hml_column *c)
{
    size_t nd = hml_dict_size(c->dict);
    long *m = hml_malloc((nd + 1) * sizeof *m);
    if (!m) return NULL;
    for (size_t k = 0; k < nd; k++) m[k] = level_of(x, hml_dict_get(c->dict, (int32_t)k));
    return m;
}

static void apply_input(const struct input *x, const struct hml_column *c, const long *map, const size_t *rows,
                        size_t n, size_t stride, float *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t r = rows ? rows[i] : i;
        float *o = out + i * stride + x->out_col;
        bool null = hml_column_is_null(c, r);
        if (x->enc == ENC_NUM) {
            o[0] = null ? NAN : (float)hml_column_num(c, r);
            continue;
        }
        long lv = null ? -2 : map[hml_codes(c)[r]];
        if (x->enc == ENC_CODES) {
            o[0] = lv < 0 ? NAN : (float)lv;
            continue;
        }
        for (size_t k = 0; k <= x->nlevels; k++) o[k] = 0.0f;
        if (lv == -2) {
            for (size_t k = 0; k <= x->nlevels; k++) o[k] = NAN; /* a null stays missing, not "other" */
        } else {
            o[lv < 0 ? x->nlevels : (size_t)lv] = 1.0f;
        }
    }
}

enum hml_status hml_design_apply(const struct hml_design *d, const struct hml_frame *f, const size_t *rows,
                                 size_t n, float *out, struct hml_error *err)
{
    if (!rows) n = f->nrows;
    for (size_t i = 0; i < d->nin; i++) {
        const struct input *x = &d->in[i];
        size_t j;
        enum hml_status rc = hml_frame_lookup(f, x->name, &j, err);
        if (rc) return rc;
        const struct hml_column *c = f->cols[j];
        if ((x->enc == ENC_NUM) != (c->type != HML_TYPE_STR)) {
            hml_fail(err, HML_EINVAL, "design", "column '%s' changed type since the model was trained", x->name);
            return hml_hint(err, "give the new data the same column types as the training data");
        }
        long *map = x->enc == ENC_NUM ? NULL : code_map(x, c);
        if (x->enc != ENC_NUM && !map) return hml_fail(err, HML_ENOMEM, "design", "out of memory");
        apply_input(x, c, map, rows, n, d->cols, out);
        hml_free(map);
    }
    return HML_OK;
}
