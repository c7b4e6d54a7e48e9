/* Unit tests for the metric registry: every metric against committed reference
 * values (tests/fixtures/metrics/metrics.json, from gen_metrics.py with
 * scikit-learn 1.2 / scipy / plain numpy), plus names, aliases, goals, errors
 * and the edge cases. */
#include "t.h"

#include <stdint.h>
#include <time.h>

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/json.h"
#include "harness/metric.h"

#define FIXTURE "tests/fixtures/metrics/metrics.json"

/* ---- fixture plumbing --------------------------------------------------- */

static json_t *load_fixture(void)
{
    struct hml_error err;
    char *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    T_RC(hml_read_file(FIXTURE, 8u << 20, &text, &len, &err), &err);
    if (text) T_RC(hml_json_parse(text, len, &root, &err), &err);
    hml_free(text);
    return root;
}

static double *doubles(const json_t *arr)
{
    if (!arr) return NULL;
    size_t n = json_array_size(arr);
    double *v = hml_malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_number_value(json_array_get(arr, i));
    return v;
}

struct fx_input {
    struct hml_metric_input in;
    double *y, *pred, *w, *group, *event;
};

static void fx_build(struct fx_input *fx, const json_t *data, const json_t *cs)
{
    memset(fx, 0, sizeof *fx);
    fx->y = doubles(json_object_get(data, "y"));
    fx->pred = doubles(json_object_get(data, "pred"));
    fx->w = json_is_true(json_object_get(cs, "weighted")) ? doubles(json_object_get(data, "w")) : NULL;
    fx->group = doubles(json_object_get(data, "group"));
    fx->event = doubles(json_object_get(data, "event"));
    const json_t *opt = json_object_get(cs, "opt");
    fx->in = (struct hml_metric_input){
        .n = (size_t)hml_json_int(data, "n", 0), .k = (size_t)hml_json_int(data, "k", 1),
        .y = fx->y, .pred = fx->pred, .w = fx->w, .group = fx->group, .event = fx->event,
        .opt = {.threshold = hml_json_num(opt, "threshold", 0), .quantile = hml_json_num(opt, "quantile", 0),
                .level = hml_json_num(opt, "level", 0), .time_horizon = hml_json_num(opt, "time_horizon", 0),
                .n_bins = (size_t)hml_json_int(opt, "n_bins", 0), .top_k = (size_t)hml_json_int(opt, "top_k", 0)}};
}

static void fx_free(struct fx_input *fx)
{
    hml_free(fx->y), hml_free(fx->pred), hml_free(fx->w), hml_free(fx->group), hml_free(fx->event);
}

/* Relative 1e-9 (plus 1e-12 absolute for values at 0); null expects NaN. */
static bool close_to(double got, const json_t *want)
{
    if (json_is_null(want)) return isnan(got);
    double w = json_number_value(want);
    return fabs(got - w) <= 1e-9 * fabs(w) + 1e-12;
}

/* Same keys, same lengths, numbers close; writes the first mismatch's path. */
static bool same_json(const json_t *got, const json_t *want, char *path, size_t cap)
{
    if (json_is_number(want)) return json_is_number(got) && close_to(json_number_value(got), want);
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want)) return false;
        for (size_t i = 0; i < json_array_size(want); i++)
            if (!same_json(json_array_get(got, i), json_array_get(want, i), path, cap)) {
                size_t l = strlen(path);
                snprintf(path + l, cap - l, "[%zu]", i);
                return false;
            }
        return true;
    }
    if (json_is_object(want)) {
        if (!json_is_object(got) || json_object_size(got) != json_object_size(want)) return false;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)want, key, v) {
            if (!same_json(json_object_get(got, key), v, path, cap)) {
                size_t l = strlen(path);
                snprintf(path + l, cap - l, ".%s", key);
                return false;
            }
        }
        return true;
    }
    return json_equal((json_t *)got, (json_t *)want);
}

