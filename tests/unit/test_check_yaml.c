// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The `health_check:` YAML (service, pool and backend levels): defaults,
 * which check applies to which backend, and bad input rejected with its
 * file:line:col and a message of its own.
 * sluice-test: host-only
 */
#include "test.h"

#define HEAD \
	"services:\n" \
	"  - name: web\n" \
	"    vip: 192.0.2.10\n" \
	"    port: 80\n" \
	"    mode: nat\n"

static const char good[] = HEAD
	"    health_check: {type: tcp}\n"
	"    baseline:\n"
	"      health_check:\n"
	"        type: http\n"
	"        path: /healthz\n"
	"        expect: [200, 204]\n"
	"        interval: 500ms\n"
	"        rise: 1\n"
	"        fall: 5\n"
	"      backends:\n"
	"        - address: 10.0.0.1\n"
	"        - address: 10.0.0.2\n"
	"          health_check: none\n"
	"        - address: 10.0.0.3\n"
	"          health_check:\n"
	"            type: command\n"
	"            command: test -e /tmp/up\n"
	"            timeout: 2s\n"
	"            interval: 5s\n"
	"        - address: 10.0.0.4\n"
	"          health_check: {type: tcp, address: 10.9.9.9, port: 8080}\n"
	"    canary:\n"
	"      - address: 10.0.1.1\n";

struct bad {
	const char *yaml;	/* appended to HEAD */
	const char *where;	/* "<t>:line:col:" */
	const char *msg;
};

static const struct bad bads[] = {
	{ "    health_check: {}\n", "<t>:6:19:", "missing required key 'type'" },
	{ "    health_check: {type: udp}\n", "<t>:6:26:", "must be tcp, http or command, not 'udp'" },
	{ "    health_check: tcp\n", "<t>:6:19:", "expected a mapping (type: tcp, http or command) or 'none', got a scalar" },
	{ "    health_check:\n", "<t>:6:18:", "got nothing" },
	{ "    health_check: {type: tcp, interval: 1}\n", "<t>:6:41:", "'1' is not a duration" },
	{ "    health_check: {type: tcp, interval: 5ms}\n", "<t>:6:41:", "interval: 5ms is out of range 10ms..3600s" },
	{ "    health_check: {type: tcp, interval: 2h}\n", "<t>:6:41:", "interval: 2h is out of range" },
	{ "    health_check: {type: tcp, interval: 1m30}\n", "<t>:6:41:", "'1m30' is not a duration" },
	{ "    health_check: {type: tcp, interval: 1s, timeout: 2s}\n", "<t>:6:54:", "timeout: 2000ms is longer than the interval (1000ms)" },
	{ "    health_check: {type: tcp, interval: 200ms, timeout: 300ms}\n", "<t>:6:57:", "longer than the interval (200ms)" },
	{ "    health_check: {type: tcp, rise: 0}\n", "<t>:6:37:", "rise: 0 is out of range 1..100" },
	{ "    health_check: {type: tcp, fall: 101}\n", "<t>:6:37:", "fall: 101 is out of range 1..100" },
	{ "    health_check: {type: tcp, fall: \"3\"}\n", "<t>:6:37:", "expected an integer, got the quoted string '3'" },
	{ "    health_check: {type: tcp, port: 0}\n", "<t>:6:37:", "port: 0 is out of range 1..65535" },
	{ "    health_check: {type: tcp, path: /x}\n", "<t>:6:31:", "health_check path: only for type http" },
	{ "    health_check: {type: tcp, expect: 200}\n", "<t>:6:31:", "health_check expect: only for type http" },
	{ "    health_check: {type: http, path: healthz}\n", "<t>:6:38:", "'healthz' must start with '/'" },
	{ "    health_check: {type: http, path: \"/a b\"}\n", "<t>:6:38:", "no spaces or control characters" },
	{ "    health_check: {type: http, host: \"a b\"}\n", "<t>:6:38:", "host: 'a b' holds spaces" },
	{ "    health_check: {type: http, expect: 99}\n", "<t>:6:40:", "expect: 99 is out of range 100..599" },
	{ "    health_check: {type: http, expect: [200, 200]}\n", "<t>:6:46:", "status 200 is listed twice" },
	{ "    health_check: {type: http, expect: []}\n", "<t>:6:40:", "the list of statuses is empty" },
	{ "    health_check: {type: http, expect: [200, 201, 202, 203, 204, 205, 206, 207, 208]}\n", "<t>:6:81:", "at most 8 statuses" },
	{ "    health_check: {type: command}\n", "<t>:6:19:", "type command needs 'command'" },
	{ "    health_check: {type: tcp, command: \"true\"}\n", "<t>:6:31:", "command: only for type command" },
	{ "    health_check: {type: tcp, adress: 10.0.0.1}\n", "<t>:6:31:", "unknown key 'adress' in health_check" },
	{ "    health_check: {type: tcp, address: 10.0.0.1}\n", "<t>:6:31:", "only a backend's check may name an address" },
	{ "    health_check: {type: tcp, type: http}\n", "<t>:6:31:", "duplicate key 'type' in health_check" },
	{ "    health_check: {type: tcp}\n    health_check: none\n", "<t>:7:5:", "duplicate key 'health_check'" },
	{ "    baseline:\n      health_check: [tcp]\n      backends: []\n", "<t>:7:21:", "got a list" },
	{ "    baseline:\n      backends:\n        - address: 10.0.0.1\n          health_check: {type: tcp, address: 300.1.1.1}\n",
	  "<t>:9:46:", "'300.1.1.1' is not an IPv4 or IPv6 address" },
	{ "    baseline:\n      backends:\n        - address: 10.0.0.1\n          health_check: {type: tcp, timeout: 0ms}\n",
	  "<t>:9:46:", "timeout: 0ms is out of range 1ms" },
	{ "    health_check: {type: tcp, interval: -1s}\n", "<t>:6:41:", "'-1s' is not a duration" },
	{ "    health_check: {type: tcp, interval: 1sec}\n", "<t>:6:41:", "'1sec' is not a duration" },
};

