/* csv.c — a single-pass RFC 4180 reader with per-column type inference, and the writer.
 *
 * Shape of a read: the input is scanned in large read() chunks (a file is never held
 * whole, to keep peak memory near the frame's own size). Each record is first cut into
 * field spans (tokenize); only a complete record is handed on, so a record that
 * straddles a chunk boundary is simply re-cut after the next read, and a ragged
 * record can be refused before any of its values touch a column. Each field then goes
 * straight into its column builder, which keeps the narrowest type that holds every
 * value so far: int widens to float; bool, date and numbers mixed with anything else
 * become string. A column that turns into a string after typed values were stored
 * cannot recover their text, so it is filled by a second pass over the input that
 * touches only those columns (rare; correct beats clever).
 *
 * Reading rules that are choices, not RFC 4180:
 *  - a field is null when its text (quotes removed) is a null token; quoting does not
 *    protect "NA", just as in pandas, and "" is null under the default tokens;
 *  - quoted fields are typed like bare ones ("42" is a number);
 *  - typed readings ignore surrounding blanks (" 42 " is 42); strings keep them;
 *  - fully blank lines are skipped; text after a closing quote is kept ("a"b -> ab);
 *  - line numbers in messages are physical lines (line breaks inside quotes count).
 */
#include "harness/io.h"
#include "harness/alloc.h"
#include "harness/buf.h"
#include "csv_int.h"
#include "frame_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "scan_plain reads bytes as words");

#define CHUNK_BYTES (4u << 20)
#define ROWS_CAP_MIN 1024u
#define RAGGED_LIST_MAX 10u
#define OFFENDERS_MAX 3
#define MOSTLY_NUMERIC_PCT 95u

/* ---- scalar parsers ------------------------------------------------------------------ */

bool hml__parse_i64(const char *s, size_t len, int64_t *out)
{
    const char *p = s, *e = s + len;
    bool neg = false;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    if (p == e || e - p > 19) return false;
    uint64_t v = 0;
    for (; p < e; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9) return false;
        v = v * 10 + d; /* 19 digits always fit in uint64 */
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Reads the exponent digits after 'e'; clamps huge values (the result is 0 or inf
 * either way, and strtod decides which). */
static bool scan_exponent(const char **pp, const char *e, long *out)
{
    const char *p = *pp;
    bool neg = false;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    if (p == e || (unsigned)(*p - '0') > 9) return false;
    long v = 0;
    for (; p < e && (unsigned)(*p - '0') <= 9; p++)
        if (v < 100000) v = v * 10 + (*p - '0');
    *out = neg ? -v : v;
    *pp = p;
    return true;
}

bool hml__parse_f64(const char *s, size_t len, double *out)
{
    const char *p = s, *e = s + len;
    bool neg = false, any = false;
    if (len > HML__NUM_CHARS_MAX) return false;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    uint64_t m = 0;
    int nd = 0; /* significant digits taken into m */
    long exp10 = 0;
    bool inexact = false;
    for (; p < e && (unsigned)(*p - '0') <= 9; p++, any = true) {
        if (nd < 19) m = m * 10 + (uint64_t)(*p - '0'), nd += m != 0;
        else inexact = true, exp10++;
    }
    if (p < e && *p == '.') {
        for (p++; p < e && (unsigned)(*p - '0') <= 9; p++, any = true) {
            if (nd < 19) m = m * 10 + (uint64_t)(*p - '0'), nd += m != 0, exp10--;
            else inexact = true;
        }
    }
    if (!any) return false;
    if (p < e && (*p == 'e' || *p == 'E')) {
        long x;
        p++;
        if (!scan_exponent(&p, e, &x)) return false;
        exp10 += x;
    }
    if (p != e) return false;
    /* Clinger's fast path: m and 10^|e| are exact doubles, so one IEEE operation
     * rounds correctly, i.e. exactly as strtod does. */
    if (!inexact && m <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 >= 0 ? d * pow10_exact[exp10] : d / pow10_exact[-exp10];
        *out = neg ? -d : d;
        return true;
    }
    char tmp[HML__NUM_CHARS_MAX + 1];
    memcpy(tmp, s, len);
    tmp[len] = 0;
    *out = strtod(tmp, NULL);
    return true;
}

bool hml__parse_bool(const char *s, size_t len, uint8_t *out)
{
    if (len == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))) {
        *out = 1;
        return true;
    }
    if (len == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))) {
        *out = 0;
        return true;
    }
    return false;
}

/* Length of the valid prefix of the UTF-8 sequence at s (1..4 when whole and valid;
 * otherwise the count of bytes forming a maximal invalid subpart, negated). */
static int utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    int n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else return -1;
    for (int k = 1; k < n; k++) {
        if ((size_t)k >= left) return -k;
        unsigned b = s[k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return -k;
    }
    return n;
}

size_t hml__utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int n = utf8_seq(s + i, len - i);
        if (n < 0) return i;
        i += (size_t)n;
    }
    return len;
}

/* ---- null tokens --------------------------------------------------------------------- */

static const char *const default_nulls[] = {"", "NA", "N/A", "null", "NULL", "NaN", "nan", "?"};

struct nulls {
    const char *const *tok;
    size_t n, maxlen;
    bool empty;
    uint8_t first[256]; /* 1 when some non-empty token starts with this byte */
};

static void nulls_init(struct nulls *nt, const struct hml_csv_options *opt)
{
    memset(nt, 0, sizeof *nt);
    nt->tok = opt && opt->null_tokens ? opt->null_tokens : default_nulls;
    nt->n = opt && opt->null_tokens ? opt->null_tokens_n : sizeof default_nulls / sizeof *default_nulls;
    for (size_t i = 0; i < nt->n; i++) {
        size_t len = nt->tok[i] ? strlen(nt->tok[i]) : 0;
        if (!nt->tok[i]) continue;
        if (len == 0) nt->empty = true;
        else nt->first[(unsigned char)nt->tok[i][0]] = 1;
        if (len > nt->maxlen) nt->maxlen = len;
    }
}

static inline bool is_null(const struct nulls *nt, const char *s, size_t len)
{
    if (len == 0) return nt->empty;
    if (len > nt->maxlen || !nt->first[(unsigned char)s[0]]) return false;
    for (size_t i = 0; i < nt->n; i++)
        if (nt->tok[i] && strlen(nt->tok[i]) == len && memcmp(nt->tok[i], s, len) == 0) return true;
    return false;
}

/* ---- the reader ---------------------------------------------------------------------- */

