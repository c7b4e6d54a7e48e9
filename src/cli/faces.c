/* faces.c — the table of non-tool commands. Later faces (mcp, studio, demo) add a row. */
#include <string.h>

#include "cli.h"

static const struct hml_face faces[] = {
    {"mcp", "serve the tools to an agent over MCP (stdio)", hml_mcp_main},
    {"skills", "list the skills, or install them where an agent's client finds them", hml_skills_main},
    {0},
};

const struct hml_face *hml_cli_face_find(const char *name)
{
    for (const struct hml_face *f = faces; f->name; f++)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}
