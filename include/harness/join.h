/* join.h — combining frames on key columns. */
#ifndef HML_JOIN_H
#define HML_JOIN_H

#include <stddef.h>
#include "harness/err.h"
#include "harness/frame.h"

enum hml_join_how { HML_JOIN_LEFT = 0, HML_JOIN_INNER };

struct hml_join_report {
    size_t matched;   /* left rows that found a right row */
    size_t unmatched; /* left rows that did not (kept with nulls for LEFT) */
};

/* Joins right onto left on the named key columns (present in both; keys compare by
 * their text form, so 7 and 7.0 match). Right's non-key columns are added with
 * `prefix` prepended (NULL = none); a name clash with left is an error that
 * suggests a prefix. Right keys must be unique: duplicates are an error naming
 * the first duplicated key. Left's row order is kept. */
enum hml_status hml_frame_join(const struct hml_frame *left, const struct hml_frame *right,
                               const char *const *keys, size_t nkeys, enum hml_join_how how,
                               const char *prefix, struct hml_frame **out,
                               struct hml_join_report *rep, struct hml_error *err);

/* Gathers rows of c: out[i] = c[rows[i]], or null where rows[i] == SIZE_MAX. */
struct hml_column *hml_column_gather(const struct hml_column *c, const size_t *rows, size_t n);

/* Row-key text of the given columns for row i ("\x1f"-separated), into buf; its length,
 * or SIZE_MAX when it does not fit in cap (never a cut key that could match another). */
#define HML_ROW_KEY_MAX 4096
size_t hml_row_key(const struct hml_frame *f, const size_t *cols, size_t ncols, size_t i,
                   char *buf, size_t cap);
/* The error for a key that did not fit (row is 0-based). */
enum hml_status hml__key_too_long(size_t row, struct hml_error *err);

#endif
