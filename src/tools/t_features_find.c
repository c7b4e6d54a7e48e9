/* t_features_find.c — finding and judging features: test_transformations, discover,
 * diversity, auto_search and prune. All but prune (dry_run=false) change nothing; they
 * score candidates against the target so the agent spends its next experiment on the
 * promising ones. Scores are |Pearson r|, binned mutual information (feature.h), or the
 * total gain of a small XGBoost model fitted through the model registry. */
#include "features_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/design.h"
#include "harness/model.h"
#include "harness/stats.h"

#define NAMES_MAX 20      /* columns one call transforms or combines        */
#define SHOW_MAX 15       /* rows in a markdown table unless top_n says more */

/* ---- shared ------------------------------------------------------------------------------------- */

struct scope {
    struct hml_project *p;
    struct hml_target tg;
    bool have_target;
    struct hml_feature_set *set;
};

static void scope_close(struct scope *s)
{
    if (s->have_target) hml_target_fini(&s->tg);
    hml_features_free(s->set);
    hml__project_free(s->p);
}

/* Opens the project with its table, its target and its feature set. */
static enum hml_status scope_open(struct hml_call *call, struct scope *s, struct hml_error *err)
{
    memset(s, 0, sizeof *s);
    enum hml_status rc = hml__project_open(call, HML_TABLE_REQUIRED, &s->p, err);
    if (!rc) rc = hml_target_load(s->p->table, s->p->cfg->root, &s->tg, err);
    s->have_target = !rc;
    if (!rc) rc = hml_features_load(s->p->cfg->root, &s->set, err);
    return rc;
}

/* Names from a `features` parameter: a list of column names, each in the table. */
static enum hml_status column_names(const struct hml_call *call, const struct hml_frame *t, const char **out, size_t *n,
                                    bool numeric, struct hml_error *err)
{
    const json_t *list = hml_param_json(call, "features");
    size_t i;
    json_t *v;
    *n = 0;
    if (json_array_size(list) > NAMES_MAX) {
        hml_fail(err, HML_ELIMIT, call->action->name, "%zu columns exceed the limit of %d", json_array_size(list), NAMES_MAX);
        return hml_hint(err, "pass at most %d columns per call (features discover ranks them first)", NAMES_MAX);
    }
    json_array_foreach(list, i, v) {
        if (!json_is_string(v)) {
            hml_fail(err, HML_EINVAL, call->action->name, "'features' must list column names; item %zu is not a string", i + 1);
            return hml_hint(err, "e.g. features=[\"fare\", \"age\"]");
        }
        size_t j;
        enum hml_status rc = hml_frame_lookup(t, json_string_value(v), &j, err);
        if (rc) return rc;
        if (numeric && !hml_column_is_numeric(t->cols[j])) {
            hml_fail(err, HML_EINVAL, call->action->name, "column '%s' is %s, not numeric", t->names[j],
                     hml_type_name(t->cols[j]->type));
            return hml_hint(err, "transformations need numbers; features discover --method mutual_info scores text columns");
        }
        out[(*n)++] = t->names[j];
    }
    return HML_OK;
}

struct cand {
    char formula[512];
    char kind[24];
    char base[2][128];
    double r, gain;
    char note[160];
};

static int cmp_cand(const void *a, const void *b)
{
    double x = fabs(((const struct cand *)a)->r), y = fabs(((const struct cand *)b)->r);
    if (isnan(x)) x = -1;
    if (isnan(y)) y = -1;
    return (x < y) - (x > y);
}

/* Evaluates c->formula on t and scores it against the target. Formulas here are built
 * from quoted column names, so an error is a bug or OOM; either leaves r NaN. */
static void score_formula(const struct scope *s, struct cand *c)
{
    struct hml_expr *e = NULL;
    struct hml_column *col = NULL;
    struct hml_error err;
    c->r = NAN;
    if (!hml_expr_parse(c->formula, &e, &err) && !hml_expr_eval(e, s->p->table, NULL, &col, &err))
        c->r = hml_target_corr(col, &s->tg);
    hml_column_unref(col);
    hml_expr_free(e);
}

static double raw_r(const struct scope *s, const char *name)
{
    long j = hml_frame_find(s->p->table, name);
    return j < 0 ? NAN : hml_target_corr(s->p->table->cols[j], &s->tg);
}

static double nz(double v) { return isnan(v) ? 0 : v; }

static json_t *cand_json(const struct cand *c)
{
    json_t *o = json_pack("{s:s,s:s}", "formula", c->formula, "kind", c->kind);
    json_object_set_new(o, "correlation", isnan(c->r) ? json_null() : json_real(c->r));
    json_object_set_new(o, "gain", json_real(c->gain));
    if (c->note[0]) json_object_set_new(o, "note", json_string(c->note));
    return o;
}

/* ---- test_transformations --------------------------------------------------------------------------- */

