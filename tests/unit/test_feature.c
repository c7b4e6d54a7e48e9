/* Unit tests for declared features (feature*.c): definitions and type inference,
 * dependency order and cycles, materialised values (checked against values computed
 * here from the input columns), the cache (which features a change recomputes, counted),
 * each leakage guardrail, and the binned mutual-information estimator against
 * tests/fixtures/features/features_ref.json (sklearn's mutual_info_score on the same
 * codes, made by gen_features.py). */
#include "t.h"

#include <math.h>
#include <stdint.h>

#include "harness/alloc.h"
#include "harness/feature.h"
#include "harness/frame.h"
#include "harness/io.h"
#include "harness/json.h"
#include "harness/stats.h"

#define FIXTURE "tests/fixtures/features/features_ref.json"

static struct hml_frame *csv(const char *text)
{
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep = {0};
    T_RC(hml_csv_read_mem(text, strlen(text), NULL, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    return f;
}

static struct hml_frame *titanic(void)
{
    struct hml_error err;
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep = {0};
    T_RC(hml_csv_read_file(t_shared_data("titanic.csv"), NULL, &f, &rep, &err), &err);
    hml_ingest_report_fini(&rep);
    return f;
}

/* A config {data: {target_column, task}, features: <json>} (plus extra top-level JSON). */
static json_t *config(const char *target, const char *task, const char *features_json)
{
    json_t *c = json_pack("{s:{s:s,s:s}}", "data", "target_column", target, "task", task);
    json_error_t je;
    json_t *fs = json_loads(features_json, 0, &je);
    if (!fs) t_failf(__FILE__, __LINE__, "bad test JSON: %s", je.text);
    json_object_set_new(c, "features", fs);
    return c;
}

static void set_formula(json_t *cfg, const char *name, const char *formula)
{
    json_object_set_new(json_object_get(json_object_get(cfg, "features"), name), "formula", json_string(formula));
}

static const struct hml_column *col(const struct hml_frame *f, const char *name)
{
    long j = hml_frame_find(f, name);
    if (j < 0) t_failf(__FILE__, __LINE__, "no column '%s'", name);
    return f->cols[j];
}

/* Refreshes and returns the new table; fails the test on an error. */
static struct hml_frame *refresh(const json_t *cfg, const struct hml_frame *t, struct hml_feature_cache *cache,
                                 struct hml_feature_report *rep)
{
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_feature_opts o = {.config = cfg, .cache = cache};
    struct hml_frame *out = NULL;
    T_RC(hml_features_refresh(&o, t, &out, rep, &err), &err);
    return out;
}

static struct hml_error refresh_fails(const json_t *cfg, const struct hml_frame *t, enum hml_status code)
{
    struct hml_error err;
    hml_error_clear(&err);
    struct hml_feature_opts o = {.config = cfg};
    struct hml_frame *out = NULL;
    struct hml_feature_report rep;
    enum hml_status rc = hml_features_refresh(&o, t, &out, &rep, &err);
    if (rc != code) t_failf(__FILE__, __LINE__, "expected status %d, got %d (%s)", (int)code, (int)rc, err.message);
    T_OK(err.hint[0] != 0);
    T_OK(out == NULL);
    return err;
}

static const char *status_of(const struct hml_feature_report *rep, const char *name)
{
    size_t i;
    json_t *it;
    json_array_foreach(rep->items, i, it) if (!strcmp(hml_json_str(it, "name", ""), name)) return hml_json_str(it, "status", "");
    return "(absent)";
}

/* ---- definitions ------------------------------------------------------------------------------ */

static struct hml_error parse_fails(const char *name, const char *def_json)
{
    json_t *def = json_loads(def_json, 0, NULL);
    struct hml_feature f;
    struct hml_error err;
    hml_error_clear(&err);
    T_EQ(hml_feature_parse(name, def, NULL, &f, &err), HML_EINVAL);
    T_OK(err.hint[0] != 0);
    json_decref(def);
    return err;
}

TEST(feature_types_are_inferred_and_outputs_named)
{
    struct hml_error err;
    struct hml_feature f;
    json_t *c = json_pack("{s:{s:{s:s}}}", "data", "feature_store", "entity_a_column", "home");
    const char *cases[][4] = {
        /* definition, type, first output, second output */
        {"{\"formula\": \"a + b\"}", "instance", "x", ""},
        {"{\"condition\": \"a < 3\"}", "regime", "x", ""},
        {"{\"source\": \"ratings\"}", "entity", "diff_x", ""},
        {"{\"source\": \"ratings\", \"pairwise_mode\": \"both\"}", "entity", "diff_x", "ratio_x"},
        {"{\"source\": \"ratings\", \"pairwise_mode\": \"none\"}", "entity", "x_a", "x_b"},
        {"{\"source\": \"ratings\", \"pairwise_mode\": \"ratio\"}", "entity", "ratio_x", ""},
        {"{\"type\": \"pairwise\", \"formula\": \"elo_a - elo_b\"}", "pairwise", "x", ""},
        {"{\"column\": \"fare\"}", "instance", "x", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *def = json_loads(cases[i][0], 0, NULL);
        T_RC(hml_feature_parse("x", def, c, &f, &err), &err);
        T_STREQ(hml_feature_type_names[f.type], cases[i][1]);
        T_STREQ(f.outputs[0], cases[i][2]);
        T_EQ(f.noutputs, cases[i][3][0] ? 2 : 1);
        if (cases[i][3][0]) T_STREQ(f.outputs[1], cases[i][3]);
        T_STREQ(hml_json_str(f.def, "type", ""), cases[i][1]);
        T_STREQ(f.category, "general");
        if (f.type == HML_FEATURE_ENTITY) {
            T_STREQ(f.entity_a_column, "home");      /* from data.feature_store */
            T_STREQ(f.entity_b_column, "entity_b_id"); /* upstream's default */
            T_STREQ(f.column, "x");                    /* the value column defaults to the name */
        }
        hml_feature_fini(&f);
        json_decref(def);
    }
    json_t *def = json_loads("{\"column\": \"x\"}", 0, NULL);
    T_RC(hml_feature_parse("x", def, NULL, &f, &err), &err);
    T_OK(f.declares);
    hml_feature_fini(&f);
    json_decref(def);
    json_decref(c);
}

TEST(feature_definitions_are_checked_with_hints)
{
    struct hml_error e = parse_fails("x", "{\"formla\": \"a\"}");
    T_STREQ(e.did_you_mean, "formula");
    e = parse_fails("x", "{\"type\": \"pairwse\", \"formula\": \"a\"}");
    T_STREQ(e.did_you_mean, "pairwise");
    e = parse_fails("x", "{\"source\": \"s\", \"pairwise_mode\": \"dif\"}");
    T_STREQ(e.did_you_mean, "diff");
    e = parse_fails("x", "{\"formula\": \"a\", \"column\": \"b\"}");
    T_CONTAINS(e.message, "exactly one of formula or column");
    e = parse_fails("x", "{\"type\": \"regime\", \"formula\": \"a > 1\"}");
    T_CONTAINS(e.message, "needs a condition");
    e = parse_fails("x", "{\"formula\": \"a\", \"pairwise_mode\": \"diff\"}");
    T_CONTAINS(e.message, "entity features only");
    e = parse_fails("2x", "{\"formula\": \"a\"}");
    T_CONTAINS(e.message, "must start with a letter");
    e = parse_fails("x", "{\"formula\": \"a +\"}");
    T_STREQ(e.where, "expr");
    e = parse_fails("x", "{}");
    T_CONTAINS(e.hint, "formula");
}

/* ---- dependency order ---------------------------------------------------------------------------- */

static struct hml_error load_fails(const char *features_json, enum hml_status code)
{
    json_t *cfg = config("y", "regression", features_json);
    struct hml_feature_set *s = NULL;
    struct hml_error err;
    hml_error_clear(&err);
    T_EQ(hml_features_load(cfg, &s, &err), code);
    T_OK(err.hint[0] != 0);
    json_decref(cfg);
    return err;
}

TEST(feature_set_is_ordered_by_dependencies)
{
    /* Config order c, a, d, b; c reads @b, b reads @a, d reads a's output column by name. */
    json_t *cfg = config("y", "regression",
                         "{\"c\": {\"formula\": \"@b + 1\"}, \"a\": {\"formula\": \"x * 2\"},"
                         " \"d\": {\"formula\": \"a + z\"}, \"b\": {\"formula\": \"@a + x\"}, \"e\": {\"formula\": \"x\"}}");
    struct hml_feature_set *s;
    struct hml_error err;
    T_RC(hml_features_load(cfg, &s, &err), &err);
    T_EQ(s->n, 5);
    const char *want[] = {"a", "d", "b", "c", "e"}; /* stable: each placed as soon as it can be */
    for (size_t i = 0; i < 5; i++) T_STREQ(s->items[i].name, want[i]);
    for (size_t i = 0; i < s->n; i++)
        for (size_t d = 0; d < s->items[i].ndeps; d++) T_OK(s->items[i].deps[d] < i);
    long a = hml_features_find(s, "a"), c = hml_features_find(s, "c"), d = hml_features_find(s, "d"),
         e = hml_features_find(s, "e");
    T_OK(hml_features_depends(s, (size_t)c, (size_t)a)); /* through b */
    T_OK(hml_features_depends(s, (size_t)d, (size_t)a)); /* by column name */
    T_OK(!hml_features_depends(s, (size_t)e, (size_t)a));
    T_OK(!hml_features_depends(s, (size_t)a, (size_t)c));
    T_EQ(hml_features_owner(s, "a"), a);
    T_EQ(hml_features_owner(s, "x"), -1);
    hml_features_free(s);
    json_decref(cfg);
}

TEST(feature_cycles_and_unknown_refs_are_named)
{
    struct hml_error e = load_fails("{\"a\": {\"formula\": \"@b\"}, \"b\": {\"formula\": \"@c + 1\"},"
                                    " \"c\": {\"formula\": \"@a * 2\"}, \"ok\": {\"formula\": \"x\"}}",
                                    HML_EINVAL);
    T_CONTAINS(e.message, "cycle: a → b → c → a");
    e = load_fails("{\"a\": {\"formula\": \"@a + 1\"}}", HML_EINVAL);
    T_CONTAINS(e.message, "cycle: a → a");
    /* A cycle through an output column read by name counts too. */
    e = load_fails("{\"p\": {\"formula\": \"q + 1\"}, \"q\": {\"formula\": \"@p\"}}", HML_EINVAL);
    T_CONTAINS(e.message, "p → q → p");
    e = load_fails("{\"family\": {\"formula\": \"x\"}, \"b\": {\"formula\": \"@famly + 1\"}}", HML_ENOTFOUND);
    T_STREQ(e.did_you_mean, "family");
    T_CONTAINS(e.message, "'@famly'");
    e = load_fails("{\"fare\": {\"formula\": \"log(fare)\"}}", HML_EINVAL);
    T_CONTAINS(e.message, "reads the column 'fare' that it writes");
    e = load_fails("{\"r\": {\"source\": \"s\"}, \"diff_r\": {\"formula\": \"x\"}}", HML_EINVAL);
    T_CONTAINS(e.message, "both write the column 'diff_r'");
    e = load_fails("{\"a\": {\"formula\": \"x\", \"enabled\": false}, \"b\": {\"formula\": \"@a\"}}", HML_EINVAL);
    T_CONTAINS(e.message, "disabled feature 'a'");
    e = load_fails("{\"a\": {\"formula\": \"x\", \"colour\": 1}}", HML_EINVAL);
    T_CONTAINS(e.message, "feature 'a'");
}

/* ---- values ---------------------------------------------------------------------------------------- */

TEST(feature_values_on_titanic)
{
    struct hml_frame *t = titanic();
    json_t *cfg = config("survived", "binary",
                         "{\"family_size\": {\"formula\": \"sibsp + parch + 1\", \"category\": \"family\"},"
                         " \"is_child\": {\"condition\": \"age < 12\"},"
                         " \"fare_log\": {\"formula\": \"log(fare)\"},"
                         " \"big_family\": {\"formula\": \"@family_size * 2 + @is_child\"},"
                         " \"fare_again\": {\"column\": \"fare\"}, \"age\": {\"column\": \"age\"}}");
    struct hml_feature_report rep;
    struct hml_frame *out = refresh(cfg, t, NULL, &rep);
    T_EQ(rep.computed, 5);
    T_EQ(rep.fresh, 1); /* `age` only declares an existing column */
    T_STREQ(status_of(&rep, "age"), "declared");
    T_OK(rep.changed);
    T_EQ(out->ncols, t->ncols + 5);
    const struct hml_column *sib = col(t, "sibsp"), *par = col(t, "parch"), *age = col(t, "age"), *fare = col(t, "fare");
    const struct hml_column *fs = col(out, "family_size"), *ch = col(out, "is_child"), *fl = col(out, "fare_log"),
                            *bf = col(out, "big_family"), *fa = col(out, "fare_again");
    T_EQ(fs->type, HML_TYPE_I64);
    T_EQ(ch->type, HML_TYPE_I64);
    size_t children = 0, nulls = 0, no_family = 0;
    for (size_t i = 0; i < t->nrows; i++) {
        bool child = !hml_column_is_null(age, i) && hml_column_num(age, i) < 12;
        T_EQ(hml_i64(ch)[i], child); /* a null age is not a child: 0, never null */
        T_OK(!hml_column_is_null(ch, i));
        children += child;
        if (hml_column_is_null(fare, i)) {
            T_OK(hml_column_is_null(fl, i));
            T_OK(hml_column_is_null(fa, i));
            nulls++;
        } else {
            T_NEAR(hml_f64(fl)[i], log(fabs(hml_column_num(fare, i)) + 1), 1e-12);
            T_EQ(hml_column_num(fa, i), hml_column_num(fare, i));
        }
        if (hml_column_is_null(sib, i) || hml_column_is_null(par, i)) {
            T_OK(hml_column_is_null(fs, i) && hml_column_is_null(bf, i));
            no_family++;
            continue;
        }
        T_EQ(hml_i64(fs)[i], hml_i64(sib)[i] + hml_i64(par)[i] + 1);
        T_EQ(hml_column_num(bf, i), 2 * (hml_i64(sib)[i] + hml_i64(par)[i] + 1) + child);
    }
    T_OK(children > 50);
    T_EQ(nulls, 26);
    T_EQ(no_family, 10);
    hml_feature_report_fini(&rep);
    hml_frame_free(out);
    json_decref(cfg);
    hml_frame_free(t);
}

TEST(feature_regime_condition_must_be_boolean)
{
    struct hml_frame *t = csv("x,y\n1,0\n2,1\n3,0\n");
    json_t *cfg = config("y", "binary", "{\"r\": {\"condition\": \"x + 1\"}}");
    struct hml_error e = refresh_fails(cfg, t, HML_EINVAL);
    T_CONTAINS(e.message, "feature 'r'");
    T_CONTAINS(e.message, "not true/false");
    json_decref(cfg);
    hml_frame_free(t);
}

/* ---- entity features ---------------------------------------------------------------------------------- */

static enum hml_status ratings_source(void *ctx, const char *name, struct hml_frame **out, struct hml_error *err)
{
    if (strcmp(name, "ratings")) {
        hml_fail(err, HML_ENOTFOUND, "test", "no source '%s'", name);
        return hml_hint(err, "ratings only");
    }
    *out = hml_frame_clone(ctx);
    return HML_OK;
}

TEST(feature_entity_joins_both_sides_per_period)
{
    struct hml_frame *t = csv("home,away,season,y\nA,B,1,0\nB,A,1,1\nA,C,2,1\nC,D,2,0\nA,B,2,0\n");
    struct hml_frame *src = csv("team,season,elo\nA,1,1500\nB,1,1400\nA,2,1600\nB,2,0\nC,2,1450\nC,1,9\n");
    json_t *cfg = config("y", "binary",
                         "{\"elo\": {\"source\": \"ratings\", \"pairwise_mode\": \"both\", \"entity_column\": \"team\","
                         " \"entity_a_column\": \"home\", \"entity_b_column\": \"away\", \"period_column\": \"season\"},"
                         " \"elo_sides\": {\"source\": \"ratings\", \"column\": \"elo\", \"pairwise_mode\": \"none\","
                         " \"entity_column\": \"team\", \"entity_a_column\": \"home\", \"entity_b_column\": \"away\","
                         " \"period_column\": \"season\"}, \"edge\": {\"formula\": \"@elo / 100\"}}");
    struct hml_feature_opts o = {.config = cfg, .load_source = ratings_source, .source_ctx = src};
    struct hml_frame *out = NULL;
    struct hml_feature_report rep;
    struct hml_error err;
    T_RC(hml_features_refresh(&o, t, &out, &rep, &err), &err);
    const struct hml_column *d = col(out, "diff_elo"), *r = col(out, "ratio_elo"), *a = col(out, "elo_sides_a"),
                            *b = col(out, "elo_sides_b"), *edge = col(out, "edge");
    double want_d[] = {100, -100, 150, NAN, 1600}, want_r[] = {1500.0 / 1400, 1400.0 / 1500, 1600.0 / 1450, NAN, NAN};
    for (size_t i = 0; i < 5; i++) {
        if (isnan(want_d[i])) T_OK(hml_column_is_null(d, i)); /* D has no rating */
        else T_NEAR(hml_f64(d)[i], want_d[i], 1e-12);
        if (isnan(want_r[i])) T_OK(hml_column_is_null(r, i)); /* no rating, or B's rating is 0 */
        else T_NEAR(hml_f64(r)[i], want_r[i], 1e-12);
        if (!isnan(want_d[i])) T_NEAR(hml_column_num(edge, i), want_d[i] / 100, 1e-12); /* @elo is diff_elo */
    }
    T_EQ(hml_column_num(a, 2), 1600); /* A in season 2, not season 1 */
    T_EQ(hml_column_num(b, 1), 1500);
    hml_feature_report_fini(&rep);
    hml_frame_free(out);
    /* Two rows for one (entity, period) cannot be joined: the key is named. */
    struct hml_frame *dup = csv("team,season,elo\nA,1,1500\nA,1,1501\nB,1,1400\n");
    o.source_ctx = dup;
    T_EQ(hml_features_refresh(&o, t, &out, &rep, &err), HML_EINVAL);
    T_CONTAINS(err.message, "feature 'elo'");
    T_CONTAINS(err.message, "A");
    /* A period column on one side only is explained. */
    json_t *no_period = config("y", "binary", "{\"elo\": {\"source\": \"ratings\", \"entity_column\": \"team\", "
                                               "\"entity_a_column\": \"home\", \"entity_b_column\": \"away\", "
                                               "\"period_column\": \"season\"}}");
    struct hml_frame *flat = csv("team,elo\nA,1\nB,2\nC,3\nD,4\n");
    o.config = no_period;
    o.source_ctx = flat;
    T_EQ(hml_features_refresh(&o, t, &out, &rep, &err), HML_EINVAL);
    T_CONTAINS(err.message, "period column 'season' is in the prediction table but not in the source");
    o.load_source = NULL;
    T_EQ(hml_features_refresh(&o, t, &out, &rep, &err), HML_ENOTFOUND);
    T_CONTAINS(err.hint, "data add_source");
    json_decref(no_period);
    hml_frame_free(flat);
    hml_frame_free(dup);
    json_decref(cfg);
    hml_frame_free(src);
    hml_frame_free(t);
}

/* ---- the cache --------------------------------------------------------------------------------------- */

TEST(feature_cache_recomputes_only_what_changed)
{
    struct hml_frame *t = csv("x,y,z\n1,2,0\n2,3,1\n3,5,0\n4,4,1\n5,9,1\n6,1,0\n");
    json_t *cfg = config("z", "binary",
                         "{\"a\": {\"formula\": \"y * 2\"}, \"b\": {\"formula\": \"@a + 1\"},"
                         " \"c\": {\"formula\": \"x * 3\"}, \"d\": {\"formula\": \"@b + @c\"}}");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cache/features", t_tmpdir());
    struct hml_feature_cache *cache = hml_feature_cache_new(dir);
    struct hml_feature_report rep;
    struct hml_error err;
    uint64_t n0 = hml_feature_computations();
    struct hml_frame *t1 = refresh(cfg, t, cache, &rep);
    T_EQ(rep.computed, 4);
    T_EQ(hml_feature_computations() - n0, 4);
    T_EQ(hml_feature_cache_pending(cache), 4);
    hml_feature_report_fini(&rep);
    T_RC(hml_feature_cache_flush(cache, &err), &err);
    T_EQ(hml_feature_cache_pending(cache), 0);
    hml_feature_cache_free(cache);

    /* Nothing changed: nothing is computed and the table is the same. */
    cache = hml_feature_cache_new(dir);
    struct hml_frame *t2 = refresh(cfg, t1, cache, &rep);
    T_EQ(rep.computed, 0);
    T_EQ(rep.fresh, 4);
    T_OK(!rep.changed);
    T_EQ(hml_frame_fingerprint(t2), hml_frame_fingerprint(t1));
    hml_feature_report_fini(&rep);
    hml_frame_free(t2);

    /* Editing a recomputes a, and b and d that read it; c stays. */
    set_formula(cfg, "a", "y * 10");
    n0 = hml_feature_computations();
    t2 = refresh(cfg, t1, cache, &rep);
    T_EQ(rep.computed, 3);
    T_EQ(hml_feature_computations() - n0, 3);
    T_STREQ(status_of(&rep, "a"), "computed");
    T_STREQ(status_of(&rep, "b"), "computed");
    T_STREQ(status_of(&rep, "c"), "fresh");
    T_STREQ(status_of(&rep, "d"), "computed");
    T_EQ(hml_column_num(col(t2, "d"), 2), 5 * 10 + 1 + 3 * 3);
    hml_feature_report_fini(&rep);

    /* A description is not part of the key. */
    json_object_set_new(json_object_get(json_object_get(cfg, "features"), "c"), "description", json_string("x3"));
    struct hml_frame *t3 = refresh(cfg, t2, cache, &rep);
    T_EQ(rep.computed, 0);
    hml_feature_report_fini(&rep);
    hml_frame_free(t3);

    /* Going back to the old formula restores a, b, d from the cache (files on disk). */
    set_formula(cfg, "a", "y * 2");
    n0 = hml_feature_computations();
    t3 = refresh(cfg, t2, cache, &rep);
    T_EQ(rep.computed, 0);
    T_EQ(rep.cached, 3);
    T_EQ(hml_feature_computations(), n0);
    T_EQ(hml_frame_fingerprint(t3), hml_frame_fingerprint(t1));
    hml_feature_report_fini(&rep);
    hml_frame_free(t3);

    /* Changing the data behind c recomputes c and d only. */
    struct hml_column *x2 = hml_column_copy(col(t1, "x"));
    hml_i64(x2)[0] = 100;
    struct hml_frame *t4 = hml_frame_clone(t1);
    T_RC(hml_frame_replace(t4, (size_t)hml_frame_find(t4, "x"), x2, &err), &err);
    hml_column_unref(x2);
    t3 = refresh(cfg, t4, cache, &rep);
    T_EQ(rep.computed, 2);
    T_STREQ(status_of(&rep, "c"), "computed");
    T_STREQ(status_of(&rep, "d"), "computed");
    T_STREQ(status_of(&rep, "a"), "fresh");
    T_EQ(hml_column_num(col(t3, "c"), 0), 300);
    hml_feature_report_fini(&rep);
    hml_frame_free(t3);
    hml_frame_free(t4);

    /* A table without the columns (say, data re-added) gets them back from the cache. */
    t3 = refresh(cfg, t, cache, &rep);
    T_EQ(rep.computed, 0);
    T_EQ(rep.cached, 4);
    T_OK(rep.changed);
    T_EQ(hml_frame_fingerprint(t3), hml_frame_fingerprint(t1));
    hml_feature_report_fini(&rep);
    hml_frame_free(t3);

    hml_feature_cache_free(cache);
    hml_frame_free(t2);
    hml_frame_free(t1);
    json_decref(cfg);
    hml_frame_free(t);
}

/* ---- guardrails -------------------------------------------------------------------------------------------- */

TEST(feature_guard_refuses_reading_the_target_or_the_denylist)
{
    struct hml_frame *t = titanic();
    json_t *cfg = config("survived", "binary", "{\"leak\": {\"formula\": \"survived * 2 + age\"}}");
    struct hml_error e = refresh_fails(cfg, t, HML_EBLOCKED);
    T_CONTAINS(e.message, "feature 'leak' reads the target 'survived'");
    T_CONTAINS(e.hint, "cannot be overridden");
    json_decref(cfg);

    /* Through a reference: the error names the feature it comes through. */
    cfg = config("survived", "binary", "{\"a\": {\"formula\": \"survived + 0\"}, \"b\": {\"formula\": \"@a * 3\"}}");
    struct hml_feature_set *s;
    struct hml_error err;
    T_RC(hml_features_load(cfg, &s, &err), &err);
    T_EQ(hml_features_guard_one(s, (size_t)hml_features_find(s, "b"), cfg, &err), HML_EBLOCKED);
    T_CONTAINS(err.message, "feature 'b' reads the target 'survived' through @a");
    hml_features_free(s);
    json_decref(cfg);

    cfg = config("survived", "binary", "{\"fare2\": {\"formula\": \"fare * 2\"}, \"f3\": {\"formula\": \"@fare2 + 1\"}}");
    json_object_set_new(cfg, "guardrails", json_pack("{s:[s]}", "feature_leakage_denylist", "fare"));
    e = refresh_fails(cfg, t, HML_EBLOCKED);
    T_CONTAINS(e.message, "feature 'fare2' reads 'fare', which is on the leakage denylist");
    T_CONTAINS(e.hint, "set_denylist");
    json_decref(cfg);

    cfg = config("survived", "binary", "{\"survived\": {\"column\": \"age\"}}");
    e = refresh_fails(cfg, t, HML_EBLOCKED);
    T_CONTAINS(e.message, "overwrite the target");
    json_decref(cfg);
    hml_frame_free(t);
}

TEST(feature_guard_refuses_near_copies_of_the_target)
{
    /* z follows y with a little noise: r ≈ 0.99. */
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_puts(&b, "y,z,w\n");
    for (int i = 0; i < 200; i++) hml_buf_printf(&b, "%d,%g,%d\n", i % 2, (i % 2) + 0.05 * ((i * 7919) % 13) / 13.0, i % 7);
    struct hml_frame *t = csv(hml_buf_str(&b));
    hml_buf_free(&b);
    json_t *cfg = config("y", "binary", "{\"zz\": {\"formula\": \"z * 3 - 1\"}}");
    struct hml_error e = refresh_fails(cfg, t, HML_EBLOCKED);
    T_CONTAINS(e.message, "feature 'zz' correlates with the target 'y' at r = 0.99");
    T_CONTAINS(e.hint, "cannot be overridden");
    json_decref(cfg);
    /* An honest feature passes. */
    cfg = config("y", "binary", "{\"ww\": {\"formula\": \"w * 2\"}}");
    struct hml_feature_report rep;
    struct hml_frame *out = refresh(cfg, t, NULL, &rep);
    T_EQ(rep.computed, 1);
    hml_feature_report_fini(&rep);
    hml_frame_free(out);
    json_decref(cfg);
    hml_frame_free(t);
}

/* A three-class text target (no correlation defined) and a column k that maps to it. */
static struct hml_frame *classes_table(int rows_per_value, bool one_wrong)
{
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_puts(&b, "cls,k,noise\n");
    const char *names[] = {"red", "green", "blue"};
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < rows_per_value; i++)
            hml_buf_printf(&b, "%s,%d,%d\n", names[one_wrong && v == 2 && i == 0 ? 0 : v], v * 10, (v + i) % 4);
    struct hml_frame *t = csv(hml_buf_str(&b));
    hml_buf_free(&b);
    return t;
}

TEST(feature_guard_refuses_perfect_class_predictors)
{
    json_t *cfg = config("cls", "multiclass", "{\"kk\": {\"formula\": \"k + 1\"}}");
    struct hml_frame *t = classes_table(20, false);
    struct hml_error e = refresh_fails(cfg, t, HML_EBLOCKED);
    T_CONTAINS(e.message, "feature 'kk' predicts the target 'cls' perfectly: each of its 3 values maps to a single class");
    hml_frame_free(t);
    struct hml_feature_report rep;
    /* 19 rows per value is not enough evidence; one exception means it is not a lookup table. */
    for (int k = 0; k < 2; k++) {
        t = k ? classes_table(30, true) : classes_table(19, false);
        struct hml_frame *out = refresh(cfg, t, NULL, &rep);
        T_EQ(rep.computed, 1);
        hml_feature_report_fini(&rep);
        hml_frame_free(out);
        hml_frame_free(t);
    }
    json_decref(cfg);
}

static bool has_warning(const struct hml_feature_report *rep, const char *needle)
{
    size_t i;
    json_t *w;
    json_array_foreach(rep->warnings, i, w) if (strstr(json_string_value(w), needle)) return true;
    return false;
}

TEST(feature_notices_outcome_names_and_columnwise_functions)
{
    struct hml_frame *t = csv("x,y,result_home,resulting\n1,0,1,1\n2,1,0,2\n3,0,1,3\n4,1,1,4\n");
    json_t *cfg = config("y", "binary",
                         "{\"future_x\": {\"formula\": \"x + 1\"}, \"x_after\": {\"formula\": \"x * 2\"},"
                         " \"next_x\": {\"formula\": \"x * 3\"}, \"winner_flag\": {\"condition\": \"x > 2\"},"
                         " \"uses_result\": {\"formula\": \"result_home + x\"}, \"calm\": {\"formula\": \"resulting + x\"},"
                         " \"xz\": {\"formula\": \"zscore(x)\"}}");
    struct hml_feature_report rep;
    struct hml_frame *out = refresh(cfg, t, NULL, &rep);
    T_OK(has_warning(&rep, "'future_x' announces the outcome (future_*)"));
    T_OK(has_warning(&rep, "'x_after' announces the outcome (*_after)"));
    T_OK(has_warning(&rep, "'next_x' announces the outcome (next_*)"));
    T_OK(has_warning(&rep, "'winner_flag' announces the outcome ('winner')"));
    T_OK(has_warning(&rep, "'uses_result' reads 'result_home'"));
    T_OK(!has_warning(&rep, "'calm'"));
    T_OK(has_warning(&rep, "'xz' uses zscore(), which takes its statistics from every row"));
    T_OK(has_warning(&rep, "every fold"));
    T_OK(has_warning(&rep, "the name 'uses_result' announces the outcome ('result')"));
    T_EQ(json_array_size(rep.warnings), 7);
    hml_feature_report_fini(&rep);
    hml_frame_free(out);
    json_decref(cfg);
    hml_frame_free(t);
}

/* ---- mutual information ------------------------------------------------------------------------------------- */

static struct hml_column *column_of(const json_t *arr)
{
    bool ints = true;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) ints = ints && (json_is_integer(v) || json_is_null(v));
    struct hml_column *c = hml_column_new(ints ? HML_TYPE_I64 : HML_TYPE_F64, json_array_size(arr));
    json_array_foreach(arr, i, v) {
        if (json_is_null(v)) T_OK(hml_column_set_null(c, i));
        else if (ints) hml_i64(c)[i] = json_integer_value(v);
        else hml_f64(c)[i] = json_number_value(v);
    }
    return c;
}

TEST(feature_mutual_info_matches_sklearn)
{
    json_error_t je;
    json_t *ref = json_load_file(FIXTURE, 0, &je);
    if (!ref) t_failf(__FILE__, __LINE__, "%s: %s", FIXTURE, je.text);
    size_t nbins = (size_t)json_integer_value(json_object_get(ref, "nbins"));
    struct hml_error err;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(ref, "synthetic"), i, c) {
        struct hml_column *x = column_of(json_object_get(c, "x")), *y = column_of(json_object_get(c, "y"));
        int32_t *codes = hml_malloc(x->n * sizeof *codes);
        size_t nc;
        T_RC(hml_bin_codes(x, nbins, codes, &nc, &err), &err);
        const json_t *want = json_object_get(c, "x_codes");
        for (size_t r = 0; r < x->n; r++) T_EQ(codes[r], json_integer_value(json_array_get(want, r)));
        if ((want = json_object_get(c, "y_codes"))) {
            T_RC(hml_bin_codes(y, nbins, codes, &nc, &err), &err);
            for (size_t r = 0; r < y->n; r++) T_EQ(codes[r], json_integer_value(json_array_get(want, r)));
        }
        double mi;
        T_RC(hml_mutual_info(x, y, nbins, &mi, &err), &err);
        T_NEAR(mi, json_number_value(json_object_get(c, "mi")), 1e-12);
        hml_free(codes);
        hml_column_unref(x);
        hml_column_unref(y);
    }
    struct hml_frame *t = titanic();
    const struct hml_column *y = col(t, "survived");
    json_array_foreach(json_object_get(ref, "titanic"), i, c) {
        double mi;
        T_RC(hml_mutual_info(col(t, hml_json_str(c, "column", "")), y, nbins, &mi, &err), &err);
        T_NEAR(mi, json_number_value(json_object_get(c, "mi")), 1e-12);
    }
    json_t *cfg = config("survived", "binary", "{}");
    struct hml_target tg;
    T_RC(hml_target_load(t, cfg, &tg, &err), &err);
    T_NEAR(hml_target_corr(col(t, "fare"), &tg), json_number_value(json_object_get(ref, "titanic_fare_r")), 1e-12);
    T_EQ(tg.n_classes, 2);
    T_OK(tg.classification);
    hml_target_fini(&tg);
    json_decref(cfg);
    hml_frame_free(t);
    json_decref(ref);
}

TEST(feature_mutual_info_of_codes)
{
    /* Independent halves give 0; a copy gives the entropy (log 2 for a fair coin). */
    int32_t x[] = {0, 0, 1, 1, 0, 0, 1, 1}, y[] = {0, 1, 0, 1, 0, 1, 0, 1}, miss[] = {-1, 0, 1, 1, 0, 0, 1, 1};
    T_NEAR(hml_mutual_info_codes(x, y, 8), 0, 1e-15);
    T_NEAR(hml_mutual_info_codes(x, x, 8), log(2), 1e-15);
    T_NEAR(hml_mutual_info_codes(miss, x, 8), hml_mutual_info_codes(miss + 1, x + 1, 7), 1e-15);
    T_EQ(hml_mutual_info_codes(x, y, 0), 0);
}
