/* experiment.c — the experiment journal (load, newest-line-wins, ids, writes under a
 * lock) and overlays (normalise, compare, apply, diff). The statistics of a verdict are
 * in experiment_stats.c, the generated EXPERIMENT_LOG.md in experiment_log.c. */
#include "harness/experiment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/config.h"
#include "harness/log.h"

#define LOCK_WAIT_MS 10000
#define WHERE "experiments"

const char *const hml_exp_status_names[HML_EXP_STATUSES] = {"created", "completed", "concluded", "promoted",
                                                           "abandoned"};

enum hml_exp_status hml_exp_status_of(const json_t *rec)
{
    const char *s = hml_json_str(rec, "status", "");
    for (int i = 0; i < HML_EXP_STATUSES; i++)
        if (!strcmp(s, hml_exp_status_names[i])) return (enum hml_exp_status)i;
    return HML_EXP_CREATED;
}

unsigned hml_exp_id_seq(const char *id)
{
    if (!id || strncmp(id, "exp-", 4)) return 0;
    const char *d = id + 4;
    unsigned long v = 0;
    size_t n = 0;
    for (; d[n] >= '0' && d[n] <= '9'; n++) {
        v = v * 10 + (unsigned long)(d[n] - '0');
        if (v > HML_EXP_SEQ_MAX) return 0;
    }
    return n && !d[n] ? (unsigned)v : 0;
}

static enum hml_status oom(struct hml_error *err)
{
    return hml_fail(err, HML_ENOMEM, WHERE, "out of memory");
}

static void now_iso(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", gmtime_r(&ts.tv_sec, &tm));
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* ---- loading -------------------------------------------------------------------------------- */

struct line_ref {
    unsigned seq;
    size_t order; /* position in the file: later lines win */
    json_t *rec;
};

static int by_seq_then_order(const void *a, const void *b)
{
    const struct line_ref *x = a, *y = b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Parses one complete line into refs[*n] (or counts it as skipped). */
static enum hml_status parse_line(struct hml_exp_journal *j, const char *line, size_t len, struct line_ref *refs,
                                  size_t *n, struct hml_error *err)
{
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) k++;
    if (k == len) return HML_OK;
    json_t *o = NULL;
    struct hml_error e;
    enum hml_status rc = hml_json_parse(line, len, &o, &e);
    if (rc == HML_ENOMEM) return oom(err);
    unsigned seq = json_is_object(o) ? hml_exp_id_seq(hml_json_str(o, "experiment_id", NULL)) : 0;
    if (!seq) {
        hml_log_warn("%s line %zu: %s; skipped", HML_EXP_JOURNAL_REL, j->lines,
                     rc ? e.message : "not a record with an experiment_id like exp-001");
        json_decref(o);
        j->skipped++;
        return HML_OK;
    }
    refs[*n] = (struct line_ref){seq, *n, o};
    (*n)++;
    return HML_OK;
}

/* Keeps the last line of each id, in ascending id order. */
static enum hml_status collect(struct hml_exp_journal *j, struct line_ref *refs, size_t n, struct hml_error *err)
{
    qsort(refs, n, sizeof *refs, by_seq_then_order);
    j->recs = hml_calloc(n + 1, sizeof *j->recs);
    if (!j->recs) return oom(err);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && refs[i + 1].seq == refs[i].seq) {
            json_decref(refs[i].rec);
        } else {
            j->recs[j->n++] = refs[i].rec;
        }
        refs[i].rec = NULL;
    }
    return HML_OK;
}

