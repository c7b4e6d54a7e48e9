/* yaml.c — YAML (libyaml events) to jansson trees, and jansson trees to block YAML.
 *
 * Typing of plain scalars follows the YAML 1.2 core schema, minus what JSON cannot
 * hold: null (~, null, Null, NULL, empty), bool (true/True/TRUE, false/False/FALSE),
 * decimal integers (int64; out of range is an error, not a silent float or string),
 * decimal floats. .inf and .nan are refused because jansson has no non-finite reals.
 * YAML 1.1 words (yes, no, on, off) and 0x/0o literals stay strings here, but the
 * emitter quotes them so that YAML 1.1 readers of our files agree with us.
 */
#include "harness/yaml.h"
#include "harness/alloc.h"
#include "harness/buf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum yscalar { Y_STR, Y_NULL, Y_BOOL, Y_INT, Y_FLOAT, Y_NONFINITE };

static bool is_word(const char *s, size_t n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(s, *words, n) == 0) return true;
    return false;
}

static size_t digits(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    return i;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? — the 1.2 core float. */
static bool is_float(const char *s, size_t n)
{
    size_t i = (n && (s[0] == '-' || s[0] == '+')), d;
    if (i < n && s[i] == '.') {
        if (!(d = digits(s + i + 1, n - i - 1))) return false;
        i += 1 + d;
    } else {
        if (!(d = digits(s + i, n - i))) return false;
        i += d;
        if (i < n && s[i] == '.') i += 1 + digits(s + i + 1, n - i - 1);
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+')) i++;
        if (!(d = digits(s + i, n - i))) return false;
        i += d;
    }
    return i == n;
}

static enum yscalar classify(const char *s, size_t n)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};
    static const char *const nonfinite[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                                            "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL};
    if (n == 0 || is_word(s, n, nulls)) return Y_NULL;
    if (is_word(s, n, bools)) return Y_BOOL;
    size_t sign = (s[0] == '-' || s[0] == '+');
    if (n > sign && digits(s + sign, n - sign) == n - sign) return Y_INT;
    if (is_float(s, n)) return Y_FLOAT;
    if (is_word(s, n, nonfinite)) return Y_NONFINITE;
    return Y_STR;
}

/* ---- parsing --------------------------------------------------------------------- */

struct yctx {
    yaml_parser_t parser;
    const char *origin;
    struct hml_error *err;
};

static size_t line_of(const yaml_event_t *ev) { return ev->start_mark.line + 1; }

static enum hml_status fail_at(struct yctx *c, enum hml_status code, size_t line, const char *hint,
                               const char *what)
{
    hml_fail(c->err, code, "yaml", "%s at %s line %zu", what, c->origin, line);
    return hml_hint(c->err, "%s", hint);
}

static enum hml_status oom(struct yctx *c)
{
    return hml_fail(c->err, HML_ENOMEM, "yaml", "out of memory reading %s", c->origin);
}

static enum hml_status next_event(struct yctx *c, yaml_event_t *ev)
{
    if (yaml_parser_parse(&c->parser, ev)) return HML_OK;
    const yaml_parser_t *p = &c->parser;
    if (p->error == YAML_MEMORY_ERROR) return oom(c);
    hml_fail(c->err, HML_EINVAL, "yaml", "invalid YAML at %s line %zu, column %zu: %s%s%s",
             c->origin, p->problem_mark.line + 1, p->problem_mark.column + 1,
             p->problem ? p->problem : "syntax error", p->context ? " " : "",
             p->context ? p->context : "");
    return hml_hint(c->err, "check the indentation (spaces, not tabs) near that line, and quote "
                            "values that contain ': ' or '#' or start with a special character");
}

enum ytag { T_NONE, T_STR, T_INT, T_FLOAT, T_BOOL, T_NULL, T_MAP, T_SEQ, T_BANG, T_BAD };

