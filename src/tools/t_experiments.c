/* t_experiments.c — the `experiments` tool: the scientific loop (core/science/experiment).
 *
 * The order is enforced here, not left to the agent's memory: a plan in the notebook
 * before the first experiment, a logged result before the next one, a fresh plan every
 * workflow.replan_every experiments, an overlay (or an explicit {}) before a run, and
 * promote only after log_result and a real, plausible improvement. Every refusal names
 * the exact next call, changes no project file, and is recorded in the store's
 * guard_audit, as are warnings and overrides.
 *
 * This file: the shared plumbing (open, commit, gates), create, write_overlay,
 * log_result, compare, journal and the tool table. t_experiments_run.c: run, quick_run,
 * promote. */
#include "experiments_int.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness/alloc.h"
#include "harness/log.h"
#include "harness/notebook.h"
#include "harness/store.h"
#include "harness/yaml.h"

#define REPLAN_EVERY_DEFAULT 5
#define DESCRIPTION_MAX      200u
#define PHASE_MAX            64u
#define JOURNAL_DEFAULT      20
#define JOURNAL_MAX          200
#define COMPARE_MAX          10

/* ---- small helpers ------------------------------------------------------------------------------ */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

enum hml_status hml__exp_text(const struct hml_call *call, const char *name, bool required, size_t max,
                              const char **out, struct hml_error *err)
{
    const char *s = hml_param_str(call, name, NULL), *t = s;
    while (t && isspace((unsigned char)*t)) t++;
    *out = t && *t ? s : NULL;
    if (!*out && required) {
        hml_fail(err, HML_EINVAL, "experiments", "'%s' must say something: it is empty", name);
        return hml_hint(err, !strcmp(name, "hypothesis")
                                 ? "state what you change, why it should help and by how much, e.g. --hypothesis "
                                   "\"fare per person separates crew-class passengers better than fare\""
                                 : "write what happened and why you think so");
    }
    if (*out && utf8_chars(s) > max) {
        hml_fail(err, HML_ELIMIT, "experiments", "'%s' is %zu characters; at most %zu", name, utf8_chars(s), max);
        return hml_hint(err, "shorten it; long notes belong in the notebook (notebook write)");
    }
    return HML_OK;
}

const char *hml__exp_num(char buf[40], const json_t *v, bool sign)
{
    if (!json_is_number(v) || !isfinite(json_number_value(v))) return snprintf(buf, 40, "–"), buf;
    double x = json_number_value(v);
    hml__fmt_num(buf, x);
    if (sign && x > 0 && strlen(buf) < 38) {
        memmove(buf + 1, buf, strlen(buf) + 1);
        buf[0] = '+';
    }
    return buf;
}

json_t *hml__exp_real(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static enum hml_status oom(struct hml_error *err)
{
    return hml_fail(err, HML_ENOMEM, "experiments", "out of memory");
}

/* ---- open and commit ---------------------------------------------------------------------------- */

static void note_journal_damage(struct exp_ctx *c)
{
    if (c->j->torn_bytes)
        hml_result_warn(c->res, "the last line of %s is incomplete (%zu bytes left by an interrupted write); it is "
                                "ignored and the next write removes it", HML_EXP_JOURNAL_REL, c->j->torn_bytes);
    if (c->j->skipped)
        hml_result_warn(c->res, "%zu line(s) of %s are not records and were skipped (details on stderr)", c->j->skipped,
                        HML_EXP_JOURNAL_REL);
}

enum hml_status hml__exp_open(struct hml_call *call, struct hml_result *res, enum hml_table_need need,
                              struct exp_ctx *c, struct hml_error *err)
{
    memset(c, 0, sizeof *c);
    c->call = call;
    c->res = res;
    enum hml_status rc = hml__project_open(call, need, &c->p, err);
    if (!rc) rc = hml_exp_journal_load(c->p->dir, &c->j, err);
    if (rc) {
        hml__exp_close(c);
        return rc;
    }
    note_journal_damage(c);
    return HML_OK;
}

void hml__exp_close(struct exp_ctx *c)
{
    hml_exp_journal_free(c->j);
    hml__project_free(c->p);
    c->j = NULL;
    c->p = NULL;
}

void hml__exp_files_free(struct exp_file *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hml_free(files[i].text);
        files[i].text = NULL;
    }
}

static enum hml_status stage_all(struct exp_ctx *c, struct hml_exp_journal *fresh, struct exp_file *files,
                                 size_t nfiles, const json_t *config, struct hml_error *err)
{
    struct hml_txn *txn = hml_txn_new();
    enum hml_status rc = txn ? hml_exp_journal_stage(fresh, c->p->dir, txn, err) : oom(err);
    for (size_t i = 0; !rc && i < nfiles; i++) {
        char *path = hml__project_path(c->p, files[i].rel);
        rc = path ? hml_txn_write(txn, path, files[i].text, files[i].len, err) : oom(err);
        hml_free(path);
    }
    if (!rc && config) rc = hml_config_save(config, c->p->dir, txn, err);
    if (!rc) rc = hml_txn_commit(txn, err);
    hml_txn_free(txn);
    return rc;
}

