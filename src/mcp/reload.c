/* reload.c — hot reload of tool modules (`harness mcp --hot-reload`; STYLE.md §4).
 *
 * The protocol, step by step:
 *  1. The server polls the module directory between requests only (server.c calls us
 *     when the worker is idle), comparing each <tool>.so's (device, inode, size, mtime)
 *     with what it saw last. The build writes <tool>.so.tmp and renames it into place,
 *     so a changed tuple means a complete new file; a broken file is remembered by its
 *     tuple and not retried until it changes again.
 *  2. The file is copied to a private, versioned path (<run>/<tool>.<gen>.so): glibc hands
 *     back the already-loaded object for a path it has open, so reopening in place would
 *     give the old code.
 *  3. dlopen(RTLD_NOW | RTLD_LOCAL): an unresolved symbol fails here, not mid-call.
 *  4. The one symbol, the ABI number and the struct sizes are checked, then the tool's
 *     tables (names, every action parameter declared, lengths within limits).
 *  5. The tables are copied into server memory and swapped into the registry; only then is
 *     the previous generation unloaded. Any failure keeps whatever was active before, and
 *     the reason goes to stderr and to the next tool result.
 */
#include "mcp.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "harness/log.h"
#include "harness/tool_module.h"

#define MODULES_MAX   32
#define NAME_MAX_LEN  63
#define TEXT_MAX      2048 /* a description, like every tools/list description, ≤ 2 KB */
#define TABLE_MAX     128  /* params or actions per tool */

/* ASan reports code from a dlclose'd object as "<unknown module>"; in sanitizer builds old
 * generations stay mapped (a development-only leak of code pages). */
#if defined(__SANITIZE_ADDRESS__)
#define KEEP_OLD_GENERATIONS 1
#else
#define KEEP_OLD_GENERATIONS 0
#endif

struct module {
    char name[NAME_MAX_LEN + 1];
    struct stat seen;                /* the file as last looked at                  */
    bool present;                    /* found in this poll                          */
    void *handle;                    /* the loaded generation, or NULL              */
    char copy_path[PATH_MAX];        /* its private copy                            */
    struct hml_tool *tool;           /* server-owned copy of its tables, registered */
    const struct hml_tool *displaced;/* the built-in it replaced (restored on removal) */
    unsigned gen;
};

struct mcp_reload {
    char *dir;
    char run_dir[PATH_MAX];
    struct module mods[MODULES_MAX];
    size_t n;
    unsigned gen;
};

char *mcp_reload_default_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = 0;
    return hml_path_join(exe, "modules");
}

/* ---- checks and copies of a module's tables ---------------------------------------------------- */

static bool valid_name(const char *s)
{
    size_t n = s ? strnlen(s, NAME_MAX_LEN + 1) : 0;
    if (n == 0 || n > NAME_MAX_LEN) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return false;
    return true;
}

static bool text_ok(const char *s, bool required)
{
    if (!s) return !required;
    return strnlen(s, TEXT_MAX + 1) <= TEXT_MAX;
}

/* The first word of the space-separated `list` that is not a parameter of t, or NULL. */
static const char *undeclared(const struct hml_tool *t, const char *list, char *word, size_t cap)
{
    for (const char *s = list; s && *s;) {
        while (*s == ' ') s++;
        size_t n = strcspn(s, " ");
        if (!n) break;
        snprintf(word, cap, "%.*s", (int)n, s);
        if (!hml_param_find(t, word)) return word;
        s += n;
    }
    return NULL;
}

