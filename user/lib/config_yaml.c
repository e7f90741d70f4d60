// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The YAML configuration (sluice apply, the daemon): parse a file with
 * libyaml into struct sluice_config and check everything that can be checked
 * without the maps: schema, types, ranges, unknown and duplicate keys,
 * duplicate services and backends, overlapping ring prefixes. Every error
 * names its place as file:line:col.
 *
 * Each mapping is read against a table of known keys (struct key_def), so a
 * new section (a service's `rollout:`) is one more row and one handler.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <yaml.h>
#include "yaml_walk.h"
#include "plan.h"

/* ---- health checks ------------------------------------------------------ */

/* A duration (sluice_parse_duration: 500ms, 1s, 1m30s) in [min, max] ms. */
static int get_duration_ms(struct pctx *p, const yaml_node_t *n, const char *what,
			   unsigned long min, unsigned long max, __u32 *ms)
{
	__u64 v;
	int err = want_scalar(p, n, what);

	if (err)
		return err;
	err = sluice_parse_duration(sval(n), &v);
	if (err && err != -ERANGE)
		return perr(p, n, "%s: '%s' is not a duration (write 500ms, 1s, 2m)",
			    what, sval(n));
	if (err || v < min || v > max)
		return perr(p, n, "%s: %s is out of range %lums..%lus", what, sval(n),
			    min, max / 1000);
	*ms = v;
	return 0;
}

/* Printable ASCII without spaces: what goes into a request line or header. */
static bool token_ok(const char *v)
{
	for (; *v; v++)
		if (*v <= ' ' || *v >= 0x7f)
			return false;
	return true;
}

struct check_ctx {
	struct sluice_cfg_check *c;
	int level;			/* 0 service, 1 pool, 2 backend */
	yaml_node_t *type_node, *interval_node, *timeout_node;
	yaml_node_t *http_node, *cmd_node, *addr_node;	/* last seen of each */
	const char *http_key;
};

static int hc_type(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "tcp", "http", "command" };
	struct check_ctx *c = o;
	int x = 0, err = get_enum(p, v, "health_check type", n, 3, &x);

	c->c->type = SLUICE_CHECK_TCP + x;
	c->type_node = v;
	return err;
}

static int hc_interval(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;

	c->interval_node = v;
	return get_duration_ms(p, v, "health_check interval", 10, 3600000,
			       &c->c->interval_ms);
}

static int hc_timeout(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;

	c->timeout_node = v;
	return get_duration_ms(p, v, "health_check timeout", 1, 3600000,
			       &c->c->timeout_ms);
}

static int hc_rise(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "health_check rise", 1, 100, &x);

	c->c->rise = x;
	return err;
}

static int hc_fall(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "health_check fall", 1, 100, &x);

	c->c->fall = x;
	return err;
}

static int hc_port(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "health_check port", 1, 65535, &x);

	c->c->port = x;
	return err;
}

static int hc_address(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;
	int err = want_scalar(p, v, "health_check address");

	if (err)
		return err;
	if (c->level != 2)
		return perr(p, k, "health_check address: only a backend's check may name an address");
	if (sluice_parse_addr(sval(v), &c->c->addr, &c->c->family))
		return perr(p, v, "health_check address: '%s' is not an IPv4 or IPv6 address",
			    sval(v));
	c->addr_node = v;
	return 0;
}

static int hc_path(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;
	int err = get_str(p, v, "health_check path", c->c->path, sizeof(c->c->path));

	if (err)
		return err;
	if (c->c->path[0] != '/' || !token_ok(c->c->path))
		return perr(p, v, "health_check path: '%s' must start with '/' and hold no spaces or control characters",
			    c->c->path);
	c->http_node = k;
	c->http_key = "path";
	return 0;
}

static int hc_host(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;
	int err = get_str(p, v, "health_check host", c->c->host, sizeof(c->c->host));

	if (err)
		return err;
	if (!token_ok(c->c->host))
		return perr(p, v, "health_check host: '%s' holds spaces or control characters",
			    c->c->host);
	c->http_node = k;
	c->http_key = "host";
	return 0;
}

