/* mcp.h — internals of `harness mcp`, shared by the files of src/mcp.
 *
 *   rpc.c        the wire: line framing on a reader thread, the one stdout writer,
 *                UTF-8 checks, id recovery from broken messages
 *   server.c     JSON-RPC dispatch on the main thread, tool calls on a worker thread,
 *                progress, cancellation, the event log
 *   reload.c     hot reload of tool modules (--hot-reload)
 *   prompts.c    the skills (skills/NAME.md, embedded) as prompts; `harness skills`
 *   resources.c  project artifacts as resources
 *   main.c       the face: options, fd guard, start and stop
 *
 * Threads: the reader only frames bytes into lines; the main thread parses and answers
 * everything except tools/call, which it queues for the worker; both write through the
 * mutex-guarded writer. Hot reload swaps modules on the main thread only while the worker
 * is idle and its queue is empty, so no call is ever inside a module being replaced.
 */
#ifndef HML_MCP_H
#define HML_MCP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness/buf.h"
#include "harness/events.h"
#include "harness/json.h"
#include "harness/tool.h"

#define MCP_LINE_MAX_DEFAULT ((size_t)16 << 20) /* --max-line-bytes            */
#define MCP_INBOX_BYTES_MAX  ((size_t)64 << 20) /* reader waits beyond this      */
#define MCP_JOBS_MAX         256                /* queued tool calls             */
#define MCP_RECENT_IDS       1024               /* ids remembered for duplicates */
#define MCP_ID_SCAN_MAX      4096               /* bytes searched to recover an id */

#define RPC_PARSE_ERROR      (-32700)
#define RPC_INVALID_REQUEST  (-32600)
#define RPC_METHOD_NOT_FOUND (-32601)
#define RPC_INVALID_PARAMS   (-32602)
#define RPC_INTERNAL_ERROR   (-32603)
#define RPC_SERVER_BUSY      (-32000)

#define MCP_PROTOCOL_LATEST "2025-11-25"

/* ---- the wire (rpc.c) ---------------------------------------------------------------- */

/* One line read from stdin. When the line exceeded the limit, `too_long` is its full
 * length and `p` holds only its first MCP_ID_SCAN_MAX bytes (to recover the id). */
struct mcp_line {
    struct mcp_line *next;
    char *p;
    size_t n;
    size_t too_long;
};

struct mcp_inbox {
    pthread_mutex_t *mu;      /* the server's                          */
    pthread_cond_t *wake;     /* signalled when a line or EOF arrives   */
    pthread_cond_t space;     /* signalled when the main thread takes   */
    struct mcp_line *head, *tail;
    size_t bytes;
    bool eof;
    bool closing;             /* main is gone: drop whatever arrives    */
    int fd;
    size_t line_max;
};

/* The reader thread: frames fd into lines until EOF. */
void *mcp_reader_main(void *inbox);
void mcp_line_free(struct mcp_line *l);

/* The writer: all protocol output goes through here, one message per line. */
void mcp_out_init(int fd);
bool mcp_out_broken(void);
void mcp_send(json_t *msg);                                     /* steals msg    */
void mcp_send_result(const json_t *id, json_t *result);         /* steals result */
void mcp_send_result_raw(const json_t *id, const char *result); /* result: JSON  */
void mcp_send_error(const json_t *id, int code, const char *message, json_t *data); /* steals data */
void mcp_notify(const char *method, json_t *params);            /* steals params */

/* Is s[0..n) valid UTF-8? On false, *bad_at is the offset of the first bad byte. */
bool mcp_utf8_valid(const char *s, size_t n, size_t *bad_at);
/* A JSON string of s with each invalid UTF-8 byte replaced by U+FFFD. */
json_t *mcp_json_text(const char *s);
/* The top-level "id" of a message that failed to parse, when its first bytes show one
 * (a string or an integer); NULL otherwise. New reference. */
json_t *mcp_scan_id(const char *s, size_t n);

/* ---- hot reload (reload.c) ------------------------------------------------------------- */

struct mcp_reload;
/* Watches `dir` for <tool>.so modules; the first mcp_reload_poll loads those present. */
struct mcp_reload *mcp_reload_new(const char *dir);
/* Loads modules that changed since the last look. Returns true when the registered tools
 * changed. Each failure is logged and appended to *note (caller frees) as one line. */
bool mcp_reload_poll(struct mcp_reload *r, char **note);
/* Puts the built-in tools back and unloads every module. */
void mcp_reload_free(struct mcp_reload *r);
/* The default module directory: modules/ beside the running binary. Caller frees. */
char *mcp_reload_default_dir(void);

/* ---- prompts and resources (prompts.c, resources.c) -------------------------------------- */

/* Each handler returns a result (new reference) or NULL after filling *code and msg (and
 * *data, stolen by the caller) for a JSON-RPC error. */
struct mcp_fail {
    int code;
    char message[512];
    json_t *data;
};

json_t *mcp_prompts_list(void);
json_t *mcp_prompts_get(const json_t *params, struct mcp_fail *f);
json_t *mcp_resources_list(const char *project_dir);
json_t *mcp_resource_templates_list(void);
json_t *mcp_resources_read(const char *project_dir, const json_t *params, struct mcp_fail *f);

/* Sets f to an invalid-params error naming `given` and the nearest of `names`. */
void mcp_fail_choices(struct mcp_fail *f, const char *what, const char *given, const char *const *names,
                      size_t n);

/* ---- the server (server.c) --------------------------------------------------------------- */

struct mcp_options {
    const char *project_dir; /* NULL: the current directory   */
    size_t line_max;
    bool hot_reload;
    const char *module_dir;  /* NULL: mcp_reload_default_dir() */
};

/* Serves in_fd → out_fd until EOF on in_fd; returns the exit status. */
int mcp_serve(const struct mcp_options *opt, int in_fd, int out_fd);

/* The `instructions` sent at initialize. */
extern const char mcp_instructions[];

#endif
