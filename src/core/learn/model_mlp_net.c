/* model_mlp_net.c — the network of the mlp backend: parameter layout, He
 * initialisation, the forward and backward passes on cblas_sgemm, AdamW, and the PRNG.
 * Conventions (layer order, batch norm, dropout, decay) are in model_mlp_int.h.
 *
 * Matrices are row-major with one row per example: a layer computes Z = A·Wᵀ (+ b) with
 * W stored out × in, so the weight gradient is Gᵀ·A and the input gradient G·W.
 */
#include "model_mlp_int.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "harness/alloc.h"

#define NONE SIZE_MAX

/* ---- PRNG -------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hml__mlp_rng_seed(struct hml__mlp_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hml__mlp_rng_next(struct hml__mlp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t hml__mlp_rng_below(struct hml__mlp_rng *r, uint64_t n)
{
    HML_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* draws at or above it would favour small values */
    uint64_t x;
    do x = hml__mlp_rng_next(r);
    while (x >= limit);
    return x % n;
}

double hml__mlp_rng_normal(struct hml__mlp_rng *r)
{
    double u1 = ((double)(hml__mlp_rng_next(r) >> 11) + 1.0) * 0x1p-53; /* (0, 1]: log stays finite */
    double u2 = (double)(hml__mlp_rng_next(r) >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- layout and initialisation ----------------------------------------------------- */

bool hml__mlp_layout(struct hml__mlp_net *net)
{
    HML_ASSERT(net->hidden <= HML__MLP_HIDDEN_MAX);
    size_t off = 0, roff = 0;
    for (size_t l = 0; l <= net->hidden; l++) {
        size_t in = net->width[l], out = net->width[l + 1];
        HML_ASSERT(in >= 1 && in <= HML__MLP_COLS_MAX);
        HML_ASSERT(out >= 1 && out <= HML__MLP_WIDTH_MAX);
        bool bn = net->bn && l < net->hidden;
        net->w_off[l] = off;
        off += in * out;
        net->b_off[l] = bn ? NONE : off;
        off += bn ? 0 : out;
        net->g_off[l] = bn ? off : NONE;
        net->s_off[l] = bn ? off + out : NONE;
        off += bn ? 2 * out : 0;
        net->rm_off[l] = bn ? roff : NONE;
        net->rv_off[l] = bn ? roff + out : NONE;
        roff += bn ? 2 * out : 0;
        if (off > HML__MLP_PARAMS_MAX) return false;
    }
    net->n_theta = off;
    net->n_running = roff;
    return true;
}

void hml__mlp_init(struct hml__mlp_net *net, struct hml__mlp_rng *rng)
{
    HML_ASSERT(net->theta != NULL);
    memset(net->theta, 0, net->n_theta * sizeof *net->theta);
    for (size_t l = 0; l <= net->hidden; l++) {
        size_t in = net->width[l], out = net->width[l + 1];
        double sd = sqrt(2.0 / (double)in);
        float *w = net->theta + net->w_off[l];
        for (size_t i = 0; i < in * out; i++) w[i] = (float)(sd * hml__mlp_rng_normal(rng));
        if (net->g_off[l] == NONE) continue;
        for (size_t j = 0; j < out; j++) {
            net->theta[net->g_off[l] + j] = 1;
            net->running[net->rm_off[l] + j] = 0;
            net->running[net->rv_off[l] + j] = 1;
        }
    }
}

/* ---- workspace --------------------------------------------------------------------- */

bool hml__mlp_work_init(struct hml__mlp_work *work, const struct hml__mlp_net *net, size_t cap)
{
    memset(work, 0, sizeof *work);
    HML_ASSERT(cap >= 1);
    size_t widest = net->width[0], total = 0;
    for (size_t l = 1; l <= net->hidden + 1; l++) widest = widest > net->width[l] ? widest : net->width[l];
    for (size_t l = 0; l < net->hidden; l++) {
        size_t h = net->width[l + 1];
        total += 2 * cap * h + (net->bn ? cap * h + 2 * h : 0) + (net->dropout > 0 ? cap * h : 0);
    }
    total += cap * net->width[net->hidden + 1] + 2 * cap * widest;
    float *p = hml_malloc(total * sizeof *p);
    if (!p) return false;
    work->store = p;
    work->cap = cap;
    for (size_t l = 0; l < net->hidden; l++) {
        size_t h = net->width[l + 1];
        work->pre[l] = p, p += cap * h;
        work->act[l] = p, p += cap * h;
        if (net->bn) work->xhat[l] = p, p += cap * h, work->istd[l] = p, p += 2 * h;
        if (net->dropout > 0) work->mask[l] = p, p += cap * h;
    }
    work->out = p, p += cap * net->width[net->hidden + 1];
    work->g_a = p, p += cap * widest;
    work->g_b = p, p += cap * widest;
    HML_ASSERT(p == work->store + total);
    return true;
}

void hml__mlp_work_fini(struct hml__mlp_work *work)
{
    hml_free(work->store);
    memset(work, 0, sizeof *work);
}

/* ---- elementwise kernels ---------------------------------------------------------- */

/* Elementwise loops run in blocks of BLOCK with restrict pointers: at -O2 gcc vectorises
 * only loops whose trip count it knows, and a branch per element (ReLU's sign) mispredicts
 * half the time — written plainly, these loops took 60% of a training step. */
#define BLOCK 8

/* a += b */
static void add_into(float *restrict a, const float *restrict b, size_t n)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) a[i + k] += b[i + k];
    for (; i < n; i++) a[i] += b[i];
}

