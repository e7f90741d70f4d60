// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Fleet key values (fleet_value.h): small pure functions, fuzzed alone. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fleet_value.h"
#include "input_limits.h"
#include "plan.h"

const char *fleet_key_shown(const char *key, char *buf)
{
	if (strnlen(key, FLEET_KEY_SHOWN + 1) <= FLEET_KEY_SHOWN)
		return key;
	snprintf(buf, FLEET_KEY_SHOWN + 4, "%.*s...", FLEET_KEY_SHOWN, key);
	return buf;
}

int fleet_parse_killswitch(const char *v, const char *key, char *err, size_t errlen)
{
	char kb[FLEET_KEY_SHOWN + 4];

	if (!strcmp(v, "on"))
		return 1;
	if (!strcmp(v, "off"))
		return 0;
	key = fleet_key_shown(key, kb);
	snprintf(err, errlen, "%s: '%.40s' is not a kill switch value (on or off)", key, v);
	return -EINVAL;
}

int fleet_parse_live(const char *v, const char *key, __u64 *drain_ms, char *err,
		     size_t errlen)
{
	char kb[FLEET_KEY_SHOWN + 4];
	unsigned long long ms;
	char *end;

	*drain_ms = 0;
	if (!strcmp(v, "keep"))
		return SLUICE_LIVE_KEEP;
	if (!strcmp(v, "reset"))
		return SLUICE_LIVE_RESET;
	/* a digit 1-9 first: strtoull alone would take " 5", "+5", "-5", "05" */
	if (!strncmp(v, "drain ", 6) && v[6] >= '1' && v[6] <= '9') {
		errno = 0;
		ms = strtoull(v + 6, &end, 10);
		if (!errno && !strcmp(end, "ms") && ms && ms <= SLUICE_LIVE_DRAIN_MAX_MS) {
			*drain_ms = ms;
			return SLUICE_LIVE_DRAIN;
		}
	}
	key = fleet_key_shown(key, kb);
	snprintf(err, errlen, "%s: '%.40s' is not a live_flows value (keep, reset or drain NNNms, at most 1 h)",
		 key, v);
	return -EINVAL;
}

void fleet_live_text(int mode, __u64 drain_ms, char *buf, size_t len)
{
	if (mode == SLUICE_LIVE_DRAIN)
		snprintf(buf, len, "drain %llums", (unsigned long long)drain_ms);
	else
		snprintf(buf, len, "%s", mode == SLUICE_LIVE_RESET ? "reset" : "keep");
}

int fleet_parse_weights(const char *v, __u16 w[SLUICE_MAX_RINGS], const char *key,
			char *err, size_t errlen)
{
	__u16 out[SLUICE_MAX_RINGS] = { 0 };
	char kb[FLEET_KEY_SHOWN + 4];
	json_t *j = NULL, *x;
	size_t i;
	int r;

	key = fleet_key_shown(key, kb);
	if (sluice_json_limits(v, strlen(v), SLUICE_JSON_MAX_BYTES, key, err, errlen))
		return -EINVAL;
	j = json_loads(v, JSON_DECODE_ANY, NULL);
	if (json_is_integer(j) && json_integer_value(j) >= 0 &&
	    json_integer_value(j) <= 10000) {
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			out[r] = json_integer_value(j);
		goto good;
	}
	if (!json_is_array(j) || !json_array_size(j) ||
	    json_array_size(j) > SLUICE_MAX_RINGS)
		goto bad;
	json_array_foreach(j, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 0 ||
		    json_integer_value(x) > 10000)
			goto bad;
		out[i] = json_integer_value(x);
	}
good:
	memcpy(w, out, sizeof(out));
	json_decref(j);
	return 0;
bad:
	snprintf(err, errlen, "%s: '%.40s' is not a weight in bp (0..10000, or one per ring)",
		 key, v);
	json_decref(j);
	return -EINVAL;
}

json_t *fleet_parse_object(const char *v, const char *key, char *err, size_t errlen)
{
	char kb[FLEET_KEY_SHOWN + 4];
	json_error_t je;
	json_t *j;

	key = fleet_key_shown(key, kb);
	if (sluice_json_limits(v, strlen(v), SLUICE_JSON_MAX_BYTES, key, err, errlen))
		return NULL;
	j = json_loads(v, 0, &je);
	if (!j)
		snprintf(err, errlen, "%s: not JSON: %s (line %d, column %d)", key, je.text,
			 je.line, je.column);
	else if (!json_is_object(j))
		snprintf(err, errlen, "%s: a JSON object expected", key);
	if (j && json_is_object(j))
		return j;
	json_decref(j);
	return NULL;
}

/* JSON strings are UTF-8: an etcd key (or a value quoted in an error)
 * that is not has its other bytes shown as '?' (found by fuzz_fleet) */
static const char *utf8_of(const char *key, char *buf, size_t len)
{
	json_t *t = json_string(key);
	size_t i;

	json_decref(t);
	if (t)
		return key;
	for (i = 0; key[i] && i + 1 < len; i++)
		buf[i] = (unsigned char)key[i] < 0x80 ? key[i] : '?';
	buf[i] = 0;
	return buf;
}

bool fleet_bad_known(json_t *bad, json_t *prev, const char *key, int64_t rev)
{
	char buf[1024];
	json_t *e;

	key = utf8_of(key, buf, sizeof(buf));
	e = json_object_get(bad, key);

	if (!e && prev && (e = json_object_get(prev, key)))
		json_object_set(bad, key, e);	/* still refused after the resync */
	return e && rev && json_integer_value(json_object_get(e, "revision")) == rev;
}

