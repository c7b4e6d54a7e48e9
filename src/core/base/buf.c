/* buf.c — growable string buffer with sticky out-of-memory state. */
#include "harness/buf.h"
#include "harness/alloc.h"

#include <stdio.h>
#include <string.h>

void hml_buf_free(struct hml_buf *b)
{
    hml_free(b->p);
    memset(b, 0, sizeof *b);
}

void hml_buf_reset(struct hml_buf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = 0;
}

bool hml_buf_ok(const struct hml_buf *b) { return !b->oom; }

static bool reserve(struct hml_buf *b, size_t extra)
{
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) { b->oom = true; return false; }
        cap *= 2;
    }
    char *p = hml_realloc(b->p, cap);
    if (!p) { b->oom = true; return false; }
    b->p = p;
    b->cap = cap;
    return true;
}

void hml_buf_append(struct hml_buf *b, const void *data, size_t n)
{
    if (!reserve(b, n)) return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

void hml_buf_puts(struct hml_buf *b, const char *s) { hml_buf_append(b, s, strlen(s)); }
void hml_buf_putc(struct hml_buf *b, char c) { hml_buf_append(b, &c, 1); }

void hml_buf_vprintf(struct hml_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || !reserve(b, (size_t)n)) return;
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void hml_buf_printf(struct hml_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hml_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *hml_buf_str(const struct hml_buf *b) { return b->p ? b->p : ""; }

char *hml_buf_detach(struct hml_buf *b)
{
    char *p = b->p;
    if (!p) p = hml_strdup("");
    memset(b, 0, sizeof *b);
    return p;
}