enum hml_status hml_exp_journal_parse(const char *text, size_t len, struct hml_exp_journal **out,
                                      struct hml_error *err)
{
    if (len > HML_EXP_JOURNAL_MAX) {
        hml_fail(err, HML_ELIMIT, WHERE, "the journal is over %zu MiB", HML_EXP_JOURNAL_MAX >> 20);
        return hml_hint(err, "move experiments/journal.jsonl aside to start a new one (its records stay readable there)");
    }
    struct hml_exp_journal *j = hml_calloc(1, sizeof *j);
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    struct line_ref *refs = j ? hml_calloc(cap, sizeof *refs) : NULL;
    if (!refs) {
        hml_free(j);
        return oom(err);
    }
    size_t pos = 0, n = 0;
    enum hml_status rc = HML_OK;
    while (!rc && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) { /* a record is committed by its newline: this one never was */
            j->torn_bytes = len - pos;
            hml_log_warn("%s: ignoring an incomplete last line (%zu bytes, a write that did not finish); the next "
                         "write removes it", HML_EXP_JOURNAL_REL, j->torn_bytes);
            break;
        }
        j->lines++;
        rc = parse_line(j, text + pos, (size_t)(nl - (text + pos)), refs, &n, err);
        pos = (size_t)(nl - text) + 1;
    }
    j->kept_len = len - j->torn_bytes;
    if (!rc && !(j->kept = hml_malloc(j->kept_len + 1))) rc = oom(err);
    if (!rc) {
        if (j->kept_len) memcpy(j->kept, text, j->kept_len);
        j->kept[j->kept_len] = 0;
        rc = collect(j, refs, n, err);
    }
    if (rc)
        for (size_t i = 0; i < n; i++) json_decref(refs[i].rec);
    hml_free(refs);
    if (rc) {
        hml_exp_journal_free(j);
        return rc;
    }
    *out = j;
    return HML_OK;
}

enum hml_status hml_exp_journal_load(const char *project_dir, struct hml_exp_journal **out, struct hml_error *err)
{
    char *path = hml_path_join(project_dir, HML_EXP_JOURNAL_REL), *text = NULL;
    size_t len = 0;
    if (!path) return oom(err);
    enum hml_status rc = hml_path_exists(path) ? hml_read_file(path, HML_EXP_JOURNAL_MAX, &text, &len, err) : HML_OK;
    hml_free(path);
    if (rc == HML_ELIMIT) len = HML_EXP_JOURNAL_MAX + 1; /* the same message as parse's */
    if (!rc || rc == HML_ELIMIT) rc = hml_exp_journal_parse(text ? text : "", len, out, err);
    hml_free(text);
    return rc;
}

void hml_exp_journal_free(struct hml_exp_journal *j)
{
    if (!j) return;
    for (size_t i = 0; i < j->n; i++) json_decref(j->recs[i]);
    hml_free(j->recs);
    hml_free(j->kept);
    hml_buf_free(&j->added);
    hml_free(j);
}

/* Index of the record with seq, or where it would go. */
static size_t find_pos(const struct hml_exp_journal *j, unsigned seq, bool *found)
{
    size_t lo = 0, hi = j->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        unsigned s = hml_exp_id_seq(hml_json_str(j->recs[mid], "experiment_id", ""));
        if (s < seq) lo = mid + 1;
        else hi = mid;
    }
    *found = lo < j->n && hml_exp_id_seq(hml_json_str(j->recs[lo], "experiment_id", "")) == seq;
    return lo;
}

json_t *hml_exp_find(const struct hml_exp_journal *j, const char *id)
{
    unsigned seq = hml_exp_id_seq(id);
    bool found;
    size_t i = seq ? find_pos(j, seq, &found) : 0;
    return seq && found ? j->recs[i] : NULL;
}

enum hml_status hml_exp_lookup(const struct hml_exp_journal *j, const char *id, json_t **out, struct hml_error *err)
{
    *out = hml_exp_find(j, id);
    if (*out) return HML_OK;
    hml_fail(err, HML_ENOTFOUND, WHERE, "no experiment '%s'", id);
    if (!j->n) return hml_hint(err, "there are no experiments yet: experiments create --hypothesis \"…\"");
    const char *names[64];
    size_t n = 0;
    for (size_t i = j->n; i-- > 0 && n < 64;) names[n++] = hml_json_str(j->recs[i], "experiment_id", "?");
    return hml_error_choices(err, id, names, n);
}

/* The largest exp-NNN among the directories of experiments/ (0 when none). */
static unsigned max_dir_seq(const char *project_dir)
{
    char *dir = hml_path_join(project_dir, HML_EXP_DIR_REL);
    DIR *d = dir ? opendir(dir) : NULL;
    unsigned best = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        unsigned s = hml_exp_id_seq(e->d_name);
        if (s > best) best = s;
    }
    if (d) closedir(d);
    hml_free(dir);
    return best;
}

enum hml_status hml_exp_next_id(const struct hml_exp_journal *j, const char *project_dir, char out[24],
                                struct hml_error *err)
{
    unsigned seq = j->n ? hml_exp_id_seq(hml_json_str(j->recs[j->n - 1], "experiment_id", "")) : 0;
    unsigned dirs = project_dir ? max_dir_seq(project_dir) : 0;
    if (dirs > seq) seq = dirs;
    if (seq >= HML_EXP_SEQ_MAX) {
        hml_fail(err, HML_ELIMIT, WHERE, "the project has used every experiment id up to exp-%u", HML_EXP_SEQ_MAX);
        return hml_hint(err, "start a new project for further experiments");
    }
    snprintf(out, 24, "exp-%03u", seq + 1);
    return HML_OK;
}

