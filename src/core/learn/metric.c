/* metric.c — the metric table, name resolution per task, input validation and
 * the helpers the metric families share.
 *
 * Definitions that are ours rather than scikit-learn's (the reference is
 * tests/fixtures/metrics/gen_metrics.py):
 *   log_loss(_multi)  probabilities clipped to [1e-15, 1 − 1e-15] (scikit-learn ≤ 1.1's
 *                     eps; 1.2 defaults to machine epsilon), rows renormalised
 *   ece               10 equal-width bins [i/B, (i+1)/B), the last closed; Σ_b (W_b/W)·
 *                     |mean pred_b − mean y_b| with bin weight W_b (row count unweighted)
 *   specificity       TN / (TN + FP), 0 when no negatives
 *   auc_pr            NaN (not scikit-learn's 0) without positives
 *   mean_bias         mean of pred − y (positive = over-prediction)
 *   quantile_loss     mean pinball loss τ·max(y−p,0) + (1−τ)·max(p−y,0) (= mean_pinball_loss)
 *   ndcg_at_k         scikit-learn's ndcg_score per query (linear gains, ties averaged)
 *   mean_average_precision  per-query average precision on y > 0; queries without a
 *                     relevant row are skipped
 *   mrr               1/rank of the first row with y > 0, 0 for a query without one;
 *                     ties in score are broken by row order (earlier first)
 *   precision_at_k    hits (y > 0) in the first k rows / k; ties by row order
 *   recall_at_k       hits in the first k rows / relevant rows; queries without a
 *                     relevant row are skipped
 *   spearman_rank_corr  over all rows (group is ignored), average ranks for ties
 *   concordance_index Harrell's C: pairs (i, j) with event_i and t_j > t_i; concordant
 *                     when risk_i > risk_j, ties in risk count ½
 *   time_dependent_brier  Graf et al. (1999) IPCW Brier score at the horizon τ:
 *                     (1/n) Σ [t_i ≤ τ, δ_i] S_i² / G(t_i−) + [t_i > τ] (1 − S_i)² / G(τ),
 *                     G the Kaplan–Meier estimate of the censoring distribution on
 *                     the same rows (censoring at an event time counts after it)
 *   cumulative_incidence_auc  Uno's cumulative/dynamic AUC at τ: cases t_i ≤ τ with
 *                     an event weighted 1/G(t_i−), controls t_j > τ, ties ½
 *   crps              empirical-ensemble CRPS  E|X − y| − ½ E|X − X'| (k = 1: |pred − y|)
 *   pit_histogram_data  PIT = pred when y is not all 0/1, else p for y = 1 and 1 − p
 *                     for y = 0; np.histogram over [0,1] with n_bins bins
 *   sharpness         variance of pred (population); informational
 *   coverage_at_level share of rows with lower ≤ y ≤ upper
 */
#include "metric_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness/alloc.h"

#define B  HML_TASK_BIT(HML_TASK_BINARY)
#define MC HML_TASK_BIT(HML_TASK_MULTICLASS)
#define RG HML_TASK_BIT(HML_TASK_REGRESSION)
#define RK HML_TASK_BIT(HML_TASK_RANKING)
#define SV HML_TASK_BIT(HML_TASK_SURVIVAL)
#define PB HML_TASK_BIT(HML_TASK_PROBABILISTIC)
#define W  HML_MF_WEIGHTS
#define P  HML_MF_PROB
#define T  HML_MF_TABLE

/* NOTE: when adding a metric, also add a case to tests/fixtures/metrics/gen_metrics.py;
 * a test fails for any metric without one. Aliases must be unique within a task. */
