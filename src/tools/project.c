/* project.c — opening a project's config and prediction table for an action,
 * and staging the table for an all-or-nothing write. */
#include "tools_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/io.h"

char *hml__project_path(const struct hml_project *p, const char *rel)
{
    return hml_path_join(p->dir, rel);
}

void hml__project_free(struct hml_project *p)
{
    if (!p) return;
    hml_config_free(p->cfg);
    hml_frame_free(p->table);
    hml_free(p->dir);
    hml_free(p);
}

enum hml_status hml__project_open(const struct hml_call *call, enum hml_table_need need,
                                  struct hml_project **out, struct hml_error *err)
{
    struct hml_project *p = hml_calloc(1, sizeof *p);
    if (!p || !(p->dir = hml_strdup(call->project_dir))) {
        hml_free(p);
        return hml_fail(err, HML_ENOMEM, "project", "out of memory");
    }
    enum hml_status rc = hml_config_load(p->dir, &p->cfg, err);
    if (!rc && need != HML_TABLE_SKIP) {
        char *path = hml__project_path(p, HML_TABLE_FILE);
        if (!path) {
            rc = hml_fail(err, HML_ENOMEM, "project", "out of memory");
        } else if (hml_path_exists(path)) {
            rc = hml_frame_load(path, &p->table, err);
        } else if (need == HML_TABLE_REQUIRED) {
            hml_fail(err, HML_ENOTFOUND, "project", "the project at '%s' has no data yet", p->dir);
            rc = hml_hint(err, "add a dataset first: data add --data_path <file.csv>");
        }
        hml_free(path);
    }
    if (rc) {
        hml__project_free(p);
        return rc;
    }
    *out = p;
    return HML_OK;
}

enum hml_status hml__stage_table(const struct hml_project *p, struct hml_txn *txn,
                                 const struct hml_frame *table, const char *rel,
                                 struct hml_error *err)
{
    struct hml_buf b = HML_BUF_INIT;
    enum hml_status rc = hml_frame_encode(table, &b, err);
    char *path = rc ? NULL : hml__project_path(p, rel);
    if (!rc && !path) rc = hml_fail(err, HML_ENOMEM, "project", "out of memory");
    if (!rc) rc = hml_txn_write(txn, path, b.p, b.len, err);
    hml_free(path);
    hml_buf_free(&b);
    return rc;
}

const char *hml__fmt_count(char buf[32], unsigned long long n)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%llu", n), o = 0;
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

const char *hml__fmt_num(char buf[32], double v)
{
    if (isnan(v)) return snprintf(buf, 32, "–"), buf;
    double a = fabs(v);
    if (a != 0 && (a >= 1e7 || a < 1e-4)) snprintf(buf, 32, "%.3e", v);
    else if (a >= 1000) snprintf(buf, 32, "%.1f", v);
    else snprintf(buf, 32, "%.4f", v);
    /* Trim trailing zeros of a fixed-point number ("3.5000" → "3.5", "2.0000" → "2"). */
    if (strchr(buf, '.') && !strchr(buf, 'e')) {
        size_t n = strlen(buf);
        while (n && buf[n - 1] == '0') buf[--n] = 0;
        if (n && buf[n - 1] == '.') buf[--n] = 0;
    }
    return buf;
}
