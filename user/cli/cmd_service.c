// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* service, backend and pool: editing one service's desired state. Every
 * edit reads the live spec, changes it and puts it back: the library
 * validates it whole and swaps it in with one update. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "cli.h"
#include "ctl_client.h"

/* ---- printing ---------------------------------------------------------- */

void print_backend(const struct sluice_service_spec *sp,
		   const struct sluice_backend_spec *b, const json_t *check)
{
	char a[INET6_ADDRSTRLEN], mac[24];

	sluice_format_addr(&b->addr, b->family, a, sizeof(a));
	fmt_mac(b->mac, mac, sizeof(mac));
	pr_obj_open(NULL);
	pr_str(PR_ANY, "address", "\t\t%s", a);
	pr_uint(PR_ANY, "port", " port %llu", b->port ? b->port : sp->port);
	pr_uint(PR_ANY, "weight", " weight %llu", b->weight);
	pr_str(PR_ANY, "state", " %s", b->draining ? "draining" : "active");
	/* health: set by sluiced's checks; text says it only when down */
	pr_str(PR_JSON, "health", "", b->down ? "down" : "up");
	if (b->down)
		pr_text(" health down");
	if (b->has_mac)
		pr_str(PR_ANY, "mac", " mac %s", mac);
	if (b->dev[0])
		pr_str(PR_ANY, "dev", " dev %s", b->dev);
	if (check) {
		pr_text("\n\t\t  check %s%s: %lld checks, %lld failed, %lld transitions, last: %s in %.1f ms",
			jstr(check, "check"),
			json_is_true(json_object_get(check, "flapping")) ? " (flapping)" : "",
			(long long)jnum(check, "checks"), (long long)jnum(check, "failures"),
			(long long)jnum(check, "transitions"), jstr(check, "last"),
			jnum(check, "last_us") / 1000.0);
		pr_json("check", json_incref((json_t *)check));
	}
	pr_text("\n");
	pr_obj_close();
}

/* sluiced's health checks of a service ({"backends": [...]} of its
 * `health` command) while it runs; NULL without it: backend show needs no
 * daemon, and says nothing about one that is not there */
static json_t *daemon_health(const char *service)
{
	json_t *req = json_pack("{s:s, s:s}", "cmd", "health", "service", service);
	json_t *rep = NULL, *arr = NULL;
	struct sluice_ctl *c;
	char err[256];

	c = sluice_ctl_connect(rollout_socket(), err, sizeof(err));
	if (c && !sluice_ctl_call(c, req, &rep, err, sizeof(err)) &&
	    sluice_ctl_code(rep) == SLUICE_CTL_OK && json_is_array(json_object_get(rep, "backends")))
		arr = json_incref(json_object_get(rep, "backends"));
	json_decref(rep);
	json_decref(req);
	if (c)
		sluice_ctl_close(c);
	return arr;
}

/* The entry of backend b of pool v in daemon_health's list. */
static const json_t *check_of(const json_t *hl, const struct sluice_service_spec *sp,
			      unsigned int v, const struct sluice_backend_spec *b)
{
	char a[INET6_ADDRSTRLEN];
	const json_t *e;
	size_t i;

	sluice_format_addr(&b->addr, b->family, a, sizeof(a));
	json_array_foreach(hl, i, e)
		if (!strcmp(jstr(e, "pool"), v ? "canary" : "baseline") &&
		    !strcmp(jstr(e, "address"), a) &&
		    jnum(e, "port") == (b->port ? b->port : sp->port))
			return e;
	return NULL;
}