static size_t transforms(const struct scope *s, const char *const *names, size_t n, bool pairs, struct cand *out)
{
    static const char *const fns[][2] = {{"raw", "%s"},          {"log", "log(%s)"},       {"sqrt", "sqrt(%s)"},
                                         {"square", "square(%s)"}, {"reciprocal", "reciprocal(%s)"},
                                         {"rank", "rank_pct(%s)"}};
    size_t k = 0;
    char q[2][160];
    for (size_t i = 0; i < n; i++) {
        hml__features_quote(names[i], q[0], sizeof q[0]);
        double base = fabs(nz(raw_r(s, names[i])));
        for (size_t f = 0; f < sizeof fns / sizeof *fns; f++, k++) {
            struct cand *c = &out[k];
            memset(c, 0, sizeof *c);
            snprintf(c->formula, sizeof c->formula, fns[f][1], q[0]);
            snprintf(c->kind, sizeof c->kind, "%s", fns[f][0]);
            snprintf(c->base[0], sizeof c->base[0], "%s", names[i]);
            score_formula(s, c);
            c->gain = fabs(nz(c->r)) - base;
            if (f == 5) snprintf(c->note, sizeof c->note, "column-wise: ranks over every row, so it sees every fold");
        }
    }
    for (size_t i = 0; pairs && i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            hml__features_quote(names[i], q[0], sizeof q[0]);
            hml__features_quote(names[j], q[1], sizeof q[1]);
            double base = fmax(fabs(nz(raw_r(s, names[i]))), fabs(nz(raw_r(s, names[j]))));
            for (int op = 0; op < 2; op++, k++) {
                struct cand *c = &out[k];
                memset(c, 0, sizeof *c);
                snprintf(c->formula, sizeof c->formula, op ? "%s / %s" : "%s * %s", q[0], q[1]);
                snprintf(c->kind, sizeof c->kind, op ? "ratio" : "product");
                snprintf(c->base[0], sizeof c->base[0], "%s", names[i]);
                snprintf(c->base[1], sizeof c->base[1], "%s", names[j]);
                score_formula(s, c);
                c->gain = fabs(nz(c->r)) - base;
            }
        }
    return k;
}

static void cand_table(const struct cand *c, size_t n, size_t show, struct hml_buf *t)
{
    char a[32], b[32];
    hml_buf_puts(t, "| formula | kind | r | |r| gain over its inputs |\n|---|---|---|---|\n");
    for (size_t i = 0; i < n && i < show; i++)
        hml_buf_printf(t, "| `%s` | %s | %s | %s%s |\n", c[i].formula, c[i].kind, hml__fmt_num(a, c[i].r),
                       c[i].gain > 0 ? "+" : "", hml__fmt_num(b, c[i].gain));
    if (n > show) hml_buf_printf(t, "… %zu more in the structured result\n", n - show);
}

FEATURES_ACTION(hml__features_test_transformations)
{
    struct scope s;
    enum hml_status rc = scope_open(call, &s, err);
    const char *names[NAMES_MAX];
    size_t n = 0;
    if (!rc) rc = column_names(call, s.p->table, names, &n, true, err);
    if (!rc && !n) {
        hml_fail(err, HML_EINVAL, "features.test_transformations", "'features' is empty");
        rc = hml_hint(err, "name the numeric columns to try, e.g. features=[\"fare\", \"age\"]");
    }
    bool pairs = hml_param_bool(call, "test_interactions", true);
    struct cand *c = rc ? NULL : hml_calloc(6 * n + n * n + 1, sizeof *c);
    if (!rc && !c) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc) {
        size_t k = transforms(&s, names, n, pairs, c);
        qsort(c, k, sizeof *c, cmp_cand);
        hml_buf_printf(&res->text, "## Transformations of %zu column(s), by |r| with %s\n", n, s.tg.name);
        cand_table(c, k, SHOW_MAX, &res->text);
        if (k && c[0].gain > 0.01)
            hml_buf_printf(&res->text, "Best: `%s`. Keep it with features add --name <name> --formula \"%s\"\n",
                           c[0].formula, c[0].formula);
        json_t *list = json_array();
        for (size_t i = 0; i < k; i++) json_array_append_new(list, cand_json(&c[i]));
        json_object_set_new(res->data, "candidates", list);
        json_object_set_new(res->data, "target", json_string(s.tg.name));
    }
    hml_free(c);
    scope_close(&s);
    return rc;
}

/* ---- XGBoost gain --------------------------------------------------------------------------------------- */

/* Rows with a target, and y for them as a backend wants it (class index or value). */
static size_t target_rows(const struct hml_target *tg, size_t *rows, double *y)
{
    size_t n = 0;
    for (size_t i = 0; i < tg->n; i++) {
        double v = tg->classification ? (tg->cls[i] >= 0 ? tg->cls[i] : NAN) : tg->y[i];
        if (isnan(v)) continue;
        rows[n] = i;
        y[n++] = v;
    }
    return n;
}

static enum hml_status fit_gains(const struct hml_model_vt *vt, const struct hml_design *d, const float *x, size_t n,
                                 const double *y, const struct hml_target *tg, double *gains, struct hml_error *err)
{
    json_t *params = json_pack("{s:i,s:i,s:f}", "n_estimators", 50, "max_depth", 4, "learning_rate", 0.1);
    struct hml_model *m = NULL;
    enum hml_status rc = params ? vt->create(params, tg->classification ? HML_MODE_CLASSIFIER : HML_MODE_REGRESSOR, &m, err)
                                : hml_fail(err, HML_ENOMEM, "features", "out of memory");
    struct hml_fit_data fd = {.x = x, .rows = n, .cols = hml_design_cols(d), .feature_names = hml_design_names(d),
                              .categorical = hml_design_categorical(d), .levels = hml_design_levels(d), .y = y,
                              .n_classes = tg->classification ? tg->n_classes : 0};
    /* One thread and a fixed seed: the ranking must not change between two identical calls. */
    struct hml_fit_ctl ctl = {.nthread = 1, .seed = 42};
    if (!rc) rc = vt->fit(m, &fd, &ctl, err);
    if (!rc) rc = vt->importance(m, gains, err);
    if (m) vt->free(m);
    json_decref(params);
    return rc;
}

