/* feature_cache.c — the feature cache: one frame file per (feature, key), named
 * <name>-<key 32 hex>-<output fingerprint 16 hex>.hfr so that "is the table's column
 * current?" is answered from the directory listing without reading any file. Entries a
 * refresh computes stay in memory (pending) until the caller stages them into the
 * transaction that writes the table, so a failed action leaves no cache file behind. */
#include "feature_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/io.h"

#define CACHE_ENTRIES_MAX 100000u

struct cache_entry {
    char file[HML_FEATURE_NAME_MAX + 64]; /* basename                               */
    uint64_t outfp;
    bool pending;
    struct hml_buf data;                  /* encoded frame (pending entries only)   */
};

struct hml_feature_cache {
    char *dir;
    struct cache_entry *e;
    size_t n, cap, pending;
};

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* Parses "<name>-<32 hex>-<16 hex>.hfr"; false for anything else. */
static bool parse_file(const char *file, uint64_t *outfp)
{
    size_t n = strlen(file);
    if (n < 1 + 1 + 32 + 1 + 16 + 4 || strcmp(file + n - 4, ".hfr")) return false;
    const char *fp = file + n - 4 - 16, *key = fp - 1 - 32;
    if (fp[-1] != '-' || key[-1] != '-' || !is_hex(fp, 16) || !is_hex(key, 32)) return false;
    char tmp[17];
    memcpy(tmp, fp, 16);
    tmp[16] = 0;
    *outfp = strtoull(tmp, NULL, 16);
    return true;
}

static struct cache_entry *push(struct hml_feature_cache *c)
{
    if (c->n == CACHE_ENTRIES_MAX) return NULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct cache_entry *e = hml_realloc(c->e, cap * sizeof *e);
        if (!e) return NULL;
        c->e = e;
        c->cap = cap;
    }
    struct cache_entry *e = &c->e[c->n++];
    memset(e, 0, sizeof *e);
    return e;
}

struct hml_feature_cache *hml_feature_cache_new(const char *dir)
{
    struct hml_feature_cache *c = hml_calloc(1, sizeof *c);
    if (!c) return NULL;
    if (dir && !(c->dir = hml_strdup(dir))) {
        hml_free(c);
        return NULL;
    }
    DIR *d = dir ? opendir(dir) : NULL;
    for (struct dirent *de; d && (de = readdir(d));) {
        uint64_t fp;
        if (strlen(de->d_name) >= sizeof c->e->file || !parse_file(de->d_name, &fp)) continue;
        struct cache_entry *e = push(c);
        if (!e) break; /* a cache that cannot list everything just misses more often */
        snprintf(e->file, sizeof e->file, "%s", de->d_name);
        e->outfp = fp;
    }
    if (d) closedir(d);
    return c;
}

void hml_feature_cache_free(struct hml_feature_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) hml_buf_free(&c->e[i].data);
    hml_free(c->e);
    hml_free(c->dir);
    hml_free(c);
}

size_t hml_feature_cache_pending(const struct hml_feature_cache *c)
{
    return c ? c->pending : 0;
}

/* The entry of (name, key), or NULL. Pending entries win over files (they are newer). */
static struct cache_entry *find(struct hml_feature_cache *c, const char *name, const char *key32)
{
    char prefix[HML_FEATURE_NAME_MAX + 40];
    int n = snprintf(prefix, sizeof prefix, "%s-%.32s-", name, key32);
    struct cache_entry *hit = NULL;
    for (size_t i = 0; c && i < c->n; i++)
        if (!strncmp(c->e[i].file, prefix, (size_t)n) && (!hit || c->e[i].pending)) hit = &c->e[i];
    return hit;
}

bool hml__fcache_lookup(struct hml_feature_cache *c, const char *name, const char *key32, uint64_t *outfp)
{
    const struct cache_entry *e = find(c, name, key32);
    if (e) *outfp = e->outfp;
    return e != NULL;
}

enum hml_status hml__fcache_load(struct hml_feature_cache *c, const char *name, const char *key32,
                                 struct hml_frame **out, struct hml_error *err)
{
    struct cache_entry *e = find(c, name, key32);
    if (!e) return hml_fail(err, HML_ENOTFOUND, "features.cache", "no cache entry for '%s'", name);
    if (e->pending) return hml_frame_decode(e->data.p, e->data.len, out, err);
    if (!c->dir) return hml_fail(err, HML_ENOTFOUND, "features.cache", "no cache directory");
    char *path = hml_path_join(c->dir, e->file);
    enum hml_status rc = path ? hml_frame_load(path, out, err) : hml_fail(err, HML_ENOMEM, "features", "out of memory");
    hml_free(path);
    return rc;
}

enum hml_status hml__fcache_put(struct hml_feature_cache *c, const char *name, const char *key32,
                                const struct hml_frame *outputs, uint64_t outfp, struct hml_error *err)
{
    if (!c) return HML_OK;
    uint64_t have;
    if (hml__fcache_lookup(c, name, key32, &have) && have == outfp) return HML_OK;
    struct cache_entry *e = push(c);
    if (!e) return HML_OK; /* over the entry limit: the feature is simply not cached */
    snprintf(e->file, sizeof e->file, "%s-%.32s-%016llx.hfr", name, key32, (unsigned long long)outfp);
    e->outfp = outfp;
    e->pending = true;
    enum hml_status rc = hml_frame_encode(outputs, &e->data, err);
    if (rc) {
        hml_buf_free(&e->data);
        c->n--;
        return rc;
    }
    c->pending++;
    return HML_OK;
}

enum hml_status hml_feature_cache_stage(const struct hml_feature_cache *c, struct hml_txn *txn, struct hml_error *err)
{
    for (size_t i = 0; c && c->dir && i < c->n; i++) {
        if (!c->e[i].pending) continue;
        char *path = hml_path_join(c->dir, c->e[i].file);
        enum hml_status rc = path ? hml_txn_write(txn, path, c->e[i].data.p, c->e[i].data.len, err)
                                  : hml_fail(err, HML_ENOMEM, "features", "out of memory");
        hml_free(path);
        if (rc) return rc;
    }
    return HML_OK;
}

enum hml_status hml_feature_cache_flush(struct hml_feature_cache *c, struct hml_error *err)
{
    if (!c || !c->dir || !c->pending) return HML_OK;
    enum hml_status rc = hml_mkdirs(c->dir, err);
    for (size_t i = 0; !rc && i < c->n; i++) {
        struct cache_entry *e = &c->e[i];
        if (!e->pending) continue;
        char *path = hml_path_join(c->dir, e->file);
        rc = path ? hml_write_atomic(path, e->data.p, e->data.len, err)
                  : hml_fail(err, HML_ENOMEM, "features", "out of memory");
        hml_free(path);
        if (!rc) {
            e->pending = false;
            hml_buf_free(&e->data);
            c->pending--;
        }
    }
    return rc;
}
