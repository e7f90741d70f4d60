// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The scheduler (scheduler.h): an epoll set, handlers indexed by fd, a sorted
 * list of timers and one timerfd armed for the earliest of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include "clock.h"
#include "scheduler.h"

#define TFD_TAG		UINT64_MAX
#define MAX_TIMER_RUNS	4096	/* per dispatch: a timer re-armed for "now"
				 * by its own callback waits for the next */

struct handler {
	sched_fd_cb cb;
	void *arg;
	uint32_t gen;		/* 0: free */
};

struct sched {
	int ep, tfd;
	struct handler *h;
	unsigned int nh;
	uint32_t gen;
	struct sched_timer *timers;	/* sorted by at_ms */
	uint64_t tfd_ms;		/* the timerfd's expiry (0: disarmed) */
};

struct sched *sched_new(void)
{
	struct sched *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TFD_TAG };
	int err;

	if (!s)
		return NULL;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->ep < 0 || s->tfd < 0 || epoll_ctl(s->ep, EPOLL_CTL_ADD, s->tfd, &ev) < 0) {
		err = errno;
		sched_free(s);
		errno = err;
		return NULL;
	}
	return s;
}

void sched_free(struct sched *s)
{
	struct sched_timer *t;

	if (!s)
		return;
	while ((t = s->timers)) {
		s->timers = t->next;
		t->armed = false;
		t->next = NULL;
	}
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->ep >= 0)
		close(s->ep);
	free(s->h);
	free(s);
}

int sched_fd(const struct sched *s)
{
	return s->ep;
}

int sched_fd_set(struct sched *s, int fd, uint32_t events, sched_fd_cb cb,
		 void *arg)
{
	struct epoll_event ev = { .events = events };
	struct handler *h;
	bool known;

	if (fd < 0 || !cb)
		return -EINVAL;
	if ((unsigned int)fd >= s->nh) {
		unsigned int n = s->nh ? s->nh : 64;

		while (n <= (unsigned int)fd)
			n *= 2;
		h = realloc(s->h, n * sizeof(*h));
		if (!h)
			return -ENOMEM;
		memset(h + s->nh, 0, (n - s->nh) * sizeof(*h));
		s->h = h;
		s->nh = n;
	}
	h = &s->h[fd];
	known = h->gen;
	if (!known) {
		if (!++s->gen)
			s->gen = 1;
		h->gen = s->gen;
	}
	ev.data.u64 = (uint64_t)h->gen << 32 | (uint32_t)fd;
	/* a handler whose fd was closed without sched_fd_del: epoll dropped
	 * it already, so the fd is new to the set */
	if (known && epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
		known = false;
	else if (known)
		goto set;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		h->gen = 0;
		return err;
	}
set:
	h->cb = cb;
	h->arg = arg;
	return 0;
}

void sched_fd_del(struct sched *s, int fd)
{
	if (fd < 0 || (unsigned int)fd >= s->nh || !s->h[fd].gen)
		return;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
	memset(&s->h[fd], 0, sizeof(s->h[fd]));
}

/* ---- timers ---------------------------------------------------------------- */

static void tfd_arm(struct sched *s)
{
	uint64_t at = s->timers ? s->timers->at_ms : 0;
	struct itimerspec its = {};

	uint64_t now;

	if (at == s->tfd_ms)
		return;
	s->tfd_ms = at;
	/* relative, not TFD_TIMER_ABSTIME: an LD_PRELOADed clock shifter
	 * (libfaketime, test_rollout_clock.sh) translates absolute expiries
	 * by its wall clock offset, even those on CLOCK_MONOTONIC */
	if (at) {
		now = mono_ms();
		if (at > now) {
			its.it_value.tv_sec = (at - now) / 1000;
			its.it_value.tv_nsec = ((at - now) % 1000) * 1000000;
		}
		its.it_value.tv_nsec += 1;	/* 0 would disarm */
	}
	timerfd_settime(s->tfd, 0, &its, NULL);
}

void sched_timer_init(struct sched_timer *t, sched_timer_cb cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
}

static void unlink_timer(struct sched *s, struct sched_timer *t)
{
	struct sched_timer **pp;

	for (pp = &s->timers; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->next = NULL;
	t->armed = false;
}

void sched_timer_arm(struct sched *s, struct sched_timer *t, uint64_t at_ms)
{
	struct sched_timer **pp;

	if (t->armed)
		unlink_timer(s, t);
	if (!at_ms)
		at_ms = 1;
	t->at_ms = at_ms;
	t->armed = true;
	for (pp = &s->timers; *pp && (*pp)->at_ms <= at_ms; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	tfd_arm(s);
}

void sched_timer_stop(struct sched *s, struct sched_timer *t)
{
	if (!t->armed)
		return;
	unlink_timer(s, t);
	tfd_arm(s);
}

uint64_t sched_next_ms(const struct sched *s)
{
	return s->timers ? s->timers->at_ms : 0;
}

static int run_timers(struct sched *s)
{
	uint64_t now = mono_ms();
	struct sched_timer *t;
	int n = 0;

	while ((t = s->timers) && t->at_ms <= now && n < MAX_TIMER_RUNS) {
		s->timers = t->next;
		t->next = NULL;
		t->armed = false;
		t->cb(t->arg);
		n++;
		if (!(n % 64))
			now = mono_ms();
	}
	tfd_arm(s);
	return n;
}

int sched_dispatch(struct sched *s, int wait_ms)
{
	struct epoll_event evs[64];
	int i, k, n = 0;

	k = epoll_wait(s->ep, evs, 64, wait_ms);
	if (k < 0 && errno != EINTR)
		return -errno;
	for (i = 0; i < k; i++) {
		uint64_t tag = evs[i].data.u64;
		uint32_t fd = (uint32_t)tag;
		struct handler *h;

		if (tag == TFD_TAG) {
			uint64_t ticks;

			if (read(s->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				return -errno;
			s->tfd_ms = 0;	/* expired: armed again below */
			continue;
		}
		/* removed (or removed and added again) earlier in this batch */
		if (fd >= s->nh || s->h[fd].gen != (uint32_t)(tag >> 32))
			continue;
		h = &s->h[fd];
		h->cb(h->arg, (int)fd, evs[i].events);
		n++;
	}
	return n + run_timers(s);
}