static enum ytag tag_of(const yaml_char_t *tag)
{
    static const char *const names[] = {"str", "int", "float", "bool", "null", "map", "seq"};
    static const char prefix[] = "tag:yaml.org,2002:";
    if (!tag) return T_NONE;
    const char *t = (const char *)tag;
    if (!strcmp(t, "!")) return T_BANG;
    if (strncmp(t, prefix, sizeof prefix - 1)) return T_BAD;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(t + sizeof prefix - 1, names[i])) return (enum ytag)(T_STR + i);
    return T_BAD;
}

/* Anchors are refused outright: without aliases they are useless, and aliases
 * allow exponential blow-ups ("billion laughs"). */
static enum hml_status check_props(struct yctx *c, const yaml_event_t *ev, const yaml_char_t *anchor,
                                   enum ytag tag, enum ytag container)
{
    char what[200];
    if (anchor) {
        snprintf(what, sizeof what, "anchor '&%s' is not supported", (const char *)anchor);
        return fail_at(c, HML_EINVAL, line_of(ev), "write the value out in full; anchors and "
                       "aliases (&name, *name) are not supported", what);
    }
    bool ok = tag == T_NONE || tag == T_BANG ||
              (container == T_NONE ? tag != T_MAP && tag != T_SEQ && tag != T_BAD : tag == container);
    if (ok) return HML_OK;
    snprintf(what, sizeof what, "tag '%s' is not supported", ev->type == YAML_SCALAR_EVENT
             ? (const char *)ev->data.scalar.tag : ev->type == YAML_MAPPING_START_EVENT
             ? (const char *)ev->data.mapping_start.tag : (const char *)ev->data.sequence_start.tag);
    return fail_at(c, HML_EINVAL, line_of(ev), "remove the tag; only !!str, !!int, !!float, !!bool, "
                   "!!null, !!map and !!seq are understood", what);
}

static enum hml_status scalar_number(struct yctx *c, const yaml_event_t *ev, enum yscalar k,
                                     json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    char what[200];
    errno = 0;
    if (k == Y_INT) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno == ERANGE) {
            snprintf(what, sizeof what, "integer '%.60s' is out of range", s);
            return fail_at(c, HML_EINVAL, line_of(ev), "integers must fit in 64 bits; write it as a "
                           "float (e.g. 1.0e20) or quote it to keep it as text", what);
        }
        *out = json_integer(v);
    } else {
        double d = strtod(s, NULL);
        if (k == Y_NONFINITE || isinf(d)) {
            snprintf(what, sizeof what, "number '%.60s' is not finite", s);
            return fail_at(c, HML_EINVAL, line_of(ev), "infinity and NaN cannot be stored (the config "
                           "is JSON-compatible); use a large finite number such as 1.0e300, or "
                           "quote it to keep it as text", what);
        }
        *out = json_real(d);
    }
    return *out ? HML_OK : oom(c);
}

/* The scalar's type from its tag, or from its text when plain and untagged. */
static enum hml_status scalar_kind(struct yctx *c, const yaml_event_t *ev, enum ytag tag,
                                   enum yscalar *kind)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    enum yscalar k = classify(s, n);
    if (tag == T_STR || tag == T_BANG || (tag == T_NONE && !plain)) k = Y_STR;
    static const enum yscalar want[] = {[T_INT] = Y_INT, [T_FLOAT] = Y_FLOAT, [T_BOOL] = Y_BOOL,
                                        [T_NULL] = Y_NULL};
    if (tag >= T_INT && tag <= T_NULL) {
        if (tag == T_FLOAT && k == Y_INT) k = Y_FLOAT;
        if (k != want[tag]) {
            char what[200];
            snprintf(what, sizeof what, "value '%.60s' does not match its tag '%s'", s,
                     (const char *)ev->data.scalar.tag);
            return fail_at(c, HML_EINVAL, line_of(ev), "fix the value or remove the tag", what);
        }
    }
    *kind = k;
    return HML_OK;
}