enum hml_status hml__exp_commit(struct exp_ctx *c, json_t **recs, size_t nrecs, struct exp_file *files,
                                size_t nfiles, const json_t *config, struct hml_error *err)
{
    int fd = -1;
    struct hml_exp_journal *fresh = NULL;
    enum hml_status rc = hml_exp_lock(c->p->dir, &fd, err);
    if (!rc) rc = hml_exp_journal_load(c->p->dir, &fresh, err);
    size_t i = 0;
    for (; !rc && i < nrecs; i++) {
        const char *id = hml_json_str(recs[i], "experiment_id", "?");
        const json_t *now = hml_exp_find(fresh, id);
        if ((now ? hml_json_int(now, "rev", 0) : 0) != hml_json_int(recs[i], "rev", 0)) {
            bool taken = !hml_json_int(recs[i], "rev", 0);
            hml_fail(err, HML_ECONFLICT, "experiments", "%s was %s by another call while this one ran", id,
                     taken ? "created" : "changed");
            rc = taken ? hml_hint(err, "nothing was written; call again and it takes the next id")
                       : hml_hint(err, "nothing was written; look at it (experiments journal --experiment_id %s) and "
                                       "try again", id);
            break;
        }
        rc = hml_exp_journal_put(fresh, recs[i], err);
        recs[i] = NULL;
    }
    for (; i < nrecs; i++) json_decref(recs[i]), recs[i] = NULL;
    if (!rc) rc = stage_all(c, fresh, files, nfiles, config, err);
    hml_exp_unlock(fd);
    hml__exp_files_free(files, nfiles);
    if (rc) {
        hml_exp_journal_free(fresh);
        return rc;
    }
    hml_exp_journal_free(c->j);
    c->j = fresh;
    return HML_OK;
}

/* ---- guardrail audit ----------------------------------------------------------------------------- */

/* The store is metadata, not project state: a failure to record never fails the call. */
static bool audit(struct exp_ctx *c, const char *guardrail, const char *outcome, const char *subject, const char *msg)
{
    struct hml_store *st = NULL;
    struct hml_error e;
    struct hml_guard_event ev = {.tool = c->call->tool->name, .action = c->call->action->name, .guardrail = guardrail,
                                 .outcome = outcome, .subject = subject, .message = msg};
    bool ok = !hml_store_open(c->p->dir, &st, &e) && !hml_store_record_guard(st, &ev, &e);
    if (!ok) hml_log_warn("guardrail %s (%s) not recorded in the store: %s", guardrail, outcome, e.message);
    hml_store_close(st);
    return ok;
}

enum hml_status hml__exp_refused(struct exp_ctx *c, const char *subject, struct hml_error *err)
{
    const char *name = strncmp(err->where, "guardrail.", 10) ? err->where : err->where + 10;
    audit(c, name, "refused", subject, err->message);
    return err->code;
}

void hml__exp_guard_note(struct exp_ctx *c, const char *guardrail, bool overridden, const char *subject,
                         const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bool ok = audit(c, guardrail, overridden ? "overridden" : "warned", subject, msg);
    hml_result_warn(c->res, "%s (%s%s)%s", msg, guardrail, overridden ? ", overridden by human_override" : "",
                    ok ? "" : "; not recorded in the store");
}

/* ---- gates -------------------------------------------------------------------------------------- */

static enum hml_status gate_plan(struct exp_ctx *c, struct hml_nb_entry **plan, struct hml_error *err)
{
    struct hml_error e;
    enum hml_status rc = hml_notebook_latest(c->p->dir, HML_NB_PLAN, plan, &e);
    if (rc != HML_ENOTFOUND) {
        if (rc) *err = e;
        return rc;
    }
    hml_fail(err, HML_EBLOCKED, "guardrail.plan_required", "no plan in the notebook: experiments start from one");
    hml_hint(err, "write the plan first: notebook write --type plan --content \"what you will try, in what order, "
                  "and why\"; then experiments create again");
    return hml__exp_refused(c, NULL, err);
}

enum hml_status hml__exp_gate_logged(struct exp_ctx *c, const char *self, struct hml_error *err)
{
    for (size_t i = 0; i < c->j->n; i++) {
        const json_t *r = c->j->recs[i];
        const char *id = hml_json_str(r, "experiment_id", "?");
        if (hml_exp_status_of(r) != HML_EXP_COMPLETED || (self && !strcmp(self, id))) continue;
        hml_fail(err, HML_EBLOCKED, "guardrail.experiment_logged", "%s ran but its result is not logged yet", id);
        hml_hint(err, "log it first: experiments log_result --experiment_id %s --verdict keep|partial|revert|inconclusive "
                      "--conclusion \"what happened and why\"", id);
        return hml__exp_refused(c, id, err);
    }
    return HML_OK;
}

static enum hml_status gate_replan(struct exp_ctx *c, const struct hml_nb_entry *plan, struct hml_error *err)
{
    long long every = hml_json_int(hml_config_get(c->p->cfg->root, "workflow"), "replan_every", REPLAN_EVERY_DEFAULT);
    size_t since = 0;
    for (size_t i = 0; i < c->j->n; i++) since += !strcmp(hml_json_str(c->j->recs[i], "plan_id", ""), plan->id);
    if (every < 1 || since < (size_t)every) return HML_OK;
    hml_fail(err, HML_EBLOCKED, "guardrail.replan", "%zu experiments since plan %s (workflow.replan_every = %lld): "
                                                    "time to step back", since, plan->id, every);
    hml_hint(err, "read what they taught (experiments journal), then write a fresh plan: notebook write --type plan "
                  "--content \"…\"; then experiments create again");
    return hml__exp_refused(c, plan->id, err);
}

