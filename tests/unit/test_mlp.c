/* test_mlp.c — the mlp backend: one training step against PyTorch 1.13
 * (tests/fixtures/mlp/mlp_ref.json, made by gen_mlp.py), the backward pass against
 * finite differences, learning (XOR, a smooth nonlinear signal, wine, diabetes), and
 * the contracts: weights, determinism, save/load, early stopping, cancellation,
 * imputation, parameter and data errors, allocation failures. */
#include "t.h"

#include <stdint.h>

#include "core/learn/model_mlp_int.h"
#include "harness/alloc.h"
#include "harness/frame.h"
#include "harness/io.h"
#include "harness/json.h"

#define FIXTURE "tests/fixtures/mlp/mlp_ref.json"

struct ds {
    float *x;
    double *y, *w;
    size_t rows, cols;
    size_t n_classes;
};

static void ds_free(struct ds *d)
{
    hml_free(d->x);
    hml_free(d->y);
    hml_free(d->w);
    memset(d, 0, sizeof *d);
}

static void ds_alloc(struct ds *d, size_t rows, size_t cols)
{
    d->rows = rows;
    d->cols = cols;
    d->x = hml_calloc(rows * cols + 1, sizeof *d->x);
    d->y = hml_calloc(rows + 1, sizeof *d->y);
    T_OK(d->x && d->y);
}

