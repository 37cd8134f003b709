/* SPDX-License-Identifier: MIT */
/* replay.h - `usermm replay`: memory-access traces through usermm. */
#ifndef USERMM_TOOL_REPLAY_H
#define USERMM_TOOL_REPLAY_H

int replay_main(int argc, char **argv);

#endif
