/* notebook.c — the research notebook: an append-only JSON-lines file with sequential
 * ids, strike records instead of deletion, and crash-safe appends (see notebook.h). */
#include "harness/notebook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/log.h"

#define LOCK_WAIT_MS 10000 /* a writer that holds the lock longer than this is stuck */

const char *const hml_nb_type_names[HML_NB_TYPES] = {"theory", "finding", "research", "decision",
                                                    "plan",   "note",    "phase_transition"};

enum hml_status hml_nb_type_parse(const char *name, enum hml_nb_type *out, struct hml_error *err)
{
    for (int i = 0; i < HML_NB_TYPES; i++)
        if (name && !strcmp(name, hml_nb_type_names[i])) {
            *out = (enum hml_nb_type)i;
            return HML_OK;
        }
    hml_fail(err, HML_EINVAL, "notebook", "unknown entry type '%s'", name ? name : "");
    return hml_error_choices(err, name ? name : "", hml_nb_type_names, HML_NB_TYPES);
}

/* ---- small helpers: time, ids, UTF-8 ------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char sec[24];
    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
    snprintf(out, 32, "%s.%03dZ", sec, (int)(ms % 1000));
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool hml_nb_time_parse(const char *iso, int64_t *ms_out)
{
    int y, mo, d, h, mi, s;
    if (!iso || strlen(iso) < 20 || iso[4] != '-' || iso[7] != '-' || iso[10] != 'T' || iso[13] != ':' ||
        iso[16] != ':')
        return false;
    if (!digits(iso, 4, &y) || !digits(iso + 5, 2, &mo) || !digits(iso + 8, 2, &d) || !digits(iso + 11, 2, &h) ||
        !digits(iso + 14, 2, &mi) || !digits(iso + 17, 2, &s))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return false;
    const char *p = iso + 19;
    int64_t frac = 0, scale = 1000;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, nd++)
            if (nd < 3) frac = frac * 10 + (*p - '0'), scale /= 10;
        if (nd == 0) return false;
    }
    if (strcmp(p, "Z")) return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
    *ms_out = (int64_t)timegm(&tm) * 1000 + frac * scale;
    return true;
}

unsigned hml_nb_id_seq(const char *id)
{
    if (!id) return 0;
    if (!strncasecmp(id, "nb-", 3)) id += 3;
    if (!*id || strlen(id) > 9) return 0;
    unsigned v = 0;
    for (const char *p = id; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (unsigned)(*p - '0');
    }
    return v;
}

static void format_id(unsigned seq, char out[24])
{
    snprintf(out, 24, "nb-%03u", seq);
}

/* Code points in a valid UTF-8 string. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Continuation bytes after lead byte c, or -1 when c cannot start a character. */
static int utf8_extra(unsigned char c)
{
    if (c < 0x80) return 0;
    if ((c & 0xE0) == 0xC0) return c >= 0xC2 ? 1 : -1; /* C0, C1: overlong */
    if ((c & 0xF0) == 0xE0) return 2;
    if ((c & 0xF8) == 0xF0) return 3;
    return -1;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = utf8_extra(*p);
        if (extra < 0) return false;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xC0) != 0x80) return false;
    }
    return true;
}

/* Appends at most max_chars code points of s[0..n) to b; true when it had to cut. */
static bool put_chars(struct hml_buf *b, const char *s, size_t n, size_t max_chars)
{
    size_t i = 0, chars = 0;
    while (i < n) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == max_chars) break;
        i++;
    }
    hml_buf_append(b, s, i);
    return i < n;
}

static size_t buf_chars(const struct hml_buf *b)
{
    return utf8_chars(hml_buf_str(b));
}

/* ---- entries ------------------------------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) hml_free(v[i]);
    hml_free(v);
}

static void entry_fini(struct hml_nb_entry *e)
{
    hml_free(e->content);
    free_strv(e->tags, e->tags_n);
    free_strv(e->auto_tags, e->auto_tags_n);
    hml_free(e->experiment_id);
    hml_free(e->strike_reason);
    memset(e, 0, sizeof *e);
}

void hml_nb_entry_free(struct hml_nb_entry *e)
{
    if (!e) return;
    entry_fini(e);
    hml_free(e);
}

void hml_notebook_free(struct hml_notebook *nb)
{
    if (!nb) return;
    for (size_t i = 0; i < nb->n; i++) entry_fini(&nb->entries[i]);
    hml_free(nb->entries);
    hml_free(nb);
}

static bool dup_strv(const char *const *src, size_t n, char ***out)
{
    *out = NULL;
    if (!n) return true;
    char **v = hml_calloc(n, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        if (!(v[i] = hml_strdup(src[i]))) {
            free_strv(v, i);
            return false;
        }
    *out = v;
    return v != NULL;
}

static bool entry_copy(const struct hml_nb_entry *src, struct hml_nb_entry *dst)
{
    *dst = *src;
    dst->content = dst->experiment_id = dst->strike_reason = NULL;
    dst->tags = dst->auto_tags = NULL;
    dst->tags_n = dst->auto_tags_n = 0;
    bool ok = (dst->content = hml_strdup(src->content)) != NULL;
    ok = ok && (!src->experiment_id || (dst->experiment_id = hml_strdup(src->experiment_id)));
    ok = ok && (!src->strike_reason || (dst->strike_reason = hml_strdup(src->strike_reason)));
    ok = ok && dup_strv((const char *const *)src->tags, src->tags_n, &dst->tags) && (dst->tags_n = src->tags_n, 1);
    ok = ok && dup_strv((const char *const *)src->auto_tags, src->auto_tags_n, &dst->auto_tags) &&
         (dst->auto_tags_n = src->auto_tags_n, 1);
    if (!ok) entry_fini(dst);
    return ok;
}

json_t *hml_nb_entry_json(const struct hml_nb_entry *e)
{
    json_t *o = json_object(), *tags = json_array(), *autos = json_array();
    bool ok = o && tags && autos;
    for (size_t i = 0; ok && i < e->tags_n; i++) ok = !json_array_append_new(tags, json_string(e->tags[i]));
    for (size_t i = 0; ok && i < e->auto_tags_n; i++) ok = !json_array_append_new(autos, json_string(e->auto_tags[i]));
    ok = ok && hml_json_set(o, "id", json_string(e->id));
    ok = ok && hml_json_set(o, "type", json_string(hml_nb_type_names[e->type]));
    ok = ok && hml_json_set(o, "content", json_string(e->content));
    ok = ok && hml_json_set(o, "tags", json_incref(tags));
    if (ok && e->auto_tags_n) ok = hml_json_set(o, "auto_tags", json_incref(autos));
    if (ok && e->experiment_id) ok = hml_json_set(o, "experiment_id", json_string(e->experiment_id));
    ok = ok && hml_json_set(o, "created_at", json_string(e->created_at));
    if (ok && e->struck) {
        ok = hml_json_set(o, "struck", json_true()) &&
             hml_json_set(o, "strike_reason", json_string(e->strike_reason)) &&
             hml_json_set(o, "struck_at", json_string(e->struck_at));
    }
    json_decref(tags);
    json_decref(autos);
    if (!ok) json_decref(o);
    return ok ? o : NULL;
}

/* ---- loading --------------------------------------------------------------------------------- */

