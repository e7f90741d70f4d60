// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prometheus gate client: templates, the API's answers (every failure an
 * error with a reason, never a value) and asynchronous queries over real
 * HTTP against a loopback server (libmicrohttpd) that answers what each
 * case needs, including one that answers late.
 * sluice-test: host-only
 */
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <sys/epoll.h>
#include <time.h>
#include "test.h"
#include "prom.h"

struct pcase {
	const char *what;
	long status;
	const char *body;
	int err;		/* 0: value expected */
	double value;
	const char *reason;	/* substring of the reason */
};

static const struct pcase pcases[] = {
	{ "one sample", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{\"metric\":{},\"value\":[1700000000.1,\"0.25\"]}]}}", 0, 0.25, NULL },
	{ "scalar", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1700000000,\"42\"]}}", 0, 42, NULL },
	{ "exponent", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{\"metric\":{\"a\":\"b\"},\"value\":[1,\"1e-3\"]}]}}", 0, 0.001, NULL },
	{ "empty vector", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[]}}", -ENODATA, 0, "empty result" },
	{ "two series", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{\"metric\":{\"a\":\"1\"},\"value\":[1,\"1\"]},"
	  "{\"metric\":{\"a\":\"2\"},\"value\":[1,\"2\"]}]}}", -ERANGE, 0, "2 series" },
	{ "NaN", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{\"metric\":{},\"value\":[1,\"NaN\"]}]}}", -EDOM, 0, "NaN" },
	{ "+Inf", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
	  "\"result\":[{\"metric\":{},\"value\":[1,\"+Inf\"]}]}}", -EDOM, 0, "+Inf" },
	{ "-Inf", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
	  "\"result\":[1,\"-Inf\"]}}", -EDOM, 0, "-Inf" },
	{ "status error with 200", 200, "{\"status\":\"error\",\"errorType\":\"execution\","
	  "\"error\":\"boom\"}", -EPROTO, 0, "boom" },
	{ "HTTP 400 with the API's error", 400, "{\"status\":\"error\",\"errorType\":"
	  "\"bad_data\",\"error\":\"parse error at char 4\"}", -EPROTO, 0, "HTTP 400" },
	{ "HTTP 503 not JSON", 503, "Service Unavailable", -EPROTO, 0, "HTTP 503" },
	{ "HTTP 200 not JSON", 200, "<html>proxy</html>", -EBADMSG, 0, "not JSON" },
	{ "JSON array", 200, "[1,2]", -EBADMSG, 0, "not a JSON object" },
	{ "no data", 200, "{\"status\":\"success\"}", -EBADMSG, 0, "no data" },
	{ "matrix", 200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
	  "\"result\":[]}}", -EBADMSG, 0, "matrix" },
	{ "value not a number", 200, "{\"status\":\"success\",\"data\":{\"resultType\":"
	  "\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"abc\"]}]}}", -EBADMSG, 0,
	  "not a number" },
	{ "value a JSON number", 200, "{\"status\":\"success\",\"data\":{\"resultType\":"
	  "\"vector\",\"result\":[{\"metric\":{},\"value\":[1,0.5]}]}}", -EBADMSG, 0,
	  "not [time" },
	{ "value trailing junk", 200, "{\"status\":\"success\",\"data\":{\"resultType\":"
	  "\"vector\",\"result\":[{\"metric\":{},\"value\":[1,\"0.5x\"]}]}}", -EBADMSG, 0,
	  "not a number" },
	{ "sample without value", 200, "{\"status\":\"success\",\"data\":{\"resultType\":"
	  "\"vector\",\"result\":[{\"metric\":{}}]}}", -EBADMSG, 0, "not [time" },
	{ "result not a list", 200, "{\"status\":\"success\",\"data\":{\"resultType\":"
	  "\"vector\",\"result\":{}}}", -EBADMSG, 0, "not a list" },
	{ "series not an object", 200, "{\"status\":\"success\",\"data\":{\"resultType\":"
	  "\"vector\",\"result\":[7]}}", -EBADMSG, 0, "not an object" },
	{ "empty body", 200, "", -EBADMSG, 0, "not JSON" },
	{ "duplicate keys", 200, "{\"status\":\"success\",\"status\":\"error\"}", -EBADMSG, 0,
	  "not JSON" },
};

static void test_parse(void)
{
	char what[400];
	unsigned int i;

	subtest("parse: every answer is a value or an error with its reason");
	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		struct prom_result r;

		prom_parse(c->status, c->body, strlen(c->body), &r);
		snprintf(what, sizeof(what), "%s: err (reason: %s)", c->what, r.reason);
		ASSERT_EQ(r.err, c->err, what);
		if (!c->err) {
			snprintf(what, sizeof(what), "%s: value", c->what);
			ASSERT_RANGE(r.value, c->value, c->value, what);
		} else {
			snprintf(what, sizeof(what), "%s: reason \"%s\" says \"%s\"",
				 c->what, r.reason, c->reason);
			ASSERT_TRUE(strstr(r.reason, c->reason), what);
		}
	}
}

static void test_expand(void)
{
	struct sluice_query_vars v = { .service = "web", .variant = "canary", .ring = "early" };
	char out[256], err[200];
	int n;

	subtest("expand: placeholders, PromQL escaping, errors");
	n = sluice_query_expand("sum(rate(x{svc=\"{{service}}\",v=\"{{ variant }}\",r=\"{{ring}}\"}[1m]))",
			&v, out, sizeof(out), err, sizeof(err));
	ASSERT_TRUE(n > 0 && !strcmp(out, "sum(rate(x{svc=\"web\",v=\"canary\",r=\"early\"}[1m]))"),
		    "three placeholders substituted");
	v.service = "a\"b\\c";
	n = sluice_query_expand("{{service}}", &v, out, sizeof(out), err, sizeof(err));
	ASSERT_TRUE(n > 0 && !strcmp(out, "a\\\"b\\\\c"), "quote and backslash escaped");
	n = sluice_query_expand("x{{bogus}}", &v, out, sizeof(out), err, sizeof(err));
	ASSERT_EQ(n, -EINVAL, "unknown placeholder rejected");
	ASSERT_TRUE(strstr(err, "{{bogus}}") && strstr(err, "offset 1"), "error names it and its offset");
	n = sluice_query_expand("x{{service", &v, out, sizeof(out), err, sizeof(err));
	ASSERT_EQ(n, -EINVAL, "unterminated placeholder rejected");
	ASSERT_TRUE(strstr(err, "unterminated"), "error says unterminated");
	n = sluice_query_expand("{{window}}", &v, out, sizeof(out), err, sizeof(err));
	ASSERT_EQ(n, -EINVAL, "placeholder without a value rejected");
	ASSERT_TRUE(strstr(err, "no value"), "error says it has no value");
	n = sluice_query_expand("{{ring}}{{ring}}{{ring}}", &v, out, 8, err, sizeof(err));
	ASSERT_EQ(n, -E2BIG, "too long for the buffer");
	ASSERT_OK(sluice_query_check("up{v=\"{{variant}}\"}", false, err, sizeof(err)), "template ok");
	ASSERT_EQ(sluice_query_check("", false, err, sizeof(err)), -EINVAL, "empty template rejected");
	ASSERT_EQ(sluice_query_check("{{x}}", false, err, sizeof(err)), -EINVAL, "bad template rejected");
}

static void test_url(void)
{
	char url[512];

	subtest("query URL: encoded, trailing slash, timeout");
	ASSERT_OK(prom_query_url("http://127.0.0.1:9090/", "sum(x{a=\"b c\"})&y", 1500,
				 url, sizeof(url)), "url built");
	ASSERT_TRUE(!strcmp(url, "http://127.0.0.1:9090/api/v1/query?query="
			    "sum%28x%7Ba%3D%22b%20c%22%7D%29%26y&timeout=1500ms"),
		    "query url-encoded, one slash, timeout in ms");
	ASSERT_EQ(prom_query_url("http://h", "x", 1, url, 20), -E2BIG, "too long");
}

/* ---- a loopback HTTP server answering per query text ------------------- */

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
		  const char *method, const char *version, const char *upload,
		  size_t *upload_len, void **state)
{
	const char *q = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "query");
	const char *body = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
			   "\"result\":[{\"metric\":{},\"value\":[1,\"0.5\"]}]}}";
	unsigned int code = 200;
	struct MHD_Response *resp;
	char buf[256];
	enum MHD_Result ret;

	if (!q)
		q = "";
	if (!strncmp(q, "slow", 4)) {
		usleep(1500 * 1000);
	} else if (!strcmp(q, "notfound")) {
		code = 404;
		body = "404 page not found";
	} else if (!strncmp(q, "echo", 4)) {
		snprintf(buf, sizeof(buf), "{\"status\":\"success\",\"data\":{\"resultType\":"
			 "\"scalar\",\"result\":[1,\"%zu\"]}}", strlen(q));
		body = buf;
	}
	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
					       MHD_RESPMEM_MUST_COPY);
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct got {
	int done;
	struct prom_result r;
	int order;
};
static int finish_order;

