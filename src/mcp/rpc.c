/* rpc.c — the wire: stdin framed into lines on the reader thread, and the one writer
 * that owns the protocol descriptor. Everything here is transport; meaning lives in
 * server.c. */
#include "mcp.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/log.h"

#define READ_CHUNK ((size_t)64 << 10)

/* ---- the writer ----------------------------------------------------------------------- */

static struct {
    pthread_mutex_t mu;
    int fd;
    bool broken;
} out = {PTHREAD_MUTEX_INITIALIZER, -1, false};

void mcp_out_init(int fd)
{
    out.fd = fd;
    out.broken = false;
}

bool mcp_out_broken(void)
{
    pthread_mutex_lock(&out.mu);
    bool b = out.broken;
    pthread_mutex_unlock(&out.mu);
    return b;
}

/* Writes the message and its newline as one unit; a short write continues where it
 * stopped, so a reader never sees two messages interleaved. Called with out.mu held. */
static void write_line(const char *s, size_t n)
{
    struct iovec iov[2] = {{(void *)s, n}, {(void *)"\n", 1}};
    int cnt = 2;
    struct iovec *v = iov;
    while (cnt > 0 && !out.broken) {
        ssize_t w = writev(out.fd, v, cnt);
        if (w < 0) {
            if (errno == EINTR) continue;
            /* EPIPE and friends: the client is gone; the server winds down on EOF. */
            out.broken = true;
            hml_log_warn("mcp: cannot write to the client: %s", strerror(errno));
            break;
        }
        size_t left = (size_t)w;
        while (cnt > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
}

static void send_text(const char *s, size_t n)
{
    pthread_mutex_lock(&out.mu);
    if (!out.broken) write_line(s, n);
    pthread_mutex_unlock(&out.mu);
}

void mcp_send(json_t *msg)
{
    char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!s) {
        hml_log_error("mcp: cannot serialise a message (out of memory); it was dropped");
        return;
    }
    send_text(s, strlen(s));
    hml_free(s);
}

static json_t *envelope(const json_t *id)
{
    json_t *m = json_object();
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    json_object_set_new(m, "id", id ? json_deep_copy(id) : json_null());
    return m;
}

void mcp_send_result(const json_t *id, json_t *result)
{
    json_t *m = envelope(id);
    json_object_set_new(m, "result", result ? result : json_object());
    mcp_send(m);
}

void mcp_send_result_raw(const json_t *id, const char *result)
{
    char *ids = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    struct hml_buf b = HML_BUF_INIT;
    hml_buf_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":%s}", ids ? ids : "null", result);
    if (hml_buf_ok(&b)) send_text(b.p, b.len);
    else hml_log_error("mcp: cannot build a reply (out of memory); it was dropped");
    hml_buf_free(&b);
    hml_free(ids);
}

void mcp_send_error(const json_t *id, int code, const char *message, json_t *data)
{
    json_t *m = envelope(id);
    json_t *e = json_object();
    json_object_set_new(e, "code", json_integer(code));
    json_object_set_new(e, "message", mcp_json_text(message));
    if (data) json_object_set_new(e, "data", data);
    json_object_set_new(m, "error", e);
    mcp_send(m);
}

void mcp_notify(const char *method, json_t *params)
{
    json_t *m = json_object();
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    json_object_set_new(m, "method", json_string(method));
    if (params) json_object_set_new(m, "params", params);
    mcp_send(m);
}

/* ---- UTF-8 ---------------------------------------------------------------------------- */

/* Length of the valid sequence at s (at most n bytes), or 0 when it is not valid:
 * no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

bool mcp_utf8_valid(const char *str, size_t n, size_t *bad_at)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* ASCII runs are the common case: skip eight bytes at a time. */
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        size_t len = utf8_seq(s + i, n - i);
        if (!len) {
            if (bad_at) *bad_at = i;
            return false;
        }
        i += len;
    }
    return true;
}

json_t *mcp_json_text(const char *str)
{
    if (!str) str = "";
    size_t n = strlen(str);
    json_t *j = json_stringn(str, n);
    if (j) return j;
    struct hml_buf b = HML_BUF_INIT;
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(s + i, n - i);
        if (len) hml_buf_append(&b, s + i, len), i += len;
        else hml_buf_puts(&b, "\xEF\xBF\xBD"), i++;
    }
    j = json_stringn(hml_buf_str(&b), b.len);
    hml_buf_free(&b);
    return j ? j : json_string("");
}

/* ---- id recovery ------------------------------------------------------------------------ */

/* A bounded scanner over the first bytes of a message that failed to parse (too long,
 * bad UTF-8 further on, a syntax error after the id). It walks the top-level object's
 * keys, skipping values with string and nesting awareness, and decodes "id" with jansson. */
struct scan {
    const char *s;
    size_t n, i;
};

static void skip_ws(struct scan *sc)
{
    while (sc->i < sc->n && strchr(" \t\r\n", sc->s[sc->i]) && sc->s[sc->i]) sc->i++;
}

static bool skip_string(struct scan *sc)
{
    for (sc->i++; sc->i < sc->n; sc->i++) {
        if (sc->s[sc->i] == '\\') sc->i++;
        else if (sc->s[sc->i] == '"') return sc->i++, true;
    }
    return false;
}