static int hc_expect(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;
	yaml_node_item_t *it;
	unsigned long x;
	unsigned int i;
	int err;

	c->http_node = k;
	c->http_key = "expect";
	if (v->type != YAML_SEQUENCE_NODE) {
		err = get_uint(p, v, "health_check expect", 100, 599, &x);
		c->c->expect[0] = x;
		c->c->nexpect = 1;
		return err;
	}
	if (v->data.sequence.items.start == v->data.sequence.items.top)
		return perr(p, v, "health_check expect: the list of statuses is empty");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(&p->doc, *it);

		if (c->c->nexpect >= SLUICE_CHECK_EXPECT_MAX)
			return perr(p, n, "health_check expect: at most %d statuses",
				    SLUICE_CHECK_EXPECT_MAX);
		err = get_uint(p, n, "health_check expect", 100, 599, &x);
		if (err)
			return err;
		for (i = 0; i < c->c->nexpect; i++)
			if (c->c->expect[i] == x)
				return perr(p, n, "health_check expect: status %lu is listed twice", x);
		c->c->expect[c->c->nexpect++] = x;
	}
	return 0;
}

static int hc_command(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct check_ctx *c = o;

	c->cmd_node = k;
	return get_str(p, v, "health_check command", c->c->command,
		       sizeof(c->c->command));
}

static const struct key_def check_keys[] = {
	{ "type", hc_type, true },
	{ "interval", hc_interval, false },
	{ "timeout", hc_timeout, false },
	{ "rise", hc_rise, false },
	{ "fall", hc_fall, false },
	{ "port", hc_port, false },
	{ "address", hc_address, false },
	{ "path", hc_path, false },
	{ "host", hc_host, false },
	{ "expect", hc_expect, false },
	{ "command", hc_command, false },
};

/*
 * `health_check:` at a level (0 service, 1 pool, 2 backend): a mapping, or
 * `none` (no checks here and below). *out gets the parsed check.
 */
static int parse_check(struct pctx *p, yaml_node_t *k, yaml_node_t *v, int level,
		       struct sluice_cfg_check **out)
{
	struct check_ctx c = { .level = level };
	int err;

	if (*out)
		return perr(p, k, "duplicate health_check");
	c.c = calloc(1, sizeof(*c.c));
	if (!c.c)
		return perr(p, v, "out of memory");
	*out = c.c;	/* freed with the configuration, even on an error */
	c.c->pos = pos_of(v);
	if (v->type == YAML_SCALAR_NODE && !strcmp(sval(v), "none"))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return perr(p, v, "health_check: expected a mapping (type: tcp, http or command) or 'none', got %s",
			    is_null(v) ? "nothing" : node_kind(v));
	c.c->rise = 2;
	c.c->fall = 3;
	c.c->interval_ms = 1000;
	err = walk_mapping(p, v, "health_check", check_keys,
			   sizeof(check_keys) / sizeof(check_keys[0]), &c);
	if (err)
		return err;
	if (!c.timeout_node)
		c.c->timeout_ms = c.c->interval_ms < 1000 ? c.c->interval_ms : 1000;
	if (c.c->timeout_ms > c.c->interval_ms)
		return perr(p, c.timeout_node, "health_check timeout: %ums is longer than the interval (%ums)",
			    c.c->timeout_ms, c.c->interval_ms);
	if (c.c->type != SLUICE_CHECK_HTTP && c.http_node)
		return perr(p, c.http_node, "health_check %s: only for type http",
			    c.http_key);
	if (c.c->type == SLUICE_CHECK_COMMAND) {
		if (!c.cmd_node)
			return perr(p, v, "health_check: type command needs 'command'");
	} else if (c.cmd_node) {
		return perr(p, c.cmd_node, "health_check command: only for type command");
	}
	if (c.c->type == SLUICE_CHECK_HTTP) {
		if (!c.c->path[0])
			snprintf(c.c->path, sizeof(c.c->path), "/");
		if (!c.c->nexpect)
			c.c->expect[c.c->nexpect++] = 200;
	}
	return 0;
}

const struct sluice_cfg_check *
sluice_cfg_backend_check(const struct sluice_cfg_service *cs, int v,
			 unsigned int i)
{
	const struct sluice_cfg_pool *pl = &cs->pool[v];
	const struct sluice_cfg_check *c = NULL;

	if (pl->be_check && i < pl->n)
		c = pl->be_check[i];
	if (!c)
		c = pl->check;
	if (!c)
		c = cs->check;
	return c && c->type != SLUICE_CHECK_NONE ? c : NULL;
}

