/* frame_file.c — the binary frame file (.hfr): a cache of a built frame.
 *
 * Layout (little-endian):
 *   "HMLFRAME" | u32 version (1) | u64 nrows | u32 ncols
 *   per column: u32 name_len, name | u8 type | u64 null_count | u64 data_bytes, data
 *               | u8 has_bitmap, [bitmap of ceil(nrows/8) bytes]
 *               | strings only: u64 dict_n, then dict_n × (u32 len, bytes)
 *   u64 checksum of every byte before it
 * The file is a cache, so damage is never repaired: decode refuses it and the
 * caller rebuilds from the source. Decode must survive arbitrary bytes, so every
 * length is checked against what is left before it is used. */
#include "harness/io.h"
#include "harness/alloc.h"
#include "harness/buf.h"
#include "harness/fsx.h"
#include "frame_int.h"

#include <stdio.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "frame files store host-order data");

#define HFR_MAGIC "HMLFRAME"
#define HFR_VERSION 1u
#define HFR_SEED HML__HFR_SEED
#define HFR_NAME_MAX 65536u
#define HFR_FILE_MAX ((size_t)1 << 40)

static void put_u8(struct hml_buf *b, uint8_t v) { hml_buf_append(b, &v, 1); }
static void put_u32(struct hml_buf *b, uint32_t v) { hml_buf_append(b, &v, 4); }
static void put_u64(struct hml_buf *b, uint64_t v) { hml_buf_append(b, &v, 8); }

static void encode_column(struct hml_buf *b, const char *name, const struct hml_column *c)
{
    put_u32(b, (uint32_t)strlen(name));
    hml_buf_append(b, name, strlen(name));
    put_u8(b, (uint8_t)c->type);
    put_u64(b, c->null_count);
    size_t bytes = c->n * hml__type_width(c->type);
    put_u64(b, bytes);
    hml_buf_append(b, c->data, bytes);
    bool bitmap = c->valid && c->null_count > 0;
    put_u8(b, bitmap);
    if (bitmap) hml_buf_append(b, c->valid, hml__bitmap_bytes(c->n));
    if (c->type != HML_TYPE_STR) return;
    put_u64(b, hml_dict_size(c->dict));
    for (size_t k = 0; k < hml_dict_size(c->dict); k++) {
        size_t len = hml_dict_len(c->dict, (int32_t)k);
        put_u32(b, (uint32_t)len);
        hml_buf_append(b, hml_dict_get(c->dict, (int32_t)k), len);
    }
}

enum hml_status hml_frame_encode(const struct hml_frame *f, struct hml_buf *out,
                                 struct hml_error *err)
{
    hml_buf_reset(out);
    hml_buf_append(out, HFR_MAGIC, 8);
    put_u32(out, HFR_VERSION);
    put_u64(out, f->nrows);
    put_u32(out, (uint32_t)f->ncols);
    for (size_t k = 0; k < f->ncols && hml_buf_ok(out); k++)
        encode_column(out, f->names[k], f->cols[k]);
    if (hml_buf_ok(out)) put_u64(out, hml__hash_bytes(out->p, out->len, HFR_SEED));
    if (!hml_buf_ok(out)) return hml_fail(err, HML_ENOMEM, "frame.save", "out of memory encoding frame");
    return HML_OK;
}

/* ---- decode ------------------------------------------------------------------------ */

struct cur {
    const unsigned char *p;
    size_t left;
    bool bad;
};

