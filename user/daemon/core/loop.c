// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's event loop: one epoll over the control socket and its
 * clients, a timerfd (every SLUICED_TICK_MS: due rollouts tick) and a
 * signalfd (SIGTERM/SIGINT stop, SIGHUP reloads: the audit log is
 * reopened, the --config file checked again), and the health checker's
 * epoll set (health_shell.c: every probe in flight). Single threaded: a command
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
#include <sys/timerfd.h>
#include "sluiced.h"
#include "fleet.h"

#define EV_LISTEN	(SLUICE_CTL_MAX_CLIENTS + 1)
#define EV_TIMER	(SLUICE_CTL_MAX_CLIENTS + 2)
#define EV_SIGNAL	(SLUICE_CTL_MAX_CLIENTS + 3)
#define EV_HEALTH	(SLUICE_CTL_MAX_CLIENTS + 4)	/* health checks */
#define EV_GATES	(SLUICE_CTL_MAX_CLIENTS + 5)	/* httpc, cmdrun */
#define EV_FLEET	(SLUICE_CTL_MAX_CLIENTS + 6)	/* etcd */

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

static int add(int epfd, int fd, unsigned int tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int loop_run(struct daemon *d, int listen_fd)
{
	struct itimerspec its = {
		.it_interval = { 0, SLUICED_TICK_MS * 1000000L },
		.it_value = { 0, SLUICED_TICK_MS * 1000000L },
	};
	struct epoll_event evs[16];
	int epfd, tfd, sfd, n, i, err = 0, gfd[2];
	sigset_t mask;

	stop_signals(&mask);	/* blocked since loop_signals_block */
	epfd = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (epfd < 0 || tfd < 0 || sfd < 0 || timerfd_settime(tfd, 0, &its, NULL) ||
	    add(epfd, listen_fd, EV_LISTEN) || add(epfd, tfd, EV_TIMER) ||
	    add(epfd, sfd, EV_SIGNAL)) {
		dlog(d, LOG_ERR_, "cannot set up the event loop: %s", strerror(errno));
		err = -errno;
		goto out;
	}
	/* measurements and notifications in flight: never block the loop */
	gs_fds(d, gfd);
	if (add(epfd, gfd[0], EV_GATES) || add(epfd, gfd[1], EV_GATES)) {
		err = -errno;
		goto out;
	}
	if (fleet_fd(d) >= 0 && add(epfd, fleet_fd(d), EV_FLEET)) {
		err = -errno;
		goto out;
	}
	while (!d->stop) {
		n = epoll_wait(epfd, evs, 16, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			dlog(d, LOG_ERR_, "epoll: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			unsigned int tag = evs[i].data.u32;

			if (tag == EV_LISTEN) {
				ctl_accept(d, epfd);
			} else if (tag == EV_TIMER) {
				__u64 exp;
				__u64 now = steady_ms();

				if (read(tfd, &exp, sizeof(exp)) < 0)
					continue;
				budget_tick(d, now);	/* the freezes first */
				fleet_tick(d, now);
				if (ro_tick(d, now)) {
					err = -EIO;	/* uncommitted: act on nothing more */
					goto out;
				}
				trigger_tick(d, now);
				gs_metrics(d, now);
				health_tick(d, epfd, EV_HEALTH, now);
				ctl_expire(d, epfd, now);
			} else if (tag == EV_FLEET) {
				fleet_dispatch(d);
			} else if (tag == EV_GATES) {
				gs_dispatch(d);
			} else if (tag == EV_SIGNAL) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						daemon_reload(d);
					} else {
						dlog(d, LOG_INFO_, "signal %u: stopping (the datapath keeps forwarding)",
						     si.ssi_signo);
						d->stop = true;
					}
				}
			} else if (tag == EV_HEALTH) {
				health_dispatch(d);
			} else {
				ctl_readable(d, epfd, tag);
			}
		}
	}
out:
	health_free(d);
	trigger_free();
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (epfd >= 0)
		close(epfd);
	return err;
}
