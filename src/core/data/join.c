/* join.c — key-based joins: a hash from right-key text to row, then a gather. */
#include "harness/join.h"
#include "harness/alloc.h"
#include "harness/blob.h"

#include <stdio.h>
#include <string.h>

#define KEY_MAX HML_ROW_KEY_MAX

struct hml_column *hml_column_gather(const struct hml_column *c, const size_t *rows, size_t n)
{
    struct hml_column *o = hml_column_new(c->type, n);
    if (!o) return NULL;
    size_t w = c->type == HML_TYPE_F64 || c->type == HML_TYPE_I64 ? 8
             : c->type == HML_TYPE_BOOL ? 1 : 4;
    for (size_t i = 0; i < n; i++) {
        size_t r = rows[i];
        if (r == SIZE_MAX || hml_column_is_null(c, r)) {
            if (!hml_column_set_null(o, i)) goto oom;
            continue;
        }
        if (c->type == HML_TYPE_STR) {
            const char *s = hml_dict_get(c->dict, hml_codes(c)[r]);
            int32_t code = hml_dict_intern(o->dict, s, hml_dict_len(c->dict, hml_codes(c)[r]));
            if (code < 0) goto oom;
            hml_codes(o)[i] = code;
        } else {
            memcpy((char *)o->data + i * w, (const char *)c->data + r * w, w);
        }
    }
    return o;
oom:
    hml_column_unref(o);
    return NULL;
}

size_t hml_row_key(const struct hml_frame *f, const size_t *cols, size_t ncols, size_t i,
                   char *buf, size_t cap)
{
    size_t len = 0;
    for (size_t k = 0; k < ncols; k++) {
        /* A key that fills the buffer may have been cut: two such keys could compare
         * equal without being equal, so the caller is told instead. */
        if (len + 2 >= cap) return SIZE_MAX;
        if (k) buf[len++] = '\x1f';
        const struct hml_column *c = f->cols[cols[k]];
        if (hml_column_is_null(c, i)) {
            buf[len++] = '\x1e'; /* null never equals a value */
            continue;
        }
        len += hml_column_format(c, i, buf + len, cap - len);
    }
    if (len + 1 >= cap) return SIZE_MAX;
    buf[len] = 0;
    return len;
}

enum hml_status hml__key_too_long(size_t row, struct hml_error *err)
{
    hml_fail(err, HML_ELIMIT, "keys", "the key of row %zu is longer than %u bytes", row + 1, HML_ROW_KEY_MAX - 2);
    return hml_hint(err, "key on shorter columns (an id rather than free text)");
}

/* Open-addressing table from key text to right-row index. */
struct keymap {
    size_t cap;
    uint64_t *hash;
    size_t *row; /* SIZE_MAX = empty */
};


static enum hml_status lookup_cols(const struct hml_frame *f, const char *const *keys, size_t n,
                                   size_t *idx, const char *side, struct hml_error *err)
{
    for (size_t k = 0; k < n; k++) {
        enum hml_status rc = hml_frame_lookup(f, keys[k], &idx[k], err);
        if (rc) {
            hml_error_prefix(err, "join key missing in the %s table", side);
            return rc;
        }
    }
    return HML_OK;
}

/* Builds the key map of the right table; a duplicate key is an error. */
static enum hml_status build_map(const struct hml_frame *r, const size_t *rk, size_t nk,
                                 struct keymap *m, struct hml_error *err)
{
    m->cap = 16;
    while (m->cap < r->nrows * 2 + 1) m->cap *= 2;
    m->hash = hml_malloc(m->cap * sizeof *m->hash);
    m->row = hml_malloc(m->cap * sizeof *m->row);
    if (!m->hash || !m->row) return hml_fail(err, HML_ENOMEM, "join", "out of memory");
    for (size_t i = 0; i < m->cap; i++) m->row[i] = SIZE_MAX;
    char a[KEY_MAX], b[KEY_MAX];
    for (size_t i = 0; i < r->nrows; i++) {
        size_t n = hml_row_key(r, rk, nk, i, a, sizeof a);
        if (n == SIZE_MAX) return hml__key_too_long(i, err);
        uint64_t h = hml_fnv1a(a, n);
        size_t s = (size_t)h & (m->cap - 1);
        for (; m->row[s] != SIZE_MAX; s = (s + 1) & (m->cap - 1)) {
            if (m->hash[s] != h) continue;
            hml_row_key(r, rk, nk, m->row[s], b, sizeof b);
            if (strcmp(a, b)) continue;
            for (char *p = a; *p; p++)
                if (*p == '\x1f') *p = ',';
            hml_fail(err, HML_EINVAL, "join", "join key (%s) appears more than once in the new data (rows %zu and %zu)",
                     a, m->row[s] + 1, i + 1);
            return hml_hint(err, "join_on must identify one row of the new data; add key columns or drop duplicates first");
        }
        m->hash[s] = h;
        m->row[s] = i;
    }
    return HML_OK;
}