struct strike_rec {
    unsigned seq;
    char *reason;
    char at[32];
};

struct loader {
    struct hml_notebook *nb;
    size_t cap;
    unsigned max_seq;
    bool unsorted;
    struct strike_rec *strikes;
    size_t strikes_n, strikes_cap;
    const char *path;
};

/* Reads a list of strings (absent is empty); false when it is not one. */
static enum hml_status read_strv(const json_t *arr, char ***out, size_t *n, bool *bad)
{
    *out = NULL;
    *n = 0;
    if (!arr) return HML_OK;
    if (!json_is_array(arr) || json_array_size(arr) > 2 * HML_NB_TAGS_MAX) return *bad = true, HML_OK;
    size_t m = json_array_size(arr);
    if (!m) return HML_OK;
    char **v = hml_calloc(m, sizeof *v);
    if (!v) return HML_ENOMEM;
    for (size_t i = 0; i < m; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (!s) {
            free_strv(v, i);
            return *bad = true, HML_OK;
        }
        if (!(v[i] = hml_strdup(s))) {
            free_strv(v, i);
            return HML_ENOMEM;
        }
    }
    *out = v;
    *n = m;
    return HML_OK;
}

/* Fills e from a parsed entry line. HML_EINVAL = not a valid entry (skipped). */
static enum hml_status parse_entry(const json_t *o, struct hml_nb_entry *e)
{
    const char *id = hml_json_str(o, "id", NULL), *type = hml_json_str(o, "type", NULL);
    const char *content = hml_json_str(o, "content", NULL), *at = hml_json_str(o, "created_at", NULL);
    const json_t *xid = json_object_get(o, "experiment_id");
    memset(e, 0, sizeof *e);
    struct hml_error ignored;
    if (!id || !(e->seq = hml_nb_id_seq(id)) || !type || hml_nb_type_parse(type, &e->type, &ignored) || !content ||
        !at || strlen(at) >= sizeof e->created_at || !hml_nb_time_parse(at, &e->created_ms) ||
        (xid && !json_is_null(xid) && !json_is_string(xid)))
        return HML_EINVAL;
    format_id(e->seq, e->id);
    memcpy(e->created_at, at, strlen(at) + 1);
    bool bad = false;
    enum hml_status rc = (e->content = hml_strdup(content)) ? HML_OK : HML_ENOMEM;
    if (!rc && json_is_string(xid) && !(e->experiment_id = hml_strdup(json_string_value(xid)))) rc = HML_ENOMEM;
    if (!rc) rc = read_strv(json_object_get(o, "tags"), &e->tags, &e->tags_n, &bad);
    if (!rc) rc = read_strv(json_object_get(o, "auto_tags"), &e->auto_tags, &e->auto_tags_n, &bad);
    if (!rc && bad) rc = HML_EINVAL;
    if (rc) entry_fini(e);
    return rc;
}

static const struct hml_nb_entry *find_seq(const struct hml_notebook *nb, unsigned seq)
{
    size_t lo = 0, hi = nb->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (nb->entries[mid].seq < seq) lo = mid + 1;
        else hi = mid;
    }
    return lo < nb->n && nb->entries[lo].seq == seq ? &nb->entries[lo] : NULL;
}

static enum hml_status add_entry(struct loader *ld, const json_t *o, size_t lineno)
{
    struct hml_notebook *nb = ld->nb;
    if (nb->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 16;
        struct hml_nb_entry *p = hml_realloc(nb->entries, cap * sizeof *p);
        if (!p) return HML_ENOMEM;
        nb->entries = p;
        ld->cap = cap;
    }
    struct hml_nb_entry *e = &nb->entries[nb->n];
    enum hml_status rc = parse_entry(o, e);
    if (rc == HML_EINVAL) {
        hml_log_warn("%s:%zu: not a notebook entry; skipped", ld->path, lineno);
        nb->skipped++;
        return HML_OK;
    }
    if (rc) return rc;
    bool dup = false;
    if (e->seq <= ld->max_seq) /* out of order: only hand edits do this */
        for (size_t i = 0; i < nb->n && !dup; i++) dup = nb->entries[i].seq == e->seq;
    if (dup) {
        hml_log_warn("%s:%zu: a second entry %s; skipped", ld->path, lineno, e->id);
        entry_fini(e);
        nb->skipped++;
        return HML_OK;
    }
    ld->unsorted |= e->seq < ld->max_seq;
    if (e->seq > ld->max_seq) ld->max_seq = e->seq;
    nb->n++;
    return HML_OK;
}

static enum hml_status add_strike(struct loader *ld, const json_t *o, size_t lineno)
{
    unsigned seq = hml_nb_id_seq(hml_json_str(o, "strike", NULL));
    const char *reason = hml_json_str(o, "reason", NULL), *at = hml_json_str(o, "created_at", "");
    if (!seq || !reason || strlen(at) >= 32) {
        hml_log_warn("%s:%zu: not a strike record; skipped", ld->path, lineno);
        ld->nb->skipped++;
        return HML_OK;
    }
    if (ld->strikes_n == ld->strikes_cap) {
        size_t cap = ld->strikes_cap ? ld->strikes_cap * 2 : 8;
        struct strike_rec *p = hml_realloc(ld->strikes, cap * sizeof *p);
        if (!p) return HML_ENOMEM;
        ld->strikes = p;
        ld->strikes_cap = cap;
    }
    struct strike_rec *s = &ld->strikes[ld->strikes_n];
    if (!(s->reason = hml_strdup(reason))) return HML_ENOMEM;
    s->seq = seq;
    memcpy(s->at, at, strlen(at) + 1);
    ld->strikes_n++;
    return HML_OK;
}

/* ---- telling damage from a lack of memory ----
 * jansson 2.14 reports most allocation failures as syntax errors, and worse, its lexer
 * drops a character when growing a token buffer fails (lex_save ignores the error), so
 * a parse can "succeed" with a string one byte short. A loader that believed either
 * would hand out a notebook with entries missing or altered (and a writer would then
 * reuse an id). So each line is also scanned here, without allocating, against the JSON
 * our writer produces (objects, arrays, strings, true/false/null, plain integers): a
 * well-formed line jansson refuses, or whose parse holds other string bytes or numbers
 * than the text, means memory ran out. */

struct jsum {
    uint64_t strings, bytes, ints; /* strings and keys; their decoded bytes; sum of integers */
};

struct jcur {
    const char *p, *end;
    struct jsum sum;
};

static void jws(struct jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n')) c->p++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char h = p[i];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool jstring(struct jcur *c)
{
    if (c->p >= c->end || *c->p++ != '"') return false;
    c->sum.strings++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') return c->p++, true;
        if (ch < 0x20) return false;
        if (ch != '\\') {
            int extra = utf8_extra(ch);
            if (extra < 0 || c->end - c->p <= extra) return false;
            for (int i = 1; i <= extra; i++)
                if (((unsigned char)c->p[i] & 0xC0) != 0x80) return false;
            c->p += 1 + extra;
            c->sum.bytes += 1 + (unsigned)extra;
            continue;
        }
        if (c->end - c->p < 2) return false;
        char e = c->p[1];
        if (e != 'u') {
            if (!strchr("\"\\/bfnrt", e)) return false;
            c->p += 2;
            c->sum.bytes++;
            continue;
        }
        int u = c->end - c->p >= 6 ? hex4(c->p + 2) : -1;
        if (u <= 0 || (u >= 0xDC00 && u <= 0xDFFF)) return false; /* NUL, a lone low surrogate */
        c->p += 6;
        c->sum.bytes += u < 0x80 ? 1 : u < 0x800 ? 2 : 3;
        if (u >= 0xD800 && u <= 0xDBFF) { /* must pair with a low surrogate */
            int lo = c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u' ? hex4(c->p + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) return false;
            c->p += 6;
            c->sum.bytes++; /* the pair is 4 bytes of UTF-8 */
        }
    }
    return false;
}

