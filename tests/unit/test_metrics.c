// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * /metrics: the text exposition of a snapshot (names, labels, escaping,
 * the histogram's cumulative buckets), `promtool check metrics` on it
 * (Debian's prometheus package), and the libmicrohttpd endpoint fetched
 * over loopback while snapshots are replaced.
 * sluice-test: host-only
 */
#include <sys/epoll.h>
#include "test.h"
#include "metrics.h"
#include "httpc.h"

static struct metrics_snapshot *sample(void)
{
	struct metrics_snapshot *m = metrics_snapshot_new(4);
	struct metrics_service *s;
	uint64_t lat[SLUICE_LAT_BUCKETS] = { 0 };

	snprintf(m->ring[0], sizeof(m->ring[0]), "default");
	snprintf(m->ring[2], sizeof(m->ring[2]), "early");
	m->events[SLUICE_EV_CONN_MISS] = 77;
	s = metrics_snapshot_add(m, "web");
	s->mode = SLUICE_MODE_NAT;
	s->fs[SLUICE_CANARY][0].packets = 1234;
	s->fs[SLUICE_CANARY][0].new_flows = 56;
	s->fs[SLUICE_BASELINE][2].bytes = 9999999999ull;
	s->fs[SLUICE_CANARY][2].backend_rst = 3;
	lat[5] = 2;		/* 5 us */
	lat[16] = 10;		/* [16, 17) us */
	lat[SLUICE_LAT_BUCKETS - 1] = 1;	/* saturated: only +Inf */
	metrics_hist_from_lat(lat, &s->hist[SLUICE_CANARY]);
	s->has_hist = true;
	s->has_budget = true;
	s->budget_remaining = 0.25;
	s->ro.present = true;
	s->ro.state = "progressing";
	s->ro.step = 2;
	s->ro.weight[0] = 500;
	s->ro.weight[2] = 2500;
	s->ro.ngates = 1;
	snprintf(s->ro.gate[0].name, METRICS_NAME, "5xx \"ratio\"");
	s->ro.gate[0].verdict = MV_PASS;
	s->ro.gate[0].has_value[SLUICE_CANARY] = true;
	s->ro.gate[0].value[SLUICE_CANARY] = 0.004;
	s->ro.nburn = 1;
	snprintf(s->ro.burn[0].window, 16, "5m");
	s->ro.burn[0].burn = 4.5;
	{
		struct metrics_backend *b = metrics_snapshot_add_backend(m);

		snprintf(b->service, sizeof(b->service), "web");
		b->variant = SLUICE_CANARY;
		snprintf(b->address, sizeof(b->address), "10.101.0.13");
		b->port = 8080;
		b->check = "tcp";
		b->down = true;
		b->checks = 40;
		b->failures = 3;
		b->transitions = 1;
		b->has_last = true;
		b->last_s = 0.2;
		b = metrics_snapshot_add_backend(m);
		snprintf(b->service, sizeof(b->service), "web");
		snprintf(b->address, sizeof(b->address), "fd00::11");
		b->port = 80;
		b->check = "http";
		b->flapping = true;
	}
	s = metrics_snapshot_add(m, "db\\x");	/* a name that needs escaping */
	s->frozen = true;
	m->frozen = true;
	return m;
}

static char *render(const struct metrics_snapshot *m, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	metrics_render(m, f);
	fclose(f);
	return buf;
}

static void test_text(void)
{
	struct metrics_snapshot *m = sample();
	size_t len;
	char *t = render(m, &len);
	struct {
		const char *line, *what;
	} want[] = {
		{ "sluice_packets_total{service=\"web\",variant=\"canary\",ring=\"default\"} 1234\n",
		  "packets per service, variant, ring" },
		{ "sluice_bytes_total{service=\"web\",variant=\"baseline\",ring=\"early\"} 9999999999\n",
		  "bytes, 64-bit, named ring" },
		{ "sluice_backend_resets_total{service=\"web\",variant=\"canary\",ring=\"early\"} 3\n",
		  "backend resets" },
		{ "sluice_handshake_duration_seconds_bucket{service=\"web\",variant=\"canary\",le=\"1.6e-05\"} 2\n",
		  "le=16us holds the 5 us samples" },
		{ "sluice_handshake_duration_seconds_bucket{service=\"web\",variant=\"canary\",le=\"3.2e-05\"} 12\n",
		  "le=32us is cumulative (2 + 10)" },
		{ "sluice_handshake_duration_seconds_bucket{service=\"web\",variant=\"canary\",le=\"33.5544\"} 12\n",
		  "the saturated sample is not below the last finite le" },
		{ "sluice_handshake_duration_seconds_bucket{service=\"web\",variant=\"canary\",le=\"+Inf\"} 13\n",
		  "+Inf holds all 13" },
		{ "sluice_handshake_duration_seconds_count{service=\"web\",variant=\"canary\"} 13\n",
		  "count = 13" },
		{ "sluice_datapath_events_total{event=\"conn_miss\"} 77\n", "datapath events" },
		{ "sluice_rollout_state{service=\"web\",state=\"progressing\"} 1\n", "state set: current" },
		{ "sluice_rollout_state{service=\"web\",state=\"paused\"} 0\n", "state set: others 0" },
		{ "sluice_rollout_step{service=\"web\"} 2\n", "step" },
		{ "sluice_rollout_canary_weight_ratio{service=\"web\",ring=\"early\"} 0.25\n",
		  "weight as a ratio per ring" },
		{ "sluice_gate_verdict{service=\"web\",gate=\"5xx \\\"ratio\\\"\",verdict=\"pass\"} 1\n",
		  "gate verdict with an escaped gate name" },
		{ "sluice_gate_value{service=\"web\",gate=\"5xx \\\"ratio\\\"\",variant=\"canary\"} 0.0040000000000000001\n",
		  "gate value" },
		{ "sluice_error_budget_burn_rate{service=\"web\",window=\"5m\"} 4.5\n", "burn rate" },
		{ "sluice_error_budget_remaining_ratio{service=\"web\"} 0.25\n", "budget left" },
		{ "sluice_service_frozen{service=\"db\\\\x\"} 1\n", "escaped service name" },
		{ "sluice_frozen 1\n", "global freeze" },
		{ "# TYPE sluice_handshake_duration_seconds histogram\n", "histogram type line" },
		{ "# TYPE sluice_new_flows_total counter\n", "counter type line" },
		{ "sluice_backend_up{service=\"web\",variant=\"canary\",address=\"10.101.0.13\",port=\"8080\",check=\"tcp\"} 0\n",
		  "a backend down: up 0" },
		{ "sluice_backend_up{service=\"web\",variant=\"baseline\",address=\"fd00::11\",port=\"80\",check=\"http\"} 1\n",
		  "a backend up, IPv6" },
		{ "sluice_backend_flapping{service=\"web\",variant=\"baseline\",address=\"fd00::11\",port=\"80\",check=\"http\"} 1\n",
		  "flapping" },
		{ "sluice_backend_health_transitions_total{service=\"web\",variant=\"canary\",address=\"10.101.0.13\",port=\"8080\",check=\"tcp\"} 1\n",
		  "transitions counter" },
		{ "sluice_backend_health_checks_total{service=\"web\",variant=\"canary\",address=\"10.101.0.13\",port=\"8080\",check=\"tcp\"} 40\n",
		  "checks counter" },
		{ "sluice_backend_health_check_failures_total{service=\"web\",variant=\"canary\",address=\"10.101.0.13\",port=\"8080\",check=\"tcp\"} 3\n",
		  "failures counter" },
		{ "sluice_backend_health_check_duration_seconds{service=\"web\",variant=\"canary\",address=\"10.101.0.13\",port=\"8080\",check=\"tcp\"} 0.20000000000000001\n",
		  "last check duration in seconds" },
		{ "# TYPE sluice_backend_health_transitions_total counter\n", "transitions type" },
	};
	unsigned int i;

	subtest("text exposition: names, labels, histogram");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ASSERT_TRUE(strstr(t, want[i].line), want[i].what);
		if (!strstr(t, want[i].line))
			fprintf(stderr, "    missing: %s", want[i].line);
	}
	ASSERT_TRUE(!strstr(t, "ring=\"\""), "unconfigured rings are left out");
	ASSERT_TRUE(!strstr(t, "sluice_backend_health_check_duration_seconds{service=\"web\",variant=\"baseline\""),
		    "no duration before a first check");
	ASSERT_TRUE(!strstr(t, "sluice_handshake_duration_seconds_count{service=\"db"),
		    "no histogram for a service that does not time handshakes");
	free(t);
	metrics_snapshot_free(m);
}