/* ---- backends ----------------------------------------------------------- */

struct be_ctx {
	struct sluice_cfg_service *svc;
	struct sluice_backend_spec *b;
	char what[96];
	struct sluice_cfg_check *check;	/* the backend's health_check */
};

static int be_address(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct be_ctx *c = o;
	int err = want_scalar(p, v, "address");

	if (err)
		return err;
	if (sluice_parse_addr(sval(v), &c->b->addr, &c->b->family))
		return perr(p, v, "address: '%s' is not an IPv4 or IPv6 address", sval(v));
	return 0;
}

static int be_port(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct be_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "port", 1, 65535, &x);

	c->b->port = x;
	return err;
}

static int be_weight(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct be_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "backend weight", 1, 65535, &x);

	c->b->weight = x;
	return err;
}

static int be_state(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const st[] = { "active", "draining" };
	struct be_ctx *c = o;
	int x = 0, err = get_enum(p, v, "state", st, 2, &x);

	c->b->draining = x == 1;
	return err;
}

static int be_mac(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct be_ctx *c = o;
	int err = want_scalar(p, v, "mac");

	if (err)
		return err;
	if (sluice_parse_mac(sval(v), c->b->mac))
		return perr(p, v, "mac: '%s' is not a MAC address (like 02:00:00:00:00:01)",
			    sval(v));
	c->b->has_mac = true;
	return 0;
}

static int be_dev(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct be_ctx *c = o;

	return get_str(p, v, "dev", c->b->dev, sizeof(c->b->dev));
}

static int be_check(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct be_ctx *c = o;

	return parse_check(p, k, v, 2, &c->check);
}

static const struct key_def backend_keys[] = {
	{ "address", be_address, true },
	{ "port", be_port, false },
	{ "weight", be_weight, false },
	{ "state", be_state, false },
	{ "mac", be_mac, false },
	{ "dev", be_dev, false },
	{ "health_check", be_check, false },
};

static int parse_backends(struct pctx *p, yaml_node_t *seq,
			  struct sluice_cfg_service *svc, int v)
{
	static const char *const vn[] = { "baseline", "canary" };
	struct sluice_cfg_pool *pool = &svc->pool[v];
	yaml_node_item_t *it;

	if (is_null(seq))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE)
		return perr(p, seq, "backends: expected a list, got %s", node_kind(seq));
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(&p->doc, *it);
		struct be_ctx c = { .svc = svc };
		unsigned int w, j;
		int err;

		if (pool->n >= SLUICE_POOL_MAX)
			return perr(p, n, "the %s pool has more than %d backends", vn[v],
				    SLUICE_POOL_MAX);
		if (grow((void **)&pool->be, pool->n, sizeof(*pool->be)) ||
		    grow((void **)&pool->pos, pool->n, sizeof(*pool->pos)) ||
		    grow((void **)&pool->be_check, pool->n, sizeof(*pool->be_check)))
			return perr(p, n, "out of memory");
		c.b = &pool->be[pool->n];
		memset(c.b, 0, sizeof(*c.b));
		pool->be_check[pool->n] = NULL;
		c.b->weight = 100;
		snprintf(c.what, sizeof(c.what), "backend of service '%s'", svc->name);
		err = walk_mapping(p, n, c.what, backend_keys,
				   sizeof(backend_keys) / sizeof(backend_keys[0]), &c);
		if (err) {
			free(c.check);
			return err;
		}
		pool->be_check[pool->n] = c.check;	/* owned by the config */
		pool->pos[pool->n] = pos_of(n);
		/* the same address and port twice in the service */
		for (w = 0; w <= (unsigned int)v; w++)
			for (j = 0; j < svc->pool[w].n; j++) {
				const struct sluice_backend_spec *o = &svc->pool[w].be[j];

				if (o->family == c.b->family &&
				    !memcmp(&o->addr, &c.b->addr, sizeof(o->addr)) &&
				    (o->port ? o->port : svc->port) ==
					    (c.b->port ? c.b->port : svc->port)) {
					char a[INET6_ADDRSTRLEN];

					sluice_format_addr(&o->addr, o->family, a, sizeof(a));
					return perr(p, n, "duplicate backend %s port %u in service '%s' (first at line %u)",
						    a, o->port ? o->port : svc->port, svc->name,
						    svc->pool[w].pos[j].line);
				}
			}
		if (c.b->port == svc->port)
			c.b->port = 0;
		pool->n++;
	}
	return 0;
}

