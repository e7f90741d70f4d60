// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluiced's clocks (see clock.h). */
#include <time.h>
#include "clock.h"

static __u64 read_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static __u64 sys_wall(void) { return read_ms(CLOCK_REALTIME); }
static __u64 sys_boot(void) { return read_ms(CLOCK_BOOTTIME); }

static __u64 (*wall_src)(void) = sys_wall;
static __u64 (*boot_src)(void) = sys_boot;
static __u64 anchor_wall, anchor_boot;

/* at program start, before any thread: the HTTP thread reads it too */
__attribute__((constructor)) static void anchor(void)
{
	anchor_boot = boot_src();
	anchor_wall = wall_src();
}

__u64 wall_ms(void)
{
	return wall_src();
}

__u64 mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

__u64 steady_ms(void)
{
	return anchor_wall + (boot_src() - anchor_boot);
}

void clock_test_sources(__u64 (*wall)(void), __u64 (*boot)(void))
{
	wall_src = wall ? wall : sys_wall;
	boot_src = boot ? boot : sys_boot;
	anchor();
}
