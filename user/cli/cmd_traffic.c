// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Exposure: weight, cutover, revert, resume. Each is one map write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static int parse_weight_arg(const char *str, unsigned int *bp)
{
	int err = sluice_parse_weight(str, bp);

	if (err == -ERANGE)
		return usage_err("weight '%s' is out of range: 0%% to 100%% (0bp to 10000bp)",
				 str);
	if (err)
		return usage_err("'%s' is not a weight: write it as 5%%, 0.25%% or 500bp",
				 str);
	return EXIT_OK;
}

int do_weight(int argc, char **argv)
{
	struct sluice_service_spec *sp = NULL;
	const char *ring = NULL, *wstr;
	unsigned int bp;
	char w[16], old[16];
	struct sluice *s;
	int rc, id = -1, err;

	if (argc < 2 || argc > 3)
		return usage_err("usage: %s weight SERVICE [RING] WEIGHT (5%%, 0.25%%, 500bp)",
				 cli.prog);
	wstr = argv[argc - 1];
	if (argc == 3)
		ring = argv[1];
	rc = parse_weight_arg(wstr, &bp);
	if (rc)
		return rc;
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	rc = EXIT_ERR;
	if (ring) {
		id = sluice_ring_id(s, ring);
		if (id < 0) {
			lib_fail(s, id);
			goto out;
		}
	}
	sp = sluice_spec_new();
	if (!sp || sluice_service_get(s, argv[0], sp)) {
		lib_fail(s, -ENOENT);
		goto out;
	}
	err = sluice_set_weight(s, argv[0], id, bp);
	if (err) {
		lib_fail(s, err);
		goto out;
	}
	fmt_bp(bp, w, sizeof(w));
	fmt_bp(sp->weight[id < 0 ? 0 : id], old, sizeof(old));
	pr_str(PR_ANY, "service", "service %s:", argv[0]);
	pr_uint(PR_JSON, "weight", "", bp);
	pr_uint(PR_JSON, "previous", "", sp->weight[id < 0 ? 0 : id]);
	pr_text(" weight %s", w);
	pr_str(PR_ANY, "ring", ring ? " on ring %s" : " on %s rings", ring ? ring : "all");
	pr_text(" (was %s)\n", old);
	cli_announce(s);	/* the pools taking new flows may have changed */
	rc = EXIT_OK;
out:
	sluice_spec_free(sp);
	sluice_close(s);
	return rc;
}

int do_cutover(int argc, char **argv)
{
	static const char *const colors[] = { "blue", "green" };
	struct sluice *s;
	int c, r;

	if (argc != 2)
		return usage_err("usage: %s cutover SERVICE blue|green", cli.prog);
	c = match_word(argv[1], colors, 2);
	if (c < 0)
		return usage_err("cutover goes to blue (baseline) or green (canary), not '%s'",
				 argv[1]);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	r = sluice_cutover(s, argv[0], c);
	if (r < 0) {
		lib_fail(s, r);
		sluice_close(s);
		return EXIT_ERR;
	}
	pr_str(PR_ANY, "service", "service %s:", argv[0]);
	pr_str(PR_ANY, "color", " new flows go to %s", colors[c]);
	pr_str(PR_ANY, "pool", " (%s pool)", variant_str(c));
	pr_str(PR_ANY, "last_known_good", ", last-known-good %s", colors[!c]);
	pr_bool(PR_JSON, "changed", "", r == 1);
	pr_text("%s\n", r ? "" : "; already so, nothing changed");
	cli_announce(s);
	sluice_close(s);
	return EXIT_OK;
}

/* revert/resume: SERVICE or --all, and --reset for revert. */
static int kill_cmd(int argc, char **argv, bool revert)
{
	static __u32 ids[SLUICE_MAX_SERVICES];
	const char *name = NULL;
	bool all = false, reset = false;
	struct sluice *s;
	int i, r, n, still = 0;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a"))
			all = true;
		else if (revert && (!strcmp(argv[i], "--reset") || !strcmp(argv[i], "-r")))
			reset = true;
		else if (argv[i][0] == '-' || name)
			return usage_err("usage: %s %s", cli.prog, revert
					 ? "revert { SERVICE | --all } [--reset]"
					 : "resume { SERVICE | --all }");
		else
			name = argv[i];
	}
	if (all == !!name)
		return usage_err("%s needs a SERVICE or --all (not both)",
				 revert ? "revert" : "resume");
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	r = revert ? sluice_revert(s, name, reset) : sluice_resume(s, name);
	if (r < 0) {
		lib_fail(s, r);
		sluice_close(s);
		return EXIT_ERR;
	}
	if (name) {
		struct sluice_service_spec *sp = sluice_spec_new();

		pr_str(PR_ANY, "service", "service %s: ", name);
		if (sp && sluice_service_get(s, name, sp) == 0)
			pr_str(PR_JSON, "last_known_good", "", variant_str(sp->lkg));
		if (revert && r)
			pr_text("reverted: new flows go to %s (last-known-good)%s\n",
				sp ? variant_str(sp->lkg) : "?",
				reset ? ", established canary flows are re-decided" : "");
		else if (revert)
			pr_text("already reverted%s, nothing changed\n",
				reset ? " with reset" : "");
		else if (r)
			pr_text("resumed: new flows follow the weights again\n");
		else
			pr_text("not reverted, nothing changed\n");
		sluice_spec_free(sp);
	} else {
		n = sluice_service_ids(s, ids, SLUICE_MAX_SERVICES);
		pr_bool(PR_JSON, "all", "", true);
		pr_uint(PR_JSON, "services", "", n);
		if (revert && r)
			pr_text("all %d services reverted: new flows go to their last-known-good pools%s\n",
				n, reset ? ", established canary flows are re-decided" : "");
		else if (revert)
			pr_text("all services already reverted%s, nothing changed\n",
				reset ? " with reset" : "");
		else if (r)
			pr_text("global revert cleared\n");
		else
			pr_text("no global revert was set, nothing changed\n");
		if (!revert) {
			/* per-service reverts are separate words: say so */
			struct sluice_service_spec *sp = sluice_spec_new();

			for (i = 0; sp && i < n; i++)
				if (!sluice_service_get_id(s, ids[i], sp) && sp->kill)
					still++;
			sluice_spec_free(sp);
			pr_uint(PR_JSON, "still_reverted", "", still);
			if (still)
				pr_text("%d service%s still reverted individually (resume SERVICE)\n",
					still, still == 1 ? " is" : "s are");

		}
	}
	pr_bool(PR_JSON, "reset", "", reset);
	pr_str(PR_JSON, "action", "", revert ? "revert" : "resume");
	pr_bool(PR_JSON, "changed", "", r == 1);
	cli_announce(s);
	sluice_close(s);
	return EXIT_OK;
}

int do_revert(int argc, char **argv)
{
	return kill_cmd(argc, argv, true);
}

int do_resume(int argc, char **argv)
{
	return kill_cmd(argc, argv, false);
}
