// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * slconf: configures a private sluice instance for the benchmark through
 * libsluice (not the CLI), and runs the control-plane scale measurements.
 *
 *   slconf [-N NETNS] [-p PIN] [-v] COMMAND [OPTIONS]
 *
 * -N enters a network namespace with setns() before anything else, so that
 * device names resolve there while bpffs stays the host's /sys/fs/bpf
 * (`ip netns exec` would remount /sys and hide it). Every command prints one
 * JSON object on stdout; errors are one "Error: ..." line on stderr and a
 * non-zero exit.
 *
 * The bench services: "bench4" VIP4:80/tcp and "bench6" VIP6:80/udp,
 * baseline pool = sink 1 (its MAC, out of lb1), canary pool = sink 2 (lb2),
 * canary weight --weight basis points. Defaults match tests/bench/topo.sh.
 * --mode picks the forwarding mode (setup): dsr (default) names the sinks'
 * MACs and devices; ipip and nat name only the sinks' addresses and leave
 * device and next hop to bpf_fib_lookup in the lb namespace (which needs
 * forwarding on, routes and neighbours); ipip takes its outer source from
 * --tunnel-src4 / --tunnel-src6.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "sluice.h"
#include "sluice_hash.h"

struct target {
	const char *a4, *a6, *mac, *dev;
};

struct opts {
	const char *netns, *pin, *dev, *attach, *vip4, *vip6, *src, *svc;
	const char *tun4, *tun6;
	struct target base, canary;
	unsigned int weight, conn, conn_new, n, family, sport, nports;
	unsigned int services, backends, table, reps, pool;
	int verbose, pool_set;
	__u8 mode;	/* enum sluice_mode of the setup services */
};

static struct opts o = {
	.pin = "/sys/fs/bpf/sluice-bench",
	.dev = "lb0",
	.attach = "none",
	.vip4 = "10.100.0.1",
	.vip6 = "fd00:100::1",
	.base = { "10.200.1.2", "fd00:200:1::2", "02:00:00:00:01:02", "lb1" },
	.canary = { "10.200.2.2", "fd00:200:2::2", "02:00:00:00:02:02", "lb2" },
	.tun4 = "10.200.9.0/24",
	.tun6 = "fd00:200:9::/64",
	.mode = SLUICE_MODE_DSR,
	.weight = 1000,
	.family = 4,
	.sport = 1024,
	.nports = 16384,
	.services = 1000,
	.backends = 10000,
	.table = SLUICE_TABLE_DEFAULT,
	.reps = 20,
	.pool = 100,
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "min":..,"median":..,"max":.. of v (sorted in place), scaled */
static void print_dist(const char *name, double *v, unsigned int n,
		       double scale)
{
	qsort(v, n, sizeof(*v), cmp_double);
	printf("\"%s\":{\"n\":%u,\"min\":%.4f,\"median\":%.4f,\"p90\":%.4f,\"max\":%.4f}",
	       name, n, v[0] * scale,
	       (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) * scale,
	       v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] * scale,
	       v[n - 1] * scale);
}

static const char *const sluice_mode_names[SLUICE_MODES] = {
	[SLUICE_MODE_DSR] = "dsr", [SLUICE_MODE_IPIP] = "ipip",
	[SLUICE_MODE_NAT] = "nat",
};

static int fail(struct sluice *s, int err, const char *what)
{
	fprintf(stderr, "Error: %s: %s\n", what,
		s && sluice_errmsg(s) ? sluice_errmsg(s) : strerror(-err));
	return err < 0 ? err : -err;
}

static struct sluice *open_instance(bool create)
{
	struct sluice_open_opts oo = {
		.pin_dir = o.pin, .create = create, .verbose = o.verbose,
		.conn_entries = o.conn, .conn_new_entries = o.conn_new,
	};
	char why[512];
	struct sluice *s = sluice_open(&oo, why, sizeof(why));

	if (!s)
		fprintf(stderr, "Error: %s\n", why);
	return s;
}

static int add_backend(struct sluice_pool_spec *p, const char *addr,
		       const char *mac, const char *dev)
{
	struct sluice_backend_spec *b = &p->be[p->n];

	memset(b, 0, sizeof(*b));
	if (sluice_parse_addr(addr, &b->addr, &b->family) ||
	    sluice_parse_mac(mac, b->mac)) {
		fprintf(stderr, "Error: bad backend address '%s' or MAC '%s'\n",
			addr, mac);
		return -EINVAL;
	}
	b->weight = 100;
	b->has_mac = true;
	snprintf(b->dev, sizeof(b->dev), "%s", dev);
	p->n++;
	return 0;
}

/* A bench service: pools of n backends each, sink addresses + k; mode as
 * given (scale and the others: DSR). */
