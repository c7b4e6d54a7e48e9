/* data_int.h — the actions of the `data` tool, split over three files:
 * t_data.c (sources and ingest), t_data_look.c (inspect, profile, status) and
 * t_data_edit.c (cleaning, sampling, snapshots). */
#ifndef HML_DATA_INT_H
#define HML_DATA_INT_H

#include "tools_int.h"
#include "harness/io.h"

#define DATA_ACTION(name) \
    enum hml_status name(struct hml_call *call, struct hml_result *res, struct hml_error *err)

DATA_ACTION(hml__data_add);
DATA_ACTION(hml__data_validate);
DATA_ACTION(hml__data_add_source);
DATA_ACTION(hml__data_add_sources_batch);
DATA_ACTION(hml__data_list_sources);
DATA_ACTION(hml__data_validate_source);
DATA_ACTION(hml__data_inspect);
DATA_ACTION(hml__data_profile);
DATA_ACTION(hml__data_status);
DATA_ACTION(hml__data_fill_nulls);
DATA_ACTION(hml__data_fill_nulls_batch);
DATA_ACTION(hml__data_rename);
DATA_ACTION(hml__data_drop_duplicates);
DATA_ACTION(hml__data_sample);
DATA_ACTION(hml__data_restore);
DATA_ACTION(hml__data_snapshot);
DATA_ACTION(hml__data_restore_snapshot);
DATA_ACTION(hml__data_derive_column);
DATA_ACTION(hml__data_drop_rows);
DATA_ACTION(hml__data_detect_outliers);
DATA_ACTION(hml__data_add_view);
DATA_ACTION(hml__data_update_view);
DATA_ACTION(hml__data_remove_view);
DATA_ACTION(hml__data_add_views_batch);
DATA_ACTION(hml__data_preview_view);
DATA_ACTION(hml__data_list_views);
DATA_ACTION(hml__data_view_dag);
DATA_ACTION(hml__data_set_features_view);

/* Resolves `given` like data add does and reads it (format auto by extension);
 * ingest warnings go to res. */
enum hml_status hml__read_data_file(const struct hml_call *call, const char *given, const char *format,
                                    const char *table, bool auto_clean, const json_t *root,
                                    struct hml_frame **out, struct hml_result *res, struct hml_error *err);

/* The first n rows (at most max_cols columns) as a markdown table; long cells cut. */
void hml__preview_rows(const struct hml_frame *f, size_t n, size_t max_cols, struct hml_buf *out);

/* A markdown table of the columns (name, type, nulls, example), at most `max_rows`. */
void hml__columns_table(const struct hml_frame *f, size_t max_rows, struct hml_buf *out);
/* The same as a JSON array of {name, type, nulls}. */
json_t *hml__columns_json(const struct hml_frame *f);
/* Stages the new table and config, commits, and returns. Validates the config. */
enum hml_status hml__commit(const struct hml_project *p, const struct hml_frame *table,
                            const json_t *root, struct hml_error *err);

#endif
