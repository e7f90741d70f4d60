// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health checks to the maps (user/daemon/health/pool_sync.c) against real listeners
 * on loopback and the real datapath (BPF_PROG_TEST_RUN): a backend whose
 * server dies leaves the table after fall failures and new flows stop
 * reaching it; it rejoins after rise successes; a pool whose every server
 * dies keeps all its backends and says so; a checker started over a pool
 * with backends down starts from the maps' state and changes nothing.
 * The DSR backends (fixture MACs) are checked through 127.0.0.1 and a
 * per-backend port (`health_check: {address, port}`).
 */
#include <linux/bpf.h>
#include <poll.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include "fixture.h"
#include "pool_sync.h"

#define NB 4

static int lfd[NB];
static __u16 lport[NB];

static int listen_port(__u16 *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(*port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0) {
		close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Accept and drop whatever the checker opened (the queue must not fill). */
static void drain(void)
{
	int i, c;

	for (i = 0; i < NB; i++)
		while (lfd[i] >= 0 && (c = accept4(lfd[i], NULL, NULL, SOCK_NONBLOCK)) >= 0)
			close(c);
}

static struct hs_event evs[64];
static int nev;

static void on_event(void *arg, const struct hs_event *e)
{
	if (nev < 64)
		evs[nev++] = *e;
	fprintf(stderr, "  event: %s\n", e->text);
}

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The loop as sluiced runs it, until nev reaches want or limit_ms pass. */
static bool run(struct hs *h, int want, __u64 limit_ms)
{
	struct pollfd p = { .fd = hs_fd(h), .events = POLLIN };
	__u64 end = mono_ms() + limit_ms;

	while (nev < want && mono_ms() < end) {
		int to = hs_timeout_ms(h);

		poll(&p, 1, to < 0 || to > 50 ? 50 : to);
		hs_dispatch(h);
		drain();
	}
	return nev >= want;
}

static int down_count(struct sluice *s, struct sluice_service_spec *got, bool *all)
{
	unsigned int i;
	int n = 0;

	sluice_service_get(s, "hs", got);
	for (i = 0; i < got->pool[0].n; i++)
		n += got->pool[0].be[i].down;
	*all = got->pool[0].all_down;
	return n;
}

/* Of n new flows, how many reached baseline backend idx. */
static int flows_to(int prog, int idx, int n, int base)
{
	int i, k = 0;

	for (i = 0; i < n; i++) {
		char src[32];
		struct flow f;

		snprintf(src, sizeof(src), "198.18.%d.%d", (base + i) / 250, (base + i) % 250 + 1);
		f = flow4(src, "192.0.2.50", 10000 + (i % 50000), 80, IPPROTO_TCP, F_SYN);
		k += t_send(prog, &f, NULL) == idx;
	}
	return k;
}

int main(void)
{
	struct sluice *s = t_instance("hsync", 0);
	struct sluice_service_spec *got = sluice_spec_new();
	struct hc_opts o = {};
	struct sluice_config *cf;
	char yaml[4096], err[512];
	struct hs *h;
	int prog, i, n, base = 0;
	bool all;
	__u32 gen;

	prog = sluice_prog_fd(s, SLUICE_PROG_XDP);
	if (!ASSERT_TRUE(prog >= 0, "XDP program loads"))
		return t_done();
	for (i = 0; i < NB; i++)
		lfd[i] = listen_port(&lport[i]);
	n = snprintf(yaml, sizeof(yaml),
		     "services:\n"
		     "  - name: hs\n    vip: 192.0.2.50\n    port: 80\n    mode: dsr\n"
		     "    health_check: {type: tcp, interval: 100ms, timeout: 100ms, fall: 3, rise: 2}\n"
		     "    baseline:\n      backends:\n");
	for (i = 0; i < NB; i++)
		n += snprintf(yaml + n, sizeof(yaml) - n,
			      "        - {address: 10.10.0.%d, mac: \"02:be:00:00:00:%02x\",\n"
			      "           health_check: {type: tcp, interval: 100ms, timeout: 100ms,\n"
			      "                          address: 127.0.0.1, port: %u}}\n",
			      i + 1, i, lport[i]);
	cf = sluice_config_parse_string(yaml, "<hs>", err, sizeof(err));
	if (!ASSERT_TRUE(cf != NULL, "configuration parses")) {
		fprintf(stderr, "%s\n", err);
		return t_done();
	}
	ASSERT_OK(sluice_config_apply(s, cf, &(struct sluice_apply_opts){}, NULL),
		  "configuration applied");
	h = hs_new(s, &o, on_event, NULL, err, sizeof(err));
	if (!ASSERT_TRUE(h != NULL, "checker"))
		return t_done();
	ASSERT_EQ(hs_configure(h, cf), NB, "4 targets");

	subtest("healthy backends: no event, no map change");
	sluice_service_get(s, "hs", got);
	gen = got->gen;
	run(h, 1, 1000);
	ASSERT_EQ(nev, 0, "no event in 1 s (10 rounds)");
	sluice_service_get(s, "hs", got);
	ASSERT_EQ(got->gen, gen, "configuration not republished");

	subtest("a dead server: its backend leaves the table");
	{
		__u64 t0;

		ASSERT_TRUE(flows_to(prog, 1, 400, base) > 0, "backend 1 takes new flows before");
		base += 400;
		t0 = mono_ms();
		close(lfd[1]);
		lfd[1] = -1;
		ASSERT_TRUE(run(h, 1, 5000), "an event");
		ASSERT_EQ(evs[0].ev, HC_EV_DOWN, "down");
		ASSERT_EQ(evs[0].applied, 1, "the maps changed");
		ASSERT_EQ(evs[0].in_table, NB - 1, "3 backends in the table");
		ASSERT_EQ(evs[0].st.fail_run, 3, "after 3 failures (fall)");
		ASSERT_TRUE(strstr(evs[0].text, "connection refused") != NULL, "the reason is in the text");
		ASSERT_EQ(down_count(s, got, &all), 1, "one backend down in the maps");
		ASSERT_EQ(flows_to(prog, 1, 400, base), 0, "no new flow reaches it");
		base += 400;
		fprintf(stderr, "  death to removal: %llu ms (interval 100 ms, fall 3)\n",
			(unsigned long long)(mono_ms() - t0));
	}

	subtest("the server restarts: the backend rejoins");
	lfd[1] = listen_port(&lport[1]);
	ASSERT_TRUE(lfd[1] >= 0, "listening again on the same port");
	nev = 0;
	ASSERT_TRUE(run(h, 1, 5000), "an event");
	ASSERT_EQ(evs[0].ev, HC_EV_UP, "up");
	ASSERT_EQ(evs[0].in_table, NB, "4 backends in the table");
	ASSERT_EQ(down_count(s, got, &all), 0, "none down in the maps");
	ASSERT_TRUE(flows_to(prog, 1, 400, base) > 0, "it takes new flows again");
	base += 400;

	subtest("every server dies: the pool keeps its backends, loudly");
	nev = 0;
	for (i = 0; i < NB; i++) {
		close(lfd[i]);
		lfd[i] = -1;
	}
	ASSERT_TRUE(run(h, NB, 5000), "4 events");
	{
		int alld = 0, dn = 0;

		for (i = 0; i < nev; i++) {
			dn += evs[i].ev == HC_EV_DOWN && !evs[i].err;
			if (evs[i].all_down) {
				alld++;
				ASSERT_TRUE(strstr(evs[i].text, "EVERY active baseline backend") != NULL,
					    "the text says so");
				ASSERT_EQ(evs[i].in_table, NB, "all 4 in the table");
			}
		}
		ASSERT_EQ(dn, NB, "4 downs, none failed");
		ASSERT_TRUE(alld >= 1, "all-down reported");
		ASSERT_EQ(down_count(s, got, &all), NB, "4 down in the maps");
		ASSERT_EQ(all, 1, "service get: all down");
		ASSERT_EQ(flows_to(prog, -1, 200, base), 0, "new flows are still forwarded to a backend");
		base += 200;
	}

	subtest("a restarted checker starts from the maps' state");
	hs_free(h);
	nev = 0;
	h = hs_new(s, &o, on_event, NULL, err, sizeof(err));
	ASSERT_EQ(hs_configure(h, cf), NB, "4 targets again");
	sluice_service_get(s, "hs", got);
	gen = got->gen;
	run(h, 1, 1000);
	ASSERT_EQ(nev, 0, "servers still dead: no event");
	sluice_service_get(s, "hs", got);
	ASSERT_EQ(got->gen, gen, "no map change by the restart");
	for (i = 0; i < NB; i++)
		lfd[i] = listen_port(&lport[i]);
	ASSERT_TRUE(run(h, NB, 5000), "4 up events once the servers are back");
	ASSERT_EQ(down_count(s, got, &all), 0, "none down in the maps");

	hs_free(h);
	sluice_config_free(cf);
	sluice_spec_free(got);
	for (i = 0; i < NB; i++)
		if (lfd[i] >= 0)
			close(lfd[i]);
	return t_done();
}
