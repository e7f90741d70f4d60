// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced: runs every service's rollout. Foreground, logs to stderr
 * (journald under systemd), one control socket, one state database.
 *
 * Start-up reads the state database and refuses to run on anything it
 * cannot trust (damaged file, unknown schema, a state that does not parse),
 * before it opens the datapath: a refused start touches no map. A started
 * daemon resumes each rollout where its state says and writes nothing to
 * the maps until a rollout's tick decides to.
 */
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include <sqlite3.h>
#include "sluiced.h"
#include "metrics.h"
#include "fleet.h"

#include "version.h"	/* SLUICE_VERSION, from VERSION (Makefile) */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sluiced [OPTIONS]\n"
		"Runs the rollouts of every service of a sluice instance (see sluiced(8)).\n"
		"  -s, --socket PATH       control socket (default %s, or $%s)\n"
		"  -g, --socket-group GRP  socket mode 0660 for group GRP (default 0600)\n"
		"  -D, --db PATH           state database (default %s)\n"
		"  -d, --pin-dir DIR       sluice instance (default %s, or $SLUICE_PIN_DIR)\n"
		"  -a, --audit-log FILE    audit events as JSON lines (\"-\": stderr)\n"
		"  -c, --config FILE       apply file whose rollout: sections are the plans\n"
		"                          of 'sluice rollout start SERVICE' without -f\n"
		"  -k, --keep-days N       keep events and samples N days (default %d)\n"
		"  -P, --prometheus URL    Prometheus of the plans' prometheus gates\n"
		"                          (default http://127.0.0.1:9090)\n"
		"  -m, --metrics ADDR      serve /metrics and the status page (/) on ADDR\n"
		"                          (default " METRICS_DEFAULT_ADDR "; \"off\": none)\n"
		"      --metrics-host NAME answer requests for NAME too (Host:; up to 8;\n"
		"                          always: ADDR, and localhost on loopback)\n"
		"  -n, --notify-command C  run C (sh -c) on pause, inconclusive, rollback,\n"
		"                          abort, promotion and freeze (event JSON on stdin)\n"
		"  -u, --notify-url URL    POST the event JSON to URL\n"
		"  -E, --etcd URL[,URL]    fleet mode: desired state from etcd at URL\n"
		"                          (http://host:port, its v3 JSON gateway; up to 8\n"
		"                          members, the next one when one fails)\n"
		"  -C, --cluster NAME      fleet keys under /sluice/NAME (default \"default\")\n"
		"  -N, --node NAME         this node in the fleet (default: host name)\n"
		"  -T, --lease-ttl S       fleet lease TTL in seconds (default 3)\n"
		"      --etcd-cacert FILE  https:// endpoints: trust these CAs (PEM)\n"
		"      --etcd-cert FILE    and present this client certificate (PEM)\n"
		"      --etcd-key FILE     with this key (PEM)\n"
		"  -v, --verbose           every gate evaluation and command in the log\n"
		"  -V, --version           -h, --help\n",
		SLUICE_CTL_SOCKET, SLUICE_CTL_SOCKET_ENV, SLUICED_DB_DEFAULT,
		SLUICE_PIN_DIR_DEFAULT, SLUICED_KEEP_DAYS);
}

/* SIGHUP (the unit's ExecReload, a logrotate hook): reopen the audit log,
 * check the --config file again (a bad one is reported and the running
 * state kept, as BIRD's `configure` does) and re-read the health checks
 * at the next tick. Rollouts are untouched: what was decided stays. */
void daemon_reload(struct daemon *d)
{
	char err[1024];

	dlog(d, LOG_INFO_, "SIGHUP: reloading (audit log reopened%s)",
	     d->o.config_path ? ", configuration checked" : "");
	audit_reopen(d);
	if (d->o.config_path) {
		struct sluice_config *cfg = sluice_config_parse(d->o.config_path, err,
								sizeof(err));

		if (!cfg)
			dlog(d, LOG_ERR_, "SIGHUP: %s; the running configuration is kept", err);
		sluice_config_free(cfg);
	}
	modules_reload(d);	/* the health checks re-read now */
}

