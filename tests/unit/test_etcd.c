// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The etcd gateway client's pure parts: base64 both ways (every length
 * modulo 3, bytes above 127, bad input refused), the prefix range a watch
 * and a range cover, revisions that arrive as strings, the kv entries of
 * an answer, a transaction's compare.
 * sluice-test: host-only
 */
#include "test.h"
#include "etcd.h"

static void test_b64(void)
{
	static const char *const in[] = { "", "a", "ab", "abc", "abcd",
					  "/sluice/edge/services/web/weights",
					  "\xc3\xa9t\xc3\xa9 \xff" };
	static const struct { const char *plain, *enc; } known[] = {
		{ "/a/b", "L2EvYg==" }, { "42", "NDI=" }, { "n1", "bjE=" },
	};
	char out[128];
	unsigned int i;

	subtest("base64");
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		json_t *j = etcd_b64(in[i]);
		int n = etcd_unb64(json_string_value(j), out, sizeof(out));

		ASSERT_EQ(n, strlen(in[i]), "decoded length");
		ASSERT_TRUE(!strcmp(out, in[i]), "round trip");
		json_decref(j);
	}
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		json_t *j = etcd_b64(known[i].plain);

		ASSERT_TRUE(!strcmp(json_string_value(j), known[i].enc), "etcd's own encoding");
		json_decref(j);
	}
	ASSERT_EQ(etcd_unb64("L2E*Yg==", out, sizeof(out)), -1, "a bad character is refused");
	ASSERT_EQ(etcd_unb64("L2EvYg==", out, 3), -1, "an answer too long for the buffer is refused");
}

static void test_requests(void)
{
	json_t *r = etcd_req_range_prefix("/sluice/c/"), *c, *p;
	char out[64];

	subtest("requests");
	etcd_unb64(json_string_value(json_object_get(r, "range_end")), out, sizeof(out));
	ASSERT_TRUE(!strcmp(out, "/sluice/c0"), "the range ends after the prefix's last byte");
	json_decref(r);
	c = etcd_cmp("/l", "CREATE", 0);
	ASSERT_TRUE(!strcmp(json_string_value(json_object_get(c, "target")), "CREATE") &&
		    json_integer_value(json_object_get(c, "create_revision")) == 0,
		    "create-if-absent compares create_revision with 0");
	json_decref(c);
	c = etcd_cmp("/r", "MOD", 42);
	ASSERT_EQ(json_integer_value(json_object_get(c, "mod_revision")), 42, "mod revision compare");
	json_decref(c);
	p = etcd_req_put("/k", "v", 7);
	ASSERT_EQ(json_integer_value(json_object_get(p, "lease")), 7, "a put under a lease");
	json_decref(p);
	p = etcd_req_put("/k", "v", 0);
	ASSERT_TRUE(!json_object_get(p, "lease"), "a put without a lease has no lease field");
	json_decref(p);
}

static int seen;
static void on_kv(const char *key, const char *value, json_t *kv, void *arg)
{
	(void)arg;
	seen++;
	if (seen == 1)
		ASSERT_TRUE(!strcmp(key, "/a/b") && !strcmp(value, "42") &&
			    etcd_int(kv, "mod_revision") == 2, "first kv decoded");
	else
		ASSERT_TRUE(!strcmp(key, "/l") && !*value, "an empty value (left out by etcd)");
}

static void test_answers(void)
{
	/* as etcd 3.4's gateway writes them */
	json_t *r = json_loads("{\"header\":{\"revision\":\"3\"},\"kvs\":["
			       "{\"key\":\"L2EvYg==\",\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"NDI=\"},"
			       "{\"key\":\"L2w=\",\"mod_revision\":\"3\"},"
			       "{\"key\":\"%%%\",\"value\":\"NDI=\"}],\"count\":\"3\"}", 0, NULL);

	subtest("answers");
	ASSERT_TRUE(r != NULL, "answer parses");
	ASSERT_EQ(etcd_int(json_object_get(r, "header"), "revision"), 3, "revision as a string");
	ASSERT_EQ(etcd_int(r, "absent"), 0, "an absent field is 0");
	ASSERT_EQ(etcd_range_each(r, on_kv, NULL), 2, "two good kvs; the bad key is skipped");
	ASSERT_EQ(seen, 2, "callback per good kv");
	json_decref(r);
}

int main(void)
{
	test_b64();
	test_requests();
	test_answers();
	return t_done();
}