json_t *hml_exp_record_new(const char *id, const char *description, const char *hypothesis, const char *parent_id,
                           const char *phase, const char *plan_id)
{
    char now[32];
    now_iso(now);
    json_t *r = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:[]}", "experiment_id", id, "rev", 0, "created_at", now,
                          "updated_at", now, "description", description ? description : "", "hypothesis",
                          hypothesis ? hypothesis : "", "status", hml_exp_status_names[HML_EXP_CREATED], "trials");
    bool ok = r != NULL;
    if (ok && parent_id) ok = hml_json_set(r, "parent_id", json_string(parent_id));
    if (ok && phase) ok = hml_json_set(r, "phase", json_string(phase));
    if (ok && plan_id) ok = hml_json_set(r, "plan_id", json_string(plan_id));
    if (!ok) {
        json_decref(r);
        return NULL;
    }
    return r;
}

enum hml_status hml_exp_journal_put(struct hml_exp_journal *j, json_t *rec, struct hml_error *err)
{
    unsigned seq = hml_exp_id_seq(hml_json_str(rec, "experiment_id", NULL));
    if (!seq) {
        json_decref(rec);
        hml_fail(err, HML_EINVAL, WHERE, "a journal record needs an experiment_id like exp-001");
        return hml_hint(err, "this is a bug in the caller: report it");
    }
    bool found;
    size_t at = find_pos(j, seq, &found);
    char now[32];
    now_iso(now);
    json_int_t rev = found ? hml_json_int(j->recs[at], "rev", 0) + 1 : 1;
    if (!hml_json_set(rec, "rev", json_integer(rev)) || !hml_json_set(rec, "updated_at", json_string(now))) {
        json_decref(rec);
        return oom(err);
    }
    char *line = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!line) {
        json_decref(rec);
        return oom(err);
    }
    size_t len = strlen(line);
    if (len > HML_EXP_LINE_MAX) {
        hml_free(line);
        json_decref(rec);
        hml_fail(err, HML_ELIMIT, WHERE, "the record of exp-%03u is %zu bytes, over the %zu KiB a journal line may hold",
                 seq, len, HML_EXP_LINE_MAX >> 10);
        return hml_hint(err, "shorten the conclusion or learnings, or start a new experiment (fewer trials per record)");
    }
    if (!found) {
        json_t **grown = hml_realloc(j->recs, (j->n + 1) * sizeof *grown);
        if (!grown) {
            hml_free(line);
            json_decref(rec);
            return oom(err);
        }
        j->recs = grown;
        memmove(&j->recs[at + 1], &j->recs[at], (j->n - at) * sizeof *j->recs);
        j->recs[at] = NULL;
        j->n++;
    }
    hml_buf_append(&j->added, line, len);
    hml_buf_putc(&j->added, '\n');
    hml_free(line);
    if (!hml_buf_ok(&j->added)) {
        if (!found) { /* undo the empty slot */
            memmove(&j->recs[at], &j->recs[at + 1], (j->n - at - 1) * sizeof *j->recs);
            j->n--;
        }
        json_decref(rec);
        return oom(err);
    }
    json_decref(j->recs[at]);
    j->recs[at] = rec;
    return HML_OK;
}

static enum hml_status stage(struct hml_txn *txn, const char *project_dir, const char *rel, const char *a, size_t an,
                             const char *b, size_t bn, struct hml_error *err)
{
    char *path = hml_path_join(project_dir, rel), *text = hml_malloc(an + bn + 1);
    enum hml_status rc = path && text ? HML_OK : oom(err);
    if (!rc) {
        if (an) memcpy(text, a, an);
        if (bn) memcpy(text + an, b, bn);
        rc = hml_txn_write(txn, path, text, an + bn, err);
    }
    hml_free(path);
    hml_free(text);
    return rc;
}

