/* model_mlp.c — the mlp backend: parameters, data checks, imputation and
 * standardisation, the epoch loop with early stopping, predict, and the vtable. The
 * network itself is in model_mlp_net.c, save/load in model_mlp_blob.c; what the model
 * does is documented in model_mlp_int.h. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/stats.h"
#include "model_mlp_int.h"

#define PREDICT_CHUNK 1024 /* rows standardised and pushed through the network at once */
#define WHERE_FIT "models.fit"

static const struct hml_model_param mlp_params[] = {
    {"hidden_layers", HML_MP_STR, "128,64", 1, 0, NULL,
     "units per hidden layer as a comma-separated string, e.g. \"64,32\" (up to 16 layers of 1..4096); \"\" = none"},
    {"dropout", HML_MP_NUM, "0", 0, 0.9, NULL, "probability of zeroing a hidden unit in training (inverted dropout)"},
    {"batch_norm", HML_MP_BOOL, "false", 1, 0, NULL, "batch normalisation between each hidden layer's linear map and ReLU"},
    {"learning_rate", HML_MP_NUM, "0.001", 1e-9, 1, NULL, "Adam step size (scaled by the bias corrections of the moment estimates)"},
    {"beta1", HML_MP_NUM, "0.9", 0, 0.999999, NULL, "Adam decay rate of the gradient's running mean"},
    {"beta2", HML_MP_NUM, "0.999", 0, 0.99999999, NULL, "Adam decay rate of the squared gradient's running mean"},
    {"eps", HML_MP_NUM, "1e-8", 1e-12, 1, NULL, "Adam's term added to the root mean square in the denominator"},
    {"weight_decay", HML_MP_NUM, "0", 0, 100, NULL,
     "decoupled (AdamW) decay: each step multiplies weight matrices by 1 - learning_rate*weight_decay; biases and "
     "batch-norm parameters are not decayed"},
    {"batch_size", HML_MP_INT, "32", 1, HML__MLP_BATCH_MAX, NULL, "rows per mini-batch (a last batch of one row joins the one before)"},
    {"max_epochs", HML_MP_INT, "100", 1, HML__MLP_EPOCHS_MAX, NULL, "most passes over the training rows"},
    {"patience", HML_MP_INT, "10", 0, HML__MLP_EPOCHS_MAX, NULL,
     "stop after this many epochs without a lower validation loss and keep the best epoch's weights; 0 = no early stopping"},
    {"validation_fraction", HML_MP_NUM, "0.1", 0, 0.5, NULL,
     "share of the training rows held out (seeded random) for early stopping when no hold-out is given; 0 = none"},
    {0}};

/* ---- create / free ----------------------------------------------------------------- */

static enum hml_status bad_layers(const char *s, const char *why, struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, "models.params", "mlp param 'hidden_layers' = '%s': %s", s, why);
    return hml_hint(err, "give units per hidden layer as a comma-separated string, e.g. \"64,32\" (at most %d layers "
                         "of 1..%d units), or \"\" for none",
                    HML__MLP_HIDDEN_MAX, HML__MLP_WIDTH_MAX);
}

enum hml_status hml__mlp_parse_layers(const char *s, size_t *hidden, size_t *width, struct hml_error *err)
{
    HML_ASSERT(s != NULL && hidden != NULL);
    size_t n = 0;
    const char *p = s;
    while (*p == ' ') p++;
    if (!*p) {
        *hidden = 0;
        return HML_OK;
    }
    for (;;) {
        while (*p == ' ') p++;
        if (*p < '0' || *p > '9') return bad_layers(s, *p == ',' || !*p ? "an entry is empty" : "an entry is not a whole number", err);
        unsigned long v = 0;
        while (*p >= '0' && *p <= '9' && v <= HML__MLP_WIDTH_MAX) v = v * 10 + (unsigned long)(*p++ - '0');
        for (; *p >= '0' && *p <= '9'; p++) v = HML__MLP_WIDTH_MAX + 1ul; /* too long: no overflow */
        while (*p == ' ') p++;
        if (*p && *p != ',') return bad_layers(s, "an entry is not a whole number", err);
        if (v < 1 || v > HML__MLP_WIDTH_MAX) return bad_layers(s, "a layer must have 1 to 4096 units", err);
        if (n == HML__MLP_HIDDEN_MAX) return bad_layers(s, "more than 16 hidden layers", err);
        width[n++] = (size_t)v;
        if (!*p) break;
        p++;
    }
    *hidden = n;
    return HML_OK;
}