/* a *= b */
static void mul_into(float *restrict a, const float *restrict b, size_t n)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) a[i + k] *= b[i + k];
    for (; i < n; i++) a[i] *= b[i];
}

/* acc += a·b */
static void fma_into(float *restrict acc, const float *restrict a, const float *restrict b, size_t n)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) acc[i + k] += a[i + k] * b[i + k];
    for (; i < n; i++) acc[i] += a[i] * b[i];
}

/* acc += (z − mean)² */
static void sqdev_into(float *restrict acc, const float *restrict z, const float *restrict mean, size_t n)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) acc[i + k] += (z[i + k] - mean[i + k]) * (z[i + k] - mean[i + k]);
    for (; i < n; i++) acc[i] += (z[i] - mean[i]) * (z[i] - mean[i]);
}

/* z = z·scale + shift */
static void affine(float *restrict z, const float *restrict scale, const float *restrict shift, size_t n)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) z[i + k] = z[i + k] * scale[i + k] + shift[i + k];
    for (; i < n; i++) z[i] = z[i] * scale[i] + shift[i];
}

/* act = max(pre, 0) */
static void relu(const float *restrict pre, float *restrict act, size_t n)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) act[i + k] = pre[i + k] > 0.0f ? pre[i + k] : 0.0f;
    for (; i < n; i++) act[i] = pre[i] > 0.0f ? pre[i] : 0.0f;
}

/* g = 0 where pre ≤ 0 */
static void relu_mask(const float *restrict pre, float *restrict g, size_t n)
{
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) g[i + k] = pre[i + k] > 0.0f ? g[i + k] : 0.0f;
    for (; i < n; i++) g[i] = pre[i] > 0.0f ? g[i] : 0.0f;
}

/* ---- forward ----------------------------------------------------------------------- */

static void add_bias(float *z, const float *b, size_t n, size_t out)
{
    for (size_t i = 0; i < n; i++) add_into(z + i * out, b, out);
}

/* Training-mode batch norm of z (n × h) in place: xhat kept for the backward pass,
 * running averages moved toward the batch's statistics. istd[h..2h) is scratch. */
