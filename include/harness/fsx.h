/* fsx.h — file-system helpers: atomic writes and multi-file staged commits.
 *
 * An atomic write goes to a temp file beside the target, is fsynced, then renamed
 * over the target, and the directory is fsynced: a crash leaves the old or the new
 * file, never a torn one. */
#ifndef HML_FSX_H
#define HML_FSX_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/err.h"

enum hml_status hml_write_atomic(const char *path, const void *data, size_t n,
                                 struct hml_error *err);
/* Reads a whole file (NUL-terminated; *len_out excludes the NUL). Caller frees. */
enum hml_status hml_read_file(const char *path, size_t max_bytes, char **out, size_t *len_out,
                              struct hml_error *err);
/* mkdir -p; existing directories are fine. */
enum hml_status hml_mkdirs(const char *path, struct hml_error *err);
bool hml_path_exists(const char *path);
bool hml_is_dir(const char *path);
/* Copies a file atomically (temp + fsync + rename). */
enum hml_status hml_copy_file(const char *src, const char *dst, struct hml_error *err);
/* Joins a and b with one '/'. Caller frees. */
char *hml_path_join(const char *a, const char *b);

/* A set of file writes that land together or not at all (best effort across
 * files: each is staged to a temp file and fsynced first; commit then renames each
 * over its target, keeping a backup so that a failed rename rolls the earlier ones
 * back). Abort (or a failed commit) removes every temp file and changes nothing. */
struct hml_txn;
struct hml_txn *hml_txn_new(void);
/* Stages `data` for `path`; parent directories are created at commit time. */
enum hml_status hml_txn_write(struct hml_txn *t, const char *path, const void *data, size_t n,
                              struct hml_error *err);
/* Stages a copy of file `src` to `path`. */
enum hml_status hml_txn_copy(struct hml_txn *t, const char *src, const char *path,
                             struct hml_error *err);
/* Stages removal of `path` (a file) at commit. */
enum hml_status hml_txn_remove(struct hml_txn *t, const char *path, struct hml_error *err);
enum hml_status hml_txn_commit(struct hml_txn *t, struct hml_error *err);
/* Frees the transaction; uncommitted staged files are removed. NULL is fine. */
void hml_txn_free(struct hml_txn *t);

#endif
