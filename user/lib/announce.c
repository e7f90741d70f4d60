// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Announcing VIPs: sluice decides, the routing daemon speaks BGP. The
 * decision is kept as one host route per VIP in a kernel routing table of
 * sluice's own (SLUICE_ROUTE_TABLE, protocol SLUICE_ROUTE_PROTO), which
 * BIRD's kernel protocol (`learn`) or FRR's `redistribute table` imports:
 * the coupling BIRD and FRR users already run for static and
 * program-made routes (ExaBGP's healthcheck does the same with its own
 * process; a table survives ours). Reconciling is level-triggered: every
 * call computes what should be announced from the maps and makes the
 * table say so, so the CLI and sluiced can both call it at any time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "internal.h"

const char *sluice_announce_why_str(int why)
{
	static const char *const w[] = {
		[SLUICE_ANN_OK] = "healthy",
		[SLUICE_ANN_NOT_ATTACHED] = "not attached",
		[SLUICE_ANN_DRAINED] = "drained",
		[SLUICE_ANN_NO_HEALTHY] = "no healthy backend",
		[SLUICE_ANN_GONE] = "no announcing service",
	};

	return why >= 0 && why < (int)(sizeof(w) / sizeof(w[0])) ? w[why] : "?";
}

static bool attached(struct sluice *s)
{
	struct sluice_attachment at[64];
	int n = sluice_attachments(s, at, 64), i;

	for (i = 0; i < n; i++)
		if (at[i].ifindex > 0 && at[i].mode <= SLUICE_ATTACH_TC)
			return true;
	return false;
}

/* Is some pool that takes new flows of service id up? up[v]: the pool has
 * an active backend not marked down. */
static bool takes_new_flows(struct sluice *s, __u32 id, const bool up[SLUICE_VARIANTS],
			    unsigned int rings)
{
	struct sluice_service_view v = { .id = id };
	bool pool[SLUICE_VARIANTS] = {};
	char name[SLUICE_NAME_LEN];
	int r;

	snprintf(name, sizeof(name), "%.*s", SLUICE_NAME_LEN - 1, s->meta[id].name);
	if (sluice_service_view(s, name, &v))
		return up[SLUICE_BASELINE];
	if ((v.kill | v.kill_all) & SLUICE_KILL_REVERT) {
		pool[v.lkg < SLUICE_VARIANTS ? v.lkg : SLUICE_BASELINE] = true;
	} else {
		for (r = 0; r < SLUICE_MAX_RINGS; r++) {
			if (!(rings & (1u << r)))
				continue;
			pool[SLUICE_BASELINE] |= v.weight[r] < 10000;
			pool[SLUICE_CANARY] |= v.weight[r] > 0;
		}
	}
	for (r = 0; r < SLUICE_VARIANTS; r++)
		if (pool[r] && up[r])
			return true;
	return false;
}

/*
 * Reads the mmapped metadata and backend records (one pass over the
 * backends for all services: sluiced runs this each second) and each
 * announcing service's exposure; no table is read.
 */
int sluice_announce_eval(struct sluice *s, struct sluice_announce *out, int max)
{
	static __u32 ids[SLUICE_MAX_SERVICES];
	bool (*up)[SLUICE_VARIANTS];
	unsigned int rings = 1;
	bool att = attached(s);
	int n, i, k = 0;

	n = sluice_service_ids(s, ids, SLUICE_MAX_SERVICES);
	if (n < 0)
		return n;
	up = calloc(SLUICE_MAX_SERVICES, sizeof(*up));
	if (!up)
		return sluice_seterr(s, ENOMEM, "out of memory");
	for (i = 0; i < SLUICE_MAX_BACKENDS; i++) {
		const struct sluice_backend *b = &s->be[i];
		__u32 f = b->flags;

		if ((f & SLUICE_BE_IN_USE) && !(f & (SLUICE_BE_DRAINING | SLUICE_BE_DOWN)) &&
		    b->svc_id < SLUICE_MAX_SERVICES && b->variant < SLUICE_VARIANTS)
			up[b->svc_id][b->variant] = true;
	}
	sluice_rings_in_use(s, &rings);
	for (i = 0; i < n; i++) {
		const struct sluice_svc_meta *m = &s->meta[ids[i]];
		struct sluice_announce *a = &out[k];

		if (!(m->flags & SLUICE_SVC_ANNOUNCE))
			continue;
		/* a sync must see every VIP, or it would withdraw the rest */
		if (k >= max) {
			free(up);
			return sluice_seterr(s, ENOSPC, "more than %d services announce: no room to evaluate them",
					     max);
		}
		memset(a, 0, sizeof(*a));
		snprintf(a->name, sizeof(a->name), "%.*s", SLUICE_NAME_LEN - 1, m->name);
		a->vip = m->key.vip;
		a->family = m->key.family;
		if (!att)
			a->why = SLUICE_ANN_NOT_ATTACHED;
		else if (m->flags & SLUICE_SVC_DRAINED)
			a->why = SLUICE_ANN_DRAINED;
		else if (!takes_new_flows(s, ids[i], up[ids[i]], rings))
			a->why = SLUICE_ANN_NO_HEALTHY;
		else
			a->why = SLUICE_ANN_OK;
		a->announced = a->why == SLUICE_ANN_OK;
		k++;
	}
	free(up);
	return k;
}

