// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* apply -f FILE and export: the whole configuration as YAML. The parser and
 * the apply logic live in the library (config_yaml.c, apply.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "cli.h"
#include "sluice_ctl.h"

static const char *const op_name[] = { "unchanged", "added", "updated", "deleted" };

/*
 * apply -f FILE --fleet: FILE, validated here first, goes to etcd through
 * this node's sluiced (which validates it against its maps too): each of
 * its services' config key, in one transaction; every node applies it.
 */
static int apply_fleet(const char *file, const struct sluice_config *c)
{
	json_t *req, *rep;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	f = strcmp(file, "-") ? fopen(file, "r") : NULL;
	if (f) {
		text = calloc(1, SLUICE_CTL_MAX_PLAN + 1);
		len = text ? fread(text, 1, SLUICE_CTL_MAX_PLAN + 1, f) : 0;
		fclose(f);
	}
	if (!text || !len || len > SLUICE_CTL_MAX_PLAN) {
		free(text);
		pr_error("%s: %s", file, !strcmp(file, "-") ? "--fleet needs a file, not stdin"
				      : len > SLUICE_CTL_MAX_PLAN ? "too large for --fleet"
				      : "cannot read it");
		return EXIT_ERR;
	}
	req = rollout_request("fleet", NULL);
	json_object_set_new(req, "action", json_string("config"));
	json_object_set_new(req, "plan", json_string(text));
	json_object_set_new(req, "reason", json_string(file));
	free(text);
	rc = rollout_call(req, &rep);
	if (rc)
		return rc;
	json_decref(rep);
	pr_str(PR_ANY, "file", "%s:", file);
	pr_uint(PR_ANY, "services", " %llu service", c->nservices);
	pr_text("%s written to etcd: every node of the fleet applies it\n",
		c->nservices == 1 ? "" : "s");
	return EXIT_OK;
}

int do_apply(int argc, char **argv)
{
	struct sluice_apply_opts o = {};
	struct sluice_apply_result res = {};
	struct sluice_config *c;
	const char *file = NULL;
	bool fleet = false;
	struct sluice *s;
	char err[1024];
	unsigned int i;
	int i2, r;

	for (i2 = 0; i2 < argc; i2++) {
		if (!strcmp(argv[i2], "-f") || !strcmp(argv[i2], "--file")) {
			if (++i2 >= argc)
				return usage_err("-f needs a FILE (or - for stdin)");
			file = argv[i2];
		} else if (!strcmp(argv[i2], "--dry-run") || !strcmp(argv[i2], "-n")) {
			o.dry_run = true;
		} else if (!strcmp(argv[i2], "--keep") || !strcmp(argv[i2], "-k")) {
			o.keep = true;
		} else if (!strcmp(argv[i2], "--fleet")) {
			fleet = true;
		} else {
			return usage_err("usage: %s apply -f FILE [--dry-run] [--keep] [--fleet]", cli.prog);
		}
	}
	if (!file)
		return usage_err("apply needs -f FILE");
	c = sluice_config_parse(file, err, sizeof(err));
	if (!c) {
		pr_error("%s", err);
		return EXIT_ERR;
	}
	if (fleet && o.dry_run) {
		sluice_config_free(c);
		pr_text("%s: valid (dry run: nothing written to etcd)\n", file);
		return EXIT_OK;
	}
	o.promotions = true;	/* what sluiced promoted stays (sluice.h) */
	for (i = 0; i < c->nservices; i++)
		if (c->services[i].rollout)
			plan_warn(c->services[i].rollout);
	if (fleet) {
		r = apply_fleet(file, c);
		sluice_config_free(c);
		return r;
	}
	s = cli_open(!o.dry_run);
	if (!s) {
		sluice_config_free(c);
		return EXIT_ERR;
	}
	r = sluice_config_apply(s, c, &o, &res);
	if (r < 0) {
		lib_fail(s, r);
		sluice_apply_result_free(&res);
		sluice_config_free(c);
		sluice_close(s);
		return EXIT_ERR;
	}
	pr_str(PR_ANY, "file", "%s:", file);
	pr_bool(PR_JSON, "dry_run", "", o.dry_run);
	pr_uint(PR_ANY, "changes", " %llu change", res.changed);
	pr_text("%s%s%s\n", res.changed == 1 ? "" : "s",
		o.dry_run ? " planned (dry run)" : "",
		res.changed ? "" : ", nothing to do");
	pr_arr_open("items");
	for (i = 0; i < res.n; i++) {
		if (!res.ch[i].op && !res.ch[i].promoted && !cli.verbose && !out_json)
			continue;
		pr_obj_open(NULL);
		pr_str(PR_ANY, "kind", "  %-8s", res.ch[i].ring ? "ring" : "service");
		pr_str(PR_ANY, "name", "%-32s", res.ch[i].name);
		pr_str(PR_ANY, "result", " %s", op_name[res.ch[i].op]);
		pr_bool(PR_JSON, "promoted", "", res.ch[i].promoted);
		if (res.ch[i].promoted) {
			pr_uint(PR_ANY, "rollout_id", " (as promoted by rollout %llu",
				res.ch[i].promotion.rollout_id);
			pr_text("; the file predates the promotion: 'sluice export' shows the promoted version to commit back)");
		}
		pr_text("\n");
		pr_obj_close();
	}
	pr_arr_close();
	if (!o.dry_run)
		cli_announce(s);
	sluice_apply_result_free(&res);
	sluice_config_free(c);
	sluice_close(s);
	return EXIT_OK;
}

static void fmt_weight(unsigned int bp, char *buf, size_t len)
{
	if (bp % 100)
		snprintf(buf, len, "%u.%02u%%", bp / 100, bp % 100);
	else
		snprintf(buf, len, "%u%%", bp / 100);
}

/* One service; text is YAML, at the indentation of a list item. */
static void export_service(const struct sluice_cfg_service *cs)
{
	char a[INET6_ADDRSTRLEN], w[16], mac[24];
	unsigned int v, i;

	sluice_format_addr(&cs->vip, cs->family, a, sizeof(a));
	pr_obj_open(NULL);
	pr_str(PR_ANY, "name", "  - name: %s\n", cs->name);
	pr_str(PR_ANY, "vip", "    vip: \"%s\"\n", a);
	pr_uint(PR_ANY, "port", "    port: %llu\n", cs->port);
	pr_str(PR_ANY, "protocol", "    protocol: %s\n", proto_str(cs->proto));
	pr_str(PR_ANY, "mode", "    mode: %s\n", mode_str(cs->mode));
	if (cs->tunnel_src.family) {
		char t[INET6_ADDRSTRLEN + 8];
		size_t l;

		sluice_format_addr(&cs->tunnel_src.addr, cs->tunnel_src.family,
				   t, sizeof(t));
		l = strlen(t);
		snprintf(t + l, sizeof(t) - l, "/%u", cs->tunnel_src.len);
		pr_str(PR_ANY, "tunnel_source", "    tunnel_source: \"%s\"\n", t);
	}
	pr_str(PR_ANY, "affinity", "    affinity: %s\n", affinity_str(cs->affinity));
	pr_uint(PR_ANY, "seed", "    seed: %llu\n", cs->seed);
	pr_uint(PR_ANY, "table_size", "    table_size: %llu\n", cs->table_size);
	if (cs->proto == IPPROTO_UDP || (cs->udp_idle_s && cs->udp_idle_s != SLUICE_UDP_IDLE_DEFAULT))
		pr_uint(PR_ANY, "udp_idle", "    udp_idle: %llu\n", cs->udp_idle_s);
	/* announced; communities and prepend live in the routing daemon's
	 * configuration, not in the maps */
	if (cs->bgp)
		pr_bool(PR_ANY, "bgp", "    bgp: %s\n", true);
	if (!cs->weight_per_ring) {
		fmt_weight(cs->weight_all, w, sizeof(w));
		pr_str(PR_ANY, "weight", "    weight: %s\n", w);
	} else {
		pr_obj_open("weight");
		pr_text("    weight:\n");
		for (i = 0; i < cs->nweights; i++) {
			fmt_weight(cs->weights[i].bp, w, sizeof(w));
			pr_text("      %s: ", cs->weights[i].ring);
			pr_str(PR_ANY, cs->weights[i].ring, "%s\n", w);
		}
		pr_obj_close();
	}
	pr_str(PR_ANY, "last_known_good", "    last_known_good: %s\n",
	       variant_str(cs->lkg));
	for (v = 0; v < SLUICE_VARIANTS; v++) {
		pr_obj_open(variant_str(v));
		pr_text("    %s:\n      backends:%s\n", variant_str(v),
			cs->pool[v].n ? "" : " []");
		pr_arr_open("backends");
		for (i = 0; i < cs->pool[v].n; i++) {
			const struct sluice_backend_spec *b = &cs->pool[v].be[i];

			sluice_format_addr(&b->addr, b->family, a, sizeof(a));
			pr_obj_open(NULL);
			pr_str(PR_ANY, "address", "        - address: \"%s\"\n", a);
			pr_uint(PR_ANY, "port", "          port: %llu\n",
				b->port ? b->port : cs->port);
			pr_uint(PR_ANY, "weight", "          weight: %llu\n", b->weight);
			pr_str(PR_ANY, "state", "          state: %s\n",
			       b->draining ? "draining" : "active");
			if (b->has_mac) {
				fmt_mac(b->mac, mac, sizeof(mac));
				pr_str(PR_ANY, "mac", "          mac: \"%s\"\n", mac);
			}
			if (b->dev[0])
				pr_str(PR_ANY, "dev", "          dev: \"%s\"\n", b->dev);
			pr_obj_close();
		}
		pr_arr_close();
		pr_obj_close();
	}
	pr_obj_close();
}

int do_export(int argc, char **argv)
{
	struct sluice_config *c;
	struct sluice *s;
	char a[INET6_ADDRSTRLEN], buf[80];
	unsigned int i, j;

	if (argc)
		return usage_err("usage: %s export", cli.prog);
	s = cli_open(false);
	if (!s)
		return EXIT_ERR;
	c = sluice_config_export(s);
	if (!c) {
		sluice_close(s);
		return lib_fail(NULL, -ENOMEM);
	}
	pr_text("# sluice configuration of %s\n", cli.pin_dir);
	pr_obj_open("rings");
	pr_text("rings:%s\n", c->nrings ? "" : " {}");
	for (i = 0; i < c->nrings; i++) {
		pr_text("  %s: [", c->rings[i].name);
		pr_arr_open(c->rings[i].name);
		for (j = 0; j < c->rings[i].n; j++) {
			const struct sluice_prefix *p = &c->rings[i].pfx[j];

			sluice_format_addr(&p->addr, p->family, a, sizeof(a));
			snprintf(buf, sizeof(buf), "%s/%u", a, p->len);
			pr_str(PR_ANY, NULL, j ? ", \"%s\"" : "\"%s\"", buf);
		}
		pr_arr_close();
		pr_text("]\n");
	}
	pr_obj_close();
	pr_text("services:%s\n", c->nservices ? "" : " []");
	pr_arr_open("services");
	for (i = 0; i < c->nservices; i++)
		export_service(&c->services[i]);
	pr_arr_close();
	sluice_config_free(c);
	sluice_close(s);
	return EXIT_OK;
}