static const struct hml_metric metric_table[] = {
    {"brier", "brier_score", B, HML_GOAL_MIN, W | P, "mean squared error of P(class 1) against the 0/1 label",
     hml__m_brier, NULL},
    {"log_loss", "logloss cross_entropy", B, HML_GOAL_MIN, W | P, "mean negative log-likelihood of the label",
     hml__m_log_loss, NULL},
    {"accuracy", "acc", B, HML_GOAL_MAX, W, "share of rows classified right at the threshold", hml__m_accuracy,
     NULL},
    {"ece", "expected_calibration_error calibration", B, HML_GOAL_MIN, W | P,
     "expected calibration error over equal-width bins, weighted by bin count", hml__m_ece, NULL},
    {"auc_roc", "auc roc_auc auroc", B, HML_GOAL_MAX, W, "area under the ROC curve (ties count half)",
     hml__m_auc_roc, NULL},
    {"f1", "f1_score", B, HML_GOAL_MAX, W, "harmonic mean of precision and recall at the threshold", hml__m_f1,
     NULL},
    {"precision", "ppv", B, HML_GOAL_MAX, W, "TP / (TP + FP) at the threshold", hml__m_precision, NULL},
    {"recall", "sensitivity tpr", B, HML_GOAL_MAX, W, "TP / (TP + FN) at the threshold", hml__m_recall, NULL},
    {"mcc", "matthews_corrcoef", B, HML_GOAL_MAX, W, "Matthews correlation coefficient at the threshold",
     hml__m_mcc, NULL},
    {"auc_pr", "average_precision pr_auc ap", B, HML_GOAL_MAX, W, "area under the precision-recall curve (average precision)",
     hml__m_auc_pr, NULL},
    {"specificity", "tnr", B, HML_GOAL_MAX, W, "TN / (TN + FP) at the threshold", hml__m_specificity, NULL},
    {"confusion_matrix", "", B, HML_GOAL_NONE, W | T, "counts of tp, tn, fp, fn at the threshold", NULL,
     hml__t_confusion},
    {"cohen_kappa", "kappa", B, HML_GOAL_MAX, W, "Cohen's kappa: agreement beyond chance at the threshold",
     hml__m_cohen_kappa, NULL},

    {"accuracy_multi", "accuracy acc", MC, HML_GOAL_MAX, W | HML_MF_CLASSES, "share of rows whose argmax class is right",
     hml__m_accuracy_multi, NULL},
    {"f1_macro", "", MC, HML_GOAL_MAX, W | HML_MF_CLASSES, "unweighted mean of per-class F1", hml__m_f1_macro, NULL},
    {"f1_micro", "", MC, HML_GOAL_MAX, W | HML_MF_CLASSES, "F1 from pooled counts (equals accuracy)",
     hml__m_f1_micro, NULL},
    {"f1_weighted", "", MC, HML_GOAL_MAX, W | HML_MF_CLASSES, "per-class F1 weighted by class support",
     hml__m_f1_weighted, NULL},
    {"precision_macro", "", MC, HML_GOAL_MAX, W | HML_MF_CLASSES, "unweighted mean of per-class precision",
     hml__m_precision_macro, NULL},
    {"recall_macro", "balanced_accuracy", MC, HML_GOAL_MAX, W | HML_MF_CLASSES, "unweighted mean of per-class recall",
     hml__m_recall_macro, NULL},
    {"confusion_matrix_multi", "confusion_matrix", MC, HML_GOAL_NONE, W | T | HML_MF_CLASSES,
     "class-by-class counts, rows true, columns predicted", NULL, hml__t_confusion_multi},
    {"per_class_report", "classification_report", MC, HML_GOAL_NONE, W | T | HML_MF_CLASSES,
     "precision, recall, F1 and support per class, with averages", NULL, hml__t_class_report},
    {"log_loss_multi", "log_loss logloss cross_entropy", MC, HML_GOAL_MIN, W | P | HML_MF_CLASSES,
     "mean negative log-likelihood of the true class", hml__m_log_loss_multi, NULL},
    {"mcc_multi", "mcc matthews_corrcoef", MC, HML_GOAL_MAX, W | HML_MF_CLASSES, "multiclass Matthews correlation coefficient",
     hml__m_mcc_multi, NULL},
    {"cohen_kappa_multi", "cohen_kappa kappa", MC, HML_GOAL_MAX, W | HML_MF_CLASSES,
     "Cohen's kappa of the argmax class", hml__m_kappa_multi, NULL},

    {"rmse", "root_mean_squared_error", RG, HML_GOAL_MIN, W, "root mean squared error", hml__m_rmse, NULL},
    {"mae", "mean_absolute_error", RG, HML_GOAL_MIN, W, "mean absolute error", hml__m_mae, NULL},
    {"r_squared", "r2 r2_score", RG, HML_GOAL_MAX, W, "coefficient of determination (1 − SSE/SST)",
     hml__m_r_squared, NULL},
    {"mape", "mean_absolute_percentage_error", RG, HML_GOAL_MIN, W, "mean of |y − pred| / |y| (as a fraction)",
     hml__m_mape, NULL},
    {"median_ae", "median_absolute_error", RG, HML_GOAL_MIN, W, "median absolute error", hml__m_median_ae, NULL},
    {"explained_variance", "explained_variance_score", RG, HML_GOAL_MAX, W,
     "1 − Var(y − pred) / Var(y): R² that ignores a constant bias", hml__m_explained_variance, NULL},
    {"mean_bias", "bias", RG, HML_GOAL_ZERO, W, "mean of pred − y (positive = over-prediction)",
     hml__m_mean_bias, NULL},
    {"quantile_loss", "pinball_loss pinball", RG, HML_GOAL_MIN, W, "mean pinball loss at the quantile",
     hml__m_quantile_loss, NULL},

    {"ndcg_at_k", "ndcg", RK, HML_GOAL_MAX, HML_MF_GROUP, "normalised discounted cumulative gain of the top k per query",
     hml__m_ndcg, NULL},
    {"mean_average_precision", "map", RK, HML_GOAL_MAX, HML_MF_GROUP, "mean over queries of average precision",
     hml__m_map, NULL},
    {"mrr", "mean_reciprocal_rank", RK, HML_GOAL_MAX, HML_MF_GROUP, "mean over queries of 1/rank of the first relevant row",
     hml__m_mrr, NULL},
    {"precision_at_k", "p_at_k", RK, HML_GOAL_MAX, HML_MF_GROUP, "relevant rows among the top k, over k, per query",
     hml__m_precision_at_k, NULL},
    {"recall_at_k", "r_at_k", RK, HML_GOAL_MAX, HML_MF_GROUP, "relevant rows in the top k over all relevant, per query",
     hml__m_recall_at_k, NULL},
    {"spearman_rank_corr", "spearman", RK | RG, HML_GOAL_MAX, 0, "Spearman rank correlation of pred with y",
     hml__m_spearman, NULL},

    {"concordance_index", "c_index cindex", SV, HML_GOAL_MAX, HML_MF_EVENT,
     "Harrell's C: share of comparable pairs the risk score orders right", hml__m_concordance, NULL},
    {"time_dependent_brier", "brier_survival", SV, HML_GOAL_MIN, HML_MF_EVENT | P,
     "IPCW Brier score of P(survive past the horizon)", hml__m_td_brier, NULL},
    {"cumulative_incidence_auc", "cumulative_dynamic_auc", SV, HML_GOAL_MAX, HML_MF_EVENT,
     "IPCW AUC of P(event by the horizon): events by then against survivors past it", hml__m_cum_auc, NULL},

    {"crps", "", PB, HML_GOAL_MIN, W | HML_MF_MEMBERS, "continuous ranked probability score of an ensemble forecast",
     hml__m_crps, NULL},
    {"pit_histogram_data", "pit pit_histogram", PB, HML_GOAL_NONE, W | P | T,
     "histogram of probability integral transform values (flat = calibrated)", NULL, hml__t_pit},
    {"sharpness", "", PB, HML_GOAL_NONE, W, "variance of the predictions (informational; sharp is good only if calibrated)",
     hml__m_sharpness, NULL},
    {"coverage_at_level", "coverage", PB, HML_GOAL_LEVEL, W | HML_MF_BOUNDS,
     "share of y inside [lower, upper]; best nearest the nominal level", hml__m_coverage, NULL},
};
#define METRICS_N (sizeof metric_table / sizeof *metric_table)