static bool check_tables(const struct hml_tool *t, char *why, size_t cap)
{
    if (!valid_name(t->name)) return snprintf(why, cap, "its tool name is not [a-z0-9_]{1,63}"), false;
    if (!text_ok(t->title, false) || !text_ok(t->description, true) || !t->actions)
        return snprintf(why, cap, "tool '%s' lacks a description or actions, or one is over %d bytes",
                        t->name, TEXT_MAX), false;
    size_t np = 0, na = 0;
    for (const struct hml_param *p = t->params; p && p->name; p++, np++)
        if (np >= TABLE_MAX || !valid_name(p->name) || !text_ok(p->desc, false) || !text_ok(p->choices, false))
            return snprintf(why, cap, "parameter %zu of '%s' is malformed", np, t->name), false;
    for (const struct hml_action *a = t->actions; a->name; a++, na++) {
        if (na >= TABLE_MAX || !valid_name(a->name) || !a->fn || !text_ok(a->params, false) ||
            !text_ok(a->required, false) || !text_ok(a->summary, false))
            return snprintf(why, cap, "action %zu of '%s' is malformed", na, t->name), false;
        char word[64];
        const char *w = undeclared(t, a->params, word, sizeof word);
        if (!w) w = undeclared(t, a->required, word, sizeof word);
        if (w) return snprintf(why, cap, "action '%s' names parameter '%s', which the tool does not declare",
                               a->name, w), false;
    }
    if (na == 0) return snprintf(why, cap, "tool '%s' has no actions", t->name), false;
    return true;
}

/* Bump allocation inside the one block a copy lives in. */
struct block {
    char *p;
    size_t used, cap;
};

static const char *dup_into(struct block *b, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    HML_ASSERT(b->used + n <= b->cap);
    char *d = b->p + b->used;
    memcpy(d, s, n);
    b->used += n;
    return d;
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* One allocation holding the tool, its tables and every string they point to. */
static struct hml_tool *copy_tool(const struct hml_tool *t)
{
    size_t np = 0, na = 0, strings = str_size(t->name) + str_size(t->title) + str_size(t->description);
    for (const struct hml_param *p = t->params; p && p->name; p++, np++)
        strings += str_size(p->name) + str_size(p->choices) + str_size(p->desc);
    for (const struct hml_action *a = t->actions; a->name; a++, na++)
        strings += str_size(a->name) + str_size(a->params) + str_size(a->required) + str_size(a->summary);
    size_t head = sizeof(struct hml_tool) + (np + 1) * sizeof(struct hml_param) + (na + 1) * sizeof(struct hml_action);
    struct block b = {hml_calloc(1, head + strings), head, head + strings};
    if (!b.p) return NULL;
    struct hml_tool *c = (struct hml_tool *)b.p;
    struct hml_param *params = (struct hml_param *)(c + 1);
    struct hml_action *actions = (struct hml_action *)(params + np + 1);
    for (size_t i = 0; i < np; i++) {
        const struct hml_param *p = &t->params[i];
        params[i] = (struct hml_param){dup_into(&b, p->name), p->type, dup_into(&b, p->choices), dup_into(&b, p->desc)};
    }
    for (size_t i = 0; i < na; i++) {
        const struct hml_action *a = &t->actions[i];
        actions[i] = (struct hml_action){dup_into(&b, a->name), a->fn, dup_into(&b, a->params),
                                         dup_into(&b, a->required), dup_into(&b, a->summary), a->flags};
    }
    *c = (struct hml_tool){dup_into(&b, t->name), dup_into(&b, t->title), dup_into(&b, t->description),
                           params, actions};
    return c;
}

/* ---- loading one generation ----------------------------------------------------------------------- */

static bool check_abi(const struct hml_tool_module *m, char *why, size_t cap)
{
    static const unsigned short want[] = HML_TOOL_ABI_SIZES;
    static const char *const names[] = HML_TOOL_ABI_NAMES;
    if (m->abi != HML_TOOL_ABI)
        return snprintf(why, cap, "it was built for tool ABI %u, this server speaks %u; rebuild it from "
                        "this tree (make modules) or restart the server", m->abi, HML_TOOL_ABI), false;
    for (size_t i = 0; i < HML_TOOL_ABI_NSIZES; i++)
        if (m->sizes[i] != want[i])
            return snprintf(why, cap, "struct %s is %u bytes in it and %u in this server; rebuild it from the "
                            "same headers", names[i], m->sizes[i], want[i]), false;
    return true;
}

static void unload_generation(struct mcp_reload *r, void *handle, const char *copy_path)
{
    (void)r;
    if (handle && !KEEP_OLD_GENERATIONS) dlclose(handle);
    if (copy_path[0] && !KEEP_OLD_GENERATIONS) unlink(copy_path);
}

/* Loads the file into a new generation: on success *out_tool is the registered-ready copy. */
static bool load_generation(struct mcp_reload *r, struct module *m, const char *file, void **out_handle,
                            char *copy_path, struct hml_tool **out_tool, char *why, size_t cap)
{
    unsigned gen = ++r->gen;
    snprintf(copy_path, PATH_MAX, "%s/%s.%u.so", r->run_dir, m->name, gen);
    struct hml_error err;
    if (hml_copy_file(file, copy_path, &err)) {
        copy_path[0] = 0;
        return snprintf(why, cap, "cannot copy it: %s", err.message), false;
    }
    void *h = dlopen(copy_path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, cap, "the loader refused it: %s", e ? e : "unknown error");
        unload_generation(r, NULL, copy_path);
        return false;
    }
    const struct hml_tool_module *mod = dlsym(h, HML_TOOL_MODULE_SYMBOL);
    bool ok = false;
    if (h == m->handle) snprintf(why, cap, "the loader returned the generation already loaded");
    else if (!mod) snprintf(why, cap, "it does not export '%s' (build it with src/mcp/modules/entry.c)", HML_TOOL_MODULE_SYMBOL);
    else if (check_abi(mod, why, cap) && mod->tool && check_tables(mod->tool, why, cap)) {
        if (strcmp(mod->tool->name, m->name))
            snprintf(why, cap, "it holds tool '%s'; the file must be named %s.so", mod->tool->name, mod->tool->name);
        else if (!(*out_tool = copy_tool(mod->tool))) snprintf(why, cap, "out of memory copying its tables");
        else ok = true;
    } else if (mod && !mod->tool) {
        snprintf(why, cap, "its %s has no tool", HML_TOOL_MODULE_SYMBOL);
    }
    if (!ok) {
        if (h != m->handle) unload_generation(r, h, copy_path);
        return false;
    }
    m->gen = gen;
    *out_handle = h;
    return true;
}

