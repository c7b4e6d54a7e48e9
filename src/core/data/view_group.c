/* view_group.c — group ids from key columns (one hash pass per key, no text keys) and a
 * stable ordering of rows by group and order columns (LSD radix sort on order-preserving
 * 64-bit keys, then a counting sort by group): O(n) per key column, no comparisons. */
#include "view_int.h"

#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"

/* ---- a growing hash map from 64-bit keys to dense ids ------------------------------------- */

struct u64map {
    uint64_t *key;
    uint32_t *id; /* VG_NULL = empty slot */
    size_t mask, n;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool map_alloc(struct u64map *m, size_t cap)
{
    m->key = hml_malloc(cap * sizeof *m->key);
    m->id = hml_malloc(cap * sizeof *m->id);
    if (!m->key || !m->id) {
        hml_free(m->key);
        hml_free(m->id);
        m->key = NULL;
        m->id = NULL;
        return false;
    }
    memset(m->id, 0xff, cap * sizeof *m->id);
    m->mask = cap - 1;
    return true;
}

static void map_free(struct u64map *m)
{
    hml_free(m->key);
    hml_free(m->id);
    m->key = NULL;
    m->id = NULL;
}

static bool map_grow(struct u64map *m)
{
    struct u64map g = {0};
    if (!map_alloc(&g, (m->mask + 1) * 2)) return false;
    for (size_t s = 0; s <= m->mask; s++) {
        if (m->id[s] == VG_NULL) continue;
        size_t t = (size_t)mix64(m->key[s]) & g.mask;
        while (g.id[t] != VG_NULL) t = (t + 1) & g.mask;
        g.key[t] = m->key[s];
        g.id[t] = m->id[s];
    }
    g.n = m->n;
    map_free(m);
    *m = g;
    return true;
}

/* The id of key, adding it as id m->n when new. VG_NULL on OOM. */
static inline uint32_t map_id(struct u64map *m, uint64_t key)
{
    size_t s = (size_t)mix64(key) & m->mask;
    for (;;) {
        uint32_t id = m->id[s];
        if (id == VG_NULL) break;
        if (m->key[s] == key) return id;
        s = (s + 1) & m->mask;
    }
    if ((m->n + 1) * 2 > m->mask + 1) {
        if (!map_grow(m)) return VG_NULL;
        return map_id(m, key);
    }
    m->key[s] = key;
    m->id[s] = (uint32_t)m->n;
    return (uint32_t)m->n++;
}

/* ---- value ids of one column (or a pair of columns across two frames) --------------------- */

/* How numbers become map keys: as int64, or as the bits of a double (int vs float pairs). */
enum numkey { NK_INT, NK_DBL };

static inline uint64_t num_key(const struct hml_column *c, size_t i, enum numkey nk)
{
    if (nk == NK_DBL) {
        double v = c->type == HML_TYPE_F64 ? hml_f64(c)[i] : hml_column_num(c, i);
        if (v == 0) v = 0; /* -0.0 equals 0.0 */
        uint64_t b;
        memcpy(&b, &v, 8);
        return b;
    }
    switch (c->type) {
    case HML_TYPE_I64: return (uint64_t)hml_i64(c)[i];
    case HML_TYPE_DATE: return (uint64_t)(int64_t)hml_days(c)[i];
    case HML_TYPE_BOOL: return hml_bool(c)[i];
    default: return 0;
    }
}

static inline bool is_nullish(const struct hml_column *c, size_t i)
{
    return hml_column_is_null(c, i) || (c->type == HML_TYPE_F64 && isnan(hml_f64(c)[i]));
}

/* Ids for column c's rows written to ids[], continuing the numbering in *m / code maps.
 * null_id: what a null gets (VG_NULL, or a real id allocated on first use). */
struct idstate {
    struct u64map map;
    uint32_t null_id;  /* VG_NULL until a null is seen (when nulls get ids) */
    bool null_group;
};

static enum hml_status str_ids(const struct hml_column *c, const struct hml_column *ref, int32_t *refmap,
                               struct idstate *st, uint32_t *ids, struct hml_error *err)
{
    /* codemap: this column's dictionary code → id. When a reference column (the other side
     * of a join) was numbered first, shared strings reuse its ids through refmap. */
    size_t nd = hml_dict_size(c->dict);
    int32_t *codemap = hml_malloc((nd + 1) * sizeof *codemap);
    if (!codemap) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t k = 0; k < nd; k++) {
        codemap[k] = -1;
        if (!ref) continue;
        int32_t rc = hml_dict_find(ref->dict, hml_dict_get(c->dict, (int32_t)k), hml_dict_len(c->dict, (int32_t)k));
        if (rc >= 0 && refmap[rc] >= 0) codemap[k] = refmap[rc];
    }
    const int32_t *codes = hml_codes(c);
    for (size_t i = 0; i < c->n; i++) {
        if (hml_column_is_null(c, i)) {
            if (st->null_group && st->null_id == VG_NULL) st->null_id = (uint32_t)st->map.n++;
            ids[i] = st->null_id;
            continue;
        }
        int32_t k = codes[i];
        if (codemap[k] < 0) codemap[k] = (int32_t)st->map.n++;
        ids[i] = (uint32_t)codemap[k];
    }
    if (!ref) {
        /* Keep the map for the other side: refmap is this column's code map. */
        memcpy(refmap, codemap, nd * sizeof *codemap);
    }
    hml_free(codemap);
    return HML_OK;
}