static const char *const task_names[HML_TASK_COUNT_] = {"binary", "multiclass", "regression",
                                                         "ranking", "survival", "probabilistic"};

/* ---- tasks and names ---------------------------------------------------- */

const char *hml_task_name(enum hml_task task)
{
    return (unsigned)task < HML_TASK_COUNT_ ? task_names[task] : "?";
}

enum hml_status hml_task_parse(const char *name, enum hml_task *out, struct hml_error *err)
{
    for (unsigned t = 0; name && t < HML_TASK_COUNT_; t++)
        if (!strcasecmp(name, task_names[t])) {
            *out = (enum hml_task)t;
            return HML_OK;
        }
    hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "unknown task '%s'", name ? name : "");
    return hml_error_choices(err, name ? name : "", task_names, HML_TASK_COUNT_);
}

size_t hml_metric_count(void)
{
    return METRICS_N;
}

const struct hml_metric *hml_metric_at(size_t i)
{
    return i < METRICS_N ? &metric_table[i] : NULL;
}

static bool has_alias(const struct hml_metric *m, const char *name)
{
    size_t len = strlen(name);
    for (const char *a = m->aliases; *a;) {
        size_t n = strcspn(a, " ");
        if (n == len && !strncasecmp(a, name, n)) return true;
        a += n;
        a += strspn(a, " ");
    }
    return false;
}

