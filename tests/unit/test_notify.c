// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Notifications: a real command (sh) and a real HTTP POST to a loopback
 * server (libmicrohttpd) per event, with the event's JSON; once per event
 * (a repeat is dropped), filtered by kind; failed deliveries counted.
 * sluice-test: host-only
 */
#include <pthread.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <jansson.h>
#include "test.h"
#include "notify.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char posts[8][1024];
static int nposts;

struct upload {
	char buf[1024];
	size_t len;
};

static enum MHD_Result on_http(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *data, size_t *len, void **state)
{
	struct upload *u = *state;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!u) {
		*state = calloc(1, sizeof(*u));
		return MHD_YES;
	}
	if (*len) {
		size_t k = *len < sizeof(u->buf) - 1 - u->len ? *len : sizeof(u->buf) - 1 - u->len;

		memcpy(u->buf + u->len, data, k);
		u->len += k;
		*len = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&lock);
	if (nposts < 8 && !strcmp(method, "POST"))
		snprintf(posts[nposts++], sizeof(posts[0]), "%s", u->buf);
	pthread_mutex_unlock(&lock);
	free(u);
	*state = NULL;
	r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(c, strstr(url, "fail") ? 500 : 204, r);
	MHD_destroy_response(r);
	return ret;
}

static void pump(struct cmdrun *cr, struct httpc *hc, struct notify *n,
		 unsigned long want_done)
{
	int ep = epoll_create1(0), i;
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct notify_stats st;

	epoll_ctl(ep, EPOLL_CTL_ADD, cmdrun_fd(cr), &ev);
	ev.data.fd = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, httpc_fd(hc), &ev);
	for (i = 0; i < 100; i++) {
		notify_get_stats(n, &st);
		if (st.delivered + st.failed >= want_done)
			break;
		epoll_wait(ep, &out, 1, 100);
		cmdrun_dispatch(cr);
		httpc_dispatch(hc);
	}
	close(ep);
}

static int count_lines(const char *base, char lines[][1024], int max)
{
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), "%s.all", base);
	f = fopen(path, "r");
	int n = 0;

	if (!f)
		return 0;
	while (n < max && fgets(lines[n], 1024, f))
		n++;
	fclose(f);
	return n;
}

struct logged {
	int n, level;
	char text[512];
};

static void log_line(void *ctx, int level, const char *msg)
{
	struct logged *l = ctx;

	l->n++;
	l->level = level;
	snprintf(l->text, sizeof(l->text), "%s", msg);
}