static enum hml_status num_ids(const struct hml_column *c, enum numkey nk, struct idstate *st, uint32_t *ids,
                               struct hml_error *err)
{
    for (size_t i = 0; i < c->n; i++) {
        if (is_nullish(c, i)) {
            /* A null takes the next id of the map's numbering, so no value can share it. */
            if (st->null_group && st->null_id == VG_NULL) st->null_id = (uint32_t)st->map.n++;
            ids[i] = st->null_id;
            continue;
        }
        uint32_t id = map_id(&st->map, num_key(c, i, nk));
        if (id == VG_NULL) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        ids[i] = id;
    }
    return HML_OK;
}

/* Integer keys in a small range (ids, codes, years) skip hashing: an array indexed by
 * value - min holds each value's id. false when the range is too wide (or on OOM). */
static bool dense_ids(const struct hml_column *a, const struct hml_column *b, struct idstate *st, uint32_t *ia,
                      uint32_t *ib)
{
    const struct hml_column *cols[2] = {a, b};
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    size_t rows = 0;
    for (int s = 0; s < 2; s++) {
        const struct hml_column *c = cols[s];
        if (!c) break;
        if (c->type != HML_TYPE_I64) return false;
        rows += c->n;
        for (size_t i = 0; i < c->n; i++) {
            if (hml_column_is_null(c, i)) continue;
            int64_t v = hml_i64(c)[i];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
    }
    if (mn > mx) mn = mx = 0;
    uint64_t range = (uint64_t)mx - (uint64_t)mn + 1;
    if (range > 4 * (uint64_t)rows + 1024) return false;
    uint32_t *slot = hml_malloc((size_t)range * sizeof *slot);
    if (!slot) return false;
    memset(slot, 0xff, (size_t)range * sizeof *slot);
    uint32_t *out[2] = {ia, ib};
    for (int s = 0; s < 2 && cols[s]; s++) {
        const struct hml_column *c = cols[s];
        const int64_t *v = hml_i64(c);
        for (size_t i = 0; i < c->n; i++) {
            if (hml_column_is_null(c, i)) {
                if (st->null_group && st->null_id == VG_NULL) st->null_id = (uint32_t)st->map.n++;
                out[s][i] = st->null_id;
                continue;
            }
            uint32_t *id = &slot[(uint64_t)v[i] - (uint64_t)mn];
            if (*id == VG_NULL) *id = (uint32_t)st->map.n++;
            out[s][i] = *id;
        }
    }
    hml_free(slot);
    return true;
}

static bool is_int_like(enum hml_type t) { return t == HML_TYPE_I64 || t == HML_TYPE_BOOL; }

/* Ids of one key column over a (and b, when given). *nids = ids used. */
static enum hml_status key_ids(const struct hml_column *a, const struct hml_column *b, bool null_group,
                               uint32_t *ia, uint32_t *ib, size_t *nids, struct hml_error *err)
{
    struct idstate st = {.null_id = VG_NULL, .null_group = null_group};
    enum hml_status rc = HML_OK;
    if (a->type == HML_TYPE_STR) {
        int32_t *refmap = hml_malloc((hml_dict_size(a->dict) + 1) * sizeof *refmap);
        if (!refmap) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        rc = str_ids(a, NULL, refmap, &st, ia, err);
        if (!rc && b) rc = str_ids(b, a, refmap, &st, ib, err);
        hml_free(refmap);
        *nids = st.map.n;
        return rc;
    }
    enum numkey nk = NK_INT;
    if (a->type == HML_TYPE_F64 || (b && b->type == HML_TYPE_F64)) nk = NK_DBL;
    if (b && a->type != b->type && !(is_int_like(a->type) && is_int_like(b->type))) nk = NK_DBL;
    if (nk == NK_INT && dense_ids(a, b, &st, ia, ib)) {
        *nids = st.map.n;
        return HML_OK;
    }
    if (!map_alloc(&st.map, 1024)) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    rc = num_ids(a, nk, &st, ia, err);
    if (!rc && b) rc = num_ids(b, nk, &st, ib, err);
    *nids = st.map.n;
    map_free(&st.map);
    return rc;
}

/* acc[i] = dense id of the pair (acc[i], ids[i]); VG_NULL stays VG_NULL. */
static enum hml_status combine(uint32_t *acc, const uint32_t *ids, size_t n, size_t nids, struct u64map *m,
                               struct hml_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (acc[i] == VG_NULL || ids[i] == VG_NULL) {
            acc[i] = VG_NULL;
            continue;
        }
        uint32_t id = map_id(m, (uint64_t)acc[i] * (uint64_t)(nids + 1) + ids[i]);
        if (id == VG_NULL) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        acc[i] = id;
    }
    return HML_OK;
}