/* A shared dataset: every column but the target, as floats. */
static void ds_load(struct ds *d, const char *file, const char *target)
{
    struct hml_error err;
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep = {0};
    T_RC(hml_csv_read_file(t_shared_data(file), NULL, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    long ty = hml_frame_find(f, target);
    T_OK(ty >= 0);
    ds_alloc(d, f->nrows, f->ncols - 1);
    for (size_t i = 0; i < f->nrows; i++) {
        for (size_t c = 0, j = 0; c < f->ncols; c++)
            if ((long)c != ty) d->x[i * d->cols + j++] = (float)hml_column_num(f->cols[c], i);
        d->y[i] = hml_column_num(f->cols[ty], i);
    }
    hml_frame_free(f);
}

/* Rows [from, to) of d in the order perm (or as they are when NULL). */
static void ds_rows(struct ds *out, const struct ds *d, const size_t *perm, size_t from, size_t to)
{
    ds_alloc(out, to - from, d->cols);
    out->n_classes = d->n_classes;
    if (d->w) out->w = hml_malloc((to - from) * sizeof *out->w);
    for (size_t r = from; r < to; r++) {
        size_t i = perm ? perm[r] : r;
        memcpy(out->x + (r - from) * d->cols, d->x + i * d->cols, d->cols * sizeof *d->x);
        out->y[r - from] = d->y[i];
        if (d->w) out->w[r - from] = d->w[i];
    }
}

static struct hml_fit_data fit_data(const struct ds *d)
{
    struct hml_fit_data fd = {.x = d->x, .rows = d->rows, .cols = d->cols, .y = d->y, .w = d->w,
                              .n_classes = d->n_classes};
    return fd;
}

static struct hml_model *make(enum hml_model_mode mode, const char *params)
{
    struct hml_error err;
    json_t *p = NULL;
    if (params) T_RC(hml_json_parse(params, strlen(params), &p, &err), &err);
    const struct hml_model_vt *vt = hml_model_find("mlp");
    T_OK(vt == &hml_model_mlp);
    struct hml_model *m = NULL;
    T_RC(vt->create(p, mode, &m, &err), &err);
    json_decref(p);
    return m;
}

static struct hml_model *fit_seeded(enum hml_model_mode mode, const char *params, const struct ds *d, uint64_t seed)
{
    struct hml_error err;
    struct hml_model *m = make(mode, params);
    struct hml_fit_data fd = fit_data(d);
    struct hml_fit_ctl ctl = {.nthread = 1, .seed = seed};
    T_RC(m->vt->fit(m, &fd, &ctl, &err), &err);
    return m;
}

static struct hml_model *fit(enum hml_model_mode mode, const char *params, const struct ds *d)
{
    return fit_seeded(mode, params, d, 42);
}

static size_t per_row(const struct ds *d)
{
    return d->n_classes > 2 ? d->n_classes : 1;
}

static double *predict(const struct hml_model *m, const struct ds *d)
{
    struct hml_error err;
    double *p = hml_malloc(d->rows * per_row(d) * sizeof *p + 1);
    T_RC(m->vt->predict(m, d->x, d->rows, d->cols, p, &err), &err);
    return p;
}

static double accuracy(const struct hml_model *m, const struct ds *d)
{
    double *p = predict(m, d);
    size_t K = per_row(d), right = 0;
    for (size_t i = 0; i < d->rows; i++) {
        size_t best = 0;
        if (K == 1) best = p[i] > 0.5;
        else
            for (size_t k = 1; k < K; k++) best = p[i * K + k] > p[i * K + best] ? k : best;
        right += best == (size_t)d->y[i];
    }
    hml_free(p);
    return (double)right / (double)d->rows;
}

static double mse(const struct hml_model *m, const struct ds *d)
{
    double *p = predict(m, d), s = 0;
    for (size_t i = 0; i < d->rows; i++) s += (p[i] - d->y[i]) * (p[i] - d->y[i]);
    hml_free(p);
    return s / (double)d->rows;
}

/* ---- synthetic data ---------------------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;

static double unif(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

static double gauss(void)
{
    double u = unif(), v = unif();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* XOR-like: two features uniform on [-1, 1] (plus noise columns); class = same sign. */
static void xor_data(struct ds *d, size_t rows, size_t noise_cols)
{
    ds_alloc(d, rows, 2 + noise_cols);
    d->n_classes = 2;
    for (size_t i = 0; i < rows; i++) {
        float *x = d->x + i * d->cols;
        for (size_t j = 0; j < d->cols; j++) x[j] = (float)(2 * unif() - 1);
        d->y[i] = (x[0] > 0) == (x[1] > 0);
    }
}

/* A fixed permutation of 0..n-1. */
static size_t *permutation(size_t n)
{
    size_t *p = hml_malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(unif() * (double)i), t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    return p;
}

/* ---- learning ------------------------------------------------------------------------ */

TEST(mlp_learns_xor)
{
    struct ds train = {0}, test = {0};
    xor_data(&train, 600, 1);
    xor_data(&test, 400, 1);
    const char *params = "{\"hidden_layers\": \"16,16\", \"learning_rate\": 0.01, \"max_epochs\": 150, \"patience\": 0}";
    struct hml_model *m = fit(HML_MODE_CLASSIFIER, params, &train);
    double acc = accuracy(m, &test);
    printf("#   xor held-out accuracy %.4f after %u epochs\n", acc, hml__mlp_epochs_run(m));
    T_OK(acc >= 0.95);
    T_EQ(hml__mlp_epochs_run(m), 150);
    /* no hidden layer = a linear model, which cannot separate XOR */
    struct hml_model *lin = fit(HML_MODE_CLASSIFIER, "{\"hidden_layers\": \"\", \"max_epochs\": 50, \"patience\": 0}", &train);
    T_OK(accuracy(lin, &test) < 0.7);
    m->vt->free(m);
    lin->vt->free(lin);
    ds_free(&train);
    ds_free(&test);
}

/* y = sin(2·x0) + x1² − x0·x2 + noise, x ~ N(0, 1). */
static void smooth_data(struct ds *d, size_t rows)
{
    ds_alloc(d, rows, 3);
    for (size_t i = 0; i < rows; i++) {
        float *x = d->x + i * 3;
        for (int j = 0; j < 3; j++) x[j] = (float)gauss();
        d->y[i] = 10 + 3 * (sin(2 * x[0]) + x[1] * x[1] - x[0] * x[2]) + 0.1 * gauss();
    }
}

TEST(mlp_learns_a_nonlinear_regression)
{
    struct ds train = {0}, test = {0};
    smooth_data(&train, 2000);
    smooth_data(&test, 500);
    double mean = 0, var = 0;
    for (size_t i = 0; i < test.rows; i++) mean += test.y[i] / (double)test.rows;
    for (size_t i = 0; i < test.rows; i++) var += (test.y[i] - mean) * (test.y[i] - mean) / (double)test.rows;
    struct hml_model *m = fit(HML_MODE_REGRESSOR,
                              "{\"hidden_layers\": \"64,32\", \"learning_rate\": 0.003, \"batch_size\": 64, "
                              "\"max_epochs\": 100, \"patience\": 10}",
                              &train);
    double r2 = 1 - mse(m, &test) / var;
    printf("#   nonlinear regression held-out R² %.4f after %u epochs (best %u)\n", r2, hml__mlp_epochs_run(m),
           hml__mlp_best_epoch(m));
    T_OK(r2 >= 0.95);
    m->vt->free(m);
    ds_free(&train);
    ds_free(&test);
}

/* wine.csv is sorted by cultivar: a fixed shuffle, then 70% train / 30% test. */
TEST(mlp_multiclass_wine)
{
    struct ds all = {0}, train = {0}, test = {0};
    ds_load(&all, "wine.csv", "cultivar");
    all.n_classes = 3;
    size_t *perm = permutation(all.rows), cut = all.rows * 7 / 10;
    ds_rows(&train, &all, perm, 0, cut);
    ds_rows(&test, &all, perm, cut, all.rows);
    struct hml_model *m = fit(HML_MODE_CLASSIFIER, "{\"hidden_layers\": \"32\", \"max_epochs\": 100}", &train);
    double acc = accuracy(m, &test);
    printf("#   wine held-out accuracy %.4f (%zu test rows) after %u epochs\n", acc, test.rows, hml__mlp_epochs_run(m));
    T_OK(acc >= 0.9);
    /* probabilities of a row sum to 1 */
    double *p = predict(m, &test);
    for (size_t i = 0; i < test.rows; i++) T_NEAR(p[3 * i] + p[3 * i + 1] + p[3 * i + 2], 1, 1e-12);
    hml_free(p);
    m->vt->free(m);
    hml_free(perm);
    ds_free(&all);
    ds_free(&train);
    ds_free(&test);
}

TEST(mlp_regression_diabetes_beats_the_mean)
{
    struct ds all = {0}, train = {0}, test = {0};
    ds_load(&all, "diabetes.csv", "progression");
    size_t *perm = permutation(all.rows), cut = all.rows * 7 / 10;
    ds_rows(&train, &all, perm, 0, cut);
    ds_rows(&test, &all, perm, cut, all.rows);
    double mean = 0, base = 0;
    for (size_t i = 0; i < train.rows; i++) mean += train.y[i] / (double)train.rows;
    for (size_t i = 0; i < test.rows; i++) base += (test.y[i] - mean) * (test.y[i] - mean) / (double)test.rows;
    struct hml_model *m = fit(HML_MODE_REGRESSOR, "{\"hidden_layers\": \"32,16\", \"dropout\": 0.2, \"max_epochs\": 300}",
                              &train);
    double got = mse(m, &test);
    printf("#   diabetes held-out MSE %.1f vs %.1f predicting the training mean (R² %.3f), %u epochs\n", got, base,
           1 - got / base, hml__mlp_epochs_run(m));
    T_OK(got < 0.8 * base);
    m->vt->free(m);
    hml_free(perm);
    ds_free(&all);
    ds_free(&train);
    ds_free(&test);
}

/* ---- the network against PyTorch ------------------------------------------------------ */

/* Appends the numbers of a (nested) JSON array to out; returns the new count. */
static size_t flatten(const json_t *a, double *out, size_t n, size_t cap)
{
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        if (json_is_array(v)) n = flatten(v, out, n, cap);
        else if (n < cap) out[n++] = json_number_value(v);
        else t_failf(__FILE__, __LINE__, "fixture array too long");
    }
    return n;
}

/* Copies a JSON array into n floats at dst (asserting the length). */
static void put_floats(const json_t *a, float *dst, size_t n)
{
    double tmp[256];
    T_EQ(flatten(a, tmp, 0, 256), n);
    for (size_t i = 0; i < n; i++) dst[i] = (float)tmp[i];
}

/* Compares n floats with a JSON array: |got − want| ≤ tol·max(1, |want|). */
static void near_floats(const char *what, size_t l, const float *got, const json_t *want, size_t n, double tol)
{
    double tmp[256];
    T_EQ(flatten(want, tmp, 0, 256), n);
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - tmp[i]) <= tol * fmax(1, fabs(tmp[i]))))
            t_failf(__FILE__, __LINE__, "%s layer %zu [%zu]: %.9g vs torch %.9g", what, l, i, (double)got[i], tmp[i]);
}