const struct hml_metric *hml_metric_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < METRICS_N; i++)
        if (!strcasecmp(metric_table[i].name, name)) return &metric_table[i];
    for (size_t i = 0; i < METRICS_N; i++)
        if (has_alias(&metric_table[i], name)) return &metric_table[i];
    return NULL;
}

size_t hml_metrics_for_task(enum hml_task task, const struct hml_metric **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < METRICS_N; i++) {
        if (!(metric_table[i].tasks & HML_TASK_BIT(task))) continue;
        if (n < cap) out[n] = &metric_table[i];
        n++;
    }
    return n;
}

#define SPELLINGS_MAX 160
#define SPELLING_LEN  48

/* Every spelling (name and alias) of the task's metrics, with the metric each
 * spells, so a typo of an alias suggests the canonical name. */
struct spellings {
    char text[SPELLINGS_MAX][SPELLING_LEN];
    const char *ptr[SPELLINGS_MAX];
    const struct hml_metric *of[SPELLINGS_MAX];
    size_t n;
};

static void spell_add(struct spellings *s, const char *word, size_t len, const struct hml_metric *m)
{
    HML_ASSERT(s->n < SPELLINGS_MAX);
    HML_ASSERT(len < SPELLING_LEN);
    memcpy(s->text[s->n], word, len);
    s->text[s->n][len] = 0;
    s->ptr[s->n] = s->text[s->n];
    s->of[s->n++] = m;
}

static void spellings_for(struct spellings *s, const struct hml_metric *const *ms, size_t n)
{
    s->n = 0;
    for (size_t i = 0; i < n; i++) {
        spell_add(s, ms[i]->name, strlen(ms[i]->name), ms[i]);
        for (const char *a = ms[i]->aliases; *a;) {
            size_t len = strcspn(a, " ");
            if (len) spell_add(s, a, len, ms[i]);
            a += len;
            a += strspn(a, " ");
        }
    }
}

static void tasks_of(const struct hml_metric *m, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = 0;
    for (unsigned t = 0; t < HML_TASK_COUNT_; t++)
        if (m->tasks & HML_TASK_BIT(t) && off < cap) {
            int w = snprintf(buf + off, cap - off, "%s%s", off ? " and " : "", task_names[t]);
            if (w > 0) off += (size_t)w;
        }
}

