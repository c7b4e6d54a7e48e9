/* frame_int.h — private helpers shared by frame.c, csv.c, jsonl.c and frame_file.c.
 * Not part of the public API: names use the cross-file internal prefix hml__. */
#ifndef HML_FRAME_INT_H
#define HML_FRAME_INT_H

#include <stdint.h>
#include <string.h>

#include "harness/frame.h"

/* Bytes per element of a column of type t. */
size_t hml__type_width(enum hml_type t);

static inline size_t hml__bitmap_bytes(size_t n) { return (n + 7) / 8; }

/* Wraps already-built arrays into a column (refs = 1), taking ownership of data, valid
 * and dict (all freed, even on failure). valid may be NULL; null_count must match it.
 * NULL on OOM. */
struct hml_column *hml__column_wrap(enum hml_type t, size_t n, void *data, uint8_t *valid,
                                    size_t null_count, struct hml_dict *dict);

/* Bytes held by a dictionary (strings, entries and hash slots). */
size_t hml__dict_bytes(const struct hml_dict *d);

/* Interns like hml_dict_intern with a hash the caller already computed with
 * hml__hash_bytes(s, len, 0): lets hot loops hash once. */
int32_t hml__dict_intern_h(struct hml_dict *d, const char *s, size_t len, uint64_t h);

/* A fast, seedable 64-bit hash; stable across runs and builds (used on disk). */
static inline uint64_t hml__mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t hml__load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#define HML__P0 0xa0761d6478bd642full
#define HML__P1 0xe7037ed1a0b428dbull
#define HML__P2 0x8ebc6af09c88c6e3ull
#define HML__P3 0x589965cc75374cc3ull

static inline uint64_t hml__hash_bytes(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ^ hml__mix(seed ^ HML__P0, (uint64_t)n ^ HML__P1);
    size_t left = n;
    while (left >= 16) {
        h = hml__mix(hml__load64(p) ^ HML__P1 ^ h, hml__load64(p + 8) ^ HML__P2);
        p += 16;
        left -= 16;
    }
    uint64_t a = 0, b = 0;
    if (left >= 8) {
        a = hml__load64(p);
        p += 8;
        left -= 8;
        memcpy(&b, p, left);
    } else {
        memcpy(&a, p, left);
    }
    return hml__mix(hml__mix(a ^ HML__P1 ^ h, b ^ HML__P2) ^ HML__P3, (uint64_t)n ^ HML__P0);
}

/* Seed of the frame file checksum (frame_file.c; tests recompute it). */
#define HML__HFR_SEED 0x6866722d76310000ull

/* Folds one 64-bit word into a running hash. */
static inline uint64_t hml__hash_word(uint64_t h, uint64_t w)
{
    return hml__mix(h ^ w ^ HML__P1, HML__P2);
}

#endif
