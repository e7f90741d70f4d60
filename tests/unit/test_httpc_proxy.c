// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's HTTP client ignores the proxy of its environment: with
 * http_proxy (and HTTPS_PROXY, ALL_PROXY) naming a second local server
 * that would answer anything, a GET and a POST through httpc (Prometheus
 * queries, etcd, webhooks) still reach the server they name, and the
 * "proxy" sees nothing. A proxy in root's environment could otherwise
 * forge Prometheus answers and etcd weights over http://.
 * sluice-test: host-only
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include "test.h"
#include "httpc.h"

struct server {
	struct MHD_Daemon *d;
	const char *answer;
	pthread_mutex_t lock;
	int hits;
};

static enum MHD_Result on_http(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *data, size_t *len, void **state)
{
	struct server *s = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!*state) {
		*state = s;
		return MHD_YES;
	}
	if (*len) {
		*len = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->lock);
	s->hits++;
	pthread_mutex_unlock(&s->lock);
	r = MHD_create_response_from_buffer(strlen(s->answer), (void *)s->answer,
					    MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static int serve(struct server *s, const char *answer)
{
	s->answer = answer;
	pthread_mutex_init(&s->lock, NULL);
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_http, s,
				MHD_OPTION_SOCK_ADDR, &(struct sockaddr_in){
					.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
				MHD_OPTION_END);
	return s->d ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port : -1;
}

static int hits(struct server *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->hits;
	pthread_mutex_unlock(&s->lock);
	return n;
}

struct got {
	int done;
	long status;
	char body[64];
};

static void on_reply(const struct httpc_reply *r, void *arg)
{
	struct got *g = arg;

	g->done = 1;
	g->status = r->status;
	snprintf(g->body, sizeof(g->body), "%s", r->body ? r->body : "");
}

static void pump(struct httpc *hc, struct got *g)
{
	int ep = epoll_create1(0), i;
	struct epoll_event ev = { .events = EPOLLIN }, out;

	epoll_ctl(ep, EPOLL_CTL_ADD, httpc_fd(hc), &ev);
	for (i = 0; i < 50 && !g->done; i++) {
		epoll_wait(ep, &out, 1, 100);
		httpc_dispatch(hc);
	}
	close(ep);
}

int main(void)
{
	struct server real = { 0 }, proxy = { 0 };
	char url[96], purl[96];
	struct httpc *hc;
	struct got g;
	int port, pport;

	port = serve(&real, "real");
	pport = serve(&proxy, "forged");
	if (port < 0 || pport < 0)
		return 1;
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", pport);
	setenv("http_proxy", purl, 1);
	setenv("HTTPS_PROXY", purl, 1);
	setenv("ALL_PROXY", purl, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	hc = httpc_new();
	if (!hc)
		return 1;

	subtest("a GET goes to the server it names, not to $http_proxy");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=up", port);
	memset(&g, 0, sizeof(g));
	ASSERT_TRUE(httpc_start(hc, url, NULL, NULL, 2000, on_reply, &g) > 0, "GET started");
	pump(hc, &g);
	ASSERT_TRUE(g.done, "GET finished");
	ASSERT_EQ(g.status, 200, "GET answered");
	ASSERT_TRUE(!strcmp(g.body, "real"), "the answer is the real server's, not the proxy's");
	ASSERT_EQ(hits(&real), 1, "the real server saw the GET");
	ASSERT_EQ(hits(&proxy), 0, "the proxy saw nothing");

	subtest("a POST (a webhook, an etcd request) too");
	memset(&g, 0, sizeof(g));
	ASSERT_TRUE(httpc_start(hc, url, "{\"event\":\"x\"}", NULL, 2000, on_reply, &g) > 0,
		    "POST started");
	pump(hc, &g);
	ASSERT_TRUE(!strcmp(g.body, "real"), "the POST's answer is the real server's");
	ASSERT_EQ(hits(&real), 2, "the real server saw the POST");
	ASSERT_EQ(hits(&proxy), 0, "the proxy still saw nothing");

	httpc_free(hc);
	MHD_stop_daemon(real.d);
	MHD_stop_daemon(proxy.d);
	return t_done();
}