/* Known, but for other tasks: name the tasks it is for and this task's metrics. */
static enum hml_status wrong_task(const char *name, const struct hml_metric *other, enum hml_task task,
                                  const char *const *names, size_t n, struct hml_error *err)
{
    char tasks[128], list[400];
    tasks_of(other, tasks, sizeof tasks);
    hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "metric '%s' does not apply to a %s task", name, task_names[task]);
    hml_error_choices(err, "", names, n); /* for err->valid; the hint is rewritten below */
    size_t off = 0;
    list[0] = 0;
    for (size_t i = 0; i < n && off < sizeof list; i++) {
        int w = snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", names[i]);
        if (w > 0) off += (size_t)w;
    }
    return hml_hint(err, "'%s' is a %s metric; %s metrics: %s", other->name, tasks, task_names[task], list);
}

static enum hml_status unknown_metric(const char *name, enum hml_task task, const struct hml_metric *const *ms,
                                      size_t n, struct hml_error *err)
{
    static _Thread_local struct spellings sp; /* ~10 KiB; kept off the stack */
    const char *names[METRICS_N];
    for (size_t i = 0; i < n; i++) names[i] = ms[i]->name;
    const struct hml_metric *other = hml_metric_find(name);
    if (other) return wrong_task(name, other, task, names, n, err);
    spellings_for(&sp, ms, n);
    const char *near = hml_suggest(name, sp.ptr, sp.n);
    const char *guess = name;
    for (size_t i = 0; near && i < sp.n; i++)
        if (sp.ptr[i] == near) guess = sp.of[i]->name;
    hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "unknown metric '%s' for a %s task", name, task_names[task]);
    /* Passing the canonical name of the nearest spelling makes it the suggestion. */
    return hml_error_choices(err, guess, names, n);
}

enum hml_status hml_metric_lookup(const char *name, enum hml_task task, const struct hml_metric **out,
                                  struct hml_error *err)
{
    HML_ASSERT((unsigned)task < HML_TASK_COUNT_);
    const struct hml_metric *ms[METRICS_N];
    size_t n = hml_metrics_for_task(task, ms, METRICS_N);
    if (!name) name = "";
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(ms[i]->name, name)) return *out = ms[i], HML_OK;
    for (size_t i = 0; i < n; i++)
        if (has_alias(ms[i], name)) return *out = ms[i], HML_OK;
    return unknown_metric(name, task, ms, n, err);
}

const char *hml_metric_goal_name(enum hml_metric_goal goal)
{
    switch (goal) {
    case HML_GOAL_MIN: return "lower";
    case HML_GOAL_MAX: return "higher";
    case HML_GOAL_ZERO: return "closer to 0";
    case HML_GOAL_LEVEL: return "closer to the level";
    case HML_GOAL_NONE: break;
    }
    return "n/a";
}

bool hml_metric_better(const struct hml_metric *m, const struct hml_metric_opts *opt, double a, double b)
{
    HML_ASSERT(m != NULL);
    if (m->goal == HML_GOAL_NONE || isnan(a)) return false;
    if (isnan(b)) return true;
    double level = opt && opt->level > 0 ? opt->level : 0.9;
    switch (m->goal) {
    case HML_GOAL_MIN: return a < b;
    case HML_GOAL_MAX: return a > b;
    case HML_GOAL_ZERO: return fabs(a) < fabs(b);
    case HML_GOAL_LEVEL: return fabs(a - level) < fabs(b - level);
    case HML_GOAL_NONE: break;
    }
    return false;
}

/* ---- validation --------------------------------------------------------- */

static size_t count_nonfinite(const double *x, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += !isfinite(x[i]);
    return c;
}

static enum hml_status check_finite(const struct hml_metric *m, const char *what, const double *x, size_t n,
                                    struct hml_error *err)
{
    size_t bad = x ? count_nonfinite(x, n) : 0;
    if (!bad) return HML_OK;
    hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "%s: %zu of %zu values in '%s' are NaN or infinite", m->name,
             bad, n, what);
    return hml_hint(err, "metrics never skip rows; drop or impute the rows with missing %s before scoring", what);
}

static size_t pred_cols(const struct hml_metric_input *in)
{
    return in->k ? in->k : 1;
}

