/* expr_re.c — the regex subset behind str_extract: a compiler to a small instruction set
 * and a Pike VM (Thompson NFA simulation with submatch tracking, Russ Cox's "Regular
 * Expression Matching: the Virtual Machine Approach").
 *
 * The VM advances every live thread one character at a time and never revisits a
 * (position, instruction) pair, so matching costs O(text length x program size) for every
 * pattern: no backtracking, no blow-ups. Thread order encodes priority, which reproduces
 * the leftmost-first, greedy/lazy choices of Python's re for this subset.
 *
 * Text and patterns are UTF-8 and matched by code point; an invalid byte is its own
 * "character" that only . and negated classes match. */
#include "core/data/expr_int.h"

#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"

#define PROG_MAX 2048u   /* instructions, after {m,n} expansion */
#define RANGES_MAX 2048u /* class ranges                        */
#define NEST_MAX 16u     /* nested groups                       */
#define REPEAT_MAX 100u  /* m and n in {m,n}                    */
#define NO_POS ((size_t)-1)
#define BAD_BYTE 0x110000u /* invalid UTF-8 bytes decode to BAD_BYTE + byte */

enum { R_CHAR, R_ANY, R_CLASS, R_SPLIT, R_JMP, R_SAVE, R_BOL, R_EOL, R_MATCH };

struct rinst {
    uint8_t op;
    uint32_t x, y; /* CHAR: code point; CLASS: class index; SPLIT: x preferred, y other;
                      JMP: x; SAVE: slot */
};

struct rclass {
    uint32_t first, n; /* ranges[first .. first + n) */
    bool neg;
};

struct hml__re {
    struct rinst prog[PROG_MAX];
    uint32_t n;
    struct rclass cls[PROG_MAX];
    uint32_t ncls;
    uint32_t ranges[RANGES_MAX][2];
    uint32_t nranges;
    bool has_group;
};

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* Decodes the code point at s[0..len) (len >= 1); *used gets its byte length. */
static uint32_t decode(const unsigned char *s, size_t len, size_t *used)
{
    unsigned char c = s[0];
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    *used = 1;
    if (need == 1) return c;
    if (need == 0 || need > len) return BAD_BYTE + c;
    uint32_t cp = c & (0x7Fu >> need);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return BAD_BYTE + c;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    *used = need;
    return cp;
}

/* ---- the compiler ---------------------------------------------------------------------- */

struct comp {
    const unsigned char *p, *end;
    struct hml__re *re;
    unsigned depth, groups;
    char *why;
    size_t why_cap;
    bool failed;
};

static bool fail(struct comp *c, const char *msg)
{
    if (!c->failed) snprintf(c->why, c->why_cap, "%s", msg);
    c->failed = true;
    return false;
}

static bool emit(struct comp *c, uint8_t op, uint32_t x, uint32_t y)
{
    if (c->re->n >= PROG_MAX) return fail(c, "pattern expands to too many steps; shorten it or lower {m,n} counts");
    c->re->prog[c->re->n++] = (struct rinst){op, x, y};
    return true;
}

/* Inserts an instruction at `at`, moving [at, n) up by one. Jumps inside the moved block
 * that point into it follow it; jumps from before `at` keep pointing at `at`, which is
 * now the inserted instruction — the entry of the construct being built. */
static bool insert(struct comp *c, uint32_t at, uint8_t op, uint32_t x, uint32_t y)
{
    struct hml__re *re = c->re;
    if (re->n >= PROG_MAX) return fail(c, "pattern expands to too many steps; shorten it");
    memmove(&re->prog[at + 1], &re->prog[at], (re->n - at) * sizeof re->prog[0]);
    re->n++;
    for (uint32_t i = 0; i < re->n; i++) {
        struct rinst *in = &re->prog[i];
        if (i == at || (in->op != R_SPLIT && in->op != R_JMP)) continue;
        uint32_t lim = i > at ? at : at + 1;
        if (in->x >= lim) in->x++;
        if (in->op == R_SPLIT && in->y >= lim) in->y++;
    }
    re->prog[at] = (struct rinst){op, x, y};
    return true;
}

