/* Unit tests for the experiment journal, overlays and verdict statistics
 * (core/science/experiment*.c). The t distribution and paired tests are checked against
 * tests/fixtures/experiment/experiment.json (scipy, from gen_experiment.py). */
#include "t.h"

#include <sys/stat.h>

#include "harness/alloc.h"
#include "harness/config.h"
#include "harness/experiment.h"
#include "harness/fsx.h"
#include "harness/log.h"

#define FIXTURE "tests/fixtures/experiment/experiment.json"

static json_t *parse(const char *text)
{
    json_t *v = NULL;
    struct hml_error err;
    T_RC(hml_json_parse(text, strlen(text), &v, &err), &err);
    return v;
}

static json_t *load_fixture(const char *key)
{
    char *text = NULL;
    size_t len;
    struct hml_error err;
    T_RC(hml_read_file(FIXTURE, 1u << 22, &text, &len, &err), &err);
    json_t *root = parse(text);
    hml_free(text);
    json_t *v = json_incref(json_object_get(root, key));
    json_decref(root);
    return v;
}

static const char *id_of(const json_t *rec) { return hml_json_str(rec, "experiment_id", "?"); }

/* ---- ids and the journal --------------------------------------------------------------------- */

TEST(exp_id_seq_reads_only_experiment_ids)
{
    T_EQ(hml_exp_id_seq("exp-001"), 1);
    T_EQ(hml_exp_id_seq("exp-1000"), 1000);
    T_EQ(hml_exp_id_seq("exp-7"), 7);
    T_EQ(hml_exp_id_seq("exp-"), 0);
    T_EQ(hml_exp_id_seq("exp-01a"), 0);
    T_EQ(hml_exp_id_seq("expl-001"), 0);
    T_EQ(hml_exp_id_seq("exp-9999999"), 0); /* past HML_EXP_SEQ_MAX */
    T_EQ(hml_exp_id_seq(NULL), 0);
}

static const char journal_text[] =
    "{\"experiment_id\":\"exp-002\",\"rev\":1,\"status\":\"created\",\"hypothesis\":\"old\"}\n"
    "{\"experiment_id\":\"exp-001\",\"rev\":1,\"status\":\"created\",\"hypothesis\":\"first\"}\n"
    "not json at all\n"
    "\n"
    "{\"note\":\"a record without an id\"}\n"
    "{\"experiment_id\":\"exp-002\",\"rev\":2,\"status\":\"completed\",\"hypothesis\":\"new\"}\n"
    "{\"experiment_id\":\"exp-003\",\"rev\":1,\"stat"; /* torn: a write that never finished */

TEST(exp_journal_newest_line_wins_and_torn_tail_is_ignored)
{
    hml_log_set_level(HML_LOG_ERROR);
    struct hml_exp_journal *j = NULL;
    struct hml_error err;
    T_RC(hml_exp_journal_parse(journal_text, strlen(journal_text), &j, &err), &err);
    T_EQ(j->n, 2);
    T_STREQ(id_of(j->recs[0]), "exp-001");
    T_STREQ(id_of(j->recs[1]), "exp-002");
    T_STREQ(hml_json_str(hml_exp_find(j, "exp-002"), "hypothesis", ""), "new");
    T_EQ(hml_exp_status_of(hml_exp_find(j, "exp-002")), HML_EXP_COMPLETED);
    T_OK(hml_exp_find(j, "exp-003") == NULL); /* the torn record never counts */
    T_EQ(j->lines, 6);
    T_EQ(j->skipped, 2);
    T_EQ(j->torn_bytes, strlen("{\"experiment_id\":\"exp-003\",\"rev\":1,\"stat"));
    T_EQ(j->kept_len, strlen(journal_text) - j->torn_bytes);
    json_t *rec;
    hml_error_clear(&err);
    T_RC(hml_exp_lookup(j, "exp-2", &rec, &err), &err); /* the number is what counts */
    T_STREQ(id_of(rec), "exp-002");
    T_EQ(hml_exp_lookup(j, "exp-012", &rec, &err), HML_ENOTFOUND);
    T_STREQ(err.did_you_mean, "exp-002");
    char next[24];
    T_RC(hml_exp_next_id(j, NULL, next, &err), &err);
    T_STREQ(next, "exp-003"); /* the torn exp-003 was never committed: its id is free */
    hml_exp_journal_free(j);
}