static int pool_backends(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct be_ctx *c = o;	/* b unused: the variant rides in what[0] */

	return parse_backends(p, v, c->svc, c->what[0]);
}

static int pool_check(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct be_ctx *c = o;

	return parse_check(p, k, v, 1, &c->svc->pool[(int)c->what[0]].check);
}

static const struct key_def pool_keys[] = {
	{ "backends", pool_backends, false },
	{ "health_check", pool_check, false },
};

/* ---- services ----------------------------------------------------------- */

struct svc_ctx {
	struct sluice_cfg_service *svc;
	bool named;
	yaml_node_t *pools[4];	/* baseline, canary, blue, green */
	yaml_node_t *port_node;
	yaml_node_t *rollout;	/* parsed last: gates depend on the mode */
};

static int sv_name(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;
	size_t i;
	int err = get_str(p, v, "name", c->svc->name, sizeof(c->svc->name));

	if (err)
		return err;
	for (i = 0; c->svc->name[i]; i++)
		if (!isalnum((unsigned char)c->svc->name[i]) &&
		    !strchr("_.-", c->svc->name[i]))
			return perr(p, v, "name: '%s' may hold only letters, digits, '_', '.', '-'",
				    c->svc->name);
	c->named = true;
	return 0;
}

static int sv_vip(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;
	int err = want_scalar(p, v, "vip");

	if (err)
		return err;
	if (sluice_parse_addr(sval(v), &c->svc->vip, &c->svc->family))
		return perr(p, v, "vip: '%s' is not an IPv4 or IPv6 address", sval(v));
	return 0;
}

static int sv_port(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "port", 1, 65535, &x);

	c->svc->port = x;
	c->port_node = v;
	return err;
}

static int sv_proto(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "tcp", "udp" };
	struct svc_ctx *c = o;
	int x = 0, err = get_enum(p, v, "protocol", n, 2, &x);

	c->svc->proto = x ? IPPROTO_UDP : IPPROTO_TCP;
	return err;
}

static int sv_mode(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "dsr", "ipip", "nat" };
	struct svc_ctx *c = o;
	int x = 0, err = get_enum(p, v, "mode", n, 3, &x);

	c->svc->mode = x;
	return err;
}

static int sv_tunsrc(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;
	struct sluice_prefix px;
	int err = want_scalar(p, v, "tunnel_source");

	if (err)
		return err;
	err = sluice_parse_prefix(sval(v), &px);
	if (err == -EDOM)
		return perr(p, v, "tunnel_source: '%s' has host bits set beyond its length",
			    sval(v));
	if (err)
		return perr(p, v, "tunnel_source: '%s' is not a prefix (like 10.99.0.0/24)",
			    sval(v));
	c->svc->tunnel_src = px;
	return 0;
}

static int sv_aff(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "connection", "client" };
	struct svc_ctx *c = o;
	int x = 0, err = get_enum(p, v, "affinity", n, 2, &x);

	c->svc->affinity = x;
	return err;
}

static int sv_seed(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "seed", 0, 0xffffffffUL, &x);

	c->svc->seed = x;
	return err;
}

static int sv_table(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "table_size", 3, SLUICE_TABLE_MAX, &x);

	if (err)
		return err;
	if (!sluice_is_prime(x))
		return perr(p, v, "table_size: %lu is not a prime", x);
	c->svc->table_size = x;
	return 0;
}

static int sv_udp_idle(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;
	unsigned long x;
	int err = get_uint(p, v, "udp_idle", 1, SLUICE_UDP_IDLE_MAX, &x);

	if (err)
		return err;
	c->svc->udp_idle_s = x;
	return 0;
}