static int bench_spec_mode(struct sluice_service_spec *sp, const char *name,
			   int v6, unsigned int n, __u8 mode)
{
	const struct target *t[2] = { &o.base, &o.canary };
	unsigned int v, i;
	int err;

	memset(sp, 0, sizeof(*sp));
	snprintf(sp->name, sizeof(sp->name), "%s", name);
	if (sluice_parse_addr(v6 ? o.vip6 : o.vip4, &sp->vip, &sp->family)) {
		fprintf(stderr, "Error: bad VIP\n");
		return -EINVAL;
	}
	sp->port = 80;
	sp->proto = v6 ? IPPROTO_UDP : IPPROTO_TCP;
	sp->mode = mode;
	sp->table_size = SLUICE_TABLE_DEFAULT;
	if (mode == SLUICE_MODE_IPIP &&
	    sluice_parse_prefix(v6 ? o.tun6 : o.tun4, &sp->tunnel_src)) {
		fprintf(stderr, "Error: bad tunnel source '%s'\n", v6 ? o.tun6 : o.tun4);
		return -EINVAL;
	}
	for (i = 0; i < SLUICE_MAX_RINGS; i++)
		sp->weight[i] = o.weight;
	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (i = 0; i < n; i++) {
			union sluice_addr a;
			char buf[INET6_ADDRSTRLEN];
			__u8 fam;

			/* DSR only rewrites MACs: extra backends get the next
			 * addresses and the same sink MAC and device */
			sluice_parse_addr(v6 ? t[v]->a6 : t[v]->a4, &a, &fam);
			if (v6)
				a.v6[3] = htonl(ntohl(a.v6[3]) + i);
			else
				a.v4 = htonl(ntohl(a.v4) + i);
			sluice_format_addr(&a, fam, buf, sizeof(buf));
			err = add_backend(&sp->pool[v], buf, t[v]->mac, t[v]->dev);
			if (err)
				return err;
			if (mode != SLUICE_MODE_DSR) {
				/* ipip/nat: the FIB picks device and MAC */
				struct sluice_backend_spec *b =
					&sp->pool[v].be[sp->pool[v].n - 1];

				b->has_mac = false;
				memset(b->mac, 0, sizeof(b->mac));
				b->dev[0] = 0;
			}
		}
	return 0;
}

static int bench_spec(struct sluice_service_spec *sp, const char *name,
		      int v6, unsigned int n)
{
	return bench_spec_mode(sp, name, v6, n, SLUICE_MODE_DSR);
}

static int attach_mode(const char *m, enum sluice_attach_mode *mode)
{
	if (!strcmp(m, "xdp"))
		*mode = SLUICE_ATTACH_XDP;
	else if (!strcmp(m, "tc"))
		*mode = SLUICE_ATTACH_TC;
	else if (!strcmp(m, "xdpgeneric"))
		*mode = SLUICE_ATTACH_XDP_GENERIC;
	else
		return -EINVAL;
	return 0;
}

/* Attach per --attach; prints ,"prog_id":N (or nothing for "none"). */
static int do_attach(struct sluice *s)
{
	struct sluice_attachment at[16];
	enum sluice_attach_mode mode;
	int err, n, i;

	if (!strcmp(o.attach, "none"))
		return 0;
	if (attach_mode(o.attach, &mode)) {
		fprintf(stderr, "Error: --attach must be xdp, xdpgeneric, tc or none\n");
		return -EINVAL;
	}
	err = sluice_attach(s, o.dev, mode);
	if (err)
		return fail(s, err, "attach");
	n = sluice_attachments(s, at, 16);
	for (i = 0; i < n; i++)
		if (!strcmp(at[i].ifname, o.dev) && at[i].mode == mode)
			printf(",\"prog_id\":%u,\"prog_pin\":\"%s/prog_%s_%s\"",
			       at[i].prog_id, o.pin, o.dev, o.attach);
	return 0;
}

static int cmd_setup(void)
{
	struct sluice_service_spec *sp = sluice_spec_new();
	struct sluice *s = NULL;
	double t0 = now();
	int err, v6;

	if (!sp)
		return -ENOMEM;
	s = open_instance(true);
	if (!s) {
		err = -errno;
		goto out;
	}
	for (v6 = 0; v6 <= 1; v6++) {
		err = bench_spec_mode(sp, v6 ? "bench6" : "bench4", v6,
				      o.pool_set ? o.pool : 1, o.mode);
		if (err)
			goto out;
		err = sluice_service_put(s, sp);
		if (err) {
			fail(s, err, "service put");
			goto out;
		}
	}
	printf("{\"pin\":\"%s\",\"mode\":\"%s\",\"weight_bp\":%u,\"setup_s\":%.4f",
	       o.pin, sluice_mode_names[o.mode], o.weight, now() - t0);
	err = do_attach(s);
	printf("}\n");
out:
	sluice_spec_free(sp);
	sluice_close(s);
	return err;
}

static int cmd_attach(void)
{
	struct sluice *s = open_instance(false);
	int err;

	if (!s)
		return -errno;
	printf("{\"pin\":\"%s\"", o.pin);
	err = do_attach(s);
	printf("}\n");
	sluice_close(s);
	return err;
}

static int cmd_destroy(void)
{
	int err = sluice_destroy(o.pin);

	if (err)
		fprintf(stderr, "Error: removing %s: %s\n", o.pin, strerror(-err));
	else
		printf("{\"destroyed\":\"%s\"}\n", o.pin);
	return err;
}