static int cancelled;

static void on_result(const struct prom_result *r, void *arg)
{
	struct got *g = arg;

	if (r->err == -ECANCELED) {
		cancelled++;
		return;
	}
	g->r = *r;
	g->done = 1;
	g->order = ++finish_order;
}

/* Run the client's fd from an epoll set, as sluiced does, until all done. */
static void run_until(struct httpc *c, struct got *g, int n, int max_ms)
{
	int ep = epoll_create1(0), i, left;
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct timespec t0, t;

	epoll_ctl(ep, EPOLL_CTL_ADD, httpc_fd(c), &ev);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (left = 0, i = 0; i < n; i++)
			left += !g[i].done;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!left || (t.tv_sec - t0.tv_sec) * 1000 +
				     (t.tv_nsec - t0.tv_nsec) / 1000000 > max_ms)
			break;
		epoll_wait(ep, &out, 1, 100);
		httpc_dispatch(c);
	}
	close(ep);
}

static void test_async(void)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	struct httpc *c;
	struct got g[4];
	char base[64];
	unsigned short port;
	int64_t id;

	subtest("async queries over loopback HTTP");
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
			     0, NULL, NULL, answer, NULL,
			     MHD_OPTION_SOCK_ADDR, &(struct sockaddr_in){
				     .sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
			     MHD_OPTION_END);
	if (!ASSERT_TRUE(d, "loopback server started"))
		return;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = info->port;
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", port);
	c = httpc_new();
	if (!ASSERT_TRUE(c, "client created"))
		goto out;

	memset(g, 0, sizeof(g));
	id = prom_query_start(c, base, "slow", 500, on_result, &g[0]);
	ASSERT_TRUE(id > 0, "slow query started");
	ASSERT_EQ(g[0].done, 0, "no callback from inside the start call");
	id = prom_query_start(c, base, "echo \"x\"&y", 3000, on_result, &g[1]);
	ASSERT_TRUE(id > 0, "fast query started");
	id = prom_query_start(c, base, "notfound", 3000, on_result, &g[2]);
	ASSERT_TRUE(id > 0, "404 query started");
	run_until(c, g, 3, 5000);
	ASSERT_TRUE(g[0].done && g[1].done && g[2].done, "all three finished");
	ASSERT_EQ(g[1].r.err, 0, "fast query answered");
	ASSERT_RANGE(g[1].r.value, 10, 10, "query text arrived intact (length 10)");
	ASSERT_TRUE(g[1].order < g[0].order, "fast answer not held up by the slow one");
	ASSERT_EQ(g[0].r.err, -ETIMEDOUT, "slow query is a timeout error");
	ASSERT_TRUE(strstr(g[0].r.reason, "timed out"), "reason says timed out");
	ASSERT_RANGE(g[0].r.elapsed_ms, 400, 1400, "timeout at about 500 ms");
	ASSERT_EQ(g[2].r.err, -EPROTO, "404 is an error");
	ASSERT_TRUE(strstr(g[2].r.reason, "HTTP 404"), "reason says HTTP 404");
	ASSERT_EQ(httpc_pending(c), 0, "nothing pending");

	/* cancel: the callback hears -ECANCELED at once, nothing later */
	memset(g, 0, sizeof(g));
	id = prom_query_start(c, base, "slow", 3000, on_result, &g[0]);
	httpc_cancel(c, id);
	ASSERT_EQ(httpc_pending(c), 0, "cancelled request gone");
	ASSERT_EQ(cancelled, 1, "cancelled request's callback told -ECANCELED");
	ASSERT_EQ(g[0].done, 0, "no result for a cancelled request");

	/* a closed port: unreachable */
	MHD_stop_daemon(d);
	d = NULL;
	memset(g, 0, sizeof(g));
	prom_query_start(c, base, "up", 2000, on_result, &g[0]);
	run_until(c, g, 1, 5000);
	ASSERT_TRUE(g[0].done, "query to a closed port finished");
	ASSERT_EQ(g[0].r.err, -ECONNREFUSED, "closed port is an error");
	ASSERT_TRUE(strstr(g[0].r.reason, "unreachable"), "reason says unreachable");

	/* freed with a request in flight: no callback, no leak */
	memset(g, 0, sizeof(g));
	prom_query_start(c, "http://127.0.0.1:9", "up", 2000, on_result, &g[0]);
out:
	httpc_free(c);
	ASSERT_EQ(g[0].done, 0, "free gives no result");
	ASSERT_EQ(cancelled, 2, "free tells the pending callback -ECANCELED");
	if (d)
		MHD_stop_daemon(d);
}

int main(void)
{
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	test_parse();
	test_expand();
	test_url();
	test_async();
	return t_done();
}
