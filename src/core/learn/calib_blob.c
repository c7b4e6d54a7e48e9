/* calib_blob.c — save/load of a calibrator as a compact binary blob.
 *
 * Layout, integers and doubles little-endian (doubles as their IEEE-754 bits, so a
 * loaded calibrator maps every p bit for bit as the saved one did):
 *   "HMLCAL" u16 format version
 *   u8 kind, converged, has_slope, 0; u32 0
 *   u64 rows, points
 *   f64 a, b, c, prob_max
 *   f64 x[points], y[points], slope[points if has_slope]
 *   u64 FNV-1a of every byte before it
 * NOTE: a new field goes in a new format version; load keeps reading the old ones.
 */
#include "calib_int.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/blob.h"

#define MAGIC          "HMLCAL"
#define MAGIC_LEN      6
#define FORMAT_VERSION 1
#define HEADER_BYTES   64




enum hml_status hml_calib_save(const struct hml_calib *c, struct hml_buf *out, struct hml_error *err)
{
    HML_ASSERT(c != NULL);
    HML_ASSERT((unsigned)c->kind < HML_CALIB_KIND_COUNT_);
    size_t start = out->len;
    hml_buf_append(out, MAGIC, MAGIC_LEN);
    hml_blob_put_le(out, FORMAT_VERSION, 2);
    const uint8_t flags[8] = {(uint8_t)c->kind, c->converged, c->slope != NULL, 0, 0, 0, 0, 0};
    hml_buf_append(out, flags, sizeof flags);
    hml_blob_put_le(out, c->rows, 8);
    hml_blob_put_le(out, c->points, 8);
    hml_blob_put_f64(out, c->a);
    hml_blob_put_f64(out, c->b);
    hml_blob_put_f64(out, c->c);
    hml_blob_put_f64(out, c->prob_max);
    HML_ASSERT(!hml_buf_ok(out) || out->len - start == HEADER_BYTES);
    for (size_t i = 0; i < c->points; i++) hml_blob_put_f64(out, c->x[i]);
    for (size_t i = 0; i < c->points; i++) hml_blob_put_f64(out, c->y[i]);
    for (size_t i = 0; c->slope && i < c->points; i++) hml_blob_put_f64(out, c->slope[i]);
    if (hml_buf_ok(out)) hml_blob_put_le(out, hml_fnv1a((const uint8_t *)out->p + start, out->len - start), 8);
    if (!hml_buf_ok(out)) return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory saving a calibrator");
    return HML_OK;
}




static enum hml_status bad_blob(const char *why, struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "not a saved calibrator: %s", why);
    return hml_hint(err, "load a blob written by hml_calib_save, unaltered (or refit the calibration)");
}

/* The header fields that decide the shape; checks they fit each other and len. */
static enum hml_status read_shape(struct hml_blob_reader *r, size_t len, struct hml_calib *hdr, bool *has_slope,
                                  struct hml_error *err)
{
    r->off = MAGIC_LEN + 2;
    uint8_t f[8];
    memcpy(f, r->p + r->off, sizeof f);
    r->off += sizeof f;
    if (f[0] >= HML_CALIB_KIND_COUNT_ || f[1] > 1 || f[2] > 1) return bad_blob("bad flags", err);
    hdr->kind = (enum hml_calib_kind)f[0];
    hdr->converged = f[1];
    *has_slope = f[2];
    uint64_t rows = hml_blob_get_le(r, 8), points = hml_blob_get_le(r, 8);
    bool pointed = hdr->kind == HML_CALIB_ISOTONIC || hdr->kind == HML_CALIB_SPLINE;
    if (rows > HML_CALIB_ROWS_MAX || points > rows || (pointed ? points == 0 : points != 0) ||
        *has_slope != (hdr->kind == HML_CALIB_SPLINE))
        return bad_blob("inconsistent shape", err);
    if (len != HEADER_BYTES + 8 * points * (*has_slope ? 3 : 2) + 8) return bad_blob("wrong length", err);
    hdr->rows = (size_t)rows;
    hdr->points = (size_t)points;
    hdr->a = hml_blob_get_f64(r), hdr->b = hml_blob_get_f64(r), hdr->c = hml_blob_get_f64(r), hdr->prob_max = hml_blob_get_f64(r);
    return HML_OK;
}

/* What every fitted calibrator satisfies; a blob breaking it was not written by save. */
static bool plausible(const struct hml_calib *c)
{
    if (!isfinite(c->a) || !isfinite(c->b) || !isfinite(c->c)) return false;
    if (c->kind == HML_CALIB_BETA && (c->a < 0 || c->b < 0)) return false;
    if (c->kind == HML_CALIB_SPLINE && !(c->prob_max > 0.5 && c->prob_max <= 1)) return false;
    for (size_t i = 0; i < c->points; i++) {
        if (!(c->x[i] >= 0 && c->x[i] <= 1 && c->y[i] >= 0 && c->y[i] <= 1)) return false;
        if (i > 0 && !(c->x[i] > c->x[i - 1] && c->y[i] >= c->y[i - 1])) return false;
        if (c->slope && !(isfinite(c->slope[i]) && c->slope[i] >= 0)) return false;
    }
    return true;
}

enum hml_status hml_calib_load(const void *blob, size_t len, struct hml_calib **out, struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    HML_ASSERT(blob != NULL || len == 0);
    struct hml_blob_reader r = {blob, 0};
    if (len < HEADER_BYTES + 8) return bad_blob("too short", err);
    if (memcmp(r.p, MAGIC, MAGIC_LEN) != 0) return bad_blob("bad magic", err);
    r.off = MAGIC_LEN;
    uint64_t version = hml_blob_get_le(&r, 2);
    if (version == 0 || version > FORMAT_VERSION) {
        hml_fail(err, HML_EINVAL, HML__CALIB_WHERE, "calibrator format version %u is newer than this build reads (%d)",
                 (unsigned)version, FORMAT_VERSION);
        return hml_hint(err, "load it with the harness version that saved it, or refit the calibration");
    }
    struct hml_blob_reader tail = {blob, len - 8};
    if (hml_blob_get_le(&tail, 8) != hml_fnv1a(r.p, len - 8)) return bad_blob("checksum mismatch", err);
    struct hml_calib hdr = {0};
    bool has_slope = false;
    enum hml_status rc = read_shape(&r, len, &hdr, &has_slope, err);
    if (rc) return rc;
    struct hml_calib *c = hml__calib_new(hdr.kind, hdr.points, has_slope);
    if (!c) return hml_fail(err, HML_ENOMEM, HML__CALIB_WHERE, "out of memory loading a calibrator");
    c->converged = hdr.converged, c->rows = hdr.rows;
    c->a = hdr.a, c->b = hdr.b, c->c = hdr.c, c->prob_max = hdr.prob_max;
    HML_ASSERT(r.off == HEADER_BYTES);
    for (size_t i = 0; i < c->points; i++) c->x[i] = hml_blob_get_f64(&r);
    for (size_t i = 0; i < c->points; i++) c->y[i] = hml_blob_get_f64(&r);
    for (size_t i = 0; has_slope && i < c->points; i++) c->slope[i] = hml_blob_get_f64(&r);
    if (!plausible(c)) {
        hml_calib_free(c);
        return bad_blob("values out of range", err);
    }
    *out = c;
    return HML_OK;
}
