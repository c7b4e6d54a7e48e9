/* csv_read.c — times hml_csv_read_file on one file (driver for bench/csv_bench.sh).
 * Prints: seconds rows cols frame_bytes peak_rss_bytes, then any warnings to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "harness/io.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: csv_read FILE [auto_clean]\n");
        return 2;
    }
    struct hml_csv_options opt = {.auto_clean = argc > 2};
    struct hml_frame *f = NULL;
    struct hml_ingest_report rep;
    struct hml_error err;
    hml_error_clear(&err);
    double t0 = now();
    enum hml_status rc = hml_csv_read_file(argv[1], &opt, &f, &rep, &err);
    double secs = now() - t0;
    for (size_t i = 0; i < rep.warnings_n; i++) fprintf(stderr, "warning: %s\n", rep.warnings[i]);
    if (rc) {
        fprintf(stderr, "error: %s\nhint: %s\n", err.message, err.hint);
        hml_ingest_report_fini(&rep);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%.3f %zu %zu %zu %ld\n", secs, f->nrows, f->ncols, hml_frame_bytes(f), ru.ru_maxrss * 1024L);
    if (getenv("CSV_READ_TYPES"))
        for (size_t j = 0; j < f->ncols; j++)
            fprintf(stderr, "%s:%s nulls=%zu\n", f->names[j], hml_type_name(f->cols[j]->type), f->cols[j]->null_count);
    hml_frame_free(f);
    hml_ingest_report_fini(&rep);
    return 0;
}
