/* model_mlp_int.h — internals of the mlp backend: a multilayer perceptron trained by
 * mini-batch Adam on OpenBLAS cblas_sgemm (float32).
 *
 * Files: model_mlp.c (parameters, data preparation, the fit loop, predict, vtable),
 * model_mlp_net.c (the network: layout, He initialisation, forward, backward, Adam, the
 * PRNG), model_mlp_blob.c (save/load).
 *
 * What the backend does
 * - Network: inputs → [Linear → (BatchNorm) → ReLU → (Dropout)] per hidden layer →
 *   Linear → output. One output (sigmoid log-loss) for binary, n_classes (softmax
 *   cross-entropy) for multiclass, one (squared error) for regression.
 * - Inputs: NaN is imputed with the training column's median, then every column is
 *   standardised with its weighted training mean and standard deviation (constant
 *   columns: scale 1). A regression target is standardised the same way inside the fit
 *   and predictions are mapped back.
 * - Rows with weight 0 are dropped before anything else (medians, standardisation, the
 *   validation split, batching), so they change nothing: the fit is bit-identical to one
 *   without those rows. The remaining weights are scaled to mean 1 (over the kept rows,
 *   validation slice included), and each mini-batch minimises mean_i(w_i · loss_i)
 *   (PyTorch's (w * loss).mean()); the validation loss is Σ w·loss / Σ w.
 * - Batch norm uses unweighted batch statistics (biased variance, eps 1e-5) in training
 *   and running averages (momentum 0.1, unbiased variance, as PyTorch) at predict. With
 *   batch norm a hidden layer has no bias (BN's shift takes its place). A final
 *   mini-batch of one row is merged into the one before (batch statistics of one row are
 *   meaningless), with or without batch norm so the batching never depends on it.
 * - Optimiser: Adam with bias correction; weight_decay is decoupled (AdamW: every weight
 *   matrix entry is multiplied by 1 − learning_rate·weight_decay before the Adam step);
 *   biases and batch-norm scale/shift are not decayed.
 * - Initialisation: He (Kaiming) normal, N(0, 2/fan_in), for every weight matrix; biases,
 *   BN shift 0; BN scale 1.
 * - Early stopping: with patience > 0, validation loss is measured after every epoch on
 *   the caller's hold-out (hml_fit_data x_valid; every training row then trains) or,
 *   without one, on a seeded random validation_fraction of the training rows (which then
 *   do not train; none when that is under one row). A strictly lower loss than the best
 *   so far saves the parameters and BN statistics; after patience epochs without one the
 *   fit stops, and the saved best epoch is the model. patience 0 trains max_epochs on
 *   every row and ignores any hold-out.
 * - Determinism: one PRNG (xoshiro256** seeded through splitmix64 from ctl->seed) drives
 *   initialisation, the validation split, the per-epoch shuffle and the dropout masks,
 *   in that order; the same data, params and seed give the same model bit for bit under
 *   the same OpenBLAS thread count (threaded sgemm partitions differently and can round
 *   differently: OPENBLAS_NUM_THREADS=1 is reproducible everywhere).
 * - Cancellation is checked before every mini-batch; progress is reported per epoch. A
 *   training loss that is no longer finite fails the fit (HML_EINVAL, lower learning_rate).
 * - Threads: ctl->nthread is not used. OpenBLAS's thread count is process-wide (set it with
 *   OPENBLAS_NUM_THREADS). OpenBLAS threads an sgemm once it is large enough — already a
 *   batch of 128 into 64 units from 40 inputs rounded differently on 2 threads than on
 *   1 — and that pays for wide layers (256,128 at batch 512 on 40,000 × 40: 0.21 s per
 *   3 epochs on 2 threads, 0.30 s on one).
 *   predict may run on one fitted model from several threads (its scratch is per call).
 *
 * NOTE: the fitted state below is what save/load serialise; when adding a field, update
 * model_mlp_blob.c and bump its FORMAT_VERSION.
 */
#ifndef HML_MODEL_MLP_INT_H
#define HML_MODEL_MLP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/model.h"