static void print_weights(struct sluice *s, const struct sluice_service_spec *sp)
{
	char name[SLUICE_RING_NAME_LEN + 1], w[16];
	bool uniform = true;
	__u32 kill = sp->kill, all = 0;
	int r;

	if (s && sluice_kill_get(s, NULL, &all) == 0)
		kill |= all;	/* revert --all counts too */

	for (r = 1; r < SLUICE_MAX_RINGS; r++)
		if (sluice_ring_name(s, r, name, sizeof(name)) == 0 &&
		    sp->weight[r] != sp->weight[0])
			uniform = false;
	pr_obj_open("weight");
	pr_text("\tweight");
	for (r = 0; r < SLUICE_MAX_RINGS; r++) {
		if (sluice_ring_name(s, r, name, sizeof(name)))
			continue;
		fmt_bp(sp->weight[r], w, sizeof(w));
		pr_uint(PR_JSON, name, "", sp->weight[r]);
		if (uniform && r == 0)
			pr_text(" %s%s", w, s && SLUICE_MAX_RINGS > 1 ? " (all rings)" : "");
		else if (!uniform)
			pr_text(" %s %s", name, w);
	}
	pr_obj_close();
	if (kill & SLUICE_KILL_REVERT) {	/* what new flows get, next to it */
		pr_obj_open("effective_weight");
		for (r = 0; r < SLUICE_MAX_RINGS; r++)
			if (!sluice_ring_name(s, r, name, sizeof(name)))
				pr_uint(PR_JSON, name, "", sluice_effective_weight(sp->weight[r], kill, sp->lkg));
		fmt_bp(sluice_effective_weight(sp->weight[0], kill, sp->lkg), w, sizeof(w));
		pr_text(" (effective %s: kill switch on)", w);
		pr_obj_close();
	}
	pr_text("\n");
}

static const char *kill_str(__u32 k)
{
	if (k & SLUICE_KILL_RESET)
		return "reset";
	return k & SLUICE_KILL_REVERT ? "revert" : "off";
}

void print_service(struct sluice *s, const struct sluice_service_spec *sp,
		   bool pools)
{
	char a[INET6_ADDRSTRLEN];
	unsigned int v, i;

	sluice_format_addr(&sp->vip, sp->family, a, sizeof(a));
	pr_obj_open(NULL);
	pr_str(PR_ANY, "name", "%s:", sp->name);
	pr_uint(PR_ANY, "id", " id %llu", sp->id);
	pr_uint(PR_ANY, "gen", " gen %llu\n", sp->gen);
	pr_str(PR_ANY, "vip", sp->family == AF_INET6 ? "\tvip [%s]" : "\tvip %s", a);
	pr_uint(PR_ANY, "port", ":%llu", sp->port);
	pr_str(PR_ANY, "protocol", "/%s", proto_str(sp->proto));
	pr_str(PR_ANY, "mode", " mode %s", mode_str(sp->mode));
	if (sp->tunnel_src.family) {
		char t[INET6_ADDRSTRLEN];

		sluice_format_addr(&sp->tunnel_src.addr, sp->tunnel_src.family,
				   t, sizeof(t));
		pr_str(PR_ANY, "tunnel_source", " tunnel-source %s", t);
		pr_uint(PR_ANY, "tunnel_source_len", "/%llu", sp->tunnel_src.len);
	}
	pr_str(PR_ANY, "affinity", " affinity %s", affinity_str(sp->affinity));
	pr_uint(PR_ANY, "seed", " seed %llu", sp->seed);
	pr_uint(PR_ANY, "table_size", " table %llu", sp->table_size);
	if (sp->proto == IPPROTO_UDP)
		pr_uint(PR_ANY, "udp_idle", " udp-idle %llus", sp->udp_idle_s);
	pr_bool(PR_JSON, "bgp", "", sp->announce);
	pr_bool(PR_JSON, "drained", "", sp->drained);
	if (sp->announce)
		pr_text(" bgp on");
	if (sp->drained)
		pr_text(" DRAINED");
	pr_text("\n");
	print_weights(s, sp);
	pr_str(PR_ANY, "last_known_good", "\tlast-known-good %s",
	       variant_str(sp->lkg));
	pr_str(PR_ANY, "revert", " revert %s\n", kill_str(sp->kill));
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		if (!pools) {
			pr_uint(PR_ANY, v ? "canary_backends" : "baseline_backends",
				v ? "\tcanary %llu backends\n" : "\tbaseline %llu backends\n",
				sp->pool[v].n);
			continue;
		}
		pr_text("\t%s (%s): %u backend%s%s\n", variant_str(v),
			v ? "green" : "blue", sp->pool[v].n,
			sp->pool[v].n == 1 ? "" : "s",
			sp->pool[v].all_down ?
				" (every active backend is down: all kept in the table)" : "");
		pr_bool(PR_JSON, v ? "canary_all_down" : "baseline_all_down", "",
			sp->pool[v].all_down);
		pr_arr_open(variant_str(v));
		for (i = 0; i < sp->pool[v].n; i++)
			print_backend(sp, &sp->pool[v].be[i], NULL);
		pr_arr_close();
	}
	pr_obj_close();
}

