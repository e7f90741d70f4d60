/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced's clocks, named so they cannot be confused:
 *
 *   steady_ms  the daemon's clock, in Unix-epoch milliseconds: the wall
 *              clock read once at start, advanced by CLOCK_BOOTTIME since
 *              (elapsed time, suspend included). It never steps: an NTP
 *              step, `date -s` or a VM restore changes neither a hold nor
 *              a tick's schedule. Every schedule, duration and rollout
 *              time (held, since, at) uses it. A restart re-reads the
 *              wall clock, so time spent down still counts towards a hold
 *              as before (across a reboot only the wall clock can tell).
 *   wall_ms    CLOCK_REALTIME: only for what is compared with other
 *              hosts' or tools' dates.
 *   mono_ms    CLOCK_MONOTONIC, for deadlines of timerfds on that clock.
 *
 * chronyd keeps the same split (its scheduler on a monotonic time, the
 * real time only for what it shows).
 */
#ifndef SLUICED_CLOCK_H
#define SLUICED_CLOCK_H

#include <linux/types.h>

__u64 steady_ms(void);
__u64 wall_ms(void);
__u64 mono_ms(void);

/* Tests: read the wall and boot clocks (ms) through these instead; NULL
 * restores the system's. The steady clock is anchored again. */
void clock_test_sources(__u64 (*wall)(void), __u64 (*boot)(void));

#endif /* SLUICED_CLOCK_H */
