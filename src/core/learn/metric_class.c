/* metric_class.c — binary and multiclass classification metrics.
 *
 * Binary predictions are P(class 1); the thresholded metrics call a row positive
 * when pred ≥ opt.threshold. Multiclass predictions are n×k probabilities; the
 * label metrics use the argmax (the first column on ties, as numpy does) and
 * average over the classes present in y or in the predictions, as scikit-learn
 * does by default. Zero denominators give 0 (zero_division = 0), except kappa's
 * (NaN: no agreement beyond chance can be measured).
 */
#include "metric_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"

#define LOG_LOSS_EPS 1e-15

/* ---- shared: per-class sums --------------------------------------------- */

/* t: true weight per class, p: predicted weight, d: correctly predicted weight. */
struct class_sums {
    size_t k;
    double *t, *p, *d;
    double total;
};

static double mcc_of(const struct class_sums *s)
{
    double tp = 0, tt = 0, pp = 0, trace = 0, n = s->total;
    for (size_t c = 0; c < s->k; c++) {
        tp += s->t[c] * s->p[c];
        tt += s->t[c] * s->t[c];
        pp += s->p[c] * s->p[c];
        trace += s->d[c];
    }
    double cov_tp = trace * n - tp, cov_pp = n * n - pp, cov_tt = n * n - tt;
    if (cov_pp * cov_tt == 0) return 0;
    return cov_tp / sqrt(cov_tt * cov_pp);
}

static double kappa_of(const struct class_sums *s)
{
    double trace = 0, agree = 0, n = s->total;
    for (size_t c = 0; c < s->k; c++) {
        trace += s->d[c];
        agree += s->p[c] * s->t[c];
    }
    /* 1 − observed disagreement / disagreement expected from the margins */
    double expected = (n * n - agree) / n;
    if (expected == 0) return NAN;
    return 1 - (n - trace) / expected;
}

static double safe_div(double a, double b)
{
    return b == 0 ? 0 : a / b;
}

static double f1_of(double prec, double rec)
{
    double den = prec + rec;
    return den == 0 ? 0 : 2 * prec * rec / den;
}

/* ---- binary ------------------------------------------------------------- */

struct bin_counts {
    double tp, fp, tn, fn;
};

static struct bin_counts bin_count(const struct hml_metric_input *in)
{
    struct bin_counts c = {0, 0, 0, 0};
    double thr = in->opt.threshold;
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i);
        bool hit = in->pred[i] >= thr;
        if (in->y[i] == 1) {
            if (hit) c.tp += w;
            else c.fn += w;
        } else {
            if (hit) c.fp += w;
            else c.tn += w;
        }
    }
    return c;
}

static struct class_sums bin_sums(const struct bin_counts *c, double t[2], double p[2], double d[2])
{
    t[0] = c->tn + c->fp, t[1] = c->fn + c->tp;
    p[0] = c->tn + c->fn, p[1] = c->fp + c->tp;
    d[0] = c->tn, d[1] = c->tp;
    return (struct class_sums){2, t, p, d, t[0] + t[1]};
}

enum hml_status hml__m_brier(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    double s = 0, sw = 0;
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i), e = in->y[i] - in->pred[i];
        s += w * e * e;
        sw += w;
    }
    *out = s / sw;
    return HML_OK;
}

enum hml_status hml__m_log_loss(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    double s = 0, sw = 0;
    for (size_t i = 0; i < in->n; i++) {
        double p = fmin(fmax(in->pred[i], LOG_LOSS_EPS), 1 - LOG_LOSS_EPS), q = 1 - p;
        double w = hml__w(in->w, i), sum = q + p;
        s += w * -log((in->y[i] == 1 ? p : q) / sum);
        sw += w;
    }
    *out = s / sw;
    return HML_OK;
}

enum hml_status hml__m_accuracy(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    struct bin_counts c = bin_count(in);
    *out = (c.tp + c.tn) / (c.tp + c.tn + c.fp + c.fn);
    return HML_OK;
}

/* Bin i covers [e_i, e_{i+1}) with e_i = i·(1/B) and e_B = 1, the last bin closed —
 * numpy's linspace edges, so rows on a boundary land where the reference puts them. */
static size_t bin_of(double p, size_t nb)
{
    double step = 1.0 / (double)nb;
    size_t b = (size_t)(p * (double)nb);
    if (b >= nb) b = nb - 1;
    while (b > 0 && p < (double)b * step) b--;
    while (b + 1 < nb && p >= (double)(b + 1) * step) b++;
    return b;
}

