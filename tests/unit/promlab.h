/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A real Prometheus for tests (Debian's prometheus): started on loopback
 * with its own data directory and port and a 1 s scrape interval, scraping
 * the test exporter (tests/integration/exporter.py: values the test writes)
 * and any extra targets. Children die with the test (PR_SET_PDEATHSIG) and
 * are stopped, and the directory removed, at exit.
 */
#ifndef SLUICE_PROMLAB_H
#define SLUICE_PROMLAB_H

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include "prom.h"

struct promlab {
	char dir[128], exp_dir[160], url[64];
	unsigned short prom_port, exp_port;
	pid_t prom, exp;
};

static struct promlab *lab_self;

static void lab_cleanup(void)
{
	char cmd[200];

	if (!lab_self)
		return;
	if (lab_self->prom > 0)
		kill(lab_self->prom, SIGKILL), waitpid(lab_self->prom, NULL, 0);
	if (lab_self->exp > 0)
		kill(lab_self->exp, SIGKILL), waitpid(lab_self->exp, NULL, 0);
	if (lab_self->dir[0] && !getenv("SLUICE_TEST_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lab_self->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", lab_self->dir);
	}
	lab_self = NULL;
}

static void lab_on_signal(int sig)
{
	lab_cleanup();
	_exit(128 + sig);
}

static pid_t lab_spawn(char *const argv[], const char *log, int *out_fd)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (out_fd && pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		if (out_fd)
			dup2(p[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (out_fd) {
		close(p[1]);
		*out_fd = p[0];
	}
	return pid;
}

static unsigned short lab_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

static size_t lab_sink(char *p, size_t s, size_t n, void *arg)
{
	FILE *f = arg;

	return fwrite(p, s, n, f);
}

/* Blocking GET (tests only): status, body into buf. */
static long lab_get(const char *url, char *buf, size_t len)
{
	CURL *e = curl_easy_init();
	FILE *f = fmemopen(buf, len, "w");
	long code = 0;

	memset(buf, 0, len);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, lab_sink);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	fclose(f);
	buf[len - 1] = 0;
	curl_easy_cleanup(e);
	return code;
}

/* Instant query through the real Prometheus, parsed like a gate does. */
static void lab_query(struct promlab *l, const char *q, struct prom_result *r)
{
	static char body[1 << 16];
	char url[4096];
	long st;

	prom_query_url(l->url, q, 2000, url, sizeof(url));
	st = lab_get(url, body, sizeof(body));
	if (!st) {
		memset(r, 0, sizeof(*r));
		r->err = -ECONNREFUSED;
		snprintf(r->reason, sizeof(r->reason), "no answer");
		return;
	}
	prom_parse(st, body, strlen(body), r);
}

/* Write the exporter's DIR/name.prom atomically. */
static void lab_set(struct promlab *l, const char *name, const char *text)
{
	char tmp[256], path[256];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", l->exp_dir, name);
	snprintf(path, sizeof(path), "%s/%s", l->exp_dir, name);
	f = fopen(tmp, "w");
	fputs(text, f);
	fclose(f);
	rename(tmp, path);
}

/* Wait (bounded) until query gives want (within 1e-9); returns 0 or -1. */
static int lab_wait_value(struct promlab *l, const char *q, double want, int max_ms)
{
	struct prom_result r;

	for (int t = 0; t < max_ms; t += 200) {
		lab_query(l, q, &r);
		if (!r.err && r.value > want - 1e-9 && r.value < want + 1e-9)
			return 0;
		usleep(200 * 1000);
	}
	return -1;
}

/* extra: more scrape targets "host:port" (NULL-terminated; may be NULL). */
static int lab_start(struct promlab *l, const char *const extra[])
{
	char path[256], log[256], cfg[2048], buf[256], line[64];
	char pport[32], cfgarg[300], tsdb[300], listen[64];
	int fd, n, i;
	FILE *f;

	if (access("/usr/bin/prometheus", X_OK))
		return -ENOENT;
	memset(l, 0, sizeof(*l));
	lab_self = l;
	atexit(lab_cleanup);
	signal(SIGTERM, lab_on_signal);
	signal(SIGINT, lab_on_signal);
	snprintf(l->dir, sizeof(l->dir), "/tmp/sluice-prom-%d-XXXXXX", getpid());
	if (!mkdtemp(l->dir))
		return -errno;
	snprintf(l->exp_dir, sizeof(l->exp_dir), "%s/exp", l->dir);
	mkdir(l->exp_dir, 0755);
	snprintf(log, sizeof(log), "%s/exporter.log", l->dir);
	{
		char *argv[] = { "python3", "-S", "tests/integration/exporter.py", "0",
				 l->exp_dir, NULL };

		l->exp = lab_spawn(argv, log, &fd);
	}
	f = fdopen(fd, "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "port %hu", &l->exp_port) != 1)
		return -EIO;
	fclose(f);
	n = snprintf(cfg, sizeof(cfg),
		     "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
		     "scrape_configs:\n  - job_name: app\n    static_configs:\n"
		     "      - targets: ['127.0.0.1:%u']\n", l->exp_port);
	for (i = 0; extra && extra[i]; i++)
		n += snprintf(cfg + n, sizeof(cfg) - n,
			      "  - job_name: extra%d\n    static_configs:\n"
			      "      - targets: ['%s']\n", i, extra[i]);
	snprintf(path, sizeof(path), "%s/prometheus.yml", l->dir);
	f = fopen(path, "w");
	fputs(cfg, f);
	fclose(f);
	l->prom_port = lab_free_port();
	snprintf(l->url, sizeof(l->url), "http://127.0.0.1:%u", l->prom_port);
	snprintf(cfgarg, sizeof(cfgarg), "--config.file=%s", path);
	snprintf(tsdb, sizeof(tsdb), "--storage.tsdb.path=%s/data", l->dir);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", l->prom_port);
	snprintf(pport, sizeof(pport), "%u", l->prom_port);
	snprintf(log, sizeof(log), "%s/prometheus.log", l->dir);
	{
		char *argv[] = { "prometheus", cfgarg, tsdb, listen, NULL };

		l->prom = lab_spawn(argv, log, NULL);
	}
	for (i = 0; i < 150; i++) {	/* ready in 1-2 s; allow 30 s */
		snprintf(path, sizeof(path), "%s/-/ready", l->url);
		if (lab_get(path, buf, sizeof(buf)) == 200)
			return 0;
		usleep(200 * 1000);
	}
	return -ETIMEDOUT;
}

static void lab_stop_prom(struct promlab *l)
{
	if (l->prom > 0) {
		kill(l->prom, SIGKILL);
		waitpid(l->prom, NULL, 0);
		l->prom = 0;
	}
}

#endif
