/* t_experiments_explore.c — experiments explore (a seeded TPE search over config
 * overlays; every trial is a backtest sharing the prediction cache) and
 * promote_trial (a trial becomes an ordinary experiment that still needs a run and
 * a logged result). An exploration lives in experiments/expl-NNN/: study.json (the
 * resumable study), trials.json and best_overlay.yaml, written together at the end:
 * a cancelled exploration writes nothing. */
#include "experiments_int.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/io.h"
#include "harness/metric.h"
#include "harness/runner.h"
#include "harness/tpe.h"
#include "harness/yaml.h"

#define EXPLORE_BUDGET_MAX 200

static size_t next_expl(const struct hml_project *p)
{
    char *dir = hml__project_path(p, "experiments");
    DIR *d = dir ? opendir(dir) : NULL;
    unsigned best = 0, n;
    for (struct dirent *e; d && (e = readdir(d));)
        if (sscanf(e->d_name, "expl-%u", &n) == 1 && n > best) best = n;
    if (d) closedir(d);
    hml_free(dir);
    return best + 1;
}

/* The phase gate: tuning before model diversity is advised against, or refused when
 * workflow.enforce_phases is on. */
static enum hml_status phase_gate(struct exp_ctx *c, struct hml_error *err)
{
    const json_t *root = c->p->cfg->root, *wf = json_object_get(root, "workflow");
    const char *fams[8], *name;
    size_t nf = 0;
    json_t *def;
    json_object_foreach(json_object_get(root, "models"), name, def) {
        if (!hml_json_bool(def, "active", true)) continue;
        const char *f = hml__model_family(hml_json_str(def, "type", ""));
        bool seen = false;
        for (size_t i = 0; i < nf; i++) seen |= !strcmp(fams[i], f);
        if (!seen && nf < 8) fams[nf++] = f;
    }
    long long need = hml_json_int(wf, "min_model_types", 4);
    if (need > 4) need = 4;
    if ((long long)nf >= need) return HML_OK;
    if (!hml_json_bool(wf, "enforce_phases", false)) {
        hml__exp_guard_note(c, "workflow_phase_gate", false, NULL,
                            "tuning before model diversity: %zu of %lld model families are active (pipeline progress)", nf, need);
        return HML_OK;
    }
    hml_fail(err, HML_EBLOCKED, "guardrail.workflow_phase_gate", "tuning is gated: %zu of %lld model families are active", nf, need);
    hml_hint(err, "add models of other families first (pipeline progress lists the phases), or configure workflow --enforce_phases false");
    return hml__exp_refused(c, NULL, err);
}

/* Earlier trials of expl-NNN join the new study as warm trials. */
static enum hml_status warm_start(struct exp_ctx *c, struct hml_tpe_study *s, const char *from, struct hml_error *err)
{
    char rel[96];
    snprintf(rel, sizeof rel, "experiments/%s/trials.json", from);
    char *path = hml__project_path(c->p, rel), *text = NULL;
    size_t len;
    json_t *trials = NULL;
    enum hml_status rc = path && hml_path_exists(path) ? hml_read_file(path, 64u << 20, &text, &len, err) : HML_ENOTFOUND;
    if (rc == HML_ENOTFOUND) {
        hml_fail(err, HML_ENOTFOUND, "experiments.explore", "no exploration '%s'", from);
        hml_hint(err, "warm_start_from takes an earlier exploration id such as expl-001");
    }
    if (!rc) rc = hml_json_parse(text, len, &trials, err);
    size_t i, added = 0;
    json_t *t;
    json_array_foreach(json_object_get(trials, "trials"), i, t) {
        const json_t *v = json_object_get(t, "objective");
        struct hml_error ignored;
        if (json_is_number(v) && !hml_tpe_add_trial(s, json_object_get(t, "params"), json_number_value(v), false, NULL, &ignored))
            added++;
    }
    if (!rc) hml_buf_printf(&c->res->text, "Warm start: %zu trial(s) of %s.\n", added, from);
    json_decref(trials);
    hml_free(text);
    hml_free(path);
    return rc;
}

/* One trial: the overlay applied, a backtest, the primary metric. NaN when the
 * trial's configuration is refused (recorded with the reason). */