int sluice_service_drain(struct sluice *s, const char *name, bool drain)
{
	__u32 id, i;
	int n = 0, err;

	if (name) {
		err = sluice_service_lookup(s, name, &id);
		if (err)
			return err;
	}
	/* a service put rewrites the flags word: not in between */
	err = sluice_lock(s);
	if (err)
		return err;
	for (i = 0; i < SLUICE_MAX_SERVICES; i++) {
		__u32 *f = &s->meta[i].flags, old;

		if ((name && i != id) || !(*f & SLUICE_SVC_IN_USE))
			continue;
		if (drain)
			old = __atomic_fetch_or(f, SLUICE_SVC_DRAINED, __ATOMIC_SEQ_CST);
		else
			old = __atomic_fetch_and(f, ~SLUICE_SVC_DRAINED, __ATOMIC_SEQ_CST);
		n += !!(old & SLUICE_SVC_DRAINED) != drain;
	}
	sluice_unlock(s);
	return n;
}

/* ---- the routing table, over rtnetlink --------------------------------- */

union rt_req {
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
	};
	char buf[256];
};

static void rta_add(union rt_req *req, int type, const void *data, int len)
{
	struct nlmsghdr *nh = &req->nh;
	struct rtattr *rta = (struct rtattr *)(req->buf + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int nl_open(struct sluice *s)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct timeval tv = { .tv_sec = 2 };
	int one = 1;

	if (fd < 0)
		return sluice_seterr(s, errno, "cannot open a netlink socket: %s",
				     strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	return fd;
}

/* Add or delete the route of one VIP; 0 or -errno (ENOENT/EEXIST: so already). */
static int route_change(struct sluice *s, int fd, bool add,
			const union sluice_addr *vip, __u8 family)
{
	union rt_req req = {};
	__u32 table = SLUICE_ROUTE_TABLE, oif = if_nametoindex("lo");
	char buf[4096];
	int alen = family == AF_INET ? 4 : 16;
	ssize_t len;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
			     (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	req.rt.rtm_family = family;
	req.rt.rtm_dst_len = alen * 8;
	req.rt.rtm_table = RT_TABLE_UNSPEC;
	req.rt.rtm_protocol = SLUICE_ROUTE_PROTO;
	/* a delete matches any scope (ip route del does the same) */
	req.rt.rtm_scope = !add ? RT_SCOPE_NOWHERE :
			   family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	req.rt.rtm_type = RTN_UNICAST;
	rta_add(&req, RTA_DST, vip, alen);
	rta_add(&req, RTA_TABLE, &table, sizeof(table));
	if (add)
		rta_add(&req, RTA_OIF, &oif, sizeof(oif));
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0)
		return -errno;
	if ((size_t)len >= NLMSG_LENGTH(sizeof(struct nlmsgerr)) &&
	    ((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(buf))->error;
	return -EPROTO;
}

struct rt_have {
	union sluice_addr vip;
	__u8 family;
	bool wanted;
};

/*
 * sluice's routes in its table, of one family, appended at have[*n]. The
 * kernel filters the dump by table (strict checking, Linux 4.20+; older
 * ones send every route, filtered here), so a node holding a full BGP
 * table pays nothing for it each second. 0 or -errno.
 */
static int route_dump(struct sluice *s, int fd, __u8 family, struct rt_have *have,
		      int *n, int max)
{
	union rt_req req = {};
	__u32 table = SLUICE_ROUTE_TABLE;
	static char buf[32768];

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.rt.rtm_family = family;
	req.rt.rtm_protocol = SLUICE_ROUTE_PROTO;
	rta_add(&req, RTA_TABLE, &table, sizeof(table));
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		return sluice_seterr(s, errno, "cannot list routes: %s", strerror(errno));
	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (len < 0)
			return sluice_seterr(s, errno, "cannot list routes: %s",
					     strerror(errno));
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)len);
		     nh = NLMSG_NEXT(nh, len)) {
			struct rtmsg *rt = NLMSG_DATA(nh);
			struct rtattr *a;
			int alen = RTM_PAYLOAD(nh), err;
			__u32 tb;
			void *dst = NULL;

			if (nh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				/* the table does not exist yet: no routes */
				if (err == -ENOENT || !err)
					return 0;
				return sluice_seterr(s, -err, "cannot list routes: %s",
						     strerror(-err));
			}
			if (nh->nlmsg_type != RTM_NEWROUTE ||
			    rt->rtm_protocol != SLUICE_ROUTE_PROTO)
				continue;
			tb = rt->rtm_table;
			for (a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type == RTA_TABLE)
					tb = *(__u32 *)RTA_DATA(a);
				else if (a->rta_type == RTA_DST)
					dst = RTA_DATA(a);
			}
			if (tb != SLUICE_ROUTE_TABLE || !dst || *n >= max ||
			    rt->rtm_family != family ||
			    rt->rtm_dst_len != (family == AF_INET ? 32 : 128))
				continue;
			memset(&have[*n], 0, sizeof(have[*n]));
			memcpy(&have[*n].vip, dst, family == AF_INET ? 4 : 16);
			have[(*n)++].family = family;
		}
	}
}