static int cmd_events(void)
{
	struct sluice_flow_stats st[SLUICE_VARIANTS][SLUICE_MAX_RINGS];
	static const char *const names[] = { "bench4", "bench6" };
	__u64 ev[SLUICE_EV_MAX] = {}, est = 0, unc = 0, pk[2], fwd = 0, miss;
	char per[256] = "";
	struct sluice *s = open_instance(false);
	int i, v, r, err;
	__u32 id;

	if (!s)
		return -errno;
	err = sluice_events_get(s, ev);
	if (err) {
		err = fail(s, err, "events");
		goto out;
	}
	/* forwarded packets are the services' packet counters; hits on the
	 * established table are what is left after misses and unconfirmed
	 * hits (the datapath keeps no hot-path event for them) */
	for (i = 0; i < 2; i++) {
		if (sluice_service_lookup(s, names[i], &id) ||
		    sluice_stats_get(s, id, st))
			continue;
		for (v = 0; v < SLUICE_VARIANTS; v++)
			for (pk[v] = 0, r = 0; r < SLUICE_MAX_RINGS; r++)
				pk[v] += st[v][r].packets;
		fwd += pk[0] + pk[1];
		snprintf(per + strlen(per), sizeof(per) - strlen(per),
			 ",\"%s\":{\"baseline\":%llu,\"canary\":%llu}", names[i],
			 (unsigned long long)pk[0], (unsigned long long)pk[1]);
	}
	printf("{\"events\":{");
	for (i = 0; i < SLUICE_EV_MAX; i++)
		printf("%s\"%s\":%llu", i ? "," : "", sluice_event_name(i),
		       (unsigned long long)ev[i]);
	miss = ev[SLUICE_EV_CONN_MISS] + ev[SLUICE_EV_CONN_NEW_HIT];
	printf(",\"forwarded\":%llu,\"conn_hit\":%llu}%s",
	       (unsigned long long)fwd,
	       (unsigned long long)(fwd > miss ? fwd - miss : 0), per);
	if (o.n) {	/* --n 1: also count the connection tables (a walk) */
		sluice_conn_count(s, &est, &unc);
		printf(",\"conn_est\":%llu,\"conn_new\":%llu",
		       (unsigned long long)est, (unsigned long long)unc);
	}
	printf("}\n");
out:
	sluice_close(s);
	return err;
}

/* The first in-use baseline backend id of service svc_id, via the pinned,
 * mmapable backends map. */
static int baseline_backend(__u32 svc_id, __u32 *be_id)
{
	size_t len = (size_t)SLUICE_MAX_BACKENDS * sizeof(struct sluice_backend);
	struct sluice_backend *be;
	char path[512];
	int fd, err = -ENOENT;
	__u32 i;

	snprintf(path, sizeof(path), "%s/backends", o.pin);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	be = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (be == MAP_FAILED)
		return -errno;
	for (i = 0; i < SLUICE_MAX_BACKENDS; i++)
		if ((be[i].flags & SLUICE_BE_IN_USE) && be[i].svc_id == svc_id &&
		    be[i].variant == SLUICE_BASELINE) {
			*be_id = i;
			err = 0;
			break;
		}
	munmap(be, len);
	return err;
}

/*
 * fill: write --n entries into conn_est, keys as the generator makes them
 * (source = --src + f / nports, port = --sport + f % nports, to the VIP port
 * 80), values pointing at the service's first baseline backend. The table
 * keeps per-CPU LRU lists (BPF_F_NO_COMMON_LRU): each CPU owns
 * max_entries / ncpus free entries, so the writes are spread over CPUs.
 */
