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

/* ---- weights, determinism, save/load ------------------------------------------------- */

static bool same_predictions(const struct hml_model *a, const struct hml_model *b, const struct ds *d)
{
    double *p = predict(a, d), *q = predict(b, d);
    bool same = memcmp(p, q, d->rows * per_row(d) * sizeof *p) == 0;
    hml_free(p);
    hml_free(q);
    return same;
}

/* Rows with weight 0 are dropped before anything else, so a fit with them is bit-identical
 * to one without them, early-stopping split, batch norm and dropout included. */
TEST(mlp_zero_weights_equal_removing_rows)
{
    struct ds full = {0}, kept = {0};
    xor_data(&full, 500, 2);
    full.w = hml_malloc(full.rows * sizeof *full.w);
    size_t n = 0;
    for (size_t i = 0; i < full.rows; i++) {
        full.w[i] = i % 3 == 1 ? 0 : 1 + (double)(i % 5) * 0.25;
        if (i % 3 == 1) full.x[i * full.cols] = 1e6f; /* wild values that would move the medians and scales */
        n += full.w[i] > 0;
    }
    ds_alloc(&kept, n, full.cols);
    kept.n_classes = 2;
    kept.w = hml_malloc(n * sizeof *kept.w);
    for (size_t i = 0, r = 0; i < full.rows; i++)
        if (full.w[i] > 0) {
            memcpy(kept.x + r * full.cols, full.x + i * full.cols, full.cols * sizeof *full.x);
            kept.y[r] = full.y[i];
            kept.w[r++] = full.w[i];
        }
    const char *params = "{\"hidden_layers\": \"8,8\", \"batch_norm\": true, \"dropout\": 0.1, \"max_epochs\": 30, "
                         "\"batch_size\": 16, \"patience\": 3}";
    struct hml_model *a = fit(HML_MODE_CLASSIFIER, params, &full), *b = fit(HML_MODE_CLASSIFIER, params, &kept);
    T_OK(same_predictions(a, b, &kept));
    T_EQ(hml__mlp_epochs_run(a), hml__mlp_epochs_run(b));
    a->vt->free(a);
    b->vt->free(b);
    ds_free(&full);
    ds_free(&kept);
}

/* Labels independent of x: heavier class-1 rows raise the predicted probability. */
TEST(mlp_weights_shift_predictions_toward_heavy_rows)
{
    struct ds d = {0};
    ds_alloc(&d, 800, 2);
    d.n_classes = 2;
    for (size_t i = 0; i < d.rows; i++) {
        d.x[2 * i] = (float)gauss();
        d.x[2 * i + 1] = (float)gauss();
        d.y[i] = (double)(i % 2);
    }
    const char *params = "{\"hidden_layers\": \"8\", \"max_epochs\": 20, \"patience\": 0}";
    struct hml_model *plain = fit(HML_MODE_CLASSIFIER, params, &d);
    d.w = hml_malloc(d.rows * sizeof *d.w);
    for (size_t i = 0; i < d.rows; i++) d.w[i] = d.y[i] > 0 ? 3 : 1;
    struct hml_model *heavy = fit(HML_MODE_CLASSIFIER, params, &d);
    double *p = predict(plain, &d), *q = predict(heavy, &d), mp = 0, mq = 0;
    for (size_t i = 0; i < d.rows; i++) {
        mp += p[i] / (double)d.rows;
        mq += q[i] / (double)d.rows;
    }
    printf("#   mean P(class 1): unweighted %.3f, class 1 weighted 3:1 %.3f (prior 0.75)\n", mp, mq);
    T_NEAR(mp, 0.5, 0.05);
    T_NEAR(mq, 0.75, 0.05);
    hml_free(p);
    hml_free(q);
    plain->vt->free(plain);
    heavy->vt->free(heavy);
    ds_free(&d);
}

