/* model_mlp_blob.c — save/load of the mlp backend as a compact binary blob.
 *
 * Layout, all integers little-endian, doubles and floats as their IEEE-754 bits (so a
 * loaded model predicts bit for bit what the saved one did):
 *   "HMLMLP" u16 format version
 *   u8 mode, batch_norm, stopped_early, 0; u32 hidden layers
 *   u32 batch_size, max_epochs, patience, epochs_run, best_epoch, 0
 *   f64 dropout, learning_rate, beta1, beta2, eps, weight_decay, validation_fraction
 *   u64 cols, n_classes
 *   f64 y_mean, y_scale
 *   u32 width[hidden]
 *   f64 median[cols], mean[cols], scale[cols]
 *   f32 theta[n_theta], running[n_running]   (layout of hml__mlp_layout)
 *   u64 FNV-1a of every byte before it
 * NOTE: a new field goes in a new format version; load keeps reading the old ones.
 */
#include <math.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/blob.h"
#include "model_mlp_int.h"

#define MAGIC "HMLMLP"
#define MAGIC_LEN 6
#define FORMAT_VERSION 1
#define HEADER_BYTES 128




static void put_f32s(struct hml_buf *b, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, &x[i], sizeof v);
        hml_blob_put_le(b, v, 4);
    }
}

static void put_header(struct hml_buf *out, const struct hml__mlp *m)
{
    const struct hml__mlp_params *p = &m->par;
    hml_buf_append(out, MAGIC, MAGIC_LEN);
    hml_blob_put_le(out, FORMAT_VERSION, 2);
    const uint8_t flags[4] = {(uint8_t)m->mode, p->batch_norm, m->stopped_early, 0};
    hml_buf_append(out, flags, sizeof flags);
    hml_blob_put_le(out, p->hidden, 4);
    const uint32_t counts[6] = {p->batch_size, p->max_epochs, p->patience, m->epochs_run, m->best_epoch, 0};
    for (int i = 0; i < 6; i++) hml_blob_put_le(out, counts[i], 4);
    const double nums[7] = {p->dropout, p->learning_rate, p->beta1, p->beta2, p->eps, p->weight_decay,
                            p->validation_fraction};
    for (int i = 0; i < 7; i++) hml_blob_put_f64(out, nums[i]);
    hml_blob_put_le(out, m->cols, 8);
    hml_blob_put_le(out, m->n_classes, 8);
    hml_blob_put_f64(out, m->y_mean);
    hml_blob_put_f64(out, m->y_scale);
}

enum hml_status hml__mlp_save(const struct hml_model *base, struct hml_buf *out, struct hml_error *err)
{
    const struct hml__mlp *m = (const struct hml__mlp *)base;
    HML_ASSERT(base && base->vt == &hml_model_mlp);
    if (!m->fitted) {
        hml_fail(err, HML_ECONFLICT, "models.save", "the mlp model is not fitted");
        return hml_hint(err, "fit the model before saving it");
    }
    size_t start = out->len;
    put_header(out, m);
    HML_ASSERT(!hml_buf_ok(out) || out->len - start == HEADER_BYTES);
    for (size_t l = 0; l < m->par.hidden; l++) hml_blob_put_le(out, m->par.width[l], 4);
    for (size_t i = 0; i < 3 * m->cols; i++) hml_blob_put_f64(out, m->median[i]); /* median, mean, scale are contiguous */
    put_f32s(out, m->net.theta, m->net.n_theta + m->net.n_running);
    if (hml_buf_ok(out)) hml_blob_put_le(out, hml_fnv1a((const uint8_t *)out->p + start, out->len - start), 8);
    if (!hml_buf_ok(out)) return hml_fail(err, HML_ENOMEM, "models.save", "out of memory saving an mlp model");
    return HML_OK;
}




static enum hml_status bad_blob(const char *why, struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, "models.load", "not a saved mlp model: %s", why);
    return hml_hint(err, "load a blob written by save of an mlp model, unaltered");
}

/* Settings and counters; checks what fit and predict rely on. */
static enum hml_status read_settings(struct hml_blob_reader *r, struct hml__mlp *m, struct hml_error *err)
{
    struct hml__mlp_params *p = &m->par;
    const uint8_t *f = r->p + r->off;
    r->off += 4;
    if (f[0] > HML_MODE_REGRESSOR || f[1] > 1 || f[2] > 1) return bad_blob("bad flags", err);
    m->mode = (enum hml_model_mode)f[0];
    p->batch_norm = f[1];
    m->stopped_early = f[2];
    uint64_t hidden = hml_blob_get_le(r, 4);
    p->batch_size = (uint32_t)hml_blob_get_le(r, 4);
    p->max_epochs = (uint32_t)hml_blob_get_le(r, 4);
    p->patience = (uint32_t)hml_blob_get_le(r, 4);
    m->epochs_run = (uint32_t)hml_blob_get_le(r, 4);
    m->best_epoch = (uint32_t)hml_blob_get_le(r, 4);
    r->off += 4;
    double *nums[7] = {&p->dropout, &p->learning_rate, &p->beta1, &p->beta2, &p->eps, &p->weight_decay,
                       &p->validation_fraction};
    for (int i = 0; i < 7; i++) *nums[i] = hml_blob_get_f64(r);
    if (hidden > HML__MLP_HIDDEN_MAX || p->batch_size < 1 || p->batch_size > HML__MLP_BATCH_MAX ||
        p->max_epochs < 1 || p->max_epochs > HML__MLP_EPOCHS_MAX || !(p->dropout >= 0 && p->dropout <= 0.9) ||
        !(p->learning_rate * p->weight_decay < 1))
        return bad_blob("bad settings", err);
    p->hidden = (size_t)hidden;
    return HML_OK;
}