static bool add_range(struct comp *c, uint32_t lo, uint32_t hi)
{
    struct hml__re *re = c->re;
    if (re->nranges >= RANGES_MAX) return fail(c, "too many character classes");
    re->ranges[re->nranges][0] = lo;
    re->ranges[re->nranges][1] = hi;
    re->nranges++;
    re->cls[re->ncls - 1].n++;
    return true;
}

/* \d \w \s and their negations as ranges (ASCII meanings, like re.ASCII). */
static bool add_shorthand(struct comp *c, unsigned char e)
{
    static const uint32_t d[][2] = {{'0', '9'}};
    static const uint32_t w[][2] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
    static const uint32_t s[][2] = {{'\t', '\r'}, {' ', ' '}};
    const uint32_t(*r)[2] = e == 'd' || e == 'D' ? d : e == 'w' || e == 'W' ? w : s;
    size_t n = e == 'd' || e == 'D' ? 1 : e == 'w' || e == 'W' ? 4 : 2;
    if (e == 'd' || e == 'w' || e == 's') {
        for (size_t i = 0; i < n; i++)
            if (!add_range(c, r[i][0], r[i][1])) return false;
        return true;
    }
    uint32_t next = 0; /* the complement, as the gaps between the sorted ranges */
    for (size_t i = 0; i < n; i++) {
        if (r[i][0] > next && !add_range(c, next, r[i][0] - 1)) return false;
        next = r[i][1] + 1;
    }
    return add_range(c, next, 0xFFFFFFFFu);
}

static bool is_shorthand(unsigned char e) { return e && strchr("dDwWsS", e) != NULL; }

/* The character after a backslash, as a literal code point; false for unsupported ones. */
static bool escape_char(struct comp *c, uint32_t *cp)
{
    unsigned char e = *c->p;
    static const char *const ctl = "n\nt\tr\rf\fv\va\a";
    for (const char *k = ctl; *k; k += 2)
        if (e == (unsigned char)k[0]) {
            *cp = (unsigned char)k[1];
            c->p++;
            return true;
        }
    if ((e >= '0' && e <= '9')) return fail(c, "back-references (\\1) are not supported");
    if (e == 'b' || e == 'B') return fail(c, "word boundaries (\\b) are not supported");
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
        if (!c->failed) snprintf(c->why, c->why_cap, "\\%c is not supported", e);
        c->failed = true;
        return false;
    }
    size_t used;
    *cp = decode(c->p, (size_t)(c->end - c->p), &used);
    c->p += used;
    return true;
}

static bool class_char(struct comp *c, uint32_t *cp)
{
    if (*c->p != '\\') {
        size_t used;
        *cp = decode(c->p, (size_t)(c->end - c->p), &used);
        c->p += used;
        return true;
    }
    c->p++;
    if (c->p >= c->end) return fail(c, "pattern ends with a lone backslash");
    return escape_char(c, cp);
}

/* [...] and [^...]; a ']' first in the class is a literal, as is '-' first or last. */
static bool parse_class(struct comp *c)
{
    struct hml__re *re = c->re;
    re->cls[re->ncls++] = (struct rclass){.first = re->nranges, .neg = false};
    c->p++;
    if (c->p < c->end && *c->p == '^') re->cls[re->ncls - 1].neg = true, c->p++;
    bool first = true;
    while (c->p < c->end && (*c->p != ']' || first)) {
        first = false;
        if (*c->p == '\\' && c->p + 1 < c->end && is_shorthand(c->p[1])) {
            if (!add_shorthand(c, c->p[1])) return false;
            c->p += 2;
            continue;
        }
        uint32_t lo, hi;
        if (!class_char(c, &lo)) return false;
        hi = lo;
        if (c->p + 1 < c->end && *c->p == '-' && c->p[1] != ']') {
            c->p++;
            if (!class_char(c, &hi)) return false;
            if (hi < lo) return fail(c, "bad range in [...]: the end is before the start");
        }
        if (!add_range(c, lo, hi)) return false;
    }
    if (c->p >= c->end) return fail(c, "unterminated [...]");
    c->p++;
    return emit(c, R_CLASS, re->ncls - 1, 0);
}