enum hml_status hml_exp_journal_stage(const struct hml_exp_journal *j, const char *project_dir, struct hml_txn *txn,
                                      struct hml_error *err)
{
    if (!hml_buf_ok(&j->added)) return oom(err);
    if (j->kept_len + j->added.len > HML_EXP_JOURNAL_MAX) {
        hml_fail(err, HML_ELIMIT, WHERE, "the journal would grow over %zu MiB", HML_EXP_JOURNAL_MAX >> 20);
        return hml_hint(err, "move experiments/journal.jsonl aside to start a new one");
    }
    enum hml_status rc = stage(txn, project_dir, HML_EXP_JOURNAL_REL, j->kept, j->kept_len, j->added.p, j->added.len, err);
    struct hml_buf md = HML_BUF_INIT;
    if (!rc) hml_exp_log_render(j, &md);
    if (!rc && !hml_buf_ok(&md)) rc = oom(err);
    if (!rc) rc = stage(txn, project_dir, HML_EXP_LOG_REL, md.p, md.len, NULL, 0, err);
    hml_buf_free(&md);
    return rc;
}

/* ---- the writers' lock ------------------------------------------------------------------------ */

static enum hml_status io_fail(struct hml_error *err, const char *what, const char *path)
{
    hml_fail(err, HML_EIO, WHERE, "cannot %s '%s': %s", what, path, strerror(errno));
    return hml_hint(err, "check that the project directory is writable and the disk is not full");
}

enum hml_status hml_exp_lock(const char *project_dir, int *fd, struct hml_error *err)
{
    *fd = -1;
    char *dir = hml_path_join(project_dir, HML_EXP_DIR_REL);
    if (!dir) return oom(err);
    enum hml_status rc = hml_mkdirs(dir, err);
    int f = rc ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!rc && f < 0) rc = io_fail(err, "open", dir);
    for (int waited = 0; !rc;) {
        if (!flock(f, LOCK_EX | LOCK_NB)) break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            rc = io_fail(err, "lock", dir);
        } else if ((waited += 5) > LOCK_WAIT_MS) {
            hml_fail(err, HML_EIO, WHERE, "another writer has held the experiments lock for over %d s",
                     LOCK_WAIT_MS / 1000);
            rc = hml_hint(err, "wait for the other harness process to finish, then try again");
        } else {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    hml_free(dir);
    if (rc) {
        if (f >= 0) close(f);
        return rc;
    }
    *fd = f;
    return HML_OK;
}

void hml_exp_unlock(int fd)
{
    if (fd >= 0) close(fd); /* releases the lock */
}

/* ---- overlays ------------------------------------------------------------------------------------ */

static const char *const meta_keys[] = {"description", "hypothesis", "sweep"};

enum hml_status hml_exp_overlay_normalize(const json_t *overlay, json_t **out, json_t **meta, struct hml_error *err)
{
    if (!json_is_object(overlay)) {
        hml_fail(err, HML_EINVAL, WHERE, "an overlay must be a mapping of config keys, got %s", hml_json_kind(overlay));
        return hml_hint(err, "write e.g. {\"models.xgb.params.max_depth\": 4}, or {} to run the baseline");
    }
    json_t *copy = json_copy((json_t *)overlay), *m = json_object(), *norm = NULL;
    enum hml_status rc = copy && m ? HML_OK : oom(err);
    for (size_t i = 0; !rc && i < sizeof meta_keys / sizeof *meta_keys; i++) {
        json_t *v = json_object_get(copy, meta_keys[i]);
        if (!v) continue;
        if (json_object_set(m, meta_keys[i], v)) rc = oom(err);
        json_object_del(copy, meta_keys[i]);
    }
    if (!rc) rc = hml_config_expand(copy, &norm, err);
    json_decref(copy);
    if (rc) {
        json_decref(m);
        return rc;
    }
    *out = norm;
    if (meta) *meta = m;
    else json_decref(m);
    return HML_OK;
}

bool hml_exp_overlay_equal(const json_t *a, const json_t *b)
{
    char *x = hml_json_canonical(a), *y = hml_json_canonical(b);
    bool eq = x && y && !strcmp(x, y);
    hml_free(x);
    hml_free(y);
    return eq;
}

void hml_exp_overlay_hash(const json_t *norm, char out[65])
{
    hml_config_hash(norm, out);
}

