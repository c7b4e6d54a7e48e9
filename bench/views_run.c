/* views_run.c — times one view step on the benchmark frame (driver for views_bench.sh).
 * usage: views_run DIR OP [REPEAT]. Loads DIR/main.csv and DIR/other.csv (through .hfr
 * copies made on first use; not timed), runs the step REPEAT times and prints:
 *   OP best_seconds peak_rss_bytes peak_alloc_bytes rows_out */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/io.h"
#include "harness/view.h"

static const char *const ops[][2] = {
    {"group_by", "[{\"op\": \"group_by\", \"keys\": \"k\", \"aggs\": {\"x\": [\"mean\", \"sum\", \"max\"], \"y\": \"count\"}}]"},
    {"join", "[{\"op\": \"join\", \"other\": \"other\", \"on\": \"k\"}]"},
    {"rolling", "[{\"op\": \"rolling\", \"keys\": \"k\", \"order_by\": \"t\", \"window\": 10, \"aggs\": {\"x_roll\": \"x:mean\"}}]"},
    {"lag", "[{\"op\": \"lag\", \"keys\": \"k\", \"order_by\": \"t\", \"columns\": {\"x_lag\": \"x:1\"}}]"},
    {"ewm", "[{\"op\": \"ewm\", \"keys\": \"k\", \"order_by\": \"t\", \"span\": 10, \"aggs\": {\"x_ewm\": \"x:mean\"}}]"},
    {"rank", "[{\"op\": \"rank\", \"keys\": \"k\", \"columns\": {\"x_rank\": \"x\"}}]"},
    {"derive", "[{\"op\": \"derive\", \"columns\": {\"f\": \"x * y + z / (w + 1) - v * 2 + x * z - y\"}}]"},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct hml_frame *load(const char *dir, const char *name)
{
    char csv[512], hfr[512];
    snprintf(csv, sizeof csv, "%s/%s.csv", dir, name);
    snprintf(hfr, sizeof hfr, "%s/%s.hfr", dir, name);
    struct hml_frame *f = NULL;
    struct hml_error err;
    if (hml_path_exists(hfr) && hml_frame_load(hfr, &f, &err) == HML_OK) return f;
    struct hml_ingest_report rep = {0};
    if (hml_csv_read_file(csv, NULL, &f, &rep, &err) || hml_frame_save(f, hfr, &err)) {
        fprintf(stderr, "%s: %s\n", name, err.message);
        exit(1);
    }
    hml_ingest_report_fini(&rep);
    return f;
}

static struct hml_frame *other;

static enum hml_status resolve(void *ud, const char *name, struct hml_frame **out, struct hml_error *err)
{
    (void)ud;
    (void)name;
    *out = hml_frame_clone(other);
    return *out ? HML_OK : hml_fail(err, HML_ENOMEM, "bench", "out of memory");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: views_run DIR OP [REPEAT]\n");
        return 2;
    }
    int repeat = argc > 3 ? atoi(argv[3]) : 3;
    const char *steps_text = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(ops[i][0], argv[2])) steps_text = ops[i][1];
    if (!steps_text) {
        fprintf(stderr, "unknown op %s\n", argv[2]);
        return 2;
    }
    struct hml_frame *f = load(argv[1], "main");
    other = load(argv[1], "other");
    json_t *steps = NULL;
    struct hml_error err;
    if (hml_json_parse(steps_text, strlen(steps_text), &steps, &err)) return 1;
    struct hml_view_ctx ctx = {.resolve = resolve};
    double best = 1e30;
    size_t rows = 0;
    for (int r = 0; r < repeat; r++) {
        struct hml_frame *out = NULL;
        double t0 = now();
        if (hml_view_apply(f, steps, &ctx, &out, &err)) {
            fprintf(stderr, "error: %s\nhint: %s\n", err.message, err.hint);
            return 1;
        }
        double s = now() - t0;
        best = s < best ? s : best;
        rows = out->nrows;
        hml_frame_free(out);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s %.4f %ld %zu %zu\n", argv[2], best, ru.ru_maxrss * 1024L, hml_alloc_peak_bytes(), rows);
    json_decref(steps);
    hml_frame_free(f);
    hml_frame_free(other);
    return 0;
}