static enum hml_status check_shape(const struct hml_metric *m, const struct hml_metric_input *in,
                                   struct hml_error *err)
{
    size_t k = pred_cols(in);
    if (in->n == 0) {
        hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "%s: no rows to score", m->name);
        return hml_hint(err, "the fold or filter selected no rows; check the fold column and eval_filter");
    }
    if (in->n > HML_METRIC_ROWS_MAX) {
        hml_fail(err, HML_ELIMIT, HML__METRIC_WHERE, "%s: %zu rows exceed the limit of %zu", m->name, in->n,
                 HML_METRIC_ROWS_MAX);
        return hml_hint(err, "score a sample, or raise HML_METRIC_ROWS_MAX in include/harness/metric.h");
    }
    if (m->flags & HML_MF_CLASSES) {
        if (k < 2) {
            hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "%s: needs one probability column per class, got %zu",
                     m->name, k);
            return hml_hint(err, "pass pred as n×k probabilities with k ≥ 2 classes (row-major)");
        }
        if (k > HML_METRIC_CLASSES_MAX) {
            hml_fail(err, HML_ELIMIT, HML__METRIC_WHERE, "%s: %zu classes exceed the limit of %u", m->name, k,
                     HML_METRIC_CLASSES_MAX);
            return hml_hint(err, "group rare classes, or raise HML_METRIC_CLASSES_MAX");
        }
    } else if (m->flags & HML_MF_MEMBERS) {
        if (k > HML_METRIC_MEMBERS_MAX) {
            hml_fail(err, HML_ELIMIT, HML__METRIC_WHERE, "%s: %zu ensemble members exceed the limit of %u", m->name,
                     k, HML_METRIC_MEMBERS_MAX);
            return hml_hint(err, "thin the ensemble, or raise HML_METRIC_MEMBERS_MAX");
        }
    } else if ((m->flags & HML_MF_BOUNDS) ? k != 2 : k != 1) {
        hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "%s: pred has %zu columns, expected %d", m->name, k,
                 (m->flags & HML_MF_BOUNDS) ? 2 : 1);
        return hml_hint(err, (m->flags & HML_MF_BOUNDS) ? "pass pred as n×2 rows of [lower, upper]"
                                                        : "pass one prediction per row (k = 1)");
    }
    return HML_OK;
}

static enum hml_status check_values(const struct hml_metric *m, const struct hml_metric_input *in,
                                    struct hml_error *err)
{
    size_t n = in->n, k = pred_cols(in);
    enum hml_status rc = check_finite(m, "y", in->y, n, err);
    if (!rc) rc = check_finite(m, "pred", in->pred, n * k, err);
    if (!rc && in->w) rc = check_finite(m, "w", in->w, n, err);
    if (!rc && (m->flags & HML_MF_GROUP)) rc = check_finite(m, "group", in->group, n, err);
    if (!rc && (m->flags & HML_MF_EVENT)) rc = check_finite(m, "event", in->event, n, err);
    return rc;
}

static enum hml_status bad_values(const struct hml_metric *m, size_t bad, size_t n, const char *what,
                                  const char *must, const char *hint, struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "%s: %zu of %zu values in '%s' are not %s", m->name, bad, n,
             what, must);
    return hml_hint(err, "%s", hint);
}