static int cmd_fill(void)
{
	const unsigned int chunk = 8192;
	int ncpu = libbpf_num_possible_cpus(), fd = -1, err = 0, c;
	struct sluice_conn_key *keys = NULL;
	struct sluice_conn *vals = NULL;
	union sluice_addr src, dst;
	struct sluice *s = NULL;
	__u8 fam, vfam;
	__u32 svc_id, be_id = 0, f = 0, i, n, count, tick;
	__u64 est = 0, unc = 0;
	char path[512];
	double t0;

	if (!o.src)
		o.src = o.family == 6 ? "fd00:201::1" : "10.201.0.1";
	if (sluice_parse_addr(o.src, &src, &fam) ||
	    sluice_parse_addr(o.family == 6 ? o.vip6 : o.vip4, &dst, &vfam) ||
	    fam != vfam || !o.nports || o.sport + o.nports > 65536) {
		fprintf(stderr, "Error: bad --src, --family or --nports\n");
		return -EINVAL;
	}
	s = open_instance(false);
	if (!s)
		return -errno;
	err = sluice_service_lookup(s, o.svc ? o.svc :
				    (o.family == 6 ? "bench6" : "bench4"), &svc_id);
	if (err) {
		err = fail(s, err, "fill");
		goto out;
	}
	err = baseline_backend(svc_id, &be_id);
	if (err) {
		fprintf(stderr, "Error: no baseline backend for service %u\n", svc_id);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/conn_est", o.pin);
	fd = bpf_obj_get(path);
	keys = calloc(chunk, sizeof(*keys));
	vals = calloc(chunk, sizeof(*vals));
	if (fd < 0 || !keys || !vals) {
		err = fd < 0 ? -errno : -ENOMEM;
		fprintf(stderr, "Error: conn_est: %s\n", strerror(-err));
		goto out;
	}
	t0 = now();
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);	/* bpf_ktime_get_ns */
		tick = (__u32)(((__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec) >>
			       SLUICE_SEEN_SHIFT);
	}
	for (c = 0; c < ncpu && f < o.n; c++) {
		__u32 end = c == ncpu - 1 ? o.n : (__u32)((__u64)o.n * (c + 1) / ncpu);
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(c, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			continue;	/* offline: the next CPU takes more */
		while (f < end) {
			LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);

			n = end - f < chunk ? end - f : chunk;
			for (i = 0; i < n; i++, f++) {
				struct sluice_conn_key *k = &keys[i];
				__u32 var = f / o.nports, w;

				memset(k, 0, sizeof(*k));
				k->src = src;
				k->dst = dst;
				if (fam == AF_INET6) {
					w = ntohl(src.v6[3]) + var;
					k->src.v6[3] = htonl(w);
				} else {
					k->src.v4 = htonl(ntohl(src.v4) + var);
				}
				k->sport = htons(o.sport + f % o.nports);
				k->dport = htons(80);
				k->proto = fam == AF_INET6 ? IPPROTO_UDP : IPPROTO_TCP;
				k->family = fam;
				memset(&vals[i], 0, sizeof(vals[i]));
				vals[i].backend_id = be_id;
				vals[i].svc_id = svc_id;
				vals[i].variant = SLUICE_BASELINE;
				vals[i].gen = 1;
				vals[i].seen = tick;	/* a live UDP flow */
			}
			count = n;
			if (bpf_map_update_batch(fd, keys, vals, &count, &bo)) {
				err = -errno;
				fprintf(stderr, "Error: batch update of conn_est: %s\n",
					strerror(errno));
				goto out;
			}
		}
	}
	printf("{\"filled\":%u,\"fill_s\":%.3f", f, now() - t0);
	sluice_conn_count(s, &est, &unc);
	printf(",\"conn_est\":%llu,\"conn_new\":%llu}\n",
	       (unsigned long long)est, (unsigned long long)unc);
out:
	if (fd >= 0)
		close(fd);
	free(keys);
	free(vals);
	sluice_close(s);
	return err;
}

/* ---- memory: bytes_memlock of every map of the instance ---------------- */

static long long fd_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

#define MAX_SEEN 8192
static __u32 seen[MAX_SEEN];
static unsigned int nseen;

static bool seen_add(__u32 id)
{
	unsigned int i;

	for (i = 0; i < nseen; i++)
		if (seen[i] == id)
			return false;
	if (nseen < MAX_SEEN)
		seen[nseen++] = id;
	return true;
}

/* Prints "memory":{maps..., "svc_cfg_inner":{n, bytes}, "total": bytes} */
static void print_memory(void)
{
	long long total = 0, inner = 0, m;
	unsigned int ninner = 0, first = 1;
	struct dirent *de;
	int fd, cfg_fd = -1;
	char path[1024];
	__u32 i, id;
	DIR *d;

	nseen = 0;
	printf("\"memory\":{");
	d = opendir(o.pin);
	while (d && (de = readdir(d))) {
		struct bpf_map_info info = {};
		struct bpf_prog_info pinfo = {};
		__u32 len = sizeof(info), plen = sizeof(pinfo), ids[64], k;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", o.pin, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!strncmp(de->d_name, "prog_", 5)) {
			/* maps the program uses that are not pinned (.rodata) */
			pinfo.nr_map_ids = 64;
			pinfo.map_ids = (__u64)(unsigned long)ids;
			if (!bpf_obj_get_info_by_fd(fd, &pinfo, &plen))
				for (k = 0; k < pinfo.nr_map_ids && k < 64; k++) {
					int mfd;

					if (!seen_add(ids[k]) ||
					    (mfd = bpf_map_get_fd_by_id(ids[k])) < 0)
						continue;
					m = fd_memlock(mfd);
					len = sizeof(info);
					memset(&info, 0, sizeof(info));
					bpf_obj_get_info_by_fd(mfd, &info, &len);
					printf("%s\"%s\":%lld", first ? "" : ",",
					       info.name, m);
					first = 0;
					total += m > 0 ? m : 0;
					close(mfd);
				}
			close(fd);
			continue;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || !seen_add(info.id)) {
			close(fd);
			continue;
		}
		m = fd_memlock(fd);
		printf("%s\"%s\":%lld", first ? "" : ",", de->d_name, m);
		first = 0;
		total += m > 0 ? m : 0;
		if (!strcmp(de->d_name, "svc_cfg"))
			cfg_fd = fd;
		else
			close(fd);
	}
	if (d)
		closedir(d);
	/* the per-service configuration inner maps (Maglev tables) */
	for (i = 0; cfg_fd >= 0 && i < SLUICE_MAX_SERVICES; i++) {
		if (bpf_map_lookup_elem(cfg_fd, &i, &id))
			continue;
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		m = fd_memlock(fd);
		inner += m > 0 ? m : 0;
		ninner++;
		close(fd);
	}
	if (cfg_fd >= 0)
		close(cfg_fd);
	total += inner;
	printf("%s\"svc_cfg_inner\":{\"maps\":%u,\"bytes\":%lld},\"total\":%lld}",
	       first ? "" : ",", ninner, inner, total);
}