/* Shape fields and widths; allocates the state and checks len against it. */
static enum hml_status read_shape(struct hml_blob_reader *r, size_t len, struct hml__mlp *m, struct hml_error *err)
{
    uint64_t cols = hml_blob_get_le(r, 8), classes = hml_blob_get_le(r, 8);
    bool classifier = m->mode == HML_MODE_CLASSIFIER;
    if (cols < 1 || cols > HML__MLP_COLS_MAX || (classifier ? classes < 2 || classes > HML__MLP_CLASSES_MAX : classes != 0))
        return bad_blob("inconsistent shape", err);
    m->y_mean = hml_blob_get_f64(r);
    m->y_scale = hml_blob_get_f64(r);
    if (!isfinite(m->y_mean) || !(m->y_scale > 0) || !isfinite(m->y_scale)) return bad_blob("bad target scale", err);
    if (len < HEADER_BYTES + 4 * m->par.hidden + 8) return bad_blob("wrong length", err);
    for (size_t l = 0; l < m->par.hidden; l++) {
        uint64_t w = hml_blob_get_le(r, 4);
        if (w < 1 || w > HML__MLP_WIDTH_MAX) return bad_blob("bad layer width", err);
        m->par.width[l] = (size_t)w;
    }
    m->n_classes = (size_t)classes;
    struct hml_error ignored;
    enum hml_status rc = hml__mlp_net_alloc(&m->net, &m->par, (size_t)cols, hml__mlp_outputs(m->mode, m->n_classes),
                                            &ignored);
    if (rc == HML_ELIMIT) return bad_blob("too many parameters", err);
    if (rc || !hml__mlp_stats_alloc(m, (size_t)cols))
        return hml_fail(err, HML_ENOMEM, "models.load", "out of memory loading an mlp model");
    size_t want = HEADER_BYTES + 4 * m->par.hidden + 24 * m->cols + 4 * (m->net.n_theta + m->net.n_running) + 8;
    return len == want ? HML_OK : bad_blob("wrong length", err);
}

static enum hml_status read_state(struct hml_blob_reader *r, struct hml__mlp *m, struct hml_error *err)
{
    for (size_t i = 0; i < 3 * m->cols; i++) m->median[i] = hml_blob_get_f64(r);
    for (size_t i = 0, n = m->net.n_theta + m->net.n_running; i < n; i++) {
        uint32_t v = (uint32_t)hml_blob_get_le(r, 4);
        memcpy(&m->net.theta[i], &v, sizeof v);
    }
    for (size_t j = 0; j < m->cols; j++)
        if (!(m->scale[j] > 0) || !isfinite(m->scale[j]) || !isfinite(m->mean[j]) || !isfinite(m->median[j]))
            return bad_blob("bad column statistics", err);
    return HML_OK;
}

enum hml_status hml__mlp_load(const void *data, size_t len, struct hml_model **out, struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    if (!data || len < HEADER_BYTES + 8 || memcmp(data, MAGIC, MAGIC_LEN)) return bad_blob("no header", err);
    struct hml_blob_reader r = {.p = data, .off = MAGIC_LEN};
    uint64_t version = hml_blob_get_le(&r, 2);
    if (version != FORMAT_VERSION) {
        hml_fail(err, HML_EINVAL, "models.load", "the mlp model was saved in format %u, this build reads %d",
                 (unsigned)version, FORMAT_VERSION);
        return hml_hint(err, "load it with the harness version that saved it, or fit it again");
    }
    struct hml_blob_reader tail = {.p = data, .off = len - 8};
    if (hml_blob_get_le(&tail, 8) != hml_fnv1a(data, len - 8)) return bad_blob("checksum mismatch (damaged)", err);
    struct hml__mlp *m = hml_calloc(1, sizeof *m);
    if (!m) return hml_fail(err, HML_ENOMEM, "models.load", "out of memory loading an mlp model");
    m->base.vt = &hml_model_mlp;
    enum hml_status rc = read_settings(&r, m, err);
    if (!rc) rc = read_shape(&r, len, m, err);
    if (!rc) rc = read_state(&r, m, err);
    if (rc) {
        hml__mlp_free(&m->base);
        return rc;
    }
    HML_ASSERT(r.off == len - 8);
    m->fitted = true;
    *out = &m->base;
    return HML_OK;
}
