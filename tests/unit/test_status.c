// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The status page's JSON endpoint and static files: the document built
 * from a snapshot and the daemon's rollouts (state, step, weights per
 * ring, gate values, traffic counters, the last audit events from a real
 * SQLite store), strings carrying markup kept as data; then the
 * libmicrohttpd listener over loopback (libcurl): /api/status serves the
 * published document (503 before one), the page and its script and styles
 * come with a Content-Security-Policy, nothing refers outside the
 * listener, the script never builds markup from strings.
 * sluice-test: host-only
 */
#include <math.h>
#include <curl/curl.h>
#include "test.h"
#include "sluiced.h"
#include "metrics.h"

#define EVIL_PLAN	"<img src=x onerror=alert(1)>.yaml"
#define EVIL_TEXT	"paused: <script>alert(\"x\")</script> & 'more'"

static const char plan_yaml[] =
	"steps:\n"
	"  - weight: 5%\n    hold: 30s\n"
	"  - weight: 25%\n    hold: 30s\n"
	"  - weight: 100%\n    hold: 30s\n"
	"gates:\n"
	"  - name: errors\n    metric: error_ratio\n    max_increase: 50%\n"
	"    min_samples: 5\n";

static struct metrics_snapshot *snapshot(void)
{
	struct metrics_snapshot *m = metrics_snapshot_new(2);
	struct metrics_service *s;

	snprintf(m->ring[0], sizeof(m->ring[0]), "default");
	snprintf(m->ring[2], sizeof(m->ring[2]), "early");
	s = metrics_snapshot_add(m, "web");
	s->mode = SLUICE_MODE_NAT;
	s->weight[0] = 2500;
	s->weight[2] = 500;
	s->weight[5] = 7777;		/* an unconfigured ring: left out */
	s->fs[SLUICE_CANARY][0].new_flows = 40;
	s->fs[SLUICE_CANARY][2].new_flows = 2;
	s->fs[SLUICE_CANARY][0].backend_rst = 3;
	s->fs[SLUICE_CANARY][0].client_rst = 1;
	s->fs[SLUICE_CANARY][0].syn_retrans = 100;	/* not an error in nat mode */
	s->fs[SLUICE_CANARY][5].new_flows = 1000;	/* unconfigured ring */
	s->fs[SLUICE_BASELINE][0].new_flows = 400;
	s = metrics_snapshot_add(m, "db");
	s->mode = SLUICE_MODE_DSR;
	s->fs[SLUICE_CANARY][0].syn_retrans = 4;	/* dsr: retransmits count */
	s->fs[SLUICE_CANARY][0].client_rst = 1;
	return m;
}

static json_t *at(json_t *o, const char *path)
{
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		char *end;
		long i = strtol(tok, &end, 10);

		o = *end ? json_object_get(o, tok) : json_array_get(o, i);
	}
	return o;
}

static long long at_int(json_t *o, const char *path)
{
	return json_integer_value(at(o, path));
}

static const char *at_str(json_t *o, const char *path)
{
	const char *s = json_string_value(at(o, path));

	return s ? s : "(missing)";
}

static char *doc_text;	/* the document of test_doc, served by test_http */

/* a snapshot as the loop treats it: tracked, then its document */
static char *doc_at(struct daemon *d, struct metrics_snapshot *m, __u64 now)
{
	status_track(d, m, now, true);
	return status_doc(d, m, now);
}

/* a document, freed at the next call */
static const char *status_doc_keep(struct daemon *d, struct metrics_snapshot *m, __u64 now)
{
	static char *last;

	free(last);
	last = doc_at(d, m, now);
	return last ? last : "";
}