enum hml_status hml__m_ece(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    size_t nb = in->opt.n_bins;
    double *acc = hml_calloc(nb * 3, sizeof *acc); /* per bin: weight, Σ w·p, Σ w·y */
    if (!acc) return hml__metric_nomem(err);
    double total = 0;
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i);
        size_t b = bin_of(in->pred[i], nb);
        acc[3 * b] += w;
        acc[3 * b + 1] += w * in->pred[i];
        acc[3 * b + 2] += w * in->y[i];
        total += w;
    }
    double e = 0;
    for (size_t b = 0; b < nb; b++) {
        double wb = acc[3 * b];
        if (wb > 0) e += wb / total * fabs(acc[3 * b + 1] / wb - acc[3 * b + 2] / wb);
    }
    hml_free(acc);
    *out = e;
    return HML_OK;
}

enum hml_status hml__m_auc_roc(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    struct hml__sw *v = hml_malloc(in->n * sizeof *v);
    if (!v) return hml__metric_nomem(err);
    for (size_t i = 0; i < in->n; i++) v[i] = (struct hml__sw){in->pred[i], in->y[i], hml__w(in->w, i)};
    *out = hml__auc(v, in->n);
    hml_free(v);
    return HML_OK;
}

enum hml_status hml__m_auc_pr(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    struct hml__sw *v = hml_malloc(in->n * sizeof *v);
    if (!v) return hml__metric_nomem(err);
    for (size_t i = 0; i < in->n; i++) v[i] = (struct hml__sw){in->pred[i], in->y[i], hml__w(in->w, i)};
    *out = hml__ap(v, in->n);
    hml_free(v);
    return HML_OK;
}

enum hml_status hml__m_f1(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    struct bin_counts c = bin_count(in);
    *out = f1_of(safe_div(c.tp, c.tp + c.fp), safe_div(c.tp, c.tp + c.fn));
    return HML_OK;
}

enum hml_status hml__m_precision(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    struct bin_counts c = bin_count(in);
    *out = safe_div(c.tp, c.tp + c.fp);
    return HML_OK;
}

enum hml_status hml__m_recall(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    struct bin_counts c = bin_count(in);
    *out = safe_div(c.tp, c.tp + c.fn);
    return HML_OK;
}

enum hml_status hml__m_specificity(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    struct bin_counts c = bin_count(in);
    *out = safe_div(c.tn, c.tn + c.fp);
    return HML_OK;
}

enum hml_status hml__m_mcc(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    struct bin_counts c = bin_count(in);
    double t[2], p[2], d[2];
    struct class_sums s = bin_sums(&c, t, p, d);
    *out = mcc_of(&s);
    return HML_OK;
}

enum hml_status hml__m_cohen_kappa(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    struct bin_counts c = bin_count(in);
    double t[2], p[2], d[2];
    struct class_sums s = bin_sums(&c, t, p, d);
    *out = kappa_of(&s);
    return HML_OK;
}

static json_t *count_json(double v, bool weighted)
{
    return weighted ? json_real(v) : json_integer((json_int_t)v);
}

enum hml_status hml__t_confusion(const struct hml_metric_input *in, json_t **out, struct hml_error *err)
{
    struct bin_counts c = bin_count(in);
    bool wt = in->w != NULL;
    json_t *o = json_object();
    if (!o || !hml_json_set(o, "tp", count_json(c.tp, wt)) || !hml_json_set(o, "tn", count_json(c.tn, wt)) ||
        !hml_json_set(o, "fp", count_json(c.fp, wt)) || !hml_json_set(o, "fn", count_json(c.fn, wt))) {
        json_decref(o);
        return hml__metric_nomem(err);
    }
    *out = o;
    return HML_OK;
}

/* ---- multiclass --------------------------------------------------------- */

static size_t argmax_row(const double *row, size_t k)
{
    size_t best = 0;
    for (size_t c = 1; c < k; c++)
        if (row[c] > row[best]) best = c;
    return best;
}

static void sums_free(struct class_sums *s)
{
    hml_free(s->t);
    s->t = s->p = s->d = NULL;
}

