/* feature_guard.c — the leakage guardrails on features and the target they are
 * judged against. A leak is not a matter of taste, so nothing here is overridable:
 * a feature that reads the target or a denylisted column, or whose values give the
 * outcome away, is refused with the evidence and what to do instead. */
#include "harness/feature.h"
#include "harness/alloc.h"
#include "harness/config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the target ------------------------------------------------------------------------------ */

void hml_target_fini(struct hml_target *t)
{
    if (!t) return;
    hml_free(t->y);
    hml_free(t->cls);
    memset(t, 0, sizeof *t);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Class codes of a numeric target: the rank of each value among the distinct values. */
static bool numeric_classes(const struct hml_column *c, struct hml_target *t)
{
    double *v = hml_malloc((c->n + 1) * sizeof *v);
    if (!v) return false;
    size_t k = 0, u = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!hml_column_is_null(c, i)) v[k++] = hml_column_num(c, i);
    qsort(v, k, sizeof *v, cmp_double);
    for (size_t i = 0; i < k; i++)
        if (!u || v[u - 1] != v[i]) v[u++] = v[i];
    for (size_t i = 0; i < c->n; i++) {
        if (hml_column_is_null(c, i)) continue;
        double x = hml_column_num(c, i);
        const double *hit = bsearch(&x, v, u, sizeof *v, cmp_double);
        t->cls[i] = (int32_t)(hit - v);
    }
    t->n_classes = u;
    hml_free(v);
    return true;
}

/* Class codes of a text target, in label order (so 0/1 follow "no" < "yes"). */
static bool text_classes(const struct hml_column *c, struct hml_target *t)
{
    size_t nd = hml_dict_size(c->dict);
    int32_t *order = hml_malloc((nd + 1) * sizeof *order), *rank = hml_malloc((nd + 1) * sizeof *rank);
    uint8_t *seen = hml_calloc(nd + 1, 1);
    bool ok = order && rank && seen;
    size_t u = 0;
    for (size_t i = 0; ok && i < c->n; i++)
        if (!hml_column_is_null(c, i) && !seen[hml_codes(c)[i]]) seen[hml_codes(c)[i]] = 1, order[u++] = hml_codes(c)[i];
    if (ok) {
        /* Insertion sort: qsort has no context argument for the dictionary, and a target
         * has few classes. */
        for (size_t i = 1; i < u; i++)
            for (size_t j = i; j > 0 && strcmp(hml_dict_get(c->dict, order[j - 1]), hml_dict_get(c->dict, order[j])) > 0; j--) {
                int32_t tmp = order[j];
                order[j] = order[j - 1];
                order[j - 1] = tmp;
            }
        for (size_t i = 0; i < u; i++) rank[order[i]] = (int32_t)i;
        for (size_t i = 0; i < c->n; i++)
            if (!hml_column_is_null(c, i)) t->cls[i] = rank[hml_codes(c)[i]];
        t->n_classes = u;
    }
    hml_free(order);
    hml_free(rank);
    hml_free(seen);
    return ok;
}

enum hml_status hml_target_load(const struct hml_frame *f, const json_t *config, struct hml_target *t,
                                struct hml_error *err)
{
    memset(t, 0, sizeof *t);
    const json_t *data = json_object_get(config, "data");
    const char *name = hml_json_str(data, "target_column", NULL);
    if (!name) {
        hml_fail(err, HML_ENOTFOUND, "features", "the project has no target column yet");
        return hml_hint(err, "set one: configure update_data --target_column <column>");
    }
    size_t j;
    enum hml_status rc = hml_frame_lookup(f, name, &j, err);
    if (rc) return hml_error_prefix(err, "the target"), rc;
    const struct hml_column *c = f->cols[j];
    const char *task = hml_json_str(data, "task", "binary");
    t->name = name;
    t->n = c->n;
    t->classification = !strcmp(task, "binary") || !strcmp(task, "multiclass");
    t->y = hml_malloc((c->n + 1) * sizeof *t->y);
    t->cls = hml_malloc((c->n + 1) * sizeof *t->cls);
    bool ok = t->y && t->cls;
    for (size_t i = 0; ok && i < c->n; i++) t->cls[i] = -1;
    if (ok && t->classification) ok = c->type == HML_TYPE_STR ? text_classes(c, t) : numeric_classes(c, t);
    for (size_t i = 0; ok && i < c->n; i++) {
        double v = hml_column_num(c, i);
        /* A two-class text target correlates as 0/1; more classes have no numeric order. */
        if (c->type == HML_TYPE_STR) v = t->n_classes == 2 && t->cls[i] >= 0 ? t->cls[i] : NAN;
        t->y[i] = v;
    }
    if (!ok) {
        hml_target_fini(t);
        return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    }
    return HML_OK;
}