static void check_case(const json_t *cs, const json_t *datasets, bool *covered)
{
    const char *name = hml_json_str(cs, "name", "?"), *mname = hml_json_str(cs, "metric", "");
    const struct hml_metric *m = hml_metric_find(mname);
    if (!m || strcmp(m->name, mname)) {
        t_failf(__FILE__, __LINE__, "%s: metric '%s' is not a canonical name", name, mname);
        return;
    }
    covered[m - hml_metric_at(0)] = true;
    struct fx_input fx;
    fx_build(&fx, json_object_get(datasets, hml_json_str(cs, "data", "")), cs);
    struct hml_error err;
    hml_error_clear(&err);
    const json_t *want = json_object_get(cs, "expect");
    if (m->table) {
        json_t *got = NULL;
        char path[256] = "";
        enum hml_status rc = hml_metric_table(m, &fx.in, &got, &err);
        if (rc) t_failf(__FILE__, __LINE__, "%s: %s (%s)", name, err.message, err.hint);
        else if (!same_json(got, want, path, sizeof path)) {
            char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
            t_failf(__FILE__, __LINE__, "%s: table differs at %s: got %.600s", name, path[0] ? path : "(top)", g);
            hml_free(g);
        }
        json_decref(got);
    } else {
        double got = -12345;
        enum hml_status rc = hml_metric_compute(m, &fx.in, &got, &err);
        if (rc) t_failf(__FILE__, __LINE__, "%s: %s (%s)", name, err.message, err.hint);
        else if (!close_to(got, want))
            t_failf(__FILE__, __LINE__, "%s [%s]: got %.17g, want %.17g", name, hml_json_str(cs, "ref", ""), got,
                    json_is_null(want) ? NAN : json_number_value(want));
    }
    fx_free(&fx);
}

TEST(metric_every_metric_matches_its_reference)
{
    json_t *root = load_fixture();
    if (!root) return;
    const json_t *cases = json_object_get(root, "cases"), *datasets = json_object_get(root, "datasets");
    T_OK(json_array_size(cases) > 250);
    bool covered[64] = {0};
    T_OK(hml_metric_count() <= 64);
    for (size_t i = 0; i < json_array_size(cases); i++) check_case(json_array_get(cases, i), datasets, covered);
    for (size_t i = 0; i < hml_metric_count(); i++)
        if (!covered[i]) t_failf(__FILE__, __LINE__, "metric '%s' has no reference case", hml_metric_at(i)->name);
    json_decref(root);
}

/* ---- the table ---------------------------------------------------------- */

static size_t count_for(enum hml_task t)
{
    return hml_metrics_for_task(t, NULL, 0);
}

TEST(metric_table_holds_the_45_original_names)
{
    T_EQ(hml_metric_count(), 45);
    T_EQ(count_for(HML_TASK_BINARY), 13);
    T_EQ(count_for(HML_TASK_MULTICLASS), 11);
    T_EQ(count_for(HML_TASK_REGRESSION), 9); /* 8 + spearman_rank_corr, shared with ranking */
    T_EQ(count_for(HML_TASK_RANKING), 6);
    T_EQ(count_for(HML_TASK_SURVIVAL), 3);
    T_EQ(count_for(HML_TASK_PROBABILISTIC), 4);
    const char *originals[] = {"brier", "log_loss", "accuracy", "ece", "auc_roc", "f1", "precision", "recall",
                               "mcc", "auc_pr", "specificity", "confusion_matrix", "cohen_kappa",
                               "accuracy_multi", "f1_macro", "f1_micro", "f1_weighted", "precision_macro",
                               "recall_macro", "confusion_matrix_multi", "per_class_report", "log_loss_multi",
                               "mcc_multi", "cohen_kappa_multi", "rmse", "mae", "r_squared", "mape", "median_ae",
                               "explained_variance", "mean_bias", "quantile_loss", "ndcg_at_k",
                               "mean_average_precision", "mrr", "precision_at_k", "recall_at_k",
                               "spearman_rank_corr", "concordance_index", "time_dependent_brier",
                               "cumulative_incidence_auc", "crps", "pit_histogram_data", "sharpness",
                               "coverage_at_level"};
    T_EQ(sizeof originals / sizeof *originals, 45);
    for (size_t i = 0; i < 45; i++) {
        const struct hml_metric *m = hml_metric_at(i);
        T_STREQ(m->name, originals[i]);
        T_OK(m->desc && m->desc[0]);
        T_OK((m->fn != NULL) != (m->table != NULL));
        T_EQ(!!(m->flags & HML_MF_TABLE), m->table != NULL);
        if (m->table) T_EQ(m->goal, HML_GOAL_NONE);
    }
    T_OK(hml_metric_at(45) == NULL);
}

