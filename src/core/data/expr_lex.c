/* expr_lex.c — the formula tokenizer: one token at a time, with 1-based line:column
 * positions counted in characters so that errors point where the user looks. */
#include "core/data/expr_lex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/alloc.h"

static bool is_name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_name_char(unsigned char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Moves n bytes forward, keeping line and column (UTF-8 continuation bytes do not
 * start a new column). */
static void advance(struct hml__lex *lx, size_t n)
{
    for (size_t i = 0; i < n && lx->p < lx->end; i++, lx->p++) {
        unsigned char c = (unsigned char)*lx->p;
        if (c == '\n') {
            lx->line++;
            lx->col = 1;
        } else if ((c & 0xC0) != 0x80) {
            lx->col++;
        }
    }
}

enum hml_status hml__xfail(struct hml_error *err, enum hml_status code, struct hml__xpos at,
                           const char *hint, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hml_fail(err, code, "expr", "%s at %u:%u", msg, at.line, at.col);
    return hml_hint(err, "%s", hint);
}

enum hml_status hml__xunknown(struct hml_error *err, enum hml_status code, const char *what,
                              const char *name, struct hml__xpos at, const char *const *names,
                              size_t n)
{
    hml_fail(err, code, "expr", "unknown %s '%s' at %u:%u", what, name, at.line, at.col);
    hml_error_choices(err, name, names, n);
    if (err && err->did_you_mean[0])
        hml_fail(err, code, "expr", "unknown %s '%s' at %u:%u — did you mean '%s'?", what, name,
                 at.line, at.col, err->did_you_mean);
    return code;
}

/* The raw text of a token for messages, shortened to keep messages readable. */
const char *hml__tok_text(const struct hml__tok *t, char *buf, size_t cap)
{
    if (t->k == TK_EOF) return "end of formula";
    size_t n = t->len < 40 ? t->len : 40;
    snprintf(buf, cap, "'%.*s%s'", (int)n, t->p, t->len > n ? "…" : "");
    return buf;
}

static const struct { const char *word; enum hml__tk k; } keywords[] = {
    {"and", TK_AND}, {"or", TK_OR}, {"not", TK_NOT}, {"in", TK_IN},
    {"true", TK_TRUE}, {"false", TK_FALSE}, {"null", TK_NULL},
};

static void lex_name(struct hml__lex *lx, struct hml__tok *t)
{
    const char *s = lx->p;
    while (s < lx->end && is_name_char((unsigned char)*s)) s++;
    t->len = (size_t)(s - lx->p);
    t->body = t->p;
    t->body_len = t->len;
    t->k = TK_NAME;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        if (strlen(keywords[i].word) == t->len && !memcmp(keywords[i].word, t->p, t->len)) {
            t->k = keywords[i].k;
            break;
        }
    }
    if (t->k == TK_NAME) {
        /* A name directly followed by '(' is a call: the parser needs no second token. */
        const char *q = s;
        while (q < lx->end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
        if (q < lx->end && *q == '(') t->k = TK_FUNC;
    }
    advance(lx, t->len);
}

/* Digits with optional fraction and exponent; int when neither is present and the value
 * fits in int64, float otherwise. */
static enum hml_status lex_number(struct hml__lex *lx, struct hml__tok *t)
{
    const char *s = lx->p;
    bool is_float = false, bad = false;
    while (s < lx->end && is_digit((unsigned char)*s)) s++;
    if (s < lx->end && *s == '.') {
        is_float = true;
        s++;
        while (s < lx->end && is_digit((unsigned char)*s)) s++;
    }
    if (s < lx->end && (*s == 'e' || *s == 'E')) {
        is_float = true;
        s++;
        if (s < lx->end && (*s == '+' || *s == '-')) s++;
        if (s >= lx->end || !is_digit((unsigned char)*s)) bad = true;
        while (s < lx->end && is_digit((unsigned char)*s)) s++;
    }
    while (s < lx->end && (is_name_char((unsigned char)*s) || *s == '.')) s++, bad = true;
    t->len = (size_t)(s - lx->p);
    t->k = TK_NUM;
    if (bad || t->len >= 64) {
        char tmp[64];
        return hml__xfail(lx->err, HML_EINVAL, t->at,
                             "write numbers like 12, 1.5 or 2e-3; put '*' between a number and a name",
                             "malformed number %s", hml__tok_text(t, tmp, sizeof tmp));
    }
    char buf[64];
    memcpy(buf, lx->p, t->len);
    buf[t->len] = 0;
    errno = 0;
    if (!is_float) {
        long long v = strtoll(buf, NULL, 10);
        if (errno == 0) {
            t->k = TK_INT;
            t->ival = v;
            advance(lx, t->len);
            return HML_OK;
        }
    }
    t->k = TK_NUM;
    t->num = strtod(buf, NULL);
    advance(lx, t->len);
    return HML_OK;
}

/* 'text', "text" and `name`: finds the closing quote (backslash escapes only in
 * strings); body is the raw text between the quotes. */
static enum hml_status lex_quoted(struct hml__lex *lx, struct hml__tok *t, char q)
{
    const char *s = lx->p + 1;
    while (s < lx->end && *s != q) {
        if (*s == '\\' && q != '`' && s + 1 < lx->end) s++;
        s++;
    }
    if (s >= lx->end) {
        if (q == '`')
            return hml__xfail(lx->err, HML_EINVAL, t->at, "close the name with a backtick (`)",
                                 "unterminated `name`");
        return hml__xfail(lx->err, HML_EINVAL, t->at,
                             q == '\'' ? "close the string with a single quote (')"
                                       : "close the string with a double quote (\")",
                             "unterminated string");
    }
    t->body = lx->p + 1;
    t->body_len = (size_t)(s - t->body);
    t->len = (size_t)(s + 1 - lx->p);
    t->k = q == '`' ? TK_QNAME : TK_STR;
    if (q == '`' && t->body_len == 0)
        return hml__xfail(lx->err, HML_EINVAL, t->at, "write the column name between the backticks",
                             "empty `` name");
    advance(lx, t->len);
    return HML_OK;
}

static enum hml_status lex_ref(struct hml__lex *lx, struct hml__tok *t)
{
    const char *start = lx->p;
    advance(lx, 1);
    enum hml_status rc = HML_OK;
    if (lx->p < lx->end && *lx->p == '`') {
        rc = lex_quoted(lx, t, '`');
    } else if (lx->p < lx->end && is_name_start((unsigned char)*lx->p)) {
        t->p = lx->p;
        lex_name(lx, t);
    } else {
        return hml__xfail(lx->err, HML_EINVAL, t->at, "write @name or @`name with spaces`",
                             "expected a feature name after '@'");
    }
    if (rc) return rc;
    t->k = TK_REF;
    t->p = start;
    t->len = (size_t)(lx->p - start);
    return HML_OK;
}

struct op2 {
    const char *s;
    enum hml__tk k;
};

static const struct op2 ops[] = {
    {"**", TK_POW}, {"==", TK_EQ}, {"!=", TK_NE}, {"<=", TK_LE}, {">=", TK_GE},
    {"+", TK_PLUS}, {"-", TK_MINUS}, {"*", TK_STAR}, {"/", TK_SLASH}, {"%", TK_PCT},
    {"<", TK_LT}, {">", TK_GT}, {"(", TK_LP}, {")", TK_RP}, {"[", TK_LB}, {"]", TK_RB},
    {",", TK_COMMA},
};

/* Characters people reach for from other languages, with what to write instead. */
static const struct { char c; const char *hint; } foreign[] = {
    {'=', "use '==' to compare"},        {'!', "use 'not x', or '!=' to compare"},
    {'&', "use 'and'"},                  {'|', "use 'or'"},
    {'^', "use '**' for powers"},        {'~', "use 'not'"},
    {'$', "write the column name as it is, or `quoted` when it has spaces"},
    {'.', "write names with dots or spaces in backticks: `a.b`"},
};

static enum hml_status lex_op(struct hml__lex *lx, struct hml__tok *t)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].s);
        if ((size_t)(lx->end - lx->p) >= n && !memcmp(lx->p, ops[i].s, n)) {
            t->k = ops[i].k;
            t->len = n;
            advance(lx, n);
            return HML_OK;
        }
    }
    const char *hint = "formulas use names, numbers, 'strings', + - * / % **, comparisons, "
                       "and/or/not, in [..] and function calls";
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        if (*lx->p == foreign[i].c) hint = foreign[i].hint;
    unsigned char c = (unsigned char)*lx->p;
    if (c < 0x20 || c == 0x7f)
        return hml__xfail(lx->err, HML_EINVAL, t->at, hint, "unexpected control character 0x%02x", c);
    return hml__xfail(lx->err, HML_EINVAL, t->at, hint, "unexpected character '%c'", c);
}

