/* blob.h — the little-endian codec every saved model and calibrator uses: fixed-width
 * integers and doubles appended to a buffer, read back through a cursor, and the
 * FNV-1a checksum that guards them. Readers check lengths before reading; these
 * helpers do not (they are the inner loop of a checked format). */
#ifndef HML_BLOB_H
#define HML_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include "harness/buf.h"

uint64_t hml_fnv1a(const void *p, size_t n);

void hml_blob_put_le(struct hml_buf *b, uint64_t v, size_t bytes);
void hml_blob_put_f64(struct hml_buf *b, double x);

struct hml_blob_reader {
    const uint8_t *p;
    size_t off;
};
uint64_t hml_blob_get_le(struct hml_blob_reader *r, size_t bytes);
double hml_blob_get_f64(struct hml_blob_reader *r);

#endif
