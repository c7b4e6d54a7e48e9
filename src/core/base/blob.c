/* blob.c — see blob.h. */
#include "harness/blob.h"

#include <string.h>

uint64_t hml_fnv1a(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

void hml_blob_put_le(struct hml_buf *b, uint64_t v, size_t bytes)
{
    uint8_t t[8];
    for (size_t i = 0; i < bytes && i < 8; i++) t[i] = (uint8_t)(v >> (8 * i));
    hml_buf_append(b, t, bytes < 8 ? bytes : 8);
}

void hml_blob_put_f64(struct hml_buf *b, double x)
{
    uint64_t v;
    memcpy(&v, &x, sizeof v);
    hml_blob_put_le(b, v, 8);
}

uint64_t hml_blob_get_le(struct hml_blob_reader *r, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && i < 8; i++) v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += bytes;
    return v;
}

double hml_blob_get_f64(struct hml_blob_reader *r)
{
    uint64_t v = hml_blob_get_le(r, 8);
    double x;
    memcpy(&x, &v, sizeof x);
    return x;
}