static enum hml_status read_params(const json_t *params, struct hml__mlp_params *p, struct hml_error *err)
{
    const struct hml_model_vt *vt = &hml_model_mlp;
    enum hml_status rc = hml__mlp_parse_layers(hml_model_param_str(vt, params, "hidden_layers"), &p->hidden, p->width, err);
    if (rc) return rc;
    p->dropout = hml_model_param_num(vt, params, "dropout");
    p->batch_norm = hml_model_param_num(vt, params, "batch_norm") != 0;
    p->learning_rate = hml_model_param_num(vt, params, "learning_rate");
    p->beta1 = hml_model_param_num(vt, params, "beta1");
    p->beta2 = hml_model_param_num(vt, params, "beta2");
    p->eps = hml_model_param_num(vt, params, "eps");
    p->weight_decay = hml_model_param_num(vt, params, "weight_decay");
    p->batch_size = (uint32_t)hml_model_param_num(vt, params, "batch_size");
    p->max_epochs = (uint32_t)hml_model_param_num(vt, params, "max_epochs");
    p->patience = (uint32_t)hml_model_param_num(vt, params, "patience");
    p->validation_fraction = hml_model_param_num(vt, params, "validation_fraction");
    if (p->learning_rate * p->weight_decay >= 1) {
        hml_fail(err, HML_EINVAL, "models.params", "mlp learning_rate × weight_decay = %g would flip the weights' sign",
                 p->learning_rate * p->weight_decay);
        return hml_hint(err, "keep learning_rate × weight_decay below 1 (typical weight_decay: 1e-4 to 0.1)");
    }
    return HML_OK;
}

static enum hml_status mlp_create(const json_t *params, enum hml_model_mode mode, struct hml_model **out,
                                  struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    if (mode != HML_MODE_CLASSIFIER && mode != HML_MODE_REGRESSOR) {
        hml_fail(err, HML_EINVAL, "models.create", "unknown mode %d for mlp", (int)mode);
        return hml_hint(err, "use classifier or regressor");
    }
    struct hml__mlp_params par = {0};
    enum hml_status rc = hml_model_params_check(&hml_model_mlp, params, err);
    if (!rc) rc = read_params(params, &par, err);
    if (rc) return rc;
    struct hml__mlp *m = hml_calloc(1, sizeof *m);
    if (!m) return hml_fail(err, HML_ENOMEM, "models.create", "out of memory creating an mlp model");
    m->base.vt = &hml_model_mlp;
    m->mode = mode;
    m->par = par;
    *out = &m->base;
    return HML_OK;
}

void hml__mlp_free(struct hml_model *base)
{
    struct hml__mlp *m = (struct hml__mlp *)base;
    if (!m) return;
    hml_free(m->median);
    hml_free(m->net.theta);
    hml_free(m);
}

size_t hml__mlp_outputs(enum hml_model_mode mode, size_t n_classes)
{
    return mode == HML_MODE_CLASSIFIER && n_classes > 2 ? n_classes : 1;
}

bool hml__mlp_stats_alloc(struct hml__mlp *m, size_t cols)
{
    double *s = hml_calloc(3 * cols + 1, sizeof *s);
    if (!s) return false;
    hml_free(m->median);
    m->median = s;
    m->mean = s + cols;
    m->scale = s + 2 * cols;
    m->cols = cols;
    return true;
}

enum hml_status hml__mlp_net_alloc(struct hml__mlp_net *net, const struct hml__mlp_params *par, size_t cols,
                                   size_t outs, struct hml_error *err)
{
    HML_ASSERT(cols >= 1 && outs >= 1);
    memset(net, 0, sizeof *net);
    net->hidden = par->hidden;
    net->width[0] = cols;
    for (size_t l = 0; l < par->hidden; l++) net->width[l + 1] = par->width[l];
    net->width[par->hidden + 1] = outs;
    net->bn = par->batch_norm;
    net->dropout = (float)par->dropout;
    if (!hml__mlp_layout(net)) {
        hml_fail(err, HML_ELIMIT, WHERE_FIT, "the network would have more than %zu parameters", HML__MLP_PARAMS_MAX);
        return hml_hint(err, "use fewer or narrower hidden_layers, or fewer input columns");
    }
    net->theta = hml_calloc(net->n_theta + net->n_running + 1, sizeof *net->theta);
    if (!net->theta) return hml_fail(err, HML_ENOMEM, WHERE_FIT, "out of memory for the network's parameters");
    net->running = net->theta + net->n_theta;
    return HML_OK;
}