enum hml_status hml__exp_gate_create(struct exp_ctx *c, char plan_id[24], struct hml_error *err)
{
    struct hml_nb_entry *plan = NULL;
    enum hml_status rc = gate_plan(c, &plan, err);
    if (!rc) rc = hml__exp_gate_logged(c, NULL, err);
    if (!rc) rc = gate_replan(c, plan, err);
    if (!rc) snprintf(plan_id, 24, "%s", plan->id);
    hml_nb_entry_free(plan);
    return rc;
}

enum hml_status hml__exp_gate_retry(struct exp_ctx *c, const char *self, const json_t *norm, struct hml_error *err)
{
    for (size_t i = 0; i < c->j->n; i++) {
        const json_t *r = c->j->recs[i];
        const char *id = hml_json_str(r, "experiment_id", "?");
        enum hml_exp_status st = hml_exp_status_of(r);
        bool ran = st == HML_EXP_COMPLETED || st == HML_EXP_CONCLUDED || st == HML_EXP_PROMOTED;
        if (!ran || (self && !strcmp(self, id)) || !json_object_get(r, "overlay") ||
            !hml_exp_overlay_equal(json_object_get(r, "overlay"), norm))
            continue;
        const json_t *res = json_object_get(r, "result"), *con = json_object_get(r, "conclusion");
        char a[40], b[40], what[200];
        snprintf(what, sizeof what, "%s %s → %s, %s", hml_json_str(res, "primary_metric", "?"),
                 hml__exp_num(a, json_object_get(res, "baseline"), false), hml__exp_num(b, json_object_get(res, "result"), false),
                 hml_json_str(res, "verdict", "?"));
        if (hml_param_bool(c->call, "human_override", false)) {
            hml__exp_guard_note(c, "do_not_retry", true, id, "the same overlay already ran as %s (%s)", id, what);
            return HML_OK;
        }
        hml_fail(err, HML_EBLOCKED, "guardrail.do_not_retry", "the same overlay already ran as %s (%s%s%s)", id, what,
                 con ? "; logged " : "", con ? hml_json_str(con, "verdict", "") : "");
        hml_hint(err, "read it (experiments journal --experiment_id %s) and change something else; to run it again on "
                      "purpose (e.g. after the data changed) a person may pass human_override=true", id);
        return hml__exp_refused(c, id, err);
    }
    return HML_OK;
}

/* ---- overlays ---------------------------------------------------------------------------------- */

enum hml_status hml__exp_merge(struct exp_ctx *c, const json_t *norm, json_t **merged, json_t **changes,
                               struct hml_error *err)
{
    json_t *m = NULL;
    enum hml_status rc = hml_exp_overlay_apply(c->p->cfg->root, norm, &m, err);
    const char *name;
    json_t *def;
    if (!rc) json_object_foreach(json_object_get(norm, "models"), name, def) {
        const json_t *now = json_object_get(json_object_get(m, "models"), name);
        if (!now) continue; /* the overlay removed it */
        if ((rc = hml__models_check_definition(m, name, now, c->p->table, "experiments", c->res, err))) break;
    }
    json_t *ch = !rc && changes ? hml_exp_config_changes(c->p->cfg->root, m) : NULL;
    if (!rc && changes && !ch) rc = oom(err);
    if (rc) {
        json_decref(m);
        return rc;
    }
    *merged = m;
    if (changes) *changes = ch;
    return HML_OK;
}

static enum hml_status file_of(struct exp_file *f, const char *id, const char *name, char *text, struct hml_error *err)
{
    if (!text) return oom(err);
    snprintf(f->rel, sizeof f->rel, "%s/%s/%s", HML_EXP_DIR_REL, id, name);
    f->text = text;
    f->len = strlen(text);
    return HML_OK;
}

enum hml_status hml__exp_set_overlay(struct exp_ctx *c, json_t *rec, const json_t *norm, const json_t *changes,
                                     struct exp_file *files, size_t *nf, struct hml_error *err)
{
    const char *id = hml_json_str(rec, "experiment_id", "?");
    char hash[65];
    hml_exp_overlay_hash(norm, hash);
    if (json_object_set(rec, "overlay", (json_t *)norm) || !hml_json_set(rec, "overlay_hash", json_string(hash)) ||
        json_object_set(rec, "config_changes", (json_t *)changes))
        return oom(err);
    size_t n = json_array_size(changes);
    if (n > 1) {
        struct hml_buf paths = HML_BUF_INIT;
        for (size_t i = 0; i < n && i < 6; i++)
            hml_buf_printf(&paths, "%s%s", i ? ", " : "", hml_json_str(json_array_get(changes, i), "path", "?"));
        hml__exp_guard_note(c, "single_variable", false, id, "the overlay changes %zu things (%s%s): if the metric "
                            "moves you will not know which one did it", n, hml_buf_str(&paths), n > 6 ? ", …" : "");
        hml_buf_free(&paths);
    }
    char *yaml = hml_yaml_emit(norm);
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_printf(&b, "# %s: merged over config/*.yaml when the experiment runs; the config itself is untouched.\n%s",
                   id, yaml ? yaml : "");
    hml_free(yaml);
    enum hml_status rc = yaml && hml_buf_ok(&b) ? file_of(&files[(*nf)++], id, "overlay.yaml", hml_buf_detach(&b), err)
                                               : oom(err);
    hml_buf_free(&b);
    return rc;
}

