// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice rollout ...: talk to sluiced over its control socket
 * (include/sluice_ctl.h, user/lib/ctl_client.c). Nothing here opens the
 * maps: every other command keeps working without a daemon, and these
 * say clearly when it is not running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "cli.h"
#include "plan.h"
#include "ctl_client.h"

static const char *socket_path;	/* --socket PATH */

const char *rollout_socket(void)
{
	return socket_path;
}

/* Take "--socket PATH" out of argv wherever it is. Each call names its
 * own (report and top too: the fuzzer calls main again, and an old argv
 * is freed by then). */
int rollout_strip_socket(int *argc, char **argv)
{
	int i, j;

	socket_path = NULL;
	for (i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--socket"))
			continue;
		if (i + 1 >= *argc)
			return usage_err("--socket needs a PATH");
		socket_path = argv[i + 1];
		for (j = i; j + 2 < *argc; j++)
			argv[j] = argv[j + 2];
		*argc -= 2;
		i--;
	}
	return EXIT_OK;
}

static void fmt_time(json_int_t ms, char *buf, size_t len)
{
	time_t t = ms / 1000;
	struct tm tm;

	if (!ms) {
		snprintf(buf, len, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* One request; *reply on success (code 0). Prints the error itself. */
int rollout_call(json_t *req, json_t **reply)
{
	struct sluice_ctl *c;
	char err[512];
	int rc;

	*reply = NULL;
	c = sluice_ctl_connect(socket_path, err, sizeof(err));
	if (!c) {
		json_decref(req);
		pr_error("%s", err);
		return EXIT_ERR;
	}
	rc = sluice_ctl_call(c, req, reply, err, sizeof(err));
	sluice_ctl_close(c);
	json_decref(req);
	if (rc) {
		pr_error("%s", err);
		return EXIT_ERR;
	}
	if (sluice_ctl_code(*reply) != SLUICE_CTL_OK) {
		json_t *e = json_object_get(*reply, "error");

		pr_error("%s", json_is_string(e) ? json_string_value(e) : "sluiced refused the request");
		json_decref(*reply);
		*reply = NULL;
		return EXIT_ERR;
	}
	return EXIT_OK;
}

json_t *rollout_request(const char *cmd, const char *service)
{
	const char *sudo = getenv("SUDO_USER");
	json_t *r = json_pack("{s:s}", "cmd", cmd);

	if (service)
		json_object_set_new(r, "service", json_string(service));
	if (sudo && *sudo && strlen(sudo) <= SLUICE_CTL_MAX_WHO)
		json_object_set_new(r, "who", json_string(sudo));
	return r;
}

const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

json_int_t jnum(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

double jreal(const json_t *o, const char *key, bool *ok)
{
	const json_t *v = json_object_get(o, key);

	*ok = json_is_number(v);
	return *ok ? json_number_value(v) : 0;
}

static void print_freeze(const json_t *f)
{
	char t[32];

	if (!json_is_true(json_object_get(f, "frozen")))
		return;
	fmt_time(jnum(f, "since_ms"), t, sizeof(t));
	pr_text("global freeze: %s (by %s since %s): no step advances, no rollout starts\n",
		jstr(f, "reason"), jstr(f, "who"), t);
}

/* Fleet mode: this node, the leader, and every node's last report. */
static void print_fleet(const json_t *f)
{
	const json_t *n, *s, *ro, *g;
	const char *name, *svc;
	size_t i;

	if (!f)
		return;
	pr_text("fleet: node %s, leader %s%s, etcd %s%s%s, revision %lld\n",
		jstr(f, "node"), *jstr(f, "leader") ? jstr(f, "leader") : "(none)",
		json_is_true(json_object_get(f, "leader_here")) ? " (this node)" : "",
		jstr(f, "etcd"), *jstr(f, "why") ? ": " : "", jstr(f, "why"),
		(long long)jnum(f, "revision"));
	if (jnum(f, "endpoints") > 1)
		pr_text("  etcd endpoint %s (%lld of %lld; %lld switch%s to another)\n", jstr(f, "endpoint"),
			(long long)jnum(f, "endpoint_index"), (long long)jnum(f, "endpoints"),
			(long long)jnum(f, "endpoint_switches"),
			jnum(f, "endpoint_switches") == 1 ? "" : "es");
	if (strcmp(jstr(f, "etcd"), "ok"))
		pr_text("  cut off from etcd: holding the last applied state, not advancing\n");
	json_object_foreach((json_t *)json_object_get(f, "services"), name, s) {
		ro = json_object_get(s, "rollout");
		pr_text("  %s: weight %lld bp, kill switch %s", name,
			(long long)jnum(s, "weight"), jstr(s, "killswitch"));
		if (json_is_object(ro))
			pr_text(", rollout %s at step %lld%s", jstr(ro, "phase"),
				(long long)jnum(ro, "step") + 1,
				json_object_get(ro, "frozen_at_ms") ? " (frozen)" : "");
		pr_text("\n");
		if (json_is_object(ro) && *jstr(ro, "reason"))
			pr_text("    %s\n", jstr(ro, "reason"));
		if (jnum(s, "config_rev"))
			pr_text("    config: revision %lld applied\n", (long long)jnum(s, "config_rev"));
		if (*jstr(s, "error"))
			pr_text("    not applied: %s\n", jstr(s, "error"));
		/* on the leader: its latest judgement of each gate */
		json_array_foreach(json_object_get(s, "gates_judged"), i, g)
			pr_text("    gate %zu on the fleet's sums: %s: %s\n", i + 1,
				jstr(g, "outcome"), jstr(g, "reason"));
	}
	json_object_foreach((json_t *)json_object_get(f, "nodes"), name, n) {
		pr_text("  node %s: revision %lld", name, (long long)jnum(n, "revision"));
		json_object_foreach((json_t *)json_object_get(n, "services"), svc, s)
			pr_text(", %s %lld bp%s", svc, (long long)jnum(s, "weight"),
				json_is_true(json_object_get(s, "kill")) ? " reverted" : "");
		pr_text("\n");
		/* its split of new flows over its last report interval */
		json_object_foreach(json_object_get(json_object_get(f, "shares"), name), svc, s)
			pr_text("    %s: canary %.1f%% of %lld new flows (%lld) in %.1f s\n", svc,
				100.0 * json_number_value(json_object_get(s, "canary_share")),
				(long long)jnum(s, "flows"), (long long)jnum(s, "canary_flows"),
				jnum(s, "interval_ms") / 1000.0);
	}
}

static void print_rollout(const json_t *r)
{
	const json_t *w = json_object_get(r, "weight"), *g;
	char t[32], bp[16];
	size_t i;
	bool ok;

	pr_text("%s: %s", jstr(r, "service"), jstr(r, "phase"));
	if (jnum(r, "step") >= 0 && strcmp(jstr(r, "phase"), "none"))
		pr_text(", step %lld of %lld", (long long)jnum(r, "step") + 1,
			(long long)jnum(r, "steps"));
	if (json_array_size(w)) {
		json_int_t eff = json_integer_value(json_array_get(json_object_get(r, "effective_weight"), 0));

		fmt_bp(json_integer_value(json_array_get(w, 0)), bp, sizeof(bp));
		pr_text(", weight %s", bp);
		if (json_object_get(r, "effective_weight") &&
		    eff != json_integer_value(json_array_get(w, 0))) {
			fmt_bp(eff, bp, sizeof(bp));
			pr_text(" (effective %s: kill switch on)", bp);
		}
	}
	pr_text("  (rollout %lld, attempt %lld, plan %s)\n", (long long)jnum(r, "rollout_id"),
		(long long)jnum(r, "attempt"), jstr(r, "plan_name"));
	fmt_time(jnum(r, "since_ms"), t, sizeof(t));
	pr_text("  %s (phase since %s)\n", jstr(r, "status"), t);
	if (*jstr(r, "end_reason"))
		pr_text("  ended: %s\n", jstr(r, "end_reason"));
	if (*jstr(r, "comparison"))
		pr_text("  ACROSS RINGS: %s\n", jstr(r, "comparison"));
	if (*jstr(r, "error"))
		pr_text("  problem: %s\n", jstr(r, "error"));
	/* the plan's error budget (sluiced's budget: check) */
	g = json_object_get(r, "budget");
	if (json_is_object(g)) {
		fmt_time(jnum(g, "since_ms"), t, sizeof(t));
		if (json_is_true(json_object_get(g, "frozen")))
			pr_text("  FROZEN since %s: %s: no rollout of it starts\n", t, jstr(g, "reason"));
		else if (*jstr(g, "text"))
			pr_text("  budget: %s\n", jstr(g, "text"));
		if (*jstr(g, "error"))
			pr_text("  budget check failed: %s\n", jstr(g, "error"));
	}
	json_array_foreach(json_object_get(r, "gates"), i, g) {
		double c = jreal(g, "canary", &ok), b, st, lim;

		pr_text("  gate %s (%s): %s", jstr(g, "name"), jstr(g, "metric"), jstr(g, "outcome"));
		if (ok) {
			b = jreal(g, "baseline", &ok);
			pr_text(", canary %.4g (%lld/%lld) vs baseline %.4g (%lld/%lld)", c,
				(long long)jnum(g, "bad_c"), (long long)jnum(g, "samples_c"), b,
				(long long)jnum(g, "bad_b"), (long long)jnum(g, "samples_b"));
		}
		st = jreal(g, "stat", &ok);
		lim = jreal(g, "stat_limit", &ok);
		if (ok && lim > 0)
			pr_text(", log M %.2f of %.2f", st, lim);
		if (*jstr(g, "reason"))
			pr_text("\n    %s", jstr(g, "reason"));
		pr_text("\n");
	}
	/* sluiced's health checks of the service's backends */
	json_array_foreach(json_object_get(r, "health"), i, g) {
		bool down = json_is_true(json_object_get(g, "down"));

		pr_text("  health %s %s port %lld (%s): %s%s, %lld checks, %lld failed, %lld transitions, last: %s in %.1f ms\n",
			jstr(g, "pool"), jstr(g, "address"), (long long)jnum(g, "port"),
			jstr(g, "check"), down ? "DOWN" : "up",
			json_is_true(json_object_get(g, "flapping")) ? " (flapping)" : "",
			(long long)jnum(g, "checks"), (long long)jnum(g, "failures"),
			(long long)jnum(g, "transitions"), jstr(g, "last"),
			jnum(g, "last_us") / 1000.0);
	}
}

/* Print a reply's data: under -j as it came (without v/code), in text by
 * the caller's printer. */
static void emit(json_t *reply)
{
	const char *key;
	json_t *v;

	json_object_foreach(reply, key, v) {
		if (!strcmp(key, "v") || !strcmp(key, "code"))
			continue;
		pr_json(key, json_incref(v));
	}
}

/* --fleet: the command goes to etcd through sluiced, for every node */
static bool fleet_flag;

static int simple(const char *cmd, const char *service, json_t *extra)
{
	json_t *req = rollout_request(cmd, service), *rep, *r;
	int rc;

	if (extra)
		json_object_update(req, extra);
	json_decref(extra);
	if (fleet_flag) {
		static const char *const ok[] = { "start", "abort", "freeze", "unfreeze",
						  "revert", "revert-reset", "clear", "pause", "resume",
						  "promote" };
		unsigned int i;

		for (i = 0; i < sizeof(ok) / sizeof(ok[0]) && strcmp(ok[i], cmd); i++)
			;
		if (i == sizeof(ok) / sizeof(ok[0])) {
			json_decref(req);
			return usage_err("rollout %s has no --fleet form (start, pause, resume, promote, abort, revert, freeze, unfreeze)",
					 cmd);
		}
		json_object_set_new(req, "action", json_string(cmd));
		json_object_set_new(req, "cmd", json_string("fleet"));
	}
	rc = rollout_call(req, &rep);
	if (rc)
		return rc;
	emit(rep);
	if (!out_json && fleet_flag) {
		pr_text("written to etcd: every node of the fleet applies it\n");
	} else if (!out_json) {
		r = json_object_get(rep, "rollout");
		if (!json_is_true(json_object_get(rep, "changed")))
			pr_text("nothing to do (already so)\n");
		if (r)
			print_rollout(r);
		if (json_object_get(rep, "freeze"))
			print_freeze(json_object_get(rep, "freeze"));
		if (json_object_get(rep, "freeze") &&
		    !json_is_true(json_object_get(json_object_get(rep, "freeze"), "frozen")))
			pr_text("no global freeze\n");
	}
	json_decref(rep);
	return EXIT_OK;
}

static json_t *reason_opt(int *argc, char **argv, int *rc)
{
	json_t *o = json_object();
	int i, j;

	*rc = EXIT_OK;
	for (i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--reason"))
			continue;
		if (i + 1 >= *argc) {
			*rc = usage_err("--reason needs a TEXT");
			break;
		}
		if (strlen(argv[i + 1]) > SLUICE_CTL_MAX_REASON) {
			*rc = usage_err("--reason: at most %d characters", SLUICE_CTL_MAX_REASON);
			break;
		}
		json_object_set_new(o, "reason", json_string(argv[i + 1]));
		for (j = i; j + 2 < *argc; j++)
			argv[j] = argv[j + 2];
		*argc -= 2;
		i--;
	}
	if (*rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int one_service(const char *cmd, int argc, char **argv)
{
	json_t *extra;
	int rc;

	extra = reason_opt(&argc, argv, &rc);
	if (rc)
		return rc;
	if (argc != 1) {
		json_decref(extra);
		return usage_err("usage: %s rollout %s SERVICE [--reason TEXT]", cli.prog, cmd);
	}
	return simple(cmd, argv[0], extra);
}

/* plan validation's warnings (sluice_plan_warnings) on stderr */
void plan_warn(const struct sluice_plan *plan)
{
	char buf[2048];

	if (sluice_plan_warnings(plan, buf, sizeof(buf)))
		fputs(buf, stderr);
}

static int do_start(int argc, char **argv)
{
	const char *file = NULL, *svc = NULL;
	struct sluice_plan *plan;
	json_t *extra;
	char err[1024], *text;
	size_t len;
	int i, rc;
	FILE *f;

	extra = reason_opt(&argc, argv, &rc);
	if (rc)
		return rc;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--file")) {
			if (i + 1 >= argc) {
				json_decref(extra);
				return usage_err("-f needs a plan FILE");
			}
			file = argv[++i];
		} else if (!svc && argv[i][0] != '-') {
			svc = argv[i];
		} else {
			json_decref(extra);
			return usage_err("usage: %s rollout start SERVICE [-f PLAN.yaml] (unexpected '%s')",
					 cli.prog, argv[i]);
		}
	}
	if (!svc) {
		json_decref(extra);
		return usage_err("usage: %s rollout start SERVICE [-f PLAN.yaml]", cli.prog);
	}
	if (file) {
		/* validate here for file:line:col errors; the daemon parses
		 * the same text again */
		plan = sluice_plan_parse(file, err, sizeof(err));
		if (!plan) {
			json_decref(extra);
			pr_error("%s", err);
			return EXIT_ERR;
		}
		plan_warn(plan);
		sluice_plan_free(plan);
		f = !strcmp(file, "-") ? NULL : fopen(file, "r");
		if (!f) {
			json_decref(extra);
			pr_error("cannot read %s: %s", file, strerror(errno));
			return EXIT_ERR;
		}
		text = malloc(SLUICE_CTL_MAX_PLAN + 1);
		len = text ? fread(text, 1, SLUICE_CTL_MAX_PLAN + 1, f) : 0;
		fclose(f);
		if (!text || len > SLUICE_CTL_MAX_PLAN) {
			free(text);
			json_decref(extra);
			pr_error("%s: a plan is at most %d bytes", file, SLUICE_CTL_MAX_PLAN);
			return EXIT_ERR;
		}
		text[len] = '\0';
		json_object_set_new(extra, "plan", json_string(text));
		json_object_set_new(extra, "plan_name", json_string(file));
		free(text);
	}
	return simple("start", svc, extra);
}

/*
 * A canary at 100 % that is not promoted is temporary state left in place
 * (the next deploy to the canary pool would be released at once): warn
 * when the step that put every ring at 100 % began longer than limit ago.
 */
static void warn_full(const json_t *r, __u64 limit_ms)
{
	const char *ph = jstr(r, "phase");
	json_t *req, *rep, *e, *w;
	json_int_t at = 0, now;
	struct timespec ts;
	__u64 age;
	size_t i;

	if (strcmp(ph, "progressing") && strcmp(ph, "paused") && strcmp(ph, "pending"))
		return;
	w = json_object_get(r, "weight");
	if (!json_array_size(w))
		return;
	json_array_foreach(w, i, e)
		if (json_integer_value(e) != 10000)
			return;
	req = rollout_request("history", jstr(r, "service"));
	json_object_del(req, "who");
	json_object_set_new(req, "limit", json_integer(SLUICE_CTL_HISTORY_MAX));
	if (rollout_call(req, &rep))
		return;
	json_array_foreach(json_object_get(rep, "events"), i, e)
		if (jnum(e, "rollout_id") == jnum(r, "rollout_id") && !strcmp(jstr(e, "type"), "step"))
			at = jnum(e, "at_ms");
	json_decref(rep);
	if (!at)
		return;
	/* in milliseconds (time() * 1000 lost the fraction: a step event
	 * younger than a second came out negative, then huge as unsigned);
	 * a clock a little behind the daemon's counts as no time at all */
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	age = now > at ? (__u64)(now - at) : 0;
	if (age > limit_ms)
		fprintf(stderr, "Warning: %s: the canary has been at 100%% for %llu s without "
			"promotion (over %llu s): promote it (sluice rollout promote %s --full) "
			"or roll it back\n", jstr(r, "service"),
			(unsigned long long)(age / 1000), (unsigned long long)(limit_ms / 1000),
			jstr(r, "service"));
}

static int do_status_(int argc, char **argv)
{
	const char *lim = getenv("SLUICE_WARN_FULL"), *svc = NULL;
	json_t *rep, *r;
	__u64 limit_ms = 3600 * 1000;
	size_t i;
	int rc, a;

	for (a = 0; a < argc; a++) {
		if (!strcmp(argv[a], "--warn-full") && a + 1 < argc)
			lim = argv[++a];
		else if (argv[a][0] != '-' && !svc)
			svc = argv[a];
		else
			return usage_err("usage: %s rollout status [SERVICE] [--warn-full DURATION]",
					 cli.prog);
	}
	if (lim && sluice_parse_duration(lim, &limit_ms))
		return usage_err("--warn-full / $SLUICE_WARN_FULL: '%s' is not a duration (e.g. 30m)",
				 lim);
	rc = rollout_call(rollout_request("status", svc), &rep);
	if (rc)
		return rc;
	emit(rep);
	if (!out_json) {
		print_freeze(json_object_get(rep, "freeze"));
		print_fleet(json_object_get(rep, "fleet"));
		json_array_foreach(json_object_get(rep, "rollouts"), i, r)
			print_rollout(r);
		if (!json_array_size(json_object_get(rep, "rollouts")))
			pr_text("no rollouts\n");
	}
	json_array_foreach(json_object_get(rep, "rollouts"), i, r)
		warn_full(r, limit_ms);
	json_decref(rep);
	return EXIT_OK;
}

static int do_history(int argc, char **argv)
{
	json_t *req, *rep, *e;
	__u32 limit = 0;
	char t[32];
	size_t i;
	int rc;

	if (argc == 3 && !strcmp(argv[1], "-n")) {
		if (parse_u32("-n", argv[2], SLUICE_CTL_HISTORY_MAX, &limit))
			return EXIT_USAGE;
		if (!limit)
			return usage_err("-n: at least 1");
	} else if (argc != 1) {
		return usage_err("usage: %s rollout history SERVICE [-n COUNT]", cli.prog);
	}
	req = rollout_request("history", argv[0]);
	json_object_del(req, "who");
	if (limit)
		json_object_set_new(req, "limit", json_integer(limit));
	rc = rollout_call(req, &rep);
	if (rc)
		return rc;
	emit(rep);
	if (!out_json)
		json_array_foreach(json_object_get(rep, "events"), i, e) {
			fmt_time(jnum(e, "at_ms"), t, sizeof(t));
			pr_text("%s  rollout %lld  %-8s %s: %s\n", t, (long long)jnum(e, "rollout_id"),
				jstr(e, "type"), jstr(e, "who"), jstr(e, "text"));
		}
	json_decref(rep);
	return EXIT_OK;
}

static int do_promote(int argc, char **argv)
{
	json_t *extra;
	const char *svc = NULL;
	int i, rc;

	extra = reason_opt(&argc, argv, &rc);
	if (rc)
		return rc;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--full"))
			json_object_set_new(extra, "full", json_true());
		else if (!svc && argv[i][0] != '-')
			svc = argv[i];
		else
			svc = NULL, i = argc + 1;
	}
	if (!svc || i > argc) {
		json_decref(extra);
		return usage_err("usage: %s rollout promote SERVICE [--full]", cli.prog);
	}
	return simple("promote", svc, extra);
}

static int do_pause(int argc, char **argv) { return one_service("pause", argc, argv); }
static int do_resume_(int argc, char **argv) { return one_service("resume", argc, argv); }
static int do_abort(int argc, char **argv) { return one_service("abort", argc, argv); }
static int do_retry(int argc, char **argv) { return one_service("retry", argc, argv); }
static int do_undo(int argc, char **argv) { return one_service("undo", argc, argv); }

static int do_freeze(int argc, char **argv)
{
	json_t *extra;
	int rc;

	extra = reason_opt(&argc, argv, &rc);
	if (rc)
		return rc;
	if (argc || !json_object_get(extra, "reason")) {
		json_decref(extra);
		return usage_err("usage: %s rollout freeze --reason TEXT", cli.prog);
	}
	return simple("freeze", NULL, extra);
}

/* the kill switch of every node: only through the fleet (a node's own is
 * `sluice revert`, which needs no daemon) */
static int do_fleet_revert(int argc, char **argv)
{
	bool clear = argc == 2 && !strcmp(argv[1], "--clear");
	bool reset = argc == 2 && (!strcmp(argv[1], "--reset") || !strcmp(argv[1], "-r"));

	if (!fleet_flag || !(argc == 1 || clear || reset) || argv[0][0] == '-')
		return usage_err("usage: %s rollout revert SERVICE --fleet [--reset | --clear] (one node: %s revert SERVICE [--reset])",
				 cli.prog, cli.prog);
	return simple(clear ? "clear" : reset ? "revert-reset" : "revert", argv[0], NULL);
}

static int do_unfreeze(int argc, char **argv)
{
	if (argc)
		return usage_err("usage: %s rollout unfreeze", cli.prog);
	return simple("unfreeze", NULL, NULL);
}

const struct cmd rollout_cmds[] = {
	{ "start", do_start, "rollout start SERVICE [-f PLAN.yaml]",
	  "Start SERVICE's rollout plan: PLAN.yaml, or the service's rollout:\n"
	  "      section of the file sluiced was given with --config. A second start\n"
	  "      of the same plan changes nothing; during a freeze it waits (pending)." },
	{ "status", do_status_, "rollout status [SERVICE] [--warn-full DURATION]",
	  "Phase, step, weight and what each rollout waits for since when; the\n"
	  "      gates' latest numbers; the global freeze. Warns (stderr) about a canary\n"
	  "      at 100% longer than DURATION without promotion ($SLUICE_WARN_FULL, 1h)." },
	{ "history", do_history, "rollout history SERVICE [-n COUNT]",
	  "The audit trail: every transition and gate evaluation, oldest first." },
	{ "promote", do_promote, "rollout promote SERVICE [--full] [--fleet]",
	  "End the current hold or pause now; --full: straight to promotion.\n"
	  "      --fleet: the fleet's leader does it once, for every node." },
	{ "pause", do_pause, "rollout pause SERVICE [--reason TEXT]",
	  "Stop advancing (weights stay; gates still judge)." },
	{ "resume", do_resume_, "rollout resume SERVICE", "Continue a paused rollout." },
	{ "abort", do_abort, "rollout abort SERVICE [--reason TEXT]",
	  "Roll back to last-known-good through the kill switch, as the operator's." },
	{ "retry", do_retry, "rollout retry SERVICE",
	  "After a rollback or abort: start the plan again from its first step." },
	{ "undo", do_undo, "rollout undo SERVICE [--reason TEXT]",
	  "After a promotion, within the plan's rollback_window (default 1h): the\n"
	  "      previous baseline serves again, the promoted pool stays as the canary\n"
	  "      at 0%, in one action. A repeat changes nothing." },
	{ "freeze", do_freeze, "rollout freeze --reason TEXT",
	  "Global incident freeze: no step advances, no rollout starts; gates still\n"
	  "      judge and a failure still rolls back." },
	{ "unfreeze", do_unfreeze, "rollout unfreeze", "Lift the freeze; holds resume where they were." },
	{ "revert", do_fleet_revert, "rollout revert SERVICE --fleet [--reset | --clear]",
	  "Fleet kill switch through etcd: every node reverts SERVICE to\n"
	  "      last-known-good (--reset: and re-decides live canary flows); --clear\n"
	  "      lifts it. start, pause, resume, promote, abort,\n"
	  "      freeze and unfreeze also take --fleet: written to etcd, the fleet's leader acts." },
};
const int n_rollout_cmds = sizeof(rollout_cmds) / sizeof(rollout_cmds[0]);

int do_rollout(int argc, char **argv)
{
	int rc;

	rc = rollout_strip_socket(&argc, argv);
	fleet_flag = false;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--fleet")) {
			fleet_flag = true;
			memmove(&argv[i], &argv[i + 1], (argc - i) * sizeof(argv[0]));
			argc--;
			i--;
		}

	if (rc)
		return rc;
	return run_subcmd("rollout", rollout_cmds, n_rollout_cmds, argc, argv);
}