uint32_t hml__mlp_epochs_run(const struct hml_model *m)
{
    return m && m->vt == &hml_model_mlp ? ((const struct hml__mlp *)m)->epochs_run : 0;
}

uint32_t hml__mlp_best_epoch(const struct hml_model *m)
{
    return m && m->vt == &hml_model_mlp ? ((const struct hml__mlp *)m)->best_epoch : 0;
}

/* ---- fit: checks ------------------------------------------------------------------- */

static enum hml_status check_shape(const struct hml__mlp *m, const struct hml_fit_data *d, struct hml_error *err)
{
    if (!d->x || !d->y || d->rows == 0 || d->cols == 0) {
        hml_fail(err, HML_EINVAL, WHERE_FIT, "mlp needs at least one row and one column with targets");
        return hml_hint(err, "check the filters and folds that select the training rows, and the feature list");
    }
    if (d->cols > HML__MLP_COLS_MAX || d->rows > HML__MLP_CELLS_MAX / d->cols) {
        hml_fail(err, HML_ELIMIT, WHERE_FIT, "%zu rows × %zu columns exceed mlp's limit of %zu cells", d->rows, d->cols,
                 HML__MLP_CELLS_MAX);
        return hml_hint(err, "subsample the rows or select fewer features (HML__MLP_CELLS_MAX in model_mlp_int.h)");
    }
    if (m->mode == HML_MODE_CLASSIFIER && (d->n_classes < 2 || d->n_classes > HML__MLP_CLASSES_MAX)) {
        hml_fail(err, HML_EINVAL, WHERE_FIT, "an mlp classifier needs 2..%d classes, not %zu", HML__MLP_CLASSES_MAX,
                 d->n_classes);
        return hml_hint(err, "classification targets are class indices 0..n_classes-1; use mode regressor for numbers");
    }
    if (d->x_valid && d->rows_valid > 0 && !d->y_valid) {
        hml_fail(err, HML_EINVAL, WHERE_FIT, "the hold-out has rows but no targets");
        return hml_hint(err, "pass y_valid with x_valid");
    }
    for (size_t j = 0; d->categorical && j < d->cols; j++)
        if (d->categorical[j]) {
            hml_fail(err, HML_EINVAL, WHERE_FIT, "mlp takes no categorical codes, and column '%s' holds them",
                     d->feature_names && d->feature_names[j] ? d->feature_names[j] : "?");
            return hml_hint(err, "one-hot encode categorical columns for mlp (it lacks the categorical capability)");
        }
    return HML_OK;
}

static enum hml_status check_targets(const struct hml__mlp *m, const double *y, const double *w, size_t rows,
                                     size_t n_classes, struct hml_error *err)
{
    double wsum = 0;
    for (size_t i = 0; i < rows; i++) {
        bool bad = m->mode == HML_MODE_REGRESSOR ? !isfinite(y[i])
                                                 : !(y[i] >= 0 && y[i] < (double)n_classes && y[i] == floor(y[i]));
        if (bad) {
            hml_fail(err, HML_EINVAL, WHERE_FIT, "target of row %zu is %g, not a %s", i, y[i],
                     m->mode == HML_MODE_REGRESSOR ? "finite number" : "class index");
            return hml_hint(err, "drop rows with a missing target; classes are 0..%zu", n_classes ? n_classes - 1 : 0);
        }
        double wi = w ? w[i] : 1;
        if (!(wi >= 0 && isfinite(wi))) {
            hml_fail(err, HML_EINVAL, WHERE_FIT, "weight of row %zu is %g", i, wi);
            return hml_hint(err, "sample weights must be finite and not negative");
        }
        wsum += wi;
    }
    if (!(wsum > 0) || !isfinite(wsum)) {
        hml_fail(err, HML_EINVAL, WHERE_FIT, "the sample weights sum to %g", wsum);
        return hml_hint(err, "give at least one row a positive weight (and keep the sum finite)");
    }
    return HML_OK;
}

static enum hml_status check_finite(const float *x, size_t rows, size_t cols, struct hml_error *err)
{
    for (size_t i = 0; i < rows * cols; i++)
        if (isinf(x[i])) {
            hml_fail(err, HML_EINVAL, WHERE_FIT, "column %zu of row %zu is infinite", i % cols, i / cols);
            return hml_hint(err, "replace infinities with NaN (missing, imputed by the median) or a finite value");
        }
    return HML_OK;
}