static void test_doc(void)
{
	char dbpath[64], err[256];
	struct daemon d = { 0 };
	struct rollout r = { 0 }, *ro[1] = { &r };
	struct metrics_snapshot *m;
	json_t *doc;
	int i;

	subtest("the status document of a snapshot and the rollouts");
	snprintf(dbpath, sizeof(dbpath), "/tmp/sluice-status-%d.db", getpid());
	if (!ASSERT_OK(store_open(dbpath, &d.db, err, sizeof(err)), err))
		return;
	snprintf(r.service, sizeof(r.service), "web");
	snprintf(r.plan_name, sizeof(r.plan_name), "%s", EVIL_PLAN);
	r.plan = sluice_plan_parse_string(plan_yaml, "plan", err, sizeof(err));
	if (!ASSERT_TRUE(r.plan, err))
		goto out;
	r.resolved = true;
	eng_state_init(&r.st, "web");
	r.st.rollout_id = 7;
	r.st.phase = ENG_PROGRESSING;
	r.st.step = 1;
	r.st.want_weight[0] = 2500;
	r.st.want_weight[2] = 2500;
	r.st.ngates = 1;
	r.st.gates[0].last.outcome = GATE_PASS;
	r.st.gates[0].last.canary = 0.01;
	r.st.gates[0].last.baseline = 0.02;
	r.st.gates[0].last.threshold = 0.03;
	r.st.gates[0].last.stat = NAN;
	r.st.gates[0].last.stat_limit = NAN;
	d.ro = ro;
	d.nro = 1;
	snprintf(d.env.global.reason, sizeof(d.env.global.reason), "</script><b>incident</b>");
	d.env.global.frozen = true;
	for (i = 0; i < 12; i++) {
		char ev[256];

		snprintf(ev, sizeof(ev), "{\"type\":\"pause\",\"step\":2,\"at_ms\":%d,\"text\":"
			 "\"%s %d\"}", 1000 + i, "paused: <script>alert(\\\"x\\\")</script> & 'more'", i);
		ASSERT_OK(store_event_add(d.db, "web", 7, 1000 + i, "pause", ev), "event stored");
	}
	for (i = 0; i < 5; i++)		/* newer, and not shown */
		ASSERT_OK(store_event_add(d.db, "web", 7, 2000 + i, "gate",
					  "{\"type\":\"gate\",\"text\":\"pass\"}"), "gate event");
	ASSERT_OK(store_event_add(d.db, "db", 1, 5, "pause", "{\"text\":\"other\"}"),
		  "another service's event");
	m = snapshot();
	doc_text = doc_at(&d, m, 424242);
	metrics_snapshot_free(m);
	if (!ASSERT_TRUE(doc_text, "status_doc returns a document"))
		goto out;
	if (getenv("STATUS_DUMP"))
		fprintf(stderr, "%s\n", doc_text);
	doc = json_loads(doc_text, 0, NULL);
	if (!ASSERT_TRUE(doc, "the document is JSON"))
		goto out;
	ASSERT_EQ(at_int(doc, "now_ms"), 424242, "now_ms");
	ASSERT_TRUE(json_is_true(at(doc, "freeze.frozen")), "the global freeze");
	ASSERT_TRUE(!strcmp(at_str(doc, "freeze.reason"), "</script><b>incident</b>"),
		    "the freeze reason, as data");
	ASSERT_EQ(json_array_size(at(doc, "rings")), 2, "configured rings only");
	ASSERT_TRUE(!strcmp(at_str(doc, "rings.1"), "early"), "ring names");
	ASSERT_EQ(json_array_size(at(doc, "services")), 2, "both services");
	ASSERT_TRUE(!strcmp(at_str(doc, "services.0.name"), "web"), "service name");
	ASSERT_TRUE(!strcmp(at_str(doc, "services.0.mode"), "nat"), "mode");
	ASSERT_EQ(json_array_size(at(doc, "services.0.weights")), 2, "weights of configured rings");
	ASSERT_TRUE(!strcmp(at_str(doc, "services.0.weights.1.ring"), "early"), "weight's ring");
	ASSERT_EQ(at_int(doc, "services.0.weights.0.weight"), 2500, "maps' weight, default ring");
	ASSERT_EQ(at_int(doc, "services.0.weights.1.weight"), 500, "maps' weight, early ring");
	ASSERT_EQ(at_int(doc, "services.0.traffic.canary.new_flows"), 42,
		  "new flows summed over configured rings");
	ASSERT_EQ(at_int(doc, "services.0.traffic.baseline.new_flows"), 400, "baseline flows");
	ASSERT_EQ(at_int(doc, "services.0.traffic.canary.errors"), 4,
		  "nat errors: client and backend resets, not retransmits");
	ASSERT_EQ(at_int(doc, "services.1.traffic.canary.errors"), 5,
		  "dsr errors: client resets and SYN retransmits");
	ASSERT_TRUE(!strcmp(at_str(doc, "services.0.rollout.phase"), "progressing"), "phase");
	ASSERT_EQ(at_int(doc, "services.0.rollout.step"), 1, "step (0-based)");
	ASSERT_EQ(at_int(doc, "services.0.rollout.steps"), 3, "steps of the plan");
	ASSERT_EQ(at_int(doc, "services.0.rollout.hold_ms"), 30000, "the step's hold");
	ASSERT_EQ(at_int(doc, "services.0.rollout.weight.1.weight"), 2500,
		  "the rollout's wanted weight, early ring");
	ASSERT_TRUE(!strcmp(at_str(doc, "services.0.rollout.plan_name"), EVIL_PLAN),
		    "a plan name with markup, intact as data");
	ASSERT_TRUE(!strcmp(at_str(doc, "services.0.rollout.gates.0.name"), "errors"), "gate");
	ASSERT_TRUE(!strcmp(at_str(doc, "services.0.rollout.gates.0.outcome"), "pass"), "verdict");
	ASSERT_RANGE(json_real_value(at(doc, "services.0.rollout.gates.0.canary")), 0.01, 0.01,
		     "canary value");
	ASSERT_RANGE(json_real_value(at(doc, "services.0.rollout.gates.0.baseline")), 0.02, 0.02,
		     "baseline value");
	ASSERT_TRUE(json_is_null(at(doc, "services.0.rollout.gates.0.stat")), "NaN as null");
	ASSERT_TRUE(!at(doc, "services.0.rollout.health"), "health once, at the service");
	ASSERT_TRUE(json_is_array(at(doc, "services.0.health")), "health list (no checks: [])");
	ASSERT_EQ(json_array_size(at(doc, "services.0.events")), 8,
		  "the last 8 transitions, gate evaluations left out");
	ASSERT_TRUE(!strcmp(at_str(doc, "services.0.events.7.text"), EVIL_TEXT " 11"),
		    "newest event last, its text intact as data");
	ASSERT_EQ(at_int(doc, "services.0.events.0.at_ms"), 1004, "oldest of the last 8 first");
	ASSERT_TRUE(json_is_null(at(doc, "services.1.rollout")), "no rollout: null");
	ASSERT_EQ(json_array_size(at(doc, "services.1.events")), 0,
		  "no rollout: no events fetched");
	ASSERT_TRUE(json_is_null(at(doc, "services.0.traffic.canary.new_flows_per_s")),
		    "first document: no rate yet");
	json_decref(doc);

	subtest("rates between documents");
	m = snapshot();
	m->svc[0].fs[SLUICE_CANARY][0].new_flows += 100;
	m->svc[0].fs[SLUICE_CANARY][0].backend_rst += 10;
	m->svc[0].fs[SLUICE_BASELINE][0].new_flows += 50;
	free(doc_at(&d, m, 424242 + 1000));	/* inside the window: no rate */
	doc = json_loads(status_doc_keep(&d, m, 424242 + 2500), 0, NULL);
	ASSERT_RANGE(json_real_value(at(doc, "services.0.traffic.canary.new_flows_per_s")),
		     39.99, 40.01, "canary: 100 new flows in 2.5 s");
	ASSERT_RANGE(json_real_value(at(doc, "services.0.traffic.canary.error_ratio")),
		     0.0999, 0.1001, "canary: 10 errors of 100");
	ASSERT_RANGE(json_real_value(at(doc, "services.0.traffic.baseline.new_flows_per_s")),
		     19.99, 20.01, "baseline: 50 in 2.5 s");
	ASSERT_TRUE(json_is_null(at(doc, "services.1.traffic.canary.error_ratio")),
		    "no new flows: no error ratio");
	json_decref(doc);
	doc = json_loads(status_doc_keep(&d, m, 424242 + 3000), 0, NULL);
	ASSERT_RANGE(json_real_value(at(doc, "services.0.traffic.canary.new_flows_per_s")),
		     39.99, 40.01, "the rate holds until the window passes again");
	json_decref(doc);
	m->svc[0].fs[SLUICE_CANARY][0].new_flows = 0;	/* the service was re-added */
	doc = json_loads(status_doc_keep(&d, m, 424242 + 9000), 0, NULL);
	ASSERT_TRUE(json_is_null(at(doc, "services.0.traffic.canary.new_flows_per_s")),
		    "counters going back: no rate, a new base");
	json_decref(doc);

	subtest("the document when due: rebuilt within its cost, else the last one");
	{
		char *a = status_doc_due(&d, m, 600000), *b, *c;

		ASSERT_TRUE(d.status_next_ms >= 600000 && d.status_next_ms < 600000 + 1000,
			    "a small document may be rebuilt within the second");
		d.status_next_ms = 700000;	/* as after a costly build */
		m->svc[0].weight[0] = 4200;
		status_track(&d, m, 600001, true);
		b = status_doc_due(&d, m, 600001);
		c = status_doc_due(&d, m, 700000);
		ASSERT_TRUE(a && b && !strcmp(a, b), "not due yet: the same document again");
		ASSERT_TRUE(b && !strstr(b, "\"weight\":4200"), "  (without the new weight)");
		ASSERT_TRUE(c && strstr(c, "\"weight\":4200"), "due: rebuilt");
		status_doc_idle(&d);
		free(a);
		free(b);
		free(c);
	}

	subtest("the weight's changes, for the sparkline");
	for (i = 0; i < 40; i++) {
		m->svc[0].weight[0] = i / 2 * 100;	/* a change every other doc */
		status_doc_keep(&d, m, 500000 + i * 1000);
	}
	doc = json_loads(status_doc_keep(&d, m, 541000), 0, NULL);
	ASSERT_EQ(json_array_size(at(doc, "services.0.weight_history")), 16,
		  "the last 16 changes kept");
	ASSERT_EQ(at_int(doc, "services.0.weight_history.15.1"), 1900, "the newest: 19.00 %");
	ASSERT_EQ(at_int(doc, "services.0.weight_history.15.0"), 538000, "  when it changed");
	ASSERT_EQ(at_int(doc, "services.0.weight_history.14.1"), 1800, "one change each");
	json_decref(doc);
	doc = json_loads(status_doc_keep(&d, m, 541000 + 3600 * 1000), 0, NULL);
	ASSERT_EQ(json_array_size(at(doc, "services.0.weight_history")), 1,
		  "an hour later: the level the line starts at only");
	json_decref(doc);
	metrics_snapshot_free(m);
out:
	status_doc_free(&d);
	sluice_plan_free(r.plan);
	store_close(d.db);
	unlink(dbpath);
	snprintf(err, sizeof(err), "%s-wal", dbpath);
	unlink(err);
	snprintf(err, sizeof(err), "%s-shm", dbpath);
	unlink(err);
	snprintf(err, sizeof(err), "%s.lock", dbpath);
	unlink(err);
}