static int cmd_mem(void)
{
	printf("{");
	print_memory();
	printf("}\n");
	return 0;
}

/* ---- scale: many services and backends --------------------------------- */

static void scale_addr(unsigned int g, __u8 fam, union sluice_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (fam == AF_INET) {
		a->v4 = htonl(0xac100000u + g + 1);	/* 172.16/12 */
	} else {
		a->v6[0] = htonl(0xfd000172);
		a->v6[3] = htonl(g + 1);
	}
}

/*
 * --services services with --backends backends in all: service 0 is bench4
 * (the one traffic reaches; its backends are sink 1/sink 2 by MAC), the
 * others VIP 10.110.x.y:80/tcp with 172.16/12 backends, half baseline and
 * half canary, all behind lb1/lb2. Then: memory, --services weight
 * changes, revert --all, resume; attaches per --attach at the end.
 */
static int cmd_scale(void)
{
	struct sluice_service_spec *sp = sluice_spec_new();
	unsigned int per = o.backends / o.services, i, k, g = 0;
	double *t = calloc(o.services, sizeof(double)), t0, t1, tot;
	struct sluice *s = NULL;
	int err = 0, rc, pass;

	if (!sp || !t)
		return -ENOMEM;
	if (per < 2 || o.services < 1 || o.services > SLUICE_MAX_SERVICES) {
		fprintf(stderr, "Error: need 1..%d services and >= 2 backends each\n",
			SLUICE_MAX_SERVICES);
		err = -EINVAL;
		goto out;
	}
	s = open_instance(true);
	if (!s) {
		err = -errno;
		goto out;
	}
	t0 = now();
	for (i = 0; i < o.services; i++) {
		double ts = now();

		if (i == 0) {
			err = bench_spec(sp, "bench4", 0, per / 2);
			if (err)
				goto out;
			g += per;
		} else {
			const struct target *tg[2] = { &o.base, &o.canary };

			memset(sp, 0, sizeof(*sp));
			snprintf(sp->name, sizeof(sp->name), "svc%04u", i);
			sp->family = AF_INET;
			sp->vip.v4 = htonl(0x0a6e0000u + (i / 250) * 256 + i % 250 + 1);
			sp->port = 80;
			sp->proto = IPPROTO_TCP;
			sp->mode = SLUICE_MODE_DSR;
			sp->table_size = SLUICE_TABLE_DEFAULT;
			for (k = 0; k < SLUICE_MAX_RINGS; k++)
				sp->weight[k] = o.weight;
			for (k = 0; k < per; k++, g++) {
				int v = k < per / 2 ? SLUICE_BASELINE : SLUICE_CANARY;
				struct sluice_backend_spec *b =
					&sp->pool[v].be[sp->pool[v].n++];

				scale_addr(g, AF_INET, &b->addr);
				b->family = AF_INET;
				b->weight = 100;
				b->has_mac = true;
				sluice_parse_mac(tg[v]->mac, b->mac);
				snprintf(b->dev, sizeof(b->dev), "%s", tg[v]->dev);
			}
		}
		err = sluice_service_put(s, sp);
		if (err) {
			fail(s, err, "service put");
			goto out;
		}
		t[i] = now() - ts;
	}
	tot = now() - t0;
	printf("{\"services\":%u,\"backends\":%u,\"configure_s\":%.3f,",
	       o.services, g, tot);
	print_dist("put_ms", t, o.services, 1e3);
	printf(",");
	print_memory();

	/*
	 * Weight changes, one per service, twice: the first pass is the first
	 * change after sluice_service_put, the second one the next change.
	 * (sluice_set_weight takes the exposure fast path only when the
	 * service's published gen is mirrored; otherwise it republishes the
	 * configuration, which waits for an RCU grace period.)
	 */
	for (pass = 1; pass <= 2; pass++) {
		t0 = now();
		for (i = 0; i < o.services; i++) {
			char name[SLUICE_NAME_LEN];

			if (i == 0)
				snprintf(name, sizeof(name), "bench4");
			else
				snprintf(name, sizeof(name), "svc%04u", i);
			t1 = now();
			err = sluice_set_weight(s, name, -1, 500 * pass + i % 500);
			if (err) {
				printf("}\n");
				fail(s, err, "set weight");
				goto out;
			}
			t[i] = now() - t1;
		}
		tot = now() - t0;
		printf(",\"weight_changes_pass%d\":{\"n\":%u,\"total_ms\":%.3f,",
		       pass, o.services, tot * 1e3);
		print_dist("each_us", t, o.services, 1e6);
		printf("}");
	}
	/* back to the configured weight for the traffic that follows */
	err = sluice_set_weight(s, "bench4", -1, o.weight);

	/* revert --all: one kill-switch write; then resume */
	t0 = now();
	rc = sluice_revert(s, NULL, false);
	t1 = now();
	printf(",\"revert_all_us\":%.2f,\"revert_rc\":%d", (t1 - t0) * 1e6, rc);
	t0 = now();
	rc = sluice_resume(s, NULL);
	printf(",\"resume_all_us\":%.2f,\"resume_rc\":%d", (now() - t0) * 1e6, rc);
	err = do_attach(s);
	printf("}\n");
out:
	free(t);
	sluice_spec_free(sp);
	sluice_close(s);
	return err;
}