static bool jvalue(struct jcur *c, int depth);

static bool jlist(struct jcur *c, int depth, char close, bool object)
{
    c->p++;
    jws(c);
    if (c->p < c->end && *c->p == close) return c->p++, true;
    for (;;) {
        if (object) {
            jws(c);
            if (!jstring(c)) return false;
            jws(c);
            if (c->p >= c->end || *c->p++ != ':') return false;
        }
        if (!jvalue(c, depth + 1)) return false;
        jws(c);
        if (c->p >= c->end) return false;
        char ch = *c->p++;
        if (ch == close) return true;
        if (ch != ',') return false;
    }
}

static bool jvalue(struct jcur *c, int depth)
{
    if (depth > HML_JSON_DEPTH_MAX) return false;
    jws(c);
    if (c->p >= c->end) return false;
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, words[i], n)) return c->p += n, true;
    }
    switch (*c->p) {
    case '"': return jstring(c);
    case '[': return jlist(c, depth, ']', false);
    case '{': return jlist(c, depth, '}', true);
    default: break;
    }
    const char *s = c->p + (*c->p == '-');
    size_t nd = 0;
    while (s + nd < c->end && s[nd] >= '0' && s[nd] <= '9') nd++;
    if (!nd || nd > 15 || (nd > 1 && s[0] == '0')) return false; /* no fractions or exponents: ours has none */
    int64_t v = 0;
    for (size_t i = 0; i < nd; i++) v = v * 10 + (s[i] - '0');
    c->sum.ints += (uint64_t)(*c->p == '-' ? -v : v);
    c->p = s + nd;
    return true;
}

static bool json_well_formed(const char *s, size_t n, struct jsum *sum)
{
    struct jcur c = {s, s + n, {0, 0, 0}};
    if (!jvalue(&c, 0)) return false;
    jws(&c);
    *sum = c.sum;
    return c.p == c.end;
}

/* The same sums over a parsed value (depth is bounded by json_well_formed). */
static void json_sum(const json_t *v, struct jsum *sum)
{
    const char *k;
    json_t *x;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, k, x) {
            sum->strings++;
            sum->bytes += strlen(k);
            json_sum(x, sum);
        }
        break;
    case JSON_ARRAY: json_array_foreach(v, i, x) json_sum(x, sum); break;
    case JSON_STRING:
        sum->strings++;
        sum->bytes += json_string_length(v);
        break;
    case JSON_INTEGER: sum->ints += (uint64_t)json_integer_value(v); break;
    default: break;
    }
}

static enum hml_status parse_line(struct loader *ld, const char *line, size_t n, size_t lineno)
{
    size_t k = 0;
    while (k < n && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) k++;
    if (k == n) return HML_OK;
    json_error_t je;
    memset(&je, 0, sizeof je); /* jansson leaves the code byte alone when it fails early */
    json_t *o = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
    struct jsum want, got = {0, 0, 0};
    bool formed = json_well_formed(line, n, &want);
    if (o && formed) json_sum(o, &got);
    if ((!o && (json_error_code(&je) == json_error_out_of_memory ||
                (json_error_code(&je) != json_error_duplicate_key && formed))) ||
        (o && formed && memcmp(&want, &got, sizeof want))) {
        json_decref(o);
        return HML_ENOMEM;
    }
    if (!json_is_object(o)) {
        hml_log_warn("%s:%zu: unreadable line (%s); skipped", ld->path, lineno, o ? "not an object" : je.text);
        json_decref(o);
        ld->nb->skipped++;
        return HML_OK;
    }
    enum hml_status rc;
    rc = json_object_get(o, "strike") ? add_strike(ld, o, lineno) : add_entry(ld, o, lineno);
    json_decref(o);
    return rc;
}

