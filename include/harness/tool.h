/* tool.h — the tool layer: a registry of tools and actions, their JSON Schemas,
 * one validator, and one dispatcher shared by every face (MCP, CLI, tests).
 *
 * A tool is a group ("data") with flat parameters and a list of actions ("add").
 * Each action names the parameters it accepts and those it requires; the
 * validator rejects anything else with the valid names and the nearest match, and
 * coerces what an agent or a shell plausibly meant ("5" for 5, "a,b" for [a, b],
 * a string holding JSON for an object). An action is a function
 * (call, result, err) → status that never knows which transport called it.
 */
#ifndef HML_TOOL_H
#define HML_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include "harness/buf.h"
#include "harness/err.h"
#include "harness/json.h"

enum hml_ptype {
    HML_P_STRING = 0,
    HML_P_INTEGER,
    HML_P_NUMBER,
    HML_P_BOOLEAN,
    HML_P_STRINGS, /* array of strings; "a,b" from a shell          */
    HML_P_OBJECT,  /* object; a string holding JSON is parsed        */
    HML_P_ARRAY,   /* array of anything; string holding JSON parsed  */
    HML_P_JSON,    /* object or array; string holding JSON parsed    */
    HML_P_ANY      /* any JSON value                                 */
};

struct hml_param {
    const char *name;
    enum hml_ptype type;
    const char *choices; /* "a|b|c" for string enums, else NULL */
    const char *desc;    /* one line */
};

#define HML_ACT_READONLY    0x1u /* changes nothing                           */
#define HML_ACT_NO_PROJECT  0x2u /* may run where no project exists yet       */
#define HML_ACT_LONG        0x4u /* reports progress, honours cancel          */
#define HML_ACT_DESTRUCTIVE 0x8u /* removes or overwrites user data           */

struct hml_call;
struct hml_result;
typedef enum hml_status (*hml_action_fn)(struct hml_call *call, struct hml_result *res,
                                         struct hml_error *err);

struct hml_action {
    const char *name;
    hml_action_fn fn;
    const char *params;   /* space-separated names accepted (action, project_dir implied) */
    const char *required; /* space-separated required names, or NULL */
    const char *summary;  /* one line */
    unsigned flags;
};

struct hml_tool {
    const char *name;
    const char *title;
    const char *description;          /* names the actions; ≤ ~1,500 chars          */
    const struct hml_param *params;   /* terminated by {0}                          */
    const struct hml_action *actions; /* terminated by {0}                          */
};

typedef void (*hml_progress_fn)(void *ud, double done, double total, const char *message);

struct hml_call {
    const struct hml_tool *tool;
    const struct hml_action *action;
    const char *project_dir;  /* absolute when it exists                    */
    json_t *params;           /* validated and coerced; borrowed            */
    hml_progress_fn progress; /* may be NULL                                */
    void *progress_ud;
    const volatile int *cancel; /* non-zero = stop promptly; may be NULL    */
};

/* What an action fills. `data` is the structured payload (the dispatcher adds
 * "ok" and "action"); `text` is markdown for an agent; `warnings` are short
 * sentences appended to the text and listed under structured "warnings". */
struct hml_result {
    json_t *data;
    struct hml_buf text;
    json_t *warnings;
};
void hml_result_warn(struct hml_result *res, const char *fmt, ...) HML_PRINTF(2, 3);

/* Parameter access for actions (after validation, types are already right). */
const char *hml_param_str(const struct hml_call *c, const char *name, const char *dflt);
long long hml_param_int(const struct hml_call *c, const char *name, long long dflt);
double hml_param_num(const struct hml_call *c, const char *name, double dflt);
bool hml_param_bool(const struct hml_call *c, const char *name, bool dflt);
json_t *hml_param_json(const struct hml_call *c, const char *name); /* borrowed or NULL */
bool hml_param_has(const struct hml_call *c, const char *name);
void hml_progress(const struct hml_call *c, double done, double total, const char *fmt, ...)
    HML_PRINTF(4, 5);
/* Has the caller asked the call to stop? Long actions check this at each safe point
 * (between columns, folds, rounds) and, when true, return hml_fail_cancelled() before
 * committing anything, so a cancelled call leaves no partial state. */
bool hml_cancelled(const struct hml_call *c);
enum hml_status hml_fail_cancelled(struct hml_error *err, const char *where);

/* ---- registry ---------------------------------------------------------------- */

/* Registers a tool (its tables must outlive the registry). A second tool with the
 * same name is refused. Built-in tools are registered on first use. */
enum hml_status hml_tools_register(const struct hml_tool *tool, struct hml_error *err);
size_t hml_tools_count(void);
const struct hml_tool *hml_tools_at(size_t i);
/* Hot reload (src/mcp/reload.c): puts `tool` in the place of the registered tool of the
 * same name, or adds it, and sets *replaced to the tool it displaced (NULL when added).
 * `tool` must outlive its registration. Call only while no tool call is running. */
enum hml_status hml_tools_replace(const struct hml_tool *tool, const struct hml_tool **replaced,
                                  struct hml_error *err);
/* Unregisters the named tool; false when there is none. Same rule as hml_tools_replace. */
bool hml_tools_remove(const char *name);
const struct hml_tool *hml_tool_find(const char *name);
const struct hml_action *hml_action_find(const struct hml_tool *t, const char *name);
const struct hml_param *hml_param_find(const struct hml_tool *t, const char *name);
/* Does `action` accept parameter `name`? */
bool hml_action_accepts(const struct hml_action *a, const char *name);

/* JSON Schema 2020-12 for the tool's arguments (action enum + every parameter). */
json_t *hml_tool_input_schema(const struct hml_tool *t);
json_t *hml_tool_output_schema(const struct hml_tool *t);
/* Help text built from the tables: all tools, one tool, or one action. */
void hml_tools_help(struct hml_buf *out);
void hml_tool_help(const struct hml_tool *t, const struct hml_action *a, struct hml_buf *out);

/* ---- dispatch ------------------------------------------------------------------ */

struct hml_call_opts {
    const char *default_project_dir; /* NULL = current directory */
    hml_progress_fn progress;
    void *progress_ud;
    const volatile int *cancel;
};

struct hml_reply {
    bool is_error;
    bool usage_error;   /* rejected by the validator before the action ran */
    char *text;         /* markdown; hml_free                               */
    json_t *structured; /* {"ok": …, "action": …, …}; owned                */
};
void hml_reply_fini(struct hml_reply *r);

/* Validates args (an object with "action") against the tool and runs the action.
 * Returns HML_ENOTFOUND only when the tool itself is unknown (a protocol error for
 * MCP); every other failure is a reply with is_error set. */
enum hml_status hml_tool_call(const char *tool, json_t *args, const struct hml_call_opts *opts,
                              struct hml_reply *out, struct hml_error *err);

#endif
