/* events.h — the Studio event log: every step of every tool call, from every face.
 *
 * One SQLite database in WAL mode shared by all projects, servers and shells of a user:
 * $HARNESS_HOME/events.db (default ~/.harness/events.db). Studio reads it; faces write it.
 *
 * The log is never on the critical path. The recording functions return a status so
 * tests can see what happened, but callers ignore it: a tool call succeeds whether or
 * not its rows were written. The first failure after a success writes one line to
 * stderr; further failures stay quiet until a write succeeds again.
 *
 * Table `events` (append-only; one row per step; schema version in PRAGMA user_version):
 *   seq         INTEGER PRIMARY KEY   order of arrival
 *   call_id     TEXT                  joins the rows of one call: "<pid>-<n>-<start ms>"
 *   ts          REAL                  Unix time, seconds
 *   kind        TEXT                  running | progress | success | error
 *   tool, action, project, caller TEXT on every row (caller: "cli" or "mcp:<client name>")
 *   pid         INTEGER               the process that made the call
 *   args        TEXT                  running: the arguments as JSON (at most 4 KB)
 *   progress, total REAL; message TEXT progress: done, total (NULL when unknown), message
 *   duration_ms REAL                  success/error: wall time of the call
 *   error_code  TEXT                  error: invalid_params, not_found, …, cancelled
 *   result      TEXT                  success/error: the result text, cut to 2 KB at a
 *                                     UTF-8 boundary
 * Thread-safe: one handle may be used from several threads.
 */
#ifndef HML_EVENTS_H
#define HML_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/err.h"
#include "harness/json.h"

#define HML_EVENTS_ARGS_MAX   4096u
#define HML_EVENTS_RESULT_MAX 2048u

struct hml_events;

/* $HARNESS_HOME/events.db, else $HOME/.harness/events.db; NULL when neither variable is
 * set. Caller frees with hml_free. */
char *hml_events_default_path(void);

/* Opens (creating the file and its directory) the log at `path`. */
enum hml_status hml_events_open(const char *path, struct hml_events **out, struct hml_error *err);
/* Opens the default log; on failure logs one line to stderr and returns NULL, which every
 * recording function accepts (and ignores). */
struct hml_events *hml_events_open_default(void);
void hml_events_close(struct hml_events *ev);
/* Writes that failed so far (tests). */
unsigned long hml_events_failures(const struct hml_events *ev);

/* One call being recorded. Caller-owned; filled by hml_events_begin. */
struct hml_event_call {
    char id[48];
    double t0; /* monotonic start, seconds */
    char tool[64];
    char action[64];
    char caller[96];
    char project[1024];
};

/* Appends the `running` row. `action`, `project` and `args` may be NULL. */
enum hml_status hml_events_begin(struct hml_events *ev, struct hml_event_call *call, const char *tool,
                                 const char *action, const char *project, const char *caller,
                                 const json_t *args);
/* Appends a `progress` row. total <= 0 means unknown. */
enum hml_status hml_events_progress(struct hml_events *ev, const struct hml_event_call *call,
                                    double done, double total, const char *message);
/* Appends the final row: `success` when error_code is NULL, else `error`. */
enum hml_status hml_events_end(struct hml_events *ev, const struct hml_event_call *call,
                               const char *error_code, const char *result_text);

/* Cuts s to at most max bytes without splitting a UTF-8 sequence; returns the new length. */
size_t hml_utf8_cut(const char *s, size_t len, size_t max);

#endif
