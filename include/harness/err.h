/* err.h — the error every fallible call fills: what is wrong and what to do.
 *
 * Fallible functions return enum hml_status and take `struct hml_error *err` last.
 * The buffers are fixed so that reporting an error can never itself fail under OOM.
 * Every user-fixable code (EINVAL, ENOTFOUND, ECONFLICT, EBLOCKED, ELIMIT) carries a hint.
 */
#ifndef HML_ERR_H
#define HML_ERR_H

#include <stddef.h>

#define HML_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum hml_status {
    HML_OK = 0,
    HML_EINVAL,    /* invalid_params: a parameter or input is wrong          */
    HML_ENOTFOUND, /* not_found: a named thing does not exist                */
    HML_ECONFLICT, /* conflict: exists already, or wrong order of operations */
    HML_EBLOCKED,  /* blocked: a guardrail or gate refused                   */
    HML_ELIMIT,    /* limit: a size or depth limit was hit                   */
    HML_EIO,       /* io: the file system or database failed                 */
    HML_ENOMEM,    /* out of memory (reported as internal)                   */
    HML_EBACKEND,  /* backend: a model library failed                        */
    HML_EINTERNAL  /* internal: a bug                                        */
};

struct hml_error {
    enum hml_status code;
    char where[48];         /* operation, e.g. "data.add", "csv"          */
    char message[512];      /* what is wrong, lowercase, no final period  */
    char hint[512];         /* what to do next                            */
    char did_you_mean[128]; /* nearest valid name, or ""                  */
    char valid[1024];       /* valid values, '\n'-separated, or ""        */
};

void hml_error_clear(struct hml_error *err);

/* Sets code, where and message; leaves hint alone. Returns code. err may be NULL. */
enum hml_status hml_fail(struct hml_error *err, enum hml_status code, const char *where,
                         const char *fmt, ...) HML_PRINTF(4, 5);

/* Sets the hint. Returns err->code. */
enum hml_status hml_hint(struct hml_error *err, const char *fmt, ...) HML_PRINTF(2, 3);

/* For "unknown name" errors: records the valid names, finds the nearest one to
 * `given` and writes a hint "did you mean 'x'? valid: a, b, c". Returns err->code. */
enum hml_status hml_error_choices(struct hml_error *err, const char *given,
                                  const char *const *names, size_t n);

/* Prefixes the message with "prefix: " (for adding context on the way up). */
void hml_error_prefix(struct hml_error *err, const char *fmt, ...) HML_PRINTF(2, 3);

/* Stable snake_case name of a code, as used on the wire: "invalid_params"… */
const char *hml_status_name(enum hml_status code);

/* Nearest name to `given` by edit distance (case-insensitive), or NULL when none
 * is close enough to be a plausible typo. */
const char *hml_suggest(const char *given, const char *const *names, size_t n);

/* Levenshtein distance with an upper bound (returns max+1 when exceeded). */
size_t hml_edit_distance(const char *a, const char *b, size_t max);

/* Assertions are for bugs, never for input; they stay on in release builds. */
void hml_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define HML_ASSERT(x) ((x) ? (void)0 : hml_assert_fail(#x, __FILE__, __LINE__))

#endif