TEST(mlp_is_deterministic_for_a_seed)
{
    struct ds d = {0};
    xor_data(&d, 300, 1);
    const char *params = "{\"hidden_layers\": \"8,8\", \"dropout\": 0.2, \"batch_norm\": true, \"max_epochs\": 15}";
    struct hml_model *a = fit_seeded(HML_MODE_CLASSIFIER, params, &d, 7), *b = fit_seeded(HML_MODE_CLASSIFIER, params, &d, 7);
    struct hml_model *c = fit_seeded(HML_MODE_CLASSIFIER, params, &d, 8);
    T_OK(same_predictions(a, b, &d));
    T_OK(!same_predictions(a, c, &d));
    /* and the saved bytes agree */
    struct hml_buf ba = HML_BUF_INIT, bb = HML_BUF_INIT;
    struct hml_error err;
    T_RC(a->vt->save(a, &ba, &err), &err);
    T_RC(b->vt->save(b, &bb, &err), &err);
    T_EQ(ba.len, bb.len);
    T_OK(memcmp(ba.p, bb.p, ba.len) == 0);
    hml_buf_free(&ba);
    hml_buf_free(&bb);
    a->vt->free(a);
    b->vt->free(b);
    c->vt->free(c);
    ds_free(&d);
}

static void check_roundtrip(enum hml_model_mode mode, const char *params, const struct ds *d)
{
    struct hml_error err;
    struct hml_model *m = fit(mode, params, d), *l = NULL;
    struct hml_buf a = HML_BUF_INIT, b = HML_BUF_INIT;
    T_RC(m->vt->save(m, &a, &err), &err);
    T_RC(hml_model_mlp.load(a.p, a.len, &l, &err), &err);
    T_OK(same_predictions(m, l, d));
    T_RC(l->vt->save(l, &b, &err), &err); /* and saves the same bytes again */
    T_EQ(a.len, b.len);
    T_OK(memcmp(a.p, b.p, a.len) == 0);
    T_EQ(hml__mlp_epochs_run(l), hml__mlp_epochs_run(m));
    /* damage: a flipped byte, a cut tail, another magic */
    struct hml_model *bad = NULL;
    ((char *)a.p)[a.len / 2] ^= 0x10;
    T_EQ(hml_model_mlp.load(a.p, a.len, &bad, &err), HML_EINVAL);
    T_CONTAINS(err.message, "checksum");
    T_OK(err.hint[0] != 0);
    T_EQ(hml_model_mlp.load(b.p, b.len - 9, &bad, &err), HML_EINVAL);
    memcpy(b.p, "HMLLIN", 6);
    T_EQ(hml_model_mlp.load(b.p, b.len, &bad, &err), HML_EINVAL);
    T_CONTAINS(err.message, "no header");
    T_OK(bad == NULL);
    hml_buf_free(&a);
    hml_buf_free(&b);
    m->vt->free(m);
    l->vt->free(l);
}

TEST(mlp_save_load_predicts_identically)
{
    struct ds x = {0}, wine = {0}, diab = {0};
    xor_data(&x, 300, 1);
    for (size_t i = 0; i < x.rows; i += 7) x.x[i * x.cols + 2] = NAN;
    check_roundtrip(HML_MODE_CLASSIFIER, "{\"hidden_layers\": \"8,4\", \"batch_norm\": true, \"dropout\": 0.1, \"max_epochs\": 10}", &x);
    ds_load(&wine, "wine.csv", "cultivar");
    wine.n_classes = 3;
    check_roundtrip(HML_MODE_CLASSIFIER, "{\"hidden_layers\": \"16\", \"max_epochs\": 10}", &wine);
    ds_load(&diab, "diabetes.csv", "progression");
    check_roundtrip(HML_MODE_REGRESSOR, "{\"hidden_layers\": \"\", \"max_epochs\": 10}", &diab);
    /* an unfitted model has nothing to save */
    struct hml_model *m = make(HML_MODE_REGRESSOR, NULL);
    struct hml_buf b = HML_BUF_INIT;
    struct hml_error err;
    T_EQ(m->vt->save(m, &b, &err), HML_ECONFLICT);
    T_OK(err.hint[0] != 0);
    hml_buf_free(&b);
    m->vt->free(m);
    ds_free(&x);
    ds_free(&wine);
    ds_free(&diab);
}

