/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounds on the documents sluice parses from outside (plans, configuration
 * files, etcd values, Prometheus answers), checked before the parser proper
 * runs. libyaml's scanner keeps a simple-key slot per open flow collection
 * and walks all of them for every token, so "{a: {a: ..." costs the square
 * of its depth (60,000 levels: about 15 s); a document deeper than
 * SLUICE_INPUT_MAX_DEPTH is refused as soon as that level opens, which
 * keeps every parse linear in its size.
 */
#ifndef SLUICE_INPUT_LIMITS_H
#define SLUICE_INPUT_LIMITS_H

#include <stddef.h>
#include <stdio.h>

#define SLUICE_INPUT_MAX_DEPTH	64		/* nested collections */
#define SLUICE_PLAN_MAX_BYTES	(1u << 20)	/* a plan, 1 MiB */
/* a configuration file: 4,096 services and 65,536 backends fit */
#define SLUICE_CONFIG_MAX_BYTES	(16u << 20)
#define SLUICE_JSON_MAX_BYTES	(1u << 20)	/* an etcd value, an answer */

/*
 * YAML text of len bytes: 0, or -E2BIG / -EINVAL with "name: N bytes; WHAT
 * has at most MAX" or "name:line:col: nested deeper than 64 levels (...)"
 * in err. A syntax error is left to the parser (it says it better).
 */
int sluice_yaml_limits(const char *text, size_t len, size_t max,
		       const char *what, const char *name, char *err,
		       size_t errlen);
/* JSON text: the same bounds, the place as a byte offset. */
int sluice_json_limits(const char *text, size_t len, size_t max,
		       const char *name, char *err, size_t errlen);
/* All of f (at most max bytes) in a NUL-terminated buffer to free; NULL
 * with err set when it is longer or cannot be read. */
char *sluice_read_bounded(FILE *f, size_t max, const char *what,
			  const char *name, size_t *len, char *err,
			  size_t errlen);

#endif