static bool same_vip(const union sluice_addr *a, __u8 fa,
		     const union sluice_addr *b, __u8 fb)
{
	return fa == fb && !memcmp(a, b, fa == AF_INET ? 4 : 16);
}

static int announce_sync(struct sluice *s, struct sluice_announce *out, int max)
{
	static struct rt_have have[SLUICE_MAX_SERVICES];
	char a[INET6_ADDRSTRLEN];
	int n, nh, fd, i, j, err;

	n = sluice_announce_eval(s, out, max);
	if (n < 0)
		return n;
	fd = nl_open(s);
	if (fd < 0)
		return fd;
	nh = 0;
	err = route_dump(s, fd, AF_INET, have, &nh, SLUICE_MAX_SERVICES);
	if (!err)
		err = route_dump(s, fd, AF_INET6, have, &nh, SLUICE_MAX_SERVICES);
	if (err) {
		nh = err;
		goto fail;
	}
	/* several services on one VIP: announced while any of them is */
	for (i = 0; i < n; i++) {
		bool want = false, in = false;

		for (j = 0; j < n; j++)
			if (same_vip(&out[i].vip, out[i].family, &out[j].vip, out[j].family))
				want |= out[j].why == SLUICE_ANN_OK;
		for (j = 0; j < nh; j++)
			if (same_vip(&out[i].vip, out[i].family, &have[j].vip, have[j].family)) {
				in = true;
				have[j].wanted = want;
			}
		out[i].announced = want;
		out[i].changed = want && !in;
		if (want && !in) {
			err = route_change(s, fd, true, &out[i].vip, out[i].family);
			if (err && err != -EEXIST) {
				sluice_format_addr(&out[i].vip, out[i].family, a, sizeof(a));
				nh = sluice_seterr(s, -err, "cannot add the route of VIP %s to table %d: %s",
						   a, SLUICE_ROUTE_TABLE, strerror(-err));
				goto fail;
			}
			/* a second service on the same VIP must not add it again */
			if (nh < SLUICE_MAX_SERVICES) {
				memset(&have[nh], 0, sizeof(have[nh]));
				have[nh].vip = out[i].vip;
				have[nh].family = out[i].family;
				have[nh++].wanted = true;
			}
		} else if (!want && in) {
			out[i].changed = true;
		}
	}
	/* withdraw what no announcing service wants */
	for (j = 0; j < nh; j++) {
		__u8 fam = have[j].family;
		bool listed = false;

		if (have[j].wanted)
			continue;
		err = route_change(s, fd, false, &have[j].vip, fam);
		if (err && err != -ESRCH && err != -ENOENT) {
			sluice_format_addr(&have[j].vip, fam, a, sizeof(a));
			nh = sluice_seterr(s, -err, "cannot delete the route of VIP %s from table %d: %s",
					   a, SLUICE_ROUTE_TABLE, strerror(-err));
			goto fail;
		}
		for (i = 0; i < n; i++)
			listed |= same_vip(&out[i].vip, out[i].family, &have[j].vip, fam);
		if (!listed && n < max) {
			memset(&out[n], 0, sizeof(out[n]));
			out[n].vip = have[j].vip;
			out[n].family = fam;
			out[n].why = SLUICE_ANN_GONE;
			out[n++].changed = true;
		}
	}
	close(fd);
	return n;
fail:
	close(fd);
	return nh;
}

/* Under the instance's lock: the CLI and sluiced may both reconcile, and
 * one must not act on an evaluation older than the other's change. */
int sluice_announce_sync(struct sluice *s, struct sluice_announce *out, int max)
{
	int err = sluice_lock(s);

	if (err)
		return err;
	err = announce_sync(s, out, max);
	sluice_unlock(s);
	return err;
}