static enum hml_status parse_scalar(struct yctx *c, const yaml_event_t *ev, json_t **out)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    enum ytag tag = tag_of(ev->data.scalar.tag);
    enum hml_status rc = check_props(c, ev, ev->data.scalar.anchor, tag, T_NONE);
    if (rc) return rc;
    if (memchr(s, 0, n))
        return fail_at(c, HML_EINVAL, line_of(ev), "remove the \\0 escape from the text",
                       "text with a NUL character is not supported");
    enum yscalar k;
    if ((rc = scalar_kind(c, ev, tag, &k))) return rc;
    switch (k) {
    case Y_NULL: *out = json_null(); break;
    case Y_BOOL: *out = json_boolean(s[0] == 't' || s[0] == 'T'); break;
    case Y_INT:
    case Y_FLOAT:
    case Y_NONFINITE: return scalar_number(c, ev, k, out);
    case Y_STR: *out = json_stringn(s, n); break;
    }
    return *out ? HML_OK : oom(c);
}

static enum hml_status parse_node(struct yctx *c, yaml_event_t *ev, size_t depth, json_t **out);

static enum hml_status check_depth(struct yctx *c, const yaml_event_t *ev, size_t depth)
{
    if (depth <= HML_YAML_DEPTH_MAX) return HML_OK;
    char what[100];
    snprintf(what, sizeof what, "nesting deeper than %d levels", HML_YAML_DEPTH_MAX);
    return fail_at(c, HML_ELIMIT, line_of(ev), "flatten the structure", what);
}

static enum hml_status parse_sequence(struct yctx *c, const yaml_event_t *start, size_t depth,
                                      json_t **out)
{
    enum hml_status rc = check_props(c, start, start->data.sequence_start.anchor,
                                     tag_of(start->data.sequence_start.tag), T_SEQ);
    if (rc || (rc = check_depth(c, start, depth))) return rc;
    json_t *arr = json_array();
    if (!arr) return oom(c);
    for (;;) {
        yaml_event_t ev;
        json_t *child = NULL;
        if ((rc = next_event(c, &ev))) break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if ((rc = parse_node(c, &ev, depth, &child))) break;
        if (json_array_append_new(arr, child)) { rc = oom(c); break; }
    }
    if (rc) json_decref(arr);
    else *out = arr;
    return rc;
}

/* A key must be a string scalar: plain keys that read as null, bool or a number are
 * refused rather than silently stringified, because other YAML readers disagree. */
static enum hml_status check_key(struct yctx *c, const yaml_event_t *k, const json_t *obj)
{
    if (k->type == YAML_ALIAS_EVENT)
        return fail_at(c, HML_EINVAL, line_of(k), "write the key out in full; anchors and "
                       "aliases (&name, *name) are not supported", "alias is not supported");
    if (k->type != YAML_SCALAR_EVENT)
        return fail_at(c, HML_EINVAL, line_of(k), "use a word or a quoted string as the key",
                       "a mapping key that is itself a list or mapping is not supported");
    enum ytag tag = tag_of(k->data.scalar.tag);
    enum hml_status rc = check_props(c, k, k->data.scalar.anchor, tag, T_NONE);
    if (rc) return rc;
    const char *s = (const char *)k->data.scalar.value;
    size_t n = k->data.scalar.length;
    char what[300];
    if (memchr(s, 0, n))
        return fail_at(c, HML_EINVAL, line_of(k), "remove the \\0 escape from the key",
                       "a key with a NUL character is not supported");
    enum yscalar kind;
    if ((rc = scalar_kind(c, k, tag, &kind))) return rc;
    if (kind != Y_STR) {
        snprintf(what, sizeof what, "key '%.100s' is not text", s);
        return fail_at(c, HML_EINVAL, line_of(k), "keys must be text; quote the key (\"1\": ...) "
                       "or give it a name", what);
    }
    if (json_object_get(obj, s)) {
        snprintf(what, sizeof what, "duplicate key '%.100s'", s);
        return fail_at(c, HML_EINVAL, line_of(k), "each key may appear once in a mapping; remove "
                       "or merge the repeated entries", what);
    }
    return HML_OK;
}

