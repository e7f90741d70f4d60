/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backend health checks for sluiced: asynchronous and bounded. One checker
 * runs every backend's probe from one epoll set (non-blocking TCP
 * connects, HTTP GETs through libcurl's multi interface, commands through
 * pidfds), so hundreds of backends at a 1 s interval never block the
 * daemon's loop. Results are damped by rise/fall; the callback hears only
 * transitions (and the start and end of flapping).
 *
 * The daemon's loop: hc_opts.sched, and the checker runs from it. Without
 * one (tests, benches): add hc_fd() to an epoll set (readable when a
 * probe made progress or a probe is due), and call hc_dispatch() when it
 * is readable (calling it at other times is harmless). hc_timeout_ms()
 * says when to call it at the latest, for loops that poll with a timeout.
 *
 * What each type checks (sent from the LB node to the target: the
 * backend's own address and port unless the check names others):
 *   tcp      up when the three-way handshake completes within the
 *            timeout; closed with a RST at once (no TIME_WAIT on the
 *            node). A server that accepts and then resets passes, also
 *            when its reset arrives before the checker looks (a
 *            handshake that completed): use http to catch it. Refused,
 *            unreachable or no answer within the timeout: fail.
 *   http     GET path (HTTP/1.1, a fresh connection every time, Host:
 *            the check's host or the target); up when the status line
 *            arrives within the timeout and its status is one of
 *            `expect`. Another status, a reset, a close before the
 *            status line, or a timeout: fail. The body is not read.
 *   command  /bin/sh -c COMMAND in its own process group, stdin/stdout
 *            /dev/null, with SLUICE_SERVICE, SLUICE_POOL,
 *            SLUICE_BACKEND_ADDRESS, SLUICE_BACKEND_PORT,
 *            SLUICE_CHECK_ADDRESS, SLUICE_CHECK_PORT in its environment;
 *            up on exit status 0 within the timeout. Past the timeout the
 *            group is killed (SIGKILL) and the check fails; hc_free
 *            stops those in flight (SIGTERM, SIGKILL a grace later) and
 *            a dying daemon takes them along (child.h). The daemon
 *            must not ignore SIGCHLD (the checker reaps its own children).
 * A probe is due every interval (first ones spread over the interval);
 * at most max_inflight run at once, others wait (counted as `late`).
 */
#ifndef SLUICED_HCHECK_H
#define SLUICED_HCHECK_H

#include <stdbool.h>
#include <linux/types.h>
#include "sluice.h"

#define HC_REASON_LEN 96

/* One backend to check. */
struct hc_target {
	char service[SLUICE_NAME_LEN];
	__u8 variant;			/* SLUICE_BASELINE / SLUICE_CANARY */
	/* the backend as its pool knows it (what health marks name) */
	union sluice_addr be_addr;
	__u8 be_family;
	__u16 be_port;			/* resolved: never 0 */
	/* where the probe goes (resolved: the check's or the backend's) */
	union sluice_addr addr;
	__u8 family;
	__u16 port;
	struct sluice_cfg_check check;
	bool down;			/* the state to start from (the live
					 * record's: a restart changes nothing) */
};

/* Fill t for backend i of pool v of service cs (the check that applies,
 * the target resolved). Returns false when the backend has no check. */
bool hc_target_from_cfg(struct hc_target *t, const struct sluice_cfg_service *cs,
			int v, unsigned int i);

enum hc_event {
	HC_EV_DOWN = 0,		/* fall consecutive failures */
	HC_EV_UP,		/* rise consecutive successes */
	HC_EV_FLAPPING,		/* flap_count transitions within flap_window */
	HC_EV_STABLE,		/* no longer flapping */
};

struct hc_status {
	bool down;
	bool flapping;
	bool last_ok;			/* the latest probe's result */
	char last_reason[HC_REASON_LEN];	/* "ok", "connection refused",
					 * "timeout after 500 ms", "HTTP 500" */
	__u32 last_ms;			/* the latest probe's duration */
	__u32 last_us;			/* the same in microseconds */
	unsigned int ok_run, fail_run;	/* consecutive results */
	__u64 checks, failures;		/* probes completed, of which failed */
	__u64 transitions;
	__u64 late;			/* probes started late (max_inflight) */
	__u64 since_ms;			/* monotonic ms of the last transition
					 * (0: none since the target appeared) */
	__u64 last_check_ms;		/* monotonic ms of the latest result */
};

struct hc;

typedef void (*hc_cb)(void *arg, const struct hc_target *t,
		      const struct hc_status *st, enum hc_event ev);

struct sched;

struct hc_opts {
	unsigned int max_inflight;	/* 0: 512 */
	unsigned int flap_count;	/* 0: 4 transitions ... */
	__u32 flap_window_ms;		/* 0: ... within 60 s */
	hc_cb cb;
	void *cb_arg;
	/* The daemon's loop (scheduler.h): the checker registers its
	 * sockets, pidfds and timer there and runs from its dispatch; done
	 * (cb_arg) follows each of its steps (the transitions of a batch
	 * are in). NULL: a private scheduler behind hc_fd/hc_dispatch. */
	struct sched *sched;
	void (*done)(void *arg);
};

struct hc *hc_new(const struct hc_opts *o, char *err, size_t errlen);
void hc_free(struct hc *hc);

/*
 * Replace the set of targets. A target equal to one already there
 * (service, variant, backend, probe address and check) keeps its state
 * and schedule; others start from t->down with empty runs. Probes of
 * removed targets are cancelled. Returns 0 or -errno.
 */
int hc_set_targets(struct hc *hc, const struct hc_target *t, unsigned int n);

int hc_fd(const struct hc *hc);
/* Milliseconds until hc_dispatch is due at the latest (-1: nothing). */
int hc_timeout_ms(const struct hc *hc);
/* Progress every probe that can, start due ones, call the callback for
 * transitions. Returns 0 or -errno (the epoll set failed). */
int hc_dispatch(struct hc *hc);

unsigned int hc_count(const struct hc *hc);
const struct hc_target *hc_target_at(const struct hc *hc, unsigned int i);
int hc_status_at(const struct hc *hc, unsigned int i, struct hc_status *st);
/* The target for a backend; -1 when unchecked. */
int hc_find(const struct hc *hc, const char *service, int variant,
	    const union sluice_addr *be_addr, __u8 family, __u16 be_port);

const char *hc_type_name(__u8 type);
const char *hc_event_name(enum hc_event ev);

#endif /* SLUICED_HCHECK_H */