static bool parse_alt(struct comp *c);

static bool parse_group(struct comp *c)
{
    if (++c->depth > NEST_MAX) return fail(c, "groups nest too deeply");
    c->p++;
    bool capture = true;
    if (c->p < c->end && *c->p == '?') {
        if (c->p + 1 >= c->end || c->p[1] != ':')
            return fail(c, "only (?:...) is supported among (?...) groups (no look-around or flags)");
        capture = false;
        c->p += 2;
    }
    unsigned idx = capture ? ++c->groups : 0;
    if (idx == 1 && !emit(c, R_SAVE, 2, 0)) return false;
    if (!parse_alt(c)) return false;
    if (c->p >= c->end || *c->p != ')') return fail(c, "missing ')'");
    c->p++;
    c->depth--;
    if (idx == 1) c->re->has_group = true;
    return idx == 1 ? emit(c, R_SAVE, 3, 0) : true;
}

/* One atom; *quantifiable says whether a quantifier may follow. */
static bool parse_atom(struct comp *c, bool *quantifiable)
{
    unsigned char ch = *c->p;
    *quantifiable = true;
    switch (ch) {
    case '(': return parse_group(c);
    case '[': return parse_class(c);
    case '.': c->p++; return emit(c, R_ANY, 0, 0);
    case '^': c->p++; *quantifiable = false; return emit(c, R_BOL, 0, 0);
    case '$': c->p++; *quantifiable = false; return emit(c, R_EOL, 0, 0);
    case '*': case '+': case '?': return fail(c, "nothing to repeat before a quantifier");
    case '\\':
        c->p++;
        if (c->p >= c->end) return fail(c, "pattern ends with a lone backslash");
        if (is_shorthand(*c->p)) {
            c->re->cls[c->re->ncls++] = (struct rclass){.first = c->re->nranges};
            if (!add_shorthand(c, *c->p)) return false;
            c->p++;
            return emit(c, R_CLASS, c->re->ncls - 1, 0);
        }
        break;
    default: break;
    }
    uint32_t cp;
    if (ch == '\\') {
        if (!escape_char(c, &cp)) return false;
    } else {
        size_t used;
        cp = decode(c->p, (size_t)(c->end - c->p), &used);
        c->p += used;
    }
    return emit(c, R_CHAR, cp, 0);
}

/* Reads {m}, {m,} or {m,n}; false (without failing) when the brace is a literal. */
static bool parse_braces(struct comp *c, unsigned *m, unsigned *n)
{
    const unsigned char *p = c->p + 1;
    unsigned a = 0, b = 0;
    bool has_a = false, has_b = false, comma = false;
    for (; p < c->end && *p >= '0' && *p <= '9'; p++, has_a = true) a = a > 1000 ? a : a * 10 + (*p - '0');
    if (p < c->end && *p == ',') {
        comma = true;
        for (p++; p < c->end && *p >= '0' && *p <= '9'; p++, has_b = true) b = b > 1000 ? b : b * 10 + (*p - '0');
    }
    if ((!has_a && !has_b) || p >= c->end || *p != '}') return false; /* {,n} = {0,n} */
    c->p = p + 1;
    *m = a;
    *n = !comma ? a : has_b ? b : UINT32_MAX;
    return true;
}

static bool star(struct comp *c, uint32_t start, bool lazy)
{
    if (!insert(c, start, R_SPLIT, start + 1, 0) || !emit(c, R_JMP, start, 0)) return false;
    struct rinst *s = &c->re->prog[start];
    s->y = c->re->n;
    if (lazy) s->y = s->x, s->x = c->re->n;
    return true;
}

static bool optional(struct comp *c, uint32_t start, bool lazy)
{
    if (!insert(c, start, R_SPLIT, start + 1, 0)) return false;
    struct rinst *s = &c->re->prog[start];
    s->y = c->re->n;
    if (lazy) s->y = s->x, s->x = c->re->n;
    return true;
}

static bool plus(struct comp *c, uint32_t start, bool lazy)
{
    uint32_t after = c->re->n + 1;
    return lazy ? emit(c, R_SPLIT, after, start) : emit(c, R_SPLIT, start, after);
}