/* ---- swap: rebuild and swap one service's tables ----------------------- */

static int cmd_swap(void)
{
	struct sluice_service_spec *sp = sluice_spec_new();
	double *tp = calloc(o.reps, sizeof(double));
	double *tm = calloc(o.reps, sizeof(double));
	double *tx = calloc(o.reps, sizeof(double));
	struct sluice_maglev_in *mg = calloc(o.pool, sizeof(*mg));
	__u32 *table = calloc(o.table, sizeof(__u32));
	struct sluice *s = NULL;
	unsigned int r, k, v;
	__u32 spare = SLUICE_MAX_SERVICES - 1, elems;
	int err = 0, cfg_fd = -1, fd;
	char path[512];

	if (!sp || !tp || !tm || !tx || !mg || !table) {
		err = -ENOMEM;
		goto out;
	}
	s = open_instance(true);
	if (!s) {
		err = -errno;
		goto out;
	}
	/* one service, --pool backends in each pool, table --table */
	snprintf(sp->name, sizeof(sp->name), "swap%u", o.table);
	sp->family = AF_INET;
	sp->vip.v4 = htonl(0x0a780000u + o.table % 65536);	/* 10.120/16 */
	sp->port = 8080;
	sp->proto = IPPROTO_TCP;
	sp->mode = SLUICE_MODE_DSR;
	sp->table_size = o.table;
	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (k = 0; k < o.pool; k++) {
			struct sluice_backend_spec *b = &sp->pool[v].be[sp->pool[v].n++];

			scale_addr(0x80000 + v * 65536 + k, AF_INET, &b->addr);
			b->family = AF_INET;
			b->weight = 100;
			b->has_mac = true;
			sluice_parse_mac(v ? o.canary.mac : o.base.mac, b->mac);
		}
	err = sluice_service_put(s, sp);
	if (err) {
		fail(s, err, "service put");
		goto out;
	}
	/* a changed pool each time: the last baseline backend leaves, returns */
	for (r = 0; r < o.reps; r++) {
		double t0;

		sp->pool[SLUICE_BASELINE].n = o.pool - (r % 2 == 0);
		t0 = now();
		err = sluice_service_put(s, sp);
		tp[r] = now() - t0;
		if (err) {
			fail(s, err, "service put");
			goto out;
		}
	}
	/* the table build alone (one table; a put builds two) */
	for (k = 0; k < o.pool; k++) {
		mg[k].id = k;
		mg[k].weight = 100;
		mg[k].key = 0x9e3779b97f4a7c15ull * (k + 1);
	}
	for (r = 0; r < o.reps; r++) {
		double t0 = now();

		err = sluice_maglev_build(mg, o.pool - (r % 2 == 0), o.table, table);
		tm[r] = now() - t0;
		if (err) {
			fprintf(stderr, "Error: maglev build: %s\n", strerror(-err));
			goto out;
		}
	}
	/* the swap alone: a frozen inner map of the same size into an unused
	 * svc_cfg slot (no service key points there) */
	snprintf(path, sizeof(path), "%s/svc_cfg", o.pin);
	cfg_fd = bpf_obj_get(path);
	if (cfg_fd < 0) {
		err = -errno;
		fprintf(stderr, "Error: svc_cfg: %s\n", strerror(errno));
		goto out;
	}
	elems = 1 + SLUICE_VARIANTS * ((o.table + SLUICE_SLOTS_PER_ELEM - 1) /
				       SLUICE_SLOTS_PER_ELEM);
	for (r = 0; r < o.reps; r++) {
		LIBBPF_OPTS(bpf_map_create_opts, mo,
			    .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
		double t0;

		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench_swap", sizeof(__u32),
				    sizeof(struct sluice_slots), elems, &mo);
		if (fd < 0 || bpf_map_freeze(fd)) {
			err = -errno;
			fprintf(stderr, "Error: inner map: %s\n", strerror(errno));
			goto out;
		}
		t0 = now();
		err = bpf_map_update_elem(cfg_fd, &spare, &fd, BPF_ANY);
		tx[r] = now() - t0;
		close(fd);
		if (err) {
			err = -errno;
			fprintf(stderr, "Error: svc_cfg update: %s\n", strerror(errno));
			goto out;
		}
	}
	bpf_map_delete_elem(cfg_fd, &spare);
	printf("{\"table\":%u,\"pool\":%u,\"inner_map_bytes\":%u,", o.table,
	       o.pool, elems * (unsigned int)sizeof(struct sluice_slots));
	print_dist("service_put_ms", tp, o.reps, 1e3);
	printf(",");
	print_dist("maglev_build_ms", tm, o.reps, 1e3);
	printf(",");
	print_dist("svc_cfg_swap_ms", tx, o.reps, 1e3);
	printf("}\n");
	sluice_service_del(s, sp->name);
out:
	if (cfg_fd >= 0)
		close(cfg_fd);
	free(tp);
	free(tm);
	free(tx);
	free(mg);
	free(table);
	sluice_spec_free(sp);
	sluice_close(s);
	return err;
}

