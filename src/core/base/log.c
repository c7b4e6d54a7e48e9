/* log.c — leveled logging to stderr, never stdout. */
#include "harness/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int level = -1;

static int level_from_env(void)
{
    const char *e = getenv("HARNESS_LOG");
    if (!e) return HML_LOG_WARN;
    if (!strcmp(e, "error")) return HML_LOG_ERROR;
    if (!strcmp(e, "info")) return HML_LOG_INFO;
    if (!strcmp(e, "debug")) return HML_LOG_DEBUG;
    return HML_LOG_WARN;
}

void hml_log_set_level(enum hml_log_level l) { level = (int)l; }

void hml_log(enum hml_log_level l, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    if (level < 0) level = level_from_env();
    if ((int)l > level) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "harness: %s: %s\n", names[l], line);
}
