// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice: the command line over the pinned maps of a sluice instance.
 *   sluice [-j [-p]] [-v] [-d DIR] OBJECT COMMAND ...
 * Objects and commands are tables; any unique prefix selects one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <getopt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <bpf/libbpf.h>
#include "cli.h"

#include "version.h"	/* SLUICE_VERSION, from VERSION (Makefile) */

struct cli cli;

static int do_help(int argc, char **argv);
static int do_version(int argc, char **argv);

static const struct cmd objects[] = {
	{ "attach", do_attach, "attach DEV [xdp|xdpgeneric|tc] [reply] [conn N] [conn-new N] [nat N]",
	  "Load the programs (creating and pinning the maps if needed) and attach\n"
	  "them to DEV: native XDP (default), skb-mode XDP, or tc clsact ingress.\n"
	  "Attaching again (or `upgrade`) swaps in this build's programs atomically.\n"
	  "conn / conn-new: entries of the established and unconfirmed connection\n"
	  "tables (default 1048576 / 262144); nat: entries of the NAT reverse table,\n"
	  "made with the first NAT service (default conn + conn-new). Sizes are set\n"
	  "when this attach creates the maps (1024 .. 268435456).\n"
	  "reply: the NAT reply path (backend -> client gets the VIP back), for the\n"
	  "backend-facing device; the forward path goes on the client-facing one." },
	{ "decap", do_decap, "decap { attach | detach } DEV",
	  "On a backend of an ipip service: a tc ingress program on DEV strips the\n"
	  "outer IPv4/IPv6 header and hands the inner packet to the local stack\n"
	  "(no ipip module needed). The VIP must be a local address (loopback)." },
	{ "upgrade", do_upgrade, "upgrade",
	  "Hitless upgrade: load this build's programs over the pinned maps and swap\n"
	  "them in for the attached ones on every device, atomically (no packet is\n"
	  "dropped, no flow moves). Refused, changing nothing, when the pins have\n"
	  "another map layout version." },
	{ "detach", do_detach, "detach DEV",
	  "Detach the programs of this instance from DEV. The maps stay." },
	{ "status", do_status, "status",
	  "Where programs are attached (device, hook, program id) and how full the\n"
	  "maps are: services, backends in use, rings, connection tables." },
	{ "service", do_service, "service { add | set | del | show } ...",
	  "Services: a VIP, port and protocol with a baseline and a canary pool." },
	{ "backend", do_backend, "backend { add | set | del | show } ...",
	  "Backends of a service's pools." },
	{ "pool", do_pool, "pool { show | flush } ...",
	  "The baseline (blue) and canary (green) pools of a service." },
	{ "ring", do_ring, "ring { add | set | del | show } ...",
	  "Rings: named sets of client source prefixes with their own weights." },
	{ "weight", do_weight, "weight SERVICE [RING] WEIGHT",
	  "Set the canary share of new flows of SERVICE, on every ring or on RING\n"
	  "only. WEIGHT: 5%, 0.25%, 500bp (0..100%, 1 bp = 0.01%)." },
	{ "cutover", do_cutover, "cutover SERVICE blue|green",
	  "Blue-green: send every new flow of SERVICE to one pool (blue = baseline,\n"
	  "green = canary) on all rings with one configuration write, and make the\n"
	  "other color the last-known-good for revert." },
	{ "revert", do_revert, "revert { SERVICE | --all } [--reset]",
	  "Kill switch: new flows of SERVICE (or of every service) go to the\n"
	  "last-known-good pool. --reset re-decides established canary flows too.\n"
	  "One map write; repeating it changes nothing." },
	{ "resume", do_resume, "resume { SERVICE | --all }",
	  "Clear the kill switch of SERVICE (or the global one set by revert --all)." },
	{ "stats", do_stats, "stats [SERVICE] [-w SECONDS] [-c COUNT] [-a]",
	  "Counters per service, variant and ring, and global events. -w watches\n"
	  "with rates every SECONDS, -c stops after COUNT samples, -a shows rows\n"
	  "that are all zero too." },
	{ "apply", do_apply, "apply -f FILE [--dry-run] [--keep] [--fleet]",
	  "Make the configuration in FILE (YAML, see sluice(8)) the live one. All of\n"
	  "it is validated first; on any error nothing changes. Services and rings\n"
	  "absent from FILE are deleted unless --keep. Unchanged services are not\n"
	  "republished. Each service is swapped atomically, one after the other.\n"
	  "      --fleet: write each service of FILE to etcd (through sluiced); every\n"
	  "      node of the fleet applies it (others of its services are kept)." },
	{ "rollout", do_rollout,
	  "rollout [--socket PATH] { start | status | history | promote | pause | resume | abort | retry | freeze | unfreeze } ...",
	  "Rollouts run by sluiced (over its control socket; $SLUICE_SOCKET or\n"
	  "--socket PATH, default /run/sluice/sluiced.sock). Every other command\n"
	  "works without the daemon." },
	{ "top", do_top, "top [--socket PATH] [-d SECONDS]",
	  "A live view: per service the rollout's state, step and hold, weights per\n"
	  "ring, per-variant rates, error ratios and handshake p95/p99, gate verdicts,\n"
	  "last events; keys p pause, r resume, P promote, a abort (confirmed), f\n"
	  "freeze, u unfreeze, q quit. Without sluiced: the map counters alone." },
	{ "report", do_report, "report [--socket PATH] SERVICE [ROLLOUT] [-o FILE] [--png]",
	  "A picture of a rollout (the latest, or ROLLOUT) from sluiced's audit trail:\n"
	  "weight over time, each gate's canary and baseline values, step boundaries,\n"
	  "gate failures, the promotion or rollback. SVG (to stdout or FILE); PNG with\n"
	  "--png or a FILE ending in .png (needs rsvg-convert)." },
	{ "bgp", do_bgp, "bgp { show | sync | config } ...",
	  "VIP announcements: sluice keeps one route per VIP to announce in its own\n"
	  "routing table, which BIRD or FRR exports over BGP (doc/guide/bgp.md)." },
	{ "drain", do_drain, "drain { SERVICE | --all }",
	  "Maintenance: withdraw the VIP of SERVICE (of every service) from the\n"
	  "routers; what still arrives keeps being forwarded. Kept until undrain." },
	{ "undrain", do_undrain, "undrain { SERVICE | --all }",
	  "Undo drain: announce again while the other conditions hold." },
	{ "export", do_export, "export",
	  "Print the live configuration as YAML (or JSON with -j); apply reads both." },
	{ "destroy", do_destroy, "destroy",
	  "Remove every pin of the instance (after detaching from all devices)." },
	{ "help", do_help, "help [OBJECT]", "Show help." },
	{ "version", do_version, "version", "Show the version and the libbpf version." },
};
#define N_OBJECTS (int)(sizeof(objects) / sizeof(objects[0]))

