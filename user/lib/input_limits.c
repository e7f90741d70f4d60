// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Size and depth bounds on outside input (input_limits.h). The YAML check
 * runs libyaml's event parser alone and stops at the first level past the
 * limit: the scanner's per-token cost is bounded by the open levels, so
 * the check (and the load after it) stay linear.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "input_limits.h"

static int too_big(size_t len, size_t max, const char *what, const char *name,
		   char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %zu bytes; %s has at most %zu (%zu KiB)", name, len,
		 what, max, max / 1024);
	return -E2BIG;
}

int sluice_yaml_limits(const char *text, size_t len, size_t max,
		       const char *what, const char *name, char *err,
		       size_t errlen)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	int depth = 0, rc = 0;
	bool end = false;

	if (len > max)
		return too_big(len, max, what, name, err, errlen);
	if (!yaml_parser_initialize(&yp))
		return 0;	/* out of memory: the load says so */
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	while (!end && yaml_parser_parse(&yp, &ev)) {
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > SLUICE_INPUT_MAX_DEPTH) {
				snprintf(err, errlen,
					 "%s:%zu:%zu: nested deeper than %d levels (the limit for %s)",
					 name, ev.start_mark.line + 1, ev.start_mark.column + 1,
					 SLUICE_INPUT_MAX_DEPTH, what);
				rc = -EINVAL;
				end = true;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			end = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	return rc;
}

int sluice_json_limits(const char *text, size_t len, size_t max,
		       const char *name, char *err, size_t errlen)
{
	bool str = false, esc = false;
	int depth = 0;
	size_t i;

	if (len > max)
		return too_big(len, max, "a JSON value", name, err, errlen);
	for (i = 0; i < len; i++) {
		char c = text[i];

		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
		} else if (c == '"') {
			str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > SLUICE_INPUT_MAX_DEPTH) {
				snprintf(err, errlen,
					 "%s: nested deeper than %d levels at byte %zu (the limit for a JSON value)",
					 name, SLUICE_INPUT_MAX_DEPTH, i + 1);
				return -EINVAL;
			}
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 0;
}

char *sluice_read_bounded(FILE *f, size_t max, const char *what,
			  const char *name, size_t *len, char *err,
			  size_t errlen)
{
	size_t cap = 65536, n = 0, r;
	char *buf = malloc(cap + 1), *x;

	while (buf) {
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n > max) {
			snprintf(err, errlen, "%s: more than %zu bytes; %s has at most %zu (%zu KiB)",
				 name, max, what, max, max / 1024);
			free(buf);
			return NULL;
		}
		if (n < cap) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: cannot read: %s", name, strerror(errno));
				free(buf);
				return NULL;
			}
			buf[n] = 0;
			*len = n;
			return buf;
		}
		cap *= 2;
		x = realloc(buf, cap + 1);
		if (!x)
			free(buf);
		buf = x;
	}
	snprintf(err, errlen, "%s: out of memory", name);
	return NULL;
}
