/* metric_int.h — shared between the metric registry (metric.c) and the metric
 * families (metric_class.c, metric_regress.c, metric_rank.c). */
#ifndef HML_METRIC_INT_H
#define HML_METRIC_INT_H

#include "harness/metric.h"

#define HML__METRIC_WHERE "metric"

static inline double hml__w(const double *w, size_t i)
{
    return w ? w[i] : 1.0;
}

enum hml_status hml__metric_nomem(struct hml_error *err);

/* Weighted mean of x (w NULL = unweighted), summed left to right. */
double hml__wmean(const double *x, const double *w, size_t n);

/* One scored row for the area metrics: score, 0/1 label, weight. */
struct hml__sw {
    double s, y, w;
};
/* Tie-corrected Mann–Whitney AUC: P(score_pos > score_neg) + ½ P(equal), with
 * weights. Sorts v. NaN when either class has zero total weight. */
double hml__auc(struct hml__sw *v, size_t n);
/* Average precision, scikit-learn's step form Σ (R_t − R_{t−1}) P_t over distinct
 * score thresholds, with weights. Sorts v. NaN when positives weigh zero. */
double hml__ap(struct hml__sw *v, size_t n);

int hml__cmp_double(const void *a, const void *b);
/* Median (mean of the two middle values for even n). Sorts x. */
double hml__median(double *x, size_t n);

/* binary */
enum hml_status hml__m_brier(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_log_loss(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_accuracy(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_ece(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_auc_roc(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_f1(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_precision(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_recall(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_mcc(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_auc_pr(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_specificity(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__t_confusion(const struct hml_metric_input *in, json_t **out, struct hml_error *err);
enum hml_status hml__m_cohen_kappa(const struct hml_metric_input *in, double *out, struct hml_error *err);

/* multiclass */
enum hml_status hml__m_accuracy_multi(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_f1_macro(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_f1_micro(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_f1_weighted(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_precision_macro(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_recall_macro(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__t_confusion_multi(const struct hml_metric_input *in, json_t **out, struct hml_error *err);
enum hml_status hml__t_class_report(const struct hml_metric_input *in, json_t **out, struct hml_error *err);
enum hml_status hml__m_log_loss_multi(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_mcc_multi(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_kappa_multi(const struct hml_metric_input *in, double *out, struct hml_error *err);

/* regression */
enum hml_status hml__m_rmse(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_mae(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_r_squared(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_mape(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_median_ae(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_explained_variance(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_mean_bias(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_quantile_loss(const struct hml_metric_input *in, double *out, struct hml_error *err);

/* ranking */
enum hml_status hml__m_ndcg(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_map(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_mrr(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_precision_at_k(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_recall_at_k(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_spearman(const struct hml_metric_input *in, double *out, struct hml_error *err);

/* survival */
enum hml_status hml__m_concordance(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_td_brier(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_cum_auc(const struct hml_metric_input *in, double *out, struct hml_error *err);

/* probabilistic */
enum hml_status hml__m_crps(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__t_pit(const struct hml_metric_input *in, json_t **out, struct hml_error *err);
enum hml_status hml__m_sharpness(const struct hml_metric_input *in, double *out, struct hml_error *err);
enum hml_status hml__m_coverage(const struct hml_metric_input *in, double *out, struct hml_error *err);

#endif
