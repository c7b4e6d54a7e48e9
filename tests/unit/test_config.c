/* Unit tests for config (load, validate, save, merge, hash) and sha256. */
#include "t.h"

#include <sys/stat.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/config.h"
#include "harness/fsx.h"
#include "harness/yaml.h"

static const char *const fixture_files[] = {"pipeline.yaml", "models.yaml", "ensemble.yaml",
                                            "sources.yaml", "features.yaml", "views.yaml"};

static char *path_in(const char *dir, const char *rel)
{
    static char buf[4][1024];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, rel);
    return buf[i];
}

static char *cfg_file(const char *dir, const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/config/%s", dir, name);
    return buf;
}

static char *slurp(const char *path)
{
    char *s = NULL;
    struct hml_error err;
    if (hml_read_file(path, 1 << 24, &s, NULL, &err)) return NULL;
    return s;
}

static void put(const char *dir, const char *rel, const char *text)
{
    struct hml_error err;
    char *p = path_in(dir, rel);
    char *slash = strrchr(p, '/');
    *slash = 0;
    T_RC(hml_mkdirs(p, &err), &err);
    *slash = '/';
    T_RC(hml_write_atomic(p, text, strlen(text), &err), &err);
}

/* A fresh project directory holding the realistic fixture. */
static const char *realistic_project(void)
{
    const char *dir = t_tmpdir();
    for (size_t i = 0; i < sizeof fixture_files / sizeof *fixture_files; i++) {
        char src[512], rel[256];
        snprintf(src, sizeof src, "tests/data/config/realistic/%s", fixture_files[i]);
        char *text = slurp(src);
        if (!text) t_failf(__FILE__, __LINE__, "fixture %s missing (run from the repo root)", src);
        snprintf(rel, sizeof rel, "config/%s", fixture_files[i]);
        put(dir, rel, text);
        hml_free(text);
    }
    return dir;
}

static enum hml_status load_err(const char *dir, struct hml_error *err)
{
    struct hml_config *cfg = NULL;
    hml_error_clear(err);
    enum hml_status rc = hml_config_load(dir, &cfg, err);
    hml_config_free(cfg);
    if (rc && rc != HML_ENOMEM && !err->hint[0]) t_failf(__FILE__, __LINE__, "error without hint: %s", err->message);
    return rc;
}

/* ---- sha256 ---------------------------------------------------------------------------- */