/* Total gain per input column (one-hot levels summed back) of a small XGBoost model. */
static enum hml_status xgb_gains(const struct scope *s, const char *const *cols, size_t n, double *gain,
                                 struct hml_buf *notes, struct hml_error *err)
{
    const struct hml_model_vt *vt = hml_model_find("xgboost");
    if (!vt || !vt->importance) {
        hml_fail(err, HML_EBACKEND, "features", "the xgboost backend is not available in this build");
        return hml_hint(err, "use method=correlation or method=mutual_info");
    }
    const struct hml_frame *t = s->p->table;
    size_t *rows = hml_malloc((t->nrows + 1) * sizeof *rows);
    double *y = hml_malloc((t->nrows + 1) * sizeof *y), *g = NULL;
    float *x = NULL;
    struct hml_design *d = NULL;
    enum hml_status rc = rows && y ? HML_OK : hml_fail(err, HML_ENOMEM, "features", "out of memory");
    size_t nr = rc ? 0 : target_rows(&s->tg, rows, y);
    struct hml_design_opts dopt = {.onehot = !(vt->caps & HML_CAP_CATEGORICAL)};
    if (!rc) rc = hml_design_fit(t, cols, n, rows, nr, &dopt, &d, notes, err);
    size_t dc = rc ? 0 : hml_design_cols(d);
    if (!rc && !(x = hml_malloc((nr * dc + 1) * sizeof *x)) ) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc && !(g = hml_calloc(dc + 1, sizeof *g))) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc) rc = hml_design_apply(d, t, rows, nr, x, err);
    if (!rc) rc = fit_gains(vt, d, x, nr, y, &s->tg, g, err);
    for (size_t i = 0; i < n; i++) gain[i] = 0;
    for (size_t k = 0; !rc && k < dc; k++) {
        const char *dn = hml_design_names(d)[k];
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(cols[i]);
            if (!strncmp(dn, cols[i], len) && (dn[len] == 0 || dn[len] == '=')) gain[i] += g[k];
        }
    }
    hml_design_free(d);
    hml_free(rows);
    hml_free(y);
    hml_free(x);
    hml_free(g);
    return rc;
}

/* ---- discover --------------------------------------------------------------------------------------------- */

struct ranked {
    const char *column;
    double score, r, mi, gain, nulls;
    bool feature;
};

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const struct ranked *)a)->score, y = ((const struct ranked *)b)->score;
    if (isnan(x)) x = -1;
    if (isnan(y)) y = -1;
    return (x < y) - (x > y);
}

/* Every column a model may take by default, scored by `method`. */
static enum hml_status rank_columns(const struct scope *s, const char *method, struct ranked *out, size_t *n,
                                    struct hml_buf *notes, struct hml_error *err)
{
    const struct hml_frame *t = s->p->table;
    long tj = hml_frame_find(t, s->tg.name);
    const char **cols = hml_malloc((t->ncols + 1) * sizeof *cols);
    if (!cols || tj < 0) return hml_free(cols), hml_fail(err, HML_ENOMEM, "features", "out of memory");
    *n = 0;
    enum hml_status rc = HML_OK;
    for (size_t j = 0; !rc && j < t->ncols; j++) {
        if (hml__features_reserved(s->p->cfg->root, t->names[j])) continue;
        struct ranked *r = &out[*n];
        memset(r, 0, sizeof *r);
        r->column = cols[*n] = t->names[j];
        r->r = hml_target_corr(t->cols[j], &s->tg);
        r->nulls = t->nrows ? (double)t->cols[j]->null_count / (double)t->nrows : 0;
        r->feature = hml_features_owner(s->set, t->names[j]) >= 0;
        rc = hml_mutual_info(t->cols[j], t->cols[tj], HML_MI_BINS, &r->mi, err);
        (*n)++;
    }
    double *gain = !rc && !strcmp(method, "xgboost") ? hml_calloc(*n + 1, sizeof *gain) : NULL;
    if (!rc && !strcmp(method, "xgboost")) rc = gain ? xgb_gains(s, cols, *n, gain, notes, err) : hml_fail(err, HML_ENOMEM, "features", "out of memory");
    double total = 0;
    for (size_t i = 0; !rc && gain && i < *n; i++) total += gain[i];
    for (size_t i = 0; !rc && i < *n; i++) {
        out[i].gain = gain ? gain[i] : NAN;
        out[i].score = !strcmp(method, "correlation") ? fabs(out[i].r) : !strcmp(method, "mutual_info") ? out[i].mi
                       : total > 0 ? gain[i] / total : 0;
    }
    hml_free(gain);
    hml_free(cols);
    return rc;
}

static json_t *ranked_json(const struct ranked *r)
{
    json_t *o = json_pack("{s:s,s:f,s:f,s:f,s:b}", "column", r->column, "score", nz(r->score), "mutual_info", r->mi,
                          "null_rate", r->nulls, "feature", r->feature);
    json_object_set_new(o, "correlation", isnan(r->r) ? json_null() : json_real(r->r));
    if (!isnan(r->gain)) json_object_set_new(o, "gain", json_real(r->gain));
    return o;
}

