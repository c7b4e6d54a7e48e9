/* experiment.h — the experiment journal, overlays, and the statistics behind a verdict.
 *
 * An experiment is a question asked of the project without touching its config: an
 * overlay (a partial config, deep-merged over the project's at run time) and a
 * hypothesis, run against a baseline on the same folds.
 *
 * Storage (ARCHITECTURE.md §4):
 *   experiments/journal.jsonl        one JSON record per line, append-only; the newest
 *                                    line of an id is its current state (the source of truth)
 *   experiments/exp-NNN/overlay.yaml, hypothesis.md, results.json, conclusion.md
 *   EXPERIMENT_LOG.md                regenerated from the journal after every change
 * A record: {experiment_id, rev, created_at, updated_at, description, hypothesis,
 * parent_id?, phase?, plan_id?, status, overlay?, overlay_hash?, config_changes?,
 * trials[], result?, conclusion?, promoted?} — see hml_exp_record_new and the tool.
 *
 * Invariants:
 *   - ids are exp-001, exp-002, … (exp-1000 after exp-999), never reused: the next id is
 *     one past the largest in the journal or among the experiments/ directories;
 *   - a line is committed when its '\n' is on disk; a last line without one (a crash
 *     mid-write) is ignored on load and dropped by the next write;
 *   - writes replace the whole file atomically with the old complete lines followed by
 *     the new ones, so a write never alters what was there.
 * Thread safety: a loaded journal is not shared; writers in several processes are
 * serialised by hml_exp_lock.
 */
#ifndef HML_EXPERIMENT_H
#define HML_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/buf.h"
#include "harness/err.h"
#include "harness/fsx.h"
#include "harness/json.h"
#include "harness/metric.h"

#define HML_EXP_DIR_REL     "experiments"
#define HML_EXP_JOURNAL_REL "experiments/journal.jsonl"
#define HML_EXP_LOG_REL     "EXPERIMENT_LOG.md"
#define HML_EXP_JOURNAL_MAX ((size_t)64 << 20) /* bytes of journal.jsonl                 */
#define HML_EXP_LINE_MAX    ((size_t)1 << 20)  /* bytes of one record                    */
#define HML_EXP_TEXT_MAX    20000u             /* characters of a hypothesis, conclusion */
#define HML_EXP_SEQ_MAX     999999u            /* exp-999999 is the last id              */

/* Status of an experiment, in lifecycle order. */
enum hml_exp_status {
    HML_EXP_CREATED = 0, /* hypothesis written; overlay maybe; not run               */
    HML_EXP_COMPLETED,   /* ran; waiting for log_result                              */
    HML_EXP_CONCLUDED,   /* ran and its result is logged                             */
    HML_EXP_PROMOTED,    /* concluded and its overlay is now the project's config    */
    HML_EXP_ABANDONED,   /* logged without ever running                              */
    HML_EXP_STATUSES
};
extern const char *const hml_exp_status_names[HML_EXP_STATUSES];
/* The status of a record (HML_EXP_CREATED when absent or unknown). */
enum hml_exp_status hml_exp_status_of(const json_t *rec);

/* "exp-007" → 7; 0 when the text is not an experiment id. */
unsigned hml_exp_id_seq(const char *id);

/* ---- the journal ---------------------------------------------------------------------- */

struct hml_exp_journal {
    json_t **recs;     /* the newest record of each id, ascending id; owned          */
    size_t n;
    size_t lines;      /* complete lines read                                          */
    size_t torn_bytes; /* bytes of an incomplete last line, ignored; 0 when clean      */
    size_t skipped;    /* complete lines that were not a record (logged on stderr)     */
    char *kept;        /* the complete lines as read: what a write keeps               */
    size_t kept_len;
    struct hml_buf added; /* lines added by hml_exp_journal_put since load             */
};

/* Reads journal text (the file's bytes). Lines that are not JSON objects with an
 * experiment id are skipped and counted. Errors: HML_ELIMIT (over HML_EXP_JOURNAL_MAX),
 * HML_ENOMEM. */
enum hml_status hml_exp_journal_parse(const char *text, size_t len, struct hml_exp_journal **out,
                                      struct hml_error *err);
/* Loads <project_dir>/experiments/journal.jsonl; no file is an empty journal. */
enum hml_status hml_exp_journal_load(const char *project_dir, struct hml_exp_journal **out,
                                     struct hml_error *err);
void hml_exp_journal_free(struct hml_exp_journal *j);

/* The current record of id, or NULL. Borrowed until the journal is freed or changed. */
json_t *hml_exp_find(const struct hml_exp_journal *j, const char *id);
/* As find; HML_ENOTFOUND with the nearest ids as choices (and a hint) when there is none. */
enum hml_status hml_exp_lookup(const struct hml_exp_journal *j, const char *id, json_t **out,
                               struct hml_error *err);

/* The next free id ("exp-004"): one past the largest in the journal and among the
 * exp-NNN directories under <project_dir>/experiments. HML_ELIMIT past HML_EXP_SEQ_MAX. */
enum hml_status hml_exp_next_id(const struct hml_exp_journal *j, const char *project_dir, char out[24],
                                struct hml_error *err);

/* A fresh record: {experiment_id, rev: 0, created_at, description, hypothesis, status:
 * "created", trials: []} plus parent_id / phase / plan_id when given. NULL on OOM. */
json_t *hml_exp_record_new(const char *id, const char *description, const char *hypothesis,
                           const char *parent_id, const char *phase, const char *plan_id);

