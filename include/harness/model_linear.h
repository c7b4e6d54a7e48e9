/* model_linear.h — the native linear backends, "logistic_regression" and "elastic_net",
 * and a getter for their fitted coefficients.
 *
 * Both backends implement struct hml_model_vt (model.h) and register with the built-in
 * models. What they share:
 * - Missing values: NaN in column j is replaced by the median of column j over the
 *   training rows with positive weight (the plain, unweighted median; the mean of the two
 *   middle values when their count is even; 0 when the column has no values). The medians
 *   are stored in the model, so predict imputes with training values, never test ones.
 * - Standardisation: after imputation every column is centred on its weighted mean and
 *   divided by its weighted population standard deviation (sqrt(Σw(x-m)²/Σw)). The
 *   penalty applies to these standardised coefficients, so its strength does not depend
 *   on the units of the inputs. With fit_intercept=false columns are only scaled (the
 *   model then passes through the origin of the raw inputs). Columns that are constant
 *   over the weighted training rows are left out and get coefficient 0.
 * - The intercept is never penalised. Sample weights multiply each row's loss; a weight
 *   of 2 is the same as the row appearing twice.
 * - Two-class training data that holds one class only (by weight) has no finite optimum;
 *   the fit is then the constant model giving that class probability 1 − 2e-9.
 * - Categorical codes are not understood (caps lack HML_CAP_CATEGORICAL): callers
 *   one-hot encode them. ±Inf in training inputs is refused.
 *
 * logistic_regression minimises, over standardised coefficients b_k and intercepts b0_k,
 *     Σ_i w_i · logloss_i + 1/(2C) · Σ_k |b_k|²        (penalty "l2"; "none" drops the sum)
 * which is scikit-learn's LogisticRegression(C) on standardised inputs. Two classes use
 * the sigmoid; more use the softmax (multinomial) with Σ_k b0_k = 0 (and, without a
 * penalty, Σ_k b_k = 0), the same gauge scikit-learn's lbfgs ends in.
 * Solvers: Newton with a backtracking line search (an exact Hessian, solved by Cholesky)
 * when the problem is small, L-BFGS otherwise; both stop after a full step that moves
 * no standardised coefficient by more than tol·max(1, largest coefficient).
 *
 * elastic_net minimises, with W = Σ w_i, a = alpha and r = l1_ratio,
 *     regressor:  1/(2W) Σ_i w_i (y_i - b0 - z_i·b)²   + a·r·|b|₁ + a·(1-r)/2·|b|²
 *     classifier: 1/W    Σ_i w_i logloss_i(b0 + z_i·b) + a·r·|b|₁ + a·(1-r)/2·|b|²
 * The regressor is scikit-learn's ElasticNet(alpha, l1_ratio) on standardised inputs; the
 * classifier (two classes only) is LogisticRegression(penalty="elasticnet",
 * l1_ratio=r, C=1/(a·W)). Solver: cyclic coordinate descent over the non-zero
 * coefficients with periodic full sweeps, finished by exact active-set steps (the
 * quadratic on the non-zero coefficients, signs held, solved directly), so answers are
 * exact to rounding once the zero pattern is found; the classifier wraps this in
 * proximal Newton steps (a weighted least-squares model of the log-loss, solved as
 * above, then a line search on the true objective). Stops when a sweep moves no
 * coefficient by more than tol (scaled by the target's spread; log-odds for the
 * classifier).
 *
 * Thread safety: a fitted model may be used for predict from several threads at once.
 */
#ifndef HML_MODEL_LINEAR_H
#define HML_MODEL_LINEAR_H

#include <stddef.h>
#include "harness/model.h"

extern const struct hml_model_vt hml_model_logistic_regression;
extern const struct hml_model_vt hml_model_elastic_net;

/* How many coefficient vectors m has: 1 for regression and binary classification, the
 * number of classes for a multinomial model; 0 when m is not a fitted linear model. */
size_t hml_linear_outputs(const struct hml_model *m);

/* Copies the fitted coefficients in the units of the raw inputs, so that for output k
 *     eta_k = intercept[k] + Σ_j coef[k·cols + j] · x_j      (x imputed, not standardised)
 * is the linear predictor (log-odds, softmax logit, or the regression value).
 * in:  m, a fitted logistic_regression or elastic_net model; cols, the model's columns.
 * out: coef, hml_linear_outputs(m) × cols values; intercept, hml_linear_outputs(m) values
 *      (may be NULL). Constant columns read 0.
 * Returns the number of vectors written, or 0 (nothing written) when m is not a fitted
 * linear model or cols differs from the columns it was fitted on. The importance slot of
 * the vtable gives the standardised magnitudes instead (|b_j|, averaged over classes). */
size_t hml_linear_coefficients(const struct hml_model *m, double *coef, size_t cols, double *intercept);

#endif