static enum hml_status parse_mapping(struct yctx *c, const yaml_event_t *start, size_t depth,
                                     json_t **out)
{
    enum hml_status rc = check_props(c, start, start->data.mapping_start.anchor,
                                     tag_of(start->data.mapping_start.tag), T_MAP);
    if (rc || (rc = check_depth(c, start, depth))) return rc;
    json_t *obj = json_object();
    if (!obj) return oom(c);
    for (;;) {
        yaml_event_t k, v;
        json_t *child = NULL;
        if ((rc = next_event(c, &k))) break;
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            break;
        }
        if (!(rc = check_key(c, &k, obj)) && !(rc = next_event(c, &v)))
            rc = parse_node(c, &v, depth, &child);
        if (!rc && json_object_set_new(obj, (const char *)k.data.scalar.value, child)) rc = oom(c);
        yaml_event_delete(&k);
        if (rc) break;
    }
    if (rc) json_decref(obj);
    else *out = obj;
    return rc;
}

/* Consumes ev. */
static enum hml_status parse_node(struct yctx *c, yaml_event_t *ev, size_t depth, json_t **out)
{
    enum hml_status rc;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: rc = parse_scalar(c, ev, out); break;
    case YAML_SEQUENCE_START_EVENT: rc = parse_sequence(c, ev, depth + 1, out); break;
    case YAML_MAPPING_START_EVENT: rc = parse_mapping(c, ev, depth + 1, out); break;
    case YAML_ALIAS_EVENT:
        rc = fail_at(c, HML_EINVAL, line_of(ev), "write the value out in full; anchors and "
                     "aliases (&name, *name) are not supported", "alias is not supported");
        break;
    default:
        rc = hml_fail(c->err, HML_EINTERNAL, "yaml", "unexpected YAML event %d in %s",
                      (int)ev->type, c->origin);
        break;
    }
    yaml_event_delete(ev);
    return rc;
}

static bool is_empty_scalar(const yaml_event_t *ev)
{
    return ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 0 &&
           ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
           !ev->data.scalar.anchor;
}

/* STREAM-START (DOCUMENT-START node DOCUMENT-END)? STREAM-END, at most one document. */
static enum hml_status parse_stream(struct yctx *c, json_t **out)
{
    yaml_event_t ev;
    enum hml_status rc = next_event(c, &ev);
    if (rc) return rc;
    yaml_event_delete(&ev); /* STREAM-START */
    if ((rc = next_event(c, &ev))) return rc;
    bool empty_doc = ev.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
    if (empty_doc) return (*out = json_object()) ? HML_OK : oom(c);
    if ((rc = next_event(c, &ev))) return rc;
    json_t *root = NULL;
    empty_doc = is_empty_scalar(&ev);
    if ((rc = parse_node(c, &ev, 0, &root))) return rc;
    if (!(rc = next_event(c, &ev))) { /* DOCUMENT-END */
        yaml_event_delete(&ev);
        rc = next_event(c, &ev);
    }
    if (!rc) {
        if (ev.type != YAML_STREAM_END_EVENT)
            rc = fail_at(c, HML_EINVAL, line_of(&ev), "keep one document per file; remove the "
                         "extra '---' separator", "a second YAML document starts");
        yaml_event_delete(&ev);
    }
    if (!rc && empty_doc) {
        json_decref(root);
        if (!(root = json_object())) rc = oom(c);
    }
    if (rc) json_decref(root);
    else *out = root;
    return rc;
}

