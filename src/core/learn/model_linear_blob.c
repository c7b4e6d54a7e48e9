/* model_linear_blob.c — save/load of the linear backends as a compact binary blob.
 *
 * Layout, all integers and doubles little-endian (doubles as their IEEE-754 bits, so a
 * loaded model predicts bit for bit what the saved one did):
 *   "HMLLIN" u16 format version
 *   u8 kind, mode, fit_intercept, penalised, solver, converged; u16 0
 *   u32 max_iter, iterations
 *   f64 C, alpha, l1_ratio, tol
 *   u64 cols, n_classes, outs
 *   f64 median[cols], mean[cols], scale[cols], coef[outs·cols], intercept[outs]
 *   u64 FNV-1a of every byte before it
 * NOTE: a new field goes in a new format version; load keeps reading the old ones.
 */
#include <math.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/blob.h"
#include "harness/model_linear.h"
#include "model_linear_int.h"

#define MAGIC "HMLLIN"
#define MAGIC_LEN 6
#define FORMAT_VERSION 1
#define HEADER_BYTES 80




static void put_f64s(struct hml_buf *b, const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) hml_blob_put_f64(b, x[i]);
}

enum hml_status hml__lin_save(const struct hml_model *base, struct hml_buf *out, struct hml_error *err)
{
    const struct hml__linear *m = (const struct hml__linear *)base;
    HML_ASSERT(base->vt == &hml_model_logistic_regression || base->vt == &hml_model_elastic_net);
    if (!m->fitted) {
        hml_fail(err, HML_ECONFLICT, "models.save", "the %s model is not fitted", base->vt->name);
        return hml_hint(err, "fit the model before saving it");
    }
    size_t start = out->len;
    hml_buf_append(out, MAGIC, MAGIC_LEN);
    hml_blob_put_le(out, FORMAT_VERSION, 2);
    const uint8_t flags[8] = {(uint8_t)m->kind, (uint8_t)m->mode, m->par.fit_intercept, m->par.penalised,
                              (uint8_t)m->par.solver, m->converged, 0, 0};
    hml_buf_append(out, flags, sizeof flags);
    hml_blob_put_le(out, (uint32_t)m->par.max_iter, 4);
    hml_blob_put_le(out, m->iterations, 4);
    hml_blob_put_f64(out, m->par.C);
    hml_blob_put_f64(out, m->par.alpha);
    hml_blob_put_f64(out, m->par.l1_ratio);
    hml_blob_put_f64(out, m->par.tol);
    hml_blob_put_le(out, m->cols, 8);
    hml_blob_put_le(out, m->n_classes, 8);
    hml_blob_put_le(out, m->outs, 8);
    HML_ASSERT(!hml_buf_ok(out) || out->len - start == HEADER_BYTES);
    put_f64s(out, m->store, 3 * m->cols + m->outs * m->cols + m->outs);
    if (hml_buf_ok(out)) hml_blob_put_le(out, hml_fnv1a((const uint8_t *)out->p + start, out->len - start), 8);
    if (!hml_buf_ok(out)) return hml_fail(err, HML_ENOMEM, "models.save", "out of memory saving a %s model", base->vt->name);
    return HML_OK;
}




static enum hml_status bad_blob(const struct hml_model_vt *vt, const char *why, struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, "models.load", "not a saved %s model: %s", vt->name, why);
    return hml_hint(err, "load a blob written by save of a %s model, unaltered", vt->name);
}

/* The shape fields; checks they agree with each other and with len. */
static enum hml_status read_shape(const struct hml_model_vt *vt, struct hml_blob_reader *r, size_t len, struct hml__linear *m,
                                  struct hml_error *err)
{
    uint64_t cols = hml_blob_get_le(r, 8), classes = hml_blob_get_le(r, 8), outs = hml_blob_get_le(r, 8);
    bool classifier = m->mode == HML_MODE_CLASSIFIER;
    uint64_t want_outs = classifier && classes > 2 ? classes : 1;
    if (cols > HML__LIN_COLS_MAX || classes > HML__LIN_CLASSES_MAX || outs != want_outs ||
        (classifier ? classes < 2 : classes != 0) || (m->kind == HML__LIN_ENET && outs != 1))
        return bad_blob(vt, "inconsistent shape", err);
    if (len != HEADER_BYTES + 8 * (3 * cols + outs * cols + outs) + 8) return bad_blob(vt, "wrong length", err);
    m->n_classes = (size_t)classes;
    if (!hml__lin_state_alloc(m, (size_t)cols, (size_t)outs))
        return hml_fail(err, HML_ENOMEM, "models.load", "out of memory loading a %s model", vt->name);
    return HML_OK;
}