/* Group ids over one frame or two: ids of the first key, then each further key folded in
 * through a map of (id so far, key id) pairs. Ids are dense and in first-appearance order. */
static enum hml_status factorize_any(const struct hml_frame *a, const size_t *ca, const struct hml_frame *b,
                                     const size_t *cb, size_t nc, bool null_group, uint32_t *ga, uint32_t *gb,
                                     size_t *ng, struct hml_error *err)
{
    size_t na = a->nrows, nb = b ? b->nrows : 0;
    if (nc == 0) {
        for (size_t i = 0; i < na; i++) ga[i] = 0;
        for (size_t i = 0; i < nb; i++) gb[i] = 0;
        *ng = na + nb > 0;
        return HML_OK;
    }
    uint32_t *ta = hml_malloc((na + 1) * sizeof *ta), *tb = hml_malloc((nb + 1) * sizeof *tb);
    enum hml_status rc = ta && tb ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    size_t nids = 0;
    for (size_t k = 0; !rc && k < nc; k++) {
        const struct hml_column *cbk = b ? b->cols[cb[k]] : NULL;
        rc = key_ids(a->cols[ca[k]], cbk, null_group, k ? ta : ga, k ? tb : gb, &nids, err);
        if (rc || k == 0) {
            *ng = nids;
            continue;
        }
        /* Both frames share one pair map so equal tuples get equal ids. */
        struct u64map m = {0};
        if (!map_alloc(&m, 1024)) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
        if (!rc) rc = combine(ga, ta, na, nids, &m, err);
        if (!rc && b) rc = combine(gb, tb, nb, nids, &m, err);
        *ng = m.n;
        map_free(&m);
    }
    hml_free(ta);
    hml_free(tb);
    return rc;
}

