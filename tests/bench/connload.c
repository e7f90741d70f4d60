// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A paced TCP load for the rollout benchmarks, in C: tests/integration/
 * tcpnames.py's `load` (a Python thread per connection in flight) tops
 * out at 600-700 new connections a second on this 2-core machine, and its
 * line server spawns a thread per connection. One epoll loop each:
 *
 *   connload load HOST PORT RATE SECONDS [--timeout MS] [--src ADDR]
 *       RATE new connections a second for SECONDS, each non-blocking:
 *       connect, send "hi\n", read the reply line (its first word names
 *       the backend), close. Prints JSON: counts per backend, errors by
 *       kind (refused, reset, timeout, other), started. SIGTERM/SIGINT
 *       end the run early (the counts so far are printed).
 *   connload serve NAME PORT
 *       a backend like tcpnames.py serve: each line in, "NAME line" out,
 *       closes when the client does (dual stack, [::]:PORT).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define MAX_NAMES 16

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	fprintf(stderr, "connload: '%s' is not a numeric address\n", host);
	return -1;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- load ---------------------------------------------------------------- */

enum { ERR_REFUSED, ERR_RESET, ERR_TIMEOUT, ERR_OTHER, ERR_N };

struct conn {
	int fd;			/* -1: done */
	uint64_t deadline;
	bool sent;
	size_t got;
	char buf[64];
};

struct load {
	struct sockaddr_storage dst, src;
	socklen_t dst_len, src_len;
	bool has_src;
	unsigned int timeout_ms;
	char names[MAX_NAMES][64];
	uint64_t counts[MAX_NAMES], other_names;
	uint64_t errors[ERR_N], started, busy;
	int ep;
	/* connections in start order: all share one timeout, so the oldest
	 * expire first (a ring of slots) */
	struct conn *ring;
	size_t cap, head, tail;	/* live slots in [head, tail) mod cap */
};

static void count_name(struct load *l, const char *name)
{
	unsigned int i;

	for (i = 0; i < MAX_NAMES && l->names[i][0]; i++)
		if (!strcmp(l->names[i], name)) {
			l->counts[i]++;
			return;
		}
	if (i == MAX_NAMES) {
		l->other_names++;
		return;
	}
	snprintf(l->names[i], sizeof(l->names[i]), "%s", name);
	l->counts[i]++;
}

static void finish(struct load *l, struct conn *c, int err_kind)
{
	if (c->fd < 0)
		return;
	if (err_kind >= 0)
		l->errors[err_kind]++;
	close(c->fd);	/* a FIN after the reply: no client reset counted */
	c->fd = -1;
}

static int err_kind_of(int e)
{
	return e == ECONNREFUSED ? ERR_REFUSED : e == ECONNRESET || e == EPIPE ? ERR_RESET
	       : e == ETIMEDOUT ? ERR_TIMEOUT : ERR_OTHER;
}

static void start_one(struct load *l, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN };
	struct conn *c;
	size_t slot;
	int fd, one = 1;

	if (l->tail - l->head == l->cap) {
		l->busy++;	/* every slot in flight: counted, not started */
		return;
	}
	slot = l->tail % l->cap;
	c = &l->ring[slot];
	fd = socket(l->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		l->errors[ERR_OTHER]++;
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (l->has_src && bind(fd, (struct sockaddr *)&l->src, l->src_len) < 0) {
		close(fd);
		l->errors[ERR_OTHER]++;
		return;
	}
	l->started++;
	if (connect(fd, (struct sockaddr *)&l->dst, l->dst_len) < 0 && errno != EINPROGRESS) {
		l->errors[err_kind_of(errno)]++;
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->deadline = now + l->timeout_ms;
	ev.data.u64 = l->tail;	/* the sequence number: slot = seq % cap */
	epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
	l->tail++;
}

static void progress(struct load *l, uint64_t seq, uint32_t events)
{
	struct conn *c = &l->ring[seq % l->cap];
	int err = 0;
	socklen_t el = sizeof(err);
	ssize_t n;

	if (seq < l->head || c->fd < 0)
		return;
	if (!c->sent) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
			finish(l, c, err_kind_of(err ? err : errno));
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (send(c->fd, "hi\n", 3, MSG_NOSIGNAL) != 3) {
			finish(l, c, err_kind_of(errno));
			return;
		}
		c->sent = true;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = seq };
		epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	n = recv(c->fd, c->buf + c->got, sizeof(c->buf) - 1 - c->got, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		finish(l, c, n < 0 ? err_kind_of(errno) : ERR_RESET);
		return;
	}
	c->got += n;
	c->buf[c->got] = 0;
	if (strchr(c->buf, '\n') || c->got == sizeof(c->buf) - 1) {
		c->buf[strcspn(c->buf, " \n")] = 0;
		count_name(l, c->buf);
		finish(l, c, -1);
	}
}

static void expire(struct load *l, uint64_t now)
{
	while (l->head < l->tail) {
		struct conn *c = &l->ring[l->head % l->cap];

		if (c->fd >= 0 && c->deadline > now)
			break;
		finish(l, c, ERR_TIMEOUT);
		l->head++;
	}
}

