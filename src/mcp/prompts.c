/* prompts.c — the skills (skills/NAME.md) as MCP prompts, `harness skills`, and the
 * server's instructions.
 *
 * The skill files are embedded in the binary at build time (.incbin), so a server started
 * from anywhere has them; the Makefile makes prompts.o depend on the skill files.
 */
#include "mcp.h"

#include <stdio.h>
#include <string.h>

#include "harness/alloc.h"
#include "harness/fsx.h"
#include "cli/cli.h"

/* Paths are relative to the directory make runs the compiler in (the repository root). */
#define EMBED(sym, file)                                                                   \
    __asm__(".pushsection .rodata\n" #sym ":\n.incbin \"" file "\"\n.byte 0\n.popsection\n"); \
    extern const char sym[] __attribute__((visibility("hidden")))

EMBED(skill_run_experiment, "skills/run-experiment.md");
EMBED(skill_explore_space, "skills/explore-space.md");
EMBED(skill_domain_research, "skills/domain-research.md");

struct skill {
    const char *name;
    const char *text;     /* the whole file: front matter, then the body */
    const char *arg;      /* the prompt's one optional argument          */
    const char *arg_desc;
    const char *arg_label;
};

static const struct skill skills[] = {
    {"run-experiment", skill_run_experiment, "hypothesis",
     "the change you want to test and why you expect it to help", "The hypothesis to test"},
    {"explore-space", skill_explore_space, "goal", "what the project predicts and the metric that matters",
     "The goal of this project"},
    {"domain-research", skill_domain_research, "domain",
     "the domain and the outcome, e.g. 'NCAA tournament games, the winner'", "The domain to research"},
};
#define NSKILLS (sizeof skills / sizeof *skills)

const char mcp_instructions[] =
    "Harness runs rigorous tabular machine learning in a project directory: the one the "
    "server started in, or the project_dir argument of any call.\n"
    "Start: call `configure` with action=show. No project yet? `configure` action=init (task, "
    "target_column), then `data` action=add (data_path to a CSV), then `data` action=profile "
    "and action=status to look before you model.\n"
    "Every tool takes an `action` plus flat parameters; each tool's description lists its "
    "actions. Errors are results with isError: they say what is wrong and what to do "
    "(hint, did_you_mean, valid_values) - read them and retry. Answers are short markdown; "
    "structuredContent has the full numbers. Pass detail=full where offered for more.\n"
    "Method: write a hypothesis before each experiment, diagnose between attempts, log a "
    "conclusion after. The prompts run-experiment, explore-space and domain-research teach "
    "it. Resources harness://project/config, harness://project/experiment-log and "
    "harness://project/notebook-summary show where the project stands.";

/* ---- front matter ------------------------------------------------------------------------ */

/* The body after the "---" front matter. */
static const char *skill_body(const char *text)
{
    if (strncmp(text, "---\n", 4)) return text;
    const char *end = strstr(text + 4, "\n---\n");
    if (!end) return text;
    end += 5;
    while (*end == '\n') end++;
    return end;
}

/* A front-matter field ("description"), copied into out. */
static const char *skill_field(const char *text, const char *key, char *out, size_t cap)
{
    out[0] = 0;
    const char *body = skill_body(text);
    size_t klen = strlen(key);
    for (const char *p = text; p < body;) {
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        if (!strncmp(p, key, klen) && p[klen] == ':') {
            const char *v = p + klen + 1;
            while (*v == ' ') v++;
            snprintf(out, cap, "%.*s", (int)(nl - v), v);
            break;
        }
        p = nl + 1;
    }
    return out;
}

static const struct skill *skill_find(const char *name)
{
    for (size_t i = 0; i < NSKILLS; i++)
        if (name && !strcmp(skills[i].name, name)) return &skills[i];
    return NULL;
}

/* ---- prompts/list, prompts/get -------------------------------------------------------------- */

json_t *mcp_prompts_list(void)
{
    json_t *list = json_array();
    for (size_t i = 0; i < NSKILLS; i++) {
        char desc[1024];
        json_t *arg = json_pack("{s:s,s:s,s:b}", "name", skills[i].arg, "description", skills[i].arg_desc,
                                "required", 0);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:[o]}", "name", skills[i].name, "title",
                                              skills[i].name, "description",
                                              skill_field(skills[i].text, "description", desc, sizeof desc),
                                              "arguments", arg));
    }
    return json_pack("{s:o}", "prompts", list);
}