enum hml_status hml__lex_next(struct hml__lex *lx, struct hml__tok *t)
{
    while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n'))
        advance(lx, 1);
    memset(t, 0, sizeof *t);
    t->at = (struct hml__xpos){lx->line, lx->col};
    t->p = lx->p;
    if (lx->p >= lx->end) {
        t->k = TK_EOF;
        return HML_OK;
    }
    unsigned char c = (unsigned char)*lx->p;
    if (is_name_start(c)) {
        lex_name(lx, t);
        return HML_OK;
    }
    if (is_digit(c) || (c == '.' && lx->p + 1 < lx->end && is_digit((unsigned char)lx->p[1])))
        return lex_number(lx, t);
    if (c == '\'' || c == '"' || c == '`') return lex_quoted(lx, t, (char)c);
    if (c == '@') return lex_ref(lx, t);
    return lex_op(lx, t);
}

void hml__lex_init(struct hml__lex *lx, const char *src, size_t len, struct hml_error *err)
{
    *lx = (struct hml__lex){.p = src, .end = src + len, .line = 1, .col = 1, .err = err};
}

char *hml__lex_unescape(const char *s, size_t len, size_t *out_len)
{
    char *d = hml_malloc(len + 1);
    if (!d) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' || i + 1 >= len) {
            d[k++] = s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'n': d[k++] = '\n'; break;
        case 't': d[k++] = '\t'; break;
        case 'r': d[k++] = '\r'; break;
        case '\\': case '\'': case '"': d[k++] = c; break;
        default: /* kept as written, so patterns like '\d' arrive intact */
            d[k++] = '\\';
            d[k++] = c;
        }
    }
    d[k] = 0;
    *out_len = k;
    return d;
}