TEST(exp_journal_put_appends_and_the_write_drops_the_torn_tail)
{
    hml_log_set_level(HML_LOG_ERROR);
    struct hml_error err;
    char path[700], dir[700];
    snprintf(path, sizeof path, "%s/%s", t_tmpdir(), HML_EXP_JOURNAL_REL);
    snprintf(dir, sizeof dir, "%s/experiments/exp-007", t_tmpdir());
    T_RC(hml_mkdirs(dir, &err), &err); /* a directory left by an older journal holds its id */
    T_RC(hml_write_atomic(path, journal_text, strlen(journal_text), &err), &err);
    struct hml_exp_journal *j = NULL;
    T_RC(hml_exp_journal_load(t_tmpdir(), &j, &err), &err);
    char id[24];
    T_RC(hml_exp_next_id(j, t_tmpdir(), id, &err), &err);
    T_STREQ(id, "exp-008");
    T_RC(hml_exp_journal_put(j, hml_exp_record_new(id, "d", "h", "exp-001", "tuning", "nb-002"), &err), &err);
    json_t *upd = json_deep_copy(hml_exp_find(j, "exp-002"));
    json_object_set_new(upd, "status", json_string("concluded"));
    T_RC(hml_exp_journal_put(j, upd, &err), &err);
    T_EQ(hml_json_int(hml_exp_find(j, "exp-008"), "rev", 0), 1);
    T_EQ(hml_json_int(hml_exp_find(j, "exp-002"), "rev", 0), 3);
    T_STREQ(hml_json_str(hml_exp_find(j, "exp-008"), "parent_id", ""), "exp-001");
    struct hml_txn *txn = hml_txn_new();
    T_RC(hml_exp_journal_stage(j, t_tmpdir(), txn, &err), &err);
    T_RC(hml_txn_commit(txn, &err), &err);
    hml_txn_free(txn);
    hml_exp_journal_free(j);

    char *text = NULL;
    size_t len;
    T_RC(hml_read_file(path, 1u << 20, &text, &len, &err), &err);
    size_t kept = strlen(journal_text) - strlen("{\"experiment_id\":\"exp-003\",\"rev\":1,\"stat");
    T_OK(len > kept && !memcmp(text, journal_text, kept)); /* old lines byte for byte */
    T_OK(text[len - 1] == '\n');
    T_OK(!strstr(text, "\"stat\n") && !strstr(text + kept, "exp-003"));
    hml_free(text);
    T_RC(hml_exp_journal_load(t_tmpdir(), &j, &err), &err);
    T_EQ(j->n, 3);
    T_EQ(j->torn_bytes, 0);
    T_STREQ(hml_json_str(hml_exp_find(j, "exp-002"), "status", ""), "concluded");
    T_STREQ(id_of(j->recs[2]), "exp-008");
    hml_exp_journal_free(j);
    /* EXPERIMENT_LOG.md landed with the journal. */
    snprintf(path, sizeof path, "%s/%s", t_tmpdir(), HML_EXP_LOG_REL);
    T_RC(hml_read_file(path, 1u << 20, &text, &len, &err), &err);
    T_CONTAINS(text, "| exp-008 | created | h | – | – | – | – | not run | – |\n");
    T_CONTAINS(text, "## exp-008 · d\n");
    T_CONTAINS(text, " · phase: tuning · parent: exp-001 · plan: nb-002\n");
    hml_free(text);
}

TEST(exp_journal_load_survives_every_allocation_failure)
{
    hml_log_set_level(HML_LOG_ERROR);
    struct hml_error err;
    char path[700];
    snprintf(path, sizeof path, "%s/experiments", t_tmpdir());
    T_RC(hml_mkdirs(path, &err), &err);
    snprintf(path, sizeof path, "%s/%s", t_tmpdir(), HML_EXP_JOURNAL_REL);
    T_RC(hml_write_atomic(path, journal_text, strlen(journal_text), &err), &err);
    size_t base = hml_alloc_live_bytes();
    for (uint64_t k = 1; k < 100000; k++) {
        struct hml_exp_journal *j = NULL;
        hml_error_clear(&err);
        hml_alloc_fail_at(k);
        enum hml_status rc = hml_exp_journal_load(t_tmpdir(), &j, &err);
        int fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) {
            T_OK(fired);
            T_EQ(rc, HML_ENOMEM);
            T_OK(j == NULL);
        } else {
            T_EQ(j->n, 2); /* never a partial journal, never a changed record */
            T_EQ(j->skipped, 2);
            T_STREQ(hml_json_str(hml_exp_find(j, "exp-002"), "hypothesis", ""), "new");
        }
        hml_exp_journal_free(j);
        T_EQ(hml_alloc_live_bytes(), base);
        if (!fired) {
            T_EQ(rc, HML_OK);
            return;
        }
    }
    T_OK(!"allocation sweep did not finish");
}