static enum hml__mlp_loss kind_of(const char *s)
{
    return !strcmp(s, "logistic") ? HML__MLP_LOGISTIC : !strcmp(s, "softmax") ? HML__MLP_SOFTMAX : HML__MLP_SQUARED;
}

/* Lays out the case's network and sets its starting parameters. */
static void net_from_case(const json_t *c, size_t cols, struct hml__mlp_net *net)
{
    const json_t *hidden = json_object_get(c, "hidden"), *init = json_object_get(c, "init");
    memset(net, 0, sizeof *net);
    net->hidden = json_array_size(hidden);
    net->width[0] = cols;
    for (size_t l = 0; l < net->hidden; l++) net->width[l + 1] = (size_t)json_integer_value(json_array_get(hidden, l));
    net->width[net->hidden + 1] = (size_t)hml_json_int(c, "outputs", 1);
    net->bn = json_is_true(json_object_get(c, "batch_norm"));
    T_OK(hml__mlp_layout(net));
    net->theta = hml_calloc(net->n_theta + net->n_running + 1, sizeof *net->theta);
    net->running = net->theta + net->n_theta;
    for (size_t l = 0; l <= net->hidden; l++) {
        const json_t *L = json_array_get(init, l);
        size_t out = net->width[l + 1];
        put_floats(json_object_get(L, "W"), net->theta + net->w_off[l], out * net->width[l]);
        if (net->b_off[l] != SIZE_MAX) put_floats(json_object_get(L, "b"), net->theta + net->b_off[l], out);
        if (net->g_off[l] == SIZE_MAX) continue;
        put_floats(json_object_get(L, "gamma"), net->theta + net->g_off[l], out);
        put_floats(json_object_get(L, "beta"), net->theta + net->s_off[l], out);
        for (size_t j = 0; j < out; j++) net->running[net->rv_off[l] + j] = 1;
    }
}