int match_word(const char *word, const char *const *names, int n)
{
	size_t len = strlen(word);
	int i, found = -1;

	if (!len)
		return -1;
	for (i = 0; i < n; i++) {
		if (!strcmp(word, names[i]))
			return i;
		if (!strncmp(word, names[i], len))
			found = found == -1 ? i : -2;
	}
	return found;
}

int match_cmd(const char *word, const struct cmd *cmds, int n,
	      const char *what, const char *ctx)
{
	const char *names[64];
	char alts[512] = "";
	size_t len = strlen(word);
	int i, r;

	for (i = 0; i < n && i < 64; i++)
		names[i] = cmds[i].name;
	r = match_word(word, names, n);
	if (r >= 0)
		return r;
	if (r == -2) {
		for (i = 0; i < n; i++)
			if (!strncmp(word, names[i], len))
				snprintf(alts + strlen(alts), sizeof(alts) - strlen(alts),
					 "%s%s", alts[0] ? ", " : "", names[i]);
		usage_err("ambiguous %s '%s' (%s); try '%s help%s%s'", what, word,
			  alts, cli.prog, ctx ? " " : "", ctx ? ctx : "");
	} else {
		usage_err("unknown %s '%s'; try '%s help%s%s'", what, word, cli.prog,
			  ctx ? " " : "", ctx ? ctx : "");
	}
	return -1;
}