/* ---- service ----------------------------------------------------------- */

enum { K_VIP, K_PORT, K_PROTO, K_MODE, K_AFF, K_SEED, K_TABLE, K_LKG, K_TUN,
       K_UDP_IDLE, K_BGP, K_N };
static const char *const svc_keys[K_N] = {
	"vip", "port", "protocol", "mode", "affinity", "seed", "table-size",
	"last-known-good", "tunnel-source", "udp-idle", "bgp",
};

/* Keyword arguments of service add/set into sp. */
static int service_args(struct sluice_service_spec *sp, int argc, char **argv,
			unsigned int *seen)
{
	static const char *const protos[] = { "tcp", "udp" };
	static const char *const modes[] = { "dsr", "ipip", "nat" };
	static const char *const affs[] = { "connection", "client" };
	int i, k, x;
	__u32 u;

	for (i = 0; i < argc; i += 2) {
		k = match_word(argv[i], svc_keys, K_N);
		if (k < 0)
			return usage_err("unknown service keyword '%s' (expected vip, port, protocol, mode, affinity, seed, table-size, last-known-good, tunnel-source, udp-idle, bgp)",
					 argv[i]);
		if (i + 1 >= argc)
			return usage_err("'%s' needs a value", svc_keys[k]);
		*seen |= 1u << k;
		const char *v = argv[i + 1];

		switch (k) {
		case K_VIP:
			if (sluice_parse_addr(v, &sp->vip, &sp->family))
				return usage_err("vip: '%s' is not an IPv4 or IPv6 address", v);
			break;
		case K_PORT:
			if (parse_u32("port", v, 65535, &u))
				return EXIT_USAGE;
			if (!u)
				return usage_err("port: must be 1..65535");
			sp->port = u;
			break;
		case K_PROTO:
			x = match_word(v, protos, 2);
			if (x < 0)
				return usage_err("protocol must be tcp or udp, not '%s'", v);
			sp->proto = x ? IPPROTO_UDP : IPPROTO_TCP;
			break;
		case K_MODE:
			x = match_word(v, modes, 3);
			if (x < 0)
				return usage_err("mode must be dsr, ipip or nat, not '%s'", v);
			sp->mode = x;
			break;
		case K_AFF:
			x = match_word(v, affs, 2);
			if (x < 0)
				return usage_err("affinity must be connection or client, not '%s'", v);
			sp->affinity = x;
			break;
		case K_SEED:
			if (parse_u32("seed", v, 0xffffffffUL, &u))
				return EXIT_USAGE;
			sp->seed = u;
			break;
		case K_TABLE:
			if (parse_u32("table-size", v, SLUICE_TABLE_MAX, &u))
				return EXIT_USAGE;
			sp->table_size = u;
			break;
		case K_UDP_IDLE:
			if (parse_u32("udp-idle", v, SLUICE_UDP_IDLE_MAX, &u))
				return EXIT_USAGE;
			if (!u)
				return usage_err("udp-idle: must be 1..%u seconds",
						 SLUICE_UDP_IDLE_MAX);
			sp->udp_idle_s = u;
			break;
		case K_LKG:
			x = parse_variant(v);
			if (x < 0)
				return usage_err("last-known-good must be baseline, canary, blue or green, not '%s'", v);
			sp->lkg = x;
			break;
		case K_BGP: {
			static const char *const onoff[] = { "off", "on" };

			x = match_word(v, onoff, 2);
			if (x < 0)
				return usage_err("bgp must be on or off, not '%s'", v);
			sp->announce = x;
			break;
		}
		case K_TUN:
			if (!strcmp(v, "none")) {
				memset(&sp->tunnel_src, 0, sizeof(sp->tunnel_src));
				break;
			}
			x = sluice_parse_prefix(v, &sp->tunnel_src);
			if (x == -EDOM)
				return usage_err("tunnel-source: '%s' has host bits set beyond its length", v);
			if (x)
				return usage_err("tunnel-source: '%s' is not a prefix (like 10.99.0.0/24)", v);
			break;
		}
	}
	return EXIT_OK;
}