static int sv_weight(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_cfg_service *svc = ((struct svc_ctx *)o)->svc;
	yaml_node_pair_t *pair;
	unsigned int i;

	if (v->type != YAML_MAPPING_NODE) {
		svc->weight_per_ring = false;
		return get_weight(p, v, "weight", &svc->weight_all);
	}
	svc->weight_per_ring = true;
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		yaml_node_t *rk = yaml_document_get_node(&p->doc, pair->key);
		yaml_node_t *rv = yaml_document_get_node(&p->doc, pair->value);
		struct sluice_cfg_weight *w;
		char ring[SLUICE_RING_NAME_LEN];
		int err;

		err = get_str(p, rk, "ring name", ring, sizeof(ring));
		if (err)
			return err;
		if (!strcmp(ring, "broad"))
			snprintf(ring, sizeof(ring), "default");
		for (i = 0; i < svc->nweights; i++)
			if (!strcmp(svc->weights[i].ring, ring))
				return perr(p, rk, "duplicate weight for ring '%s'", ring);
		if (svc->nweights >= SLUICE_MAX_RINGS)
			return perr(p, rk, "weight: more than %d rings", SLUICE_MAX_RINGS);
		w = &svc->weights[svc->nweights];
		snprintf(w->ring, sizeof(w->ring), "%s", ring);
		w->pos = pos_of(rk);
		err = get_weight(p, rv, "weight", &w->bp);
		if (err)
			return err;
		svc->nweights++;
	}
	return 0;
}

static int sv_lkg(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "baseline", "canary", "blue", "green" };
	struct svc_ctx *c = o;
	int x = 0, err = get_enum(p, v, "last_known_good", n, 4, &x);

	c->svc->lkg = x % 2;
	return err;
}

static int sv_pool(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const n[] = { "baseline", "canary", "blue", "green" };
	struct svc_ctx *c = o;
	int i;

	for (i = 0; i < 4; i++)
		if (!strcmp(sval(k), n[i]))
			c->pools[i] = v;
	return 0;
}

static int sv_rollout(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;

	c->rollout = v;
	return 0;
}

static int sv_check(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct svc_ctx *c = o;

	return parse_check(p, k, v, 0, &c->svc->check);
}

/* ---- bgp: the VIP's announcement and the routing daemon's policy ------ */

/* "ASN:VALUE", each 0..65535 (a standard community, RFC 1997) */
static int bgp_community(struct pctx *p, yaml_node_t *n, __u32 *out)
{
	unsigned long a, b;
	char *end;
	const char *s;
	int err = want_scalar(p, n, "bgp communities");

	if (err)
		return err;
	s = sval(n);
	errno = 0;
	a = strtoul(s, &end, 10);
	if (end == s || *end != ':' || !isdigit((unsigned char)end[1]))
		goto bad;
	s = end + 1;
	b = strtoul(s, &end, 10);
	if (*end || errno || a > 65535 || b > 65535)
		goto bad;
	*out = a << 16 | b;
	return 0;
bad:
	return perr(p, n, "bgp communities: '%s' is not a community ASN:VALUE (each 0..65535, like 65000:100)",
		    sval(n));
}

static int bgp_communities(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_cfg_service *svc = o;
	yaml_node_item_t *it;
	unsigned int i;

	if (v->type != YAML_SEQUENCE_NODE)
		return perr(p, v, "bgp communities: expected a list (like [\"65000:100\"]), got %s",
			    node_kind(v));
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(&p->doc, *it);
		__u32 c = 0;
		int err = bgp_community(p, n, &c);

		if (err)
			return err;
		for (i = 0; i < svc->ncommunities; i++)
			if (svc->communities[i] == c)
				return perr(p, n, "bgp communities: '%s' is listed twice", sval(n));
		if (svc->ncommunities >= SLUICE_BGP_COMMUNITIES_MAX)
			return perr(p, n, "bgp communities: at most %d", SLUICE_BGP_COMMUNITIES_MAX);
		svc->communities[svc->ncommunities++] = c;
	}
	return 0;
}

static int bgp_prepend(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	struct sluice_cfg_service *svc = o;
	unsigned long x;
	int err = get_uint(p, v, "bgp prepend", 0, SLUICE_BGP_PREPEND_MAX, &x);

	svc->prepend = x;
	return err;
}

static const struct key_def bgp_keys[] = {
	{ "communities", bgp_communities, false },
	{ "prepend", bgp_prepend, false },
};