#define HML__MLP_HIDDEN_MAX 16                /* hidden layers                              */
#define HML__MLP_WIDTH_MAX 4096               /* units in one hidden layer                  */
#define HML__MLP_COLS_MAX ((size_t)1 << 20)   /* input columns                              */
#define HML__MLP_CELLS_MAX ((size_t)1 << 28)  /* rows × cols of one fit (1 GiB as floats)   */
#define HML__MLP_PARAMS_MAX ((size_t)1 << 26) /* trainable parameters (256 MiB as floats)   */
#define HML__MLP_CLASSES_MAX 1024
#define HML__MLP_BATCH_MAX 65536
#define HML__MLP_EPOCHS_MAX 100000
#define HML__MLP_BN_EPS 1e-5f
#define HML__MLP_BN_MOMENTUM 0.1f

enum hml__mlp_loss { HML__MLP_LOGISTIC = 1, HML__MLP_SOFTMAX = 2, HML__MLP_SQUARED = 3 };

/* A small PRNG of our own: xoshiro256** (Blackman & Vigna), seeded by splitmix64. */
struct hml__mlp_rng {
    uint64_t s[4];
};

void hml__mlp_rng_seed(struct hml__mlp_rng *r, uint64_t seed);
uint64_t hml__mlp_rng_next(struct hml__mlp_rng *r);
/* Uniform in [0, n) without modulo bias; n ≥ 1. */
uint64_t hml__mlp_rng_below(struct hml__mlp_rng *r, uint64_t n);
/* Standard normal (Box–Muller). */
double hml__mlp_rng_normal(struct hml__mlp_rng *r);

/* Architecture and parameters of a network. Layer l (0 ≤ l ≤ hidden) maps width[l]
 * inputs to width[l + 1] outputs; layer `hidden` is the output layer. Offsets index
 * theta (trainable) and running (BN statistics); an absent piece has offset SIZE_MAX. */
struct hml__mlp_net {
    size_t hidden;                           /* hidden layers                     */
    size_t width[HML__MLP_HIDDEN_MAX + 2];   /* width[0] = inputs, last = outputs */
    bool bn;
    float dropout;                           /* drop probability, 0 = none        */
    size_t w_off[HML__MLP_HIDDEN_MAX + 1];   /* width[l+1] × width[l], row-major  */
    size_t b_off[HML__MLP_HIDDEN_MAX + 1];   /* bias (absent on BN layers)        */
    size_t g_off[HML__MLP_HIDDEN_MAX + 1];   /* BN scale                          */
    size_t s_off[HML__MLP_HIDDEN_MAX + 1];   /* BN shift                          */
    size_t rm_off[HML__MLP_HIDDEN_MAX + 1];  /* BN running mean (in running)      */
    size_t rv_off[HML__MLP_HIDDEN_MAX + 1];  /* BN running variance               */
    size_t n_theta, n_running;
    float *theta;   /* n_theta; owned by whoever set it up */
    float *running; /* n_running */
};

/* Scratch for one mini-batch of up to cap rows: activations kept for the backward pass.
 * All pointers live in one allocation, `store`. */
struct hml__mlp_work {
    size_t cap;
    float *store;
    float *pre[HML__MLP_HIDDEN_MAX];  /* cap × width: BN output (or Z) before ReLU   */
    float *act[HML__MLP_HIDDEN_MAX];  /* cap × width: after ReLU and dropout         */
    float *xhat[HML__MLP_HIDDEN_MAX]; /* cap × width: normalised Z (BN only)         */
    float *mask[HML__MLP_HIDDEN_MAX]; /* cap × width: 0 or 1/(1−p) (dropout only)    */
    float *istd[HML__MLP_HIDDEN_MAX]; /* width: 1/sqrt(var + eps) of the batch (BN)  */
    float *out;                       /* cap × outputs: the network's raw outputs    */
    float *g_a, *g_b;                 /* cap × widest layer: backward ping-pong      */
};

/* Fills offsets, n_theta and n_running from hidden, width, bn. Returns false when the
 * parameter count exceeds HML__MLP_PARAMS_MAX. */
bool hml__mlp_layout(struct hml__mlp_net *net);
/* He-normal weights, zero biases and shifts, unit BN scales; running mean 0, var 1. */
void hml__mlp_init(struct hml__mlp_net *net, struct hml__mlp_rng *rng);

/* Allocates work for batches of up to cap rows. false on OOM (work zeroed). */
bool hml__mlp_work_init(struct hml__mlp_work *work, const struct hml__mlp_net *net, size_t cap);
void hml__mlp_work_fini(struct hml__mlp_work *work);

