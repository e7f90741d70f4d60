// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Size and nesting limits of the YAML documents sluice parses (plans,
 * configurations: from files, the control socket and etcd): a document
 * nested 60,000 deep, or 200 KB of nesting, is refused with an error that
 * names the limit and where it was crossed, before libyaml's scanner
 * (whose cost grows with the square of the flow nesting) runs on it all.
 * The error is asserted, never the time.
 * sluice-test: host-only
 */
#include <fcntl.h>
#include "test.h"
#include "plan.h"
#include "input_limits.h"

/* depth copies of open, then tail, then depth copies of close */
static char *nested(unsigned int depth, const char *open, const char *tail,
		    const char *close)
{
	size_t lo = strlen(open), lt = strlen(tail), lc = strlen(close);
	char *s = malloc(depth * (lo + lc) + lt + 1), *p = s;
	unsigned int i;

	if (!s)
		return NULL;
	for (i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, tail, lt);
	p += lt;
	for (i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = 0;
	return s;
}

/* a block mapping nested depth deep: "a:\n a:\n  a: 1\n" */
static char *block(unsigned int depth)
{
	char *s = malloc((size_t)depth * (depth + 4) + 16), *p = s;
	unsigned int i;

	if (!s)
		return NULL;
	for (i = 0; i < depth; i++) {
		memset(p, ' ', i);
		p += i;
		p += sprintf(p, "a:%s", i + 1 < depth ? "\n" : " 1\n");
	}
	*p = 0;
	return s;
}

static bool has(const char *err, const char *what)
{
	if (strstr(err, what))
		return true;
	fprintf(stderr, "  error was: %s\n", err);
	return false;
}

int main(void)
{
	struct sluice_config *c;
	struct sluice_plan *p;
	char err[512], path[64], *t;
	FILE *f;
	int fd;

	subtest("a plan nested 60,000 deep (flow mappings, 240 KB)");
	t = nested(60000, "{a: ", "1", "}");
	err[0] = 0;
	p = sluice_plan_parse_string(t, "deep.yaml", err, sizeof(err));
	ASSERT_TRUE(!p, "refused");
	ASSERT_TRUE(has(err, "deep.yaml:1:"), "the error names the file, line and column");
	ASSERT_TRUE(has(err, "nested deeper than 64"), "the error names the depth limit");
	sluice_plan_free(p);

	subtest("a configuration nested 60,000 deep (as a fleet config key)");
	err[0] = 0;
	c = sluice_config_parse_string(t, "/sluice/c/services/web/config", err, sizeof(err));
	ASSERT_TRUE(!c, "refused");
	ASSERT_TRUE(has(err, "/sluice/c/services/web/config:1:"), "the error names the key and line");
	ASSERT_TRUE(has(err, "nested deeper than 64"), "the error names the depth limit");
	sluice_config_free(c);
	free(t);

	subtest("a 200 KB plan of nested flow lists (as sent over the socket)");
	t = nested(100000, "[", "", "]");
	ASSERT_EQ(strlen(t), 200000, "200 KB");
	err[0] = 0;
	p = sluice_plan_parse_string(t, "web", err, sizeof(err));
	ASSERT_TRUE(!p, "refused");
	ASSERT_TRUE(has(err, "web:1:65: "), "the error names where the 65th level opens");
	ASSERT_TRUE(has(err, "nested deeper than 64"), "the error names the depth limit");
	sluice_plan_free(p);
	free(t);

	subtest("the same from a plan file");
	snprintf(path, sizeof(path), "/tmp/sluice-limits-%d.yaml", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	t = nested(60000, "[", "1", "]");
	if (ASSERT_TRUE(f != NULL, "a temporary file")) {
		fputs(t, f);
		fclose(f);
		err[0] = 0;
		p = sluice_plan_parse(path, err, sizeof(err));
		unlink(path);
		ASSERT_TRUE(!p, "refused");
		ASSERT_TRUE(has(err, path), "the error names the file");
		ASSERT_TRUE(has(err, "nested deeper than 64"), "the error names the depth limit");
		sluice_plan_free(p);
	}
	free(t);

	subtest("block nesting: 65 levels refused, 64 reach the schema");
	t = block(65);
	err[0] = 0;
	p = sluice_plan_parse_string(t, "b65", err, sizeof(err));
	ASSERT_TRUE(!p && has(err, "b65:65:") && has(err, "nested deeper than 64"),
		    "65 levels: refused at line 65, naming the limit");
	sluice_plan_free(p);
	free(t);
	t = block(64);
	err[0] = 0;
	p = sluice_plan_parse_string(t, "b64", err, sizeof(err));
	ASSERT_TRUE(!p && !strstr(err, "deeper") && has(err, "unknown key 'a'"),
		    "64 levels: within the limit, refused by the schema");
	sluice_plan_free(p);
	free(t);

	subtest("a plan over 1 MiB");
	t = malloc(1100000);
	memset(t, '#', 1099999);
	t[1099999] = 0;
	err[0] = 0;
	p = sluice_plan_parse_string(t, "big.yaml", err, sizeof(err));
	ASSERT_TRUE(!p, "refused");
	ASSERT_TRUE(has(err, "big.yaml: ") && has(err, "1099999 bytes") &&
		    has(err, "at most 1048576"), "the error names the size and the limit");
	sluice_plan_free(p);
	free(t);

	subtest("a configuration over 16 MiB");
	t = malloc(17u << 20);
	memset(t, '#', (17u << 20) - 1);
	t[(17u << 20) - 1] = 0;
	err[0] = 0;
	c = sluice_config_parse_string(t, "huge.yaml", err, sizeof(err));
	ASSERT_TRUE(!c, "refused");
	ASSERT_TRUE(has(err, "huge.yaml: ") && has(err, "at most 16777216"),
		    "the error names the limit");
	sluice_config_free(c);
	free(t);

	subtest("JSON (etcd values, Prometheus answers): depth and size");
	t = nested(60000, "{\"a\":", "1", "}");
	err[0] = 0;
	ASSERT_EQ(sluice_json_limits(t, strlen(t), SLUICE_JSON_MAX_BYTES, "/sluice/c/services/web/rollout",
				     err, sizeof(err)), -EINVAL, "60,000 levels refused");
	ASSERT_TRUE(has(err, "/sluice/c/services/web/rollout: nested deeper than 64 levels at byte 321"),
		    "the error names the key, the limit and the place");
	free(t);
	t = nested(64, "[", "\"[[{{\\\"[\"", "]");
	ASSERT_EQ(sluice_json_limits(t, strlen(t), SLUICE_JSON_MAX_BYTES, "x", err, sizeof(err)), 0,
		  "64 levels, brackets inside a string (and an escaped quote) not counted");
	free(t);
	ASSERT_EQ(sluice_json_limits("[]", 2000000, SLUICE_JSON_MAX_BYTES, "big", err, sizeof(err)),
		  -E2BIG, "over 1 MiB refused");
	ASSERT_TRUE(has(err, "big: 2000000 bytes; a JSON value has at most 1048576"), "naming the limit");

	subtest("a good plan still parses");
	err[0] = 0;
	p = sluice_plan_parse_string("steps:\n  - weight: 5%\n    hold: 1m\n"
				     "gates:\n  - name: errors\n    metric: error_ratio\n    max_increase: 20%\n",
				     "ok", err, sizeof(err));
	if (!ASSERT_TRUE(p != NULL, "parses"))
		fprintf(stderr, "  error was: %s\n", err);
	sluice_plan_free(p);
	return t_done();
}