static enum hml_status check_data(const struct hml__mlp *m, const struct hml_fit_data *d, struct hml_error *err)
{
    enum hml_status rc = check_shape(m, d, err);
    size_t k = m->mode == HML_MODE_CLASSIFIER ? d->n_classes : 0;
    if (!rc) rc = check_targets(m, d->y, d->w, d->rows, k, err);
    if (!rc) rc = check_finite(d->x, d->rows, d->cols, err);
    if (rc || !d->x_valid || !d->rows_valid) return rc;
    rc = check_targets(m, d->y_valid, d->w_valid, d->rows_valid, k, err);
    if (rc) hml_error_prefix(err, "hold-out");
    return rc ? rc : check_finite(d->x_valid, d->rows_valid, d->cols, err);
}

/* ---- fit: imputation and standardisation -------------------------------------------- */

/* The rows that train (positive weight), their weights scaled to mean 1. */
struct prep {
    size_t n;
    size_t *row;  /* n indices into the caller's rows */
    float *z;     /* n × cols, imputed and standardised */
    float *y;     /* n: 0/1, class index, or standardised value */
    float *w;     /* n */
};

static void stats(struct hml__mlp *m, const struct hml_fit_data *d, const struct prep *p, double *scratch)
{
    for (size_t j = 0; j < d->cols; j++) {
        size_t seen = 0;
        for (size_t r = 0; r < p->n; r++) {
            float v = d->x[p->row[r] * d->cols + j];
            if (!isnan(v)) scratch[seen++] = v;
        }
        m->median[j] = seen ? hml_median_inplace(scratch, seen) : 0; /* all missing: 0, then constant */
        double sw = 0, mean = 0, var = 0;
        for (size_t r = 0; r < p->n; r++) {
            float v = d->x[p->row[r] * d->cols + j];
            double x = isnan(v) ? m->median[j] : v;
            sw += p->w[r];
            mean += p->w[r] * (x - mean) / sw; /* running weighted mean: no cancellation */
        }
        for (size_t r = 0; r < p->n; r++) {
            float v = d->x[p->row[r] * d->cols + j];
            double x = isnan(v) ? m->median[j] : v;
            var += p->w[r] * (x - mean) * (x - mean);
        }
        double sd = sqrt(var / sw);
        m->mean[j] = mean;
        m->scale[j] = sd > 1e-12 * fmax(1, fabs(mean)) && isfinite(sd) ? sd : 1;
    }
}

/* One row imputed and standardised, as fit and predict both see it. */
static void zrow(const struct hml__mlp *m, const float *x, float *z)
{
    for (size_t j = 0; j < m->cols; j++) {
        double v = isnan(x[j]) ? m->median[j] : (double)x[j];
        z[j] = (float)((v - m->mean[j]) / m->scale[j]);
    }
}

static void target_stats(struct hml__mlp *m, const double *y, const struct prep *p)
{
    m->y_mean = 0;
    m->y_scale = 1;
    if (m->mode != HML_MODE_REGRESSOR) return;
    double sw = 0, mean = 0, var = 0;
    for (size_t r = 0; r < p->n; r++) {
        sw += p->w[r];
        mean += p->w[r] * (y[p->row[r]] - mean) / sw;
    }
    for (size_t r = 0; r < p->n; r++) var += p->w[r] * (y[p->row[r]] - mean) * (y[p->row[r]] - mean);
    double sd = sqrt(var / sw);
    m->y_mean = mean;
    m->y_scale = sd > 1e-12 * fmax(1, fabs(mean)) && isfinite(sd) ? sd : 1;
}

static float target_value(const struct hml__mlp *m, double y)
{
    return (float)(m->mode == HML_MODE_REGRESSOR ? (y - m->y_mean) / m->y_scale : y);
}