TEST(metric_spellings_are_unique_within_each_task)
{
    for (unsigned t = 0; t < HML_TASK_COUNT_; t++) {
        const struct hml_metric *ms[64];
        size_t n = hml_metrics_for_task((enum hml_task)t, ms, 64);
        char seen[256][48];
        size_t ns = 0;
        for (size_t i = 0; i < n; i++) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s %s", ms[i]->name, ms[i]->aliases);
            for (char *tok = buf, *end; *tok; tok = end + (*end != 0)) {
                end = tok + strcspn(tok, " ");
                if (end == tok) continue;
                char word[48];
                snprintf(word, sizeof word, "%.*s", (int)(end - tok), tok);
                for (size_t j = 0; j < ns; j++)
                    if (!strcmp(seen[j], word)) t_failf(__FILE__, __LINE__, "'%s' twice in task %u", word, t);
                snprintf(seen[ns++], sizeof seen[0], "%s", word);
                /* and every spelling resolves, for this task, to its own metric */
                const struct hml_metric *got = NULL;
                struct hml_error err;
                T_RC(hml_metric_lookup(word, (enum hml_task)t, &got, &err), &err);
                T_OK(got == ms[i]);
            }
        }
    }
}

static const char *resolve(const char *name, enum hml_task t)
{
    const struct hml_metric *m = NULL;
    struct hml_error err;
    return hml_metric_lookup(name, t, &m, &err) ? NULL : m->name;
}

TEST(metric_aliases_and_drifted_names_resolve)
{
    T_STREQ(hml_metric_find("auc")->name, "auc_roc");
    T_STREQ(hml_metric_find("roc_auc")->name, "auc_roc");
    T_STREQ(hml_metric_find("AUROC")->name, "auc_roc");
    T_STREQ(hml_metric_find("brier_score")->name, "brier");
    T_STREQ(hml_metric_find("logloss")->name, "log_loss");
    T_STREQ(hml_metric_find("r2")->name, "r_squared");
    T_STREQ(hml_metric_find("map")->name, "mean_average_precision");
    T_STREQ(hml_metric_find("brier_survival")->name, "time_dependent_brier");
    T_STREQ(hml_metric_find("calibration")->name, "ece");
    T_STREQ(hml_metric_find("expected_calibration_error")->name, "ece");
    T_OK(hml_metric_find("nope") == NULL);
    /* task-agnostic: the canonical name wins over another task's alias */
    T_STREQ(hml_metric_find("accuracy")->name, "accuracy");
    T_STREQ(hml_metric_find("confusion_matrix")->name, "confusion_matrix");
    /* per task: the same spelling means the task's own metric */
    T_STREQ(resolve("accuracy", HML_TASK_BINARY), "accuracy");
    T_STREQ(resolve("accuracy", HML_TASK_MULTICLASS), "accuracy_multi");
    T_STREQ(resolve("log_loss", HML_TASK_MULTICLASS), "log_loss_multi");
    T_STREQ(resolve("mcc", HML_TASK_MULTICLASS), "mcc_multi");
    T_STREQ(resolve("Cohen_Kappa", HML_TASK_MULTICLASS), "cohen_kappa_multi");
    T_STREQ(resolve("confusion_matrix", HML_TASK_MULTICLASS), "confusion_matrix_multi");
    T_STREQ(resolve("r2", HML_TASK_REGRESSION), "r_squared");
    T_STREQ(resolve("spearman", HML_TASK_REGRESSION), "spearman_rank_corr");
    T_STREQ(resolve("ndcg", HML_TASK_RANKING), "ndcg_at_k");
}

