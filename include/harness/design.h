/* design.h — from frame columns to the dense float matrix a model backend sees.
 *
 * An encoding is fitted on the training rows of a fold only, then applied to any
 * rows: numbers, bools and dates pass through as float (NaN = null); text columns
 * become level codes (for backends with native categoricals) or one-hot columns
 * with one extra "other" column for rare and unseen levels (for the rest). Levels
 * come from the training rows, so nothing about the test rows leaks into the
 * encoding. Text columns with so many distinct values that they are identifiers
 * (names, ids) are left out with a note, never one-hot into thousands of columns.
 */
#ifndef HML_DESIGN_H
#define HML_DESIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/buf.h"
#include "harness/err.h"
#include "harness/frame.h"

#define HML_DESIGN_LEVELS_MAX 64    /* one-hot: at most this many level columns      */
#define HML_DESIGN_RARE_MIN 5       /* one-hot: levels seen fewer times go to "other" */
#define HML_DESIGN_ID_SHARE 0.5     /* text with distinct/rows above this is an id    */

struct hml_design;

struct hml_design_opts {
    bool onehot;           /* false: level codes, flagged categorical */
    size_t levels_max;     /* 0 = HML_DESIGN_LEVELS_MAX                */
    size_t rare_min;       /* 0 = HML_DESIGN_RARE_MIN                  */
};

/* Fits the encoding of `features` (column names of f) on rows[0..n). Skipped
 * columns are described in `notes` (one sentence each, may be NULL). */
enum hml_status hml_design_fit(const struct hml_frame *f, const char *const *features, size_t nfeatures,
                               const size_t *rows, size_t n, const struct hml_design_opts *opts,
                               struct hml_design **out, struct hml_buf *notes, struct hml_error *err);
void hml_design_free(struct hml_design *d);

/* Output columns, their names, categorical flags and level counts (borrowed). */
size_t hml_design_cols(const struct hml_design *d);
const char *const *hml_design_names(const struct hml_design *d);
const uint8_t *hml_design_categorical(const struct hml_design *d);
const uint32_t *hml_design_levels(const struct hml_design *d);

/* Writes rows[0..n) (NULL = all rows of f, n = f->nrows) as an n × cols row-major
 * float matrix into out. The frame must have the columns the design was fitted on. */
enum hml_status hml_design_apply(const struct hml_design *d, const struct hml_frame *f, const size_t *rows,
                                 size_t n, float *out, struct hml_error *err);

#endif