int main(void)
{
	struct MHD_Daemon *d;
	struct cmdrun *cr = cmdrun_new();
	struct httpc *hc = httpc_new();
	struct notify *n;
	struct notify_stats st;
	struct logged logged = { 0 };
	char out[64], cmd[512], url[96], err[160], lines[8][1024];
	uint32_t mask;
	json_t *j;
	int k;
	struct notify_event rb = {
		.kind = NOTIFY_ROLLBACK, .service = "web", .rollout_id = 7, .attempt = 1,
		.step = 2, .at_ms = 1764600000123ull, .who = "engine",
		.text = "gate errors: canary 2.1% vs baseline 0.2%", .gate = "errors",
	};
	struct notify_event pause = rb, promote = rb, freeze = { 0 };

	unsetenv("http_proxy");
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_http, NULL,
			     MHD_OPTION_SOCK_ADDR, &(struct sockaddr_in){
				     .sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
			     MHD_OPTION_END);
	if (!d || !cr || !hc)
		return 1;
	snprintf(out, sizeof(out), "/tmp/sluice-notify-%d.log", getpid());
	/* one file per delivery: concurrent commands must not interleave */
	snprintf(cmd, sizeof(cmd), "{ cat; echo \" $SLUICE_EVENT $SLUICE_SERVICE $SLUICE_STEP "
		 "$SLUICE_ROLLOUT_ID\"; } > %s.$$; cat %s.$$ >> %s.all; rm %s.$$",
		 out, out, out, out);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook",
		 MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);

	subtest("kinds parse");
	ASSERT_OK(notify_parse_kinds("pause, rollback,freeze", &mask, err, sizeof(err)), "list parsed");
	ASSERT_EQ(mask, (1u << NOTIFY_PAUSE) | (1u << NOTIFY_ROLLBACK) | (1u << NOTIFY_FREEZE), "mask");
	ASSERT_EQ(notify_parse_kinds("pause,boom", &mask, err, sizeof(err)), -EINVAL, "unknown kind");
	ASSERT_TRUE(strstr(err, "'boom'"), err);

	subtest("one command and one POST per event, with the event's JSON");
	n = notify_new(&(struct notify_cfg){ .command = cmd, .url = url }, cr, hc);
	pause.kind = NOTIFY_PAUSE;
	pause.at_ms = rb.at_ms - 5000;
	pause.text = "paused: gate errors inconclusive";
	ASSERT_EQ(notify_send(n, &pause), 1, "pause sent");
	ASSERT_EQ(notify_send(n, &rb), 1, "rollback sent");
	ASSERT_EQ(notify_send(n, &rb), 0, "the same rollback again: dropped");
	freeze.kind = NOTIFY_FREEZE;
	freeze.at_ms = rb.at_ms + 1;
	freeze.step = -1;
	freeze.who = "alice";
	freeze.text = "INC-42";
	ASSERT_EQ(notify_send(n, &freeze), 1, "global freeze sent");
	pump(cr, hc, n, 6);
	notify_get_stats(n, &st);
	ASSERT_EQ(st.sent, 6, "6 deliveries (3 events x command + POST)");
	ASSERT_EQ(st.delivered, 6, "all delivered");
	ASSERT_EQ(st.duplicates, 1, "one duplicate dropped");
	k = count_lines(out, lines, 8);
	ASSERT_EQ(k, 3, "the command ran 3 times");
	pthread_mutex_lock(&lock);
	ASSERT_EQ(nposts, 3, "3 POSTs arrived");
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < k; i++) {
		j = json_loads(lines[i], JSON_DISABLE_EOF_CHECK, NULL);
		ASSERT_TRUE(j, "command's stdin is JSON");
		if (j && !strcmp(json_string_value(json_object_get(j, "event")), "rollback")) {
			ASSERT_TRUE(!strcmp(json_string_value(json_object_get(j, "service")), "web"),
				    "payload: service");
			ASSERT_EQ(json_integer_value(json_object_get(j, "rollout_id")), 7, "payload: rollout id");
			ASSERT_EQ(json_integer_value(json_object_get(j, "step")), 2, "payload: step");
			ASSERT_TRUE(strstr(json_string_value(json_object_get(j, "reason")), "2.1%"),
				    "payload: reason with the numbers");
			ASSERT_TRUE(!strcmp(json_string_value(json_object_get(j, "time")),
					    "2025-12-01T14:40:00.123Z"), "payload: time, UTC, ms");
			ASSERT_TRUE(strstr(lines[i], " rollback web 2 7\n"), "command env: event, service, step, id");
		}
		if (j && !strcmp(json_string_value(json_object_get(j, "event")), "freeze"))
			ASSERT_TRUE(json_is_null(json_object_get(j, "service")) &&
				    !strcmp(json_string_value(json_object_get(j, "who")), "alice"),
				    "global freeze: no service, who");
		json_decref(j);
	}
	pthread_mutex_lock(&lock);
	j = json_loads(posts[1], 0, NULL);
	ASSERT_TRUE(j && json_object_get(j, "event"), "POST body is the event's JSON");
	json_decref(j);
	pthread_mutex_unlock(&lock);
	notify_free(n);

	subtest("filtered kinds; failures counted");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/fail",
		 MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port);
	n = notify_new(&(struct notify_cfg){ .command = "exit 3", .url = url,
					     .kinds = 1u << NOTIFY_ROLLBACK,
					     .log = log_line, .log_ctx = &logged }, cr, hc);
	promote.kind = NOTIFY_PROMOTE;
	ASSERT_EQ(notify_send(n, &promote), 0, "promote filtered out");
	ASSERT_EQ(notify_send(n, &rb), 1, "rollback sent");
	pump(cr, hc, n, 2);
	notify_get_stats(n, &st);
	ASSERT_EQ(st.failed, 2, "exit 3 and HTTP 500 counted as failed");
	ASSERT_EQ(logged.n, 2, "both failures went to the daemon's logger, not stderr");
	ASSERT_EQ(logged.level, 3, "logged as errors");
	ASSERT_TRUE(strstr(logged.text, "notification"), logged.text);
	notify_free(n);

	strcat(out, ".all");
	unlink(out);
	cmdrun_free(cr);
	httpc_free(hc);
	MHD_stop_daemon(d);
	return t_done();
}