static const void *take(struct cur *c, size_t n)
{
    if (c->bad || n > c->left) {
        c->bad = true;
        return NULL;
    }
    const void *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static uint64_t get_u64(struct cur *c)
{
    uint64_t v = 0;
    const void *p = take(c, 8);
    if (p) memcpy(&v, p, 8);
    return v;
}

static uint32_t get_u32(struct cur *c)
{
    uint32_t v = 0;
    const void *p = take(c, 4);
    if (p) memcpy(&v, p, 4);
    return v;
}

static uint8_t get_u8(struct cur *c)
{
    const uint8_t *p = take(c, 1);
    return p ? *p : 0;
}

/* Fills err for damaged input; label names the file (or "frame data"). */
static enum hml_status damaged(struct hml_error *err, const char *label, const char *why)
{
    hml_fail(err, HML_EIO, "frame.load", "%s is damaged (%s)", label, why);
    return hml_hint(err, "delete it; it will be rebuilt");
}

/* Checks the values a reader could misuse (string codes index the dictionary), and
 * zeroes whatever sits under null bits, as every column promises. */
static bool sanitize_values(struct hml_column *col)
{
    size_t w = hml__type_width(col->type);
    for (size_t i = 0; i < col->n; i++) {
        if (hml_column_is_null(col, i)) {
            memset((char *)col->data + i * w, 0, w);
            continue;
        }
        if (col->type == HML_TYPE_BOOL && hml_bool(col)[i] > 1) return false;
        if (col->type == HML_TYPE_STR &&
            (hml_codes(col)[i] < 0 || (size_t)hml_codes(col)[i] >= hml_dict_size(col->dict)))
            return false;
    }
    return true;
}

static size_t count_nulls(const uint8_t *bits, size_t n)
{
    size_t nulls = 0;
    for (size_t i = 0; i < n; i++) nulls += !(bits[i >> 3] & (1u << (i & 7)));
    return nulls;
}

/* Reads the dictionary of a string column into col->dict. */
static const char *decode_dict(struct cur *c, struct hml_column *col)
{
    uint64_t n = get_u64(c);
    if (c->bad || n > c->left / 4 || n > INT32_MAX) return "bad dictionary size";
    for (uint64_t k = 0; k < n; k++) {
        uint32_t len = get_u32(c);
        const char *s = take(c, len);
        if (!s) return "truncated dictionary";
        int32_t code = hml_dict_intern(col->dict, s, len);
        if (code < 0) return "out of memory";
        if ((uint64_t)code != k) return "duplicate dictionary entry";
    }
    return NULL;
}

/* Decodes one column; returns NULL on success or why the data is bad. */
static const char *decode_column(struct cur *c, size_t nrows, char **name_out,
                                 struct hml_column **col_out)
{
    uint32_t name_len = get_u32(c);
    if (c->bad || name_len == 0 || name_len > HFR_NAME_MAX) return "bad column name";
    const char *name = take(c, name_len);
    if (!name || memchr(name, 0, name_len)) return "bad column name";
    uint8_t type = get_u8(c);
    uint64_t nulls = get_u64(c), bytes = get_u64(c);
    if (c->bad || type > HML_TYPE_DATE) return "bad column type";
    if (bytes != nrows * hml__type_width((enum hml_type)type) || bytes > c->left) return "bad column size";
    struct hml_column *col = hml_column_new((enum hml_type)type, nrows);
    if (!col) return "out of memory";
    *col_out = col;
    if (!(*name_out = hml_strndup(name, name_len))) return "out of memory";
    memcpy(col->data, take(c, bytes), bytes);
    uint8_t bitmap = get_u8(c);
    if (bitmap > 1) return "bad null bitmap flag";
    if (bitmap) {
        const uint8_t *bits = take(c, hml__bitmap_bytes(nrows));
        if (!bits) return "truncated null bitmap";
        if (!(col->valid = hml_malloc(hml__bitmap_bytes(nrows) + 1))) return "out of memory";
        memcpy(col->valid, bits, hml__bitmap_bytes(nrows));
    }
    if ((bitmap ? count_nulls(col->valid, nrows) : 0) != nulls) return "null count mismatch";
    col->null_count = (size_t)nulls;
    if (type == HML_TYPE_STR) {
        const char *why = decode_dict(c, col);
        if (why) return why;
    }
    return sanitize_values(col) ? NULL : "value out of range";
}

static enum hml_status decode_body(struct cur *c, struct hml_frame *f, const char *label,
                                   struct hml_error *err)
{
    uint64_t nrows = get_u64(c);
    uint32_t ncols = get_u32(c);
    if (nrows > HML_FRAME_ROWS_MAX || ncols > HML_FRAME_COLS_MAX) return damaged(err, label, "bad shape");
    f->nrows = (size_t)nrows;
    for (uint32_t k = 0; k < ncols; k++) {
        char *name = NULL;
        struct hml_column *col = NULL;
        const char *why = decode_column(c, (size_t)nrows, &name, &col);
        enum hml_status rc = HML_OK;
        if (why && !strcmp(why, "out of memory"))
            rc = hml_fail(err, HML_ENOMEM, "frame.load", "out of memory loading %s", label);
        else if (why || hml_frame_find(f, name) >= 0)
            rc = damaged(err, label, why ? why : "duplicate column name");
        else
            rc = hml_frame_add(f, name, col, err);
        hml_free(name);
        hml_column_unref(col);
        if (rc) return rc;
    }
    if (c->left != 8) return damaged(err, label, "unexpected trailing bytes");
    return HML_OK;
}

static enum hml_status decode(const void *data, size_t len, const char *label,
                              struct hml_frame **out, struct hml_error *err)
{
    const unsigned char *p = data;
    if (len < 8 || memcmp(p, HFR_MAGIC, 8) != 0) {
        hml_fail(err, HML_EIO, "frame.load", "%s is not a frame file (bad magic)", label);
        return hml_hint(err, "delete it; it will be rebuilt");
    }
    if (len < 8 + 4 + 8 + 4 + 8) return damaged(err, label, "truncated");
    uint64_t want;
    memcpy(&want, p + len - 8, 8);
    if (hml__hash_bytes(p, len - 8, HFR_SEED) != want) return damaged(err, label, "checksum mismatch");
    struct cur c = {p + 8, len - 8, false};
    uint32_t version = get_u32(&c);
    if (version != HFR_VERSION) {
        hml_fail(err, HML_EIO, "frame.load", "%s has version %u; this build reads version %u", label,
                 version, HFR_VERSION);
        return hml_hint(err, "delete it; it will be rebuilt");
    }
    struct hml_frame *f = hml_frame_new();
    if (!f) return hml_fail(err, HML_ENOMEM, "frame.load", "out of memory");
    enum hml_status rc = decode_body(&c, f, label, err);
    if (rc) {
        hml_frame_free(f);
        return rc;
    }
    *out = f;
    return HML_OK;
}

enum hml_status hml_frame_decode(const void *data, size_t len, struct hml_frame **out,
                                 struct hml_error *err)
{
    return decode(data, len, "frame data", out, err);
}

enum hml_status hml_frame_save(const struct hml_frame *f, const char *path, struct hml_error *err)
{
    struct hml_buf b = HML_BUF_INIT;
    enum hml_status rc = hml_frame_encode(f, &b, err);
    if (!rc) rc = hml_write_atomic(path, b.p, b.len, err);
    hml_buf_free(&b);
    return rc;
}

enum hml_status hml_frame_load(const char *path, struct hml_frame **out, struct hml_error *err)
{
    char *data = NULL;
    size_t len = 0;
    enum hml_status rc = hml_read_file(path, HFR_FILE_MAX, &data, &len, err);
    if (rc) return rc;
    size_t n = strlen(path) + 16;
    char *label = hml_malloc(n);
    if (!label) {
        hml_free(data);
        return hml_fail(err, HML_ENOMEM, "frame.load", "out of memory");
    }
    snprintf(label, n, "frame file '%s'", path);
    rc = decode(data, len, label, out, err);
    hml_free(label);
    hml_free(data);
    return rc;
}
