/* SPDX-License-Identifier: MIT */
/* bench_runner.h - `usermm bench`: runs the benchmarks, tables and JSON. */
#ifndef USERMM_TOOL_BENCH_RUNNER_H
#define USERMM_TOOL_BENCH_RUNNER_H

int bench_main(int argc, char **argv);

#endif