static bool skip_value(struct scan *sc)
{
    if (sc->i >= sc->n) return false;
    char c = sc->s[sc->i];
    if (c == '"') return skip_string(sc);
    if (c != '{' && c != '[') {
        while (sc->i < sc->n && !strchr(",}] \t\r\n", sc->s[sc->i])) sc->i++;
        return sc->i < sc->n;
    }
    int depth = 0;
    while (sc->i < sc->n) {
        c = sc->s[sc->i];
        if (c == '"') {
            if (!skip_string(sc)) return false;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        if (c == '}' || c == ']') depth--;
        sc->i++;
        if (depth == 0) return true;
    }
    return false;
}

static json_t *decode_id(struct scan *sc)
{
    size_t start = sc->i;
    if (sc->i < sc->n && sc->s[sc->i] == '"') {
        if (!skip_string(sc)) return NULL;
    } else {
        while (sc->i < sc->n && (sc->s[sc->i] == '-' || (sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9'))) sc->i++;
    }
    if (sc->i == start) return NULL;
    json_t *id = json_loadb(sc->s + start, sc->i - start, JSON_DECODE_ANY, NULL);
    if (json_is_string(id) || json_is_integer(id)) return id;
    json_decref(id);
    return NULL;
}

json_t *mcp_scan_id(const char *s, size_t n)
{
    struct scan sc = {s, n < MCP_ID_SCAN_MAX ? n : MCP_ID_SCAN_MAX, 0};
    skip_ws(&sc);
    if (sc.i >= sc.n || s[sc.i] != '{') return NULL;
    sc.i++;
    for (int keys = 0; keys < 64; keys++) {
        skip_ws(&sc);
        if (sc.i >= sc.n || s[sc.i] != '"') return NULL;
        size_t k0 = sc.i;
        if (!skip_string(&sc)) return NULL;
        bool is_id = sc.i - k0 == 4 && !memcmp(s + k0, "\"id\"", 4);
        skip_ws(&sc);
        if (sc.i >= sc.n || s[sc.i] != ':') return NULL;
        sc.i++;
        skip_ws(&sc);
        if (is_id) return decode_id(&sc);
        if (!skip_value(&sc)) return NULL;
        skip_ws(&sc);
        if (sc.i >= sc.n || s[sc.i] != ',') return NULL;
        sc.i++;
    }
    return NULL;
}

/* ---- the reader thread ---------------------------------------------------------------------- */

void mcp_line_free(struct mcp_line *l)
{
    if (!l) return;
    hml_free(l->p);
    hml_free(l);
}

static void push_line(struct mcp_inbox *in, struct hml_buf *line, size_t too_long)
{
    struct mcp_line *l = hml_calloc(1, sizeof *l);
    if (!l) {
        hml_log_error("mcp: out of memory reading a message; it was dropped");
        hml_buf_reset(line);
        return;
    }
    l->n = line->len;
    l->p = hml_buf_detach(line);
    /* An allocation that failed while the line grew reads as "too long": the client gets an
     * error naming the size instead of a silently truncated message. */
    l->too_long = too_long ? too_long : (l->p ? 0 : l->n + 1);
    pthread_mutex_lock(in->mu);
    while (!in->closing && in->head && in->bytes > MCP_INBOX_BYTES_MAX) pthread_cond_wait(&in->space, in->mu);
    if (in->closing) {
        mcp_line_free(l);
    } else {
        if (in->tail) in->tail->next = l;
        else in->head = l;
        in->tail = l;
        in->bytes += l->n;
        pthread_cond_signal(in->wake);
    }
    pthread_mutex_unlock(in->mu);
}

/* Adds seg to the current line, or, past the limit, keeps only the first bytes (for the id)
 * and counts the rest. Returns the updated too-long length (0 while within the limit). */
static size_t take_segment(struct mcp_inbox *in, struct hml_buf *line, const char *p, size_t seg,
                           size_t too_long)
{
    if (too_long) return too_long + seg;
    if (line->len + seg <= in->line_max && !line->oom) {
        hml_buf_append(line, p, seg);
        return line->oom ? line->len + seg : 0;
    }
    size_t keep = line->len < MCP_ID_SCAN_MAX ? MCP_ID_SCAN_MAX - line->len : 0;
    too_long = line->len + seg;
    if (line->len > MCP_ID_SCAN_MAX) line->len = MCP_ID_SCAN_MAX;
    hml_buf_append(line, p, keep < seg ? keep : seg);
    return too_long;
}

void *mcp_reader_main(void *arg)
{
    struct mcp_inbox *in = arg;
    char *chunk = hml_malloc(READ_CHUNK);
    struct hml_buf line = HML_BUF_INIT;
    size_t too_long = 0;
    while (chunk) {
        ssize_t r = read(in->fd, chunk, READ_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        const char *p = chunk, *end = chunk + r;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            too_long = take_segment(in, &line, p, (size_t)((nl ? nl : end) - p), too_long);
            if (!nl) break;
            if (line.len || too_long) push_line(in, &line, too_long);
            too_long = 0;
            p = nl + 1;
        }
    }
    if (line.len || too_long) push_line(in, &line, too_long); /* a last line without '\n' */
    hml_buf_free(&line);
    hml_free(chunk);
    pthread_mutex_lock(in->mu);
    in->eof = true;
    pthread_cond_signal(in->wake);
    pthread_mutex_unlock(in->mu);
    return NULL;
}