/* Forward pass over n ≤ work->cap rows of x (n × width[0], standardised); raw outputs
 * land in work->out (n × outputs). train: batch statistics (and running averages
 * updated), dropout masks drawn from rng; otherwise running statistics, no dropout, and
 * rng may be NULL. */
void hml__mlp_forward(const struct hml__mlp_net *net, struct hml__mlp_work *work, const float *x, size_t n,
                      bool train, struct hml__mlp_rng *rng);

/* Weighted mean loss of the last forward pass: Σ w_i·loss_i / n (w NULL = ones). y holds
 * 0/1 (logistic), class indices (softmax) or standardised values (squared). */
double hml__mlp_loss(const struct hml__mlp_net *net, const struct hml__mlp_work *work, enum hml__mlp_loss kind,
                     const float *y, const float *w, size_t n);

/* Gradient of hml__mlp_loss with respect to theta, after a forward pass in training
 * mode over the same rows; writes all n_theta entries of grad. Overwrites work's
 * buffers (no second backward without a new forward). */
void hml__mlp_backward(const struct hml__mlp_net *net, struct hml__mlp_work *work, enum hml__mlp_loss kind,
                       const float *x, const float *y, const float *w, size_t n, float *grad);

/* Adam state and settings. */
struct hml__mlp_adam {
    double lr, beta1, beta2, eps, weight_decay;
    uint64_t t;   /* steps taken */
    float *m, *v; /* n_theta each */
};

/* One AdamW step of theta along grad. */
void hml__mlp_adam_step(const struct hml__mlp_net *net, struct hml__mlp_adam *opt, const float *grad);

/* The backend's settings, from the parameter table. */
struct hml__mlp_params {
    size_t hidden;
    size_t width[HML__MLP_HIDDEN_MAX];
    double dropout;
    bool batch_norm;
    double learning_rate, beta1, beta2, eps, weight_decay;
    uint32_t batch_size, max_epochs, patience;
    double validation_fraction;
};

/* A model. The fitted half is set as a whole by a successful fit or load. */
struct hml__mlp {
    struct hml_model base;
    enum hml_model_mode mode;
    struct hml__mlp_params par;
    /* fitted state */
    bool fitted, stopped_early;
    uint32_t epochs_run, best_epoch; /* best_epoch is 1-based; 0 = no early stopping  */
    size_t cols, n_classes;          /* n_classes 0 for a regressor                  */
    double y_mean, y_scale;          /* regression target standardisation           */
    double *median, *mean, *scale;   /* cols each, in one allocation (median owns)   */
    struct hml__mlp_net net;         /* theta and running in one allocation (theta)  */
};

extern const struct hml_model_vt hml_model_mlp;

/* Parses "64,32" (spaces allowed) into *hidden widths; "" means no hidden layer. Anything
 * else fails with HML_EINVAL, saying what is wrong and how to write the list. */
enum hml_status hml__mlp_parse_layers(const char *s, size_t *hidden, size_t *width, struct hml_error *err);

/* Sets net's architecture for a model (par, cols, outputs), lays it out and allocates
 * theta + running in one zeroed block (owned by net->theta). HML_ELIMIT past
 * HML__MLP_PARAMS_MAX parameters, HML_ENOMEM; net->theta is NULL after either. */
enum hml_status hml__mlp_net_alloc(struct hml__mlp_net *net, const struct hml__mlp_params *par, size_t cols,
                                   size_t outs, struct hml_error *err);
/* Allocates median/mean/scale for cols columns, zeroed, freeing the old ones; false on
 * OOM (m unchanged). */
bool hml__mlp_stats_alloc(struct hml__mlp *m, size_t cols);
void hml__mlp_free(struct hml_model *m);

enum hml_status hml__mlp_save(const struct hml_model *m, struct hml_buf *out, struct hml_error *err);
enum hml_status hml__mlp_load(const void *data, size_t len, struct hml_model **out, struct hml_error *err);

/* Outputs of the network for a model: 1, or n_classes when > 2. */
size_t hml__mlp_outputs(enum hml_model_mode mode, size_t n_classes);

/* Tests: epochs run by the last fit and the best epoch (1-based, 0 without early stopping). */
uint32_t hml__mlp_epochs_run(const struct hml_model *m);
uint32_t hml__mlp_best_epoch(const struct hml_model *m);

#endif