static void print_load(const struct load *l, uint64_t elapsed_ms)
{
	static const char *const kind[ERR_N] = { "refused", "reset", "timeout", "other" };
	uint64_t errs = 0;
	unsigned int i;

	printf("{\"counts\": {");
	for (i = 0; i < MAX_NAMES && l->names[i][0]; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", l->names[i], (unsigned long long)l->counts[i]);
	printf("}, \"errors_by\": {");
	for (i = 0; i < ERR_N; i++) {
		printf("%s\"%s\": %llu", i ? ", " : "", kind[i], (unsigned long long)l->errors[i]);
		errs += l->errors[i];
	}
	printf("}, \"errors\": %llu, \"started\": %llu, \"not_started_busy\": %llu, \"seconds\": %.3f}\n",
	       (unsigned long long)errs, (unsigned long long)l->started,
	       (unsigned long long)l->busy, elapsed_ms / 1000.0);
	fflush(stdout);
}

static int run_load(int argc, char **argv)
{
	struct load l = { .timeout_ms = 2000 };
	struct epoll_event evs[256];
	uint64_t t0, now, total, due, k = 0;
	double rate, secs;
	int i, n;

	if (argc < 6) {
		fprintf(stderr, "usage: connload load HOST PORT RATE SECONDS [--timeout MS] [--src ADDR]\n");
		return 2;
	}
	if (parse_addr(argv[2], atoi(argv[3]), &l.dst, &l.dst_len))
		return 2;
	rate = atof(argv[4]);
	secs = atof(argv[5]);
	for (i = 6; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--timeout")) {
			l.timeout_ms = atoi(argv[i + 1]);
		} else if (!strcmp(argv[i], "--src")) {
			if (parse_addr(argv[i + 1], 0, &l.src, &l.src_len))
				return 2;
			l.has_src = true;
		} else {
			fprintf(stderr, "connload: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (rate <= 0 || secs <= 0 || !l.timeout_ms) {
		fprintf(stderr, "connload: RATE, SECONDS and --timeout must be > 0\n");
		return 2;
	}
	raise_nofile();
	l.cap = (size_t)(rate * l.timeout_ms / 1000.0 * 1.5) + 64;
	l.ring = calloc(l.cap, sizeof(*l.ring));
	l.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!l.ring || l.ep < 0) {
		perror("connload");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	total = (uint64_t)(rate * secs);
	t0 = mono_ms();
	while (!stop && (k < total || l.head < l.tail)) {
		now = mono_ms();
		due = (uint64_t)((now - t0) * rate / 1000.0);
		if (due > total)
			due = total;
		for (; k < due && !stop; k++)
			start_one(&l, now);
		n = epoll_wait(l.ep, evs, 256, 1);
		for (i = 0; i < n; i++)
			progress(&l, evs[i].data.u64, evs[i].events);
		expire(&l, mono_ms());
	}
	print_load(&l, mono_ms() - t0);
	return 0;
}

/* ---- serve --------------------------------------------------------------- */

struct peer {
	size_t got;
	char buf[512];
};

static int run_serve(int argc, char **argv)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = in6addr_any };
	struct epoll_event ev, evs[256];
	const char *name;
	struct peer **peers;
	int lfd, ep, one = 1, zero = 0, n, i;
	size_t nlen, maxfd = 1 << 16;

	if (argc < 4) {
		fprintf(stderr, "usage: connload serve NAME PORT\n");
		return 2;
	}
	name = argv[2];
	nlen = strlen(name);
	a.sin6_port = htons(atoi(argv[3]));
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	peers = calloc(maxfd, sizeof(*peers));
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!peers || lfd < 0 || ep < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4096)) {
		perror("connload serve");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			struct peer *p;
			ssize_t r;
			char *nl;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if ((size_t)c >= maxfd || !(peers[c] = calloc(1, sizeof(**peers)))) {
						close(c);
						continue;
					}
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			p = peers[fd];
			r = recv(fd, p->buf + p->got, sizeof(p->buf) - p->got, 0);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				close(fd);
				free(p);
				peers[fd] = NULL;
				continue;
			}
			p->got += r;
			while ((nl = memchr(p->buf, '\n', p->got))) {
				size_t len = nl - p->buf + 1;
				char out[sizeof(p->buf) + 40];

				memcpy(out, name, nlen);
				out[nlen] = ' ';
				memcpy(out + nlen + 1, p->buf, len);
				send(fd, out, nlen + 1 + len, MSG_NOSIGNAL);
				memmove(p->buf, p->buf + len, p->got - len);
				p->got -= len;
			}
			if (p->got == sizeof(p->buf))
				p->got = 0;	/* an overlong line: dropped */
		}
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "load"))
		return run_load(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return run_serve(argc, argv);
	fprintf(stderr, "usage: connload load HOST PORT RATE SECONDS [--timeout MS] [--src ADDR]\n"
			"       connload serve NAME PORT\n");
	return 2;
}