FEATURES_ACTION(hml__features_discover)
{
    struct scope s;
    enum hml_status rc = scope_open(call, &s, err);
    long long top = hml_param_int(call, "top_n", 20);
    const char *method = hml_param_str(call, "method", "correlation");
    if (!rc && (top < 1 || top > 1000)) {
        hml_fail(err, HML_EINVAL, "features.discover", "top_n must be between 1 and 1000, not %lld", top);
        rc = hml_hint(err, "e.g. top_n=20");
    }
    struct ranked *r = rc ? NULL : hml_calloc(s.p->table->ncols + 1, sizeof *r);
    size_t n = 0;
    struct hml_buf notes = HML_BUF_INIT;
    if (!rc && !r) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc) rc = rank_columns(&s, method, r, &n, &notes, err);
    if (!rc) {
        qsort(r, n, sizeof *r, cmp_ranked);
        size_t show = n < (size_t)top ? n : (size_t)top;
        const char *label = !strcmp(method, "correlation") ? "|r|" : !strcmp(method, "mutual_info") ? "MI (nats)" : "gain share";
        hml_buf_printf(&res->text, "## Columns by %s with %s (top %zu of %zu)\n| column | %s | r | MI | nulls | declared |\n"
                                   "|---|---|---|---|---|---|\n", method, s.tg.name, show, n, label);
        json_t *list = json_array(), *pairs = json_array();
        char a[32], b[32], c[32];
        for (size_t i = 0; i < show; i++) {
            hml_buf_printf(&res->text, "| %s | %s | %s | %s | %.1f%% | %s |\n", r[i].column, hml__fmt_num(a, r[i].score),
                           hml__fmt_num(b, r[i].r), hml__fmt_num(c, r[i].mi), 100 * r[i].nulls, r[i].feature ? "yes" : "");
            json_array_append_new(list, ranked_json(&r[i]));
        }
        /* Near-copies among the top columns: keep one of each pair. */
        for (size_t i = 0; i < show; i++)
            for (size_t j = i + 1; j < show; j++) {
                const struct hml_frame *t = s.p->table;
                const struct hml_column *x = t->cols[hml_frame_find(t, r[i].column)], *y = t->cols[hml_frame_find(t, r[j].column)];
                double rr = hml_column_is_numeric(x) && hml_column_is_numeric(y) ? hml_corr(x, y) : NAN;
                if (isnan(rr) || fabs(rr) <= HML_FEATURE_REDUNDANT_R) continue;
                hml_buf_printf(&res->text, "Redundant: %s and %s (r = %.3f) — keep one.\n", r[i].column, r[j].column, rr);
                json_array_append_new(pairs, json_pack("{s:s,s:s,s:f}", "a", r[i].column, "b", r[j].column, "r", rr));
            }
        if (!strcmp(method, "correlation"))
            hml_buf_puts(&res->text, "Text columns have no correlation; method=mutual_info ranks every kind.\n");
        if (notes.len) hml_result_warn(res, "%s", hml_buf_str(&notes));
        json_object_set_new(res->data, "method", json_string(method));
        json_object_set_new(res->data, "target", json_string(s.tg.name));
        json_object_set_new(res->data, "ranking", list);
        json_object_set_new(res->data, "redundant_pairs", pairs);
    }
    hml_buf_free(&notes);
    hml_free(r);
    scope_close(&s);
    return rc;
}

/* ---- diversity ----------------------------------------------------------------------------------------------- */

struct model_set {
    const char *name;
    const char **cols;
    size_t n;
    bool all;
};

static double jaccard(const struct model_set *a, const struct model_set *b)
{
    size_t both = 0;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            if (!strcmp(a->cols[i], b->cols[j])) {
                both++;
                break;
            }
    size_t any = a->n + b->n - both;
    return any ? (double)both / (double)any : 1;
}

/* Each active model's inputs: its features list, or every column it may take by default. */
static enum hml_status model_sets(const struct hml_project *p, struct model_set *ms, size_t cap, size_t *n,
                                  struct hml_error *err)
{
    const char *name;
    json_t *def;
    *n = 0;
    json_object_foreach(json_object_get(p->cfg->root, "models"), name, def) {
        if (!hml_json_bool(def, "active", true) || *n == cap) continue;
        struct model_set *m = &ms[(*n)++];
        const json_t *list = json_object_get(def, "features");
        size_t cols = p->table ? p->table->ncols : 0, i;
        m->name = name;
        m->all = !json_array_size(list);
        m->cols = hml_malloc((json_array_size(list) + cols + 1) * sizeof *m->cols);
        if (!m->cols) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
        json_t *v;
        json_array_foreach(list, i, v) m->cols[m->n++] = json_string_value(v);
        for (size_t j = 0; m->all && j < cols; j++)
            if (!hml__features_reserved(p->cfg->root, p->table->names[j])) m->cols[m->n++] = p->table->names[j];
    }
    return HML_OK;
}