static int by_seq(const void *a, const void *b)
{
    unsigned x = ((const struct hml_nb_entry *)a)->seq, y = ((const struct hml_nb_entry *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Applies the strike records (ownership of each reason passes to its entry). */
static void apply_strikes(struct loader *ld)
{
    struct hml_notebook *nb = ld->nb;
    for (size_t i = 0; i < ld->strikes_n; i++) {
        struct strike_rec *s = &ld->strikes[i];
        struct hml_nb_entry *e = (struct hml_nb_entry *)find_seq(nb, s->seq);
        if (!e || e->struck) {
            hml_log_warn("%s: a strike of nb-%03u %s; ignored", ld->path, s->seq, e ? "twice" : "which does not exist");
            nb->skipped++;
            continue;
        }
        e->struck = true;
        e->strike_reason = s->reason;
        s->reason = NULL;
        memcpy(e->struck_at, s->at, sizeof e->struck_at);
        nb->struck_n++;
    }
}

static enum hml_status parse_text(struct loader *ld, const char *text, size_t len)
{
    struct hml_notebook *nb = ld->nb;
    size_t lineno = 0, pos = 0;
    enum hml_status rc = HML_OK;
    while (!rc && pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        lineno++;
        if (!nl) { /* a record is committed by its newline: this one never was */
            nb->torn_bytes = len - pos;
            hml_log_warn("%s: ignoring an incomplete last line (%zu bytes, a write that did not finish); "
                         "the next write removes it", ld->path, nb->torn_bytes);
            break;
        }
        rc = parse_line(ld, text + pos, (size_t)(nl - (text + pos)), lineno);
        pos = (size_t)(nl - text) + 1;
    }
    if (!rc && ld->unsorted) qsort(nb->entries, nb->n, sizeof *nb->entries, by_seq);
    if (!rc) apply_strikes(ld);
    return rc;
}

/* Loads path; keeps the raw text in *text_out when asked (for a repair). */
static enum hml_status load_path(const char *path, struct hml_notebook **out, char **text_out, struct hml_error *err)
{
    struct hml_notebook *nb = hml_calloc(1, sizeof *nb);
    if (!nb) return hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    char *text = NULL;
    size_t len = 0;
    enum hml_status rc = hml_path_exists(path) ? hml_read_file(path, HML_NB_FILE_MAX, &text, &len, err) : HML_OK;
    if (rc == HML_ELIMIT) {
        hml_fail(err, HML_ELIMIT, "notebook", "the notebook '%s' is over %zu MiB", path, HML_NB_FILE_MAX >> 20);
        hml_hint(err, "move it aside (e.g. to notebook/entries-1.jsonl) to start a new one; keep entries short");
    }
    struct loader ld = {.nb = nb, .path = path};
    if (!rc) {
        nb->bytes = len;
        rc = parse_text(&ld, text ? text : "", len);
        if (rc == HML_ENOMEM) hml_fail(err, HML_ENOMEM, "notebook", "out of memory reading '%s'", path);
    }
    for (size_t i = 0; i < ld.strikes_n; i++) hml_free(ld.strikes[i].reason);
    hml_free(ld.strikes);
    if (rc || !text_out) hml_free(text);
    if (rc) {
        hml_notebook_free(nb);
        return rc;
    }
    if (text_out) *text_out = text;
    *out = nb;
    return HML_OK;
}

enum hml_status hml_notebook_load(const char *project_dir, struct hml_notebook **out, struct hml_error *err)
{
    char *path = hml_path_join(project_dir, HML_NB_REL);
    if (!path) return hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    enum hml_status rc = load_path(path, out, NULL, err);
    hml_free(path);
    return rc;
}

const struct hml_nb_entry *hml_notebook_find(const struct hml_notebook *nb, const char *id)
{
    unsigned seq = hml_nb_id_seq(id);
    return seq ? find_seq(nb, seq) : NULL;
}

enum hml_status hml_notebook_lookup(const struct hml_notebook *nb, const char *id, const struct hml_nb_entry **out,
                                    struct hml_error *err)
{
    *out = hml_notebook_find(nb, id);
    if (*out) return HML_OK;
    hml_fail(err, HML_ENOTFOUND, "notebook", "no notebook entry '%s'", id);
    if (!nb->n) return hml_hint(err, "the notebook is empty; write an entry first (notebook write)");
    /* The newest ids are the likely targets; listing thousands helps nobody. */
    const char *names[32];
    size_t k = 0;
    for (size_t i = nb->n; i-- > 0 && k < 32;) names[k++] = nb->entries[i].id;
    hml_error_choices(err, id, names, k);
    if (!err->did_you_mean[0])
        return hml_hint(err, "ids look like nb-%03u (the newest); notebook read lists them",
                        nb->entries[nb->n - 1].seq);
    return err->code;
}

/* ---- writing -------------------------------------------------------------------------------- */

struct wtxn {
    char *dir, *path;
    int lock_fd;
    struct hml_notebook *nb;
    char *text; /* the file as loaded, for a repair */
};

static enum hml_status io_fail(struct hml_error *err, const char *what, const char *path)
{
    hml_fail(err, HML_EIO, "notebook", "cannot %s '%s': %s", what, path, strerror(errno));
    return hml_hint(err, "check that the project directory is writable and the disk is not full");
}

/* Waits (bounded) for the exclusive lock on the notebook directory. A lock on the
 * directory, not on entries.jsonl: a repair renames a new file over that one. */
static enum hml_status take_lock(struct wtxn *t, struct hml_error *err)
{
    for (int waited = 0;; waited += 5) {
        if (!flock(t->lock_fd, LOCK_EX | LOCK_NB)) return HML_OK;
        if (errno != EWOULDBLOCK && errno != EINTR) return io_fail(err, "lock", t->dir);
        if (waited >= LOCK_WAIT_MS) {
            hml_fail(err, HML_EIO, "notebook", "another writer has held the notebook lock for over %d s",
                     LOCK_WAIT_MS / 1000);
            return hml_hint(err, "wait for the other harness process to finish, then write again");
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void txn_end(struct wtxn *t)
{
    if (t->lock_fd >= 0) close(t->lock_fd); /* releases the lock */
    hml_notebook_free(t->nb);
    hml_free(t->text);
    hml_free(t->dir);
    hml_free(t->path);
}

/* Opens, locks and loads. Without `create`, a missing notebook directory is an empty
 * notebook and nothing is created (t->lock_fd stays -1). */
static enum hml_status txn_begin(const char *project_dir, bool create, struct wtxn *t, struct hml_error *err)
{
    memset(t, 0, sizeof *t);
    t->lock_fd = -1;
    t->dir = hml_path_join(project_dir, "notebook");
    t->path = hml_path_join(project_dir, HML_NB_REL);
    if (!t->dir || !t->path) return hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    enum hml_status rc = create ? hml_mkdirs(t->dir, err) : HML_OK;
    if (rc) return rc;
    t->lock_fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->lock_fd < 0 && (create || errno != ENOENT)) return io_fail(err, "open", t->dir);
    if (t->lock_fd >= 0 && (rc = take_lock(t, err))) return rc;
    return load_path(t->path, &t->nb, &t->text, err);
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* One write() of the whole line on an O_APPEND descriptor, then fsync. A short or
 * failed write is cut back off, so the file holds whole lines only. */
static enum hml_status append_line(struct wtxn *t, const char *line, size_t n, struct hml_error *err)
{
    bool existed = hml_path_exists(t->path);
    int fd = open(t->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail(err, "open", t->path);
    struct stat st;
    off_t before = fstat(fd, &st) ? -1 : st.st_size;
    ssize_t w;
    do w = write(fd, line, n);
    while (w < 0 && errno == EINTR);
    enum hml_status rc = HML_OK;
    if (w != (ssize_t)n || fsync(fd)) {
        int saved = errno;
        if (w >= 0 && w != (ssize_t)n) saved = ENOSPC; /* a short write sets no errno */
        if (before >= 0 && ftruncate(fd, before)) hml_log_warn("notebook: could not cut a failed write back off");
        errno = saved;
        rc = io_fail(err, "append to", t->path);
    }
    close(fd);
    if (!rc && !existed) fsync_dir(t->dir);
    return rc;
}

/* Cuts the torn tail (if any), checks the size limit and appends. */
static enum hml_status commit_line(struct wtxn *t, const char *line, size_t n, struct hml_nb_receipt *r,
                                   struct hml_error *err)
{
    size_t whole = t->nb->bytes - t->nb->torn_bytes;
    if (whole + n > HML_NB_FILE_MAX) {
        hml_fail(err, HML_ELIMIT, "notebook", "the notebook would grow past %zu MiB", HML_NB_FILE_MAX >> 20);
        return hml_hint(err, "move notebook/entries.jsonl aside (e.g. to notebook/entries-1.jsonl) to start a new "
                             "one; keep entries short and put long material in files");
    }
    if (t->nb->torn_bytes) {
        enum hml_status rc = hml_write_atomic(t->path, t->text ? t->text : "", whole, err);
        if (rc) return rc;
        hml_log_warn("%s: removed an incomplete last line of %zu bytes", t->path, t->nb->torn_bytes);
        r->repaired_bytes = t->nb->torn_bytes;
    }
    return append_line(t, line, n, err);
}

static char *dump_line(const json_t *rec, size_t *n)
{
    char *s = json_dumps(rec, JSON_COMPACT);
    if (!s) return NULL;
    size_t len = strlen(s);
    char *line = hml_realloc(s, len + 2);
    if (!line) {
        hml_free(s);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = 0;
    *n = len + 1;
    return line;
}

/* ---- validating what is written -------------------------------------------------------------- */

static void trim(const char *s, const char **b, size_t *n)
{
    const char *e = s + strlen(s);
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
    *b = s;
    *n = (size_t)(e - s);
}

static enum hml_status check_text(const char *what, const char *s, size_t max, struct hml_error *err)
{
    const char *b;
    size_t n;
    trim(s ? s : "", &b, &n);
    if (!n) {
        hml_fail(err, HML_EINVAL, "notebook", "%s is empty", what);
        return hml_hint(err, "write what you %s in a sentence or more",
                        !strcmp(what, "reason") ? "strike it for (e.g. 'superseded by nb-012')" : "want to keep");
    }
    if (!utf8_valid(s)) {
        hml_fail(err, HML_EINVAL, "notebook", "%s is not valid UTF-8", what);
        return hml_hint(err, "send the text as UTF-8");
    }
    size_t chars = utf8_chars(s);
    if (chars > max) {
        hml_fail(err, HML_ELIMIT, "notebook", "%s is %zu characters, over the limit of %zu", what, chars, max);
        return hml_hint(err, "split it into several entries (one finding per observation) or put long material in "
                             "a file and cite its path");
    }
    return HML_OK;
}

static bool has_ci(char *const *v, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) == len && !strncasecmp(v[i], s, len)) return true;
    return false;
}

/* Normalises one tag list into e: trimmed, deduplicated ignoring case. Caller tags are
 * checked strictly; auto tags that do not fit are dropped quietly. */
static enum hml_status take_tags(const char *const *in, size_t n, bool strict, struct hml_nb_entry *e,
                                 struct hml_error *err)
{
    char ***dst = strict ? &e->tags : &e->auto_tags;
    size_t *dn = strict ? &e->tags_n : &e->auto_tags_n;
    if (n && !(*dst = hml_calloc(n < HML_NB_TAGS_MAX ? n : HML_NB_TAGS_MAX, sizeof **dst)))
        return hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *b;
        size_t len;
        trim(in[i] ? in[i] : "", &b, &len);
        bool ctrl = false;
        for (size_t k = 0; k < len; k++) ctrl |= (unsigned char)b[k] < 0x20;
        char tmp[HML_NB_TAG_MAX * 4 + 1];
        bool too_long = len >= sizeof tmp || (memcpy(tmp, b, len), tmp[len] = 0, utf8_chars(tmp) > HML_NB_TAG_MAX);
        bool bad = !len || ctrl || !utf8_valid(in[i] ? in[i] : "") || too_long;
        if (bad && strict) {
            if (too_long) {
                hml_fail(err, HML_ELIMIT, "notebook", "tag '%.40s…' is over %u characters", b, HML_NB_TAG_MAX);
                return hml_hint(err, "tags name things (a column, a model, an idea): keep each short");
            }
            hml_fail(err, HML_EINVAL, "notebook", "tag %zu is %s", i + 1, len ? "not a single line of text" : "empty");
            return hml_hint(err, "pass tags as short names, e.g. tags=[\"age\", \"xgb_main\"]");
        }
        if (bad || has_ci(e->tags, e->tags_n, b, len) || has_ci(e->auto_tags, e->auto_tags_n, b, len)) continue;
        if (*dn == HML_NB_TAGS_MAX) {
            if (!strict) break;
            hml_fail(err, HML_ELIMIT, "notebook", "more than %u distinct tags", HML_NB_TAGS_MAX);
            return hml_hint(err, "keep the %u that name what the entry is about", HML_NB_TAGS_MAX);
        }
        if (!((*dst)[*dn] = hml_strndup(b, len))) return hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
        (*dn)++;
    }
    return HML_OK;
}

static enum hml_status check_experiment_id(const char *x, struct hml_error *err)
{
    size_t n = strlen(x);
    bool okc = n > 0 && n <= HML_NB_EXPERIMENT_ID_MAX && x[0] != '.'; /* never "..": ids name directories */
    for (const char *p = x; okc && *p; p++)
        okc = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_-.", *p);
    if (okc) return HML_OK;
    hml_fail(err, HML_EINVAL, "notebook", "experiment_id '%.80s' is not an experiment id", x);
    return hml_hint(err, "pass the id the experiments tool gave, e.g. exp-003 (1 to %u letters, digits, '_', '-', '.')",
                    HML_NB_EXPERIMENT_ID_MAX);
}

/* Builds the entry (minus id and time) from the caller's fields, checking each. */
static enum hml_status build_entry(const struct hml_nb_new *in, struct hml_nb_entry *e, struct hml_error *err)
{
    memset(e, 0, sizeof *e);
    e->type = in->type;
    if ((unsigned)in->type >= HML_NB_TYPES) {
        hml_fail(err, HML_EINVAL, "notebook", "entry type %d is not a type", (int)in->type);
        return hml_error_choices(err, "", hml_nb_type_names, HML_NB_TYPES);
    }
    enum hml_status rc = check_text("content", in->content, HML_NB_CONTENT_MAX, err);
    if (!rc && in->experiment_id) rc = check_experiment_id(in->experiment_id, err);
    if (!rc) rc = take_tags(in->tags, in->tags_n, true, e, err);
    if (!rc) rc = take_tags(in->auto_tags, in->auto_tags_n, false, e, err);
    if (!rc) {
        const char *b;
        size_t n;
        trim(in->content, &b, &n);
        if (!(e->content = hml_strndup(b, n))) rc = hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    }
    if (!rc && in->experiment_id && !(e->experiment_id = hml_strdup(in->experiment_id)))
        rc = hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    if (rc) entry_fini(e);
    return rc;
}

static json_t *entry_record(const struct hml_nb_entry *e)
{
    json_t *o = hml_nb_entry_json(e);
    if (o && !e->auto_tags_n) json_object_del(o, "auto_tags");
    return o;
}

enum hml_status hml_notebook_write(const char *project_dir, const struct hml_nb_new *in, struct hml_nb_receipt *out,
                                   struct hml_error *err)
{
    struct hml_nb_entry e;
    enum hml_status rc = build_entry(in, &e, err);
    if (rc) return rc;
    struct wtxn t;
    struct hml_nb_receipt r;
    memset(&r, 0, sizeof r);
    rc = txn_begin(project_dir, true, &t, err);
    if (!rc) {
        const struct hml_nb_entry *last = t.nb->n ? &t.nb->entries[t.nb->n - 1] : NULL;
        int64_t ms = now_ms();
        e.seq = last ? last->seq + 1 : 1;
        e.created_ms = last && last->created_ms >= ms ? last->created_ms + 1 : ms; /* time follows id order */
        format_id(e.seq, e.id);
        format_ms(e.created_ms, e.created_at);
        json_t *rec = entry_record(&e);
        size_t n = 0;
        char *line = rec ? dump_line(rec, &n) : NULL;
        rc = line ? commit_line(&t, line, n, &r, err) : hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
        hml_free(line);
        json_decref(rec);
    }
    txn_end(&t);
    if (!rc) {
        memcpy(r.id, e.id, sizeof r.id);
        memcpy(r.created_at, e.created_at, sizeof r.created_at);
        if (out) *out = r;
    }
    entry_fini(&e);
    return rc;
}

enum hml_status hml_notebook_strike(const char *project_dir, const char *entry_id, const char *reason,
                                    struct hml_nb_receipt *out, struct hml_error *err)
{
    enum hml_status rc = check_text("reason", reason, HML_NB_REASON_MAX, err);
    if (rc) return rc;
    struct wtxn t;
    struct hml_nb_receipt r;
    memset(&r, 0, sizeof r);
    const struct hml_nb_entry *e = NULL;
    rc = txn_begin(project_dir, false, &t, err);
    if (!rc) rc = hml_notebook_lookup(t.nb, entry_id ? entry_id : "", &e, err);
    if (!rc && e->struck) {
        hml_fail(err, HML_ECONFLICT, "notebook", "%s was struck already (%s)", e->id, e->strike_reason);
        rc = hml_hint(err, "nothing to do; write a new entry to say more");
    }
    if (!rc) {
        int64_t ms = now_ms();
        format_ms(ms, r.created_at);
        const char *b;
        size_t n = 0;
        trim(reason, &b, &n);
        json_t *rec = json_pack("{s:s,s:s%,s:s}", "strike", e->id, "reason", b, n, "created_at", r.created_at);
        char *line = rec ? dump_line(rec, &n) : NULL;
        rc = line ? commit_line(&t, line, n, &r, err) : hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
        memcpy(r.id, e->id, sizeof r.id);
        hml_free(line);
        json_decref(rec);
    }
    txn_end(&t);
    if (!rc && out) *out = r;
    return rc;
}

/* ---- queries --------------------------------------------------------------------------------- */

static bool entry_has_tag(const struct hml_nb_entry *e, const char *tag)
{
    for (size_t i = 0; i < e->tags_n; i++)
        if (!strcasecmp(e->tags[i], tag)) return true;
    for (size_t i = 0; i < e->auto_tags_n; i++)
        if (!strcasecmp(e->auto_tags[i], tag)) return true;
    return false;
}

bool hml_nb_filter_match(const struct hml_nb_filter *f, const struct hml_nb_entry *e)
{
    if (!f) return !e->struck;
    if (e->struck && !f->include_struck) return false;
    if (f->types && !(f->types & (1u << e->type))) return false;
    if (f->after_seq && e->seq <= f->after_seq) return false;
    if (f->after_ms && e->created_ms <= f->after_ms) return false;
    for (size_t i = 0; i < f->tags_n; i++)
        if (!entry_has_tag(e, f->tags[i])) return false;
    return true;
}

size_t hml_notebook_select(const struct hml_notebook *nb, const struct hml_nb_filter *f, size_t offset, size_t limit,
                           const struct hml_nb_entry **out, size_t *total)
{
    size_t k = 0, seen = 0;
    for (size_t i = nb->n; i-- > 0;) {
        const struct hml_nb_entry *e = &nb->entries[i];
        if (!hml_nb_filter_match(f, e)) continue;
        if (seen >= offset && k < limit) out[k++] = e;
        seen++;
    }
    if (total) *total = seen;
    return k;
}

const struct hml_nb_entry *hml_notebook_newest(const struct hml_notebook *nb, enum hml_nb_type type,
                                               bool include_struck)
{
    for (size_t i = nb->n; i-- > 0;) {
        const struct hml_nb_entry *e = &nb->entries[i];
        if (e->type == type && (include_struck || !e->struck)) return e;
    }
    return NULL;
}

/* Non-overlapping, ASCII case-insensitive occurrences of q (length qn) in s. */
static size_t count_ci(const char *s, const char *q, size_t qn)
{
    size_t n = 0;
    int c0 = (unsigned char)q[0];
    c0 = c0 >= 'A' && c0 <= 'Z' ? c0 + 32 : c0;
    for (const char *p = s; *p;) {
        int c = (unsigned char)*p;
        c = c >= 'A' && c <= 'Z' ? c + 32 : c;
        if (c == c0 && !strncasecmp(p, q, qn)) {
            n++;
            p += qn;
        } else {
            p++;
        }
    }
    return n;
}

static int by_rank(const void *a, const void *b)
{
    const struct hml_nb_hit *x = a, *y = b;
    if (x->matches != y->matches) return x->matches > y->matches ? -1 : 1;
    return x->entry->seq > y->entry->seq ? -1 : x->entry->seq < y->entry->seq;
}

enum hml_status hml_notebook_search(const struct hml_notebook *nb, const char *query, const struct hml_nb_filter *f,
                                    struct hml_nb_hit **hits, size_t *n, struct hml_error *err)
{
    *hits = NULL;
    *n = 0;
    const char *q;
    size_t qn;
    trim(query ? query : "", &q, &qn);
    if (!qn) {
        hml_fail(err, HML_EINVAL, "notebook.search", "the query is empty");
        return hml_hint(err, "pass query=<a word or phrase>, e.g. query=age");
    }
    char tmp[HML_NB_QUERY_MAX * 4 + 1];
    if (qn >= sizeof tmp || (memcpy(tmp, q, qn), tmp[qn] = 0, utf8_chars(tmp) > HML_NB_QUERY_MAX)) {
        hml_fail(err, HML_ELIMIT, "notebook.search", "the query is over %u characters", HML_NB_QUERY_MAX);
        return hml_hint(err, "search for a word or a short phrase");
    }
    struct hml_nb_hit *h = NULL;
    size_t k = 0;
    for (size_t i = 0; i < nb->n; i++) {
        const struct hml_nb_entry *e = &nb->entries[i];
        if (!hml_nb_filter_match(f, e)) continue;
        size_t m = count_ci(e->content, tmp, qn);
        for (size_t t = 0; t < e->tags_n; t++) m += count_ci(e->tags[t], tmp, qn);
        for (size_t t = 0; t < e->auto_tags_n; t++) m += count_ci(e->auto_tags[t], tmp, qn);
        if (!m) continue;
        if (!h && !(h = hml_calloc(nb->n, sizeof *h))) return hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
        h[k].entry = e;
        h[k++].matches = m;
    }
    if (k) qsort(h, k, sizeof *h, by_rank);
    *hits = h;
    *n = k;
    return HML_OK;
}

/* ---- the summary ----------------------------------------------------------------------------- */

struct tagref {
    const char *name;
    unsigned seq;
};

struct entity {
    const char *name;
    size_t count;     /* entries that carry it                                */
    unsigned last_seq;
    size_t first, nrefs; /* its tagrefs: refs[first .. first + nrefs), by seq */
};

static int tagref_cmp(const void *a, const void *b)
{
    const struct tagref *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);
    return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int entity_cmp(const void *a, const void *b)
{
    const struct entity *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->last_seq != y->last_seq) return x->last_seq > y->last_seq ? -1 : 1;
    return strcasecmp(x->name, y->name);
}

/* Entities (tags and auto tags of live entries, merged ignoring case), most used first. */
static enum hml_status entity_index(const struct hml_notebook *nb, struct tagref **refs_out, struct entity **out,
                                    size_t *n_out)
{
    size_t total = 0;
    for (size_t i = 0; i < nb->n; i++)
        if (!nb->entries[i].struck) total += nb->entries[i].tags_n + nb->entries[i].auto_tags_n;
    *refs_out = NULL;
    *out = NULL;
    *n_out = 0;
    if (!total) return HML_OK;
    struct tagref *refs = hml_malloc(total * sizeof *refs);
    struct entity *ents = hml_malloc(total * sizeof *ents);
    if (!refs || !ents) {
        hml_free(refs);
        hml_free(ents);
        return HML_ENOMEM;
    }
    size_t k = 0, m = 0;
    for (size_t i = 0; i < nb->n; i++) {
        const struct hml_nb_entry *e = &nb->entries[i];
        if (e->struck) continue;
        for (size_t t = 0; t < e->tags_n; t++) refs[k++] = (struct tagref){e->tags[t], e->seq};
        for (size_t t = 0; t < e->auto_tags_n; t++) refs[k++] = (struct tagref){e->auto_tags[t], e->seq};
    }
    qsort(refs, k, sizeof *refs, tagref_cmp);
    for (size_t i = 0; i < k; i++) {
        if (i && !strcasecmp(refs[i].name, refs[i - 1].name)) {
            ents[m - 1].count += refs[i].seq != refs[i - 1].seq; /* an entry counts once */
            ents[m - 1].last_seq = refs[i].seq;
            ents[m - 1].nrefs++;
            continue;
        }
        ents[m++] = (struct entity){refs[i].name, 1, refs[i].seq, i, 1};
    }
    qsort(ents, m, sizeof *ents, entity_cmp);
    *refs_out = refs;
    *out = ents;
    *n_out = m;
    return HML_OK;
}

/* The first line of s, whitespace runs collapsed, cut at width characters. */
static void one_line(struct hml_buf *b, const char *s, size_t width)
{
    struct hml_buf t = HML_BUF_INIT;
    bool space = false;
    for (const char *p = s; *p && *p != '\n'; p++) {
        bool ws = *p == ' ' || *p == '\t' || *p == '\r';
        if (ws) {
            space = t.len > 0;
            continue;
        }
        if (space) hml_buf_putc(&t, ' ');
        space = false;
        hml_buf_putc(&t, *p);
    }
    bool more = strchr(s, '\n') != NULL;
    if (put_chars(b, hml_buf_str(&t), t.len, width) || more) hml_buf_puts(b, "…");
    hml_buf_free(&t);
}

static void day_of(const char *created_at, char out[11])
{
    snprintf(out, 11, "%.10s", created_at);
}

/* "## Theory · nb-012 · 2026-03-09" and the content, cut to `budget` characters. */
static void put_latest(struct hml_buf *b, const char *title, const struct hml_nb_entry *e, size_t budget,
                       const char *none)
{
    if (!e) {
        hml_buf_printf(b, "\n## %s\n%s\n", title, none);
        return;
    }
    char day[11];
    day_of(e->created_at, day);
    hml_buf_printf(b, "\n## %s · %s · %s\n", title, e->id, day);
    size_t chars = utf8_chars(e->content);
    if (chars <= budget) {
        hml_buf_printf(b, "%s\n", e->content);
        return;
    }
    put_chars(b, e->content, strlen(e->content), budget);
    hml_buf_printf(b, "… (+%zu chars: read --entry_id %s)\n", chars - budget, e->id);
}

#define FINDINGS_SHORT 5
#define FINDINGS_FULL  10
#define FINDING_WIDTH  80
#define ENTITY_CHARS   160 /* of the default index line */
#define CUT_NOTE       48  /* "… (+12345 chars: read --entry_id nb-0123)\n"     */
#define HEADING_CHARS  40  /* "\n## Theory · nb-0123 · 2026-03-09\n" and the newline after the text */

/* Returns false when the JSON list could not be filled (OOM). */
static bool put_findings(struct hml_buf *b, const struct hml_notebook *nb, bool full, json_t *list)
{
    bool ok = true;
    const struct hml_nb_entry *f[FINDINGS_FULL];
    struct hml_nb_filter flt = {.types = 1u << HML_NB_FINDING};
    size_t total, k = hml_notebook_select(nb, &flt, 0, full ? FINDINGS_FULL : FINDINGS_SHORT, f, &total);
    if (!k) return true;
    hml_buf_printf(b, "\n## Recent findings (%zu of %zu)\n", k, total);
    for (size_t i = 0; i < k; i++) {
        char day[11];
        day_of(f[i]->created_at, day);
        hml_buf_printf(b, "- %s (%s): ", f[i]->id, day);
        size_t start = b->len;
        one_line(b, f[i]->content, full ? 200 : FINDING_WIDTH);
        if (list && hml_buf_ok(b))
            ok = !json_array_append_new(list, json_pack("{s:s,s:s,s:s%}", "id", f[i]->id, "created_at",
                                                        f[i]->created_at, "line", b->p + start, b->len - start)) && ok;
        hml_buf_putc(b, '\n');
    }
    return ok;
}

static bool put_entities(struct hml_buf *b, const struct tagref *refs, const struct entity *ents, size_t m, bool full,
                         size_t max_chars, json_t *list)
{
    bool ok = true;
    if (!m) return true;
    hml_buf_puts(b, "\n## Entities (tags)\n");
    size_t used = 0, shown = 0;
    for (size_t i = 0; i < m; i++) {
        char item[HML_NB_TAG_MAX * 4 + 32];
        snprintf(item, sizeof item, "%s%s ×%zu", shown ? " · " : "", ents[i].name, ents[i].count);
        size_t c = utf8_chars(item);
        if (full ? shown < 200 : used + c + 8 <= max_chars) {
            hml_buf_puts(b, item);
            used += c;
            shown++;
        }
        if (!list || json_array_size(list) >= (full ? 200u : 50u)) continue;
        json_t *ids = json_array(); /* the newest 20 entries that carry it, newest first */
        for (size_t r = ents[i].first + ents[i].nrefs; ids && r-- > ents[i].first && json_array_size(ids) < 20;) {
            if (r + 1 < ents[i].first + ents[i].nrefs && refs[r].seq == refs[r + 1].seq) continue;
            char id[24];
            format_id(refs[r].seq, id);
            json_array_append_new(ids, json_string(id));
        }
        ok = ids && json_array_size(ids) && ok;
        ok = !json_array_append_new(list, json_pack("{s:s,s:I,s:o*}", "name", ents[i].name, "count",
                                                    (json_int_t)ents[i].count, "entries", ids)) && ok;
    }
    if (shown < m) hml_buf_printf(b, " · +%zu more (detail=full)", m - shown);
    hml_buf_putc(b, '\n');
    return ok;
}

static void put_head(struct hml_buf *b, const struct hml_notebook *nb, json_t *counts)
{
    size_t live = nb->n - nb->struck_n, per[HML_NB_TYPES] = {0};
    for (size_t i = 0; i < nb->n; i++)
        if (!nb->entries[i].struck) per[nb->entries[i].type]++;
    hml_buf_printf(b, "# Notebook: %zu entr%s", live, live == 1 ? "y" : "ies");
    if (nb->struck_n) hml_buf_printf(b, " (+%zu struck, hidden)", nb->struck_n);
    hml_buf_putc(b, '\n');
    bool first = true;
    for (int t = 0; t < HML_NB_TYPES; t++) {
        if (counts) json_object_set_new(counts, hml_nb_type_names[t], json_integer((json_int_t)per[t]));
        if (!per[t]) continue;
        hml_buf_printf(b, "%s%s %zu", first ? "" : " · ", hml_nb_type_names[t], per[t]);
        first = false;
    }
    hml_buf_putc(b, '\n');
}

#define NO_THEORY "None yet: write what you believe drives the target (notebook write --type theory)."
#define NO_PLAN   "None yet, and experiments need one: notebook write --type plan."

/* Theory and plan share what the other sections leave; a short one gives the rest to the other. */
static void split_budget(size_t budget, size_t lt, size_t lp, size_t *bt, size_t *bp)
{
    if (lt + lp <= budget) {
        *bt = lt;
        *bp = lp;
        return;
    }
    size_t half = budget / 2;
    *bt = lt < half ? lt : lp < half ? budget - lp : half;
    *bp = budget - *bt < lp ? budget - *bt : lp;
    /* A cut text carries a pointer to the rest; make room for it. */
    if (*bt < lt) *bt = *bt > CUT_NOTE ? *bt - CUT_NOTE : 0;
    if (*bp < lp) *bp = *bp > CUT_NOTE ? *bp - CUT_NOTE : 0;
}

static enum hml_status summary_md(const struct hml_notebook *nb, bool full, struct hml_buf *md, json_t *d)
{
    json_t *counts = d ? json_object() : NULL, *finds = d ? json_array() : NULL, *ents_j = d ? json_array() : NULL;
    struct tagref *refs;
    struct entity *ents;
    size_t m;
    if (entity_index(nb, &refs, &ents, &m)) {
        json_decref(counts);
        json_decref(finds);
        json_decref(ents_j);
        return HML_ENOMEM;
    }
    const struct hml_nb_entry *th = hml_notebook_newest(nb, HML_NB_THEORY, false);
    const struct hml_nb_entry *pl = hml_notebook_newest(nb, HML_NB_PLAN, false);
    struct hml_buf head = HML_BUF_INIT, tail = HML_BUF_INIT, tp = HML_BUF_INIT;
    put_head(&head, nb, counts);
    bool jok = put_findings(&tail, nb, full, finds);
    jok = put_entities(&tail, refs, ents, m, full, ENTITY_CHARS, ents_j) && jok;
    size_t fixed = buf_chars(&head) + buf_chars(&tail) + 2 * HEADING_CHARS;
    fixed += (th ? 0 : sizeof NO_THEORY) + (pl ? 0 : sizeof NO_PLAN);
    size_t lt = th ? utf8_chars(th->content) : 0, lp = pl ? utf8_chars(pl->content) : 0, bt = lt, bp = lp;
    if (!full) split_budget(fixed < HML_NB_SUMMARY_MAX ? HML_NB_SUMMARY_MAX - fixed : 0, lt, lp, &bt, &bp);
    put_latest(&tp, "Theory", th, bt, NO_THEORY);
    put_latest(&tp, "Plan", pl, bp, NO_PLAN);
    hml_buf_puts(md, hml_buf_str(&head));
    hml_buf_puts(md, hml_buf_str(&tp));
    hml_buf_puts(md, hml_buf_str(&tail));
    bool ok = hml_buf_ok(&head) && hml_buf_ok(&tail) && hml_buf_ok(&tp) && (jok || !d);
    if (d) { /* each set consumes its value, so every one runs (no short circuit) */
        ok = hml_json_set(d, "entries", json_integer((json_int_t)(nb->n - nb->struck_n))) && ok;
        ok = hml_json_set(d, "struck", json_integer((json_int_t)nb->struck_n)) && ok;
        ok = hml_json_set(d, "counts", counts) && ok;
        ok = hml_json_set(d, "theory", th ? hml_nb_entry_json(th) : json_null()) && ok;
        ok = hml_json_set(d, "plan", pl ? hml_nb_entry_json(pl) : json_null()) && ok;
        ok = hml_json_set(d, "recent_findings", finds) && ok;
        ok = hml_json_set(d, "entities", ents_j) && ok;
        counts = finds = ents_j = NULL;
    }
    json_decref(counts);
    json_decref(finds);
    json_decref(ents_j);
    hml_buf_free(&head);
    hml_buf_free(&tail);
    hml_buf_free(&tp);
    hml_free(refs);
    hml_free(ents);
    return ok ? HML_OK : HML_ENOMEM;
}

enum hml_status hml_notebook_summary(const struct hml_notebook *nb, bool full, struct hml_buf *md, json_t **data,
                                     struct hml_error *err)
{
    json_t *d = data ? json_object() : NULL;
    if (data && !d) return hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    enum hml_status rc = HML_OK;
    if (nb->n == nb->struck_n) {
        hml_buf_puts(md, nb->n ? "No notebook entries left (every one is struck). " : "No notebook entries yet. ");
        hml_buf_puts(md, "Start with a plan: notebook write --type plan --content \"what you believe drives the "
                         "target and what you will try first\". Experiments need one.\n");
        if (d && !(hml_json_set(d, "entries", json_integer(0)) &&
                   hml_json_set(d, "struck", json_integer((json_int_t)nb->struck_n))))
            rc = HML_ENOMEM;
    } else {
        rc = summary_md(nb, full, md, d);
    }
    if (!rc && !hml_buf_ok(md)) rc = HML_ENOMEM;
    if (rc) {
        json_decref(d);
        return hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    }
    if (data) *data = d;
    return HML_OK;
}

/* ---- questions from other modules ------------------------------------------------------------ */

enum hml_status hml_notebook_latest(const char *project_dir, enum hml_nb_type type, struct hml_nb_entry **out,
                                    struct hml_error *err)
{
    HML_ASSERT((unsigned)type < HML_NB_TYPES);
    struct hml_notebook *nb;
    enum hml_status rc = hml_notebook_load(project_dir, &nb, err);
    if (rc) return rc;
    const struct hml_nb_entry *e = hml_notebook_newest(nb, type, false);
    struct hml_nb_entry *copy = e ? hml_calloc(1, sizeof *copy) : NULL;
    if (!e) {
        hml_fail(err, HML_ENOTFOUND, "notebook", "the notebook has no %s entry%s", hml_nb_type_names[type],
                 nb->struck_n ? " that is not struck" : "");
        rc = hml_hint(err, "write one first: notebook write --type %s --content \"…\"", hml_nb_type_names[type]);
    } else if (!copy || !entry_copy(e, copy)) {
        hml_free(copy);
        copy = NULL;
        rc = hml_fail(err, HML_ENOMEM, "notebook", "out of memory");
    }
    hml_notebook_free(nb);
    if (!rc) *out = copy;
    return rc;
}

enum hml_status hml_notebook_count(const char *project_dir, enum hml_nb_type type, const char *since, size_t *out,
                                   struct hml_error *err)
{
    HML_ASSERT((unsigned)type < HML_NB_TYPES);
    struct hml_nb_filter f = {.types = 1u << type};
    if (since && !(f.after_seq = hml_nb_id_seq(since)) && !hml_nb_time_parse(since, &f.after_ms)) {
        hml_fail(err, HML_EINVAL, "notebook", "'%.80s' is neither an entry id nor a UTC time", since);
        return hml_hint(err, "pass an id like nb-007 or a time like 2026-03-09T12:00:00Z");
    }
    struct hml_notebook *nb;
    enum hml_status rc = hml_notebook_load(project_dir, &nb, err);
    if (rc) return rc;
    size_t total;
    hml_notebook_select(nb, &f, 0, 0, NULL, &total);
    hml_notebook_free(nb);
    *out = total;
    return HML_OK;
}
