/* err.c — error filling, hints, and nearest-name suggestions. */
#include "harness/err.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hml_error_clear(struct hml_error *err)
{
    if (err) memset(err, 0, sizeof *err);
}

enum hml_status hml_fail(struct hml_error *err, enum hml_status code, const char *where,
                         const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    snprintf(err->where, sizeof err->where, "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

enum hml_status hml_hint(struct hml_error *err, const char *fmt, ...)
{
    if (!err) return HML_EINTERNAL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof err->hint, fmt, ap);
    va_end(ap);
    return err->code;
}

void hml_error_prefix(struct hml_error *err, const char *fmt, ...)
{
    if (!err) return;
    char pre[256], old[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    snprintf(err->message, sizeof err->message, "%s: %s", pre, old);
}

const char *hml_status_name(enum hml_status code)
{
    switch (code) {
    case HML_OK: return "ok";
    case HML_EINVAL: return "invalid_params";
    case HML_ENOTFOUND: return "not_found";
    case HML_ECONFLICT: return "conflict";
    case HML_EBLOCKED: return "blocked";
    case HML_ELIMIT: return "limit";
    case HML_EIO: return "io";
    case HML_EBACKEND: return "backend";
    case HML_ENOMEM:
    case HML_EINTERNAL: return "internal";
    }
    return "internal";
}

/* Optimal-string-alignment distance: Levenshtein plus adjacent transpositions,
 * the commonest typo ("lbg" for "lgb"). Case-insensitive; bounded by max. */
size_t hml_edit_distance(const char *a, const char *b, size_t max)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 64 || nb > 64) return max + 1;
    if ((na > nb ? na - nb : nb - na) > max) return max + 1;
    size_t prev2[65], prev[65], cur[65];
    for (size_t j = 0; j <= nb; j++) prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        size_t best = i;
        int ca = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= nb; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            size_t v = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
            if (v < best) best = v;
        }
        if (best > max) return max + 1;
        memcpy(prev2, prev, sizeof prev);
        memcpy(prev, cur, sizeof cur);
    }
    return prev[nb];
}

static int has_prefix_ci(const char *s, const char *pre)
{
    for (; *pre; s++, pre++)
        if (tolower((unsigned char)*s) != tolower((unsigned char)*pre)) return 0;
    return 1;
}

const char *hml_suggest(const char *given, const char *const *names, size_t n)
{
    if (!given || !*given) return NULL;
    size_t len = strlen(given);
    /* A typo budget that grows with the word: 1 for short words, up to 3. */
    size_t budget = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = budget + 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = hml_edit_distance(given, names[i], budget);
        if (d < best_d) best_d = d, best = names[i];
    }
    if (best) return best;
    /* A prefix of a valid name ("learn" → "learning_rate") is also a fair guess. */
    for (size_t i = 0; i < n; i++)
        if (len >= 3 && has_prefix_ci(names[i], given)) return names[i];
    return NULL;
}

enum hml_status hml_error_choices(struct hml_error *err, const char *given,
                                  const char *const *names, size_t n)
{
    if (!err) return HML_EINTERNAL;
    size_t off = 0;
    err->valid[0] = 0;
    for (size_t i = 0; i < n && off + 1 < sizeof err->valid; i++) {
        int w = snprintf(err->valid + off, sizeof err->valid - off, "%s%s", i ? "\n" : "", names[i]);
        if (w < 0 || (size_t)w >= sizeof err->valid - off) { err->valid[off] = 0; break; }
        off += (size_t)w;
    }
    const char *near = hml_suggest(given, names, n);
    snprintf(err->did_you_mean, sizeof err->did_you_mean, "%s", near ? near : "");
    char list[400];
    size_t lo = 0;
    list[0] = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(list + lo, sizeof list - lo, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= sizeof list - lo) {
            snprintf(list + (lo < sizeof list - 6 ? lo : sizeof list - 6), 6, ", …");
            break;
        }
        lo += (size_t)w;
    }
    if (n == 0)
        return hml_hint(err, "there is nothing to choose from yet");
    if (near) return hml_hint(err, "did you mean '%s'? valid: %s", near, list);
    return hml_hint(err, "valid: %s", list);
}

void hml_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "harness: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