/* The overlay as the changes it makes, for answers. */
static void put_changes(struct hml_buf *t, const json_t *changes)
{
    if (!json_array_size(changes)) {
        hml_buf_puts(t, "Changes: none — this runs the baseline configuration.\n");
        return;
    }
    hml_buf_puts(t, "Changes:");
    size_t i;
    json_t *ch;
    json_array_foreach(changes, i, ch) {
        /* ASCII-escaped, so that cutting at 60 bytes cannot split a character. */
        char *o = json_dumps(json_object_get(ch, "old"), JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        char *n = json_dumps(json_object_get(ch, "new"), JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        hml_buf_printf(t, "%s`%s`: %.60s → %.60s", i ? "; " : " ", hml_json_str(ch, "path", "?"), o ? o : "(unset)",
                       n ? n : "(unset)");
        hml_free(o);
        hml_free(n);
    }
    hml_buf_putc(t, '\n');
}

/* ---- create ----------------------------------------------------------------------------------------- */

enum hml_status hml__exp_hypothesis_file(const json_t *rec, struct exp_file *f, struct hml_error *err)
{
    struct hml_buf b = HML_BUF_INIT;
    const char *id = hml_json_str(rec, "experiment_id", "?");
    hml_buf_printf(&b, "# %s · %s\n\n## Hypothesis\n\n%s\n", id, hml_json_str(rec, "description", ""),
                   hml_json_str(rec, "hypothesis", ""));
    const char *const extra[][2] = {{"parent_id", "Parent"}, {"phase", "Phase"}, {"plan_id", "Plan"}};
    for (size_t i = 0; i < 3; i++)
        if (hml_json_str(rec, extra[i][0], NULL)) hml_buf_printf(&b, "\n%s: %s", extra[i][1], hml_json_str(rec, extra[i][0], ""));
    hml_buf_printf(&b, "\nCreated: %s\n", hml_json_str(rec, "created_at", ""));
    enum hml_status rc = hml_buf_ok(&b) ? file_of(f, id, "hypothesis.md", hml_buf_detach(&b), err) : oom(err);
    hml_buf_free(&b);
    return rc;
}

/* The first line of the hypothesis, cut to a description's length. */
static void default_description(const char *hyp, char *out, size_t cap)
{
    size_t i = 0, chars = 0;
    while (hyp[i] && hyp[i] != '\n' && i + 4 < cap) {
        if (((unsigned char)hyp[i] & 0xC0) != 0x80 && chars++ == 80) break;
        out[i] = hyp[i];
        i++;
    }
    out[i] = 0;
}

enum hml_status hml__exp_new_record(struct exp_ctx *c, const char *plan_id, json_t **out, struct hml_error *err)
{
    const char *hyp, *desc, *phase, *parent = hml_param_str(c->call, "parent_id", NULL);
    enum hml_status rc = hml__exp_text(c->call, "hypothesis", true, HML_EXP_TEXT_MAX, &hyp, err);
    if (!rc) rc = hml__exp_text(c->call, "description", false, DESCRIPTION_MAX, &desc, err);
    if (!rc) rc = hml__exp_text(c->call, "phase", false, PHASE_MAX, &phase, err);
    json_t *pr = NULL;
    if (!rc && parent) rc = hml_exp_lookup(c->j, parent, &pr, err);
    if (rc == HML_ENOTFOUND) hml_error_prefix(err, "parent_id");
    char id[24], dflt[400];
    if (!rc) rc = hml_exp_next_id(c->j, c->p->dir, id, err);
    if (rc) return rc;
    if (!desc) default_description(hyp, dflt, sizeof dflt);
    *out = hml_exp_record_new(id, desc ? desc : dflt, hyp, pr ? hml_json_str(pr, "experiment_id", NULL) : NULL, phase,
                              plan_id);
    return *out ? HML_OK : oom(err);
}

static enum hml_status a_create(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_SKIP, &c, err);
    if (rc) return rc;
    char plan_id[24] = "";
    json_t *rec = NULL;
    struct exp_file files[1] = {{{0}, NULL, 0}};
    rc = hml__exp_new_record(&c, NULL, &rec, err); /* parameters first: a typo is not a gate matter */
    if (!rc) rc = hml__exp_gate_create(&c, plan_id, err);
    if (!rc) rc = hml_json_set(rec, "plan_id", json_string(plan_id)) ? HML_OK : oom(err);
    if (!rc) rc = hml__exp_hypothesis_file(rec, &files[0], err);
    char id[24];
    snprintf(id, sizeof id, "%s", rec ? hml_json_str(rec, "experiment_id", "") : "");
    if (!rc) rc = hml__exp_commit(&c, &rec, 1, files, 1, NULL, err);
    else json_decref(rec), hml__exp_files_free(files, 1);
    if (!rc) {
        long long every = hml_json_int(hml_config_get(c.p->cfg->root, "workflow"), "replan_every", REPLAN_EVERY_DEFAULT);
        size_t since = 0;
        for (size_t i = 0; i < c.j->n; i++) since += !strcmp(hml_json_str(c.j->recs[i], "plan_id", ""), plan_id);
        hml_buf_printf(&res->text, "Created %s under plan %s (%zu of %lld experiments before a fresh plan).\n"
                                   "Next: experiments write_overlay --experiment_id %s --overlay '{\"models.<name>.params.<key>\": …}' "
                                   "(or '{}' to run the baseline), then experiments run --experiment_id %s\n",
                       id, plan_id, since, every, id, id);
        json_object_set_new(res->data, "experiment_id", json_string(id));
        json_object_set(res->data, "experiment", hml_exp_find(c.j, id));
    }
    hml__exp_close(&c);
    return rc;
}

/* ---- write_overlay ---------------------------------------------------------------------------------- */

static enum hml_status frozen(const char *id, const char *what, struct hml_error *err)
{
    hml_fail(err, HML_ECONFLICT, "experiments", "%s has %s; its overlay and result are part of the record", id, what);
    return hml_hint(err, "start a follow-up instead: experiments create --parent_id %s --hypothesis \"…\"", id);
}

static enum hml_status a_write_overlay(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_IF_ANY, &c, err);
    if (rc) return rc;
    json_t *found = NULL, *rec = NULL, *norm = NULL, *merged = NULL, *changes = NULL, *meta = NULL;
    struct exp_file files[1] = {{{0}, NULL, 0}};
    size_t nf = 0;
    const char *id = hml_param_str(call, "experiment_id", "");
    rc = hml_exp_lookup(c.j, id, &found, err);
    char idbuf[24]; /* the canonical id, kept past the commit that replaces the journal */
    if (!rc) id = (snprintf(idbuf, sizeof idbuf, "%s", hml_json_str(found, "experiment_id", id)), idbuf);
    if (!rc && hml_exp_status_of(found) != HML_EXP_CREATED)
        rc = frozen(id, hml_exp_status_of(found) == HML_EXP_ABANDONED ? "been closed" : "run", err);
    if (!rc) rc = hml_exp_overlay_normalize(hml_param_json(call, "overlay"), &norm, &meta, err);
    if (!rc) rc = hml__exp_merge(&c, norm, &merged, &changes, err);
    if (!rc) rc = hml__exp_gate_retry(&c, id, norm, err);
    if (!rc && !(rec = json_deep_copy(found))) rc = oom(err);
    if (!rc) rc = hml__exp_set_overlay(&c, rec, norm, changes, files, &nf, err);
    if (!rc) {
        rc = hml__exp_commit(&c, &rec, 1, files, nf, NULL, err);
    } else {
        json_decref(rec);
        hml__exp_files_free(files, nf);
    }
    if (!rc) {
        if (json_object_size(meta))
            hml_result_warn(res, "description/hypothesis inside an overlay are notes, not config: they were left out");
        hml_buf_printf(&res->text, "Overlay of %s written to experiments/%s/overlay.yaml (the config is untouched).\n", id, id);
        put_changes(&res->text, changes);
        hml_buf_printf(&res->text, "Next: experiments run --experiment_id %s\n", id);
        json_object_set_new(res->data, "experiment_id", json_string(id));
        json_object_set(res->data, "overlay", norm);
        json_object_set(res->data, "changes", changes);
    }
    json_decref(norm);
    json_decref(meta);
    json_decref(merged);
    json_decref(changes);
    hml__exp_close(&c);
    return rc;
}

