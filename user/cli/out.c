// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The print API: see out.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "out.h"

bool out_json, out_pretty;

#define DEPTH_MAX 16
static json_t *stack[DEPTH_MAX];
static int depth;	/* stack[depth - 1] is the open container */

void pr_init(bool json, bool pretty)
{
	out_json = json;
	out_pretty = pretty;
}

static bool want(enum pr_mode m)
{
	return m == PR_ANY || (m == PR_JSON) == out_json;
}

/* Add v under key to the open container (the root object if none). */
static void add(const char *key, json_t *v)
{
	json_t *top;

	if (!depth) {
		stack[0] = json_object();
		depth = 1;
	}
	top = stack[depth - 1];
	if (json_is_array(top))
		json_array_append_new(top, v);
	else
		json_object_set_new(top, key ? key : "value", v);
}

static void open_container(const char *key, json_t *c)
{
	if (!out_json) {
		json_decref(c);
		return;
	}
	if (!depth && !key) {	/* a new root */
		stack[0] = c;
		depth = 1;
		return;
	}
	add(key, json_incref(c));
	json_decref(c);
	if (depth < DEPTH_MAX)
		stack[depth++] = c;
}

void pr_obj_open(const char *key)
{
	open_container(key, json_object());
}

void pr_arr_open(const char *key)
{
	open_container(key, json_array());
}

static void close_container(void)
{
	if (out_json && depth > 1)
		depth--;
}

void pr_obj_close(void)
{
	close_container();
}

void pr_arr_close(void)
{
	close_container();
}

void pr_str(enum pr_mode m, const char *key, const char *fmt, const char *v)
{
	if (!want(m))
		return;
	if (out_json)
		add(key, v ? json_string(v) : json_null());
	else
		printf(fmt, v ? v : "-");
}

void pr_uint(enum pr_mode m, const char *key, const char *fmt,
	     unsigned long long v)
{
	if (!want(m))
		return;
	if (out_json)
		add(key, json_integer((json_int_t)v));
	else
		printf(fmt, v);
}

void pr_int(enum pr_mode m, const char *key, const char *fmt, long long v)
{
	if (!want(m))
		return;
	if (out_json)
		add(key, json_integer(v));
	else
		printf(fmt, v);
}

void pr_bool(enum pr_mode m, const char *key, const char *fmt, bool v)
{
	if (!want(m))
		return;
	if (out_json)
		add(key, json_boolean(v));
	else
		printf(fmt, v ? "true" : "false");
}

void pr_real(enum pr_mode m, const char *key, const char *fmt, double v)
{
	if (!want(m))
		return;
	if (out_json)
		add(key, json_real(v));
	else
		printf(fmt, v);
}

void pr_null(const char *key)
{
	if (out_json)
		add(key, json_null());
}

void pr_text(const char *fmt, ...)
{
	va_list ap;

	if (out_json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void pr_discard(void)
{
	if (depth)
		json_decref(stack[0]);
	depth = 0;
}

void pr_flush(void)
{
	if (out_json && depth) {
		size_t flags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6) |
			       (out_pretty ? JSON_INDENT(2) : JSON_COMPACT);

		json_dumpf(stack[0], stdout, flags);
		putchar('\n');
	}
	pr_discard();
	fflush(stdout);
}

void pr_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (out_json) {
		json_t *o = json_pack("{s:s}", "error", msg);

		pr_discard();
		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
		fflush(stdout);
	} else {
		fflush(stdout);
		fprintf(stderr, "Error: %s\n", msg);
	}
}

void pr_json(const char *key, json_t *v)
{
	if (!out_json || !v) {
		json_decref(v);
		return;
	}
	add(key, v);
}