static enum hml_status check_labels(const struct hml_metric *m, const struct hml_metric_input *in,
                                    struct hml_error *err)
{
    size_t n = in->n, k = pred_cols(in), bad = 0;
    if (m->tasks & HML_TASK_BIT(HML_TASK_BINARY)) {
        for (size_t i = 0; i < n; i++) bad += in->y[i] != 0 && in->y[i] != 1;
        if (bad) return bad_values(m, bad, n, "y", "0 or 1", "encode the binary target as 0/1", err);
    }
    if (m->flags & HML_MF_CLASSES) {
        for (size_t i = 0; i < n; i++) bad += !(in->y[i] >= 0 && in->y[i] < (double)k && in->y[i] == floor(in->y[i]));
        if (bad)
            return bad_values(m, bad, n, "y", "class indices 0..k-1",
                              "encode classes as 0..k-1 matching the columns of pred", err);
    }
    if (m->flags & HML_MF_GROUP) {
        for (size_t i = 0; i < n; i++) bad += in->y[i] < 0;
        if (bad) return bad_values(m, bad, n, "y", "relevance ≥ 0", "use non-negative relevance grades", err);
    }
    if ((m->flags & HML_MF_EVENT) && in->event) {
        for (size_t i = 0; i < n; i++) bad += in->event[i] != 0 && in->event[i] != 1;
        if (bad) return bad_values(m, bad, n, "event", "0 or 1", "mark events 1 and censored rows 0", err);
    }
    if (m->flags & HML_MF_PROB) {
        for (size_t i = 0; i < n * k; i++) bad += !(in->pred[i] >= 0 && in->pred[i] <= 1);
        if (bad)
            return bad_values(m, bad, n * k, "pred", "probabilities in [0,1]",
                              "pass probabilities (P(class 1) for binary), not raw scores or labels", err);
    }
    return HML_OK;
}

static enum hml_status check_weights(const struct hml_metric *m, const struct hml_metric_input *in,
                                     struct hml_error *err)
{
    if (!in->w) return HML_OK;
    if (!(m->flags & HML_MF_WEIGHTS)) {
        hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "%s: does not take sample weights", m->name);
        return hml_hint(err, "score '%s' without weights, or pick a metric that takes them", m->name);
    }
    size_t neg = 0;
    double sum = 0;
    for (size_t i = 0; i < in->n; i++) neg += in->w[i] < 0, sum += in->w[i];
    if (neg) return bad_values(m, neg, in->n, "w", "≥ 0", "sample weights must be non-negative", err);
    if (!(sum > 0)) {
        hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "%s: the sample weights sum to 0", m->name);
        return hml_hint(err, "give some scored row a positive weight");
    }
    return HML_OK;
}

static enum hml_status bad_opt(const struct hml_metric *m, const char *opt, double v, const char *range,
                               struct hml_error *err)
{
    hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "%s: option %s = %g is out of range", m->name, opt, v);
    return hml_hint(err, "%s must be %s (0 = default)", opt, range);
}

/* Fills defaults into *o and checks ranges. */
static enum hml_status check_opts(const struct hml_metric *m, struct hml_metric_opts *o, struct hml_error *err)
{
    if (o->threshold == 0) o->threshold = 0.5;
    if (o->quantile == 0) o->quantile = 0.5;
    if (o->level == 0) o->level = 0.9;
    if (o->n_bins == 0) o->n_bins = 10;
    if (o->top_k == 0) o->top_k = 10;
    if (!(o->threshold > 0 && o->threshold <= 1)) return bad_opt(m, "threshold", o->threshold, "in (0, 1]", err);
    if (!(o->quantile > 0 && o->quantile < 1)) return bad_opt(m, "quantile", o->quantile, "in (0, 1)", err);
    if (!(o->level > 0 && o->level < 1)) return bad_opt(m, "level", o->level, "in (0, 1)", err);
    if (!isfinite(o->time_horizon)) return bad_opt(m, "time_horizon", o->time_horizon, "finite", err);
    if (o->n_bins > HML_METRIC_BINS_MAX) {
        hml_fail(err, HML_ELIMIT, HML__METRIC_WHERE, "%s: %zu bins exceed the limit of %u", m->name, o->n_bins,
                 HML_METRIC_BINS_MAX);
        return hml_hint(err, "use at most %u bins", HML_METRIC_BINS_MAX);
    }
    return HML_OK;
}