/* `bgp: true|false`, or a mapping of communities and prepend (announced) */
static int sv_bgp(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	static const char *const tf[] = { "false", "true" };
	struct svc_ctx *c = o;
	char what[96];
	int x = 0, err;

	c->svc->bgp_pos = pos_of(v);
	if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
		err = get_enum(p, v, "bgp", tf, 2, &x);
		c->svc->bgp = x;
		return err;
	}
	c->svc->bgp = true;
	if (is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return perr(p, v, "bgp: expected true, false or a mapping (communities, prepend), got %s",
			    node_kind(v));
	snprintf(what, sizeof(what), "bgp of service '%s'", c->svc->name);
	return walk_mapping(p, v, what, bgp_keys, sizeof(bgp_keys) / sizeof(bgp_keys[0]),
			    c->svc);
}

static const struct key_def service_keys[] = {
	{ "name", sv_name, true },
	{ "vip", sv_vip, true },
	{ "port", sv_port, true },
	{ "protocol", sv_proto, false },
	{ "mode", sv_mode, false },
	{ "tunnel_source", sv_tunsrc, false },
	{ "affinity", sv_aff, false },
	{ "seed", sv_seed, false },
	{ "table_size", sv_table, false },
	{ "udp_idle", sv_udp_idle, false },
	{ "weight", sv_weight, false },
	{ "last_known_good", sv_lkg, false },
	{ "baseline", sv_pool, false },
	{ "canary", sv_pool, false },
	{ "blue", sv_pool, false },
	{ "green", sv_pool, false },
	{ "rollout", sv_rollout, false },
	{ "health_check", sv_check, false },
	{ "bgp", sv_bgp, false },
};

static int parse_pool(struct pctx *p, yaml_node_t *n, struct sluice_cfg_service *svc,
		      int v)
{
	struct be_ctx c = { .svc = svc };
	char what[64];

	if (!n || is_null(n))
		return 0;
	if (n->type == YAML_SEQUENCE_NODE)	/* a bare list of backends */
		return parse_backends(p, n, svc, v);
	snprintf(what, sizeof(what), "the %s pool of service '%s'",
		 v ? "canary" : "baseline", svc->name);
	c.what[0] = v;
	if (n->type != YAML_MAPPING_NODE)
		return perr(p, n, "%s: expected a mapping with 'backends', got %s", what,
			    node_kind(n));
	return walk_mapping(p, n, what, pool_keys,
			    sizeof(pool_keys) / sizeof(pool_keys[0]), &c);
}

static int parse_service(struct pctx *p, yaml_node_t *n)
{
	struct sluice_config *cf = p->c;
	struct sluice_cfg_service *svc;
	struct svc_ctx c = {};
	char what[64];
	unsigned int i;
	int err, v;

	if (grow((void **)&cf->services, cf->nservices, sizeof(*cf->services)))
		return perr(p, n, "out of memory");
	svc = &cf->services[cf->nservices++];
	memset(svc, 0, sizeof(*svc));
	svc->pos = pos_of(n);
	svc->proto = IPPROTO_TCP;
	svc->table_size = SLUICE_TABLE_DEFAULT;
	c.svc = svc;
	/* the name first, so that later messages can use it */
	if (n->type == YAML_MAPPING_NODE) {
		yaml_node_pair_t *pair;

		for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = yaml_document_get_node(&p->doc, pair->key);

			if (k->type == YAML_SCALAR_NODE && !strcmp(sval(k), "name")) {
				yaml_node_t *vn = yaml_document_get_node(&p->doc, pair->value);

				if (vn->type == YAML_SCALAR_NODE)
					snprintf(svc->name, sizeof(svc->name), "%.*s",
						 SLUICE_NAME_LEN - 1, sval(vn));
			}
		}
	}
	snprintf(what, sizeof(what), "service '%s'", svc->name[0] ? svc->name : "?");
	err = walk_mapping(p, n, what, service_keys,
			   sizeof(service_keys) / sizeof(service_keys[0]), &c);
	if (err)
		return err;
	if ((c.pools[0] || c.pools[1]) && (c.pools[2] || c.pools[3]))
		return perr(p, c.pools[2] ? c.pools[2] : c.pools[3],
			    "service '%s': use either baseline/canary or blue/green pools, not both",
			    svc->name);
	svc->blue_green = c.pools[2] || c.pools[3];
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		err = parse_pool(p, c.pools[v] ? c.pools[v] : c.pools[v + 2], svc, v);
		if (err)
			return err;
	}
	for (v = 0; v < SLUICE_VARIANTS; v++)
		for (i = 0; i < svc->pool[v].n; i++) {
			struct sluice_backend_spec *b = &svc->pool[v].be[i];

			if (b->family != svc->family) {
				yaml_node_t fake = { .start_mark = {
					.line = svc->pool[v].pos[i].line - 1,
					.column = svc->pool[v].pos[i].col - 1 } };

				return perr(p, &fake, "service '%s': backend address family differs from the VIP's",
					    svc->name);
			}
		}
	if (c.rollout && !is_null(c.rollout)) {
		svc->rollout = malloc(sizeof(*svc->rollout));
		if (!svc->rollout)
			return perr(p, c.rollout, "out of memory");
		err = sluice_plan_parse_node(p, c.rollout, svc->mode, svc->rollout);
		if (err)
			return err;
	}
	/* duplicates across services */
	for (i = 0; i + 1 < cf->nservices; i++) {
		const struct sluice_cfg_service *o = &cf->services[i];

		if (!strcmp(o->name, svc->name))
			return perr(p, n, "duplicate service name '%s' (first at line %u)",
				    svc->name, o->pos.line);
		if (o->family == svc->family && o->port == svc->port &&
		    o->proto == svc->proto && !memcmp(&o->vip, &svc->vip, sizeof(o->vip))) {
			char a[INET6_ADDRSTRLEN];

			sluice_format_addr(&svc->vip, svc->family, a, sizeof(a));
			return perr(p, n, "service '%s': %s port %u/%s is already service '%s' (line %u)",
				    svc->name, a, svc->port,
				    svc->proto == IPPROTO_UDP ? "udp" : "tcp", o->name,
				    o->pos.line);
		}
	}
	return 0;
}