enum { F_QUOTED = 1, F_HIGH = 2, F_SCRATCH = 4 };

struct field {
    const char *p;
    size_t off;        /* offset into scratch while the record is being cut */
    uint32_t len;
    uint32_t line_off; /* lines between the record's first line and this field's start */
    uint8_t flags;
};

enum cstate { CS_NONE, CS_BOOL, CS_INT, CS_FLOAT, CS_DATE, CS_STR, CS_LATE };

struct offender {
    size_t line;
    char tok[32];
};

struct colb {
    enum cstate st;
    void *data;          /* typed array, rows_cap elements; NULL for CS_NONE/CS_LATE */
    uint8_t *valid;      /* NULL until the first null                              */
    size_t nulls;
    struct hml_dict *dict;
    size_t numeric;      /* non-null values that parse as numbers (string columns) */
    struct offender off[OFFENDERS_MAX];
    int noff;
};

struct ragged {
    size_t line, fields;
};

enum tok { TOK_RECORD, TOK_MORE, TOK_EOF, TOK_ERR };

struct rd {
    /* input */
    int fd;                  /* -1 when reading memory */
    const char *path;
    const char *mem;
    size_t mem_len;
    char *buf;
    size_t cap;
    const char *p, *end;
    bool eof;
    size_t size;             /* input bytes, 0 when unknown (a pipe)    */
    size_t consumed;         /* file bytes before buf                    */
    size_t data_start;       /* input offset of the first data record    */
    size_t line;             /* physical line of p, 1-based */
    size_t rec_line;         /* first line of the record just cut */
    /* tokenizer */
    char delim;
    uint64_t delim8;         /* the delimiter in every byte, for scan_plain */
    uint8_t cls[256];
    struct field *f;
    size_t nf, fcap;
    char *scratch;
    size_t slen, scap;
    char *fix;               /* UTF-8 repair buffer */
    size_t fixcap;
    /* options */
    struct nulls nt;
    bool auto_clean;
    size_t rows_max;
    /* columns */
    size_t ncols;
    char **names;
    struct colb *cols;
    size_t rows, rows_cap;
    /* findings */
    struct ragged rag[RAGGED_LIST_MAX];
    size_t nragged;
    size_t utf8_fixed, utf8_first_line, utf8_first_col;
    struct hml_ingest_report *rep;
    struct hml_error *err;
};

enum { C_PLAIN = 0, C_STOP = 1, C_HIGH = 2 };

static enum hml_status oom(struct rd *r)
{
    return hml_fail(r->err, HML_ENOMEM, "csv", "out of memory reading the CSV");
}

static bool add_warning(struct hml_ingest_report *rep, const char *fmt, ...) HML_PRINTF(2, 3);
static bool add_warning(struct hml_ingest_report *rep, const char *fmt, ...)
{
    struct hml_buf b = HML_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    hml_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char **w = hml_buf_ok(&b) ? hml_realloc(rep->warnings, (rep->warnings_n + 1) * sizeof *w) : NULL;
    if (!w) {
        hml_buf_free(&b);
        return false;
    }
    rep->warnings = w;
    rep->warnings[rep->warnings_n++] = hml_buf_detach(&b);
    return rep->warnings[rep->warnings_n - 1] != NULL;
}

void hml_ingest_report_fini(struct hml_ingest_report *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->warnings_n; i++) hml_free(r->warnings[i]);
    hml_free(r->warnings);
    memset(r, 0, sizeof *r);
}

/* ---- input ----------------------------------------------------------------------- */

/* Keeps the unread tail [p, end), then fills the buffer from the file. A record
 * longer than the buffer doubles it. */
static enum hml_status refill(struct rd *r)
{
    size_t keep = (size_t)(r->end - r->p);
    if (r->buf) r->consumed += (size_t)(r->p - r->buf);
    if (keep == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : CHUNK_BYTES;
        char *nb = hml_malloc(cap);
        if (!nb) return oom(r);
        if (keep) memcpy(nb, r->p, keep);
        hml_free(r->buf);
        r->buf = nb;
        r->cap = cap;
    } else if (r->p != r->buf) {
        memmove(r->buf, r->p, keep);
    }
    r->p = r->buf;
    char *end = r->buf + keep;
    while (end < r->buf + r->cap) {
        ssize_t n = read(r->fd, end, (size_t)(r->buf + r->cap - end));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            hml_fail(r->err, HML_EIO, "csv", "cannot read '%s': %s", r->path, strerror(errno));
            return hml_hint(r->err, "check that the file is readable");
        }
        if (n == 0) {
            r->eof = true;
            break;
        }
        end += n;
    }
    r->end = end;
    return HML_OK;
}

static enum hml_status rewind_input(struct rd *r)
{
    r->line = 1;
    if (r->fd < 0) {
        r->p = r->mem;
        r->end = r->mem + r->mem_len;
        r->eof = true;
    } else {
        if (lseek(r->fd, 0, SEEK_SET) != 0) {
            hml_fail(r->err, HML_EIO, "csv", "cannot rewind '%s': %s", r->path, strerror(errno));
            return hml_hint(r->err, "read from a regular file, not a pipe");
        }
        r->eof = false;
        r->p = r->end = r->buf;
        r->consumed = 0;
        enum hml_status rc = refill(r);
        if (rc) return rc;
    }
    if (r->end - r->p >= 3 && memcmp(r->p, "\xef\xbb\xbf", 3) == 0) r->p += 3;
    return HML_OK;
}

/* ---- tokenizer --------------------------------------------------------------------- */

static bool scratch_put(struct rd *r, const void *s, size_t n)
{
    if (n == 0) return true;
    if (r->slen + n > r->scap) {
        size_t cap = r->scap ? r->scap : 256;
        while (cap < r->slen + n) cap *= 2;
        char *p = hml_realloc(r->scratch, cap);
        if (!p) return false;
        r->scratch = p;
        r->scap = cap;
    }
    memcpy(r->scratch + r->slen, s, n);
    r->slen += n;
    return true;
}

static enum tok too_long(struct rd *r, size_t line)
{
    hml_fail(r->err, HML_ELIMIT, "csv", "the field starting at line %zu is longer than %u bytes",
             line, HML_CSV_FIELD_BYTES_MAX);
    hml_hint(r->err, "fields are limited to HML_CSV_FIELD_BYTES_MAX (%u bytes); if a quote is "
             "unbalanced, fix it", HML_CSV_FIELD_BYTES_MAX);
    return TOK_ERR;
}