/* Compares theta-shaped values (parameters or their gradient) with the fixture's layers. */
static void check_layers(const struct hml__mlp_net *net, const float *vals, const json_t *layers, const char *what,
                         double tol, bool running)
{
    for (size_t l = 0; l <= net->hidden; l++) {
        const json_t *L = json_array_get(layers, l);
        size_t out = net->width[l + 1];
        near_floats(what, l, vals + net->w_off[l], json_object_get(L, "W"), out * net->width[l], tol);
        if (net->b_off[l] != SIZE_MAX) near_floats(what, l, vals + net->b_off[l], json_object_get(L, "b"), out, tol);
        if (net->g_off[l] == SIZE_MAX) continue;
        near_floats(what, l, vals + net->g_off[l], json_object_get(L, "gamma"), out, tol);
        near_floats(what, l, vals + net->s_off[l], json_object_get(L, "beta"), out, tol);
        if (!running) continue;
        near_floats("running mean", l, net->running + net->rm_off[l], json_object_get(L, "running_mean"), out, tol);
        near_floats("running var", l, net->running + net->rv_off[l], json_object_get(L, "running_var"), out, tol);
    }
}

static void check_torch_case(const json_t *root, const json_t *c)
{
    size_t n = json_array_size(json_object_get(root, "x")), cols = 3;
    float x[64], y[16], w[16];
    put_floats(json_object_get(root, "x"), x, n * cols);
    put_floats(json_object_get(c, "y"), y, n);
    const json_t *wj = json_object_get(c, "w");
    if (json_is_array(wj)) put_floats(wj, w, n);
    enum hml__mlp_loss kind = kind_of(json_string_value(json_object_get(c, "kind")));
    struct hml__mlp_net net;
    net_from_case(c, cols, &net);
    size_t K = net.width[net.hidden + 1];
    struct hml__mlp_work work;
    T_OK(hml__mlp_work_init(&work, &net, n));
    float *grad = hml_calloc(3 * net.n_theta, sizeof *grad);
    struct hml__mlp_adam opt = {.lr = hml_json_num(root, "lr", 0), .beta1 = hml_json_num(root, "beta1", 0),
                                .beta2 = hml_json_num(root, "beta2", 0), .eps = hml_json_num(root, "eps", 0),
                                .weight_decay = hml_json_num(root, "weight_decay", 0),
                                .m = grad + net.n_theta, .v = grad + 2 * net.n_theta};
    const float *wp = json_is_array(wj) ? w : NULL;
    for (int step = 0; step < (int)hml_json_int(root, "steps", 0); step++) {
        hml__mlp_forward(&net, &work, x, n, true, NULL);
        double loss = hml__mlp_loss(&net, &work, kind, y, wp, n);
        hml__mlp_backward(&net, &work, kind, x, y, wp, n, grad);
        if (step == 0) {
            T_NEAR(loss, hml_json_num(c, "loss0", 0), 2e-6);
            check_layers(&net, grad, json_object_get(c, "grad0"), "gradient", 2e-6, false);
        }
        hml__mlp_adam_step(&net, &opt, grad);
    }
    check_layers(&net, net.theta, json_object_get(c, "after"), "parameters after AdamW", 2e-5, true);
    hml__mlp_forward(&net, &work, x, n, false, NULL);
    near_floats("eval outputs", 0, work.out, json_object_get(c, "eval_out"), n * K, 2e-5);
    hml__mlp_work_fini(&work);
    hml_free(grad);
    hml_free(net.theta);
}