static int top_services(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	yaml_node_item_t *it;
	int err;

	if (is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return perr(p, v, "services: expected a list, got %s", node_kind(v));
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		err = parse_service(p, yaml_document_get_node(&p->doc, *it));
		if (err)
			return err;
	}
	return 0;
}

/* ---- rings -------------------------------------------------------------- */

static int parse_ring(struct pctx *p, yaml_node_t *k, yaml_node_t *v)
{
	struct sluice_config *cf = p->c;
	struct sluice_cfg_ring *r;
	yaml_node_item_t *it;
	unsigned int i, j, nfam;
	int err;

	if (grow((void **)&cf->rings, cf->nrings, sizeof(*cf->rings)))
		return perr(p, k, "out of memory");
	r = &cf->rings[cf->nrings++];
	memset(r, 0, sizeof(*r));
	r->pos = pos_of(k);
	err = get_str(p, k, "ring name", r->name, sizeof(r->name));
	if (err)
		return err;
	if (!strcmp(r->name, "default") || !strcmp(r->name, "broad"))
		return perr(p, k, "ring '%s' is built in: every source no other ring matches",
			    r->name);
	for (i = 0; i + 1 < cf->nrings; i++)
		if (!strcmp(cf->rings[i].name, r->name))
			return perr(p, k, "duplicate ring '%s'", r->name);
	if (cf->nrings > SLUICE_MAX_RINGS - 1)
		return perr(p, k, "too many rings: at most %d besides 'default'",
			    SLUICE_MAX_RINGS - 1);
	if (is_null(v))
		return 0;
	if (v->type != YAML_SEQUENCE_NODE)
		return perr(p, v, "ring '%s': expected a list of prefixes, got %s",
			    r->name, node_kind(v));
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(&p->doc, *it);
		struct sluice_prefix px;

		err = want_scalar(p, n, "prefix");
		if (err)
			return err;
		err = sluice_parse_prefix(sval(n), &px);
		if (err == -EDOM)
			return perr(p, n, "ring '%s': prefix '%s' has host bits set beyond its length",
				    r->name, sval(n));
		if (err)
			return perr(p, n, "ring '%s': '%s' is not a prefix (like 10.0.0.0/8)",
				    r->name, sval(n));
		nfam = 0;
		for (i = 0; i < cf->nrings; i++)
			for (j = 0; j < cf->rings[i].n; j++) {
				nfam += cf->rings[i].pfx[j].family == px.family;
				if (sluice_prefix_overlap(&px, &cf->rings[i].pfx[j])) {
					char a[INET6_ADDRSTRLEN];

					sluice_format_addr(&cf->rings[i].pfx[j].addr,
							   cf->rings[i].pfx[j].family, a, sizeof(a));
					return perr(p, n, "ring '%s': prefix %s overlaps %s/%u of ring '%s' (line %u)",
						    r->name, sval(n), a, cf->rings[i].pfx[j].len,
						    cf->rings[i].name, cf->rings[i].pfx_pos[j].line);
				}
			}
		if (nfam >= SLUICE_MAX_PREFIXES)
			return perr(p, n, "ring '%s': more than %d IPv%c prefixes in all rings",
				    r->name, SLUICE_MAX_PREFIXES, px.family == AF_INET ? '4' : '6');
		if (grow((void **)&r->pfx, r->n, sizeof(*r->pfx)) ||
		    grow((void **)&r->pfx_pos, r->n, sizeof(*r->pfx_pos)))
			return perr(p, n, "out of memory");
		r->pfx[r->n] = px;
		r->pfx_pos[r->n] = pos_of(n);
		r->n++;
	}
	return 0;
}