void print_cmd_usage(const char *object, const struct cmd *cmds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		printf("  %s %s\n", cli.prog, cmds[i].usage);
		if (cmds[i].help)
			printf("      %s\n", cmds[i].help);
	}
	(void)object;
}

int run_subcmd(const char *object, const struct cmd *cmds, int n, int argc,
	       char **argv)
{
	int i;

	if (argc < 1)
		return usage_err("'%s' needs a command: try '%s help %s'", object,
				 cli.prog, object);
	if (!strcmp(argv[0], "help")) {
		if (!out_json)
			print_cmd_usage(object, cmds, n);
		return EXIT_OK;
	}
	i = match_cmd(argv[0], cmds, n, "command", object);
	if (i < 0)
		return EXIT_USAGE;
	return cmds[i].fn(argc - 1, argv + 1);
}

int usage_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_error("%s", msg);
	return EXIT_USAGE;
}

int lib_fail(struct sluice *s, int err)
{
	const char *msg = s ? sluice_errmsg(s) : strerror(err < 0 ? -err : err);

	if (err == -EPERM || err == -EACCES)
		pr_error("%s: %s", msg, sluice_privilege_hint());
	else
		pr_error("%s", msg);
	return EXIT_ERR;
}

/* The one error line is ours (and JSON under -j): sluice_open() says
 * what went wrong in a buffer and prints nothing. */
struct sluice *cli_open(bool create)
{
	struct sluice_open_opts o = { .pin_dir = cli.pin_dir, .create = create,
				      .verbose = cli.verbose,
				      .conn_entries = cli.conn_entries,
				      .conn_new_entries = cli.conn_new_entries,
				      .nat_entries = cli.nat_entries };
	char path[PATH_MAX + 16], why[512];
	struct sluice *s;

	snprintf(path, sizeof(path), "%s/svc_index", cli.pin_dir);
	if (!create && access(path, F_OK) < 0 && errno == ENOENT) {
		pr_error("no sluice instance at %s (attach a device or add a service first)",
			 cli.pin_dir);
		return NULL;
	}
	s = sluice_open(&o, why, sizeof(why));
	if (!s && strstr(why, "needs root")) {
		pr_error("%s", why);
	} else if (!s && (errno == EPERM || errno == EACCES)) {
		pr_error("cannot open the sluice instance at %s (%s): %s", cli.pin_dir,
			 why[0] ? why : strerror(errno), sluice_privilege_hint());
	} else if (!s) {
		if (why[0])
			pr_error("%s", why);
		else
			pr_error("cannot open the sluice instance at %s: %s",
				 cli.pin_dir, strerror(errno));
	}
	return s;
}

int parse_u32(const char *what, const char *str, unsigned long max, __u32 *v)
{
	unsigned long x;
	char *end;

	errno = 0;
	if (!str || !*str || *str == '-' || *str == '+') {
		usage_err("%s: expected a number, got '%s'", what, str ? str : "");
		return -1;
	}
	x = strtoul(str, &end, 0);
	if (*end || errno) {
		usage_err("%s: expected a number, got '%s'", what, str);
		return -1;
	}
	if (x > max) {
		usage_err("%s: %lu is out of range (at most %lu)", what, x, max);
		return -1;
	}
	*v = x;
	return 0;
}

int parse_variant(const char *str)
{
	static const char *const n[] = { "baseline", "canary", "blue", "green" };
	int i = match_word(str, n, 4);

	return i < 0 ? -1 : i % 2;
}

const char *variant_str(int v)
{
	return v == SLUICE_CANARY ? "canary" : "baseline";
}

const char *proto_str(int p)
{
	return p == 17 ? "udp" : p == 6 ? "tcp" : "?";
}

const char *mode_str(int m)
{
	return m == SLUICE_MODE_IPIP ? "ipip" : m == SLUICE_MODE_NAT ? "nat" : "dsr";
}

const char *affinity_str(int a)
{
	return a == SLUICE_AFF_CLIENT ? "client" : "connection";
}