bool fleet_bad_set(json_t *bad, json_t *prev, const char *key, int64_t rev,
		   const char *err)
{
	char buf[1024], ebuf[1024];
	json_t *e;
	bool news;

	key = utf8_of(key, buf, sizeof(buf));
	err = utf8_of(err, ebuf, sizeof(ebuf));
	e = json_object_get(bad, key);

	if (!e && prev)
		e = json_object_get(prev, key);
	news = !e || json_integer_value(json_object_get(e, "revision")) != rev ||
	       strcmp(json_string_value(json_object_get(e, "error")) ?: "", err);
	json_object_set_new(bad, key, json_pack("{s:I, s:s}", "revision", (json_int_t)rev,
						"error", err));
	return news;
}

/* ---- a node report's counters (fleet_value.h) ---- */

#define FS_FIELDS 5	/* new_flows, syn_retrans, client_rst, backend_rst, hs_timeout */

static __u64 *field(struct sluice_flow_stats *f, int i)
{
	__u64 *const p[FS_FIELDS] = { &f->new_flows, &f->syn_retrans, &f->client_rst,
				      &f->backend_rst, &f->hs_timeout };
	return p[i];
}

/* "fs": [variant][ring][field]; false when it is not there. */
static bool fs_parse(json_t *a, struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	int v, r, i;

	memset(fs, 0, sizeof(struct sluice_flow_stats) * SLUICE_VARIANTS * SLUICE_MAX_RINGS);
	if (!json_is_array(a))
		return false;
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		json_t *rings = json_array_get(a, v);

		for (r = 0; r < SLUICE_MAX_RINGS && r < (int)json_array_size(rings); r++)
			for (i = 0; i < FS_FIELDS; i++) {
				json_int_t x = json_integer_value(
					json_array_get(json_array_get(rings, r), i));

				*field(&fs[v][r], i) = x > 0 ? (__u64)x : 0;
			}
	}
	return true;
}

bool fleet_node_fs(json_t *report, const char *svc,
		   struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	json_t *s = json_object_get(json_object_get(report, "services"), svc);
	int v;

	if (fs_parse(json_object_get(s, "fs"), fs))
		return true;
	if (!json_is_object(s))
		return false;
	/* an older report: totals per variant only */
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		fs[v][0].new_flows = json_integer_value(json_array_get(json_object_get(s, "new_flows"), v));
		fs[v][0].client_rst = json_integer_value(json_array_get(json_object_get(s, "bad"), v));
	}
	return true;
}

json_t *fleet_fs_json(const struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	json_t *a = json_array();
	int v, r, i, nr = 1;

	/* rings up to the last one with counts: reports stay small */
	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (r = 1; r < SLUICE_MAX_RINGS; r++)
			for (i = 0; i < FS_FIELDS; i++)
				if (*field((struct sluice_flow_stats *)&fs[v][r], i) && r + 1 > nr)
					nr = r + 1;
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		json_t *rings = json_array();

		for (r = 0; r < nr; r++) {
			json_t *f = json_array();

			for (i = 0; i < FS_FIELDS; i++)
				json_array_append_new(f, json_integer(
					*field((struct sluice_flow_stats *)&fs[v][r], i)));
			json_array_append_new(rings, f);
		}
		json_array_append_new(a, rings);
	}
	return a;
}

void fleet_acc_add(struct sluice_flow_stats total[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
		   struct sluice_flow_stats last[SLUICE_VARIANTS][SLUICE_MAX_RINGS],
		   const struct sluice_flow_stats now[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	int v, r, i;

	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			for (i = 0; i < FS_FIELDS; i++) {
				__u64 n = *field((struct sluice_flow_stats *)&now[v][r], i);
				__u64 *l = field(&last[v][r], i);

				/* below its last: the node's maps were recreated,
				 * its count starts again from there */
				if (n > *l)
					*field(&total[v][r], i) += n - *l;
				*l = n;
			}
}

bool fleet_fs_parse(json_t *a, struct sluice_flow_stats fs[SLUICE_VARIANTS][SLUICE_MAX_RINGS])
{
	return fs_parse(a, fs);
}

json_t *fleet_lat_json(const __u64 lat[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS])
{
	json_t *a = json_array();
	unsigned int v, b;

	for (v = 0; v < SLUICE_VARIANTS; v++) {
		json_t *pairs = json_array();

		for (b = 0; b < SLUICE_LAT_BUCKETS; b++)
			if (lat[v][b])
				json_array_append_new(pairs, json_pack("[i,I]", b, (json_int_t)lat[v][b]));
		json_array_append_new(a, pairs);
	}
	return a;
}

bool fleet_lat_parse(json_t *a, __u64 lat[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS])
{
	json_t *pair;
	size_t i;
	int v;

	memset(lat, 0, sizeof(__u64) * SLUICE_VARIANTS * SLUICE_LAT_BUCKETS);
	if (!json_is_array(a))
		return false;
	for (v = 0; v < SLUICE_VARIANTS; v++)
		json_array_foreach(json_array_get(a, v), i, pair) {
			json_int_t b = json_integer_value(json_array_get(pair, 0));
			json_int_t n = json_integer_value(json_array_get(pair, 1));

			if (b >= 0 && b < SLUICE_LAT_BUCKETS && n > 0)
				lat[v][b] = (__u64)n;
		}
	return true;
}

void fleet_lat_add(__u64 total[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS],
		   __u64 last[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS],
		   const __u64 now[SLUICE_VARIANTS][SLUICE_LAT_BUCKETS])
{
	unsigned int v, b;

	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (b = 0; b < SLUICE_LAT_BUCKETS; b++) {
			/* as fleet_acc_add: below its last, the node's
			 * histogram was recreated and counts on from there */
			if (now[v][b] > last[v][b])
				total[v][b] += now[v][b] - last[v][b];
			last[v][b] = now[v][b];
		}
}
