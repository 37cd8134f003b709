/* SPDX-License-Identifier: MIT */
/*
 * usermm/usermm.h - the whole public interface of usermm.
 */
#ifndef USERMM_USERMM_H
#define USERMM_USERMM_H

#include "version.h"
#include "system.h"
#include "object.h"
#include "mm.h"
#include "access.h"
#include "stats.h"
#include "debug.h"
#include "mmu_notifier.h"
#include "host.h"

#endif
