/* csv_int.h — the CSV reader's scalar parsers, shared with jsonl.c and the unit tests. */
#ifndef HML_CSV_INT_H
#define HML_CSV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exactly [+-]?[0-9]{1,19} within int64 range (no spaces). */
bool hml__parse_i64(const char *s, size_t len, int64_t *out);

/* Decimal floats: [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?. No hex,
 * inf, nan or spaces. The result is bit-for-bit what strtod returns for the same text.
 * Tokens longer than HML__NUM_CHARS_MAX are refused (read as text). */
#define HML__NUM_CHARS_MAX 799
bool hml__parse_f64(const char *s, size_t len, double *out);

/* true/false/True/False/TRUE/FALSE. */
bool hml__parse_bool(const char *s, size_t len, uint8_t *out);

/* Index of the first byte of the first invalid UTF-8 sequence, or len when valid. */
size_t hml__utf8_check(const unsigned char *s, size_t len);

#endif