static int top_rings(struct pctx *p, yaml_node_t *k, yaml_node_t *v, void *o)
{
	yaml_node_pair_t *pair;
	int err;

	if (is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return perr(p, v, "rings: expected a mapping of ring name to prefixes, got %s",
			    node_kind(v));
	for (pair = v->data.mapping.pairs.start; pair < v->data.mapping.pairs.top; pair++) {
		err = parse_ring(p, yaml_document_get_node(&p->doc, pair->key),
				 yaml_document_get_node(&p->doc, pair->value));
		if (err)
			return err;
	}
	return 0;
}

static const struct key_def top_keys[] = {
	{ "rings", top_rings, false },
	{ "services", top_services, false },
};

/* ---- entry points ------------------------------------------------------- */

void sluice_config_free(struct sluice_config *c)
{
	unsigned int i, v;

	if (!c)
		return;
	for (i = 0; i < c->nrings; i++) {
		free(c->rings[i].pfx);
		free(c->rings[i].pfx_pos);
	}
	for (i = 0; i < c->nservices; i++) {
		for (v = 0; v < SLUICE_VARIANTS; v++) {
			struct sluice_cfg_pool *pl = &c->services[i].pool[v];
			unsigned int j;

			for (j = 0; pl->be_check && j < pl->n; j++)
				free(pl->be_check[j]);
			free(pl->be_check);
			free(pl->check);
			free(pl->be);
			free(pl->pos);
		}
		free(c->services[i].check);
		sluice_plan_free(c->services[i].rollout);
	}
	free(c->rings);
	free(c->services);
	free(c);
}

static struct sluice_config *parse(const char *text, size_t len, const char *name,
				   char *err, size_t errlen)
{
	struct pctx p = { .file = name, .err = err, .errlen = errlen };
	yaml_node_t *root;
	int rc;

	p.c = calloc(1, sizeof(*p.c));
	if (!p.c) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	snprintf(p.c->source, sizeof(p.c->source), "%s", name);
	if (load_doc(&p, text, len, SLUICE_CONFIG_MAX_BYTES, "a configuration")) {
		sluice_config_free(p.c);
		return NULL;
	}
	root = yaml_document_get_root_node(&p.doc);
	if (!root || is_null(root))
		rc = 0;		/* an empty file: nothing configured */
	else
		rc = walk_mapping(&p, root, "the configuration", top_keys,
				  sizeof(top_keys) / sizeof(top_keys[0]), NULL);
	yaml_document_delete(&p.doc);
	if (rc) {
		sluice_config_free(p.c);
		return NULL;
	}
	return p.c;
}

struct sluice_config *sluice_config_parse(const char *path, char *err,
					  size_t errlen)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	struct sluice_config *c = NULL;
	char *text;
	size_t len;
	FILE *f;

	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (!sluice_file_trusted(fileno(f), name, err, errlen)) {
		text = sluice_read_bounded(f, SLUICE_CONFIG_MAX_BYTES, "a configuration", name,
					   &len, err, errlen);
		if (text)
			c = parse(text, len, name, err, errlen);
		free(text);
	}
	if (f != stdin)
		fclose(f);
	return c;
}

struct sluice_config *sluice_config_parse_string(const char *text,
						 const char *name, char *err,
						 size_t errlen)
{
	return parse(text, strlen(text), name ? name : "<string>", err, errlen);
}