static double run_trial(struct exp_ctx *c, const json_t *params, const struct hml_metric *m, json_t *rec)
{
    struct hml_error e;
    json_t *norm = NULL, *merged = NULL;
    struct hml_run *r = NULL;
    enum hml_status rc = hml_exp_overlay_normalize(params, &norm, NULL, &e);
    if (!rc) rc = hml__exp_merge(c, norm, &merged, NULL, &e);
    struct hml_run_opts o = {.project_dir = c->p->dir, .table = c->p->table, .config = merged, .cancel = c->call->cancel};
    if (!rc) rc = hml_backtest(&o, &r, &e);
    double v = NAN;
    if (!rc) {
        const json_t *scope = r->ensemble_metrics ? r->ensemble_metrics : r->nmodels ? r->models[0].metrics : NULL;
        const json_t *x = json_object_get(scope, m->name);
        v = json_is_number(x) ? json_number_value(x) : NAN;
        json_object_set_new(rec, "fits", json_integer((json_int_t)r->fits));
        json_object_set_new(rec, "cache_hits", json_integer((json_int_t)r->cache_hits));
    } else {
        json_object_set_new(rec, "error", json_pack("{s:s,s:s}", "message", e.message, "hint", e.hint));
    }
    hml_run_free(r);
    json_decref(norm);
    json_decref(merged);
    return v;
}

static enum hml_status parse_space(const json_t *ss, struct hml_tpe_space **space, struct hml_error *err)
{
    /* budget and primary_metric may sit beside the axes; the space is the axes. */
    json_t *axes = json_is_object(ss) && json_object_get(ss, "axes") ? json_pack("{s:O}", "axes", json_object_get(ss, "axes"))
                                                                      : json_incref((json_t *)ss);
    enum hml_status rc = axes ? hml_tpe_space_parse(axes, space, err) : hml_fail(err, HML_ENOMEM, "explore", "out of memory");
    json_decref(axes);
    if (rc) hml_error_prefix(err, "search_space");
    return rc;
}

static void trials_table(const json_t *trials, const struct hml_metric *m, struct hml_buf *t)
{
    /* The best five by the metric, in trial order when tied. */
    size_t n = json_array_size(trials), shown = 0, used[5];
    hml_buf_printf(t, "| trial | %s | params |\n|---|---|---|\n", m->name);
    while (shown < 5 && shown < n) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            bool taken = false;
            for (size_t k = 0; k < shown; k++) taken |= used[k] == i;
            const json_t *v = json_object_get(json_array_get(trials, i), "metric");
            if (taken || !json_is_number(v)) continue;
            if (best == SIZE_MAX || hml_metric_better(m, NULL, json_number_value(v),
                                                      json_number_value(json_object_get(json_array_get(trials, best), "metric"))))
                best = i;
        }
        if (best == SIZE_MAX) break;
        used[shown++] = best;
        const json_t *tr = json_array_get(trials, best);
        char *params = json_dumps(json_object_get(tr, "params"), JSON_COMPACT);
        char num[40];
        hml_buf_printf(t, "| %lld | %s | %.120s |\n", (long long)hml_json_int(tr, "trial", 0),
                       hml__exp_num(num, json_object_get(tr, "metric"), false), params ? params : "");
        hml_free(params);
    }
}