/* ---- log_result -------------------------------------------------------------------------------------- */

static enum hml_status conclusion_file(const json_t *rec, struct exp_file *f, struct hml_error *err)
{
    const json_t *con = json_object_get(rec, "conclusion"), *r = json_object_get(rec, "result");
    const char *id = hml_json_str(rec, "experiment_id", "?");
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_printf(&b, "# %s · conclusion\n\nVerdict: %s\n", id, hml_json_str(con, "verdict", "?"));
    if (r) {
        char x[40], y[40], z[40];
        hml_buf_printf(&b, "Result: %s %s → %s (Δ %s), paired test: %s\n", hml_json_str(r, "primary_metric", "?"),
                       hml__exp_num(x, json_object_get(r, "baseline"), false),
                       hml__exp_num(y, json_object_get(r, "result"), false), hml__exp_num(z, json_object_get(r, "delta"), true),
                       hml_json_str(r, "verdict", "?"));
    } else {
        hml_buf_puts(&b, "Result: never ran\n");
    }
    hml_buf_printf(&b, "\n%s\n", hml_json_str(con, "text", ""));
    if (hml_json_str(con, "learnings", NULL)) hml_buf_printf(&b, "\n## Learnings\n\n%s\n", hml_json_str(con, "learnings", ""));
    if (hml_json_str(con, "next_steps", NULL)) hml_buf_printf(&b, "\n## Next steps\n\n%s\n", hml_json_str(con, "next_steps", ""));
    enum hml_status rc = hml_buf_ok(&b) ? file_of(f, id, "conclusion.md", hml_buf_detach(&b), err) : oom(err);
    hml_buf_free(&b);
    return rc;
}