TEST(exp_log_of_an_empty_journal_is_the_scaffold_text)
{
    struct hml_exp_journal *j = NULL;
    struct hml_error err;
    T_RC(hml_exp_journal_parse("", 0, &j, &err), &err);
    struct hml_buf b = HML_BUF_INIT;
    hml_exp_log_render(j, &b);
    T_STREQ(hml_buf_str(&b), "# Experiment log\n\nGenerated from experiments/journal.jsonl. No experiments yet.\n");
    hml_buf_free(&b);
    hml_exp_journal_free(j);
}

TEST(exp_log_renders_result_conclusion_and_promotion)
{
    struct hml_exp_journal *j = NULL;
    struct hml_error err;
    T_RC(hml_exp_journal_parse("", 0, &j, &err), &err);
    json_t *r = hml_exp_record_new("exp-001", "deeper | trees", "depth 4\nhelps", NULL, NULL, NULL);
    json_object_set_new(r, "status", json_string("promoted"));
    json_object_set_new(r, "overlay", parse("{\"models\":{\"xgb\":{\"params\":{\"max_depth\":4}}}}"));
    json_object_set_new(r, "config_changes", parse("[{\"path\":\"models.xgb.params.max_depth\",\"old\":3,\"new\":4}]"));
    json_object_set_new(r, "result", parse("{\"primary_metric\":\"brier\",\"goal\":\"lower\",\"baseline\":0.14321,"
                                           "\"result\":0.14,\"delta\":-0.00321,\"verdict\":\"improved\","
                                           "\"baseline_run_id\":\"run-a\",\"run_id\":\"run-b\",\"paired\":{\"n\":5,"
                                           "\"better\":4,\"mean\":0.0031,\"se\":0.0009,\"t\":3.4,\"t_crit\":2.132}}"));
    json_object_set_new(r, "conclusion", parse("{\"verdict\":\"keep\",\"text\":\"it helped\",\"next_steps\":\"depth 5\"}"));
    json_object_set_new(r, "promoted", parse("{\"at\":\"2026-03-09T12:34:56.789Z\",\"human_override\":true}"));
    T_RC(hml_exp_journal_put(j, r, &err), &err);
    struct hml_buf b = HML_BUF_INIT;
    hml_exp_log_render(j, &b);
    const char *md = hml_buf_str(&b);
    T_CONTAINS(md, "| exp-001 | promoted | depth 4 helps | brier ↓ | 0.1432 | 0.14 | -0.0032 | improved, 4/5 folds better | keep |\n");
    T_CONTAINS(md, "## exp-001 · deeper | trees\n");
    T_CONTAINS(md, "- Changes: `models.xgb.params.max_depth`: 3 → 4\n");
    T_CONTAINS(md, "- Result: brier ↓ 0.1432 → 0.14 (Δ -0.0032); paired over 5 folds: mean gain +0.0031, se 0.0009, "
                   "t 3.4 vs 2.132 → improved; 4 of 5 folds better; runs run-a (baseline), run-b\n");
    T_CONTAINS(md, "- Verdict: keep — it helped\n- Next steps: depth 5\n");
    T_CONTAINS(md, "- Promoted into the config 2026-03-09 12:34 by human override of the leak guardrail\n");
    T_OK(!strstr(md, "Learnings"));
    hml_buf_free(&b);
    hml_exp_journal_free(j);
}

/* ---- overlays ------------------------------------------------------------------------------------ */

/* Normalises an overlay given as JSON text. */
static enum hml_status norm_of(const char *text, json_t **out, json_t **meta, struct hml_error *err)
{
    json_t *v = parse(text);
    enum hml_status rc = hml_exp_overlay_normalize(v, out, meta, err);
    json_decref(v);
    return rc;
}