/* Is a (network order) address inside the prefix? */
static bool in_prefix(const union sluice_addr *a, __u8 family,
		      const struct sluice_prefix *p)
{
	const __u8 *x = (const __u8 *)a, *y = (const __u8 *)&p->addr;
	unsigned int bits = p->len, i;

	if (family != p->family)
		return false;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (x[i] != y[i])
			return false;
	return !bits || !((x[i] ^ y[i]) & (0xff00 >> bits));
}

/* Walk one pinned connection table: entries in all, and from --src PREFIX */
static int count_table(const char *name, const struct sluice_prefix *p,
		       __u64 *all, __u64 *from)
{
	struct sluice_conn_key k, next;
	void *prev = NULL;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", o.pin, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	*all = *from = 0;
	if (!strcmp(name, "conn_new")) {	/* slots: sluice_abi.h */
		struct bpf_map_info info = {};
		__u32 len = sizeof(info), i;
		struct sluice_conn_slot *sl;

		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    info.value_size != sizeof(*sl) ||
		    (sl = mmap(NULL, (size_t)info.max_entries * sizeof(*sl), PROT_READ,
			       MAP_SHARED, fd, 0)) == MAP_FAILED) {
			close(fd);
			return -EINVAL;
		}
		for (i = 0; i < info.max_entries; i++) {
			if (!sl[i].key.family ||
			    sl[i].check != sluice_slot_check(sluice_key_hash(&sl[i].key),
							      &sl[i].conn))
				continue;
			++*all;
			*from += in_prefix(&sl[i].key.src, sl[i].key.family, p);
		}
		munmap(sl, (size_t)info.max_entries * sizeof(*sl));
		close(fd);
		return 0;
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		++*all;
		*from += in_prefix(&k.src, k.family, p);
	}
	close(fd);
	return 0;
}

/*
 * conns: the connection tables' fill, and how many entries come from the
 * sources in --src PREFIX (a flood's): the flood benchmark follows how its
 * entries leave the unconfirmed table.
 */
static int cmd_conns(void)
{
	static const char *const names[] = { "conn_est", "conn_new" };
	struct sluice_prefix p;
	__u64 all, from;
	int i, err;

	if (!o.src || sluice_parse_prefix(o.src, &p)) {
		fprintf(stderr, "Error: conns needs --src PREFIX (e.g. 10.250.0.0/16)\n");
		return -EINVAL;
	}
	printf("{\"t\":%.3f", now());
	for (i = 0; i < 2; i++) {
		err = count_table(names[i], &p, &all, &from);
		if (err) {
			fprintf(stderr, "\nError: %s: %s\n", names[i], strerror(-err));
			return err;
		}
		printf(",\"%s\":%llu,\"%s_from\":%llu", names[i],
		       (unsigned long long)all, names[i], (unsigned long long)from);
	}
	printf("}\n");
	return 0;
}

/* ---- command table ------------------------------------------------------ */

struct cmd {
	const char *name;
	int (*fn)(void);
	const char *args;
};

static const struct cmd cmds[] = {
	{ "setup", cmd_setup, "[--attach xdp|tc|none] [--dev DEV] [--weight BP] [--conn N] [--conn-new N] [--pool N]\n"
	  "           [--mode dsr|ipip|nat] [--tunnel-src4 PREFIX] [--tunnel-src6 PREFIX]" },
	{ "attach", cmd_attach, "--attach xdp|tc [--dev DEV]" },
	{ "events", cmd_events, "[--n 1 (count the tables)]" },
	{ "fill", cmd_fill, "--n N [--family 4|6] [--src ADDR] [--sport P] [--nports K] [--svc NAME]" },
	{ "conns", cmd_conns, "--src PREFIX (entries from it, and in all)" },
	{ "mem", cmd_mem, "" },
	{ "scale", cmd_scale, "[--services N] [--backends N] [--attach ...] [--dev DEV]" },
	{ "swap", cmd_swap, "[--table PRIME] [--pool N] [--reps N]" },
	{ "destroy", cmd_destroy, "" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: slconf [-N NETNS] [-p PIN] [-v] COMMAND [OPTIONS]\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].args);
	fprintf(f, "Common: --vip4 A --vip6 A --base A4,A6,MAC,DEV --canary A4,A6,MAC,DEV\n");
}