static enum hml_status validate(const struct hml_metric *m, const struct hml_metric_input *in,
                                struct hml_metric_input *ok, struct hml_error *err)
{
    HML_ASSERT(m != NULL && in != NULL);
    *ok = *in;
    ok->k = pred_cols(in);
    enum hml_status rc = check_shape(m, in, err);
    if (rc) return rc;
    HML_ASSERT(in->y != NULL);
    HML_ASSERT(in->pred != NULL);
    if (!(m->flags & HML_MF_GROUP)) ok->group = NULL;
    if (!(m->flags & HML_MF_EVENT)) ok->event = NULL;
    if (!rc) rc = check_values(m, ok, err);
    if (!rc) rc = check_labels(m, ok, err);
    if (!rc) rc = check_weights(m, ok, err);
    if (!rc) rc = check_opts(m, &ok->opt, err);
    return rc;
}

enum hml_status hml_metric_compute(const struct hml_metric *m, const struct hml_metric_input *in, double *out,
                                   struct hml_error *err)
{
    HML_ASSERT(m != NULL && out != NULL);
    if (!m->fn) {
        hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "metric '%s' is a table, not a number", m->name);
        return hml_hint(err, "compute '%s' with hml_metric_table, or pick a scalar metric for ranking runs",
                        m->name);
    }
    struct hml_metric_input ok;
    enum hml_status rc = validate(m, in, &ok, err);
    double v = NAN;
    if (!rc) rc = m->fn(&ok, &v, err);
    if (!rc) *out = v;
    return rc;
}

enum hml_status hml_metric_table(const struct hml_metric *m, const struct hml_metric_input *in, json_t **out,
                                 struct hml_error *err)
{
    HML_ASSERT(m != NULL && out != NULL);
    if (!m->table) {
        hml_fail(err, HML_EINVAL, HML__METRIC_WHERE, "metric '%s' is a number, not a table", m->name);
        return hml_hint(err, "compute '%s' with hml_metric_compute", m->name);
    }
    struct hml_metric_input ok;
    enum hml_status rc = validate(m, in, &ok, err);
    json_t *t = NULL;
    if (!rc) rc = m->table(&ok, &t, err);
    if (!rc) *out = t;
    return rc;
}

/* ---- shared helpers ----------------------------------------------------- */

enum hml_status hml__metric_nomem(struct hml_error *err)
{
    hml_fail(err, HML_ENOMEM, HML__METRIC_WHERE, "out of memory while scoring");
    return HML_ENOMEM;
}

double hml__wmean(const double *x, const double *w, size_t n)
{
    double s = 0, sw = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = hml__w(w, i);
        s += wi * x[i];
        sw += wi;
    }
    return s / sw;
}

int hml__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double hml__median(double *x, size_t n)
{
    HML_ASSERT(n > 0);
    qsort(x, n, sizeof *x, hml__cmp_double);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

static int cmp_sw(const void *a, const void *b)
{
    double x = ((const struct hml__sw *)a)->s, y = ((const struct hml__sw *)b)->s;
    return (x > y) - (x < y);
}

double hml__auc(struct hml__sw *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_sw);
    double area = 0, neg_below = 0, pos = 0;
    for (size_t i = 0; i < n;) {
        double gp = 0, gn = 0, s = v[i].s;
        for (; i < n && v[i].s == s; i++) {
            if (v[i].y > 0) gp += v[i].w;
            else gn += v[i].w;
        }
        area += gp * (neg_below + 0.5 * gn);
        neg_below += gn;
        pos += gp;
    }
    if (!(pos > 0) || !(neg_below > 0)) return NAN;
    return area / (pos * neg_below);
}

double hml__ap(struct hml__sw *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_sw);
    double pos = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].y > 0) pos += v[i].w;
    if (!(pos > 0)) return NAN;
    double tp = 0, fp = 0, ap = 0;
    for (size_t i = n; i > 0;) { /* descending score */
        double gp = 0, gn = 0, s = v[i - 1].s;
        for (; i > 0 && v[i - 1].s == s; i--) {
            if (v[i - 1].y > 0) gp += v[i - 1].w;
            else gn += v[i - 1].w;
        }
        tp += gp;
        fp += gn;
        if (gp > 0) ap += gp * (tp / (tp + fp));
    }
    return ap / pos;
}