json_t *mcp_prompts_get(const json_t *params, struct mcp_fail *f)
{
    const char *name = hml_json_str(params, "name", NULL);
    const struct skill *sk = skill_find(name);
    if (!sk) {
        const char *names[NSKILLS];
        for (size_t i = 0; i < NSKILLS; i++) names[i] = skills[i].name;
        mcp_fail_choices(f, "prompt", name ? name : "", names, NSKILLS);
        return NULL;
    }
    const json_t *args = json_object_get(params, "arguments");
    const json_t *v = json_object_get(args, sk->arg);
    if ((args && !json_is_object(args) && !json_is_null(args)) || (v && !json_is_string(v) && !json_is_null(v))) {
        f->code = RPC_INVALID_PARAMS;
        snprintf(f->message, sizeof f->message, "prompt '%s' takes arguments {\"%s\": \"<text>\"} (a string)",
                 sk->name, sk->arg);
        return NULL;
    }
    struct hml_buf t = HML_BUF_INIT;
    hml_buf_puts(&t, skill_body(sk->text));
    const char *value = json_string_value(v);
    if (value && *value) hml_buf_printf(&t, "\n---\n\n%s: %s\n", sk->arg_label, value);
    char desc[1024];
    json_t *msg = json_pack("{s:s,s:{s:s,s:o}}", "role", "user", "content", "type", "text", "text",
                            mcp_json_text(hml_buf_str(&t)));
    hml_buf_free(&t);
    return json_pack("{s:s,s:[o]}", "description", skill_field(sk->text, "description", desc, sizeof desc),
                     "messages", msg);
}

/* ---- harness skills ------------------------------------------------------------------------------ */

static int skills_usage(void)
{
    fputs("usage: harness skills [list]            the skills and what they teach\n"
          "       harness skills show NAME         print one skill\n"
          "       harness skills install DIR       write DIR/<name>/SKILL.md for each skill\n"
          "                                        (Claude Code reads .claude/skills/ in a project,\n"
          "                                        or ~/.claude/skills/ for every project)\n",
          stderr);
    return 2;
}

static int skills_install(const char *dir)
{
    for (size_t i = 0; i < NSKILLS; i++) {
        struct hml_error err;
        char *sub = hml_path_join(dir, skills[i].name);
        char *path = sub ? hml_path_join(sub, "SKILL.md") : NULL;
        enum hml_status rc = path ? hml_mkdirs(sub, &err) : hml_fail(&err, HML_ENOMEM, "skills", "out of memory");
        if (!rc) rc = hml_write_atomic(path, skills[i].text, strlen(skills[i].text), &err);
        if (!rc) printf("installed %s → %s\n", skills[i].name, path); /* ok-stdout: the `harness skills` command, not the server */
        else fprintf(stderr, "harness skills: %s\n%s\n", err.message, err.hint);
        hml_free(path);
        hml_free(sub);
        if (rc) return 1;
    }
    return 0;
}

int hml_skills_main(const char *project_dir, int argc, char **argv)
{
    (void)project_dir;
    const char *cmd = argc > 1 ? argv[1] : "list";
    if (!strcmp(cmd, "list") && argc <= 2) {
        for (size_t i = 0; i < NSKILLS; i++) {
            char desc[1024];
            printf("%-16s %s\n", skills[i].name, skill_field(skills[i].text, "description", desc, sizeof desc)); /* ok-stdout */
        }
        return 0;
    }
    if (!strcmp(cmd, "show") && argc == 3) {
        const struct skill *sk = skill_find(argv[2]);
        if (!sk) {
            fprintf(stderr, "harness skills: unknown skill '%s' (valid: run-experiment, explore-space, "
                            "domain-research)\n", argv[2]);
            return 2;
        }
        fputs(sk->text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "install") && argc == 3) return skills_install(argv[2]);
    return skills_usage();
}
