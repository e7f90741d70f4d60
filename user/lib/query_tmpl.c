// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Query templates of external gates and budgets: {{service}}, {{variant}},
 * {{ring}}, {{window}} substituted with values escaped for a PromQL string
 * literal. In libsluice because plan validation checks templates too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "plan.h"

static const char *const var_names[] = { "service", "variant", "ring", "window" };

static const char *var_value(const struct sluice_query_vars *v, int i)
{
	const char *vals[] = { v->service, v->variant, v->ring, v->window };

	return vals[i];
}

/* Placeholder at p ("{{ name }}"): its index and length, or -1. */
static int placeholder(const char *p, size_t *len, char *err, size_t errlen,
		       size_t off)
{
	const char *q = p + 2, *end = strstr(q, "}}");
	size_t n;
	unsigned int i;

	if (!end) {
		snprintf(err, errlen, "unterminated {{ at offset %zu", off);
		return -1;
	}
	while (*q == ' ')
		q++;
	n = end - q;
	while (n && q[n - 1] == ' ')
		n--;
	for (i = 0; i < sizeof(var_names) / sizeof(var_names[0]); i++)
		if (strlen(var_names[i]) == n && !strncmp(q, var_names[i], n)) {
			*len = end + 2 - p;
			return i;
		}
	snprintf(err, errlen,
		 "unknown placeholder {{%.*s}} at offset %zu (known: service, "
		 "variant, ring, window)", (int)(n > 40 ? 40 : n), q, off);
	return -1;
}

int sluice_query_expand(const char *tmpl, const struct sluice_query_vars *v, char *out,
		size_t outlen, char *err, size_t errlen)
{
	size_t o = 0, plen;
	const char *p;
	int i;

	for (p = tmpl; *p;) {
		if (p[0] == '{' && p[1] == '{') {
			const char *val;

			i = placeholder(p, &plen, err, errlen, p - tmpl);
			if (i < 0)
				return -EINVAL;
			val = v ? var_value(v, i) : NULL;
			if (!val) {
				snprintf(err, errlen,
					 "{{%s}} at offset %zu has no value here",
					 var_names[i], (size_t)(p - tmpl));
				return -EINVAL;
			}
			for (; *val; val++) {
				if (*val == '"' || *val == '\\') {
					if (o + 1 >= outlen)
						goto too_long;
					out[o++] = '\\';
				}
				if (o + 1 >= outlen)
					goto too_long;
				out[o++] = *val;
			}
			p += plen;
			continue;
		}
		if (o + 1 >= outlen)
			goto too_long;
		out[o++] = *p++;
	}
	if (outlen)
		out[o] = 0;
	return (int)o;
too_long:
	snprintf(err, errlen, "query longer than %zu bytes once expanded",
		 outlen - 1);
	return -E2BIG;
}

int sluice_query_check(const char *tmpl, bool budget, char *err, size_t errlen)
{
	struct sluice_query_vars gate = { "s", "v", "r", NULL };
	struct sluice_query_vars bud = { "s", NULL, NULL, "1m" };
	const struct sluice_query_vars *v = budget ? &bud : &gate;
	char buf[8192];
	int n;

	if (!*tmpl) {
		snprintf(err, errlen, "empty query");
		return -EINVAL;
	}
	n = sluice_query_expand(tmpl, v, buf, sizeof(buf), err, errlen);
	return n < 0 ? n : 0;
}