static void note_add(char **note, const char *line)
{
    struct hml_buf b = HML_BUF_INIT;
    if (*note) hml_buf_printf(&b, "%s\n", *note);
    hml_buf_puts(&b, line);
    hml_free(*note);
    *note = hml_buf_detach(&b);
}

/* Tries the file now at `file` (stat st); returns true when the registry changed. */
static bool try_load(struct mcp_reload *r, struct module *m, const char *file, const struct stat *st, char **note)
{
    m->seen = *st;
    char why[768] = "";
    void *h = NULL;
    char copy_path[PATH_MAX] = "";
    struct hml_tool *tool = NULL;
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        snprintf(why, sizeof why, "it is group- or world-writable; refusing to load it (chmod go-w)");
    else if (load_generation(r, m, file, &h, copy_path, &tool, why, sizeof why)) {
        const struct hml_tool *prev = NULL;
        struct hml_error err;
        if (hml_tools_replace(tool, &prev, &err) == HML_OK) {
            if (m->tool) {
                HML_ASSERT(prev == m->tool);
                unload_generation(r, m->handle, m->copy_path);
                hml_free(m->tool);
            } else {
                m->displaced = prev;
            }
            m->handle = h;
            m->tool = tool;
            snprintf(m->copy_path, sizeof m->copy_path, "%s", copy_path);
            hml_log_info("mcp: hot reload: loaded %s.so (generation %u)", m->name, m->gen);
            return true;
        }
        snprintf(why, sizeof why, "%s", err.message);
        hml_free(tool);
        unload_generation(r, h, copy_path);
    }
    char line[1024];
    snprintf(line, sizeof line, "module %s.so was not loaded: %s; %s", m->name, why,
             m->tool ? "the previous version stays active" : hml_tool_find(m->name) ? "the built-in version stays active"
                                                                                     : "the tool stays unavailable");
    hml_log_warn("mcp: hot reload: %s", line);
    note_add(note, line);
    return false;
}

