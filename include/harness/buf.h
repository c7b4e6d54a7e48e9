/* buf.h — growable byte/string buffer (always NUL-terminated when non-empty).
 * On allocation failure the buffer sets `oom` and further appends are ignored;
 * check hml_buf_ok() once at the end instead of after every append. */
#ifndef HML_BUF_H
#define HML_BUF_H

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>

struct hml_buf {
    char  *p;
    size_t len;
    size_t cap;
    bool   oom;
};

#define HML_BUF_INIT {0}

void  hml_buf_free(struct hml_buf *b);
void  hml_buf_reset(struct hml_buf *b);
bool  hml_buf_ok(const struct hml_buf *b);
void  hml_buf_append(struct hml_buf *b, const void *data, size_t n);
void  hml_buf_puts(struct hml_buf *b, const char *s);
void  hml_buf_putc(struct hml_buf *b, char c);
void  hml_buf_printf(struct hml_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void  hml_buf_vprintf(struct hml_buf *b, const char *fmt, va_list ap);
/* The contents as a C string ("" when empty). Borrowed. */
const char *hml_buf_str(const struct hml_buf *b);
/* Takes the contents; the buffer is left empty. Caller frees with hml_free. */
char *hml_buf_detach(struct hml_buf *b);

#endif