/* Re-emits the atom at src (m copies, then the optional or starred rest) for {m,n}. */
static bool counted(struct comp *c, const unsigned char *src, uint32_t start, unsigned groups,
                    uint32_t ncls, uint32_t nranges, unsigned m, unsigned n, bool lazy)
{
    if (m > n) return fail(c, "{m,n} needs m <= n");
    if (m > REPEAT_MAX || (n != UINT32_MAX && n > REPEAT_MAX)) return fail(c, "{m,n} counts above 100 are not supported");
    const unsigned char *resume = c->p;
    unsigned groups_after = c->groups;
    c->re->n = start;
    c->re->ncls = ncls;
    c->re->nranges = nranges;
    unsigned copies = n == UINT32_MAX ? m + 1 : n;
    for (unsigned k = 0; k < copies; k++) {
        bool q;
        uint32_t at = c->re->n;
        c->p = src;
        c->groups = groups;
        if (!parse_atom(c, &q)) return false;
        if (k >= m && !(n == UINT32_MAX ? star(c, at, lazy) : optional(c, at, lazy))) return false;
    }
    c->p = resume;
    c->groups = groups_after;
    return true;
}

static bool parse_repeat(struct comp *c)
{
    const unsigned char *src = c->p;
    uint32_t start = c->re->n, ncls = c->re->ncls, nranges = c->re->nranges;
    unsigned groups = c->groups;
    bool quantifiable;
    if (!parse_atom(c, &quantifiable)) return false;
    if (c->p >= c->end) return true;
    unsigned char q = *c->p;
    unsigned m = 0, n = 0;
    bool braces = q == '{' && parse_braces(c, &m, &n);
    if (!braces && q != '*' && q != '+' && q != '?') return true;
    if (!quantifiable) return fail(c, "nothing to repeat before a quantifier");
    if (!braces) c->p++;
    bool lazy = c->p < c->end && *c->p == '?';
    if (lazy) c->p++;
    if (c->p < c->end && (*c->p == '*' || *c->p == '+' || *c->p == '?'))
        return fail(c, "multiple repeat: a quantifier cannot follow a quantifier");
    if (braces) return counted(c, src, start, groups, ncls, nranges, m, n, lazy);
    return q == '*' ? star(c, start, lazy) : q == '+' ? plus(c, start, lazy) : optional(c, start, lazy);
}

static bool parse_seq(struct comp *c)
{
    while (c->p < c->end && *c->p != '|' && *c->p != ')')
        if (!parse_repeat(c)) return false;
    return true;
}

static bool parse_alt(struct comp *c)
{
    uint32_t start = c->re->n;
    if (!parse_seq(c)) return false;
    while (c->p < c->end && *c->p == '|') {
        c->p++;
        if (!insert(c, start, R_SPLIT, start + 1, 0)) return false;
        uint32_t jmp = c->re->n;
        if (!emit(c, R_JMP, 0, 0)) return false;
        c->re->prog[start].y = c->re->n;
        if (!parse_seq(c)) return false;
        c->re->prog[jmp].x = c->re->n;
    }
    return true;
}

