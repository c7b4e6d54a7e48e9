/* calib.h — probability calibration for binary classifiers: fit a monotone map from a
 * model's P(class 1) to a calibrated one on out-of-fold predictions, apply it, save it.
 *
 * Kinds (names as in config: "spline", "isotonic", "platt", "beta", "none"):
 *
 *   isotonic  scikit-learn 1.2's IsotonicRegression(increasing=True, y_min=0, y_max=1,
 *             out_of_bounds="clip"). Rows with weight 0 are dropped; rows are sorted by p
 *             and runs of p within 1e-15 of the run's first value become one point (that
 *             first value, the weighted mean label, the summed weight); weighted
 *             pool-adjacent-violators gives the non-decreasing fit. Apply clips p to
 *             [smallest, largest] fitted p and interpolates linearly between points.
 *   platt     q = σ(a·logit(p') + b), p' = p clipped to [ε, 1 − ε], ε = 2⁻⁵² (DBL_EPSILON).
 *             (a, b) minimise Platt's (1999) smoothed cross-entropy
 *                 Σ_i w_i · [−t_i ln q_i − (1 − t_i) ln(1 − q_i)],
 *             t_i = (N₊ + 1)/(N₊ + 2) for a positive row and 1/(N₋ + 2) for a negative
 *             one, N± the summed weights of each class. This is the objective of
 *             scikit-learn's _SigmoidCalibration with F = logit(p'), whose parameters
 *             are the negatives of ours (it predicts expit(−(A·F + B))). Solved by
 *             Newton's method to convergence, where scikit-learn stops BFGS at gtol 1e-5.
 *             A constant p' leaves a at 0 (b is then the logit of the mean target).
 *   beta      Kull, Silva Filho & Flach (AISTATS 2017), the three-parameter map
 *                 q = σ(a·ln p' − b·ln(1 − p') + c),   a, b ≥ 0,
 *             fitted by maximum likelihood as their reference implementation does:
 *             logistic regression of y on [ln p', −ln(1 − p')] with the same near-zero
 *             ridge (a² + b²)/(2·99999999999) on the slopes (C = 99999999999 there); when
 *             the fit has a < 0 it is refitted on −ln(1 − p') alone (a = 0), else when
 *             b < 0 on ln p' alone (b = 0). Where that refit's own slope is negative as
 *             well we set it to 0 too (intercept only), so every map is non-decreasing;
 *             the reference keeps the negative slope.
 *   spline    the original system's default. Rows (weight > 0) sorted by p are cut into
 *             k = min(n_bins, max(1, rows / bin_rows_min)) equal-count bins (the first
 *             rows mod k bins one row longer); each bin gives a point (weighted mean p,
 *             weighted mean y, summed weight); points whose p lie within 1e-12 are
 *             merged; weighted pool-adjacent-violators makes y non-decreasing, clipped to
 *             [1 − prob_max, prob_max]; a monotone cubic Hermite interpolant (PCHIP)
 *             runs through the points, with Fritsch–Carlson monotone slopes in the
 *             weighted-harmonic-mean form (Fritsch & Butland 1984; interior slope 0
 *             where a secant is 0, the three-point end slopes limited to [0, 3·secant]),
 *             the same slopes as scipy's PchipInterpolator. Apply holds p to the first
 *             and last point's p (flat beyond them, never extrapolated) and clips the
 *             result to [1 − prob_max, prob_max]. Monotone and C¹ by construction.
 *   none      the identity: apply returns p.
 *
 * The isotonic, spline and beta maps are non-decreasing in p. Platt's is when a ≥ 0; as
 * in scikit-learn, a is not constrained (a < 0: the scores rank the classes backwards).
 * Apply is defined for every p in [0, 1].
 *
 * Minimum-sample rule: fit refuses (HML_EINVAL, with a hint) when fewer than rows_min
 * rows have positive weight, or when those rows hold one class only. The caller then
 * falls back to the identity (hml_calib_identity). Kind "none" has no minimum.
 *
 * Inputs to fit: p[i] in [0, 1] (NaN or outside refused), y[i] exactly 0 or 1, w[i]
 * finite and ≥ 0 or w = NULL for all 1. Arrays are borrowed for the call only.
 *
 * A fitted calibrator is immutable: apply may run from several threads at once.
 */
#ifndef HML_CALIB_H
#define HML_CALIB_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/buf.h"
#include "harness/err.h"

#define HML_CALIB_ROWS_MAX ((size_t)1 << 31) /* rows in one fit, apply or report   */
#define HML_CALIB_BINS_MAX 10000u            /* n_bins for spline and reliability  */
#define HML_CALIB_EPS      2.220446049250313e-16 /* p clip for logit and logs (DBL_EPSILON) */

enum hml_calib_kind {
    HML_CALIB_NONE = 0,
    HML_CALIB_SPLINE,
    HML_CALIB_ISOTONIC,
    HML_CALIB_PLATT,
    HML_CALIB_BETA,
    HML_CALIB_KIND_COUNT_
};

/* Options. A zero field means its default, so `{0}` (or NULL) is a valid set. */
struct hml_calib_opts {
    size_t rows_min;     /* fewest rows with weight > 0 that fit accepts; default 20 */
    size_t n_bins;       /* spline bins, ≤ HML_CALIB_BINS_MAX; default 20           */
    size_t bin_rows_min; /* spline: fewest rows per bin; default 10                 */
    double prob_max;     /* spline output range [1 − prob_max, prob_max], prob_max in
                            (0.5, 1]; default 0.985                                 */
};