enum hml_status hml_yaml_parse(const char *text, size_t len, const char *origin, json_t **out,
                               struct hml_error *err)
{
    HML_ASSERT(out != NULL);
    HML_ASSERT(text != NULL || len == 0);
    struct yctx c = {.origin = origin ? origin : "YAML input", .err = err};
    if (len > HML_YAML_BYTES_MAX) {
        hml_fail(err, HML_ELIMIT, "yaml", "%s is %zu bytes, over the limit of %u", c.origin, len,
                 HML_YAML_BYTES_MAX);
        return hml_hint(err, "split the document; YAML here is for configuration, not data");
    }
    if (!yaml_parser_initialize(&c.parser)) return oom(&c);
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)(text ? text : ""), len);
    enum hml_status rc = parse_stream(&c, out);
    yaml_parser_delete(&c.parser);
    return rc;
}

/* ---- emitting -------------------------------------------------------------------- */

/* Unicode characters YAML treats as line breaks, BOMs or non-printables: a plain
 * scalar must not hold them and a quoted one escapes them. Returns the escape or NULL. */
static const char *special_utf8(const unsigned char *p, size_t left, size_t *len, char esc[8])
{
    if (left >= 2 && p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
        snprintf(esc, 8, "\\x%02X", p[1]);
        *len = 2;
        return esc;
    }
    if (left >= 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
        *len = 3;
        return p[2] == 0xA8 ? "\\L" : "\\P";
    }
    if (left >= 3 && p[0] == 0xEF && ((p[1] == 0xBB && p[2] == 0xBF) ||
                                      (p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)))) {
        *len = 3;
        return p[1] == 0xBB ? "\\uFEFF" : p[2] == 0xBE ? "\\uFFFE" : "\\uFFFF";
    }
    return NULL;
}

static bool yaml11_word(const char *s, size_t n)
{
    static const char *const words[] = {"y", "n", "yes", "no", "on", "off", NULL};
    char low[4];
    if (n > 3) return false;
    for (size_t i = 0; i < n; i++) low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    return is_word(low, n, words);
}

/* True when the text cannot be written plain: it would read back as another type,
 * starts with an indicator, or holds characters plain scalars cannot. Conservative
 * on purpose (any leading digit, sign or dot is quoted: dates, versions, 0x10). */
static bool needs_quotes(const char *s, size_t n)
{
    static const char lead[] = "-?:,[]{}#&*!|>'\"%@`~+.0123456789<= ";
    if (n == 0 || classify(s, n) != Y_STR || yaml11_word(s, n)) return true;
    if (memchr(lead, s[0], sizeof lead - 1) || s[n - 1] == ' ' || s[n - 1] == ':') return true;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        size_t l;
        char esc[8];
        if (ch < 0x20 || ch == 0x7F || ch == '#') return true;
        if (ch == ':' && i + 1 < n && s[i + 1] == ' ') return true;
        if (ch >= 0x80 && special_utf8((const unsigned char *)s + i, n - i, &l, esc)) return true;
    }
    return false;
}

static void emit_quoted(struct hml_buf *b, const char *s, size_t n)
{
    hml_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        size_t l;
        char esc[8];
        const char *e;
        switch (ch) {
        case '"': hml_buf_puts(b, "\\\""); continue;
        case '\\': hml_buf_puts(b, "\\\\"); continue;
        case '\n': hml_buf_puts(b, "\\n"); continue;
        case '\t': hml_buf_puts(b, "\\t"); continue;
        case '\r': hml_buf_puts(b, "\\r"); continue;
        case 0: hml_buf_puts(b, "\\0"); continue;
        default: break;
        }
        if (ch < 0x20 || ch == 0x7F) {
            hml_buf_printf(b, "\\x%02X", ch);
        } else if (ch >= 0x80 && (e = special_utf8((const unsigned char *)s + i, n - i, &l, esc))) {
            hml_buf_puts(b, e);
            i += l - 1;
        } else {
            hml_buf_putc(b, (char)ch);
        }
    }
    hml_buf_putc(b, '"');
}