/* ---- early stopping, cancellation, imputation ----------------------------------------- */

TEST(mlp_early_stopping_stops_and_keeps_the_best_epoch)
{
    /* pure noise labels: the validation loss soon only rises */
    struct ds d = {0}, v = {0};
    ds_alloc(&d, 400, 5);
    ds_alloc(&v, 200, 5);
    d.n_classes = v.n_classes = 2;
    for (size_t i = 0; i < d.rows * 5; i++) d.x[i] = (float)gauss();
    for (size_t i = 0; i < v.rows * 5; i++) v.x[i] = (float)gauss();
    for (size_t i = 0; i < d.rows; i++) d.y[i] = unif() < 0.5;
    for (size_t i = 0; i < v.rows; i++) v.y[i] = unif() < 0.5;
    const char *params = "{\"hidden_layers\": \"64,64\", \"learning_rate\": 0.01, \"max_epochs\": 500, \"patience\": 4}";
    struct hml_model *m = fit(HML_MODE_CLASSIFIER, params, &d);
    uint32_t run = hml__mlp_epochs_run(m), best = hml__mlp_best_epoch(m);
    printf("#   validation slice: stopped after %u of 500 epochs, best %u\n", run, best);
    T_OK(run < 500);
    T_EQ(best + 4, run);
    m->vt->free(m);
    /* with the caller's hold-out every row trains, so the kept model is the one a plain
     * fit of best epochs makes, bit for bit */
    struct hml_fit_data fd = fit_data(&d);
    fd.x_valid = v.x;
    fd.y_valid = v.y;
    fd.rows_valid = v.rows;
    struct hml_fit_ctl ctl = {.nthread = 1, .seed = 42};
    struct hml_error err;
    m = make(HML_MODE_CLASSIFIER, params);
    T_RC(m->vt->fit(m, &fd, &ctl, &err), &err);
    best = hml__mlp_best_epoch(m);
    printf("#   caller's hold-out: stopped after %u epochs, best %u\n", hml__mlp_epochs_run(m), best);
    T_OK(best >= 1 && hml__mlp_epochs_run(m) == best + 4);
    char plain[160];
    snprintf(plain, sizeof plain, "{\"hidden_layers\": \"64,64\", \"learning_rate\": 0.01, \"max_epochs\": %u, \"patience\": 0}", best);
    struct hml_model *p = fit(HML_MODE_CLASSIFIER, plain, &d);
    T_EQ(hml__mlp_best_epoch(p), 0);
    T_OK(same_predictions(m, p, &v));
    m->vt->free(m);
    p->vt->free(p);
    ds_free(&d);
    ds_free(&v);
}

struct cancel_ud {
    volatile int flag;
    int calls;
};

static void cancel_on_progress(void *ud, double done, double total, const char *message)
{
    struct cancel_ud *c = ud;
    T_OK(done >= 1 && done <= total);
    T_CONTAINS(message, "epoch");
    c->calls++;
    c->flag = 1;
}

