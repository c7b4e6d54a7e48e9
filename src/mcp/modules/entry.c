/* entry.c — the one export of a hot-reload tool module (see harness/tool_module.h).
 * Built once per module by the Makefile with -DHML_MODULE_TOOL=hml_tool_<name>; never part
 * of the harness binary itself. */
#include "harness/tool_module.h"

#ifndef HML_MODULE_TOOL
#error "build with -DHML_MODULE_TOOL=hml_tool_<name> (the Makefile's modules target does)"
#endif

extern const struct hml_tool HML_MODULE_TOOL;
HML_TOOL_MODULE_EXPORT(HML_MODULE_TOOL);
