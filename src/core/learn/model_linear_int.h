/* model_linear_int.h — internals shared by model_linear.c (vtables, data preparation,
 * predict, save/load), model_linear_logit.c (Newton and L-BFGS for the logistic loss)
 * and model_linear_cd.c (coordinate descent for the elastic net).
 *
 * NOTE: the fitted state below is what save/load serialise; when adding a field, update
 * blob_size/encode/decode in model_linear.c and bump LIN_FORMAT_VERSION.
 */
#ifndef HML_MODEL_LINEAR_INT_H
#define HML_MODEL_LINEAR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/model.h"

#define HML__LIN_CELLS_MAX ((size_t)1 << 27) /* rows × cols of one fit (1 GiB as doubles)   */
#define HML__LIN_COLS_MAX ((size_t)1 << 20)
#define HML__LIN_CLASSES_MAX 1024
#define HML__LIN_NEWTON_DIM_MAX 512          /* auto solver: Newton up to this many unknowns */
#define HML__LIN_NEWTON_FLOPS_MAX 2e10       /* … and this much work per Hessian             */

enum hml__lin_kind { HML__LIN_LOGISTIC = 1, HML__LIN_ENET = 2 };
enum hml__lin_solver { HML__LIN_AUTO = 0, HML__LIN_NEWTON = 1, HML__LIN_LBFGS = 2 };

struct hml__lin_params {
    double C;         /* logistic: inverse L2 strength                       */
    bool penalised;   /* logistic: penalty "l2" (true) or "none"              */
    double alpha;     /* elastic net: overall strength                       */
    double l1_ratio;  /* elastic net: L1 share                               */
    bool fit_intercept;
    int max_iter;
    double tol;
    enum hml__lin_solver solver;
};

struct hml__linear {
    struct hml_model base; /* first: the vtable pointer                         */
    enum hml__lin_kind kind;
    enum hml_model_mode mode;
    struct hml__lin_params par;
    /* fitted state: the arrays live in one allocation, `store`; NULL before fit */
    bool fitted, converged;
    uint32_t iterations;
    size_t cols, n_classes; /* n_classes 0 for a regressor                     */
    size_t outs;            /* coefficient vectors: 1, or n_classes when > 2   */
    double *store;
    double *median;         /* cols: imputation values                          */
    double *mean, *scale;   /* cols: standardisation (scale 1 for constants)    */
    double *coef;           /* outs × cols, standardised space                  */
    double *intercept;      /* outs, standardised space                         */
};

/* The standardised training problem handed to a solver. Owned by the fit call. */
struct hml__lin_design {
    size_t n;       /* rows                                                 */
    size_t p;       /* active (non-constant) columns                        */
    size_t icpt;    /* 1 when column 0 of zf is the all-ones intercept      */
    size_t p1;      /* p + icpt: unknowns per output                        */
    double *zf;     /* n × p1, column-major                                 */
    const double *y;
    const double *w; /* n weights (ones when the caller gave none)          */
    double wsum;
};

/* Bookkeeping of one solver run. */
struct hml__lin_run {
    const struct hml_fit_ctl *ctl; /* may be NULL */
    uint32_t iterations;
    bool converged;
};

/* Reports progress and returns HML_ECONFLICT "cancelled" (with a hint) when the caller
 * raised ctl->cancel; call between iterations. */
enum hml_status hml__lin_tick(struct hml__lin_run *run, double done, double total, const char *what,
                              struct hml_error *err);

/* Logistic loss + L2. theta holds outs × p1 values (output k at theta + k·p1; entry 0 is
 * the intercept when d->icpt): in, the start; out, the solution. outs is 1 (sigmoid) or
 * the number of classes (softmax, classes ≥ 3). */
enum hml_status hml__lin_logistic_solve(const struct hml__lin_design *d, size_t outs,
                                        const struct hml__lin_params *par, struct hml__lin_run *run,
                                        double *theta, struct hml_error *err);

/* Elastic net by coordinate descent; mode picks squared error or the binary log-loss.
 * theta holds p1 values (same layout, one output): in, ignored; out, the solution. */
enum hml_status hml__lin_enet_solve(const struct hml__lin_design *d, enum hml_model_mode mode,
                                    const struct hml__lin_params *par, struct hml__lin_run *run,
                                    double *theta, struct hml_error *err);

/* Points m's state arrays (median … intercept) into one new zeroed allocation for cols
 * columns and outs outputs, freeing the old one; sets m->cols and m->outs. NULL on OOM
 * (m unchanged). */
double *hml__lin_state_alloc(struct hml__linear *m, size_t cols, size_t outs);
void hml__lin_free(struct hml_model *m);

/* save/load (model_linear_blob.c). load checks that the blob belongs to vt. */
enum hml_status hml__lin_save(const struct hml_model *m, struct hml_buf *out, struct hml_error *err);
enum hml_status hml__lin_load(const struct hml_model_vt *vt, const void *data, size_t len, struct hml_model **out,
                              struct hml_error *err);

/* Fills err for a failed allocation and returns HML_ENOMEM. */
enum hml_status hml__lin_oom(struct hml_error *err);

/* Numerically safe pieces of the logistic loss. */
double hml__lin_sigmoid(double eta);
double hml__lin_logloss(double eta, double y); /* log(1 + e^eta) - y·eta */

#endif