enum hml_status hml__vg_factorize(const struct hml_frame *f, const size_t *cols, size_t nc,
                                  bool null_group, uint32_t **gid, size_t *ng,
                                  struct hml_error *err)
{
    uint32_t *g = hml_malloc((f->nrows + 1) * sizeof *g);
    if (!g) return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    enum hml_status rc = factorize_any(f, cols, NULL, NULL, nc, null_group, g, NULL, ng, err);
    if (rc) {
        hml_free(g);
        return rc;
    }
    *gid = g;
    return HML_OK;
}

enum hml_status hml__vg_factorize2(const struct hml_frame *a, const size_t *ca,
                                   const struct hml_frame *b, const size_t *cb, size_t nc,
                                   uint32_t **ga, uint32_t **gb, size_t *ng,
                                   struct hml_error *err)
{
    HML_ASSERT(nc > 0);
    uint32_t *x = hml_malloc((a->nrows + 1) * sizeof *x), *y = hml_malloc((b->nrows + 1) * sizeof *y);
    enum hml_status rc = x && y ? factorize_any(a, ca, b, cb, nc, false, x, y, ng, err)
                                : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    if (rc) {
        hml_free(x);
        hml_free(y);
        return rc;
    }
    *ga = x;
    *gb = y;
    return HML_OK;
}

/* ---- order-preserving keys ----------------------------------------------------------------- */

struct strrank { const char *s; size_t len; int32_t code; };

