/* runner_cache.c — (model, fold) predictions stored by content key.
 * File: "HMLPRED1", u64 count, count doubles, u64 FNV-1a of the doubles. A file
 * that does not check out is a miss, never an error: the cache is safe to delete. */
#include "runner_int.h"

#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/blob.h"
#include "harness/config.h"
#include "harness/fsx.h"
#include "harness/log.h"

struct pending {
    char key[65];
    double *pred;
    size_t n;
};

static void sha_str(struct hml_sha256 *s, const char *str)
{
    hml_sha256_update(s, str, strlen(str) + 1); /* the NUL separates fields */
}

static void sha_u64(struct hml_sha256 *s, uint64_t v)
{
    hml_sha256_update(s, &v, sizeof v);
}

void hml__cache_key(const struct run_ctx *c, const struct model_ctx *m, const struct hml_cv_fold *f, char out[65])
{
    struct hml_sha256 s;
    hml_sha256_init(&s);
    sha_str(&s, HML_ENGINE_VERSION);
    sha_str(&s, hml_task_name(c->r->task));
    sha_u64(&s, c->r->n_classes);
    /* The definition minus what does not change predictions. */
    json_t *d = json_deep_copy(m->def);
    json_object_del(d, "active");
    json_object_del(d, "include_in_ensemble");
    json_object_del(d, "description");
    char *canon = d ? hml_json_canonical(d) : NULL;
    sha_str(&s, canon ? canon : "?");
    hml_free(canon);
    json_decref(d);
    for (size_t i = 0; i < m->nfeatures; i++) sha_str(&s, m->features[i]);
    sha_u64(&s, m->data_fp);
    sha_u64(&s, hml_cv_fold_fingerprint(f));
    sha_u64(&s, c->seed);
    unsigned char h[32];
    hml_sha256_final(&s, h);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}


static char *entry_path(const struct run_ctx *c, const char key[65])
{
    char rel[128];
    snprintf(rel, sizeof rel, ".harness/cache/pred/%s.bin", key);
    return c->o->project_dir ? hml_path_join(c->o->project_dir, rel) : NULL;
}

bool hml__cache_get(const struct run_ctx *c, const char key[65], double *pred, size_t n)
{
    char *path = entry_path(c, key);
    FILE *f = path ? fopen(path, "rb") : NULL;
    hml_free(path);
    if (!f) return false;
    char magic[8];
    uint64_t count = 0, sum = 0;
    bool ok = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "HMLPRED1", 8) && fread(&count, 8, 1, f) == 1 &&
              count == n && fread(pred, sizeof *pred, n, f) == n && fread(&sum, 8, 1, f) == 1 &&
              sum == hml_fnv1a(pred, n * sizeof *pred);
    fclose(f);
    return ok;
}

enum hml_status hml__cache_defer(struct run_ctx *c, const char key[65], const double *pred, size_t n,
                                 struct hml_error *err)
{
    if (!c->o->project_dir) return HML_OK;
    if (c->pending_n == c->pending_cap) {
        size_t cap = c->pending_cap ? c->pending_cap * 2 : 32;
        struct pending *p = hml_realloc(c->pending, cap * sizeof *p);
        if (!p) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
        c->pending = p;
        c->pending_cap = cap;
    }
    struct pending *e = &c->pending[c->pending_n];
    e->pred = hml_malloc((n ? n : 1) * sizeof *pred);
    if (!e->pred) return hml_fail(err, HML_ENOMEM, "backtest", "out of memory");
    memcpy(e->pred, pred, n * sizeof *pred);
    memcpy(e->key, key, 65);
    e->n = n;
    c->pending_n++;
    return HML_OK;
}

/* Best effort: a cache write that fails costs a refit next time, nothing else. */
void hml__cache_flush(struct run_ctx *c)
{
    char *dir = c->o->project_dir ? hml_path_join(c->o->project_dir, ".harness/cache/pred") : NULL;
    struct hml_error err;
    if (dir && hml_mkdirs(dir, &err) == HML_OK) {
        for (size_t i = 0; i < c->pending_n; i++) {
            struct pending *e = &c->pending[i];
            struct hml_buf b = HML_BUF_INIT;
            uint64_t count = e->n, sum = hml_fnv1a(e->pred, e->n * sizeof *e->pred);
            hml_buf_append(&b, "HMLPRED1", 8);
            hml_buf_append(&b, &count, 8);
            hml_buf_append(&b, e->pred, e->n * sizeof *e->pred);
            hml_buf_append(&b, &sum, 8);
            char *path = entry_path(c, e->key);
            if (!path || !hml_buf_ok(&b) || hml_write_atomic(path, b.p, b.len, &err))
                hml_log_warn("prediction cache: entry not written (%s)", err.message);
            hml_free(path);
            hml_buf_free(&b);
        }
    }
    hml_free(dir);
    hml__cache_drop(c);
}

void hml__cache_drop(struct run_ctx *c)
{
    for (size_t i = 0; i < c->pending_n; i++) hml_free(c->pending[i].pred);
    hml_free(c->pending);
    c->pending = NULL;
    c->pending_n = c->pending_cap = 0;
}
