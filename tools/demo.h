/* SPDX-License-Identifier: MIT */
/* demo.h - `usermm demo`: the built-in scenario. */
#ifndef USERMM_TOOL_DEMO_H
#define USERMM_TOOL_DEMO_H

int demo_main(int argc, char **argv);

#endif