static enum hml_status a_explore_body(struct exp_ctx *c, struct hml_error *err)
{
    struct hml_call *call = c->call;
    const json_t *ss = hml_param_json(call, "search_space");
    struct hml_tpe_space *space = NULL;
    struct hml_tpe_study *study = NULL;
    /* Parameters first: a typo in the space is not a gate matter and records nothing. */
    enum hml_status rc = parse_space(ss, &space, err);
    long long budget = hml_param_int(call, "budget", hml_json_int(ss, "budget", 20));
    if (!rc && (budget < 1 || budget > EXPLORE_BUDGET_MAX)) {
        hml_fail(err, HML_EINVAL, "experiments.explore", "budget must be 1 to %d trials, got %lld", EXPLORE_BUDGET_MAX, budget);
        rc = hml_hint(err, "pass budget=20");
    }
    const json_t *root = c->p->cfg->root;
    const char *pm = hml_param_str(call, "primary_metric", hml_json_str(ss, "primary_metric",
                                   hml_json_str(json_object_get(root, "backtest"), "primary_metric", "brier")));
    enum hml_task task;
    const struct hml_metric *m = NULL;
    if (!rc) rc = hml_task_parse(hml_json_str(json_object_get(root, "data"), "task", "binary"), &task, err);
    if (!rc) rc = hml_metric_lookup(pm, task, &m, err);
    if (!rc) rc = phase_gate(c, err);
    struct hml_tpe_options opt;
    hml_tpe_options_default(&opt);
    opt.seed = (uint64_t)hml_json_int(json_object_get(root, "backtest"), "seed", 42);
    opt.budget = (size_t)budget;
    if (!rc) {
        rc = hml_tpe_study_new(space, &opt, &study, err);
        space = NULL; /* the study owns it now, even on failure */
    }
    const char *from = hml_param_str(call, "warm_start_from", NULL);
    if (!rc && from) rc = warm_start(c, study, from, err);
    /* Lower is better for the study: metrics to maximise are negated. */
    double sign = m && m->goal == HML_GOAL_MAX ? -1.0 : 1.0;
    json_t *trials = json_array();
    size_t fits = 0, hits = 0;
    for (long long t = 0; !rc && t < budget; t++) {
        if (call->cancel && *call->cancel) {
            hml_fail(err, HML_ECONFLICT, "experiments.explore", "cancelled");
            rc = hml_hint(err, "nothing was written; the prediction cache keeps the finished trials' fits");
            break;
        }
        size_t id;
        json_t *params = NULL;
        rc = hml_tpe_ask(study, &id, &params, err);
        if (rc) break;
        json_t *rec = json_pack("{s:I,s:O}", "trial", (json_int_t)id, "params", params);
        double v = run_trial(c, params, m, rec);
        if (c->call->cancel && *c->call->cancel) { json_decref(rec); json_decref(params); continue; }
        rc = isnan(v) ? hml_tpe_tell_failed(study, id, err) : hml_tpe_tell(study, id, sign * v, err);
        json_object_set_new(rec, "metric", isnan(v) ? json_null() : json_real(v));
        json_object_set_new(rec, "objective", isnan(v) ? json_null() : json_real(sign * v));
        fits += (size_t)hml_json_int(rec, "fits", 0);
        hits += (size_t)hml_json_int(rec, "cache_hits", 0);
        json_array_append_new(trials, rec);
        json_decref(params);
        hml_progress(call, (double)(t + 1), (double)budget, "trial %lld/%lld · %s %.4g", t + 1, budget, m->name, v);
    }
    size_t best_trial = 0;
    double best_obj;
    if (!rc && hml_tpe_best(study, &best_trial, &best_obj, err)) {
        hml_fail(err, HML_EINVAL, "experiments.explore", "no trial of the exploration ran");
        rc = hml_hint(err, "every trial's configuration was refused: see the errors in the answer, and check the axes' keys");
    }
    char id[24];
    snprintf(id, sizeof id, "expl-%03zu", c->p ? next_expl(c->p) : (size_t)1);
    if (!rc) {
        json_t *best_params = NULL;
        hml_tpe_trial_get(study, best_trial, NULL, &best_params, err);
        json_t *st = hml_tpe_study_to_json(study);
        json_t *doc = json_pack("{s:s,s:s,s:s,s:o,s:I,s:O}", "exploration_id", id, "primary_metric", m->name, "goal",
                                m->goal == HML_GOAL_MAX ? "higher" : "lower", "trials", json_incref(trials), "best_trial",
                                (json_int_t)best_trial, "best_params", best_params);
        char *st_text = st ? hml_json_pretty(st) : NULL, *doc_text = doc ? hml_json_pretty(doc) : NULL;
        char *yaml = best_params ? hml_yaml_emit(best_params) : NULL;
        struct exp_file files[3] = {{{0}, st_text, st_text ? strlen(st_text) : 0},
                                    {{0}, doc_text, doc_text ? strlen(doc_text) : 0},
                                    {{0}, yaml, yaml ? strlen(yaml) : 0}};
        snprintf(files[0].rel, sizeof files[0].rel, "experiments/%s/study.json", id);
        snprintf(files[1].rel, sizeof files[1].rel, "experiments/%s/trials.json", id);
        snprintf(files[2].rel, sizeof files[2].rel, "experiments/%s/best_overlay.yaml", id);
        rc = st_text && doc_text && yaml ? hml__exp_commit(c, NULL, 0, files, 3, NULL, err)
                                         : (hml__exp_files_free(files, 3), hml_fail(err, HML_ENOMEM, "explore", "out of memory"));
        if (!rc) {
            char num[40];
            json_t *sp = hml_tpe_space_to_json(hml_tpe_study_space(study));
            size_t naxes = json_array_size(json_object_get(sp, "axes"));
            json_decref(sp);
            hml_buf_printf(&c->res->text, "Exploration %s: %lld trials over %zu axes, %zu fits and %zu cached (model, fold) "
                                          "pairs. Best by %s: trial %zu (%s).\n",
                           id, budget, naxes, fits, hits, m->name, best_trial, hml__exp_num(num, json_object_get(json_array_get(trials, best_trial), "metric"), false));
            trials_table(trials, m, &c->res->text);
            hml_buf_printf(&c->res->text, "Next: experiments promote_trial --experiment_id %s --trial %zu (then run and log it).\n",
                           id, best_trial);
            json_object_set_new(c->res->data, "exploration_id", json_string(id));
            json_object_set_new(c->res->data, "best_trial", json_integer((json_int_t)best_trial));
            json_object_set(c->res->data, "best_params", best_params);
            json_object_set_new(c->res->data, "fits", json_integer((json_int_t)fits));
            json_object_set_new(c->res->data, "cache_hits", json_integer((json_int_t)hits));
            json_object_set(c->res->data, "trials", trials);
        }
        json_decref(st);
        json_decref(doc);
        json_decref(best_params);
    }
    json_decref(trials);
    hml_tpe_study_free(study);
    hml_tpe_space_free(space);
    return rc;
}

