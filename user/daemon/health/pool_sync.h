/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Health checks to the maps: runs the checker (prober.h) over the backends
 * of the configured services and turns its transitions into
 * sluice_backend_health_set calls, one publish per service per dispatch.
 * Every transition becomes an event for the daemon (log, audit trail,
 * metrics, the rollout's judgment): with the numbers behind it and
 * whether the pool is now entirely down (kept in its table: loud).
 *
 * Targets come from the configuration (sluice apply's YAML, with its
 * health_check sections) for the services and backends that exist in the
 * maps; each starts from its live record's state, so starting or
 * restarting the daemon changes no map by itself.
 */
#ifndef SLUICED_HSYNC_H
#define SLUICED_HSYNC_H

#include "prober.h"

struct hs_event {
	char service[SLUICE_NAME_LEN];
	__u8 variant;
	union sluice_addr addr;		/* the backend */
	__u8 family;
	__u16 port;
	enum hc_event ev;
	struct hc_status st;
	__u8 check_type;		/* enum sluice_check_type */
	__u32 interval_ms;
	__u16 rise, fall;
	/* after the change (HC_EV_DOWN / HC_EV_UP only) */
	bool applied;			/* the maps changed */
	bool all_down;			/* every active backend of the pool
					 * is down: all kept in its table */
	unsigned int in_table;		/* backends in the pool's table */
	int err;			/* -errno: the map change failed */
	char text[320];			/* one line, human readable */
};

typedef void (*hs_cb)(void *arg, const struct hs_event *ev);

struct hs;

struct hs *hs_new(struct sluice *s, const struct hc_opts *o, hs_cb cb,
		  void *arg, char *err, size_t errlen);
void hs_free(struct hs *h);

/* Check the backends of cfg's services that are live in the maps.
 * cfg may be NULL (no checks). Returns the number of targets or -errno. */
int hs_configure(struct hs *h, const struct sluice_config *cfg);

int hs_fd(const struct hs *h);
int hs_timeout_ms(const struct hs *h);
/* hc_dispatch, then the maps, then the events. Returns 0 or -errno.
 * With o->sched (hs_new) the checker runs from that loop and the maps
 * and events follow each of its steps: no hs_dispatch then. */
int hs_dispatch(struct hs *h);

/* The checker, for status queries (hc_count, hc_status_at, hc_find). */
const struct hc *hs_checker(const struct hs *h);

#endif /* SLUICED_HSYNC_H */
