/* frame.h — the columnar in-memory table every module passes around.
 *
 * A frame is an ordered list of (name, column). Columns are immutable once built
 * and reference-counted, so selecting, renaming and reordering columns never copies
 * data (zero-copy column views): two frames may share a column. To change a column,
 * build a new one (hml_column_copy, then edit) and replace it in the frame.
 *
 * Null handling: `valid` is a bitmap (bit i set = row i has a value). valid == NULL
 * means the column has no nulls. Values under a null bit are zero and meaningless.
 */
#ifndef HML_FRAME_H
#define HML_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/err.h"

#define HML_FRAME_COLS_MAX 100000u
#define HML_FRAME_ROWS_MAX 2000000000u

enum hml_type {
    HML_TYPE_F64 = 0, /* double                                        */
    HML_TYPE_I64,     /* int64_t                                       */
    HML_TYPE_BOOL,    /* uint8_t 0/1                                   */
    HML_TYPE_STR,     /* int32_t code into the column's dictionary     */
    HML_TYPE_DATE     /* int32_t days since 1970-01-01                 */
};

/* "float", "int", "bool", "string", "date". */
const char *hml_type_name(enum hml_type t);
/* Accepts the names above and aliases (f64, double, number, i64, integer, str, text…). */
bool hml_type_parse(const char *name, enum hml_type *out);

/* A string dictionary: distinct strings, each with a dense code 0..n-1. */
struct hml_dict;
struct hml_dict *hml_dict_new(void);
void hml_dict_free(struct hml_dict *d);
/* Returns the code of s (adding it if new), or -1 on OOM. s need not be NUL-terminated. */
int32_t hml_dict_intern(struct hml_dict *d, const char *s, size_t len);
/* Code of s, or -1 if absent. */
int32_t hml_dict_find(const struct hml_dict *d, const char *s, size_t len);
/* Borrowed, NUL-terminated; valid while the dictionary lives. */
const char *hml_dict_get(const struct hml_dict *d, int32_t code);
size_t hml_dict_len(const struct hml_dict *d, int32_t code);
size_t hml_dict_size(const struct hml_dict *d);

struct hml_column {
    int refs;              /* owned by the frame module; use ref/unref     */
    enum hml_type type;
    size_t n;              /* rows                                          */
    void *data;            /* typed array of n elements, see enum hml_type  */
    uint8_t *valid;        /* null bitmap, or NULL when there are no nulls  */
    size_t null_count;
    struct hml_dict *dict; /* HML_TYPE_STR only; owned by the column        */
};

/* A new column of n rows, zeroed, with no nulls (strings get an empty dictionary).
 * refs = 1. NULL on OOM. */
struct hml_column *hml_column_new(enum hml_type t, size_t n);
/* Deep copy (refs = 1), for copy-on-write edits. NULL on OOM. */
struct hml_column *hml_column_copy(const struct hml_column *c);
void hml_column_ref(struct hml_column *c);
void hml_column_unref(struct hml_column *c);

static inline bool hml_column_is_null(const struct hml_column *c, size_t i)
{
    return c->valid && !(c->valid[i >> 3] & (1u << (i & 7)));
}
/* Marks row i null (allocating the bitmap on first use). false on OOM. Build-time only. */
bool hml_column_set_null(struct hml_column *c, size_t i);
/* Marks row i valid. Build-time only. */
void hml_column_set_valid(struct hml_column *c, size_t i);

static inline double *hml_f64(const struct hml_column *c) { return (double *)c->data; }
static inline int64_t *hml_i64(const struct hml_column *c) { return (int64_t *)c->data; }
static inline uint8_t *hml_bool(const struct hml_column *c) { return (uint8_t *)c->data; }
static inline int32_t *hml_codes(const struct hml_column *c) { return (int32_t *)c->data; }
static inline int32_t *hml_days(const struct hml_column *c) { return (int32_t *)c->data; }

/* Numeric value of row i as a double (int, bool and date convert; date = days);
 * NaN for nulls and for string columns. */
double hml_column_num(const struct hml_column *c, size_t i);
/* String value of a string column's row i (borrowed), or NULL when null/not a string. */
const char *hml_column_str(const struct hml_column *c, size_t i);
/* Writes the text form of row i into buf ("" for null): shortest round-trip floats,
 * ISO dates, true/false. Returns the length written (truncated to cap-1). */
size_t hml_column_format(const struct hml_column *c, size_t i, char *buf, size_t cap);
bool hml_column_is_numeric(const struct hml_column *c); /* f64, i64, bool */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int32_t hml_date_from_ymd(int y, int m, int d);
void hml_date_to_ymd(int32_t days, int *y, int *m, int *d);
/* Parses exactly "YYYY-MM-DD" (valid calendar date). */
bool hml_date_parse(const char *s, size_t len, int32_t *days_out);

struct hml_frame {
    size_t nrows, ncols, cap;
    char **names;
    struct hml_column **cols;
};

struct hml_frame *hml_frame_new(void);
void hml_frame_free(struct hml_frame *f);
/* Appends a column; takes a new reference (the caller keeps its own). The first
 * column fixes nrows; later ones must match. Names must be unique. */
enum hml_status hml_frame_add(struct hml_frame *f, const char *name, struct hml_column *c,
                              struct hml_error *err);
/* Replaces column i; takes a new reference to c and drops the old one. */
enum hml_status hml_frame_replace(struct hml_frame *f, size_t i, struct hml_column *c,
                                  struct hml_error *err);
/* Index of the named column, or -1. */
long hml_frame_find(const struct hml_frame *f, const char *name);
/* Like find, but fills err with not_found, the valid names and a suggestion. */
enum hml_status hml_frame_lookup(const struct hml_frame *f, const char *name, size_t *idx,
                                 struct hml_error *err);
enum hml_status hml_frame_rename(struct hml_frame *f, const char *from, const char *to,
                                 struct hml_error *err);
enum hml_status hml_frame_drop(struct hml_frame *f, const char *name, struct hml_error *err);
/* A new frame sharing the chosen columns (zero-copy). NULL on OOM. */
struct hml_frame *hml_frame_select(const struct hml_frame *f, const size_t *idx, size_t n);
/* A new frame sharing every column (zero-copy). NULL on OOM. */
struct hml_frame *hml_frame_clone(const struct hml_frame *f);
/* A new frame with rows[0..n) gathered (copies data; dictionaries are compacted). */
struct hml_frame *hml_frame_take(const struct hml_frame *f, const size_t *rows, size_t n);
/* Appends the rows of b below a, matching columns by name (missing → null; numeric
 * types widen to float; anything mixed with strings becomes strings). */
enum hml_status hml_frame_concat(const struct hml_frame *a, const struct hml_frame *b,
                                 struct hml_frame **out, struct hml_error *err);
/* Bytes held by the frame's column data, bitmaps and dictionaries. */
size_t hml_frame_bytes(const struct hml_frame *f);
/* A 64-bit content fingerprint of names, types and values (stable across runs). */
uint64_t hml_frame_fingerprint(const struct hml_frame *f);

#endif