static void diversity_suggestions(const struct hml_project *p, const struct model_set *ms, size_t n, double score,
                                  json_t *out)
{
    char msg[512];
    if (score < 0.5) {
        snprintf(msg, sizeof msg, "diversity %.2f is below 0.5: the models see mostly the same columns, so their errors "
                 "agree and the ensemble gains little; give each model a different view of the data", score);
        json_array_append_new(out, json_string(msg));
    }
    for (size_t i = 0; i < n; i++)
        if (ms[i].all) {
            snprintf(msg, sizeof msg, "model '%s' takes every column; list features for it (models update --name %s "
                     "--features …) to make it differ", ms[i].name, ms[i].name);
            json_array_append_new(out, json_string(msg));
        }
    struct hml_feature_set *s = NULL;
    struct hml_error e;
    if (hml_features_load(p->cfg->root, &s, &e)) return;
    for (size_t f = 0; f < s->n; f++) {
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            for (size_t k = 0; k < ms[i].n && !used; k++) used = !strcmp(ms[i].cols[k], s->items[f].outputs[0]);
        if (!used) {
            snprintf(msg, sizeof msg, "no model uses the feature '%s': models update --name <model> --append_features %s",
                     s->items[f].name, s->items[f].outputs[0]);
            json_array_append_new(out, json_string(msg));
        }
    }
    hml_features_free(s);
}

#define MODELS_MAX 64

FEATURES_ACTION(hml__features_diversity)
{
    struct hml_project *p;
    enum hml_status rc = hml__project_open(call, HML_TABLE_IF_ANY, &p, err);
    if (rc) return rc;
    struct model_set ms[MODELS_MAX];
    memset(ms, 0, sizeof ms);
    size_t n = 0;
    rc = model_sets(p, ms, MODELS_MAX, &n, err);
    json_t *models = json_array(), *matrix = json_object(), *pairs = json_array(), *sugg = json_array();
    double sum = 0;
    size_t npairs = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        json_array_append_new(models, json_pack("{s:s,s:I,s:b}", "name", ms[i].name, "features", (json_int_t)ms[i].n,
                                                "all_columns", ms[i].all));
        json_t *row = json_object();
        for (size_t j = 0; j < n; j++) {
            double jc = jaccard(&ms[i], &ms[j]);
            json_object_set_new(row, ms[j].name, json_real(jc));
            if (j <= i) continue;
            sum += jc, npairs++;
            if (jc >= 0.8) json_array_append_new(pairs, json_pack("{s:s,s:s,s:f}", "a", ms[i].name, "b", ms[j].name, "jaccard", jc));
        }
        json_object_set_new(matrix, ms[i].name, row);
    }
    if (!rc && npairs < 1) {
        hml_buf_printf(&res->text, "Diversity needs two active models; there %s %zu. Add another model type "
                                   "(models add) with a different feature list.\n", n == 1 ? "is" : "are", n);
        json_object_set_new(res->data, "score", json_null());
    } else if (!rc) {
        double score = 1 - sum / (double)npairs;
        hml_buf_printf(&res->text, "## Feature diversity %.3f (1 − mean pairwise Jaccard over %zu pair(s))\n| model |", score,
                       npairs);
        for (size_t j = 0; j < n; j++) hml_buf_printf(&res->text, " %s |", ms[j].name);
        hml_buf_puts(&res->text, "\n|---|");
        for (size_t j = 0; j < n; j++) hml_buf_puts(&res->text, "---|");
        hml_buf_putc(&res->text, '\n');
        for (size_t i = 0; i < n; i++) {
            hml_buf_printf(&res->text, "| %s |", ms[i].name);
            for (size_t j = 0; j < n; j++) hml_buf_printf(&res->text, " %.2f |", jaccard(&ms[i], &ms[j]));
            hml_buf_putc(&res->text, '\n');
        }
        diversity_suggestions(p, ms, n, score, sugg);
        size_t k;
        json_t *v;
        json_array_foreach(pairs, k, v) hml_buf_printf(&res->text, "Redundant pair: %s and %s share %.0f%% of their features.\n",
                                                       hml_json_str(v, "a", ""), hml_json_str(v, "b", ""),
                                                       100 * hml_json_num(v, "jaccard", 0));
        json_array_foreach(sugg, k, v) hml_buf_printf(&res->text, "- %s\n", json_string_value(v));
        json_object_set_new(res->data, "score", json_real(score));
    }
    if (!rc) {
        json_object_set(res->data, "models", models);
        json_object_set(res->data, "jaccard", matrix);
        json_object_set(res->data, "redundant_pairs", pairs);
        json_object_set(res->data, "suggestions", sugg);
    }
    json_decref(models);
    json_decref(matrix);
    json_decref(pairs);
    json_decref(sugg);
    for (size_t i = 0; i < n; i++) hml_free(ms[i].cols);
    hml__project_free(p);
    return rc;
}

/* ---- auto_search ---------------------------------------------------------------------------------------------- */

/* The numeric columns most correlated with the target (when the caller names none). */
static size_t default_names(const struct scope *s, const char **out, size_t cap)
{
    const struct hml_frame *t = s->p->table;
    struct ranked r[256];
    size_t n = 0;
    for (size_t j = 0; j < t->ncols && n < 256; j++) {
        if (hml__features_reserved(s->p->cfg->root, t->names[j]) || !hml_column_is_numeric(t->cols[j])) continue;
        r[n] = (struct ranked){.column = t->names[j], .score = fabs(hml_target_corr(t->cols[j], &s->tg))};
        n++;
    }
    qsort(r, n, sizeof *r, cmp_ranked);
    size_t k = 0;
    for (; k < n && k < cap; k++) out[k] = r[k].column;
    return k;
}

struct order_ctx {
    const struct hml_column *group, *time;
};

static _Thread_local const struct order_ctx *sort_ctx; /* qsort has no context argument */

