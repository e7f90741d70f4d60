/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One print API for text and JSON (the iproute2 json_print idea). Every
 * value goes through pr_*(): in text mode the format is printed at once; in
 * JSON mode the key/value is added to a jansson tree that pr_flush() prints
 * as one document. PR_TEXT / PR_JSON limit a call to one of the two modes.
 */
#ifndef SLUICE_CLI_OUT_H
#define SLUICE_CLI_OUT_H

#include <stdbool.h>
#include <stdio.h>

enum pr_mode { PR_ANY = 0, PR_TEXT, PR_JSON };

extern bool out_json, out_pretty;

void pr_init(bool json, bool pretty);
void pr_obj_open(const char *key);	/* key NULL: in an array, or the root */
void pr_obj_close(void);
void pr_arr_open(const char *key);
void pr_arr_close(void);
void pr_str(enum pr_mode m, const char *key, const char *fmt, const char *v);
void pr_uint(enum pr_mode m, const char *key, const char *fmt,
	     unsigned long long v);
void pr_int(enum pr_mode m, const char *key, const char *fmt, long long v);
void pr_bool(enum pr_mode m, const char *key, const char *fmt, bool v);
void pr_real(enum pr_mode m, const char *key, const char *fmt, double v);
void pr_null(const char *key);		/* JSON only */
/* JSON only: add a jansson value (the reference is taken). */
struct json_t;
void pr_json(const char *key, struct json_t *v);
/* Text only, printf-style. */
void pr_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the JSON document built so far (one line, or pretty) and reset. */
void pr_flush(void);
/* Drop whatever was built (an error replaces it). */
void pr_discard(void);

/* "Error: ..." on stderr, or {"error": "..."} on stdout under -j. */
void pr_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