TEST(metric_unknown_name_suggests_and_lists_the_task_metrics)
{
    const struct hml_metric *m = (const struct hml_metric *)0x1;
    struct hml_error err;
    hml_error_clear(&err);
    T_EQ(hml_metric_lookup("rocauc", HML_TASK_BINARY, &m, &err), HML_EINVAL);
    T_OK(m == (const struct hml_metric *)0x1);
    T_CONTAINS(err.message, "unknown metric 'rocauc' for a binary task");
    T_STREQ(err.did_you_mean, "auc_roc"); /* nearest spelling is the alias "roc_auc" */
    T_CONTAINS(err.hint, "did you mean 'auc_roc'?");
    T_CONTAINS(err.hint, "valid: brier, log_loss, accuracy, ece, auc_roc");
    T_OK(strncmp(err.valid, "brier\nlog_loss\n", 15) == 0);
    T_OK(strstr(err.valid, "rmse") == NULL);

    hml_error_clear(&err);
    T_EQ(hml_metric_lookup("rmsle", HML_TASK_REGRESSION, &m, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "rmse");
    hml_error_clear(&err);
    T_EQ(hml_metric_lookup("ndcg@10", HML_TASK_RANKING, &m, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "ndcg_at_k");
    hml_error_clear(&err);
    T_EQ(hml_metric_lookup("zzzzzzzzzz", HML_TASK_SURVIVAL, &m, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "");
    T_CONTAINS(err.hint, "valid: concordance_index, time_dependent_brier, cumulative_incidence_auc");
}

TEST(metric_of_another_task_is_refused_with_the_task_metrics)
{
    const struct hml_metric *m = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_EQ(hml_metric_lookup("rmse", HML_TASK_BINARY, &m, &err), HML_EINVAL);
    T_OK(m == NULL);
    T_CONTAINS(err.message, "metric 'rmse' does not apply to a binary task");
    T_CONTAINS(err.hint, "'rmse' is a regression metric; binary metrics: brier, log_loss, accuracy");
    T_CONTAINS(err.valid, "auc_roc");
    hml_error_clear(&err);
    T_EQ(hml_metric_lookup("auc", HML_TASK_REGRESSION, &m, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "'auc_roc' is a binary metric");
    hml_error_clear(&err);
    T_EQ(hml_metric_lookup("spearman_rank_corr", HML_TASK_BINARY, &m, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "is a regression and ranking metric");
}

TEST(metric_tasks_parse_and_name)
{
    enum hml_task t = HML_TASK_BINARY;
    struct hml_error err;
    T_RC(hml_task_parse("Multiclass", &t, &err), &err);
    T_EQ(t, HML_TASK_MULTICLASS);
    T_RC(hml_task_parse("probabilistic", &t, &err), &err);
    T_EQ(t, HML_TASK_PROBABILISTIC);
    T_STREQ(hml_task_name(HML_TASK_SURVIVAL), "survival");
    T_STREQ(hml_task_name((enum hml_task)99), "?");
    hml_error_clear(&err);
    T_EQ(hml_task_parse("regresion", &t, &err), HML_EINVAL);
    T_EQ(t, HML_TASK_PROBABILISTIC);
    T_STREQ(err.did_you_mean, "regression");
    T_CONTAINS(err.hint, "valid: binary, multiclass, regression, ranking, survival, probabilistic");
}

TEST(metric_goals_decide_which_value_is_better)
{
    const struct hml_metric *brier = hml_metric_find("brier"), *auc = hml_metric_find("auc"),
                            *bias = hml_metric_find("mean_bias"), *cov = hml_metric_find("coverage"),
                            *cm = hml_metric_find("confusion_matrix"), *sharp = hml_metric_find("sharpness");
    T_EQ(brier->goal, HML_GOAL_MIN);
    T_EQ(auc->goal, HML_GOAL_MAX);
    T_OK(hml_metric_better(brier, NULL, 0.10, 0.20));
    T_OK(!hml_metric_better(brier, NULL, 0.20, 0.10));
    T_OK(!hml_metric_better(brier, NULL, 0.10, 0.10));
    T_OK(hml_metric_better(auc, NULL, 0.9, 0.8));
    T_OK(!hml_metric_better(auc, NULL, 0.8, 0.9));
    T_OK(hml_metric_better(auc, NULL, 0.5, NAN));
    T_OK(!hml_metric_better(auc, NULL, NAN, 0.5));
    T_OK(!hml_metric_better(auc, NULL, NAN, NAN));
    T_OK(hml_metric_better(bias, NULL, -0.1, 0.2));
    T_OK(!hml_metric_better(bias, NULL, 0.3, -0.2));
    T_OK(hml_metric_better(cov, NULL, 0.88, 0.95)); /* default level 0.9 */
    struct hml_metric_opts half = {.level = 0.5};
    T_OK(hml_metric_better(cov, &half, 0.6, 0.3));
    T_OK(!hml_metric_better(cov, &half, 0.75, 0.6));
    T_OK(!hml_metric_better(cm, NULL, 1, 0) && !hml_metric_better(cm, NULL, 0, 1));
    T_OK(!hml_metric_better(sharp, NULL, 1, 0) && !hml_metric_better(sharp, NULL, 0, 1));
    /* every metric in the original "lower is better" set that we register is MIN */
    const char *lower[] = {"brier", "brier_score", "log_loss", "logloss", "mae", "rmse", "ece",
                           "expected_calibration_error", "mape"};
    for (size_t i = 0; i < sizeof lower / sizeof *lower; i++) T_EQ(hml_metric_find(lower[i])->goal, HML_GOAL_MIN);
    T_STREQ(hml_metric_goal_name(HML_GOAL_MIN), "lower");
    T_STREQ(hml_metric_goal_name(HML_GOAL_NONE), "n/a");
}

/* ---- errors and edge cases ---------------------------------------------- */

static enum hml_status score(const char *name, const struct hml_metric_input *in, double *out,
                             struct hml_error *err)
{
    hml_error_clear(err);
    return hml_metric_compute(hml_metric_find(name), in, out, err);
}

TEST(metric_empty_input_is_an_error)
{
    double y[1] = {1}, p[1] = {0.5}, out = 7;
    struct hml_metric_input in = {.n = 0, .y = y, .pred = p};
    struct hml_error err;
    T_EQ(score("auc_roc", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "auc_roc: no rows to score");
    T_OK(err.hint[0]);
    T_EQ(out, 7);
}

TEST(metric_non_finite_inputs_are_counted)
{
    double y[5] = {0, 1, 0, 1, 1}, p[5] = {0.1, NAN, 0.3, NAN, 0.9}, out = 7;
    struct hml_metric_input in = {.n = 5, .y = y, .pred = p};
    struct hml_error err;
    T_EQ(score("brier", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "2 of 5 values in 'pred' are NaN or infinite");
    T_CONTAINS(err.hint, "drop or impute");
    p[1] = p[3] = 0.5;
    y[2] = INFINITY;
    T_EQ(score("rmse", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "1 of 5 values in 'y'");
    y[2] = 0;
    double w[5] = {1, 1, NAN, 1, 1};
    in.w = w;
    T_EQ(score("rmse", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "values in 'w'");
    T_EQ(out, 7);
}

TEST(metric_labels_and_probabilities_are_checked)
{
    double y[4] = {0, 1, 2, 1}, p[4] = {0.1, 0.7, 0.3, 0.9}, out;
    struct hml_metric_input in = {.n = 4, .y = y, .pred = p};
    struct hml_error err;
    T_EQ(score("f1", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "1 of 4 values in 'y' are not 0 or 1");
    T_CONTAINS(err.hint, "0/1");
    y[2] = 0;
    p[0] = 1.2, p[1] = -3;
    T_EQ(score("log_loss", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "2 of 4 values in 'pred' are not probabilities in [0,1]");
    T_RC(score("auc_roc", &in, &out, &err), &err); /* AUC ranks any score */
    T_NEAR(out, 0.25, 1e-15);                     /* only 0.9 > 0.3 of the 4 pairs */

    double yc[3] = {0, 3, 1}, pc[6] = {0.5, 0.5, 0.2, 0.8, 1, 0}, yr[3] = {1, -1, 0}, g[3] = {1, 1, 1};
    struct hml_metric_input mc = {.n = 3, .k = 2, .y = yc, .pred = pc};
    T_EQ(score("accuracy_multi", &mc, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "are not class indices 0..k-1");
    mc.k = 1;
    T_EQ(score("f1_macro", &mc, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "needs one probability column per class, got 1");
    struct hml_metric_input rk = {.n = 3, .y = yr, .pred = p, .group = g};
    T_EQ(score("ndcg", &rk, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "not relevance ≥ 0");
    T_RC(score("spearman", &rk, &out, &err), &err); /* spearman takes any y */
    double ev[3] = {1, 0, 2};
    struct hml_metric_input sv = {.n = 3, .y = g, .pred = p, .event = ev};
    T_EQ(score("c_index", &sv, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "in 'event' are not 0 or 1");
    struct hml_metric_input one = {.n = 4, .k = 2, .y = y, .pred = p};
    T_EQ(score("rmse", &one, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "pred has 2 columns, expected 1");
}

TEST(metric_weights_are_checked)
{
    double y[3] = {1, 0, 1}, p[3] = {0.8, 0.4, 0.3}, w[3] = {1, -1, 2}, out;
    struct hml_metric_input in = {.n = 3, .y = y, .pred = p, .w = w};
    struct hml_error err;
    T_EQ(score("brier", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "1 of 3 values in 'w' are not ≥ 0");
    w[0] = w[1] = w[2] = 0;
    T_EQ(score("brier", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "sum to 0");
    w[0] = 1;
    T_EQ(score("mrr", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "mrr: does not take sample weights");
    T_CONTAINS(err.hint, "without weights");
    T_OK((hml_metric_find("mrr")->flags & HML_MF_WEIGHTS) == 0);
    T_OK((hml_metric_find("brier")->flags & HML_MF_WEIGHTS) != 0);
}

TEST(metric_options_are_checked)
{
    double y[3] = {1, 0, 1}, p[3] = {0.8, 0.4, 0.3}, out;
    struct hml_metric_input in = {.n = 3, .y = y, .pred = p, .opt = {.threshold = 1.5}};
    struct hml_error err;
    T_EQ(score("f1", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "threshold = 1.5 is out of range");
    T_CONTAINS(err.hint, "in (0, 1]");
    in.opt = (struct hml_metric_opts){.quantile = 1};
    T_EQ(score("quantile_loss", &in, &out, &err), HML_EINVAL);
    in.opt = (struct hml_metric_opts){.n_bins = HML_METRIC_BINS_MAX + 1};
    T_EQ(score("ece", &in, &out, &err), HML_ELIMIT);
    T_OK(err.hint[0]);
    in.opt = (struct hml_metric_opts){.time_horizon = NAN};
    T_EQ(score("time_dependent_brier", &in, &out, &err), HML_EINVAL);
}

TEST(metric_tables_and_scalars_use_their_own_entry_point)
{
    double y[2] = {1, 0}, p[2] = {0.8, 0.4}, out;
    struct hml_metric_input in = {.n = 2, .y = y, .pred = p};
    struct hml_error err;
    T_EQ(score("confusion_matrix", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "is a table, not a number");
    T_CONTAINS(err.hint, "hml_metric_table");
    json_t *t = NULL;
    T_EQ(hml_metric_table(hml_metric_find("brier"), &in, &t, &err), HML_EINVAL);
    T_OK(t == NULL);
    T_RC(hml_metric_table(hml_metric_find("confusion_matrix"), &in, &t, &err), &err);
    char *s = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
    T_STREQ(s, "{\"fn\":0,\"fp\":0,\"tn\":1,\"tp\":1}");
    hml_free(s);
    json_decref(t);
}

TEST(metric_crossed_intervals_are_refused)
{
    double y[3] = {1, 2, 3}, b[6] = {0, 2, 3, 1, 2, 4}, out = 7;
    struct hml_metric_input in = {.n = 3, .k = 2, .y = y, .pred = b};
    struct hml_error err;
    T_EQ(score("coverage_at_level", &in, &out, &err), HML_EINVAL);
    T_CONTAINS(err.message, "1 of 3 intervals have lower > upper");
    T_EQ(out, 7);
}

TEST(metric_undefined_values_are_nan_without_error)
{
    double y[4] = {1, 1, 1, 1}, p[4] = {0.2, 0.9, 0.9, 0.4}, out = 0;
    struct hml_metric_input in = {.n = 4, .y = y, .pred = p};
    struct hml_error err;
    T_RC(score("auc_roc", &in, &out, &err), &err);
    T_OK(isnan(out));
    T_RC(score("brier", &in, &out, &err), &err);
    T_NEAR(out, (0.64 + 0.01 + 0.01 + 0.36) / 4, 1e-15);
    double c[4] = {3, 3, 3, 3};
    struct hml_metric_input flat = {.n = 4, .y = c, .pred = p};
    T_RC(score("spearman_rank_corr", &flat, &out, &err), &err);
    T_OK(isnan(out));
}

/* ---- differential: O(n log n) against brute force ----------------------- */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

TEST(metric_auc_and_cindex_match_brute_force_with_heavy_ties)
{
    enum { N = 1500 };
    static double y[N], p[N], w[N], t[N], e[N];
    uint64_t s = 42;
    for (size_t i = 0; i < N; i++) {
        y[i] = (double)(lcg(&s) % 3 == 0);
        p[i] = (double)(lcg(&s) % 20) / 20; /* 20 distinct scores over 1500 rows */
        w[i] = 0.5 + (double)(lcg(&s) % 8) / 4;
        t[i] = (double)(lcg(&s) % 50);
        e[i] = (double)(lcg(&s) % 4 != 0);
    }
    double num = 0, den = 0, conc = 0, pairs = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            if (y[i] == 1 && y[j] == 0) {
                den += w[i] * w[j];
                num += w[i] * w[j] * (p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0);
            }
            if (e[i] == 1 && t[j] > t[i]) pairs++, conc += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
        }
    double out;
    struct hml_error err;
    struct hml_metric_input in = {.n = N, .y = y, .pred = p, .w = w};
    T_RC(score("auc", &in, &out, &err), &err);
    T_NEAR(out, num / den, 1e-12);
    struct hml_metric_input sv = {.n = N, .y = t, .pred = p, .event = e};
    T_RC(score("concordance_index", &sv, &out, &err), &err);
    T_NEAR(out, conc / pairs, 1e-12);
}

TEST(metric_auc_on_a_million_rows)
{
    size_t n = 1000000;
    double *y = hml_malloc(n * sizeof *y), *p = hml_malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) y[i] = (double)(i % 2), p[i] = (double)((i * 7919) % n) / (double)n;
    /* the positives are the odd i; as p is a permutation of i/n, count pairs directly */
    size_t *rank = hml_calloc(n, sizeof *rank);
    for (size_t i = 0; i < n; i++) rank[(i * 7919) % n] = i; /* rank[score index] = row */
    double neg_below = 0, good = 0;
    for (size_t r = 0; r < n; r++) {
        if (rank[r] % 2) good += neg_below;
        else neg_below++;
    }
    struct hml_metric_input in = {.n = n, .y = y, .pred = p};
    struct hml_error err;
    double out;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    T_RC(score("auc_roc", &in, &out, &err), &err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    T_NEAR(out, good / (0.25 * (double)n * (double)n), 1e-12);
    fprintf(stderr, "# auc_roc on %zu rows: %.0f ms\n", n,
            (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
    hml_free(rank), hml_free(y), hml_free(p);
}

/* ---- out of memory ------------------------------------------------------ */

TEST(metric_out_of_memory_is_reported_and_leaks_nothing)
{
    double y[6] = {0, 1, 2, 1, 0, 2}, p[18], g[6] = {1, 1, 1, 2, 2, 2}, ev[6] = {1, 0, 1, 1, 0, 1};
    for (size_t i = 0; i < 18; i++) p[i] = (double)((i * 5) % 7) / 7;
    const char *names[] = {"auc_roc", "ece", "per_class_report", "confusion_matrix_multi", "f1_macro",
                           "ndcg_at_k", "spearman_rank_corr", "concordance_index", "cumulative_incidence_auc",
                           "time_dependent_brier", "crps", "pit_histogram_data", "median_ae"};
    for (size_t m = 0; m < sizeof names / sizeof *names; m++) {
        const struct hml_metric *mt = hml_metric_find(names[m]);
        double yy[6];
        for (size_t i = 0; i < 6; i++) yy[i] = (mt->tasks & HML_TASK_BIT(HML_TASK_BINARY)) ? (double)(i % 2) : y[i];
        size_t k = (mt->flags & HML_MF_CLASSES) ? 3 : (mt->flags & HML_MF_MEMBERS) ? 3 : 1;
        struct hml_metric_input in = {.n = 6, .k = k, .y = yy, .pred = p, .group = g, .event = ev};
        for (uint64_t fail = 1; fail < 40; fail++) {
            size_t live = hml_alloc_live_bytes();
            struct hml_error err;
            hml_error_clear(&err);
            hml_alloc_fail_at(fail);
            enum hml_status rc;
            double out;
            json_t *t = NULL;
            if (mt->table) rc = hml_metric_table(mt, &in, &t, &err);
            else rc = hml_metric_compute(mt, &in, &out, &err);
            int fired = hml_alloc_failed();
            hml_alloc_fail_at(0);
            json_decref(t);
            if (fired) T_EQ(rc, HML_ENOMEM);
            else T_EQ(rc, HML_OK);
            if (hml_alloc_live_bytes() != live)
                t_failf(__FILE__, __LINE__, "%s leaks %zu bytes when allocation %llu fails", names[m],
                        hml_alloc_live_bytes() - live, (unsigned long long)fail);
            if (!fired) break;
        }
    }
}

#include "harness/config.h"

TEST(metric_default_config_metrics_resolve_for_their_task)
{
    for (size_t t = 0; hml_task_names[t]; t++) {
        json_t *root = hml_config_default("p", hml_task_names[t], "y");
        enum hml_task task;
        struct hml_error err;
        T_RC(hml_task_parse(hml_task_names[t], &task, &err), &err);
        size_t i;
        json_t *m;
        json_array_foreach(hml_config_get(root, "backtest.metrics"), i, m) {
            const struct hml_metric *found;
            T_RC(hml_metric_lookup(json_string_value(m), task, &found, &err), &err);
        }
        json_decref(root);
    }
}