static enum hml_status prepare(struct hml__mlp *m, const struct hml_fit_data *d, struct prep *p, struct hml_error *err)
{
    size_t n = 0;
    double wsum = 0;
    for (size_t i = 0; i < d->rows; i++) n += !d->w || d->w[i] > 0;
    p->n = n;
    p->row = hml_malloc(n * sizeof *p->row);
    p->z = hml_malloc(n * d->cols * sizeof *p->z);
    p->y = hml_malloc(n * sizeof *p->y);
    p->w = hml_malloc(n * sizeof *p->w);
    if (!p->row || !p->z || !p->y || !p->w)
        return hml_fail(err, HML_ENOMEM, WHERE_FIT, "out of memory preparing %zu rows for mlp", n);
    for (size_t i = 0, r = 0; i < d->rows; i++)
        if (!d->w || d->w[i] > 0) {
            p->row[r] = i;
            wsum += (p->w[r++] = d->w ? (float)d->w[i] : 1);
        }
    double *col = hml_malloc((n ? n : 1) * sizeof *col);
    if (!col) return hml_fail(err, HML_ENOMEM, WHERE_FIT, "out of memory preparing %zu rows for mlp", n);
    stats(m, d, p, col);
    hml_free(col);
    target_stats(m, d->y, p);
    for (size_t r = 0; r < n; r++) {
        zrow(m, d->x + p->row[r] * d->cols, p->z + r * d->cols);
        p->y[r] = target_value(m, d->y[p->row[r]]);
        p->w[r] = (float)(p->w[r] * (double)n / wsum);
    }
    return HML_OK;
}

static void prep_fini(struct prep *p)
{
    hml_free(p->row);
    hml_free(p->z);
    hml_free(p->y);
    hml_free(p->w);
    memset(p, 0, sizeof *p);
}

/* ---- fit: the training loop ---------------------------------------------------------- */

struct trainer {
    struct hml__mlp *m;
    const struct hml_fit_ctl *ctl; /* may be NULL */
    enum hml__mlp_loss kind;
    const struct prep *p;
    struct hml__mlp_rng rng;
    struct hml__mlp_work work;
    struct hml__mlp_adam opt;
    size_t *order;  /* training rows (indices into p), reshuffled every epoch */
    size_t n_train;
    float *valid_z, *valid_y, *valid_w; /* validation rows; NULL without early stopping */
    size_t n_valid;
    double valid_wsum;
    float *grad, *best;                 /* n_theta; n_theta + n_running */
    float *bx, *by, *bw;                /* one mini-batch, gathered */
    float *store;                       /* owns grad … bw and opt.m/v */
};

static enum hml_status cancelled(const struct trainer *t, uint32_t epoch, struct hml_error *err)
{
    hml_fail(err, HML_ECONFLICT, WHERE_FIT, "cancelled");
    return hml_hint(err, "the caller cancelled the mlp fit in epoch %u of %u; run it again to finish", epoch,
                    t->m->par.max_epochs);
}

static void shuffle(size_t *a, size_t n, struct hml__mlp_rng *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)hml__mlp_rng_below(rng, i), x = a[i - 1];
        a[i - 1] = a[j];
        a[j] = x;
    }
}

static void gather(const struct trainer *t, const size_t *rows, size_t n)
{
    size_t cols = t->m->cols;
    for (size_t r = 0; r < n; r++) {
        memcpy(t->bx + r * cols, t->p->z + rows[r] * cols, cols * sizeof *t->bx);
        t->by[r] = t->p->y[rows[r]];
        t->bw[r] = t->p->w[rows[r]];
    }
}

/* One pass over the training rows; *loss is the mean training loss of its batches. */
static enum hml_status epoch(struct trainer *t, uint32_t e, double *loss, struct hml_error *err)
{
    const struct hml__mlp_net *net = &t->m->net;
    size_t n = t->n_train, bs = t->m->par.batch_size;
    double total = 0;
    shuffle(t->order, n, &t->rng);
    for (size_t s = 0; s < n;) {
        if (t->ctl && t->ctl->cancel && *t->ctl->cancel) return cancelled(t, e, err);
        size_t end = n - s > bs ? s + bs : n;
        if (n - end == 1) end = n; /* no batch of one row */
        size_t b = end - s;
        gather(t, t->order + s, b);
        hml__mlp_forward(net, &t->work, t->bx, b, true, &t->rng);
        total += hml__mlp_loss(net, &t->work, t->kind, t->by, t->bw, b) * (double)b;
        hml__mlp_backward(net, &t->work, t->kind, t->bx, t->by, t->bw, b, t->grad);
        hml__mlp_adam_step(net, &t->opt, t->grad);
        s = end;
    }
    *loss = total / (double)n;
    if (isfinite(*loss)) return HML_OK;
    hml_fail(err, HML_EINVAL, WHERE_FIT, "mlp training diverged in epoch %u (loss %g)", e, *loss);
    return hml_hint(err, "lower learning_rate (now %g), or turn on batch_norm", t->m->par.learning_rate);
}