/* The module file is gone: back to the built-in (or no tool). */
static bool unload_module(struct mcp_reload *r, struct module *m)
{
    if (!m->tool) return false;
    const struct hml_tool *prev = NULL;
    struct hml_error err;
    if (m->displaced) hml_tools_replace(m->displaced, &prev, &err);
    else hml_tools_remove(m->name);
    unload_generation(r, m->handle, m->copy_path);
    hml_free(m->tool);
    hml_log_info("mcp: hot reload: %s.so removed; %s", m->name, m->displaced ? "built-in restored" : "tool removed");
    m->tool = NULL;
    m->handle = NULL;
    m->displaced = NULL;
    m->copy_path[0] = 0;
    return true;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static struct module *module_slot(struct mcp_reload *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->mods[i].name, name)) return &r->mods[i];
    if (r->n == MODULES_MAX) return NULL;
    struct module *m = &r->mods[r->n++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    return m;
}

/* "data.so" → "data"; false for anything that is not a module file. */
static bool module_name(const char *file, char *name, size_t cap)
{
    size_t n = strlen(file);
    if (n < 4 || n - 3 >= cap || file[0] == '.' || strcmp(file + n - 3, ".so")) return false;
    memcpy(name, file, n - 3);
    name[n - 3] = 0;
    return valid_name(name);
}

bool mcp_reload_poll(struct mcp_reload *r, char **note)
{
    if (!r) return false;
    bool changed = false;
    for (size_t i = 0; i < r->n; i++) r->mods[i].present = false;
    DIR *d = opendir(r->dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char name[NAME_MAX_LEN + 1];
        if (!module_name(e->d_name, name, sizeof name)) continue;
        char *file = hml_path_join(r->dir, e->d_name);
        struct stat st;
        struct module *m = file && stat(file, &st) == 0 && S_ISREG(st.st_mode) ? module_slot(r, name) : NULL;
        if (m) {
            m->present = true;
            if (!same_file(&st, &m->seen)) changed |= try_load(r, m, file, &st, note);
        }
        hml_free(file);
    }
    if (d) closedir(d);
    for (size_t i = 0; i < r->n; i++)
        if (!r->mods[i].present) {
            changed |= unload_module(r, &r->mods[i]);
            memset(&r->mods[i].seen, 0, sizeof r->mods[i].seen);
        }
    return changed;
}

struct mcp_reload *mcp_reload_new(const char *dir)
{
    struct mcp_reload *r = hml_calloc(1, sizeof *r);
    if (!r || !(r->dir = hml_strdup(dir))) {
        hml_free(r);
        hml_log_error("mcp: hot reload off: out of memory");
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(r->run_dir, sizeof r->run_dir, "%s/harness-mcp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->run_dir)) {
        hml_log_error("mcp: hot reload off: cannot create '%s': %s", r->run_dir, strerror(errno));
        hml_free(r->dir);
        hml_free(r);
        return NULL;
    }
    if (!hml_is_dir(dir))
        hml_log_warn("mcp: hot reload: '%s' does not exist yet; built-in tools serve until modules appear "
                     "there (make modules)", dir);
    hml_log_info("mcp: hot reload: watching '%s'", dir);
    return r;
}

void mcp_reload_free(struct mcp_reload *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) unload_module(r, &r->mods[i]);
    DIR *d = opendir(r->run_dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char *p = hml_path_join(r->run_dir, e->d_name);
        if (p) unlink(p);
        hml_free(p);
    }
    if (d) closedir(d);
    rmdir(r->run_dir);
    hml_free(r->dir);
    hml_free(r);
}
