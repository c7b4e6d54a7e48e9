/* store.h — the project's metadata database, .harness/store.db (SQLite, WAL).
 *
 * Opening creates the file and applies pending schema migrations in order inside
 * one transaction each (PRAGMA user_version tracks the applied version). Opening
 * is lazy by design: callers open the store only when they are about to write,
 * so a failed action never creates it.
 */
#ifndef HML_STORE_H
#define HML_STORE_H

#include <sqlite3.h>
#include <stdint.h>
#include "harness/err.h"

struct hml_store;

enum hml_status hml_store_open(const char *project_dir, struct hml_store **out,
                               struct hml_error *err);
void hml_store_close(struct hml_store *st);
/* Schema version after migration. */
int hml_store_version(const struct hml_store *st);
/* The raw handle, for modules that own their own tables. Borrowed. */
sqlite3 *hml_store_db(struct hml_store *st);

enum hml_status hml_store_begin(struct hml_store *st, struct hml_error *err);
enum hml_status hml_store_commit(struct hml_store *st, struct hml_error *err);
void hml_store_rollback(struct hml_store *st);
/* Runs SQL with no result rows. */
enum hml_status hml_store_exec(struct hml_store *st, const char *sql, struct hml_error *err);

/* One ingest of a source: name, path as given, format, shape and content hash. */
enum hml_status hml_store_record_ingest(struct hml_store *st, const char *name, const char *path,
                                        const char *format, int64_t rows, int64_t cols,
                                        const char *sha256, struct hml_error *err);

/* A guardrail or gate that fired: it refused the call, warned, or was overridden
 * (human_override). Refusals change no project file, so this table is their trace. */
struct hml_guard_event {
    const char *tool, *action;   /* "experiments", "promote"                          */
    const char *guardrail;       /* "suspicious_improvement", "plan_required", …      */
    const char *outcome;         /* "refused", "warned" or "overridden"               */
    const char *subject;         /* what it was about ("exp-003"), or NULL            */
    const char *message;
};
enum hml_status hml_store_record_guard(struct hml_store *st, const struct hml_guard_event *e,
                                       struct hml_error *err);

#endif