static double valid_loss(struct trainer *t)
{
    const struct hml__mlp_net *net = &t->m->net;
    double sum = 0;
    for (size_t s = 0; s < t->n_valid; s += t->work.cap) {
        size_t b = t->n_valid - s < t->work.cap ? t->n_valid - s : t->work.cap;
        hml__mlp_forward(net, &t->work, t->valid_z + s * t->m->cols, b, false, NULL);
        sum += hml__mlp_loss(net, &t->work, t->kind, t->valid_y + s, t->valid_w + s, b) * (double)b;
    }
    return sum / t->valid_wsum;
}

static void progress(const struct trainer *t, uint32_t e, double train, double valid)
{
    if (!t->ctl || !t->ctl->progress) return;
    char msg[128];
    if (t->n_valid) snprintf(msg, sizeof msg, "epoch %u: train loss %.5g, validation loss %.5g", e, train, valid);
    else snprintf(msg, sizeof msg, "epoch %u: train loss %.5g", e, train);
    t->ctl->progress(t->ctl->progress_ud, e, t->m->par.max_epochs, msg);
}

static enum hml_status train(struct trainer *t, struct hml_error *err)
{
    struct hml__mlp *m = t->m;
    size_t keep = m->net.n_theta + m->net.n_running;
    double best = INFINITY;
    uint32_t since = 0;
    for (uint32_t e = 1; e <= m->par.max_epochs; e++) {
        double loss = 0, vloss = 0;
        enum hml_status rc = epoch(t, e, &loss, err);
        if (rc) return rc;
        m->epochs_run = e;
        if (t->n_valid) vloss = valid_loss(t);
        progress(t, e, loss, vloss);
        if (!t->n_valid) continue;
        if (vloss < best) {
            best = vloss;
            m->best_epoch = e;
            since = 0;
            memcpy(t->best, m->net.theta, keep * sizeof *t->best);
        } else if (++since >= m->par.patience) {
            m->stopped_early = e < m->par.max_epochs;
            break;
        }
    }
    if (t->n_valid && m->best_epoch) memcpy(m->net.theta, t->best, keep * sizeof *t->best);
    return HML_OK;
}

/* ---- fit: setting up ------------------------------------------------------------------ */

/* Validation rows from the caller's hold-out, standardised with the training statistics. */
static enum hml_status valid_from_holdout(struct trainer *t, const struct hml_fit_data *d, struct hml_error *err)
{
    size_t n = d->rows_valid, cols = t->m->cols;
    t->valid_z = hml_malloc(n * cols * sizeof *t->valid_z);
    t->valid_y = hml_malloc(n * sizeof *t->valid_y);
    t->valid_w = hml_malloc(n * sizeof *t->valid_w);
    if (!t->valid_z || !t->valid_y || !t->valid_w)
        return hml_fail(err, HML_ENOMEM, WHERE_FIT, "out of memory for mlp's hold-out rows");
    for (size_t i = 0; i < n; i++) {
        zrow(t->m, d->x_valid + i * cols, t->valid_z + i * cols);
        t->valid_y[i] = target_value(t->m, d->y_valid[i]);
        t->valid_w[i] = d->w_valid ? (float)d->w_valid[i] : 1;
        t->valid_wsum += t->valid_w[i];
    }
    t->n_valid = n;
    return HML_OK;
}

/* A seeded random validation_fraction of the prepared rows, copied out; the rest train. */
static enum hml_status valid_from_slice(struct trainer *t, struct hml_error *err)
{
    size_t n = t->p->n, nv = (size_t)floor(t->m->par.validation_fraction * (double)n), cols = t->m->cols;
    if (nv == 0 || nv >= n) return HML_OK;
    shuffle(t->order, n, &t->rng);
    t->valid_z = hml_malloc(nv * cols * sizeof *t->valid_z);
    t->valid_y = hml_malloc(nv * sizeof *t->valid_y);
    t->valid_w = hml_malloc(nv * sizeof *t->valid_w);
    if (!t->valid_z || !t->valid_y || !t->valid_w)
        return hml_fail(err, HML_ENOMEM, WHERE_FIT, "out of memory for mlp's validation rows");
    for (size_t r = 0; r < nv; r++) {
        size_t i = t->order[r];
        memcpy(t->valid_z + r * cols, t->p->z + i * cols, cols * sizeof *t->valid_z);
        t->valid_y[r] = t->p->y[i];
        t->valid_w[r] = t->p->w[i];
        t->valid_wsum += t->valid_w[r];
    }
    memmove(t->order, t->order + nv, (n - nv) * sizeof *t->order);
    t->n_valid = nv;
    t->n_train = n - nv;
    return HML_OK;
}