static void bn_train(const struct hml__mlp_net *net, struct hml__mlp_work *work, size_t l, size_t n)
{
    size_t h = net->width[l + 1];
    float *z = work->pre[l], *xhat = work->xhat[l], *istd = work->istd[l], *mean = istd + h;
    const float *g = net->theta + net->g_off[l], *s = net->theta + net->s_off[l];
    float *rm = net->running + net->rm_off[l], *rv = net->running + net->rv_off[l];
    memset(mean, 0, h * sizeof *mean);
    memset(istd, 0, h * sizeof *istd);
    for (size_t i = 0; i < n; i++) add_into(mean, z + i * h, h);
    for (size_t j = 0; j < h; j++) mean[j] /= (float)n;
    for (size_t i = 0; i < n; i++) sqdev_into(istd, z + i * h, mean, h);
    const float mom = HML__MLP_BN_MOMENTUM;
    for (size_t j = 0; j < h; j++) {
        float var = istd[j] / (float)n;
        rm[j] = (1 - mom) * rm[j] + mom * mean[j];
        rv[j] = (1 - mom) * rv[j] + mom * (n > 1 ? var * (float)n / (float)(n - 1) : var);
        istd[j] = 1.0f / sqrtf(var + HML__MLP_BN_EPS);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h; j++) {
            float x = (z[i * h + j] - mean[j]) * istd[j];
            xhat[i * h + j] = x;
            z[i * h + j] = g[j] * x + s[j];
        }
}

/* Eval-mode batch norm with the running statistics, folded into one scale and shift per
 * unit (kept in istd's 2h floats). */
static void bn_eval(const struct hml__mlp_net *net, struct hml__mlp_work *work, size_t l, size_t n)
{
    size_t h = net->width[l + 1];
    float *z = work->pre[l], *scale = work->istd[l], *shift = scale + h;
    const float *g = net->theta + net->g_off[l], *s = net->theta + net->s_off[l];
    const float *rm = net->running + net->rm_off[l], *rv = net->running + net->rv_off[l];
    for (size_t j = 0; j < h; j++) {
        scale[j] = g[j] / sqrtf(rv[j] + HML__MLP_BN_EPS);
        shift[j] = s[j] - rm[j] * scale[j];
    }
    for (size_t i = 0; i < n; i++) affine(z + i * h, scale, shift, h);
}

/* act = ReLU(pre), times the inverted-dropout mask in training. */
static void relu_dropout(const struct hml__mlp_net *net, struct hml__mlp_work *work, size_t l, size_t n, bool train,
                         struct hml__mlp_rng *rng)
{
    size_t cells = n * net->width[l + 1];
    relu(work->pre[l], work->act[l], cells);
    if (!train || !(net->dropout > 0)) return;
    HML_ASSERT(rng != NULL && work->mask[l] != NULL);
    float *mask = work->mask[l], keep = 1.0f / (1.0f - net->dropout);
    uint32_t cut = (uint32_t)((double)net->dropout * 4294967296.0); /* drop when a 32-bit draw < cut */
    for (size_t i = 0; i < cells; i += 2) { /* two masks per 64-bit draw */
        uint64_t r = hml__mlp_rng_next(rng);
        mask[i] = (uint32_t)r < cut ? 0 : keep;
        if (i + 1 < cells) mask[i + 1] = (uint32_t)(r >> 32) < cut ? 0 : keep;
    }
    mul_into(work->act[l], mask, cells);
}

void hml__mlp_forward(const struct hml__mlp_net *net, struct hml__mlp_work *work, const float *x, size_t n,
                      bool train, struct hml__mlp_rng *rng)
{
    HML_ASSERT(n >= 1 && n <= work->cap);
    HML_ASSERT(x != NULL);
    const float *a = x;
    for (size_t l = 0; l <= net->hidden; l++) {
        size_t in = net->width[l], out = net->width[l + 1];
        float *z = l < net->hidden ? work->pre[l] : work->out;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out, (int)in, 1.0f, a, (int)in,
                    net->theta + net->w_off[l], (int)in, 0.0f, z, (int)out);
        if (net->b_off[l] != NONE) add_bias(z, net->theta + net->b_off[l], n, out);
        if (l == net->hidden) break;
        if (net->bn && train) bn_train(net, work, l, n);
        else if (net->bn) bn_eval(net, work, l, n);
        relu_dropout(net, work, l, n, train, rng);
        a = work->act[l];
    }
}