/* Cuts a quoted field starting at *pp (on the opening quote). Counts line breaks
 * inside it into *lines. Doubled quotes, and text after the closing quote, are
 * assembled in scratch. */
static enum tok cut_quoted(struct rd *r, struct field *f, const unsigned char **pp, size_t *lines)
{
    const unsigned char *p = *pp + 1, *end = (const unsigned char *)r->end, *s = p;
    size_t start_line = r->line + *lines;
    f->flags |= F_QUOTED;
    for (;;) {
        while (p < end && *p != '"') {
            unsigned c = *p++;
            if (c == '\n' || (c == '\r' && (p == end || *p != '\n'))) (*lines)++;
            if (c & 0x80) f->flags |= F_HIGH;
        }
        if ((size_t)(p - *pp) > 2u * HML_CSV_FIELD_BYTES_MAX + 2) return too_long(r, start_line);
        if (p == end || (p + 1 == end && !r->eof)) {
            if (!r->eof) return TOK_MORE;
            hml_fail(r->err, HML_EINVAL, "csv",
                     "unterminated quoted field: the quote opened at line %zu is never closed",
                     start_line);
            hml_hint(r->err, "close the quote, or double any quote character inside a quoted "
                     "field (\"\")");
            return TOK_ERR;
        }
        bool doubled = p + 1 < end && p[1] == '"';
        if (doubled || (f->flags & F_SCRATCH)) {
            if (!(f->flags & F_SCRATCH)) f->off = r->slen, f->flags |= F_SCRATCH;
            if (!scratch_put(r, s, (size_t)(p - s) + doubled)) return oom(r), TOK_ERR;
        }
        p += 1 + doubled;
        s = p;
        if (!doubled) break;
    }
    f->p = (const char *)*pp + 1;
    f->len = (uint32_t)(p - 1 - (*pp + 1));
    /* Lenient like pandas: text between the closing quote and the delimiter is kept. */
    if (p < end && r->cls[*p] != C_STOP) {
        if (!(f->flags & F_SCRATCH)) {
            f->off = r->slen;
            f->flags |= F_SCRATCH;
            if (!scratch_put(r, f->p, f->len)) return oom(r), TOK_ERR;
        }
        const unsigned char *t = p;
        while (p < end && r->cls[*p] != C_STOP) p++;
        if ((size_t)(p - *pp) > 2u * HML_CSV_FIELD_BYTES_MAX + 2) return too_long(r, start_line);
        if (p == end && !r->eof) return TOK_MORE;
        for (const unsigned char *q = t; q < p; q++)
            if (*q & 0x80) f->flags |= F_HIGH;
        if (!scratch_put(r, t, (size_t)(p - t))) return oom(r), TOK_ERR;
    }
    if (f->flags & F_SCRATCH) f->len = (uint32_t)(r->slen - f->off);
    if (f->len > HML_CSV_FIELD_BYTES_MAX) return too_long(r, start_line);
    *pp = p;
    return TOK_RECORD;
}

