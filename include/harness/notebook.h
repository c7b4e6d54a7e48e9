/* notebook.h — the agent's research notebook: what it believes (theory), what it will do
 * (plan), what it saw (finding), and why it chose (decision), kept across sessions.
 *
 * Storage: <project>/notebook/entries.jsonl, append-only, one JSON object per line.
 *   entry:  {"id":"nb-001","type":"plan","content":"…","tags":[…],"auto_tags":[…]?,
 *            "experiment_id":"exp-001"?,"created_at":"2026-03-09T12:34:56.789Z"}
 *   strike: {"strike":"nb-001","reason":"…","created_at":"…"}
 * Nothing is ever deleted: a strike is a record of its own, and a struck entry leaves
 * read, search and summary (unless asked for) but stays in the file.
 *
 * Invariants:
 *   - ids are sequential (nb-001, nb-002, …; nb-1000 after nb-999) and created_at strictly
 *     increases with the id, so "newer than" means the same by id or by time;
 *   - a record is committed when its '\n' is on disk. A write takes an exclusive flock
 *     on the notebook/ directory (no lock file, and a repair's rename cannot dodge it),
 *     appends the whole line with one write() on an O_APPEND descriptor and fsyncs, so
 *     concurrent writers never interleave bytes within a line and ids never collide;
 *   - a last line without '\n' (a crash mid-write) is ignored on load with a warning;
 *     the next write first rewrites the file atomically (temp + fsync + rename) without
 *     that torn tail. A complete line that cannot be read is skipped with a warning.
 *
 * Loading reads the whole file (at most HML_NB_FILE_MAX bytes). Functions that take a
 * project_dir do not need a project config; the tool layer checks that.
 * Thread safety: a loaded notebook is immutable and may be read from several threads;
 * writers in any number of threads or processes are serialised by the lock.
 */
#ifndef HML_NOTEBOOK_H
#define HML_NOTEBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "harness/buf.h"
#include "harness/err.h"
#include "harness/json.h"

#define HML_NB_REL               "notebook/entries.jsonl"
#define HML_NB_CONTENT_MAX       20000u           /* characters (UTF-8 code points)       */
#define HML_NB_TAGS_MAX          20u              /* tags per entry (auto tags likewise)  */
#define HML_NB_TAG_MAX           64u              /* characters per tag                   */
#define HML_NB_REASON_MAX        2000u            /* characters of a strike reason        */
#define HML_NB_EXPERIMENT_ID_MAX 64u              /* bytes of an experiment id            */
#define HML_NB_QUERY_MAX         200u             /* characters of a search query         */
#define HML_NB_FILE_MAX          ((size_t)64 << 20) /* bytes of entries.jsonl             */
#define HML_NB_SUMMARY_MAX       1500u            /* characters of the default summary    */

/* NOTE: when adding a type, update hml_nb_type_names[] and the tool's `type` choices. */
enum hml_nb_type {
    HML_NB_THEORY = 0,       /* what the agent believes drives the target   */
    HML_NB_FINDING,          /* something observed, with the numbers        */
    HML_NB_RESEARCH,         /* domain knowledge from outside the data      */
    HML_NB_DECISION,         /* a choice and its reason                     */
    HML_NB_PLAN,             /* what comes next; experiments require one    */
    HML_NB_NOTE,             /* anything else                               */
    HML_NB_PHASE_TRANSITION, /* the workflow moved to another phase         */
    HML_NB_TYPES
};
extern const char *const hml_nb_type_names[HML_NB_TYPES];

/* The type named `name` (exact, lowercase). Unknown → HML_EINVAL with did-you-mean. */
enum hml_status hml_nb_type_parse(const char *name, enum hml_nb_type *out, struct hml_error *err);

/* "2026-03-09T12:34:56Z" or with a fraction ("…56.789Z", "…56.5Z"), UTC only → Unix ms.
 * False when the text is not such a time. */
