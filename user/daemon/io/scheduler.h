/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced's one scheduler, in the manner of chrony's sched.h
 * (SCH_AddFileHandler, SCH_AddTimeout): modules register file handlers
 * and timers here instead of running epoll sets of their own, so the
 * daemon waits in exactly one epoll_wait. Timers are on the monotonic
 * clock (clock.h mono_ms); nothing here reads the wall clock.
 *
 * File handlers: one per fd (sched_fd_set adds or changes the events and
 * the callback, sched_fd_del removes it; call that before close). A
 * handler removed while events of its batch are pending hears nothing
 * more, also if its fd number is reused at once.
 *
 * Timers live in the caller's struct (struct sched_timer, zeroed):
 * sched_timer_arm sets or moves its expiry, sched_timer_stop disarms it.
 * Due timers run after the batch of file events, earliest first; a timer
 * armed for "now" from a file handler runs in the same sched_dispatch
 * (a module's "after the batch" step).
 *
 * The set is an epoll fd with one timerfd in it (armed for the earliest
 * timer): sched_fd() is readable whenever something is due, so a
 * scheduler can itself be polled by an outer loop (the unit tests drive
 * httpc, cmdrun and the health checker, each on a private scheduler,
 * that way). Single threaded: callbacks run from sched_dispatch only.
 */
#ifndef SLUICED_SCHEDULER_H
#define SLUICED_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

struct sched;

/* events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP as epoll reports them */
typedef void (*sched_fd_cb)(void *arg, int fd, uint32_t events);
typedef void (*sched_timer_cb)(void *arg);

struct sched_timer {
	sched_timer_cb cb;
	void *arg;
	uint64_t at_ms;			/* mono_ms expiry */
	bool armed;
	struct sched_timer *next;	/* the scheduler's sorted list */
};

struct sched *sched_new(void);
void sched_free(struct sched *s);	/* handlers and timers are dropped */
int sched_fd(const struct sched *s);

/* Watch fd for events (EPOLLIN, EPOLLOUT); a second call for the same
 * fd changes the events, callback and arg. Returns 0 or -errno. */
int sched_fd_set(struct sched *s, int fd, uint32_t events, sched_fd_cb cb,
		 void *arg);
void sched_fd_del(struct sched *s, int fd);

void sched_timer_init(struct sched_timer *t, sched_timer_cb cb, void *arg);
void sched_timer_arm(struct sched *s, struct sched_timer *t, uint64_t at_ms);
void sched_timer_stop(struct sched *s, struct sched_timer *t);
/* The earliest armed timer's expiry (0: none). */
uint64_t sched_next_ms(const struct sched *s);

/*
 * Wait at most wait_ms (-1: until something happens; 0: not at all) for
 * file events, run their handlers, then every timer that is due.
 * Returns the number of callbacks run, or -errno (EINTR is not an error).
 */
int sched_dispatch(struct sched *s, int wait_ms);

#endif
