/* expr_lex.h — private to expr_*.c: the formula tokenizer. */
#ifndef HML_EXPR_LEX_H
#define HML_EXPR_LEX_H

#include "core/data/expr_int.h"

enum hml__tk {
    TK_EOF, TK_NUM, TK_INT, TK_STR, TK_NAME, TK_QNAME, TK_FUNC, TK_REF,
    TK_LP, TK_RP, TK_LB, TK_RB, TK_COMMA,
    TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PCT, TK_POW,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
    TK_AND, TK_OR, TK_NOT, TK_IN, TK_TRUE, TK_FALSE, TK_NULL
};

struct hml__tok {
    enum hml__tk k;
    struct hml__xpos at;
    const char *p;    /* the token's raw text in the source */
    size_t len;
    const char *body; /* names: the name; strings and `names`: between the quotes (raw) */
    size_t body_len;
    double num;
    int64_t ival;
};

struct hml__lex {
    const char *p, *end;
    uint32_t line, col; /* position of p */
    struct hml_error *err;
};

void hml__lex_init(struct hml__lex *lx, const char *src, size_t len, struct hml_error *err);
/* Reads the next token into t (TK_EOF at the end). Errors: HML_EINVAL with a position. */
enum hml_status hml__lex_next(struct hml__lex *lx, struct hml__tok *t);
/* A quoted, shortened rendering of the token for messages ("end of formula" at EOF). */
const char *hml__tok_text(const struct hml__tok *t, char *buf, size_t cap);
/* Decodes a string literal's escapes into a new NUL-terminated string (hml_free).
 * NULL on OOM. */
char *hml__lex_unescape(const char *s, size_t len, size_t *out_len);

#endif