static int svc_put(struct sluice *s, struct sluice_service_spec *sp,
		   const char *what)
{
	int err = sluice_service_put(s, sp);

	if (err)
		return lib_fail(s, err);
	pr_str(PR_ANY, "service", "service %s", sp->name);
	pr_str(PR_ANY, "action", " %s\n", what);
	cli_announce(s);
	return EXIT_OK;
}

static int service_add(int argc, char **argv)
{
	struct sluice_service_spec *sp;
	struct sluice *s = NULL;
	unsigned int seen = 0;
	int rc;
	__u32 id;

	if (argc < 1)
		return usage_err("usage: %s service add NAME vip ADDR port PORT [protocol tcp|udp] ...",
				 cli.prog);
	if (strlen(argv[0]) >= SLUICE_NAME_LEN)
		return usage_err("service name '%s' is longer than %d characters",
				 argv[0], SLUICE_NAME_LEN - 1);
	sp = sluice_spec_new();
	if (!sp)
		return lib_fail(NULL, -ENOMEM);
	snprintf(sp->name, sizeof(sp->name), "%s", argv[0]);
	sp->proto = IPPROTO_TCP;
	rc = service_args(sp, argc - 1, argv + 1, &seen);
	if (rc)
		goto out;
	rc = EXIT_USAGE;
	if (!(seen & (1u << K_VIP))) {
		usage_err("service add: 'vip ADDR' is required");
		goto out;
	}
	if (!(seen & (1u << K_PORT))) {
		usage_err("service add: 'port PORT' is required");
		goto out;
	}
	rc = EXIT_ERR;
	s = cli_open(true);
	if (!s)
		goto out;
	if (sluice_service_lookup(s, sp->name, &id) == 0) {
		pr_error("service '%s' already exists (use 'service set' to change it)",
			 sp->name);
		goto out;
	}
	rc = svc_put(s, sp, "added");
out:
	sluice_close(s);
	sluice_spec_free(sp);
	return rc;
}

/* Open the instance and read service name into a new spec. */
static struct sluice *open_service(const char *name, bool create,
				   struct sluice_service_spec **spp)
{
	struct sluice *s = cli_open(create);
	int err;

	*spp = NULL;
	if (!s)
		return NULL;
	*spp = sluice_spec_new();
	if (!*spp) {
		lib_fail(NULL, -ENOMEM);
		sluice_close(s);
		return NULL;
	}
	err = sluice_service_get(s, name, *spp);
	if (err) {
		lib_fail(s, err);
		sluice_spec_free(*spp);
		*spp = NULL;
		sluice_close(s);
		return NULL;
	}
	return s;
}

static int service_set(int argc, char **argv)
{
	struct sluice_service_spec *sp;
	unsigned int seen = 0;
	struct sluice *s;
	int rc;

	if (argc < 2)
		return usage_err("usage: %s service set NAME KEYWORD VALUE ...", cli.prog);
	s = open_service(argv[0], false, &sp);
	if (!s)
		return EXIT_ERR;
	rc = service_args(sp, argc - 1, argv + 1, &seen);
	if (!rc)
		rc = svc_put(s, sp, "updated");
	sluice_spec_free(sp);
	sluice_close(s);
	return rc;
}