static int parse_target(char *arg, struct target *t)
{
	char *p[4], *save = NULL;
	int i;

	for (i = 0; i < 4; i++) {
		p[i] = strtok_r(i ? NULL : arg, ",", &save);
		if (!p[i])
			return -EINVAL;
	}
	t->a4 = p[0];
	t->a6 = p[1];
	t->mac = p[2];
	t->dev = p[3];
	return 0;
}

static int enter_netns(const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "Error: cannot enter network namespace %s: %s\n",
			name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "attach", required_argument, NULL, 'a' },
		{ "dev", required_argument, NULL, 'd' },
		{ "weight", required_argument, NULL, 'w' },
		{ "conn", required_argument, NULL, 'C' },
		{ "conn-new", required_argument, NULL, 'c' },
		{ "vip4", required_argument, NULL, '4' },
		{ "vip6", required_argument, NULL, '6' },
		{ "base", required_argument, NULL, 'B' },
		{ "canary", required_argument, NULL, 'K' },
		{ "n", required_argument, NULL, 'n' },
		{ "family", required_argument, NULL, 'F' },
		{ "src", required_argument, NULL, 'S' },
		{ "sport", required_argument, NULL, 'P' },
		{ "nports", required_argument, NULL, 'Q' },
		{ "svc", required_argument, NULL, 's' },
		{ "services", required_argument, NULL, 'e' },
		{ "backends", required_argument, NULL, 'b' },
		{ "table", required_argument, NULL, 't' },
		{ "reps", required_argument, NULL, 'r' },
		{ "pool", required_argument, NULL, 'o' },
		{ "mode", required_argument, NULL, 'm' },
		{ "tunnel-src4", required_argument, NULL, 'T' },
		{ "tunnel-src6", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const struct cmd *cmd = NULL;
	size_t i, len;
	int c, err;

	while ((c = getopt(argc, argv, "+N:p:vh")) != -1) {
		switch (c) {
		case 'N': o.netns = optarg; break;
		case 'p': o.pin = optarg; break;
		case 'v': o.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* unique-prefix match of the command */
	len = strlen(argv[optind]);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strncmp(cmds[i].name, argv[optind], len)) {
			if (cmd) {
				fprintf(stderr, "Error: '%s' is ambiguous; try 'slconf --help'\n",
					argv[optind]);
				return 2;
			}
			cmd = &cmds[i];
		}
	if (!cmd) {
		fprintf(stderr, "Error: unknown command '%s'; try 'slconf --help'\n",
			argv[optind]);
		return 2;
	}
	optind++;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'a': o.attach = optarg; break;
		case 'd': o.dev = optarg; break;
		case 'w': o.weight = strtoul(optarg, NULL, 0); break;
		case 'C': o.conn = strtoul(optarg, NULL, 0); break;
		case 'c': o.conn_new = strtoul(optarg, NULL, 0); break;
		case '4': o.vip4 = optarg; break;
		case '6': o.vip6 = optarg; break;
		case 'B':
		case 'K':
			if (parse_target(optarg, c == 'B' ? &o.base : &o.canary)) {
				fprintf(stderr, "Error: --base/--canary want ADDR4,ADDR6,MAC,DEV\n");
				return 2;
			}
			break;
		case 'n': o.n = strtoul(optarg, NULL, 0); break;
		case 'F': o.family = atoi(optarg); break;
		case 'S': o.src = optarg; break;
		case 'P': o.sport = strtoul(optarg, NULL, 0); break;
		case 'Q': o.nports = strtoul(optarg, NULL, 0); break;
		case 's': o.svc = optarg; break;
		case 'e': o.services = strtoul(optarg, NULL, 0); break;
		case 'b': o.backends = strtoul(optarg, NULL, 0); break;
		case 't': o.table = strtoul(optarg, NULL, 0); break;
		case 'r': o.reps = strtoul(optarg, NULL, 0); break;
		case 'o':
			o.pool = strtoul(optarg, NULL, 0);
			o.pool_set = 1;
			break;
		case 'm':
			for (i = 0; i < SLUICE_MODES; i++)
				if (!strcmp(optarg, sluice_mode_names[i]))
					break;
			if (i == SLUICE_MODES) {
				fprintf(stderr, "Error: --mode must be dsr, ipip or nat\n");
				return 2;
			}
			o.mode = i;
			break;
		case 'T': o.tun4 = optarg; break;
		case 'U': o.tun6 = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.weight > SLUICE_BUCKETS || !o.reps || !o.pool ||
	    o.pool > SLUICE_POOL_MAX) {
		fprintf(stderr, "Error: --weight 0..10000, --reps >= 1, --pool 1..%d\n",
			SLUICE_POOL_MAX);
		return 2;
	}
	if (o.netns && enter_netns(o.netns))
		return 1;
	err = cmd->fn();
	return err ? 1 : 0;
}
