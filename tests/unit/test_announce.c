// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * VIP announcements (issue 22): what sluice_announce_sync puts in its
 * routing table (in a network namespace of the test's own), why each VIP
 * is or is not announced, drain kept across a service put, routes of
 * deleted services withdrawn, and the YAML `bgp:` section's errors.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fixture.h"

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		fprintf(stderr, "  setup command failed: %s\n", cmd);
	return rc;
}

/* 1 if the kernel table holds sluice's route for vip */
static int has_route(const char *vip)
{
	char cmd[256], line[256];
	int found = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip %s route show table %d proto %d 2>/dev/null",
		 strchr(vip, ':') ? "-6" : "-4", SLUICE_ROUTE_TABLE, SLUICE_ROUTE_PROTO);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		found |= !strncmp(line, vip, strlen(vip)) && line[strlen(vip)] == ' ';
	pclose(f);
	return found;
}

static struct sluice_announce ann[16];

static const struct sluice_announce *row(int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(ann[i].name, name))
			return &ann[i];
	return NULL;
}

static int why_of(struct sluice *s, const char *name)
{
	int n = sluice_announce_sync(s, ann, 16);
	const struct sluice_announce *a = row(n, name);

	return a ? a->why : -1;
}

static void test_yaml(void)
{
	static const char *const bad[][2] = {
		{ "bgp: maybe\n", "bgp" },
		{ "bgp: {communities: [\"65000\"]}\n", "not a community" },
		{ "bgp: {communities: [\"70000:1\"]}\n", "not a community" },
		{ "bgp: {communities: [\"1:2\", \"1:2\"]}\n", "listed twice" },
		{ "bgp: {communities: \"1:2\"}\n", "expected a list" },
		{ "bgp: {prepend: 9}\n", "bgp prepend" },
		{ "bgp: {med: 5}\n", "med" },
	};
	const char *head = "services:\n  - name: web\n    vip: 192.0.2.10\n    port: 80\n    ";
	struct sluice_config *c;
	char text[512], err[512];
	unsigned int i;

	subtest("yaml");
	snprintf(text, sizeof(text), "%sbgp: {communities: [\"65000:100\", \"65000:7\"], prepend: 2}\n", head);
	c = sluice_config_parse_string(text, "<t>", err, sizeof(err));
	if (ASSERT_TRUE(c, "a bgp section parses")) {
		ASSERT_TRUE(c->services[0].bgp, "bgp: a mapping announces");
		ASSERT_EQ(c->services[0].ncommunities, 2, "two communities");
		ASSERT_EQ(c->services[0].communities[1], 65000u << 16 | 7, "ASN:VALUE");
		ASSERT_EQ(c->services[0].prepend, 2, "prepend");
		sluice_config_free(c);
	} else {
		fprintf(stderr, "  %s\n", err);
	}
	snprintf(text, sizeof(text), "%sbgp: false\n", head);
	c = sluice_config_parse_string(text, "<t>", err, sizeof(err));
	if (ASSERT_TRUE(c, "bgp: false parses")) {
		ASSERT_TRUE(!c->services[0].bgp, "bgp: false does not announce");
		sluice_config_free(c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", head, bad[i][0]);
		c = sluice_config_parse_string(text, "<t>", err, sizeof(err));
		ASSERT_TRUE(!c, bad[i][0]);
		sluice_config_free(c);
		/* the message names the line (5) and what is wrong */
		if (!ASSERT_TRUE(!strncmp(err, "<t>:5:", 6) && strstr(err, bad[i][1]), bad[i][0]))
			fprintf(stderr, "  got: %s\n", err);
	}
}

int main(void)
{
	struct sluice_service_spec *v4, *v6, *same, *got;
	struct sluice_health_mark m = {};
	struct sluice *s;
	int n;

	test_yaml();
	if (geteuid() != 0)
		t_skip("needs root (BPF, a network namespace)");
	if (unshare(CLONE_NEWNET) < 0)
		t_skip("cannot make a network namespace");
	if (sh("ip link add slb0 type veth peer name slb1 && ip link set slb0 up && "
	       "ip link set slb1 up && ip link set lo up"))
		t_skip("cannot set up the test namespace (ip)");
	s = t_instance("announce", 0);
	got = sluice_spec_new();

	v4 = t_spec("web", "192.0.2.10", 80, IPPROTO_TCP, 2, 1);
	v4->announce = true;
	v6 = t_spec("web6", "2001:db8::10", 80, IPPROTO_TCP, 1, 0);
	v6->announce = true;
	/* a second service on web's VIP, without bgp: never announces */
	same = t_spec("web443", "192.0.2.10", 443, IPPROTO_TCP, 1, 0);
	if (!ASSERT_OK(sluice_service_put(s, v4), "put web") ||
	    !ASSERT_OK(sluice_service_put(s, v6), "put web6") ||
	    !ASSERT_OK(sluice_service_put(s, same), "put web443"))
		return t_done();

	subtest("attachment");
	n = sluice_announce_sync(s, ann, 16);
	ASSERT_EQ(n, 2, "one row per service with bgp");
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_NOT_ATTACHED, "nothing attached: withdrawn");
	ASSERT_EQ(has_route("192.0.2.10"), 0, "no route before attach");
	if (!ASSERT_OK(sluice_attach(s, "slb0", SLUICE_ATTACH_XDP_GENERIC), "attach"))
		return t_done();
	n = sluice_announce_sync(s, ann, 16);
	ASSERT_TRUE(row(n, "web") && row(n, "web")->changed && row(n, "web")->announced,
		    "attach: web announced, and this call changed it");
	ASSERT_EQ(has_route("192.0.2.10"), 1, "IPv4 route in the table");
	ASSERT_EQ(has_route("2001:db8::10"), 1, "IPv6 route in the table");
	n = sluice_announce_sync(s, ann, 16);
	ASSERT_TRUE(row(n, "web") && !row(n, "web")->changed, "a repeated sync changes nothing");
	/* too little room for every announcing service: refused, not a
	 * withdrawal of the VIPs it could not see */
	ASSERT_EQ(sluice_announce_sync(s, ann, 1), -ENOSPC, "sync into 1 row of 2: ENOSPC");
	ASSERT_EQ(has_route("192.0.2.10") + has_route("2001:db8::10"), 2, "both routes stay");

	subtest("health");
	/* the baseline takes every new flow at weight 0: its two backends down */
	m.family = v4->pool[0].be[0].family;
	m.addr = v4->pool[0].be[0].addr;
	m.down = true;
	sluice_backend_health_set(s, "web", &m, 1, NULL);
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_OK, "one of two baseline backends up: announced");
	m.addr = v4->pool[0].be[1].addr;
	sluice_backend_health_set(s, "web", &m, 1, NULL);
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_NO_HEALTHY, "baseline all down: withdrawn");
	ASSERT_EQ(has_route("192.0.2.10"), 0, "route gone");
	ASSERT_EQ(has_route("2001:db8::10"), 1, "the other VIP stays");
	/* the healthy canary takes new flows once it has weight */
	ASSERT_OK(sluice_set_weight(s, "web", -1, 500), "weight 5%");
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_OK, "canary up and weighted: announced");
	ASSERT_OK(sluice_revert(s, "web", false), "revert to the baseline");
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_NO_HEALTHY, "reverted to a dead baseline: withdrawn");
	ASSERT_OK(sluice_resume(s, "web"), "resume");
	m.down = false;
	sluice_backend_health_set(s, "web", &m, 1, NULL);
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_OK, "a baseline backend up again: announced");
	ASSERT_EQ(has_route("192.0.2.10"), 1, "route back");

	subtest("drain");
	ASSERT_EQ(sluice_service_drain(s, "web", true), 1, "drain web");
	ASSERT_EQ(sluice_service_drain(s, "web", true), 0, "drain again: no change");
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_DRAINED, "drained: withdrawn");
	ASSERT_EQ(has_route("192.0.2.10"), 0, "drained: no route");
	/* a put (apply, backend add) keeps the operator's drain */
	ASSERT_OK(sluice_service_get(s, "web", got), "get web");
	ASSERT_TRUE(got->drained && got->announce, "get: drained, bgp on");
	ASSERT_OK(sluice_service_put(s, got), "put web again");
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_DRAINED, "still drained after a put");
	ASSERT_EQ(sluice_service_drain(s, NULL, false), 1, "undrain --all");
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_OK, "undrained: announced");
	ASSERT_EQ(sluice_service_drain(s, NULL, true), 3, "drain --all: three services");
	ASSERT_EQ(why_of(s, "web6"), SLUICE_ANN_DRAINED, "drain --all reaches web6");
	ASSERT_EQ(has_route("2001:db8::10"), 0, "web6 withdrawn");
	sluice_service_drain(s, NULL, false);
	ASSERT_EQ(why_of(s, "web6"), SLUICE_ANN_OK, "undrain --all");

	subtest("gone");
	ASSERT_OK(sluice_service_del(s, "web6"), "delete web6");
	n = sluice_announce_sync(s, ann, 16);
	ASSERT_TRUE(n == 2 && ann[1].why == SLUICE_ANN_GONE && ann[1].changed &&
		    !ann[1].announced, "its route is withdrawn, as a GONE row");
	ASSERT_EQ(has_route("2001:db8::10"), 0, "route of a deleted service gone");
	v4->announce = false;
	v4->pool[0].n = 0;	/* keep the canary alone: announce off wins anyway */
	ASSERT_OK(sluice_service_put(s, v4), "bgp off");
	sluice_announce_sync(s, ann, 16);
	ASSERT_EQ(has_route("192.0.2.10"), 0, "bgp off: withdrawn");

	subtest("export");
	{
		struct sluice_config *c = sluice_config_export(s);
		unsigned int i, found = 0;

		for (i = 0; c && i < c->nservices; i++)
			if (!strcmp(c->services[i].name, "web"))
				found = 1 + c->services[i].bgp;
		ASSERT_EQ(found, 1, "export: web without bgp (apply would keep it so)");
		sluice_config_free(c);
	}

	subtest("detach");
	v4->announce = true;
	for (n = 0; n < SLUICE_MAX_RINGS; n++)
		v4->weight[n] = 10000;	/* the canary takes every new flow */
	ASSERT_OK(sluice_service_put(s, v4), "bgp on again");
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_OK, "announced (canary only, weighted)");
	{
		struct sluice_config *c = sluice_config_export(s);

		ASSERT_TRUE(c && c->nservices && c->services[0].bgp == !strcmp(c->services[0].name, "web"),
			    "export says bgp for web (an export-apply round trip keeps it)");
		sluice_config_free(c);
	}
	ASSERT_OK(sluice_detach(s, "slb0"), "detach");
	ASSERT_EQ(why_of(s, "web"), SLUICE_ANN_NOT_ATTACHED, "detached: withdrawn");
	ASSERT_EQ(has_route("192.0.2.10"), 0, "detached: no route");

	sluice_spec_free(got);
	sluice_spec_free(v4);
	sluice_spec_free(v6);
	sluice_spec_free(same);
	return t_done();
}