static enum hml_status build_conclusion(const struct hml_call *call, json_t **out, struct hml_error *err)
{
    const char *text, *learn, *next;
    enum hml_status rc = hml__exp_text(call, "conclusion", true, HML_EXP_TEXT_MAX, &text, err);
    if (!rc) rc = hml__exp_text(call, "learnings", false, HML_EXP_TEXT_MAX, &learn, err);
    if (!rc) rc = hml__exp_text(call, "next_steps", false, HML_EXP_TEXT_MAX, &next, err);
    if (rc) return rc;
    json_t *con = json_pack("{s:s,s:s}", "verdict", hml_param_str(call, "verdict", "inconclusive"), "text", text);
    bool ok = con != NULL;
    if (ok && learn) ok = hml_json_set(con, "learnings", json_string(learn));
    if (ok && next) ok = hml_json_set(con, "next_steps", json_string(next));
    if (!ok) {
        json_decref(con);
        return oom(err);
    }
    *out = con;
    return HML_OK;
}

static void log_next_step(struct hml_buf *t, const json_t *rec)
{
    const char *id = hml_json_str(rec, "experiment_id", "?"), *v = hml_json_str(json_object_get(rec, "conclusion"), "verdict", "");
    const char *test = hml_json_str(json_object_get(rec, "result"), "verdict", NULL);
    bool keep = !strcmp(v, "keep") || !strcmp(v, "partial");
    if (keep && test && !strcmp(test, "improved"))
        hml_buf_printf(t, "Next: experiments promote --experiment_id %s writes its overlay into the config.\n", id);
    else if (keep && test)
        hml_buf_printf(t, "Note: the paired test said %s, so promote will refuse; the config stays as it is.\n"
                          "Next: a follow-up (experiments create --parent_id %s --hypothesis \"…\") or another idea.\n", test, id);
    else
        hml_buf_puts(t, "Next: experiments create --hypothesis \"…\" for the next question.\n");
}

static enum hml_status a_log_result(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_SKIP, &c, err);
    if (rc) return rc;
    json_t *found = NULL, *rec = NULL, *con = NULL;
    struct exp_file files[1] = {{{0}, NULL, 0}};
    const char *id = hml_param_str(call, "experiment_id", "");
    rc = hml_exp_lookup(c.j, id, &found, err);
    char idbuf[24]; /* the canonical id, kept past the commit that replaces the journal */
    if (!rc) id = (snprintf(idbuf, sizeof idbuf, "%s", hml_json_str(found, "experiment_id", id)), idbuf);
    enum hml_exp_status st = rc ? HML_EXP_CREATED : hml_exp_status_of(found);
    if (!rc && st == HML_EXP_PROMOTED) {
        hml_fail(err, HML_ECONFLICT, "experiments", "%s is promoted; its conclusion is part of the record", id);
        rc = hml_hint(err, "write second thoughts in the notebook: notebook write --type finding --experiment_id %s "
                           "--content \"…\"", id);
    }
    if (!rc) rc = build_conclusion(call, &con, err);
    char now[32] = "";
    if (!rc) {
        time_t t = time(NULL);
        struct tm tm;
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
        rc = hml_json_set(con, "at", json_string(now)) ? HML_OK : oom(err);
    }
    if (!rc && !(rec = json_deep_copy(found))) rc = oom(err);
    const char *nst = st == HML_EXP_CREATED || st == HML_EXP_ABANDONED ? "abandoned" : "concluded";
    if (!rc && (json_object_set(rec, "conclusion", con) || !hml_json_set(rec, "status", json_string(nst)))) rc = oom(err);
    if (!rc) rc = conclusion_file(rec, &files[0], err);
    if (!rc) {
        rc = hml__exp_commit(&c, &rec, 1, files, 1, NULL, err);
    } else {
        json_decref(rec);
        hml__exp_files_free(files, 1);
    }
    if (!rc) {
        const json_t *now_rec = hml_exp_find(c.j, id);
        hml_buf_printf(&res->text, "Logged %s: %s%s%s (status %s; EXPERIMENT_LOG.md regenerated).\n", id,
                       hml_json_str(con, "verdict", "?"), st >= HML_EXP_CONCLUDED && st != HML_EXP_ABANDONED ? ", replacing the earlier conclusion" : "",
                       st == HML_EXP_CREATED ? ", without a run" : "", nst);
        log_next_step(&res->text, now_rec);
        json_object_set_new(res->data, "experiment_id", json_string(id));
        json_object_set_new(res->data, "status", json_string(nst));
        json_object_set(res->data, "conclusion", con);
    }
    json_decref(con);
    hml__exp_close(&c);
    return rc;
}

/* ---- reading: journal and compare ---------------------------------------------------------------- */