static enum hml_status read_header(const struct hml_model_vt *vt, struct hml_blob_reader *r, size_t len, struct hml__linear *m,
                                   struct hml_error *err)
{
    r->off = MAGIC_LEN + 2;
    uint8_t f[8];
    memcpy(f, r->p + r->off, sizeof f);
    r->off += sizeof f;
    enum hml__lin_kind kind = vt == &hml_model_logistic_regression ? HML__LIN_LOGISTIC : HML__LIN_ENET;
    if (f[0] != kind) {
        hml_fail(err, HML_EINVAL, "models.load", "the blob holds a %s model, not %s",
                 f[0] == HML__LIN_LOGISTIC ? "logistic_regression" : "elastic_net", vt->name);
        return hml_hint(err, "load it with model type '%s'", f[0] == HML__LIN_LOGISTIC ? "logistic_regression" : "elastic_net");
    }
    if (f[1] > HML_MODE_REGRESSOR || f[2] > 1 || f[3] > 1 || f[4] > HML__LIN_LBFGS || f[5] > 1)
        return bad_blob(vt, "bad flags", err);
    m->kind = kind;
    m->mode = (enum hml_model_mode)f[1];
    m->par.fit_intercept = f[2];
    m->par.penalised = f[3];
    m->par.solver = (enum hml__lin_solver)f[4];
    m->converged = f[5];
    m->par.max_iter = (int)hml_blob_get_le(r, 4);
    m->iterations = (uint32_t)hml_blob_get_le(r, 4);
    m->par.C = hml_blob_get_f64(r);
    m->par.alpha = hml_blob_get_f64(r);
    m->par.l1_ratio = hml_blob_get_f64(r);
    m->par.tol = hml_blob_get_f64(r);
    return read_shape(vt, r, len, m, err);
}

enum hml_status hml__lin_load(const struct hml_model_vt *vt, const void *data, size_t len, struct hml_model **out,
                              struct hml_error *err)
{
    struct hml_blob_reader r = {.p = data};
    if (!data || len < HEADER_BYTES + 8 || memcmp(data, MAGIC, MAGIC_LEN)) return bad_blob(vt, "no header", err);
    r.off = MAGIC_LEN;
    uint64_t version = hml_blob_get_le(&r, 2);
    if (version != FORMAT_VERSION) {
        hml_fail(err, HML_EINVAL, "models.load", "the %s model was saved in format %u, this build reads %d", vt->name,
                 (unsigned)version, FORMAT_VERSION);
        return hml_hint(err, "load it with the harness version that saved it, or fit it again");
    }
    struct hml_blob_reader tail = {.p = data, .off = len - 8};
    if (hml_blob_get_le(&tail, 8) != hml_fnv1a(data, len - 8)) return bad_blob(vt, "checksum mismatch (damaged)", err);
    struct hml__linear *m = hml_calloc(1, sizeof *m);
    if (!m) return hml_fail(err, HML_ENOMEM, "models.load", "out of memory loading a %s model", vt->name);
    m->base.vt = vt;
    enum hml_status rc = read_header(vt, &r, len, m, err);
    if (rc) {
        hml__lin_free(&m->base);
        return rc;
    }
    size_t n = 3 * m->cols + m->outs * m->cols + m->outs;
    for (size_t i = 0; i < n; i++) m->store[i] = hml_blob_get_f64(&r);
    for (size_t j = 0; j < m->cols && !rc; j++)
        if (!(m->scale[j] > 0) || !isfinite(m->scale[j])) rc = bad_blob(vt, "bad scale", err);
    if (rc) {
        hml__lin_free(&m->base);
        return rc;
    }
    m->fitted = true;
    *out = &m->base;
    return HML_OK;
}