static enum hml_status sums_build(const struct hml_metric_input *in, struct class_sums *s, struct hml_error *err)
{
    size_t k = in->k;
    double *buf = hml_calloc(3 * k, sizeof *buf);
    if (!buf) return hml__metric_nomem(err);
    *s = (struct class_sums){k, buf, buf + k, buf + 2 * k, 0};
    for (size_t i = 0; i < in->n; i++) {
        double w = hml__w(in->w, i);
        size_t yc = (size_t)in->y[i], pc = argmax_row(in->pred + i * k, k);
        s->t[yc] += w;
        s->p[pc] += w;
        if (yc == pc) s->d[yc] += w;
        s->total += w;
    }
    return HML_OK;
}

/* Present in y or predicted — with weights, a class whose rows all weigh 0
 * still counts, as it does in scikit-learn (labels come from the values). */
static bool *present_build(const struct hml_metric_input *in, struct hml_error *err)
{
    bool *pr = hml_calloc(in->k, sizeof *pr);
    if (!pr) return hml__metric_nomem(err), NULL;
    for (size_t i = 0; i < in->n; i++) {
        pr[(size_t)in->y[i]] = true;
        pr[argmax_row(in->pred + i * in->k, in->k)] = true;
    }
    return pr;
}

enum avg { AVG_MACRO, AVG_WEIGHTED };
enum which { W_PREC, W_REC, W_F1 };

static double class_score(const struct class_sums *s, size_t c, enum which wh)
{
    double prec = safe_div(s->d[c], s->p[c]), rec = safe_div(s->d[c], s->t[c]);
    return wh == W_PREC ? prec : wh == W_REC ? rec : f1_of(prec, rec);
}

static double averaged(const struct class_sums *s, const bool *present, enum which wh, enum avg avg)
{
    double num = 0, den = 0;
    for (size_t c = 0; c < s->k; c++) {
        if (!present[c]) continue;
        double wc = avg == AVG_MACRO ? 1 : s->t[c];
        num += wc * class_score(s, c, wh);
        den += wc;
    }
    return safe_div(num, den);
}

typedef double (*sums_fn)(const struct class_sums *s, const bool *present, int arg);

static enum hml_status with_sums(const struct hml_metric_input *in, sums_fn fn, int arg, double *out,
                                 struct hml_error *err)
{
    struct class_sums s;
    enum hml_status rc = sums_build(in, &s, err);
    if (rc) return rc;
    bool *present = present_build(in, err);
    if (!present) {
        sums_free(&s);
        return HML_ENOMEM;
    }
    *out = fn(&s, present, arg);
    hml_free(present);
    sums_free(&s);
    return HML_OK;
}

static double s_accuracy(const struct class_sums *s, const bool *present, int arg)
{
    (void)present, (void)arg;
    double trace = 0;
    for (size_t c = 0; c < s->k; c++) trace += s->d[c];
    return trace / s->total;
}

static double s_micro_f1(const struct class_sums *s, const bool *present, int arg)
{
    double acc = s_accuracy(s, present, arg); /* pooled precision = pooled recall = accuracy */
    return f1_of(acc, acc);
}

static double s_avg(const struct class_sums *s, const bool *present, int arg)
{
    return averaged(s, present, (enum which)(arg & 3), (enum avg)(arg >> 2));
}

static double s_mcc(const struct class_sums *s, const bool *present, int arg)
{
    (void)present, (void)arg;
    return mcc_of(s);
}

static double s_kappa(const struct class_sums *s, const bool *present, int arg)
{
    (void)present, (void)arg;
    return kappa_of(s);
}

#define AVG_ARG(wh, avg) ((int)(wh) | ((int)(avg) << 2))

enum hml_status hml__m_accuracy_multi(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return with_sums(in, s_accuracy, 0, out, err);
}
enum hml_status hml__m_f1_macro(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return with_sums(in, s_avg, AVG_ARG(W_F1, AVG_MACRO), out, err);
}
enum hml_status hml__m_f1_micro(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return with_sums(in, s_micro_f1, 0, out, err);
}
enum hml_status hml__m_f1_weighted(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return with_sums(in, s_avg, AVG_ARG(W_F1, AVG_WEIGHTED), out, err);
}
enum hml_status hml__m_precision_macro(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return with_sums(in, s_avg, AVG_ARG(W_PREC, AVG_MACRO), out, err);
}
enum hml_status hml__m_recall_macro(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return with_sums(in, s_avg, AVG_ARG(W_REC, AVG_MACRO), out, err);
}
enum hml_status hml__m_mcc_multi(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return with_sums(in, s_mcc, 0, out, err);
}
enum hml_status hml__m_kappa_multi(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    return with_sums(in, s_kappa, 0, out, err);
}