double hml_target_corr(const struct hml_column *c, const struct hml_target *t)
{
    HML_ASSERT(c->n == t->n);
    if (!hml_column_is_numeric(c) && c->type != HML_TYPE_DATE) return NAN;
    double sx = 0, sy = 0;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (hml_column_is_null(c, i) || isnan(t->y[i])) continue;
        sx += hml_column_num(c, i), sy += t->y[i], n++;
    }
    if (n < 3) return NAN;
    double mx = sx / (double)n, my = sy / (double)n, sxx = 0, syy = 0, sxy = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (hml_column_is_null(c, i) || isnan(t->y[i])) continue;
        double dx = hml_column_num(c, i) - mx, dy = t->y[i] - my;
        sxx += dx * dx, syy += dy * dy, sxy += dx * dy;
    }
    if (sxx <= 0 || syy <= 0) return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* ---- static checks -------------------------------------------------------------------------------- */

/* The k-th column feature f reads itself (not through other features), or NULL past the end. */
static const char *direct_read(const struct hml_feature *f, size_t k)
{
    size_t n = 0;
    const char *const *cols = f->expr ? hml_expr_columns(f->expr, &n) : NULL;
    if (k < n) return cols[k];
    k -= n;
    if (f->column && k-- == 0) return f->column;
    const char *keys[] = {f->entity_a_column, f->entity_b_column, f->period_column};
    return f->type == HML_FEATURE_ENTITY && k < 3 ? keys[k] : NULL;
}

static bool reads_directly(const struct hml_feature *f, const char *col)
{
    for (size_t k = 0;; k++) {
        const char *c = direct_read(f, k);
        if (!c) return false;
        if (!strcmp(c, col)) return true;
    }
}

/* Does feature i read column `col`, directly or through the features it reads?
 * Memoised in state (0 unknown, 1 no, 2 yes). */
static bool reads(const struct hml_feature_set *s, size_t i, const char *col, uint8_t *state)
{
    if (state[i]) return state[i] == 2;
    bool yes = reads_directly(&s->items[i], col);
    /* Dependencies have lower indices, so the recursion is bounded by the set's depth,
     * and the memo computes each feature's answer once. */
    for (size_t d = 0; d < s->items[i].ndeps && !yes; d++) yes = reads(s, s->items[i].deps[d], col, state);
    state[i] = yes ? 2 : 1;
    return yes;
}

static enum hml_status refuse_read(const struct hml_feature *f, const char *col, const char *via, bool target,
                                   struct hml_error *err)
{
    char how[HML_FEATURE_NAME_MAX + 16] = "";
    if (*via) snprintf(how, sizeof how, " through @%s", via);
    if (target) {
        hml_fail(err, HML_EBLOCKED, "features", "feature '%s' reads the target '%s'%s", f->name, col, how);
        return hml_hint(err, "a feature must be known before the outcome; remove '%s' from %s (this guardrail cannot "
                             "be overridden)", col, *via ? "the feature it reads" : "its formula");
    }
    hml_fail(err, HML_EBLOCKED, "features", "feature '%s' reads '%s'%s, which is on the leakage denylist", f->name, col, how);
    return hml_hint(err, "remove '%s' from the formula, or take it off the list (configure set_denylist --remove_columns "
                         "%s) if it is known before the outcome", col, col);
}

/* Refuses feature i when it reads col (directly or through others). */
static enum hml_status check_one(const struct hml_feature_set *s, size_t i, const char *col, bool target,
                                 uint8_t *state, struct hml_error *err)
{
    if (!s->items[i].enabled || !reads(s, i, col, state)) return HML_OK;
    const char *via = "";
    bool own = reads_directly(&s->items[i], col);
    for (size_t d = 0; !own && !*via && d < s->items[i].ndeps; d++)
        if (state[s->items[i].deps[d]] == 2) via = s->items[s->items[i].deps[d]].name;
    return refuse_read(&s->items[i], col, via, target, err);
}