/* ---- loss -------------------------------------------------------------------------- */

static double logloss(double o, double y)
{
    return fmax(o, 0.0) + log1p(exp(-fabs(o))) - y * o;
}

static double sigmoid(double o)
{
    if (o >= 0) return 1.0 / (1.0 + exp(-o));
    double t = exp(o);
    return t / (1.0 + t);
}

/* log Σ exp(o_k) of one row of K outputs. */
static double logsumexp(const float *o, size_t K)
{
    float mx = o[0];
    for (size_t k = 1; k < K; k++) mx = o[k] > mx ? o[k] : mx;
    double s = 0;
    for (size_t k = 0; k < K; k++) s += exp((double)o[k] - mx);
    return mx + log(s);
}

double hml__mlp_loss(const struct hml__mlp_net *net, const struct hml__mlp_work *work, enum hml__mlp_loss kind,
                     const float *y, const float *w, size_t n)
{
    size_t K = net->width[net->hidden + 1];
    const float *o = work->out;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1, l;
        if (wi == 0) continue; /* a zero weight must not meet an infinite loss */
        if (kind == HML__MLP_LOGISTIC) l = logloss(o[i], y[i]);
        else if (kind == HML__MLP_SOFTMAX) l = logsumexp(o + i * K, K) - o[i * K + (size_t)y[i]];
        else l = ((double)o[i] - y[i]) * ((double)o[i] - y[i]);
        sum += wi * l;
    }
    return sum / (double)n;
}

/* dL/d(outputs) into g (n × K). */
static void output_gradient(const struct hml__mlp_net *net, const struct hml__mlp_work *work, enum hml__mlp_loss kind,
                            const float *y, const float *w, size_t n, float *g)
{
    size_t K = net->width[net->hidden + 1];
    const float *o = work->out;
    for (size_t i = 0; i < n; i++) {
        double c = (w ? w[i] : 1) / (double)n;
        if (kind == HML__MLP_LOGISTIC) g[i] = (float)(c * (sigmoid(o[i]) - y[i]));
        else if (kind == HML__MLP_SQUARED) g[i] = (float)(c * 2 * ((double)o[i] - y[i]));
        else {
            double lse = logsumexp(o + i * K, K);
            for (size_t k = 0; k < K; k++)
                g[i * K + k] = (float)(c * (exp((double)o[i * K + k] - lse) - (double)(k == (size_t)y[i])));
        }
    }
}

/* ---- backward ---------------------------------------------------------------------- */

static void column_sums(const float *g, size_t n, size_t h, float *out)
{
    memset(out, 0, h * sizeof *out);
    for (size_t i = 0; i < n; i++) add_into(out, g + i * h, h);
}

/* g (n × h) holds dL/d(act) of hidden layer l; turns it into dL/dZ through dropout,
 * ReLU and batch norm, filling the BN parameters' gradients. */
static void hidden_backward(const struct hml__mlp_net *net, const struct hml__mlp_work *work, size_t l, size_t n,
                            float *g, float *grad)
{
    size_t h = net->width[l + 1], cells = n * h;
    if (net->dropout > 0) mul_into(g, work->mask[l], cells);
    relu_mask(work->pre[l], g, cells);
    if (!net->bn) return;
    const float *xhat = work->xhat[l], *istd = work->istd[l], *gamma = net->theta + net->g_off[l];
    float *dg = grad + net->g_off[l], *ds = grad + net->s_off[l];
    memset(dg, 0, h * sizeof *dg);
    column_sums(g, n, h, ds);
    for (size_t i = 0; i < n; i++) fma_into(dg, g + i * h, xhat + i * h, h);
    float fn = (float)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h; j++) {
            size_t c = i * h + j;
            g[c] = gamma[j] * istd[j] / fn * (fn * g[c] - ds[j] - xhat[c] * dg[j]);
        }
}