static int service_del(int argc, char **argv)
{
	struct sluice *s;
	int err;

	if (argc != 1)
		return usage_err("usage: %s service del NAME", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	err = sluice_service_del(s, argv[0]);
	if (err) {
		lib_fail(s, err);
		sluice_close(s);
		return EXIT_ERR;
	}
	pr_str(PR_ANY, "service", "service %s", argv[0]);
	pr_str(PR_ANY, "action", " %s\n", "deleted");
	cli_announce(s);
	sluice_close(s);
	return EXIT_OK;
}

static int service_show(int argc, char **argv)
{
	static __u32 ids[SLUICE_MAX_SERVICES];
	struct sluice_service_spec *sp;
	struct sluice *s;
	int n, i, rc = EXIT_OK;

	if (argc > 1)
		return usage_err("usage: %s service show [NAME]", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	sp = sluice_spec_new();
	if (argc == 1) {
		int err = sluice_service_get(s, argv[0], sp);

		if (err) {
			rc = lib_fail(s, err);
		} else {
			pr_arr_open("services");
			print_service(s, sp, true);
			pr_arr_close();
		}
		goto out;
	}
	n = sluice_service_ids(s, ids, SLUICE_MAX_SERVICES);
	pr_arr_open("services");
	for (i = 0; i < n; i++)
		if (sluice_service_get_id(s, ids[i], sp) == 0)
			print_service(s, sp, true);
	pr_arr_close();
	if (!n)
		pr_text("no services\n");
out:
	sluice_spec_free(sp);
	sluice_close(s);
	return rc;
}

static int service_drain(int argc, char **argv)
{
	return cli_drain(true, argc, argv, "service drain { NAME | --all }");
}

static int service_undrain(int argc, char **argv)
{
	return cli_drain(false, argc, argv, "service undrain { NAME | --all }");
}

const struct cmd service_cmds[] = {
	{ "add", service_add,
	  "service add NAME vip ADDR port PORT [protocol tcp|udp] [mode dsr|ipip|nat]\n"
	  "            [affinity connection|client] [seed N] [table-size PRIME]\n"
	  "            [last-known-good baseline|canary] [tunnel-source PREFIX]\n"
	  "            [udp-idle SECONDS]",
	  "Create a service with empty pools (weight 0%). Modes: dsr rewrites MACs\n"
	  "(backends need mac); ipip encapsulates (needs tunnel-source, the outer\n"
	  "source prefix; backends run `sluice decap attach DEV`); nat rewrites the\n"
	  "destination (attach DEV MODE reply on the backend-facing device). ipip and\n"
	  "nat find the next hop in the kernel's FIB: no mac or dev needed.\n"
	  "udp-idle (UDP, default 30): a flow silent that long is decided afresh\n"
	  "on its next packet, so weight changes and reverts reach reused ports.\n"
	  "bgp on: announce the VIP to the routers (doc/guide/bgp.md)." },
	{ "set", service_set, "service set NAME KEYWORD VALUE ...",
	  "Change fields of a service (keywords as for add)." },
	{ "del", service_del, "service del NAME", "Delete a service." },
	{ "drain", service_drain, "service drain { NAME | --all }",
	  "Withdraw the VIP from the routers (maintenance); still forwards." },
	{ "undrain", service_undrain, "service undrain { NAME | --all }",
	  "Undo drain." },
	{ "show", service_show, "service show [NAME]",
	  "Show services with weights, kill switch state and pools." },
};
const int n_service_cmds = sizeof(service_cmds) / sizeof(service_cmds[0]);

int do_service(int argc, char **argv)
{
	return run_subcmd("service", service_cmds, n_service_cmds, argc, argv);
}

/* ---- backend ----------------------------------------------------------- */

enum { B_POOL, B_PORT, B_WEIGHT, B_STATE, B_MAC, B_DEV, B_N };
static const char *const be_keys[B_N] = {
	"pool", "port", "weight", "state", "mac", "dev",
};

struct be_args {
	int variant;		/* -1: not given */
	int port;		/* -1: not given */
	struct sluice_backend_spec b;
	unsigned int seen;
};

static int backend_args(const char *addr, int argc, char **argv,
			struct be_args *a, bool allow_fields)
{
	static const char *const states[] = { "active", "draining" };
	int i, k, x;
	__u32 u;

	memset(a, 0, sizeof(*a));
	a->variant = -1;
	a->port = -1;
	if (sluice_parse_addr(addr, &a->b.addr, &a->b.family))
		return usage_err("'%s' is not an IPv4 or IPv6 address", addr);
	for (i = 0; i < argc; i += 2) {
		k = match_word(argv[i], be_keys, B_N);
		if (k < 0 || (!allow_fields && k != B_PORT && k != B_POOL))
			return usage_err("unknown backend keyword '%s' (expected %s)", argv[i],
					 allow_fields ? "pool, port, weight, state, mac, dev"
						      : "pool, port");
		if (i + 1 >= argc)
			return usage_err("'%s' needs a value", be_keys[k]);
		a->seen |= 1u << k;
		const char *v = argv[i + 1];

		switch (k) {
		case B_POOL:
			a->variant = parse_variant(v);
			if (a->variant < 0)
				return usage_err("pool must be baseline, canary, blue or green, not '%s'", v);
			break;
		case B_PORT:
			if (parse_u32("port", v, 65535, &u))
				return EXIT_USAGE;
			a->port = u;
			break;
		case B_WEIGHT:
			if (parse_u32("weight", v, 65535, &u))
				return EXIT_USAGE;
			if (!u)
				return usage_err("weight: must be 1..65535 (use 'state draining' to stop new flows)");
			a->b.weight = u;
			break;
		case B_STATE:
			x = match_word(v, states, 2);
			if (x < 0)
				return usage_err("state must be active or draining, not '%s'", v);
			a->b.draining = x == 1;
			break;
		case B_MAC:
			if (sluice_parse_mac(v, a->b.mac))
				return usage_err("mac: '%s' is not a MAC address (like 02:00:00:00:00:01)", v);
			a->b.has_mac = true;
			break;
		case B_DEV:
			if (strlen(v) >= IF_NAMESIZE)
				return usage_err("dev: '%s' is too long for a device name", v);
			snprintf(a->b.dev, sizeof(a->b.dev), "%s", v);
			break;
		}
	}
	return EXIT_OK;
}

/* The backend of sp matching a's address and port: variant, index; -1. */
static int find_backend(const struct sluice_service_spec *sp,
			const struct be_args *a, int *variant)
{
	unsigned int v, i;

	for (v = 0; v < SLUICE_VARIANTS; v++) {
		if (a->variant >= 0 && (int)v != a->variant)
			continue;
		for (i = 0; i < sp->pool[v].n; i++) {
			const struct sluice_backend_spec *b = &sp->pool[v].be[i];
			int port = b->port ? b->port : sp->port;

			if (b->family == a->b.family &&
			    !memcmp(&b->addr, &a->b.addr, sizeof(b->addr)) &&
			    (a->port < 0 || port == (a->port ? a->port : sp->port))) {
				*variant = v;
				return i;
			}
		}
	}
	return -1;
}

static void backend_done(const char *svc, const char *addr, int variant,
			 const char *what)
{
	pr_str(PR_ANY, "service", "service %s", svc);
	pr_str(PR_ANY, "pool", " %s", variant_str(variant));
	pr_str(PR_ANY, "backend", " backend %s", addr);
	pr_str(PR_ANY, "action", " %s\n", what);
}

/* Publish the edited service (one atomic swap) and report the change. */
static int backend_commit(struct sluice *s, struct sluice_service_spec *sp,
			  const char *addr, int v, const char *verb)
{
	if (sluice_service_put(s, sp))
		return lib_fail(s, -1);
	backend_done(sp->name, addr, v, verb);
	cli_announce(s);
	return EXIT_OK;
}

static int backend_add(int argc, char **argv)
{
	struct sluice_service_spec *sp;
	struct sluice_backend_spec *b;
	struct be_args a;
	struct sluice *s;
	int rc, v, i;

	if (argc < 2)
		return usage_err("usage: %s backend add SERVICE ADDR [pool baseline|canary] [port N] [weight N] [state active|draining] [mac MAC] [dev DEV]",
				 cli.prog);
	rc = backend_args(argv[1], argc - 2, argv + 2, &a, true);
	if (rc)
		return rc;
	s = open_service(argv[0], false, &sp);
	if (!s)
		return EXIT_ERR;
	rc = EXIT_ERR;
	{
		struct be_args any = a;

		any.variant = -1;
		if (a.port < 0)
			any.port = 0;
		if (find_backend(sp, &any, &v) >= 0) {
			pr_error("service '%s' already has backend %s port %u (in %s; use 'backend set')",
				 sp->name, argv[1], a.port > 0 ? a.port : sp->port,
				 variant_str(v));
			goto out;
		}
	}
	v = a.variant < 0 ? SLUICE_BASELINE : a.variant;
	if (sp->pool[v].n >= SLUICE_POOL_MAX) {
		pr_error("the %s pool of '%s' is full (%d backends)", variant_str(v),
			 sp->name, SLUICE_POOL_MAX);
		goto out;
	}
	i = sp->pool[v].n++;
	b = &sp->pool[v].be[i];
	*b = a.b;
	b->port = a.port > 0 && a.port != sp->port ? a.port : 0;
	if (!b->weight)
		b->weight = 100;
	rc = backend_commit(s, sp, argv[1], v, "added");
out:
	sluice_spec_free(sp);
	sluice_close(s);
	return rc;
}

static int backend_set(int argc, char **argv)
{
	struct sluice_service_spec *sp;
	struct sluice_backend_spec *b, nb;
	struct be_args a;
	struct sluice *s;
	int rc, v, i;
	unsigned int j;

	if (argc < 2)
		return usage_err("usage: %s backend set SERVICE ADDR [port N] [pool V] [weight N] [state S] [mac MAC] [dev DEV]",
				 cli.prog);
	rc = backend_args(argv[1], argc - 2, argv + 2, &a, true);
	if (rc)
		return rc;
	s = open_service(argv[0], false, &sp);
	if (!s)
		return EXIT_ERR;
	rc = EXIT_ERR;
	{
		struct be_args any = a;

		any.variant = -1;	/* pool in set means: move it there */
		i = find_backend(sp, &any, &v);
	}
	if (i < 0) {
		pr_error("service '%s' has no backend %s%s", sp->name, argv[1],
			 a.port >= 0 ? " with that port" : "");
		goto out;
	}
	b = &sp->pool[v].be[i];
	nb = *b;
	if (a.seen & (1u << B_WEIGHT))
		nb.weight = a.b.weight;
	if (a.seen & (1u << B_STATE))
		nb.draining = a.b.draining;
	if (a.seen & (1u << B_MAC)) {
		nb.has_mac = true;
		memcpy(nb.mac, a.b.mac, 6);
	}
	if (a.seen & (1u << B_DEV))
		memcpy(nb.dev, a.b.dev, sizeof(nb.dev));
	if (a.variant >= 0 && a.variant != v) {
		/* move between pools */
		for (j = i; j + 1 < sp->pool[v].n; j++)
			sp->pool[v].be[j] = sp->pool[v].be[j + 1];
		sp->pool[v].n--;
		if (sp->pool[a.variant].n >= SLUICE_POOL_MAX) {
			pr_error("the %s pool of '%s' is full", variant_str(a.variant), sp->name);
			goto out;
		}
		v = a.variant;
		sp->pool[v].be[sp->pool[v].n++] = nb;
	} else {
		*b = nb;
	}
	rc = backend_commit(s, sp, argv[1], v, "updated");
out:
	sluice_spec_free(sp);
	sluice_close(s);
	return rc;
}

static int backend_del(int argc, char **argv)
{
	struct sluice_service_spec *sp;
	struct be_args a;
	struct sluice *s;
	int rc, v, i;
	unsigned int j;

	if (argc < 2)
		return usage_err("usage: %s backend del SERVICE ADDR [port N] [pool V]", cli.prog);
	rc = backend_args(argv[1], argc - 2, argv + 2, &a, false);
	if (rc)
		return rc;
	s = open_service(argv[0], false, &sp);
	if (!s)
		return EXIT_ERR;
	rc = EXIT_ERR;
	i = find_backend(sp, &a, &v);
	if (i < 0) {
		pr_error("service '%s' has no backend %s%s", sp->name, argv[1],
			 a.port >= 0 || a.variant >= 0 ? " with that port/pool" : "");
		goto out;
	}
	for (j = i; j + 1 < sp->pool[v].n; j++)
		sp->pool[v].be[j] = sp->pool[v].be[j + 1];
	sp->pool[v].n--;
	rc = backend_commit(s, sp, argv[1], v, "deleted");
out:
	sluice_spec_free(sp);
	sluice_close(s);
	return rc;
}

static int show_pools(int argc, char **argv, const char *usage)
{
	struct sluice_service_spec *sp;
	json_t *hl;
	struct sluice *s;
	int only = -1;
	unsigned int v, i;

	if (argc < 1 || argc > 2)
		return usage_err("usage: %s %s", cli.prog, usage);
	if (argc == 2) {
		only = parse_variant(argv[1]);
		if (only < 0)
			return usage_err("pool must be baseline, canary, blue or green, not '%s'",
					 argv[1]);
	}
	s = open_service(argv[0], false, &sp);
	if (!s)
		return EXIT_ERR;
	hl = daemon_health(sp->name);
	pr_str(PR_ANY, "service", "%s:\n", sp->name);
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		unsigned int down = 0;

		if (only >= 0 && (int)v != only)
			continue;
		for (i = 0; i < sp->pool[v].n; i++)
			down += !sp->pool[v].be[i].draining && sp->pool[v].be[i].down;
		pr_text("\t%s (%s): %u backend%s", variant_str(v), v ? "green" : "blue",
			sp->pool[v].n, sp->pool[v].n == 1 ? "" : "s");
		if (down)
			pr_text(", %u down by health check%s", down, sp->pool[v].all_down ?
				" (every active backend: all kept in the table)" : "");
		pr_text("\n");
		pr_arr_open(variant_str(v));
		for (i = 0; i < sp->pool[v].n; i++)
			print_backend(sp, &sp->pool[v].be[i],
				      hl ? check_of(hl, sp, v, &sp->pool[v].be[i]) : NULL);
		pr_arr_close();
	}
	json_decref(hl);
	sluice_spec_free(sp);
	sluice_close(s);
	return EXIT_OK;
}

static int backend_show(int argc, char **argv)
{
	return show_pools(argc, argv, "backend show SERVICE [POOL]");
}

const struct cmd backend_cmds[] = {
	{ "add", backend_add,
	  "backend add SERVICE ADDR [pool baseline|canary|blue|green] [port N]\n"
	  "            [weight 1..65535] [state active|draining] [mac MAC] [dev DEV]",
	  "Add a backend (default: baseline pool, the service port, weight 100).\n"
	  "      DSR needs mac (the backend's MAC); dev is the egress device." },
	{ "set", backend_set,
	  "backend set SERVICE ADDR [port N] [pool P] [weight N] [state S] [mac MAC] [dev DEV]",
	  "Change a backend; 'pool' moves it to that pool." },
	{ "del", backend_del, "backend del SERVICE ADDR [port N] [pool P]",
	  "Remove a backend; its established flows keep their destination." },
	{ "show", backend_show, "backend show SERVICE [POOL]", "List backends." },
};
const int n_backend_cmds = sizeof(backend_cmds) / sizeof(backend_cmds[0]);

int do_backend(int argc, char **argv)
{
	return run_subcmd("backend", backend_cmds, n_backend_cmds, argc, argv);
}

/* ---- pool -------------------------------------------------------------- */

static int pool_show(int argc, char **argv)
{
	return show_pools(argc, argv, "pool show SERVICE [POOL]");
}

static int pool_flush(int argc, char **argv)
{
	struct sluice_service_spec *sp;
	struct sluice *s;
	int v, rc = EXIT_OK;
	unsigned int n;

	if (argc != 2)
		return usage_err("usage: %s pool flush SERVICE POOL", cli.prog);
	v = parse_variant(argv[1]);
	if (v < 0)
		return usage_err("pool must be baseline, canary, blue or green, not '%s'",
				 argv[1]);
	s = open_service(argv[0], false, &sp);
	if (!s)
		return EXIT_ERR;
	n = sp->pool[v].n;
	sp->pool[v].n = 0;
	if (n && sluice_service_put(s, sp)) {
		rc = lib_fail(s, -1);
	} else {
		pr_str(PR_ANY, "service", "service %s", sp->name);
		pr_str(PR_ANY, "pool", " %s", variant_str(v));
		pr_uint(PR_ANY, "removed", ": %llu backends removed\n", n);
		cli_announce(s);
	}
	sluice_spec_free(sp);
	sluice_close(s);
	return rc;
}

const struct cmd pool_cmds[] = {
	{ "show", pool_show, "pool show SERVICE [baseline|canary|blue|green]",
	  "List the backends of one or both pools." },
	{ "flush", pool_flush, "pool flush SERVICE baseline|canary|blue|green",
	  "Remove every backend of a pool (its established flows keep going)." },
};
const int n_pool_cmds = sizeof(pool_cmds) / sizeof(pool_cmds[0]);

int do_pool(int argc, char **argv)
{
	return run_subcmd("pool", pool_cmds, n_pool_cmds, argc, argv);
}