static enum hml_status check_feature(const struct hml_feature_set *s, size_t i, const json_t *config, uint8_t *state,
                                     struct hml_error *err)
{
    const char *target = hml_json_str(json_object_get(config, "data"), "target_column", NULL);
    const json_t *deny = hml_config_get(config, "guardrails.feature_leakage_denylist");
    const struct hml_feature *f = &s->items[i];
    for (size_t k = 0; target && k < f->noutputs; k++)
        if (!strcmp(f->outputs[k], target)) {
            hml_fail(err, HML_EBLOCKED, "features", "feature '%s' would overwrite the target column '%s'", f->name, target);
            return hml_hint(err, "give the feature another name");
        }
    enum hml_status rc = target ? check_one(s, i, target, true, state, err) : HML_OK;
    size_t k;
    json_t *v;
    json_array_foreach(deny, k, v) if (!rc && json_is_string(v)) {
        /* Each column has its own memo: a feature reading one column says nothing of another. */
        memset(state, 0, s->n);
        rc = check_one(s, i, json_string_value(v), false, state, err);
    }
    return rc;
}

enum hml_status hml_features_guard_one(const struct hml_feature_set *s, size_t i, const json_t *config,
                                       struct hml_error *err)
{
    HML_ASSERT(s && i < s->n);
    uint8_t *state = hml_calloc(s->n, 1);
    if (!state) return hml_fail(err, HML_ENOMEM, "features", "out of memory");
    enum hml_status rc = check_feature(s, i, config, state, err);
    hml_free(state);
    return rc;
}

enum hml_status hml_features_guard(const struct hml_feature_set *s, const json_t *config, struct hml_error *err)
{
    enum hml_status rc = HML_OK;
    for (size_t i = 0; s && !rc && i < s->n; i++) rc = hml_features_guard_one(s, i, config, err);
    return rc;
}

/* ---- statistical checks ------------------------------------------------------------------------------ */

struct pair {
    double key;
    int32_t cls;
};

static int cmp_pair(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->cls > y->cls) - (x->cls < y->cls);
}

/* Every distinct value maps to one class, with at least HML_FEATURE_LEAK_ROWS rows each and
 * two or more values: a lookup table from the feature to the answer. *groups gets the
 * number of values. */
static bool perfect_predictor(const struct hml_column *c, const struct hml_target *t, size_t *groups, bool *oom)
{
    struct pair *p = hml_malloc((c->n + 1) * sizeof *p);
    if (!p) return *oom = true, false;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (hml_column_is_null(c, i) || t->cls[i] < 0) continue;
        double key = c->type == HML_TYPE_STR ? (double)hml_codes(c)[i] : hml_column_num(c, i);
        p[n++] = (struct pair){key, t->cls[i]};
    }
    qsort(p, n, sizeof *p, cmp_pair);
    bool perfect = n >= 2 * HML_FEATURE_LEAK_ROWS;
    size_t g = 0;
    for (size_t i = 0; perfect && i < n;) {
        size_t j = i;
        while (j < n && p[j].key == p[i].key) {
            if (p[j].cls != p[i].cls) perfect = false;
            j++;
        }
        if (j - i < HML_FEATURE_LEAK_ROWS) perfect = false;
        g++;
        i = j;
    }
    hml_free(p);
    *groups = g;
    return perfect && g >= 2;
}