static enum hml_status trainer_init(struct trainer *t, const struct hml_fit_data *d, struct hml_error *err)
{
    struct hml__mlp *m = t->m;
    const struct hml__mlp_net *net = &m->net;
    t->order = hml_malloc(t->p->n * sizeof *t->order);
    if (!t->order) return hml_fail(err, HML_ENOMEM, WHERE_FIT, "out of memory");
    for (size_t i = 0; i < t->p->n; i++) t->order[i] = i;
    t->n_train = t->p->n;
    enum hml_status rc = HML_OK;
    if (m->par.patience > 0 && d->x_valid && d->rows_valid) rc = valid_from_holdout(t, d, err);
    else if (m->par.patience > 0) rc = valid_from_slice(t, err);
    if (rc) return rc;
    if (t->n_valid && !(t->valid_wsum > 0)) {
        hml_fail(err, HML_EINVAL, WHERE_FIT, "the hold-out's weights sum to %g", t->valid_wsum);
        return hml_hint(err, "give some hold-out rows a positive weight, or set patience 0");
    }
    size_t cap = m->par.batch_size + 1 < t->n_train ? m->par.batch_size + 1 : t->n_train;
    size_t nt = net->n_theta, cells = 3 * nt + (t->n_valid ? nt + net->n_running : 0) + cap * (m->cols + 2);
    if (!hml__mlp_work_init(&t->work, net, cap) || !(t->store = hml_calloc(cells + 1, sizeof *t->store)))
        return hml_fail(err, HML_ENOMEM, WHERE_FIT, "out of memory for mlp's training buffers");
    float *s = t->store;
    t->grad = s, s += nt;
    t->opt.m = s, s += nt;
    t->opt.v = s, s += nt;
    if (t->n_valid) t->best = s, s += nt + net->n_running;
    t->bx = s, s += cap * m->cols;
    t->by = s, s += cap;
    t->bw = s;
    t->opt.lr = m->par.learning_rate;
    t->opt.beta1 = m->par.beta1;
    t->opt.beta2 = m->par.beta2;
    t->opt.eps = m->par.eps;
    t->opt.weight_decay = m->par.weight_decay;
    return HML_OK;
}

static void trainer_fini(struct trainer *t)
{
    hml__mlp_work_fini(&t->work);
    hml_free(t->order);
    hml_free(t->valid_z);
    hml_free(t->valid_y);
    hml_free(t->valid_w);
    hml_free(t->store);
}

/* Fits into next, a fresh copy of the model's settings. */
static enum hml_status fit_into(struct hml__mlp *next, const struct hml_fit_data *d, const struct hml_fit_ctl *ctl,
                                struct hml_error *err)
{
    size_t outs = hml__mlp_outputs(next->mode, d->n_classes);
    next->n_classes = next->mode == HML_MODE_CLASSIFIER ? d->n_classes : 0;
    struct prep p = {0};
    struct trainer t = {.m = next, .ctl = ctl, .p = &p};
    t.kind = next->mode == HML_MODE_REGRESSOR ? HML__MLP_SQUARED : outs > 1 ? HML__MLP_SOFTMAX : HML__MLP_LOGISTIC;
    enum hml_status rc = hml__mlp_stats_alloc(next, d->cols) ? HML_OK
                                                             : hml_fail(err, HML_ENOMEM, WHERE_FIT, "out of memory");
    if (!rc) rc = hml__mlp_net_alloc(&next->net, &next->par, d->cols, outs, err);
    if (!rc) rc = prepare(next, d, &p, err);
    if (!rc) {
        hml__mlp_rng_seed(&t.rng, ctl ? ctl->seed : 0);
        hml__mlp_init(&next->net, &t.rng);
        rc = trainer_init(&t, d, err);
    }
    if (!rc && ctl && ctl->cancel && *ctl->cancel) rc = cancelled(&t, 0, err);
    if (!rc) rc = train(&t, err);
    trainer_fini(&t);
    prep_fini(&p);
    return rc;
}