static int cmp_strrank(const void *pa, const void *pb)
{
    const struct strrank *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* rank[code] = position of the string in bytewise order. Caller frees. */
static uint32_t *dict_ranks(const struct hml_dict *d)
{
    size_t nd = hml_dict_size(d);
    struct strrank *v = hml_malloc((nd + 1) * sizeof *v);
    uint32_t *rank = hml_malloc((nd + 1) * sizeof *rank);
    if (!v || !rank) {
        hml_free(v);
        hml_free(rank);
        return NULL;
    }
    for (size_t k = 0; k < nd; k++)
        v[k] = (struct strrank){hml_dict_get(d, (int32_t)k), hml_dict_len(d, (int32_t)k), (int32_t)k};
    qsort(v, nd, sizeof *v, cmp_strrank);
    for (size_t k = 0; k < nd; k++) rank[v[k].code] = (uint32_t)k;
    hml_free(v);
    return rank;
}

enum hml_status hml__vg_keys(const struct hml_column *c, uint64_t **keys, uint8_t **nulls,
                             struct hml_error *err)
{
    size_t n = c->n;
    uint64_t *k = hml_malloc((n + 1) * sizeof *k);
    uint8_t *nl = NULL;
    uint32_t *rank = c->type == HML_TYPE_STR ? dict_ranks(c->dict) : NULL;
    if (!k || (c->type == HML_TYPE_STR && !rank)) {
        hml_free(k);
        hml_free(rank);
        return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    const uint64_t sign = 1ull << 63;
    bool any_null = false;
    for (size_t i = 0; i < n; i++) {
        switch (c->type) {
        case HML_TYPE_F64: {
            double v = hml_f64(c)[i];
            if (v == 0) v = 0;
            uint64_t b;
            memcpy(&b, &v, 8);
            k[i] = (b & sign) ? ~b : b | sign;
            any_null |= isnan(v);
            break;
        }
        case HML_TYPE_I64: k[i] = (uint64_t)hml_i64(c)[i] ^ sign; break;
        case HML_TYPE_DATE: k[i] = (uint64_t)(int64_t)hml_days(c)[i] ^ sign; break;
        case HML_TYPE_BOOL: k[i] = hml_bool(c)[i]; break;
        case HML_TYPE_STR: k[i] = rank[hml_codes(c)[i]]; break;
        }
    }
    hml_free(rank);
    if (c->null_count || any_null) {
        nl = hml_calloc(n + 1, 1);
        if (!nl) {
            hml_free(k);
            return hml_fail(err, HML_ENOMEM, "view", "out of memory");
        }
        for (size_t i = 0; i < n; i++)
            if (is_nullish(c, i)) nl[i] = 1, k[i] = 0;
    }
    *keys = k;
    *nulls = nl;
    return HML_OK;
}

/* ---- sorting -------------------------------------------------------------------------------- */

struct kv { uint64_t key; uint32_t idx; };

#define RBITS 11
#define RBUCKETS (1u << RBITS)
#define RPASSES 6 /* 6 × 11 ≥ 64 */

/* Stable LSD radix sort of a[0..n) by key; tmp has room for n. Passes whose digit is the
 * same everywhere are skipped. */
static void radix_sort(struct kv *a, struct kv *tmp, size_t n, size_t *hist)
{
    memset(hist, 0, (size_t)RPASSES * RBUCKETS * sizeof *hist);
    for (size_t i = 0; i < n; i++)
        for (unsigned p = 0; p < RPASSES; p++) hist[p * RBUCKETS + ((a[i].key >> (p * RBITS)) & (RBUCKETS - 1))]++;
    struct kv *src = a, *dst = tmp;
    for (unsigned p = 0; p < RPASSES; p++) {
        size_t *h = hist + p * RBUCKETS;
        bool trivial = false;
        for (size_t b = 0; b < RBUCKETS; b++)
            if (h[b]) {
                trivial = h[b] == n;
                break;
            }
        if (trivial) continue;
        size_t sum = 0;
        for (size_t b = 0; b < RBUCKETS; b++) {
            size_t c = h[b];
            h[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[h[(src[i].key >> (p * RBITS)) & (RBUCKETS - 1)]++] = src[i];
        struct kv *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

/* Stable: rows with null keys move to the end. */
static void nulls_last(uint32_t *perm, uint32_t *tmp, size_t n, const uint8_t *nulls)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!nulls[perm[i]]) tmp[k++] = perm[i];
    for (size_t i = 0; i < n; i++)
        if (nulls[perm[i]]) tmp[k++] = perm[i];
    memcpy(perm, tmp, n * sizeof *perm);
}

/* Is row i ordered after row j (j earlier in the input) by the order keys? */
static bool out_of_order(uint64_t *const *keys, uint8_t *const *nulls, const bool *desc, size_t no, size_t j,
                         size_t i)
{
    for (size_t c = 0; c < no; c++) {
        bool nj = nulls[c] && nulls[c][j], ni = nulls[c] && nulls[c][i];
        if (nj != ni) return nj; /* a null before a value is out of order */
        if (nj) continue;
        uint64_t a = keys[c][j], b = keys[c][i];
        if (a == b) continue;
        return desc[c] ? a < b : a > b;
    }
    return false;
}

static enum hml_status sort_by_keys(uint32_t *perm, size_t n, uint64_t *const *keys, uint8_t *const *nulls,
                                    const bool *desc, size_t no, struct hml_error *err)
{
    struct kv *a = hml_malloc((n + 1) * sizeof *a), *t = hml_malloc((n + 1) * sizeof *t);
    uint32_t *tmp = hml_malloc((n + 1) * sizeof *tmp);
    size_t *hist = hml_malloc((size_t)RPASSES * RBUCKETS * sizeof *hist);
    if (!a || !t || !tmp || !hist) {
        hml_free(a);
        hml_free(t);
        hml_free(tmp);
        hml_free(hist);
        return hml_fail(err, HML_ENOMEM, "view", "out of memory");
    }
    for (size_t c = no; c-- > 0;) {
        for (size_t i = 0; i < n; i++) {
            uint64_t k = keys[c][perm[i]];
            a[i] = (struct kv){desc[c] ? ~k : k, perm[i]};
        }
        radix_sort(a, t, n, hist);
        for (size_t i = 0; i < n; i++) perm[i] = a[i].idx;
        if (nulls[c]) nulls_last(perm, tmp, n, nulls[c]);
    }
    hml_free(a);
    hml_free(t);
    hml_free(tmp);
    hml_free(hist);
    return HML_OK;
}

/* Stable counting sort of perm by group; fills starts[0..ng]. */
static void by_group(const uint32_t *in, uint32_t *out, size_t n, const uint32_t *gid, size_t ng, size_t *starts)
{
    memset(starts, 0, (ng + 1) * sizeof *starts);
    for (size_t i = 0; i < n; i++) starts[gid[in[i]] + 1]++;
    for (size_t g = 0; g < ng; g++) starts[g + 1] += starts[g];
    size_t *pos = starts; /* reuse: advance, then shift back */
    for (size_t i = 0; i < n; i++) out[pos[gid[in[i]]]++] = in[i];
    for (size_t g = ng; g > 0; g--) starts[g] = starts[g - 1];
    starts[0] = 0;
}

enum hml_status hml__vg_order(const struct hml_frame *f, const uint32_t *gid, size_t ng,
                              const size_t *ocols, const bool *desc, size_t no, uint32_t **perm_out,
                              size_t **starts_out, struct hml_error *err)
{
    size_t n = f->nrows;
    HML_ASSERT(no <= HML_VIEW_KEYS_MAX);
    if (!gid) ng = n > 0;
    uint32_t *perm = hml_malloc((n + 1) * sizeof *perm), *out = hml_malloc((n + 1) * sizeof *out);
    size_t *starts = hml_malloc((ng + 2) * sizeof *starts);
    uint64_t *keys[HML_VIEW_KEYS_MAX] = {0};
    uint8_t *nulls[HML_VIEW_KEYS_MAX] = {0};
    uint32_t *last = NULL;
    enum hml_status rc = perm && out && starts ? HML_OK : hml_fail(err, HML_ENOMEM, "view", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) perm[i] = (uint32_t)i;
    for (size_t c = 0; !rc && c < no; c++) rc = hml__vg_keys(f->cols[ocols[c]], &keys[c], &nulls[c], err);
    bool sorted = true;
    if (!rc && no) {
        /* Most data arrives in time order already: check before sorting. */
        last = hml_malloc((ng + 1) * sizeof *last);
        if (!last) rc = hml_fail(err, HML_ENOMEM, "view", "out of memory");
        for (size_t g = 0; !rc && g < ng; g++) last[g] = VG_NULL;
        for (size_t i = 0; !rc && sorted && i < n; i++) {
            uint32_t g = gid ? gid[i] : 0;
            if (last[g] != VG_NULL && out_of_order(keys, nulls, desc, no, last[g], i)) sorted = false;
            last[g] = (uint32_t)i;
        }
        if (!rc && !sorted) rc = sort_by_keys(perm, n, keys, nulls, desc, no, err);
    }
    if (!rc && gid) {
        by_group(perm, out, n, gid, ng, starts);
        uint32_t *t = perm;
        perm = out;
        out = t;
    } else if (!rc) {
        starts[0] = 0;
        starts[ng] = n;
    }
    for (size_t c = 0; c < no; c++) {
        hml_free(keys[c]);
        hml_free(nulls[c]);
    }
    hml_free(last);
    hml_free(out);
    if (rc) {
        hml_free(perm);
        hml_free(starts);
        return rc;
    }
    *perm_out = perm;
    if (starts_out) *starts_out = starts;
    else hml_free(starts);
    return HML_OK;
}