int main(void)
{
	const struct sluice_cfg_check *c;
	const struct sluice_cfg_service *cs;
	struct sluice_config *cf;
	char err[512], *text;
	unsigned int i;

	subtest("a good file: defaults and the nearest check applies");
	cf = sluice_config_parse_string(good, "<t>", err, sizeof(err));
	if (!ASSERT_TRUE(cf != NULL, "parses")) {
		fprintf(stderr, "  %s\n", err);
		return t_done();
	}
	cs = &cf->services[0];
	c = sluice_cfg_backend_check(cs, SLUICE_BASELINE, 0);
	ASSERT_TRUE(c && c->type == SLUICE_CHECK_HTTP, "backend 1: the pool's http check");
	if (c) {
		ASSERT_TRUE(!strcmp(c->path, "/healthz"), "path");
		ASSERT_EQ(c->nexpect, 2, "two statuses");
		ASSERT_EQ(c->expect[1], 204, "second status 204");
		ASSERT_EQ(c->interval_ms, 500, "interval 500ms");
		ASSERT_EQ(c->timeout_ms, 500, "timeout defaults to the interval when under 1s");
		ASSERT_EQ(c->rise, 1, "rise 1");
		ASSERT_EQ(c->fall, 5, "fall 5");
		ASSERT_EQ(c->pos.line, 9, "position of the check: line");
	}
	ASSERT_TRUE(sluice_cfg_backend_check(cs, SLUICE_BASELINE, 1) == NULL,
		    "backend 2: health_check none");
	c = sluice_cfg_backend_check(cs, SLUICE_BASELINE, 2);
	ASSERT_TRUE(c && c->type == SLUICE_CHECK_COMMAND, "backend 3: its own command check");
	if (c) {
		ASSERT_TRUE(!strcmp(c->command, "test -e /tmp/up"), "command text");
		ASSERT_EQ(c->timeout_ms, 2000, "timeout 2s");
		ASSERT_EQ(c->rise, 2, "rise defaults to 2");
		ASSERT_EQ(c->fall, 3, "fall defaults to 3");
	}
	c = sluice_cfg_backend_check(cs, SLUICE_BASELINE, 3);
	ASSERT_TRUE(c && c->type == SLUICE_CHECK_TCP && c->port == 8080 &&
		    c->family == AF_INET, "backend 4: tcp to its own address and port");
	c = sluice_cfg_backend_check(cs, SLUICE_CANARY, 0);
	ASSERT_TRUE(c && c->type == SLUICE_CHECK_TCP && c->interval_ms == 1000 &&
		    c->timeout_ms == 1000 && !c->port && !c->family,
		    "canary: the service's tcp check with defaults");
	sluice_config_free(cf);

	cf = sluice_config_parse_string(HEAD "    canary: [{address: 10.0.1.1}]\n", "<t>",
					err, sizeof(err));
	ASSERT_TRUE(cf && !sluice_cfg_backend_check(&cf->services[0], 1, 0),
		    "no health_check anywhere: no check");
	sluice_config_free(cf);

	subtest("bad checks: each rejected with its place and reason");
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		char what[256];

		if (asprintf(&text, "%s%s", HEAD, bads[i].yaml) < 0)
			return 1;
		err[0] = '\0';
		cf = sluice_config_parse_string(text, "<t>", err, sizeof(err));
		snprintf(what, sizeof(what), "bad %u (%s): rejected at %s with \"%s\" (got \"%s\")",
			 i + 1, bads[i].msg, bads[i].where, bads[i].msg, err);
		ASSERT_TRUE(!cf && !strncmp(err, bads[i].where, strlen(bads[i].where)) &&
			    strstr(err, bads[i].msg), what);
		fprintf(stderr, "  %s\n", err);
		sluice_config_free(cf);
		free(text);
	}
	return t_done();
}