static int cmp_rows(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct order_ctx *c = sort_ctx;
    if (c->group) {
        double gi = c->group->type == HML_TYPE_STR ? hml_codes(c->group)[i] : hml_column_num(c->group, i);
        double gj = c->group->type == HML_TYPE_STR ? hml_codes(c->group)[j] : hml_column_num(c->group, j);
        if (gi != gj) return gi < gj ? -1 : 1;
    }
    double ti = hml_column_num(c->time, i), tj = hml_column_num(c->time, j);
    if (ti != tj) return isnan(ti) ? 1 : isnan(tj) ? -1 : ti < tj ? -1 : 1;
    return (i > j) - (i < j);
}

static bool same_group(const struct hml_column *g, size_t a, size_t b)
{
    if (!g) return true;
    if (g->type == HML_TYPE_STR) return hml_codes(g)[a] == hml_codes(g)[b];
    return hml_column_num(g, a) == hml_column_num(g, b);
}

/* lag 1 and the mean of the last 3 rows (this one included) of x, in time order within
 * groups. Both see only rows at or before this one in time. */
static enum hml_status lag_and_rolling(const struct hml_column *x, const size_t *ord, size_t n, const struct hml_column *g,
                                       struct hml_column **lag, struct hml_column **roll, struct hml_error *err)
{
    *lag = hml_column_new(HML_TYPE_F64, n);
    *roll = hml_column_new(HML_TYPE_F64, n);
    if (!*lag || !*roll) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    for (size_t k = 0; k < n; k++) {
        size_t i = ord[k];
        bool prev = k > 0 && same_group(g, ord[k - 1], i) && !hml_column_is_null(x, ord[k - 1]);
        if (prev) hml_f64(*lag)[i] = hml_column_num(x, ord[k - 1]);
        else if (!hml_column_set_null(*lag, i)) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
        double sum = 0;
        size_t cnt = 0;
        for (size_t w = 0; w < 3 && w <= k && same_group(g, ord[k - w], i); w++)
            if (!hml_column_is_null(x, ord[k - w])) sum += hml_column_num(x, ord[k - w]), cnt++;
        if (cnt) hml_f64(*roll)[i] = sum / (double)cnt;
        else if (!hml_column_set_null(*roll, i)) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    }
    return HML_OK;
}

static enum hml_status search_time(const struct scope *s, const char *const *names, size_t n, bool lags, bool rolling,
                                   struct cand *out, size_t *k, struct hml_result *res, struct hml_error *err)
{
    const json_t *root = s->p->cfg->root;
    const char *time = hml_json_str(json_object_get(root, "data"), "time_column", NULL);
    const char *group = hml_json_str(json_object_get(root, "backtest"), "group_column", NULL);
    const struct hml_frame *t = s->p->table;
    long tj = time ? hml_frame_find(t, time) : -1, gj = group ? hml_frame_find(t, group) : -1;
    if (tj < 0) {
        hml_result_warn(res, "lags and rolling means need a time order: configure update_data --time_column <column>");
        return HML_OK;
    }
    size_t *ord = hml_malloc((t->nrows + 1) * sizeof *ord);
    if (!ord) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    for (size_t i = 0; i < t->nrows; i++) ord[i] = i;
    struct order_ctx oc = {gj >= 0 ? t->cols[gj] : NULL, t->cols[tj]};
    sort_ctx = &oc;
    qsort(ord, t->nrows, sizeof *ord, cmp_rows);
    enum hml_status rc = HML_OK;
    char keys[160] = "";
    if (gj >= 0) snprintf(keys, sizeof keys, "\"%s\"", group);
    for (size_t i = 0; !rc && i < n; i++) {
        struct hml_column *lag = NULL, *roll = NULL;
        rc = lag_and_rolling(t->cols[hml_frame_find(t, names[i])], ord, t->nrows, oc.group, &lag, &roll, err);
        double base = fabs(nz(raw_r(s, names[i])));
        for (int w = 0; !rc && w < 2; w++) {
            if ((w == 0 && !lags) || (w == 1 && !rolling)) continue;
            struct cand *c = &out[(*k)++];
            memset(c, 0, sizeof *c);
            snprintf(c->kind, sizeof c->kind, w ? "rolling" : "lag");
            snprintf(c->base[0], sizeof c->base[0], "%s", names[i]);
            c->r = hml_target_corr(w ? roll : lag, &s->tg);
            c->gain = fabs(nz(c->r)) - base;
            if (w) snprintf(c->formula, sizeof c->formula, "{\"op\": \"rolling\", \"keys\": [%s], \"order_by\": \"%s\", "
                            "\"window\": 3, \"aggs\": {\"%s_roll3\": \"%s:mean\"}, \"min_periods\": 1}", keys, time, names[i], names[i]);
            else snprintf(c->formula, sizeof c->formula, "{\"op\": \"lag\", \"keys\": [%s], \"order_by\": \"%s\", "
                          "\"columns\": {\"%s_lag1\": \"%s:1\"}}", keys, time, names[i], names[i]);
            snprintf(c->note, sizeof c->note, "a view step (data add_view): formulas cannot read other rows");
        }
        hml_column_unref(lag);
        hml_column_unref(roll);
    }
    hml_free(ord);
    return rc;
}