static bool grow_fields(struct rd *r)
{
    size_t cap = r->fcap ? r->fcap * 2 : 64;
    struct field *f = hml_realloc(r->f, cap * sizeof *f);
    if (!f) return false;
    r->f = f;
    r->fcap = cap;
    return true;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* High bit set in each byte of x that is zero; wrong only above the lowest zero byte
 * (borrows), which is all the scan needs. */
static inline uint64_t zero_bytes(uint64_t x) { return (x - ONES) & ~x & HIGHS; }

/* First delimiter, CR or LF at or after p (or end), eight bytes at a time (this
 * loop is most of the tokenizer's time). Sets F_HIGH when a skipped byte is not ASCII. */
static inline const unsigned char *scan_plain(const struct rd *r, const unsigned char *p,
                                              const unsigned char *end, uint8_t *flags)
{
    uint64_t hi = 0;
    for (; end - p >= 8; p += 8) {
        uint64_t w = hml__load64(p);
        uint64_t m = zero_bytes(w ^ r->delim8) | zero_bytes(w ^ (ONES * '\n')) |
                     zero_bytes(w ^ (ONES * '\r'));
        if (m) {
            unsigned k = (unsigned)__builtin_ctzll(m) / 8;
            hi |= k ? w & HIGHS & (~0ull >> (64 - 8 * k)) : 0;
            p += k;
            goto done;
        }
        hi |= w & HIGHS;
    }
    for (; p < end && r->cls[*p] != C_STOP; p++) hi |= *p & 0x80;
done:
    if (hi) *flags |= F_HIGH;
    return p;
}

/* Cuts one record from [p, end) into r->f. TOK_MORE: the record is incomplete and
 * nothing was consumed. */
static enum tok tokenize(struct rd *r)
{
    const unsigned char *p = (const unsigned char *)r->p, *end = (const unsigned char *)r->end;
    size_t lines = 0;
    r->nf = 0;
    r->slen = 0;
    if (p == end) return r->eof ? TOK_EOF : TOK_MORE;
    for (;;) {
        if (r->nf == r->fcap && !grow_fields(r)) return oom(r), TOK_ERR;
        if (r->nf == HML_CSV_COLS_MAX) {
            hml_fail(r->err, HML_ELIMIT, "csv", "line %zu has more than %u fields", r->line,
                     HML_CSV_COLS_MAX);
            hml_hint(r->err, "a CSV may have at most HML_CSV_COLS_MAX (%u) columns; split the file",
                     HML_CSV_COLS_MAX);
            return TOK_ERR;
        }
        struct field *f = &r->f[r->nf++];
        f->line_off = (uint32_t)lines;
        f->flags = 0;
        if (p < end && *p == '"') {
            enum tok t = cut_quoted(r, f, &p, &lines);
            if (t != TOK_RECORD) return t;
        } else {
            const unsigned char *s = p;
            p = scan_plain(r, p, end, &f->flags);
            if ((size_t)(p - s) > HML_CSV_FIELD_BYTES_MAX) return too_long(r, r->line + lines);
            if (p == end && !r->eof) return TOK_MORE;
            f->p = (const char *)s;
            f->len = (uint32_t)(p - s);
        }
        if (p == end) break;
        if (*p == (unsigned char)r->delim) {
            p++;
            continue;
        }
        if (*p == '\r') {
            if (p + 1 == end && !r->eof) return TOK_MORE;
            p += 1 + (p + 1 < end && p[1] == '\n');
        } else {
            p++; /* '\n' */
        }
        lines++;
        break;
    }
    for (size_t i = 0; i < r->nf; i++)
        if (r->f[i].flags & F_SCRATCH) r->f[i].p = r->scratch + r->f[i].off;
    r->rec_line = r->line;
    r->line += lines;
    r->p = (const char *)p;
    return TOK_RECORD;
}

static enum tok next_record(struct rd *r)
{
    for (;;) {
        enum tok t = tokenize(r);
        if (t != TOK_MORE) return t;
        if (refill(r)) return TOK_ERR;
    }
}

static bool is_blank(const struct rd *r)
{
    return r->nf == 1 && r->f[0].len == 0 && !(r->f[0].flags & F_QUOTED);
}

/* ---- UTF-8 --------------------------------------------------------------------------- */

/* Copies s into r->fix with each maximal invalid subpart replaced by U+FFFD. */
static bool utf8_repair(struct rd *r, const char **s, size_t *len, size_t *fixed)
{
    if (*len * 3 + 1 > r->fixcap) {
        char *p = hml_realloc(r->fix, *len * 3 + 1);
        if (!p) return false;
        r->fix = p;
        r->fixcap = *len * 3 + 1;
    }
    const unsigned char *in = (const unsigned char *)*s;
    size_t o = 0;
    for (size_t i = 0; i < *len;) {
        int n = utf8_seq(in + i, *len - i);
        if (n > 0) {
            memcpy(r->fix + o, in + i, (size_t)n);
            o += (size_t)n;
            i += (size_t)n;
        } else {
            memcpy(r->fix + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += (size_t)-n;
            (*fixed)++;
        }
    }
    *s = r->fix;
    *len = o;
    return true;
}

/* Line of byte `at` of field f of the current record. */
static size_t line_of(const struct rd *r, const struct field *f, size_t at)
{
    size_t line = r->rec_line + f->line_off;
    for (size_t i = 0; i < at; i++)
        if (f->p[i] == '\n' || (f->p[i] == '\r' && (i + 1 >= f->len || f->p[i + 1] != '\n'))) line++;
    return line;
}

/* Validates field j of the current record; with auto_clean, repairs it instead.
 * On return s and len hold the text to use. */
static enum hml_status check_utf8(struct rd *r, size_t j, const char **s, size_t *len, bool count)
{
    const struct field *f = &r->f[j];
    size_t bad = hml__utf8_check((const unsigned char *)*s, *len);
    if (bad == *len) return HML_OK;
    const char *col = j < r->ncols && r->names ? r->names[j] : NULL;
    if (!r->auto_clean) {
        hml_fail(r->err, HML_EINVAL, "csv", "invalid UTF-8 at line %zu, field %zu%s%s%s: byte 0x%02X",
                 line_of(r, f, bad), j + 1, col ? " (column '" : "", col ? col : "", col ? "')" : "",
                 (unsigned char)(*s)[bad]);
        return hml_hint(r->err, "re-save the file as UTF-8, or pass auto_clean=true to replace "
                        "invalid bytes with U+FFFD");
    }
    size_t fixed = 0;
    if (!utf8_repair(r, s, len, &fixed)) return oom(r);
    if (count) {
        if (r->utf8_fixed == 0) r->utf8_first_line = line_of(r, f, bad), r->utf8_first_col = j;
        r->utf8_fixed += fixed;
    }
    return HML_OK;
}

/* ---- column builders ---------------------------------------------------------------- */

static size_t state_width(enum cstate st)
{
    switch (st) {
    case CS_BOOL: return 1;
    case CS_INT:
    case CS_FLOAT: return 8;
    case CS_DATE:
    case CS_STR: return 4;
    default: return 0;
    }
}

static size_t input_pos(const struct rd *r)
{
    return r->fd < 0 ? (size_t)(r->p - r->mem) : r->consumed + (size_t)(r->p - r->buf);
}

/* Rows the whole input will hold, judged from the bytes per row so far (0 when the
 * size is unknown). Sizing the arrays once keeps the allocator's books close to
 * the frame's real size instead of up to twice it. */
static size_t estimate_rows(const struct rd *r)
{
    size_t pos = input_pos(r);
    if (!r->size || r->size <= r->data_start || pos <= r->data_start || r->rows == 0) return 0;
    double per_row = (double)(pos - r->data_start) / (double)r->rows;
    double est = (double)(r->size - r->data_start) / per_row * 1.02 + 16;
    return est < (double)HML_FRAME_ROWS_MAX ? (size_t)est : HML_FRAME_ROWS_MAX;
}

static bool grow_rows(struct rd *r)
{
    size_t cap = r->rows_cap ? r->rows_cap + r->rows_cap / 2 : ROWS_CAP_MIN;
    size_t est = r->rows_cap ? estimate_rows(r) : 0;
    if (est > cap) cap = est;
    for (size_t j = 0; j < r->ncols; j++) {
        struct colb *c = &r->cols[j];
        if (c->data) {
            void *d = hml_realloc(c->data, cap * state_width(c->st));
            if (!d) return false;
            c->data = d;
        }
        if (c->valid) {
            uint8_t *v = hml_realloc(c->valid, hml__bitmap_bytes(cap));
            if (!v) return false;
            memset(v + hml__bitmap_bytes(r->rows_cap), 0xff,
                   hml__bitmap_bytes(cap) - hml__bitmap_bytes(r->rows_cap));
            c->valid = v;
        }
    }
    r->rows_cap = cap;
    return true;
}

static bool set_null(struct rd *r, struct colb *c)
{
    size_t row = r->rows;
    if (!c->valid) {
        c->valid = hml_malloc(hml__bitmap_bytes(r->rows_cap));
        if (!c->valid) return false;
        memset(c->valid, 0xff, hml__bitmap_bytes(r->rows_cap));
    }
    c->valid[row >> 3] &= (uint8_t)~(1u << (row & 7));
    c->nulls++;
    if (c->data) memset((char *)c->data + row * state_width(c->st), 0, state_width(c->st));
    return true;
}

/* Cheap test of the numeric grammar for statistics on string columns. */
static bool looks_numeric(const char *s, size_t len)
{
    if (len == 0) return false;
    unsigned c = (unsigned char)s[0];
    if (!((c - '0') <= 9 || c == '-' || c == '+' || c == '.' || c == ' ' || c == '\t')) return false;
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    double d;
    return hml__parse_f64(s, len, &d);
}

static void note_token(struct colb *c, const char *s, size_t len, size_t line)
{
    if (looks_numeric(s, len)) {
        c->numeric++;
        return;
    }
    if (c->noff == OFFENDERS_MAX) return;
    struct offender *o = &c->off[c->noff++];
    o->line = line;
    size_t n = len < sizeof o->tok - 1 ? len : sizeof o->tok - 4;
    /* Cut at a character boundary so the warning stays valid UTF-8. */
    while (n < len && n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--;
    memcpy(o->tok, s, n);
    memcpy(o->tok + n, n < len ? "..." : "", n < len ? 4 : 1);
}

static enum hml_status put_str(struct rd *r, struct colb *c, const char *s, size_t len, size_t line)
{
    int32_t code = hml__dict_intern_h(c->dict, s, len, hml__hash_bytes(s, len, 0));
    if (code < 0) return oom(r);
    ((int32_t *)c->data)[r->rows] = code;
    note_token(c, s, len, line);
    return HML_OK;
}

union val {
    int64_t i;
    double d;
    int32_t days;
    uint8_t b;
};

/* What a non-null token is, trying the narrow types first. Surrounding spaces are
 * ignored for the typed readings (a string keeps them). */
static enum cstate classify(const char *s, size_t len, union val *v)
{
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (hml__parse_i64(s, len, &v->i)) return CS_INT;
    if (hml__parse_f64(s, len, &v->d)) return CS_FLOAT;
    if (hml__parse_bool(s, len, &v->b)) return CS_BOOL;
    if (hml_date_parse(s, len, &v->days)) return CS_DATE;
    return CS_STR;
}

/* First value of a column that was all null so far: allocate for its type. */
static enum hml_status begin(struct rd *r, struct colb *c, enum cstate st)
{
    c->data = hml_calloc(r->rows_cap, state_width(st));
    if (!c->data) return oom(r);
    if (st == CS_STR && !(c->dict = hml_dict_new())) return oom(r);
    c->st = st;
    return HML_OK;
}

/* The column must become a string column after typed values were stored. */
static void go_late(struct rd *r, struct colb *c, const char *s, size_t len, size_t line)
{
    c->numeric = (c->st == CS_INT || c->st == CS_FLOAT) ? r->rows - c->nulls : 0;
    hml_free(c->data);
    c->data = NULL;
    c->st = CS_LATE;
    note_token(c, s, len, line);
}

static void store(struct rd *r, struct colb *c, enum cstate k, const union val *v)
{
    size_t row = r->rows;
    switch (c->st) {
    case CS_BOOL: ((uint8_t *)c->data)[row] = v->b; break;
    case CS_INT: ((int64_t *)c->data)[row] = v->i; break;
    case CS_FLOAT: ((double *)c->data)[row] = k == CS_INT ? (double)v->i : v->d; break;
    case CS_DATE: ((int32_t *)c->data)[row] = v->days; break;
    default: HML_ASSERT(!"store into an untyped column");
    }
}

static enum hml_status put_slow(struct rd *r, struct colb *c, const char *s, size_t len,
                                size_t line)
{
    union val v;
    enum cstate k = classify(s, len, &v);
    if (c->st == CS_NONE) {
        enum hml_status rc = begin(r, c, k);
        if (rc) return rc;
        if (k == CS_STR) return put_str(r, c, s, len, line);
    } else if (c->st == CS_INT && k == CS_FLOAT) {
        /* In place: int64 and double have the same width. */
        char *p = c->data;
        for (size_t i = 0; i < r->rows; i++) {
            int64_t x;
            memcpy(&x, p + i * 8, 8);
            double d = (double)x;
            memcpy(p + i * 8, &d, 8);
        }
        c->st = CS_FLOAT;
    } else if (!(c->st == k || (c->st == CS_FLOAT && k == CS_INT))) {
        go_late(r, c, s, len, line);
        return HML_OK;
    }
    store(r, c, k, &v);
    return HML_OK;
}

static enum hml_status put_field(struct rd *r, size_t j)
{
    struct colb *c = &r->cols[j];
    const struct field *f = &r->f[j];
    size_t line = r->rec_line + f->line_off;
    const char *s = f->p;
    size_t len = f->len;
    if (f->flags & F_HIGH) {
        enum hml_status rc = check_utf8(r, j, &s, &len, true);
        if (rc) return rc;
    }
    if (is_null(&r->nt, s, len)) return set_null(r, c) ? HML_OK : oom(r);
    switch (c->st) {
    case CS_INT: {
        int64_t v;
        if (!hml__parse_i64(s, len, &v)) break;
        ((int64_t *)c->data)[r->rows] = v;
        return HML_OK;
    }
    case CS_FLOAT: {
        double d;
        if (!hml__parse_f64(s, len, &d)) break;
        ((double *)c->data)[r->rows] = d;
        return HML_OK;
    }
    case CS_DATE:
        if (hml_date_parse(s, len, &((int32_t *)c->data)[r->rows])) return HML_OK;
        break;
    case CS_BOOL:
        if (hml__parse_bool(s, len, &((uint8_t *)c->data)[r->rows])) return HML_OK;
        break;
    case CS_STR: return put_str(r, c, s, len, line);
    case CS_LATE: note_token(c, s, len, line); return HML_OK;
    default: break;
    }
    return put_slow(r, c, s, len, line);
}

/* ---- header -------------------------------------------------------------------------- */

static void trim(const char **s, size_t *len)
{
    while (*len && ((*s)[0] == ' ' || (*s)[0] == '\t')) (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) (*len)--;
}

/* Picks a unique name for column j whose wanted name is taken: name_2, name_3, … */
static char *unique_name(const char *name, struct hml_dict *all, struct hml_dict *taken)
{
    size_t n = strlen(name);
    char *cand = hml_malloc(n + 24);
    if (!cand) return NULL;
    for (unsigned long k = 2;; k++) {
        int w = snprintf(cand, n + 24, "%s_%lu", name, k);
        if (hml_dict_find(all, cand, (size_t)w) < 0 && hml_dict_find(taken, cand, (size_t)w) < 0)
            return cand;
    }
}

/* Wanted names: trimmed header fields, column_<i> for empty ones. */
static enum hml_status header_names(struct rd *r, struct hml_dict *all)
{
    for (size_t j = 0; j < r->ncols; j++) {
        const char *s = r->f[j].p;
        size_t len = r->f[j].len;
        if (r->f[j].flags & F_HIGH) {
            enum hml_status rc = check_utf8(r, j, &s, &len, true);
            if (rc) return rc;
        }
        trim(&s, &len);
        char num[32];
        if (len == 0) {
            snprintf(num, sizeof num, "column_%zu", j + 1);
            s = num;
            len = strlen(num);
            if (!add_warning(r->rep, "column %zu has an empty name; it is named '%s'", j + 1, num))
                return oom(r);
        }
        r->names[j] = hml_strndup(s, len);
        if (!r->names[j] || hml_dict_intern(all, s, len) < 0) return oom(r);
    }
    return HML_OK;
}

static enum hml_status dedupe_names(struct rd *r, struct hml_dict *all, struct hml_dict *taken)
{
    size_t *first = hml_malloc((hml_dict_size(all) + 1) * sizeof *first);
    if (!first) return oom(r);
    for (size_t j = 0; j < r->ncols; j++) {
        int32_t code = hml_dict_find(all, r->names[j], strlen(r->names[j]));
        if (hml_dict_find(taken, r->names[j], strlen(r->names[j])) < 0) {
            if (hml_dict_intern(taken, r->names[j], strlen(r->names[j])) < 0) goto nomem;
            first[code] = j;
            continue;
        }
        char *u = unique_name(r->names[j], all, taken);
        if (!u || hml_dict_intern(taken, u, strlen(u)) < 0) {
            hml_free(u);
            goto nomem;
        }
        bool ok = add_warning(r->rep, "duplicate column name '%s' (columns %zu and %zu): "
                              "column %zu is renamed '%s'", r->names[j], first[code] + 1, j + 1,
                              j + 1, u);
        hml_free(r->names[j]);
        r->names[j] = u;
        if (!ok) goto nomem;
    }
    hml_free(first);
    return HML_OK;
nomem:
    hml_free(first);
    return oom(r);
}

static enum hml_status read_header(struct rd *r)
{
    enum tok t;
    do t = next_record(r);
    while (t == TOK_RECORD && is_blank(r));
    if (t == TOK_ERR) return r->err->code;
    if (t == TOK_EOF) {
        hml_fail(r->err, HML_EINVAL, "csv", "file is empty");
        return hml_hint(r->err, "the first line must be a header naming the columns, followed by "
                        "one line per row");
    }
    r->ncols = r->nf;
    r->names = hml_calloc(r->ncols, sizeof *r->names);
    r->cols = hml_calloc(r->ncols, sizeof *r->cols);
    if (!r->names || !r->cols) return oom(r);
    struct hml_dict *all = hml_dict_new(), *taken = hml_dict_new();
    enum hml_status rc = all && taken ? header_names(r, all) : oom(r);
    if (!rc) rc = dedupe_names(r, all, taken);
    hml_dict_free(all);
    hml_dict_free(taken);
    return rc;
}

/* ---- the passes ---------------------------------------------------------------------- */

static void note_ragged(struct rd *r)
{
    if (r->nragged < RAGGED_LIST_MAX) r->rag[r->nragged] = (struct ragged){r->rec_line, r->nf};
    r->nragged++;
}

static enum hml_status too_many_rows(struct rd *r)
{
    hml_fail(r->err, HML_ELIMIT, "csv", "the file has more than %zu data rows", r->rows_max);
    return hml_hint(r->err, "raise rows_max (at most %u), or sample the file first",
                    HML_FRAME_ROWS_MAX);
}

static enum hml_status pass1(struct rd *r)
{
    for (;;) {
        enum tok t = next_record(r);
        if (t == TOK_EOF) return HML_OK;
        if (t == TOK_ERR) return r->err->code;
        if (is_blank(r)) continue;
        if (r->nf != r->ncols) {
            note_ragged(r);
            continue;
        }
        /* Rows after a ragged one only matter for the error, unless we skip them. */
        if (r->nragged && !r->auto_clean) continue;
        if (r->rows == r->rows_max) return too_many_rows(r);
        if (r->rows == r->rows_cap && !grow_rows(r)) return oom(r);
        for (size_t j = 0; j < r->ncols; j++) {
            enum hml_status rc = put_field(r, j);
            if (rc) return rc;
        }
        r->rows++;
    }
}

/* Fills the columns that turned into strings late, re-reading the input. */
static enum hml_status pass2(struct rd *r)
{
    size_t late = 0;
    for (size_t j = 0; j < r->ncols; j++) {
        struct colb *c = &r->cols[j];
        if (c->st != CS_LATE) continue;
        late++;
        c->data = hml_calloc(r->rows ? r->rows : 1, sizeof(int32_t));
        c->dict = hml_dict_new();
        if (!c->data || !c->dict) return oom(r);
    }
    if (!late) return HML_OK;
    enum hml_status rc = rewind_input(r);
    enum tok t;
    do t = rc ? TOK_ERR : next_record(r); /* the header, again */
    while (t == TOK_RECORD && is_blank(r));
    if (t == TOK_RECORD) t = next_record(r);
    size_t row = 0;
    while (t == TOK_RECORD) {
        if (!is_blank(r) && r->nf == r->ncols) {
            if (row == r->rows) break;
            for (size_t j = 0; j < r->ncols; j++) {
                struct colb *c = &r->cols[j];
                if (c->st != CS_LATE) continue;
                const char *s = r->f[j].p;
                size_t len = r->f[j].len;
                if ((r->f[j].flags & F_HIGH) && (rc = check_utf8(r, j, &s, &len, false))) return rc;
                if (is_null(&r->nt, s, len)) continue;
                int32_t code = hml_dict_intern(c->dict, s, len);
                if (code < 0) return oom(r);
                ((int32_t *)c->data)[row] = code;
            }
            row++;
        }
        t = next_record(r);
    }
    if (t == TOK_ERR) return r->err->code;
    if (row != r->rows || t != TOK_EOF) {
        hml_fail(r->err, HML_EIO, "csv", "'%s' changed while it was being read", r->path);
        return hml_hint(r->err, "read it again once nothing else is writing to it");
    }
    return HML_OK;
}

/* ---- findings -------------------------------------------------------------------------- */

static void list_lines(struct hml_buf *b, const struct rd *r, bool counts)
{
    size_t shown = r->nragged < RAGGED_LIST_MAX ? r->nragged : RAGGED_LIST_MAX;
    for (size_t i = 0; i < shown; i++) {
        if (counts)
            hml_buf_printf(b, "%sline %zu has %zu", i ? ", " : "", r->rag[i].line, r->rag[i].fields);
        else
            hml_buf_printf(b, "%s%zu", i ? ", " : "", r->rag[i].line);
    }
    if (r->nragged > shown) hml_buf_printf(b, ", and %zu more", r->nragged - shown);
}

static enum hml_status ragged_error(struct rd *r)
{
    struct hml_buf b = HML_BUF_INIT;
    list_lines(&b, r, true);
    if (!hml_buf_ok(&b)) {
        hml_buf_free(&b);
        return oom(r);
    }
    hml_fail(r->err, HML_EINVAL, "csv",
             "%zu row%s the wrong number of fields (the header has %zu): %s", r->nragged,
             r->nragged == 1 ? " has" : "s have", r->ncols, hml_buf_str(&b));
    hml_buf_free(&b);
    return hml_hint(r->err, "fix the file, or pass auto_clean=true to skip these rows");
}

static enum hml_status ragged_warning(struct rd *r)
{
    struct hml_buf b = HML_BUF_INIT;
    list_lines(&b, r, false);
    bool ok = hml_buf_ok(&b) &&
              add_warning(r->rep, "skipped %zu row%s with the wrong number of fields (the header "
                          "has %zu): line%s %s", r->nragged, r->nragged == 1 ? "" : "s", r->ncols,
                          r->nragged == 1 ? "" : "s", hml_buf_str(&b));
    hml_buf_free(&b);
    return ok ? HML_OK : oom(r);
}

/* Warns about a string column that is almost all numbers: usually a missing-value
 * marker the reader does not know. */
static bool mostly_numeric_warning(struct rd *r, size_t j)
{
    const struct colb *c = &r->cols[j];
    size_t nonnull = r->rows - c->nulls;
    if (nonnull == 0 || c->numeric == nonnull || c->numeric * 100 < nonnull * MOSTLY_NUMERIC_PCT)
        return true;
    struct hml_buf b = HML_BUF_INIT;
    for (int i = 0; i < c->noff; i++)
        hml_buf_printf(&b, "%s'%s' (line %zu)", i ? ", " : "", c->off[i].tok, c->off[i].line);
    bool ok = hml_buf_ok(&b) &&
              add_warning(r->rep, "column '%s' was read as string although %zu of its %zu values "
                          "are numbers; not numbers: %s%s; if these mean missing, add them to "
                          "null_tokens", r->names[j], c->numeric, nonnull, hml_buf_str(&b),
                          nonnull - c->numeric > (size_t)c->noff ? ", …" : "");
    hml_buf_free(&b);
    return ok;
}

static enum hml_status findings(struct rd *r)
{
    if (r->nragged && !r->auto_clean) return ragged_error(r);
    if (r->nragged) {
        enum hml_status rc = ragged_warning(r);
        if (rc) return rc;
    }
    if (r->utf8_fixed &&
        !add_warning(r->rep, "replaced %zu invalid UTF-8 sequence%s with U+FFFD (the first at line "
                     "%zu, column '%s')", r->utf8_fixed, r->utf8_fixed == 1 ? "" : "s",
                     r->utf8_first_line, r->names[r->utf8_first_col]))
        return oom(r);
    if (r->rows == 0 &&
        !add_warning(r->rep, "%s; all %zu columns are empty", r->nragged ? "no rows are left after "
                     "skipping" : "the file has a header but no data rows", r->ncols))
        return oom(r);
    for (size_t j = 0; j < r->ncols; j++) {
        enum cstate st = r->cols[j].st;
        if ((st == CS_STR || st == CS_LATE) && !mostly_numeric_warning(r, j)) return oom(r);
    }
    return HML_OK;
}

/* ---- frame assembly -------------------------------------------------------------------- */

static enum hml_type final_type(enum cstate st)
{
    switch (st) {
    case CS_BOOL: return HML_TYPE_BOOL;
    case CS_INT: return HML_TYPE_I64;
    case CS_DATE: return HML_TYPE_DATE;
    case CS_STR:
    case CS_LATE: return HML_TYPE_STR;
    default: return HML_TYPE_F64;
    }
}

/* Moves builder j's arrays into a column, trimmed to the row count. */
static struct hml_column *finish_column(struct rd *r, struct colb *c)
{
    size_t n = r->rows;
    enum hml_type t = final_type(c->st);
    size_t w = hml__type_width(t);
    void *data = c->data;
    if (!data) data = hml_calloc(n ? n : 1, w); /* all null */
    if (!data) return NULL;
    if (c->data && n < r->rows_cap && c->st != CS_LATE) {
        void *d = hml_realloc(data, (n ? n : 1) * w);
        if (d) data = d; /* a failed shrink just keeps the larger block */
    }
    c->data = NULL;
    uint8_t *valid = c->valid;
    c->valid = NULL;
    if (c->nulls == 0 || n == 0) {
        hml_free(valid);
        valid = NULL;
    } else if (hml__bitmap_bytes(n) < hml__bitmap_bytes(r->rows_cap)) {
        uint8_t *v = hml_realloc(valid, hml__bitmap_bytes(n));
        if (v) valid = v; /* keeping the larger block is harmless */
    }
    struct hml_dict *dict = c->dict;
    c->dict = NULL;
    if (t == HML_TYPE_STR && !dict && !(dict = hml_dict_new())) {
        hml_free(data);
        hml_free(valid);
        return NULL;
    }
    return hml__column_wrap(t, n, data, valid, n ? c->nulls : 0, dict);
}

static enum hml_status build_frame(struct rd *r, struct hml_frame **out)
{
    struct hml_frame *fr = hml_frame_new();
    if (!fr) return oom(r);
    for (size_t j = 0; j < r->ncols; j++) {
        struct hml_column *c = finish_column(r, &r->cols[j]);
        enum hml_status rc = c ? hml_frame_add(fr, r->names[j], c, r->err) : oom(r);
        hml_column_unref(c);
        if (rc) {
            hml_frame_free(fr);
            return rc;
        }
    }
    fr->nrows = r->rows;
    *out = fr;
    return HML_OK;
}

static void rd_fini(struct rd *r)
{
    for (size_t j = 0; r->cols && j < r->ncols; j++) {
        hml_free(r->cols[j].data);
        hml_free(r->cols[j].valid);
        hml_dict_free(r->cols[j].dict);
    }
    for (size_t j = 0; r->names && j < r->ncols; j++) hml_free(r->names[j]);
    hml_free(r->cols);
    hml_free(r->names);
    hml_free(r->f);
    hml_free(r->scratch);
    hml_free(r->fix);
    hml_free(r->buf);
}

static enum hml_status rd_init(struct rd *r, const struct hml_csv_options *opt,
                               struct hml_ingest_report *rep, struct hml_error *err)
{
    memset(r, 0, sizeof *r);
    memset(rep, 0, sizeof *rep);
    r->fd = -1;
    r->rep = rep;
    r->err = err;
    r->delim = opt && opt->delimiter ? opt->delimiter : ',';
    r->auto_clean = opt && opt->auto_clean;
    r->rows_max = opt && opt->rows_max ? opt->rows_max : HML_FRAME_ROWS_MAX;
    if (r->rows_max > HML_FRAME_ROWS_MAX) r->rows_max = HML_FRAME_ROWS_MAX;
    nulls_init(&r->nt, opt);
    if (r->delim == '"' || r->delim == '\n' || r->delim == '\r' || (r->delim & 0x80)) {
        hml_fail(err, HML_EINVAL, "csv", "delimiter 0x%02X cannot be used",
                 (unsigned char)r->delim);
        return hml_hint(err, "use an ASCII delimiter other than a quote or a line break, e.g. ',' "
                        "';' or '\\t'");
    }
    for (int c = 0x80; c < 256; c++) r->cls[c] = C_HIGH;
    r->cls['\n'] = r->cls['\r'] = r->cls[(unsigned char)r->delim] = C_STOP;
    r->delim8 = ONES * (unsigned char)r->delim;
    return HML_OK;
}

static enum hml_status read_all(struct rd *r, struct hml_frame **out)
{
    enum hml_status rc = rewind_input(r);
    if (!rc) rc = read_header(r);
    if (!rc) r->data_start = input_pos(r);
    if (!rc) rc = pass1(r);
    if (!rc) rc = findings(r);
    if (!rc) rc = pass2(r);
    if (r->rep) {
        r->rep->ragged = r->nragged;
        r->rep->skipped = r->auto_clean ? r->nragged : 0;
    }
    if (rc) return rc;
    rc = build_frame(r, out);
    if (rc) return rc;
    r->rep->rows = r->rows;
    for (size_t j = 0; j < (*out)->ncols; j++) r->rep->nulls += (*out)->cols[j]->null_count;
    return HML_OK;
}

/* Reading is all-or-nothing: *out is set only on success, warnings stay in rep. */
static enum hml_status run(struct rd *r, struct hml_frame **out, struct hml_ingest_report *rep,
                           struct hml_ingest_report *local)
{
    struct hml_frame *fr = NULL;
    enum hml_status rc = read_all(r, &fr);
    rd_fini(r);
    if (!rc) *out = fr;
    if (rep == local) hml_ingest_report_fini(local);
    return rc;
}

enum hml_status hml_csv_read_mem(const char *data, size_t len, const struct hml_csv_options *opt,
                                 struct hml_frame **out, struct hml_ingest_report *rep,
                                 struct hml_error *err)
{
    struct hml_ingest_report local;
    struct rd r;
    if (!rep) rep = &local;
    enum hml_status rc = rd_init(&r, opt, rep, err);
    if (rc) {
        if (rep == &local) hml_ingest_report_fini(&local);
        return rc;
    }
    r.mem = data ? data : "";
    r.mem_len = r.size = data ? len : 0;
    r.path = "<memory>";
    return run(&r, out, rep, &local);
}

static enum hml_status open_input(const char *path, int *fd_out, size_t *size_out,
                                  struct hml_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            hml_fail(err, HML_ENOTFOUND, "csv", "file '%s' not found", path);
            return hml_hint(err, "check the path; relative paths are resolved from the project "
                            "directory");
        }
        hml_fail(err, HML_EIO, "csv", "cannot open '%s': %s", path, strerror(e));
        return hml_hint(err, "check the permissions of '%s'", path);
    }
    struct stat st;
    bool known = fstat(fd, &st) == 0;
    if (known && S_ISDIR(st.st_mode)) {
        close(fd);
        hml_fail(err, HML_EINVAL, "csv", "'%s' is a directory, not a CSV file", path);
        return hml_hint(err, "pass the path of a file inside it");
    }
    *fd_out = fd;
    *size_out = known && S_ISREG(st.st_mode) ? (size_t)st.st_size : 0;
    return HML_OK;
}

enum hml_status hml_csv_read_file(const char *path, const struct hml_csv_options *opt,
                                  struct hml_frame **out, struct hml_ingest_report *rep,
                                  struct hml_error *err)
{
    struct hml_ingest_report local;
    struct rd r;
    if (!rep) rep = &local;
    enum hml_status rc = rd_init(&r, opt, rep, err);
    if (!rc) rc = open_input(path, &r.fd, &r.size, err);
    if (rc) {
        if (rep == &local) hml_ingest_report_fini(&local);
        return rc;
    }
    r.path = path;
    int fd = r.fd;
    rc = run(&r, out, rep, &local);
    close(fd);
    return rc;
}

/* ---- writer ---------------------------------------------------------------------------- */

static void put_cell(struct hml_buf *b, const char *s, size_t len)
{
    bool quote = false;
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        hml_buf_append(b, s, len);
        return;
    }
    hml_buf_putc(b, '"');
    for (const char *q; len && (q = memchr(s, '"', len));) {
        hml_buf_append(b, s, (size_t)(q - s) + 1);
        hml_buf_putc(b, '"');
        len -= (size_t)(q - s) + 1;
        s = q + 1;
    }
    hml_buf_append(b, s, len);
    hml_buf_putc(b, '"');
}

enum hml_status hml_csv_write(const struct hml_frame *f, struct hml_buf *out, struct hml_error *err)
{
    for (size_t j = 0; j < f->ncols; j++) {
        if (j) hml_buf_putc(out, ',');
        put_cell(out, f->names[j], strlen(f->names[j]));
    }
    hml_buf_putc(out, '\n');
    char tmp[64];
    for (size_t i = 0; i < f->nrows && hml_buf_ok(out); i++) {
        for (size_t j = 0; j < f->ncols; j++) {
            const struct hml_column *c = f->cols[j];
            if (j) hml_buf_putc(out, ',');
            if (hml_column_is_null(c, i)) continue;
            if (c->type == HML_TYPE_STR) {
                int32_t code = hml_codes(c)[i];
                put_cell(out, hml_dict_get(c->dict, code), hml_dict_len(c->dict, code));
            } else {
                hml_buf_append(out, tmp, hml_column_format(c, i, tmp, sizeof tmp));
            }
        }
        hml_buf_putc(out, '\n');
    }
    if (!hml_buf_ok(out)) return hml_fail(err, HML_ENOMEM, "csv.write", "out of memory writing CSV");
    return HML_OK;
}
