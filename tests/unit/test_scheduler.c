// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// sluice-test: host-only (sluiced's scheduler: pipes and timers)
/*
 * The daemon's one scheduler (io/scheduler.h): a handler removed while
 * its event is pending hears nothing, also when its fd number is reused
 * at once; timers run earliest first, after the file events, and one
 * armed for "now" from a handler runs in the same dispatch; a stopped
 * timer never runs; the scheduler's own fd is readable when a timer is
 * due (an outer loop can poll it).
 */
#include <poll.h>
#include "test.h"
#include "clock.h"
#include "scheduler.h"
#include <sys/epoll.h>

static char order[64];
static unsigned int norder;

static void note(char c)
{
	if (norder + 1 < sizeof(order))
		order[norder++] = c, order[norder] = 0;
}

struct pair {
	struct sched *s;
	int fd[2];
	int other;		/* the handler removes this fd's handler */
	char name;
	struct sched_timer *kick;
};

static void on_fd(void *arg, int fd, uint32_t events)
{
	struct pair *p = arg;
	char c;

	note(p->name);
	if (read(fd, &c, 1) < 0)
		return;
	if (p->other >= 0)
		sched_fd_del(p->s, p->other);
	if (p->kick)
		sched_timer_arm(p->s, p->kick, mono_ms());
}

static void on_timer(void *arg)
{
	note(*(char *)arg);
}

static void test_removed_handler(void)
{
	struct sched *s = sched_new();
	struct pair a = { .s = s, .name = 'a', .other = -1 },
		    b = { .s = s, .name = 'b', .other = -1 };

	subtest("removed handler");
	if (!ASSERT_TRUE(s, "sched_new"))
		return;
	if (pipe(a.fd) || pipe(b.fd))
		return;
	ASSERT_OK(sched_fd_set(s, a.fd[0], EPOLLIN, on_fd, &a), "a added");
	ASSERT_OK(sched_fd_set(s, b.fd[0], EPOLLIN, on_fd, &b), "b added");
	/* whichever runs first removes the other */
	a.other = b.fd[0];
	b.other = a.fd[0];
	ASSERT_EQ(write(a.fd[1], "x", 1), 1, "a written");
	ASSERT_EQ(write(b.fd[1], "x", 1), 1, "b written");
	norder = 0;
	ASSERT_EQ(sched_dispatch(s, 1000), 1, "one handler ran, the removed one not");
	ASSERT_EQ(norder, 1, "one note");
	ASSERT_EQ(sched_dispatch(s, 0), 0, "nothing more");
	ASSERT_TRUE(sched_fd_set(s, -1, EPOLLIN, on_fd, &a) == -EINVAL, "fd -1 refused");
	for (int i = 0; i < 2; i++)
		close(a.fd[i]), close(b.fd[i]);
	sched_free(s);
}

static void test_timers(void)
{
	struct sched *s = sched_new();
	struct sched_timer t1, t2, t3, kick;
	char c1 = '1', c2 = '2', c3 = '3', ck = 'k';
	struct pair a = { .s = s, .name = 'a', .other = -1, .kick = &kick };
	struct pollfd pf;
	__u64 now = mono_ms();

	subtest("timers");
	if (!ASSERT_TRUE(s, "sched_new") || pipe(a.fd))
		return;
	sched_timer_init(&t1, on_timer, &c1);
	sched_timer_init(&t2, on_timer, &c2);
	sched_timer_init(&t3, on_timer, &c3);
	sched_timer_init(&kick, on_timer, &ck);
	sched_timer_arm(s, &t2, now + 60);
	sched_timer_arm(s, &t1, now + 30);
	sched_timer_arm(s, &t3, now + 40);
	sched_timer_stop(s, &t3);
	ASSERT_EQ(sched_next_ms(s), now + 30, "the earliest first");
	pf.fd = sched_fd(s);
	pf.events = POLLIN;
	ASSERT_EQ(poll(&pf, 1, 1000), 1, "the scheduler's fd is readable when a timer is due");
	ASSERT_TRUE(mono_ms() >= now + 30, "not before the timer");
	norder = 0;
	while (norder < 2 && mono_ms() < now + 2000)
		sched_dispatch(s, 200);
	ASSERT_TRUE(!strcmp(order, "12"), "1 then 2; 3 was stopped");
	/* a handler arms a timer for now: it runs in the same dispatch */
	ASSERT_OK(sched_fd_set(s, a.fd[0], EPOLLIN, on_fd, &a), "a added");
	ASSERT_EQ(write(a.fd[1], "x", 1), 1, "a written");
	norder = 0;
	ASSERT_EQ(sched_dispatch(s, 1000), 2, "the handler and its timer");
	ASSERT_TRUE(!strcmp(order, "ak"), "the file event, then the timer");
	ASSERT_TRUE(!t3.armed && !kick.armed, "nothing left armed");
	ASSERT_EQ(sched_next_ms(s), 0, "no timer");
	close(a.fd[0]);
	close(a.fd[1]);
	sched_free(s);
}

int main(void)
{
	test_removed_handler();
	test_timers();
	return t_done();
}
