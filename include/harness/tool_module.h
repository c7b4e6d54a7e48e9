/* tool_module.h — the contract between `harness mcp --hot-reload` and a tool module.
 *
 * A module is one tool built as a shared object: the tool's sources (src/tools/t_<name>.c
 * and t_<name>_*.c) plus src/mcp/modules/entry.c, compiled -fPIC -fvisibility=hidden, so
 * that the module's own functions bind to themselves and exactly one symbol is exported:
 * `hml_tool_module`. Core functions (frames, config, the tool layer's helpers) are not in
 * the module: the `harness` binary is linked with -rdynamic and the dynamic loader resolves
 * them from it. That is why a module and the server must be built from the same headers;
 * the ABI number and the struct sizes below catch the usual drift and the server refuses a
 * module that differs. Release builds link the same tool sources statically and load no
 * module at all.
 *
 * The server copies the tool's names, descriptions and tables into its own memory when it
 * loads a module, so nothing it keeps points into a module it may unload; only the action
 * functions are called in place, and only while that module is the loaded one.
 * NOTE: bump HML_TOOL_ABI when struct hml_tool, hml_action, hml_param, hml_call,
 * hml_result or hml_error change meaning without changing size.
 */
#ifndef HML_TOOL_MODULE_H
#define HML_TOOL_MODULE_H

#include "harness/tool.h"

#define HML_TOOL_ABI 1
#define HML_TOOL_MODULE_SYMBOL "hml_tool_module"
#define HML_TOOL_ABI_NSIZES 6

struct hml_tool_module {
    unsigned abi;                                /* HML_TOOL_ABI when built       */
    unsigned short sizes[HML_TOOL_ABI_NSIZES];   /* HML_TOOL_ABI_SIZES when built */
    const struct hml_tool *tool;
};

#define HML_TOOL_ABI_SIZES                                                                   \
    {sizeof(struct hml_tool), sizeof(struct hml_action), sizeof(struct hml_param),           \
     sizeof(struct hml_call), sizeof(struct hml_result), sizeof(struct hml_error)}

/* Names of the structs whose sizes are checked, in the order of `sizes`. */
#define HML_TOOL_ABI_NAMES {"hml_tool", "hml_action", "hml_param", "hml_call", "hml_result", "hml_error"}

/* Defines the one exported symbol of a module for the tool `t`. */
#define HML_TOOL_MODULE_EXPORT(t)                                                             \
    __attribute__((visibility("default"))) extern const struct hml_tool_module hml_tool_module; \
    const struct hml_tool_module hml_tool_module = {HML_TOOL_ABI, HML_TOOL_ABI_SIZES, &(t)}

#endif