/* Sections an experiment may change, and what to use for the others. */
static enum hml_status check_sections(const json_t *norm, struct hml_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)norm, k, v) {
        if (!strcmp(k, "models") || !strcmp(k, "ensemble") || !strcmp(k, "backtest")) continue;
        if (!strcmp(k, "data")) {
            const char *dk;
            json_t *dv;
            json_object_foreach(v, dk, dv) if (strcmp(dk, "exclude_columns")) {
                hml_fail(err, HML_EINVAL, WHERE, "an overlay cannot change data.%s", dk);
                return hml_hint(err, "of the data section an experiment may change exclude_columns only; change "
                                     "the problem itself with configure update_data, outside experiments");
            }
            if (!json_is_object(v)) {
                hml_fail(err, HML_EINVAL, WHERE, "'data' in an overlay must be a mapping");
                return hml_hint(err, "write {\"data.exclude_columns\": [\"a\", \"b\"]}");
            }
            continue;
        }
        hml_fail(err, HML_EINVAL, WHERE, "an overlay cannot change '%s'", k);
        if (!strcmp(k, "features") || !strcmp(k, "views"))
            return hml_hint(err, "declare the %s with the %s tool first; then the overlay can give it to a model: "
                                 "{\"models.<name>.append_features\": [\"…\"]}", !strcmp(k, "views") ? "view" : "feature",
                            k);
        if (!strcmp(k, "guardrails"))
            return hml_hint(err, "an experiment cannot relax a guardrail; change guardrails with configure, outside experiments");
        static const char *const ok_keys[] = {"models", "ensemble", "backtest", "data"};
        return hml_error_choices(err, k, ok_keys, 4);
    }
    return HML_OK;
}

/* A model the config lacks must come whole (with a type): a partial block for an
 * unknown name is almost always a typo of an existing model. */
static enum hml_status check_new_models(const json_t *root, const json_t *norm, struct hml_error *err)
{
    const json_t *have = json_object_get(root, "models");
    const char *name;
    json_t *def;
    json_object_foreach(json_object_get(norm, "models"), name, def) {
        if (json_object_get(have, name) || json_is_null(def)) continue;
        if (json_is_object(def) && json_object_get(def, "type")) continue;
        const char *names[128];
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)have, k, v) if (n < 128) names[n++] = k;
        hml_fail(err, HML_ENOTFOUND, WHERE, "the overlay changes model '%s', which the config does not have "
                                            "(a new model needs a type)", name);
        if (!n) return hml_hint(err, "add a whole model: {\"models.%s\": {\"type\": \"xgboost\", \"params\": {…}}}", name);
        return hml_error_choices(err, name, names, n);
    }
    return HML_OK;
}

enum hml_status hml_exp_overlay_apply(const json_t *root, const json_t *norm, json_t **merged, struct hml_error *err)
{
    enum hml_status rc = check_sections(norm, err);
    if (!rc) rc = check_new_models(root, norm, err);
    json_t *m = NULL;
    if (!rc) rc = hml_config_merge(root, norm, &m, err);
    if (!rc) rc = hml_config_validate(m, err);
    if (rc) {
        json_decref(m);
        return rc;
    }
    *merged = m;
    return HML_OK;
}

/* ---- what changed ---------------------------------------------------------------------------------- */

static bool add_change(json_t *out, const char *path, const json_t *old, const json_t *new_)
{
    json_t *c = json_pack("{s:s,s:O?,s:O?}", "path", path, "old", old, "new", new_);
    return c && !json_array_append_new(out, c);
}

static bool diff(const json_t *a, const json_t *b, char *path, size_t len, size_t cap, json_t *out)
{
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            int w = snprintf(path + len, cap - len, "%s%s", len ? "." : "", k);
            if (w < 0 || (size_t)w >= cap - len) continue; /* a path this deep is not worth naming */
            if (!diff(v, json_object_get(b, k), path, len + (size_t)w, cap, out)) return false;
        }
        json_object_foreach((json_t *)b, k, v) {
            if (json_object_get(a, k)) continue;
            int w = snprintf(path + len, cap - len, "%s%s", len ? "." : "", k);
            if (w < 0 || (size_t)w >= cap - len) continue;
            if (!add_change(out, path, NULL, v)) return false;
        }
        path[len] = 0;
        return true;
    }
    bool same = (!a && !b) || (a && b && json_equal((json_t *)a, (json_t *)b));
    bool ok = same || add_change(out, path, a, b);
    path[len] = 0;
    return ok;
}

json_t *hml_exp_config_changes(const json_t *before, const json_t *after)
{
    json_t *out = json_array();
    char path[512] = "";
    if (out && !diff(before, after, path, 0, sizeof path, out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}