static size_t map_find(const struct keymap *m, const struct hml_frame *r, const size_t *rk,
                       size_t nk, const char *key, size_t n)
{
    char b[KEY_MAX];
    uint64_t h = hml_fnv1a(key, n);
    for (size_t s = (size_t)h & (m->cap - 1); m->row[s] != SIZE_MAX; s = (s + 1) & (m->cap - 1)) {
        if (m->hash[s] != h) continue;
        hml_row_key(r, rk, nk, m->row[s], b, sizeof b);
        if (!strcmp(key, b)) return m->row[s];
    }
    return SIZE_MAX;
}

static bool is_key(const size_t *rk, size_t nk, size_t j)
{
    for (size_t k = 0; k < nk; k++)
        if (rk[k] == j) return true;
    return false;
}

static enum hml_status add_right_columns(struct hml_frame *o, const struct hml_frame *right,
                                         const size_t *rk, size_t nk, const size_t *rows, size_t n,
                                         const char *prefix, struct hml_error *err)
{
    char name[512];
    for (size_t j = 0; j < right->ncols; j++) {
        if (is_key(rk, nk, j)) continue;
        snprintf(name, sizeof name, "%s%s", prefix ? prefix : "", right->names[j]);
        if (hml_frame_find(o, name) >= 0) {
            hml_fail(err, HML_ECONFLICT, "join", "column '%s' exists in both tables", name);
            return hml_hint(err, "pass a prefix (e.g. prefix=\"src_\") or rename the column first");
        }
        struct hml_column *c = hml_column_gather(right->cols[j], rows, n);
        if (!c) return hml_fail(err, HML_ENOMEM, "join", "out of memory");
        enum hml_status rc = hml_frame_add(o, name, c, err);
        hml_column_unref(c);
        if (rc) return rc;
    }
    return HML_OK;
}

enum hml_status hml_frame_join(const struct hml_frame *left, const struct hml_frame *right,
                               const char *const *keys, size_t nkeys, enum hml_join_how how,
                               const char *prefix, struct hml_frame **out,
                               struct hml_join_report *rep, struct hml_error *err)
{
    HML_ASSERT(nkeys > 0 && nkeys <= 16);
    size_t lk[16], rk[16];
    struct keymap m = {0};
    size_t *rows = NULL, *keep = NULL;
    struct hml_frame *base = NULL, *o = NULL;
    enum hml_status rc = lookup_cols(left, keys, nkeys, lk, "current", err);
    if (!rc) rc = lookup_cols(right, keys, nkeys, rk, "new", err);
    if (!rc) rc = build_map(right, rk, nkeys, &m, err);
    if (rc) goto done;
    rows = hml_malloc((left->nrows + 1) * sizeof *rows);
    keep = hml_malloc((left->nrows + 1) * sizeof *keep);
    if (!rows || !keep) { rc = hml_fail(err, HML_ENOMEM, "join", "out of memory"); goto done; }
    size_t nkeep = 0;
    char key[KEY_MAX];
    memset(rep, 0, sizeof *rep);
    for (size_t i = 0; i < left->nrows; i++) {
        size_t n = hml_row_key(left, lk, nkeys, i, key, sizeof key);
        if (n == SIZE_MAX) {
            rc = hml__key_too_long(i, err);
            goto done;
        }
        size_t r = map_find(&m, right, rk, nkeys, key, n);
        if (r == SIZE_MAX) rep->unmatched++;
        else rep->matched++;
        if (r == SIZE_MAX && how == HML_JOIN_INNER) continue;
        keep[nkeep] = i;
        rows[nkeep++] = r;
    }
    base = how == HML_JOIN_LEFT ? hml_frame_clone(left) : hml_frame_take(left, keep, nkeep);
    if (!base) { rc = hml_fail(err, HML_ENOMEM, "join", "out of memory"); goto done; }
    rc = add_right_columns(base, right, rk, nkeys, rows, nkeep, prefix, err);
    if (!rc) { o = base; base = NULL; }
done:
    hml_frame_free(base);
    hml_free(m.hash);
    hml_free(m.row);
    hml_free(rows);
    hml_free(keep);
    if (!rc) *out = o;
    return rc;
}