struct got {
	long code;
	char *body, *hdrs;
	size_t blen, hlen;
};

static size_t grow(char **buf, size_t *len, const char *p, size_t n)
{
	char *b = realloc(*buf, *len + n + 1);

	if (!b)
		return 0;
	memcpy(b + *len, p, n);
	*len += n;
	b[*len] = 0;
	*buf = b;
	return n;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct got *g = arg;

	return grow(&g->body, &g->blen, p, sz * n);
}

static size_t on_hdr(char *p, size_t sz, size_t n, void *arg)
{
	struct got *g = arg;

	return grow(&g->hdrs, &g->hlen, p, sz * n);
}

/* method "GET", "HEAD" or "POST" */
static void get(unsigned short port, const char *method, const char *path, struct got *g)
{
	CURL *c = curl_easy_init();
	char url[128];

	free(g->body);
	free(g->hdrs);
	memset(g, 0, sizeof(*g));
	g->body = strdup("");
	g->hdrs = strdup("");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->code);
	else
		g->code = -1;
	curl_easy_cleanup(c);
}

static bool has_header(const struct got *g, const char *line)
{
	return strcasestr(g->hdrs, line) != NULL;
}

/* a reference that would leave the listener: an absolute URL other than
 * the SVG namespace name (an identifier, never fetched) */