TEST(sha256_fips_vectors)
{
    char hex[65];
    hml_sha256_hex("", 0, hex);
    T_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hml_sha256_hex("abc", 3, hex);
    T_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hml_sha256_hex(m448, strlen(m448), hex);
    T_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A million 'a's, fed in uneven chunks to exercise the block buffer. */
    struct hml_sha256 s;
    unsigned char d[32], chunk[997];
    memset(chunk, 'a', sizeof chunk);
    hml_sha256_init(&s);
    size_t left = 1000000;
    for (size_t k = 1; left; k = k % 997 + 1) {
        size_t n = k < left ? k : left;
        hml_sha256_update(&s, chunk, n);
        left -= n;
    }
    hml_sha256_final(&s, d);
    char got[65];
    for (int i = 0; i < 32; i++) snprintf(got + 2 * i, 3, "%02x", d[i]);
    T_STREQ(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* 55 and 56 bytes straddle the padding boundary. */
    char a56[57];
    memset(a56, 'a', 56);
    hml_sha256_hex(a56, 55, hex);
    T_STREQ(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    hml_sha256_hex(a56, 56, hex);
    T_STREQ(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

/* ---- default and validation ------------------------------------------------------------- */

TEST(config_default_validates_for_every_task)
{
    for (const char *const *task = hml_task_names; *task; task++) {
        struct hml_error err;
        json_t *d = hml_config_default("demo", *task, "y");
        T_OK(d != NULL);
        T_RC(hml_config_validate(d, &err), &err);
        T_STREQ(json_string_value(hml_config_get(d, "data.task")), *task);
        json_t *metrics = hml_config_get(d, "backtest.metrics");
        T_OK(json_array_size(metrics) >= 2);
        T_STREQ(json_string_value(hml_config_get(d, "backtest.primary_metric")),
                json_string_value(json_array_get(metrics, 0)));
        json_decref(d);
    }
    json_t *d = hml_config_default(NULL, "binary", NULL);
    T_OK(hml_config_get(d, "project.name") == NULL);
    T_OK(hml_config_get(d, "data.target_column") == NULL);
    T_STREQ(json_string_value(hml_config_get(d, "backtest.primary_metric")), "brier");
    T_STREQ(json_string_value(hml_config_get(d, "ensemble.meta_learner.type")), "logistic");
    T_EQ(json_integer_value(hml_config_get(d, "workflow.min_model_types")), 4);
    const char *created = json_string_value(hml_config_get(d, "project.created_at"));
    T_EQ(strlen(created), 20);
    T_EQ(created[19], 'Z');
    T_EQ(json_array_size(hml_config_get(d, "data.null_tokens")), 8);
    json_decref(d);
    d = hml_config_default("x", "regression", "y");
    T_STREQ(json_string_value(hml_config_get(d, "backtest.primary_metric")), "rmse");
    json_decref(d);
}

static enum hml_status validate_yaml(const char *doc, struct hml_error *err)
{
    json_t *v = NULL;
    hml_error_clear(err);
    if (hml_yaml_parse(doc, strlen(doc), "t", &v, err)) t_failf(__FILE__, __LINE__, "bad test YAML");
    enum hml_status rc = hml_config_validate(v, err);
    json_decref(v);
    if (rc && !err->hint[0]) t_failf(__FILE__, __LINE__, "error without hint: %s", err->message);
    return rc;
}

TEST(config_unknown_key_suggests_nearest)
{
    struct hml_error err;
    T_EQ(validate_yaml("backtest:\n  n_fold: 5\n", &err), HML_EINVAL);
    T_STREQ(err.message, "unknown key 'n_fold' at 'backtest.n_fold' in config/pipeline.yaml");
    T_STREQ(err.did_you_mean, "n_folds");
    T_CONTAINS(err.hint, "did you mean 'n_folds'?");
    T_CONTAINS(err.valid, "cv_strategy\n");
    T_EQ(validate_yaml("modles: {}\n", &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "models");
    T_EQ(validate_yaml("models:\n  x:\n    type: xgboost\n    parms: {}\n", &err), HML_EINVAL);
    T_STREQ(err.message, "unknown key 'parms' at 'models.x.parms' in config/models.yaml");
    T_STREQ(err.did_you_mean, "params");
    /* params, features and views are free-form. */
    T_EQ(validate_yaml("models:\n  x:\n    type: xgboost\n    params: {learnign_rate: 0.1, a: {b: [1]}}\n"
                       "features: {anything: {goes: 1}}\nviews: {v: {steps: []}}\n", &err), HML_OK);
    T_EQ(validate_yaml("ensemble:\n  meta_learner: {type: ridge, c: 1}\n", &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "C");
}

TEST(config_wrong_type_and_range)
{
    struct hml_error err;
    T_EQ(validate_yaml("backtest:\n  n_folds: five\n", &err), HML_EINVAL);
    T_STREQ(err.message, "'backtest.n_folds' in config/pipeline.yaml must be an integer, got string \"five\"");
    T_CONTAINS(err.hint, "whole number");
    T_EQ(validate_yaml("backtest:\n  n_folds: 2.5\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "got number 2.5");
    T_EQ(validate_yaml("backtest:\n  n_folds: 1\n", &err), HML_EINVAL);
    T_STREQ(err.message, "'backtest.n_folds' in config/pipeline.yaml must be at least 2, got integer 1");
    T_EQ(validate_yaml("data:\n  key_columns: [a, 3]\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "must be a list of strings, but item 2 is integer 3");
    T_EQ(validate_yaml("data:\n  key_columns: a\n", &err), HML_EINVAL);
    T_EQ(validate_yaml("workflow:\n  enforce_phases: yes\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "must be true or false, got string \"yes\"");
    T_EQ(validate_yaml("ensemble:\n  temperature: 0\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "greater than 0");
    T_EQ(validate_yaml("ensemble:\n  clip_floor: 0.6\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "at most 0.5");
    T_EQ(validate_yaml("ensemble:\n  weights: {a: 1, b: x}\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "'ensemble.weights.b'");
    T_EQ(validate_yaml("models: []\n", &err), HML_EINVAL);
    T_EQ(validate_yaml("backtest:\n  fold_values: [1, two, 3.5, true]\n", &err), HML_OK);
    T_EQ(validate_yaml("backtest:\n  fold_values: [[1]]\n", &err), HML_EINVAL);
    /* null means unset anywhere. */
    T_EQ(validate_yaml("data:\n  time_column:\n  key_columns: null\nbacktest:\n  n_folds: ~\n", &err), HML_OK);
    T_EQ(validate_yaml("[1]\n", &err), HML_EINVAL);
}

TEST(config_bad_enum_lists_choices)
{
    struct hml_error err;
    T_EQ(validate_yaml("backtest:\n  cv_strategy: kfodl\n", &err), HML_EINVAL);
    T_STREQ(err.message, "'backtest.cv_strategy' in config/pipeline.yaml has unknown value 'kfodl'");
    T_STREQ(err.did_you_mean, "kfold");
    T_CONTAINS(err.valid, "stratified_kfold");
    T_EQ(validate_yaml("models:\n  m:\n    type: xgbost\n", &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "xgboost");
    T_EQ(validate_yaml("data:\n  task: classification\n", &err), HML_EINVAL);
    T_CONTAINS(err.hint, "binary");
    T_EQ(validate_yaml("ensemble:\n  pre_calibration: {m: platts}\n", &err), HML_EINVAL);
    T_STREQ(err.did_you_mean, "platt");
    T_EQ(validate_yaml("sources:\n  s: {path: a.csv, format: parquet}\n", &err), HML_EINVAL);
}

TEST(config_required_keys)
{
    struct hml_error err;
    T_EQ(validate_yaml("models:\n  m:\n    features: [a]\n", &err), HML_EINVAL);
    T_STREQ(err.message, "'models.m' in config/models.yaml has no 'type'");
    T_CONTAINS(err.valid, "xgboost");
    T_EQ(validate_yaml("sources:\n  s: {format: csv}\n", &err), HML_EINVAL);
    T_CONTAINS(err.message, "has no 'path'");
}

/* ---- load and save ------------------------------------------------------------------------ */

TEST(config_load_missing_project)
{
    struct hml_error err;
    T_EQ(load_err("/nonexistent/project", &err), HML_ENOTFOUND);
    T_STREQ(err.message, "no Harness project at '/nonexistent/project'");
    T_CONTAINS(err.hint, "configure init");
    T_EQ(load_err(t_tmpdir(), &err), HML_ENOTFOUND); /* a directory without config/ */
}

TEST(config_load_realistic_project)
{
    struct hml_error err;
    struct hml_config *cfg = NULL;
    const char *dir = realistic_project();
    T_RC(hml_config_load(dir, &cfg, &err), &err);
    T_STREQ(json_string_value(hml_config_get(cfg->root, "backtest.cv_strategy")), "loso");
    T_EQ(json_integer_value(hml_config_get(cfg->root, "models.xgb_main.params.max_depth")), 4);
    T_STREQ(json_string_value(hml_config_get(cfg->root, "project.harness_version")), "0.1.0");
    T_NEAR(json_real_value(hml_config_get(cfg->root, "ensemble.clip_floor")), 0.01, 0);
    T_OK(json_is_object(hml_config_get(cfg->root, "views.matchups")));
    T_OK(hml_config_get(cfg->root, "models.nope") == NULL);
    T_OK(hml_config_get(cfg->root, "models.xgb_main.type.x") == NULL);
    /* Save, reload: same tree; a second save changes no file. */
    T_RC(hml_config_save(cfg->root, dir, NULL, &err), &err);
    struct hml_config *again = NULL;
    T_RC(hml_config_load(dir, &again, &err), &err);
    T_OK(json_equal(cfg->root, again->root));
    char *before = slurp(path_in(dir, "config/models.yaml"));
    struct stat st1, st2;
    T_OK(stat(path_in(dir, "config/models.yaml"), &st1) == 0);
    T_RC(hml_config_save(again->root, dir, NULL, &err), &err);
    T_OK(stat(path_in(dir, "config/models.yaml"), &st2) == 0);
    T_EQ(st1.st_ino, st2.st_ino);
    char *after = slurp(path_in(dir, "config/models.yaml"));
    T_STREQ(after, before);
    hml_free(before);
    hml_free(after);
    hml_config_free(cfg);
    hml_config_free(again);
}

TEST(config_save_round_trip_is_byte_identical)
{
    struct hml_error err;
    const char *dir = t_tmpdir();
    json_t *d = hml_config_default("demo", "binary", "result");
    T_RC(hml_config_save(d, dir, NULL, &err), &err);
    /* Optional files for empty sections are not created. */
    T_OK(!hml_path_exists(path_in(dir, "config/features.yaml")));
    T_OK(!hml_path_exists(path_in(dir, "config/views.yaml")));
    const char *files[] = {"config/pipeline.yaml", "config/models.yaml", "config/ensemble.yaml",
                           "config/sources.yaml"};
    char *text[4];
    struct stat st[4];
    for (int i = 0; i < 4; i++) {
        text[i] = slurp(path_in(dir, files[i]));
        T_OK(text[i] != NULL);
        T_OK(stat(path_in(dir, files[i]), &st[i]) == 0);
    }
    T_STREQ(text[1], "models: {}\n");
    T_CONTAINS(text[0], "  null_tokens:\n    - \"\"\n    - NA\n");
    T_CONTAINS(text[2], "    C: 10.0\n");
    struct hml_config *cfg = NULL;
    T_RC(hml_config_load(dir, &cfg, &err), &err);
    T_OK(json_equal(cfg->root, d));
    /* Change one model: only models.yaml is rewritten. */
    T_RC(hml_config_set(cfg->root, "models.xgb.type", json_string("xgboost"), &err), &err);
    T_RC(hml_config_save(cfg->root, dir, NULL, &err), &err);
    for (int i = 0; i < 4; i++) {
        struct stat now;
        T_OK(stat(path_in(dir, files[i]), &now) == 0);
        char *t = slurp(path_in(dir, files[i]));
        if (i == 1) {
            T_OK(now.st_ino != st[i].st_ino);
            T_STREQ(t, "models:\n  xgb:\n    type: xgboost\n");
        } else {
            T_EQ(now.st_ino, st[i].st_ino);
            T_STREQ(t, text[i]);
        }
        hml_free(t);
        hml_free(text[i]);
    }
    hml_config_free(cfg);
    json_decref(d);
}

TEST(config_section_in_wrong_file)
{
    struct hml_error err;
    const char *dir = t_tmpdir();
    put(dir, "config/pipeline.yaml", "data:\n  task: binary\nmodels:\n  x:\n    type: xgboost\n");
    T_EQ(load_err(dir, &err), HML_EINVAL);
    T_STREQ(err.message, "section 'models' is in config/pipeline.yaml but belongs in config/models.yaml");
    T_CONTAINS(err.hint, "move the 'models:' block");
    put(dir, "config/pipeline.yaml", "data:\n  task: binary\n");
    put(dir, "config/models.yaml", "modles:\n  x:\n    type: xgboost\n");
    T_EQ(load_err(dir, &err), HML_EINVAL);
    T_STREQ(err.message, "unknown key 'modles' at 'modles' in config/models.yaml");
    T_STREQ(err.did_you_mean, "models");
    put(dir, "config/models.yaml", "- a\n- b\n");
    T_EQ(load_err(dir, &err), HML_EINVAL);
    T_CONTAINS(err.message, "config/models.yaml must hold a mapping");
    put(dir, "config/models.yaml", "models:\n  x:\n    type: xgboost\n  x:\n    type: mlp\n");
    T_EQ(load_err(dir, &err), HML_EINVAL);
    T_STREQ(err.message, "duplicate key 'x' at config/models.yaml line 4");
    put(dir, "config/models.yaml", "models:\n  x:\n    type: xgboost\n    params:\n      max_depth: four\n"
                                   "    n_seeds: 0\n");
    T_EQ(load_err(dir, &err), HML_EINVAL);
    T_STREQ(err.message, "'models.x.n_seeds' in config/models.yaml must be at least 1, got integer 0");
    put(dir, "config/models.yaml", "");
    T_EQ(load_err(dir, &err), HML_OK); /* an empty file is an empty mapping */
}

TEST(config_failed_save_changes_nothing)
{
    struct hml_error err;
    const char *dir = realistic_project();
    struct hml_config *cfg = NULL;
    T_RC(hml_config_load(dir, &cfg, &err), &err);
    char *before[6];
    for (int i = 0; i < 6; i++) before[i] = slurp(cfg_file(dir, fixture_files[i]));
    T_RC(hml_config_set(cfg->root, "backtest.seed", json_integer(7), &err), &err);
    T_RC(hml_config_set(cfg->root, "models.xgb_main.active", json_false(), &err), &err);
    T_RC(hml_config_set(cfg->root, "ensemble.temperature", json_real(1.5), &err), &err);

    /* A txn freed without commit. */
    struct hml_txn *t = hml_txn_new();
    T_RC(hml_config_save(cfg->root, dir, t, &err), &err);
    hml_txn_free(t);
    for (int i = 0; i < 6; i++) {
        char *now = slurp(cfg_file(dir, fixture_files[i]));
        T_STREQ(now, before[i]);
        hml_free(now);
    }

    /* A commit that fails on the third file rolls back the first two. */
    const char *ens = path_in(dir, "config/ensemble.yaml");
    T_OK(unlink(ens) == 0);
    T_OK(mkdir(ens, 0755) == 0);
    hml_error_clear(&err);
    T_EQ(hml_config_save(cfg->root, dir, NULL, &err), HML_EIO);
    T_OK(err.hint[0] != 0);
    for (int i = 0; i < 6; i++) {
        if (i == 2) continue;
        char *now = slurp(cfg_file(dir, fixture_files[i]));
        T_STREQ(now, before[i]);
        hml_free(now);
    }
    char listing[1024];
    snprintf(listing, sizeof listing, "ls -a '%s/config' | grep -c -E 'tmp|bak' > /dev/null", dir);
    T_OK(system(listing) != 0); /* no temp or backup files left behind */

    /* An invalid tree is refused before anything is written. */
    T_RC(hml_config_set(cfg->root, "backtest.n_folds", json_string("five"), &err), &err);
    T_OK(rmdir(ens) == 0);
    T_EQ(hml_config_save(cfg->root, dir, NULL, &err), HML_EINVAL);
    T_OK(!hml_path_exists(ens));
    for (int i = 0; i < 6; i++) hml_free(before[i]);
    hml_config_free(cfg);
}

TEST(config_load_survives_failed_allocations)
{
    const char *dir = realistic_project();
    size_t base = hml_alloc_live_bytes();
    for (uint64_t n = 1; n < 100000; n++) {
        struct hml_error err;
        struct hml_config *cfg = NULL;
        hml_error_clear(&err);
        hml_alloc_fail_at(n);
        enum hml_status rc = hml_config_load(dir, &cfg, &err);
        int fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) {
            T_OK(fired);
            T_EQ(rc, HML_ENOMEM);
            T_OK(err.message[0] != 0);
        }
        hml_config_free(cfg);
        T_EQ(hml_alloc_live_bytes(), base);
        if (!fired) {
            T_EQ(rc, HML_OK);
            T_OK(n > 50);
            return;
        }
    }
    T_OK(!"allocation sweep did not finish");
}

/* ---- get, set, merge, hash ------------------------------------------------------------------- */

TEST(config_set_creates_and_refuses)
{
    struct hml_error err;
    json_t *root = json_object();
    T_RC(hml_config_set(root, "models.xgb.params.max_depth", json_integer(4), &err), &err);
    T_EQ(json_integer_value(hml_config_get(root, "models.xgb.params.max_depth")), 4);
    T_RC(hml_config_set(root, "a", json_null(), &err), &err);
    T_RC(hml_config_set(root, "a.b", json_true(), &err), &err); /* null becomes a mapping */
    T_OK(json_is_true(hml_config_get(root, "a.b")));
    hml_error_clear(&err);
    T_EQ(hml_config_set(root, "models.xgb.params.max_depth.x", json_integer(1), &err), HML_EINVAL);
    T_CONTAINS(err.message, "'models.xgb.params.max_depth' is not a mapping");
    T_OK(err.hint[0] != 0);
    T_EQ(hml_config_set(root, "a..b", json_integer(1), &err), HML_EINVAL);
    T_EQ(hml_config_set(root, "", json_integer(1), &err), HML_EINVAL);
    T_EQ(hml_config_set(root, "a.", json_integer(1), &err), HML_EINVAL);
    json_decref(root);
}

TEST(config_merge_dot_keys_and_feature_edits)
{
    struct hml_error err;
    json_t *root = hml_config_default("p", "binary", "y"), *out = NULL, *ov = NULL;
    T_RC(hml_config_set(root, "models.xgb", json_pack("{s:s, s:[s,s], s:{s:i, s:f}}", "type",
         "xgboost", "features", "a", "b", "params", "max_depth", 6, "learning_rate", 0.1), &err), &err);
    const char *text = "{\"models.xgb.params.learning_rate\": 0.01,"
                       " \"models.xgb\": {\"append_features\": [\"c\", \"a\", \"c\"], \"remove_features\": [\"b\", \"zz\"]},"
                       " \"models.lr\": {\"type\": \"logistic_regression\", \"features\": [\"a\"], \"description\": null},"
                       " \"backtest\": {\"metrics\": [\"auc\"], \"seed\": null},"
                       " \"ensemble.meta_learner.C\": 0.5}";
    T_RC(hml_json_parse(text, strlen(text), &ov, &err), &err);
    T_RC(hml_config_merge(root, ov, &out, &err), &err);
    T_RC(hml_config_validate(out, &err), &err);
    T_NEAR(json_real_value(hml_config_get(out, "models.xgb.params.learning_rate")), 0.01, 0);
    T_EQ(json_integer_value(hml_config_get(out, "models.xgb.params.max_depth")), 6);
    char *f = json_dumps(hml_config_get(out, "models.xgb.features"), JSON_COMPACT);
    T_STREQ(f, "[\"a\",\"c\"]");
    hml_free(f);
    T_OK(hml_config_get(out, "models.xgb.append_features") == NULL);
    T_STREQ(json_string_value(hml_config_get(out, "models.lr.type")), "logistic_regression");
    T_OK(json_object_get(hml_config_get(out, "models.lr"), "description") == NULL);
    T_EQ(json_array_size(hml_config_get(out, "backtest.metrics")), 1);   /* arrays replace */
    T_OK(hml_config_get(out, "backtest.seed") == NULL);                  /* null deletes   */
    T_EQ(json_integer_value(hml_config_get(out, "backtest.n_folds")), 5); /* siblings stay */
    T_NEAR(json_real_value(hml_config_get(out, "ensemble.meta_learner.C")), 0.5, 0);
    T_STREQ(json_string_value(hml_config_get(out, "ensemble.meta_learner.type")), "logistic");
    /* The input trees are untouched. */
    T_EQ(json_array_size(hml_config_get(root, "models.xgb.features")), 2);
    T_OK(json_object_get(json_object_get(ov, "models.xgb"), "append_features") != NULL);
    json_decref(out);
    json_decref(ov);

    /* Edits alone, a lone string, a null that removes a whole model. */
    ov = json_pack("{s:s, s:n}", "models.xgb.append_features", "d", "models.gone");
    T_RC(hml_config_merge(root, ov, &out, &err), &err);
    T_EQ(json_array_size(hml_config_get(out, "models.xgb.features")), 3);
    json_decref(out);
    json_decref(ov);
    ov = json_pack("{s:n}", "models.xgb");
    T_RC(hml_config_merge(root, ov, &out, &err), &err);
    T_OK(hml_config_get(out, "models.xgb") == NULL);
    json_decref(out);
    json_decref(ov);

    /* Edits of a model that does not exist, and malformed edits. */
    ov = json_pack("{s:[s]}", "models.xgbb.append_features", "a");
    hml_error_clear(&err);
    T_EQ(hml_config_merge(root, ov, &out, &err), HML_ENOTFOUND);
    T_STREQ(err.did_you_mean, "xgb");
    json_decref(ov);
    ov = json_pack("{s:[i]}", "models.xgb.remove_features", 3);
    T_EQ(hml_config_merge(root, ov, &out, &err), HML_EINVAL);
    T_OK(err.hint[0] != 0);
    json_decref(ov);
    ov = json_pack("{s:i}", "models..x", 3);
    T_EQ(hml_config_merge(root, ov, &out, &err), HML_EINVAL);
    json_decref(ov);
    ov = json_pack("[i]", 3);
    T_EQ(hml_config_merge(root, ov, &out, &err), HML_EINVAL);
    json_decref(ov);
    json_decref(root);
}

TEST(config_merge_survives_failed_allocations)
{
    json_t *root = hml_config_default("p", "binary", "y");
    json_t *ov = json_pack("{s:f, s:{s:[s,s]}, s:n, s:{s:s, s:[s]}}", "models.x.params.lr", 0.1,
                           "models.x", "append_features", "a", "b", "backtest.seed", "models.y",
                           "type", "mlp", "features", "q");
    json_t *x = json_pack("{s:s}", "type", "xgboost");
    json_object_set_new(json_object_get(root, "models"), "x", x);
    size_t base = hml_alloc_live_bytes();
    for (uint64_t n = 1; n < 10000; n++) {
        struct hml_error err;
        json_t *out = NULL;
        hml_error_clear(&err);
        hml_alloc_fail_at(n);
        enum hml_status rc = hml_config_merge(root, ov, &out, &err);
        int fired = hml_alloc_failed();
        hml_alloc_fail_at(0);
        if (rc) T_EQ(rc, HML_ENOMEM);
        json_decref(out);
        T_EQ(hml_alloc_live_bytes(), base);
        if (!fired) {
            T_EQ(rc, HML_OK);
            break;
        }
    }
    json_decref(ov);
    json_decref(root);
}

TEST(config_hash_is_stable)
{
    struct hml_error err;
    json_t *a, *b;
    const char *ta = "{\"models\": {\"x\": {\"type\": \"xgboost\", \"params\": {\"a\": 1, \"b\": 0.1}}}, \"data\": {\"task\": \"binary\"}}";
    const char *tb = "{\"data\": {\"task\": \"binary\"}, \"models\": {\"x\": {\"params\": {\"b\": 0.1, \"a\": 1}, \"type\": \"xgboost\"}}}";
    T_RC(hml_json_parse(ta, strlen(ta), &a, &err), &err);
    T_RC(hml_json_parse(tb, strlen(tb), &b, &err), &err);
    char ha[65], hb[65], expect[65];
    hml_config_hash(a, ha);
    hml_config_hash(b, hb);
    T_STREQ(ha, hb);
    T_EQ(strlen(ha), 64);
    char *canon = hml_json_canonical(a);
    hml_sha256_hex(canon, strlen(canon), expect);
    T_STREQ(ha, expect);
    hml_free(canon);
    /* 1 and 1.0 differ in type, so they hash differently. */
    T_RC(hml_config_set(b, "models.x.params.a", json_real(1.0), &err), &err);
    hml_config_hash(b, hb);
    T_OK(strcmp(ha, hb) != 0);
    json_decref(a);
    json_decref(b);
}