enum hml_status hml_feature_guard_column(const char *feature, const char *column, const struct hml_column *c,
                                         const struct hml_target *t, struct hml_error *err)
{
    HML_ASSERT(c && t && c->n == t->n);
    double r = hml_target_corr(c, t);
    char col[HML_FEATURE_OUT_MAX + 16] = "";
    if (strcmp(feature, column)) snprintf(col, sizeof col, " (column '%s')", column);
    if (!isnan(r) && fabs(r) >= HML_FEATURE_LEAK_R) {
        hml_fail(err, HML_EBLOCKED, "features", "feature '%s'%s correlates with the target '%s' at r = %.4f "
                 "(|r| >= %.2f): it almost certainly encodes the outcome", feature, col, t->name, r, HML_FEATURE_LEAK_R);
        return hml_hint(err, "a feature must be computable before the outcome is known; check what its formula reads "
                             "(this guardrail cannot be overridden)");
    }
    size_t groups = 0;
    bool oom = false;
    if (t->classification && perfect_predictor(c, t, &groups, &oom)) {
        hml_fail(err, HML_EBLOCKED, "features", "feature '%s'%s predicts the target '%s' perfectly: each of its %zu "
                 "values maps to a single class, with at least %u rows behind each", feature, col, t->name, groups,
                 HML_FEATURE_LEAK_ROWS);
        return hml_hint(err, "a value that gives the class away is the outcome in disguise; derive the feature from "
                             "what is known before the event (this guardrail cannot be overridden)");
    }
    return oom ? hml_fail(err, HML_ENOMEM, "features", "out of memory") : HML_OK;
}

/* ---- notices ------------------------------------------------------------------------------------------ */

/* Why a name announces the outcome, or NULL. */
static const char *outcome_like(const char *name, const char *target, char *why, size_t cap)
{
    char low[HML_FEATURE_OUT_MAX + 64];
    size_t n = 0;
    for (const char *s = name; *s && n + 1 < sizeof low; s++) low[n++] = (char)tolower((unsigned char)*s);
    low[n] = 0;
    static const char *const words[] = {"label", "result", "outcome", "winner"};
    if (!strncmp(low, "future_", 7)) return snprintf(why, cap, "future_*"), why;
    if (!strncmp(low, "next_", 5)) return snprintf(why, cap, "next_*"), why;
    if (n > 6 && !strcmp(low + n - 6, "_after")) return snprintf(why, cap, "*_after"), why;
    /* Words match whole '_'-separated tokens, so "resulting" or "labelled" do not fire. */
    for (size_t at = 0; at < n;) {
        size_t end = at;
        while (end < n && low[end] != '_') end++;
        char w[sizeof low];
        memcpy(w, low + at, end - at);
        w[end - at] = 0;
        for (size_t k = 0; k < sizeof words / sizeof *words; k++)
            if (!strcmp(w, words[k])) return snprintf(why, cap, "'%s'", words[k]), why;
        if (target && *w && !strcasecmp(w, target)) return snprintf(why, cap, "the target's name"), why;
        at = end + 1;
    }
    if (target && strlen(target) >= 4 && strcasestr(name, target)) return snprintf(why, cap, "the target's name"), why;
    return NULL;
}

static const char *columnwise_fn(const struct hml_expr *e)
{
    static const char *const fns[] = {"zscore", "minmax", "rank_pct", "winsorize", "pct_of_total"};
    const char *src = hml_expr_source(e);
    for (size_t k = 0; k < sizeof fns / sizeof *fns; k++)
        if (strstr(src, fns[k])) return fns[k];
    return "a column-wise function";
}

void hml_feature_notices(const struct hml_feature_set *s, size_t i, const json_t *config, json_t *warnings)
{
    HML_ASSERT(i < s->n);
    const struct hml_feature *f = &s->items[i];
    const char *target = hml_json_str(json_object_get(config, "data"), "target_column", NULL);
    char why[64], msg[512];
    if (outcome_like(f->name, target, why, sizeof why)) {
        snprintf(msg, sizeof msg, "the name '%s' announces the outcome (%s): make sure its value is known before the "
                 "event it predicts, or rename it", f->name, why);
        json_array_append_new(warnings, json_string(msg));
    }
    for (size_t k = 0; direct_read(f, k); k++)
        if (outcome_like(direct_read(f, k), target, why, sizeof why)) {
            snprintf(msg, sizeof msg, "'%s' reads '%s', whose name announces the outcome (%s): check that it is known "
                     "before the event", f->name, direct_read(f, k), why);
            json_array_append_new(warnings, json_string(msg));
        }
    if (f->expr && hml_expr_columnwise(f->expr)) {
        const char *fn = columnwise_fn(f->expr);
        snprintf(msg, sizeof msg, "'%s' uses %s(), which takes its statistics from every row, so in a backtest it sees "
                 "every fold (the test rows too); use a per-row transform (log, sqrt, clip with fixed bounds) or let the "
                 "model standardise its inputs (models update --normalize true)", f->name, fn);
        json_array_append_new(warnings, json_string(msg));
    }
}
