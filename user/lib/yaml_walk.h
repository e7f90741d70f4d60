/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading YAML documents against key tables (libsluice internals): the
 * configuration (config_yaml.c) and rollout plans (plan_yaml.c) share these
 * so that both have the same strictness and "file:line:col: message"
 * errors. Each mapping is read against a table of known keys (struct
 * key_def): unknown and duplicate keys are errors, required keys checked.
 */
#ifndef SLUICE_YAML_WALK_H
#define SLUICE_YAML_WALK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <yaml.h>
#include "internal.h"
#include "input_limits.h"

struct pctx {
	const char *file;
	char *err;
	size_t errlen;
	yaml_document_t doc;
	struct sluice_config *c;
};

static inline struct sluice_cfg_pos pos_of(const yaml_node_t *n)
{
	struct sluice_cfg_pos p = { n->start_mark.line + 1,
				    n->start_mark.column + 1 };
	return p;
}

static inline int perr(struct pctx *p, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline int perr(struct pctx *p, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		snprintf(p->err, p->errlen, "%s:%zu:%zu: %s", p->file,
			 n->start_mark.line + 1, n->start_mark.column + 1, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->file, msg);
	return -EINVAL;
}

static inline const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static inline const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* An empty plain scalar, "~" or "null". */
static inline bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = sval(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null");
}

static inline int want_scalar(struct pctx *p, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE)
		return perr(p, n, "%s: expected a scalar, got %s", what, node_kind(n));
	if (is_null(n))
		return perr(p, n, "%s: value is missing", what);
	return 0;
}

static inline int get_str(struct pctx *p, const yaml_node_t *n, const char *what,
		   char *buf, size_t len)
{
	int err = want_scalar(p, n, what);

	if (err)
		return err;
	if (strlen(sval(n)) >= len)
		return perr(p, n, "%s: '%s' is longer than %zu characters", what,
			    sval(n), len - 1);
	snprintf(buf, len, "%s", sval(n));
	return 0;
}

/* A plain decimal integer in [min, max]. */
static inline int get_uint(struct pctx *p, const yaml_node_t *n, const char *what,
		    unsigned long min, unsigned long max, unsigned long *v)
{
	const char *s;
	int err = want_scalar(p, n, what);
	size_t i;

	*v = 0;		/* callers may store it before they check err */
	if (err)
		return err;
	s = sval(n);
	for (i = 0; s[i]; i++)
		if (!isdigit((unsigned char)s[i]) || i > 10)
			return perr(p, n, "%s: expected an integer %lu..%lu, got '%s'",
				    what, min, max, s);
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return perr(p, n, "%s: expected an integer, got the quoted string '%s'",
			    what, s);
	*v = strtoul(s, NULL, 10);
	if (*v < min || *v > max)
		return perr(p, n, "%s: %s is out of range %lu..%lu", what, s, min, max);
	return 0;
}

static inline int get_enum(struct pctx *p, const yaml_node_t *n, const char *what,
		    const char *const *names, int count, int *out)
{
	char alts[160] = "";
	int err = want_scalar(p, n, what), i;

	*out = 0;	/* callers may store it before they check err */
	if (err)
		return err;
	for (i = 0; i < count; i++) {
		if (!strcmp(sval(n), names[i])) {
			*out = i;
			return 0;
		}
		snprintf(alts + strlen(alts), sizeof(alts) - strlen(alts), "%s%s",
			 i ? (i == count - 1 ? " or " : ", ") : "", names[i]);
	}
	return perr(p, n, "%s: must be %s, not '%s'", what, alts, sval(n));
}

static inline int get_weight(struct pctx *p, const yaml_node_t *n, const char *what,
		      __u16 *bp)
{
	unsigned int v;
	int err = want_scalar(p, n, what);

	if (err)
		return err;
	err = sluice_parse_weight(sval(n), &v);
	if (err == -ERANGE)
		return perr(p, n, "%s: '%s' is out of range 0%%..100%%", what, sval(n));
	if (err)
		return perr(p, n, "%s: '%s' is not a weight (write 5%%, 0.25%% or 500bp)",
			    what, sval(n));
	*bp = v;
	return 0;
}

/* Load text (len bytes) into p->doc after its size and depth bounds
 * (input_limits.h): 0, or -EINVAL with "file:line:col: ..." in p->err. */
static inline int load_doc(struct pctx *p, const char *text, size_t len, size_t max,
			   const char *what)
{
	yaml_parser_t yp;
	int loaded;

	if (sluice_yaml_limits(text, len, max, what, p->file, p->err, p->errlen))
		return -EINVAL;
	if (!yaml_parser_initialize(&yp)) {
		snprintf(p->err, p->errlen, "%s: out of memory", p->file);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	loaded = yaml_parser_load(&yp, &p->doc);
	if (!loaded)
		snprintf(p->err, p->errlen, "%s:%zu:%zu: YAML syntax error: %s%s%s", p->file,
			 yp.problem_mark.line + 1, yp.problem_mark.column + 1,
			 yp.problem ? yp.problem : "unknown",
			 yp.context ? " " : "", yp.context ? yp.context : "");
	yaml_parser_delete(&yp);
	return loaded ? 0 : -EINVAL;
}

/* ---- mappings against key tables ---------------------------------------- */

struct key_def {
	const char *name;
	int (*fn)(struct pctx *p, yaml_node_t *key, yaml_node_t *val, void *obj);
	bool required;
};

static inline int walk_mapping(struct pctx *p, yaml_node_t *map, const char *what,
			const struct key_def *keys, int nkeys, void *obj)
{
	yaml_node_pair_t *pair;
	char alts[256] = "";
	unsigned int seen = 0;
	int i, err;

	if (map->type != YAML_MAPPING_NODE)
		return perr(p, map, "%s: expected a mapping, got %s", what,
			    node_kind(map));
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&p->doc, pair->value);

		if (k->type != YAML_SCALAR_NODE)
			return perr(p, k, "%s: keys must be scalars", what);
		for (i = 0; i < nkeys; i++)
			if (!strcmp(sval(k), keys[i].name))
				break;
		if (i == nkeys) {
			for (i = 0; i < nkeys; i++)
				snprintf(alts + strlen(alts), sizeof(alts) - strlen(alts),
					 "%s%s", i ? ", " : "", keys[i].name);
			return perr(p, k, "unknown key '%s' in %s (expected one of: %s)",
				    sval(k), what, alts);
		}
		if (seen & (1u << i))
			return perr(p, k, "duplicate key '%s' in %s", sval(k), what);
		seen |= 1u << i;
		err = keys[i].fn(p, k, v, obj);
		if (err)
			return err;
	}
	for (i = 0; i < nkeys; i++)
		if (keys[i].required && !(seen & (1u << i)))
			return perr(p, map, "%s: missing required key '%s'", what,
				    keys[i].name);
	return 0;
}

static inline int grow(void **arr, unsigned int n, size_t size)
{
	void *x;

	if (n & (n - 1))	/* grow at powers of two */
		return 0;
	x = realloc(*arr, (n ? n * 2 : 1) * size);
	if (!x)
		return -ENOMEM;
	*arr = x;
	return 0;
}

struct sluice_plan;
/* plan_yaml.c: a `rollout:` mapping into plan (zeroed first); mode is the
 * service's (latency gates need nat), -1 when unknown (a plan file). */
int sluice_plan_parse_node(struct pctx *p, yaml_node_t *n, int mode,
			   struct sluice_plan *plan);

#endif /* SLUICE_YAML_WALK_H */
