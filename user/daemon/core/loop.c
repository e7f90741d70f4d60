// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's event loop: the one scheduler (io/scheduler.h, chrony's
 * sched.c pattern) on which every module registers its fds and timers
 * (the control socket and its clients, httpc's and cmdrun's, the health
 * checker's, the etcd watch, the HTTP listener); here: the tick (every
 * SLUICED_TICK_MS on the monotonic clock: due rollouts tick) and a
 * signalfd (SIGTERM/SIGINT stop, SIGHUP reloads: the audit log is
 * reopened, the --config file checked again). Single threaded: a command
 * and a tick never interleave.
 *
 * A signalfd sees a signal only if it is blocked in every thread: the
 * mask is set by loop_signals_block, first thing in main, before any
 * library starts a thread (libmicrohttpd's, libcurl's resolver) that
 * would inherit an unblocked mask and take the default action, which
 * for SIGHUP ends the process (chronyd blocks them the same way before
 * its scheduler starts).
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include "sluiced.h"

static void stop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
}

void loop_signals_block(void)
{
	sigset_t mask;
	int s;

	/* an ignored signal is discarded, never pending: a shell starting
	 * the daemon in the background ignores SIGINT, say */
	stop_signals(&mask);
	for (s = 1; s < NSIG; s++)
		if (sigismember(&mask, s))
			signal(s, SIG_DFL);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void on_tick(void *arg)
{
	struct daemon *d = arg;
	__u64 now = steady_ms();

	modules_tick(d, now);	/* modules.c: the freezes first */
}

static void on_signal(void *arg, int fd, uint32_t events)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			daemon_reload(d);
		} else {
			dlog(d, LOG_INFO_, "signal %u: stopping (the datapath keeps forwarding)",
			     si.ssi_signo);
			d->stop = true;
		}
	}
}

int loop_run(struct daemon *d, int listen_fd)
{
	struct sched_timer tick;
	int sfd, n, err = 0;
	__u64 next;
	sigset_t mask;

	stop_signals(&mask);	/* blocked since loop_signals_block */
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 || (err = sched_fd_set(d->sched, sfd, EPOLLIN, on_signal, d))) {
		err = err ? err : -errno;
		dlog(d, LOG_ERR_, "cannot set up the event loop: %s", strerror(-err));
		goto out;
	}
	/* every SLUICED_TICK_MS: due rollouts tick (a fixed phase, as the
	 * interval timerfd had) */
	sched_timer_init(&tick, on_tick, d);
	next = mono_ms() + SLUICED_TICK_MS;
	sched_timer_arm(d->sched, &tick, next);
	while (!d->stop) {
		n = sched_dispatch(d->sched, -1);
		if (n < 0) {
			err = n;
			dlog(d, LOG_ERR_, "epoll: %s", strerror(-n));
			break;
		}
		if (!tick.armed) {	/* it ran: the next one */
			__u64 now = mono_ms();

			next += SLUICED_TICK_MS;
			if (next <= now)	/* a stall: no burst of ticks */
				next = now + SLUICED_TICK_MS;
			sched_timer_arm(d->sched, &tick, next);
		}
	}
	sched_timer_stop(d->sched, &tick);
	if (!err)
		err = d->fatal;
out:
	if (sfd >= 0) {
		sched_fd_del(d->sched, sfd);
		close(sfd);
	}
	return err;
}
