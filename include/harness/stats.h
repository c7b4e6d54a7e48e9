/* stats.h — one-column summaries for inspect, profile and feature reports. */
#ifndef HML_STATS_H
#define HML_STATS_H

#include <stddef.h>
#include <stdint.h>
#include "harness/err.h"
#include "harness/frame.h"

#define HML_STATS_TOP 5

struct hml_col_stats {
    size_t n, nulls, distinct;
    /* numeric, bool and date columns (dates in days) */
    double min, max, mean, std, p25, median, p75;
    /* the most frequent values (any type), as text, with counts */
    char top[HML_STATS_TOP][64];
    size_t top_count[HML_STATS_TOP];
    size_t top_n;
};

/* Computes the summary; HML_ENOMEM is the only failure. */
enum hml_status hml_col_stats(const struct hml_column *c, struct hml_col_stats *out,
                              struct hml_error *err);

/* Pearson correlation over rows where both are non-null numbers; NaN when
 * fewer than 3 such rows or a side is constant. */
double hml_corr(const struct hml_column *a, const struct hml_column *b);

/* Median, mean or mode of the non-null values. Mode works on any type and
 * returns the row index of a representative value (or SIZE_MAX when all null). */
double hml_col_median(const struct hml_column *c);
double hml_col_mean(const struct hml_column *c);
size_t hml_col_mode_row(const struct hml_column *c);

/* Median of v[0..n) by selection (reorders v); NaN when n is 0. */
double hml_median_inplace(double *v, size_t n);

#endif
