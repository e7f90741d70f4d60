// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* ring add|set|del|show: named sets of client prefixes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

#define PFX_MAX 4096

static int ring_put(int argc, char **argv, bool add)
{
	struct sluice_prefix *p;
	struct sluice *s = NULL;
	int i, err, rc = EXIT_USAGE;

	if (argc < 1)
		return usage_err("usage: %s ring %s NAME PREFIX...", cli.prog,
				 add ? "add" : "set");
	if (argc - 1 > PFX_MAX)
		return usage_err("at most %d prefixes per ring", PFX_MAX);
	if (!strcmp(argv[0], "default") || !strcmp(argv[0], "broad"))
		return usage_err("ring '%s' is built in: every source no other ring matches",
				 argv[0]);
	p = calloc(argc, sizeof(*p));
	if (!p)
		return lib_fail(NULL, -ENOMEM);
	for (i = 1; i < argc; i++) {
		err = sluice_parse_prefix(argv[i], &p[i - 1]);
		if (err == -EDOM) {
			usage_err("prefix '%s' has host bits set beyond its length", argv[i]);
			goto out;
		}
		if (err) {
			usage_err("'%s' is not a prefix (like 10.0.0.0/8 or fd00::/8)", argv[i]);
			goto out;
		}
	}
	rc = EXIT_ERR;
	s = cli_open(true);
	if (!s)
		goto out;
	if (add && sluice_ring_id(s, argv[0]) >= 0) {
		pr_error("ring '%s' already exists (use 'ring set' to replace its prefixes)",
			 argv[0]);
		goto out;
	}
	if (!add && sluice_ring_id(s, argv[0]) < 0) {
		pr_error("no ring '%s' (use 'ring add' to create it)", argv[0]);
		goto out;
	}
	err = sluice_ring_set(s, argv[0], p, argc - 1);
	if (err) {
		lib_fail(s, err);
		goto out;
	}
	pr_str(PR_ANY, "ring", "ring %s", argv[0]);
	pr_int(PR_ANY, "id", " (id %lld)", sluice_ring_id(s, argv[0]));
	pr_uint(PR_ANY, "prefixes", ": %llu prefixes", argc - 1);
	pr_str(PR_ANY, "action", " %s\n", add ? "added" : "updated");
	rc = EXIT_OK;
out:
	free(p);
	sluice_close(s);
	return rc;
}

static int ring_add(int argc, char **argv)
{
	return ring_put(argc, argv, true);
}

static int ring_set(int argc, char **argv)
{
	return ring_put(argc, argv, false);
}

static int ring_del(int argc, char **argv)
{
	struct sluice *s;
	int err;

	if (argc != 1)
		return usage_err("usage: %s ring del NAME", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	err = sluice_ring_del(s, argv[0]);
	if (err) {
		lib_fail(s, err);
		sluice_close(s);
		return EXIT_ERR;
	}
	pr_str(PR_ANY, "ring", "ring %s", argv[0]);
	pr_str(PR_ANY, "action", " %s\n", "deleted");
	sluice_close(s);
	return EXIT_OK;
}

static int ring_show(int argc, char **argv)
{
	char name[SLUICE_RING_NAME_LEN + 1], a[64];
	struct sluice_prefix *p;
	struct sluice *s;
	int id, n, i, only = -1;

	if (argc > 1)
		return usage_err("usage: %s ring show [NAME]", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	if (argc == 1) {
		only = sluice_ring_id(s, argv[0]);
		if (only < 0) {
			lib_fail(s, only);
			sluice_close(s);
			return EXIT_ERR;
		}
	}
	p = calloc(PFX_MAX * 2, sizeof(*p));
	if (!p) {
		sluice_close(s);
		return lib_fail(NULL, -ENOMEM);
	}
	pr_arr_open("rings");
	for (id = 0; id < SLUICE_MAX_RINGS; id++) {
		if ((only >= 0 && id != only) ||
		    sluice_ring_name(s, id, name, sizeof(name)))
			continue;
		pr_obj_open(NULL);
		pr_str(PR_ANY, "name", "%s", name);
		pr_int(PR_ANY, "id", " (id %lld):", id);
		pr_arr_open("prefixes");
		if (id == 0) {
			pr_text(" every source no other ring matches");
		} else {
			n = sluice_ring_prefixes(s, id, p, PFX_MAX * 2);
			for (i = 0; i < n; i++) {
				char buf[80];

				sluice_format_addr(&p[i].addr, p[i].family, a, sizeof(a));
				snprintf(buf, sizeof(buf), "%s/%u", a, p[i].len);
				pr_str(PR_ANY, NULL, " %s", buf);
			}
		}
		pr_arr_close();
		pr_text("\n");
		pr_obj_close();
	}
	pr_arr_close();
	free(p);
	sluice_close(s);
	return EXIT_OK;
}

const struct cmd ring_cmds[] = {
	{ "add", ring_add, "ring add NAME PREFIX...",
	  "Create a ring of client source prefixes (no overlap with other rings)." },
	{ "set", ring_set, "ring set NAME PREFIX...", "Replace the prefixes of a ring." },
	{ "del", ring_del, "ring del NAME",
	  "Delete a ring; its clients fall back to the default ring." },
	{ "show", ring_show, "ring show [NAME]",
	  "List rings and their prefixes; 'default' is every other source." },
};
const int n_ring_cmds = sizeof(ring_cmds) / sizeof(ring_cmds[0]);

int do_ring(int argc, char **argv)
{
	return run_subcmd("ring", ring_cmds, n_ring_cmds, argc, argv);
}