void fmt_bp(unsigned int bp, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%02u%%", bp / 100, bp % 100);
}

void fmt_mac(const __u8 m[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

static void usage(FILE *f)
{
	int i;

	fprintf(f,
		"Usage: %s [OPTIONS] OBJECT COMMAND [ARGS]\n"
		"       %s help [OBJECT]\n"
		"OPTIONS: -j|--json  -p|--pretty  -v|--verbose  -d|--pin-dir DIR\n"
		"         -V|--version  -h|--help\n"
		"         (SLUICE_PIN_DIR sets the pin directory too; default %s)\n"
		"OBJECTS:\n", cli.prog, cli.prog, SLUICE_PIN_DIR_DEFAULT);
	for (i = 0; i < N_OBJECTS; i++)
		fprintf(f, "  %s\n", objects[i].usage);
	fprintf(f, "Any unique prefix of an object or command works. Exit status:\n"
		   "0 success, 1 error (nothing changed), 2 usage error.\n");
}

static int do_help(int argc, char **argv)
{
	const struct cmd *sub = NULL;
	int i, n = 0;

	if (out_json && argc < 1) {
		pr_arr_open("objects");
		for (i = 0; i < N_OBJECTS; i++)
			pr_str(PR_JSON, NULL, "", objects[i].name);
		pr_arr_close();
		return EXIT_OK;
	}
	if (argc < 1) {
		usage(stdout);
		return EXIT_OK;
	}
	i = match_cmd(argv[0], objects, N_OBJECTS, "object", NULL);
	if (i < 0)
		return EXIT_USAGE;
	if (objects[i].fn == do_service)
		sub = service_cmds, n = n_service_cmds;
	else if (objects[i].fn == do_backend)
		sub = backend_cmds, n = n_backend_cmds;
	else if (objects[i].fn == do_pool)
		sub = pool_cmds, n = n_pool_cmds;
	else if (objects[i].fn == do_ring)
		sub = ring_cmds, n = n_ring_cmds;
	else if (objects[i].fn == do_rollout)
		sub = rollout_cmds, n = n_rollout_cmds;
	if (out_json)
		return EXIT_OK;
	if (sub) {
		printf("%s\n", objects[i].help);
		print_cmd_usage(objects[i].name, sub, n);
	} else {
		printf("Usage: %s %s\n%s\n", cli.prog, objects[i].usage, objects[i].help);
	}
	return EXIT_OK;
}

static int do_version(int argc, char **argv)
{
	pr_str(PR_ANY, "version", "sluice %s", SLUICE_VERSION);
	pr_str(PR_ANY, "libbpf", " (libbpf %s)\n", libbpf_version_string());
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool json = false, pretty = false, version = false;
	int c, i, rc;

	cli.prog = "sluice";
	cli.pin_dir = getenv("SLUICE_PIN_DIR");
	if (!cli.pin_dir || !*cli.pin_dir)
		cli.pin_dir = SLUICE_PIN_DIR_DEFAULT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jpvd:Vh", opts, NULL)) >= 0) {
		switch (c) {
		case 'j': json = true; break;
		case 'p': json = pretty = true; break;
		case 'v': cli.verbose++; break;
		case 'd': cli.pin_dir = optarg; break;
		case 'V': version = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default:
			pr_init(json, pretty);
			return usage_err("unknown option '%s'; try '%s help'",
					 argv[optind - 1], cli.prog);
		}
	}
	pr_init(json, pretty);
	if (version) {
		do_version(0, NULL);
		pr_flush();
		return EXIT_OK;
	}
	if (optind >= argc) {
		if (json)
			return usage_err("no object given; try 'sluice help'");
		usage(stderr);
		return EXIT_USAGE;
	}
	i = match_cmd(argv[optind], objects, N_OBJECTS, "object", NULL);
	if (i < 0)
		return EXIT_USAGE;
	rc = objects[i].fn(argc - optind - 1, argv + optind + 1);
	if (rc == EXIT_OK)
		pr_flush();
	else
		pr_discard();
	return rc;
}
