// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet's etcd value parsers (fleet_value.h): the kill switch takes
 * "on" and "off" only (ON, true, 1, yes, garbage used to lift it); weights
 * that do not parse leave the remembered ones alone; the bad-key record is
 * news once per revision and survives a resync; an error names the key,
 * a long one cut and marked.
 * sluice-test: host-only
 */
#include "test.h"
#include "fleet_value.h"
#include "plan.h"

#define K "/sluice/c/services/web/killswitch"

int main(void)
{
	static const char *const bad[] = { "ON", "true", "1", "yes", "garbage", "", "on\n", " off" };
	__u16 w[SLUICE_MAX_RINGS] = { 7, 7, 7, 7, 7, 7, 7, 7 };
	json_t *rec, *prev, *j;
	char err[512];
	unsigned int i;

	subtest("kill switch: on and off only");
	ASSERT_EQ(fleet_parse_killswitch("on", K, err, sizeof(err)), 1, "on");
	ASSERT_EQ(fleet_parse_killswitch("off", K, err, sizeof(err)), 0, "off");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ASSERT_EQ(fleet_parse_killswitch(bad[i], K, err, sizeof(err)), -EINVAL, bad[i]);
		ASSERT_TRUE(strstr(err, K) && strstr(err, "on or off"), "the error names the key and the values");
	}

	subtest("live_flows: keep, reset, drain NNNms");
	{
		static const char *const badl[] = { "KEEP", "drain", "drain 0ms", "drain 10s",
			"drain -5ms", "drain +5ms", "drain 010ms", "drain  5ms", "drain 5ms ", "drain 3600001ms",
			"drain 99999999999999999999999ms", "reset\n", "" };
		char t[32];
		__u64 ms = 7;

		ASSERT_EQ(fleet_parse_live("keep", "k", &ms, err, sizeof(err)), SLUICE_LIVE_KEEP, "keep");
		ASSERT_EQ(fleet_parse_live("reset", "k", &ms, err, sizeof(err)), SLUICE_LIVE_RESET, "reset");
		ASSERT_EQ(fleet_parse_live("drain 1500ms", "k", &ms, err, sizeof(err)), SLUICE_LIVE_DRAIN,
			  "drain 1500ms");
		ASSERT_EQ(ms, 1500, "its grace");
		ASSERT_EQ(fleet_parse_live("drain 3600000ms", "k", &ms, err, sizeof(err)),
			  SLUICE_LIVE_DRAIN, "an hour at most");
		for (i = 0; i < sizeof(badl) / sizeof(badl[0]); i++) {
			err[0] = 0;
			ASSERT_EQ(fleet_parse_live(badl[i], "/p/web/live_flows", &ms, err, sizeof(err)),
				  -EINVAL, badl[i]);
			ASSERT_TRUE(strstr(err, "/p/web/live_flows") && strstr(err, "keep, reset or drain"),
				    "the error names the key and the values");
		}
		fleet_live_text(SLUICE_LIVE_DRAIN, 10000, t, sizeof(t));
		ASSERT_TRUE(!strcmp(t, "drain 10000ms"), "written back as drain 10000ms");
		ASSERT_EQ(fleet_parse_live(t, "k", &ms, err, sizeof(err)), SLUICE_LIVE_DRAIN, "and read");
		fleet_live_text(SLUICE_LIVE_KEEP, 0, t, sizeof(t));
		ASSERT_TRUE(!strcmp(t, "keep"), "keep");
		fleet_live_text(SLUICE_LIVE_RESET, 0, t, sizeof(t));
		ASSERT_TRUE(!strcmp(t, "reset"), "reset");
	}

	subtest("weights");
	ASSERT_OK(fleet_parse_weights("[2500, 100]", w, "k", err, sizeof(err)), "an array per ring");
	ASSERT_TRUE(w[0] == 2500 && w[1] == 100 && w[2] == 0, "read");
	ASSERT_EQ(fleet_parse_weights("[3000, -1]", w, "k", err, sizeof(err)), -EINVAL, "a bad ring refused");
	ASSERT_TRUE(w[0] == 2500, "the weights before are kept");
	ASSERT_EQ(fleet_parse_weights("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
				      w, "k", err, sizeof(err)), -EINVAL, "65 levels refused");
	ASSERT_TRUE(strstr(err, "nested deeper than 64") != NULL, "naming the limit");

	subtest("JSON documents");
	j = fleet_parse_object("{\"phase\": \"start\"}", "k", err, sizeof(err));
	ASSERT_TRUE(j != NULL, "an object");
	json_decref(j);
	ASSERT_TRUE(!fleet_parse_object("[1]", "k", err, sizeof(err)) && strstr(err, "object"), "not an object");
	ASSERT_TRUE(!fleet_parse_object("{", "k", err, sizeof(err)) && strstr(err, "not JSON"), "not JSON");

	subtest("a long key is named by its first bytes, marked cut");
	{
		char key[FLEET_KEY_SHOWN + 100];

		memset(key, 'k', sizeof(key) - 1);
		key[sizeof(key) - 1] = 0;
		memcpy(key, "/sluice/c/nodes/", 16);
		ASSERT_TRUE(!fleet_parse_object("{", key, err, sizeof(err)), "refused");
		ASSERT_TRUE(!strncmp(err, key, FLEET_KEY_SHOWN) &&
			    !strncmp(err + FLEET_KEY_SHOWN, "...: not JSON", 13), "its first bytes, then ...");
		key[FLEET_KEY_SHOWN] = 0;
		ASSERT_EQ(fleet_parse_killswitch("x", key, err, sizeof(err)), -EINVAL, "at the limit");
		ASSERT_TRUE(!strncmp(err, key, FLEET_KEY_SHOWN) && !strncmp(err + FLEET_KEY_SHOWN, ": 'x'", 5),
			    "shown whole");
	}

	subtest("the bad-key record");
	rec = json_object();
	ASSERT_TRUE(fleet_bad_set(rec, NULL, K, 9, "e"), "first time: news");
	ASSERT_TRUE(!fleet_bad_set(rec, NULL, K, 9, "e"), "same revision: not news (logged once)");
	ASSERT_TRUE(fleet_bad_known(rec, NULL, K, 9), "known at 9: skipped");
	ASSERT_TRUE(!fleet_bad_known(rec, NULL, K, 10), "a new revision is parsed");
	prev = rec;
	rec = json_object();
	ASSERT_TRUE(fleet_bad_known(rec, prev, K, 9), "a resync: still known");
	ASSERT_TRUE(json_object_get(rec, K) != NULL, "and kept in the record");
	ASSERT_TRUE(!fleet_bad_set(rec, prev, K, 9, "e"), "and not logged again");
	ASSERT_TRUE(fleet_bad_set(rec, NULL, "/x/\xff\xfe", 0, "bad \xff"), "a key that is not UTF-8");
	ASSERT_EQ(json_object_size(rec), 2, "is recorded too");
	ASSERT_TRUE(!fleet_bad_known(rec, NULL, "/x/\xff\xfe", 0), "revision 0 is never known");
	json_decref(rec);
	json_decref(prev);

	{
		static __u64 a[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS], b[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];
		static __u64 tot[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];
		static __u64 la[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS], lb[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];
		static __u64 back[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS];

		subtest("latency histograms: reported sparse, summed over nodes, never back");
		a[1][0] = 5, a[1][100] = 7, a[0][SLUICE_LAT_BUCKETS - 1] = 2;
		j = fleet_lat_json((const __u64 (*)[SLUICE_LAT_BUCKETS])a);
		ASSERT_TRUE(fleet_lat_parse(j, back), "parses back");
		ASSERT_TRUE(!memcmp(a, back, sizeof(a)), "the same histograms");
		ASSERT_EQ(json_array_size(json_array_get(j, 1)), 2, "only buckets with counts");
		json_decref(j);
		j = json_string("x");
		ASSERT_TRUE(!fleet_lat_parse(j, back), "not an array: false");
		json_decref(j);
		/* node A first seen at a, node B at b: from now on */
		b[1][100] = 3;
		memcpy(la, a, sizeof(la));
		memcpy(lb, b, sizeof(lb));
		a[1][100] += 4, b[1][100] += 6;
		fleet_lat_add(tot, la, (const __u64 (*)[SLUICE_LAT_BUCKETS])a);
		fleet_lat_add(tot, lb, (const __u64 (*)[SLUICE_LAT_BUCKETS])b);
		ASSERT_EQ(tot[1][100], 10, "each node's increase summed");
		memset(b, 0, sizeof(b));	/* B's maps recreated */
		fleet_lat_add(tot, lb, (const __u64 (*)[SLUICE_LAT_BUCKETS])b);
		b[1][100] = 2;
		fleet_lat_add(tot, lb, (const __u64 (*)[SLUICE_LAT_BUCKETS])b);
		ASSERT_EQ(tot[1][100], 12, "a recreated histogram adds nothing negative, counts on");
	}
	return t_done();
}
