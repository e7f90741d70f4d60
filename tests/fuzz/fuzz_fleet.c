// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: what a fleet node reads from etcd. Byte 0 picks the
 * parser: the kill switch, the weights, a JSON document (rollout state,
 * node report), or a range/watch answer of etcd's JSON gateway decoded
 * key by key (base64) and each value put through the others. Invariants:
 * the kill switch is on or off exactly; weights within 0..10000 bp; a
 * refusal has a reason naming the key (a long one by its first
 * FLEET_KEY_SHOWN bytes and "..."); no crash, leak or sanitizer report.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "etcd.h"
#include "fleet_value.h"
#include "plan.h"

static bool names_key(const char *err, const char *key)
{
	size_t n = strlen(key);

	if (n <= FLEET_KEY_SHOWN)
		return strstr(err, key);
	return !strncmp(err, key, FLEET_KEY_SHOWN) && !strncmp(err + FLEET_KEY_SHOWN, "...", 3);
}

static void values(const char *key, const char *v)
{
	__u16 w[SLUICE_MAX_RINGS] = { 0 };
	char err[512] = "";
	json_t *j;
	int r, i;

	r = fleet_parse_killswitch(v, key, err, sizeof(err));
	assert(r == (!strcmp(v, "on") ? 1 : !strcmp(v, "off") ? 0 : -EINVAL));
	assert(r >= 0 || names_key(err, key));
	err[0] = 0;
	if (fleet_parse_weights(v, w, key, err, sizeof(err)) == 0) {
		for (i = 0; i < SLUICE_MAX_RINGS; i++)
			assert(w[i] <= 10000);
	} else {
		assert(names_key(err, key));
	}
	err[0] = 0;
	{
		__u64 ms = 1;
		char t[32];

		r = fleet_parse_live(v, key, &ms, err, sizeof(err));
		if (r >= 0) {	/* a value read is written back the same */
			assert(r == SLUICE_LIVE_DRAIN ? ms && ms <= SLUICE_LIVE_DRAIN_MAX_MS : !ms);
			fleet_live_text(r, ms, t, sizeof(t));
			assert(!strcmp(t, v));
		} else {
			assert(names_key(err, key));
		}
	}
	err[0] = 0;
	j = fleet_parse_object(v, key, err, sizeof(err));
	assert(j ? json_is_object(j) : names_key(err, key));
	json_decref(j);
}

static void on_kv(const char *key, const char *v, json_t *kv, void *arg)
{
	(void)kv;
	(void)arg;
	values(key, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	json_t *reply;
	json_t *bad, *prev;

	if (!size)
		return 0;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	switch (data[0] & 3) {
	case 0:
	case 1:
		values("/sluice/f/services/web/killswitch", text);
		break;
	case 2:
		reply = json_loads(text, 0, NULL);
		etcd_range_each(reply, on_kv, NULL);
		json_decref(reply);
		break;
	case 3:	/* the bad-key record: set, then known at that revision */
		bad = json_object();
		prev = json_object();
		assert(fleet_bad_set(bad, NULL, text, 7, text));
		assert(!fleet_bad_set(bad, NULL, text, 7, text));
		assert(json_object_size(bad) == 1);	/* recorded, whatever the bytes */
		assert(fleet_bad_known(bad, NULL, text, 7));
		assert(!fleet_bad_known(bad, NULL, text, 8));
		assert(fleet_bad_known(prev, bad, text, 7));	/* across a resync */
		json_decref(bad);
		json_decref(prev);
		break;
	}
	free(text);
	return 0;
}