TEST(exp_overlay_normalize_expands_dots_and_strips_metadata)
{
    struct hml_error err;
    json_t *na, *nb, *nc, *meta, *empty, *e2, *bad = NULL;
    T_RC(norm_of("{\"description\":\"deeper\",\"models.xgb.params.max_depth\":4,\"ensemble.method\":\"average\"}",
                 &na, &meta, &err), &err);
    T_RC(norm_of("{\"ensemble\":{\"method\":\"average\"},\"models\":{\"xgb\":{\"params\":{\"max_depth\":4}}},"
                 "\"hypothesis\":\"h\"}", &nb, NULL, &err), &err);
    T_RC(norm_of("{\"models.xgb.params\":{\"max_depth\":5},\"ensemble.method\":\"average\"}", &nc, NULL, &err), &err);
    T_STREQ(hml_json_str(meta, "description", ""), "deeper");
    T_OK(!json_object_get(na, "description"));
    char *text = hml_json_canonical(na);
    T_STREQ(text, "{\"ensemble\":{\"method\":\"average\"},\"models\":{\"xgb\":{\"params\":{\"max_depth\":4}}}}");
    hml_free(text);
    T_OK(hml_exp_overlay_equal(na, nb));
    T_OK(!hml_exp_overlay_equal(na, nc));
    char h1[65], h2[65], h3[65];
    hml_exp_overlay_hash(na, h1);
    hml_exp_overlay_hash(nb, h2);
    hml_exp_overlay_hash(nc, h3);
    T_STREQ(h1, h2);
    T_OK(strcmp(h1, h3) != 0);
    T_RC(norm_of("{}", &empty, NULL, &err), &err);
    T_RC(norm_of("{\"description\":\"baseline\"}", &e2, NULL, &err), &err);
    T_OK(hml_exp_overlay_equal(empty, e2)); /* {} and metadata only: both "the baseline" */
    hml_error_clear(&err);
    T_EQ(norm_of("[1]", &bad, NULL, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "{} to run the baseline");
    hml_error_clear(&err);
    T_EQ(norm_of("{\"models..x\":1}", &bad, NULL, &err), HML_EINVAL);
    T_CONTAINS(err.message, "empty part");
    T_OK(bad == NULL);
    json_t *all[] = {na, nb, nc, meta, empty, e2};
    for (size_t i = 0; i < 6; i++) json_decref(all[i]);
}

static json_t *project_root(void)
{
    json_t *root = hml_config_default("t", "binary", "survived");
    struct hml_error err;
    T_RC(hml_config_set(root, "models.xgb", parse("{\"type\":\"xgboost\",\"params\":{\"max_depth\":3},"
                                                   "\"features\":[\"age\",\"fare\"]}"), &err), &err);
    return root;
}

static enum hml_status apply(const json_t *root, const char *overlay, json_t **merged, struct hml_error *err)
{
    json_t *norm = NULL;
    enum hml_status rc = norm_of(overlay, &norm, NULL, err);
    if (!rc) rc = hml_exp_overlay_apply(root, norm, merged, err);
    json_decref(norm);
    return rc;
}

TEST(exp_overlay_apply_merges_without_touching_the_config)
{
    json_t *root = project_root(), *merged = NULL;
    char before[65], after[65];
    hml_config_hash(root, before);
    struct hml_error err;
    T_RC(apply(root, "{\"models.xgb.params.max_depth\":5,\"models.xgb.append_features\":[\"sibsp\"],"
                     "\"models.xgb.remove_features\":\"age\"}", &merged, &err), &err);
    hml_config_hash(root, after);
    T_STREQ(before, after);
    T_EQ(hml_json_int(hml_config_get(merged, "models.xgb.params"), "max_depth", 0), 5);
    char *f = hml_json_canonical(hml_config_get(merged, "models.xgb.features"));
    T_STREQ(f, "[\"fare\",\"sibsp\"]");
    hml_free(f);
    json_t *ch = hml_exp_config_changes(root, merged);
    char *text = hml_json_canonical(ch);
    T_STREQ(text, "[{\"new\":5,\"old\":3,\"path\":\"models.xgb.params.max_depth\"},"
                  "{\"new\":[\"fare\",\"sibsp\"],\"old\":[\"age\",\"fare\"],\"path\":\"models.xgb.features\"}]");
    hml_free(text);
    json_decref(ch);
    json_decref(merged);
    /* A whole new model is one change; deleting a key (null) is one change. */
    T_RC(apply(root, "{\"models.lr\":{\"type\":\"logistic_regression\",\"params\":{\"C\":1}},"
                     "\"ensemble.temperature\":null}", &merged, &err), &err);
    ch = hml_exp_config_changes(root, merged);
    text = hml_json_canonical(ch);
    T_STREQ(text, "[{\"new\":{\"params\":{\"C\":1},\"type\":\"logistic_regression\"},\"old\":null,\"path\":\"models.lr\"},"
                  "{\"new\":null,\"old\":1.0,\"path\":\"ensemble.temperature\"}]");
    hml_free(text);
    json_decref(ch);
    json_decref(merged);
    ch = hml_exp_config_changes(root, root);
    T_EQ(json_array_size(ch), 0);
    json_decref(ch);
    json_decref(root);
}

TEST(exp_overlay_apply_refuses_what_an_experiment_may_not_change)
{
    json_t *root = project_root(), *merged = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_EQ(apply(root, "{\"guardrails.feature_leakage_denylist\":[]}", &merged, &err), HML_EINVAL);
    T_CONTAINS(err.message, "cannot change 'guardrails'");
    T_CONTAINS(err.hint, "cannot relax a guardrail");
    hml_error_clear(&err);
    T_EQ(apply(root, "{\"data.target_column\":\"fare\"}", &merged, &err), HML_EINVAL);
    T_CONTAINS(err.message, "data.target_column");
    hml_error_clear(&err);
    T_EQ(apply(root, "{\"featurs\":{}}", &merged, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, ""); /* "featurs" is not close to an allowed section … */
    hml_error_clear(&err);
    T_EQ(apply(root, "{\"model.xgb.params.max_depth\":4}", &merged, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "models"); /* … "model" is */
    hml_error_clear(&err);
    T_EQ(apply(root, "{\"features\":{}}", &merged, &err), HML_EINVAL);
    T_CONTAINS(err.hint, "append_features");
    hml_error_clear(&err);
    T_EQ(apply(root, "{\"models.xgbb.params.max_depth\":4}", &merged, &err), HML_ENOTFOUND);
    T_STREQ(err.did_you_mean, "xgb");
    hml_error_clear(&err);
    T_EQ(apply(root, "{\"models.xgb.parms\":{\"max_depth\":4}}", &merged, &err), HML_EINVAL);
    T_CONTAINS(err.message, "parms");
    T_STREQ(err.did_you_mean, "params");
    hml_error_clear(&err);
    T_EQ(apply(root, "{\"ensemble.method\":\"stackd\"}", &merged, &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "stacked");
    T_OK(merged == NULL);
    json_decref(root);
}

/* ---- statistics ----------------------------------------------------------------------------------- */

TEST(exp_student_t_matches_scipy)
{
    json_t *q = load_fixture("t_quantile"), *c = load_fixture("t_cdf");
    size_t i;
    json_t *x;
    json_array_foreach(q, i, x) {
        double want = hml_json_num(x, "q", NAN);
        T_NEAR(hml_student_t_quantile(hml_json_num(x, "p", 0), hml_json_num(x, "df", 0)), want, 1e-12 * fabs(want));
    }
    json_array_foreach(c, i, x) T_NEAR(hml_student_t_cdf(hml_json_num(x, "t", 0), hml_json_num(x, "df", 0)),
                                       hml_json_num(x, "cdf", NAN), 1e-12);
    T_OK(isnan(hml_student_t_quantile(1, 3)) && isnan(hml_student_t_cdf(1, 0)));
    T_NEAR(hml_student_t_quantile(0.05, 4), -hml_student_t_quantile(0.95, 4), 0);
    json_decref(q);
    json_decref(c);
}

static double *nums(const json_t *arr)
{
    static double v[3][64];
    static int k;
    double *out = v[k++ % 3];
    for (size_t i = 0; i < json_array_size(arr) && i < 64; i++) out[i] = json_number_value(json_array_get(arr, i));
    return out;
}

TEST(exp_paired_test_matches_scipy_ttest_rel)
{
    json_t *cases = load_fixture("paired");
    const enum hml_exp_verdict want[] = {HML_EXP_IMPROVED, HML_EXP_NEUTRAL, HML_EXP_REGRESSED};
    T_EQ(json_array_size(cases), 3);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const struct hml_metric *m = hml_metric_find(hml_json_str(c, "metric", ""));
        size_t n = json_array_size(json_object_get(c, "base"));
        struct hml_exp_paired p;
        enum hml_exp_verdict v = hml_exp_paired_test(m, NULL, nums(json_object_get(c, "base")),
                                                     nums(json_object_get(c, "cand")), n, &p);
        T_EQ(v, want[i]);
        T_EQ(p.n, n);
        T_EQ(p.better, hml_json_int(c, "better", -1));
        T_EQ(p.worse, hml_json_int(c, "worse", -1));
        T_NEAR(p.mean, hml_json_num(c, "mean", NAN), 1e-15);
        T_NEAR(p.sd, hml_json_num(c, "sd", NAN), 1e-14);
        T_NEAR(p.se, hml_json_num(c, "se", NAN), 1e-14);
        T_NEAR(p.t, hml_json_num(c, "t", NAN), 1e-9 * fabs(p.t));
        T_NEAR(p.t_crit, hml_json_num(c, "t_crit", NAN), 1e-10);
        T_NEAR(p.p, hml_json_num(c, "p", NAN), 1e-10);
    }
    json_decref(cases);
}

TEST(exp_paired_test_edge_cases)
{
    const struct hml_metric *brier = hml_metric_find("brier");
    struct hml_exp_paired p;
    double b[] = {0.2, 0.2, 0.2}, same[] = {0.2, 0.2, 0.2}, shift[] = {0.19, 0.19, 0.19};
    T_EQ(hml_exp_paired_test(brier, NULL, b, same, 3, &p), HML_EXP_NEUTRAL); /* identical predictions */
    T_EQ(p.better + p.worse, 0);
    T_EQ(hml_exp_paired_test(brier, NULL, b, shift, 3, &p), HML_EXP_IMPROVED); /* no spread: the sign decides */
    T_EQ(p.better, 3);
    T_EQ(hml_exp_paired_test(brier, NULL, shift, b, 3, &p), HML_EXP_REGRESSED);
    T_EQ(hml_exp_paired_test(brier, NULL, b, shift, 1, &p), HML_EXP_NEUTRAL); /* one fold: no test */
    T_OK(isnan(p.t) && p.n == 1);
    double with_nan[] = {NAN, 0.19, 0.19};
    T_EQ(hml_exp_paired_test(brier, NULL, b, with_nan, 3, &p), HML_EXP_IMPROVED);
    T_EQ(p.n, 2); /* a fold where the metric is undefined is left out of the pairing */
}

TEST(exp_gain_follows_the_metric_goal)
{
    T_NEAR(hml_exp_gain(hml_metric_find("brier"), NULL, 0.2, 0.15), 0.05, 1e-15);
    T_NEAR(hml_exp_gain(hml_metric_find("auc"), NULL, 0.8, 0.85), 0.05, 1e-15);
    T_NEAR(hml_exp_gain(hml_metric_find("mean_bias"), NULL, -0.3, 0.1), 0.2, 1e-15);
    struct hml_metric_opts o = {.level = 0.8};
    T_NEAR(hml_exp_gain(hml_metric_find("coverage_at_level"), &o, 0.7, 0.85), 0.05, 1e-15);
    T_NEAR(hml_exp_gain(hml_metric_find("coverage_at_level"), NULL, 0.7, 0.85), 0.15, 1e-15); /* level 0.9 */
    T_OK(isnan(hml_exp_gain(hml_metric_find("sharpness"), NULL, 1, 2)));
    T_OK(isnan(hml_exp_gain(hml_metric_find("brier"), NULL, NAN, 2)));
}

TEST(exp_plausible_max_uses_config_fold_spread_or_floor)
{
    char why[200];
    json_t *root = project_root();
    double tight[] = {0.140, 0.142, 0.141, 0.143, 0.139};
    double wide[] = {0.10, 0.16, 0.12, 0.18, 0.14};
    const struct hml_metric *brier = hml_metric_find("brier"), *rmse = hml_metric_find("rmse");
    T_NEAR(hml_exp_plausible_max(brier, root, 0.141, tight, 5, why, sizeof why), 0.05, 0); /* the floor */
    T_CONTAINS(why, "bounded-scale");
    /* sd of wide = 0.0316…, 3 × sd beats the floor */
    T_NEAR(hml_exp_plausible_max(brier, root, 0.14, wide, 5, why, sizeof why), 3 * sqrt(0.001), 1e-12);
    double r[] = {50, 52, 51, 53, 49};
    T_NEAR(hml_exp_plausible_max(rmse, root, 51, r, 5, why, sizeof why), fmax(3 * sqrt(2.5), 5.1), 1e-12);
    T_CONTAINS(why, "10% of the baseline");
    struct hml_error err;
    T_RC(hml_config_set(root, "guardrails.max_improvement", parse("{\"brier\":0.2}"), &err), &err);
    T_NEAR(hml_exp_plausible_max(brier, root, 0.14, wide, 5, why, sizeof why), 0.2, 0);
    T_STREQ(why, "guardrails.max_improvement.brier = 0.2");
    json_decref(root);
}