static int libbpf_quiet(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	return l == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "db", required_argument, NULL, 'D' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "audit-log", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'c' },
		{ "keep-days", required_argument, NULL, 'k' },
		{ "prometheus", required_argument, NULL, 'P' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "notify-command", required_argument, NULL, 'n' },
		{ "notify-url", required_argument, NULL, 'u' },
		{ "etcd", required_argument, NULL, 'E' },
		{ "cluster", required_argument, NULL, 'C' },
		{ "node", required_argument, NULL, 'N' },
		{ "lease-ttl", required_argument, NULL, 'T' },
		{ "etcd-cacert", required_argument, NULL, 1001 },
		{ "etcd-cert", required_argument, NULL, 1002 },
		{ "etcd-key", required_argument, NULL, 1003 },
		{ "metrics-host", required_argument, NULL, 1004 },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct daemon d;
	struct fleet_opts fo = { 0 };
	char err[1024], dir[PATH_MAX];
	int c, rc;

	loop_signals_block();	/* before any thread: see loop.c */
	d.o.socket_path = getenv(SLUICE_CTL_SOCKET_ENV);
	if (!d.o.socket_path || !*d.o.socket_path)
		d.o.socket_path = SLUICE_CTL_SOCKET;
	d.o.db_path = SLUICED_DB_DEFAULT;
	d.o.pin_dir = getenv("SLUICE_PIN_DIR");
	if (!d.o.pin_dir || !*d.o.pin_dir)
		d.o.pin_dir = SLUICE_PIN_DIR_DEFAULT;
	d.o.keep_days = SLUICED_KEEP_DAYS;
	while ((c = getopt_long(argc, argv, "s:g:D:d:a:c:k:P:m:n:u:E:C:N:T:vVh", opts, NULL)) >= 0) {
		switch (c) {
		case 's': d.o.socket_path = optarg; break;
		case 'g': d.o.socket_group = optarg; break;
		case 'D': d.o.db_path = optarg; break;
		case 'd': d.o.pin_dir = optarg; break;
		case 'a': d.o.audit_path = optarg; break;
		case 'c': d.o.config_path = optarg; break;
		case 'P': d.o.prom_url = optarg; break;
		case 'm': d.o.metrics_addr = optarg; break;
		case 'n': d.o.notify_command = optarg; break;
		case 'u': d.o.notify_url = optarg; break;
		case 'E': fo.etcd_url = optarg; break;
		case 'C': fo.cluster = optarg; break;
		case 'N': fo.node = optarg; break;
		case 1001: fo.cacert = optarg; break;
		case 1002: fo.cert = optarg; break;
		case 1003: fo.key = optarg; break;
		case 1004:
			if (!metrics_host_name_ok(optarg) || d.o.nmetrics_hosts == 8) {
				fprintf(stderr, "sluiced: error: --metrics-host: '%s' %s\n", optarg,
					d.o.nmetrics_hosts == 8 ? "is one name too many (at most 8)" :
					"is not a host name (letters, digits, '-' and '.')");
				return 2;
			}
			d.o.metrics_hosts[d.o.nmetrics_hosts++] = optarg;
			break;
		case 'T': {
			char *end;
			unsigned long t = strtoul(optarg, &end, 10);

			if (*end || t < 2 || t > 600) {
				fprintf(stderr, "sluiced: error: --lease-ttl: '%s' is not 2..600 seconds\n", optarg);
				return 2;
			}
			fo.ttl_s = t;
			break;
		}
		case 'k': {
			char *end;
			unsigned long k = strtoul(optarg, &end, 10);

			if (*end || !k || k > 36500) {
				fprintf(stderr, "sluiced: error: --keep-days: '%s' is not 1..36500\n", optarg);
				return 2;
			}
			d.o.keep_days = k;
			break;
		}
		case 'v': d.o.verbose++; break;
		case 'V':
			printf("sluiced %s (libbpf %s, sqlite %s)\n", SLUICE_VERSION,
			       libbpf_version_string(), sqlite3_libversion());
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluiced: error: unexpected argument '%s'; try 'sluiced --help'\n",
			argv[optind]);
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	libbpf_set_print(d.o.verbose ? NULL : libbpf_quiet);
	if (d.o.config_path) {
		struct sluice_config *cfg = sluice_config_parse(d.o.config_path, err, sizeof(err));

		if (!cfg) {
			dlog(&d, LOG_ERR_, "%s; refusing to start (the datapath is untouched)", err);
			return 1;
		}
		sluice_config_free(cfg);
	}
	if (fleet_opts_check(&fo, err, sizeof(err))) {
		dlog(&d, LOG_ERR_, "%s; refusing to start (nothing opened)", err);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", d.o.db_path);
	mkdir(dirname(dir), 0700);	/* /var/lib/sluice; an existing one stays */
	rc = store_open(d.o.db_path, &d.db, err, sizeof(err));
	if (!rc)
		rc = ro_load(&d, err, sizeof(err));
	/* meta.sluiced_version: the last sluiced to open the database */
	if (!rc && (rc = store_meta_set(d.db, "sluiced_version", SLUICE_VERSION)))
		snprintf(err, sizeof(err), "%s", store_errmsg(d.db));
	if (rc == -EBUSY) {	/* another daemon's: leave everything to it */
		dlog(&d, LOG_ERR_, "%s; refusing to start (nothing touched)", err);
		return 1;
	}
	if (rc) {
		dlog(&d, LOG_ERR_, "%s; refusing to start (the datapath is untouched; move the file aside to start afresh)",
		     err);
		store_close(d.db);
		return 1;
	}
	audit_reopen(&d);
	d.sched = sched_new();	/* the one event loop: modules register on it */
	if (!d.sched) {
		dlog(&d, LOG_ERR_, "cannot set up the event loop: %s; refusing to start",
		     strerror(errno));
		store_close(d.db);
		return 1;
	}
	/* modules.c: each in the table's order, the control socket last; one
	 * that refuses says why, and those started stop again */
	d.o.fleet = &fo;
	if (modules_start(&d, err, sizeof(err))) {
		dlog(&d, LOG_ERR_, "%s; refusing to start", err);
		store_close(d.db);
		return 1;
	}
	ro_open_instance(&d);
	dlog(&d, LOG_INFO_, "sluiced %s: control socket %s, state %s, instance %s",
	     SLUICE_VERSION, d.o.socket_path, d.o.db_path, d.o.pin_dir);
	rc = loop_run(&d, -1);	/* the control socket is on d.sched (modules.c) */
	modules_stop(&d);	/* modules.c: the reverse of their start */
	ro_free_all(&d);
	outbox_free();
	audit_free();
	store_close(d.db);
	sluice_close(d.s);
	if (d.audit && d.audit != stderr)
		fclose(d.audit);
	sched_free(d.sched);
	return rc ? 1 : 0;
}