TEST(mlp_matches_torch_training_steps)
{
    json_error_t jerr;
    json_t *root = json_load_file(FIXTURE, 0, &jerr);
    if (!root) t_failf(__FILE__, __LINE__, "cannot read %s: %s", FIXTURE, jerr.text);
    const json_t *cases = json_object_get(root, "cases");
    T_EQ(json_array_size(cases), 4);
    for (size_t i = 0; i < json_array_size(cases); i++) check_torch_case(root, json_array_get(cases, i));
    json_decref(root);
}

/* ---- the backward pass against finite differences -------------------------------------- */

/* Which side of the ReLU kink each hidden pre-activation of the last forward pass is on. */
static void relu_signs(const struct hml__mlp_net *net, const struct hml__mlp_work *work, size_t n, uint8_t *out)
{
    for (size_t l = 0, k = 0; l < net->hidden; l++)
        for (size_t c = 0; c < n * net->width[l + 1]; c++) out[k++] = work->pre[l][c] > 0;
}

/* The loss after a parameter moved, or NaN when a pre-activation crossed its ReLU kink
 * (the loss is not differentiable across it, so finite differences would mislead). */
static double perturbed_loss(const struct hml__mlp_net *net, struct hml__mlp_work *work, enum hml__mlp_loss kind,
                             const float *x, const float *y, const float *w, size_t n, const uint8_t *signs,
                             size_t *skipped)
{
    uint8_t now[2 * 9 * 6];
    hml__mlp_forward(net, work, x, n, true, NULL);
    relu_signs(net, work, n, now);
    size_t cells = 0;
    for (size_t l = 0; l < net->hidden; l++) cells += n * net->width[l + 1];
    if (memcmp(now, signs, cells)) {
        ++*skipped;
        return NAN;
    }
    return hml__mlp_loss(net, work, kind, y, w, n);
}

/* Draws parameters (He plus noise, so biases are not 0), inputs, targets and weights
 * (one 0) from seed; returns the smallest |pre-activation| of the forward pass. */
static float fd_draw(struct hml__mlp_net *net, struct hml__mlp_work *work, enum hml__mlp_loss kind, uint64_t seed,
                     float *x, float *y, float *w, size_t n)
{
    size_t K = net->width[net->hidden + 1], cols = net->width[0];
    struct hml__mlp_rng rng;
    hml__mlp_rng_seed(&rng, seed);
    hml__mlp_init(net, &rng);
    for (size_t i = 0; i < net->n_theta; i++) net->theta[i] += (float)(0.1 * hml__mlp_rng_normal(&rng));
    for (size_t i = 0; i < n * cols; i++) x[i] = (float)hml__mlp_rng_normal(&rng);
    for (size_t i = 0; i < n; i++) {
        y[i] = kind == HML__MLP_SQUARED ? (float)hml__mlp_rng_normal(&rng) : (float)(i % (K > 1 ? K : 2));
        w[i] = i == 4 ? 0 : (float)(0.5 + 0.25 * (double)(i % 4));
    }
    hml__mlp_forward(net, work, x, n, true, NULL);
    float least = INFINITY;
    for (size_t l = 0; l < net->hidden; l++)
        for (size_t c = 0; c < n * net->width[l + 1]; c++) least = fminf(least, fabsf(work->pre[l][c]));
    return least;
}