static enum hml_status search_types(const struct hml_call *call, bool *inter, bool *lags, bool *rolling, struct hml_error *err)
{
    static const char *const types[] = {"interactions", "lags", "rolling"};
    const json_t *list = hml_param_json(call, "search_types");
    *inter = *lags = *rolling = !list;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *t = json_string_value(v);
        if (!strcmp(t, "interactions")) *inter = true;
        else if (!strcmp(t, "lags")) *lags = true;
        else if (!strcmp(t, "rolling")) *rolling = true;
        else {
            hml_fail(err, HML_EINVAL, "features.auto_search", "unknown search type '%s'", t);
            return hml_error_choices(err, t, types, 3);
        }
    }
    return HML_OK;
}

FEATURES_ACTION(hml__features_auto_search)
{
    struct scope s;
    bool inter, lags, rolling;
    enum hml_status rc = search_types(call, &inter, &lags, &rolling, err);
    if (rc) return rc;
    rc = scope_open(call, &s, err);
    long long top = hml_param_int(call, "top_n", 10);
    if (!rc && (top < 1 || top > 1000)) {
        hml_fail(err, HML_EINVAL, "features.auto_search", "top_n must be between 1 and 1000, not %lld", top);
        rc = hml_hint(err, "e.g. top_n=10");
    }
    const char *names[NAMES_MAX];
    size_t n = 0;
    if (!rc) rc = column_names(call, s.p->table, names, &n, true, err);
    if (!rc && !n) n = default_names(&s, names, 6);
    struct cand *c = rc ? NULL : hml_calloc(3 * n * n + 2 * n + 1, sizeof *c);
    if (!rc && !c) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    size_t k = 0;
    char q[2][160];
    for (size_t i = 0; !rc && inter && i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            hml__features_quote(names[i], q[0], sizeof q[0]);
            hml__features_quote(names[j], q[1], sizeof q[1]);
            double base = fmax(fabs(nz(raw_r(&s, names[i]))), fabs(nz(raw_r(&s, names[j]))));
            static const char *const ops[][2] = {{"%s * %s", "product"}, {"%s / %s", "ratio"}, {"%s - %s", "difference"}};
            for (int op = 0; op < 3; op++) {
                struct cand *cd = &c[k++];
                snprintf(cd->formula, sizeof cd->formula, ops[op][0], q[0], q[1]);
                snprintf(cd->kind, sizeof cd->kind, "%s", ops[op][1]);
                score_formula(&s, cd);
                cd->gain = fabs(nz(cd->r)) - base;
            }
        }
    if (!rc && (lags || rolling)) rc = search_time(&s, names, n, lags, rolling, c, &k, res, err);
    if (!rc) {
        qsort(c, k, sizeof *c, cmp_cand);
        size_t show = k < (size_t)top ? k : (size_t)top;
        hml_buf_printf(&res->text, "## %zu candidate(s) from %zu column(s), best %zu by |r| with %s (nothing added)\n", k, n,
                       show, s.tg.name);
        cand_table(c, show, show, &res->text);
        hml_buf_puts(&res->text, "Formulas: features add --name <name> --formula \"…\"; lag/rolling rows are view steps "
                                 "(data add_view).\n");
        json_t *list = json_array();
        for (size_t i = 0; i < show; i++) json_array_append_new(list, cand_json(&c[i]));
        json_object_set_new(res->data, "candidates", list);
        json_object_set_new(res->data, "searched", json_integer((json_int_t)k));
    }
    hml_free(c);
    scope_close(&s);
    return rc;
}

/* ---- prune -------------------------------------------------------------------------------------------------------- */

struct verdict {
    size_t feature;       /* index in the set            */
    double score;
    char reason[200];
    bool prune;
};

/* A feature's score: the best of its outputs by the method (gain share for xgboost). */
static double feature_score(const struct scope *s, const struct hml_feature *f, const struct ranked *r, size_t nr)
{
    double best = 0;
    for (size_t k = 0; k < f->noutputs; k++)
        for (size_t i = 0; i < nr; i++)
            if (!strcmp(r[i].column, f->outputs[k])) best = fmax(best, nz(r[i].score));
    (void)s;
    return best;
}

/* Outputs of a and b that are near-copies (|r| > 0.95), or NaN. */
static double pair_r(const struct hml_frame *t, const struct hml_feature *a, const struct hml_feature *b)
{
    double best = NAN;
    for (size_t i = 0; i < a->noutputs; i++)
        for (size_t j = 0; j < b->noutputs; j++) {
            long x = hml_frame_find(t, a->outputs[i]), y = hml_frame_find(t, b->outputs[j]);
            if (x < 0 || y < 0 || !hml_column_is_numeric(t->cols[x]) || !hml_column_is_numeric(t->cols[y])) continue;
            double r = hml_corr(t->cols[x], t->cols[y]);
            if (!isnan(r) && fabs(r) > HML_FEATURE_REDUNDANT_R && (isnan(best) || fabs(r) > fabs(best))) best = r;
        }
    return best;
}

static void judge(const struct scope *s, const struct ranked *r, size_t nr, double threshold, struct verdict *v)
{
    const struct hml_feature_set *set = s->set;
    for (size_t i = 0; i < set->n; i++) {
        v[i] = (struct verdict){.feature = i, .score = feature_score(s, &set->items[i], r, nr)};
        if (set->items[i].enabled && v[i].score < threshold) {
            v[i].prune = true;
            snprintf(v[i].reason, sizeof v[i].reason, "weak: score %.4g < %.4g", v[i].score, threshold);
        }
    }
    for (size_t i = 0; i < set->n; i++)
        for (size_t j = i + 1; j < set->n; j++) {
            if (!set->items[i].enabled || !set->items[j].enabled || v[i].prune || v[j].prune) continue;
            double rr = pair_r(s->p->table, &set->items[i], &set->items[j]);
            if (isnan(rr)) continue;
            /* The weaker one goes; on a tie (to rounding) the later definition goes. */
            double eps = 1e-9 * fmax(1e-12, fabs(v[j].score));
            size_t lo = v[i].score < v[j].score - eps ? i : j, hi = lo == i ? j : i;
            v[lo].prune = true;
            snprintf(v[lo].reason, sizeof v[lo].reason, "redundant with '%s' (r = %.3f), which scores higher",
                     set->items[hi].name, rr);
        }
}