static void put_cell(struct hml_buf *t, const char *s, size_t chars)
{
    size_t n = 0;
    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80 && n++ == chars) {
            hml_buf_puts(t, "…");
            return;
        }
        if (*s == '\n' || *s == '|') hml_buf_putc(t, *s == '|' ? '/' : ' ');
        else hml_buf_putc(t, *s);
    }
}

/* One record for a listing: everything but the trials' fold numbers. */
static json_t *brief(const json_t *rec)
{
    json_t *b = json_deep_copy(rec);
    if (!b) return NULL;
    json_object_set_new(b, "trials", json_integer((json_int_t)json_array_size(json_object_get(rec, "trials"))));
    return b;
}

static void journal_row(struct hml_buf *t, const json_t *r)
{
    const json_t *res = json_object_get(r, "result"), *con = json_object_get(r, "conclusion");
    char x[40];
    hml_buf_printf(t, "| %s | %s | ", hml_json_str(r, "experiment_id", "?"), hml_json_str(r, "status", "?"));
    put_cell(t, hml_json_str(r, "description", ""), 60);
    if (res) hml_buf_printf(t, " | %s Δ %s | %s", hml_json_str(res, "primary_metric", "?"),
                            hml__exp_num(x, json_object_get(res, "delta"), true), hml_json_str(res, "verdict", "?"));
    else hml_buf_puts(t, " | – | –");
    hml_buf_printf(t, " | %s |\n", con ? hml_json_str(con, "verdict", "–") : "–");
}

static enum hml_status a_journal(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_SKIP, &c, err);
    if (rc) return rc;
    const char *one = hml_param_str(call, "experiment_id", NULL), *status = hml_param_str(call, "status", NULL);
    long long last_n = hml_param_int(call, "last_n", JOURNAL_DEFAULT);
    if (last_n < 1 || last_n > JOURNAL_MAX) {
        hml_fail(err, HML_EINVAL, "experiments", "last_n must be 1 to %d, got %lld", JOURNAL_MAX, last_n);
        rc = hml_hint(err, "pass e.g. last_n=20");
    }
    json_t *rec = NULL;
    if (!rc && one && !(rc = hml_exp_lookup(c.j, one, &rec, err))) {
        hml_exp_log_render(&(struct hml_exp_journal){.recs = &rec, .n = 1}, &res->text);
        json_object_set(res->data, "experiment", rec);
    } else if (!rc) {
        json_t *list = json_array();
        size_t shown = 0, total = 0;
        for (size_t i = c.j->n; i-- > 0;) {
            const json_t *r = c.j->recs[i];
            if (status && strcmp(hml_json_str(r, "status", ""), status)) continue;
            total++;
            if (shown >= (size_t)last_n) continue;
            if (!shown++) hml_buf_puts(&res->text, "| id | status | description | primary Δ | test | verdict |\n|---|---|---|---|---|---|\n");
            journal_row(&res->text, r);
            json_array_append_new(list, brief(r));
        }
        if (!total) hml_buf_printf(&res->text, "No experiments%s%s yet. Start with experiments create --hypothesis \"…\"\n",
                                   status ? " with status " : "", status ? status : "");
        else if (total > shown) hml_buf_printf(&res->text, "… %zu older (last_n=%zu shows more)\n", total - shown, total);
        json_object_set_new(res->data, "experiments", list);
        json_object_set_new(res->data, "total", json_integer((json_int_t)total));
    }
    hml__exp_close(&c);
    return rc;
}

static enum hml_status a_compare(struct hml_call *call, struct hml_result *res, struct hml_error *err)
{
    json_t *ids = hml_param_json(call, "experiment_ids");
    if (json_array_size(ids) < 2 || json_array_size(ids) > COMPARE_MAX) {
        hml_fail(err, HML_EINVAL, "experiments", "experiment_ids must name 2 to %d experiments, got %zu", COMPARE_MAX,
                 json_array_size(ids));
        return hml_hint(err, "pass e.g. experiment_ids=[\"exp-001\", \"exp-002\"] (experiments journal lists them)");
    }
    struct exp_ctx c;
    enum hml_status rc = hml__exp_open(call, res, HML_TABLE_SKIP, &c, err);
    if (rc) return rc;
    json_t *recs[COMPARE_MAX];
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(ids, i, v) if (!rc) rc = hml_exp_lookup(c.j, json_string_value(v), &recs[n++], err);
    if (!rc) {
        json_t *rows = json_array();
        hml_buf_puts(&res->text, "| id | status | changes | metric | baseline | result | Δ | test | verdict |\n"
                                 "|---|---|---|---|---|---|---|---|---|\n");
        const char *metric = NULL, *base_hash = NULL;
        bool same_metric = true, same_base = true;
        for (i = 0; i < n; i++) {
            const json_t *r = recs[i], *rr = json_object_get(r, "result"), *con = json_object_get(r, "conclusion");
            char a[40], b[40], d[40];
            hml_buf_printf(&res->text, "| %s | %s | %zu | %s | %s | %s | %s | %s | %s |\n", hml_json_str(r, "experiment_id", "?"),
                           hml_json_str(r, "status", "?"), json_array_size(json_object_get(r, "config_changes")),
                           hml_json_str(rr, "primary_metric", "–"), hml__exp_num(a, json_object_get(rr, "baseline"), false),
                           hml__exp_num(b, json_object_get(rr, "result"), false), hml__exp_num(d, json_object_get(rr, "delta"), true),
                           hml_json_str(rr, "verdict", "not run"), con ? hml_json_str(con, "verdict", "–") : "–");
            const char *m = hml_json_str(rr, "primary_metric", NULL);
            const char *bh = hml_json_str(json_array_get(json_object_get(r, "trials"), 0), "base_config_hash", NULL);
            if (m && metric && strcmp(m, metric)) same_metric = false;
            if (bh && base_hash && strcmp(bh, base_hash)) same_base = false;
            if (m) metric = m;
            if (bh) base_hash = bh;
            json_array_append_new(rows, brief(r));
        }
        if (!same_metric) hml_buf_puts(&res->text, "Note: they were judged on different metrics; compare the verdicts, not the numbers.\n");
        if (!same_base) hml_buf_puts(&res->text, "Note: their baselines differ (the config changed between them); compare "
                                                 "the deltas, not the results.\n");
        json_object_set_new(res->data, "experiments", rows);
    }
    hml__exp_close(&c);
    return rc;
}