TEST(mlp_fit_honours_cancel)
{
    struct ds d = {0};
    xor_data(&d, 300, 0);
    const char *params = "{\"hidden_layers\": \"8\", \"max_epochs\": 50}";
    struct hml_model *m = fit(HML_MODE_CLASSIFIER, params, &d);
    double *before = predict(m, &d);
    struct cancel_ud ud = {0};
    struct hml_fit_ctl ctl = {.cancel = &ud.flag, .progress = cancel_on_progress, .progress_ud = &ud, .nthread = 1};
    struct hml_fit_data fd = fit_data(&d);
    struct hml_error err;
    T_EQ(m->vt->fit(m, &fd, &ctl, &err), HML_ECONFLICT);
    T_STREQ(err.message, "cancelled");
    T_CONTAINS(err.hint, "epoch 2");
    T_EQ(ud.calls, 1); /* stopped before the first batch after the flag went up */
    double *after = predict(m, &d); /* a cancelled refit keeps the previous fit */
    T_OK(memcmp(before, after, d.rows * sizeof *after) == 0);
    hml_free(before);
    hml_free(after);
    m->vt->free(m);
    /* a model never fitted stays unfitted */
    m = make(HML_MODE_CLASSIFIER, params);
    volatile int flag = 1;
    struct hml_fit_ctl pre = {.cancel = &flag};
    double out;
    T_EQ(m->vt->fit(m, &fd, &pre, &err), HML_ECONFLICT);
    T_EQ(m->vt->predict(m, d.x, 1, d.cols, &out, &err), HML_ECONFLICT);
    T_CONTAINS(err.message, "not fitted");
    m->vt->free(m);
    ds_free(&d);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

TEST(mlp_nan_is_imputed_with_training_medians)
{
    struct ds d = {0};
    xor_data(&d, 201, 1);
    d.w = hml_malloc(d.rows * sizeof *d.w);
    float seen[201];
    size_t n = 0;
    for (size_t i = 0; i < d.rows; i++) {
        d.w[i] = i % 10 == 3 ? 0 : 1;
        float *v = &d.x[i * 3 + 2];
        if (i % 4 == 0) *v = NAN;
        else if (d.w[i] == 0) *v = 50; /* zero-weight rows do not count */
        else seen[n++] = *v;
    }
    qsort(seen, n, sizeof *seen, cmp_float);
    double want = n % 2 ? seen[n / 2] : 0.5 * ((double)seen[n / 2 - 1] + seen[n / 2]);
    struct hml_model *m = fit(HML_MODE_CLASSIFIER, "{\"hidden_layers\": \"8\", \"max_epochs\": 5}", &d);
    const struct hml__mlp *mm = (const struct hml__mlp *)m;
    T_NEAR(mm->median[2], want, 0);
    /* a missing value predicts exactly as the median itself */
    float row[6] = {0.3f, -0.4f, NAN, 0.3f, -0.4f, (float)want};
    double p[2];
    struct hml_error err;
    T_RC(m->vt->predict(m, row, 2, 3, p, &err), &err);
    T_OK(p[0] == p[1]);
    m->vt->free(m);
    ds_free(&d);
}

/* ---- parameters, registry, bad input ------------------------------------------------- */

static void check_create_error(const char *params, const char *msg, const char *suggestion)
{
    struct hml_error err;
    json_t *p = NULL;
    T_RC(hml_json_parse(params, strlen(params), &p, &err), &err);
    struct hml_model *m = NULL;
    T_EQ(hml_model_mlp.create(p, HML_MODE_CLASSIFIER, &m, &err), HML_EINVAL);
    T_OK(m == NULL);
    T_CONTAINS(err.message, msg);
    T_OK(err.hint[0] != 0);
    if (suggestion) T_STREQ(err.did_you_mean, suggestion);
    json_decref(p);
}

TEST(mlp_params_are_checked)
{
    check_create_error("{\"hiden_layers\": \"8\"}", "unknown param 'hiden_layers'", "hidden_layers");
    check_create_error("{\"epochs\": 5}", "unknown param 'epochs'", NULL);
    check_create_error("{\"hidden_layers\": [64, 32]}", "must be a string", NULL);
    check_create_error("{\"hidden_layers\": \"64,,32\"}", "an entry is empty", NULL);
    check_create_error("{\"hidden_layers\": \"64,\"}", "an entry is empty", NULL);
    check_create_error("{\"hidden_layers\": \"64;32\"}", "not a whole number", NULL);
    check_create_error("{\"hidden_layers\": \"-4\"}", "not a whole number", NULL);
    check_create_error("{\"hidden_layers\": \"0\"}", "1 to 4096 units", NULL);
    check_create_error("{\"hidden_layers\": \"99999999999999999999\"}", "1 to 4096 units", NULL);
    check_create_error("{\"hidden_layers\": \"1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\"}", "more than 16", NULL);
    check_create_error("{\"dropout\": 0.95}", "out of range", NULL);
    check_create_error("{\"batch_size\": 0}", "out of range", NULL);
    check_create_error("{\"max_epochs\": 2.5}", "integer", NULL);
    check_create_error("{\"batch_norm\": 1}", "true or false", NULL);
    check_create_error("{\"learning_rate\": 0.5, \"weight_decay\": 2}", "flip the weights' sign", NULL);
    struct hml_error err;
    size_t hidden, width[HML__MLP_HIDDEN_MAX];
    T_RC(hml__mlp_parse_layers(" 64 , 32 ", &hidden, width, &err), &err);
    T_EQ(hidden, 2);
    T_EQ(width[0], 64);
    T_EQ(width[1], 32);
    T_RC(hml__mlp_parse_layers("", &hidden, width, &err), &err);
    T_EQ(hidden, 0);
    /* every parameter documents itself and has bounds */
    for (const struct hml_model_param *q = hml_model_mlp.params; q->name; q++) {
        T_OK(q->desc && strlen(q->desc) > 20);
        T_OK(q->dflt != NULL);
        if (q->type == HML_MP_NUM || q->type == HML_MP_INT) T_OK(q->lo <= q->hi);
    }
    struct hml_model *m = NULL;
    T_EQ(hml_model_mlp.create(NULL, (enum hml_model_mode)7, &m, &err), HML_EINVAL);
}

TEST(mlp_registry_and_caps)
{
    T_OK(hml_model_find("mlp") == &hml_model_mlp);
    unsigned caps = hml_model_mlp.caps;
    T_OK((caps & HML_CAP_CLASSIFIER) && (caps & HML_CAP_REGRESSOR) && (caps & HML_CAP_MULTICLASS));
    T_OK(caps & HML_CAP_WEIGHTS);
    T_OK(!(caps & HML_CAP_NAN) && !(caps & HML_CAP_CATEGORICAL) && !(caps & HML_CAP_SHAP));
    T_OK(hml_model_mlp.importance == NULL && hml_model_mlp.shap == NULL);
    T_EQ(hml_model_mlp.version, HML_MODEL_API_VERSION);
}

static void check_fit_error(struct ds *d, enum hml_model_mode mode, const char *msg)
{
    struct hml_model *m = make(mode, "{\"hidden_layers\": \"4\", \"max_epochs\": 2}");
    struct hml_fit_data fd = fit_data(d);
    struct hml_error err;
    enum hml_status rc = m->vt->fit(m, &fd, NULL, &err);
    T_OK(rc == HML_EINVAL || rc == HML_ELIMIT);
    T_CONTAINS(err.message, msg);
    T_OK(err.hint[0] != 0);
    m->vt->free(m);
}

TEST(mlp_rejects_bad_training_data)
{
    struct ds d = {0};
    xor_data(&d, 40, 0);
    d.x[5] = INFINITY;
    check_fit_error(&d, HML_MODE_CLASSIFIER, "infinite");
    d.x[5] = 0;
    d.y[3] = 2;
    check_fit_error(&d, HML_MODE_CLASSIFIER, "not a class index");
    d.y[3] = NAN;
    check_fit_error(&d, HML_MODE_REGRESSOR, "not a finite number");
    d.y[3] = 1;
    d.w = hml_calloc(d.rows, sizeof *d.w);
    check_fit_error(&d, HML_MODE_CLASSIFIER, "sum to 0");
    d.w[0] = -1;
    check_fit_error(&d, HML_MODE_CLASSIFIER, "weight of row 0");
    hml_free(d.w);
    d.w = NULL;
    d.n_classes = 1;
    check_fit_error(&d, HML_MODE_CLASSIFIER, "2..1024 classes");
    d.n_classes = 2;
    uint8_t cat[2] = {0, 1};
    struct hml_model *m = make(HML_MODE_CLASSIFIER, NULL);
    struct hml_fit_data fd = fit_data(&d);
    fd.categorical = cat;
    struct hml_error err;
    T_EQ(m->vt->fit(m, &fd, NULL, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "one-hot");
    fd.categorical = NULL;
    fd.rows = 0;
    T_EQ(m->vt->fit(m, &fd, NULL, &err), HML_EINVAL);
    /* predict checks the width */
    fd.rows = d.rows;
    T_RC(m->vt->fit(m, &fd, NULL, &err), &err);
    double out[4];
    T_EQ(m->vt->predict(m, d.x, 1, 3, out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "fitted on 2");
    m->vt->free(m);
    ds_free(&d);
}

/* ---- allocation failures -------------------------------------------------------------- */

static enum hml_status lifecycle(enum hml_model_mode mode, const char *params, const struct ds *d, struct hml_error *err)
{
    const struct hml_model_vt *vt = &hml_model_mlp;
    struct hml_model *m = NULL, *l = NULL;
    struct hml_buf b = HML_BUF_INIT;
    json_t *p = json_loads(params, 0, NULL);
    struct hml_fit_data fd = fit_data(d);
    double *out = hml_malloc(d->rows * per_row(d) * sizeof *out + 1);
    enum hml_status rc = p && out ? vt->create(p, mode, &m, err) : hml_fail(err, HML_ENOMEM, "test", "oom");
    if (!rc) rc = vt->fit(m, &fd, NULL, err);
    if (!rc) rc = vt->predict(m, d->x, d->rows, d->cols, out, err);
    if (!rc) rc = vt->save(m, &b, err);
    if (!rc) rc = vt->load(b.p, b.len, &l, err);
    if (!rc) rc = vt->predict(l, d->x, d->rows, d->cols, out, err);
    if (m) vt->free(m);
    if (l) vt->free(l);
    json_decref(p);
    hml_buf_free(&b);
    hml_free(out);
    return rc;
}

TEST(mlp_fail_nth_allocation_never_leaks)
{
    struct ds d = {0};
    xor_data(&d, 60, 1);
    for (size_t i = 0; i < d.rows; i += 5) d.x[i * 3 + 1] = NAN;
    const char *params[] = {"{\"hidden_layers\": \"4\", \"batch_norm\": true, \"dropout\": 0.2, \"max_epochs\": 3}",
                            "{\"hidden_layers\": \"4\", \"max_epochs\": 3, \"patience\": 0}"};
    size_t classes[] = {3, 2, 0};
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < d.rows; i++) d.y[i] = classes[c] ? (double)(i % classes[c]) : d.x[i * 3];
        d.n_classes = classes[c];
        enum hml_model_mode mode = classes[c] ? HML_MODE_CLASSIFIER : HML_MODE_REGRESSOR;
        size_t base = hml_alloc_live_bytes();
        int failures = 0;
        bool clean = false;
        for (uint64_t n = 1; n < 1000 && !clean; n++) {
            struct hml_error err;
            hml_error_clear(&err);
            hml_alloc_fail_at(n);
            enum hml_status rc = lifecycle(mode, params[c % 2], &d, &err);
            clean = !hml_alloc_failed();
            hml_alloc_fail_at(0);
            if (rc) {
                T_EQ(rc, HML_ENOMEM);
                T_OK(err.message[0] != 0);
                failures++;
            }
            T_OK(clean == (rc == HML_OK));
            T_EQ(hml_alloc_live_bytes(), base);
        }
        T_OK(clean);
        T_OK(failures >= 8);
    }
    ds_free(&d);
}