enum hml_status hml__m_log_loss_multi(const struct hml_metric_input *in, double *out, struct hml_error *err)
{
    (void)err;
    size_t k = in->k;
    double s = 0, sw = 0;
    for (size_t i = 0; i < in->n; i++) {
        const double *row = in->pred + i * k;
        double sum = 0;
        for (size_t c = 0; c < k; c++) sum += fmin(fmax(row[c], LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
        double py = fmin(fmax(row[(size_t)in->y[i]], LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
        double w = hml__w(in->w, i);
        s += w * -log(py / sum);
        sw += w;
    }
    *out = s / sw;
    return HML_OK;
}

/* ---- multiclass tables -------------------------------------------------- */

static json_t *labels_json(const bool *present, size_t k)
{
    json_t *a = json_array();
    for (size_t c = 0; a && c < k; c++)
        if (present[c] && json_array_append_new(a, json_integer((json_int_t)c))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* Rows of the present classes; C is k×k (true × predicted). */
static json_t *matrix_json(const double *C, const bool *present, size_t k, bool weighted)
{
    json_t *m = json_array();
    for (size_t r = 0; m && r < k; r++) {
        if (!present[r]) continue;
        json_t *row = json_array();
        for (size_t c = 0; row && c < k; c++)
            if (present[c] && json_array_append_new(row, count_json(C[r * k + c], weighted))) {
                json_decref(row);
                row = NULL;
            }
        if (!row || json_array_append_new(m, row)) {
            json_decref(m);
            return NULL;
        }
    }
    return m;
}

enum hml_status hml__t_confusion_multi(const struct hml_metric_input *in, json_t **out, struct hml_error *err)
{
    size_t k = in->k;
    bool *present = present_build(in, err);
    if (!present) return HML_ENOMEM;
    double *C = hml_calloc(k * k, sizeof *C);
    json_t *o = C ? json_object() : NULL;
    if (C)
        for (size_t i = 0; i < in->n; i++)
            C[(size_t)in->y[i] * k + argmax_row(in->pred + i * k, k)] += hml__w(in->w, i);
    bool ok = o && hml_json_set(o, "labels", labels_json(present, k)) &&
              hml_json_set(o, "matrix", matrix_json(C, present, k, in->w != NULL));
    hml_free(C);
    hml_free(present);
    if (!ok) {
        json_decref(o);
        return hml__metric_nomem(err);
    }
    *out = o;
    return HML_OK;
}

/* Takes support (released on failure too). */
static json_t *report_row(double prec, double rec, double f1, json_t *support)
{
    json_t *o = json_object();
    if (!o) {
        json_decref(support);
        return NULL;
    }
    if (!hml_json_set(o, "support", support) || !hml_json_set(o, "precision", json_real(prec)) ||
        !hml_json_set(o, "recall", json_real(rec)) || !hml_json_set(o, "f1-score", json_real(f1))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static bool report_fill(json_t *o, const struct class_sums *s, const bool *present, bool wt)
{
    char key[32];
    for (size_t c = 0; c < s->k; c++) {
        if (!present[c]) continue;
        snprintf(key, sizeof key, "%zu", c);
        json_t *row = report_row(class_score(s, c, W_PREC), class_score(s, c, W_REC), class_score(s, c, W_F1),
                                 count_json(s->t[c], wt));
        if (!hml_json_set(o, key, row)) return false;
    }
    if (!hml_json_set(o, "accuracy", json_real(s_accuracy(s, present, 0)))) return false;
    for (int avg = AVG_MACRO; avg <= AVG_WEIGHTED; avg++) {
        json_t *row = report_row(averaged(s, present, W_PREC, (enum avg)avg), averaged(s, present, W_REC, (enum avg)avg),
                                 averaged(s, present, W_F1, (enum avg)avg), count_json(s->total, wt));
        if (!hml_json_set(o, avg == AVG_MACRO ? "macro avg" : "weighted avg", row)) return false;
    }
    return true;
}

enum hml_status hml__t_class_report(const struct hml_metric_input *in, json_t **out, struct hml_error *err)
{
    struct class_sums s;
    enum hml_status rc = sums_build(in, &s, err);
    if (rc) return rc;
    bool *present = present_build(in, err);
    json_t *o = present ? json_object() : NULL;
    bool ok = o && report_fill(o, &s, present, in->w != NULL);
    hml_free(present);
    sums_free(&s);
    if (!ok) {
        json_decref(o);
        return hml__metric_nomem(err);
    }
    *out = o;
    return HML_OK;
}