/* Removes the pruned features nothing else uses, dependants first. */
static enum hml_status remove_pruned(struct scope *s, struct verdict *v, json_t *root, struct hml_frame *table,
                                     json_t *removed, json_t *kept, struct hml_error *err)
{
    enum hml_status rc = HML_OK;
    for (size_t k = s->set->n; !rc && k-- > 0;) {
        if (!v[k].prune) continue;
        const struct hml_feature *f = &s->set->items[k];
        struct hml_feature_set *now = NULL;
        struct hml_error why;
        rc = hml_features_load(root, &now, err);
        long i = rc ? -1 : hml_features_find(now, f->name);
        if (!rc && i >= 0 && hml__features_in_use(root, now, (size_t)i, &why)) {
            json_array_append_new(kept, json_pack("{s:s,s:s}", "name", f->name, "reason", why.message));
        } else if (!rc && i >= 0) {
            rc = hml__features_drop(root, table, &now->items[i], err);
            json_array_append_new(removed, json_string(f->name));
        }
        hml_features_free(now);
    }
    return rc;
}

FEATURES_ACTION(hml__features_prune)
{
    struct scope s;
    enum hml_status rc = scope_open(call, &s, err);
    double threshold = hml_param_num(call, "threshold", 0.01);
    const char *method = hml_param_str(call, "method", "correlation");
    bool dry = hml_param_bool(call, "dry_run", true);
    if (!rc && (threshold < 0 || !isfinite(threshold))) {
        hml_fail(err, HML_EINVAL, "features.prune", "threshold must be a number >= 0");
        rc = hml_hint(err, "e.g. threshold=0.01 (|r| for correlation, nats for mutual_info, gain share for xgboost)");
    }
    struct ranked *r = rc ? NULL : hml_calloc(s.p->table->ncols + 1, sizeof *r);
    struct verdict *v = rc ? NULL : hml_calloc(s.set->n + 1, sizeof *v);
    struct hml_buf notes = HML_BUF_INIT;
    size_t nr = 0;
    if (!rc && (!r || !v)) rc = hml_fail(err, HML_ENOMEM, "features", "out of memory");
    if (!rc) rc = rank_columns(&s, method, r, &nr, &notes, err);
    json_t *root = NULL, *removed = json_array(), *kept = json_array(), *list = json_array();
    struct hml_frame *table = NULL;
    if (!rc) judge(&s, r, nr, threshold, v);
    size_t np = 0;
    for (size_t i = 0; !rc && i < s.set->n; i++) {
        if (!v[i].prune) continue;
        np++;
        json_array_append_new(list, json_pack("{s:s,s:f,s:s}", "name", s.set->items[i].name, "score", v[i].score,
                                              "reason", v[i].reason));
    }
    if (!rc && !dry && np) {
        struct hml_feature_cache *cache = hml__features_cache(s.p);
        root = json_deep_copy(s.p->cfg->root);
        table = hml_frame_clone(s.p->table);
        rc = cache && root && table ? HML_OK : hml_fail(err, HML_ENOMEM, "features", "out of memory");
        if (!rc) rc = remove_pruned(&s, v, root, table, removed, kept, err);
        if (!rc && json_array_size(removed)) rc = hml__features_commit(s.p, cache, table, root, err);
        hml_feature_cache_free(cache);
    }
    if (!rc) {
        hml_buf_printf(&res->text, "## Prune by %s (threshold %g): %zu of %zu feature(s) %s\n", method, threshold, np,
                       s.set->n, dry ? "would go (dry run)" : "flagged");
        size_t i;
        json_t *it;
        json_array_foreach(list, i, it) hml_buf_printf(&res->text, "- %s: %s\n", hml_json_str(it, "name", ""), hml_json_str(it, "reason", ""));
        json_array_foreach(kept, i, it) hml_buf_printf(&res->text, "Kept %s: %s\n", hml_json_str(it, "name", ""), hml_json_str(it, "reason", ""));
        if (!dry) hml_buf_printf(&res->text, "Removed %zu feature(s).\n", json_array_size(removed));
        else if (np) hml_buf_puts(&res->text, "Nothing changed; dry_run=false removes the ones nothing uses.\n");
        json_object_set_new(res->data, "method", json_string(method));
        json_object_set_new(res->data, "dry_run", json_boolean(dry));
        json_object_set(res->data, "candidates", list);
        json_object_set(res->data, "removed", removed);
        json_object_set(res->data, "kept", kept);
        if (notes.len) hml_result_warn(res, "%s", hml_buf_str(&notes));
    }
    json_decref(list);
    json_decref(removed);
    json_decref(kept);
    json_decref(root);
    hml_frame_free(table);
    hml_buf_free(&notes);
    hml_free(r);
    hml_free(v);
    scope_close(&s);
    return rc;
}