static void emit_string(struct hml_buf *b, const char *s, size_t n)
{
    if (needs_quotes(s, n)) emit_quoted(b, s, n);
    else hml_buf_append(b, s, n);
}

/* The shortest text that reads back as the same double and still looks like a
 * float (1.0, not 1; 1.0e+20, not 1e+20, which YAML 1.1 reads as a string). */
static void emit_real(struct hml_buf *b, double d)
{
    char t[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, d);
        if (strtod(t, NULL) == d) break;
    }
    char *e = strpbrk(t, "eE");
    if (!strchr(t, '.')) {
        if (e) {
            char tail[40];
            snprintf(tail, sizeof tail, "%s", e);
            snprintf(e, sizeof t - (size_t)(e - t), ".0%s", tail);
        } else {
            size_t n = strlen(t);
            snprintf(t + n, sizeof t - n, ".0");
        }
    }
    hml_buf_puts(b, t);
}

static void emit_scalar(struct hml_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: hml_buf_puts(b, "{}"); break;
    case JSON_ARRAY: hml_buf_puts(b, "[]"); break;
    case JSON_STRING: emit_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: hml_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: emit_real(b, json_real_value(v)); break;
    case JSON_TRUE: hml_buf_puts(b, "true"); break;
    case JSON_FALSE: hml_buf_puts(b, "false"); break;
    case JSON_NULL: hml_buf_puts(b, "null"); break;
    }
}

static bool is_block(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

static void put_indent(struct hml_buf *b, size_t n)
{
    static const char spaces[] = "                                ";
    for (; n > sizeof spaces - 1; n -= sizeof spaces - 1) hml_buf_append(b, spaces, sizeof spaces - 1);
    hml_buf_append(b, spaces, n);
}

static void emit_block(struct hml_buf *b, const json_t *v, size_t indent, bool inline_first);

/* "value" after a key or dash: a scalar on the same line, a block below. */
static void emit_value(struct hml_buf *b, const json_t *v, size_t indent)
{
    if (is_block(v)) {
        hml_buf_putc(b, '\n');
        emit_block(b, v, indent, false);
    } else {
        hml_buf_putc(b, ' ');
        emit_scalar(b, v);
        hml_buf_putc(b, '\n');
    }
}

/* YAML limits implicit keys to 1024 characters; longer ones use "? key" form. */
static void emit_key(struct hml_buf *b, const char *k, size_t indent)
{
    size_t at = b->len;
    emit_string(b, k, strlen(k));
    if (b->len - at <= 1000) {
        hml_buf_putc(b, ':');
        return;
    }
    b->len = at;
    hml_buf_puts(b, "? ");
    emit_string(b, k, strlen(k));
    hml_buf_putc(b, '\n');
    put_indent(b, indent);
    hml_buf_putc(b, ':');
}

/* inline_first: the first line's indentation was already written (after "- "). */
static void emit_block(struct hml_buf *b, const json_t *v, size_t indent, bool inline_first)
{
    bool first = true;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (!(first && inline_first)) put_indent(b, indent);
            first = false;
            emit_key(b, k, indent);
            emit_value(b, x, indent + 2);
        }
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *x = json_array_get(v, i);
        if (!(first && inline_first)) put_indent(b, indent);
        first = false;
        hml_buf_puts(b, "- ");
        if (is_block(x)) {
            emit_block(b, x, indent + 2, true);
        } else {
            emit_scalar(b, x);
            hml_buf_putc(b, '\n');
        }
    }
}

char *hml_yaml_emit(const json_t *v)
{
    HML_ASSERT(v != NULL);
    struct hml_buf b = HML_BUF_INIT;
    if (is_block(v)) {
        emit_block(&b, v, 0, false);
    } else {
        emit_scalar(&b, v);
        hml_buf_putc(&b, '\n');
    }
    if (!hml_buf_ok(&b)) {
        hml_buf_free(&b);
        return NULL;
    }
    return hml_buf_detach(&b);
}
