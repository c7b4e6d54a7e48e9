/* calib_int.h — what the calib*.c files share: the calibrator's layout, the rows a fit
 * works on, and the small Newton solver behind platt, beta and the calibration slope. */
#ifndef HML_CALIB_INT_H
#define HML_CALIB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/calib.h"

#define HML__CALIB_WHERE "calibration"

/* One allocation: the struct, then x, y and (spline) slope, `points` doubles each. */
struct hml_calib {
    enum hml_calib_kind kind;
    bool converged;
    size_t rows;
    double a, b, c;
    double prob_max;
    size_t points;
    double *x, *y, *slope;
};

/* A new calibrator with room for `points` points (slopes too when with_slope);
 * every number 0. NULL on OOM. */
struct hml_calib *hml__calib_new(enum hml_calib_kind kind, size_t points, bool with_slope);

/* A fit's input after validation: the rows with weight > 0, in input order. */
struct hml__calib_row {
    double p, y, w;
    size_t i; /* position in the input, the last sort key (determinism) */
};
struct hml__calib_data {
    struct hml__calib_row *r;
    size_t n;
    double w_pos, w_neg; /* summed weight of y = 1 and of y = 0 */
};

/* Checks p ∈ [0,1], y ∈ {0,1}, w finite ≥ 0 (w may be NULL) and n ≤ ROWS_MAX.
 * HML_EINVAL (hint) naming the first bad row, or HML_ELIMIT. */
enum hml_status hml__calib_check(const double *p, const double *y, const double *w, size_t n,
                                 struct hml_error *err);

/* p clipped to [ε, 1 − ε] and its logit, ln p', −ln(1 − p'). */
double hml__calib_clip(double p);
double hml__calib_logit(double p);
double hml__calib_sigmoid(double eta);

/* Fitters, called with validated data holding both classes; *out only on HML_OK. */
enum hml_status hml__calib_fit_isotonic(struct hml__calib_data *d, struct hml_calib **out, struct hml_error *err);
enum hml_status hml__calib_fit_spline(struct hml__calib_data *d, const struct hml_calib_opts *o,
                                      struct hml_calib **out, struct hml_error *err);
enum hml_status hml__calib_fit_platt(const struct hml__calib_data *d, struct hml_calib **out, struct hml_error *err);
enum hml_status hml__calib_fit_beta(const struct hml__calib_data *d, struct hml_calib **out, struct hml_error *err);

/* Point maps (isotonic: linear; spline: Hermite then clipped), for p ∈ [0, 1]. */
double hml__calib_eval_linear(const struct hml_calib *c, double p);
double hml__calib_eval_hermite(const struct hml_calib *c, double p);

/* Weighted logistic regression with at most two features and an intercept:
 * minimises Σ_i w_i·[softplus(η_i) − t_i·η_i] + ridge/2·Σ_j coef_j², with
 * η_i = intercept + Σ_j coef_j·x_j[i] and target t_i = y_i ? t1 : t0.
 * A feature constant over the rows gets coefficient 0. Newton's method on
 * standardised features with an Armijo line search; allocates nothing. */
struct hml__logit_problem {
    const struct hml__calib_row *r;
    size_t n;
    size_t k;            /* features, 0..2 */
    const double *x[2];  /* feature columns, n values each */
    double t1, t0;       /* targets of positive and negative rows */
    double ridge;        /* λ ≥ 0 on the coefficients, not the intercept */
};
struct hml__logit_result {
    double coef[2], intercept;
    bool converged;
    unsigned iterations;
};
void hml__logit_fit(const struct hml__logit_problem *pr, struct hml__logit_result *out);

#endif
