// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Numbers of the backend health checks (`make hcbench`):
 *   flows  share of new flows moved when one backend of N leaves its pool
 *          (marked down), measured through the datapath (BPF_PROG_TEST_RUN)
 *          against the ideal 1/N, and the share of flows of the other
 *          backends that moved (Maglev's disruption)
 *   death  time from a backend's server dying (its listener closed) to
 *          the backend being out of the maps (sluice_backend_health_set
 *          returned), for tcp checks at 100 ms and 1 s, fall 3
 *   cpu    CPU time of the checker (user + system, this process only: the
 *          servers run in a child) with 500 backends checked each second,
 *          tcp and http, and 100 command checks each second; tcp and
 *          http again as sluiced runs them ("loop": on one shared
 *          scheduler with the daemon's HTTP client and command runner)
 * `hcbench [flows|death|cpu]...` (default: all); one JSON object per
 * result on stdout, a table on stderr. Needs root for flows and death.
 */
#include <linux/bpf.h>
#include <poll.h>
#include <signal.h>
#include <math.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "fixture.h"
#include "pool_sync.h"
#include "cmdrun.h"
#include "httpc.h"
#include "scheduler.h"

static __u64 mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- flows ------------------------------------------------------------- */

#define NPROBE 20000

static void place(int prog, int *be)
{
	int i;

	for (i = 0; i < NPROBE; i++) {
		char src[32];
		struct flow f;

		snprintf(src, sizeof(src), "198.%d.%d.%d", 18 + i / 62500, (i / 250) % 250,
			 i % 250 + 1);
		f = flow4(src, "192.0.2.60", 1024 + i % 60000, 443, IPPROTO_TCP, F_SYN);
		be[i] = t_send(prog, &f, NULL);
	}
	t_clear_unconfirmed(t_pin_dir);
}

static void bench_flows(void)
{
	static const int sizes[] = { 4, 10, 50, 100, 100 };
	static int before[NPROBE], after[NPROBE];
	struct sluice *s = t_instance("hcbench", 0);
	int prog = sluice_prog_fd(s, SLUICE_PROG_XDP), k;

	fprintf(stderr, "one backend of N marked down (%d new flows, 5 removals each):\n"
		"     N   table   moved   ideal 1/N   ratio   others moved\n", NPROBE);
	for (k = 0; k < 5; k++) {
		int n = sizes[k], r, i;
		struct sluice_service_spec *sp = t_spec("hcb", "192.0.2.60", 443, IPPROTO_TCP, n, 0);
		double moved = 0, others = 0;

		if (k == 4)	/* Maglev's disruption shrinks with M/N */
			sp->table_size = SLUICE_TABLE_MAX;
		sluice_service_put(s, sp);
		sluice_set_weight(s, "hcb", -1, 0);
		place(prog, before);
		for (r = 0; r < 5; r++) {
			int dead = (r * 7919) % n, mv = 0, ot = 0;
			struct sluice_health_mark m = { .addr = sp->pool[0].be[dead].addr,
							.family = sp->pool[0].be[dead].family };

			m.down = true;
			sluice_backend_health_set(s, "hcb", &m, 1, NULL);
			place(prog, after);
			for (i = 0; i < NPROBE; i++) {
				mv += after[i] != before[i];
				ot += before[i] != dead && after[i] != before[i];
			}
			moved += (double)mv / NPROBE / 5;
			others += (double)ot / NPROBE / 5;
			m.down = false;
			sluice_backend_health_set(s, "hcb", &m, 1, NULL);
		}
		fprintf(stderr, "  %4d  %6u  %6.4f     %6.4f   %5.3f       %6.4f\n", n, sp->table_size,
			moved, 1.0 / n, moved * n, others);
		printf("{\"bench\": \"flows_moved\", \"backends\": %d, \"table_size\": %u, \"moved\": %.5f, \"ideal\": %.5f, \"ratio\": %.4f, \"others_moved\": %.5f}\n",
		       n, sp->table_size, moved, 1.0 / n, moved * n, others);
		sluice_service_del(s, "hcb");
		sluice_spec_free(sp);
	}
}

/* ---- death -------------------------------------------------------------- */

static int listen_port(__u16 *port, bool nonblock)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(*port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

static __u64 removed_us;

static void on_removed(void *arg, const struct hs_event *e)
{
	if (e->ev == HC_EV_DOWN && e->applied)
		removed_us = mono_us();
}

static void bench_death(void)
{
	static const __u32 intervals[] = { 100, 1000 };
	struct sluice *s = t_sl ? t_sl : t_instance("hcbench", 0);
	int k;

	fprintf(stderr, "death of a backend's server -> out of the maps (tcp check, fall 3):\n");
	for (k = 0; k < 2; k++) {
		__u32 iv = intervals[k];
		int runs = iv < 1000 ? 10 : 4, r;
		double v[10], sum = 0;

		for (r = 0; r < runs; r++) {
			char yaml[2048], err[512];
			struct sluice_config *cf;
			struct hc_opts o = {};
			struct pollfd p;
			struct hs *h;
			__u16 port = 0;
			int lfd = listen_port(&port, true), c;
			__u64 t0, end;

			snprintf(yaml, sizeof(yaml),
				 "services:\n  - name: hcd\n    vip: 192.0.2.61\n    port: 80\n    mode: nat\n"
				 "    baseline:\n      backends:\n"
				 "        - {address: 10.10.0.1, health_check: {type: tcp, interval: %ums, timeout: %ums, fall: 3, address: 127.0.0.1, port: %u}}\n"
				 "        - {address: 10.10.0.2}\n",
				 iv, iv < 500 ? iv : 500, port);
			cf = sluice_config_parse_string(yaml, "<hcd>", err, sizeof(err));
			sluice_config_apply(s, cf, &(struct sluice_apply_opts){ .keep = true }, NULL);
			h = hs_new(s, &o, on_removed, NULL, err, sizeof(err));
			hs_configure(h, cf);
			p.fd = hs_fd(h);
			p.events = POLLIN;
			/* let it settle, then kill at a random phase of the interval */
			end = mono_us() + (2 * iv + rand() % iv) * 1000ull;
			while (mono_us() < end) {
				poll(&p, 1, 10);
				hs_dispatch(h);
				while ((c = accept(lfd, NULL, NULL)) >= 0)
					close(c);
			}
			removed_us = 0;
			t0 = mono_us();
			close(lfd);
			end = t0 + 10ull * iv * 1000;
			while (!removed_us && mono_us() < end) {
				int to = hs_timeout_ms(h);

				poll(&p, 1, to < 0 || to > 50 ? 50 : to);
				hs_dispatch(h);
			}
			v[r] = removed_us ? (removed_us - t0) / 1000.0 : NAN;
			sum += v[r];
			hs_free(h);
			sluice_service_del(s, "hcd");
			sluice_config_free(cf);
		}
		{
			double lo = v[0], hi = v[0];

			for (r = 1; r < runs; r++) {
				lo = v[r] < lo ? v[r] : lo;
				hi = v[r] > hi ? v[r] : hi;
			}
			fprintf(stderr, "  interval %4u ms: mean %.0f ms, min %.0f, max %.0f over %d runs (bound: fall x interval = %u ms)\n",
				iv, sum / runs, lo, hi, runs, 3 * iv);
			printf("{\"bench\": \"death_to_removal_ms\", \"interval_ms\": %u, \"fall\": 3, \"runs\": %d, \"mean\": %.1f, \"min\": %.1f, \"max\": %.1f}\n",
			       iv, runs, sum / runs, lo, hi);
		}
	}
}

/* ---- cpu ------------------------------------------------------------------ */

/* The child: accept everything on n listeners; answer HTTP with 200. */
static void serve_all(int *lfd, int n)
{
	static const char rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
	int ep = epoll_create1(0), i;

	for (i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		epoll_ctl(ep, EPOLL_CTL_ADD, lfd[i], &ev);
	}
	for (;;) {
		struct epoll_event ev[64];
		int k = epoll_wait(ep, ev, 64, -1);

		for (i = 0; i < k; i++) {
			int c;

			while ((c = accept(lfd[ev[i].data.u32], NULL, NULL)) >= 0) {
				char buf[1024];
				struct pollfd p = { .fd = c, .events = POLLIN };

				if (poll(&p, 1, 20) > 0 && read(c, buf, sizeof(buf)) > 0 &&
				    write(c, rsp, sizeof(rsp) - 1) < 0) {
					/* the checker gave up: nothing to do */
				}
				close(c);
			}
		}
	}
}

static double cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void cpu_case(const char *name, __u8 type, int n, const __u16 *ports, double secs,
		     bool loop)
{
	struct hc_target *t = calloc(n, sizeof(*t));
	struct sched *s = loop ? sched_new() : NULL;
	struct hc_opts o = { .sched = s, .http = s ? httpc_new_on(s) : NULL,
			     .cmd = s ? cmdrun_new_on(s) : NULL };
	char err[256];
	struct hc *hc = hc_new(&o, err, sizeof(err));
	struct pollfd p;
	double c0, w0, c1, w1, k0, k1;
	__u64 checks = 0, fails = 0, late = 0;
	int i;

	for (i = 0; i < n; i++) {
		t[i].be_family = t[i].family = AF_INET;
		inet_pton(AF_INET, "127.0.0.1", t[i].be_addr.bytes);
		t[i].addr = t[i].be_addr;
		t[i].be_port = t[i].port = ports[i];
		snprintf(t[i].service, sizeof(t[i].service), "cpu");
		t[i].check.type = type;
		t[i].check.interval_ms = 1000;
		t[i].check.timeout_ms = 500;
		t[i].check.rise = 2;
		t[i].check.fall = 3;
		t[i].check.nexpect = 1;
		t[i].check.expect[0] = 200;
		snprintf(t[i].check.path, sizeof(t[i].check.path), "/");
		snprintf(t[i].check.command, sizeof(t[i].check.command), "exit 0");
	}
	hc_set_targets(hc, t, n);
	p.fd = hc_fd(hc);
	p.events = POLLIN;
	c0 = cpu_s(RUSAGE_SELF);
	k0 = cpu_s(RUSAGE_CHILDREN);	/* commands (the server is not reaped) */
	w0 = mono_us() / 1e6;
	while (mono_us() / 1e6 - w0 < secs) {
		int to = hc_timeout_ms(hc);

		if (loop) {	/* sluiced's loop: everything from its dispatch */
			sched_dispatch(s, 100);
			continue;
		}
		poll(&p, 1, to < 0 || to > 100 ? 100 : to);
		hc_dispatch(hc);
	}
	c1 = cpu_s(RUSAGE_SELF);
	k1 = cpu_s(RUSAGE_CHILDREN);
	w1 = mono_us() / 1e6;
	for (i = 0; i < n; i++) {
		struct hc_status st;

		hc_status_at(hc, i, &st);
		checks += st.checks;
		fails += st.failures;
		late += st.late;
	}
	fprintf(stderr, "  %-7s%-7s %4d backends, 1/s: %5.2f%% of one core (%.2f s CPU in %.1f s; their commands: %.2f%%), %llu checks, %llu failed, %llu late\n",
		name, loop ? " (loop)" : "", n, 100 * (c1 - c0) / (w1 - w0), c1 - c0, w1 - w0,
		100 * (k1 - k0) / (w1 - w0),
		(unsigned long long)checks, (unsigned long long)fails, (unsigned long long)late);
	printf("{\"bench\": \"checker_cpu\", \"type\": \"%s\", \"loop\": %s, \"backends\": %d, \"interval_ms\": 1000, \"cpu_pct_one_core\": %.3f, \"children_cpu_pct\": %.3f, \"checks\": %llu, \"failures\": %llu, \"late\": %llu}\n",
	       name, loop ? "true" : "false", n, 100 * (c1 - c0) / (w1 - w0), 100 * (k1 - k0) / (w1 - w0),
	       (unsigned long long)checks, (unsigned long long)fails, (unsigned long long)late);
	hc_free(hc);
	cmdrun_free(o.cmd);
	httpc_free(o.http);
	sched_free(s);
	free(t);
}

static void bench_cpu(double secs)
{
	enum { N = 500 };
	static int lfd[N];
	static __u16 ports[N];
	struct rlimit rl = { 8192, 8192 };
	pid_t pid;
	int i;

	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < N; i++)
		lfd[i] = listen_port(&ports[i], true);
	pid = fork();
	if (pid == 0) {
		serve_all(lfd, N);
		_exit(0);
	}
	for (i = 0; i < N; i++)
		close(lfd[i]);
	fprintf(stderr, "checker CPU (this process; the servers run in a child), %.0f s each:\n", secs);
	cpu_case("tcp", SLUICE_CHECK_TCP, N, ports, secs, false);
	cpu_case("http", SLUICE_CHECK_HTTP, N, ports, secs, false);
	cpu_case("command", SLUICE_CHECK_COMMAND, 100, ports, secs, false);
	cpu_case("tcp", SLUICE_CHECK_TCP, N, ports, secs, true);
	cpu_case("http", SLUICE_CHECK_HTTP, N, ports, secs, true);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	const char *secs = getenv("HCBENCH_SECONDS");
	bool all = argc < 2;
	int i;

	srand(1);
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc || all; i++) {
		const char *w = all ? NULL : argv[i];

		if (all || !strcmp(w, "flows"))
			bench_flows();
		if (all || !strcmp(w, "death"))
			bench_death();
		if (all || !strcmp(w, "cpu"))
			bench_cpu(secs ? atof(secs) : 10);
		if (all)
			break;
	}
	return 0;
}
