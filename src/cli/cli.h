/* cli.h — the non-tool faces of the binary (mcp, studio, demo) register here. */
#ifndef HML_CLI_H
#define HML_CLI_H

#define HML_VERSION "0.1.0"

struct hml_face {
    const char *name;
    const char *summary;
    int (*main)(const char *project_dir, int argc, char **argv);
};

/* NULL when `name` is not a face (then it is a tool name). */
const struct hml_face *hml_cli_face_find(const char *name);

/* The faces (each in its own directory). */
int hml_mcp_main(const char *project_dir, int argc, char **argv);    /* src/mcp/main.c    */
int hml_skills_main(const char *project_dir, int argc, char **argv); /* src/mcp/prompts.c */

#endif