static bool refers_outside(const char *t)
{
	const char *p;

	for (p = t; (p = strstr(p, "//")); p += 2)
		if (p > t && p[-1] == ':' && strncmp(p, "//www.w3.org/2000/svg", 21))
			return true;
	return false;
}

static void test_http(void)
{
	static const char *const markup_sinks[] = {
		"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
		"new Function", "srcdoc",
	};
	struct metrics_snapshot *m;
	struct metrics_srv *s;
	struct got g = { 0 };
	unsigned short port;
	char err[200];
	unsigned int i;

	subtest("the listener serves the page, its files and /api/status");
	s = metrics_srv_start("127.0.0.1:0", err, sizeof(err));
	if (!ASSERT_TRUE(s, err))
		return;
	port = metrics_srv_port(s);
	ASSERT_TRUE(!metrics_srv_status_wanted(s, steady_ms()), "nobody asked: not wanted");
	get(port, "GET", "/api/status", &g);
	ASSERT_EQ(g.code, 503, "before a snapshot: 503");
	ASSERT_TRUE(metrics_srv_status_wanted(s, steady_ms()), "asked: wanted");
	ASSERT_TRUE(!metrics_srv_status_wanted(s, steady_ms() + METRICS_STATUS_IDLE_MS + 1000),
		    "not asked for a while: not wanted");
	ASSERT_TRUE(has_header(&g, "Content-Type: application/json"), "  as JSON");
	ASSERT_TRUE(strstr(g.body, "\"error\""), "  saying why");

	m = metrics_snapshot_new(1);
	metrics_srv_publish(s, m);
	get(port, "GET", "/api/status", &g);
	ASSERT_EQ(g.code, 503, "a snapshot without a document: 503");
	m = metrics_snapshot_new(1);
	m->status = strdup(doc_text ? doc_text : "{}");
	metrics_srv_publish(s, m);
	get(port, "GET", "/api/status", &g);
	ASSERT_EQ(g.code, 200, "GET /api/status: 200");
	ASSERT_TRUE(has_header(&g, "Content-Type: application/json"), "  application/json");
	ASSERT_TRUE(has_header(&g, "Cache-Control: no-store"), "  not cached");
	ASSERT_TRUE(doc_text && !strcmp(g.body, doc_text), "  the published document");
	ASSERT_TRUE(!strstr(g.body, "<script>") || strstr(g.body, "\"paused: <script>"),
		    "  markup only inside JSON strings");
	m = metrics_snapshot_new(1);
	m->status = strdup("{\"version\":1,\"services\":[]}");
	metrics_srv_publish(s, m);		/* replaced: the old one freed */
	get(port, "GET", "/api/status", &g);
	ASSERT_TRUE(!strcmp(g.body, "{\"version\":1,\"services\":[]}"), "the newer document");

	get(port, "GET", "/", &g);
	ASSERT_EQ(g.code, 200, "GET /: 200");
	ASSERT_TRUE(has_header(&g, "Content-Type: text/html"), "  text/html");
	ASSERT_TRUE(has_header(&g, "Content-Security-Policy: default-src 'none'; script-src 'self';"),
		    "  a CSP: no inline or foreign script");
	ASSERT_TRUE(has_header(&g, "X-Content-Type-Options: nosniff"), "  nosniff");
	ASSERT_TRUE(strstr(g.body, "<script src=\"/status.js\""), "  loads /status.js");
	ASSERT_TRUE(!strstr(g.body, "<script>"), "  no inline script");
	ASSERT_TRUE(!refers_outside(g.body), "  no external reference");
	ASSERT_TRUE(g.blen > 0 && g.body[g.blen - 1] == '\n' && !memchr(g.body, 0, g.blen),
		    "  the whole file, without the terminating NUL");
	get(port, "GET", "/status.js", &g);
	ASSERT_EQ(g.code, 200, "GET /status.js: 200");
	ASSERT_TRUE(has_header(&g, "Content-Type: text/javascript"), "  text/javascript");
	ASSERT_TRUE(strstr(g.body, "fetch('/api/status'"), "  polls /api/status");
	ASSERT_TRUE(!refers_outside(g.body), "  no external reference");
	for (i = 0; i < sizeof(markup_sinks) / sizeof(markup_sinks[0]); i++)
		if (!ASSERT_TRUE(!strstr(g.body, markup_sinks[i]),
				 "  builds no markup from strings"))
			fprintf(stderr, "    found %s\n", markup_sinks[i]);
	get(port, "GET", "/status.css", &g);
	ASSERT_EQ(g.code, 200, "GET /status.css: 200");
	ASSERT_TRUE(has_header(&g, "Content-Type: text/css"), "  text/css");
	ASSERT_TRUE(!refers_outside(g.body) && !strstr(g.body, "@import") &&
		    !strstr(g.body, "url("), "  no external reference");
	get(port, "HEAD", "/", &g);
	ASSERT_EQ(g.code, 200, "HEAD /: 200");
	ASSERT_EQ(g.blen, 0, "  no body");
	get(port, "POST", "/api/status", &g);
	ASSERT_EQ(g.code, 405, "POST: 405 (read only)");
	get(port, "GET", "/status.html", &g);
	ASSERT_EQ(g.code, 404, "other paths: 404");
	ASSERT_TRUE(strstr(g.body, "/api/status"), "  naming what there is");
	get(port, "GET", "/metrics", &g);
	ASSERT_EQ(g.code, 200, "/metrics still served");
	free(g.body);
	free(g.hdrs);
	metrics_srv_stop(s);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_doc();
	test_http();
	free(doc_text);
	curl_global_cleanup();
	return t_done();
}
