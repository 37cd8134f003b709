/* SPDX-License-Identifier: MIT */
/* script.h - `usermm run`: the scenario language (docs/SCRIPTS.md). */
#ifndef USERMM_TOOL_SCRIPT_H
#define USERMM_TOOL_SCRIPT_H

int run_script(const char *path);

#endif