#define HML_CALIB_ROWS_MIN_DEFAULT     20u
#define HML_CALIB_BINS_DEFAULT         20u
#define HML_CALIB_BIN_ROWS_MIN_DEFAULT 10u
#define HML_CALIB_PROB_MAX_DEFAULT     0.985

struct hml_calib;

/* The kind a name stands for ("spline", "isotonic", "platt", "beta", "none"; case
 * matters). Unknown names: HML_EINVAL with "did you mean" and the valid names. */
enum hml_status hml_calib_parse(const char *name, enum hml_calib_kind *out, struct hml_error *err);
/* The name of a kind ("none" for anything out of range). */
const char *hml_calib_kind_name(enum hml_calib_kind kind);

/* Fits a calibrator of the given kind on n rows.
 * in:  opts (NULL = defaults); p, y, w (w may be NULL) as described above.
 * out: *out, a new calibrator the caller frees with hml_calib_free (only on HML_OK).
 * Errors: HML_EINVAL for bad inputs or options and for the minimum-sample rule
 * (hint always set); HML_ELIMIT when n > HML_CALIB_ROWS_MAX; HML_ENOMEM. */
enum hml_status hml_calib_fit(enum hml_calib_kind kind, const struct hml_calib_opts *opts, const double *p,
                              const double *y, const double *w, size_t n, struct hml_calib **out,
                              struct hml_error *err);

/* A new identity calibrator (kind "none"). HML_ENOMEM is the only failure. */
enum hml_status hml_calib_identity(struct hml_calib **out, struct hml_error *err);

/* hml_calib_free(NULL) is a no-op. */
void hml_calib_free(struct hml_calib *c);

/* Calibrates n probabilities: out[i] = map(p[i]). p and out may be the same array.
 * Refuses (HML_EINVAL, hint) a NaN or a p outside [0, 1], naming the first such row;
 * out is then unspecified. HML_ELIMIT when n > HML_CALIB_ROWS_MAX. */
enum hml_status hml_calib_apply(const struct hml_calib *c, const double *p, size_t n, double *out,
                                struct hml_error *err);

/* One value, unchecked: p is clamped into [0, 1] first; NaN gives NaN. */
double hml_calib_value(const struct hml_calib *c, double p);

/* What a calibrator holds, for reports and tests. Pointers are borrowed: valid until
 * hml_calib_free(c). Fields that do not apply to the kind are 0 / NULL. */
struct hml_calib_info {
    enum hml_calib_kind kind;
    size_t rows;         /* rows with weight > 0 it was fitted on (0 for the identity) */
    double a, b, c;      /* platt: a, b; beta: a, b, c (see the top of this file)      */
    bool converged;      /* platt, beta: Newton's method met its tolerance             */
    size_t points;       /* isotonic, spline: the fitted points                        */
    const double *x;     /* points' p, strictly increasing                             */
    const double *y;     /* points' calibrated value, non-decreasing                   */
    const double *slope; /* spline: the Hermite slope at each point                    */
    double prob_max;     /* spline: the output range's upper end                       */
};
void hml_calib_describe(const struct hml_calib *c, struct hml_calib_info *out);

/* Appends a compact versioned blob (header, the doubles as their IEEE-754 bits, an
 * FNV-1a checksum) to out. load(save(c)) applies bit for bit as c does.
 * HML_ENOMEM is the only failure. */
enum hml_status hml_calib_save(const struct hml_calib *c, struct hml_buf *out, struct hml_error *err);
/* Reads a blob written by hml_calib_save. A truncated, altered or foreign blob, or one
 * from a newer format version, is HML_EINVAL with a hint; HML_ENOMEM. */
enum hml_status hml_calib_load(const void *blob, size_t len, struct hml_calib **out, struct hml_error *err);

/* ---- reports ------------------------------------------------------------------- */

/* One bin of a reliability diagram. Bin i of B covers [i/B, (i+1)/B), the last one
 * closed: the bins of the "ece" metric, so Σ (weight/W)·|mean_pred − rate| is its ECE. */
struct hml_calib_bin {
    double lo, hi;    /* the bin's edges                                             */
    size_t count;     /* rows with weight > 0 in the bin                             */
    double weight;    /* their summed weight (= count without weights)               */
    double mean_pred; /* weighted mean p; NaN for an empty bin                       */
    double rate;      /* weighted share of y = 1; NaN for an empty bin               */
};

/* Fills bins[0..n_bins) from n rows (p, y, w as for fit; w may be NULL).
 * HML_EINVAL (hint) for bad inputs or n_bins = 0; HML_ELIMIT for n_bins >
 * HML_CALIB_BINS_MAX or n > HML_CALIB_ROWS_MAX. n = 0 gives empty bins. Allocates
 * nothing. */
enum hml_status hml_calib_reliability(const double *p, const double *y, const double *w, size_t n,
                                      size_t n_bins, struct hml_calib_bin *bins, struct hml_error *err);

/* Calibration slope and intercept: the unpenalised maximum-likelihood logistic
 * regression y ~ σ(intercept + slope·logit(p')), p' clipped as for platt, weighted
 * by w (NULL = 1). A well-calibrated model has slope 1, intercept 0; slope < 1 means
 * over-confident predictions.
 * Refuses (HML_EINVAL, hint) bad inputs, fewer than 2 rows of weight > 0, one class,
 * constant p' (no slope to estimate) and p' that separates the classes (every
 * positive at or above every negative, or the reverse: the estimate is infinite). */
enum hml_status hml_calib_slope_intercept(const double *p, const double *y, const double *w, size_t n,
                                          double *slope, double *intercept, struct hml_error *err);

#endif