enum hml_status hml__exp_explore(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_REQUIRED, &c, err);
    if (rc) return rc;
    rc = a_explore_body(&c, err);
    hml__exp_close(&c);
    return rc;
}

/* ---- promote_trial ------------------------------------------------------------------------------------ */

enum hml_status hml__exp_promote_trial(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    const char *expl = hml_param_str(call, "experiment_id", "");
    long long trial = hml_param_int(call, "trial", -1);
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_SKIP, &c, err);
    if (rc) return rc;
    char rel[96], *path = NULL, *text = NULL;
    size_t len;
    json_t *doc = NULL, *rec = NULL, *norm = NULL, *merged = NULL, *changes = NULL;
    snprintf(rel, sizeof rel, "experiments/%s/trials.json", expl);
    path = hml__project_path(c.p, rel);
    rc = path && hml_path_exists(path) ? hml_read_file(path, 64u << 20, &text, &len, err) : HML_ENOTFOUND;
    if (rc == HML_ENOTFOUND) {
        hml_fail(err, HML_ENOTFOUND, "experiments.promote_trial", "no exploration '%s'", expl);
        hml_hint(err, "pass the id experiments explore answered with (expl-NNN)");
    }
    if (!rc) rc = hml_json_parse(text, len, &doc, err);
    if (!rc && trial < 0) trial = hml_json_int(doc, "best_trial", 0);
    const json_t *tr = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "trials"), i, t) if (hml_json_int(t, "trial", -1) == trial) tr = t;
    if (!rc && (!tr || !json_is_number(json_object_get(tr, "metric")))) {
        hml_fail(err, HML_ENOTFOUND, "experiments.promote_trial", "%s has no finished trial %lld", expl, trial);
        rc = hml_hint(err, "leave trial out for the best one (%lld)", (long long)hml_json_int(doc, "best_trial", 0));
    }
    /* An ordinary experiment: the plan gate applies, and it still needs run and log_result. */
    char hyp[512], desc[160], plan_id[24] = "";
    if (!rc && !hml_param_has(call, "hypothesis")) {
        char num[40];
        snprintf(hyp, sizeof hyp, "Trial %lld of %s (%s %s) holds up against the baseline on the full backtest", trial, expl,
                 hml_json_str(doc, "primary_metric", "?"), hml__exp_num(num, json_object_get(tr, "metric"), false));
        json_object_set_new(call->params, "hypothesis", json_string(hyp));
    }
    if (!rc && !hml_param_has(call, "description")) {
        snprintf(desc, sizeof desc, "%s trial %lld", expl, trial);
        json_object_set_new(call->params, "description", json_string(desc));
    }
    struct exp_file files[2] = {{{0}, NULL, 0}, {{0}, NULL, 0}};
    size_t nf = 0;
    if (!rc) rc = hml__exp_new_record(&c, NULL, &rec, err);
    if (!rc) rc = hml__exp_gate_create(&c, plan_id, err);
    if (!rc) rc = hml_json_set(rec, "plan_id", json_string(plan_id)) ? HML_OK : hml_fail(err, HML_ENOMEM, "explore", "out of memory");
    if (!rc) rc = hml_json_set(rec, "from_exploration", json_pack("{s:s,s:I}", "id", expl, "trial", (json_int_t)trial))
                      ? HML_OK : hml_fail(err, HML_ENOMEM, "explore", "out of memory");
    if (!rc) rc = hml_exp_overlay_normalize(json_object_get(tr, "params"), &norm, NULL, err);
    if (!rc) rc = hml__exp_merge(&c, norm, &merged, &changes, err);
    if (!rc) rc = hml__exp_set_overlay(&c, rec, norm, changes, files, &nf, err);
    if (!rc) rc = hml__exp_hypothesis_file(rec, &files[nf], err);
    if (!rc) nf++;
    char id[24];
    snprintf(id, sizeof id, "%s", rec ? hml_json_str(rec, "experiment_id", "") : "");
    if (!rc) rc = hml__exp_commit(&c, &rec, 1, files, nf, NULL, err);
    else json_decref(rec), hml__exp_files_free(files, 2);
    if (!rc) {
        hml_buf_printf(&res->text, "Created %s from %s trial %lld with its overlay. Next: experiments run --experiment_id %s, "
                                   "then log_result.\n", id, expl, trial, id);
        json_object_set_new(res->data, "experiment_id", json_string(id));
        json_object_set(res->data, "experiment", hml_exp_find(c.j, id));
    }
    json_decref(norm);
    json_decref(merged);
    json_decref(changes);
    json_decref(doc);
    hml_free(text);
    hml_free(path);
    hml__exp_close(&c);
    return rc;
}