static void test_promtool(void)
{
	struct metrics_snapshot *m = sample();
	char path[64], cmd[160];
	size_t len;
	char *t = render(m, &len);
	FILE *f;
	int rc;

	subtest("promtool check metrics passes");
	snprintf(path, sizeof(path), "/tmp/sluice-metrics-%d.txt", getpid());
	f = fopen(path, "w");
	fwrite(t, 1, len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = system(cmd);
	ASSERT_EQ(rc, 0, "promtool check metrics exit status (its complaints above)");
	/* control: the linter does catch a counter without _total */
	f = fopen(path, "w");
	fputs("# HELP sluice_x A counter.\n# TYPE sluice_x counter\nsluice_x 1\n", f);
	fclose(f);
	rc = system(cmd);
	ASSERT_TRUE(rc != 0, "control: promtool rejects a counter without _total");
	unlink(path);
	free(t);
	metrics_snapshot_free(m);
}

struct got {
	int done;
	long status;
	char *body;
};

static void on_reply(const struct httpc_reply *r, void *arg)
{
	struct got *g = arg;

	if (r->err == -ECANCELED)
		return;
	g->done = 1;
	g->status = r->err ? -1 : r->status;
	g->body = strdup(r->body);
}

static void fetch(struct httpc *c, const char *url, struct got *g)
{
	int ep = epoll_create1(0), i;
	struct epoll_event ev = { .events = EPOLLIN }, out;

	memset(g, 0, sizeof(*g));
	epoll_ctl(ep, EPOLL_CTL_ADD, httpc_fd(c), &ev);
	httpc_start(c, url, NULL, NULL, 5000, on_reply, g);
	for (i = 0; i < 100 && !g->done; i++) {
		epoll_wait(ep, &out, 1, 100);
		httpc_dispatch(c);
	}
	close(ep);
}

static void test_http(void)
{
	char err[200], url[96];
	struct metrics_srv *s;
	struct httpc *c = httpc_new();
	struct got g;
	size_t len;
	char *t;

	subtest("the endpoint serves the published snapshot");
	ASSERT_TRUE(!metrics_srv_start("localhost:80", err, sizeof(err)), "name refused");
	ASSERT_TRUE(strstr(err, "numeric"), err);
	ASSERT_TRUE(!metrics_srv_start("127.0.0.1", err, sizeof(err)), "no port refused");
	ASSERT_TRUE(!metrics_srv_start("127.0.0.1:99999", err, sizeof(err)), "bad port refused");
	s = metrics_srv_start("127.0.0.1:0", err, sizeof(err));
	if (!ASSERT_TRUE(s, err))
		return;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", metrics_srv_port(s));
	fetch(c, url, &g);
	ASSERT_EQ(g.status, 200, "before a snapshot: 200");
	ASSERT_TRUE(g.body && strstr(g.body, "no snapshot yet"), "says it has none yet");
	free(g.body);
	metrics_srv_publish(s, sample());
	fetch(c, url, &g);
	ASSERT_EQ(g.status, 200, "GET /metrics: 200");
	{
		struct metrics_snapshot *m = sample();

		t = render(m, &len);
		metrics_snapshot_free(m);
	}
	ASSERT_TRUE(g.body && !strcmp(g.body, t), "body is the rendered snapshot");
	free(g.body);
	free(t);
	metrics_srv_publish(s, metrics_snapshot_new(1));	/* replaced: old freed */
	fetch(c, url, &g);
	ASSERT_TRUE(g.body && !strstr(g.body, "service=\"web\""), "new snapshot served");
	free(g.body);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/nope", metrics_srv_port(s));
	fetch(c, url, &g);
	ASSERT_EQ(g.status, 404, "other paths: 404");
	free(g.body);
	metrics_srv_stop(s);
	httpc_free(c);
}

int main(void)
{
	unsetenv("http_proxy");
	test_text();
	test_http();
	if (access("/usr/bin/promtool", X_OK))
		t_skip("promtool missing (Debian's prometheus package: scripts/deps.sh)");
	test_promtool();
	return t_done();
}