static enum hml_status mlp_fit(struct hml_model *base, const struct hml_fit_data *d, const struct hml_fit_ctl *ctl,
                               struct hml_error *err)
{
    struct hml__mlp *m = (struct hml__mlp *)base;
    HML_ASSERT(base && base->vt == &hml_model_mlp);
    HML_ASSERT(d != NULL);
    enum hml_status rc = check_data(m, d, err);
    if (rc) return rc;
    struct hml__mlp next = {.base = m->base, .mode = m->mode, .par = m->par};
    rc = fit_into(&next, d, ctl, err);
    if (rc) {
        hml_free(next.median);
        hml_free(next.net.theta);
        return rc;
    }
    hml_free(m->median);
    hml_free(m->net.theta);
    next.fitted = true;
    *m = next;
    return HML_OK;
}

/* ---- predict ------------------------------------------------------------------------- */

static void map_outputs(const struct hml__mlp *m, const float *o, size_t n, double *out)
{
    size_t K = m->net.width[m->net.hidden + 1];
    for (size_t i = 0; i < n; i++) {
        if (m->mode == HML_MODE_REGRESSOR) {
            out[i] = (double)o[i] * m->y_scale + m->y_mean;
        } else if (K == 1) {
            double t = o[i] >= 0 ? exp(-(double)o[i]) : exp((double)o[i]);
            out[i] = o[i] >= 0 ? 1 / (1 + t) : t / (1 + t);
        } else {
            const float *r = o + i * K;
            double mx = r[0], s = 0;
            for (size_t k = 1; k < K; k++) mx = fmax(mx, r[k]);
            for (size_t k = 0; k < K; k++) s += (out[i * K + k] = exp(r[k] - mx));
            for (size_t k = 0; k < K; k++) out[i * K + k] /= s;
        }
    }
}

static enum hml_status mlp_predict(const struct hml_model *base, const float *x, size_t rows, size_t cols, double *out,
                                   struct hml_error *err)
{
    const struct hml__mlp *m = (const struct hml__mlp *)base;
    HML_ASSERT(base && base->vt == &hml_model_mlp);
    if (!m->fitted) {
        hml_fail(err, HML_ECONFLICT, "models.predict", "the mlp model is not fitted");
        return hml_hint(err, "fit the model (or load a saved one) first");
    }
    if (cols != m->cols) {
        hml_fail(err, HML_EINVAL, "models.predict", "got %zu columns, the model was fitted on %zu", cols, m->cols);
        return hml_hint(err, "pass the same feature columns, in the same order, as at fit");
    }
    if (rows == 0) return HML_OK;
    HML_ASSERT(x != NULL && out != NULL);
    size_t cap = rows < PREDICT_CHUNK ? rows : PREDICT_CHUNK, K = hml__mlp_outputs(m->mode, m->n_classes);
    struct hml__mlp_work work;
    float *z = hml_malloc(cap * cols * sizeof *z);
    if (!z || !hml__mlp_work_init(&work, &m->net, cap)) {
        hml_free(z);
        return hml_fail(err, HML_ENOMEM, "models.predict", "out of memory predicting with mlp");
    }
    for (size_t s = 0; s < rows; s += cap) {
        size_t n = rows - s < cap ? rows - s : cap;
        for (size_t i = 0; i < n; i++) zrow(m, x + (s + i) * cols, z + i * cols);
        hml__mlp_forward(&m->net, &work, z, n, false, NULL);
        map_outputs(m, work.out, n, out + s * K);
    }
    hml__mlp_work_fini(&work);
    hml_free(z);
    return HML_OK;
}

/* ---- vtable -------------------------------------------------------------------------- */

const struct hml_model_vt hml_model_mlp = {
    .version = HML_MODEL_API_VERSION,
    .name = "mlp",
    .engine = "native: multilayer perceptron, mini-batch AdamW on OpenBLAS sgemm (float32)",
    .caps = HML_CAP_CLASSIFIER | HML_CAP_REGRESSOR | HML_CAP_MULTICLASS | HML_CAP_WEIGHTS,
    .params = mlp_params,
    .create = mlp_create,
    .fit = mlp_fit,
    .predict = mlp_predict,
    .save = hml__mlp_save,
    .load = hml__mlp_load,
    .importance = NULL,
    .shap = NULL,
    .free = hml__mlp_free,
};