bool hml_nb_time_parse(const char *iso, int64_t *ms_out);

/* "nb-007", "nb-7" or "7" → 7; 0 when the text is not an entry id. */
unsigned hml_nb_id_seq(const char *id);

struct hml_nb_entry {
    unsigned seq;            /* 7 for nb-007                                       */
    char id[24];             /* "nb-007"                                           */
    enum hml_nb_type type;
    char *content;
    char **tags;             /* as written (trimmed, deduplicated ignoring case)   */
    size_t tags_n;
    char **auto_tags;        /* found by the writer (names, experiment ids)        */
    size_t auto_tags_n;
    char *experiment_id;     /* NULL when none                                     */
    char created_at[32];     /* ISO 8601 UTC with milliseconds                     */
    int64_t created_ms;
    bool struck;
    char *strike_reason;     /* NULL unless struck                                 */
    char struck_at[32];      /* "" unless struck                                   */
};

struct hml_notebook {
    struct hml_nb_entry *entries; /* oldest first (ascending seq); owned            */
    size_t n;
    size_t struck_n;
    size_t bytes;        /* size of the file as read                                */
    size_t torn_bytes;   /* bytes of an incomplete last line, ignored; 0 when clean */
    size_t skipped;      /* complete lines that could not be read                   */
};

/* Loads <project_dir>/notebook/entries.jsonl. No file is an empty notebook (HML_OK).
 * Torn tails and unreadable lines are reported through torn_bytes / skipped and a
 * warning on stderr. Errors: HML_ELIMIT (file over HML_NB_FILE_MAX), HML_EIO, HML_ENOMEM.
 * Caller frees *out with hml_notebook_free. */
enum hml_status hml_notebook_load(const char *project_dir, struct hml_notebook **out,
                                  struct hml_error *err);
void hml_notebook_free(struct hml_notebook *nb);

/* The entry with that id ("nb-007", "nb-7", "7"), struck or not; NULL when none.
 * Borrowed: valid until hml_notebook_free(nb). */
const struct hml_nb_entry *hml_notebook_find(const struct hml_notebook *nb, const char *id);
/* HML_ENOTFOUND with the nearest ids as choices when there is no such entry. */
enum hml_status hml_notebook_lookup(const struct hml_notebook *nb, const char *id,
                                    const struct hml_nb_entry **out, struct hml_error *err);

/* ---- writing ------------------------------------------------------------------------- */

struct hml_nb_new {
    enum hml_nb_type type;
    const char *content;                /* 1..HML_NB_CONTENT_MAX characters            */
    const char *const *tags;            /* may be NULL when tags_n == 0                 */
    size_t tags_n;                      /* ≤ HML_NB_TAGS_MAX after dropping duplicates  */
    const char *const *auto_tags;       /* extra, found by the caller; capped silently  */
    size_t auto_tags_n;
    const char *experiment_id;          /* NULL for none; letters, digits, '_', '-', '.' */
};

/* What a write did. */
struct hml_nb_receipt {
    char id[24];            /* the new entry, or the struck one                      */
    char created_at[32];
    size_t repaired_bytes;  /* a torn tail of this many bytes was cut first; 0 if none */
};

/* Appends an entry (creating notebook/ when needed). Errors: HML_EINVAL (empty or
 * invalid content, bad tag or experiment id; with a hint), HML_ELIMIT (content, tags,
 * or the file's size; the hint names the limit), HML_EIO, HML_ENOMEM. On error the
 * file holds the same entries as before. */
enum hml_status hml_notebook_write(const char *project_dir, const struct hml_nb_new *e,
                                   struct hml_nb_receipt *out, struct hml_error *err);

/* Strikes an entry: appends a strike record with the reason. Errors: HML_ENOTFOUND
 * (no such entry; nearest ids suggested), HML_ECONFLICT (struck already), HML_EINVAL
 * (empty reason), HML_ELIMIT (reason or file size), HML_EIO, HML_ENOMEM. */