/* Central differences of the loss in every parameter, against the analytic gradient.
 * The forward passes are float32: steps of 1e-2 and 5e-3 combined by Richardson
 * extrapolation keep rounding (~1e-7·loss/h) and curvature (~h⁴ after extrapolation)
 * errors near 1e-4. Parameters whose nudge moves a pre-activation across its ReLU kink
 * are skipped (they must be few). */
static double fd_check(bool bn, enum hml__mlp_loss kind, size_t K)
{
    struct hml__mlp_net net = {.hidden = 2, .width = {4, 6, 5, K}, .bn = bn};
    T_OK(hml__mlp_layout(&net));
    net.theta = hml_calloc(net.n_theta + net.n_running + 1, sizeof *net.theta);
    net.running = net.theta + net.n_theta;
    size_t n = 9;
    float x[36], y[9], w[9];
    struct hml__mlp_work work;
    T_OK(hml__mlp_work_init(&work, &net, n));
    /* a problem with no pre-activation near a kink, so few nudges cross one */
    uint64_t seed = 1;
    while (fd_draw(&net, &work, kind, seed, x, y, w, n) < 0.03f) seed++;
    T_OK(seed < 1000);
    float *grad = hml_malloc(net.n_theta * sizeof *grad);
    hml__mlp_backward(&net, &work, kind, x, y, w, n, grad);
    double worst = 0, h = 1e-2;
    uint8_t signs[2 * 9 * 6];
    relu_signs(&net, &work, n, signs);
    size_t skipped = 0;
    for (size_t i = 0; i < net.n_theta; i++) {
        double d[2]; /* central differences with steps h and h/2 */
        for (int k = 0; k < 2; k++) {
            float keep = net.theta[i], step = (float)(k ? h / 2 : h);
            net.theta[i] = keep + step;
            double up = perturbed_loss(&net, &work, kind, x, y, w, n, signs, &skipped);
            net.theta[i] = keep - step;
            double down = perturbed_loss(&net, &work, kind, x, y, w, n, signs, &skipped);
            net.theta[i] = keep;
            d[k] = (up - down) / (2.0 * (double)step);
        }
        if (isnan(d[0]) || isnan(d[1])) continue;
        double fd = (4 * d[1] - d[0]) / 3; /* Richardson: the h² error terms cancel */
        double err = fabs(fd - grad[i]) / fmax(fabs(fd), 0.05);
        if (err > 2e-3) t_failf(__FILE__, __LINE__, "parameter %zu: analytic %.7g, finite difference %.7g", i, (double)grad[i], fd);
        worst = fmax(worst, err);
    }
    T_OK(skipped <= net.n_theta / 10);
    hml__mlp_work_fini(&work);
    hml_free(grad);
    hml_free(net.theta);
    return worst;
}

TEST(mlp_gradient_matches_finite_differences)
{
    const struct { bool bn; enum hml__mlp_loss kind; size_t K; const char *name; } cases[] = {
        {false, HML__MLP_LOGISTIC, 1, "logistic"},       {true, HML__MLP_LOGISTIC, 1, "logistic + batch norm"},
        {false, HML__MLP_SOFTMAX, 3, "softmax"},         {true, HML__MLP_SOFTMAX, 4, "softmax + batch norm"},
        {false, HML__MLP_SQUARED, 1, "squared"},         {true, HML__MLP_SQUARED, 1, "squared + batch norm"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        double worst = fd_check(cases[c].bn, cases[c].kind, cases[c].K);
        printf("#   %-22s worst relative gradient error %.2e\n", cases[c].name, worst);
    }
}