struct hml__re *hml__re_compile(const char *pat, size_t len, char *why, size_t why_cap, bool *oom)
{
    *oom = false;
    struct hml__re *re = hml_calloc(1, sizeof *re);
    if (!re) {
        *oom = true;
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    struct comp c = {.p = (const unsigned char *)pat, .end = (const unsigned char *)pat + len,
                     .re = re, .why = why, .why_cap = why_cap};
    bool ok = emit(&c, R_SAVE, 0, 0) && parse_alt(&c);
    if (ok && c.p < c.end) ok = fail(&c, "unbalanced ')'");
    ok = ok && emit(&c, R_SAVE, 1, 0) && emit(&c, R_MATCH, 0, 0);
    if (!ok) {
        hml_free(re);
        return NULL;
    }
    HML_ASSERT(c.depth == 0);
    return re;
}

void hml__re_free(struct hml__re *re) { hml_free(re); }

/* ---- the VM ------------------------------------------------------------------------------ */

struct thread {
    uint32_t pc;
    size_t sv[4]; /* match start/end, group 1 start/end */
};

struct vm {
    const struct hml__re *re;
    size_t len;
    uint32_t *mark; /* generation in which each pc was last added */
    struct thread *stack;
};

static bool class_has(const struct hml__re *re, uint32_t k, uint32_t cp)
{
    const struct rclass *cl = &re->cls[k];
    bool in = false;
    for (uint32_t i = 0; i < cl->n && !in; i++)
        in = cp >= re->ranges[cl->first + i][0] && cp <= re->ranges[cl->first + i][1];
    return in != cl->neg;
}

/* Adds the threads reachable from pc without consuming text, in priority order. */
static void add_thread(struct vm *vm, struct thread *list, uint32_t *n, uint32_t pc,
                       const size_t *sv, size_t pos, uint32_t gen)
{
    size_t top = 0;
    vm->stack[top].pc = pc;
    memcpy(vm->stack[top++].sv, sv, sizeof vm->stack[0].sv);
    while (top > 0) {
        struct thread t = vm->stack[--top];
        if (vm->mark[t.pc] == gen) continue;
        vm->mark[t.pc] = gen;
        const struct rinst *in = &vm->re->prog[t.pc];
        struct thread *s = vm->stack;
        switch (in->op) {
        case R_JMP: t.pc = in->x; s[top++] = t; break;
        case R_SPLIT:
            s[top] = t;
            s[top++].pc = in->y;
            t.pc = in->x;
            s[top++] = t;
            break;
        case R_SAVE: t.sv[in->x] = pos; t.pc++; s[top++] = t; break;
        case R_BOL: if (pos == 0) t.pc++, s[top++] = t; break;
        case R_EOL: if (pos == vm->len) t.pc++, s[top++] = t; break;
        default: list[(*n)++] = t;
        }
    }
}

static bool step_ok(const struct hml__re *re, const struct rinst *in, uint32_t cp)
{
    switch (in->op) {
    case R_CHAR: return cp == in->x;
    case R_ANY: return cp != '\n';
    case R_CLASS: return class_has(re, in->x, cp);
    default: return false;
    }
}

int hml__re_search(const struct hml__re *re, const char *s, size_t len, size_t *start, size_t *end)
{
    uint32_t np = re->n;
    struct thread *mem = hml_malloc((size_t)np * 4 * sizeof *mem + 1);
    uint32_t *mark = hml_calloc(np, sizeof *mark);
    if (!mem || !mark) {
        hml_free(mem);
        hml_free(mark);
        return -1;
    }
    struct vm vm = {.re = re, .len = len, .mark = mark, .stack = mem + 2 * np};
    struct thread *cl = mem, *nl = mem + np;
    uint32_t cn = 0, nn = 0, gen = 1;
    size_t fresh[4] = {NO_POS, NO_POS, NO_POS, NO_POS}, best[4];
    bool matched = false;
    add_thread(&vm, cl, &cn, 0, fresh, 0, gen);
    for (size_t pos = 0;;) {
        size_t used = 0;
        uint32_t cp = pos < len ? decode((const unsigned char *)s + pos, len - pos, &used) : 0;
        gen++;
        for (uint32_t i = 0; i < cn; i++) {
            const struct rinst *in = &re->prog[cl[i].pc];
            if (in->op == R_MATCH) {
                matched = true;
                memcpy(best, cl[i].sv, sizeof best);
                break; /* lower-priority threads lose to this match */
            }
            if (pos < len && step_ok(re, in, cp)) add_thread(&vm, nl, &nn, cl[i].pc + 1, cl[i].sv, pos + used, gen);
        }
        if (pos >= len) break;
        pos += used;
        struct thread *tmp = cl;
        cl = nl, nl = tmp, cn = nn, nn = 0;
        if (!matched) add_thread(&vm, cl, &cn, 0, fresh, pos, gen);
        if (cn == 0 && matched) break;
    }
    hml_free(mem);
    hml_free(mark);
    if (!matched) return 0;
    size_t a = re->has_group ? best[2] : best[0], b = re->has_group ? best[3] : best[1];
    if (a == NO_POS || b == NO_POS) return 0;
    *start = a;
    *end = b;
    return 1;
}