enum hml_status hml_notebook_strike(const char *project_dir, const char *entry_id,
                                    const char *reason, struct hml_nb_receipt *out,
                                    struct hml_error *err);

/* ---- queries on a loaded notebook ------------------------------------------------------ */

struct hml_nb_filter {
    unsigned types;              /* mask of 1u << type; 0 = every type                  */
    const char *const *tags;     /* entries carrying every one (ignoring case; auto     */
    size_t tags_n;               /*   tags count)                                       */
    bool include_struck;
    unsigned after_seq;          /* only entries with a larger seq; 0 = no bound        */
    int64_t after_ms;            /* only entries created strictly later; 0 = no bound   */
};

bool hml_nb_filter_match(const struct hml_nb_filter *f, const struct hml_nb_entry *e);

/* The entries that match, newest first: writes up to `limit` borrowed pointers from
 * position `offset` into out[] and returns how many; *total gets the number of matches. */
size_t hml_notebook_select(const struct hml_notebook *nb, const struct hml_nb_filter *f,
                           size_t offset, size_t limit, const struct hml_nb_entry **out,
                           size_t *total);

/* The newest entry of `type` (struck ones only if include_struck); NULL when none. */
const struct hml_nb_entry *hml_notebook_newest(const struct hml_notebook *nb, enum hml_nb_type type,
                                               bool include_struck);

struct hml_nb_hit {
    const struct hml_nb_entry *entry; /* borrowed from the notebook */
    size_t matches;                   /* occurrences in content + occurrences in tags */
};

/* Case-insensitive (ASCII) substring search over content, tags and auto tags. Hits are
 * ranked by matches, then newest first. Errors: HML_EINVAL (empty query), HML_ELIMIT
 * (query over HML_NB_QUERY_MAX), HML_ENOMEM. Caller frees *hits with hml_free (NULL when
 * there are none). */
enum hml_status hml_notebook_search(const struct hml_notebook *nb, const char *query,
                                    const struct hml_nb_filter *f, struct hml_nb_hit **hits,
                                    size_t *n, struct hml_error *err);

/* The summary an agent reads first in a new session: counts per type, the latest theory
 * and plan (in full while the whole text stays under HML_NB_SUMMARY_MAX characters; cut
 * with a pointer to the rest otherwise), the 5 most recent findings one line each and an
 * entity index from tags. full=true: theory and plan uncut, 10 findings, every entity.
 * Appends markdown to md and, when data != NULL, sets *data to the same facts as JSON
 * (caller decrefs). Errors: HML_ENOMEM only. */
enum hml_status hml_notebook_summary(const struct hml_notebook *nb, bool full, struct hml_buf *md,
                                     json_t **data, struct hml_error *err);

/* The entry as JSON (id, type, content, tags, auto_tags, experiment_id, created_at and,
 * when struck, struck/strike_reason/struck_at). NULL on OOM. */
json_t *hml_nb_entry_json(const struct hml_nb_entry *e);

/* ---- questions other modules ask (the experiment gates) ---------------------------------- */

/* A copy of the newest entry of `type` that is not struck. HML_ENOTFOUND with a hint
 * to write one when there is none. Caller frees with hml_nb_entry_free. */
enum hml_status hml_notebook_latest(const char *project_dir, enum hml_nb_type type,
                                    struct hml_nb_entry **out, struct hml_error *err);
void hml_nb_entry_free(struct hml_nb_entry *e);

/* How many entries of `type` that are not struck are newer than `since`: an entry id
 * ("nb-007": larger id), an ISO time (created strictly later), or NULL (all of them).
 * "Is there a plan newer than X" is count > 0. HML_EINVAL when since is neither. */
enum hml_status hml_notebook_count(const char *project_dir, enum hml_nb_type type,
                                   const char *since, size_t *out, struct hml_error *err);

#endif