void hml__mlp_backward(const struct hml__mlp_net *net, struct hml__mlp_work *work, enum hml__mlp_loss kind,
                       const float *x, const float *y, const float *w, size_t n, float *grad)
{
    HML_ASSERT(n >= 1 && n <= work->cap);
    HML_ASSERT(grad != NULL);
    float *g = work->g_a, *next = work->g_b;
    output_gradient(net, work, kind, y, w, n, g);
    for (size_t l = net->hidden + 1; l-- > 0;) {
        size_t in = net->width[l], out = net->width[l + 1];
        const float *a = l > 0 ? work->act[l - 1] : x;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)n, 1.0f, g, (int)out, a, (int)in,
                    0.0f, grad + net->w_off[l], (int)in);
        if (net->b_off[l] != NONE) column_sums(g, n, out, grad + net->b_off[l]);
        if (l == 0) break;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)in, (int)out, 1.0f, g, (int)out,
                    net->theta + net->w_off[l], (int)in, 0.0f, next, (int)in);
        hidden_backward(net, work, l - 1, n, next, grad);
        float *t = g;
        g = next;
        next = t;
    }
}

/* ---- AdamW ------------------------------------------------------------------------- */

#define ADAM_CHUNK 256

struct moments {
    float b1, b2, c1, c2, step, rs2, eps;
};

/* The Adam update of n ≤ ADAM_CHUNK parameters. sqrtf may set errno, which keeps gcc from
 * vectorising any loop that calls it; so only the square roots run one by one, and the
 * rest in vectorisable blocks. */
static void adam_chunk(const struct moments *c, float *restrict theta, float *restrict m, float *restrict v,
                       const float *restrict g, size_t n)
{
    float root[ADAM_CHUNK];
    size_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) {
            m[i + k] = c->b1 * m[i + k] + c->c1 * g[i + k];
            v[i + k] = c->b2 * v[i + k] + c->c2 * g[i + k] * g[i + k];
        }
    for (; i < n; i++) {
        m[i] = c->b1 * m[i] + c->c1 * g[i];
        v[i] = c->b2 * v[i] + c->c2 * g[i] * g[i];
    }
    for (i = 0; i < n; i++) root[i] = sqrtf(v[i]);
    for (i = 0; i + BLOCK <= n; i += BLOCK)
        for (size_t k = 0; k < BLOCK; k++) theta[i + k] -= c->step * m[i + k] / (root[i + k] * c->rs2 + c->eps);
    for (; i < n; i++) theta[i] -= c->step * m[i] / (root[i] * c->rs2 + c->eps);
}

void hml__mlp_adam_step(const struct hml__mlp_net *net, struct hml__mlp_adam *opt, const float *grad)
{
    HML_ASSERT(opt->m != NULL && opt->v != NULL);
    opt->t++;
    double bc1 = 1 - pow(opt->beta1, (double)opt->t), bc2 = 1 - pow(opt->beta2, (double)opt->t);
    if (opt->weight_decay > 0) {
        float keep = (float)(1 - opt->lr * opt->weight_decay);
        for (size_t l = 0; l <= net->hidden; l++) {
            float *wl = net->theta + net->w_off[l];
            size_t i = 0, k = net->width[l] * net->width[l + 1];
            for (; i + BLOCK <= k; i += BLOCK)
                for (size_t b = 0; b < BLOCK; b++) wl[i + b] *= keep;
            for (; i < k; i++) wl[i] *= keep;
        }
    }
    struct moments c = {.b1 = (float)opt->beta1, .b2 = (float)opt->beta2, .step = (float)(opt->lr / bc1),
                        .rs2 = (float)(1 / sqrt(bc2)), .eps = (float)opt->eps};
    c.c1 = 1 - c.b1;
    c.c2 = 1 - c.b2;
    for (size_t i = 0; i < net->n_theta; i += ADAM_CHUNK) {
        size_t k = net->n_theta - i < ADAM_CHUNK ? net->n_theta - i : ADAM_CHUNK;
        adam_chunk(&c, net->theta + i, opt->m + i, opt->v + i, grad + i, k);
    }
}
