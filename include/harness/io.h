/* io.h — reading tables into frames (CSV, JSON lines) and the binary frame file.
 *
 * CSV: RFC 4180 quoting (embedded delimiters, quotes and line breaks), UTF-8 BOM,
 * LF or CRLF, per-column type inference (bool, int, float, date, string) where null
 * tokens never force a column to string, duplicate/empty headers made unique (with
 * a warning), ragged rows reported with their line numbers (skipped only with
 * auto_clean), invalid UTF-8 reported with its position.
 */
#ifndef HML_IO_H
#define HML_IO_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/buf.h"
#include "harness/err.h"
#include "harness/frame.h"

#define HML_CSV_FIELD_BYTES_MAX (1u << 20)
#define HML_CSV_COLS_MAX 10000u

struct hml_csv_options {
    const char *const *null_tokens; /* NULL = defaults: "", NA, N/A, null, NULL, NaN, nan, ? */
    size_t null_tokens_n;
    bool auto_clean;                /* skip ragged rows, replace invalid UTF-8         */
    char delimiter;                 /* 0 = ','                                          */
    size_t rows_max;                /* 0 = HML_FRAME_ROWS_MAX                           */
};

/* What an ingest noticed; filled on success and on failure. */
struct hml_ingest_report {
    size_t rows;            /* data rows in the frame                            */
    size_t ragged;          /* rows whose field count differs from the header   */
    size_t skipped;         /* rows dropped (auto_clean)                          */
    size_t nulls;           /* cells read as null                                */
    char **warnings;        /* human-readable, one per notice                    */
    size_t warnings_n;
};
void hml_ingest_report_fini(struct hml_ingest_report *r);

enum hml_status hml_csv_read_file(const char *path, const struct hml_csv_options *opt,
                                  struct hml_frame **out, struct hml_ingest_report *rep,
                                  struct hml_error *err);
enum hml_status hml_csv_read_mem(const char *data, size_t len, const struct hml_csv_options *opt,
                                 struct hml_frame **out, struct hml_ingest_report *rep,
                                 struct hml_error *err);
/* Writes RFC 4180 CSV (LF line ends; quotes only where needed; nulls empty). */
enum hml_status hml_csv_write(const struct hml_frame *f, struct hml_buf *out, struct hml_error *err);

/* JSON lines: one object per line; keys become columns (union over rows). */
enum hml_status hml_jsonl_read_file(const char *path, const struct hml_csv_options *opt,
                                    struct hml_frame **out, struct hml_ingest_report *rep,
                                    struct hml_error *err);

/* A table (or view) of a SQLite database file, opened read-only. table NULL means
 * the database's only table; with several, the error lists them. Column types
 * follow the stored values: integers → int, reals or a mix with integers → float,
 * text → string (date when every value is an ISO date), NULL → null. SQL NULL is
 * the only null: null tokens do not apply to typed database values. BLOBs are
 * refused with the column named. */
enum hml_status hml_sqlite_read_table(const char *path, const char *table, struct hml_frame **out,
                                      struct hml_ingest_report *rep, struct hml_error *err);

/* The binary frame file (".hfr"): magic, version, column directory, raw column
 * data, and a checksum over everything; load refuses a torn or altered file. */
enum hml_status hml_frame_encode(const struct hml_frame *f, struct hml_buf *out,
                                 struct hml_error *err);
enum hml_status hml_frame_decode(const void *data, size_t len, struct hml_frame **out,
                                 struct hml_error *err);
enum hml_status hml_frame_save(const struct hml_frame *f, const char *path, struct hml_error *err);
enum hml_status hml_frame_load(const char *path, struct hml_frame **out, struct hml_error *err);

#endif