/* ---- the tool table ---------------------------------------------------------------------------------- */

static const struct hml_param params[] = {
    {"description", HML_P_STRING, NULL, "a short title"},
    {"hypothesis", HML_P_STRING, NULL, "what changes, why, by how much"},
    {"parent_id", HML_P_STRING, NULL, "experiment followed up"},
    {"phase", HML_P_STRING, NULL, "workflow phase"},
    {"experiment_id", HML_P_STRING, NULL, "exp-NNN"},
    {"overlay", HML_P_OBJECT, NULL, "partial config (dot keys); {} = baseline"},
    {"primary_metric", HML_P_STRING, NULL, "verdict metric (default: the backtest's)"},
    {"baseline_run_id", HML_P_STRING, NULL, "reuse this run as the baseline"},
    {"conclusion", HML_P_STRING, NULL, "what happened and why"},
    {"verdict", HML_P_STRING, "keep|partial|revert|inconclusive", "your judgement"},
    {"learnings", HML_P_STRING, NULL, "what it taught"},
    {"next_steps", HML_P_STRING, NULL, "what to try next"},
    {"human_override", HML_P_BOOLEAN, NULL, "a person accepts the guardrail's risk"},
    {"experiment_ids", HML_P_STRINGS, NULL, "experiments to compare"},
    {"last_n", HML_P_INTEGER, NULL, "how many (default 20)"},
    {"status", HML_P_STRING, "created|completed|concluded|promoted|abandoned", "only these"},
    {"search_space", HML_P_OBJECT, NULL, "{axes: [{key, type, low, high, log, values}], budget}"},
    {"budget", HML_P_INTEGER, NULL, "explore: trials (default 20)"},
    {"warm_start_from", HML_P_STRING, NULL, "explore: an earlier expl-NNN"},
    {"trial", HML_P_INTEGER, NULL, "promote_trial: trial number (default: best)"},
    {0},
};

static const struct hml_action actions[] = {
    {"create", a_create, "description hypothesis parent_id phase", "hypothesis", "start an experiment (needs a notebook plan)", 0},
    {"write_overlay", a_write_overlay, "experiment_id overlay human_override", "experiment_id overlay",
     "set the config changes to test", 0},
    {"run", hml__exp_run, "experiment_id primary_metric baseline_run_id human_override", "experiment_id",
     "baseline vs config+overlay on the same folds; paired verdict", HML_ACT_LONG},
    {"log_result", a_log_result, "experiment_id conclusion verdict learnings next_steps", "experiment_id conclusion",
     "record the conclusion (required before the next experiment)", 0},
    {"promote", hml__exp_promote, "experiment_id primary_metric human_override", "experiment_id",
     "write a kept, improved overlay into the config", 0},
    {"explore", hml__exp_explore, "search_space budget primary_metric warm_start_from", "search_space",
     "TPE search over config overlays; trials share the cache", HML_ACT_LONG},
    {"promote_trial", hml__exp_promote_trial, "experiment_id trial description hypothesis", "experiment_id",
     "a trial becomes an experiment (still run and logged)", 0},
    {"quick_run", hml__exp_quick_run,
     "description hypothesis overlay primary_metric baseline_run_id parent_id phase human_override", "hypothesis overlay",
     "create + write_overlay + run in one call", HML_ACT_LONG},
    {"compare", a_compare, "experiment_ids", "experiment_ids", "results side by side", HML_ACT_READONLY},
    {"journal", a_journal, "last_n status experiment_id", NULL, "recent experiments, or one in full", HML_ACT_READONLY},
    {0},
};

const struct hml_tool hml_tool_experiments = {
    .name = "experiments",
    .title = "hypothesis-driven experiments",
    .description =
        "Hypothesis-driven experiments on config overlays. Actions: create (needs a notebook plan), write_overlay, "
        "run (vs the baseline; paired verdict over folds), log_result, promote (overlay into the config), quick_run "
        "(create+overlay+run), explore (TPE over overlays), promote_trial, compare, journal. Order is enforced; "
        "refusals name the next call.",
    .params = params,
    .actions = actions,
};