/* Makes rec the current record of its id: rev becomes the previous rev + 1 (1 for a new
 * id), updated_at now, and its line is added to j->added. Steals rec (also on error).
 * Errors: HML_EINVAL (no experiment id), HML_ELIMIT (line over HML_EXP_LINE_MAX), HML_ENOMEM. */
enum hml_status hml_exp_journal_put(struct hml_exp_journal *j, json_t *rec, struct hml_error *err);

/* Stages the journal file (kept lines, then added ones) and EXPERIMENT_LOG.md in txn. */
enum hml_status hml_exp_journal_stage(const struct hml_exp_journal *j, const char *project_dir,
                                      struct hml_txn *txn, struct hml_error *err);

/* Exclusive lock on <project_dir>/experiments (created if needed) for a writer's
 * load-check-commit; waits up to 10 s. *fd gets the descriptor hml_exp_unlock releases. */
enum hml_status hml_exp_lock(const char *project_dir, int *fd, struct hml_error *err);
void hml_exp_unlock(int fd);

/* EXPERIMENT_LOG.md: a table of every experiment (oldest first), then a section per
 * experiment with its hypothesis, changes, result, verdict, learnings and next steps.
 * An empty journal renders the same text `configure init` writes. */
void hml_exp_log_render(const struct hml_exp_journal *j, struct hml_buf *out);

/* ---- overlays --------------------------------------------------------------------------- */

/* The overlay as it is stored and compared: metadata keys (description, hypothesis,
 * sweep) removed at the top level, dot keys expanded (hml_config_expand). Equal
 * normalised overlays have equal hml_json_canonical text. *meta gets the removed keys
 * (an object, possibly empty) when meta != NULL. */
enum hml_status hml_exp_overlay_normalize(const json_t *overlay, json_t **out, json_t **meta,
                                          struct hml_error *err);
/* Do two normalised overlays ask for the same change? (canonical JSON equality) */
bool hml_exp_overlay_equal(const json_t *a, const json_t *b);
/* SHA-256 hex of the canonical text of a normalised overlay. */
void hml_exp_overlay_hash(const json_t *norm, char out[65]);

/* The project config with the normalised overlay applied and validated. An overlay may
 * change models, ensemble, backtest and data.exclude_columns only (anything else —
 * guardrails, sources, features, views — is refused with what to use instead); a model
 * the config lacks needs a type (else not_found with the nearest model names). Schema
 * errors come from hml_config_validate (unknown keys with a did-you-mean). */
enum hml_status hml_exp_overlay_apply(const json_t *root, const json_t *norm, json_t **merged,
                                      struct hml_error *err);

/* What an overlay changed: [{path, old, new}] from comparing `before` with `after`. A key
 * only one side has is one change at its path (a whole new model is one change; a
 * missing side is null); lists compare as whole values. Paths are dotted. NULL on OOM. */
json_t *hml_exp_config_changes(const json_t *before, const json_t *after);

/* ---- statistics of a verdict --------------------------------------------------------------- */

/* Signed improvement from base to cand under m's goal: > 0 is better (MIN: base − cand;
 * MAX: cand − base; ZERO: |base| − |cand|; LEVEL: |base − level| − |cand − level| with
 * opt's level). NaN when either is NaN or the goal is NONE. */
double hml_exp_gain(const struct hml_metric *m, const struct hml_metric_opts *opt, double base, double cand);

/* Student's t distribution with df > 0 degrees of freedom: P(T ≤ t), and the quantile
 * (0 < p < 1). Accurate to ~1e-12 (regularised incomplete beta by continued fraction). */
double hml_student_t_cdf(double t, double df);
double hml_student_t_quantile(double p, double df);

enum hml_exp_verdict { HML_EXP_NEUTRAL = 0, HML_EXP_IMPROVED, HML_EXP_REGRESSED };
extern const char *const hml_exp_verdict_names[3]; /* "neutral", "improved", "regressed" */

#define HML_EXP_ALPHA 0.05 /* one-sided level of the paired test */

struct hml_exp_paired {
    size_t n;             /* folds with both values                               */
    size_t better, worse; /* folds whose gain is > 0, < 0                          */
    double mean, sd, se;  /* of the per-fold gains (sd with n − 1)                 */
    double t, t_crit;     /* mean / se; the one-sided (1 − HML_EXP_ALPHA) quantile */
    double p;             /* one-sided p-value of "no improvement"; NaN if n < 2   */
};

/* The paired comparison over folds: gains g_i = gain(base_i, cand_i) for the folds where
 * both are numbers. IMPROVED when n ≥ 2 and mean > t_crit × se (a one-sided paired t-test
 * at HML_EXP_ALPHA, df = n − 1), REGRESSED when mean < −t_crit × se, else NEUTRAL. When
 * every gain is the same (se = 0) the sign of the mean decides (|mean| ≤ 1e-12 is neutral). */
enum hml_exp_verdict hml_exp_paired_test(const struct hml_metric *m, const struct hml_metric_opts *opt,
                                         const double *base, const double *cand, size_t n,
                                         struct hml_exp_paired *out);

/* The largest improvement of metric m that is still plausible, and how it was set:
 * guardrails.max_improvement.<metric> of root when set ("guardrails.max_improvement.brier");
 * else max(3 × the sd of the baseline's fold values, a floor): 0.05 for metrics on a
 * bounded scale (probabilities, rates, ranks), 10% of |baseline| for metrics in the
 * target's units (rmse, mae, …). `why` (≥ 160 bytes) gets the rule in words. */
double hml_exp_plausible_max(const struct hml_metric *m, const json_t *root, double baseline,
                             const double *base_folds, size_t n, char *why, size_t why_cap);

#endif
